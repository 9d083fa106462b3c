//! A snapshot's start image: a start that reads it back serves exactly what a start that
//! computes it serves, and an image of other inputs, or a damaged one, is never read.

use std::path::Path;
use std::sync::Arc;

use woolguard::data::load;
use woolguard::scoring::RuleSet;
use woolguard::state::image::{self, Key, NotUsed};
use woolguard::state::tenant::{Models, Tenant};

use crate::common::app::{Api, InProcess};
use crate::serve::{json, root};
use crate::serve_live::{init, probe, same_probe_features};

const KEY: [(&str, &str); 1] = [("x-api-key", "key-a")];

fn models() -> (std::path::PathBuf, std::path::PathBuf) {
    (root().join("models/default"), root().join("models/signup"))
}

#[test]
fn a_start_read_from_its_image_equals_a_computed_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let _ = init(dir.path());
    let folder = dir.path().join("state/brand-a/history");
    let (member, signup) = models();
    let rules = Arc::new(RuleSet::default());
    let h = Arc::new(load(&folder).unwrap_or_else(|e| panic!("{e}")));
    let (computed, online) = Models::load_to_start(h.clone(), &member, &signup, rules.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let key = Key::of(&folder, &member, &signup, &rules).unwrap_or_else(|e| panic!("{e}"));
    let file = folder.join(image::FILE);
    let bytes = image::write(&file, &key, &computed.image_parts(online.as_ref()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(std::fs::metadata(&file).map(|m| m.len()).ok(), Some(bytes));
    // Writing the image is not a change of the snapshot's files.
    let again = Key::of(&folder, &member, &signup, &rules).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, key);
    let parts = image::read(&file, &key).unwrap_or_else(|e| panic!("{e}"));
    let (read, read_online) =
        Models::from_image(parts, &member, &signup, rules).unwrap_or_else(|e| panic!("{e}"));

    let n = h.members.len();
    assert_eq!(n, 5_000);
    assert_eq!(read.history.members.len(), n);
    assert_eq!(read.as_of, computed.as_of);
    let (mut scored, mut standing) = (0, 0);
    for m in 0..n as u32 {
        let (a, b) = (computed.member_score(m), read.member_score(m));
        assert_eq!(a, b, "member {m}");
        let bits = |s: &Option<(woolguard::model::artefact::Scored, _)>| {
            s.as_ref().map(|(s, _)| s.probability.to_bits())
        };
        assert_eq!(bits(&a), bits(&b), "member {m}");
        scored += usize::from(a.is_some());
        assert_eq!(computed.standing(m), read.standing(m));
        standing += usize::from(read.standing(m).is_some());
    }
    assert!(scored > 4_000, "{scored} members scored");
    assert!(standing > 4_000, "{standing} members with a standing");
    let (cb, rb) = (&computed.base, &read.base);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&cb.recruitment.values), bits(&rb.recruitment.values));
    assert_eq!(cb.recruitment.names, rb.recruitment.names);
    assert_eq!(cb.index.orders.offsets, rb.index.orders.offsets);
    assert_eq!(cb.index.coupons.rows, rb.index.coupons.rows);
    assert_eq!(cb.segmentation, rb.segmentation);
    assert_eq!(cb.position, rb.position);
    assert_eq!(
        woolguard::model::report::fingerprint(&read.history).fingerprint,
        woolguard::model::report::fingerprint(&h).fingerprint
    );

    // The online sign-up state read back gives every probe the same features, bit for bit.
    assert!(read_online.is_some(), "the shipped models share merge caps");
    let (a, b) = (
        Tenant::starting("brand-a", computed, online, None),
        Tenant::starting("brand-a", read, read_online, None),
    );
    same_probe_features(&h, &a, &b, 3);
}

/// Flips one byte of `file` at `at` (from its end where negative).
fn flip(file: &Path, at: i64) {
    let mut b = std::fs::read(file).unwrap_or_else(|e| panic!("{e}"));
    let i = if at < 0 { b.len() as i64 + at } else { at } as usize;
    b[i] ^= 0x40;
    std::fs::write(file, b).unwrap_or_else(|e| panic!("{e}"));
}

