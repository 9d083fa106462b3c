//! Models: labels for training, and (as they land) training, calibration, evaluation and the
//! versioned artefacts the scorer loads. Never reads a feature's inputs itself: features come
//! from `crate::features`.

#[cfg(feature = "gbm")]
pub mod artefact;
pub mod baseline;
pub mod calibrate;
#[cfg(feature = "gbm")]
pub mod compare;
pub mod config;
pub mod dataset;
pub mod evaluate;
#[cfg(feature = "gbm")]
pub mod gbm;
pub mod label;
pub mod metrics;
pub mod policy;
#[cfg(feature = "gbm")]
pub mod registry;
#[cfg(feature = "gbm")]
pub mod score;
#[cfg(feature = "gbm")]
pub mod train;
