//! Decision thresholds: where a calibrated wool probability turns into review and reject, chosen
//! on held-out members by one of three policies from `training/*.toml` (`[policy]`).

use serde::{Deserialize, Serialize};

use super::metrics::curve;

/// The policy as written in the TOML, unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PolicyParams {
    /// Reject where precision reaches `reject_precision`; review down to where recall reaches
    /// `review_recall`.
    Targets {
        reject_precision: f64,
        review_recall: f64,
    },
    /// At most `reviews_per_10k` reviews and `rejects_per_10k` rejects per 10,000 sign-ups.
    Capacity {
        reviews_per_10k: f64,
        rejects_per_10k: f64,
    },
    /// A passed wool account costs `wool_cost` (the benefits it takes); a rejected genuine member
    /// costs `genuine_margin`; a review costs `review_cost`.
    Cost {
        wool_cost: f64,
        genuine_margin: f64,
        review_cost: f64,
    },
}

impl Default for PolicyParams {
    fn default() -> Self {
        PolicyParams::Targets {
            reject_precision: 0.95,
            review_recall: 0.80,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy.{name} must be {expected}, got {value}")]
    Out {
        name: &'static str,
        expected: &'static str,
        value: f64,
    },
}

/// Probabilities at or above `review` are reviewed, at or above `reject` rejected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub review: f64,
    pub reject: f64,
}

fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<(), PolicyError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(PolicyError::Out {
            name,
            expected,
            value,
        })
    }
}

impl PolicyParams {
    pub fn check(self) -> Result<Self, PolicyError> {
        match self {
            PolicyParams::Targets {
                reject_precision: p,
                review_recall: r,
            } => {
                check("reject_precision", p, (0.0..=1.0).contains(&p), "in [0, 1]")?;
                check("review_recall", r, (0.0..=1.0).contains(&r), "in [0, 1]")?;
            }
            PolicyParams::Capacity {
                reviews_per_10k: a,
                rejects_per_10k: b,
            } => {
                check(
                    "reviews_per_10k",
                    a,
                    (0.0..=10_000.0).contains(&a),
                    "in [0, 10000]",
                )?;
                check(
                    "rejects_per_10k",
                    b,
                    (0.0..=10_000.0).contains(&b),
                    "in [0, 10000]",
                )?;
            }
            PolicyParams::Cost {
                wool_cost,
                genuine_margin,
                review_cost,
            } => {
                check("wool_cost", wool_cost, wool_cost > 0.0, "positive")?;
                check(
                    "genuine_margin",
                    genuine_margin,
                    genuine_margin >= 0.0,
                    "≥ 0",
                )?;
                check("review_cost", review_cost, review_cost >= 0.0, "≥ 0")?;
            }
        }
        Ok(self)
    }

    /// Chooses thresholds on calibrated probabilities `probs` of labelled held-out members.
    pub fn choose(&self, probs: &[f64], labels: &[u8]) -> Thresholds {
        let c = curve(probs, labels);
        let above_all = 1.0 + f64::EPSILON;
        let t = match *self {
            PolicyParams::Targets {
                reject_precision,
                review_recall,
            } => {
                // The lowest threshold whose precision still meets the target.
                let reject = c
                    .iter()
                    .filter(|p| p.precision >= reject_precision)
                    .map(|p| p.threshold)
                    .fold(above_all, f64::min);
                // The highest threshold whose recall reaches the target.
                let review = c
                    .iter()
                    .find(|p| p.recall >= review_recall)
                    .map_or(0.0, |p| p.threshold);
                Thresholds { review, reject }
            }
            PolicyParams::Capacity {
                reviews_per_10k,
                rejects_per_10k,
            } => {
                let at_share = |share: f64| {
                    c.iter()
                        .take_while(|p| p.flagged_share <= share)
                        .last()
                        .map_or(above_all, |p| p.threshold)
                };
                Thresholds {
                    reject: at_share(rejects_per_10k / 10_000.0),
                    review: at_share((reviews_per_10k + rejects_per_10k) / 10_000.0),
                }
            }
            PolicyParams::Cost {
                wool_cost,
                genuine_margin,
                review_cost,
            } => {
                // Reject where a rejection is cheaper than passing: p·wool > (1 − p)·margin.
                let reject = genuine_margin / (wool_cost + genuine_margin);
                // Review where the wool a review catches is worth more than the review.
                let review = (review_cost / wool_cost).min(reject);
                Thresholds { review, reject }
            }
        };
        Thresholds {
            review: t.review.min(t.reject),
            reject: t.reject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ranked by probability: 1 1 0 1 0 0 0 0 (three positives).
    const P: [f64; 8] = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
    const Y: [u8; 8] = [1, 1, 0, 1, 0, 0, 0, 0];
    /// What the targets and the capacity below both come to on P and Y.
    const BY_HAND: Thresholds = Thresholds {
        review: 0.6,
        reject: 0.8,
    };

    #[test]
    fn targets_by_hand() {
        let t = PolicyParams::Targets {
            reject_precision: 0.95,
            review_recall: 0.9,
        }
        .choose(&P, &Y);
        // Precision is 1 down to 0.8, 2/3 at 0.7; recall reaches 1 at 0.6.
        assert_eq!(t, BY_HAND);
    }

    #[test]
    fn capacity_by_hand() {
        // 2,500 per 10k = a quarter of 8 = 2 rejected; 5,000 = 4 flagged in all.
        let t = PolicyParams::Capacity {
            reviews_per_10k: 2_500.0,
            rejects_per_10k: 2_500.0,
        }
        .choose(&P, &Y);
        assert_eq!(t, BY_HAND);
    }

    #[test]
    fn cost_by_hand_and_checks() {
        let t = PolicyParams::Cost {
            wool_cost: 50.0,
            genuine_margin: 150.0,
            review_cost: 5.0,
        }
        .choose(&P, &Y);
        assert_eq!(
            t,
            Thresholds {
                review: 0.1,
                reject: 0.75
            }
        );
        let bad = PolicyParams::Targets {
            reject_precision: 1.5,
            review_recall: 0.8,
        };
        assert!(bad.check().is_err());
    }
}
