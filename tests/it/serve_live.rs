//! Live member scores: an acknowledged event reaches the member-time score of the members it
//! touches without a refresh (its member, and where a group's stats change, the group's), and
//! the live score equals, bit for bit, what a full refresh then gives at the same moment; events
//! acknowledged while a full refresh runs are not lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use woolguard::data::load;
use woolguard::features::recruit;
use woolguard::state::events::Event;
use woolguard::state::store::RedbStore;
use woolguard::state::tenant::{Models, Tenant};

use crate::serve::{json, root, Server};

/// `state init` of the sample into a temporary folder, and a scorer config over it (no timer).
pub(crate) fn init(dir: &Path) -> PathBuf {
    let state = dir.join("state");
    let st = state.to_string_lossy().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args([
            "state",
            "init",
            "--data",
            "data/sample",
            "--state",
            &st,
            "--tenant",
            "brand-a",
        ])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "bind = \"127.0.0.1:0\"\nadmin_key = \"adm\"\nstate = \"{st}\"\nrefresh_secs = 0\n\n[[tenants]]\nname = \"brand-a\"\napi_keys = [\"key-a\"]\nmodel = \"models/default\"\nsignup_model = \"models/signup\"\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    cfg
}

const KEY: [(&str, &str); 1] = [("x-api-key", "key-a")];

/// Each id's result (`as_of`, `probability`, `decision`, … or `error`).
fn scores(s: &Server, ids: &[String]) -> Vec<serde_json::Value> {
    let body = serde_json::json!({ "member_ids": ids }).to_string();
    let (status, reply) = s.call("POST", "/v1/members/score", &KEY, &body);
    assert_eq!(status, 200, "{reply}");
    json(&reply)["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn post(s: &Server, events: &[String]) {
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    let (status, reply) = s.call("POST", "/v1/events", &KEY, &body);
    assert_eq!(status, 200, "{reply}");
}

fn refresh(s: &Server) {
    let (status, reply) = s.call(
        "POST",
        "/v1/state/refresh",
        &[("x-admin-key", "adm")],
        r#"{"tenant":"brand-a"}"#,
    );
    assert_eq!(status, 200, "{reply}");
}

/// Probability (as bits) and decision: what must not move between the live score and the
/// full refresh's.
fn exact(v: &serde_json::Value) -> (Option<u64>, String, Option<i64>) {
    (
        v["probability"].as_f64().map(f64::to_bits),
        v["decision"].to_string(),
        v["as_of"].as_i64(),
    )
}

/// A group of the sample with at least three accounts and at most twenty, whose members all
/// joined before the end: its member ids.
fn a_group(h: &woolguard::data::History) -> Vec<String> {
    let (_, st) = recruit::build(h, recruit::MergeCaps::default());
    for m in 0..h.members.len() as u32 {
        let Some(sym) = st.keys.get(h.members.id(m)) else {
            continue;
        };
        let ids = st.group_members(sym, 64);
        if (3..=20).contains(&ids.len()) {
            return ids.iter().map(|&s| st.keys.name(s).to_string()).collect();
        }
    }
    panic!("the sample has no group of 3 to 20 accounts")
}

#[test]
fn events_reach_member_scores_at_once_as_a_full_refresh_gives_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = init(dir.path());
    let sample = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let end = woolguard::model::score::end_of(&sample);
    let group = a_group(&sample);
    let (member, mates) = (group[0].clone(), group[1..].to_vec());
    let server = Server::start(&cfg);
    let before = scores(&server, &group);
    assert!(before.iter().all(|v| v["as_of"].as_i64() == Some(end)));

    // Ten coupon-only orders and a full-price one for `member`, and a review of a mate: the
    // member's own behaviour and its group's stats change.
    let mut events = Vec::new();
    for i in 0..10 {
        let at = end + 3_600 * (i + 1);
        events.push(format!(
            r#"{{"type":"coupon","event_id":"c-{i}","member_id":"{member}","at":{at},"coupon_id":"cp-live-{i}","event":"redeem","kind":"promo","face_value":20,"threshold":0}}"#
        ));
        events.push(format!(
            r#"{{"type":"order","event_id":"o-{i}","member_id":"{member}","at":{at},"order_id":"ord-live-{i}","amount":1,"list_amount":21,"discount":20,"coupon_id":"cp-live-{i}"}}"#
        ));
    }
    let last = end + 3_600 * 11;
    events.push(format!(
        r#"{{"type":"order","event_id":"o-full","member_id":"{member}","at":{last},"order_id":"ord-live-full","amount":80,"list_amount":80,"discount":0}}"#
    ));
    events.push(format!(
        r#"{{"type":"label","event_id":"l-1","member_id":"{}","at":{},"label":1}}"#,
        mates[0],
        last - 1
    ));
    post(&server, &events);
    // No refresh: the member and every group mate are scored as of just after the newest event.
    let live = scores(&server, &group);
    for (id, v) in group.iter().zip(&live) {
        assert_eq!(v["as_of"].as_i64(), Some(last + 1), "{id}: {v}");
    }
    assert_ne!(
        live[0]["probability"], before[0]["probability"],
        "ten coupon-only orders left the member's live score unchanged"
    );
    assert!(
        live[1..]
            .iter()
            .zip(&before[1..])
            .any(|(a, b)| a["probability"] != b["probability"]),
        "no group mate's score moved: {live:?}"
    );

    // A member who signs up through events and orders is scorable at once.
    let t = last + 60;
    post(
        &server,
        &[
            format!(
                r#"{{"type":"signup","event_id":"s-new","member_id":"live-new","at":{t},"channel":"app","device_id":"dev-live-new"}}"#
            ),
            format!(
                r#"{{"type":"order","event_id":"o-new","member_id":"live-new","at":{},"order_id":"ord-live-new","amount":35,"list_amount":35,"discount":0}}"#,
                t + 60
            ),
        ],
    );
    let newest = t + 61;
    let mut ids = group.clone();
    ids.push("live-new".to_string());
    let live = scores(&server, &ids);
    let fresh = &live[group.len()];
    assert!(fresh["probability"].is_number(), "{fresh}");
    assert_eq!(fresh["as_of"].as_i64(), Some(newest), "{fresh}");
    // The members touched earlier keep the moment they were scored at.
    assert_eq!(live[0]["as_of"].as_i64(), Some(last + 1));

    // A full refresh now scores everyone as of `newest`: touch the group again (a review rescores
    // every group member at that moment) so that the moments are equal, then compare bit for
    // bit.
    post(
        &server,
        &[format!(
            r#"{{"type":"label","event_id":"l-2","member_id":"{member}","at":{},"label":0}}"#,
            newest - 2
        )],
    );
    let live = scores(&server, &ids);
    assert!(
        live.iter().all(|v| v["as_of"].as_i64() == Some(newest)),
        "{live:?}"
    );
    refresh(&server);
    let full = scores(&server, &ids);
    for ((id, a), b) in ids.iter().zip(&live).zip(&full) {
        assert_eq!(exact(a), exact(b), "{id}: live {a} vs full refresh {b}");
    }
}

