//! Membership tiers (DESIGN.md §5): which tier a member holds as of a moment, from their history
//! strictly before it, under rules read from `training/tiers.toml`.
//!
//! The rules, kept simple on purpose:
//! - the **rolling value** at a moment is the member's spend (paid on orders not refunded) or
//!   points earned (positive movements), per `basis`, over the `window_days` before it;
//! - **upgrade immediately**: right after each event, the member moves up to the highest tier
//!   whose threshold the rolling value (including that event) reaches, possibly several tiers;
//! - **downgrade at most one tier per review**: reviews fall at 00:00 UTC on the first day of
//!   every `review_months`-th month (month-end reviews by default). A review sees the events
//!   strictly before it; when the rolling value then is below the threshold of the tier held,
//!   the member drops one tier, and only one, however far the value has fallen;
//! - every member starts in the first tier, whose threshold must be 0.
//!
//! The tier as of `t` applies every event before `t` and every review at or before `t` (a review
//! at `t` itself only sees events before `t`). Spend is counted in cents and points in points, as
//! integers, so that a rolling value exactly on a threshold reaches it.
//!
//! Never reads an event at or after the as-of moment.

use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{read_toml, MembersError, DAY};
use crate::data::history::{History, MemberIdx};
use crate::features::member::MemberIndex;

/// What the rolling value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Paid on orders not refunded, in the history's currency.
    Spend,
    /// Points earned (positive points movements of any reason).
    Points,
}

/// `training/tiers.toml` as written; every key has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TierParams {
    pub basis: Basis,
    /// Length of the rolling window.
    pub window_days: i64,
    /// Months between downgrade reviews (1 = every month end, 3 = every quarter end, 12 = every
    /// year end).
    pub review_months: u32,
    /// Tier names, lowest first.
    pub names: Vec<String>,
    /// The rolling value each tier needs, lowest first; the first must be 0.
    pub thresholds: Vec<f64>,
}

impl Default for TierParams {
    fn default() -> Self {
        TierParams {
            basis: Basis::Spend,
            window_days: 365,
            review_months: 1,
            names: [
                "one-star", "two-star", "silver", "platinum", "diamond", "supreme",
            ]
            .map(String::from)
            .to_vec(),
            thresholds: vec![0.0, 100.0, 500.0, 2_000.0, 5_000.0, 10_000.0],
        }
    }
}

/// A config value that does not check: the key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: &'static str,
    pub message: String,
}

pub(crate) fn invalid(key: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        key,
        message: message.into(),
    }
}

/// `Ok` when `value` lies in `range`, else [`Invalid`] for `key`: "must be LO to HI{unit}, is
/// VALUE" (`unit` with its leading space, e.g. " days", or empty).
pub(crate) fn within<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<(), Invalid> {
    if range.contains(&value) {
        Ok(())
    } else {
        let (lo, hi) = range.into_inner();
        Err(invalid(
            key,
            format!("must be {lo} to {hi}{unit}, is {value}"),
        ))
    }
}

impl TierParams {
    /// Checks every value and turns them into the rules `tier_of` applies.
    pub fn check(self) -> Result<TierRules, Invalid> {
        within("window_days", self.window_days, 1..=3_660, " days")?;
        within("review_months", self.review_months, 1..=12, "")?;
        if self.names.is_empty() {
            return Err(invalid("names", "needs at least one tier"));
        }
        if self.names.len() > 255 {
            return Err(invalid("names", "at most 255 tiers"));
        }
        for (i, n) in self.names.iter().enumerate() {
            if n.trim().is_empty() {
                return Err(invalid("names", format!("name {} is empty", i + 1)));
            }
            if self.names[..i].contains(n) {
                return Err(invalid("names", format!("'{n}' is named twice")));
            }
        }
        if self.thresholds.len() != self.names.len() {
            return Err(invalid(
                "thresholds",
                format!(
                    "needs one threshold per tier: {} names, {} thresholds",
                    self.names.len(),
                    self.thresholds.len()
                ),
            ));
        }
        if self.thresholds[0] != 0.0 {
            return Err(invalid(
                "thresholds",
                format!(
                    "the first tier's threshold must be 0 (every member starts there), is {}",
                    self.thresholds[0]
                ),
            ));
        }
        let scale = match self.basis {
            Basis::Spend => 100.0,
            Basis::Points => 1.0,
        };
        let mut units = Vec::with_capacity(self.thresholds.len());
        for (i, &t) in self.thresholds.iter().enumerate() {
            if !t.is_finite() || !(0.0..=1e15).contains(&t) {
                return Err(invalid(
                    "thresholds",
                    format!(
                        "threshold {} is {t}: must be a number from 0 to 1e15",
                        i + 1
                    ),
                ));
            }
            let u = (t * scale).round() as i64;
            if i > 0 && u <= units[i - 1] {
                return Err(invalid(
                    "thresholds",
                    format!(
                        "must rise strictly: '{}' needs {t}, not more than '{}' ({})",
                        self.names[i],
                        self.names[i - 1],
                        self.thresholds[i - 1]
                    ),
                ));
            }
            units.push(u);
        }
        Ok(TierRules {
            basis: self.basis,
            window: self.window_days * DAY,
            review_months: self.review_months,
            names: self.names,
            thresholds: units,
        })
    }
}

