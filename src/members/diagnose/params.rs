//! The diagnostic rules as written in `training/diagnose.toml`, their check, and the rules in
//! words that every diagnosis carries next to its numbers.

use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::super::tier::{invalid, within, Invalid};
use super::super::{read_toml, MembersError, DAY};
use super::quality::QualityParams;
use crate::model::label::{LabelParams, LabelRule, Target};

/// The length of a track period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Monday to Sunday, UTC.
    Week,
    /// Calendar month, UTC.
    Month,
    /// Calendar quarter, UTC.
    Quarter,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
        }
    }

    /// The start (00:00 UTC) of the period holding `t`.
    pub fn start(self, t: i64) -> i64 {
        let Some(dt) = DateTime::from_timestamp(t, 0) else {
            return t;
        };
        let d = dt.date_naive();
        let first = match self {
            Period::Week => Some(d - Duration::days(i64::from(d.weekday().num_days_from_monday()))),
            Period::Month => NaiveDate::from_ymd_opt(d.year(), d.month(), 1),
            Period::Quarter => NaiveDate::from_ymd_opt(d.year(), d.month0() / 3 * 3 + 1, 1),
        };
        first
            .and_then(|f| f.and_hms_opt(0, 0, 0))
            .map_or(t, |f| f.and_utc().timestamp())
    }

    /// The start of the period after the one starting at `start`.
    pub fn next(self, start: i64) -> i64 {
        let Some(dt) = DateTime::from_timestamp(start, 0) else {
            return start.saturating_add(7 * DAY);
        };
        let d = dt.date_naive();
        let next = match self {
            Period::Week => Some(d + Duration::days(7)),
            Period::Month => d.checked_add_months(chrono::Months::new(1)),
            Period::Quarter => d.checked_add_months(chrono::Months::new(3)),
        };
        next.and_then(|f| f.and_hms_opt(0, 0, 0))
            .map_or(start.saturating_add(7 * DAY), |f| f.and_utc().timestamp())
    }
}

/// The flag rules' thresholds, as written in `[flags]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlagParams {
    /// (a) A tier takes part in the tier comparison only with at least this many members, and
    /// each of its rates only when measured on at least this many past buyers, points holders
    /// or coupons claimed.
    pub tier_min_members: usize,
    /// (b, over time) The last `recent_periods` labelled periods are "recent", the labelled
    /// periods before them "earlier". A period is labelled when at least half of the members
    /// who joined in it have a label.
    pub recent_periods: usize,
    /// (b, over time) Labelled members a channel or campaign needs in the recent periods and
    /// again in the earlier ones.
    pub min_labelled: usize,
    /// (b, over time) Recent wool share at least this many times the earlier one …
    pub jump_ratio: f64,
    /// (b, over time) … and at least this much higher (absolute).
    pub jump_min_increase: f64,
    /// (b, against others) Wool share at least this many times the whole population's …
    pub others_ratio: f64,
    /// (b, against others) … with at least this many labelled members.
    pub others_min_labelled: usize,
}

impl Default for FlagParams {
    fn default() -> Self {
        FlagParams {
            tier_min_members: 50,
            recent_periods: 3,
            min_labelled: 100,
            jump_ratio: 2.0,
            jump_min_increase: 0.10,
            others_ratio: 2.0,
            others_min_labelled: 200,
        }
    }
}

/// `training/diagnose.toml` as written; every key has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnoseParams {
    /// Length of a track period.
    pub period: Period,
    /// A new member makes a first purchase when they buy within this many days of joining.
    pub first_purchase_days: i64,
    /// Purchase, exchange and coupon use rates look at this many days before the moment.
    pub activity_days: i64,
    /// Points a member must hold to swap points for a coupon: members whose balance stays
    /// below it through the whole activity window could not exchange and take no part in the
    /// exchange rate.
    pub exchange_points: i64,
    /// The labelled-wool rule: the model module's label rule (`[label]` of training/wool.toml).
    pub label: LabelParams,
    pub flags: FlagParams,
    /// When a share is too small to read as a fact, and when wool is measurable at all.
    pub quality: QualityParams,
}

impl Default for DiagnoseParams {
    fn default() -> Self {
        DiagnoseParams {
            period: Period::Month,
            first_purchase_days: 30,
            activity_days: 90,
            exchange_points: 300,
            label: LabelParams::default(),
            flags: FlagParams::default(),
            quality: QualityParams::default(),
        }
    }
}

/// Checked diagnostic rules (`DiagnoseParams::check`).
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnoseRules {
    pub params: DiagnoseParams,
    pub label: LabelRule,
}

