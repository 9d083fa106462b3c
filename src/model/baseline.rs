//! The simpler model families every evaluation reports beside the gradient-boosted trees:
//! logistic regression (linfa, on standardised features) and a random forest of smartcore
//! decision trees. They are yardsticks, not served models.
//!
//! smartcore's `RandomForestClassifier` only votes classes, and a ranking metric needs a score,
//! so the forest here is bagged smartcore trees whose class probabilities are averaged. Its trees
//! scan every row at every node on one thread, so it trains on a stated sample of rows.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

use super::metrics::mean_variance;

/// Baseline settings from `training/*.toml` (`[baselines]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineParams {
    pub logistic_l2: f64,
    pub logistic_iterations: u64,
    pub forest_trees: u16,
    pub forest_max_depth: u16,
    /// Rows each forest tree is grown on (a bootstrap sample of the training rows).
    pub forest_sample_rows: usize,
    pub seed: u64,
}

impl Default for BaselineParams {
    fn default() -> Self {
        BaselineParams {
            logistic_l2: 1.0,
            logistic_iterations: 200,
            forest_trees: 50,
            forest_max_depth: 10,
            forest_sample_rows: 20_000,
            seed: 7,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("logistic regression: {0}")]
    Logistic(#[from] linfa_logistic::error::Error),
    #[error("random forest: {0}")]
    Forest(#[from] smartcore::error::Failed),
    #[error("{0}")]
    Shape(#[from] ndarray::ShapeError),
    #[error("the training set needs both classes")]
    OneClass,
}

/// Column means and standard deviations over finite values; NaN becomes the mean (0 after
/// standardising).
struct Standardiser {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Standardiser {
    fn fit(x: &[f64], cols: usize) -> Self {
        let mut mean = vec![0.0; cols];
        let mut std = vec![1.0; cols];
        for j in 0..cols {
            let vals: Vec<f64> = x
                .iter()
                .skip(j)
                .step_by(cols)
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            let Some((m, var)) = mean_variance(&vals) else {
                continue;
            };
            mean[j] = m;
            std[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
        }
        Standardiser { mean, std }
    }

    fn apply(&self, x: &[f64], cols: usize) -> Result<Array2<f64>, ndarray::ShapeError> {
        let rows = x.len() / cols.max(1);
        let v = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let j = i % cols;
                if v.is_finite() {
                    (v - self.mean[j]) / self.std[j]
                } else {
                    0.0
                }
            })
            .collect();
        Array2::from_shape_vec((rows, cols), v)
    }
}

/// Trains logistic regression on `train` rows and returns its probabilities for `score` rows.
pub fn logistic(
    train: &[f64],
    y: &[u8],
    score: &[f64],
    cols: usize,
    p: &BaselineParams,
) -> Result<Vec<f64>, BaselineError> {
    if !y.contains(&0) || !y.contains(&1) {
        return Err(BaselineError::OneClass);
    }
    let s = Standardiser::fit(train, cols);
    let x = s.apply(train, cols)?;
    let targets: Array1<usize> = y.iter().map(|&l| usize::from(l)).collect();
    let model = LogisticRegression::default()
        .alpha(p.logistic_l2)
        .max_iterations(p.logistic_iterations)
        .fit(&Dataset::new(x, targets))?;
    // linfa names the more frequent class "positive"; wool is usually the rarer one.
    let p1 = model.predict_probabilities(&s.apply(score, cols)?);
    Ok(if model.labels().pos.class == 1 {
        p1.to_vec()
    } else {
        p1.iter().map(|p| 1.0 - p).collect()
    })
}

/// A value trees can split on: NaN (missing) sorts below every real value.
fn tree_value(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        -1e12
    }
}

/// Trains the bagged forest on `train` rows and returns its averaged probabilities for `score`.
pub fn forest(
    train: &[f64],
    y: &[u8],
    score: &[f64],
    cols: usize,
    p: &BaselineParams,
) -> Result<Vec<f64>, BaselineError> {
    if !y.contains(&0) || !y.contains(&1) {
        return Err(BaselineError::OneClass);
    }
    let rows = y.len();
    let score_rows = score.len() / cols.max(1);
    let xs = DenseMatrix::new(
        score_rows,
        cols,
        score.iter().map(|&v| tree_value(v)).collect(),
        false,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let take = p.forest_sample_rows.min(rows).max(1);
    let mut sum = vec![0.0; score_rows];
    for t in 0..p.forest_trees {
        // A bootstrap sample of rows: drawn with replacement.
        let picked: Vec<usize> = (0..take).map(|_| rng.random_range(0..rows)).collect();
        let mut xv = Vec::with_capacity(take * cols);
        let mut yv = Vec::with_capacity(take);
        for &r in &picked {
            xv.extend(
                train[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&v| tree_value(v)),
            );
            yv.push(u32::from(y[r]));
        }
        if !yv.contains(&0) || !yv.contains(&1) {
            continue;
        }
        let x = DenseMatrix::new(take, cols, xv, false)?;
        let params = DecisionTreeClassifierParameters {
            max_depth: Some(p.forest_max_depth),
            min_samples_leaf: 5,
            seed: Some(p.seed.wrapping_add(u64::from(t))),
            ..DecisionTreeClassifierParameters::default()
        };
        let tree = DecisionTreeClassifier::fit(&x, &yv, params)?;
        let proba = tree.predict_proba(&xs)?;
        // Classes are sorted, so column 1 is the positive class.
        for (i, s) in sum.iter_mut().enumerate() {
            *s += smartcore::linalg::basic::arrays::Array::get(&proba, (i, 1));
        }
    }
    let n = f64::from(p.forest_trees.max(1));
    Ok(sum.into_iter().map(|s| s / n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metrics::roc_auc;

    /// y = 1 when x0 + x1 > 1.4 (about a fifth of rows, with 3% of the labels flipped), x2 is
    /// noise. The positive class is the rarer one, as wool is.
    fn data(n: usize, seed: u64) -> (Vec<f64>, Vec<u8>) {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let (a, b, c): (f64, f64, f64) = (rng.random(), rng.random(), rng.random());
            x.extend([
                a,
                b,
                if rng.random::<f64>() < 0.1 {
                    f64::NAN
                } else {
                    c
                },
            ]);
            let flip = rng.random::<f64>() < 0.03;
            y.push(u8::from((a + b > 1.4) != flip));
        }
        (x, y)
    }

    #[test]
    fn both_baselines_learn_a_simple_rule() {
        let (xt, yt) = data(2_000, 1);
        let (xs, ys) = data(1_000, 2);
        let p = BaselineParams {
            forest_trees: 10,
            forest_sample_rows: 1_000,
            ..BaselineParams::default()
        };
        let lr = logistic(&xt, &yt, &xs, 3, &p).unwrap_or_else(|e| panic!("{e}"));
        let rf = forest(&xt, &yt, &xs, 3, &p).unwrap_or_else(|e| panic!("{e}"));
        let auc_lr = roc_auc(&lr, &ys).unwrap_or(0.0);
        let auc_rf = roc_auc(&rf, &ys).unwrap_or(0.0);
        assert!(auc_lr > 0.85, "logistic AUC {auc_lr}");
        assert!(auc_rf > 0.85, "forest AUC {auc_rf}");
        assert!(matches!(
            logistic(&xt, &vec![0; 2_000], &xs, 3, &p),
            Err(BaselineError::OneClass)
        ));
    }
}