/// Checked tier rules.
#[derive(Debug, Clone, PartialEq)]
pub struct TierRules {
    pub basis: Basis,
    /// Rolling window, seconds.
    pub window: i64,
    pub review_months: u32,
    pub names: Vec<String>,
    /// Thresholds in units: cents for spend, points for points.
    pub thresholds: Vec<i64>,
}

impl Default for TierRules {
    fn default() -> Self {
        // The defaults check (a unit test proves it); fall back to a single tier rather than panic.
        TierParams::default().check().unwrap_or_else(|_| TierRules {
            basis: Basis::Spend,
            window: 365 * DAY,
            review_months: 1,
            names: vec!["member".to_string()],
            thresholds: vec![0],
        })
    }
}

/// Reads and checks a tiers config; `None` gives the defaults.
pub fn load(path: Option<&Path>) -> Result<TierRules, MembersError> {
    let Some(path) = path else {
        return Ok(TierRules::default());
    };
    let params: TierParams = read_toml(path)?;
    params.check().map_err(|e| MembersError::Config {
        path: path.to_path_buf(),
        key: e.key,
        message: e.message,
    })
}

/// The first review moment strictly after `t`: 00:00 UTC on the first day of a month whose
/// index since year 0 is a multiple of `every` months. `None` past the calendar's range.
pub fn next_review(t: i64, every: u32) -> Option<i64> {
    let dt = DateTime::from_timestamp(t, 0)?;
    let month = i64::from(dt.year()) * 12 + i64::from(dt.month0());
    let every = i64::from(every.max(1));
    let next = (month.div_euclid(every) + 1) * every;
    let year = i32::try_from(next.div_euclid(12)).ok()?;
    let month0 = u32::try_from(next.rem_euclid(12)).ok()?;
    let day = NaiveDate::from_ymd_opt(year, month0 + 1, 1)?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

impl TierRules {
    /// The highest tier whose threshold `units` reaches.
    pub fn level(&self, units: i64) -> usize {
        self.thresholds
            .partition_point(|&t| t <= units)
            .saturating_sub(1)
    }

    pub fn name(&self, tier: usize) -> &str {
        self.names.get(tier).map_or("", String::as_str)
    }

    /// The tier as of `as_of` of a member whose counting events are `events`: (time, units),
    /// sorted by time. Events at or after `as_of` are ignored.
    pub fn tier_of(&self, events: &[(i64, i64)], as_of: i64) -> usize {
        let events = &events[..events.partition_point(|e| e.0 < as_of)];
        let Some(first) = events.first() else {
            return 0;
        };
        let mut prefix = Vec::with_capacity(events.len() + 1);
        prefix.push(0i64);
        for e in events {
            prefix.push(prefix[prefix.len() - 1].saturating_add(e.1));
        }
        // Sum of units of the events with lo <= time < hi.
        let sum = |lo: i64, hi: i64| {
            let a = events.partition_point(|e| e.0 < lo);
            let b = events.partition_point(|e| e.0 < hi);
            prefix[b] - prefix[a.min(b)]
        };
        let mut tier = 0usize;
        let mut review = next_review(first.0, self.review_months);
        let apply_review = |tier: &mut usize, r: i64| {
            if self.level(sum(r.saturating_sub(self.window), r)) < *tier {
                *tier -= 1;
            }
        };
        for e in events {
            while let Some(r) = review.filter(|&r| r <= e.0) {
                if tier == 0 {
                    // Reviews cannot lower the first tier: skip to the first one after this event.
                    review = next_review(e.0, self.review_months);
                    break;
                }
                apply_review(&mut tier, r);
                review = next_review(r, self.review_months);
            }
            // The window ending with this event, inclusive: (t - window, t].
            let now = e.0.saturating_add(1);
            tier = tier.max(self.level(sum(now.saturating_sub(self.window), now)));
        }
        while let Some(r) = review.filter(|&r| r <= as_of && tier > 0) {
            apply_review(&mut tier, r);
            review = next_review(r, self.review_months);
        }
        tier
    }

    /// Member `m`'s counting events before `as_of`, into `out` (cleared first).
    pub fn events_of(
        &self,
        h: &History,
        ix: &MemberIndex,
        m: MemberIdx,
        as_of: i64,
        out: &mut Vec<(i64, i64)>,
    ) {
        out.clear();
        match self.basis {
            Basis::Spend => {
                let o = &h.orders;
                for &r in ix.orders.of(m) {
                    let r = r as usize;
                    if o.at[r] >= as_of {
                        break;
                    }
                    if !o.refunded[r] && o.amount[r] > 0.0 {
                        out.push((o.at[r], (o.amount[r] * 100.0).round() as i64));
                    }
                }
            }
            Basis::Points => {
                let p = &h.points;
                for &r in ix.points.of(m) {
                    let r = r as usize;
                    if p.at[r] >= as_of {
                        break;
                    }
                    if p.delta[r] > 0 {
                        out.push((p.at[r], p.delta[r]));
                    }
                }
            }
        }
    }

    /// The tier of each of `members` as of `as_of`, in parallel.
    pub fn tiers(
        &self,
        h: &History,
        ix: &MemberIndex,
        members: &[MemberIdx],
        as_of: i64,
    ) -> Vec<usize> {
        members
            .par_iter()
            .with_min_len(1_024)
            .map_init(Vec::new, |buf, &m| {
                self.events_of(h, ix, m, as_of, buf);
                self.tier_of(buf, as_of)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::at;

    fn rules() -> TierRules {
        TierParams::default()
            .check()
            .unwrap_or_else(|e| panic!("defaults do not check: {e:?}"))
    }

    #[test]
    fn defaults_check_and_name_six_tiers() {
        let r = rules();
        assert_eq!(r.names.len(), 6);
        assert_eq!(r.name(2), "silver");
        assert_eq!(
            r.thresholds,
            vec![0, 10_000, 50_000, 200_000, 500_000, 1_000_000]
        );
        assert_eq!(r.window, 365 * 86_400);
        assert_eq!(TierRules::default(), r);
    }

    #[test]
    fn level_counts_reached_thresholds() {
        let r = rules();
        assert_eq!(r.level(0), 0);
        assert_eq!(r.level(9_999), 0);
        assert_eq!(r.level(10_000), 1); // exactly 100.00 reaches two-star
        assert_eq!(r.level(199_999), 2);
        assert_eq!(r.level(5_000_000), 5);
    }

    #[test]
    fn next_review_is_the_next_month_start() {
        assert_eq!(next_review(at(2024, 1, 15), 1), Some(at(2024, 2, 1)));
        // A moment exactly on a month start: the next one, strictly after.
        assert_eq!(next_review(at(2024, 2, 1), 1), Some(at(2024, 3, 1)));
        assert_eq!(next_review(at(2024, 12, 31), 1), Some(at(2025, 1, 1)));
        // Quarter ends: reviews on Jan 1, Apr 1, Jul 1, Oct 1.
        assert_eq!(next_review(at(2024, 2, 10), 3), Some(at(2024, 4, 1)));
        assert_eq!(next_review(at(2024, 11, 10), 3), Some(at(2025, 1, 1)));
        assert_eq!(next_review(at(2024, 5, 10), 12), Some(at(2025, 1, 1)));
    }

    #[test]
    fn upgrades_at_once_by_several_tiers() {
        let r = rules();
        // 60 on Jan 5 (one-star), 50 on Jan 20: rolling 110 → two-star at once.
        let ev = [(at(2024, 1, 5), 6_000), (at(2024, 1, 20), 5_000)];
        assert_eq!(
            r.tier_of(&ev, at(2024, 1, 20)),
            0,
            "the Jan 20 order is not before Jan 20"
        );
        assert_eq!(r.tier_of(&ev, at(2024, 1, 21)), 1);
        // One order of 2,500 jumps straight from one-star to platinum.
        let big = [(at(2024, 3, 3), 250_000)];
        assert_eq!(r.tier_of(&big, at(2024, 3, 4)), 3);
    }

    #[test]
    fn downgrades_one_tier_per_month_end_review() {
        let r = rules();
        // 6,000 on 2023-01-10 → diamond. The rolling value stays 6,000 until the order leaves
        // the 365-day window: at the 2024-01-01 review the window [2023-01-01, 2024-01-01)
        // still holds it; at the 2024-02-01 review ([2023-02-01, ..)) it is empty → one tier
        // per review: platinum Feb 1, silver Mar 1, two-star Apr 1, one-star May 1.
        let ev = [(at(2023, 1, 10), 600_000)];
        assert_eq!(r.tier_of(&ev, at(2023, 12, 31)), 4);
        assert_eq!(r.tier_of(&ev, at(2024, 1, 1)), 4);
        assert_eq!(r.tier_of(&ev, at(2024, 1, 31)), 4);
        assert_eq!(r.tier_of(&ev, at(2024, 2, 1)), 3);
        assert_eq!(r.tier_of(&ev, at(2024, 3, 1)), 2);
        assert_eq!(r.tier_of(&ev, at(2024, 4, 15)), 1);
        assert_eq!(r.tier_of(&ev, at(2024, 5, 1)), 0);
        assert_eq!(r.tier_of(&ev, at(2030, 1, 1)), 0);
    }

    #[test]
    fn a_review_keeps_a_tier_the_window_still_earns() {
        let r = rules();
        // 300 on 2023-03-01 and 300 on 2023-09-01: silver (600) from Sep 1. At the 2024-03-01
        // review the window [2023-03-02.., 2024-03-01) — precisely [2023-03-02, 2024-03-01) as
        // 2024 is a leap year — holds only the September 300: below silver → two-star.
        // Then a 250 order on 2024-03-10: rolling 300 + 250 = 550 → silver again at once.
        let ev = [
            (at(2023, 3, 1), 30_000),
            (at(2023, 9, 1), 30_000),
            (at(2024, 3, 10), 25_000),
        ];
        assert_eq!(r.tier_of(&ev, at(2023, 9, 2)), 2);
        assert_eq!(r.tier_of(&ev, at(2024, 2, 29)), 2);
        assert_eq!(r.tier_of(&ev, at(2024, 3, 1)), 1);
        assert_eq!(r.tier_of(&ev, at(2024, 3, 11)), 2);
    }

    #[test]
    fn quarterly_reviews_downgrade_less_often() {
        let p = TierParams {
            review_months: 3,
            ..TierParams::default()
        };
        let r = p.check().unwrap_or_else(|e| panic!("{e:?}"));
        // Diamond from 2023-01-10; window empty from 2024-01-11 on. Quarter reviews:
        // 2024-01-01 (window still holds it), 2024-04-01 → platinum, 2024-07-01 → silver.
        let ev = [(at(2023, 1, 10), 600_000)];
        assert_eq!(r.tier_of(&ev, at(2024, 3, 31)), 4);
        assert_eq!(r.tier_of(&ev, at(2024, 4, 1)), 3);
        assert_eq!(r.tier_of(&ev, at(2024, 7, 2)), 2);
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |p: TierParams| p.check().err().map(|e| e.key);
        let d = TierParams::default;
        assert_eq!(
            key(TierParams {
                thresholds: vec![0.0, 100.0, 50.0, 2e3, 5e3, 1e4],
                ..d()
            }),
            Some("thresholds")
        );
        assert_eq!(
            key(TierParams {
                thresholds: vec![10.0, 100.0, 500.0, 2e3, 5e3, 1e4],
                ..d()
            }),
            Some("thresholds")
        );
        assert_eq!(
            key(TierParams {
                thresholds: vec![0.0],
                ..d()
            }),
            Some("thresholds")
        );
        assert_eq!(
            key(TierParams {
                names: vec![],
                ..d()
            }),
            Some("names")
        );
        assert_eq!(
            key(TierParams {
                window_days: 0,
                ..d()
            }),
            Some("window_days")
        );
        assert_eq!(
            key(TierParams {
                review_months: 13,
                ..d()
            }),
            Some("review_months")
        );
        let e = toml::from_str::<TierParams>("basis = \"visits\"").err();
        assert!(e.is_some_and(|e| e.to_string().contains("basis")));
        let e = toml::from_str::<TierParams>("windw_days = 30").err();
        assert!(e.is_some_and(|e| e.to_string().contains("windw_days")));
    }

    #[test]
    fn points_basis_counts_points() {
        let p: TierParams =
            toml::from_str("basis = \"points\"\nnames = [\"a\", \"b\"]\nthresholds = [0, 1000]\n")
                .unwrap_or_else(|e| panic!("{e}"));
        let r = p.check().unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.thresholds, vec![0, 1_000]);
        let ev = [(at(2024, 1, 1), 400), (at(2024, 2, 1), 600)];
        assert_eq!(r.tier_of(&ev, at(2024, 1, 31)), 0);
        assert_eq!(r.tier_of(&ev, at(2024, 2, 2)), 1);
    }
}
