//! What training measured, kept in the model artefact: each family's metrics on the validation
//! rows, the main model's slices, and a fingerprint of the training data. Plain data, so that a
//! build without LightGBM can still load, score and compare artefacts.

use serde::{Deserialize, Serialize};

use super::artefact::DataPrint;
use super::evaluate::{Cutoff, Evaluation, Metrics};
use super::importance::Importance;
use super::label::quality::LabelQuality;
use super::policy::{Basis, Thresholds};
use crate::data::history::NONE;
use crate::data::History;

/// One family's result on the validation rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    pub family: String,
    pub thresholds: Thresholds,
    pub validation: Metrics,
    pub against_truth: Option<Metrics>,
    /// The labels the policy chose the thresholds on (artefacts written before this was
    /// reported have none).
    #[serde(default)]
    pub basis: Option<Basis>,
}

/// What training saw and measured; stored in the artefact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub labelled: usize,
    pub positives: usize,
    pub reviewed: usize,
    pub train_rows: usize,
    pub calibration_rows: usize,
    pub validation_rows: usize,
    /// The main model first, then the baselines.
    pub families: Vec<Family>,
    /// The main model on the validation rows, by channel and campaign.
    pub evaluation: Evaluation,
    /// The labels against the generator's truth, where the history has one (artefacts written
    /// before this was measured have none).
    #[serde(default)]
    pub label_quality: Option<LabelQuality>,
    /// The main model's trade-off table on the validation rows, against labels (artefacts
    /// written before it was measured have none).
    #[serde(default)]
    pub tradeoff: Vec<Cutoff>,
    /// The same against the truth, where the history has one.
    #[serde(default)]
    pub tradeoff_truth: Option<Vec<Cutoff>>,
    /// The trees' feature importance: total split gain, and mean |path attribution| over the
    /// validation rows.
    #[serde(default)]
    pub importance: Option<Importance>,
}

/// A hash over every table of the history: two histories with the same fingerprint hold the same
/// rows.
pub fn fingerprint(h: &History) -> DataPrint {
    use std::hash::{Hash, Hasher};
    let mut s = rustc_hash::FxHasher::default();
    let m = &h.members;
    m.len().hash(&mut s);
    for i in 0..m.len() {
        m.id(i as u32).hash(&mut s);
        m.joined_at[i].hash(&mut s);
        h.keys.opt_name(m.device[i]).hash(&mut s);
        h.keys.opt_name(m.ip[i]).hash(&mut s);
        h.keys.opt_name(m.phone_hash[i]).hash(&mut s);
        h.keys.opt_name(m.inviter[i]).hash(&mut s);
    }
    let c = &h.coupons;
    for i in 0..c.len() {
        (
            c.member[i],
            c.at[i],
            c.event[i] as u8,
            c.face_value[i].to_bits(),
        )
            .hash(&mut s);
    }
    let o = &h.orders;
    for i in 0..o.len() {
        (o.member[i], o.at[i], o.amount[i].to_bits(), o.refunded[i]).hash(&mut s);
        (o.coupon[i] == NONE).hash(&mut s);
    }
    let p = &h.points;
    for i in 0..p.len() {
        (p.member[i], p.at[i], p.delta[i]).hash(&mut s);
    }
    let l = &h.labels;
    for i in 0..l.member.len() {
        (l.member[i], l.label[i], l.at[i]).hash(&mut s);
    }
    DataPrint {
        fingerprint: format!("{:016x}", s.finish()),
        members: m.len(),
        history_rows: h.history_rows(),
        span: h.time_span(),
    }
}
