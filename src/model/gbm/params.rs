//! Hyper-parameters of the LightGBM booster: unchecked as written in `training/*.toml`, and the
//! checked form ([`CheckedGbmParams`]) that `check()` makes of them and training reads.

use serde::{Deserialize, Serialize};

use super::{GbmError, MAX_TREE_NODES};

/// Hyper-parameters of a binary LightGBM booster, as written in `training/*.toml`.
///
/// Unchecked as deserialised; [`GbmParams::check`] (called by [`train`]) refuses values LightGBM
/// would reject or silently clamp. Training is always run with `deterministic=true` and
/// `force_row_wise=true`, so the same data, parameters and `num_threads` give the same trees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbmParams {
    /// Boosting rounds (one tree each for a binary objective).
    pub num_trees: u32,
    pub num_leaves: u32,
    pub learning_rate: f64,
    pub min_data_in_leaf: u32,
    /// Share of features sampled for each tree, in (0, 1].
    pub feature_fraction: f64,
    /// Share of rows sampled, in (0, 1]; used when `bagging_freq` > 0.
    pub bagging_fraction: f64,
    /// Re-sample rows every this many rounds; 0 disables bagging.
    pub bagging_freq: u32,
    pub lambda_l2: f64,
    pub seed: u64,
    /// OpenMP threads for LightGBM; 0 = one per core. Trees are reproducible only for the same
    /// value, so committed configurations should set it.
    pub num_threads: u32,
}

impl Default for GbmParams {
    fn default() -> Self {
        Self {
            num_trees: 300,
            num_leaves: 63,
            learning_rate: 0.05,
            min_data_in_leaf: 20,
            feature_fraction: 0.9,
            bagging_fraction: 0.8,
            bagging_freq: 1,
            lambda_l2: 1.0,
            seed: 42,
            num_threads: 0,
        }
    }
}

impl GbmParams {
    /// The checked parameters, or the first value LightGBM would reject or clamp, named.
    pub fn check(&self) -> Result<CheckedGbmParams, GbmError> {
        fn bad<T>(name: &'static str, reason: impl Into<String>) -> Result<T, GbmError> {
            Err(GbmError::InvalidParam {
                name,
                reason: reason.into(),
            })
        }
        let fraction = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        if self.num_trees == 0 {
            return bad("num_trees", "must be at least 1");
        }
        // A tree of n leaves has 2n - 1 nodes, which must fit the u16 node index.
        if self.num_leaves < 2 || 2 * self.num_leaves as usize - 1 > MAX_TREE_NODES {
            return bad(
                "num_leaves",
                format!("must be in 2..={}", MAX_TREE_NODES.div_ceil(2)),
            );
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a positive number");
        }
        if self.min_data_in_leaf == 0 {
            return bad("min_data_in_leaf", "must be at least 1");
        }
        if !fraction(self.feature_fraction) {
            return bad("feature_fraction", "must be in (0, 1]");
        }
        if !fraction(self.bagging_fraction) {
            return bad("bagging_fraction", "must be in (0, 1]");
        }
        if !(self.lambda_l2.is_finite() && self.lambda_l2 >= 0.0) {
            return bad("lambda_l2", "must be a non-negative number");
        }
        if self.seed > i32::MAX as u64 {
            // LightGBM reads seeds as C `int`.
            return bad("seed", format!("must be at most {}", i32::MAX));
        }
        if self.num_threads > 1024 {
            return bad("num_threads", "must be at most 1024");
        }
        Ok(CheckedGbmParams(self.clone()))
    }
}

/// [`GbmParams`] that passed [`GbmParams::check`]: the only form training reads.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedGbmParams(GbmParams);

impl CheckedGbmParams {
    pub fn params(&self) -> &GbmParams {
        &self.0
    }

    /// LightGBM's parameter map. `num_iterations` is the key `lightgbm3` reads for its loop.
    #[cfg(feature = "gbm")]
    pub(super) fn to_lightgbm(&self) -> serde_json::Value {
        let p = &self.0;
        serde_json::json!({
            "objective": "binary",
            "boosting": "gbdt",
            "num_iterations": p.num_trees,
            "num_leaves": p.num_leaves,
            "learning_rate": p.learning_rate,
            "min_data_in_leaf": p.min_data_in_leaf,
            "feature_fraction": p.feature_fraction,
            "bagging_fraction": p.bagging_fraction,
            "bagging_freq": p.bagging_freq,
            "lambda_l2": p.lambda_l2,
            "seed": p.seed,
            "num_threads": p.num_threads,
            "deterministic": true,
            // `deterministic` alone still lets LightGBM time row- vs column-wise histograms
            // and pick one per run; forcing one keeps runs identical.
            "force_row_wise": true,
            "verbosity": -1,
        })
    }
}
