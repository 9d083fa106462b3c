//! Gangs against the truth of a generated history (`truth.parquet`'s `gang_id`): how many of
//! the accounts in flagged gangs really are in a gang (precision), how many of the gangs'
//! accounts the flag catches (recall), how many whole gangs it finds, and the same for the
//! accounts the peel found. Only measurement reads the truth; nothing here changes a gang.

use std::collections::HashMap;

use serde::Serialize;

use crate::data::history::{History, MemberIdx};
use crate::generate::Truth;

use super::peel::Agreement;
use super::{FoundBy, GangSet};

/// The figures against the truth, over the members who joined before the moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthFigures {
    /// Accounts in flagged gangs against the accounts of the truth's gangs.
    pub flag: Agreement,
    /// Share of the accounts in flagged gangs that are wool at all.
    pub flag_wool_precision: Option<f64>,
    /// The truth's gangs (with at least two accounts joined by then) and those found: at least
    /// half of their accounts in flagged gangs.
    pub truth_gangs: usize,
    pub truth_gangs_found: usize,
    pub share_found: Option<f64>,
    /// Accounts in peeled blocks against the truth's gang accounts the key groups leave out
    /// (in no listed group).
    pub peel: Agreement,
    /// The same for the peeled blocks the rule flags.
    pub peel_flagged: Agreement,
}

/// Measures `set` against `truth` (every member of `h` needs a truth row; those without one
/// count as genuine and in no gang).
pub fn against_truth(h: &History, set: &GangSet, truth: &Truth) -> TruthFigures {
    let n = h.members.len();
    let joined = |m: usize| h.members.joined_at[m] < set.as_of;
    let row = |m: usize| truth.get(h.members.id(m as MemberIdx));
    let in_gang: Vec<bool> = (0..n)
        .map(|m| joined(m) && row(m).is_some_and(|r| r.gang_id.is_some()))
        .collect();
    let wool: Vec<bool> = (0..n)
        .map(|m| joined(m) && row(m).is_some_and(|r| r.is_wool))
        .collect();
    let accounts = |keep: &dyn Fn(&super::Gang) -> bool| -> Vec<MemberIdx> {
        set.gangs
            .iter()
            .filter(|g| keep(g))
            .flat_map(|g| g.members.iter().copied())
            .collect()
    };
    let flagged = accounts(&|g| g.flagged);
    let flag = Agreement::of(&flagged, &in_gang);
    let flag_wool = Agreement::of(&flagged, &wool);
    let mut sizes: HashMap<&str, (usize, usize)> = HashMap::new();
    let flagged_set: std::collections::HashSet<MemberIdx> = flagged.iter().copied().collect();
    for m in (0..n).filter(|&m| in_gang[m]) {
        if let Some(id) = row(m).and_then(|r| r.gang_id.as_deref()) {
            let e = sizes.entry(id).or_default();
            e.0 += 1;
            e.1 += usize::from(flagged_set.contains(&(m as MemberIdx)));
        }
    }
    let gangs: Vec<&(usize, usize)> = sizes.values().filter(|(all, _)| *all >= 2).collect();
    let found = gangs.iter().filter(|(all, hit)| 2 * hit >= *all).count();
    let keyed: std::collections::HashSet<MemberIdx> = accounts(&|g| g.found_by == FoundBy::Keys)
        .into_iter()
        .collect();
    let missed: Vec<bool> = (0..n)
        .map(|m| in_gang[m] && !keyed.contains(&(m as MemberIdx)))
        .collect();
    TruthFigures {
        flag,
        flag_wool_precision: flag_wool.precision,
        truth_gangs: gangs.len(),
        truth_gangs_found: found,
        share_found: (!gangs.is_empty()).then(|| found as f64 / gangs.len() as f64),
        peel: Agreement::of(&accounts(&|g| g.found_by == FoundBy::Peel), &missed),
        peel_flagged: Agreement::of(
            &accounts(&|g| g.found_by == FoundBy::Peel && g.flagged),
            &missed,
        ),
    }
}
