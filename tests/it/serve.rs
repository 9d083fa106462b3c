//! The scorer over HTTP: the real binary on a loopback port, malformed requests through the real
//! app, tenants kept apart, model swaps under load, and the online sign-up path against the
//! offline feature sweep.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use crate::common::app::Api as _;
use woolguard::data::load;
use woolguard::features::recruit;
use woolguard::state::tenant::{Candidate, Models, Tenant};

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real binary serving `data/sample` for two tenants, on a port the OS picks.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl crate::common::app::Api for Server {
    fn call_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        Server::call_raw(self, method, path, headers, body)
    }
}

impl Server {
    pub(crate) fn start(config: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_woolguard"))
            .args(["serve", "--config"])
            .arg(config)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// One HTTP/1.1 request on a fresh connection: (status, body).
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let (status, body) = self.call_soft(method, path, headers, body);
        assert_ne!(status, 0, "{method} {path}: no response");
        (status, body)
    }

    /// As `call`, with status 0 when the server is gone.
    fn call_soft(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        crate::common::app::Api::call(self, method, path, headers, body)
    }

    /// One request with exactly these headers and a body of any bytes.
    pub(crate) fn call_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let Ok(mut s) = TcpStream::connect(&self.addr) else {
            return (0, String::new());
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        if s.write_all(&bytes).is_err() {
            return (0, String::new());
        }
        let mut raw = String::new();
        if s.read_to_string(&mut raw).is_err() {
            return (0, String::new());
        }
        let status: u16 = raw
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, dechunk(&body, &raw))
    }
}

