//! Decision thresholds: where a calibrated wool probability turns into review and reject, chosen
//! on held-out members by one of four policies from `training/*.toml` (`[policy]`). Thresholds
//! are chosen from probabilities and labels only, never from a generated history's truth.

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
    /// Thresholds on the reviewed labels, far cleaner than the outcome rule's: reject where
    /// precision on the reviewed held-out members reaches `reject_precision`; review below that
    /// down to where `review_share` of all held-out members would be reviewed (the review team's
    /// capacity). With fewer than `min_reviewed` reviewed members among the calibration and
    /// validation rows (or only one class of them), the reject threshold falls back to every
    /// label of the calibration rows, and the report says so.
    Reviewed {
        min_reviewed: usize,
        review_share: f64,
        reject_precision: f64,
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
    #[error("policy.min_reviewed must be at least 1")]
    MinReviewed,
}

/// Which labels set the reject threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasisLabels {
    /// The reviewed members among the calibration and validation rows.
    Reviewed,
    /// Every label of the calibration rows (reviewed or from the outcome rule).
    All,
}

/// The labels a policy chose its thresholds on, reported beside the thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    pub labels: BasisLabels,
    /// Rows the thresholds were chosen on, and the positives among them.
    pub members: usize,
    pub positives: usize,
    /// Reviewed members among the calibration and validation rows.
    pub reviewed_available: usize,
    /// Why a reviewed policy fell back to every label.
    pub warning: Option<String>,
}

/// The held-out rows a policy may read: the calibration rows (`cal`) and the calibration and
/// validation rows together (`held`), each with calibrated probabilities and labels; `reviewed`
/// marks the rows of `held` whose label is a review.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub cal_probs: &'a [f64],
    pub cal_labels: &'a [u8],
    pub held_probs: &'a [f64],
    pub held_labels: &'a [u8],
    pub reviewed: &'a [bool],
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
            PolicyParams::Reviewed {
                min_reviewed,
                review_share,
                reject_precision,
            } => {
                if min_reviewed == 0 {
                    return Err(PolicyError::MinReviewed);
                }
                check(
                    "review_share",
                    review_share,
                    (0.0..=1.0).contains(&review_share),
                    "in [0, 1]",
                )?;
                check(
                    "reject_precision",
                    reject_precision,
                    (0.0..=1.0).contains(&reject_precision),
                    "in [0, 1]",
                )?;
            }
        }
        Ok(self)
    }

    /// Chooses thresholds on held-out rows and says which labels set them. Every policy but
    /// `reviewed` reads only the calibration rows, as [`PolicyParams::choose`] does.
    pub fn choose_on(&self, rows: &Rows) -> (Thresholds, Basis) {
        let all = |warning: Option<String>| Basis {
            labels: BasisLabels::All,
            members: rows.cal_labels.len(),
            positives: rows.cal_labels.iter().filter(|&&l| l == 1).count(),
            reviewed_available: rows.reviewed.iter().filter(|&&r| r).count(),
            warning,
        };
        let PolicyParams::Reviewed {
            min_reviewed,
            review_share,
            reject_precision,
        } = *self
        else {
            return (self.choose(rows.cal_probs, rows.cal_labels), all(None));
        };
        let (probs, labels): (Vec<f64>, Vec<u8>) = rows
            .held_probs
            .iter()
            .zip(rows.held_labels)
            .zip(rows.reviewed)
            .filter(|(_, &r)| r)
            .map(|((&p, &l), _)| (p, l))
            .unzip();
        let positives = labels.iter().filter(|&&l| l == 1).count();
        let (reject, basis) = if labels.len() >= min_reviewed
            && positives > 0
            && positives < labels.len()
        {
            let basis = Basis {
                labels: BasisLabels::Reviewed,
                members: labels.len(),
                positives,
                reviewed_available: labels.len(),
                warning: None,
            };
            // Reviews are picked where suspicion is, so even corrected by score they overstate
            // precision; every label is noisier but not picked. Reject where both agree.
            let reviewed = reject_at_population(rows.held_probs, &probs, &labels, reject_precision);
            let all = reject_at(rows.held_probs, rows.held_labels, reject_precision);
            (reviewed.max(all), basis)
        } else {
            let why = if labels.len() < min_reviewed {
                format!(
                    "only {} reviewed members in calibration and validation (policy.min_reviewed = {min_reviewed})",
                    labels.len()
                )
            } else {
                format!(
                    "the {} reviewed members in calibration and validation are all of one class",
                    labels.len()
                )
            };
            let reject = reject_at(rows.cal_probs, rows.cal_labels, reject_precision);
            (
                reject,
                all(Some(format!("{why}: thresholds set on all labels"))),
            )
        };
        let review = review_at(rows.held_probs, reject, review_share);
        (Thresholds { review, reject }, basis)
    }

    /// Chooses thresholds on calibrated probabilities `probs` of labelled held-out members.
    pub fn choose(&self, probs: &[f64], labels: &[u8]) -> Thresholds {
        let c = curve(probs, labels);
        let t = match *self {
            PolicyParams::Targets {
                reject_precision,
                review_recall,
            } => {
                let reject = reject_at(probs, labels, reject_precision);
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
                        .map_or(ABOVE_ALL, |p| p.threshold)
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
            PolicyParams::Reviewed {
                review_share,
                reject_precision,
                ..
            } => {
                // Without review marks every label counts (`choose_on` prefers the reviews).
                let reject = reject_at(probs, labels, reject_precision);
                Thresholds {
                    review: review_at(probs, reject, review_share),
                    reject,
                }
            }
        };
        Thresholds {
            review: t.review.min(t.reject),
            reject: t.reject,
        }
    }
}

