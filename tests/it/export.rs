//! Reviews back into training: review outcomes posted to a running scorer as `label` events,
//! the tenant's state exported as a contract folder once the scorer has stopped, and a training
//! that labels the reviewed members by their reviews.

use std::path::Path;
use std::process::Command;

use woolguard::data::MemberIdx;
use woolguard::model::config::TrainConfig;
use woolguard::model::dataset::assemble;
use woolguard::model::label::LabelSource;

use crate::common::app::{Api, InProcess};
use crate::serve::{config_with_state, json};

/// Each labelled member of `dir` under the shipped wool configuration: (member id, label, source).
fn labels(dir: &Path) -> Vec<(String, u8, LabelSource)> {
    let h = woolguard::data::load(dir).unwrap_or_else(|e| panic!("{e}"));
    let c = TrainConfig::load(Path::new("training/wool.toml")).unwrap_or_else(|e| panic!("{e}"));
    let ds = assemble(&h, &c.config.features, &c.rule, c.config.merge.caps());
    ds.members
        .iter()
        .zip(&ds.labels)
        .zip(&ds.sources)
        .map(|((&m, &l), &s)| (h.members.id(m as MemberIdx).to_string(), l, s))
        .collect()
}

fn woolguard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reviews_posted_to_the_scorer_label_the_next_training() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = InProcess::start(&config_with_state(dir.path()));
    let a = [("x-api-key", "key-a")];

    // Ten members the rule labels, none reviewed yet: five it calls wool are reviewed genuine,
    // five it calls genuine are reviewed wool.
    let before = labels(Path::new("data/sample"));
    let pick = |rule_label: u8| {
        before
            .iter()
            .filter(move |(_, l, s)| *s == LabelSource::Rule && *l == rule_label)
            .take(5)
            .map(|(id, l, _)| (id.clone(), 1 - l))
    };
    let reviewed: Vec<(String, u8)> = pick(1).chain(pick(0)).collect();
    assert_eq!(reviewed.len(), 10);
    let mut events: Vec<String> = reviewed
        .iter()
        .enumerate()
        .map(|(i, (id, l))| {
            format!(
                r#"{{"type":"label","event_id":"review-{i}","member_id":"{id}","at":"2025-01-02T00:00:00Z","label":{l},"source":"review-desk"}}"#
            )
        })
        .collect();
    // A new member and its first order travel with them.
    events.push(r#"{"type":"signup","event_id":"s-new","member_id":"new-1","at":"2025-01-02T00:00:00Z","device_id":"dev-new"}"#.into());
    events.push(r#"{"type":"order","event_id":"o-new","member_id":"new-1","at":"2025-01-02T01:00:00Z","order_id":"ord-new","amount":88,"list_amount":88,"discount":0}"#.into());
    let (status, body) = server.call(
        "POST",
        "/v1/events",
        &a,
        &format!(r#"{{"events":[{}]}}"#, events.join(",")),
    );
    assert_eq!(status, 200, "{body}");

    let out = dir.path().join("export");
    let state = dir.path().join("state");
    let export = |replace: bool| {
        let mut args = vec![
            "state".to_string(),
            "export".into(),
            "--state".into(),
            state.to_string_lossy().into_owned(),
            "--tenant".into(),
            "brand-a".into(),
            "--data".into(),
            "data/sample".into(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--json".into(),
        ];
        if replace {
            args.push("--replace".into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        woolguard(&refs)
    };
    // The running scorer exports itself into its state folder, and keeps serving.
    let admin = [("x-admin-key", "admin-secret")];
    let (status, body) = server.call(
        "POST",
        "/v1/state/export",
        &admin,
        r#"{"tenant":"brand-a","name":"live"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let live = json(&body);
    assert_eq!(live["reviews"], 10, "{live}");
    for (name, status_code, code) in [
        ("live", 409, "export_exists"),
        ("../x", 400, "invalid_field"),
        ("", 400, "invalid_field"),
    ] {
        let (status, body) = server.call(
            "POST",
            "/v1/state/export",
            &admin,
            &format!(r#"{{"tenant":"brand-a","name":"{name}"}}"#),
        );
        assert_eq!(status, status_code, "{name}: {body}");
        assert_eq!(json(&body)["code"], code);
    }
    // Refused, by name, while the scorer holds the store; taken once it has stopped.
    let busy = export(false);
    assert_eq!(busy.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("is open in a running scorer"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    drop(server);
    let o = export(false);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = json(&stdout);
    assert_eq!(e["events"], 12, "{e}");
    assert_eq!(e["reviews"], 10);
    assert_eq!(e["folded"]["applied"], 12);
    let sample = woolguard::data::load(Path::new("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e["rows"]["members"], sample.members.len() as u64 + 1);
    assert_eq!(e["rows"]["orders"], sample.orders.len() as u64 + 1);
    assert_eq!(e["rows"]["labels"], sample.labels.len() as u64 + 10);
    // The scorer's own export is the same history.
    assert_eq!(live["rows"], e["rows"]);
    assert_eq!(live["fingerprint"], e["fingerprint"]);
    assert_eq!(
        live["out"].as_str().map(std::path::PathBuf::from),
        Some(state.join("brand-a/exports/live"))
    );

    // The next training's labels: each reviewed member labelled by its review.
    let after = labels(&out);
    for (id, review) in &reviewed {
        let got = after.iter().find(|(m, _, _)| m == id);
        assert_eq!(
            got.map(|(_, l, s)| (*l, *s)),
            Some((*review, LabelSource::Reviewed)),
            "{id}"
        );
    }

    // And `train` reads the folder: ten more reviewed labels than on the sample alone.
    let train = |data: &Path, name: &str| {
        let model = dir.path().join(name);
        let o = woolguard(&[
            "train",
            "--data",
            &data.to_string_lossy(),
            "--config",
            "training/wool.toml",
            "--out",
            &model.to_string_lossy(),
            "--json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        json(&String::from_utf8_lossy(&o.stdout))
    };
    let (old, new) = (train(Path::new("data/sample"), "m0"), train(&out, "m1"));
    assert_eq!(
        new["report"]["reviewed"].as_u64(),
        old["report"]["reviewed"].as_u64().map(|n| n + 10),
        "{}",
        new["report"]
    );
    assert_eq!(new["data"]["fingerprint"], e["fingerprint"]);

    // A second export refuses to write over the first unless asked.
    let refused = export(false);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --replace"));
    assert!(export(true).status.success());
}
