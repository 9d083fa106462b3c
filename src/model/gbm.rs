//! Gradient-boosted trees for the wool and value classifiers: trained by LightGBM, evaluated by us.
//!
//! [`train`] fits a binary LightGBM booster through the `lightgbm3` crate and exports it, through
//! LightGBM's own model text, into [`Gbm`]: plain serde data (flat node arrays per tree with each
//! node's cover) that any runtime can evaluate. Everything after training — raw scores,
//! probabilities, path attributions and exact TreeSHAP — is our own code over that data, so a
//! scorer needs no C++ at run time and a model artefact is just JSON.
//!
//! What this module must never do:
//! - call LightGBM after training: prediction and explanations are pure Rust, and must agree with
//!   LightGBM's `predict` / `pred_contrib` (the tests hold raw scores to bit equality, TreeSHAP
//!   to 1e-9);
//! - diverge from LightGBM's missing-value rules (NaN, `missing_type` None / Zero / NaN,
//!   `default_left`, values within ±1e-35 read as zero), since a model scored differently from
//!   how it was validated is silently wrong;
//! - panic on anything a file or a caller controls: corrupt trees are refused when loaded
//!   ([`Gbm::new`] and deserialisation validate), and a row of the wrong width is an error;
//! - hold training data, calibration or thresholds: those belong to the model artefact.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// LightGBM reads a value with `|x| <= kZeroThreshold` as zero (`1e-35f`, a float widened to
/// double, so not the same number as `1e-35_f64`).
const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// Deeper trees are refused: TreeSHAP recurses once per level and needs O(depth²) scratch, and
/// LightGBM's leaf-wise trees of a few hundred leaves stay far below this.
pub const MAX_TREE_DEPTH: usize = 512;

/// Node indices inside one tree are `u16` in the attribution layout (keeping nodes at 16 bytes),
/// so a tree may have at most this many nodes (internal + leaves).
const MAX_TREE_NODES: usize = u16::MAX as usize;

/// Row keys are addressed by `u16` offsets over up to four variants of a row.
pub const MAX_FEATURES: usize = (u16::MAX as usize + 1) / 4;

/// Distinct thresholds per feature that prediction supports: a row's value becomes a `u16` bin
/// (how many of them lie below it), and `u16::MAX` is left for "above every threshold".
const MAX_CUTS: usize = u16::MAX as usize;

/// Rows walked together through one tree: their walks are independent, so interleaving them hides
/// the load latency of one behind the others. Eight keep every walk's index in a register
/// (measured: 4 and 16 are 15–25% slower).
const GROUP: usize = 8;

/// Rows binned at once and then taken through all trees, tree by tree, so that a tree's nodes are
/// read from L1 for all of them; their bins (`BLOCK` · 80 · 2 bytes) stay in L1 as well.
const BLOCK: usize = 128;

/// Lockstep cost model (see [`lockstep_steps`]), in lockstep row-steps: a mispredicted exit
/// branch, and one step of a walk that has no other walk to overlap with. Tuned on the
/// benchmark (20/4 and 30/4 tie; 6/2 is 20% slower, 4/2 25% slower).
const MISS_COST: f64 = 20.0;
const SERIAL_STEP_COST: f64 = 4.0;

/// Rows the column-wise kernel takes through a tree at once.
const LANES: usize = 128;
/// Bytes of the vector registers the portable walk is written for (SSE2, NEON).
const WIDTH: usize = 16;
/// Trees the column-wise kernel walks before adding their leaf values to the rows' scores.
const GATHER: usize = 4;
type Lanes = [u8; LANES];

/// Rows per rayon task in the batch paths: large enough to amortise scheduling.
const PAR_CHUNK: usize = 2048;

// -------------------------------------------------------------------------------------------
// Errors
// -------------------------------------------------------------------------------------------

/// Errors of training, importing, validating and evaluating gradient-boosted trees.
#[derive(Debug, thiserror::Error)]
pub enum GbmError {
    #[error("invalid GBM parameter `{name}`: {reason}")]
    InvalidParam { name: &'static str, reason: String },

    #[error("invalid training data: {0}")]
    InvalidData(String),

    #[cfg(feature = "gbm")]
    #[error("LightGBM failed while {context}")]
    LightGbm {
        context: &'static str,
        #[source]
        source: lightgbm3::Error,
    },

    #[error("LightGBM model text, line {line}: {reason}")]
    ModelText { line: usize, reason: String },

    #[error("LightGBM model text, line {line}: cannot parse `{key}`")]
    ModelNumber {
        line: usize,
        key: String,
        #[source]
        source: NumberError,
    },

    #[error("unsupported LightGBM model: {0}")]
    Unsupported(String),

    #[error("invalid tree {tree}: {reason}")]
    InvalidTree { tree: usize, reason: String },

    #[error("invalid model: {0}")]
    InvalidModel(String),

    #[error("rows have {got} features, the model expects {expected}")]
    FeatureCount { expected: usize, got: usize },

    #[error("row data of length {len} is not a whole number of rows of {n_features} features")]
    RaggedRows { len: usize, n_features: usize },
}

/// A number in LightGBM's model text that did not parse.
#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    #[error(transparent)]
    Float(#[from] std::num::ParseFloatError),
    #[error(transparent)]
    Int(#[from] std::num::ParseIntError),
}

// -------------------------------------------------------------------------------------------
// Parameters
// -------------------------------------------------------------------------------------------

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
    /// Refuses values LightGBM would reject or clamp, naming the parameter.
    pub fn check(&self) -> Result<(), GbmError> {
        fn bad(name: &'static str, reason: impl Into<String>) -> Result<(), GbmError> {
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
        Ok(())
    }

    /// LightGBM's parameter map. `num_iterations` is the key `lightgbm3` reads for its loop.
    #[cfg(feature = "gbm")]
    fn to_lightgbm(&self) -> serde_json::Value {
        serde_json::json!({
            "objective": "binary",
            "boosting": "gbdt",
            "num_iterations": self.num_trees,
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "num_threads": self.num_threads,
            "deterministic": true,
            // `deterministic` alone still lets LightGBM time row- vs column-wise histograms
            // and pick one per run; forcing one keeps runs identical.
            "force_row_wise": true,
            "verbosity": -1,
        })
    }
}

// -------------------------------------------------------------------------------------------
// Training
// -------------------------------------------------------------------------------------------

#[cfg(feature = "gbm")]
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
    let booster = train_booster(x, n_rows, n_features, y, weights, params)?;
    let gbm = Gbm::from_lightgbm(&booster)?;
    if gbm.n_features() != n_features {
        return Err(GbmError::InvalidModel(format!(
            "LightGBM exported {} features, trained on {n_features}",
            gbm.n_features()
        )));
    }
    Ok(gbm)
}

#[cfg(feature = "gbm")]
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
    params.check()?;
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

#[cfg(feature = "gbm")]
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

// -------------------------------------------------------------------------------------------
// The model as data
// -------------------------------------------------------------------------------------------

/// How a split treats missing values (LightGBM's `missing_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingType {
    /// No missing values seen in training: NaN is read as 0 and compared.
    None,
    /// Zero (|x| ≤ 1e-35) and NaN go the default direction.
    Zero,
    /// NaN goes the default direction; zero is compared like any value.
    Nan,
}

/// One regression tree as flat arrays, in LightGBM's encoding.
///
/// Internal node `i` (root = 0) sends a row left when `x[split_feature[i]] <= threshold[i]`,
/// except for missing values (see [`MissingType`]). A child `c >= 0` is internal node `c`; `c < 0`
/// is leaf `!c` (`-1` is leaf 0). Covers are the training rows (bagged, unweighted) that reached
/// the node: TreeSHAP and path attributions weight subtrees by them. A single-leaf tree has empty
/// internal arrays and one leaf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    pub split_feature: Vec<u32>,
    #[serde(with = "thresholds_json")]
    pub threshold: Vec<f64>,
    pub default_left: Vec<bool>,
    pub missing_type: Vec<MissingType>,
    pub left_child: Vec<i32>,
    pub right_child: Vec<i32>,
    pub internal_cover: Vec<f64>,
    pub leaf_value: Vec<f64>,
    pub leaf_cover: Vec<f64>,
}

impl Tree {
    fn n_internal(&self) -> usize {
        self.split_feature.len()
    }

    fn cover(&self, child: i32) -> f64 {
        if child >= 0 {
            self.internal_cover[child as usize]
        } else {
            self.leaf_cover[!child as usize]
        }
    }

    /// LightGBM's `Tree::ExpectedValue`, in its order of operations, so that the bias of both
    /// attribution methods is bit-for-bit LightGBM's.
    fn expected_value(&self) -> f64 {
        if self.n_internal() == 0 {
            return self.leaf_value[0];
        }
        let total = self.internal_cover[0];
        self.leaf_value
            .iter()
            .zip(&self.leaf_cover)
            .fold(0.0, |acc, (v, c)| acc + (c / total) * v)
    }

    /// Checks that the arrays form one tree over `n_features` and returns its depth (edges on the
    /// longest root-to-leaf path).
    fn validate(&self, n_features: usize) -> Result<usize, String> {
        let n = self.n_internal();
        let lens = [
            ("threshold", self.threshold.len()),
            ("default_left", self.default_left.len()),
            ("missing_type", self.missing_type.len()),
            ("left_child", self.left_child.len()),
            ("right_child", self.right_child.len()),
            ("internal_cover", self.internal_cover.len()),
        ];
        if let Some((name, len)) = lens.iter().find(|(_, len)| *len != n) {
            return Err(format!("{name} has {len} entries, split_feature has {n}"));
        }
        if self.leaf_value.len() != n + 1 || self.leaf_cover.len() != n + 1 {
            return Err(format!(
                "{} leaf values and {} leaf covers for {n} internal nodes (expected {})",
                self.leaf_value.len(),
                self.leaf_cover.len(),
                n + 1
            ));
        }
        if 2 * n + 1 > MAX_TREE_NODES {
            return Err(format!(
                "{} nodes, at most {MAX_TREE_NODES} supported",
                2 * n + 1
            ));
        }
        for i in 0..n {
            if self.split_feature[i] as usize >= n_features {
                return Err(format!(
                    "node {i} splits on feature {}, the model has {n_features}",
                    self.split_feature[i]
                ));
            }
            // +inf is legitimate: LightGBM splits "NaN vs everything else" there.
            if self.threshold[i].is_nan() {
                return Err(format!("node {i} has threshold {}", self.threshold[i]));
            }
            if !(self.internal_cover[i].is_finite() && self.internal_cover[i] > 0.0) {
                return Err(format!("node {i} has cover {}", self.internal_cover[i]));
            }
        }
        for (j, (v, c)) in self.leaf_value.iter().zip(&self.leaf_cover).enumerate() {
            if !v.is_finite() {
                return Err(format!("leaf {j} has value {v}"));
            }
            // A zero cover would make TreeSHAP divide by zero; LightGBM leaves hold >= 1 row.
            if !(c.is_finite() && *c > 0.0) {
                return Err(format!("leaf {j} has cover {c}"));
            }
        }
        // Every node but the root and every leaf must be some node's child exactly once, and all
        // must hang from the root: a walk from the root that meets each once proves a tree.
        if n == 0 {
            return Ok(0);
        }
        let mut seen_internal = vec![false; n];
        let mut seen_leaf = vec![false; n + 1];
        let mut stack = vec![(0usize, 0usize)];
        seen_internal[0] = true;
        let mut depth = 0;
        while let Some((i, d)) = stack.pop() {
            for c in [self.left_child[i], self.right_child[i]] {
                if c >= 0 {
                    let c = c as usize;
                    if c >= n || seen_internal[c] {
                        return Err(format!("node {i} has child {c}: not a tree"));
                    }
                    seen_internal[c] = true;
                    stack.push((c, d + 1));
                } else {
                    let leaf = !c as usize;
                    if leaf > n || seen_leaf[leaf] {
                        return Err(format!("node {i} has leaf child {leaf}: not a tree"));
                    }
                    seen_leaf[leaf] = true;
                    depth = depth.max(d + 1);
                }
            }
            if d + 1 > MAX_TREE_DEPTH {
                return Err(format!("deeper than {MAX_TREE_DEPTH} levels"));
            }
        }
        if seen_internal.iter().any(|s| !s) || seen_leaf.iter().any(|s| !s) {
            return Err("some nodes are unreachable from the root".to_string());
        }
        Ok(depth)
    }
}

