//! Values that parse but make no sense, models that load but are wrong, list values that can
//! never match, and the HTTP contract: each refused with a stable code naming the field, and the
//! tenant still scoring afterwards. The real binary on a loopback port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use super::serve::{config_with_state, json, root, Server};
use crate::common::app::{Api, InProcess};

const YEAR_0: i64 = -62_167_219_200;
const YEAR_10000: i64 = 253_402_300_800;
const EXTREME_TIMES: [i64; 6] = [i64::MAX, i64::MIN, -1, 0, YEAR_0, YEAR_10000];

/// 2024-12-31T12:00:00Z, inside the sample's span.
const AT: i64 = 1_735_646_400;

fn events(one: &str) -> String {
    format!(r#"{{"events":[{one}]}}"#)
}

/// Each event type with `at` given.
fn every_event_at(at: &str) -> Vec<String> {
    vec![
        format!(r#"{{"type":"signup","event_id":"s-x","member_id":"new-x","at":{at}}}"#),
        format!(
            r#"{{"type":"coupon","event_id":"c-x","member_id":"M00000002","at":{at},"coupon_id":"cx","event":"claim","kind":"welcome","face_value":10,"threshold":0}}"#
        ),
        format!(
            r#"{{"type":"order","event_id":"o-x","member_id":"M00000002","at":{at},"order_id":"ox","amount":10,"list_amount":10,"discount":0}}"#
        ),
        format!(
            r#"{{"type":"points","event_id":"p-max","member_id":"M00000002","at":{at},"delta":1,"reason":"share"}}"#
        ),
        format!(
            r#"{{"type":"label","event_id":"l-x","member_id":"M00000002","at":{at},"label":1}}"#
        ),
    ]
}

/// (status, code, message) of a refusal.
fn refusal(status: u16, body: &str) -> (u16, String, String) {
    let v = json(body);
    (
        status,
        v["code"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// The tenant still scores members and audiences, as of a plausible time.
fn still_scores(server: &impl Api) {
    let a = [("x-api-key", "key-a")];
    let admin = [("x-admin-key", "admin-secret")];
    let (status, body) = server.call(
        "POST",
        "/v1/state/refresh",
        &admin,
        r#"{"tenant":"brand-a"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let as_of = json(&body)["scores_as_of"].as_i64().unwrap_or(0);
    assert!(
        (1_700_000_000..1_800_000_000).contains(&as_of),
        "scores_as_of {as_of}"
    );
    let (status, body) = server.call(
        "POST",
        "/v1/members/score",
        &a,
        r#"{"member_ids":["M00000002","M00000003"]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert!(v["members"][0]["probability"].is_number(), "{body}");
    assert!(v["members"][1]["probability"].is_number(), "{body}");
    let (status, body) = server.call(
        "POST",
        "/v1/audiences/filter",
        &a,
        r#"{"member_ids":["M00000002","M00000003","M00000004"]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let unknown = json(&body)["summary"]["dropped_by_reason"]["UNKNOWN_MEMBER"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(unknown, 0, "{body}");
}

#[test]
fn extreme_values_in_every_field_are_refused_and_the_tenant_still_scores() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = InProcess::start(&config_with_state(dir.path()));
    let a = [("x-api-key", "key-a")];

    for t in EXTREME_TIMES {
        for e in every_event_at(&t.to_string()) {
            let (status, body) = server.call("POST", "/v1/events", &a, &events(&e));
            let (status, code, message) = refusal(status, &body);
            assert_eq!(
                (status, code.as_str()),
                (400, "invalid_field"),
                "{e}: {body}"
            );
            assert!(message.starts_with("events[0].at: "), "{e}: {message}");
        }
        let c = format!(r#"{{"member_id":"cand-{t}","joined_at":{t},"record":true}}"#);
        let (status, body) = server.call("POST", "/v1/candidates/score", &a, &c);
        let (status, code, message) = refusal(status, &body);
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_field"),
            "{c}: {body}"
        );
        assert!(message.starts_with("joined_at: "), "{message}");
    }
    // Year 10000 and year 0 as text, too.
    for text in [
        "\"10000-01-01T00:00:00Z\"",
        "\"0000-01-01\"",
        "\"1999-12-31T23:59:59Z\"",
    ] {
        let e = &every_event_at(text)[3];
        let (status, body) = server.call("POST", "/v1/events", &a, &events(e));
        assert_eq!(refusal(status, &body).1, "invalid_field", "{text}: {body}");
    }
    let amounts = [
        (
            "order",
            "amount",
            r#""amount":1e308,"list_amount":10,"discount":0"#,
        ),
        (
            "order",
            "list_amount",
            r#""amount":1,"list_amount":1e308,"discount":0"#,
        ),
        (
            "order",
            "discount",
            r#""amount":1,"list_amount":10,"discount":1e308"#,
        ),
    ];
    for (_, field, money) in amounts {
        let e = format!(
            r#"{{"type":"order","event_id":"o-big","member_id":"M00000002","at":{AT},"order_id":"o-big",{money}}}"#
        );
        let (status, body) = server.call("POST", "/v1/events", &a, &events(&e));
        let (status, code, message) = refusal(status, &body);
        assert_eq!((status, code.as_str()), (400, "invalid_field"), "{body}");
        assert!(
            message.starts_with(&format!("events[0].{field}: ")),
            "{message}"
        );
    }
    for (field, money) in [
        ("face_value", r#""face_value":1e308,"threshold":0"#),
        ("threshold", r#""face_value":1,"threshold":1e308"#),
    ] {
        let e = format!(
            r#"{{"type":"coupon","event_id":"c-big","member_id":"M00000002","at":{AT},"coupon_id":"c","event":"claim","kind":"welcome",{money}}}"#
        );
        let (status, body) = server.call("POST", "/v1/events", &a, &events(&e));
        let (_, code, message) = refusal(status, &body);
        assert_eq!(code, "invalid_field", "{body}");
        assert!(
            message.starts_with(&format!("events[0].{field}: ")),
            "{message}"
        );
    }
    for delta in [i64::MAX, -i64::MAX, i64::MIN] {
        let e = format!(
            r#"{{"type":"points","event_id":"p-big","member_id":"M00000002","at":{AT},"delta":{delta},"reason":"share"}}"#
        );
        let (status, body) = server.call("POST", "/v1/events", &a, &events(&e));
        let (_, code, message) = refusal(status, &body);
        assert_eq!(code, "invalid_field", "{body}");
        assert!(message.starts_with("events[0].delta: "), "{message}");
    }
    // Query parameters: a quality over 100, a drop level that does not exist.
    for q in [
        "min_quality=300",
        "min_quality=101",
        "drop=sideways",
        "min_quality=-1",
    ] {
        let (status, body) = server.call_raw(
            "POST",
            &format!("/v1/audiences/filter?{q}"),
            &[
                ("x-api-key", "key-a"),
                ("content-type", "application/x-ndjson"),
            ],
            b"M00000002\n",
        );
        let (status, code, _) = refusal(status, &body);
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_field"),
            "{q}: {body}"
        );
    }
    // Nothing of the above was stored: the tenant scores as before.
    let (status, _) = server.call("GET", "/v1/events/p-max", &a, "");
    assert_eq!(status, 404);
    still_scores(&server);
}

#[test]
fn a_store_holding_implausible_events_from_before_still_starts_and_scores() {
    use woolguard::state::events::Event;
    use woolguard::state::store::{EventStore, RedbStore};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config_with_state(dir.path());
    {
        // Written straight into the store, as a build without the checks would have.
        let store = RedbStore::open(&dir.path().join("state/brand-a/events.redb"))
            .unwrap_or_else(|e| panic!("{e}"));
        let bad: Vec<Event> = every_event_at(&i64::MAX.to_string())
            .iter()
            .map(|e| serde_json::from_str(e).unwrap_or_else(|err| panic!("{err}: {e}")))
            .collect();
        store.append(&bad).unwrap_or_else(|e| panic!("{e}"));
    }
    let server = InProcess::start(&cfg);
    let admin = [("x-admin-key", "admin-secret")];
    let (status, body) = server.call(
        "POST",
        "/v1/state/refresh",
        &admin,
        r#"{"tenant":"brand-a"}"#,
    );
    assert_eq!(status, 200, "{body}");
    still_scores(&server);
    // The start-up fold already skipped all five; none is applied.
    let (status, body) = server.call("GET", "/v1/models", &[("x-api-key", "key-a")], "");
    assert_eq!(status, 200, "{body}");
    assert!(
        json(&body)["scores_as_of"].as_i64().unwrap_or(0) < 1_800_000_000,
        "{body}"
    );
}

/// A copy of the shipped member model with other thresholds or calibration.
fn altered_model(dir: &Path, name: &str, change: impl Fn(&mut serde_json::Value)) -> String {
    let text =
        std::fs::read_to_string(root().join("models/default")).unwrap_or_else(|e| panic!("{e}"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    change(&mut v);
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

#[test]
fn models_that_load_but_are_wrong_are_refused_and_the_old_one_keeps_serving() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = InProcess::start(&config_with_state(dir.path()));
    let admin = [("x-admin-key", "admin-secret")];
    let rejects_all = altered_model(dir.path(), "rejects-all", |v| {
        v["thresholds"] = serde_json::json!({"review": 0.0, "reject": 0.0});
    });
    let no_calibration = altered_model(dir.path(), "no-calibration", |v| {
        v["calibration"] = serde_json::json!({"method": "isotonic", "x": [], "y": []});
    });
    let upside_down = altered_model(dir.path(), "upside-down", |v| {
        v["thresholds"] = serde_json::json!({"review": 0.9, "reject": 0.2});
    });
    let reload = |field: &str, path: &str, force: bool| {
        let body = format!(r#"{{"tenant":"brand-a","{field}":"{path}","force":{force}}}"#);
        let (status, body) = server.call("POST", "/v1/models/reload", &admin, &body);
        refusal(status, &body)
    };
    for (field, path, why) in [
        (
            "model",
            "models/signup",
            "sign-up slot model in the member slot",
        ),
        ("model", "models/value", "value model as the wool model"),
        (
            "signup_model",
            "models/default",
            "member model in the sign-up slot",
        ),
        ("model", no_calibration.as_str(), "empty calibration"),
        ("model", upside_down.as_str(), "review above reject"),
        ("model", rejects_all.as_str(), "rejects every member"),
    ] {
        let (status, code, message) = reload(field, path, false);
        assert_eq!(
            (status, code.as_str()),
            (400, "model_refused"),
            "{why}: {message}"
        );
    }
    let (status, code, _) = reload("model", "models/no-such-model", false);
    assert_eq!((status, code.as_str()), (404, "unknown_model"));
    let (_, _, message) = reload("model", &rejects_all, false);
    assert!(message.contains("reject 100.0%"), "{message}");
    let (status, body) = server.call("GET", "/v1/models", &[("x-api-key", "key-a")], "");
    assert_eq!(
        (status, json(&body)["member"]["version"].as_str()),
        (200, Some("default"))
    );
    // Forced, the smoke check gives way (the slot and sanity checks never do).
    let (status, code, _) = reload("model", &rejects_all, true);
    assert_eq!((status, code.as_str()), (200, ""));
    let (status, code, _) = reload("model", "models/value", true);
    assert_eq!((status, code.as_str()), (400, "model_refused"));
}

#[test]
fn list_values_are_checked_and_an_ip_range_matches_what_it_covers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = InProcess::start(&config_with_state(dir.path()));
    let a = [("x-api-key", "key-a")];
    let (status, body) = server.call("PUT", "/v1/lists/deny/ip_range/10.1.2.0%2F24", &a, "");
    assert_eq!(
        (status, json(&body)["value"].as_str()),
        (200, Some("10.1.2.0/24")),
        "{body}"
    );
    let (status, body) = server.call("PUT", "/v1/lists/deny/ip_range/10.3.4", &a, "");
    assert_eq!(
        (status, json(&body)["value"].as_str()),
        (200, Some("10.3.4.0/24")),
        "{body}"
    );
    for (ip, denied) in [("10.1.2.77", true), ("10.3.4.1", true), ("10.1.3.1", false)] {
        let c = format!(r#"{{"joined_at":{AT},"ip":"{ip}"}}"#);
        let (status, body) = server.call("POST", "/v1/candidates/score", &a, &c);
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        assert_eq!(
            v["list"]["list"].as_str() == Some("deny"),
            denied,
            "{ip}: {body}"
        );
        if denied {
            assert_eq!(v["decision"], "reject", "{body}");
        }
    }
    for bad in [
        "/v1/lists/deny/ip_range/not-an-ip",
        "/v1/lists/deny/ip_range/10.0.0.0%2F99",
        "/v1/lists/deny/device/%FF%FE",
        "/v1/lists/deny/member/a%00b",
    ] {
        let (status, body) = server.call("PUT", bad, &a, "");
        assert_eq!(refusal(status, &body).0, 400, "{bad}: {body}");
        assert_eq!(refusal(status, &body).1, "invalid_field", "{bad}: {body}");
    }
    let (status, body) = server.call("PUT", "/v1/lists/deny/shoe_size/42", &a, "");
    assert_eq!(refusal(status, &body).1, "unknown_list_key", "{body}");
    assert_eq!(status, 404);
}

/// The raw response: status line and headers, then the body.
fn raw(server: &Server, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(&server.addr).unwrap_or_else(|e| panic!("{e}"));
    s.write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut text = String::new();
    s.read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{e}"));
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn every_refusal_is_json_with_a_code_and_times_come_as_seconds_or_rfc3339() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(&config_with_state(dir.path()));
    let a = [("x-api-key", "key-a")];
    // A method the path does not take: 405 with Allow.
    let (status, head, body) = raw(
        &server,
        "GET /v1/members/score HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(status, 405, "{head}");
    assert!(head.contains("allow: post"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(json(&body)["code"], "method_not_allowed");
    // A query that does not parse.
    let (status, body) = server.call_raw(
        "POST",
        "/v1/audiences/filter?min_quality=lots",
        &[
            ("x-api-key", "key-a"),
            ("content-type", "application/x-ndjson"),
        ],
        b"M00000002\n",
    );
    assert_eq!(refusal(status, &body).1, "invalid_field", "{body}");
    // No content type: 415 on every body route alike.
    for path in ["/v1/audiences/filter", "/v1/members/score", "/v1/events"] {
        let (status, body) = server.call_raw("POST", path, &a, br#"{"member_ids":[]}"#);
        let (status, code, _) = refusal(status, &body);
        assert_eq!(
            (status, code.as_str()),
            (415, "unsupported_media_type"),
            "{path}"
        );
    }
    // A missing event field is named by its path.
    let e =
        r#"{"type":"points","event_id":"p-1","member_id":"M00000002","delta":1,"reason":"share"}"#;
    let (status, body) = server.call("POST", "/v1/events", &a, &events(e));
    let (status, code, message) = refusal(status, &body);
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (400, "invalid_field", "events[0].at: missing")
    );
    // The same event with its time as RFC 3339 text, and as seconds: both taken.
    let e = |id: &str, at: &str| {
        format!(
            r#"{{"type":"points","event_id":"{id}","member_id":"M00000002","at":{at},"delta":5,"reason":"share"}}"#
        )
    };
    for (id, at) in [
        ("p-text", "\"2024-12-31T12:00:00Z\""),
        ("p-secs", "1735646400"),
    ] {
        let (status, body) = server.call("POST", "/v1/events", &a, &events(&e(id, at)));
        assert_eq!(status, 200, "{body}");
    }
    let c = r#"{"joined_at":"2024-12-31T12:00:00+00:00","device_id":"d-1"}"#;
    let (status, body) = server.call("POST", "/v1/candidates/score", &a, c);
    assert_eq!(status, 200, "{body}");
    // An unknown path and a missing key are JSON too.
    let (status, body) = server.call("GET", "/v1/nothing", &a, "");
    assert_eq!(refusal(status, &body).1, "no_route");
    let (status, body) = server.call("GET", "/v1/models", &[], "");
    assert_eq!(
        (status, refusal(status, &body).1.as_str()),
        (401, "unauthorized")
    );
}

fn woolguard(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn commands_that_take_a_model_refuse_one_that_does_not_fit_the_slot() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("aud.parquet");
    let out = out.to_string_lossy();
    for (cmd, model) in [
        (
            vec![
                "audience",
                "--data",
                "data/sample",
                "--drop",
                "reject",
                "--out",
                &out,
            ],
            "models/value",
        ),
        (
            vec![
                "audience",
                "--data",
                "data/sample",
                "--drop",
                "reject",
                "--out",
                &out,
            ],
            "models/signup",
        ),
        (vec!["diagnose", "--data", "data/sample"], "models/value"),
    ] {
        let mut args = cmd.clone();
        args.extend(["--model", model]);
        let o = woolguard(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("slot takes a wool model"), "{args:?}: {err}");
    }
    // The shipped member model still fits.
    let o = woolguard(&[
        "audience",
        "--data",
        "data/sample",
        "--model",
        "models/default",
        "--drop",
        "reject",
        "--out",
        &out,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn promote_refuses_a_model_outside_its_slot_or_the_smoke_band_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let models = dir.path().join("models");
    let models = models.to_string_lossy();
    let o = woolguard(&["promote", "models/value", "--models-dir", &models]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rejects_all = altered_model(dir.path(), "rejects-all", |v| {
        v["thresholds"] = serde_json::json!({"review": 0.0, "reject": 0.0});
    });
    let o = woolguard(&[
        "promote",
        &rejects_all,
        "--models-dir",
        &models,
        "--data",
        "data/sample",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("reject 100.0%"), "{err}");
    assert!(
        !dir.path().join("models/current").exists(),
        "a refused model became current"
    );
    // Forced, the smoke check gives way.
    let o = woolguard(&[
        "promote",
        &rejects_all,
        "--models-dir",
        &models,
        "--data",
        "data/sample",
        "--force",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("models/current").exists());
}

#[test]
fn the_live_window_is_configurable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config_with_state(dir.path());
    let text = std::fs::read_to_string(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let text = text.replacen(
        "max_ids = 1000\n",
        "max_ids = 1000\nearliest_time = \"2024-06-01\"\nfuture_hours = 0\n",
        1,
    );
    std::fs::write(&cfg, text).unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(&cfg);
    let a = [("x-api-key", "key-a")];
    let at = |t: &str| {
        events(&format!(
            r#"{{"type":"points","event_id":"p-{t}","member_id":"M00000002","at":"{t}","delta":1,"reason":"share"}}"#
        ))
    };
    let (status, body) = server.call("POST", "/v1/events", &a, &at("2024-05-31T23:59:59Z"));
    let (status, code, message) = refusal(status, &body);
    assert_eq!((status, code.as_str()), (400, "invalid_field"), "{body}");
    assert!(message.contains("2024-06-01T00:00:00Z"), "{message}");
    let (status, body) = server.call("POST", "/v1/events", &a, &at("2024-06-01T00:00:00Z"));
    assert_eq!(status, 200, "{body}");
    // The API description states the configured bound.
    let (_, body) = server.call("GET", "/v1/openapi.json", &[], "");
    let min = json(&body)["components"]["schemas"]["Candidate"]["properties"]["joined_at"]["oneOf"]
        [0]["minimum"]
        .as_f64();
    assert_eq!(min, Some(1_717_200_000.0), "2024-06-01T00:00:00Z");
}

#[test]
fn compare_refuses_models_of_two_kinds_in_words() {
    let o = woolguard(&[
        "compare",
        "--models",
        "models/default",
        "models/value",
        "--data",
        "data/sample",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a wool model of the member moment and models/value a value model"),
        "{err}"
    );
}
