//! How far a share can be trusted: the smallest count a share is shown as a fact on, its Wilson
//! 95% interval, and whether the history lets wool be measured at all.
//!
//! The label rule calls a member wool only when they took a benefit (by default redeemed a
//! coupon) in their outcome window and gave back no value. On a history without benefits
//! (CDNOW: orders only) every labelled member is genuine by construction, and a wool share of 0%
//! would be a figure the data cannot support. So a diagnosis counts the evidence first —
//! labelled members who took a benefit or were reviewed — and below `min_benefit_members` it
//! says that wool cannot be measured instead of giving a share. Never changes a label.

use serde::{Deserialize, Serialize};

use super::super::tier::{within, Invalid};
use crate::data::history::{History, MemberIdx};
use crate::data::schema::CouponEvent;
use crate::features::member::MemberIndex;
use crate::model::label::{LabelParams, LabelRule, Taken, Target};

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// `[quality]` of `training/diagnose.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityParams {
    /// A share computed on fewer members (or coupons) than this is marked as small — greyed with
    /// its count in the report, in brackets in `diagnose` — and takes no part in the report's
    /// lines.
    pub min_members: usize,
    /// Wool is measurable only when at least this many labelled members took a benefit in their
    /// outcome window or were reviewed: the label rule cannot call anyone else wool.
    pub min_benefit_members: usize,
}

impl Default for QualityParams {
    fn default() -> Self {
        QualityParams {
            min_members: 30,
            min_benefit_members: 30,
        }
    }
}

impl QualityParams {
    pub fn check(&self) -> Result<(), Invalid> {
        within("quality.min_members", self.min_members, 1..=1_000_000, "")?;
        within(
            "quality.min_benefit_members",
            self.min_benefit_members,
            1..=1_000_000,
            "",
        )
    }

    /// Whether a share over `n` rests on fewer than `min_members`.
    pub fn small(&self, n: usize) -> bool {
        n < self.min_members
    }
}

/// The Wilson score interval of `k` successes in `n` trials at normal quantile `z`; `None` for
/// `n = 0`. Unlike the normal approximation it stays inside [0, 1] and is honest at 0 of n.
pub fn wilson(k: usize, n: usize, z: f64) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let p = k.min(n) as f64 / n as f64;
    let n = n as f64;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some([(centre - half).max(0.0), (centre + half).min(1.0)])
}

/// Whether wool can be measured, with the counts behind the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WoolEvidence {
    pub measurable: bool,
    /// Labelled members (by review or by the rule).
    pub labelled: usize,
    /// Of them, labelled by a review.
    pub reviewed: usize,
    /// Of them, labelled by the rule after taking a benefit in their outcome window.
    pub took_benefit: usize,
    /// Benefit events (coupons claimed or redeemed, as `label.taken` counts them) before the
    /// moment, by anyone.
    pub benefit_events: usize,
    /// `quality.min_benefit_members`.
    pub minimum: usize,
    /// The answer in words; starts "wool cannot be measured on this history" when it cannot.
    pub reason: String,
}

/// What `label.taken` calls taking a benefit, in words.
pub fn benefit_words(taken: Taken) -> &'static str {
    match taken {
        Taken::Claimed => "claimed a coupon",
        Taken::Redeemed => "redeemed a coupon",
    }
}

/// Benefit events before `as_of`: coupon rows the label rule would count as a benefit taken.
pub fn benefit_events(h: &History, taken: Taken, as_of: i64) -> usize {
    h.coupons
        .at
        .iter()
        .zip(&h.coupons.event)
        .filter(|(&t, &e)| {
            t < as_of
                && match taken {
                    Taken::Claimed => e != CouponEvent::Expire,
                    Taken::Redeemed => e == CouponEvent::Redeem,
                }
        })
        .count()
}

/// Whether member `m` took a benefit in their outcome window, by `rule`'s own test: the same
/// rule with a spend floor nobody reaches labels wool exactly the members who took one.
pub fn took_benefit(rule: &LabelRule, h: &History, ix: &MemberIndex, m: MemberIdx) -> bool {
    let params = LabelParams {
        target: Target::Wool,
        spend_floor: f64::MAX,
        ..*rule.params()
    };
    params.check().is_ok_and(|r| r.outcome(h, ix, m) == 1)
}

/// The evidence for wool on a population, and the answer.
pub fn wool_evidence(
    labelled: usize,
    reviewed: usize,
    took_benefit: usize,
    benefit_events: usize,
    taken: Taken,
    q: &QualityParams,
) -> WoolEvidence {
    let evidence = reviewed + took_benefit;
    let minimum = q.min_benefit_members;
    let measurable = evidence >= minimum;
    let what = benefit_words(taken);
    let reason = if measurable {
        format!(
            "{evidence} of {labelled} labelled members took a benefit ({what}) in their outcome \
             window or were reviewed (at least {minimum} needed)"
        )
    } else {
        format!(
            "wool cannot be measured on this history: the label rule calls wool only a member \
             who {what} in their outcome window, and of {labelled} labelled members {took_benefit} \
             did and {reviewed} were reviewed (at least {minimum} needed; {benefit_events} such \
             events before the moment in all)"
        )
    };
    WoolEvidence {
        measurable,
        labelled,
        reviewed,
        took_benefit,
        benefit_events,
        minimum,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_by_hand() {
        // 3 of 10, z = 1.96: centre (0.3 + 0.19208) / 1.38416 = 0.35551, half-width
        // 1.96 · √(0.021 + 0.009604) / 1.38416 = 0.24772 → [0.108, 0.603].
        let [lo, hi] = wilson(3, 10, Z95).unwrap_or_default();
        assert!((lo - 0.1078).abs() < 5e-4, "{lo}");
        assert!((hi - 0.6032).abs() < 5e-4, "{hi}");
        // 0 of 20: the lower end is 0 and the upper z² / (n + z²) = 3.8415 / 23.8415 = 0.1611.
        let [lo, hi] = wilson(0, 20, Z95).unwrap_or_default();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.1611).abs() < 5e-4, "{hi}");
        // 20 of 20 mirrors it.
        let [lo, hi] = wilson(20, 20, Z95).unwrap_or_default();
        assert!((lo - 0.8389).abs() < 5e-4 && hi == 1.0, "{lo} {hi}");
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn evidence_below_the_minimum_is_not_measurable() {
        let q = QualityParams::default();
        let e = wool_evidence(23_570, 0, 0, 0, Taken::Redeemed, &q);
        assert!(!e.measurable);
        assert!(e
            .reason
            .starts_with("wool cannot be measured on this history"));
        assert!(wool_evidence(1_000, 10, 20, 40, Taken::Redeemed, &q).measurable);
        assert!(!wool_evidence(1_000, 10, 19, 40, Taken::Redeemed, &q).measurable);
        assert!(q.small(29) && !q.small(30));
        let bad = QualityParams {
            min_members: 0,
            ..q
        };
        assert_eq!(
            bad.check().err().map(|e| e.key),
            Some("quality.min_members")
        );
    }
}
