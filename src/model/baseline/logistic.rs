//! Logistic regression on standardised features, fitted by Newton's method (iteratively
//! reweighted least squares) with a ridge term on the weights, not on the intercept.
//!
//! The model has ~40 columns, so the Hessian is a 41 × 41 matrix: each iteration is one pass
//! over the rows (a matrix product per block of rows) and one small Cholesky solve, and about ten
//! iterations reach the optimum. Blocks are summed in a fixed order whatever the thread count, so
//! a fit is the same, bit for bit, on any machine with the same floating point.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::{BaselineError, BaselineParams};
use crate::model::metrics::mean_variance;

/// Rows per block of the gradient and Hessian sums (fixed: the sums' order never changes).
const BLOCK: usize = 4096;

/// Stop once half the Newton decrement (the loss the next step can still remove) is below this,
/// after taking that step.
const TOLERANCE: f64 = 1e-9;

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

    /// The rows standardised, with a last column of ones for the intercept.
    fn apply(&self, x: &[f64], cols: usize) -> Result<Array2<f64>, ndarray::ShapeError> {
        let rows = x.len() / cols.max(1);
        let mut v = Vec::with_capacity(rows * (cols + 1));
        for row in x.chunks_exact(cols.max(1)) {
            v.extend(row.iter().enumerate().map(|(j, &v)| {
                if v.is_finite() {
                    (v - self.mean[j]) / self.std[j]
                } else {
                    0.0
                }
            }));
            v.push(1.0);
        }
        Array2::from_shape_vec((rows, cols + 1), v)
    }
}

/// log(1 + e^v), without overflow.
fn softplus(v: f64) -> f64 {
    if v > 0.0 {
        v + (-v).exp().ln_1p()
    } else {
        v.exp().ln_1p()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The blocks of rows, in order.
fn blocks(rows: usize) -> Vec<(usize, usize)> {
    (0..rows.div_ceil(BLOCK))
        .map(|b| (b * BLOCK, ((b + 1) * BLOCK).min(rows)))
        .collect()
}

/// The penalised negative log-likelihood: Σ log(1 + e^(−y·z)) + l2/2 · |w|² (intercept free).
fn loss(x: ArrayView2<f64>, t: &[f64], beta: &Array1<f64>, l2: f64) -> f64 {
    let parts: Vec<f64> = blocks(x.nrows())
        .into_par_iter()
        .map(|(lo, hi)| {
            let z = x.slice(s![lo..hi, ..]).dot(beta);
            z.iter()
                .zip(&t[lo..hi])
                .map(|(&z, &y)| softplus(if y > 0.5 { -z } else { z }))
                .sum::<f64>()
        })
        .collect();
    let d = beta.len() - 1;
    let w = beta.slice(s![..d]);
    parts.iter().sum::<f64>() + 0.5 * l2 * w.dot(&w)
}

/// The gradient and Hessian of [`loss`] at `beta`.
fn gradient_hessian(
    x: ArrayView2<f64>,
    t: &[f64],
    beta: &Array1<f64>,
    l2: f64,
) -> (Array1<f64>, Array2<f64>) {
    let d = beta.len();
    let parts: Vec<(Array1<f64>, Array2<f64>)> = blocks(x.nrows())
        .into_par_iter()
        .map(|(lo, hi)| {
            let xb = x.slice(s![lo..hi, ..]);
            let z = xb.dot(beta);
            let mut r = Array1::zeros(hi - lo);
            let mut root = Array1::zeros(hi - lo);
            for (i, (&z, &y)) in z.iter().zip(&t[lo..hi]).enumerate() {
                let p = sigmoid(z);
                r[i] = p - y;
                root[i] = (p * (1.0 - p)).sqrt();
            }
            let scaled = &xb * &root.insert_axis(Axis(1));
            (xb.t().dot(&r), scaled.t().dot(&scaled))
        })
        .collect();
    let mut g = Array1::zeros(d);
    let mut h = Array2::zeros((d, d));
    for (pg, ph) in &parts {
        g += pg;
        h += ph;
    }
    for j in 0..d - 1 {
        g[j] += l2 * beta[j];
        h[[j, j]] += l2;
    }
    (g, h)
}

/// Solves `a · v = b` for a symmetric positive definite `a` (Cholesky); `None` when `a` is not.
fn solve_spd(a: &Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let n = b.len();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[[i, j]];
            for k in 0..j {
                sum -= l[[i, k]] * l[[j, k]];
            }
            if i == j {
                if !(sum.is_finite() && sum > 0.0) {
                    return None;
                }
                l[[i, i]] = sum.sqrt();
            } else {
                l[[i, j]] = sum / l[[j, j]];
            }
        }
    }
    let mut y = Array1::<f64>::zeros(n);
    for i in 0..n {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[[i, k]] * y[k];
        }
        y[i] = sum / l[[i, i]];
    }
    let mut v = Array1::<f64>::zeros(n);
    for i in (0..n).rev() {
        let mut sum = y[i];
        for k in i + 1..n {
            sum -= l[[k, i]] * v[k];
        }
        v[i] = sum / l[[i, i]];
    }
    Some(v)
}

