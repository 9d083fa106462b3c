//! Member-time features: what a member's own coupons, orders and points say about them as of a
//! cutoff, from events strictly before it.
//!
//! `member_row` is the one function that computes a member's row; `build` runs it over many
//! members in parallel, and the scorer calls it for one.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::data::history::{ByMember, History, MemberIdx, NONE};
use crate::data::schema::{CouponEvent, PointsReason};

use super::{FeatureDef, Matrix, Moment};

const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;

const fn mem(name: &'static str, description: &'static str) -> FeatureDef {
    FeatureDef::new(Moment::Member, name, description)
}

/// The member-time features, in column order.
pub const FEATURES: &[FeatureDef] = &[
    mem("tenure_days", "days since joining"),
    mem("coupons_claimed", "coupons claimed"),
    mem("coupons_redeemed", "coupons redeemed"),
    mem("redeem_ratio", "coupons redeemed per coupon claimed"),
    mem(
        "hours_to_first_redeem",
        "hours from joining to the first redemption",
    ),
    mem("coupon_value_taken", "face value of the coupons redeemed"),
    mem("orders", "orders placed"),
    mem("paid_total", "paid on orders not refunded"),
    mem("avg_order_value", "average paid per order"),
    mem("coupon_order_share", "share of orders placed with a coupon"),
    mem(
        "full_price_orders",
        "orders with neither coupon nor discount",
    ),
    mem(
        "discount_depth",
        "discount as a share of list price, over all orders",
    ),
    mem(
        "threshold_slack",
        "basket list price over the coupon's threshold, on coupon orders",
    ),
    mem("refund_share", "share of orders refunded"),
    mem(
        "paid_per_coupon_value",
        "paid (not refunded) per unit of coupon value taken",
    ),
    mem("points_earned", "points earned"),
    mem("points_spent", "points spent"),
    mem("points_for_coupons", "points-for-coupon exchanges"),
    mem(
        "invite_points_share",
        "share of earned points that came from inviting",
    ),
    mem("days_since_last_order", "days since the last order"),
];

/// Each member's events by time, built once per history.
#[derive(Debug, Clone)]
pub struct MemberIndex {
    pub coupons: ByMember,
    pub orders: ByMember,
    pub points: ByMember,
}

