//! The member-value report (`woolguard report`): one self-contained HTML page with the headline
//! numbers (with a model, the share of the labelled wool its rejects and reviews catch, at what
//! precision) and diagnostic flags, tier sizes and wool share, wool share per channel and by
//! channel over time, the campaigns, the RFM grid, the Pareto curve, the four tracks per period
//! and, where a model is given, its ROC, precision–recall and reliability curves on the members as
//! of a date. A share on too few members is greyed with its count, a wool share carries its
//! Wilson 95% interval, and where the history cannot measure wool the page says so instead of
//! showing 0% (all from `members::diagnose`).
//!
//! [`build`] gathers every figure from the library's own computations — `members::diagnose` for
//! every per-group and per-period number and the flags, `members::segment` for the RFM scores
//! behind the grid and the Pareto curve, `model` for labels, features, probabilities and
//! metrics — and reduces them to aggregates: a report over a million members holds a few hundred
//! numbers. It never computes a group or period figure of its own.
//! [`page::render`] turns those into HTML with inline CSS, inline SVG from [`svg`] and a few lines
//! of inline script for tooltips. The page never loads anything from the network.

pub mod drift;
pub mod gangs;
pub mod page;
pub mod svg;

use serde::Serialize;

use crate::data::history::{History, MemberIdx};
use crate::features::{self, Moment};
use crate::members::diagnose::{self, DiagnoseError, DiagnoseRules, Diagnosis, Predicted};
use crate::members::rfm::{RfmRules, Segment};
use crate::members::segment::{self, Segmentation};
use crate::members::tier::TierRules;
use crate::model::artefact::Artefact;
use crate::model::artefact::ArtefactError;
use crate::model::config::TrainConfig;
use crate::model::dataset::cutoffs;
use crate::model::evaluate::{tradeoff, truth_labels, Cutoff, Metrics};
use crate::model::importance::{self, Importance};
use crate::model::metrics::{self, curve};
use crate::model::score::ScoreError;
use crate::scoring::members::{MemberScorer, Standings};

pub use page::render;

/// The points of a curve, (x, y).
pub type Points = Vec<(f64, f64)>;

/// Points kept on a drawn curve (ROC, PR, Pareto): enough to look smooth, few enough to stay small.
pub const CURVE_POINTS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error(transparent)]
    Diagnose(#[from] DiagnoseError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Members and sales per cell of the RFM grid: `[r - 1][fm - 1]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmGrid {
    pub members: [[usize; 5]; 5],
    pub sales: [[f64; 5]; 5],
    pub segments: [[Segment; 5]; 5],
    /// Members without an order before the as-of moment (outside the grid).
    pub no_orders: usize,
}

/// Members and sales of each (R, FM) cell of a segmentation.
pub fn rfm_grid(s: &Segmentation, rules: &RfmRules) -> RfmGrid {
    let mut members = [[0usize; 5]; 5];
    let mut cents = [[0i64; 5]; 5];
    let mut no_orders = 0;
    for (sc, v) in s.scores.iter().zip(&s.rfm) {
        let fm = rules.fm(*sc);
        if !(1..=5).contains(&sc.r) || !(1..=5).contains(&fm) {
            no_orders += 1;
            continue;
        }
        let (r, f) = (usize::from(sc.r) - 1, usize::from(fm) - 1);
        members[r][f] += 1;
        cents[r][f] = cents[r][f].saturating_add(v.monetary_cents);
    }
    RfmGrid {
        members,
        sales: cents.map(|row| row.map(|c| c as f64 / 100.0)),
        segments: rules.grid,
        no_orders,
    }
}

