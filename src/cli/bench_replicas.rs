//! `bench replicas`: running replicas of one tenant on a shared store, driven over HTTP from
//! here. Sign-ups recorded through every replica (`POST /v1/candidates/score` with `record`, each
//! scored, stored and applied before its answer) by closed-loop clients: sign-ups per second and
//! latency. Meanwhile a probe records one sign-up event through the first replica every 50 ms and
//! waits for each other replica's `log_position` (`GET /v1/state`) to reach it: the cross-replica
//! visibility lag. Then batches of events into the log: events per second. Last, candidates
//! scored and not recorded (the read path) on the same keys: candidates per second.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct ReplicasArgs {
    /// The replicas, `host:port` each, comma-separated (the first also takes the lag probe).
    #[arg(long, value_delimiter = ',', required = true)]
    pub targets: Vec<String>,
    #[arg(long, default_value = "key-a")]
    pub api_key: String,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Closed-loop clients, spread over the targets.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Events per batch in the log phase.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Tells this run's member ids apart from earlier runs' on the same store.
    #[arg(long, default_value = "bench")]
    pub run: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Phase {
    requests: usize,
    failed: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    replicas: usize,
    clients: usize,
    signups: Phase,
    /// Cross-replica visibility: from the answer of a write to one replica until another has
    /// applied it.
    lag_p50_ms: Option<f64>,
    lag_p99_ms: Option<f64>,
    lag_samples: usize,
    /// Batches of `batch` sign-up events through `POST /v1/events`.
    events: Phase,
    events_per_second: f64,
    /// Candidates scored and not recorded, on the keys the sign-ups used: the read path, which
    /// shares the online state's read lock.
    candidates: Phase,
}