impl DiagnoseParams {
    pub fn check(self) -> Result<DiagnoseRules, Invalid> {
        within(
            "first_purchase_days",
            self.first_purchase_days,
            1..=3_650,
            " days",
        )?;
        within("activity_days", self.activity_days, 1..=3_650, " days")?;
        within(
            "exchange_points",
            self.exchange_points,
            0..=1_000_000_000,
            " points",
        )?;
        if self.label.target != Target::Wool {
            return Err(invalid("label.target", "must be \"wool\" for diagnostics"));
        }
        let label = self
            .label
            .check()
            .map_err(|e| invalid("label", e.to_string()))?;
        self.quality.check()?;
        let f = &self.flags;
        if f.recent_periods == 0 {
            return Err(invalid("flags.recent_periods", "must be at least 1"));
        }
        for (key, v) in [
            ("flags.jump_ratio", f.jump_ratio),
            ("flags.others_ratio", f.others_ratio),
        ] {
            if !v.is_finite() || v < 1.0 {
                return Err(invalid(key, format!("must be a number ≥ 1, is {v}")));
            }
        }
        if !f.jump_min_increase.is_finite() || !(0.0..=1.0).contains(&f.jump_min_increase) {
            return Err(invalid(
                "flags.jump_min_increase",
                format!("must be from 0 to 1, is {}", f.jump_min_increase),
            ));
        }
        Ok(DiagnoseRules {
            params: self,
            label,
        })
    }
}

/// Reads and checks a diagnostics config; `None` gives the defaults.
pub fn load(path: Option<&Path>) -> Result<DiagnoseRules, MembersError> {
    let params: DiagnoseParams = match path {
        Some(path) => read_toml(path)?,
        None => DiagnoseParams::default(),
    };
    params.check().map_err(|e| MembersError::Config {
        path: path.map_or_else(|| "(built-in defaults)".into(), Path::to_path_buf),
        key: e.key,
        message: e.message,
    })
}

/// The activity rates in words: each among the members who could do the thing.
pub fn definition_text(p: &DiagnoseParams) -> Vec<String> {
    let d = p.activity_days;
    vec![
        format!(
            "purchase_rate: of the members with an order before the last {d} days (past buyers), \
             the share with an order in them"
        ),
        format!(
            "exchange_rate: of the members holding at least {} points at some moment in the \
             last {d} days or exchanging in them (points holders), the share who swapped points \
             for a coupon in them",
            p.exchange_points
        ),
        format!(
            "coupon_use_rate: of the coupons claimed in the last {d} days, the share redeemed \
             before the moment"
        ),
        format!(
            "by tier, these three rates count each member in the tier held {d} days before the \
             moment, when the window opened; every other tier figure uses the tier at the moment"
        ),
    ]
}

/// The flag rules in words, with their thresholds.
pub fn rule_text(p: &DiagnoseParams) -> Vec<String> {
    let f = &p.flags;
    vec![
        format!(
            "middle_tier: a tier other than the lowest and the highest, with at least {} members, \
             whose purchase rate (of past buyers), exchange rate (of points holders) and coupon \
             use rate (of coupons claimed), all over the last {} days and counting each \
             member in the tier held when they began, are each strictly the lowest of all \
             tiers with at least {} members; a rate measured on fewer than {} past buyers, \
             points holders or coupons takes no part",
            f.tier_min_members, p.activity_days, f.tier_min_members, f.tier_min_members
        ),
        format!(
            "wool_jump: a channel or campaign whose labelled wool share over the last {} \
             labelled {}s is at least {}x and at least {:.0} points above its share over the \
             labelled {}s before them, with at least {} labelled members in each",
            f.recent_periods,
            p.period.name(),
            f.jump_ratio,
            100.0 * f.jump_min_increase,
            p.period.name(),
            f.min_labelled
        ),
        format!(
            "wool_above_others: a channel or campaign whose labelled wool share is at least {}x \
             the whole population's, with at least {} labelled members",
            f.others_ratio, f.others_min_labelled
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::facts::period_index;
    use super::super::{periods, DiagnoseError, Diagnosis};
    use super::*;
    use crate::members::at;

    #[test]
    fn periods_start_on_calendar_boundaries() {
        let t = at(2024, 5, 17) + 3_600;
        assert_eq!(Period::Month.start(t), at(2024, 5, 1));
        assert_eq!(Period::Quarter.start(t), at(2024, 4, 1));
        // 2024-05-17 is a Friday; its week starts Monday 13th.
        assert_eq!(Period::Week.start(t), at(2024, 5, 13));
        assert_eq!(Period::Month.next(at(2024, 12, 1)), at(2025, 1, 1));
        assert_eq!(
            periods(Period::Month, at(2024, 1, 20), at(2024, 3, 1)),
            vec![at(2024, 1, 1), at(2024, 2, 1)]
        );
        assert_eq!(period_index(&[10, 20], 5), None);
        assert_eq!(period_index(&[10, 20], 20), Some(1));
    }

    #[test]
    fn defaults_check_and_bad_values_name_their_key() {
        assert!(DiagnoseParams::default().check().is_ok());
        let key = |p: DiagnoseParams| p.check().err().map(|e| e.key);
        assert_eq!(
            key(DiagnoseParams {
                first_purchase_days: 0,
                ..DiagnoseParams::default()
            }),
            Some("first_purchase_days")
        );
        let mut p = DiagnoseParams::default();
        p.flags.jump_ratio = 0.5;
        assert_eq!(key(p), Some("flags.jump_ratio"));
        let e = toml::from_str::<DiagnoseParams>("perod = \"month\"").err();
        assert!(e.is_some_and(|e| e.to_string().contains("perod")));
    }

    #[test]
    fn diagnosis_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Diagnosis>();
        assert_send_sync::<DiagnoseError>();
    }
}
