//! What a value must be to make sense, not only to parse: the window of plausible times, the
//! bounds of amounts and points, and the one parser of times that every flag, request field and
//! file cell shares. A time of year 0 or 10000, an amount of 1e308 or a points delta of i64::MAX
//! parses cleanly and would poison every as-of time and sum computed from it; these checks keep
//! such values out at every door (files, events, requests, flags).
//!
//! It never reads files or knows about HTTP: callers turn a [`Implausible`] into their own
//! problem or error, naming their own file, row or field.

use std::fmt;

use chrono::DateTime;
use serde::{Deserialize, Deserializer, Serialize};

/// 2000-01-01T00:00:00Z: the earliest time a live event or request may carry by default.
pub const LIVE_EARLIEST: i64 = 946_684_800;
/// 1990-01-01T00:00:00Z: the earliest time a history file may hold by default (real exports
/// such as CDNOW go back to 1997).
pub const FILE_EARLIEST: i64 = 631_152_000;
/// How far past now a time may lie by default (clocks drift; a day is generous).
pub const FUTURE_SLACK_SECS: i64 = 86_400;
/// Largest money amount (face value, threshold, order amount, discount) accepted.
pub const MAX_AMOUNT: f64 = 1.0e9;
/// Largest absolute points movement accepted.
pub const MAX_POINTS_DELTA: i64 = 1_000_000_000;

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The live window's earliest time and future slack, when the server's config sets them.
static LIVE: std::sync::OnceLock<(i64, i64)> = std::sync::OnceLock::new();

/// Sets the live window for this process (the scorer's config, once at start): events and
/// requests from `earliest` to `future_slack_secs` past now. A second call with another
/// window is refused (the same window again is no change).
pub fn configure_live(earliest: i64, future_slack_secs: i64) -> Result<(), Implausible> {
    if future_slack_secs < 0 || earliest >= now() {
        return Err(Implausible(format!(
            "a live window from {} to {future_slack_secs} s past now holds no time",
            show_time(earliest)
        )));
    }
    let wanted = (earliest, future_slack_secs);
    match LIVE.get_or_init(|| wanted) {
        set if *set == wanted => Ok(()),
        _ => Err(Implausible("the live window is already set".into())),
    }
}

/// The last second of the UTC day holding `t`.
pub fn end_of_day(t: i64) -> i64 {
    t.div_euclid(86_400)
        .saturating_mul(86_400)
        .saturating_add(86_399)
}

/// The window of times that make sense, inclusive at both ends (UTC seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub earliest: i64,
    pub latest: i64,
}

/// A value outside what makes sense, with why in words (the caller adds where).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implausible(pub String);

impl fmt::Display for Implausible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Implausible {}

impl TimeWindow {
    /// Live events and requests: 2000-01-01 .. now + 1 day (or as [`configure_live`] set),
    /// rounded up to the end of that UTC day, so that the bound is the same all day (the API
    /// description states it).
    pub fn live() -> Self {
        let (earliest, slack) = LIVE
            .get()
            .copied()
            .unwrap_or((LIVE_EARLIEST, FUTURE_SLACK_SECS));
        TimeWindow {
            earliest,
            latest: end_of_day(now().saturating_add(slack)),
        }
    }

    /// History files: 1990-01-01 .. now + 1 day.
    pub fn files() -> Self {
        TimeWindow {
            earliest: FILE_EARLIEST,
            latest: now().saturating_add(FUTURE_SLACK_SECS),
        }
    }

    pub fn contains(&self, t: i64) -> bool {
        (self.earliest..=self.latest).contains(&t)
    }

    /// `t` itself when inside the window; otherwise why not, with both ends written out.
    pub fn check(&self, t: i64) -> Result<i64, Implausible> {
        if self.contains(t) {
            return Ok(t);
        }
        Err(Implausible(format!(
            "{} is outside the plausible window {} .. {}",
            show_time(t),
            show_time(self.earliest),
            show_time(self.latest)
        )))
    }
}

/// A time as RFC 3339 where it can be written so, else as raw seconds.
pub fn show_time(t: i64) -> String {
    use chrono::Datelike;
    match DateTime::from_timestamp(t, 0) {
        Some(d) if (0..=9999).contains(&d.year()) => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        _ => format!("{t} (Unix seconds)"),
    }
}

/// A money amount: finite, not negative, at most [`MAX_AMOUNT`].
pub fn check_amount(v: f64) -> Result<f64, Implausible> {
    if !v.is_finite() {
        return Err(Implausible(format!("{v} is not a finite number")));
    }
    if v < 0.0 {
        return Err(Implausible(format!("{v} is negative")));
    }
    if v > MAX_AMOUNT {
        return Err(Implausible(format!(
            "{v} is over the largest amount accepted, {MAX_AMOUNT:e}"
        )));
    }
    Ok(v)
}

/// A points movement: at most [`MAX_POINTS_DELTA`] either way.
pub fn check_points(delta: i64) -> Result<i64, Implausible> {
    if delta.checked_abs().is_none_or(|a| a > MAX_POINTS_DELTA) {
        return Err(Implausible(format!(
            "{delta} is beyond ±{MAX_POINTS_DELTA} points in one movement"
        )));
    }
    Ok(delta)
}

/// The one text form of a time that flags and requests take: RFC 3339 (`2024-05-01T08:30:00Z`,
/// `+08:00`), a date-time without a zone (`2024-05-01T08:30:00`, `2024-05-01 08:30`, taken as
/// UTC), or a date (`2024-05-01`, midnight UTC). Fractions of a second are dropped.
pub fn parse_time(s: &str) -> Option<i64> {
    super::import::timefmt::parse_iso(s.trim(), super::import::timefmt::utc())
}

