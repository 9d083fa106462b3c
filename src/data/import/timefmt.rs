//! Time formats of import mappings: how the text of a source cell becomes UTC seconds.
//!
//! A format is checked once, when the mapping is checked (a bad pattern, or one that cannot give
//! a full date, is a mapping error naming the key), and then applied to every cell without
//! re-parsing the pattern.

use std::fmt::Write as _;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone};

/// How a text cell is read as a time.
#[derive(Debug, Clone)]
pub enum TimeFormat {
    /// RFC 3339 with an offset, or an ISO date-time or date without one (local at `offset`).
    Iso { offset: FixedOffset },
    /// Whole or fractional seconds (divisor 1) or milliseconds (divisor 1000) since the epoch.
    Epoch { divisor: f64 },
    /// A chrono strftime pattern.
    Pattern {
        items: Vec<Item<'static>>,
        shape: Shape,
        offset: FixedOffset,
    },
}

/// What a pattern's fields can give, found once by a round trip of a sample time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Date only: midnight at the mapping's offset.
    Date,
    /// Date and time without an offset: local at the mapping's offset.
    DateTime,
    /// The text carries its own offset (or is a `%s` timestamp): the mapping's offset is unused.
    Zoned,
}

/// Parses an offset such as `+08:00`, `-05:00` or `Z`.
pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(utc());
    }
    t.parse::<FixedOffset>()
        .map_err(|_| format!("'{s}' is not a UTC offset (expected e.g. +08:00, -05:00 or Z)"))
}

pub fn utc() -> FixedOffset {
    chrono::Utc.fix()
}

impl TimeFormat {
    /// Checks `spec` (a strftime pattern, `iso`, `epoch` or `epoch_ms`); `offset` is where times
    /// without their own offset were recorded.
    pub fn new(spec: &str, offset: FixedOffset) -> Result<Self, String> {
        match spec {
            "iso" => return Ok(TimeFormat::Iso { offset }),
            "epoch" => return Ok(TimeFormat::Epoch { divisor: 1.0 }),
            "epoch_ms" => return Ok(TimeFormat::Epoch { divisor: 1000.0 }),
            _ => {}
        }
        let items = StrftimeItems::new(spec)
            .parse_to_owned()
            .map_err(|_| format!("'{spec}' is not a valid time format (chrono strftime syntax, e.g. %Y-%m-%d %H:%M:%S)"))?;
        // A round trip of a sample time tells what the pattern can give, and proves it can give
        // a full date: '%H:%M' alone would otherwise fail on every row instead of here.
        let sample = FixedOffset::east_opt(8 * 3600)
            .and_then(|o| o.with_ymd_and_hms(2017, 3, 14, 15, 9, 26).single())
            .ok_or_else(|| "internal: sample time".to_string())?;
        let mut text = String::new();
        write!(text, "{}", sample.format_with_items(items.iter()))
            .map_err(|_| format!("'{spec}' cannot be written out for a sample time"))?;
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, &text, items.iter())
            .map_err(|e| format!("'{spec}' cannot read back its own output '{text}': {e}"))?;
        let shape = if parsed.offset().is_some() || parsed.timestamp().is_some() {
            Shape::Zoned
        } else if parsed.to_naive_datetime_with_offset(0).is_ok() {
            Shape::DateTime
        } else if parsed.to_naive_date().is_ok() {
            Shape::Date
        } else {
            return Err(format!(
                "'{spec}' does not give a full date (it needs a year, a month and a day, or a day of the year)"
            ));
        };
        Ok(TimeFormat::Pattern {
            items,
            shape,
            offset,
        })
    }

    /// UTC seconds for `text`, or why it is not a time in this format.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let t = text.trim();
        match self {
            TimeFormat::Iso { offset } => parse_iso(t, *offset).ok_or_else(|| {
                format!("'{text}' is not a time (expected e.g. 2024-05-01T08:30:00Z, 2024-05-01 08:30:00 or 2024-05-01)")
            }),
            TimeFormat::Epoch { divisor } => match t.parse::<f64>() {
                Ok(v) if v.is_finite() && (v / divisor).abs() < 1.0e13 => {
                    Ok((v / divisor).floor() as i64)
                }
                _ => Err(format!("'{text}' is not a time in seconds since 1970")),
            },
            TimeFormat::Pattern {
                items,
                shape,
                offset,
            } => {
                let mut parsed = Parsed::new();
                let found = chrono::format::parse(&mut parsed, t, items.iter()).and_then(|()| {
                    match shape {
                        Shape::Zoned => {
                            if parsed.timestamp().is_some() {
                                parsed.to_naive_datetime_with_offset(0).map(|d| d.and_utc().timestamp())
                            } else {
                                parsed.to_datetime().map(|d| d.timestamp())
                            }
                        }
                        Shape::DateTime => parsed
                            .to_naive_datetime_with_offset(0)
                            .map(|d| local_to_utc(d, *offset)),
                        Shape::Date => parsed
                            .to_naive_date()
                            .map(|d| local_to_utc(midnight(d), *offset)),
                    }
                });
                found.map_err(|e| format!("'{text}' does not match the time format ({e})"))
            }
        }
    }
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(chrono::NaiveTime::MIN)
}