/// JSON has no infinities, and LightGBM puts its "NaN vs everything else" splits at +inf:
/// infinite thresholds travel as the strings `"inf"` / `"-inf"`, finite ones as numbers.
mod thresholds_json {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Threshold {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|&v| {
            if v.is_finite() {
                Threshold::Number(v)
            } else if v > 0.0 {
                Threshold::Text("inf".to_string())
            } else if v < 0.0 {
                Threshold::Text("-inf".to_string())
            } else {
                Threshold::Text("nan".to_string()) // refused on load, as by `Tree::validate`
            }
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Threshold>::deserialize(d)?
            .into_iter()
            .map(|t| match t {
                Threshold::Number(v) => Ok(v),
                Threshold::Text(s) if s == "inf" => Ok(f64::INFINITY),
                Threshold::Text(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
                Threshold::Text(s) => Err(D::Error::custom(format!("threshold `{s}`"))),
            })
            .collect()
    }
}

/// A binary gradient-boosted tree ensemble: `raw = base_score + Σ trees`,
/// `probability = 1 / (1 + exp(-sigmoid · raw))`.
///
/// Serialises as plain data (`n_features`, `base_score`, `sigmoid`, `trees`); deserialising
/// validates the trees and rebuilds the evaluation layout, so a corrupt model is refused on load.
#[derive(Clone, Debug)]
pub struct Gbm {
    n_features: usize,
    base_score: f64,
    sigmoid: f64,
    trees: Vec<Tree>,
    eval: Layout,
}

/// Contributions of each feature to one row's raw score: `bias + Σ values = raw score`.
#[derive(Clone, Debug, PartialEq)]
pub struct Contributions {
    /// One per feature, in model order.
    pub values: Vec<f64>,
    /// The expected raw score over the training rows (cover-weighted), plus the base score.
    pub bias: f64,
}

impl Contributions {
    /// The raw score these contributions add up to.
    pub fn total(&self) -> f64 {
        self.bias + self.values.iter().sum::<f64>()
    }
}

impl Gbm {
    /// Builds a model from its trees, refusing anything that is not a valid ensemble over
    /// `n_features` features.
    pub fn new(
        n_features: usize,
        base_score: f64,
        sigmoid: f64,
        trees: Vec<Tree>,
    ) -> Result<Self, GbmError> {
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(GbmError::InvalidModel(format!(
                "{n_features} features (supported: 1..={MAX_FEATURES})"
            )));
        }
        if !base_score.is_finite() {
            return Err(GbmError::InvalidModel(format!("base score {base_score}")));
        }
        if !(sigmoid.is_finite() && sigmoid > 0.0) {
            return Err(GbmError::InvalidModel(format!("sigmoid {sigmoid}")));
        }
        let mut depths = Vec::with_capacity(trees.len());
        for (t, tree) in trees.iter().enumerate() {
            let depth = tree
                .validate(n_features)
                .map_err(|reason| GbmError::InvalidTree { tree: t, reason })?;
            depths.push(depth);
        }
        let eval = Layout::build(n_features, &trees, &depths)?;
        Ok(Self {
            n_features,
            base_score,
            sigmoid,
            trees,
            eval,
        })
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    pub fn base_score(&self) -> f64 {
        self.base_score
    }

    pub fn sigmoid(&self) -> f64 {
        self.sigmoid
    }

    /// The raw score (log-odds scaled by `sigmoid`) of one row.
    pub fn predict_raw(&self, row: &[f64]) -> Result<f64, GbmError> {
        self.check_width(row.len())?;
        let mut out = [0.0];
        match &self.eval.narrow {
            Some(walk) => self.predict_one::<u32>(walk, row, &mut out),
            None => self.predict_one::<u64>(&self.eval.walk, row, &mut out),
        }
        Ok(out[0])
    }

    /// The wool probability of one row.
    pub fn predict_proba(&self, row: &[f64]) -> Result<f64, GbmError> {
        Ok(self.proba(self.predict_raw(row)?))
    }

    /// Raw scores of row-major `rows` of `n_features` each; parallel (rayon's current pool) when
    /// there are many rows.
    pub fn predict_raw_batch(&self, rows: &[f64], n_features: usize) -> Result<Vec<f64>, GbmError> {
        let n_rows = self.check_rows(rows.len(), n_features)?;
        let mut out = vec![0.0; n_rows];
        if n_rows <= PAR_CHUNK {
            self.predict_chunk(rows, &mut out);
        } else {
            out.par_chunks_mut(PAR_CHUNK)
                .zip(rows.par_chunks(PAR_CHUNK * n_features))
                .for_each(|(out, rows)| self.predict_chunk(rows, out));
        }
        Ok(out)
    }

    /// Probabilities of row-major `rows`, as [`Gbm::predict_raw_batch`].
    pub fn predict_proba_batch(
        &self,
        rows: &[f64],
        n_features: usize,
    ) -> Result<Vec<f64>, GbmError> {
        let mut out = self.predict_raw_batch(rows, n_features)?;
        out.iter_mut().for_each(|v| *v = self.proba(*v));
        Ok(out)
    }

    /// Path attributions (Saabas): along the one root-to-leaf path of each tree, a split
    /// contributes `value(child) − value(node)` to its feature, where a node's value is the
    /// cover-weighted mean of its leaves. Costs about one prediction; exact for the score, only
    /// an approximation of Shapley values.
    pub fn path_contributions(&self, row: &[f64]) -> Result<Contributions, GbmError> {
        self.check_width(row.len())?;
        let mut phi = vec![0.0; self.n_features + 1];
        self.path_row(&self.eval.row_keys(row), &mut phi);
        Ok(split_bias(phi))
    }

    /// Exact TreeSHAP (Lundberg et al., interventional on covers), identical in its arithmetic
    /// to LightGBM's `pred_contrib`. Costs O(leaves · depth²) per tree: far more than a
    /// prediction.
    pub fn shap_contributions(&self, row: &[f64]) -> Result<Contributions, GbmError> {
        self.check_width(row.len())?;
        let mut phi = vec![0.0; self.n_features + 1];
        let mut scratch = self.shap_scratch();
        self.shap_row(&self.eval.row_keys(row), &mut phi, &mut scratch);
        Ok(split_bias(phi))
    }

    /// Path attributions of many rows: `n_rows × (n_features + 1)`, each row's bias last
    /// (LightGBM's `pred_contrib` layout).
    pub fn path_contributions_batch(
        &self,
        rows: &[f64],
        n_features: usize,
    ) -> Result<Vec<f64>, GbmError> {
        self.contributions_batch(rows, n_features, |row, phi, _| self.path_row(row, phi))
    }

    /// Exact TreeSHAP of many rows, laid out as [`Gbm::path_contributions_batch`].
    pub fn shap_contributions_batch(
        &self,
        rows: &[f64],
        n_features: usize,
    ) -> Result<Vec<f64>, GbmError> {
        self.contributions_batch(rows, n_features, |row, phi, scratch| {
            self.shap_row(row, phi, scratch)
        })
    }

    fn proba(&self, raw: f64) -> f64 {
        // LightGBM's binary `ConvertOutput`.
        1.0 / (1.0 + (-self.sigmoid * raw).exp())
    }

    fn check_width(&self, got: usize) -> Result<(), GbmError> {
        if got == self.n_features {
            Ok(())
        } else {
            Err(GbmError::FeatureCount {
                expected: self.n_features,
                got,
            })
        }
    }

    fn check_rows(&self, len: usize, n_features: usize) -> Result<usize, GbmError> {
        self.check_width(n_features)?;
        if !len.is_multiple_of(n_features) {
            return Err(GbmError::RaggedRows { len, n_features });
        }
        Ok(len / n_features)
    }

    fn predict_one<N: WalkNode>(&self, walk: &[N], row: &[f64], out: &mut [f64; 1]) {
        let mut bins = vec![N::Bin::default(); self.eval.stride];
        self.eval.bins_into::<N, 1>(row, 1, &mut bins);
        self.predict_groups::<1, N>(walk, &bins, out);
    }

    /// Serial prediction of whole rows, on the narrow layout where the model fits it.
    fn predict_chunk(&self, rows: &[f64], out: &mut [f64]) {
        match (&self.eval.splits, &self.eval.narrow) {
            (Some(splits), _) => self.predict_columns(splits, rows, out),
            (None, Some(walk)) => self.predict_rows::<u32>(walk, rows, out),
            (None, None) => self.predict_rows::<u64>(&self.eval.walk, rows, out),
        }
    }

    /// Column-wise prediction: blocks of [`LANES`] rows, binned with the rows side by side (a
    /// feature's bins of the whole block are one [`Lanes`]), then taken through each tree at
    /// once: every row holds the index of the node it is at, and each split, in breadth-first
    /// order, moves the rows at its node to a child (a byte compare per row, in vector
    /// registers; [`tree_walk`] picks the walk for this CPU). No row walks alone and no branch
    /// depends on a row. Leaf values are added [`GATHER`] trees at a time, in tree order.
    fn predict_columns(&self, splits: &[Split], rows: &[f64], out: &mut [f64]) {
        let (nf, stride) = (self.n_features, self.eval.stride);
        let walk = tree_walk();
        let mut bins = vec![0u8; LANES * stride];
        let mut at: [Lanes; GATHER] = [[0; LANES]; GATHER];
        for (rows, out) in rows.chunks(LANES * nf).zip(out.chunks_mut(LANES)) {
            self.eval.column_bins(rows, &mut bins);
            out.fill(0.0);
            for trees in self.eval.trees.chunks(GATHER) {
                for (t, at) in trees.iter().zip(at.iter_mut()) {
                    walk(&splits[t.split_start..t.split_end], &bins, at);
                }
                // Each row's leaf values added tree by tree, in order, 8 rows side by side.
                // Rows only move to children, which `check_walk` proves are inside the tree.
                for (c, acc) in out.chunks_mut(8).enumerate() {
                    let mut sums = [0.0; 8];
                    sums[..acc.len()].copy_from_slice(acc);
                    for (t, at) in trees.iter().zip(&at) {
                        for (sum, &leaf) in sums.iter_mut().zip(&at[8 * c..8 * c + 8]) {
                            *sum += self.eval.walk_value[t.walk_start + usize::from(leaf)];
                        }
                    }
                    acc.copy_from_slice(&sums[..acc.len()]);
                }
            }
            for v in out.iter_mut() {
                *v += self.base_score;
            }
        }
    }

    /// Blocks of [`BLOCK`] rows, binned, then walked in groups of [`GROUP`] and the rows left
    /// over one by one.
    fn predict_rows<N: WalkNode>(&self, walk: &[N], rows: &[f64], out: &mut [f64]) {
        let (nf, stride) = (self.n_features, self.eval.stride);
        let mut bins = vec![N::Bin::default(); BLOCK * stride];
        for (rows, out) in rows.chunks(BLOCK * nf).zip(out.chunks_mut(BLOCK)) {
            let grouped = out.len() / GROUP * GROUP;
            let (group_rows, single_rows) = rows.split_at(grouped * nf);
            let (group_out, single_out) = out.split_at_mut(grouped);
            let (group_bins, single_bins) = bins.split_at_mut(grouped * stride);
            for (rows, bins) in group_rows
                .chunks_exact(GROUP * nf)
                .zip(group_bins.chunks_exact_mut(GROUP * stride))
            {
                self.eval.bins_into::<N, GROUP>(rows, GROUP, bins);
            }
            self.predict_groups::<GROUP, N>(walk, group_bins, group_out);
            let single_bins = &mut single_bins[..single_out.len() * stride];
            for (row, bins) in single_rows
                .chunks_exact(nf)
                .zip(single_bins.chunks_exact_mut(stride))
            {
                self.eval.bins_into::<N, 1>(row, 1, bins);
            }
            self.predict_groups::<1, N>(walk, single_bins, single_out);
        }
    }

