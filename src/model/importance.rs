//! Global feature importance of the gradient-boosted trees, two ways: the total split gain per
//! feature, as training recorded it (LightGBM's gain importance; our exported trees keep no
//! gain), and the mean absolute path attribution per feature over the rows a model scored
//! (`gbm::Gbm::path_contributions_batch`, the same attributions the reasons come from). Gain
//! says what the trees were built on; attributions say what moves the scores of these members.

use serde::{Deserialize, Serialize};

use super::gbm::{Gbm, GbmError};

/// Rows explained per call: their attributions are summed, then dropped, so memory stays small
/// whatever the number of rows.
const BLOCK: usize = 16_384;

/// One feature's importance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    pub feature: String,
    /// Total split gain of the feature over every tree, where training recorded it.
    pub gain: Option<f64>,
    /// Its share of the total gain of all features.
    pub gain_share: Option<f64>,
    /// Mean |path attribution| over the rows measured, in raw-score (log-odds) units.
    pub mean_abs_attribution: f64,
}

/// Every feature's importance, largest total gain first (largest mean attribution first where
/// no gain is known).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Rows the attributions are averaged over.
    pub rows: usize,
    pub features: Vec<FeatureImportance>,
}

impl Importance {
    /// From the features' names, gains (model order, where known) and mean |attribution|s.
    pub fn new(names: &[String], gain: Option<&[f64]>, mean_abs: &[f64], rows: usize) -> Self {
        let total: f64 = gain.map_or(0.0, |g| g.iter().sum());
        let mut features: Vec<FeatureImportance> = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let g = gain.and_then(|g| g.get(j).copied());
                FeatureImportance {
                    feature: name.clone(),
                    gain: g,
                    gain_share: g.filter(|_| total > 0.0).map(|g| g / total),
                    mean_abs_attribution: mean_abs.get(j).copied().unwrap_or(0.0),
                }
            })
            .collect();
        features.sort_by(|a, b| {
            b.gain
                .unwrap_or(0.0)
                .total_cmp(&a.gain.unwrap_or(0.0))
                .then(b.mean_abs_attribution.total_cmp(&a.mean_abs_attribution))
                .then(a.feature.cmp(&b.feature))
        });
        Importance { rows, features }
    }

    /// The recorded gains in the order of `names`; `None` unless every name has one.
    pub fn gains_for(&self, names: &[String]) -> Option<Vec<f64>> {
        names
            .iter()
            .map(|n| {
                self.features
                    .iter()
                    .find(|f| &f.feature == n)
                    .and_then(|f| f.gain)
            })
            .collect()
    }
}

/// The mean |path attribution| of each feature over row-major `rows` (model order). Rows are
/// summed in their order, so the result does not depend on the thread count.
pub fn mean_abs_attribution(
    gbm: &Gbm,
    rows: &[f64],
    n_features: usize,
) -> Result<Vec<f64>, GbmError> {
    let width = n_features + 1;
    let mut sum = vec![0.0; n_features];
    let mut n = 0usize;
    for block in rows.chunks(BLOCK * n_features.max(1)) {
        let phi = gbm.path_contributions_batch(block, n_features)?;
        for row in phi.chunks_exact(width) {
            for (s, v) in sum.iter_mut().zip(&row[..n_features]) {
                *s += v.abs();
            }
            n += 1;
        }
    }
    if n > 0 {
        sum.iter_mut().for_each(|s| *s /= n as f64);
    }
    Ok(sum)
}

/// [`Importance`] of `gbm` over `rows`, with the gains training recorded.
pub fn measure(
    gbm: &Gbm,
    names: &[String],
    gain: Option<&[f64]>,
    rows: &[f64],
) -> Result<Importance, GbmError> {
    let n_features = names.len();
    let mean_abs = mean_abs_attribution(gbm, rows, n_features)?;
    Ok(Importance::new(
        names,
        gain,
        &mean_abs,
        rows.len() / n_features.max(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gbm::{MissingType, Tree};

    /// One tree splitting on feature 1 at 0.5 into leaves −1 and +1 of equal cover: the root's
    /// value is 0, so a row below the split gets −1 on feature 1 and a row above gets +1.
    fn one_split() -> Gbm {
        let tree = Tree {
            split_feature: vec![1],
            threshold: vec![0.5],
            default_left: vec![true],
            missing_type: vec![MissingType::None],
            left_child: vec![-1],
            right_child: vec![-2],
            internal_cover: vec![10.0],
            leaf_value: vec![-1.0, 1.0],
            leaf_cover: vec![5.0, 5.0],
        };
        Gbm::new(2, 0.0, 1.0, vec![tree]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn attributions_by_hand() {
        let gbm = one_split();
        // Three rows: feature 1 at 0, 1, 0.2 → attributions −1, +1, −1: mean |·| = 1.
        let rows = [9.0, 0.0, 9.0, 1.0, 9.0, 0.2];
        let m = mean_abs_attribution(&gbm, &rows, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m, vec![0.0, 1.0]);
        let names = vec!["a".to_string(), "b".to_string()];
        let imp = measure(&gbm, &names, Some(&[1.0, 3.0]), &rows).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(imp.rows, 3);
        assert_eq!(imp.features[0].feature, "b");
        assert_eq!(imp.features[0].gain_share, Some(0.75));
        assert_eq!(imp.features[1].gain_share, Some(0.25));
        assert_eq!(imp.gains_for(&names), Some(vec![1.0, 3.0]));
        let none = Importance::new(&names, None, &[0.5, 0.2], 4);
        assert_eq!(none.features[0].feature, "a");
        assert_eq!(none.gains_for(&names), None);
    }

    /// Trees trained on a label only feature 2 decides rank feature 2 first both ways.
    #[cfg(feature = "gbm")]
    #[test]
    fn a_planted_feature_ranks_first() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (rows, cols) = (4_000, 5);
        let mut x = Vec::with_capacity(rows * cols);
        let mut y = Vec::with_capacity(rows);
        for _ in 0..rows {
            let row: Vec<f64> = (0..cols).map(|_| rng.random::<f64>()).collect();
            // 5% of the labels flipped, so that the trees have something left to learn.
            let flip = rng.random::<f64>() < 0.05;
            y.push(if (row[2] > 0.7) != flip { 1.0f32 } else { 0.0 });
            x.extend(row);
        }
        let params = crate::model::gbm::GbmParams {
            num_trees: 20,
            num_leaves: 7,
            num_threads: 1,
            ..Default::default()
        };
        let (gbm, gain) = crate::model::gbm::train_with_gain(&x, rows, cols, &y, None, &params)
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = (0..cols).map(|j| format!("f{j}")).collect();
        let imp = measure(&gbm, &names, Some(&gain), &x).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(imp.features[0].feature, "f2", "{imp:?}");
        let share = imp.features[0].gain_share.unwrap_or(0.0);
        assert!(share > 0.8, "the planted feature holds {share} of the gain");
        let top_attr = imp
            .features
            .iter()
            .max_by(|a, b| a.mean_abs_attribution.total_cmp(&b.mean_abs_attribution))
            .map(|f| f.feature.as_str());
        assert_eq!(top_attr, Some("f2"));
    }
}