fn local_to_utc(t: NaiveDateTime, offset: FixedOffset) -> i64 {
    t.and_utc().timestamp() - i64::from(offset.local_minus_utc())
}

/// RFC 3339 with an offset, or an ISO date-time or date without one (taken at `offset`).
/// Fractions of a second are dropped. The contract reader uses it at UTC.
pub(crate) fn parse_iso(s: &str, offset: FixedOffset) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(local_to_utc(t, offset));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| local_to_utc(midnight(d), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(spec: &str) -> TimeFormat {
        TimeFormat::new(spec, utc()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn date_only_patterns_give_midnight_utc() {
        // 1997-01-01 is 9862 days after 1970-01-01.
        assert_eq!(fmt("%Y%m%d").parse("19970101"), Ok(9862 * 86_400));
        assert!(matches!(
            fmt("%Y%m%d"),
            TimeFormat::Pattern {
                shape: Shape::Date,
                ..
            }
        ));
        assert!(fmt("%Y%m%d").parse("1997-01-01").is_err());
        assert!(fmt("%Y%m%d").parse("19971301").is_err());
    }

    #[test]
    fn date_times_take_the_mapping_offset() {
        let beijing = parse_offset("+08:00").unwrap_or_else(|e| panic!("{e}"));
        let f = TimeFormat::new("%Y-%m-%d %H:%M:%S", beijing).unwrap_or_else(|e| panic!("{e}"));
        // 08:00 in Beijing is midnight UTC.
        assert_eq!(f.parse("1970-01-02 08:00:00"), Ok(86_400));
        assert_eq!(fmt("%d/%m/%Y %H:%M").parse("02/01/1970 00:01"), Ok(86_460));
    }

    #[test]
    fn zoned_and_epoch_forms() {
        assert_eq!(
            fmt("%Y-%m-%dT%H:%M:%S%:z").parse("1970-01-01T08:00:00+08:00"),
            Ok(0)
        );
        assert_eq!(fmt("epoch").parse("86400"), Ok(86_400));
        assert_eq!(fmt("epoch_ms").parse("86400999"), Ok(86_400));
        assert_eq!(fmt("iso").parse("1970-01-02"), Ok(86_400));
        assert!(fmt("iso").parse("yesterday").is_err());
    }

    #[test]
    fn patterns_that_cannot_give_a_date_are_refused() {
        assert!(TimeFormat::new("%H:%M", utc()).is_err());
        assert!(TimeFormat::new("%Y-%m", utc()).is_err());
        assert!(TimeFormat::new("%Y-%m-%d %Q", utc()).is_err());
        assert!(parse_offset("Beijing").is_err());
    }
}
