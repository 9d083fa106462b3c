//! Calibration: turns a model's raw score into a probability that means what it says (0.2 is
//! about one in five), fitted on held-out members never seen in training.

use serde::{Deserialize, Serialize};

/// A fitted calibration map from raw score to probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    /// `1 / (1 + exp(-(a * score + b)))`.
    Platt { a: f64, b: f64 },
    /// Non-decreasing steps: below `x[0]` → `y[0]`, between knots linear, above the last → last.
    Isotonic { x: Vec<f64>, y: Vec<f64> },
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Calibration {
    pub fn apply(&self, score: f64) -> f64 {
        match self {
            Calibration::Platt { a, b } => sigmoid(a * score + b),
            Calibration::Isotonic { x, y } => {
                if x.is_empty() {
                    return f64::NAN;
                }
                let i = x.partition_point(|&k| k <= score);
                if i == 0 {
                    y[0]
                } else if i == x.len() {
                    y[x.len() - 1]
                } else {
                    let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
                    y0 + (y1 - y0) * (score - x0) / (x1 - x0)
                }
            }
        }
    }

    /// Platt scaling by Newton's method on the log-loss, with Platt's smoothed targets.
    pub fn fit_platt(scores: &[f64], labels: &[u8]) -> Self {
        let pos = labels.iter().filter(|&&l| l == 1).count() as f64;
        let neg = labels.len() as f64 - pos;
        let hi = (pos + 1.0) / (pos + 2.0);
        let lo = 1.0 / (neg + 2.0);
        let (mut a, mut b) = (1.0, 0.0);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
            for (&s, &y) in scores.iter().zip(labels) {
                let t = if y == 1 { hi } else { lo };
                let p = sigmoid(a * s + b);
                let w = p * (1.0 - p);
                ga += (p - t) * s;
                gb += p - t;
                haa += w * s * s;
                hab += w * s;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-18 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs() < 1e-10 && db.abs() < 1e-10 {
                break;
            }
        }
        Calibration::Platt { a, b }
    }

    /// Isotonic regression by pool-adjacent-violators; knots at the pooled blocks' mean scores.
    pub fn fit_isotonic(scores: &[f64], labels: &[u8]) -> Self {
        let mut order: Vec<usize> = (0..scores.len().min(labels.len())).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        // Blocks of (sum of scores, sum of labels, count).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for i in order {
            blocks.push((scores[i], f64::from(labels[i]), 1.0));
            while blocks.len() >= 2 {
                let (s2, y2, n2) = blocks[blocks.len() - 1];
                let (s1, y1, n1) = blocks[blocks.len() - 2];
                if y1 / n1 < y2 / n2 {
                    break;
                }
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1 + s2, y1 + y2, n1 + n2);
            }
        }
        let x = blocks.iter().map(|(s, _, n)| s / n).collect();
        let y = blocks.iter().map(|(_, y, n)| y / n).collect();
        Calibration::Isotonic { x, y }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators_by_hand() {
        // Labels by score: 0, 1, 0, 1 → pools (2nd, 3rd) into one block of rate 1/2.
        let c = Calibration::fit_isotonic(&[1.0, 2.0, 3.0, 4.0], &[0, 1, 0, 1]);
        assert_eq!(
            c,
            Calibration::Isotonic {
                x: vec![1.0, 2.5, 4.0],
                y: vec![0.0, 0.5, 1.0]
            }
        );
        assert_eq!(c.apply(0.0), 0.0);
        assert_eq!(c.apply(1.75), 0.25);
        assert_eq!(c.apply(9.0), 1.0);
    }

    #[test]
    fn platt_recovers_a_known_slope() {
        // Labels drawn as the expected counts of sigmoid(2s - 1) on a grid: the fit lands near it.
        let mut s = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let x = -3.0 + 6.0 * i as f64 / 199.0;
            let p = sigmoid(2.0 * x - 1.0);
            for k in 0..100 {
                s.push(x);
                y.push(u8::from((k as f64) < p * 100.0));
            }
        }
        match Calibration::fit_platt(&s, &y) {
            Calibration::Platt { a, b } => {
                assert!((a - 2.0).abs() < 0.1, "a = {a}");
                assert!((b + 1.0).abs() < 0.1, "b = {b}");
            }
            other => panic!("{other:?}"),
        }
    }
}
