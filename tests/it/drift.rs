//! Drift from a model's training population: a history like the training one does not move;
//! one where every sign-up shares a device does, and the device features are named.

use std::path::Path;
use std::process::Command;

use woolguard::model::artefact::Artefact;
use woolguard::model::drift::of_history;

use crate::serve::json;

#[test]
fn a_shared_device_moves_the_device_features_and_the_sample_stays_put() {
    let a = Artefact::load(Path::new("models/signup")).unwrap_or_else(|e| panic!("{e}"));
    let h = woolguard::data::load(Path::new("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let steady = of_history(&a, &h, None, 0.25).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(steady.rows, h.members.len() as u64);
    assert_eq!(steady.features.len(), a.features.len());
    assert!(steady.score.psi < 0.25, "{:?}", steady.score);

    // Every member on one device.
    let mut farm = h.clone();
    let device = farm.keys.intern("one-device");
    farm.members.device.iter_mut().for_each(|d| *d = device);
    let moved = of_history(&a, &farm, None, 0.25).unwrap_or_else(|e| panic!("{e}"));
    let psi = |name: &str| {
        moved
            .features
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.psi)
            .unwrap_or_default()
    };
    assert!(psi("device_accounts") > 1.0, "{moved:?}");
    assert!(moved.flagged.iter().any(|f| f == "device_accounts"));
    assert!(
        moved.features[0].psi >= moved.features[1].psi,
        "most moved first"
    );
    // What it says of the move: the top bin of accounts on the device, now nearly everyone.
    let how = moved
        .features
        .iter()
        .find(|m| m.name == "device_accounts")
        .map(|m| m.how.clone())
        .unwrap_or_default();
    assert!(how.starts_with("> "), "{how}");

    // The CLI, as JSON, on members who joined from 2024-07-01.
    let out = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args([
            "drift",
            "--model",
            "models/signup",
            "--data",
            "data/sample",
            "--since",
            "2024-07-01",
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = json(&String::from_utf8_lossy(&out.stdout));
    let since = h
        .members
        .joined_at
        .iter()
        .filter(|&&t| t >= 1_719_792_000)
        .count();
    assert_eq!(d["rows"], since as u64);
    // A model without a training profile says so.
    let mut old: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("models/signup").unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if let Some(o) = old.as_object_mut() {
        o.remove("profile");
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("old");
    std::fs::write(&path, old.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(["drift", "--data", "data/sample", "--model"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keeps no profile"));
}
