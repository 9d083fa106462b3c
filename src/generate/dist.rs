//! The few distributions the generator samples from, as plain functions over any `Rng`.
//!
//! rand_distr's constructors return a `Result` for parameters that are always valid here; these
//! helpers sample from the unit distributions instead, so nothing needs unwrapping.

use rand::Rng;
use rand_distr::{Exp1, StandardNormal};

/// True with probability `p` (clamped to 0..=1).
pub fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Uniform in `lo..hi` (returns `lo` when the span is empty).
pub fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        lo
    } else {
        lo + (hi - lo) * rng.random::<f64>()
    }
}

/// Exponential with the given mean.
pub fn exp<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    let x: f64 = rng.sample(Exp1);
    mean * x
}

pub fn normal<R: Rng + ?Sized>(rng: &mut R, mean: f64, sd: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    mean + sd * z
}

/// Log-normal with the given median and log-scale spread.
pub fn lognormal<R: Rng + ?Sized>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    median * (sigma * z).exp()
}

/// Poisson count: Knuth's product method for small means, a rounded normal above (the counts
/// here are event tallies, where that approximation is invisible).
pub fn poisson<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u32 {
    if mean.is_nan() || mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return normal(rng, mean, mean.sqrt()).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut k = 0u32;
    let mut p = rng.random::<f64>();
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

/// An index drawn in proportion to `weights` (the last index when they sum to nothing).
pub fn weighted<R: Rng + ?Sized>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// A probability moved by member-to-member variation, in log-odds so that small and large
/// probabilities keep their centre (an additive spread would lift every small one).
pub fn jitter<R: Rng + ?Sized>(rng: &mut R, p: f64, sd: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let logit = (p / (1.0 - p)).ln() + normal(rng, 0.0, sd);
    1.0 / (1.0 + (-logit).exp())
}

/// SplitMix64's finaliser: a cheap, well-mixed hash of a 64-bit value.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn poisson_and_exp_have_their_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        for mean in [0.5, 4.0, 80.0] {
            let s: u64 = (0..n).map(|_| u64::from(poisson(&mut rng, mean))).sum();
            let got = s as f64 / n as f64;
            assert!(
                (got - mean).abs() < 0.05 * mean + 0.05,
                "poisson({mean}) mean {got}"
            );
        }
        let s: f64 = (0..n).map(|_| exp(&mut rng, 3.0)).sum();
        assert!((s / n as f64 - 3.0).abs() < 0.15);
        assert_eq!(poisson(&mut rng, 0.0), 0);
    }

    #[test]
    fn weighted_follows_the_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut hits = [0u32; 3];
        for _ in 0..30_000 {
            hits[weighted(&mut rng, &[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(hits[1], 0);
        let share = f64::from(hits[2]) / 30_000.0;
        assert!((share - 0.75).abs() < 0.02, "{share}");
    }
}