/// The Newton step `H⁻¹ g`; a Hessian that is not positive definite in floating point (no ridge
/// and a constant column) gets a small multiple of its trace on the diagonal.
fn newton_step(h: &Array2<f64>, g: &Array1<f64>) -> Result<Array1<f64>, BaselineError> {
    if let Some(v) = solve_spd(h, g) {
        return Ok(v);
    }
    let scale = h.diag().sum() / h.nrows() as f64;
    let mut jitter = 1e-10 * scale.max(1e-300);
    for _ in 0..12 {
        let mut hj = h.clone();
        hj.diag_mut().mapv_inplace(|v| v + jitter);
        if let Some(v) = solve_spd(&hj, g) {
            return Ok(v);
        }
        jitter *= 100.0;
    }
    Err(BaselineError::Singular)
}

/// Weights (the last one the intercept) minimising [`loss`] on standardised rows `x`.
fn fit(
    x: ArrayView2<f64>,
    t: &[f64],
    l2: f64,
    iterations: u64,
) -> Result<Array1<f64>, BaselineError> {
    let d = x.ncols();
    let mut beta = Array1::<f64>::zeros(d);
    // Start at the base rate's log-odds: the first step has less to do.
    let pos = t.iter().sum::<f64>();
    let neg = t.len() as f64 - pos;
    beta[d - 1] = (pos / neg).ln();
    let mut current = loss(x, t, &beta, l2);
    for _ in 0..iterations.max(1) {
        let (g, h) = gradient_hessian(x, t, &beta, l2);
        let step = newton_step(&h, &g)?;
        let decrement = g.dot(&step);
        if !decrement.is_finite() {
            break;
        }
        if decrement / 2.0 <= TOLERANCE {
            // Within the tolerance: this last full step squares the remaining error.
            beta -= &step;
            break;
        }
        // Backtracking (Armijo): a full step near the optimum, shorter ones far from it.
        let mut a = 1.0;
        let mut moved = false;
        while a > 1e-10 {
            let candidate = &beta - &(&step * a);
            let l = loss(x, t, &candidate, l2);
            if l <= current - 1e-4 * a * decrement {
                beta = candidate;
                current = l;
                moved = true;
                break;
            }
            a *= 0.5;
        }
        if !moved {
            break;
        }
    }
    Ok(beta)
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
    let t: Vec<f64> = y.iter().map(|&l| f64::from(l)).collect();
    let beta = fit(x.view(), &t, p.logistic_l2, p.logistic_iterations)?;
    Ok(s.apply(score, cols)?.dot(&beta).mapv(sigmoid).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newton_reaches_the_optimum() {
        // Two rows per x: at x = −1 one positive of two, at x = +1 three of four. Unpenalised,
        // the optimum fits each group's rate: sigmoid(b − a) = 1/2 and sigmoid(b + a) = 3/4, so
        // b − a = 0 and b + a = ln 3, a = b = ln(3)/2 (on the standardised column, whose values
        // are −1.1547 and +0.5774 here: mean 1/3, sd 0.9428).
        let x = [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0];
        let y = [1, 0, 1, 1, 1, 0];
        let p = BaselineParams {
            logistic_l2: 0.0,
            ..BaselineParams::default()
        };
        let probs = logistic(&x, &y, &[-1.0, 1.0], 1, &p).unwrap_or_else(|e| panic!("{e}"));
        assert!((probs[0] - 0.5).abs() < 1e-9, "{probs:?}");
        assert!((probs[1] - 0.75).abs() < 1e-9, "{probs:?}");
    }

    #[test]
    fn cholesky_by_hand() {
        // [[4, 2], [2, 3]] v = [2, 1]: v = [0.5, 0].
        let a = ndarray::arr2(&[[4.0, 2.0], [2.0, 3.0]]);
        let v = solve_spd(&a, &ndarray::arr1(&[2.0, 1.0])).unwrap_or_else(|| panic!("not SPD"));
        assert!((v[0] - 0.5).abs() < 1e-12 && v[1].abs() < 1e-12, "{v}");
        assert!(solve_spd(
            &ndarray::arr2(&[[1.0, 2.0], [2.0, 1.0]]),
            &ndarray::arr1(&[1.0, 1.0])
        )
        .is_none());
    }
}
