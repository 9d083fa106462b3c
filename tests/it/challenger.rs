//! A challenger beside the live models: in shadow it never decides; in a rollout it decides for
//! the members whose stable bucket falls in the step's share, and only for them; both answers
//! are logged and `woolguard compare --shadow-log` reads the log. Live drift and the metrics.

use std::path::{Path, PathBuf};
use std::process::Command;

use woolguard::state::tenant::challenger::decides;

use crate::common::app::{Api, InProcess};
use crate::serve::{config_with_state, json, root};

/// `base` with both thresholds at 0: it rejects everyone.
fn rejecting(base: &str, dir: &Path, version: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join(base)).unwrap_or_else(|e| panic!("{e}"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["version"] = version.into();
    v["thresholds"]["review"] = 0.0.into();
    v["thresholds"]["reject"] = 0.0.into();
    let path = dir.join(version);
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn candidate(i: usize) -> String {
    format!(
        r#"{{"member_id":"cand-{i}","joined_at":"2025-01-02T00:00:00Z","channel":"app","campaign_id":"rc-new","device_id":"dev-{i}","ip":"10.9.{}.{}"}}"#,
        i / 250,
        i % 250
    )
}

const ADMIN: [(&str, &str); 1] = [("x-admin-key", "admin-secret")];
const KEY: [(&str, &str); 1] = [("x-api-key", "key-a")];

#[test]
fn shadow_never_decides_a_rollout_decides_for_its_stable_share_and_the_log_compares_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = InProcess::start(&config_with_state(dir.path()));
    let challenger = rejecting("models/signup", dir.path(), "signup-next");
    let score = |i: usize| {
        let (status, body) = server.call("POST", "/v1/candidates/score", &KEY, &candidate(i));
        assert_eq!(status, 200, "{body}");
        json(&body)
    };
    let n = 200;
    let before: Vec<serde_json::Value> = (0..n).map(score).collect();
    let live_version = before[0]["model_version"].clone();

    let put = format!(
        r#"{{"tenant":"brand-a","challenger":{{"slot":"signup","model":"{}","steps":[0,50,100]}}}}"#,
        challenger.display()
    );
    let (status, body) = server.call("PUT", "/v1/models/challenger", &ADMIN, &put);
    assert_eq!(status, 200, "{body}");
    let info = json(&body);
    assert_eq!(info["challenger"]["version"], "signup-next", "{info}");
    assert_eq!(info["challenger"]["percent"], 0.0);

    // Shadow: every answer is the live model's, exactly as before.
    for (i, was) in before.iter().enumerate() {
        assert_eq!(&score(i), was, "candidate {i}");
    }
    // Rollout at 50%: the challenger answers for the members in its share, and only for them.
    let (status, body) = server.call(
        "POST",
        "/v1/models/challenger/step",
        &ADMIN,
        r#"{"tenant":"brand-a","direction":"forward"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["challenger"]["percent"], 50.0);
    let mut by_challenger: u64 = 0;
    for (i, was) in before.iter().enumerate() {
        let v = score(i);
        if decides(Some(&format!("cand-{i}")), 50.0) {
            by_challenger += 1;
            assert_eq!(v["model_version"], "signup-next");
            assert_eq!(v["decision"], "reject");
        } else {
            assert_eq!(&v, was, "candidate {i}");
        }
    }
    assert!(
        (70..=130).contains(&by_challenger),
        "{by_challenger} of {n}"
    );
    // The same member lands on the same side again.
    assert_eq!(score(7), score(7));

    // Both answers of every request were compared: they agree where the live model rejects.
    let live_rejects = before.iter().filter(|v| v["decision"] == "reject").count();
    let (_, body) = server.call("GET", "/v1/models", &KEY, "");
    let c = json(&body)["challenger"].clone();
    assert_eq!(c["compared"], 2 * n + 2, "{c}");
    assert_eq!(
        c["decided"],
        by_challenger + 2 * u64::from(decides(Some("cand-7"), 50.0))
    );
    let agreed = c["agreed"].as_u64().unwrap_or_default() as usize;
    assert_eq!(
        agreed,
        2 * live_rejects + 2 * usize::from(before[7]["decision"] == "reject")
    );
    let (status, body) = server.call("GET", "/v1/models/shadow?limit=5", &KEY, "");
    assert_eq!(status, 200, "{body}");
    let entries = json(&body)["entries"].clone();
    assert_eq!(entries.as_array().map(Vec::len), Some(5));
    assert_eq!(entries[0]["live"]["version"], live_version);
    assert_eq!(entries[0]["challenger"]["decision"], "reject");

    // The log on disk, summed up by the CLI.
    let log = dir.path().join("state/brand-a/shadow.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(["compare", "--shadow-log"])
        .arg(&log)
        .args(["--json", "--top", "3"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(s[0]["compared"], 2 * n + 2, "{s}");
    assert_eq!(s[0]["agreed"], agreed);
    assert_eq!(s[0]["challenger_version"], "signup-next");
    assert_eq!(s[0]["differences"].as_array().map(Vec::len), Some(3));

    // Drift of the live traffic against the sign-up model's training population.
    let (status, body) = server.call("GET", "/v1/drift", &KEY, "");
    assert_eq!(status, 200, "{body}");
    let d = json(&body)["drift"].clone();
    assert_eq!(d["rows"], 3 * n + 2, "{d}");
    assert!(d["slices"].as_array().is_some_and(|s| s
        .iter()
        .any(|x| x["name"] == "rc-new" && x["by"] == "campaign")));
    let (_, text) = server.call("GET", "/metrics", &[], "");
    assert!(text.contains("woolguard_challenger_percent{tenant=\"brand-a\",slot=\"signup\",version=\"signup-next\"} 50"), "{text}");
    assert!(text.contains("woolguard_drift_psi{tenant=\"brand-a\",feature=\"score\"}"));
    assert!(text.contains("woolguard_model_verdicts_total{tenant=\"brand-a\",version=\"signup-next\",decision=\"reject\"}"));

    // Back to shadow, then stopped: the live model alone, and nothing left to step.
    let step = |dir: &str| {
        server.call(
            "POST",
            "/v1/models/challenger/step",
            &ADMIN,
            &format!(r#"{{"tenant":"brand-a","direction":"{dir}"}}"#),
        )
    };
    assert_eq!(step("back").0, 200);
    let (status, body) = step("back");
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["code"], "invalid_field");
    assert_eq!(&score(3), &before[3]);
    let (status, body) = server.call(
        "POST",
        "/v1/models/challenger/stop",
        &ADMIN,
        r#"{"tenant":"brand-a"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(json(&body)["challenger"].is_null());
    let (status, body) = step("forward");
    assert_eq!(status, 409, "{body}");
    assert_eq!(json(&body)["code"], "no_challenger");
}

#[test]
fn a_member_challenger_is_smoke_checked_and_never_decides_in_shadow() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = InProcess::start(&config_with_state(dir.path()));
    let challenger = rejecting("models/default", dir.path(), "member-next");
    let put = |force: bool| {
        server.call(
            "PUT",
            "/v1/models/challenger",
            &ADMIN,
            &format!(
                r#"{{"tenant":"brand-a","challenger":{{"slot":"member","model":"{}"}},"force":{force}}}"#,
                challenger.display()
            ),
        )
    };
    let members = r#"{"member_ids":["M00000001","M00000002","M00000003"]}"#;
    let (_, before) = server.call("POST", "/v1/members/score", &KEY, members);
    // It would reject every member: refused by the smoke band unless forced.
    let (status, body) = put(false);
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["code"], "model_refused");
    assert_eq!(put(true).0, 200);
    let (_, after) = server.call("POST", "/v1/members/score", &KEY, members);
    assert_eq!(json(&after), json(&before));
    let (_, body) = server.call("GET", "/v1/models", &KEY, "");
    let c = json(&body)["challenger"].clone();
    assert_eq!(c["slot"], "member");
    assert_eq!(c["compared"], 3, "{c}");
    // A bad rollout is named by its field.
    let (status, body) = server.call(
        "PUT",
        "/v1/models/challenger",
        &ADMIN,
        &format!(
            r#"{{"tenant":"brand-a","challenger":{{"slot":"member","model":"{}","steps":[50,10]}}}}"#,
            challenger.display()
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(json(&body)["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("steps:")));
}