    /// The prediction kernel: raw scores of `out.len()` rows, given as groups of `G` rows whose
    /// bins are interleaved (see [`Layout::bins_into`]), `G · stride` bins a group.
    ///
    /// Tree by tree over all groups; per tree, the `G` rows of a group first take `steps` steps
    /// in lockstep with no exit test (leaves point to themselves, so a row already at its leaf
    /// stays there). A step is one packed node load, one bin load, a compare and an add, no
    /// branch; the `G` walks are independent, so the CPU overlaps them. The few rows whose leaf
    /// is deeper then finish alone. `steps` is chosen per tree from the covers (see
    /// [`lockstep_steps`]). Trees are summed in order from 0.0, as LightGBM does, so scores
    /// match it bit for bit.
    #[inline(always)]
    fn predict_groups<const G: usize, N: WalkNode>(
        &self,
        walk: &[N],
        bins: &[N::Bin],
        out: &mut [f64],
    ) {
        let group_len = G * self.eval.stride;
        assert!(
            out.len().is_multiple_of(G) && bins.len() == out.len() / G * group_len,
            "bins for {} rows in groups of {G}: {} bins",
            out.len(),
            bins.len()
        );
        out.fill(0.0);
        for t in &self.eval.trees {
            let walk = &walk[t.walk_start..t.walk_end];
            let values = &self.eval.walk_value[t.walk_start..t.walk_end];
            for (bins, out) in bins.chunks_exact(group_len).zip(out.chunks_exact_mut(G)) {
                let next = |i: usize, lane: usize| -> usize {
                    // SAFETY: `Layout::build` checks (`check_walk`) every node's children
                    // (`first`, `first + 1`; a leaf's own index) of both layouts are inside its
                    // tree's walk and every `offset` is below `stride`; walks start at 0, so `i`
                    // stays inside `walk`, and `offset · G + lane < G · stride = bins.len()`
                    // (asserted above).
                    let node = unsafe { *walk.get_unchecked(i) };
                    let bin = unsafe { *bins.get_unchecked(node.offset() * G + lane) };
                    node.first() + usize::from(bin > node.rank())
                };
                let mut idx = [0usize; G];
                for _ in 0..t.steps {
                    for (lane, i) in idx.iter_mut().enumerate() {
                        *i = next(*i, lane);
                    }
                }
                for (lane, (&i, acc)) in idx.iter().zip(out.iter_mut()).enumerate() {
                    let mut i = i;
                    while walk[i].first() != i {
                        i = next(i, lane);
                    }
                    *acc += values[i];
                }
            }
        }
        for v in out.iter_mut() {
            *v += self.base_score;
        }
    }

    /// One row's path attributions added into `phi` (features, then bias).
    fn path_row(&self, keys: &[u64], phi: &mut [f64]) {
        let nf = self.n_features;
        for t in &self.eval.trees {
            let nodes = &self.eval.nodes[t.start..t.end];
            let values = &self.eval.node_value[t.start..t.end];
            phi[nf] += values[0];
            let mut i = 0;
            while !nodes[i].is_leaf(i) {
                let c = nodes[i].next(keys);
                phi[nodes[i].feature as usize] += values[c] - values[i];
                i = c;
            }
        }
        phi[nf] += self.base_score;
    }

    fn shap_scratch(&self) -> Vec<PathElement> {
        let d = self.eval.max_depth + 1;
        vec![PathElement::default(); d * (d + 1) / 2]
    }

    /// One row's TreeSHAP values added into `phi`, tree by tree as LightGBM's `PredictContrib`.
    fn shap_row(&self, keys: &[u64], phi: &mut [f64], scratch: &mut [PathElement]) {
        let nf = self.n_features;
        for (tree, t) in self.trees.iter().zip(&self.eval.trees) {
            phi[nf] += tree.expected_value();
            if tree.n_internal() > 0 {
                let nodes = &self.eval.nodes[t.start..t.end];
                let ctx = ShapTree { tree, nodes, keys };
                ctx.recurse(phi, 0, 0, scratch, 0, 1.0, 1.0, -1);
            }
        }
        phi[nf] += self.base_score;
    }

    fn contributions_batch<F>(
        &self,
        rows: &[f64],
        n_features: usize,
        per_row: F,
    ) -> Result<Vec<f64>, GbmError>
    where
        F: Fn(&[u64], &mut [f64], &mut [PathElement]) + Sync,
    {
        let n_rows = self.check_rows(rows.len(), n_features)?;
        let width = n_features + 1;
        let mut out = vec![0.0; n_rows * width];
        let chunk = |rows: &[f64], out: &mut [f64]| {
            let mut keys = vec![0u64; self.eval.stride];
            let mut scratch = self.shap_scratch();
            for (row, phi) in rows
                .chunks_exact(n_features)
                .zip(out.chunks_exact_mut(width))
            {
                self.eval.keys_into(row, &mut keys);
                per_row(&keys, phi, &mut scratch);
            }
        };
        // Explanations cost far more per row than prediction: smaller tasks balance better.
        let rows_per_task = 256;
        out.par_chunks_mut(rows_per_task * width)
            .zip(rows.par_chunks(rows_per_task * n_features))
            .for_each(|(out, rows)| chunk(rows, out));
        Ok(out)
    }
}

fn split_bias(mut phi: Vec<f64>) -> Contributions {
    let bias = phi.pop().unwrap_or(0.0);
    Contributions { values: phi, bias }
}

// -------------------------------------------------------------------------------------------
// Evaluation layout (derived from the trees, never serialised)
// -------------------------------------------------------------------------------------------

/// Row keys: each value of a row becomes an unsigned integer whose order is the order of the
/// doubles (see [`order_key`]), so that `x <= threshold` is one integer compare.
///
/// LightGBM's rule for missing values (`NumericalDecision`) is folded into the keys: a row is
/// laid out in several *variants*, and each node reads the variant matching its missing-value
/// rule, in which the values it treats as missing already sit at 0 (below every threshold: they
/// go left) or `u64::MAX` (above every threshold: they go right).
/// - variant 0: NaN → 0; variant 1: NaN → MAX (missing type NaN by its default direction, and
///   missing type None, where NaN is read as 0 and so goes where 0 goes);
/// - variant 2: NaN and zero → 0; variant 3: NaN and zero → MAX (missing type Zero), only laid
///   out for models that have such splits.
const NAN_LEFT: usize = 0;
const NAN_RIGHT: usize = 1;
const ZERO_LEFT: usize = 2;
const ZERO_RIGHT: usize = 3;

/// The order-preserving key of a double that is not NaN: the sign bit flipped for positives,
/// all bits flipped for negatives. Keys of non-NaN doubles lie strictly between 0 and
/// `u64::MAX`, which are left for missing values. -0.0 must be mapped to 0.0 first.
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    // All ones for a negative double, else 0: no branch on the sign.
    let negative = ((bits as i64) >> 63) as u64;
    bits ^ (negative | 1 << 63)
}

/// For each key, the number of `cuts` (ascending) strictly below it: `K` binary searches in
/// step, none of which branches on the data, so that the CPU overlaps their loads.
fn cuts_below<const K: usize>(cuts: &[u64], keys: &[u64; K]) -> [usize; K] {
    let mut base = [0; K];
    if cuts.is_empty() {
        return base;
    }
    let mut size = cuts.len();
    while size > 1 {
        let half = size / 2;
        for (b, &key) in base.iter_mut().zip(keys) {
            // b + half < b + size <= cuts.len(): each answer stays in b..=b + size.
            *b = std::hint::select_unpredictable(cuts[*b + half] < key, *b + half, *b);
        }
        size -= half;
    }
    for (b, &key) in base.iter_mut().zip(keys) {
        *b += usize::from(cuts[*b] < key);
    }
    base
}

/// 16 bytes: internal nodes of one tree first (same indices as [`Tree`]), then its leaves.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// The threshold's [`order_key`] for an internal node; a leaf's output as `f64` bits.
    key: u64,
    /// Where this node's value sits in the row keys: `variant · n_features + feature`.
    offset: u16,
    /// The feature split on (for attributions).
    feature: u16,
    /// Left and right child as indices within the tree; a leaf points to itself twice.
    children: [u16; 2],
}

impl Node {
    /// The child a row goes to: LightGBM's `NumericalDecision`, as one compare (see
    /// [`NAN_LEFT`]). Indexing the pair by the comparison keeps it free of branches.
    #[inline(always)]
    fn next(&self, keys: &[u64]) -> usize {
        self.children[usize::from(keys[self.offset as usize] > self.key)] as usize
    }

    #[inline(always)]
    fn goes_left(&self, keys: &[u64]) -> bool {
        keys[self.offset as usize] <= self.key
    }

    #[inline(always)]
    fn is_leaf(&self, index: usize) -> bool {
        self.children[0] as usize == index
    }
}

/// The prediction layout: a tree's nodes in breadth-first order, so that the two children of a
/// node are neighbours, each node packed into a `u64` (8 bytes, half a [`Node`]):
/// bits 0–15 the rank of its threshold among its feature's cuts (see [`Layout::bins_into`]),
/// bits 16–31 its `offset` into a row's bins (as [`Node::offset`]), bits 32–63 `first`, the index
/// of its left child within the tree; the right child is `first + 1`. A row goes right when its
/// bin is above the rank. A leaf has rank `u16::MAX` (no bin is above it) and `first` = itself,
/// so a walk that reached it stays.
fn walk_node(rank: u16, offset: u16, first: usize) -> u64 {
    u64::from(rank) | u64::from(offset) << 16 | (first as u64) << 32
}

/// The same node in the narrow layout, a `u32`: bits 0–7 the rank, 8–15 the offset, 16–31
/// `first`; bins are `u8`. Models whose features have at most [`NARROW_CUTS`] thresholds each,
/// whose rows have at most 256 bins and whose trees at most 65,536 nodes (LightGBM's default
/// of 255 bins a feature fits) use it: half the bytes of the wide layout, and a step takes
/// fewer instructions (the offset is one byte, and an offset times [`GROUP`] folds into the
/// address).
fn narrow_node(wide: u64) -> Option<u32> {
    let rank = match wide.rank() {
        u16::MAX => u8::MAX,
        r => u8::try_from(r).ok().filter(|&r| r < u8::MAX)?,
    };
    let offset = u8::try_from(wide.offset()).ok()?;
    let first = u16::try_from(wide.first()).ok()?;
    Some(u32::from(rank) | u32::from(offset) << 8 | u32::from(first) << 16)
}

/// Distinct thresholds per feature the narrow layout supports: bins 0 to `NARROW_CUTS` for
/// values, and `u8::MAX` for "missing, right of every threshold".
const NARROW_CUTS: usize = u8::MAX as usize - 1;

/// A packed prediction node: its threshold's rank (compared with a row's bin), where its
/// feature's bin sits in a row, and the index of its left child.
trait WalkNode: Copy {
    type Bin: Copy + Ord + Default;
    /// The bin of a missing value that goes right of every threshold.
    const MISSING_RIGHT: Self::Bin;
    fn rank(self) -> Self::Bin;
    fn offset(self) -> usize;
    fn first(self) -> usize;
    /// The bin of a value with `below` thresholds under it (at most the layout's cut limit).
    fn bin(below: usize) -> Self::Bin;
}

impl WalkNode for u64 {
    type Bin = u16;
    const MISSING_RIGHT: u16 = u16::MAX;

