//! Training: from a history and a checked configuration to a model artefact, with the three
//! families side by side.
//!
//! 1. Labelled members and their feature rows at the configured moment (`dataset::assemble`).
//! 2. Split by join time (or stratified): train, calibration, validation.
//! 3. The gradient-boosted trees (LightGBM, exported into our own trees) on the training rows,
//!    classes balanced by weight; calibrated on the calibration rows; thresholds chosen there by
//!    the policy; measured on the validation rows, overall and by channel and campaign.
//! 4. The baselines (logistic regression, random forest) on the same feature rows, built once,
//!    calibrated and thresholded the same way, measured on the same validation rows.
//! 5. The main model's trade-off table and feature importance on the validation rows.
//!
//! Nothing here is timed into the artefact: the same history and configuration give the same
//! file, byte for byte.

use std::time::Instant;

use serde::Serialize;

use super::artefact::{feature_names, Artefact, FORMAT};
use super::baseline::{forest, logistic, BaselineError, BaselineParams};
use super::calibrate::Calibration;
use super::config::{CalibrationMethod, Checked, SplitBy};
use super::dataset::{
    assemble, split_by_time, split_stratified, take_rows, Dataset, Split, SplitParams,
};
use super::evaluate::{slices, tradeoff, truth_labels, Evaluation, Metrics};
use super::gbm::{self, GbmError};
use super::importance;
use super::label::quality::LabelQuality;
use super::label::{LabelSource, Target};
use super::policy::Rows;
use super::report::{fingerprint, Family, TrainReport};
use crate::data::{History, MemberIdx};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no labelled members: every member's outcome window is still open and no reviewed labels were given")]
    NoLabels,
    #[error("the {part} part of the split has only one class ({rows} rows); use more history or `split.by = \"stratified\"`")]
    OneClass { part: &'static str, rows: usize },
    #[error("gradient-boosted trees: {0}")]
    Gbm(#[from] GbmError),
    #[error("profiling the training population: {0}")]
    Profile(#[from] super::artefact::ArtefactError),
    #[error("{0}")]
    Baseline(#[from] BaselineError),
}

/// Seconds spent in each phase of one training run (printed, not stored).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub phases: Vec<(String, f64)>,
}

impl Timings {
    pub fn time<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.phases
            .push((name.to_string(), start.elapsed().as_secs_f64()));
        out
    }
}

fn labels_at(ds: &Dataset, rows: &[usize]) -> Vec<u8> {
    rows.iter().map(|&i| ds.labels[i]).collect()
}

fn check_classes(ds: &Dataset, split: &Split) -> Result<(), TrainError> {
    for (part, rows) in [
        ("train", &split.train),
        ("calibration", &split.calibration),
        ("validation", &split.validation),
    ] {
        let pos = rows.iter().filter(|&&i| ds.labels[i] == 1).count();
        if pos == 0 || pos == rows.len() {
            return Err(TrainError::OneClass {
                part,
                rows: rows.len(),
            });
        }
    }
    Ok(())
}

fn calibrate(method: CalibrationMethod, scores: &[f64], labels: &[u8]) -> Calibration {
    match method {
        CalibrationMethod::Isotonic => Calibration::fit_isotonic(scores, labels),
        CalibrationMethod::Platt => Calibration::fit_platt(scores, labels),
    }
}

/// A family's calibrated probabilities on the calibration and validation rows → its report.
pub(crate) fn family(
    name: &str,
    checked: &Checked,
    cal: (&[f64], &[u8]),
    val: (&[f64], &[u8]),
    truth: Option<&[u8]>,
) -> (Family, Calibration, Vec<f64>) {
    family_on(name, checked, cal, val, truth, None)
}

/// As [`family`], with the rows whose label is a review marked (calibration rows, validation
/// rows) for a policy that sets its thresholds on reviews.
pub(crate) fn family_on(
    name: &str,
    checked: &Checked,
    cal: (&[f64], &[u8]),
    val: (&[f64], &[u8]),
    truth: Option<&[u8]>,
    reviewed: Option<(&[bool], &[bool])>,
) -> (Family, Calibration, Vec<f64>) {
    let calibration = calibrate(checked.config.training.calibration, cal.0, cal.1);
    let cal_p: Vec<f64> = cal.0.iter().map(|&s| calibration.apply(s)).collect();
    let val_p: Vec<f64> = val.0.iter().map(|&s| calibration.apply(s)).collect();
    let held_p = [cal_p.as_slice(), val_p.as_slice()].concat();
    let held_y = [cal.1, val.1].concat();
    let marks = match reviewed {
        Some((c, v)) => [c, v].concat(),
        None => vec![false; held_y.len()],
    };
    let (thresholds, basis) = checked.config.policy.choose_on(&Rows {
        cal_probs: &cal_p,
        cal_labels: cal.1,
        held_probs: &held_p,
        held_labels: &held_y,
        reviewed: &marks,
    });
    let f = Family {
        family: name.to_string(),
        thresholds,
        validation: Metrics::of(&val_p, val.1, &thresholds),
        against_truth: truth.map(|t| Metrics::of(&val_p, t, &thresholds)),
        basis: Some(basis),
    };
    (f, calibration, val_p)
}

/// Trains every family on `history` and returns the main model's artefact (named `version`),
/// with the phase timings. `truth` (generated data only) adds metrics against the truth.
pub fn train(
    history: &History,
    checked: &Checked,
    version: &str,
    truth: Option<&[bool]>,
) -> Result<(Artefact, Timings), TrainError> {
    let config = &checked.config;
    let mut timings = Timings::default();
    let ds = timings.time("features", || {
        assemble(
            history,
            &config.features,
            &checked.rule,
            config.merge.caps(),
        )
    });
    if ds.labels.is_empty() {
        return Err(TrainError::NoLabels);
    }
    let shares = SplitParams {
        train: config.split.train,
        calibration: config.split.calibration,
    };
    let split = match config.split.by {
        SplitBy::Time => split_by_time(&ds.joined_at, &shares),
        SplitBy::Stratified => split_stratified(&ds.labels, &shares, config.split.seed),
    };
    check_classes(&ds, &split)?;
    let cols = ds.matrix.cols();
    let x_train = take_rows(&ds.matrix, &split.train);
    let x_cal = take_rows(&ds.matrix, &split.calibration);
    let x_val = take_rows(&ds.matrix, &split.validation);
    let y_train = labels_at(&ds, &split.train);
    let y_cal = labels_at(&ds, &split.calibration);
    let y_val = labels_at(&ds, &split.validation);
    let reviewed_at = |rows: &[usize]| -> Vec<bool> {
        rows.iter()
            .map(|&i| ds.sources[i] == LabelSource::Reviewed)
            .collect()
    };
    let (r_cal, r_val) = (
        reviewed_at(&split.calibration),
        reviewed_at(&split.validation),
    );
    // The truth says who is wool: it measures wool models only.
    let truth = truth.filter(|_| checked.rule.params().target == Target::Wool);
    let val_members: Vec<MemberIdx> = split.validation.iter().map(|&i| ds.members[i]).collect();
    let truth_val = truth.and_then(|t| truth_labels(t, &val_members));

    // The main model.
    let weights = config.training.balance_classes.then(|| {
        let pos = y_train.iter().filter(|&&y| y == 1).count() as f64;
        let neg = y_train.len() as f64 - pos;
        let w = neg / pos.max(1.0);
        y_train
            .iter()
            .map(|&y| if y == 1 { w } else { 1.0 })
            .collect::<Vec<f64>>()
    });
    let y32: Vec<f32> = y_train.iter().map(|&y| f32::from(y)).collect();
    let (trees, gain) = timings.time("gbm", || {
        gbm::train_with_gain(
            &x_train,
            y_train.len(),
            cols,
            &y32,
            weights.as_deref(),
            &config.gbm,
        )
    })?;
    let (main, calibration, val_p) = timings.time("calibration", || -> Result<_, TrainError> {
        let cal_raw = trees.predict_raw_batch(&x_cal, cols)?;
        let val_raw = trees.predict_raw_batch(&x_val, cols)?;
        Ok(family_on(
            "gbm",
            checked,
            (&cal_raw, &y_cal),
            (&val_raw, &y_val),
            truth_val.as_deref(),
            Some((&r_cal, &r_val)),
        ))
    })?;

    // The baselines, on the same rows.
    let b = &config.baselines;
    let mut families = vec![main.clone()];
    type Fit = fn(&[f64], &[u8], &[f64], usize, &BaselineParams) -> Result<Vec<f64>, BaselineError>;
    let baselines: [(&str, Fit); 2] = [("random_forest", forest), ("logistic", logistic)];
    for (name, fit) in baselines {
        let scored = timings.time(name, || -> Result<_, TrainError> {
            let both = [x_cal.as_slice(), x_val.as_slice()].concat();
            let p: Vec<f64> = fit(&x_train, &y_train, &both, cols, b)?;
            Ok(p)
        })?;
        let (cal_s, val_s) = scored.split_at(y_cal.len());
        let (f, _, _) = family_on(
            name,
            checked,
            (cal_s, &y_cal),
            (val_s, &y_val),
            truth_val.as_deref(),
            Some((&r_cal, &r_val)),
        );
        families.push(f);
    }

    let features: Vec<String> = feature_names(config.features.moment)
        .into_iter()
        .map(str::to_string)
        .collect();
    let (evaluation, importance) = timings.time("evaluation", || -> Result<_, TrainError> {
        let (by_channel, by_campaign) =
            slices(history, &val_members, &val_p, &y_val, &main.thresholds);
        let importance = importance::measure(&trees, &features, Some(&gain), &x_val)?;
        Ok((
            Evaluation {
                overall: main.validation,
                against_truth: main.against_truth,
                by_channel,
                by_campaign,
            },
            importance,
        ))
    })?;

    let report = TrainReport {
        labelled: ds.labels.len(),
        positives: ds.labels.iter().filter(|&&l| l == 1).count(),
        reviewed: ds
            .sources
            .iter()
            .filter(|&&s| s == LabelSource::Reviewed)
            .count(),
        train_rows: split.train.len(),
        calibration_rows: split.calibration.len(),
        validation_rows: split.validation.len(),
        families,
        evaluation,
        label_quality: timings.time("label quality", || {
            truth.and_then(|t| {
                LabelQuality::measure(history, &ds.members, &ds.labels, &ds.sources, t)
            })
        }),
        tradeoff: tradeoff(&val_p, &y_val, &main.thresholds),
        tradeoff_truth: truth_val
            .as_deref()
            .map(|y| tradeoff(&val_p, y, &main.thresholds)),
        importance: Some(importance),
    };
    let artefact = Artefact {
        format: FORMAT,
        version: version.to_string(),
        target: checked.rule.params().target,
        moment: config.features.moment,
        observe_days: config.features.observe_days,
        features,
        gbm: trees,
        calibration,
        thresholds: main.thresholds,
        report,
        config: config.clone(),
        data: timings.time("fingerprint", || fingerprint(history)),
        profile: None,
    };
    let held_out: Vec<usize> = split
        .calibration
        .iter()
        .chain(&split.validation)
        .copied()
        .collect();
    let profile = timings.time("drift profile", || {
        super::drift::profile_rows(&artefact, history, &ds.members, &ds.matrix, &held_out)
    })?;
    let artefact = Artefact {
        profile: Some(profile),
        ..artefact
    };
    Ok((artefact, timings))
}
