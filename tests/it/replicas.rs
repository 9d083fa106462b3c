//! Replicas of one tenant on a shared PostgreSQL store: a real server in a throwaway cluster
//! (`scripts/pg.sh`, on a private port, stopped afterwards), the real binary three times on
//! loopback. The log: one position per event, no gaps, each event id once; replicas that fold it
//! in log order hold the same state as an offline replay of it; a replica killed with `kill -9`
//! loses no acknowledged event and converges again on restart; the store stopped mid-stream
//! answers 503 `store_unavailable`, acknowledges nothing it did not commit, and recovers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::serve::{json, root, sample_tenant, Server};
use woolguard::state::store::{EventStore, PgStore, StoreError};
use woolguard::state::tenant::Candidate;
use woolguard::state::Event;

/// A throwaway PostgreSQL cluster of this test's own.
struct Pg {
    _dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
}

fn pg_script(args: &[&str]) -> std::process::ExitStatus {
    Command::new("bash")
        .arg(root().join("scripts/pg.sh"))
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("scripts/pg.sh: {e}"))
}

impl Pg {
    /// A new cluster, started; `None` (said on stderr) where no PostgreSQL server can be found
    /// and this is not CI, which installs one (`scripts/setup.sh`).
    fn start() -> Option<Pg> {
        let found = Command::new("bash")
            .arg(root().join("scripts/pg.sh"))
            .arg("bin")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "no PostgreSQL server binaries under CI: scripts/setup.sh installs them"
            );
            eprintln!("skipped: no PostgreSQL server here (scripts/setup.sh installs Debian's postgresql)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = dir.path().join("pg");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let pg = Pg {
            _dir: dir,
            data,
            port,
        };
        pg.up();
        Some(pg)
    }

    fn up(&self) {
        let port = self.port.to_string();
        let data = self.data.display().to_string();
        assert!(
            pg_script(&["start", &data, &port]).success(),
            "PostgreSQL did not start"
        );
    }

    /// Stops the server at once, as a crash would.
    fn kill(&self) {
        assert!(pg_script(&["kill", &self.data.display().to_string()]).success());
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        pg_script(&["stop", &self.data.display().to_string()]);
    }
}