/// The Pareto (Lorenz-style) curve: for member shares 0, 1/`points`, …, 1 (members ranked by
/// sales, highest first), the share of sales they bring. Empty when nobody bought anything.
pub fn pareto_curve(monetary_cents: &[i64], points: usize) -> Vec<(f64, f64)> {
    let mut sorted = monetary_cents.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let total: i64 = sorted.iter().sum();
    let n = sorted.len();
    if total <= 0 || n == 0 {
        return Vec::new();
    }
    let points = points.max(1);
    let mut out = Vec::with_capacity(points + 1);
    let (mut taken, mut sum) = (0usize, 0i64);
    for i in 0..=points {
        let k = (n * i).div_ceil(points);
        while taken < k {
            sum += sorted[taken];
            taken += 1;
        }
        out.push((k as f64 / n as f64, sum as f64 / total as f64));
    }
    out
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    pub members: usize,
    pub mean_probability: f64,
    pub observed_rate: f64,
}

/// Reliability bins: `bins` equal-width probability bins (the ones of the ECE), empty ones left
/// out.
pub fn reliability(probs: &[f64], labels: &[u8], bins: usize) -> Vec<Bin> {
    metrics::probability_bins(probs, labels, bins)
        .iter()
        .map(|b| Bin {
            members: b.count,
            mean_probability: b.sum_p / b.count as f64,
            observed_rate: b.sum_y / b.count as f64,
        })
        .collect()
}

/// At most `keep` points of `points`, evenly spread, always with the first and the last.
pub fn thin<T: Copy>(points: &[T], keep: usize) -> Vec<T> {
    let n = points.len();
    if n <= keep || keep < 2 {
        return points.to_vec();
    }
    (0..keep)
        .map(|i| points[i * (n - 1) / (keep - 1)])
        .collect()
}

/// ROC points (false-positive rate, true-positive rate) from (0, 0) to (1, 1), and PR points
/// (recall, precision), from the model's own threshold sweep (`model::metrics::curve`).
pub fn roc_pr(probs: &[f64], labels: &[u8]) -> (Points, Points) {
    let pos = labels.iter().filter(|&&l| l == 1).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return (Vec::new(), Vec::new());
    }
    let sweep = curve(probs, labels);
    let mut roc = vec![(0.0, 0.0)];
    let mut pr = Vec::with_capacity(sweep.len());
    for t in &sweep {
        let tp = (t.precision * t.flagged as f64).round();
        let fp = t.flagged as f64 - tp;
        roc.push((fp / neg as f64, t.recall));
        pr.push((t.recall, t.precision));
    }
    (thin(&roc, CURVE_POINTS), thin(&pr, CURVE_POINTS))
}

/// A model measured on the members as of the report's date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSection {
    pub version: String,
    pub target: &'static str,
    /// Members labelled as of the date (the label rule's window closed before it, or reviewed).
    pub metrics: Option<Metrics>,
    pub roc: Vec<(f64, f64)>,
    pub pr: Vec<(f64, f64)>,
    pub reliability: Vec<Bin>,
    pub review_threshold: f64,
    pub reject_threshold: f64,
    /// The members as of the date against the model's training population (PSI above 0.25
    /// flagged); `None` for a model that keeps no training profile.
    pub drift: Option<crate::model::drift::Drift>,
    /// What each cut-off would flag, catch and get right on these members, against labels.
    pub tradeoff: Vec<Cutoff>,
    /// The same against the truth, where the history has one.
    pub tradeoff_truth: Option<Vec<Cutoff>>,
    /// The trees' split gain (as trained) and mean |path attribution| over these members.
    pub importance: Option<Importance>,
}

