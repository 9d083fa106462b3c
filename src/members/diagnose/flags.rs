//! The flag rules: (a) a middle tier that buys, exchanges and uses coupons least; (b) a channel or
//! campaign whose wool share jumps over time or stands far above everyone's.

use std::collections::BTreeMap;

use super::{day_string, ratio, Acc, DiagnoseParams, Flag, FlagKind, GroupStats};

/// (a): a middle tier with strictly the lowest purchase, exchange and coupon use rates, each
/// among the members who could do the thing (see the module docs). A rate measured on fewer than
/// `tier_min_members` past buyers, points holders or coupons claimed takes no part: a tier
/// without it is not flagged, and it is not lower than anyone else's.
pub fn tier_flags(by_tier: &[GroupStats], p: &DiagnoseParams) -> Vec<Flag> {
    let min = p.flags.tier_min_members;
    let n = by_tier.len();
    let eligible: Vec<usize> = (0..n).filter(|&i| by_tier[i].members >= min).collect();
    let rates = |g: &GroupStats| {
        [
            (g.purchase_rate, g.past_buyers),
            (g.exchange_rate, g.points_holders),
            (g.coupon_use_rate, g.coupon_claims),
        ]
        .map(|(r, on)| r.filter(|_| on >= min))
    };
    let mut out = Vec::new();
    for &i in &eligible {
        if i == 0 || i + 1 >= n {
            continue;
        }
        let t = &by_tier[i];
        let [Some(buy), Some(exchange), Some(used)] = rates(t) else {
            continue;
        };
        // Every other tier's lowest, rate by rate; `None` when no other tier has that rate.
        let mut next = [None::<f64>; 3];
        for &j in eligible.iter().filter(|&&j| j != i) {
            for (lowest, r) in next.iter_mut().zip(rates(&by_tier[j])) {
                if let Some(r) = r {
                    *lowest = Some(lowest.map_or(r, |l| l.min(r)));
                }
            }
        }
        let [Some(next_buy), Some(next_exchange), Some(next_use)] = next else {
            continue;
        };
        if buy < next_buy && exchange < next_exchange && used < next_use {
            let numbers = BTreeMap::from([
                ("members".to_string(), t.members as f64),
                ("past_buyers".to_string(), t.past_buyers as f64),
                ("points_holders".to_string(), t.points_holders as f64),
                ("coupon_claims".to_string(), t.coupon_claims as f64),
                ("purchase_rate".to_string(), buy),
                ("exchange_rate".to_string(), exchange),
                ("coupon_use_rate".to_string(), used),
                ("next_lowest_purchase_rate".to_string(), next_buy),
                ("next_lowest_exchange_rate".to_string(), next_exchange),
                ("next_lowest_coupon_use_rate".to_string(), next_use),
            ]);
            out.push(Flag {
                kind: FlagKind::MiddleTier,
                subject: format!("tier:{}", t.name),
                message: format!(
                    "middle tier '{}' ({} members) buys, exchanges points and uses coupons the \
                     least of all tiers in the last {} days, counting who held it when they \
                     began: {:.1}% of its {} past buyers bought again (next lowest {:.1}%), \
                     {:.1}% of its {} points holders exchanged (next {:.1}%), {:.1}% of the {} \
                     coupons it claimed were used (next {:.1}%)",
                    t.name,
                    t.members,
                    p.activity_days,
                    100.0 * buy,
                    t.past_buyers,
                    100.0 * next_buy,
                    100.0 * exchange,
                    t.points_holders,
                    100.0 * next_exchange,
                    100.0 * used,
                    t.coupon_claims,
                    100.0 * next_use
                ),
                numbers,
            });
        }
    }
    out
}

/// (b, over time): recent labelled periods against earlier ones, per group.
pub(super) fn jump_flags(
    what: &str,
    names: &[String],
    grid: &[Acc],
    np: usize,
    labelled_periods: &[usize],
    starts: &[i64],
    p: &DiagnoseParams,
) -> Vec<Flag> {
    let f = &p.flags;
    let k = f.recent_periods.min(labelled_periods.len());
    let (earlier, recent) = labelled_periods.split_at(labelled_periods.len() - k);
    if earlier.is_empty() || recent.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (g, name) in names.iter().enumerate() {
        let sum = |qs: &[usize]| {
            qs.iter().fold((0usize, 0usize), |(l, w), &q| {
                let a = &grid[g * np + q];
                (l + a.labelled, w + a.wool)
            })
        };
        let (le, we) = sum(earlier);
        let (lr, wr) = sum(recent);
        if le < f.min_labelled || lr < f.min_labelled {
            continue;
        }
        let se = we as f64 / le as f64;
        let sr = wr as f64 / lr as f64;
        if sr >= f.jump_ratio * se && sr - se >= f.jump_min_increase {
            let from = day_string(starts[recent[0]]);
            let numbers = BTreeMap::from([
                ("recent_share".to_string(), sr),
                ("earlier_share".to_string(), se),
                ("recent_labelled".to_string(), lr as f64),
                ("earlier_labelled".to_string(), le as f64),
                ("recent_wool".to_string(), wr as f64),
                ("earlier_wool".to_string(), we as f64),
            ]);
            out.push(Flag {
                kind: FlagKind::WoolJump,
                subject: format!("{what}:{name}"),
                message: format!(
                    "{what} '{name}': wool share of members who joined from {from} is {:.1}% \
                     ({wr} of {lr} labelled), against {:.1}% before ({we} of {le})",
                    100.0 * sr,
                    100.0 * se
                ),
                numbers,
            });
        }
    }
    out
}

/// (b, against others): a group's wool share far above everyone's.
pub(super) fn above_flags(
    what: &str,
    by: &[GroupStats],
    all: &Acc,
    p: &DiagnoseParams,
) -> Vec<Flag> {
    let f = &p.flags;
    let Some(overall) = ratio(all.wool, all.labelled) else {
        return Vec::new();
    };
    by.iter()
        .filter(|g| g.labelled >= f.others_min_labelled)
        .filter_map(|g| {
            let s = g.wool_share?;
            (s >= f.others_ratio * overall && s > 0.0).then(|| Flag {
                kind: FlagKind::WoolAboveOthers,
                subject: format!("{what}:{}", g.name),
                message: format!(
                    "{what} '{}': wool share {:.1}% ({} of {} labelled) against {:.1}% overall",
                    g.name,
                    100.0 * s,
                    g.wool,
                    g.labelled,
                    100.0 * overall
                ),
                numbers: BTreeMap::from([
                    ("share".to_string(), s),
                    ("overall_share".to_string(), overall),
                    ("labelled".to_string(), g.labelled as f64),
                    ("wool".to_string(), g.wool as f64),
                ]),
            })
        })
        .collect()
}
