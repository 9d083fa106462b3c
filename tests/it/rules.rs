//! Rules over HTTP: a rule set is checked whole, swapped whole, takes part in verdicts, is counted
//! in /metrics and survives a restart; a bad one is refused naming the rule and the column.

use crate::common::app::{Api, InProcess};
use crate::serve::{config_with_state, json};

const FARM: &str = r#"{"tenant":"brand-a","rules":[
  {"name":"farm","on":"signup","when":"device_accounts >= 2","action":"reject","code":"DEVICE_FARM","text":"a device farm"},
  {"name":"watch","on":"signup","when":"device_accounts >= 1","action":"review","code":"WATCH","text":"watch","mode":"shadow","priority":5}
]}"#;

fn candidate(id: &str) -> String {
    format!(
        r#"{{"member_id":"{id}","joined_at":1735689600,"channel":"app","device_id":"dev-rules","ip":"10.9.9.9","record":true}}"#
    )
}

#[test]
fn rules_are_swapped_whole_decide_are_counted_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = config_with_state(dir.path());
    let a = [("x-api-key", "key-a")];
    let admin = [("x-admin-key", "admin-secret")];
    {
        let server = InProcess::start(&config);
        let (status, body) = server.call("GET", "/v1/rules", &a, "");
        assert_eq!(
            (status, json(&body)["rules"].as_array().map(Vec::len)),
            (200, Some(0))
        );
        // A bad rule set changes nothing, and says which rule and where.
        let bad = FARM.replace("device_accounts >= 2", "device_acounts >= 2");
        let (status, body) = server.call("PUT", "/v1/rules", &admin, &bad);
        assert_eq!(status, 400, "{body}");
        let v = json(&body);
        assert_eq!(v["code"], "invalid_rules");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("rule 1 (\"farm\"): when: col 1:"),
            "{message}"
        );
        let (status, _) = server.call("PUT", "/v1/rules", &a, FARM);
        assert_eq!(status, 401, "the tenant's key cannot change rules");
        let (status, body) = server.call("PUT", "/v1/rules", &admin, FARM);
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["rules"][0]["name"], "farm");

        // Three sign-ups on one device: the third finds two accounts there and the farm rule
        // rejects it, first reason its code; the shadow rule matched from the second on.
        let mut last = serde_json::Value::Null;
        for (i, id) in ["r-1", "r-2", "r-3"].iter().enumerate() {
            let (status, body) = server.call("POST", "/v1/candidates/score", &a, &candidate(id));
            assert_eq!(status, 200, "{body}");
            last = json(&body);
            let matched = last["rules_matched"].as_array().map(Vec::len).unwrap_or(0);
            assert_eq!(matched, i.min(2), "{body}");
        }
        assert_eq!(last["decision"], "reject", "{last}");
        assert_eq!(last["rule"]["name"], "farm");
        assert_eq!(last["reasons"][0]["code"], "DEVICE_FARM");
        let (_, text) = server.call("GET", "/metrics", &[], "");
        assert!(
            text.contains(
                "woolguard_rule_matches_total{tenant=\"brand-a\",rule=\"farm\",decided=\"true\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "woolguard_rule_matches_total{tenant=\"brand-a\",rule=\"watch\",decided=\"false\"} 2"
            ),
            "{text}"
        );
    }
    // A restart over the same state reads the stored rules back.
    let server = InProcess::start(&config);
    let (_, body) = server.call("GET", "/v1/rules", &a, "");
    let v = json(&body);
    let names: Vec<&str> = v["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["farm", "watch"], "{body}");
    // An empty set removes every rule.
    let (status, body) = server.call(
        "PUT",
        "/v1/rules",
        &admin,
        r#"{"tenant":"brand-a","rules":[]}"#,
    );
    assert_eq!(
        (status, json(&body)["rules"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}