    #[inline(always)]
    fn rank(self) -> u16 {
        self as u16
    }

    #[inline(always)]
    fn offset(self) -> usize {
        usize::from((self >> 16) as u16)
    }

    #[inline(always)]
    fn first(self) -> usize {
        (self >> 32) as usize
    }

    #[inline(always)]
    fn bin(below: usize) -> u16 {
        below as u16
    }
}

impl WalkNode for u32 {
    type Bin = u8;
    const MISSING_RIGHT: u8 = u8::MAX;

    #[inline(always)]
    fn rank(self) -> u8 {
        self as u8
    }

    #[inline(always)]
    fn offset(self) -> usize {
        usize::from((self >> 8) as u8)
    }

    #[inline(always)]
    fn first(self) -> usize {
        (self >> 16) as usize
    }

    #[inline(always)]
    fn bin(below: usize) -> u8 {
        below as u8
    }
}

/// Whether every node of every tree's walk points inside its tree and its row (what the
/// kernel's unchecked reads rely on); the first tree and node that do not, otherwise.
fn check_walk<N: WalkNode>(
    walk: &[N],
    spans: &[TreeSpan],
    stride: usize,
    leaf_rank: N::Bin,
) -> Result<(), (usize, usize)> {
    for (t, span) in spans.iter().enumerate() {
        let len = span.walk_end - span.walk_start;
        for (i, &node) in walk[span.walk_start..span.walk_end].iter().enumerate() {
            let first = node.first();
            let leaf = node.rank() == leaf_rank && first == i;
            if !(leaf || first + 1 < len) || node.offset() >= stride {
                return Err((t, i));
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
struct TreeSpan {
    /// The tree's nodes in `Layout::nodes`.
    start: usize,
    end: usize,
    /// The tree's nodes in `Layout::walk`.
    walk_start: usize,
    walk_end: usize,
    /// Lockstep steps of the prediction kernel.
    steps: usize,
    /// The tree's splits in `Layout::splits`.
    split_start: usize,
    split_end: usize,
}

/// An internal node for the column-wise kernel, in the narrow layout: rows at `node` move to
/// its left child `left` when their bin at `offset` is at most the rank, else to `left + 1`
/// (indices within the tree's walk). Rank and bins are stored with the top bit
/// flipped, so that the unsigned compare is a signed byte compare.
#[derive(Clone, Copy, Debug)]
struct Split {
    node: u8,
    rank: i8,
    left: u8,
    offset: u8,
}

/// Takes a block of [`LANES`] rows through one tree's splits (see [`Split`]): `bins` holds the
/// block's bins column by column, `at` gets the walk index each row ends at, a leaf.
type TreeWalk = fn(&[Split], &[u8], &mut Lanes);

/// The fastest [`TreeWalk`] this CPU runs.
fn tree_walk() -> TreeWalk {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return |splits, bins, at| {
            // SAFETY: the CPU has AVX2, checked above.
            unsafe { walk_avx2(splits, bins, at) }
        };
    }
    walk_portable
}

/// [`TreeWalk`] in plain Rust, which the compiler vectorises: each step is a byte compare per
/// row against the split's node and rank, and a masked add of the move.
fn walk_portable(splits: &[Split], bins: &[u8], at: &mut Lanes) {
    let mut lanes = [[0u8; WIDTH]; LANES / WIDTH];
    for s in splits {
        // `Layout::build` checks every offset is below `stride` (`check_walk`).
        let o = usize::from(s.offset) * LANES;
        let delta = s.left.wrapping_sub(s.node);
        for (v, c) in lanes.iter_mut().zip(bins[o..o + LANES].chunks_exact(WIDTH)) {
            for (x, &b) in v.iter_mut().zip(c) {
                let here = if *x == s.node { u8::MAX } else { 0 };
                let right = if (b as i8) > s.rank { u8::MAX } else { 0 };
                *x = x.wrapping_add(here & delta.wrapping_sub(right));
            }
        }
    }
    at.copy_from_slice(lanes.as_flattened());
}

/// [`TreeWalk`] in AVX2, 32 rows to a register: per split, rows whose index equals the node
/// take the left child minus the compare mask (−1 where the bin is above the rank).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn walk_avx2(splits: &[Split], bins: &[u8], at: &mut Lanes) {
    use std::arch::x86_64::{
        __m256i, _mm256_blendv_epi8, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256,
        _mm256_set1_epi8, _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi8,
    };
    const REGS: usize = LANES / 32;
    let mut lanes = [_mm256_setzero_si256(); REGS];
    for s in splits {
        // `Layout::build` checks every offset is below `stride` (`check_walk`).
        let o = usize::from(s.offset) * LANES;
        let column = &bins[o..o + LANES];
        let (node, rank, left) = (
            _mm256_set1_epi8(s.node as i8),
            _mm256_set1_epi8(s.rank),
            _mm256_set1_epi8(s.left as i8),
        );
        for (k, x) in lanes.iter_mut().enumerate() {
            // SAFETY: bytes 32k..32k + 32 of a LANES-byte slice (k < LANES / 32).
            let b = unsafe { _mm256_loadu_si256(column.as_ptr().add(32 * k).cast::<__m256i>()) };
            let child = _mm256_sub_epi8(left, _mm256_cmpgt_epi8(b, rank));
            *x = _mm256_blendv_epi8(*x, child, _mm256_cmpeq_epi8(*x, node));
        }
    }
    for (k, x) in lanes.iter().enumerate() {
        // SAFETY: bytes 32k..32k + 32 of a LANES-byte array (k < LANES / 32).
        unsafe { _mm256_storeu_si256(at.as_mut_ptr().add(32 * k).cast::<__m256i>(), *x) };
    }
}

#[derive(Clone)]
struct Layout {
    n_features: usize,
    /// Row variants laid out (2, or 4 when some split has missing type Zero).
    variants: usize,
    /// Keys per row: `variants · n_features`.
    stride: usize,
    nodes: Vec<Node>,
    /// Per feature `f`, the [`order_key`]s of the distinct thresholds any split on it uses,
    /// ascending: `cuts[cut_start[f]..cut_start[f + 1]]`.
    cuts: Vec<u64>,
    cut_start: Vec<usize>,
    /// Prediction nodes of all trees (see [`walk_node`]), and parallel to them the leaf values
    /// (0 for internal nodes).
    walk: Vec<u64>,
    /// The same nodes in the narrow layout (see [`narrow_node`]), where the model fits it.
    narrow: Option<Vec<u32>>,
    /// The internal nodes of every tree for the column-wise kernel, in walk order, where the
    /// narrow layout fits and every tree's walk has at most 256 nodes (a node index is a byte).
    splits: Option<Vec<Split>>,
    walk_value: Vec<f64>,
    /// Parallel to `nodes`: cover-weighted mean of the leaves below (the leaf value for a
    /// leaf; LightGBM's expected value for a root), for path attributions.
    node_value: Vec<f64>,
    trees: Vec<TreeSpan>,
    max_depth: usize,
}

impl std::fmt::Debug for Layout {
    /// A summary: the layout is derived from the trees, which `Gbm`'s Debug already shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layout")
            .field("nodes", &self.nodes.len())
            .field("cuts", &self.cuts.len())
            .field("trees", &self.trees.len())
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

impl Layout {
    /// Writes a row's keys (`stride` of them) in every variant the model reads.
    ///
    /// Values with `|x| <= kZeroThreshold` are zero first: LightGBM's predictor drops them as
    /// sparse zeros.
    fn keys_into(&self, row: &[f64], keys: &mut [u64]) {
        let nf = self.n_features;
        let (plain, zero) = keys.split_at_mut(2 * nf);
        let (nan_left, nan_right) = plain.split_at_mut(nf);
        for (f, &v) in row.iter().enumerate().take(nf) {
            let (l, r) = if v.is_nan() {
                (0, u64::MAX)
            } else {
                let k = order_key(if v.abs() <= ZERO_THRESHOLD { 0.0 } else { v });
                (k, k)
            };
            nan_left[f] = l;
            nan_right[f] = r;
        }
        if self.variants == 4 {
            let (zero_left, zero_right) = zero.split_at_mut(nf);
            for (f, &v) in row.iter().enumerate().take(nf) {
                let missing = v.is_nan() || v.abs() <= ZERO_THRESHOLD;
                zero_left[f] = if missing { 0 } else { nan_left[f] };
                zero_right[f] = if missing { u64::MAX } else { nan_left[f] };
            }
        }
    }

    fn row_keys(&self, row: &[f64]) -> Vec<u64> {
        let mut keys = vec![0; self.stride];
        self.keys_into(row, &mut keys);
        keys
    }

    /// Writes the bins of row-major `rows` (at most `lanes` of them) in every variant the model
    /// reads, row `lane` as lane `lane` of a group of `lanes`: the bin of key `o` (`variant ·
    /// n_features + feature`, as in [`Layout::keys_into`]) goes to `bins[o · lanes + lane]`, so
    /// that the rows of a group walking the same node read neighbouring bins. Feature by feature,
    /// `K` values at a time, so that their searches in the feature's cuts overlap (`K` = 1 for
    /// a single row).
    ///
    /// A value's bin is the number of its feature's cuts strictly below it, so for the cut of
    /// rank `j`, `x <= cut ⇔ bin(x) <= j`: one `u16` compare, exactly LightGBM's. Missing values
    /// take bin 0 (left of every cut) or `u16::MAX` (right of every cut) by variant, as the
    /// keys take 0 and `u64::MAX`.
    fn bins_into<N: WalkNode, const K: usize>(
        &self,
        rows: &[f64],
        lanes: usize,
        bins: &mut [N::Bin],
    ) {
        let nf = self.n_features;
        let low = N::Bin::default();
        let n_rows = rows.len() / nf;
        for f in 0..nf {
            let cuts = &self.cuts[self.cut_start[f]..self.cut_start[f + 1]];
            let mut column = rows.iter().skip(f).step_by(nf);
            for first in (0..n_rows).step_by(K) {
                let n = (n_rows - first).min(K);
                let mut values = [0.0; K];
                for (v, &x) in values.iter_mut().zip(column.by_ref()) {
                    *v = x;
                }
                let nan = values.map(f64::is_nan);
                let zero = values.map(|v| v.abs() <= ZERO_THRESHOLD);
                // A NaN's bin is set below; its key only has to be a number's.
                let keys: [u64; K] = std::array::from_fn(|i| {
                    let plain = !(zero[i] || nan[i]);
                    order_key(std::hint::select_unpredictable(plain, values[i], 0.0))
                });
                // At most the layout's cut limit (checked by `build`): the counts fit.
                let bin = cuts_below(cuts, &keys).map(N::bin);
                let mut put = |variant: usize, missing: [bool; K], fill: N::Bin| {
                    let at = (variant * nf + f) * lanes + first;
                    for ((b, &m), &bin) in bins[at..at + n].iter_mut().zip(&missing).zip(&bin) {
                        *b = if m { fill } else { bin };
                    }
                };
                put(NAN_LEFT, nan, low);
                put(NAN_RIGHT, nan, N::MISSING_RIGHT);
                if self.variants == 4 {
                    let missing = std::array::from_fn(|i| nan[i] || zero[i]);
                    put(ZERO_LEFT, missing, low);
                    put(ZERO_RIGHT, missing, N::MISSING_RIGHT);
                }
            }
        }
    }

    /// The bins of a block of at most [`LANES`] rows for the column-wise kernel: narrow bins
    /// laid out as [`Layout::bins_into`] does for a group of `LANES`, with the top bit flipped
    /// (see [`Split`]).
    fn column_bins(&self, rows: &[f64], bins: &mut [u8]) {
        self.bins_into::<u32, 8>(rows, LANES, bins);
        for b in bins.iter_mut() {
            *b ^= 0x80;
        }
    }

    /// `trees` must have passed [`Tree::validate`] for `n_features` (at most
    /// [`MAX_FEATURES`]), whose depths are `depths`. Refuses a model with more than
    /// [`MAX_CUTS`] distinct thresholds on one feature.
    fn build(n_features: usize, trees: &[Tree], depths: &[usize]) -> Result<Self, GbmError> {
        let has_zero = trees
            .iter()
            .any(|t| t.missing_type.contains(&MissingType::Zero));
        let variants = if has_zero { 4 } else { 2 };
        let (cuts, cut_start) = feature_cuts(n_features, trees)?;
        let total: usize = trees.iter().map(|t| 2 * t.n_internal() + 1).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut node_value = Vec::with_capacity(total);
        let mut walk = Vec::with_capacity(total);
        let mut walk_value = Vec::with_capacity(total);
        let mut spans = Vec::with_capacity(trees.len());
        for (tree, &depth) in trees.iter().zip(depths) {
            let start = nodes.len();
            let n = tree.n_internal();
            // Validated: indices fit u16 (at most MAX_TREE_NODES nodes).
            let local = |c: i32| -> u16 {
                if c >= 0 {
                    c as u16
                } else {
                    (n + !c as usize) as u16
                }
            };
            for i in 0..n {
                let (key, variant) = split_rule(tree, i);
                let f = tree.split_feature[i] as usize;
                nodes.push(Node {
                    key,
                    offset: (variant * n_features + f) as u16,
                    feature: f as u16,
                    children: [local(tree.left_child[i]), local(tree.right_child[i])],
                });
            }
            for (j, &v) in tree.leaf_value.iter().enumerate() {
                let me = (n + j) as u16;
                nodes.push(Node {
                    key: v.to_bits(),
                    offset: 0,
                    feature: 0,
                    children: [me, me],
                });
            }
            node_value.extend(subtree_means(tree));

            // The prediction layout: breadth first, each node's children appended together.
            let walk_start = walk.len();
            let mut order = vec![if n == 0 { -1 } else { 0 }];
            let mut at = 0;
            while let Some(&c) = order.get(at) {
                if c >= 0 {
                    let i = c as usize;
                    let (key, variant) = split_rule(tree, i);
                    let f = tree.split_feature[i] as usize;
                    let feature_cuts = &cuts[cut_start[f]..cut_start[f + 1]];
                    // The key is one of the feature's cuts: its index is its rank.
                    let rank = feature_cuts.partition_point(|&k| k < key) as u16;
                    let offset = (variant * n_features + f) as u16;
                    walk.push(walk_node(rank, offset, order.len()));
                    walk_value.push(0.0);
                    order.push(tree.left_child[i]);
                    order.push(tree.right_child[i]);
                } else {
                    walk.push(walk_node(u16::MAX, 0, at));
                    walk_value.push(tree.leaf_value[!c as usize]);
                }
                at += 1;
            }
            spans.push(TreeSpan {
                start,
                end: nodes.len(),
                walk_start,
                walk_end: walk.len(),
                steps: lockstep_steps(tree, depth),
                split_start: 0,
                split_end: 0,
            });
        }
        let stride = variants * n_features;
        // The kernel reads walks and bins unchecked: prove here that every child and bin it can
        // reach is inside its tree and its row, in both layouts.
        let bad = |(tree, i): (usize, usize)| GbmError::InvalidTree {
            tree,
            reason: format!("prediction node {i} points outside its tree"),
        };
        check_walk(&walk, &spans, stride, u16::MAX).map_err(bad)?;
        let fits_narrow = stride <= 256 && cut_start.windows(2).all(|w| w[1] - w[0] <= NARROW_CUTS);
        let narrow = if fits_narrow {
            walk.iter()
                .map(|&n| narrow_node(n))
                .collect::<Option<Vec<u32>>>()
        } else {
            None
        };
        if let Some(narrow) = &narrow {
            check_walk(narrow, &spans, stride, u8::MAX).map_err(bad)?;
        }
        let splits = narrow
            .as_deref()
            .filter(|_| spans.iter().all(|t| t.walk_end - t.walk_start <= 256))
            .map(|narrow| column_splits(narrow, &mut spans));
        Ok(Self {
            n_features,
            variants,
            stride,
            nodes,
            cuts,
            cut_start,
            walk,
            narrow,
            splits,
            walk_value,
            node_value,
            trees: spans,
            max_depth: depths.iter().copied().max().unwrap_or(0),
        })
    }
}

/// The internal nodes of every tree's narrow walk as [`Split`]s, recording each tree's range in
/// its span. Every walk must have at most 256 nodes and have passed [`check_walk`].
fn column_splits(narrow: &[u32], spans: &mut [TreeSpan]) -> Vec<Split> {
    let mut splits = Vec::new();
    for span in spans {
        span.split_start = splits.len();
        for (i, &n) in narrow[span.walk_start..span.walk_end].iter().enumerate() {
            if n.first() != i {
                splits.push(Split {
                    node: i as u8,
                    rank: (n.rank() ^ 0x80) as i8,
                    left: n.first() as u8,
                    offset: n.offset() as u8,
                });
            }
        }
        span.split_end = splits.len();
    }
    splits
}

/// Internal node `i`'s threshold as an [`order_key`] and the row variant it reads (see
/// [`NAN_LEFT`]): LightGBM's `NumericalDecision` for this node.
fn split_rule(tree: &Tree, i: usize) -> (u64, usize) {
    // x <= -0.0 and x <= 0.0 agree for every x, and keys need +0.0.
    let t = if tree.threshold[i] == 0.0 {
        0.0
    } else {
        tree.threshold[i]
    };
    let variant = match tree.missing_type[i] {
        MissingType::None if 0.0 <= t => NAN_LEFT,
        MissingType::None => NAN_RIGHT,
        MissingType::Nan if tree.default_left[i] => NAN_LEFT,
        MissingType::Nan => NAN_RIGHT,
        MissingType::Zero if tree.default_left[i] => ZERO_LEFT,
        MissingType::Zero => ZERO_RIGHT,
    };
    (order_key(t), variant)
}

/// Per feature, the sorted distinct threshold keys of all splits on it, concatenated, and where
/// each feature's start (`n_features + 1` entries).
fn feature_cuts(n_features: usize, trees: &[Tree]) -> Result<(Vec<u64>, Vec<usize>), GbmError> {
    let mut per_feature = vec![Vec::new(); n_features];
    for tree in trees {
        for i in 0..tree.n_internal() {
            per_feature[tree.split_feature[i] as usize].push(split_rule(tree, i).0);
        }
    }
    let mut cuts = Vec::new();
    let mut cut_start = Vec::with_capacity(n_features + 1);
    for (f, mut keys) in per_feature.into_iter().enumerate() {
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > MAX_CUTS {
            return Err(GbmError::Unsupported(format!(
                "feature {f} is split at {} distinct thresholds, at most {MAX_CUTS} supported",
                keys.len()
            )));
        }
        cut_start.push(cuts.len());
        cuts.extend(keys);
    }
    cut_start.push(cuts.len());
    Ok((cuts, cut_start))
}

/// How many steps the prediction kernel takes in lockstep for this tree.
///
/// A leaf-wise tree is lopsided: most rows stop within a few levels (mean 5.3 on the
/// 63-leaf benchmark trees) while the deepest leaf is 13 levels down on average, so walking
/// every row to the full depth wastes most steps (measured: 13% slower than this choice).
/// Each row that is not at its leaf after the lockstep costs a mispredicted exit branch and
/// then slow, dependent steps. The cost model, in units of one lockstep step of one row,
/// weighs the two with the training covers.
fn lockstep_steps(tree: &Tree, depth: usize) -> usize {
    if tree.n_internal() == 0 {
        return 0;
    }
    // Cover of the leaves at each depth.
    let mut at_depth = vec![0.0; depth + 1];
    let mut stack = vec![(0i32, 0usize)];
    while let Some((c, d)) = stack.pop() {
        if c < 0 {
            at_depth[d] += tree.leaf_cover[!c as usize];
        } else {
            let i = c as usize;
            stack.push((tree.left_child[i], d + 1));
            stack.push((tree.right_child[i], d + 1));
        }
    }
    let cost = |s: usize| -> f64 {
        let late: f64 = at_depth
            .iter()
            .enumerate()
            .skip(s + 1)
            .map(|(d, w)| w * (MISS_COST + SERIAL_STEP_COST * (d - s) as f64))
            .sum();
        at_depth.iter().sum::<f64>() * s as f64 + late
    };
    (0..=depth)
        .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
        .unwrap_or(depth)
}

/// Values of a tree's internal nodes then leaves, in the layout's order: a node's value is the
/// cover-weighted mean of its children's values; the root's is LightGBM's expected value, so
/// that the bias equals TreeSHAP's.
fn subtree_means(tree: &Tree) -> Vec<f64> {
    let n = tree.n_internal();
    let mut values = vec![0.0; 2 * n + 1];
    values[n..].copy_from_slice(&tree.leaf_value);
    if n == 0 {
        return values;
    }
    // Children before parents: post-order by an explicit stack (a validated tree).
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        order.push(i);
        for c in [tree.left_child[i], tree.right_child[i]] {
            if c >= 0 {
                stack.push(c as usize);
            }
        }
    }
    let at = |c: i32| if c >= 0 { c as usize } else { n + !c as usize };
    for &i in order.iter().rev() {
        let (l, r) = (tree.left_child[i], tree.right_child[i]);
        values[i] = (tree.cover(l) * values[at(l)] + tree.cover(r) * values[at(r)])
            / tree.internal_cover[i];
    }
    values[0] = tree.expected_value();
    values
}

// -------------------------------------------------------------------------------------------
// TreeSHAP (a transcription of LightGBM's src/io/tree.cpp, same order of operations)
// -------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default)]
struct PathElement {
    feature: i32,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

struct ShapTree<'a> {
    tree: &'a Tree,
    nodes: &'a [Node],
    keys: &'a [u64],
}

impl ShapTree<'_> {
    /// `scratch[parent..]` holds the parent's unique path; this call's path is written right
    /// after it, at `parent + unique_depth`, so the parent's survives for its second child.
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &self,
        phi: &mut [f64],
        node: i32,
        mut unique_depth: usize,
        scratch: &mut [PathElement],
        parent: usize,
        parent_zero_fraction: f64,
        parent_one_fraction: f64,
        parent_feature: i32,
    ) {
        let here = parent + unique_depth;
        scratch.copy_within(parent..parent + unique_depth, here);
        let path = &mut scratch[here..];
        extend_path(
            path,
            unique_depth,
            parent_zero_fraction,
            parent_one_fraction,
            parent_feature,
        );

        if node < 0 {
            let leaf_value = self.tree.leaf_value[!node as usize];
            for i in 1..=unique_depth {
                let w = unwound_path_sum(path, unique_depth, i);
                let el = path[i];
                phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * leaf_value;
            }
            return;
        }

        let i = node as usize;
        let feature = self.tree.split_feature[i] as i32;
        let (left, right) = (self.tree.left_child[i], self.tree.right_child[i]);
        let (hot, cold) = if self.nodes[i].goes_left(self.keys) {
            (left, right)
        } else {
            (right, left)
        };
        let w = self.tree.internal_cover[i];
        let hot_zero_fraction = self.tree.cover(hot) / w;
        let cold_zero_fraction = self.tree.cover(cold) / w;
        let mut incoming_zero_fraction = 1.0;
        let mut incoming_one_fraction = 1.0;

        // A feature already split on above: undo that split so this node can redo it.
        if let Some(k) = path[..=unique_depth]
            .iter()
            .position(|e| e.feature == feature)
        {
            incoming_zero_fraction = path[k].zero_fraction;
            incoming_one_fraction = path[k].one_fraction;
            unwind_path(path, unique_depth, k);
            unique_depth -= 1;
        }

        self.recurse(
            phi,
            hot,
            unique_depth + 1,
            scratch,
            here,
            hot_zero_fraction * incoming_zero_fraction,
            incoming_one_fraction,
            feature,
        );
        self.recurse(
            phi,
            cold,
            unique_depth + 1,
            scratch,
            here,
            cold_zero_fraction * incoming_zero_fraction,
            0.0,
            feature,
        );
    }
}