/// One request with the API key: (status, body).
fn call(
    addr: &str,
    method: &str,
    path: &str,
    key: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let headers = [("x-api-key", key)];
    super::http::call(addr, method, path, &headers, body, Duration::from_secs(30))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn phase(mut ms: Vec<f64>, failed: usize, seconds: f64) -> Phase {
    ms.sort_by(f64::total_cmp);
    Phase {
        requests: ms.len(),
        failed,
        per_second: ms.len() as f64 / seconds,
        p50_ms: quantile(&ms, 0.5),
        p99_ms: quantile(&ms, 0.99),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Closed-loop clients for `seconds`, client `c` on target `c mod n`, each request made by
/// `body(c, i)` for path `path`: every request's latency (ms) and the failures.
fn closed_loop(
    args: &ReplicasArgs,
    path: &'static str,
    body: impl Fn(usize, usize) -> String + Send + Sync + 'static,
) -> (Vec<f64>, usize, f64) {
    let body = Arc::new(body);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let clients: Vec<_> = (0..args.clients)
        .map(|c| {
            let addr = args.targets[c % args.targets.len()].clone();
            let key = args.api_key.clone();
            let body = body.clone();
            std::thread::spawn(move || {
                let (mut ms, mut failed) = (Vec::new(), 0);
                let mut i = 0;
                while Instant::now() < until {
                    let t = Instant::now();
                    match call(&addr, "POST", path, &key, &body(c, i)) {
                        Ok((200, _)) => ms.push(t.elapsed().as_secs_f64() * 1e3),
                        _ => failed += 1,
                    }
                    i += 1;
                }
                (ms, failed)
            })
        })
        .collect();
    let (mut ms, mut failed) = (Vec::new(), 0);
    for c in clients {
        if let Ok((m, f)) = c.join() {
            ms.extend(m);
            failed += f;
        }
    }
    (ms, failed, started.elapsed().as_secs_f64())
}

/// Until `stop`: one sign-up event through the first target every 50 ms, then the time until
/// every other target has applied it (ms, one sample per other target).
fn lag_probe(args: &ReplicasArgs, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<f64>> {
    let targets = args.targets.clone();
    let key = args.api_key.clone();
    let run = args.run.clone();
    std::thread::spawn(move || {
        let mut lags = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) && targets.len() > 1 {
            i += 1;
            let body = format!(
                r#"{{"events":[{{"type":"signup","event_id":"lag-{run}-{i}","member_id":"lag-{run}-{i}","at":{},"channel":"app","device_id":"lag-dev-{}"}}]}}"#,
                now(),
                i % 50
            );
            let Ok((200, reply)) = call(&targets[0], "POST", "/v1/events", &key, &body) else {
                continue;
            };
            let written = Instant::now();
            let position = serde_json::from_str::<serde_json::Value>(&reply)
                .ok()
                .and_then(|v| v["position"].as_u64())
                .unwrap_or(u64::MAX);
            for other in &targets[1..] {
                while written.elapsed() < Duration::from_secs(10) {
                    let at = call(other, "GET", "/v1/state", &key, "")
                        .ok()
                        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
                        .and_then(|v| v["log_position"].as_u64())
                        .unwrap_or(0);
                    if at >= position {
                        lags.push(written.elapsed().as_secs_f64() * 1e3);
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        lags
    })
}

pub fn run_replicas(args: ReplicasArgs) -> anyhow::Result<ExitCode> {
    for t in &args.targets {
        match call(t, "GET", "/v1/state", &args.api_key, "") {
            Ok((200, body)) if body.contains("\"store\"") => {}
            Ok((status, body)) => bail!("{t}: GET /v1/state answered {status}: {body}"),
            Err(e) => bail!("{t}: {e}"),
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let probe = lag_probe(&args, stop.clone());
    let run = args.run.clone();
    let (ms, failed, secs) = closed_loop(&args, "/v1/candidates/score", move |c, i| {
        format!(
            r#"{{"member_id":"{run}-{c}-{i}","joined_at":{},"channel":"app","device_id":"{run}-dev-{}","ip":"10.{}.{}.{}","record":true}}"#,
            now(),
            i % 997,
            c % 250,
            i % 250,
            (i / 250) % 250
        )
    });
    stop.store(true, Ordering::Relaxed);
    let mut lags = probe.join().unwrap_or_default();
    lags.sort_by(f64::total_cmp);
    let signups = phase(ms, failed, secs);
    let run = args.run.clone();
    let batch = args.batch.max(1);
    let (ms, failed, secs) = closed_loop(&args, "/v1/events", move |c, i| {
        let t = now();
        let events: Vec<String> = (0..batch)
            .map(|k| {
                format!(
                    r#"{{"type":"signup","event_id":"ev-{run}-{c}-{i}-{k}","member_id":"ev-{run}-{c}-{i}-{k}","at":{t},"channel":"app","device_id":"{run}-evdev-{}"}}"#,
                    (i * batch + k) % 997
                )
            })
            .collect();
        format!(r#"{{"events":[{}]}}"#, events.join(","))
    });
    let events = phase(ms, failed, secs);
    let run = args.run.clone();
    let (ms, failed, secs) = closed_loop(&args, "/v1/candidates/score", move |c, i| {
        format!(
            r#"{{"member_id":"cand-{run}-{c}-{i}","joined_at":{},"channel":"app","device_id":"{run}-dev-{}","ip":"10.{}.{}.{}"}}"#,
            now(),
            i % 997,
            c % 250,
            i % 250,
            (i / 250) % 250
        )
    });
    let candidates = phase(ms, failed, secs);
    let report = Report {
        replicas: args.targets.len(),
        clients: args.clients,
        events_per_second: events.per_second * batch as f64,
        signups,
        lag_p50_ms: (!lags.is_empty()).then(|| quantile(&lags, 0.5)),
        lag_p99_ms: (!lags.is_empty()).then(|| quantile(&lags, 0.99)),
        lag_samples: lags.len(),
        events,
        candidates,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rate = |p: &Phase| {
        format!(
            "{:.0}/s, p50 {:.2} ms, p99 {:.2} ms ({} failed)",
            p.per_second, p.p50_ms, p.p99_ms, p.failed
        )
    };
    writeln!(
        out,
        "{} replica(s), {} clients: recorded sign-ups {}",
        report.replicas,
        report.clients,
        rate(&report.signups)
    )?;
    match (report.lag_p50_ms, report.lag_p99_ms) {
        (Some(p50), Some(p99)) => writeln!(
            out,
            "cross-replica visibility lag: p50 {p50:.1} ms, p99 {p99:.1} ms ({} samples)",
            report.lag_samples
        )?,
        _ => writeln!(out, "cross-replica visibility lag: one replica, none")?,
    }
    let e = &report.events;
    writeln!(
        out,
        "events into the log: {:.0}/s in batches of {batch} (batch p50 {:.1} ms, p99 {:.1} ms, {} failed)",
        report.events_per_second, e.p50_ms, e.p99_ms, e.failed
    )?;
    writeln!(
        out,
        "candidates scored (not recorded): {}",
        rate(&report.candidates)
    )?;
    Ok(ExitCode::SUCCESS)
}
