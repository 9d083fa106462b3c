//! The bagged forest: smartcore decision trees on bootstrap samples, class probabilities
//! averaged. The samples are drawn one after the other from one seeded generator, the trees grow
//! side by side, and their probabilities are added in tree order: the same forest and the same
//! sums on any number of threads.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

use super::{BaselineError, BaselineParams};

/// Trees grown at once: enough to keep every thread busy, few enough that their probabilities
/// for the scored rows stay small in memory.
const AT_ONCE: usize = 8;

/// A value trees can split on: NaN (missing) sorts below every real value.
fn tree_value(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        -1e12
    }
}

/// What every tree of one forest shares: its training rows, settings and the rows it scores.
struct Grove<'a> {
    train: &'a [f64],
    y: &'a [u8],
    cols: usize,
    p: &'a BaselineParams,
    xs: DenseMatrix<f64>,
    score_rows: usize,
}

impl Grove<'_> {
    /// One tree grown on the `picked` rows, and its probability of the positive class for each
    /// row scored; `None` when the sample holds one class only.
    fn grow(&self, picked: &[usize], seed: u64) -> Result<Option<Vec<f64>>, BaselineError> {
        let Grove {
            train,
            y,
            cols,
            p,
            ref xs,
            score_rows,
        } = *self;
        let mut xv = Vec::with_capacity(picked.len() * cols);
        let mut yv = Vec::with_capacity(picked.len());
        for &r in picked {
            xv.extend(
                train[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&v| tree_value(v)),
            );
            yv.push(u32::from(y[r]));
        }
        if !yv.contains(&0) || !yv.contains(&1) {
            return Ok(None);
        }
        let x = DenseMatrix::new(picked.len(), cols, xv, false)?;
        let params = DecisionTreeClassifierParameters {
            max_depth: Some(p.forest_max_depth),
            min_samples_leaf: 5,
            seed: Some(seed),
            ..DecisionTreeClassifierParameters::default()
        };
        let tree = DecisionTreeClassifier::fit(&x, &yv, params)?;
        let proba = tree.predict_proba(xs)?;
        // Classes are sorted, so column 1 is the positive class.
        Ok(Some(
            (0..score_rows)
                .map(|i| smartcore::linalg::basic::arrays::Array::get(&proba, (i, 1)))
                .copied()
                .collect(),
        ))
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
    let grove = Grove {
        train,
        y,
        cols,
        p,
        xs: DenseMatrix::new(
            score_rows,
            cols,
            score.iter().map(|&v| tree_value(v)).collect(),
            false,
        )?,
        score_rows,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let take = p.forest_sample_rows.min(rows).max(1);
    // Bootstrap samples of rows (drawn with replacement), in tree order.
    let samples: Vec<Vec<usize>> = (0..p.forest_trees)
        .map(|_| (0..take).map(|_| rng.random_range(0..rows)).collect())
        .collect();
    let mut sum = vec![0.0; score_rows];
    for (batch, group) in samples.chunks(AT_ONCE).enumerate() {
        let grown: Vec<Option<Vec<f64>>> = group
            .par_iter()
            .enumerate()
            .map(|(k, picked)| {
                let t = (batch * AT_ONCE + k) as u64;
                grove.grow(picked, p.seed.wrapping_add(t))
            })
            .collect::<Result<_, _>>()?;
        for proba in grown.iter().flatten() {
            for (s, v) in sum.iter_mut().zip(proba) {
                *s += v;
            }
        }
    }
    let n = f64::from(p.forest_trees.max(1));
    Ok(sum.into_iter().map(|s| s / n).collect())
}