fn extend_path(
    path: &mut [PathElement],
    unique_depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i32,
) {
    path[unique_depth] = PathElement {
        feature,
        zero_fraction,
        one_fraction,
        pweight: if unique_depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (unique_depth + 1) as f64;
    for i in (0..unique_depth).rev() {
        path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) as f64 / d1;
        path[i].pweight = zero_fraction * path[i].pweight * (unique_depth - i) as f64 / d1;
    }
}

fn unwind_path(path: &mut [PathElement], unique_depth: usize, path_index: usize) {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    let d1 = (unique_depth + 1) as f64;
    for i in (0..unique_depth).rev() {
        if one_fraction != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one_portion * d1 / ((i + 1) as f64 * one_fraction);
            next_one_portion =
                tmp - path[i].pweight * zero_fraction * (unique_depth - i) as f64 / d1;
        } else {
            path[i].pweight = (path[i].pweight * d1) / (zero_fraction * (unique_depth - i) as f64);
        }
    }
    for i in path_index..unique_depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_path_sum(path: &[PathElement], unique_depth: usize, path_index: usize) -> f64 {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[unique_depth].pweight;
    let d1 = (unique_depth + 1) as f64;
    let mut total = 0.0;
    for i in (0..unique_depth).rev() {
        if one_fraction != 0.0 {
            let tmp = next_one_portion * d1 / ((i + 1) as f64 * one_fraction);
            total += tmp;
            next_one_portion =
                path[i].pweight - tmp * zero_fraction * ((unique_depth - i) as f64 / d1);
        } else {
            total += (path[i].pweight / zero_fraction) / ((unique_depth - i) as f64 / d1);
        }
    }
    total
}

