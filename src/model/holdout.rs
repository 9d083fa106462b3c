//! Cold start, measured: how the model does on a campaign it has never seen. Each campaign with
//! enough labelled members is held out in turn; the model is trained on the others (the main
//! family with the training config, its calibration and thresholds on the latest fifth of the
//! others by join time), then measured on the held-out campaign's members, against the labels
//! and, for a generated history, the truth.

use serde::Serialize;

use super::config::Checked;
use super::dataset::{assemble, split_by_time, take_rows, SplitParams};
use super::evaluate::{truth_labels, Metrics};
use super::gbm;
use super::label::Target;
use super::train::{family, TrainError};
use crate::data::{History, MemberIdx, NONE};

/// One held-out campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldOut {
    pub campaign: String,
    /// Labelled members of the campaign (the measured rows) and the rows trained on.
    pub members: usize,
    pub trained_on: usize,
    pub labels: Metrics,
    pub truth: Option<Metrics>,
}

/// Holds out, in turn, every campaign with at least `min_members` labelled members and at least
/// one of each label among the others; campaigns by size, largest first.
pub fn by_campaign(
    h: &History,
    checked: &Checked,
    truth: Option<&[bool]>,
    min_members: usize,
) -> Result<Vec<HeldOut>, TrainError> {
    let config = &checked.config;
    let ds = assemble(h, &config.features, &checked.rule, config.merge.caps());
    if ds.labels.is_empty() {
        return Err(TrainError::NoLabels);
    }
    let truth = truth.filter(|_| checked.rule.params().target == Target::Wool);
    let campaign_of = |i: usize| h.members.campaign[ds.members[i] as usize];
    let mut sizes: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    for i in 0..ds.labels.len() {
        let c = campaign_of(i);
        if c != NONE {
            *sizes.entry(c).or_default() += 1;
        }
    }
    let mut campaigns: Vec<(u32, usize)> = sizes
        .into_iter()
        .filter(|&(_, n)| n >= min_members)
        .collect();
    campaigns.sort_by(|a, b| b.1.cmp(&a.1).then(h.keys.name(a.0).cmp(h.keys.name(b.0))));
    let cols = ds.matrix.cols();
    let mut out = Vec::with_capacity(campaigns.len());
    for (c, n) in campaigns {
        let (held, others): (Vec<usize>, Vec<usize>) =
            (0..ds.labels.len()).partition(|&i| campaign_of(i) == c);
        // The others: the earlier four fifths fit the trees, the latest fifth calibrates them.
        let joined: Vec<i64> = others.iter().map(|&i| ds.joined_at[i]).collect();
        let split = split_by_time(
            &joined,
            &SplitParams {
                train: 0.8,
                calibration: 0.2,
            },
        );
        let rows = |part: &[usize]| -> Vec<usize> { part.iter().map(|&j| others[j]).collect() };
        let (fit, cal) = (rows(&split.train), rows(&split.calibration));
        let labels = |rows: &[usize]| -> Vec<u8> { rows.iter().map(|&i| ds.labels[i]).collect() };
        let (y_fit, y_cal, y_held) = (labels(&fit), labels(&cal), labels(&held));
        let both = |y: &[u8]| y.contains(&0) && y.contains(&1);
        if !both(&y_fit) || !both(&y_cal) {
            continue;
        }
        let y32: Vec<f32> = y_fit.iter().map(|&y| f32::from(y)).collect();
        let trees = gbm::train(
            &take_rows(&ds.matrix, &fit),
            fit.len(),
            cols,
            &y32,
            None,
            &config.gbm,
        )?;
        let cal_raw = trees.predict_raw_batch(&take_rows(&ds.matrix, &cal), cols)?;
        let held_raw = trees.predict_raw_batch(&take_rows(&ds.matrix, &held), cols)?;
        let held_members: Vec<MemberIdx> = held.iter().map(|&i| ds.members[i]).collect();
        let held_truth = truth.and_then(|t| truth_labels(t, &held_members));
        let (f, _, _) = family(
            "gbm",
            checked,
            (&cal_raw, &y_cal),
            (&held_raw, &y_held),
            held_truth.as_deref(),
        );
        out.push(HeldOut {
            campaign: h.keys.name(c).to_string(),
            members: n,
            trained_on: fit.len() + cal.len(),
            labels: f.validation,
            truth: f.against_truth,
        });
    }
    Ok(out)
}
