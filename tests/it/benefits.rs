//! A gang forming live, seen and stopped: candidates on one device join one gang, take the
//! welcome coupon and never buy; the gang is flagged; the next candidate joining it is rejected
//! with `GANG_FLAGGED`, and a benefit check for its members, scored live without a refresh, is
//! denied or held (a hold stored as an event).

use crate::common::app::{Api, InProcess};
use crate::serve::{config_with_state, json};

const T0: i64 = 1_735_689_600;
const ADMIN: &str = "admin-secret";

fn candidate(i: usize) -> String {
    format!(
        r#"{{"member_id":"farm-{i}","joined_at":{},"channel":"app","device_id":"dev-farm","ip":"10.66.0.{i}","phone_prefix":"170","record":true}}"#,
        T0 + 60 * i as i64
    )
}

fn welcome(i: usize) -> String {
    format!(
        r#"{{"type":"coupon","event_id":"w-{i}","member_id":"farm-{i}","at":{},"coupon_id":"welcome-{i}","event":"redeem","kind":"welcome","face_value":20,"threshold":0}}"#,
        T0 + 3_600 + i as i64
    )
}

fn check(member: &str, kind: &str) -> String {
    format!(
        r#"{{"member_id":"{member}","kind":"{kind}","campaign_id":"rc-x","value":20,"at":{}}}"#,
        T0 + 7_200
    )
}

#[test]
fn a_gang_is_flagged_its_newcomer_rejected_and_its_benefits_held() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = InProcess::start(&config_with_state(dir.path()));
    let a = [("x-api-key", "key-a")];
    for i in 0..8 {
        let (status, body) = server.call("POST", "/v1/candidates/score", &a, &candidate(i));
        assert_eq!(status, 200, "{body}");
    }
    let events: Vec<String> = (0..8).map(welcome).collect();
    let (status, body) = server.call(
        "POST",
        "/v1/events",
        &a,
        &format!(r#"{{"events":[{}]}}"#, events.join(",")),
    );
    assert_eq!(status, 200, "{body}");

    // The ninth on the device joins a flagged gang of eight: rejected, the flag's reason first.
    let (status, body) = server.call("POST", "/v1/candidates/score", &a, &candidate(8));
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["gang"]["id"], "g-farm-0", "{v}");
    assert_eq!(v["gang"]["size"], 8);
    assert_eq!(v["gang"]["flagged"], true, "{v}");
    assert_eq!(v["decision"], "reject");
    assert_eq!(v["reasons"][0]["code"], "GANG_FLAGGED");
    let text = v["reasons"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("8 accounts on one device")
            && text.contains("8 took a welcome or invite benefit")
            && text.contains("none bought at full price"),
        "{text}"
    );

    // Its first member, who passed sign-up, asks for an invite reward: scored live since its
    // sign-up and its welcome redemption (no refresh), in the flagged gang, its verdict rejects:
    // denied, the flag's reason first.
    let (status, body) = server.call(
        "POST",
        "/v1/benefits/check",
        &a,
        &check("farm-0", "invite_reward"),
    );
    assert_eq!(status, 200, "{body}");
    let b = json(&body);
    assert_eq!(b["verdict"]["decision"], "reject", "{b}");
    assert_eq!(b["verdict"]["hold_benefits"], true, "{b}");
    assert_eq!(b["decision"], "deny", "{b}");
    assert_eq!(b["reasons"][0]["code"], "GANG_FLAGGED");
    assert_eq!(b["gang"]["size"], 9);
    assert!(b["hold_event_id"].is_null(), "a denial is not a hold: {b}");

    // An analyst's member rule passes the members of large groups: swapping it in rescores the
    // live members under it (no refresh), and the gang flag still holds their benefits: held,
    // and the hold kept.
    let rules = r#"{"tenant":"brand-a","rules":[{"name":"big_groups_pass","on":"member","when":"pool_group_size >= 9","action":"pass","code":"BIG_GROUP_PASS","text":"members of large groups pass"}]}"#;
    let (status, body) = server.call("PUT", "/v1/rules", &[("x-admin-key", ADMIN)], rules);
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.call(
        "POST",
        "/v1/benefits/check",
        &a,
        &check("farm-0", "invite_reward"),
    );
    assert_eq!(status, 200, "{body}");
    let b = json(&body);
    // The rule takes part, and the flagged gang lifts its pass to a review.
    assert_eq!(b["verdict"]["rule"]["code"], "BIG_GROUP_PASS", "{b}");
    assert_eq!(b["verdict"]["decision"], "review", "{b}");
    assert_eq!(b["decision"], "hold", "{b}");
    assert_eq!(b["reasons"][0]["code"], "GANG_FLAGGED");
    assert_eq!(b["gang"]["size"], 9);
    let id = b["hold_event_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id, format!("hold:farm-0:invite_reward:rc-x:{}", T0 + 7_200));
    let (status, body) = server.call("GET", &format!("/v1/events/{id}"), &a, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["stored"], true);
    // A retry is answered the same and stored once (the id is the check's).
    let (_, again) = server.call(
        "POST",
        "/v1/benefits/check",
        &a,
        &check("farm-0", "invite_reward"),
    );
    assert_eq!(json(&again)["hold_event_id"], id.as_str());

    // The gang as the scorer lists it, and drawn whole with its accounts.
    let (status, body) = server.call("GET", "/v1/gangs?flagged=true&limit=5", &a, "");
    assert_eq!(status, 200, "{body}");
    let listed = json(&body);
    let farm = listed["gangs"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["id"] == "g-farm-0"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (farm["size"].clone(), farm["flagged"].clone()),
        (9.into(), true.into()),
        "{listed}"
    );
    assert_eq!(farm["devices"][0]["accounts"], 9, "{farm}");
    let (status, body) = server.call("GET", "/v1/gangs/g-farm-0", &a, "");
    assert_eq!(status, 200, "{body}");
    let ids = json(&body)["member_ids"].as_array().map(Vec::len);
    assert_eq!(ids, Some(9));
    let (status, body) = server.call("GET", "/v1/gangs/g-nobody", &a, "");
    assert_eq!(
        (status, json(&body)["code"].clone()),
        (404, "unknown_gang".into()),
        "{body}"
    );

    // A member of the history outside any gang is judged on its verdict alone.
    let (status, body) = server.call(
        "POST",
        "/v1/benefits/check",
        &a,
        &check("M00000001", "welcome"),
    );
    assert_eq!(status, 200, "{body}");
    let b = json(&body);
    assert!(b["verdict"]["decision"].is_string(), "{b}");
    let want = match b["verdict"]["decision"].as_str() {
        Some("pass") if !b["gang"]["flagged"].as_bool().unwrap_or(false) => "grant",
        Some("reject") => "deny",
        _ => "hold",
    };
    assert_eq!(b["decision"], want, "{b}");

    // Bad requests: a stable code, naming the field.
    let (status, body) = server.call(
        "POST",
        "/v1/benefits/check",
        &a,
        &check("nobody", "welcome"),
    );
    assert_eq!(
        (status, json(&body)["code"].clone()),
        (404, "unknown_member".into()),
        "{body}"
    );
    let (status, body) = server.call("POST", "/v1/benefits/check", &a, &check("farm-0", "cash"));
    assert_eq!(status, 400, "{body}");
    let v = json(&body);
    assert_eq!(v["code"], "invalid_field");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("kind:"),
        "{v}"
    );
}
