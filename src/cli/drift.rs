//! `drift`: how far a history's members have moved from a model's training population, by the
//! population stability index per feature and for the score, overall and by channel and campaign.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use woolguard::model::artefact::Artefact;
use woolguard::model::drift::{self, Drift};

use super::time::{self, flag_time};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model whose training population is the reference.
    #[arg(long)]
    pub model: PathBuf,
    /// History folder (the data contract) of the members to compare.
    #[arg(long)]
    pub data: PathBuf,
    /// Only members who joined at or after this time: 2024-12-31T12:00:00Z (RFC 3339),
    /// 2024-12-31T12:00:00 (UTC) or 2024-12-31 (00:00 UTC). Default: every member.
    #[arg(long, value_parser = flag_time)]
    pub since: Option<i64>,
    /// A feature (or the score) is flagged above this PSI.
    #[arg(long, default_value_t = 0.25, value_parser = threshold)]
    pub threshold: f64,
    /// Features listed in the text output (every feature is in --json).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[arg(long)]
    pub json: bool,
}

fn threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let a = Artefact::load(&args.model)?;
    let h = woolguard::data::load(&args.data)?;
    let d = drift::of_history(&a, &h, args.since, args.threshold)?;
    if args.json {
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&d)?
        )?;
    } else {
        print(
            &mut std::io::stdout().lock(),
            &d,
            &a.version,
            args.since,
            args.top,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print(
    out: &mut impl Write,
    d: &Drift,
    version: &str,
    since: Option<i64>,
    top: usize,
) -> std::io::Result<()> {
    let since = since.map_or(String::new(), |t| {
        format!(", joined since {}", time::show(t))
    });
    writeln!(
        out,
        "{} members{since} against {version}'s {} training rows (PSI > {} flagged)",
        d.rows, d.training_rows, d.threshold
    )?;
    let mark = |f: bool| if f { "  MOVED" } else { "" };
    writeln!(
        out,
        "score: PSI {:.3} ({}){}",
        d.score.psi,
        d.score.how,
        mark(d.score.flagged)
    )?;
    if d.flagged.is_empty() {
        writeln!(out, "nothing moved past the threshold")?;
    } else {
        writeln!(out, "moved: {}", d.flagged.join(", "))?;
    }
    writeln!(
        out,
        "{:<28} {:>7}  most moved bin (training → now)",
        "feature", "PSI"
    )?;
    for m in d.features.iter().take(top) {
        writeln!(
            out,
            "{:<28} {:>7.3}  {}{}",
            m.name,
            m.psi,
            m.how,
            mark(m.flagged)
        )?;
    }
    for s in &d.slices {
        if s.flagged.is_empty() && s.score_psi <= d.threshold {
            continue;
        }
        let names: Vec<String> = s
            .flagged
            .iter()
            .take(5)
            .map(|m| format!("{} {:.2}", m.name, m.psi))
            .collect();
        writeln!(
            out,
            "{} {} ({} members{}): score PSI {:.3}; moved: {}",
            s.by,
            s.name,
            s.rows,
            if s.own_reference {
                ", against its own training rows"
            } else {
                ", against all training rows"
            },
            s.score_psi,
            match s.flagged.len() {
                0 => "-".to_string(),
                n if n > 5 => format!("{} and {} more", names.join(", "), n - 5),
                _ => names.join(", "),
            }
        )?;
    }
    Ok(())
}
