//! Logs and errors on stderr, stdout being the commands' output: one `tracing` subscriber for
//! every subcommand (the server's request and reload lines included), readable text on a
//! terminal or one JSON object a line, filtered `RUST_LOG`-style (default `info`); and the one
//! way a failure is written, each cause once.
//!
//! It must be set up before any subcommand runs, and never prints a command's results.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Readable lines: time, level, message, fields.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `fields` (with `message`), `target`.
    Json,
}

static JSON: AtomicBool = AtomicBool::new(false);

/// True when logs are JSON lines (progress bars then stay hidden, errors become events).
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Installs the global subscriber. `RUST_LOG` picks what is shown (an invalid directive is
/// ignored with a note from the filter); without it, `info` and above.
pub fn init(format: Format) {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    // A second initialisation (never in the binary) leaves the first in place.
    let _ = match format {
        Format::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        Format::Json => {
            JSON.store(true, Ordering::Relaxed);
            builder.json().try_init()
        }
    };
}

/// An error and its causes, each message once: a cause whose text its parent already holds
/// (`cannot read model m: No such file…` then `No such file…`) is not repeated, and a cause that
/// starts with what its parent ends with (`reading d` then `d: not a folder`) goes on from there.
pub fn describe(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let Some(prev) = parts.last() else {
            parts.push(text);
            continue;
        };
        if text.is_empty() || prev.contains(&text) {
            continue;
        }
        let rest = text[overlap(prev, &text)..].to_string();
        parts.push(rest);
    }
    parts.join(": ")
}

/// Where `next` goes on after a head that `prev` already ends with: the byte just past the
/// longest such head that `next` follows with `: ` (0 when there is none).
fn overlap(prev: &str, next: &str) -> usize {
    next.match_indices(": ")
        .map(|(i, _)| i)
        .filter(|&i| {
            let head = &next[..i];
            prev.strip_suffix(head)
                .is_some_and(|before| before.is_empty() || before.ends_with(' '))
        })
        .last()
        .map_or(0, |i| i + 2)
}

/// Writes a failure on stderr: `error: …` as text, an `ERROR` event when logs are JSON.
pub fn error(err: &anyhow::Error) {
    let message = describe(err);
    if json() {
        tracing::error!("{message}");
    } else {
        eprintln!("error: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file (os error 2)");
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read model m: {source}")]
        struct Read {
            source: std::io::Error,
        }
        let err = anyhow::Error::new(Read { source: io }).context("scoring");
        assert_eq!(
            describe(&err),
            "scoring: cannot read model m: No such file (os error 2)"
        );
        let err = anyhow::anyhow!("/d/h: not a folder").context("reading /d/h");
        assert_eq!(describe(&err), "reading /d/h: not a folder");
        // A head that is only part of the last word is not an overlap.
        let err = anyhow::anyhow!("h: gone").context("reading /d/h");
        assert_eq!(describe(&err), "reading /d/h: h: gone");
    }
}
