//! Two models on the same members: each one's metrics, the difference, and a bootstrap interval
//! on the difference in ROC-AUC and in precision at the reject threshold, so that an analyst
//! can tell a better model from a lucky one before promoting it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::artefact::Artefact;
use super::config::TrainConfig;
use super::dataset::assemble;
use super::evaluate::{Metrics, Point};
use super::metrics::roc_auc;
use super::score::ScoreError;
use crate::data::History;

/// Resamples of the bootstrap.
pub const RESAMPLES: usize = 200;

/// A 95% interval of `new − current`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub difference: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub current: String,
    pub new: String,
    pub members: usize,
    pub positives: usize,
    pub current_metrics: Metrics,
    pub new_metrics: Metrics,
    pub roc_auc: Interval,
    pub reject_precision: Interval,
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}

fn interval(point: Option<f64>, mut draws: Vec<f64>) -> Interval {
    draws.retain(|v| v.is_finite());
    draws.sort_by(f64::total_cmp);
    Interval {
        difference: point,
        low: percentile(&draws, 0.025),
        high: percentile(&draws, 0.975),
    }
}

fn precision(p: &Point) -> Option<f64> {
    p.precision
}

/// Compares `current` and `new` on the members of `h` that the current model's label rule can
/// label. Both models must score the same target; each is scored at its own moment.
pub fn compare(
    h: &History,
    current: &Artefact,
    new: &Artefact,
    seed: u64,
) -> Result<Comparison, ScoreError> {
    if current.target != new.target {
        return Err(ScoreError::Targets {
            current: current.version.clone(),
            current_target: current.target.name(),
            new: new.version.clone(),
            new_target: new.target.name(),
        });
    }
    let checked = TrainConfig::check(current.config.clone()).map_err(ScoreError::Config)?;
    // (members, labels, probabilities) of one model.
    type Scores = (Vec<u32>, Vec<u8>, Vec<f64>);
    let scores = |a: &Artefact| -> Result<Scores, ScoreError> {
        let c = TrainConfig::check(a.config.clone()).map_err(ScoreError::Config)?;
        let ds = assemble(h, &c.config.features, &checked.rule, c.config.merge.caps());
        let p = a.probabilities(&ds.matrix.values)?;
        Ok((ds.members, ds.labels, p))
    };
    let (members_a, labels, pa) = scores(current)?;
    let (members_b, _, pb) = scores(new)?;
    if members_a != members_b || labels.is_empty() {
        return Err(ScoreError::NoLabels);
    }
    let ma = Metrics::of(&pa, &labels, &current.thresholds);
    let mb = Metrics::of(&pb, &labels, &new.thresholds);

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = labels.len();
    let (mut auc, mut prec) = (Vec::new(), Vec::new());
    let (mut ra, mut rb, mut ry) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RESAMPLES {
        ra.clear();
        rb.clear();
        ry.clear();
        for _ in 0..n {
            let i = rng.random_range(0..n);
            ra.push(pa[i]);
            rb.push(pb[i]);
            ry.push(labels[i]);
        }
        if let (Some(a), Some(b)) = (roc_auc(&ra, &ry), roc_auc(&rb, &ry)) {
            auc.push(b - a);
        }
        let a = precision(&Point::of(&ra, &ry, current.thresholds.reject));
        let b = precision(&Point::of(&rb, &ry, new.thresholds.reject));
        if let (Some(a), Some(b)) = (a, b) {
            prec.push(b - a);
        }
    }
    let diff = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
    Ok(Comparison {
        current: current.version.clone(),
        new: new.version.clone(),
        members: n,
        positives: ma.positives,
        roc_auc: interval(diff(ma.roc_auc, mb.roc_auc), auc),
        reject_precision: interval(diff(precision(&ma.reject), precision(&mb.reject)), prec),
        current_metrics: ma,
        new_metrics: mb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_intervals_by_hand() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.025), Some(3.0)); // round(2.5) = 3
        assert_eq!(percentile(&v, 0.975), Some(98.0)); // round(97.5) = 98
        assert_eq!(percentile(&[], 0.5), None);
        let i = interval(Some(0.1), vec![0.3, f64::NAN, 0.1, 0.2]);
        assert_eq!((i.low, i.high), (Some(0.1), Some(0.3)));
    }
}
