//! `compare --shadow-log`: a challenger's comparisons with the live model, as a scorer logged
//! them, summed up.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use woolguard::state::shadow::{read_log, summarize};

pub fn run(log: &Path, top: usize, json: bool) -> anyhow::Result<ExitCode> {
    let entries = read_log(log)?;
    let summaries = summarize(&entries, top);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summaries)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if summaries.is_empty() {
        writeln!(out, "{}: no comparisons yet", log.display())?;
    }
    for s in &summaries {
        writeln!(out,
            "{} slot: live {} against challenger {}: {} requests, decisions agree on {} ({:.1}%); the challenger's answer given for {}",
            s.slot,
            s.live_version,
            s.challenger_version,
            s.compared,
            s.agreed,
            100.0 * s.agreement,
            s.decided_by_challenger
        )?;
        writeln!(
            out,
            "  probability: challenger − live {:+.4} on average ({:.4} apart)",
            s.mean_shift, s.mean_abs_shift
        )?;
        for (t, n) in &s.transitions {
            writeln!(out, "  {t:<20} {n:>8}")?;
        }
        for d in &s.differences {
            writeln!(
                out,
                "  {}: {} {:.3} [{}] → {} {:.3} [{}]",
                d.member_id.as_deref().unwrap_or("(no member id)"),
                d.live,
                d.live_probability,
                d.live_reasons.join(", "),
                d.challenger,
                d.challenger_probability,
                d.challenger_reasons.join(", ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
