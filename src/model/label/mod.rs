//! Training labels: the reviewed labels table where a member has one, else an outcome rule over
//! the events after joining (DESIGN.md §3). Labels read only the outcome window after the
//! member's join; the features of the same member read only what came before, so a label never
//! becomes a feature.

use serde::{Deserialize, Serialize};

use crate::data::history::{History, MemberIdx, NONE};
use crate::data::schema::CouponEvent;
use crate::features::member::MemberIndex;

pub mod quality;

const DAY: i64 = 86_400;

/// What the rule labels as the positive class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Took benefits in the window and gave back no value.
    Wool,
    /// Made a full-price first purchase and bought again within the window.
    Value,
}

/// What counts as having taken a benefit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Taken {
    /// Claimed (or redeemed) a coupon: a claim alone already counts.
    Claimed,
    /// Redeemed a coupon: the benefit was actually spent, a claim left to expire costs nothing.
    Redeemed,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Wool => "wool",
            Target::Value => "value",
        }
    }
}

/// The label rule as written in `training/*.toml` (`[label]`), unchecked; a key left out keeps
/// its default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelParams {
    pub target: Target,
    /// When a member has taken a benefit (wool target).
    pub taken: Taken,
    /// Days after joining in which behaviour is observed.
    pub window_days: u32,
    /// Net spend (paid, not refunded) under which a member gave back no value.
    pub spend_floor: f64,
    /// Whether value requires at least one order placed without a coupon.
    pub require_order_without_coupon: bool,
    /// Use the reviewed labels table where a member has a review.
    pub prefer_reviewed: bool,
}

impl Default for LabelParams {
    fn default() -> Self {
        LabelParams {
            target: Target::Wool,
            taken: Taken::Redeemed,
            window_days: 120,
            spend_floor: 30.0,
            require_order_without_coupon: true,
            prefer_reviewed: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelError {
    #[error("label.window_days must be between 1 and 3650, got {0}")]
    Window(u32),
    #[error("label.spend_floor must be a finite number ≥ 0, got {0}")]
    Floor(f64),
}

/// A checked label rule (`LabelParams::check`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelRule {
    params: LabelParams,
}

impl LabelParams {
    pub fn check(self) -> Result<LabelRule, LabelError> {
        if self.window_days == 0 || self.window_days > 3_650 {
            return Err(LabelError::Window(self.window_days));
        }
        if !self.spend_floor.is_finite() || self.spend_floor < 0.0 {
            return Err(LabelError::Floor(self.spend_floor));
        }
        Ok(LabelRule { params: self })
    }
}

/// Where a member's label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    Reviewed,
    Rule,
    /// The outcome rule's label spread through linked accounts (a connected group whose
    /// members' outcomes or reviews say wool).
    Linked,
    /// The outcome window has not ended by the end of the history: no label.
    Open,
}

impl LabelRule {
    pub fn params(&self) -> &LabelParams {
        &self.params
    }

    pub fn window(&self) -> i64 {
        i64::from(self.params.window_days) * DAY
    }

    /// The rule's label for member `m` from events in `[joined, joined + window)`.
    pub fn outcome(&self, h: &History, ix: &MemberIndex, m: MemberIdx) -> u8 {
        let joined = h.members.joined_at[m as usize];
        let end = joined + self.window();
        let inside = |t: i64| t >= joined && t < end;
        let took = ix.coupons.of(m).iter().any(|&r| {
            let r = r as usize;
            let event = h.coupons.event[r];
            inside(h.coupons.at[r])
                && match self.params.taken {
                    Taken::Claimed => event != CouponEvent::Expire,
                    Taken::Redeemed => event == CouponEvent::Redeem,
                }
        });
        let o = &h.orders;
        let mut orders_in = Vec::new();
        for &r in ix.orders.of(m) {
            if inside(o.at[r as usize]) {
                orders_in.push(r as usize);
            }
        }
        let kept: Vec<usize> = orders_in
            .iter()
            .copied()
            .filter(|&r| !o.refunded[r])
            .collect();
        let net: f64 = kept.iter().map(|&r| o.amount[r]).sum();
        let without_coupon = kept.iter().any(|&r| o.coupon[r] == NONE);
        match self.params.target {
            Target::Wool => {
                let gave_value = !kept.is_empty()
                    && net >= self.params.spend_floor
                    && (without_coupon || !self.params.require_order_without_coupon);
                u8::from(took && !gave_value)
            }
            Target::Value => {
                let first_full_price = orders_in.first().is_some_and(|&r| {
                    !o.refunded[r] && o.coupon[r] == NONE && o.discount[r] == 0.0
                });
                u8::from(first_full_price && kept.len() >= 2)
            }
        }
    }

