//! The model artefact: one JSON file per model version under `models/`, holding everything a
//! scorer needs and everything an analyst needs to trust it: format version, feature names and
//! order, the trees, the calibration, the thresholds, the metrics at training time, the training
//! configuration and a fingerprint of the training data.
//!
//! [`Artefact::score_row`] is the one function that turns a feature row into a decision with
//! reasons; batch scoring runs it over rows in parallel and the HTTP scorer calls it per request.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::calibrate::Calibration;
use super::config::TrainConfig;
use super::gbm::{Gbm, GbmError};
use super::label::Target;
use super::policy::Thresholds;
use super::report::TrainReport;
use crate::features::{self, Moment};

/// The artefact layout this build reads and writes.
pub const FORMAT: u32 = 1;

/// Where the training data came from, to tell one training set from another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataPrint {
    /// A hash over every table's rows (members, coupons, orders, points, labels).
    pub fingerprint: String,
    pub members: usize,
    pub history_rows: usize,
    /// First and last event, Unix seconds.
    pub span: Option<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artefact {
    pub format: u32,
    pub version: String,
    pub target: Target,
    pub moment: Moment,
    /// For member-time models: the days after joining at which training rows were taken.
    pub observe_days: u32,
    pub features: Vec<String>,
    pub gbm: Gbm,
    pub calibration: Calibration,
    pub thresholds: Thresholds,
    pub report: TrainReport,
    pub config: TrainConfig,
    pub data: DataPrint,
    /// The training population's bins, for drift (`woolguard drift`); absent in artefacts
    /// trained before drift was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<super::drift::Profile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtefactError {
    #[error("cannot read model {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write model {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("model {path} is corrupt: {message}")]
    Corrupt { path: String, message: String },
    #[error("model {path} has format {found}; this build reads format {FORMAT} (retrain it with this build)")]
    Format { path: String, found: u64 },
    #[error("model {path} was trained on features this build does not compute: {message}")]
    Features { path: String, message: String },
    #[error(transparent)]
    Unfit(#[from] Box<super::slot::FitError>),
    #[error("scoring with model {version}: {source}")]
    Score { version: String, source: GbmError },
}

/// pass / review / reject.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Pass,
    Review,
    Reject,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Review => "review",
            Decision::Reject => "reject",
        }
    }
}

/// A feature that pushed the score up, in words.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    /// The feature's name in capitals, e.g. `DEVICE_ACCOUNTS`.
    pub code: String,
    pub value: Option<f64>,
    /// Its share of the raw score (log-odds).
    pub contribution: f64,
    /// E.g. `accounts already on this device: 14`.
    pub text: String,
}

/// One member's or candidate's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// The calibrated probability of the model's target (wool, or value).
    pub probability: f64,
    /// 0–100: 100 for the surest genuine, 0 for the surest wool.
    pub quality: u8,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
}

/// The feature names a model of this moment is trained on, in column order.
pub fn feature_names(moment: Moment) -> Vec<&'static str> {
    features::registry()
        .into_iter()
        .filter(|f| moment == Moment::Member || f.moment == Moment::Recruitment)
        .map(|f| f.name)
        .collect()
}

/// 0–100 from a wool probability: 100 for the surest genuine.
pub fn quality(probability: f64) -> u8 {
    (100.0 * (1.0 - probability)).round().clamp(0.0, 100.0) as u8
}

