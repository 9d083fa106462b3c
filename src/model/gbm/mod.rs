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
//!
//! The module by job: `params` (hyper-parameters and their check), `train` (LightGBM, behind
//! the `gbm` feature), `tree` (the trees as data and their validation), `lightgbm_text` (the
//! import of LightGBM's model text), `layout` (the evaluation layout derived from the trees),
//! `predict` (the prediction kernels: the only code here with `unsafe`) and `explain` (path
//! attributions and TreeSHAP).

mod explain;
mod layout;
mod lightgbm_text;
mod params;
mod predict;
#[cfg(all(test, feature = "gbm"))]
mod tests;
#[cfg(feature = "gbm")]
mod train;
mod tree;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::explain::split_bias;
use self::layout::Layout;
pub use self::params::{CheckedGbmParams, GbmParams};
#[cfg(feature = "gbm")]
pub use self::train::{train, train_booster, train_with_gain};
pub use self::tree::{MissingType, Tree};

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
}

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
