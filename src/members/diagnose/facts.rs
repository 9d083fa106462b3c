//! One member's facts as of the moment — label and its evidence, first purchase, orders and
//! sales, the activity window's buying, points and coupons — read from their own events strictly
//! before it; and the periods the tracks count in.

use super::super::DAY;
use super::{quality, DiagnoseRules, Period};
use crate::data::history::{History, MemberIdx};
use crate::data::schema::{CouponEvent, PointsReason};
use crate::features::member::MemberIndex;

/// One member's facts as of the moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub label: Option<u8>,
    /// The label came from a review.
    pub reviewed: bool,
    /// Labelled by the rule and took a benefit in the outcome window.
    pub took_benefit: bool,
    pub predicted: Option<bool>,
    pub first_purchase_eligible: bool,
    pub first_purchaser: bool,
    pub orders: u32,
    pub cents: i64,
    /// An order before the activity window.
    pub past_buyer: bool,
    /// An order in the activity window.
    pub active: bool,
    /// Held at least `exchange_points` at some moment in the activity window, or exchanged.
    pub points_holder: bool,
    /// Swapped points for a coupon in the activity window.
    pub exchanged: bool,
    /// Coupons claimed in the activity window, and those of them redeemed before the moment.
    pub claims: u32,
    pub redeems: u32,
    /// Periods (indices) in which the member placed a second or later order.
    pub repurchase_periods: Vec<u32>,
}

/// The periods from the one holding `first` to the one holding `as_of - 1`.
pub fn periods(period: Period, first: i64, as_of: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut s = period.start(first);
    while s < as_of {
        out.push(s);
        let n = period.next(s);
        if n <= s {
            break;
        }
        s = n;
    }
    out
}

pub(super) fn period_index(starts: &[i64], t: i64) -> Option<usize> {
    let i = starts.partition_point(|&s| s <= t);
    i.checked_sub(1)
}

/// Member `m`'s facts as of `as_of`. `reviewed` is the member's latest review before the moment.
#[allow(clippy::too_many_arguments)]
pub fn facts_of(
    h: &History,
    ix: &MemberIndex,
    rules: &DiagnoseRules,
    starts: &[i64],
    m: MemberIdx,
    reviewed: Option<u8>,
    as_of: i64,
) -> Facts {
    let p = &rules.params;
    let joined = h.members.joined_at[m as usize];
    let recent = as_of.saturating_sub(p.activity_days * DAY);
    let fp_end = joined.saturating_add(p.first_purchase_days * DAY);
    let mut f = Facts {
        first_purchase_eligible: fp_end <= as_of,
        ..Facts::default()
    };
    let prefer = rules.label.params().prefer_reviewed;
    f.label = match reviewed.filter(|_| prefer) {
        Some(l) => {
            f.reviewed = true;
            Some(l)
        }
        None => (joined.saturating_add(rules.label.window()) <= as_of).then(|| {
            let l = rules.label.outcome(h, ix, m);
            f.took_benefit = l == 1 || quality::took_benefit(&rules.label, h, ix, m);
            l
        }),
    };
    let o = &h.orders;
    for &r in ix.orders.of(m) {
        let r = r as usize;
        let t = o.at[r];
        if t >= as_of {
            break;
        }
        if o.refunded[r] {
            continue;
        }
        f.orders += 1;
        f.cents = f
            .cents
            .saturating_add(super::super::rfm::cents(o.amount[r]));
        if t >= joined && t < fp_end {
            f.first_purchaser = true;
        }
        if t >= recent {
            f.active = true;
        } else {
            f.past_buyer = true;
        }
        if f.orders >= 2 {
            if let Some(i) = period_index(starts, t) {
                let i = i as u32;
                if f.repurchase_periods.last() != Some(&i) {
                    f.repurchase_periods.push(i);
                }
            }
        }
    }
    // Coupons claimed in the window, each matched to a later redemption of the same coupon.
    let c = &h.coupons;
    let mut claimed: Vec<(u32, bool)> = Vec::new();
    for &r in ix.coupons.of(m) {
        let r = r as usize;
        let t = c.at[r];
        if t >= as_of {
            break;
        }
        match c.event[r] {
            CouponEvent::Claim if t >= recent => claimed.push((c.coupon[r], false)),
            CouponEvent::Redeem => {
                let open = claimed
                    .iter_mut()
                    .find(|(k, used)| *k == c.coupon[r] && !*used);
                if let Some(k) = open {
                    k.1 = true;
                }
            }
            CouponEvent::Claim | CouponEvent::Expire => {}
        }
    }
    f.claims = claimed.len() as u32;
    f.redeems = claimed.iter().filter(|k| k.1).count() as u32;
    // The balance sums every movement so far: a holder has the exchange cost at the window's
    // start or after some movement in it.
    let pts = &h.points;
    let cost = p.exchange_points;
    let mut balance = 0i64;
    for &r in ix.points.of(m) {
        let r = r as usize;
        let t = pts.at[r];
        if t >= as_of {
            break;
        }
        if t >= recent && balance >= cost {
            f.points_holder = true;
        }
        balance = balance.saturating_add(pts.delta[r]);
        if t >= recent {
            f.points_holder |= balance >= cost;
            f.exchanged |= pts.reason[r] == PointsReason::RedeemCoupon;
        }
    }
    f.points_holder |= balance >= cost || f.exchanged;
    f
}