/// What the accepted text forms are, for messages.
pub const TIME_FORMS: &str =
    "Unix seconds, RFC 3339 (2024-05-01T08:30:00Z), a date-time (2024-05-01T08:30:00, UTC) or a date (2024-05-01)";

/// A number as a whole number: JSON has one number type, so `5.0` is 5. `None` for a fraction,
/// or beyond ±9e15, where an f64 no longer holds every whole number.
pub fn whole(v: f64) -> Option<i64> {
    (v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
}

/// Serde: a time given as Unix seconds (an integer) or as text in any form [`parse_time`] takes.
/// The window is checked by the caller, which knows the field's name.
pub fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        // JSON has one number type: 1735646400.0 is the same whole number of seconds.
        Float(f64),
        Text(String),
    }
    match Raw::deserialize(d) {
        Ok(Raw::Int(t)) => Ok(t),
        Ok(Raw::Float(t)) => whole(t).ok_or_else(|| {
            serde::de::Error::custom(format!("{t} is not a whole number of seconds"))
        }),
        // A query string carries every value as text: whole seconds there are seconds too.
        Ok(Raw::Text(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| parse_time(&s))
            .ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not a time ({TIME_FORMS})"))),
        Err(_) => Err(serde::de::Error::custom(format!(
            "expected a time: {TIME_FORMS}"
        ))),
    }
}

/// [`de_time`] for an optional field.
pub fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "de_time")] i64);
    Option::<Wrap>::deserialize(d).map(|o| o.map(|Wrap(t)| t))
}

/// Longest id or key (member, device, coupon, …) accepted, in characters.
pub const MAX_ID_CHARS: usize = 256;

/// Why an id or key cannot be taken — empty, longer than `max` characters, or holding characters
/// that are not printable (control characters, or the replacement character a lossy decoding
/// leaves) — or `None`. The one text check of events, candidates and list values.
pub fn text_problem(v: &str, max: usize) -> Option<String> {
    if v.is_empty() {
        Some("is empty".into())
    } else if v.chars().count() > max {
        Some(format!("is longer than {max} characters"))
    } else if v.chars().any(|c| c.is_control() || c == '\u{FFFD}') {
        Some("holds characters that are not printable".into())
    } else {
        None
    }
}

/// serde: a whole number, given as an integer or as a number with no fraction (JSON has one
/// number type: `5.0` is 5).
pub fn de_whole_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::Deserialize;
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    n.as_f64()
        .and_then(whole)
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number in range")))
}

/// [`de_whole_i64`] into a `u8`.
pub fn de_whole_u8<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let v = de_whole_i64(d)?;
    u8::try_from(v).map_err(|_| serde::de::Error::custom(format!("{v} is out of range (0 to 255)")))
}

/// [`de_whole_u8`] for an optional field.
pub fn de_opt_whole_u8<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "de_whole_u8")] u8);
    Option::<Wrap>::deserialize(d).map(|o| o.map(|Wrap(v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_refuses_the_extremes_and_keeps_the_plausible() {
        let w = TimeWindow::live();
        for t in [i64::MAX, i64::MIN, -1, 0, -62_167_219_200, 253_402_300_800] {
            assert!(w.check(t).is_err(), "{t} must be refused");
        }
        // 2024-05-01T00:00:00Z
        assert_eq!(w.check(1_714_521_600), Ok(1_714_521_600));
        assert!(w.check(now() + 2 * 86_400).is_err());
        let msg = w.check(0).err().map(|e| e.0).unwrap_or_default();
        assert!(msg.contains("1970-01-01T00:00:00Z"), "{msg}");
        assert!(msg.contains("2000-01-01T00:00:00Z"), "{msg}");
        let msg = w.check(i64::MAX).err().map(|e| e.0).unwrap_or_default();
        assert!(msg.contains("9223372036854775807"), "{msg}");
    }

    #[test]
    fn amounts_and_points_are_bounded() {
        assert!(check_amount(1e308).is_err());
        assert!(check_amount(f64::NAN).is_err());
        assert!(check_amount(-0.5).is_err());
        assert_eq!(check_amount(59.9), Ok(59.9));
        assert!(check_points(i64::MAX).is_err());
        assert!(check_points(i64::MIN).is_err());
        assert_eq!(check_points(-300), Ok(-300));
    }

    #[test]
    fn one_parser_takes_every_form() {
        let t = 1_735_646_400; // 2024-12-31T12:00:00Z
        for s in [
            "2024-12-31T12:00:00Z",
            "2024-12-31T12:00:00",
            "2024-12-31 12:00:00",
            "2024-12-31T20:00:00+08:00",
            "2024-12-31T12:00",
        ] {
            assert_eq!(parse_time(s), Some(t), "{s}");
        }
        assert_eq!(parse_time("2024-12-31"), Some(t - 12 * 3600));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn request_times_are_seconds_or_text() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "de_time")]
            at: i64,
            #[serde(default, deserialize_with = "de_opt_time")]
            opt: Option<i64>,
        }
        let a: T = serde_json::from_str(r#"{"at": 1735646400}"#).unwrap_or_else(|e| panic!("{e}"));
        let b: T = serde_json::from_str(r#"{"at": "2024-12-31T12:00:00Z", "opt": "2024-12-31"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a.at, a.opt), (1_735_646_400, None));
        assert_eq!((b.at, b.opt), (1_735_646_400, Some(1_735_603_200)));
        let bad = serde_json::from_str::<T>(r#"{"at": "soon"}"#)
            .err()
            .map(|e| e.to_string());
        assert!(bad.is_some_and(|m| m.contains("'soon' is not a time")));
    }
}
