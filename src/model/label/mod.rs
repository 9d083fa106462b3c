//! Training labels: the reviewed labels table where a member has one, else an outcome rule over
//! the events after joining (DESIGN.md §3), optionally sharpened by signs of farming (a coupon
//! redeemed within hours of claiming it, little spent) and spread through linked accounts
//! (`linked`: a connected group whose members the rule or the reviews call wool). Labels read
//! the outcome window after the member's join (and, for links, the group as of the end of the
//! history); the features of the same member read only what came before, so a label never
//! becomes a feature.

use serde::{Deserialize, Serialize};

use crate::data::history::{History, MemberIdx, NONE};
use crate::data::schema::CouponEvent;
use crate::features::member::MemberIndex;
use crate::features::recruit::{MergeCaps, RecruitState};

pub mod linked;
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
    /// Wool needs a sign of farming too: a coupon redeemed within this many hours of claiming
    /// it, inside the window (0: no such sign needed, every taker who gave nothing is wool).
    pub redeem_within_hours: f64,
    /// Wool needs net spend under this too: a member who paid this much in the window kept the
    /// brand's margin whatever coupons they used (0: no ceiling).
    pub spend_ceiling: f64,
    /// Spread wool through linked accounts (connected groups of `[merge]`'s rare keys).
    pub links: bool,
    /// A group's rule labels count once it has this many members with a closed window.
    pub link_min_members: u32,
    /// Members of a group whose rule-wool share (among members with a closed window) reaches
    /// this are wool.
    pub link_rule_share: f64,
    /// Members of a group with a reviewed wool account whose reviewed members are at least this
    /// share wool are wool.
    pub link_reviewed_share: f64,
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
            redeem_within_hours: 0.0,
            spend_ceiling: 0.0,
            links: false,
            link_min_members: 5,
            link_rule_share: 0.2,
            link_reviewed_share: 0.67,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelError {
    #[error("label.window_days must be between 1 and 3650, got {0}")]
    Window(u32),
    #[error("label.spend_floor must be a finite number ≥ 0, got {0}")]
    Floor(f64),
    #[error("label.{name} must be {expected}, got {value}")]
    Out {
        name: &'static str,
        expected: &'static str,
        value: f64,
    },
}

/// A checked label rule (`LabelParams::check`), with the merge caps its links group by
/// (`with_caps`; the defaults until then).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelRule {
    params: LabelParams,
    caps: MergeCaps,
}