/// Every sample member's score through the API, and one candidate's.
fn answers(s: &InProcess) -> (serde_json::Value, serde_json::Value) {
    let h = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = (0..h.members.len() as u32)
        .map(|m| h.members.id(m).to_string())
        .collect();
    let body = serde_json::json!({ "member_ids": ids }).to_string();
    let (status, members) = s.call("POST", "/v1/members/score", &KEY, &body);
    assert_eq!(status, 200, "{members}");
    let end = woolguard::model::score::end_of(&h);
    let c = probe(&h, 42, end + 60);
    let body = serde_json::json!({
        "member_id": c.member_id, "joined_at": end + 60, "channel": "app",
        "inviter_id": c.inviter_id, "device_id": c.device_id, "ip": c.ip,
        "phone_hash": c.phone_hash
    })
    .to_string();
    let (status, candidate) = s.call("POST", "/v1/candidates/score", &KEY, &body);
    assert_eq!(status, 200, "{candidate}");
    (json(&members), json(&candidate))
}

#[test]
fn a_start_image_of_other_inputs_or_damaged_is_not_used() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = init(dir.path());
    let folder = dir.path().join("state/brand-a/history");
    let file = folder.join(image::FILE);
    let (member, signup) = models();
    let rules = RuleSet::default();
    let key = || Key::of(&folder, &member, &signup, &rules).unwrap_or_else(|e| panic!("{e}"));

    // The first start computes and writes the image; the second reads it; both answer alike.
    assert!(matches!(image::read(&file, &key()), Err(NotUsed::Absent)));
    let computed = answers(&InProcess::start(&cfg));
    assert!(
        image::read(&file, &key()).is_ok(),
        "the first start wrote it"
    );
    let read = answers(&InProcess::start(&cfg));
    assert_eq!(read, computed);
    assert_eq!(computed.0["members"].as_array().map(Vec::len), Some(5_000));

    // Other rules, another model or another snapshot file: stale, and says which.
    let stale = |k: &Key| match image::read(&file, k) {
        Err(NotUsed::Stale(why)) => why,
        other => panic!("{:?}", other.map(|_| ())),
    };
    let tiers = woolguard::members::tier::TierRules::default().names;
    let other_rules = RuleSet::from_toml(
        "[[rule]]\nname = \"r\"\non = \"member\"\nwhen = \"probability > 0.9\"\naction = \"review\"\ncode = \"R\"\ntext = \"r\"\n",
        &tiers,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let k = Key::of(&folder, &member, &signup, &other_rules).unwrap_or_else(|e| panic!("{e}"));
    assert!(stale(&k).contains("rules"));
    let k = Key::of(&folder, &signup, &signup, &rules).unwrap_or_else(|e| panic!("{e}"));
    assert!(stale(&k).contains("member model"));
    std::fs::write(folder.join("waiting.jsonl"), "").unwrap_or_else(|e| panic!("{e}"));
    assert!(stale(&key()).contains("file"));
    std::fs::remove_file(folder.join("waiting.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    assert!(image::read(&file, &key()).is_ok());

    // A flipped byte in the body, or a file cut short, is refused whole.
    let whole = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    flip(&file, -1_000);
    assert!(matches!(
        image::read(&file, &key()),
        Err(NotUsed::Unreadable(_))
    ));
    std::fs::write(&file, &whole[..whole.len() - 9]).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        image::read(&file, &key()),
        Err(NotUsed::Unreadable(_))
    ));
    // A start over the damaged image computes again, answers alike and writes a good image.
    flip(&file, 0);
    let again = answers(&InProcess::start(&cfg));
    assert_eq!(again, computed);
    assert!(image::read(&file, &key()).is_ok(), "written again");
}