fn signup(id: &str, at: i64, device: &str, ip: &str) -> Event {
    serde_json::from_value(serde_json::json!({
        "type": "signup", "event_id": format!("ev-{id}"), "member_id": id, "at": at,
        "channel": "app", "device_id": device, "ip": ip,
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn connect(pg: &Pg, tenant: &str) -> PgStore {
    PgStore::connect(&pg.url(), tenant).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_shared_log_gives_gap_free_positions_and_stores_each_event_once_across_writers() {
    let Some(pg) = Pg::start() else { return };
    let store = Arc::new(connect(&pg, "brand-a"));
    let other = connect(&pg, "brand-b");
    // Four writers send batches of 5 from one pool of 120 ids, overlapping on purpose.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut accepted = Vec::new();
                for b in 0..30 {
                    let batch: Vec<Event> = (0..5)
                        .map(|k| {
                            let i = (b * 5 + k + w * 13) % 120;
                            signup(&format!("m{i}"), 1_735_689_600 + i as i64, "d", "10.0.0.1")
                        })
                        .collect();
                    let (a, fresh) = store.append(&batch).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(a.accepted.len(), fresh.len());
                    accepted.extend(a.accepted);
                }
                accepted
            })
        })
        .collect();
    let mut all: Vec<String> = Vec::new();
    for w in writers {
        all.extend(w.join().unwrap_or_else(|_| panic!("writer panicked")));
    }
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), unique.len(), "an event was accepted twice");
    assert_eq!(unique.len(), 120);
    let log = store.read_all_after(0).unwrap_or_else(|e| panic!("{e}"));
    let seqs: Vec<u64> = log.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=120).collect::<Vec<u64>>(), "positions have gaps");
    let ids: BTreeSet<&str> = log.iter().map(|l| l.event.id()).collect();
    assert_eq!(ids.len(), 120);
    assert_eq!(store.read_after(118, 10).map(|v| v.len()).unwrap_or(0), 2);
    assert!(store.contains("ev-m7").unwrap_or(false));
    // Another tenant's log starts at 1, apart.
    let (_, fresh) = other
        .append(&[signup("x", 1_735_689_600, "d", "10.0.0.1")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fresh[0].seq, 1);
    assert!(!other.contains("ev-m7").unwrap_or(true));
    // Lists and rules count their changes, so that replicas reload them.
    let v0 = store.versions().unwrap_or_else(|e| panic!("{e}"));
    store
        .set_list_entry("deny/device/d-9", true)
        .unwrap_or_else(|e| panic!("{e}"));
    store.set_rules("{}").unwrap_or_else(|e| panic!("{e}"));
    let v1 = store.versions().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((v1.lists, v1.rules), (v0.lists + 1, v0.rules + 1));
    assert_eq!(
        store.list_entries().unwrap_or_default(),
        ["deny/device/d-9"]
    );
    assert_eq!(
        other.list_entries().unwrap_or_default(),
        Vec::<String>::new()
    );

    // The server gone: an error within the statement timeout, nothing stored; back: the same
    // batch is stored once.
    pg.kill();
    let started = Instant::now();
    let batch = [signup("late", 1_735_689_700, "d", "10.0.0.1")];
    let failed = store.append(&batch);
    assert!(
        matches!(failed, Err(StoreError::Commit(_) | StoreError::Postgres(_))),
        "{failed:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(12));
    pg.up();
    let (a, fresh) = retry(|| store.append(&batch));
    assert_eq!((a.accepted.len(), fresh[0].seq), (1, 121));
    let (a, _) = retry(|| store.append(&batch));
    assert_eq!((a.accepted.len(), a.duplicates.len()), (0, 1));
}

/// `f` until it succeeds (the pool reconnects after a server restart), for up to 20 s.
fn retry<T>(f: impl Fn() -> Result<T, StoreError>) -> T {
    let started = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if started.elapsed() > Duration::from_secs(20) => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A replica's config: the sample history, the shipped models, the shared store.
fn replica_config(dir: &Path, pg: &Pg) -> PathBuf {
    let path = dir.join("replica.toml");
    let text = format!(
        "bind = \"127.0.0.1:0\"\nadmin_key = \"adm\"\nstore = \"{}\"\ntail_poll_ms = 100\nrefresh_secs = 0\n\n\
         [[tenants]]\nname = \"brand-a\"\napi_keys = [\"key-a\"]\ndata = \"data/sample\"\nmodel = \"models/default\"\nsignup_model = \"models/signup\"\n",
        pg.url()
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

const KEY: [(&str, &str); 1] = [("x-api-key", "key-a")];

/// Sign-ups of writer `w`, batch `b`: 10 events on 7 devices and 5 IP ranges the writers share,
/// each writer's times interleaved with the others'.
fn batch_body(w: usize, b: usize) -> (String, Vec<String>) {
    let mut ids = Vec::new();
    let events: Vec<String> = (0..10)
        .map(|k| {
            let n = b * 10 + k;
            let id = format!("w{w}-{n}");
            ids.push(format!("ev-{id}"));
            format!(
                r#"{{"type":"signup","event_id":"ev-{id}","member_id":"{id}","at":{},"channel":"app","device_id":"dev-shared-{}","ip":"10.42.{}.{}"}}"#,
                1_767_225_600 + (n * 3 + w) as i64,
                n % 7,
                n % 5,
                n % 200
            )
        })
        .collect();
    (format!(r#"{{"events":[{}]}}"#, events.join(",")), ids)
}

/// Writer `w` posts `batches` batches through `addr`, counting them in `done`; returns the event
/// ids acknowledged, stopping at the first failure (the replica gone).
fn write_through(
    addr: String,
    w: usize,
    batches: usize,
    done: Arc<std::sync::atomic::AtomicUsize>,
) -> Vec<String> {
    let s = Server {
        child: Command::new("true")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
        addr,
    };
    let mut acked = Vec::new();
    for b in 0..batches {
        let (body, ids) = batch_body(w, b);
        let (status, reply) = crate::common::app::Api::call(&s, "POST", "/v1/events", &KEY, &body);
        if status != 200 {
            break;
        }
        assert_eq!(
            json(&reply)["accepted"].as_array().map(Vec::len),
            Some(10),
            "{reply}"
        );
        acked.extend(ids);
        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    acked
}

/// Waits until the replica has applied the log up to `head`.
fn converged(s: &Server, head: u64) {
    let started = Instant::now();
    loop {
        let (status, body) = s.call("GET", "/v1/state", &KEY, "");
        assert_eq!(status, 200, "{body}");
        let at = json(&body)["log_position"].as_u64().unwrap_or(0);
        if at == head {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica at {at} of {head} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 1,000 candidates on the writers' devices and ranges, after every sign-up.
fn probes() -> Vec<Candidate> {
    (0..1_000)
        .map(|i| Candidate {
            member_id: Some(format!("probe-{i}")),
            joined_at: Some(1_767_312_000 + i),
            channel: Some("app".into()),
            device_id: Some(format!("dev-shared-{}", i % 9)),
            ip: Some(format!("10.42.{}.9", i % 6)),
            ..Candidate::default()
        })
        .collect()
}

fn probe_body(c: &Candidate) -> String {
    serde_json::json!({
        "member_id": c.member_id, "joined_at": c.joined_at, "channel": c.channel,
        "device_id": c.device_id, "ip": c.ip,
    })
    .to_string()
}

/// What of a verdict the candidate's features decide: the probability (to the bit), the decision,
/// the reasons with their feature values, the gang.
fn decided(v: &serde_json::Value) -> String {
    format!(
        "{}|{}|{}|{}",
        v["probability"].as_f64().map_or(0, f64::to_bits),
        v["decision"],
        v["reasons"],
        v["gang"]
    )
}

#[test]
fn three_replicas_converge_on_the_log_and_survive_kill_9_of_one() {
    let Some(pg) = Pg::start() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = replica_config(dir.path(), &pg);
    let mut replicas: Vec<Server> = (0..3).map(|_| Server::start(&cfg)).collect();
    // Writers through all three at once; the third replica is killed while they write.
    let done: Vec<_> = (0..3)
        .map(|_| Arc::new(std::sync::atomic::AtomicUsize::new(0)))
        .collect();
    let writers: Vec<_> = replicas
        .iter()
        .enumerate()
        .map(|(w, s)| {
            let (addr, done) = (s.addr.clone(), done[w].clone());
            std::thread::spawn(move || write_through(addr, w, 150, done))
        })
        .collect();
    // Killed mid-stream: after its writer's third batch.
    let started = Instant::now();
    while done[2].load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no batch went through"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = replicas[2].child.id().to_string();
    assert!(Command::new("kill")
        .args(["-9", &pid])
        .status()
        .is_ok_and(|s| s.success()));
    let acked: Vec<Vec<String>> = writers
        .into_iter()
        .map(|w| w.join().unwrap_or_else(|_| panic!("writer panicked")))
        .collect();
    assert_eq!((acked[0].len(), acked[1].len()), (1500, 1500));
    assert!(acked[2].len() < 1500, "the killed replica took every batch");
    assert!(!acked[2].is_empty(), "killed before its first batch");

    // Every acknowledged event is in the log, once, at gap-free positions.
    let store = connect(&pg, "brand-a");
    let log = store.read_all_after(0).unwrap_or_else(|e| panic!("{e}"));
    let head = log.len() as u64;
    assert_eq!(log.last().map(|l| l.seq), Some(head));
    let stored: BTreeSet<&str> = log.iter().map(|l| l.event.id()).collect();
    assert_eq!(stored.len(), log.len());
    let lost: Vec<&String> = acked
        .iter()
        .flatten()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");

    // The survivors hold what an offline replay of the log holds, probe for probe.
    for s in &replicas[..2] {
        converged(s, head);
    }
    let offline = sample_tenant()
        .with_store(Box::new(connect(&pg, "brand-a")))
        .unwrap_or_else(|e| panic!("{e}"));
    let probes = probes();
    let expected: Vec<String> = probes
        .iter()
        .map(|c| {
            let v = offline.score_candidate(c).unwrap_or_else(|e| panic!("{e}"));
            decided(&serde_json::to_value(&v).unwrap_or_default())
        })
        .collect();
    // The replicas' shared devices did count the writers' sign-ups.
    let row = offline
        .candidate_features(&probes[0])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(row[0] > 50.0, "device_accounts {}", row[0]);
    let check = |s: &Server, who: &str| {
        let mut differ = BTreeMap::new();
        for (c, want) in probes.iter().zip(&expected) {
            let (status, body) = s.call("POST", "/v1/candidates/score", &KEY, &probe_body(c));
            assert_eq!(status, 200, "{body}");
            let got = decided(&json(&body));
            if &got != want {
                differ.insert(c.member_id.clone(), (got, want.clone()));
            }
        }
        assert!(
            differ.is_empty(),
            "{who}: {} of 1000 probes differ from the offline replay, e.g. {:?}",
            differ.len(),
            differ.iter().next()
        );
    };
    check(&replicas[0], "replica 1");
    check(&replicas[1], "replica 2");

    // The killed replica restarts from the history and the log, and converges.
    replicas[2] = Server::start(&cfg);
    converged(&replicas[2], head);
    check(&replicas[2], "the restarted replica");

    // A sign-up through one replica is seen by the others: their log position reaches its own.
    let (body, _) = batch_body(9, 0);
    let (status, reply) = replicas[1].call("POST", "/v1/events", &KEY, &body);
    assert_eq!(status, 200, "{reply}");
    let position = json(&reply)["position"].as_u64().unwrap_or(0);
    assert_eq!(position, head + 10);
    converged(&replicas[0], position);
    converged(&replicas[2], position);

    // A device denied through one replica is denied by the others within their poll.
    let (status, body) = replicas[0].call("PUT", "/v1/lists/deny/device/dev-shared-3", &KEY, "");
    assert_eq!(status, 200, "{body}");
    let probe = probe_body(&probes[3]);
    for s in &replicas[1..] {
        let started = Instant::now();
        loop {
            let (_, body) = s.call("POST", "/v1/candidates/score", &KEY, &probe);
            if json(&body)["list"].is_object() {
                assert_eq!(json(&body)["decision"], "reject", "{body}");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the deny list did not reach a replica: {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn the_store_stopped_mid_stream_is_503_store_unavailable_and_nothing_is_lost() {
    let Some(pg) = Pg::start() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = replica_config(dir.path(), &pg);
    let server = Server::start(&cfg);
    let mut acked: Vec<String> = Vec::new();
    let mut refused = 0;
    for b in 0..30 {
        if b == 10 {
            pg.kill();
        }
        if b == 20 {
            pg.up();
        }
        let (body, ids) = batch_body(0, b);
        let started = Instant::now();
        loop {
            let (status, reply) = server.call("POST", "/v1/events", &KEY, &body);
            match status {
                200 => {
                    // A batch answered 503 before may have been committed: a retry then finds
                    // its events stored, and says so.
                    let v = json(&reply);
                    let n = |k: &str| v[k].as_array().map_or(0, Vec::len);
                    assert_eq!(n("accepted") + n("duplicates"), 10, "{reply}");
                    acked.extend(ids);
                    break;
                }
                503 => {
                    assert_eq!(json(&reply)["code"], "store_unavailable", "{reply}");
                    refused += 1;
                    // While the store is down, reads go on from memory.
                    let probe = probe_body(&probes()[0]);
                    let (status, _) = server.call("POST", "/v1/candidates/score", &KEY, &probe);
                    assert_eq!(status, 200);
                    if (10..20).contains(&b) {
                        break; // not acknowledged; not retried while the store is down
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "no recovery within 30 s"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => panic!("status {other}: {reply}"),
            }
        }
    }
    assert!(
        refused >= 10,
        "only {refused} batches were refused while the store was down"
    );
    assert_eq!(acked.len(), 200, "batches 0-9 and 20-29");
    let store = connect(&pg, "brand-a");
    let log = store.read_all_after(0).unwrap_or_else(|e| panic!("{e}"));
    let stored: BTreeSet<&str> = log.iter().map(|l| l.event.id()).collect();
    assert!(acked.iter().all(|id| stored.contains(id.as_str())));
    assert_eq!(stored.len(), log.len());
    // Nothing stored while the server was down; the replica applied the whole log.
    assert_eq!(log.len(), 200);
    converged(&server, 200);
}

#[test]
fn a_replica_starts_from_the_latest_snapshot_and_folds_only_the_tail() {
    let Some(pg) = Pg::start() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = replica_config(dir.path(), &pg);
    let first = Server::start(&cfg);
    for b in 0..30 {
        let (body, _) = batch_body(0, b);
        let (status, reply) = first.call("POST", "/v1/events", &KEY, &body);
        assert_eq!(status, 200, "{reply}");
    }
    // An order of a member who has not signed up: kept beside the snapshot, not lost.
    let ghost = r#"{"events":[{"type":"order","event_id":"o-ghost","member_id":"ghost","order_id":"og","at":1767300000,"amount":10.0,"list_amount":10.0,"discount":0,"channel":"app"}]}"#;
    let (status, reply) = first.call("POST", "/v1/events", &KEY, ghost);
    assert_eq!(status, 200, "{reply}");
    let state = dir.path().join("state");
    let snap = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args([
            "state",
            "snapshot",
            "--tenant",
            "brand-a",
            "--data",
            "data/sample",
            "--keep",
            "1",
            "--prune",
            "--json",
            "--model",
            "models/default",
            "--signup-model",
            "models/signup",
            "--store",
            &pg.url(),
            "--state",
        ])
        .arg(&state)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let taken = json(&String::from_utf8_lossy(&snap.stdout));
    assert!(
        snap.status.success(),
        "{}",
        String::from_utf8_lossy(&snap.stderr)
    );
    assert_eq!(taken["snapshot"]["position"], 301);
    assert_eq!(
        (taken["events"].as_u64(), taken["waiting"].as_u64()),
        (Some(301), Some(1))
    );
    assert_eq!(taken["rows"]["members"], 5_000 + 300);
    assert_eq!(taken["pruned"], 301);
    // With the models given, the snapshot holds its start image.
    let image = PathBuf::from(taken["start_image"].as_str().unwrap_or_default());
    let written = std::fs::metadata(&image)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    // The tail: 5 more batches.
    for b in 30..35 {
        let (body, _) = batch_body(0, b);
        let (status, _) = first.call("POST", "/v1/events", &KEY, &body);
        assert_eq!(status, 200);
    }
    // A pruned event sent again is still a duplicate.
    let (body, _) = batch_body(0, 0);
    let (_, reply) = first.call("POST", "/v1/events", &KEY, &body);
    assert_eq!(
        json(&reply)["duplicates"].as_array().map(Vec::len),
        Some(10),
        "{reply}"
    );

    let second = Server::start(&cfg);
    converged(&second, 351);
    // It started from the image (a start that computed would have written it again).
    let read = std::fs::metadata(&image).and_then(|m| m.modified());
    assert_eq!(read.ok(), Some(written));
    let (_, body) = second.call("GET", "/v1/state", &KEY, "");
    let status = json(&body);
    // It loaded the snapshot (the log behind it is pruned: nothing else could start it), took
    // the tail's 50 sign-ups live at start (pending for the next full refresh), and still holds
    // the order waiting for its sign-up.
    assert_eq!(
        (status["members"].as_u64(), status["pending"].as_u64()),
        (Some(5_300), Some(51)),
        "{body}"
    );
    let (_, body) = first.call("GET", "/v1/state", &KEY, "");
    assert_eq!(json(&body)["pending"], 351, "{body}");
    for c in probes().iter().take(200) {
        let (_, a) = first.call("POST", "/v1/candidates/score", &KEY, &probe_body(c));
        let (_, b) = second.call("POST", "/v1/candidates/score", &KEY, &probe_body(c));
        assert_eq!(decided(&json(&a)), decided(&json(&b)), "{:?}", c.member_id);
    }
}
