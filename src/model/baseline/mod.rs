//! The simpler model families every evaluation reports beside the gradient-boosted trees:
//! logistic regression (our own Newton solver, on standardised features) and a random forest of
//! classification trees. They are yardsticks, not served models.
//!
//! smartcore's `RandomForestClassifier` only votes classes, and a ranking metric needs a score,
//! so the forest here is bagged trees whose votes are averaged: smartcore's decision tree, split
//! for split (`cart`), grown on a stated sample of rows each, side by side on the rayon pool.

mod cart;
mod forest;
mod logistic;

pub use forest::forest;
pub use logistic::logistic;

use serde::{Deserialize, Serialize};

/// Baseline settings from `training/*.toml` (`[baselines]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineParams {
    /// Ridge penalty on the logistic weights (standardised features; the intercept is free).
    pub logistic_l2: f64,
    /// At most this many Newton iterations (about ten reach the optimum).
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
    #[error("logistic regression: the Hessian is singular even with a ridge on its diagonal")]
    Singular,
    #[error("{0}")]
    Shape(#[from] ndarray::ShapeError),
    #[error("the training set needs both classes")]
    OneClass,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metrics::roc_auc;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

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
