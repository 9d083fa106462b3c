//! One verdict everywhere: the same 10,000 generated members, with the same lists and rules,
//! through `woolguard score`, `woolguard audience`, `POST /v1/members/score` and
//! `POST /v1/audiences/filter` get equal decisions, probabilities and first reason codes.

use std::collections::BTreeMap;
use std::process::Command;

use crate::serve::{root, Server};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn woolguard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn csv_rows(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{e}"));
    let headers = r.headers().unwrap_or_else(|e| panic!("{e}")).clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap_or_else(|e| panic!("{e}"));
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn the_cli_and_the_scorer_give_one_verdict_for_every_member() -> TestResult {
    let dir = tempfile::tempdir()?;
    let d = |p: &str| dir.path().join(p).display().to_string();
    let out = woolguard(&[
        "generate",
        "--members",
        "10000",
        "--seed",
        "41",
        "--out",
        &d("gen"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Deny a device and an IP range seen in the history, allow one member.
    let h = woolguard::data::load(&dir.path().join("gen"))?;
    let with = |syms: &[u32], skip: usize| {
        syms.iter()
            .filter_map(|&s| h.keys.opt_name(s))
            .nth(skip)
            .map(str::to_string)
    };
    let device = with(&h.members.device, 7).ok_or("no device")?;
    let ip = with(&h.members.ip, 11).ok_or("no ip")?;
    let allowed = h.members.id(23).to_string();
    std::fs::write(
        dir.path().join("lists.toml"),
        format!("[deny]\ndevice = [\"{device}\"]\nip_range = [\"{ip}\"]\n[allow]\nmember = [\"{allowed}\"]\n"),
    )?;
    // The shipped rules, and one member rule that takes part for many members.
    let shipped = std::fs::read_to_string(root().join("training/rules.toml"))?;
    std::fs::write(
        dir.path().join("rules.toml"),
        format!("{shipped}\n[[rule]]\nname = \"claims_no_orders\"\non = \"member\"\nwhen = \"coupons_claimed >= 2 and orders = 0\"\naction = \"reject\"\ncode = \"CLAIMS_NO_ORDERS\"\ntext = \"two coupons claimed, no order\"\n"),
    )?;
    let rules = d("rules.toml");
    let policy = ["--lists", &d("lists.toml"), "--rules", &rules];
    let gen = d("gen");
    let mut args = vec!["score", "--model", "models/default", "--data", &gen];
    let scores_csv = d("scores.csv");
    args.extend(["--out", &scores_csv]);
    args.extend(policy);
    let out = woolguard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (kept_csv, removed_csv) = (d("kept.csv"), d("removed.csv"));
    let mut args = vec!["audience", "--data", &gen, "--model", "models/default"];
    args.extend([
        "--drop",
        "review",
        "--out",
        &kept_csv,
        "--removed",
        &removed_csv,
    ]);
    args.extend(policy);
    let out = woolguard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:0\"\nadmin_key = \"adm\"\n\n[[tenants]]\nname = \"t\"\napi_keys = [\"k\"]\ndata = \"{}\"\nmodel = \"models/default\"\nsignup_model = \"models/signup\"\nrules = \"{rules}\"\n",
            d("gen")
        ),
    )?;
    let server = Server::start(&config);
    let key = [("x-api-key", "k")];
    let enc = |s: &str| s.replace('/', "%2F");
    for path in [
        format!("/v1/lists/deny/device/{}", enc(&device)),
        format!("/v1/lists/deny/ip_range/{}", enc(&ip)),
        format!("/v1/lists/allow/member/{}", enc(&allowed)),
    ] {
        let (status, body) = server.call("PUT", &path, &key, "");
        assert_eq!(status, 200, "{path}: {body}");
    }
    let ids: Vec<String> = (0..h.members.len() as u32)
        .map(|m| h.members.id(m).to_string())
        .collect();
    let body = serde_json::json!({ "member_ids": ids }).to_string();
    let (status, text) = server.call("POST", "/v1/members/score", &key, &body);
    assert_eq!(status, 200, "{text}");
    let http: serde_json::Value = serde_json::from_str(&text)?;
    let mut by_http = BTreeMap::new();
    for r in http["members"].as_array().ok_or("no members")? {
        if r.get("decision").is_some() {
            by_http.insert(
                r["member_id"].as_str().unwrap_or_default().to_string(),
                r.clone(),
            );
        }
    }

    // Score: every member scored by the CLI is scored alike over HTTP.
    let rows = csv_rows(std::path::Path::new(&scores_csv));
    assert!(rows.len() > 9_000, "{} rows", rows.len());
    assert_eq!(rows.len(), by_http.len());
    let (mut listed, mut ruled, mut by_decision) = (0, 0, BTreeMap::<String, usize>::new());
    for row in &rows {
        let v = &by_http[&row["member_id"]];
        assert_eq!(
            row["decision"],
            v["decision"].as_str().unwrap_or_default(),
            "{row:?} {v}"
        );
        let p: f64 = row["probability"].parse()?;
        let q = v["probability"].as_f64().unwrap_or(f64::NAN);
        assert!((p - q).abs() < 1e-6, "{row:?} {v}");
        let first = v["reasons"][0]["code"].as_str().unwrap_or_default();
        assert_eq!(row["reason_1"], first, "{row:?} {v}");
        listed += usize::from(!v["list"].is_null());
        ruled += usize::from(!v["rule"].is_null());
        *by_decision.entry(row["decision"].clone()).or_default() += 1;
    }
    assert!(listed >= 2, "the lists decided for {listed} members");
    assert!(ruled > 0, "no rule took part");
    assert!(by_decision.len() == 3, "{by_decision:?}");

    // Audience: the same members removed, with the same reason codes.
    let body = serde_json::json!({ "member_ids": rows.iter().map(|r| &r["member_id"]).collect::<Vec<_>>(), "policy": {"drop": "review"} }).to_string();
    let (status, text) = server.call("POST", "/v1/audiences/filter", &key, &body);
    assert_eq!(status, 200, "{text}");
    let filtered: serde_json::Value = serde_json::from_str(&text)?;
    let http_dropped: BTreeMap<String, String> = filtered["dropped"]
        .as_array()
        .ok_or("no dropped")?
        .iter()
        .map(|d| {
            (
                d["member_id"].as_str().unwrap_or_default().to_string(),
                d["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let cli_dropped: BTreeMap<String, String> = csv_rows(std::path::Path::new(&removed_csv))
        .into_iter()
        .map(|r| (r["member_id"].clone(), r["reason"].clone()))
        .collect();
    assert!(cli_dropped.len() > 100, "{}", cli_dropped.len());
    assert_eq!(cli_dropped, http_dropped);
    assert!(cli_dropped.values().any(|r| r == "DENY_LIST"));
    Ok(())
}