/// The model's metrics and curves on every member who joined before `as_of` and has a label as
/// of it: the model's own label rule over an outcome window that closed by `as_of` (or a review),
/// features at the model's moment as in `woolguard evaluate`, never after `as_of`; with the
/// trade-off table also against `truth` (one flag per member) where given.
pub fn model_section(
    h: &History,
    a: &Artefact,
    as_of: i64,
    truth: Option<&[bool]>,
) -> Result<ModelSection, ReportError> {
    let checked = TrainConfig::check(a.config.clone()).map_err(ScoreError::Config)?;
    let ix = features::member::MemberIndex::build(h);
    let labelled = checked.rule.labels(h, &ix, as_of);
    let mut members: Vec<MemberIdx> = Vec::new();
    let mut labels = Vec::new();
    for (m, (label, _)) in labelled.into_iter().enumerate() {
        if let (Some(l), true) = (label, h.members.joined_at[m] < as_of) {
            members.push(m as MemberIdx);
            labels.push(l);
        }
    }
    let mut section = ModelSection {
        version: a.version.clone(),
        target: a.target.name(),
        metrics: None,
        roc: Vec::new(),
        pr: Vec::new(),
        reliability: Vec::new(),
        review_threshold: a.thresholds.review,
        reject_threshold: a.thresholds.reject,
        drift: crate::model::drift::of_history_until(a, h, None, as_of, 0.25).ok(),
        tradeoff: Vec::new(),
        tradeoff_truth: None,
        importance: None,
    };
    if members.is_empty() {
        return Ok(section);
    }
    let cut = cutoffs(h, &members, &checked.config.features)
        .map(|c| c.into_iter().map(|t| t.min(as_of)).collect::<Vec<_>>());
    let cut = if a.moment == Moment::Recruitment {
        None
    } else {
        cut
    };
    let matrix = features::build(h, checked.config.merge.caps(), &members, cut.as_deref());
    let probs = a.probabilities(&matrix.values).map_err(ScoreError::from)?;
    let (roc, pr) = roc_pr(&probs, &labels);
    section.metrics = Some(Metrics::of(&probs, &labels, &a.thresholds));
    section.roc = roc;
    section.pr = pr;
    section.reliability = reliability(&probs, &labels, 10);
    section.tradeoff = tradeoff(&probs, &labels, &a.thresholds);
    section.tradeoff_truth = truth
        .and_then(|t| truth_labels(t, &members))
        .map(|y| tradeoff(&probs, &y, &a.thresholds));
    let gain = a
        .report
        .importance
        .as_ref()
        .and_then(|i| i.gains_for(&a.features));
    section.importance = Some(
        importance::measure(&a.gbm, &a.features, gain.as_deref(), &matrix.values).map_err(
            |source| {
                ScoreError::from(ArtefactError::Score {
                    version: a.version.clone(),
                    source,
                })
            },
        )?,
    );
    Ok(section)
}

/// Everything the page shows, as aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Where the history came from, as the user named it.
    pub source: String,
    /// UTC seconds.
    pub as_of: i64,
    /// Every group and period figure, and the flags.
    pub diagnosis: Diagnosis,
    pub grid: RfmGrid,
    pub pareto: Vec<(f64, f64)>,
    pub model: Option<ModelSection>,
    /// The gangs as of the date, by the shipped flag rule.
    pub gangs: gangs::GangsSection,
}

/// What a report is built from.
pub struct Inputs<'a> {
    pub history: &'a History,
    pub source: String,
    pub tiers: &'a TierRules,
    pub rfm: &'a RfmRules,
    pub diagnose: &'a DiagnoseRules,
    pub as_of: i64,
    pub model: Option<&'a Artefact>,
    /// The truth of a generated history (one flag per member), for the model's trade-off table.
    pub truth: Option<&'a [bool]>,
    /// The lists and rules the model's decisions are made under (`Judge::model_only()`: none).
    pub judge: crate::scoring::Judge<'a>,
}

