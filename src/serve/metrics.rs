//! Prometheus metrics: requests and latency by route and status, decisions by outcome, and
//! each tenant's model version, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::model::artefact::Decision;

/// Latency bucket bounds, seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    /// Cumulative counts per bucket bound.
    buckets: [u64; BUCKETS.len()],
}

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), Series>>,
    decisions: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            let s = m.entry((route.to_string(), status)).or_default();
            s.count += 1;
            s.sum += seconds;
            for (b, bound) in s.buckets.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *b += 1;
                }
            }
        }
    }

    pub fn decision(&self, d: Decision) {
        if let Ok(mut m) = self.decisions.lock() {
            *m.entry(d.name()).or_default() += 1;
        }
    }

    /// The text exposition; `versions` are (tenant, model version).
    pub fn render(&self, versions: &[(String, String)]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# TYPE woolguard_requests_total counter");
        let _ = writeln!(out, "# TYPE woolguard_request_seconds histogram");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), s) in m.iter() {
                let l = format!("route=\"{route}\",status=\"{status}\"");
                let _ = writeln!(out, "woolguard_requests_total{{{l}}} {}", s.count);
                for (b, bound) in s.buckets.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "woolguard_request_seconds_bucket{{{l},le=\"{bound}\"}} {b}"
                    );
                }
                let _ = writeln!(
                    out,
                    "woolguard_request_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                    s.count
                );
                let _ = writeln!(out, "woolguard_request_seconds_sum{{{l}}} {}", s.sum);
                let _ = writeln!(out, "woolguard_request_seconds_count{{{l}}} {}", s.count);
            }
        }
        let _ = writeln!(out, "# TYPE woolguard_decisions_total counter");
        if let Ok(m) = self.decisions.lock() {
            for (d, n) in m.iter() {
                let _ = writeln!(out, "woolguard_decisions_total{{decision=\"{d}\"}} {n}");
            }
        }
        let _ = writeln!(out, "# TYPE woolguard_model_info gauge");
        for (tenant, version) in versions {
            let _ = writeln!(
                out,
                "woolguard_model_info{{tenant=\"{tenant}\",version=\"{version}\"}} 1"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("/v1/x", 200, 0.0007);
        m.observe("/v1/x", 200, 0.02);
        m.decision(Decision::Reject);
        let text = m.render(&[("a".into(), "v1".into())]);
        assert!(text.contains("woolguard_requests_total{route=\"/v1/x\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.0005\"} 0"));
        assert!(text.contains("le=\"0.001\"} 1"));
        assert!(text.contains("le=\"0.025\"} 2"));
        assert!(text.contains("woolguard_decisions_total{decision=\"reject\"} 1"));
        assert!(text.contains("woolguard_model_info{tenant=\"a\",version=\"v1\"} 1"));
    }
}