/// Just above every probability: a threshold nobody reaches.
const ABOVE_ALL: f64 = 1.0 + f64::EPSILON;

/// The lowest threshold whose precision still meets `target`; [`ABOVE_ALL`] where none does.
fn reject_at(probs: &[f64], labels: &[u8], target: f64) -> f64 {
    curve(probs, labels)
        .iter()
        .filter(|p| p.precision >= target)
        .map(|p| p.threshold)
        .fold(ABOVE_ALL, f64::min)
}

/// The lowest threshold at which the precision over every held-out member reaches `target`,
/// each member counted at the wool rate the reviewed members of its score show (an isotonic fit
/// of the review outcome on the score). Reviews pick suspicious members, so the reviewed
/// members' own precision overstates what a threshold does to everyone: corrected by score.
fn reject_at_population(held: &[f64], rev_probs: &[f64], rev_labels: &[u8], target: f64) -> f64 {
    let rate = super::calibrate::Calibration::fit_isotonic(rev_probs, rev_labels);
    let mut sorted = held.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let (mut sum, mut best, mut i) = (0.0, ABOVE_ALL, 0);
    while i < sorted.len() {
        let t = sorted[i];
        while i < sorted.len() && sorted[i] == t {
            sum += rate.apply(t);
            i += 1;
        }
        if sum / i as f64 >= target {
            best = t;
        }
    }
    best
}

/// The lowest threshold at or below `reject` that sends at most `share` of `probs` to review
/// (at or above it, below `reject`); `reject` itself where even the next step down is too many.
fn review_at(probs: &[f64], reject: f64, share: f64) -> f64 {
    let n = probs.len().max(1) as f64;
    let mut sorted: Vec<f64> = probs.iter().copied().filter(|&p| p < reject).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut review = reject;
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i];
        while i < sorted.len() && sorted[i] == t {
            i += 1;
        }
        if (i as f64) / n > share {
            break;
        }
        review = t;
    }
    review
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

    // Ten held-out rows; the reviewed ones (R) are 0.95 wool, 0.8 genuine, 0.7 wool, 0.5 and
    // 0.3 genuine. The outcome rule's labels of the others do not count.
    const HP: [f64; 10] = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];
    const HY: [u8; 10] = [1, 1, 0, 1, 1, 0, 0, 0, 0, 0];
    const R: [bool; 10] = [
        true, false, true, true, false, true, false, true, false, false,
    ];

    fn reviewed(min_reviewed: usize, reject_precision: f64) -> PolicyParams {
        PolicyParams::Reviewed {
            min_reviewed,
            review_share: 0.3,
            reject_precision,
        }
    }

    fn rows() -> Rows<'static> {
        Rows {
            cal_probs: &P,
            cal_labels: &Y,
            held_probs: &HP,
            held_labels: &HY,
            reviewed: &R,
        }
    }

    #[test]
    fn reviewed_by_hand() {
        // The reviewed rows' wool rate by score (isotonic): 0 at 0.3 and 0.5, 0.5 at 0.7 and
        // 0.8 (pooled), 1 at 0.95; read between them linearly, 0.9 is 0.5 + 0.5 · 0.1/0.15.
        // Over every held-out row from the top: 1 at 0.95, (1 + 0.833)/2 = 0.917 at 0.9, then
        // (1.833 + 0.5)/3 = 0.778 at 0.8: 90% holds down to 0.9. Every label from the top: 1/1,
        // 2/2, then 2/3: also 0.9. Below it 0.8, 0.7, 0.6 are three rows of ten = the 30%
        // review capacity, 0.5 would make four.
        let (t, basis) = reviewed(5, 0.9).choose_on(&rows());
        assert_eq!(
            t,
            Thresholds {
                review: 0.6,
                reject: 0.9
            }
        );
        assert_eq!(basis.labels, BasisLabels::Reviewed);
        assert_eq!((basis.members, basis.positives), (5, 2));
        assert_eq!(basis.warning, None);
        // At 60%: by score, 0.6 reads 0.25 and the running mean is 3.083/5 = 0.617 there, then
        // 3.083/6 = 0.514 at 0.5; every label holds down to 0.5 (4/6). The stricter is 0.6;
        // review 0.5, 0.4, 0.3.
        let (t, _) = reviewed(5, 0.6).choose_on(&rows());
        assert_eq!(
            t,
            Thresholds {
                review: 0.3,
                reject: 0.6
            }
        );
        assert!(reviewed(0, 0.9).check().is_err());
        assert!(PolicyParams::Reviewed {
            min_reviewed: 5,
            review_share: 1.5,
            reject_precision: 0.9
        }
        .check()
        .is_err());
    }

    #[test]
    fn too_few_reviews_fall_back_to_all_labels() {
        // Five reviewed rows, six wanted: the reject threshold comes from the calibration rows'
        // labels (P, Y: precision 1 down to 0.8, 2/3 at 0.7), the review capacity from the ten
        // held-out rows as before: 0.7, 0.6, 0.5 under 0.8.
        let (t, basis) = reviewed(6, 0.9).choose_on(&rows());
        assert_eq!(
            t,
            Thresholds {
                review: 0.5,
                reject: 0.8
            }
        );
        assert_eq!(basis.labels, BasisLabels::All);
        assert_eq!(
            (basis.members, basis.positives, basis.reviewed_available),
            (8, 3, 5)
        );
        let warning = basis.warning.unwrap_or_default();
        assert!(warning.contains("only 5 reviewed"), "{warning}");
        // The other policies read the calibration rows only, as `choose` does.
        let targets = PolicyParams::Targets {
            reject_precision: 0.95,
            review_recall: 0.9,
        };
        assert_eq!(targets.choose_on(&rows()).0, BY_HAND);
    }
}
