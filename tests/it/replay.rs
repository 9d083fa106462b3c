//! The online state and the offline sweep agree: a scorer that has seen no one, sent a history
//! as events one by one in time order, computes every member's sign-up features bit for bit as
//! training did, ties in the same second included.

use std::sync::Arc;

use woolguard::data::load;
use woolguard::features::recruit::{self, Step};
use woolguard::state::events::Event;
use woolguard::state::replay;
use woolguard::state::store::RedbStore;
use woolguard::state::tenant::{Candidate, Models, Tenant};

use crate::serve::root;

fn empty_tenant(dir: &std::path::Path) -> Tenant {
    let models = Models::load(
        Arc::new(woolguard::data::History::default()),
        &root().join("models/default"),
        &root().join("models/signup"),
        Default::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let store = RedbStore::open(&dir.join("events.redb")).unwrap_or_else(|e| panic!("{e}"));
    Tenant::new("replay", models, None)
        .with_store(Box::new(store))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn online_events_replayed_in_time_order_give_the_offline_features() {
    let h = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let tied = replay_agrees(&h);
    assert!(tied > 0, "{tied} tied sign-ups");
}

/// A minute-resolution export: every sign-up after the first in its minute is a tie, ordered
/// by arrival (row order), offline as online; bursts stay visible.
#[test]
fn a_minute_resolution_export_keeps_its_bursts_offline_as_online() {
    let mut h = load(&root().join("data/sample")).unwrap_or_else(|e| panic!("{e}"));
    let minute = |t: &mut i64| *t -= t.rem_euclid(60);
    h.members.joined_at.iter_mut().for_each(minute);
    h.coupons.at.iter_mut().for_each(minute);
    h.orders.at.iter_mut().for_each(minute);
    h.labels.at.iter_mut().for_each(minute);
    let tied = replay_agrees(&h);
    assert!(
        tied > 150,
        "{tied} sign-ups share their minute with an earlier one"
    );
    // A later account on a shared device that joined in the same minute still sees the earlier.
    let (offline, _) = recruit::build(&h, recruit::MergeCaps::default());
    let m = &h.members;
    let seen = (0..m.len())
        .filter(|&i| {
            m.device[i] != woolguard::data::NONE
                && (0..i).any(|j| m.device[j] == m.device[i] && m.joined_at[j] == m.joined_at[i])
        })
        .inspect(|&i| assert!(offline.row(i)[0] >= 1.0, "member {}", m.id(i as u32)))
        .count();
    assert!(
        seen >= 3,
        "{seen} same-minute sign-ups on a device used earlier that minute"
    );
}

/// Replays `h` through an empty scorer and checks every sign-up's features against the sweep;
/// returns how many sign-ups tied with an earlier one.
fn replay_agrees(h: &woolguard::data::History) -> usize {
    let (offline, _) = recruit::build(h, recruit::MergeCaps::default());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let online = empty_tenant(dir.path());
    let mut batch: Vec<Event> = Vec::new();
    let (mut checked, mut tied, mut with_deeds) = (0, 0, 0);
    for step in recruit::timeline(h, &[], i64::MAX) {
        let Some(event) = replay::event_of(h, step) else {
            continue;
        };
        let Step::Signup(m) = step else {
            batch.push(event);
            continue;
        };
        // Everything before this sign-up reaches the scorer first, durably.
        if !batch.is_empty() {
            online
                .ingest(&std::mem::take(&mut batch))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let c = Candidate::of_signup(&event).unwrap_or_else(|| panic!("a sign-up"));
        let row = online
            .candidate_features(&c)
            .unwrap_or_else(|e| panic!("{e}"));
        let i = m as usize;
        for (j, (a, b)) in row.iter().zip(offline.row(i)).enumerate() {
            assert!(
                a.to_bits() == b.to_bits(),
                "member {} feature {}: online {a}, offline {b}",
                h.members.id(m),
                recruit::FEATURES[j].name
            );
        }
        let t = h.members.joined_at[i];
        tied += usize::from(i > 0 && h.members.joined_at[..i].contains(&t));
        with_deeds += usize::from(offline.row(i)[20] > 0.0);
        checked += 1;
    }
    assert_eq!(checked, h.members.len());
    assert!(
        with_deeds > 100,
        "{with_deeds} sign-ups saw a group's orders"
    );
    tied
}
