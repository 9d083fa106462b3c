//! Training through LightGBM (`lightgbm3`), then export into our own [`Gbm`]. The only code
//! that calls LightGBM; built with the `gbm` feature.

use super::{Gbm, GbmError, GbmParams, MAX_FEATURES};

/// Trains a binary LightGBM booster and exports it into our own [`Gbm`].
///
/// `x` is row-major, `n_rows × n_features`; NaN means missing. `y` holds labels 0 or 1. Weights,
/// when given, must be finite and non-negative with a positive sum; LightGBM keeps them as
/// `f32`, so they are rounded to that.
pub fn train(
    x: &[f64],
    n_rows: usize,
    n_features: usize,
    y: &[f32],
    weights: Option<&[f64]>,
    params: &GbmParams,
) -> Result<Gbm, GbmError> {
    train_with_gain(x, n_rows, n_features, y, weights, params).map(|(gbm, _)| gbm)
}

/// As [`train`], with each feature's total split gain over the trees (LightGBM's gain
/// importance, in feature order): our exported trees keep no gain, so it is taken here.
pub fn train_with_gain(
    x: &[f64],
    n_rows: usize,
    n_features: usize,
    y: &[f32],
    weights: Option<&[f64]>,
    params: &GbmParams,
) -> Result<(Gbm, Vec<f64>), GbmError> {
    let booster = train_booster(x, n_rows, n_features, y, weights, params)?;
    let gbm = Gbm::from_lightgbm(&booster)?;
    if gbm.n_features() != n_features {
        return Err(GbmError::InvalidModel(format!(
            "LightGBM exported {} features, trained on {n_features}",
            gbm.n_features()
        )));
    }
    let gain = booster
        .feature_importance(lightgbm3::ImportanceType::Gain)
        .map_err(|e| GbmError::LightGbm {
            context: "reading the split gains",
            source: e,
        })?;
    if gain.len() != n_features {
        return Err(GbmError::InvalidModel(format!(
            "LightGBM gave {} split gains for {n_features} features",
            gain.len()
        )));
    }
    Ok((gbm, gain))
}

/// The LightGBM side of [`train`]: the booster itself, for comparing LightGBM's own predictions
/// with ours on the very same trees (tests, benchmarks). Services use [`train`].
pub fn train_booster(
    x: &[f64],
    n_rows: usize,
    n_features: usize,
    y: &[f32],
    weights: Option<&[f64]>,
    params: &GbmParams,
) -> Result<lightgbm3::Booster, GbmError> {
    let params = params.check()?;
    check_training_data(x, n_rows, n_features, y, weights)?;
    // Both were checked against i32::MAX above, as LightGBM's C API takes `int`.
    let n_features_i32 = n_features as i32;
    let mut dataset = lightgbm3::Dataset::from_slice(x, y, n_features_i32, true).map_err(|e| {
        GbmError::LightGbm {
            context: "building the training dataset",
            source: e,
        }
    })?;
    if let Some(w) = weights {
        let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        dataset.set_weights(&w32).map_err(|e| GbmError::LightGbm {
            context: "setting row weights",
            source: e,
        })?;
    }
    lightgbm3::Booster::train(dataset, &params.to_lightgbm()).map_err(|e| GbmError::LightGbm {
        context: "training",
        source: e,
    })
}

fn check_training_data(
    x: &[f64],
    n_rows: usize,
    n_features: usize,
    y: &[f32],
    weights: Option<&[f64]>,
) -> Result<(), GbmError> {
    let bad = |m: String| Err(GbmError::InvalidData(m));
    if n_rows == 0 || n_features == 0 {
        return bad(format!(
            "{n_rows} rows × {n_features} features: nothing to train on"
        ));
    }
    if n_rows > i32::MAX as usize || n_features > MAX_FEATURES {
        return bad(format!(
            "{n_rows} rows × {n_features} features is too large"
        ));
    }
    if n_rows.checked_mul(n_features) != Some(x.len()) {
        return bad(format!(
            "x has {} values, expected {n_rows} rows × {n_features} features",
            x.len()
        ));
    }
    if y.len() != n_rows {
        return bad(format!("{} labels for {n_rows} rows", y.len()));
    }
    if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
        return bad(format!("label of row {i} is {}, expected 0 or 1", y[i]));
    }
    let positives = y.iter().filter(|&&v| v == 1.0).count();
    if positives == 0 || positives == n_rows {
        return bad("labels hold only one class".to_string());
    }
    if let Some(w) = weights {
        if w.len() != n_rows {
            return bad(format!("{} weights for {n_rows} rows", w.len()));
        }
        if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return bad(format!(
                "weight of row {i} is {}, expected finite and >= 0",
                w[i]
            ));
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return bad("weights sum to zero".to_string());
        }
    }
    Ok(())
}
