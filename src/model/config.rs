//! A training configuration, `training/*.toml`: the label rule, the scoring moment, the split,
//! each family's hyper-parameters, the calibration and the threshold policy. Every key has a
//! default, every value is checked before training starts, and a mistake names the file and key.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::baseline::BaselineParams;
use super::dataset::{FeatureParams, SplitParams};
use super::gbm::GbmParams;
use super::label::{LabelParams, LabelRule};
use super::policy::PolicyParams;
use crate::features::recruit::MergeCaps;

/// How held-out scores become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    Isotonic,
    Platt,
}

/// How labelled members are divided between training, calibration and validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitBy {
    /// Older cohorts train, the next calibrate, the newest validate (DESIGN.md §4).
    Time,
    /// A seeded shuffle within each class: for histories too short to split by time.
    Stratified,
}

/// `[split]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Split {
    pub by: SplitBy,
    pub train: f64,
    pub calibration: f64,
    pub seed: u64,
}

impl Default for Split {
    fn default() -> Self {
        let s = SplitParams::default();
        Split {
            by: SplitBy::Time,
            train: s.train,
            calibration: s.calibration,
            seed: 7,
        }
    }
}

/// `[merge]`: how busy a key may be and still join accounts into one connected group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Merge {
    pub device: u32,
    pub phone: u32,
    pub ip24: u32,
    pub inviter: u32,
}

impl Default for Merge {
    fn default() -> Self {
        let c = MergeCaps::default();
        Merge {
            device: c.device,
            phone: c.phone,
            ip24: c.ip24,
            inviter: c.inviter,
        }
    }
}

impl Merge {
    pub fn caps(&self) -> MergeCaps {
        MergeCaps {
            device: self.device,
            phone: self.phone,
            ip24: self.ip24,
            inviter: self.inviter,
        }
    }
}

/// `[training]`: how the main model is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fitting {
    /// Weight positives so both classes carry equal total weight (calibration restores the
    /// probabilities afterwards).
    pub balance_classes: bool,
    pub calibration: CalibrationMethod,
}

impl Default for Fitting {
    fn default() -> Self {
        Fitting {
            balance_classes: true,
            calibration: CalibrationMethod::Isotonic,
        }
    }
}

/// A whole `training/*.toml`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// The model's name; versions are `name-<fingerprint>` unless `train --out` names them.
    pub name: String,
    pub label: LabelParams,
    pub features: FeatureParams,
    pub split: Split,
    pub merge: Merge,
    pub training: Fitting,
    pub gbm: GbmParams,
    pub baselines: BaselineParams,
    pub policy: PolicyParams,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            name: "wool".to_string(),
            label: LabelParams::default(),
            features: FeatureParams::default(),
            split: Split::default(),
            merge: Merge::default(),
            training: Fitting::default(),
            gbm: GbmParams::default(),
            baselines: BaselineParams::default(),
            policy: PolicyParams::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read training config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("training config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("training config {path}: {source}")]
    Invalid { path: String, source: InvalidConfig },
}

/// A value no training can use, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum InvalidConfig {
    #[error("name must be letters, digits, '-' or '_', got {0:?}")]
    Name(String),
    #[error(transparent)]
    Label(#[from] super::label::LabelError),
    #[error("split.train ({train}) and split.calibration ({calibration}) must be in (0, 1) and leave a validation share")]
    Split { train: f64, calibration: f64 },
    #[error("features.observe_days must be at most 3650, got {0}")]
    ObserveDays(u32),
    #[error("merge caps must be at least 1")]
    MergeCaps,
    #[error("gbm: {0}")]
    Gbm(#[from] super::gbm::GbmError),
    #[error("{0}")]
    Baselines(&'static str),
    #[error(transparent)]
    Policy(#[from] super::policy::PolicyError),
}

/// A checked configuration (`TrainConfig::check`).
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub config: TrainConfig,
    pub rule: LabelRule,
}

impl TrainConfig {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Checked, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let config: TrainConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.check().map_err(|source| ConfigError::Invalid {
            path: shown,
            source,
        })
    }

    /// Refuses values no training can use, naming the key.
    pub fn check(self) -> Result<Checked, InvalidConfig> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(InvalidConfig::Name(self.name));
        }
        let rule = self.label.check()?.with_caps(self.merge.caps());
        let s = &self.split;
        let share = |v: f64| v.is_finite() && v > 0.0 && v < 1.0;
        if !share(s.train) || !share(s.calibration) || s.train + s.calibration >= 1.0 {
            return Err(InvalidConfig::Split {
                train: s.train,
                calibration: s.calibration,
            });
        }
        if self.features.observe_days > 3_650 {
            return Err(InvalidConfig::ObserveDays(self.features.observe_days));
        }
        let m = &self.merge;
        if [m.device, m.phone, m.ip24, m.inviter].contains(&0) {
            return Err(InvalidConfig::MergeCaps);
        }
        self.gbm.check()?;
        let b = &self.baselines;
        if !(b.logistic_l2.is_finite() && b.logistic_l2 >= 0.0) || b.logistic_iterations == 0 {
            return Err(InvalidConfig::Baselines(
                "baselines.logistic_l2 must be ≥ 0 and logistic_iterations ≥ 1",
            ));
        }
        if b.forest_trees == 0 || b.forest_max_depth == 0 || b.forest_sample_rows == 0 {
            return Err(InvalidConfig::Baselines(
                "baselines.forest_trees, forest_max_depth and forest_sample_rows must be ≥ 1",
            ));
        }
        let policy = self.policy.check()?;
        Ok(Checked {
            config: TrainConfig { policy, ..self },
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults_and_mistakes_name_the_key() {
        let c: TrainConfig = toml::from_str("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, TrainConfig::default());
        assert!(c.check().is_ok());

        let err = toml::from_str::<TrainConfig>("[split]\ntrian = 0.5\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("trian"), "{err}");

        let bad = TrainConfig {
            split: Split {
                train: 0.9,
                calibration: 0.1,
                ..Split::default()
            },
            ..TrainConfig::default()
        };
        let err = bad.check().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("split.train"), "{err}");

        let err = toml::from_str::<TrainConfig>("[label]\nwindow_days = 0\n")
            .map_err(|e| e.to_string())
            .and_then(|c| c.check().map(|_| ()).map_err(|e| e.to_string()))
            .err()
            .unwrap_or_default();
        assert!(err.contains("window_days"), "{err}");
    }
}
