//! The event-to-score benchmark: a tenant loaded in process over a history, with an event store
//! in a temporary folder, sent order events at a steady rate from several threads through
//! [`Tenant::ingest`], `batch` orders a call. For each order it measures the time from the call until
//! [`Tenant::score_member`] shows the member's score as of just after the order, while a reader
//! thread scores random members throughout (reads never wait on a refresh). Beside it: the
//! start time, resident memory per member, and a full refresh after 100 orders, timed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::data::read::load;
use crate::state::events::Event;
use crate::state::store::RedbStore;
use crate::state::tenant::{Models, Tenant};
use crate::state::StateError;

/// What to run.
#[derive(Debug, Clone)]
pub struct LiveParams {
    pub data: std::path::PathBuf,
    pub model: std::path::PathBuf,
    pub signup_model: std::path::PathBuf,
    /// Order events per second, over all senders.
    pub rate: f64,
    pub seconds: f64,
    pub senders: usize,
    /// Orders per ingestion call (one durable commit each).
    pub batch: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveBenchError {
    #[error("reading the history: {0}")]
    Read(#[source] crate::data::DataError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the work folder: {0}")]
    Io(#[from] std::io::Error),
    #[error("a sender thread failed: {0}")]
    Sender(String),
}

/// Milliseconds at a few quantiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Millis {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Millis {
    fn of(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return Millis::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Millis {
            n: v.len(),
            p50: q(0.5),
            p99: q(0.99),
            max: v[v.len() - 1],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveReport {
    pub members: usize,
    /// Reading the history, building the snapshot (every member scored) and the online state.
    pub start_seconds: f64,
    /// Resident memory after start, and per member.
    pub rss_bytes_after_start: u64,
    pub rss_bytes_per_member: f64,
    /// The full refresh (fold, re-age and rescore everyone) after 100 orders.
    pub full_refresh_seconds: f64,
    /// Ingesting an event that rescores nobody (a benefit hold), one thread: the durable commit
    /// alone, the floor under the event-to-score time.
    pub commit_only: Millis,
    /// Sender threads and orders per ingestion call.
    pub senders: usize,
    pub batch: usize,
    /// Order events sent and the rate achieved.
    pub orders: usize,
    pub orders_per_second: f64,
    /// From the ingest call to the member's new score being read.
    pub event_to_score: Millis,
    /// Member score reads by another thread meanwhile.
    pub reads: Millis,
    /// Members scored live at the end (touched since the snapshot).
    pub live_members: usize,
    pub rss_bytes_at_end: u64,
}

/// Resident memory of this process (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A small deterministic generator (xorshift) to pick members.
struct Pick(u64);

impl Pick {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn order(id: String, member: &str, at: i64) -> Event {
    Event::Order {
        event_id: id.clone(),
        member_id: member.to_string(),
        at,
        order_id: id,
        amount: 59.0,
        list_amount: 59.0,
        discount: 0.0,
        coupon_id: None,
        channel: None,
        refunded: false,
    }
}

/// A folder under the system's temporary folder, removed when dropped.
struct WorkDir(std::path::PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the benchmark (see the module's text).
pub fn run(p: &LiveParams) -> Result<LiveReport, LiveBenchError> {
    let work = WorkDir(std::env::temp_dir().join(format!("woolguard-live-{}", std::process::id())));
    std::fs::create_dir_all(&work.0)?;
    let started = Instant::now();
    let history = load(&p.data).map_err(LiveBenchError::Read)?;
    let (models, online) = Models::load_to_start(
        Arc::new(history),
        &p.model,
        &p.signup_model,
        Default::default(),
    )?;
    let store = RedbStore::open(&work.0.join("events.redb")).map_err(StateError::from)?;
    let tenant = Tenant::starting("bench", models, online, None).with_store(Box::new(store))?;
    let start_seconds = started.elapsed().as_secs_f64();
    let rss_after_start = rss_bytes();
    let snapshot = tenant.snapshot()?;
    let h = &snapshot.history;
    let members = h.members.len();
    let ids: Vec<String> = (0..members as u32)
        .map(|m| h.members.id(m).to_string())
        .collect();
    let end = snapshot.as_of;
    drop(snapshot);
    let mut pick = Pick(0x9e37_79b9_7f4a_7c15);
    // The full refresh of before: 100 orders, then fold, re-age and rescore everyone.
    for i in 0..100 {
        let m = &ids[pick.next(members)];
        tenant.ingest(&[order(format!("warm-{i}"), m, end + i)])?;
    }
    let refreshed = Instant::now();
    tenant.refresh()?;
    let full_refresh_seconds = refreshed.elapsed().as_secs_f64();
    let end = tenant.snapshot()?.as_of;
    let mut commits = Vec::with_capacity(200);
    for i in 0..200 {
        let hold = Event::Hold {
            event_id: format!("hold-{i}"),
            member_id: ids[pick.next(members)].clone(),
            at: end,
            kind: "coupon".to_string(),
            campaign_id: None,
            value: 0.0,
            reason: "BENCH".to_string(),
        };
        let t = Instant::now();
        tenant.ingest(&[hold])?;
        commits.push(t.elapsed().as_secs_f64() * 1e3);
    }

    let total = (p.rate * p.seconds).round().max(1.0) as usize;
    let senders = p.senders.max(1);
    let batch = p.batch.max(1);
    let gap = Duration::from_secs_f64((senders * batch) as f64 / p.rate.max(f64::MIN_POSITIVE));
    let latencies = Mutex::new(Vec::with_capacity(total));
    let stop = AtomicBool::new(false);
    let sent_from = Instant::now();
    let (reads, failure) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut pick = Pick(0x2545_f491_4f6c_dd1d);
            let mut reads = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let id = &ids[pick.next(members)];
                let t = Instant::now();
                let scored = tenant.snapshot().and_then(|m| tenant.score_member(&m, id));
                if scored.is_ok() {
                    reads.push(t.elapsed().as_secs_f64() * 1e3);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            reads
        });
        let handles: Vec<_> = (0..senders)
            .map(|k| {
                let (ids, tenant, latencies) = (&ids, &tenant, &latencies);
                s.spawn(move || -> Result<(), StateError> {
                    let mut pick = Pick(0xdead_beef_u64.wrapping_add(k as u64 * 7919));
                    // Calls of `batch` orders each; call `c` carries orders c*batch.. .
                    let calls = total.div_ceil(batch);
                    for (j, c) in (k..calls).step_by(senders).enumerate() {
                        let due = sent_from + gap.mul_f64(j as f64);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let sent: Vec<(usize, i64, Event)> = (c * batch
                            ..((c + 1) * batch).min(total))
                            .map(|i| {
                                let m = pick.next(members);
                                // Distinct seconds after the snapshot, one per order.
                                let at = end + 1 + i as i64;
                                (m, at, order(format!("live-{i}"), &ids[m], at))
                            })
                            .collect();
                        let events: Vec<Event> = sent.iter().map(|(_, _, e)| e.clone()).collect();
                        let t = Instant::now();
                        tenant.ingest(&events)?;
                        for (m, at, _) in &sent {
                            let id = &ids[*m];
                            // The new score is there when its moment is past the order.
                            loop {
                                let snap = tenant.snapshot()?;
                                tenant.score_member(&snap, id)?;
                                if tenant.member_as_of(&snap, id)? > *at {
                                    break;
                                }
                                std::thread::yield_now();
                            }
                            let ms = t.elapsed().as_secs_f64() * 1e3;
                            if let Ok(mut l) = latencies.lock() {
                                l.push(ms);
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let mut failure = None;
        for h in handles {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(e.to_string()),
                Err(_) => failure = Some("panicked".to_string()),
            }
        }
        stop.store(true, Ordering::Relaxed);
        (reader.join().unwrap_or_default(), failure)
    });
    if let Some(f) = failure {
        return Err(LiveBenchError::Sender(f));
    }
    let elapsed = sent_from.elapsed().as_secs_f64();
    let latencies = latencies.into_inner().unwrap_or_default();
    Ok(LiveReport {
        members,
        start_seconds,
        rss_bytes_after_start: rss_after_start,
        rss_bytes_per_member: rss_after_start as f64 / members.max(1) as f64,
        full_refresh_seconds,
        commit_only: Millis::of(commits),
        senders,
        batch,
        orders: latencies.len(),
        orders_per_second: latencies.len() as f64 / elapsed.max(f64::MIN_POSITIVE),
        event_to_score: Millis::of(latencies),
        reads: Millis::of(reads),
        live_members: tenant.live_members()?,
        rss_bytes_at_end: rss_bytes(),
    })
}
