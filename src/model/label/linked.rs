//! Wool spread through linked accounts: accounts tied by rare shared keys (device, phone hash,
//! IP range, inviter — `crate::features::recruit`'s connected groups) are mostly one hand's. A
//! member the outcome rule calls genuine is labelled wool when their group holds enough members
//! the rule calls wool, or reviewed accounts that are mostly wool: the farm account that claimed
//! its coupon and never redeemed it looks dormant on its own, not beside its twenty siblings.
//!
//! A label, not a feature: the groups are read as of the end of the labelled history, outcome
//! windows included. Never used to score anyone.

use std::collections::HashMap;

use super::{LabelParams, LabelRule, LabelSource};
use crate::data::history::History;
use crate::features::recruit;

/// Which members the group evidence calls wool. Per member: `group` (None: in no group known),
/// the rule's label (`None`: window still open), the member's review (`None`: not reviewed).
/// A group counts its rule labels once it has `link_min_members` members with a closed window,
/// and its reviews once one is wool; a member alone in their group takes nothing from it.
pub fn spread(
    group: &[Option<u32>],
    rule: &[Option<u8>],
    review: &[Option<u8>],
    p: &LabelParams,
) -> Vec<bool> {
    #[derive(Default)]
    struct Tally {
        size: u32,
        closed: u32,
        rule_wool: u32,
        reviewed: u32,
        reviewed_wool: u32,
    }
    let mut tallies: HashMap<u32, Tally> = HashMap::new();
    for (i, g) in group.iter().enumerate() {
        let Some(g) = g else { continue };
        let t = tallies.entry(*g).or_default();
        t.size += 1;
        if let Some(l) = rule[i] {
            t.closed += 1;
            t.rule_wool += u32::from(l == 1);
        }
        if let Some(l) = review[i] {
            t.reviewed += 1;
            t.reviewed_wool += u32::from(l == 1);
        }
    }
    let says_wool = |t: &Tally| {
        let by_rule = t.closed >= p.link_min_members
            && f64::from(t.rule_wool) >= p.link_rule_share * f64::from(t.closed);
        let by_reviews = t.reviewed_wool >= 1
            && f64::from(t.reviewed_wool) >= p.link_reviewed_share * f64::from(t.reviewed);
        t.size >= 2 && (by_rule || by_reviews)
    };
    group
        .iter()
        .map(|g| g.and_then(|g| tallies.get(&g)).is_some_and(says_wool))
        .collect()
}

/// The recruitment sweep's state whose groups [`apply`] reads: every event up to `data_end`.
pub(super) fn groups(rule: &LabelRule, h: &History, data_end: i64) -> recruit::RecruitState {
    recruit::sweep(h, rule.caps(), &[], data_end.saturating_add(1)).state
}

/// Relabels `out` (the rule's labels, before reviews override them): members with a closed
/// window the rule calls genuine become `Linked` wool where their group says so. Groups from
/// `state` (the sweep with the rule's caps past every sign-up, key and event up to `data_end`;
/// reviews never join accounts, so later ones change no group), reviews as of `data_end`.
pub(super) fn apply(
    rule: &LabelRule,
    h: &History,
    data_end: i64,
    state: &recruit::RecruitState,
    out: &mut [(Option<u8>, LabelSource)],
) {
    let until = data_end.saturating_add(1);
    let n = h.members.len();
    let group: Vec<Option<u32>> = (0..n as u32)
        .map(|m| {
            let sym = state.keys.get(h.members.id(m))?;
            state.group_of(sym).map(|(root, _)| root)
        })
        .collect();
    let mut order: Vec<usize> = (0..h.labels.len())
        .filter(|&r| h.labels.at[r] < until)
        .collect();
    order.sort_by_key(|&r| (h.labels.at[r], r));
    let mut review: Vec<Option<u8>> = vec![None; n];
    for r in order {
        if let Some(slot) = review.get_mut(h.labels.member[r] as usize) {
            *slot = Some(h.labels.label[r]);
        }
    }
    let labels: Vec<Option<u8>> = out.iter().map(|(l, _)| *l).collect();
    let wool = spread(&group, &labels, &review, rule.params());
    for (slot, w) in out.iter_mut().zip(wool) {
        if w && *slot == (Some(0), LabelSource::Rule) {
            *slot = (Some(1), LabelSource::Linked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> LabelParams {
        LabelParams {
            links: true,
            link_min_members: 3,
            link_rule_share: 0.5,
            link_reviewed_share: 0.6,
            ..LabelParams::default()
        }
    }

    #[test]
    fn groups_spread_by_hand() {
        // Group 7: members 0-3, closed windows 0, 1, 2 (rule wool: 0) — 1 of 3 < 0.5, no
        // review: nothing. Group 8: members 4-7, closed 4, 5, 6 with two wool — 2 of 3 ≥ 0.5:
        // all four. Group 9: members 8-10, one closed (too few for the rule) but reviews
        // 8 wool, 9 wool, 10 genuine — 2 of 3 ≥ 0.6: all three. Member 11 has no group;
        // member 12 is alone in group 5, reviewed wool, and takes nothing from itself.
        let group = [
            Some(7),
            Some(7),
            Some(7),
            Some(7),
            Some(8),
            Some(8),
            Some(8),
            Some(8),
            Some(9),
            Some(9),
            Some(9),
            None,
            Some(5),
        ];
        let rule = [
            Some(1),
            Some(0),
            Some(0),
            None,
            Some(1),
            Some(1),
            Some(0),
            None,
            Some(0),
            None,
            None,
            Some(1),
            Some(0),
        ];
        let mut review = [None; 13];
        review[8] = Some(1);
        review[9] = Some(1);
        review[10] = Some(0);
        review[12] = Some(1);
        let got = spread(&group, &rule, &review, &params());
        let want = [
            false, false, false, false, true, true, true, true, true, true, true, false, false,
        ];
        assert_eq!(got, want);
        // A stricter reviewed share (0.7 > 2/3) leaves group 9 alone.
        let strict = LabelParams {
            link_reviewed_share: 0.7,
            ..params()
        };
        let got = spread(&group, &rule, &review, &strict);
        assert_eq!(got[8..11], [false, false, false]);
    }
}
