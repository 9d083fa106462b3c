//! The bagged forest: classification trees (`cart`, smartcore's tree split for split) on
//! bootstrap samples, their votes averaged. The samples are drawn one after the other from one
//! seeded generator, the trees grow side by side, and their votes are added in tree order: the
//! same forest and the same sums on any number of threads.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::cart::{Cart, Params};
use super::{BaselineError, BaselineParams};

/// Leaves hold at least this many sample rows.
const MIN_SAMPLES_LEAF: usize = 5;

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
    /// The training rows column by column, as trees read them: a sample's column is gathered
    /// from one column, not picked out of every row.
    train: Vec<Vec<f64>>,
    y: &'a [u8],
    cols: usize,
    p: &'a BaselineParams,
    /// The scored rows, row-major, as trees read them.
    xs: Vec<f64>,
}

impl Grove<'_> {
    /// One tree grown on the `picked` rows, and its vote (1 for the positive class) for each
    /// row scored; `None` when the sample holds one class only.
    fn grow(&self, picked: &[usize]) -> Option<Vec<u8>> {
        let Grove {
            ref train,
            y,
            cols,
            p,
            ref xs,
        } = *self;
        let yv: Vec<u8> = picked.iter().map(|&r| y[r]).collect();
        if !yv.contains(&0) || !yv.contains(&1) {
            return None;
        }
        let columns: Vec<Vec<f64>> = train
            .iter()
            .map(|col| picked.iter().map(|&r| col[r]).collect())
            .collect();
        let tree = Cart::fit(
            &columns,
            &yv,
            Params {
                max_depth: p.forest_max_depth,
                min_samples_leaf: MIN_SAMPLES_LEAF,
            },
        );
        Some(
            xs.chunks_exact(cols.max(1))
                .map(|row| tree.predict(row))
                .collect(),
        )
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
        train: (0..cols)
            .map(|j| {
                train
                    .iter()
                    .skip(j)
                    .step_by(cols.max(1))
                    .map(|&v| tree_value(v))
                    .collect()
            })
            .collect(),
        y,
        cols,
        p,
        xs: score.iter().map(|&v| tree_value(v)).collect(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let take = p.forest_sample_rows.min(rows).max(1);
    // Bootstrap samples of rows (drawn with replacement), in tree order.
    let samples: Vec<Vec<usize>> = (0..p.forest_trees)
        .map(|_| (0..take).map(|_| rng.random_range(0..rows)).collect())
        .collect();
    // Every tree at once (a vote is a byte, so all of them stay small), added up in tree order.
    let grown: Vec<Option<Vec<u8>>> = samples
        .par_iter()
        .map(|picked| grove.grow(picked))
        .collect();
    let mut sum = vec![0.0; score_rows];
    for votes in grown.iter().flatten() {
        for (s, &v) in sum.iter_mut().zip(votes) {
            *s += f64::from(v);
        }
    }
    let n = f64::from(p.forest_trees.max(1));
    Ok(sum.into_iter().map(|s| s / n).collect())
}
