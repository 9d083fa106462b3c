//! Models: labels for training, and (as they land) training, calibration, evaluation and the
//! versioned artefacts the scorer loads. Never reads a feature's inputs itself: features come
//! from `crate::features`.

pub mod artefact;
pub mod baseline;
pub mod calibrate;
pub mod compare;
pub mod config;
pub mod dataset;
pub mod drift;
pub mod evaluate;
pub mod gbm;
#[cfg(feature = "gbm")]
pub mod holdout;
pub mod importance;
pub mod label;
pub mod metrics;
pub mod policy;
pub mod registry;
pub mod report;
pub mod score;
pub mod slot;
#[cfg(feature = "gbm")]
pub mod train;