fn display_value(v: f64) -> String {
    if v.is_nan() {
        "none".to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

impl Artefact {
    /// Writes the artefact as JSON, through a temporary file renamed into place so that a
    /// reader never sees half a model.
    pub fn save(&self, path: &Path) -> Result<(), ArtefactError> {
        let shown = path.display().to_string();
        let write = |source| ArtefactError::Write {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let text = serde_json::to_string(self).map_err(|e| ArtefactError::Corrupt {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }

    /// Reads and checks an artefact: its format version first, then the whole structure (the
    /// trees are validated as they load), then that its features are the ones this build
    /// computes, in the same order.
    pub fn load(path: &Path) -> Result<Self, ArtefactError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ArtefactError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_json(&text, &shown)
    }

    /// As [`Artefact::load`], from JSON text; `path` names it in errors.
    pub fn from_json(text: &str, path: &str) -> Result<Self, ArtefactError> {
        let corrupt = |message: String| ArtefactError::Corrupt {
            path: path.to_string(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        let found = value
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| corrupt("no format version".to_string()))?;
        if found != u64::from(FORMAT) {
            return Err(ArtefactError::Format {
                path: path.to_string(),
                found,
            });
        }
        let a: Artefact = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        let expected = feature_names(a.moment);
        if a.features != expected {
            let missing: Vec<&str> = expected
                .iter()
                .filter(|n| !a.features.iter().any(|f| f == *n))
                .copied()
                .collect();
            let unknown: Vec<&str> = a
                .features
                .iter()
                .filter(|f| !expected.contains(&f.as_str()))
                .map(String::as_str)
                .collect();
            return Err(ArtefactError::Features {
                path: path.to_string(),
                message: format!(
                    "unknown {unknown:?}, missing {missing:?}{}",
                    if unknown.is_empty() && missing.is_empty() {
                        " (same names in another order)"
                    } else {
                        ""
                    }
                ),
            });
        }
        if a.gbm.n_features() != a.features.len() {
            return Err(corrupt(format!(
                "trees over {} features, {} feature names",
                a.gbm.n_features(),
                a.features.len()
            )));
        }
        super::slot::check_sane(&a, path).map_err(Box::new)?;
        Ok(a)
    }

    pub fn decide(&self, probability: f64) -> Decision {
        if probability >= self.thresholds.reject {
            Decision::Reject
        } else if probability >= self.thresholds.review {
            Decision::Review
        } else {
            Decision::Pass
        }
    }

    /// Scores one feature row (in `self.features` order) with its `top` strongest reasons.
    pub fn score_row(&self, row: &[f64], top: usize) -> Result<Scored, ArtefactError> {
        let fail = |source| ArtefactError::Score {
            version: self.version.clone(),
            source,
        };
        // The probability comes from the same raw score as the batch path, so a member gets
        // the same decision whichever path scored it.
        let probability = self.probability(self.gbm.predict_raw(row).map_err(fail)?);
        let mut scored = self.bare(probability);
        if top > 0 {
            let contributions = self.gbm.path_contributions(row).map_err(fail)?;
            scored.reasons = self.reasons(row, &contributions.values, top);
        }
        Ok(scored)
    }

    /// The score of a calibrated probability, without reasons.
    pub fn bare(&self, probability: f64) -> Scored {
        Scored {
            probability,
            quality: quality(probability),
            decision: self.decide(probability),
            reasons: Vec::new(),
        }
    }

    /// The calibrated probability of a raw score.
    pub fn probability(&self, raw: f64) -> f64 {
        let p = self.calibration.apply(raw);
        if p.is_nan() {
            0.0
        } else {
            p.clamp(0.0, 1.0)
        }
    }

    /// The `top` features with the largest positive contributions, strongest first.
    pub fn reasons(&self, row: &[f64], contributions: &[f64], top: usize) -> Vec<Reason> {
        let mut order: Vec<usize> = (0..contributions.len())
            .filter(|&j| contributions[j] > 0.0)
            .collect();
        order.sort_by(|&a, &b| {
            contributions[b]
                .total_cmp(&contributions[a])
                .then(a.cmp(&b))
        });
        order
            .into_iter()
            .take(top)
            .map(|j| self.reason(j, row.get(j).copied().unwrap_or(f64::NAN), contributions[j]))
            .collect()
    }

    /// Feature `j`'s reason, with its value `v` (NaN: missing) and its contribution.
    pub fn reason(&self, j: usize, v: f64, contribution: f64) -> Reason {
        let name = self.features.get(j).map_or("", String::as_str);
        let description = features::description(name).unwrap_or(name);
        Reason {
            code: name.to_uppercase(),
            value: (!v.is_nan()).then_some(v),
            contribution,
            text: format!("{description}: {}", display_value(v)),
        }
    }

    /// Scores row-major `rows` in parallel, each through [`Artefact::score_row`].
    pub fn score_rows(&self, rows: &[f64], top: usize) -> Result<Vec<Scored>, ArtefactError> {
        let cols = self.features.len().max(1);
        rows.par_chunks(cols)
            .map(|row| self.score_row(row, top))
            .collect()
    }

    /// Calibrated probabilities of row-major `rows`, without reasons (the fast path).
    pub fn probabilities(&self, rows: &[f64]) -> Result<Vec<f64>, ArtefactError> {
        let raw = self
            .gbm
            .predict_raw_batch(rows, self.features.len())
            .map_err(|source| ArtefactError::Score {
                version: self.version.clone(),
                source,
            })?;
        Ok(raw.into_iter().map(|r| self.probability(r)).collect())
    }
}