// -------------------------------------------------------------------------------------------
// Serde: plain data out, validated data in
// -------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct GbmDataRef<'a> {
    n_features: usize,
    base_score: f64,
    sigmoid: f64,
    trees: &'a [Tree],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GbmData {
    n_features: usize,
    base_score: f64,
    sigmoid: f64,
    trees: Vec<Tree>,
}

impl Serialize for Gbm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        GbmDataRef {
            n_features: self.n_features,
            base_score: self.base_score,
            sigmoid: self.sigmoid,
            trees: &self.trees,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Gbm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let d = GbmData::deserialize(deserializer)?;
        Gbm::new(d.n_features, d.base_score, d.sigmoid, d.trees).map_err(serde::de::Error::custom)
    }
}

impl PartialEq for Gbm {
    /// Same trees and constants; the evaluation layout follows from them.
    fn eq(&self, other: &Self) -> bool {
        self.n_features == other.n_features
            && self.base_score == other.base_score
            && self.sigmoid == other.sigmoid
            && self.trees == other.trees
    }
}

// -------------------------------------------------------------------------------------------
// Import from LightGBM's model text
// -------------------------------------------------------------------------------------------

impl Gbm {
    /// Exports a trained LightGBM booster into our form.
    #[cfg(feature = "gbm")]
    pub fn from_lightgbm(booster: &lightgbm3::Booster) -> Result<Self, GbmError> {
        let text = booster.save_string().map_err(|e| GbmError::LightGbm {
            context: "saving the model to text",
            source: e,
        })?;
        Self::from_lightgbm_text(&text)
    }

    /// Parses LightGBM's model text (`save_model` / `model_to_string`; `lightgbm3` exposes this,
    /// not the JSON `dump_model`). Its doubles are printed with 17 significant digits, so
    /// thresholds and leaf values come back bit for bit. Only numerical splits of a binary
    /// `gbdt` model are supported: anything else is refused, never approximated.
    pub fn from_lightgbm_text(text: &str) -> Result<Self, GbmError> {
        let mut header = KeyValues::new();
        let mut trees = Vec::new();
        let mut block: Option<(usize, KeyValues)> = None;
        let mut ended = false;
        for (line, l) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end())) {
            if l == "end of trees" {
                ended = true;
                break;
            }
            if let Some(rest) = l.strip_prefix("Tree=") {
                if let Some((at, kv)) = block.take() {
                    trees.push(parse_tree(at, &kv)?);
                }
                let index: usize = parse_num(line, "Tree", rest)?;
                if index != trees.len() {
                    return Err(GbmError::ModelText {
                        line,
                        reason: format!("tree {index} where tree {} was expected", trees.len()),
                    });
                }
                block = Some((line, HashMap::new()));
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue; // blank lines and the leading "tree" tag
            };
            match &mut block {
                Some((_, kv)) => kv.insert(k, (line, v)),
                None => header.insert(k, (line, v)),
            };
        }
        if let Some((at, kv)) = block.take() {
            trees.push(parse_tree(at, &kv)?);
        }
        if !ended {
            return Err(GbmError::ModelText {
                line: text.lines().count(),
                reason: "no `end of trees`: truncated model".to_string(),
            });
        }

        let get = |k: &str| header.get(k).copied();
        for (k, expected) in [("num_class", "1"), ("num_tree_per_iteration", "1")] {
            if let Some((_, v)) = get(k) {
                if v != expected {
                    return Err(GbmError::Unsupported(format!("{k}={v}")));
                }
            }
        }
        if get("average_output").is_some() {
            return Err(GbmError::Unsupported(
                "averaged output (random forest boosting)".to_string(),
            ));
        }
        let (oline, objective) = get("objective").ok_or(GbmError::ModelText {
            line: 1,
            reason: "no objective in the header".to_string(),
        })?;
        let mut parts = objective.split_whitespace();
        if parts.next() != Some("binary") {
            return Err(GbmError::Unsupported(format!("objective `{objective}`")));
        }
        let mut sigmoid = 1.0;
        for p in parts {
            if let Some(s) = p.strip_prefix("sigmoid:") {
                sigmoid = parse_num(oline, "sigmoid", s)?;
            }
        }
        let (fline, max_idx) = get("max_feature_idx").ok_or(GbmError::ModelText {
            line: 1,
            reason: "no max_feature_idx in the header".to_string(),
        })?;
        let max_idx: usize = parse_num(fline, "max_feature_idx", max_idx)?;
        // LightGBM folds the initial score (boost_from_average) into the first tree's leaves.
        Self::new(max_idx + 1, 0.0, sigmoid, trees)
    }
}

/// `key=value` lines of a header or tree block: key → (line number, value).
type KeyValues<'a> = HashMap<&'a str, (usize, &'a str)>;

fn parse_num<T>(line: usize, key: &str, s: &str) -> Result<T, GbmError>
where
    T: std::str::FromStr,
    T::Err: Into<NumberError>,
{
    s.trim().parse::<T>().map_err(|e| GbmError::ModelNumber {
        line,
        key: key.to_string(),
        source: e.into(),
    })
}

fn parse_tree(at: usize, kv: &KeyValues) -> Result<Tree, GbmError> {
    let field = |k: &'static str| {
        kv.get(k).copied().ok_or_else(|| GbmError::ModelText {
            line: at,
            reason: format!("tree has no `{k}`"),
        })
    };
    fn list<T>(line: usize, key: &str, v: &str) -> Result<Vec<T>, GbmError>
    where
        T: std::str::FromStr,
        T::Err: Into<NumberError>,
    {
        v.split_whitespace()
            .map(|s| parse_num(line, key, s))
            .collect()
    }
    let (line, v) = field("num_leaves")?;
    let num_leaves: usize = parse_num(line, "num_leaves", v)?;
    if let Some(&(line, v)) = kv.get("num_cat") {
        if parse_num::<usize>(line, "num_cat", v)? != 0 {
            return Err(GbmError::Unsupported("categorical splits".to_string()));
        }
    }
    if let Some(&(line, v)) = kv.get("is_linear") {
        if parse_num::<u8>(line, "is_linear", v)? != 0 {
            return Err(GbmError::Unsupported("linear trees".to_string()));
        }
    }
    let (line, v) = field("leaf_value")?;
    let leaf_value: Vec<f64> = list(line, "leaf_value", v)?;
    if num_leaves <= 1 {
        // A stump (no split gained anything): its cover is never used, as nothing is split.
        return Ok(Tree {
            split_feature: vec![],
            threshold: vec![],
            default_left: vec![],
            missing_type: vec![],
            left_child: vec![],
            right_child: vec![],
            internal_cover: vec![],
            leaf_cover: vec![1.0; leaf_value.len()],
            leaf_value,
        });
    }
    let (line, v) = field("split_feature")?;
    let split_feature: Vec<u32> = list(line, "split_feature", v)?;
    let (line, v) = field("threshold")?;
    let threshold: Vec<f64> = list(line, "threshold", v)?;
    let (dline, v) = field("decision_type")?;
    let decision_type: Vec<i32> = list(dline, "decision_type", v)?;
    let (line, v) = field("left_child")?;
    let left_child: Vec<i32> = list(line, "left_child", v)?;
    let (line, v) = field("right_child")?;
    let right_child: Vec<i32> = list(line, "right_child", v)?;
    let (line, v) = field("leaf_count")?;
    let leaf_cover: Vec<f64> = list(line, "leaf_count", v)?;
    let (line, v) = field("internal_count")?;
    let internal_cover: Vec<f64> = list(line, "internal_count", v)?;

    // decision_type bits (LightGBM tree.h): 1 categorical, 2 default_left, bits 2-3 missing type.
    let mut default_left = Vec::with_capacity(decision_type.len());
    let mut missing_type = Vec::with_capacity(decision_type.len());
    for &d in &decision_type {
        if d & 1 != 0 {
            return Err(GbmError::Unsupported("categorical splits".to_string()));
        }
        default_left.push(d & 2 != 0);
        missing_type.push(match (d >> 2) & 3 {
            0 => MissingType::None,
            1 => MissingType::Zero,
            2 => MissingType::Nan,
            other => {
                return Err(GbmError::ModelText {
                    line: dline,
                    reason: format!("unknown missing type {other}"),
                })
            }
        });
    }
    if leaf_value.len() != num_leaves {
        return Err(GbmError::ModelText {
            line: at,
            reason: format!(
                "num_leaves={num_leaves} but {} leaf values",
                leaf_value.len()
            ),
        });
    }
    Ok(Tree {
        split_feature,
        threshold,
        default_left,
        missing_type,
        left_child,
        right_child,
        internal_cover,
        leaf_value,
        leaf_cover,
    })
}