impl MemberIndex {
    pub fn build(h: &History) -> Self {
        let n = h.members.len();
        MemberIndex {
            coupons: ByMember::build(n, &h.coupons.member, &h.coupons.at),
            orders: ByMember::build(n, &h.orders.member, &h.orders.at),
            points: ByMember::build(n, &h.points.member, &h.points.at),
        }
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Member `m`'s features as of `cutoff` (UTC seconds), from events strictly before it, into
/// `out` (`FEATURES.len()` values; NaN where undefined, e.g. a ratio over no orders).
pub fn member_row(h: &History, ix: &MemberIndex, m: MemberIdx, cutoff: i64, out: &mut [f64]) {
    let joined = h.members.joined_at[m as usize];
    let c = &h.coupons;
    let (mut claimed, mut redeemed, mut value_taken) = (0.0, 0.0, 0.0);
    let mut first_redeem = None;
    let mut threshold_of = HashMap::new();
    for &r in ix.coupons.of(m) {
        let r = r as usize;
        if c.at[r] >= cutoff {
            break;
        }
        match c.event[r] {
            CouponEvent::Claim => {
                claimed += 1.0;
                threshold_of.insert(c.coupon[r], c.threshold[r]);
            }
            CouponEvent::Redeem => {
                redeemed += 1.0;
                value_taken += c.face_value[r];
                first_redeem.get_or_insert(c.at[r]);
                threshold_of.entry(c.coupon[r]).or_insert(c.threshold[r]);
            }
            CouponEvent::Expire => {}
        }
    }
    let o = &h.orders;
    let (mut orders, mut paid, mut with_coupon, mut full_price, mut refunded) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut discount, mut list, mut slack_sum, mut slack_n) = (0.0, 0.0, 0.0, 0.0);
    let mut last_order = None;
    for &r in ix.orders.of(m) {
        let r = r as usize;
        if o.at[r] >= cutoff {
            break;
        }
        orders += 1.0;
        last_order = Some(o.at[r]);
        if o.refunded[r] {
            refunded += 1.0;
        } else {
            paid += o.amount[r];
        }
        discount += o.discount[r];
        list += o.list_amount[r];
        if o.coupon[r] != NONE {
            with_coupon += 1.0;
            if let Some(&t) = threshold_of.get(&o.coupon[r]).filter(|t| **t > 0.0) {
                slack_sum += o.list_amount[r] / t;
                slack_n += 1.0;
            }
        } else if o.discount[r] == 0.0 {
            full_price += 1.0;
        }
    }
    let p = &h.points;
    let (mut earned, mut spent, mut for_coupons, mut invite) = (0.0, 0.0, 0.0, 0.0);
    for &r in ix.points.of(m) {
        let r = r as usize;
        if p.at[r] >= cutoff {
            break;
        }
        let d = p.delta[r] as f64;
        if d > 0.0 {
            earned += d;
            if p.reason[r] == PointsReason::Invite {
                invite += d;
            }
        } else if p.reason[r] != PointsReason::Expire {
            spent -= d;
        }
        if p.reason[r] == PointsReason::RedeemCoupon {
            for_coupons += 1.0;
        }
    }
    let at = cutoff as f64;
    out[0] = (at - joined as f64) / DAY;
    out[1] = claimed;
    out[2] = redeemed;
    out[3] = ratio(redeemed, claimed);
    out[4] = first_redeem.map_or(f64::NAN, |t| (t - joined) as f64 / HOUR);
    out[5] = value_taken;
    out[6] = orders;
    out[7] = paid;
    out[8] = ratio(paid, orders - refunded);
    out[9] = ratio(with_coupon, orders);
    out[10] = full_price;
    out[11] = ratio(discount, list);
    out[12] = ratio(slack_sum, slack_n);
    out[13] = ratio(refunded, orders);
    out[14] = ratio(paid, value_taken);
    out[15] = earned;
    out[16] = spent;
    out[17] = for_coupons;
    out[18] = ratio(invite, earned);
    out[19] = last_order.map_or(f64::NAN, |t| (at - t as f64) / DAY);
}

/// Features of `members` as of `cutoff[i]` for the i-th of them (one cutoff per row, so that each
/// member can be scored at their own moment), computed in parallel.
pub fn build(h: &History, ix: &MemberIndex, members: &[MemberIdx], cutoff: &[i64]) -> Matrix {
    let width = FEATURES.len();
    let mut values = vec![f64::NAN; members.len() * width];
    values
        .par_chunks_mut(width)
        .with_min_len(1_024)
        .zip(members.par_iter().zip(cutoff.par_iter()))
        .for_each(|(out, (&m, &t))| member_row(h, ix, m, t, out));
    Matrix {
        names: FEATURES.iter().map(|f| f.name).collect(),
        rows: members.len(),
        values: values.into(),
    }
}

/// Member `m`'s own rows of `h` as a history of one member (member 0): its coupons, orders and
/// points in time order, with their coupon and order ids, so that events can be folded on top
/// and [`member_row`] run over it. The rest of the member table (keys, channel) is left empty:
/// `member_row` reads only the join time.
pub fn member_history(h: &History, ix: &MemberIndex, m: MemberIdx) -> History {
    let mut one = History::default();
    let i = m as usize;
    let mm = &mut one.members;
    mm.ids.intern(h.members.id(m));
    mm.joined_at.push(h.members.joined_at[i]);
    for col in [
        &mut mm.channel,
        &mut mm.campaign,
        &mut mm.inviter,
        &mut mm.device,
        &mut mm.ip,
        &mut mm.phone_prefix,
        &mut mm.phone_hash,
        &mut mm.region,
    ] {
        col.push(NONE);
    }
    let (c, oc) = (&h.coupons, &mut one.coupons);
    for &r in ix.coupons.of(m) {
        let r = r as usize;
        oc.member.push(0);
        oc.coupon.push(oc.ids.intern(c.ids.name(c.coupon[r])));
        oc.campaign.push(NONE);
        oc.event.push(c.event[r]);
        oc.at.push(c.at[r]);
        oc.face_value.push(c.face_value[r]);
        oc.threshold.push(c.threshold[r]);
        oc.kind.push(c.kind[r]);
    }
    let o = &h.orders;
    for &r in ix.orders.of(m) {
        let r = r as usize;
        let coupon = match o.coupon[r] {
            NONE => NONE,
            s => one.coupons.ids.intern(h.coupons.ids.name(s)),
        };
        let oo = &mut one.orders;
        oo.order.push(oo.ids.intern(o.ids.name(o.order[r])));
        oo.member.push(0);
        oo.at.push(o.at[r]);
        oo.amount.push(o.amount[r]);
        oo.list_amount.push(o.list_amount[r]);
        oo.discount.push(o.discount[r]);
        oo.coupon.push(coupon);
        oo.channel.push(NONE);
        oo.refunded.push(o.refunded[r]);
    }
    let (p, op) = (&h.points, &mut one.points);
    for &r in ix.points.of(m) {
        let r = r as usize;
        op.member.push(0);
        op.at.push(p.at[r]);
        op.delta.push(p.delta[r]);
        op.reason.push(p.reason[r]);
    }
    one
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member's row over its own one-member history is its row over the whole history,
    /// bit for bit.
    #[test]
    fn a_member_alone_has_the_row_it_has_among_everyone() {
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
        let h = crate::data::load(&sample).unwrap_or_else(|e| panic!("{e}"));
        let ix = MemberIndex::build(&h);
        let cutoff = crate::model::score::end_of(&h);
        for m in 0..h.members.len().min(200) as MemberIdx {
            let one = member_history(&h, &ix, m);
            let one_ix = MemberIndex::build(&one);
            let (mut a, mut b) = (vec![0.0; FEATURES.len()], vec![0.0; FEATURES.len()]);
            member_row(&h, &ix, m, cutoff, &mut a);
            member_row(&one, &one_ix, 0, cutoff, &mut b);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "member {m}");
        }
    }
}
