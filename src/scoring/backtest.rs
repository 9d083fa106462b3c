//! A rule set replayed on a history, point in time: sign-up rules on every member as at their
//! own sign-up (the recruitment features the live scorer would have seen), member rules on every
//! member as of a moment. Per rule and for the set: hits, hit rate by channel and campaign,
//! precision and recall against the reviewed labels (and the truth of a generated history),
//! overlap with the model's rejects, the members only that rule catches, and the decision mix
//! the set would have produced beside the model's alone.

use std::collections::BTreeMap;

use serde::Serialize;

use super::campaign::latest_labels;
use super::members::{MemberScorer, Standings};
use super::rules::{Mode, On, RuleSet};
use super::Judge;
use crate::data::history::{History, MemberIdx};
use crate::model::artefact::{Artefact, ArtefactError, Decision};

/// Hits of a rule (or the set) among the members of a channel or campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slice {
    pub name: String,
    pub members: usize,
    pub hits: usize,
    pub hit_rate: f64,
}

/// How a rule's hits agree with a reference (reviewed labels or truth).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Agreement {
    /// Hits whose reference is known.
    pub known_hits: usize,
    pub wool_hits: usize,
    /// wool hits / known hits.
    pub precision: Option<f64>,
    /// wool hits / every known wool member.
    pub recall: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStats {
    pub name: String,
    pub action: String,
    pub mode: Mode,
    pub hits: usize,
    pub hit_rate: f64,
    pub by_channel: Vec<Slice>,
    /// The ten campaigns with the most hits.
    pub by_campaign: Vec<Slice>,
    pub labels: Agreement,
    pub truth: Option<Agreement>,
    /// Hits the model rejects anyway.
    pub model_rejects: usize,
    /// Hits no other rule matches and the model does not reject.
    pub only_this: usize,
}

/// Decisions by count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Mix {
    pub pass: usize,
    pub review: usize,
    pub reject: usize,
    pub hold_benefits: usize,
}

impl Mix {
    fn add(&mut self, d: Decision, hold: bool) {
        match d {
            Decision::Pass => self.pass += 1,
            Decision::Review => self.review += 1,
            Decision::Reject => self.reject += 1,
        }
        self.hold_benefits += usize::from(hold);
    }
}

/// The backtest of the rules over one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MomentBacktest {
    pub on: On,
    pub model_version: String,
    pub members: usize,
    pub rules: Vec<RuleStats>,
    /// Any enforced rule of this moment.
    pub set: RuleStats,
    pub model_alone: Mix,
    pub with_rules: Mix,
}

/// Replays the rules over `on` with `model` (of that moment) at `as_of` (member rules; sign-up
/// rules are at each member's own sign-up). `truth`, one flag per member, where known.
pub fn backtest(
    h: &History,
    model: &Artefact,
    rules: &RuleSet,
    as_of: i64,
    standings: Option<&Standings<'_>>,
    truth: Option<&[bool]>,
) -> Result<MomentBacktest, ArtefactError> {
    let on = On::of(model.moment);
    let judge = Judge {
        rules,
        ..Judge::model_only()
    };
    let scorer = MemberScorer::new(h, model, judge, as_of, standings);
    let members = scorer.members();
    let judged = scorer.judged(&members, 0)?;
    let labels = latest_labels(h);
    let label = |m: MemberIdx| labels.get(&m).map(|&l| l == 1);
    let truth_of = |m: MemberIdx| truth.and_then(|t| t.get(m as usize).copied());
    let picked: Vec<usize> = (0..rules.rules().len())
        .filter(|&i| rules.rules()[i].spec.on == on)
        .collect();
    let mut model_alone = Mix::default();
    let mut with_rules = Mix::default();
    let mut hits: Vec<Vec<bool>> = vec![vec![false; members.len()]; picked.len()];
    let mut set_hits = vec![false; members.len()];
    for (j, (&m, (scored, outcome))) in members.iter().zip(&judged).enumerate() {
        model_alone.add(scored.decision, false);
        let v = judge.decide(
            model,
            scored.clone(),
            &super::members::member_keys(h, m),
            outcome,
        );
        with_rules.add(v.decision, v.hold_benefits);
        for &i in &outcome.matched {
            if let Some(k) = picked.iter().position(|&p| p == i) {
                hits[k][j] = true;
            }
        }
        set_hits[j] = outcome.decided.is_some();
    }
    let rejects: Vec<bool> = judged
        .iter()
        .map(|(s, _)| s.decision == Decision::Reject)
        .collect();
    let stats = |name: String, action: String, mode: Mode, hit: &[bool], others: &[&[bool]]| {
        let n = members.len();
        let count = hit.iter().filter(|&&x| x).count();
        let agreement = |reference: &dyn Fn(MemberIdx) -> Option<bool>| {
            let (mut known, mut wool, mut all_wool) = (0, 0, 0);
            for (j, &m) in members.iter().enumerate() {
                let Some(w) = reference(m) else { continue };
                all_wool += usize::from(w);
                if hit[j] {
                    known += 1;
                    wool += usize::from(w);
                }
            }
            Agreement {
                known_hits: known,
                wool_hits: wool,
                precision: (known > 0).then(|| wool as f64 / known as f64),
                recall: (all_wool > 0).then(|| wool as f64 / all_wool as f64),
            }
        };
        RuleStats {
            name,
            action,
            mode,
            hits: count,
            hit_rate: count as f64 / n.max(1) as f64,
            by_channel: slices(
                h,
                &members,
                hit,
                |m| h.members.channel[m as usize],
                usize::MAX,
            ),
            by_campaign: slices(h, &members, hit, |m| h.members.campaign[m as usize], 10),
            labels: agreement(&label),
            truth: truth.map(|_| agreement(&truth_of)),
            model_rejects: (0..n).filter(|&j| hit[j] && rejects[j]).count(),
            only_this: (0..n)
                .filter(|&j| hit[j] && !rejects[j] && others.iter().all(|o| !o[j]))
                .count(),
        }
    };
    let per_rule: Vec<RuleStats> = picked
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let spec = &rules.rules()[i].spec;
            let others: Vec<&[bool]> = (0..hits.len())
                .filter(|&o| o != k)
                .map(|o| hits[o].as_slice())
                .collect();
            stats(
                spec.name.clone(),
                spec.action.name().to_string(),
                spec.mode,
                &hits[k],
                &others,
            )
        })
        .collect();
    let set = stats(
        "(enforced rules)".to_string(),
        "-".to_string(),
        Mode::Enforce,
        &set_hits,
        &[],
    );
    Ok(MomentBacktest {
        on,
        model_version: model.version.clone(),
        members: members.len(),
        rules: per_rule,
        set,
        model_alone,
        with_rules,
    })
}

/// Hits by the symbol `key` gives each member, most hits first, at most `top`.
fn slices(
    h: &History,
    members: &[MemberIdx],
    hit: &[bool],
    key: impl Fn(MemberIdx) -> u32,
    top: usize,
) -> Vec<Slice> {
    let mut by: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for (j, &m) in members.iter().enumerate() {
        let e = by.entry(key(m)).or_default();
        e.0 += 1;
        e.1 += usize::from(hit[j]);
    }
    let mut out: Vec<Slice> = by
        .into_iter()
        .map(|(sym, (n, hits))| Slice {
            name: h.keys.opt_name(sym).unwrap_or("(none)").to_string(),
            members: n,
            hits,
            hit_rate: hits as f64 / n.max(1) as f64,
        })
        .collect();
    out.sort_by(|a, b| b.hits.cmp(&a.hits).then(a.name.cmp(&b.name)));
    out.truncate(top);
    out
}
