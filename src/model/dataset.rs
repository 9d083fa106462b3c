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
#[serde(deny_unknown_fields)]
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
pub fn assemble(
    history: &History,
    f: &FeatureParams,
    rule: &LabelRule,
    caps: MergeCaps,
) -> Dataset {
    let ix = features::member::MemberIndex::build(history);
    let data_end = history.time_span().map_or(0, |(_, hi)| hi);
    let labelled = rule.labels(history, &ix, data_end);
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
    let cut = cutoffs(history, &members, f);
    let matrix = features::build(history, caps, &members, cut.as_deref());
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
}