/// Gathers every figure of the report.
pub fn build(i: &Inputs<'_>) -> Result<Report, ReportError> {
    let seg = segment::segment(i.history, i.tiers, i.rfm, i.as_of);
    let rejects = i
        .model
        .map(|a| {
            let standings = Standings::new(i.history, &seg, i.tiers);
            MemberScorer::new(i.history, a, i.judge, i.as_of, Some(&standings)).rejects()
        })
        .transpose()
        .map_err(ScoreError::from)?;
    let predicted = i.model.zip(rejects.as_deref()).map(|(a, r)| Predicted {
        version: &a.version,
        rejects: r,
    });
    let diagnosis = diagnose::diagnose_segmented(i.history, i.diagnose, i.tiers, &seg, predicted)?;
    let grid = rfm_grid(&seg, i.rfm);
    let cents: Vec<i64> = seg.rfm.iter().map(|v| v.monetary_cents).collect();
    let pareto = pareto_curve(&cents, CURVE_POINTS);
    drop(seg);
    let rule = crate::gangs::GangRule::default();
    let set = crate::gangs::find(
        i.history,
        i.as_of,
        &rule,
        None,
        crate::gangs::Options::default(),
    );
    let gangs = gangs::section(i.history, &set, &rule.flag);
    drop(set);
    let model = i
        .model
        .map(|a| model_section(i.history, a, i.as_of, i.truth))
        .transpose()?;
    Ok(Report {
        source: i.source.clone(),
        as_of: i.as_of,
        diagnosis,
        grid,
        pareto,
        model,
        gangs,
    })
}

/// Builds the report and writes the page to `out`; returns its size in bytes.
pub fn write(i: &Inputs<'_>, out: &std::path::Path) -> Result<usize, ReportError> {
    let html = render(&build(i)?);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ReportError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(out, &html).map_err(|source| ReportError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(html.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_curve_by_hand() {
        // Sales 50, 30, 10, 10, 0 (cents ×100): top 20% (1 member) → 50%, top 40% → 80%.
        let c = pareto_curve(&[1_000, 5_000, 0, 3_000, 1_000], 5);
        assert_eq!(
            c,
            vec![
                (0.0, 0.0),
                (0.2, 0.5),
                (0.4, 0.8),
                (0.6, 0.9),
                (0.8, 1.0),
                (1.0, 1.0)
            ]
        );
        assert!(pareto_curve(&[0, 0], 5).is_empty());
    }

    #[test]
    fn reliability_bins_by_hand() {
        // Bins of 0.5: [0.1, 0.3, 0.4] with labels 0, 1, 0; [0.8, 0.9] with 0, 1.
        let b = reliability(&[0.9, 0.8, 0.4, 0.3, 0.1], &[1, 0, 0, 1, 0], 2);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].members, 3);
        assert!((b[0].mean_probability - 0.8 / 3.0).abs() < 1e-12);
        assert!((b[0].observed_rate - 1.0 / 3.0).abs() < 1e-12);
        assert!((b[1].mean_probability - 0.85).abs() < 1e-12);
        assert_eq!(b[1].observed_rate, 0.5);
    }

    #[test]
    fn roc_and_pr_by_hand() {
        // Ranked 1 0 1 0 0: ROC steps (0,.5) (1/3,.5) (1/3,1) (2/3,1) (1,1).
        let (roc, pr) = roc_pr(&[0.9, 0.8, 0.4, 0.3, 0.1], &[1, 0, 1, 0, 0]);
        let want = [
            (0.0, 0.0),
            (0.0, 0.5),
            (1.0 / 3.0, 0.5),
            (1.0 / 3.0, 1.0),
            (2.0 / 3.0, 1.0),
            (1.0, 1.0),
        ];
        assert_eq!(roc.len(), want.len());
        for (a, b) in roc.iter().zip(want) {
            assert!(
                (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12,
                "{a:?} vs {b:?}"
            );
        }
        assert_eq!(pr[0], (0.5, 1.0));
        assert_eq!(pr[2], (1.0, 2.0 / 3.0));
        assert_eq!(roc_pr(&[0.5], &[1]).0, vec![]);
    }

    #[test]
    fn thin_keeps_the_ends() {
        let v: Vec<usize> = (0..1_000).collect();
        let t = thin(&v, 5);
        assert_eq!(t, vec![0, 249, 499, 749, 999]);
        assert_eq!(thin(&v[..3], 5), vec![0, 1, 2]);
    }
}
