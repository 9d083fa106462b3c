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

/// Labels of a request series: tenant (`-` without a known key), route pattern, status.
type RequestKey = (String, String, u16);
/// Labels of a decision count: tenant, route, decision.
type DecisionKey = (String, &'static str, &'static str);

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestKey, Series>>,
    decisions: Mutex<BTreeMap<DecisionKey, u64>>,
    /// Rule matches by tenant, rule and whether the rule decided (`true`) or only matched.
    rules: Mutex<BTreeMap<(String, String, bool), u64>>,
    /// Verdicts by tenant, the model version that gave them, and decision.
    versions: Mutex<BTreeMap<(String, String, &'static str), u64>>,
}

/// What `/metrics` shows of a tenant's models in service besides their versions.
pub struct ModelOps {
    pub tenant: String,
    pub challenger: Option<crate::state::tenant::challenger::ChallengerInfo>,
    pub drift: Option<crate::model::drift::Drift>,
}

/// A label value with `\`, `"` and new lines escaped, as the text format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn observe(&self, tenant: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            let s = m
                .entry((tenant.to_string(), route.to_string(), status))
                .or_default();
            s.count += 1;
            s.sum += seconds;
            for (b, bound) in s.buckets.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *b += 1;
                }
            }
        }
    }

    pub fn decision(&self, tenant: &str, route: &'static str, d: Decision) {
        self.decisions_n(tenant, route, d.name(), 1);
    }

    /// A verdict given on `route`: its decision, the model version that gave it and the rules
    /// it matched.
    pub fn verdict(&self, tenant: &str, route: &'static str, v: &crate::scoring::Verdict) {
        self.decision(tenant, route, v.decision);
        self.rules(tenant, v);
        if let Ok(mut m) = self.versions.lock() {
            *m.entry((
                tenant.to_string(),
                v.model_version.clone(),
                v.decision.name(),
            ))
            .or_default() += 1;
        }
    }

    /// The rules a verdict matched, and the one that decided.
    pub fn rules(&self, tenant: &str, v: &crate::scoring::Verdict) {
        if v.rules_matched.is_empty() {
            return;
        }
        if let Ok(mut m) = self.rules.lock() {
            for name in &v.rules_matched {
                let decided = v.rule.as_ref().is_some_and(|r| &r.name == name);
                *m.entry((tenant.to_string(), name.clone(), decided))
                    .or_default() += 1;
            }
        }
    }

    /// `n` verdicts of one decision (an audience's counts).
    pub fn decisions_n(&self, tenant: &str, route: &'static str, decision: &str, n: u64) {
        let Some(d) = [Decision::Pass, Decision::Review, Decision::Reject]
            .into_iter()
            .find(|d| d.name() == decision)
        else {
            return;
        };
        if let Ok(mut m) = self.decisions.lock() {
            *m.entry((tenant.to_string(), route, d.name())).or_default() += n;
        }
    }

    /// The text exposition; `versions` are (tenant, model slot, model version).
    pub fn render(&self, versions: &[(String, &'static str, String)], ops: &[ModelOps]) -> String {
        let mut out = String::new();
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        head(
            &mut out,
            "woolguard_requests_total",
            "counter",
            "Requests answered, by tenant, route and status.",
        );
        let requests = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        for ((tenant, route, status), s) in &requests {
            let l = format!(
                "tenant=\"{}\",route=\"{}\",status=\"{status}\"",
                label(tenant),
                label(route)
            );
            let _ = writeln!(out, "woolguard_requests_total{{{l}}} {}", s.count);
        }
        head(
            &mut out,
            "woolguard_request_seconds",
            "histogram",
            "Time to answer a request, by tenant, route and status.",
        );
        for ((tenant, route, status), s) in &requests {
            let l = format!(
                "tenant=\"{}\",route=\"{}\",status=\"{status}\"",
                label(tenant),
                label(route)
            );
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
        head(
            &mut out,
            "woolguard_decisions_total",
            "counter",
            "Verdicts given, by tenant, route and decision.",
        );
        if let Ok(m) = self.decisions.lock() {
            for ((tenant, route, d), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "woolguard_decisions_total{{tenant=\"{}\",route=\"{route}\",decision=\"{d}\"}} {n}",
                    label(tenant)
                );
            }
        }
        head(
            &mut out,
            "woolguard_rule_matches_total",
            "counter",
            "Verdicts a rule matched, by tenant, rule and whether it decided (shadow rules and rules a list or an earlier rule overrode only match).",
        );
        if let Ok(m) = self.rules.lock() {
            for ((tenant, rule, decided), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "woolguard_rule_matches_total{{tenant=\"{}\",rule=\"{}\",decided=\"{decided}\"}} {n}",
                    label(tenant),
                    label(rule)
                );
            }
        }
        head(
            &mut out,
            "woolguard_model_info",
            "gauge",
            "The model serving each tenant's slot (member, signup): 1 for its version.",
        );
        for (tenant, slot, version) in versions {
            let _ = writeln!(
                out,
                "woolguard_model_info{{tenant=\"{}\",slot=\"{slot}\",version=\"{}\"}} 1",
                label(tenant),
                label(version)
            );
        }
        self.render_ops(&mut out, ops);
        out
    }

    fn render_ops(&self, out: &mut String, ops: &[ModelOps]) {
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        head(
            out,
            "woolguard_model_verdicts_total",
            "counter",
            "Verdicts given, by tenant, the model version that gave them and decision.",
        );
        if let Ok(m) = self.versions.lock() {
            for ((tenant, version, d), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "woolguard_model_verdicts_total{{tenant=\"{}\",version=\"{}\",decision=\"{d}\"}} {n}",
                    label(tenant),
                    label(version)
                );
            }
        }
        head(
            out,
            "woolguard_challenger_compared_total",
            "counter",
            "Requests a challenger and the live model both answered, by tenant, slot, challenger version and whether their decisions agreed.",
        );
        for o in ops {
            if let Some(c) = &o.challenger {
                for (agreed, n) in [("true", c.agreed), ("false", c.compared - c.agreed)] {
                    let _ = writeln!(
                        out,
                        "woolguard_challenger_compared_total{{tenant=\"{}\",slot=\"{}\",version=\"{}\",agreed=\"{agreed}\"}} {n}",
                        label(&o.tenant),
                        c.slot.name(),
                        label(&c.version)
                    );
                }
            }
        }
        head(
            out,
            "woolguard_challenger_percent",
            "gauge",
            "The percent of members a challenger decides for (0: shadow).",
        );
        for o in ops {
            if let Some(c) = &o.challenger {
                let _ = writeln!(
                    out,
                    "woolguard_challenger_percent{{tenant=\"{}\",slot=\"{}\",version=\"{}\"}} {}",
                    label(&o.tenant),
                    c.slot.name(),
                    label(&c.version),
                    c.percent
                );
            }
        }
        head(
            out,
            "woolguard_drift_psi",
            "gauge",
            "Population stability index of live sign-up traffic against the sign-up model's training population, by tenant and feature (`score` for the score).",
        );
        for o in ops {
            if let Some(d) = &o.drift {
                for m in std::iter::once(&d.score).chain(&d.features) {
                    let _ = writeln!(
                        out,
                        "woolguard_drift_psi{{tenant=\"{}\",feature=\"{}\"}} {:.6}",
                        label(&o.tenant),
                        label(&m.name),
                        m.psi
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_every_family_is_described() {
        let m = Metrics::default();
        m.observe("a", "/v1/x", 200, 0.0007);
        m.observe("a", "/v1/x", 200, 0.02);
        m.decision("a", "/v1/members/score", Decision::Reject);
        let text = m.render(&[("a".into(), "member", "v1".into())], &[]);
        assert!(
            text.contains(
                "woolguard_requests_total{tenant=\"a\",route=\"/v1/x\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("le=\"0.0005\"} 0"));
        assert!(text.contains("le=\"0.001\"} 1"));
        assert!(text.contains("le=\"0.025\"} 2"));
        assert!(text.contains("woolguard_decisions_total{tenant=\"a\",route=\"/v1/members/score\",decision=\"reject\"} 1"));
        assert!(
            text.contains("woolguard_model_info{tenant=\"a\",slot=\"member\",version=\"v1\"} 1")
        );
        for family in [
            "requests_total",
            "request_seconds",
            "decisions_total",
            "model_info",
        ] {
            assert!(
                text.contains(&format!("# HELP woolguard_{family} ")),
                "{family}"
            );
            assert!(
                text.contains(&format!("# TYPE woolguard_{family} ")),
                "{family}"
            );
        }
    }
}