    /// Labels for every member: `(label, source)`, with `None` where the window is still open
    /// at `data_end` and no review exists.
    pub fn labels(
        &self,
        h: &History,
        ix: &MemberIndex,
        data_end: i64,
    ) -> Vec<(Option<u8>, LabelSource)> {
        let mut out: Vec<(Option<u8>, LabelSource)> = (0..h.members.len() as u32)
            .map(|m| {
                if h.members.joined_at[m as usize] + self.window() <= data_end {
                    (Some(self.outcome(h, ix, m)), LabelSource::Rule)
                } else {
                    (None, LabelSource::Open)
                }
            })
            .collect();
        if self.params.prefer_reviewed && self.params.target == Target::Wool {
            for (&m, &l) in h.labels.member.iter().zip(&h.labels.label) {
                out[m as usize] = (Some(l), LabelSource::Reviewed);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::CouponKind;

    fn history() -> History {
        let mut h = History::default();
        for (i, t) in [0, 0, 0, 0, 100 * DAY].iter().enumerate() {
            h.members.ids.intern(&format!("m{i}"));
            h.members.joined_at.push(*t);
            for col in [
                &mut h.members.channel,
                &mut h.members.campaign,
                &mut h.members.inviter,
                &mut h.members.device,
                &mut h.members.ip,
                &mut h.members.phone_prefix,
                &mut h.members.phone_hash,
                &mut h.members.region,
            ] {
                col.push(NONE);
            }
        }
        let k = h.keys.intern("welcome-1");
        for (m, event, at) in [
            (0, CouponEvent::Claim, 10),
            (0, CouponEvent::Redeem, 20),
            (1, CouponEvent::Claim, 10),
            (3, CouponEvent::Claim, 10),
        ] {
            let c = &mut h.coupons;
            c.member.push(m);
            c.coupon.push(k);
            c.campaign.push(NONE);
            c.event.push(event);
            c.at.push(at);
            c.face_value.push(20.0);
            c.threshold.push(30.0);
            c.kind.push(CouponKind::Welcome);
        }
        // (member, paid, coupon?, refunded, at)
        for (i, (m, paid, coupon, refunded, at)) in [
            (0, 10.0, k, false, 20),
            (1, 100.0, NONE, false, DAY),
            (1, 80.0, NONE, false, 2 * DAY),
            (3, 100.0, NONE, true, DAY),
            (3, 500.0, NONE, false, 90 * DAY),
        ]
        .into_iter()
        .enumerate()
        {
            let o = &mut h.orders;
            o.order.push(i as u32);
            o.member.push(m);
            o.at.push(at);
            o.amount.push(paid);
            o.list_amount.push(paid);
            o.discount.push(0.0);
            o.coupon.push(coupon);
            o.channel.push(NONE);
            o.refunded.push(refunded);
        }
        h
    }

    #[test]
    fn wool_rule_by_hand() {
        let h = history();
        let ix = MemberIndex::build(&h);
        let rule = LabelParams {
            taken: Taken::Claimed,
            window_days: 60,
            ..LabelParams::default()
        }
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
        let got = rule.labels(&h, &ix, 120 * DAY);
        let labels: Vec<Option<u8>> = got.iter().map(|(l, _)| *l).collect();
        // m0 took a coupon and spent 10 with it; m1 bought at full price; m2 is dormant;
        // m3 claimed, and its only order in the window was refunded (the later 500 is outside
        // it); m4's window is still open.
        assert_eq!(labels, vec![Some(1), Some(0), Some(0), Some(1), None]);
        assert_eq!(got[4].1, LabelSource::Open);

        // By default only a redeemed coupon is a benefit taken: m3's claim cost nothing, and the
        // 120-day window also sees its 500 order.
        let rule = LabelParams::default()
            .check()
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<Option<u8>> = rule
            .labels(&h, &ix, 120 * DAY)
            .iter()
            .map(|(l, _)| *l)
            .collect();
        assert_eq!(got, vec![Some(1), Some(0), Some(0), Some(0), None]);
    }

    #[test]
    fn reviews_override_and_value_target() {
        let mut h = history();
        h.labels.member.push(1);
        h.labels.label.push(1);
        h.labels.at.push(5 * DAY);
        h.labels.source.push(NONE);
        let ix = MemberIndex::build(&h);
        let rule = LabelParams::default()
            .check()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rule.labels(&h, &ix, 120 * DAY)[1],
            (Some(1), LabelSource::Reviewed)
        );
        let value = LabelParams {
            target: Target::Value,
            ..LabelParams::default()
        }
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<Option<u8>> = value
            .labels(&h, &ix, 120 * DAY)
            .iter()
            .map(|(l, _)| *l)
            .collect();
        assert_eq!(got, vec![Some(0), Some(1), Some(0), Some(0), None]);
    }

    #[test]
    fn bad_params_are_refused() {
        let p = LabelParams {
            window_days: 0,
            ..LabelParams::default()
        };
        assert_eq!(p.check().err(), Some(LabelError::Window(0)));
        let p = LabelParams {
            spend_floor: f64::NAN,
            ..LabelParams::default()
        };
        assert!(matches!(p.check(), Err(LabelError::Floor(_))));
    }
}