#[cfg(all(test, feature = "gbm"))]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    const N_FEATURES: usize = 10;

    /// splitmix64: a seeded generator, so the data (and so the trees) are the same every run.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A nonlinear rule with interactions, a step, a feature that is often exactly zero, an
    /// integer-valued feature and NaN in three features (missingness itself is informative).
    fn synthetic(n_rows: usize, seed: u64) -> (Vec<f64>, Vec<f32>) {
        let mut rng = Rng(seed);
        let mut x = Vec::with_capacity(n_rows * N_FEATURES);
        let mut y = Vec::with_capacity(n_rows);
        for _ in 0..n_rows {
            let mut r: Vec<f64> = (0..N_FEATURES).map(|_| rng.uniform() * 2.0 - 1.0).collect();
            if rng.uniform() < 0.3 {
                r[5] = 0.0;
            }
            r[7] = (rng.uniform() * 6.0).floor();
            for f in [0, 3, 8] {
                if rng.uniform() < 0.05 {
                    r[f] = f64::NAN;
                }
            }
            let v = |f: usize| if r[f].is_nan() { 0.0 } else { r[f] };
            let logit = 1.5 * v(0) * v(1) - 2.0 * v(2) * v(2)
                + (3.0 * v(3)).sin()
                + if r[4] > 0.3 { 1.2 } else { 0.0 }
                + if r[5] == 0.0 { 0.8 } else { 0.0 }
                + 0.3 * (r[7] - 2.5)
                + if r[0].is_nan() { 1.0 } else { 0.0 }
                - 0.3;
            let p = 1.0 / (1.0 + (-2.0 * logit).exp());
            y.push(if rng.uniform() < p { 1.0 } else { 0.0 });
            x.extend(r);
        }
        (x, y)
    }

    fn test_params() -> GbmParams {
        GbmParams {
            num_trees: 100,
            num_leaves: 31,
            learning_rate: 0.1,
            min_data_in_leaf: 20,
            feature_fraction: 0.9,
            bagging_fraction: 0.8,
            bagging_freq: 1,
            lambda_l2: 1.0,
            seed: 7,
            // One thread: OpenMP's spinning barriers crawl when other builds share the cores.
            num_threads: 1,
        }
    }

    /// Rows that probe the edges of LightGBM's decision rule: every feature missing in turn,
    /// signed zeros, values inside and just outside ±1e-35 and infinities (`special_rows`), and
    /// for many split nodes the threshold itself and its neighbouring doubles (`threshold_rows`).
    fn special_rows(base: &[f64]) -> Vec<f64> {
        let mut rows = Vec::new();
        let mut push = |f: Option<usize>, v: f64| {
            let mut r = base.to_vec();
            match f {
                Some(f) => r[f] = v,
                None => r.iter_mut().for_each(|x| *x = v),
            }
            rows.extend(r);
        };
        let specials = [
            f64::NAN,
            0.0,
            -0.0,
            1e-40,
            -1e-40,
            1e-35,
            ZERO_THRESHOLD,
            -ZERO_THRESHOLD,
            ZERO_THRESHOLD.next_up(),
            2e-35,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -1e300,
        ];
        for &v in &specials {
            push(None, v);
            for f in 0..N_FEATURES {
                push(Some(f), v);
            }
        }
        rows
    }

    fn threshold_rows(gbm: &Gbm, base: &[f64]) -> Vec<f64> {
        let mut rows = Vec::new();
        for tree in gbm.trees().iter().take(20) {
            for (&f, &t) in tree.split_feature.iter().zip(&tree.threshold) {
                for v in [t, t.next_down(), t.next_up()] {
                    rows.extend_from_slice(base);
                    let at = rows.len() - base.len() + f as usize;
                    rows[at] = v;
                }
            }
        }
        rows
    }

    struct Fixture {
        gbm: Gbm,
        rows: Vec<f64>,
        lgb_raw: Vec<f64>,
        lgb_proba: Vec<f64>,
        /// LightGBM's `pred_contrib` for the first `contrib_rows` rows.
        lgb_contrib: Vec<f64>,
        contrib_rows: usize,
        holdout_auc: f64,
    }

    /// One booster for all tests: LightGBM's own outputs are taken from it before it is dropped
    /// (a `Booster` is not `Sync`, so it cannot be shared itself).
    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let (x, y) = synthetic(5000, 1);
            let booster =
                train_booster(&x, 5000, N_FEATURES, &y, None, &test_params()).expect("training");
            let gbm = Gbm::from_lightgbm(&booster).expect("export");
            let (test_x, test_y) = synthetic(2000, 2);
            // Contributions (slow in a debug build) are checked on the special rows, 400 random
            // ones and 200 threshold probes; predictions on all rows.
            let base = &test_x[..N_FEATURES];
            let mut rows = special_rows(base);
            let contrib_rows = rows.len() / N_FEATURES + 600;
            rows.extend_from_slice(&test_x[..400 * N_FEATURES]);
            rows.extend(threshold_rows(&gbm, base));
            rows.extend_from_slice(&test_x[400 * N_FEATURES..]);
            let nf = N_FEATURES as i32;
            let lgb_raw = booster.raw_scores(&rows, nf, true).expect("raw");
            let lgb_proba = booster.predict(&rows, nf, true).expect("predict");
            let lgb_contrib = booster
                .predict_contrib(&rows[..contrib_rows * N_FEATURES], nf, true)
                .expect("contrib");
            let holdout = gbm.predict_raw_batch(&test_x, N_FEATURES).expect("predict");
            Fixture {
                holdout_auc: auc(&holdout, &test_y),
                gbm,
                rows,
                lgb_raw,
                lgb_proba,
                lgb_contrib,
                contrib_rows,
            }
        })
    }

    fn auc(scores: &[f64], labels: &[f32]) -> f64 {
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let (mut rank_sum, mut pos) = (0.0, 0.0);
        for (rank, &i) in idx.iter().enumerate() {
            if labels[i] == 1.0 {
                rank_sum += (rank + 1) as f64;
                pos += 1.0;
            }
        }
        let neg = labels.len() as f64 - pos;
        (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
    }

    fn rows_of(rows: &[f64]) -> impl Iterator<Item = &[f64]> {
        rows.chunks_exact(N_FEATURES)
    }

    #[test]
    fn predictions_equal_lightgbm_for_every_row() {
        let fx = fixture();
        let ours = fx.gbm.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
        assert_eq!(ours.len(), fx.lgb_raw.len());
        let mut bit_equal = 0;
        for (i, (a, b)) in ours.iter().zip(&fx.lgb_raw).enumerate() {
            assert!((a - b).abs() <= 1e-9, "row {i}: ours {a}, LightGBM {b}");
            bit_equal += usize::from(a.to_bits() == b.to_bits());
        }
        // Same thresholds, same rule, same summation order: not just close, identical.
        assert_eq!(
            bit_equal,
            ours.len(),
            "raw scores not bit-identical to LightGBM"
        );
        let proba = fx.gbm.predict_proba_batch(&fx.rows, N_FEATURES).unwrap();
        for (i, (a, b)) in proba.iter().zip(&fx.lgb_proba).enumerate() {
            assert!((a - b).abs() <= 1e-12, "row {i}: ours {a}, LightGBM {b}");
        }
    }

    #[test]
    fn every_tree_walk_ends_at_the_same_leaves() {
        let fx = fixture();
        let layout = &fx.gbm.eval;
        let splits = layout
            .splits
            .as_ref()
            .expect("the fixture fits the column-wise kernel");
        let rows = &fx.rows[..LANES * N_FEATURES];
        let walk = layout.narrow.as_ref().unwrap();
        let mut bins = vec![0u8; LANES * layout.stride];
        layout.column_bins(rows, &mut bins);
        let (mut fastest, mut portable) = ([0u8; LANES], [0u8; LANES]);
        let mut leaves_reached = std::collections::HashSet::new();
        for (t, span) in layout.trees.iter().enumerate() {
            let tree = &splits[span.split_start..span.split_end];
            tree_walk()(tree, &bins, &mut fastest);
            walk_portable(tree, &bins, &mut portable);
            assert_eq!(fastest, portable, "tree {t}");
            for &leaf in &fastest {
                let at = span.walk_start + usize::from(leaf);
                // A leaf points to itself.
                assert_eq!(walk[at].first(), usize::from(leaf), "tree {t}");
                leaves_reached.insert(at);
            }
        }
        // 128 rows spread over about 9 leaves a tree: the walks go deep, not just to one side.
        let (reached, trees) = (leaves_reached.len(), layout.trees.len());
        assert!(
            reached > 5 * trees,
            "{reached} leaves reached in {trees} trees"
        );
    }

    #[test]
    fn single_row_and_parallel_batch_agree_with_serial_batch() {
        let fx = fixture();
        let batch = fx.gbm.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
        for (i, row) in rows_of(&fx.rows).enumerate() {
            let one = fx.gbm.predict_raw(row).unwrap();
            assert_eq!(one.to_bits(), batch[i].to_bits(), "row {i}");
        }
        // More rows than one task holds, so the rayon path runs, with a ragged last block.
        let many: Vec<f64> = fx
            .rows
            .iter()
            .copied()
            .cycle()
            .take(5003 * N_FEATURES)
            .collect();
        let par = fx.gbm.predict_raw_batch(&many, N_FEATURES).unwrap();
        for (i, row) in rows_of(&many).enumerate().step_by(7) {
            assert_eq!(par[i].to_bits(), fx.gbm.predict_raw(row).unwrap().to_bits());
        }
    }

    #[test]
    fn the_model_learned_the_rule() {
        let auc = fixture().holdout_auc;
        assert!(auc >= 0.75, "held-out ROC-AUC ({auc}) is below 0.75");
    }

    #[test]
    fn contributions_sum_to_the_raw_score() {
        let fx = fixture();
        let rows = &fx.rows[..fx.contrib_rows * N_FEATURES];
        let raw = fx.gbm.predict_raw_batch(rows, N_FEATURES).unwrap();
        let path = fx.gbm.path_contributions_batch(rows, N_FEATURES).unwrap();
        let shap = fx.gbm.shap_contributions_batch(rows, N_FEATURES).unwrap();
        let width = N_FEATURES + 1;
        for (i, (p, s)) in path
            .chunks_exact(width)
            .zip(shap.chunks_exact(width))
            .enumerate()
        {
            let (p_sum, s_sum) = (p.iter().sum::<f64>(), s.iter().sum::<f64>());
            assert!(
                (p_sum - raw[i]).abs() <= 1e-9,
                "path, row {i}: {p_sum} vs {}",
                raw[i]
            );
            assert!(
                (s_sum - raw[i]).abs() <= 1e-9,
                "shap, row {i}: {s_sum} vs {}",
                raw[i]
            );
            // Both methods take LightGBM's expected value as bias.
            assert_eq!(p[N_FEATURES].to_bits(), s[N_FEATURES].to_bits(), "row {i}");
        }
        let row = &rows[..N_FEATURES];
        let total = fx.gbm.path_contributions(row).unwrap().total();
        assert!((total - raw[0]).abs() <= 1e-9);
    }

    #[test]
    fn treeshap_equals_lightgbm_pred_contrib() {
        let fx = fixture();
        let rows = &fx.rows[..fx.contrib_rows * N_FEATURES];
        let ours = fx.gbm.shap_contributions_batch(rows, N_FEATURES).unwrap();
        assert_eq!(ours.len(), fx.lgb_contrib.len());
        for (i, (a, b)) in ours.iter().zip(&fx.lgb_contrib).enumerate() {
            let (row, col) = (i / (N_FEATURES + 1), i % (N_FEATURES + 1));
            assert!(
                (a - b).abs() <= 1e-9,
                "row {row} column {col}: ours {a}, LightGBM {b}"
            );
        }
        // The batch form is the single-row form laid out flat.
        let first = fx.gbm.shap_contributions(&rows[..N_FEATURES]).unwrap();
        assert_eq!(&ours[..N_FEATURES], &first.values[..]);
        assert_eq!(ours[N_FEATURES], first.bias);
        let path = fx.gbm.path_contributions_batch(rows, N_FEATURES).unwrap();
        let first = fx.gbm.path_contributions(&rows[..N_FEATURES]).unwrap();
        assert_eq!(&path[..N_FEATURES], &first.values[..]);
    }

    #[test]
    fn serde_round_trip_gives_identical_predictions() {
        let fx = fixture();
        let json = serde_json::to_string(&fx.gbm).unwrap();
        let back: Gbm = serde_json::from_str(&json).unwrap();
        // Needs serde_json's `float_roundtrip`: its default parser may be 1 ulp off.
        assert!(back == fx.gbm, "the model changed in a JSON round trip");
        let a = fx.gbm.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
        let b = back.predict_raw_batch(&fx.rows, N_FEATURES).unwrap();
        assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn training_is_reproducible() {
        let (x, y) = synthetic(5000, 1);
        let again = train(&x, 5000, N_FEATURES, &y, None, &test_params()).unwrap();
        assert!(again == fixture().gbm, "a second training gave other trees");
    }

    #[test]
    fn weights_change_the_model() {
        let (x, y) = synthetic(2000, 3);
        let w: Vec<f64> = y
            .iter()
            .map(|&l| if l == 1.0 { 3.0 } else { 1.0 })
            .collect();
        let params = GbmParams {
            num_trees: 20,
            ..test_params()
        };
        let plain = train(&x, 2000, N_FEATURES, &y, None, &params).unwrap();
        let weighted = train(&x, 2000, N_FEATURES, &y, Some(&w), &params).unwrap();
        let mean = |g: &Gbm| {
            g.predict_raw_batch(&x, N_FEATURES)
                .unwrap()
                .iter()
                .sum::<f64>()
        };
        // Up-weighting the positives must raise the average score.
        assert!(mean(&weighted) > mean(&plain));
    }

    fn two_leaf() -> Gbm {
        let tree = Tree {
            split_feature: vec![0],
            threshold: vec![0.5],
            default_left: vec![true],
            missing_type: vec![MissingType::Nan],
            left_child: vec![-1],
            right_child: vec![-2],
            internal_cover: vec![40.0],
            leaf_value: vec![-1.0, 2.0],
            leaf_cover: vec![30.0, 10.0],
        };
        Gbm::new(2, 0.0, 1.0, vec![tree]).unwrap()
    }

    #[test]
    fn hand_built_two_leaf_tree() {
        let g = two_leaf();
        assert_eq!(g.predict_raw(&[0.2, 9.0]).unwrap(), -1.0);
        assert_eq!(g.predict_raw(&[0.5, 9.0]).unwrap(), -1.0); // `<=` goes left
        assert_eq!(g.predict_raw(&[0.7, 9.0]).unwrap(), 2.0);
        assert_eq!(g.predict_raw(&[f64::NAN, 9.0]).unwrap(), -1.0); // default left
        let p = g.predict_proba(&[0.7, 0.0]).unwrap();
        assert!((p - 0.880_797_077_977_882_3).abs() < 1e-15, "{p}"); // 1 / (1 + e^-2)

        // Expected value (30·(−1) + 10·2) / 40 = −0.25; the one split explains the rest.
        for c in [
            g.path_contributions(&[0.2, 9.0]).unwrap(),
            g.shap_contributions(&[0.2, 9.0]).unwrap(),
        ] {
            assert_eq!(c.bias, -0.25);
            assert_eq!(c.values, vec![-0.75, 0.0]);
        }
        let c = g.shap_contributions(&[0.7, 9.0]).unwrap();
        assert_eq!(c.values, vec![2.25, 0.0]);
    }

    #[test]
    fn hand_built_tree_with_a_repeated_feature() {
        // x0 <= 0 ? (x0 <= -1 ? 1 : 2) : 4, covers 10 / 30 / 60.
        let tree = Tree {
            split_feature: vec![0, 0],
            threshold: vec![0.0, -1.0],
            default_left: vec![false, false],
            missing_type: vec![MissingType::None, MissingType::None],
            left_child: vec![1, -1],
            right_child: vec![-3, -2],
            internal_cover: vec![100.0, 40.0],
            leaf_value: vec![1.0, 2.0, 4.0],
            leaf_cover: vec![10.0, 30.0, 60.0],
        };
        let g = Gbm::new(1, 0.5, 1.0, vec![tree]).unwrap();
        // E = 0.1·1 + 0.3·2 + 0.6·4 = 3.1; with base 0.5 the bias is 3.6.
        let c = g.shap_contributions(&[-2.0]).unwrap();
        assert!((c.bias - 3.6).abs() < 1e-12);
        assert!((c.values[0] - (1.0 - 3.1)).abs() < 1e-12);
        // Path: root 3.1 → node 1 (10·1 + 30·2) / 40 = 1.75 → leaf 1.
        let p = g.path_contributions(&[-2.0]).unwrap();
        assert!((p.values[0] - (1.75 - 3.1 + 1.0 - 1.75)).abs() < 1e-12);
        assert_eq!(g.predict_raw(&[-2.0]).unwrap(), 1.5);
        assert_eq!(g.predict_raw(&[f64::NAN]).unwrap(), 2.5); // NaN → 0 → left, then right
    }

    /// Three one-split trees, one per missing type, written as LightGBM model text so that
    /// LightGBM itself can be asked what it predicts.
    const MISSING_TYPES_MODEL: &str = "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=2
objective=binary sigmoid:1
feature_names=a b c
feature_infos=[-1:1] [-1:1] [-1:1]

Tree=0
num_leaves=2
num_cat=0
split_feature=0
split_gain=1
threshold=0.25
decision_type=0
left_child=-1
right_child=-2
leaf_value=1 2
leaf_weight=1 1
leaf_count=5 5
internal_value=0
internal_weight=0
internal_count=10
is_linear=0
shrinkage=1


Tree=1
num_leaves=2
num_cat=0
split_feature=1
split_gain=1
threshold=-0.5
decision_type=6
left_child=-1
right_child=-2
leaf_value=10 20
leaf_weight=1 1
leaf_count=5 5
internal_value=0
internal_weight=0
internal_count=10
is_linear=0
shrinkage=1


Tree=2
num_leaves=2
num_cat=0
split_feature=2
split_gain=1
threshold=-1e-36
decision_type=8
left_child=-1
right_child=-2
leaf_value=100 200
leaf_weight=1 1
leaf_count=5 5
internal_value=0
internal_weight=0
internal_count=10
is_linear=0
shrinkage=1


end of trees
";

    #[test]
    fn missing_types_follow_lightgbm() {
        let ours = Gbm::from_lightgbm_text(MISSING_TYPES_MODEL).unwrap();
        let t = ours.trees();
        assert_eq!(
            (
                t[0].missing_type[0],
                t[1].missing_type[0],
                t[2].missing_type[0]
            ),
            (MissingType::None, MissingType::Zero, MissingType::Nan)
        );
        assert!(t[1].default_left[0] && !t[2].default_left[0]);
        let values = [
            f64::NAN,
            0.0,
            -0.0,
            1e-40,
            -2e-36,
            2e-35,
            -2e-35,
            0.3,
            -0.7,
            5.0,
        ];
        let mut rows = Vec::new();
        for &a in &values {
            for &b in &values {
                for &c in &values {
                    rows.extend([a, b, c]);
                }
            }
        }
        let booster = lightgbm3::Booster::from_string(MISSING_TYPES_MODEL).unwrap();
        let theirs = booster.raw_scores(&rows, 3, true).unwrap();
        let mine = ours.predict_raw_batch(&rows, 3).unwrap();
        for (i, row) in rows.chunks_exact(3).enumerate() {
            assert_eq!(mine[i], theirs[i], "row {row:?}");
            // Hand-derived: tree 0 NaN → 0 → left; tree 1 NaN and |x| ≤ 1e-35 → default left;
            // tree 2 NaN → default right, and −2e-36 is read as 0, so not ≤ −1e-36.
            let t0 = if row[0].is_nan() || row[0] <= 0.25 {
                1.0
            } else {
                2.0
            };
            let t1 = if row[1].is_nan() || row[1].abs() <= ZERO_THRESHOLD || row[1] <= -0.5 {
                10.0
            } else {
                20.0
            };
            let c = if row[2].abs() <= ZERO_THRESHOLD {
                0.0
            } else {
                row[2]
            };
            let t2 = if !c.is_nan() && c <= -1e-36 {
                100.0
            } else {
                200.0
            };
            assert_eq!(mine[i], t0 + t1 + t2, "row {row:?}");
        }
        let shap_theirs = booster.predict_contrib(&rows, 3, true).unwrap();
        let shap_mine = ours.shap_contributions_batch(&rows, 3).unwrap();
        for (a, b) in shap_mine.iter().zip(&shap_theirs) {
            assert!((a - b).abs() <= 1e-12, "ours {a}, LightGBM {b}");
        }
    }

    #[test]
    fn corrupt_models_are_refused() {
        let good = serde_json::to_value(two_leaf()).unwrap();
        let corrupt = |path: &str, v: serde_json::Value| {
            let mut m = good.clone();
            *m.pointer_mut(path).unwrap() = v;
            serde_json::from_value::<Gbm>(m).unwrap_err().to_string()
        };
        use serde_json::json;
        assert!(corrupt("/trees/0/left_child/0", json!(0)).contains("not a tree"));
        assert!(corrupt("/trees/0/left_child/0", json!(-2)).contains("not a tree"));
        assert!(corrupt("/trees/0/split_feature/0", json!(2)).contains("feature 2"));
        assert!(corrupt("/trees/0/leaf_value", json!([1.0])).contains("leaf values"));
        assert!(corrupt("/trees/0/internal_cover/0", json!(0.0)).contains("cover"));
        assert!(corrupt("/trees/0/threshold/0", json!(null)).contains("did not match"));
        assert!(corrupt("/trees/0/threshold/0", json!("nan")).contains("threshold `nan`"));
        assert!(corrupt("/sigmoid", json!(-1.0)).contains("sigmoid"));
        assert!(corrupt("/n_features", json!(0)).contains("features"));

        let truncated = &MISSING_TYPES_MODEL[..MISSING_TYPES_MODEL.len() - 20];
        assert!(matches!(
            Gbm::from_lightgbm_text(truncated),
            Err(GbmError::ModelText { .. })
        ));
        let categorical = MISSING_TYPES_MODEL.replacen("decision_type=0", "decision_type=1", 1);
        assert!(matches!(
            Gbm::from_lightgbm_text(&categorical),
            Err(GbmError::Unsupported(_))
        ));
        let multiclass = MISSING_TYPES_MODEL.replacen("num_class=1", "num_class=3", 1);
        assert!(matches!(
            Gbm::from_lightgbm_text(&multiclass),
            Err(GbmError::Unsupported(_))
        ));
        let garbled = MISSING_TYPES_MODEL.replacen("threshold=0.25", "threshold=0.2x5", 1);
        let err = Gbm::from_lightgbm_text(&garbled).unwrap_err();
        assert!(
            matches!(err, GbmError::ModelNumber { line: 16, .. }),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let g = two_leaf();
        assert!(matches!(
            g.predict_raw(&[1.0]),
            Err(GbmError::FeatureCount {
                expected: 2,
                got: 1
            })
        ));
        assert!(matches!(
            g.predict_raw_batch(&[1.0, 2.0, 3.0], 2),
            Err(GbmError::RaggedRows { .. })
        ));
        assert!(g.predict_raw_batch(&[], 2).unwrap().is_empty());

        let (x, y) = synthetic(100, 4);
        let p = test_params();
        let bad_params = GbmParams {
            num_leaves: 1,
            ..p.clone()
        };
        assert!(matches!(
            train(&x, 100, N_FEATURES, &y, None, &bad_params),
            Err(GbmError::InvalidParam {
                name: "num_leaves",
                ..
            })
        ));
        let mut y2 = y.clone();
        y2[3] = 2.0;
        assert!(matches!(
            train(&x, 100, N_FEATURES, &y2, None, &p),
            Err(GbmError::InvalidData(_))
        ));
        assert!(matches!(
            train(&x[1..], 100, N_FEATURES, &y, None, &p),
            Err(GbmError::InvalidData(_))
        ));
        assert!(matches!(
            train(&x, 100, N_FEATURES, &y, Some(&[1.0; 99]), &p),
            Err(GbmError::InvalidData(_))
        ));
        let toml_like = serde_json::json!({"num_trees": 10, "num_leavs": 8});
        assert!(serde_json::from_value::<GbmParams>(toml_like).is_err());
    }

    #[test]
    fn order_keys_keep_the_order_of_doubles() {
        let ascending = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
        ];
        let keys: Vec<u64> = ascending.iter().map(|&v| order_key(v)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:x?}");
        // 0 and MAX stay free for the missing values of the row variants.
        assert!(keys[0] > 0 && keys[keys.len() - 1] < u64::MAX);
    }

    #[test]
    fn gbm_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Gbm>();
        assert_send_sync::<Contributions>();
        assert_send_sync::<GbmError>();
    }
}