/// Bodies of unknown length come chunked.
fn dechunk(body: &str, raw: &str) -> String {
    if !raw
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n.min(tail.len())]);
        rest = tail.get(n + 2..).unwrap_or("");
    }
    out
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped member model under another version, for a second tenant with its own model.
fn second_model(dir: &Path) -> PathBuf {
    let path = dir.join("brand-b-wool");
    let text =
        std::fs::read_to_string(root().join("models/default")).unwrap_or_else(|e| panic!("{e}"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["version"] = serde_json::Value::String("brand-b-wool".into());
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path
}

pub(crate) fn config(dir: &Path) -> PathBuf {
    let path = dir.join("serve.toml");
    let second = second_model(dir);
    let text = r#"
bind = "127.0.0.1:0"
admin_key = "admin-secret"
max_body_bytes = 100000
max_ids = 1000
"#
    .to_string()
        + r#"
[[tenants]]
name = "brand-a"
api_keys = ["key-a"]
data = "data/sample"
model = "models/default"
signup_model = "models/signup"

[[tenants]]
name = "brand-b"
api_keys = ["key-b"]
data = "data/sample"
signup_model = "models/signup"
"# + &format!("model = \"{}\"\n", second.display());
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

pub(crate) fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn the_real_binary_scores_filters_and_refuses_bad_requests_over_loopback() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(&config(dir.path()));
    let a = [("x-api-key", "key-a")];

    let (status, body) = server.call("GET", "/healthz", &[], "");
    assert_eq!((status, json(&body)["status"].as_str()), (200, Some("ok")));

    // A candidate on a device nobody has used, then three more on one device: the device count
    // the online state reports grows with each recorded sign-up.
    let candidate = |id: &str, record: bool| {
        format!(
            r#"{{"member_id":"{id}","joined_at":1735689600,"channel":"app","device_id":"dev-farm-1","ip":"10.9.8.7","record":{record}}}"#
        )
    };
    let (status, body) = server.call(
        "POST",
        "/v1/candidates/score",
        &a,
        &candidate("new-1", true),
    );
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    let p = v["probability"].as_f64().unwrap_or(-1.0);
    assert!((0.0..=1.0).contains(&p), "{body}");
    assert_eq!(v["model_version"], "signup");
    assert!(["pass", "review", "reject"].contains(&v["decision"].as_str().unwrap_or("")));
    for id in ["new-2", "new-3"] {
        let (status, _) = server.call("POST", "/v1/candidates/score", &a, &candidate(id, true));
        assert_eq!(status, 200);
    }
    let (_, body) = server.call(
        "POST",
        "/v1/candidates/score",
        &a,
        &candidate("new-4", false),
    );
    let v = json(&body);
    let device_reason = v["reasons"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["code"] == "DEVICE_ACCOUNTS"))
        .and_then(|x| x["value"].as_f64());
    // Three accounts are already on the device, if the model counts it among the top reasons.
    assert!(device_reason.is_none_or(|n| n == 3.0), "{body}");

    // A deny list entry on the device decides, and says so.
    let (status, _) = server.call("PUT", "/v1/lists/deny/device/dev-farm-1", &a, "");
    assert_eq!(status, 200);
    let (_, body) = server.call(
        "POST",
        "/v1/candidates/score",
        &a,
        &candidate("new-5", false),
    );
    let v = json(&body);
    assert_eq!(v["decision"], "reject");
    assert_eq!(v["list"]["list"], "deny");
    let (_, body) = server.call("GET", "/v1/lists/deny/device", &a, "");
    assert_eq!(json(&body)["values"][0], "dev-farm-1");

    // A corrupt model is refused and the old one keeps serving.
    let bad = dir.path().join("corrupt");
    std::fs::write(&bad, "{\"format\":1,").unwrap_or_else(|e| panic!("{e}"));
    let admin = [("x-admin-key", "admin-secret")];
    let req = format!(r#"{{"tenant":"brand-a","model":"{}"}}"#, bad.display());
    let (status, got) = server.call("POST", "/v1/models/reload", &admin, &req);
    assert_eq!(
        (status, json(&got)["code"].as_str()),
        (400, Some("model_refused")),
        "{got}"
    );
    let (_, body) = server.call("GET", "/v1/models", &a, "");
    assert_eq!(json(&body)["member"]["version"], "default");

    let (status, text) = server.call("GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    assert!(
        text.contains("woolguard_requests_total{tenant=\"brand-a\",route=\"/v1/candidates/score\",status=\"200\"}"),
        "{text}"
    );
    assert!(text.contains(
        "woolguard_model_info{tenant=\"brand-a\",slot=\"member\",version=\"default\"} 1"
    ));
    assert!(text.contains("# HELP woolguard_decisions_total "), "{text}");
}

#[test]
fn members_carry_their_standing_and_an_audience_accounts_for_every_id() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = crate::common::app::InProcess::start(&config(dir.path()));
    let a = [("x-api-key", "key-a")];
    // Members and audiences.
    let (status, body) = server.call(
        "POST",
        "/v1/members/score",
        &a,
        r#"{"member_ids":["M00000001","nobody"]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["members"][0]["member_id"], "M00000001");
    assert!(v["members"][0]["probability"].is_number(), "{body}");
    assert_eq!(v["members"][1]["error"]["code"], "unknown_member");
    // Tier and segment as the segment command computes them at the same moment.
    let h = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let tiers = woolguard::members::tier::TierRules::default();
    let seg = woolguard::members::segment::segment(
        &h,
        &tiers,
        &woolguard::members::rfm::RfmRules::default(),
        woolguard::model::score::end_of(&h),
    );
    let m = h
        .members
        .index_of("M00000001")
        .unwrap_or_else(|| panic!("no M00000001"));
    let i = seg
        .members
        .iter()
        .position(|&x| x == m)
        .unwrap_or_else(|| panic!("not segmented"));
    let row = seg.row(&h, &tiers, i);
    assert_eq!(
        v["members"][0]["standing"]["tier"],
        row.tier.as_str(),
        "{body}"
    );
    assert_eq!(
        v["members"][0]["standing"]["segment"], row.segment,
        "{body}"
    );
    let ids: Vec<String> = (1..=300).map(|i| format!("\"M{i:08}\"")).collect();
    let req = format!(
        r#"{{"member_ids":[{},"ghost"],"policy":{{"drop":"review"}}}}"#,
        ids.join(",")
    );
    let (status, body) = server.call("POST", "/v1/audiences/filter", &a, &req);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    let kept = v["summary"]["kept"].as_u64().unwrap_or(0);
    let dropped = v["summary"]["dropped"].as_u64().unwrap_or(0);
    assert_eq!(kept + dropped, 301, "every id is kept or dropped");
    assert_eq!(v["summary"]["dropped_by_reason"]["UNKNOWN_MEMBER"], 1);
}

#[test]
fn tenants_are_apart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = crate::common::app::InProcess::start(&config(dir.path()));
    let a = [("x-api-key", "key-a")];
    let (status, _) = server.call("PUT", "/v1/lists/deny/device/dev-a", &a, "");
    assert_eq!(status, 200);
    let (_, body) = server.call("GET", "/v1/lists/deny/device", &a, "");
    assert_eq!(json(&body)["values"][0], "dev-a");
    // Tenants are apart: brand B's key sees brand B's lists and models only.
    let b = [("x-api-key", "key-b")];
    let (_, body) = server.call("GET", "/v1/lists/deny/device", &b, "");
    assert_eq!(json(&body)["values"].as_array().map(Vec::len), Some(0));
    let (_, body) = server.call("GET", "/v1/models", &b, "");
    assert_eq!(json(&body)["tenant"], "brand-b");
    assert_eq!(json(&body)["member"]["version"], "brand-b-wool");
}