impl LabelParams {
    pub fn check(self) -> Result<LabelRule, LabelError> {
        if self.window_days == 0 || self.window_days > 3_650 {
            return Err(LabelError::Window(self.window_days));
        }
        if !self.spend_floor.is_finite() || self.spend_floor < 0.0 {
            return Err(LabelError::Floor(self.spend_floor));
        }
        let window_hours = f64::from(self.window_days) * 24.0;
        let out = |name, expected, value: f64, ok: bool| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(LabelError::Out {
                    name,
                    expected,
                    value,
                })
            }
        };
        let h = self.redeem_within_hours;
        out(
            "redeem_within_hours",
            "in [0, window_days × 24] (0: off)",
            h,
            (0.0..=window_hours).contains(&h),
        )?;
        let c = self.spend_ceiling;
        out(
            "spend_ceiling",
            "0 (off) or above spend_floor",
            c,
            c == 0.0 || c > self.spend_floor,
        )?;
        let share = |v: f64| v > 0.0 && v <= 1.0;
        out(
            "link_rule_share",
            "in (0, 1]",
            self.link_rule_share,
            share(self.link_rule_share),
        )?;
        out(
            "link_reviewed_share",
            "in (0, 1]",
            self.link_reviewed_share,
            share(self.link_reviewed_share),
        )?;
        let m = f64::from(self.link_min_members);
        out("link_min_members", "at least 1", m, m >= 1.0)?;
        Ok(LabelRule {
            params: self,
            caps: MergeCaps::default(),
        })
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

    /// The same rule, its links grouping accounts by `caps` (`[merge]` of the training config).
    pub fn with_caps(self, caps: MergeCaps) -> Self {
        LabelRule { caps, ..self }
    }

    pub fn caps(&self) -> MergeCaps {
        self.caps
    }

    /// Whether member `m` redeemed, in `[joined, end)`, a coupon within `redeem_within_hours`
    /// of claiming it (a redemption without a claim on record is no such sign).
    fn quick_redeem(&self, h: &History, ix: &MemberIndex, m: MemberIdx, end: i64) -> bool {
        let joined = h.members.joined_at[m as usize];
        let limit = (self.params.redeem_within_hours * 3_600.0) as i64;
        let c = &h.coupons;
        let rows = ix.coupons.of(m);
        rows.iter().any(|&r| {
            let r = r as usize;
            let at = c.at[r];
            c.event[r] == CouponEvent::Redeem
                && at >= joined
                && at < end
                && rows.iter().any(|&k| {
                    let k = k as usize;
                    c.event[k] == CouponEvent::Claim
                        && c.coupon[k] == c.coupon[r]
                        && c.at[k] <= at
                        && at - c.at[k] <= limit
                })
        })
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
                let p = &self.params;
                let gave_value = !kept.is_empty()
                    && net >= p.spend_floor
                    && (without_coupon || !p.require_order_without_coupon);
                let wool = took
                    && !gave_value
                    && (p.spend_ceiling == 0.0 || net < p.spend_ceiling)
                    && (p.redeem_within_hours == 0.0 || self.quick_redeem(h, ix, m, end));
                u8::from(wool)
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
    /// at `data_end` and no review exists. With `links`, a member with a closed window the rule
    /// calls genuine is wool (`Linked`) when their connected group as of `data_end` says so
    /// (`linked::spread`).
    pub fn labels(
        &self,
        h: &History,
        ix: &MemberIndex,
        data_end: i64,
    ) -> Vec<(Option<u8>, LabelSource)> {
        let mut out = self.outcomes(h, ix, data_end);
        self.finish(h, data_end, None, &mut out);
        out
    }

    /// Whether labels spread through connected groups (`links` on a wool rule): then
    /// [`LabelRule::finish`] reads the groups of a recruitment sweep.
    pub fn spreads(&self) -> bool {
        self.params.links && self.params.target == Target::Wool
    }

    /// The first step of [`LabelRule::labels`]: the rule's own outcome for each member whose
    /// window closed by `data_end` (`Open` otherwise).
    pub fn outcomes(
        &self,
        h: &History,
        ix: &MemberIndex,
        data_end: i64,
    ) -> Vec<(Option<u8>, LabelSource)> {
        (0..h.members.len() as u32)
            .map(|m| {
                if h.members.joined_at[m as usize] + self.window() <= data_end {
                    (Some(self.outcome(h, ix, m)), LabelSource::Rule)
                } else {
                    (None, LabelSource::Open)
                }
            })
            .collect()
    }

    /// The rest of [`LabelRule::labels`] on [`LabelRule::outcomes`]: where the rule
    /// [`spreads`](LabelRule::spreads), labels spread through the connected groups, read from
    /// `groups` when given (the state of a recruitment sweep with this rule's caps past every
    /// event up to `data_end`; one that goes on is the same, as only reviews come later and they
    /// join no accounts), else from a sweep of its own; then reviews override.
    pub fn finish(
        &self,
        h: &History,
        data_end: i64,
        groups: Option<&RecruitState>,
        out: &mut [(Option<u8>, LabelSource)],
    ) {
        if self.spreads() {
            match groups {
                Some(state) => linked::apply(self, h, data_end, state, out),
                None => linked::apply(self, h, data_end, &linked::groups(self, h, data_end), out),
            }
        }
        if self.params.prefer_reviewed && self.params.target == Target::Wool {
            for (&m, &l) in h.labels.member.iter().zip(&h.labels.label) {
                out[m as usize] = (Some(l), LabelSource::Reviewed);
            }
        }
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
    fn farming_signs_by_hand() {
        let mut h = history();
        // m2 claims a coupon, redeems it two days later on a 500 order with it, nothing else.
        let k = h.keys.intern("promo-2");
        for (event, at) in [(CouponEvent::Claim, 0), (CouponEvent::Redeem, 2 * DAY)] {
            let c = &mut h.coupons;
            c.member.push(2);
            c.coupon.push(k);
            c.campaign.push(NONE);
            c.event.push(event);
            c.at.push(at);
            c.face_value.push(50.0);
            c.threshold.push(450.0);
            c.kind.push(CouponKind::Promo);
        }
        let o = &mut h.orders;
        o.order.push(9);
        o.member.push(2);
        o.at.push(2 * DAY);
        o.amount.push(500.0);
        o.list_amount.push(550.0);
        o.discount.push(50.0);
        o.coupon.push(k);
        o.channel.push(NONE);
        o.refunded.push(false);
        let ix = MemberIndex::build(&h);
        let labels = |p: LabelParams| -> Vec<Option<u8>> {
            p.check()
                .unwrap_or_else(|e| panic!("{e}"))
                .labels(&h, &ix, 120 * DAY)
                .iter()
                .map(|(l, _)| *l)
                .collect()
        };
        // The outcome rule alone: m2 took a benefit and never ordered without a coupon.
        assert_eq!(
            labels(LabelParams::default()),
            vec![Some(1), Some(0), Some(1), Some(0), None]
        );
        // Redeemed within a day of claiming: m0 (10 seconds), not m2 (two days).
        let quick = LabelParams {
            redeem_within_hours: 24.0,
            ..LabelParams::default()
        };
        assert_eq!(
            labels(quick),
            vec![Some(1), Some(0), Some(0), Some(0), None]
        );
        // Spent under 300 in the window: m0 (10), not m2 (500).
        let ceiling = LabelParams {
            spend_ceiling: 300.0,
            ..LabelParams::default()
        };
        assert_eq!(
            labels(ceiling),
            vec![Some(1), Some(0), Some(0), Some(0), None]
        );
        let bad = LabelParams {
            spend_ceiling: 20.0,
            ..LabelParams::default()
        };
        assert!(matches!(
            bad.check(),
            Err(LabelError::Out {
                name: "spend_ceiling",
                ..
            })
        ));
        let bad = LabelParams {
            link_rule_share: 0.0,
            ..LabelParams::default()
        };
        assert!(matches!(
            bad.check(),
            Err(LabelError::Out {
                name: "link_rule_share",
                ..
            })
        ));
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