fn tenant(dir: &Path, state: &Path) -> Tenant {
    let h = load(&state.join("brand-a/history")).unwrap_or_else(|e| panic!("{e}"));
    let models = Models::load(
        Arc::new(h),
        &root().join("models/default"),
        &root().join("models/signup"),
        Default::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let store = RedbStore::open(&dir.join("events.redb")).unwrap_or_else(|e| panic!("{e}"));
    Tenant::new("brand-a", models, None)
        .with_store(Box::new(store))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn order(id: &str, member: &str, at: i64) -> Event {
    Event::Order {
        event_id: id.to_string(),
        member_id: member.to_string(),
        at,
        order_id: id.to_string(),
        amount: 1.0,
        list_amount: 21.0,
        discount: 20.0,
        coupon_id: None,
        channel: None,
        refunded: false,
    }
}

/// Orders acknowledged from another thread while a full refresh runs all reach the member's
/// score: after the swap it equals what a second full refresh gives.
#[test]
fn events_acknowledged_during_a_full_refresh_are_not_lost() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let _ = init(dir.path());
    let t = tenant(dir.path(), &dir.path().join("state"));
    let models = t.snapshot().unwrap_or_else(|e| panic!("{e}"));
    let member = models.history.members.id(0).to_string();
    let end = models.as_of;
    let n = 60;
    let done = std::sync::atomic::AtomicBool::new(false);
    let taken = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            for i in 0..n {
                let e = order(&format!("o-{i}"), &member, end + 60 * (i + 1));
                t.ingest(&[e]).unwrap_or_else(|e| panic!("{e}"));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Refreshes while the orders arrive.
        let mut taken = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            taken += t.refresh().unwrap_or_else(|e| panic!("{e}")).events;
        }
        sender
            .join()
            .unwrap_or_else(|_| panic!("the sender panicked"));
        taken
    });
    assert!(taken < n as usize, "some orders came after the refreshes");
    let models = t.snapshot().unwrap_or_else(|e| panic!("{e}"));
    let live = t
        .score_member(&models, &member)
        .unwrap_or_else(|e| panic!("{e}"));
    let at = t
        .member_as_of(&models, &member)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(at, end + 60 * n + 1, "scored after the last order");
    t.refresh().unwrap_or_else(|e| panic!("{e}"));
    let models = t.snapshot().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(models.as_of, at);
    assert_eq!(
        t.live_members().unwrap_or_else(|e| panic!("{e}")),
        0,
        "the refresh holds every event"
    );
    let full = t
        .score_member(&models, &member)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(live.probability.to_bits(), full.probability.to_bits());
    assert_eq!(live.decision, full.decision);
}

fn label(id: &str, member: &str, at: i64) -> Event {
    Event::Label {
        event_id: id.to_string(),
        member_id: member.to_string(),
        at,
        label: 1,
        source: None,
    }
}