#[test]
fn malformed_requests_get_a_4xx_with_a_stable_code() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = crate::common::app::InProcess::start(&config(dir.path()));
    let a = [("x-api-key", "key-a")];
    // Malformed requests: a 4xx with a stable code, never a 5xx.
    // (method, path, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
        u16,
        &'a str,
    );
    let cases: &[Case] = &[
        (
            "POST",
            "/v1/candidates/score",
            &[],
            "{}",
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/v1/candidates/score",
            &[("x-api-key", "nope")],
            "{}",
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/v1/candidates/score",
            &a,
            "{",
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/v1/candidates/score",
            &a,
            "[1,2]",
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/candidates/score",
            &a,
            r#"{"joined_at":"soon"}"#,
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/candidates/score",
            &a,
            r#"{"shoe_size":44}"#,
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/candidates/score",
            &a,
            r#"{"record":true}"#,
            400,
            "missing_field",
        ),
        (
            "POST",
            "/v1/candidates/score",
            &a,
            r#"{"member_id":"M00000001","record":true}"#,
            409,
            "member_exists",
        ),
        (
            "POST",
            "/v1/members/score",
            &a,
            r#"{"ids":[]}"#,
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/audiences/filter",
            &a,
            r#"{"member_ids":[],"policy":{"drop":"all"}}"#,
            400,
            "invalid_field",
        ),
        ("GET", "/v1/lists/maybe/device", &a, "", 404, "unknown_list"),
        (
            "PUT",
            "/v1/lists/deny/shoe/x",
            &a,
            "",
            404,
            "unknown_list_key",
        ),
        ("GET", "/v2/anything", &a, "", 404, "no_route"),
        (
            "POST",
            "/v1/models/reload",
            &a,
            r#"{"tenant":"brand-a"}"#,
            401,
            "unauthorized",
        ),
    ];
    for (method, path, headers, body, want_status, want_code) in cases {
        let (status, got) = server.call(method, path, headers, body);
        assert_eq!(status, *want_status, "{method} {path} {body}: {got}");
        assert_eq!(
            json(&got)["code"],
            *want_code,
            "{method} {path} {body}: {got}"
        );
    }
    // Too many ids, and a body over the limit.
    let many: Vec<String> = (0..1001).map(|i| format!("\"x{i}\"")).collect();
    let (status, got) = server.call(
        "POST",
        "/v1/members/score",
        &a,
        &format!(r#"{{"member_ids":[{}]}}"#, many.join(",")),
    );
    assert_eq!(
        (status, json(&got)["code"].as_str()),
        (413, Some("too_many_ids"))
    );
    let huge = format!(r#"{{"member_ids":["{}"]}}"#, "x".repeat(200_000));
    let (status, got) = server.call("POST", "/v1/members/score", &a, &huge);
    assert_eq!(
        (status, json(&got)["code"].as_str()),
        (413, Some("body_too_large"))
    );
}

pub(crate) fn sample_tenant() -> Tenant {
    let h = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let models = Models::load(
        Arc::new(h),
        &root().join("models/default"),
        &root().join("models/signup"),
        Default::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Tenant::new("t", models, None)
}

#[test]
fn a_model_swap_under_load_fails_no_request_and_each_score_matches_its_version() {
    let tenant = Arc::new(sample_tenant());
    let c = Candidate {
        member_id: Some("cand".into()),
        joined_at: Some(1_735_689_600),
        device_id: Some("d-1".into()),
        ip: Some("1.2.3.4".into()),
        ..Candidate::default()
    };
    let before = tenant.score_candidate(&c).unwrap_or_else(|e| panic!("{e}"));
    // The other model: the same trees with its version renamed and its calibration shifted, so
    // the two give different probabilities for the same candidate.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut other = woolguard::model::artefact::Artefact::load(&root().join("models/signup"))
        .unwrap_or_else(|e| panic!("{e}"));
    other.version = "signup-b".into();
    other.calibration = woolguard::model::calibrate::Calibration::Platt { a: 1.0, b: 0.5 };
    let other_path = dir.path().join("signup-b");
    other.save(&other_path).unwrap_or_else(|e| panic!("{e}"));
    let raw = other
        .gbm
        .predict_raw(&{
            let snapshot = tenant.snapshot().unwrap_or_else(|e| panic!("{e}"));
            let h = &snapshot.history;
            let mut st = recruit::build(h, other.config.merge.caps()).1;
            let s = recruit::Signup {
                member: st.keys.intern("cand"),
                joined_at: 1_735_689_600,
                campaign: woolguard::data::history::NONE,
                inviter: woolguard::data::history::NONE,
                device: st.keys.intern("d-1"),
                ip: st.keys.intern("1.2.3.4"),
                phone_prefix: woolguard::data::history::NONE,
                phone_hash: woolguard::data::history::NONE,
            };
            let mut row = vec![0.0; recruit::FEATURES.len()];
            st.features(&s, &mut row);
            row
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let after_p = other.probability(raw);
    assert_ne!(after_p, before.probability);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (t, c, stop) = (tenant.clone(), c.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let v = t.score_candidate(&c).unwrap_or_else(|e| panic!("{e}"));
                    seen.push((v.model_version, v.probability));
                }
                seen
            })
        })
        .collect();
    let paths = [root().join("models/signup"), other_path.clone()];
    for i in 0..6 {
        tenant
            .rebuild(|old| {
                Models::load(
                    old.history.clone(),
                    &root().join("models/default"),
                    &paths[i % 2],
                    Default::default(),
                )
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut versions = std::collections::BTreeSet::new();
    for w in workers {
        for (version, p) in w.join().unwrap_or_else(|_| panic!("a worker panicked")) {
            let want = if version == "signup" {
                before.probability
            } else {
                after_p
            };
            assert_eq!(p, want, "{version} answered with another model's score");
            versions.insert(version);
        }
    }
    assert!(versions.contains("signup-b"), "{versions:?}");
}

pub(crate) fn config_with_state(dir: &Path) -> PathBuf {
    let path = config(dir);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let state = dir.join("state");
    let text = text.replacen(
        "max_ids = 1000\n",
        &format!("max_ids = 1000\nstate = \"{}\"\n", state.display()),
        1,
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn signup_batch(from: usize, n: usize) -> String {
    let events: Vec<String> = (from..from + n)
        .map(|i| {
            format!(
                r#"{{"type":"signup","event_id":"ev-{i}","member_id":"online-{i}","at":{},"device_id":"dev-kill","ip":"10.7.7.{}"}}"#,
                1_735_689_600 + i,
                i % 250
            )
        })
        .collect();
    format!(r#"{{"events":[{}]}}"#, events.join(","))
}

#[test]
fn acknowledged_events_survive_kill_9_and_are_never_applied_twice() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config_with_state(dir.path());
    let a = [("x-api-key", "key-a")];
    let acked: Vec<usize>;
    {
        let server = Server::start(&cfg);
        // Batches of 10 sign-ups from a writer thread; the server is killed while it writes.
        let addr = server.addr.clone();
        let writer = std::thread::spawn(move || {
            let s = Server {
                child: Command::new("true")
                    .spawn()
                    .unwrap_or_else(|e| panic!("{e}")),
                addr,
            };
            let mut acked = Vec::new();
            for b in 0..1_000 {
                let body = signup_batch(b * 10, 10);
                let (status, reply) =
                    s.call_soft("POST", "/v1/events", &[("x-api-key", "key-a")], &body);
                if status != 200 {
                    break;
                }
                assert_eq!(
                    json(&reply)["accepted"].as_array().map(Vec::len),
                    Some(10),
                    "{reply}"
                );
                acked.push(b);
            }
            acked
        });
        std::thread::sleep(std::time::Duration::from_millis(700));
        let pid = server.child.id();
        let killed = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(killed.success());
        acked = writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    }
    assert!(
        !acked.is_empty(),
        "no batch was acknowledged before the kill"
    );
    let server = Server::start(&cfg);
    for &b in &acked {
        for i in b * 10..b * 10 + 10 {
            let (status, body) = server.call("GET", &format!("/v1/events/ev-{i}"), &a, "");
            assert_eq!(status, 200, "acknowledged event ev-{i} lost: {body}");
        }
    }
    // Re-sending an acknowledged batch stores and applies nothing.
    let (status, body) = server.call("POST", "/v1/events", &a, &signup_batch(acked[0] * 10, 10));
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["accepted"].as_array().map(Vec::len), Some(0), "{body}");
    assert_eq!(v["duplicates"].as_array().map(Vec::len), Some(10), "{body}");
    // A bad event is refused with its position and field, and nothing of its batch is stored.
    let bad = r#"{"events":[{"type":"signup","event_id":"ok-1","member_id":"x","at":1735689600},{"type":"points","event_id":"p-1","member_id":"x","at":1735689600,"delta":5,"reason":"lottery"}]}"#;
    let (status, body) = server.call("POST", "/v1/events", &a, bad);
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (400, Some("invalid_field")),
        "{body}"
    );
    assert!(json(&body)["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("events[1].reason"));
    let (status, _) = server.call("GET", "/v1/events/ok-1", &a, "");
    assert_eq!(status, 404);
}

#[test]
fn a_recorded_candidate_is_stored_and_counted_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config_with_state(dir.path());
    let a = [("x-api-key", "key-a")];
    let cand = |id: &str, record: bool| {
        format!(
            r#"{{"member_id":"{id}","joined_at":1735689600,"device_id":"dev-r","record":{record}}}"#
        )
    };
    {
        let server = Server::start(&cfg);
        let (status, body) = server.call("POST", "/v1/candidates/score", &a, &cand("r-1", true));
        assert_eq!(status, 200, "{body}");
        // A retry of the same sign-up is not stored twice.
        server.call("POST", "/v1/candidates/score", &a, &cand("r-1", true));
        let (status, _) = server.call("GET", "/v1/events/signup:r-1", &a, "");
        assert_eq!(status, 200);
    }
    let server = Server::start(&cfg);
    let (status, _) = server.call("GET", "/v1/events/signup:r-1", &a, "");
    assert_eq!(status, 200, "the recorded sign-up survived the restart");
    drop(server);
    // The state a restarted scorer rebuilds counts the device's one account, once.
    let store =
        woolguard::state::store::RedbStore::open(&dir.path().join("state/brand-a/events.redb"))
            .unwrap_or_else(|e| panic!("{e}"));
    let tenant = sample_tenant()
        .with_store(Box::new(store))
        .unwrap_or_else(|e| panic!("{e}"));
    let row = tenant
        .candidate_features(&Candidate {
            member_id: Some("r-2".into()),
            joined_at: Some(1_735_689_601),
            device_id: Some("dev-r".into()),
            ..Candidate::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recruit::FEATURES[0].name, "device_accounts");
    assert_eq!(row[0], 1.0);
}

#[test]
fn sigterm_stops_the_server_cleanly_and_keeps_the_store() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config_with_state(dir.path());
    let mut server = Server::start(&cfg);
    let a = [("x-api-key", "key-a")];
    let (status, _) = server.call("POST", "/v1/events", &a, &signup_batch(0, 5));
    assert_eq!(status, 200);
    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(term.success());
    let started = std::time::Instant::now();
    let code = loop {
        if let Some(s) = server.child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break s;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "still running 20 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code}");
    // The store was closed cleanly: it opens and holds the five events.
    let store =
        woolguard::state::store::RedbStore::open(&dir.path().join("state/brand-a/events.redb"))
            .unwrap_or_else(|e| panic!("{e}"));
    use woolguard::state::store::EventStore;
    assert_eq!(store.replay().map(|v| v.len()).unwrap_or(0), 5);
}

#[test]
fn promote_asks_a_running_scorer_to_reload() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(&config(dir.path()));
    let mut m = woolguard::model::artefact::Artefact::load(&root().join("models/default"))
        .unwrap_or_else(|e| panic!("{e}"));
    m.version = "wool-promoted".into();
    let path = dir.path().join("wool-promoted");
    m.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap_or_else(|e| panic!("{e}"));
    let promote = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_woolguard"))
            .arg("promote")
            .arg(&path)
            .arg("--models-dir")
            .arg(&models)
            .args([
                "--scorer",
                &format!("http://{}", server.addr),
                "--admin-key",
                key,
            ])
            .args(["--tenant", "brand-a"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let refused = promote("wrong-key");
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a wrong admin key must fail the command"
    );
    let (_, body) = server.call("GET", "/v1/models", &[("x-api-key", "key-a")], "");
    assert_eq!(json(&body)["member"]["version"], "default");
    let ok = promote("admin-secret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (_, body) = server.call("GET", "/v1/models", &[("x-api-key", "key-a")], "");
    assert_eq!(json(&body)["member"]["version"], "wool-promoted", "{body}");
}

/// `state init` then `serve --state` without `--data`: coupon, order and points events reach a
/// member's member-time score at once and a refresh gives the same score, a new member's events
/// wait for the sign-up, and
/// a restarted scorer folds every stored event before its first answer.
#[test]
fn events_reach_member_scores_through_the_state_snapshot() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state");
    let woolguard = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_woolguard"))
            .args(args)
            .current_dir(root())
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let st = state.to_string_lossy().to_string();
    let init = [
        "state",
        "init",
        "--data",
        "data/sample",
        "--state",
        &st,
        "--tenant",
        "brand-a",
        "--json",
    ];
    let out = woolguard(&init);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = json(&String::from_utf8_lossy(&out.stdout));
    let sample = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        done["rows"]["members"].as_u64(),
        Some(sample.members.len() as u64)
    );
    assert_eq!(
        done["rows"]["orders"].as_u64(),
        Some(sample.orders.len() as u64)
    );
    // The snapshot reads back as the same history.
    let back = load(&state.join("brand-a/history")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        woolguard::model::report::fingerprint(&back),
        woolguard::model::report::fingerprint(&sample)
    );
    // A second init would apply a snapshot over its own events: refused.
    let again = woolguard(&init);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--replace"));

    let cfg = dir.path().join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "bind = \"127.0.0.1:0\"\nadmin_key = \"adm\"\nstate = \"{st}\"\nrefresh_secs = 0\n\n[[tenants]]\nname = \"brand-a\"\napi_keys = [\"key-a\"]\nmodel = \"models/default\"\nsignup_model = \"models/signup\"\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let a = [("x-api-key", "key-a")];
    let admin = [("x-admin-key", "adm")];
    let member = sample.members.id(0).to_string();
    let score = |s: &Server, id: &str| {
        let (status, body) = s.call(
            "POST",
            "/v1/members/score",
            &a,
            &format!(r#"{{"member_ids":["{id}"]}}"#),
        );
        assert_eq!(status, 200, "{body}");
        json(&body)
    };
    let end = woolguard::model::score::end_of(&sample);
    // Scores are as of just after the newest event.
    let last = sample.time_span().map_or(0, |(_, hi)| hi);
    let after_last = |t: i64| t + (end - last);
    let (before, after);
    {
        let server = Server::start(&cfg);
        before = score(&server, &member);
        assert_eq!(before["as_of"].as_i64(), Some(end));
        // Twenty coupon-only orders after the history's end, and a brand-new member's order.
        let mut events = Vec::new();
        for i in 0..20 {
            let at = end + 3_600 * (i + 1);
            events.push(format!(
                r#"{{"type":"coupon","event_id":"c-{i}","member_id":"{member}","at":{at},"coupon_id":"cp-new-{i}","event":"redeem","kind":"promo","face_value":20,"threshold":0}}"#
            ));
            events.push(format!(
                r#"{{"type":"order","event_id":"o-{i}","member_id":"{member}","at":{at},"order_id":"ord-new-{i}","amount":1,"list_amount":21,"discount":20,"coupon_id":"cp-new-{i}"}}"#
            ));
        }
        events.push(format!(
            r#"{{"type":"order","event_id":"o-late","member_id":"late-1","at":{},"order_id":"ord-late","amount":30,"list_amount":30,"discount":0}}"#,
            end + 100_000
        ));
        let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
        let (status, reply) = server.call("POST", "/v1/events", &a, &body);
        assert_eq!(status, 200, "{reply}");
        // In the member's score at once, without a refresh: as of just after its newest event
        // (the order waiting for its member's sign-up does not count)…
        let live = score(&server, &member);
        assert_eq!(live["as_of"].as_i64(), Some(end), "the snapshot's moment");
        assert_eq!(
            live["members"][0]["as_of"].as_i64(),
            Some(after_last(end + 3_600 * 20))
        );
        assert_ne!(
            live["members"][0]["probability"], before["members"][0]["probability"],
            "twenty coupon-only orders left the live score unchanged"
        );
        let (status, reply) = server.call(
            "POST",
            "/v1/state/refresh",
            &admin,
            r#"{"tenant":"brand-a"}"#,
        );
        assert_eq!(status, 200, "{reply}");
        let r = json(&reply);
        assert_eq!(r["events"].as_u64(), Some(41), "{reply}");
        assert_eq!(r["folded"]["applied"].as_u64(), Some(40), "{reply}");
        assert_eq!(r["folded"]["waiting"].as_u64(), Some(1), "{reply}");
        // …and in them after: scored as of the last event, from the new orders.
        after = score(&server, &member);
        assert_eq!(after["as_of"].as_i64(), Some(after_last(end + 3_600 * 20)));
        assert_ne!(
            after["members"][0]["probability"], before["members"][0]["probability"],
            "twenty coupon-only orders left the score unchanged"
        );
        // …the score the live one was, bit for bit, at the same moment.
        assert_eq!(
            after["members"][0]["probability"]
                .as_f64()
                .map(f64::to_bits),
            live["members"][0]["probability"].as_f64().map(f64::to_bits)
        );
        assert_eq!(
            after["members"][0]["decision"],
            live["members"][0]["decision"]
        );
        // The waiting order is folded once its member signs up.
        let (s, _) = score(&server, "late-1")["members"][0]["error"]["code"]
            .as_str()
            .map_or((0, ()), |c| (u8::from(c == "unknown_member"), ()));
        assert_eq!(s, 1);
        let signup = format!(
            r#"{{"events":[{{"type":"signup","event_id":"s-late","member_id":"late-1","at":{},"channel":"app"}}]}}"#,
            end + 50_000
        );
        assert_eq!(server.call("POST", "/v1/events", &a, &signup).0, 200);
        let (_, reply) = server.call(
            "POST",
            "/v1/state/refresh",
            &admin,
            r#"{"tenant":"brand-a"}"#,
        );
        assert_eq!(
            json(&reply)["folded"]["applied"].as_u64(),
            Some(2),
            "{reply}"
        );
        assert_eq!(
            json(&reply)["folded"]["waiting"].as_u64(),
            Some(0),
            "{reply}"
        );
        assert!(score(&server, "late-1")["members"][0]["probability"].is_number());
        // List changes are kept in the store too.
        for (method, value) in [("PUT", "dev-x"), ("PUT", "dev-y"), ("DELETE", "dev-y")] {
            let (status, _) =
                server.call(method, &format!("/v1/lists/deny/device/{value}"), &a, "");
            assert_eq!(status, 200);
        }
    }
    // A restarted scorer takes every stored event before answering: live, on top of the
    // snapshot it started from (the next full refresh folds them in).
    let server = Server::start(&cfg);
    let restarted = score(&server, &member);
    assert_eq!(
        restarted["as_of"].as_i64(),
        Some(end),
        "the snapshot's moment"
    );
    assert_eq!(
        restarted["members"][0]["as_of"].as_i64(),
        Some(after_last(end + 100_000))
    );
    assert_eq!(
        restarted["members"][0]["probability"],
        after["members"][0]["probability"]
    );
    let (_, lists) = server.call("GET", "/v1/lists/deny/device", &a, "");
    assert_eq!(
        json(&lists)["values"],
        serde_json::json!(["dev-x"]),
        "{lists}"
    );
    let (_, v) = server.call(
        "POST",
        "/v1/candidates/score",
        &a,
        r#"{"device_id":"dev-x"}"#,
    );
    assert_eq!(json(&v)["decision"].as_str(), Some("reject"), "{v}");
}

/// The same audience as JSON, NDJSON and Parquet gives the same answer; the spec lists every
/// route the app serves.
#[test]
fn audiences_come_as_json_ndjson_or_parquet_and_the_spec_lists_every_route() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = crate::common::app::InProcess::start(&config(dir.path()));
    let a = [("x-api-key", "key-a")];
    let sample = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let mut ids: Vec<String> = (0..200u32)
        .map(|m| sample.members.id(m).to_string())
        .collect();
    ids.push("nobody".into());
    let quoted: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    let json_body = format!(
        r#"{{"member_ids":[{}],"policy":{{"drop":"review"}}}}"#,
        quoted.join(",")
    );
    let (status, by_json) = server.call("POST", "/v1/audiences/filter", &a, &json_body);
    assert_eq!(status, 200, "{by_json}");
    let by_json = json(&by_json);
    assert_eq!(by_json["summary"]["requested"].as_u64(), Some(201));
    assert_eq!(
        by_json["summary"]["dropped_by_reason"]["UNKNOWN_MEMBER"].as_u64(),
        Some(1)
    );

    let nd = [
        ("x-api-key", "key-a"),
        ("content-type", "application/x-ndjson"),
    ];
    let (status, by_ndjson) = server.call_raw(
        "POST",
        "/v1/audiences/filter?drop=review",
        &nd,
        quoted.join("\n").as_bytes(),
    );
    assert_eq!(status, 200, "{by_ndjson}");
    assert_eq!(json(&by_ndjson), by_json);

    let batch = arrow::record_batch::RecordBatch::try_from_iter([(
        "member_id",
        std::sync::Arc::new(arrow::array::StringArray::from(ids.clone())) as arrow::array::ArrayRef,
    )])
    .unwrap_or_else(|e| panic!("{e}"));
    let mut file = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut file, batch.schema(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    w.write(&batch).unwrap_or_else(|e| panic!("{e}"));
    w.close().unwrap_or_else(|e| panic!("{e}"));
    let pq = [
        ("x-api-key", "key-a"),
        ("content-type", "application/vnd.apache.parquet"),
    ];
    let (status, by_parquet) =
        server.call_raw("POST", "/v1/audiences/filter?drop=review", &pq, &file);
    assert_eq!(status, 200, "{by_parquet}");
    assert_eq!(json(&by_parquet), by_json);

    // Bad bodies name what is wrong.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u8], u16, &'a str);
    let cases: [Case; 4] = [
        (&nd, b"\"M1\"\n{\"id\":1}\n", 400, "malformed_ndjson"),
        (&pq, b"PAR1 not parquet", 400, "invalid_parquet"),
        (
            &[("x-api-key", "key-a"), ("content-type", "text/csv")],
            b"M1\n",
            415,
            "unsupported_media_type",
        ),
        (&nd, b"\n", 200, ""),
    ];
    for (headers, body, want, code) in cases {
        let (status, reply) = server.call_raw("POST", "/v1/audiences/filter", headers, body);
        assert_eq!(status, want, "{reply}");
        if !code.is_empty() {
            assert_eq!(json(&reply)["code"].as_str(), Some(code), "{reply}");
        }
    }

    let (status, spec) = server.call("GET", "/v1/openapi.json", &[], "");
    assert_eq!(status, 200);
    let spec = json(&spec);
    assert!(spec["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    let routes = [
        ("/v1/candidates/score", "post"),
        ("/v1/members/score", "post"),
        ("/v1/audiences/filter", "post"),
        ("/v1/events", "post"),
        ("/v1/events/{id}", "get"),
        ("/v1/state", "get"),
        ("/v1/state/refresh", "post"),
        ("/v1/state/export", "post"),
        ("/v1/models", "get"),
        ("/v1/models/reload", "post"),
        ("/v1/lists/{list}/{key}", "get"),
        ("/v1/lists/{list}/{key}/{value}", "put"),
        ("/v1/lists/{list}/{key}/{value}", "delete"),
        ("/v1/lists/{list}/ip_range/{range}", "put"),
        ("/v1/lists/{list}/ip_range/{range}", "delete"),
        ("/v1/rules", "get"),
        ("/v1/rules", "put"),
        ("/v1/benefits/check", "post"),
        ("/v1/gangs", "get"),
        ("/v1/gangs/{id}", "get"),
        ("/v1/models/challenger", "put"),
        ("/v1/models/challenger/step", "post"),
        ("/v1/models/challenger/stop", "post"),
        ("/v1/models/shadow", "get"),
        ("/v1/drift", "get"),
        ("/v1/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in routes {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} missing from the spec"
        );
    }
    assert_eq!(spec["paths"].as_object().map(|p| p.len()), Some(26));
    for schema in [
        "Candidate",
        "Verdict",
        "Event",
        "ApiError",
        "Audience",
        "Refreshed",
        "BenefitCheck",
        "BenefitAnswer",
        "GangBrief",
        "ChallengerRequest",
        "ShadowEntry",
        "Drift",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}