#[test]
fn a_rebuilt_snapshot_is_read_back_in_place_and_scores_alike() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let _ = init(dir.path());
    let state = woolguard::state::dir::StateDir::of(&dir.path().join("state"), "brand-a");
    let (member, signup) = models();
    let h = Arc::new(load(&state.history).unwrap_or_else(|e| panic!("{e}")));
    let tenant = |keep: bool, store: &Path| {
        let m = Models::load(h.clone(), &member, &signup, Default::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let t = Tenant::new("brand-a", m, None);
        let t = if keep { t.with_state_dir(&state) } else { t };
        let store =
            woolguard::state::store::RedbStore::open(store).unwrap_or_else(|e| panic!("{e}"));
        t.with_store(Box::new(store))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (kept, heap) = (
        tenant(true, &dir.path().join("a.redb")),
        tenant(false, &dir.path().join("b.redb")),
    );
    // The same orders into both, then a full refresh of each.
    let end = woolguard::model::score::end_of(&h);
    let events: Vec<woolguard::state::Event> = (0..40u32)
        .map(|k| {
            let body = serde_json::json!({
                "type": "order", "event_id": format!("o-{k}"),
                "member_id": h.members.id(k * 97), "order_id": format!("new-{k}"),
                "at": end + 60 + i64::from(k), "amount": 30.0, "list_amount": 30.0,
                "discount": 0.0, "channel": "app"
            });
            serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    for t in [&kept, &heap] {
        t.ingest(&events).unwrap_or_else(|e| panic!("{e}"));
        t.refresh().unwrap_or_else(|e| panic!("{e}"));
    }
    let (a, b) = (
        kept.snapshot().unwrap_or_else(|e| panic!("{e}")),
        heap.snapshot().unwrap_or_else(|e| panic!("{e}")),
    );
    assert!(a.history.orders.at.is_mapped(), "read back in place");
    assert!(a.base.recruitment.values.is_mapped());
    assert!(
        !b.history.orders.at.is_mapped(),
        "no state folder: on the heap"
    );
    assert!(state.serving_image.is_file());
    assert_eq!(a.history.orders.len(), h.orders.len() + 40);
    assert_eq!(a.as_of, b.as_of);
    for m in 0..h.members.len() as u32 {
        assert_eq!(a.member_score(m), b.member_score(m), "member {m}");
        assert_eq!(a.standing(m), b.standing(m), "member {m}");
    }
    // A member's live score after one more order reads its rows from the mapped history.
    let id = h.members.id(97).to_string();
    let more: woolguard::state::Event = serde_json::from_value(serde_json::json!({
        "type": "order", "event_id": "o-more", "member_id": id, "order_id": "more",
        "at": end + 500, "amount": 12.5, "list_amount": 20.0, "discount": 7.5, "channel": "app"
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let live = |t: &Tenant, m: &Models| {
        t.ingest(std::slice::from_ref(&more))
            .unwrap_or_else(|e| panic!("{e}"));
        let v = t.score_member(m, &id).unwrap_or_else(|e| panic!("{e}"));
        let as_of = t.member_as_of(m, &id).unwrap_or_else(|e| panic!("{e}"));
        (v.probability.to_bits(), v.decision, as_of)
    };
    let (x, y) = (live(&kept, &a), live(&heap, &b));
    assert_eq!(x, y);
    assert!(
        x.2 > a.as_of,
        "as of after the new order: {} vs {}",
        x.2,
        a.as_of
    );
    // A snapshot whose parts are read in place already is not written again (a challenger
    // joining it computes only its own scores).
    let other = dir.path().join("other.image");
    let same = a
        .with_challenger(None)
        .unwrap_or_else(|e| panic!("{e}"))
        .kept_in(&other);
    assert!(!other.exists(), "nothing written");
    assert!(same.history.orders.at.is_mapped() && same.scores.is_mapped());
}

#[test]
fn a_challenger_joins_a_snapshot_without_scoring_the_rest_again() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let _ = init(dir.path());
    let folder = dir.path().join("state/brand-a/history");
    let (member, signup) = models();
    let h = Arc::new(load(&folder).unwrap_or_else(|e| panic!("{e}")));
    let snapshot = Models::load(h.clone(), &member, &signup, Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    // The live model as its own challenger: every member scored alike by both.
    let artefact =
        woolguard::model::artefact::Artefact::load(&member).unwrap_or_else(|e| panic!("{e}"));
    let slot = woolguard::state::tenant::challenger::ModelSlot::Member;
    let with = snapshot
        .with_challenger(Some((slot, artefact, member.clone())))
        .unwrap_or_else(|e| panic!("{e}"));
    let c = with
        .challenger
        .as_ref()
        .unwrap_or_else(|| panic!("no challenger"));
    let mut scored = 0;
    for m in 0..h.members.len() as u32 {
        let live = snapshot.member_score(m);
        assert_eq!(with.member_score(m), live, "member {m}");
        assert_eq!(c.scores.get(&c.artefact, m as usize), live, "member {m}");
        scored += usize::from(live.is_some());
    }
    assert!(scored > 4_000);
    // And taken away again.
    let without = with.with_challenger(None).unwrap_or_else(|e| panic!("{e}"));
    assert!(without.challenger.is_none());
    assert_eq!(without.member_score(7), snapshot.member_score(7));
}
