//! A training set: which members, their feature rows at the configured moment, their labels, and
//! the split by join time (older cohorts train, the next calibrate, the newest validate).

use serde::{Deserialize, Serialize};

use crate::data::{History, MemberIdx};
use crate::features::recruit::MergeCaps;
use crate::features::{self, Matrix, Moment};

use super::label::{LabelRule, LabelSource};

const DAY: i64 = 86_400;

/// `[features]` of `training/*.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureParams {
    /// `recruitment`: score at sign-up; `member`: score as of `observe_days` after joining.
    pub moment: Moment,
    pub observe_days: u32,
}

impl Default for FeatureParams {
    fn default() -> Self {
        FeatureParams {
            moment: Moment::Member,
            observe_days: 14,
        }
    }
}

/// `[split]`: shares of the labelled members, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitParams {
    pub train: f64,
    pub calibration: f64,
}

impl Default for SplitParams {
    fn default() -> Self {
        SplitParams {
            train: 0.7,
            calibration: 0.15,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub members: Vec<MemberIdx>,
    pub matrix: Matrix,
    pub labels: Vec<u8>,
    pub sources: Vec<LabelSource>,
    pub joined_at: Vec<i64>,
}

/// Row positions of each part of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub calibration: Vec<usize>,
    pub validation: Vec<usize>,
}

/// The moment each member is scored at for training: their join, or `observe_days` later.
pub fn cutoffs(history: &History, members: &[MemberIdx], f: &FeatureParams) -> Option<Vec<i64>> {
    match f.moment {
        Moment::Recruitment => None,
        Moment::Member => Some(
            members
                .iter()
                .map(|&m| history.members.joined_at[m as usize] + i64::from(f.observe_days) * DAY)
                .collect(),
        ),
    }
}

/// Every member with a known label, with features at the configured moment.
///
/// One sweep of the history serves the features and the labels: it probes every member at their
/// own cutoff (which members have a label is known only after; a probe only reads the sweep's
/// state, so a row is the same whichever others are probed), and its state after the last event
/// holds the connected groups labels spread through. The rule's own outcomes are worked out
/// beside it.
pub fn assemble(
    history: &History,
    f: &FeatureParams,
    rule: &LabelRule,
    caps: MergeCaps,
) -> Dataset {
    let data_end = history.time_span().map_or(0, |(_, hi)| hi);
    let everyone: Vec<MemberIdx> = (0..history.members.len() as MemberIdx).collect();
    let every_cut = cutoffs(history, &everyone, f);
    let at = match &every_cut {
        Some(c) => features::Cutoffs::Each(&everyone, c),
        None => features::Cutoffs::None,
    };
    let (mut labelled, (builder, state)) = rayon::join(
        || {
            let ix = features::member::MemberIndex::build(history);
            rule.outcomes(history, &ix, data_end)
        },
        || features::Builder::with_state(history, caps, at),
    );
    // The sweep's groups are the rule's only where both merge accounts alike.
    let groups = state.as_ref().filter(|_| rule.caps() == caps);
    rule.finish(history, data_end, groups, &mut labelled);
    let mut members = Vec::new();
    let mut labels = Vec::new();
    let mut sources = Vec::new();
    for (m, (label, source)) in labelled.into_iter().enumerate() {
        if let Some(l) = label {
            members.push(m as MemberIdx);
            labels.push(l);
            sources.push(source);
        }
    }
    let matrix = builder.rows(&members);
    let joined_at = members
        .iter()
        .map(|&m| history.members.joined_at[m as usize])
        .collect();
    Dataset {
        members,
        matrix,
        labels,
        sources,
        joined_at,
    }
}

/// Splits rows by join time: the oldest `train` share, then `calibration`, then the rest.
pub fn split_by_time(joined_at: &[i64], p: &SplitParams) -> Split {
    let mut order: Vec<usize> = (0..joined_at.len()).collect();
    order.sort_by_key(|&i| (joined_at[i], i));
    let n = order.len() as f64;
    let a = (n * p.train).round() as usize;
    let b = ((n * (p.train + p.calibration)).round() as usize).max(a);
    let b = b.min(order.len());
    Split {
        train: order[..a.min(order.len())].to_vec(),
        calibration: order[a.min(order.len())..b].to_vec(),
        validation: order[b..].to_vec(),
    }
}

/// Splits rows within each class by a seeded shuffle, in the same shares as [`split_by_time`]:
/// for histories too short to hold out a later cohort.
pub fn split_stratified(labels: &[u8], p: &SplitParams, seed: u64) -> Split {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut split = Split {
        train: Vec::new(),
        calibration: Vec::new(),
        validation: Vec::new(),
    };
    for class in [0u8, 1] {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        let n = rows.len() as f64;
        let a = ((n * p.train).round() as usize).min(rows.len());
        let b = ((n * (p.train + p.calibration)).round() as usize).clamp(a, rows.len());
        split.train.extend_from_slice(&rows[..a]);
        split.calibration.extend_from_slice(&rows[a..b]);
        split.validation.extend_from_slice(&rows[b..]);
    }
    for part in [
        &mut split.train,
        &mut split.calibration,
        &mut split.validation,
    ] {
        part.sort_unstable();
    }
    split
}

/// The rows of `m` at `rows`, as one row-major block.
pub fn take_rows(m: &Matrix, rows: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * m.cols());
    for &r in rows {
        out.extend_from_slice(m.row(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_by_time_not_by_position() {
        let joined = [50, 10, 40, 20, 30, 60, 70, 80, 90, 100];
        let s = split_by_time(&joined, &SplitParams::default());
        assert_eq!(s.train, vec![1, 3, 4, 2, 0, 5, 6]);
        assert_eq!(s.calibration, vec![7, 8]);
        assert_eq!(s.validation, vec![9]);
    }

    #[test]
    fn stratified_split_keeps_class_shares() {
        let labels: Vec<u8> = (0..100).map(|i| u8::from(i % 10 == 0)).collect();
        let s = split_stratified(&labels, &SplitParams::default(), 3);
        let wool = |rows: &[usize]| rows.iter().filter(|&&i| labels[i] == 1).count();
        // 10 wool: 7 train, 1.5 → 2 calibration (rounded at 8.5 → 9), 1 validation.
        assert_eq!(
            (wool(&s.train), wool(&s.calibration), wool(&s.validation)),
            (7, 2, 1)
        );
        assert_eq!(
            s.train.len() + s.calibration.len() + s.validation.len(),
            100
        );
        assert_eq!(s, split_stratified(&labels, &SplitParams::default(), 3));
    }
}