/// An event rescores its own member before the answer and only marks its group mates stale: a
/// burst on one group marks each mate once; a read of a stale mate rescores it first; the
/// rescorer's pass clears the rest; and every mate's live score then equals, bit for bit, what a
/// full refresh gives at the same moment.
#[test]
fn group_mates_are_rescored_off_the_request_once_a_burst() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let _ = init(dir.path());
    let t = tenant(dir.path(), &dir.path().join("state"));
    let models = t.snapshot().unwrap_or_else(|e| panic!("{e}"));
    let group = a_group(&models.history);
    let end = models.as_of;
    let stale = || t.stale_members().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stale(), 0);

    // Twenty reviews of the group's first account, one request each: every one changes the
    // group's stats, and the mates are marked once.
    for i in 0..20 {
        let e = label(&format!("l-{i}"), &group[0], end + 10 * (i + 1));
        t.ingest(&[e]).unwrap_or_else(|e| panic!("{e}"));
    }
    // An order of the same account moves the newest moment on (a review does not).
    let last = end + 300;
    t.ingest(&[order("o-last", &group[0], last)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stale(), group.len() - 1, "each mate marked once");
    let as_of = |id: &str| {
        let models = t.snapshot().unwrap_or_else(|e| panic!("{e}"));
        t.member_as_of(&models, id)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    // The event's own member was scored before the answer.
    assert_eq!(as_of(&group[0]), last + 1);
    assert_eq!(stale(), group.len() - 1);
    // A read of a stale mate rescores it first.
    assert_eq!(as_of(&group[1]), last + 1);
    assert_eq!(stale(), group.len() - 2);
    // The rescorer's pass takes the rest.
    let done = t
        .rescore_stale(4_096, std::time::Duration::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done, group.len() - 2);
    assert_eq!(stale(), 0);
    assert_eq!(
        t.rescore_stale(4_096, std::time::Duration::ZERO)
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
    let verdicts = |models: &Models| -> Vec<(u64, String)> {
        group
            .iter()
            .map(|id| {
                let v = t.score_member(models, id).unwrap_or_else(|e| panic!("{e}"));
                (v.probability.to_bits(), format!("{:?}", v.decision))
            })
            .collect()
    };
    let models = t.snapshot().unwrap_or_else(|e| panic!("{e}"));
    for id in &group {
        assert_eq!(as_of(id), last + 1, "{id}");
    }
    let live = verdicts(&models);
    t.refresh().unwrap_or_else(|e| panic!("{e}"));
    let models = t.snapshot().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(models.as_of, last + 1);
    assert_eq!(live, verdicts(&models), "live vs full refresh");
}

/// A scorer starting up keeps the sign-up sweep its scoring ran as its online state instead of
/// sweeping again: candidates on every sample member's keys (and invited by it) get the same
/// features, bit for bit, as from a state swept on its own.
#[test]
fn the_online_state_kept_from_scoring_equals_a_sweep_of_its_own() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let _ = init(dir.path());
    let h =
        Arc::new(load(&dir.path().join("state/brand-a/history")).unwrap_or_else(|e| panic!("{e}")));
    let (member, signup) = (root().join("models/default"), root().join("models/signup"));
    let (kept, online) = Models::load_to_start(h.clone(), &member, &signup, Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(online.is_some(), "the shipped models share merge caps");
    let kept = Tenant::starting("brand-a", kept, online, None);
    let swept = Models::load(h.clone(), &member, &signup, Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let swept = Tenant::new("brand-a", swept, None);
    same_probe_features(&h, &kept, &swept, 1);
}

/// A candidate on member `m`'s device, IP and phone, invited by it, joining at `at`.
pub(crate) fn probe(h: &woolguard::data::History, m: u32, at: i64) -> woolguard::state::Candidate {
    let i = m as usize;
    let name = |s| h.keys.opt_name(s).map(str::to_string);
    woolguard::state::Candidate {
        member_id: Some(format!("probe-{m}")),
        joined_at: Some(at),
        channel: Some("app".to_string()),
        inviter_id: Some(h.members.id(m).to_string()),
        device_id: name(h.members.device[i]),
        ip: name(h.members.ip[i]),
        phone_hash: name(h.members.phone_hash[i]),
        ..Default::default()
    }
}

/// For a probe candidate on every `step`th member of `h` a minute after its end, `a` and `b`
/// give the same sign-up features, bit for bit, and more than 100 of them read a group.
pub(crate) fn same_probe_features(
    h: &woolguard::data::History,
    a: &Tenant,
    b: &Tenant,
    step: usize,
) {
    let end = woolguard::model::score::end_of(h);
    let mut with_group = 0;
    for m in (0..h.members.len() as u32).step_by(step) {
        let c = probe(h, m, end + 60);
        let bits = |t: &Tenant| -> Vec<u64> {
            let row = t.candidate_features(&c).unwrap_or_else(|e| panic!("{e}"));
            row.iter().map(|v| v.to_bits()).collect()
        };
        let x = bits(a);
        assert_eq!(x, bits(b), "probe of member {m}");
        with_group += usize::from(x.iter().any(|&v| f64::from_bits(v) > 1.0));
    }
    assert!(with_group > 100, "the probes read a populated state");
}
