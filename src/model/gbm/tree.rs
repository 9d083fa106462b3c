//! The trees as plain data, in LightGBM's encoding, and their validation: a tree that is not
//! one tree over the model's features is refused before anything evaluates it.

use serde::{Deserialize, Serialize};

use super::{MAX_TREE_DEPTH, MAX_TREE_NODES};

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
    pub(super) fn n_internal(&self) -> usize {
        self.split_feature.len()
    }

    pub(super) fn cover(&self, child: i32) -> f64 {
        if child >= 0 {
            self.internal_cover[child as usize]
        } else {
            self.leaf_cover[!child as usize]
        }
    }

    /// LightGBM's `Tree::ExpectedValue`, in its order of operations, so that the bias of both
    /// attribution methods is bit-for-bit LightGBM's.
    pub(super) fn expected_value(&self) -> f64 {
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
    pub(super) fn validate(&self, n_features: usize) -> Result<usize, String> {
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
