//! The one reading of a time given on the command line, shared by every `--as-of`: the forms
//! [`parse_time`] takes (RFC 3339, a date-time without a zone, a date), refused outside the window
//! a history file may hold, and a warning when it falls outside the history actually read.
//!
//! It never decides a default moment; the commands do (just after the history's last event).

use woolguard::data::plausible::{parse_time, TimeWindow};
use woolguard::data::History;
use woolguard::model::score::end_of;

/// What the flags accept, for help texts and messages.
pub const FORMS: &str =
    "2024-12-31T12:00:00Z (RFC 3339, any zone), 2024-12-31T12:00:00 (UTC) or 2024-12-31 (00:00 UTC)";

/// The help of an optional `--as-of`: what the moment is for, the forms it takes and the default.
pub fn as_of_help(moment: &str) -> String {
    format!(
        "{moment}: 2024-12-31T12:00:00Z (RFC 3339), 2024-12-31T12:00:00 (UTC) or 2024-12-31 \
         (00:00 UTC); only history strictly before it is read. Default: just after the history's \
         last event"
    )
}

/// Clap value parser of every time flag. Clap names the flag in its message and exits 2.
pub fn flag_time(s: &str) -> Result<i64, String> {
    let t = parse_time(s).ok_or_else(|| format!("'{s}' is not a time: expected {FORMS}"))?;
    TimeWindow::files().check(t).map_err(|e| e.to_string())
}

/// A time as a reader writes it: the date alone at midnight UTC, else RFC 3339.
pub fn show(t: i64) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) if d.timestamp() % 86_400 == 0 => d.format("%Y-%m-%d").to_string(),
        Some(d) => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => format!("{t} (Unix seconds)"),
    }
}

/// A day past the last event is still the history's end (an export taken at midnight, the
/// generator's `END`): a moment later than that is warned about.
const END_SLACK_SECS: i64 = 86_400;

/// The moment a command works at: the flag when given (with a warning, once, when it lies
/// outside the history), else just after the history's last event.
pub fn as_of(flag: Option<i64>, h: &History) -> i64 {
    let Some(t) = flag else {
        return end_of(h);
    };
    if let Some((first, last)) = h.time_span() {
        if t <= first {
            tracing::warn!(
                as_of = %show(t),
                first_event = %show(first),
                "--as-of {} is before the history's first event {}; no member had joined by then",
                show(t),
                show(first)
            );
        } else if t > last.saturating_add(END_SLACK_SECS) {
            tracing::warn!(
                as_of = %show(t),
                last_event = %show(last),
                "--as-of {} is after the history's last event {}; nothing since then is known",
                show(t),
                show(last)
            );
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_the_same_moment_and_the_implausible_is_refused() {
        // 2024-12-31T12:00:00Z
        for s in [
            "2024-12-31T12:00:00Z",
            "2024-12-31T12:00:00",
            "2024-12-31T20:00:00+08:00",
        ] {
            assert_eq!(flag_time(s), Ok(1_735_646_400), "{s}");
        }
        assert_eq!(flag_time("2024-12-31"), Ok(1_735_603_200));
        for s in ["0001-01-01", "9999-12-31", "1989-12-31T23:59:59Z"] {
            let e = flag_time(s).err().unwrap_or_default();
            assert!(e.contains("outside the plausible window"), "{s}: {e}");
        }
        let e = flag_time("yesterday").err().unwrap_or_default();
        assert!(e.contains("'yesterday' is not a time"), "{e}");
        assert_eq!(show(1_735_603_200), "2024-12-31");
        assert_eq!(show(1_735_646_400), "2024-12-31T12:00:00Z");
    }
}
