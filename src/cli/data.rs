//! `validate` and `stats`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use woolguard::data::plausible::{self, TimeWindow};
use woolguard::data::read::{absent_reason, absent_tables};
use woolguard::data::summary::{self, Stats, Validation};
use woolguard::data::{History, ReadOptions, Table};
use woolguard::model::artefact::Artefact;
use woolguard::model::slot;

use super::progress::spinner;
use super::time::{self, flag_time};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// History folder: members, coupons, orders, points, labels as .parquet / .csv files or folders.
    pub dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Problems listed per kind (all are counted).
    #[arg(long, default_value_t = 10)]
    pub max_per_kind: usize,
    #[command(flatten)]
    pub window: WindowArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// History folder.
    pub dir: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// The window of plausible times: a time in a file outside it is an `implausible_time` problem.
#[derive(Debug, clap::Args)]
pub struct WindowArgs {
    /// Earliest plausible time in the files [default: 1990-01-01]: a date, a date-time (UTC) or
    /// RFC 3339.
    #[arg(long, value_parser = window_end)]
    pub earliest: Option<i64>,
    /// Latest plausible time in the files [default: now + 1 day]: a date, a date-time (UTC) or
    /// RFC 3339.
    #[arg(long, value_parser = window_end)]
    pub latest: Option<i64>,
}

impl WindowArgs {
    /// The read options these flags ask for, the defaults where a flag is not given.
    pub fn options(&self) -> anyhow::Result<ReadOptions> {
        let files = TimeWindow::files();
        let window = TimeWindow {
            earliest: self.earliest.unwrap_or(files.earliest),
            latest: self.latest.unwrap_or(files.latest),
        };
        anyhow::ensure!(
            window.earliest <= window.latest,
            "--earliest {} is after --latest {}",
            plausible::show_time(window.earliest),
            plausible::show_time(window.latest)
        );
        Ok(ReadOptions { window })
    }
}

/// Clap value parser of `--earliest` and `--latest` (any year chrono can write; the window they
/// make is the check, so they are not checked against the default one).
fn window_end(s: &str) -> Result<i64, String> {
    plausible::parse_time(s)
        .ok_or_else(|| format!("'{s}' is not a time: expected {}", plausible::TIME_FORMS))
}

/// What the member-value commands that may apply a model read (diagnose, audience, report): the
/// history, a member-time model and the moment. Each command words `--model` and `--as-of` for
/// itself (`mut_arg` on its own args).
#[derive(Debug, clap::Args)]
pub struct MemberInputs {
    /// History folder.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, value_parser = flag_time)]
    pub as_of: Option<i64>,
}

impl MemberInputs {
    /// The model (only a member-time one fits: these commands score members), then the history
    /// and the moment: the flag, else just after the history's last event.
    pub fn load(&self) -> anyhow::Result<(Option<Artefact>, History, i64)> {
        // The artefact's error names the path and the cause.
        let model = self
            .model
            .as_deref()
            .map(|p| slot::load_for(p, slot::MEMBER))
            .transpose()?;
        let history = load_history(&self.data)?;
        let as_of = time::as_of(self.as_of, &history);
        Ok((model, history, as_of))
    }
}

/// Reads a history folder, with a spinner on a terminal.
pub fn load_history(dir: &Path) -> anyhow::Result<History> {
    load_history_with(dir, &ReadOptions::default())
}

fn load_history_with(dir: &Path, options: &ReadOptions) -> anyhow::Result<History> {
    let s = spinner(&format!("reading {}", dir.display()));
    let h = woolguard::data::load_with(dir, options)
        .with_context(|| format!("reading {}", dir.display()));
    s.finish_and_clear();
    h
}

/// One line a table: `points: absent (no points.parquet, points.csv or points/ folder)`.
fn write_absent(out: &mut impl Write, tables: &[Table]) -> std::io::Result<()> {
    for t in tables {
        writeln!(out, "{t}: absent ({}), read as empty", absent_reason(*t))?;
    }
    Ok(())
}

/// Says on stderr which optional tables `dir` lacks (read as empty), for commands whose stdout
/// is their result.
#[cfg_attr(not(feature = "gbm"), allow(dead_code))] // only `train` says it so
pub fn say_absent(dir: &Path) -> anyhow::Result<()> {
    for table in absent_tables(dir) {
        tracing::warn!(
            table = table.name(),
            reason = %absent_reason(table),
            "optional table absent: read as empty"
        );
    }
    Ok(())
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let options = args.window.options()?;
    let report = summary::validate_with(&args.dir, args.max_per_kind, &options)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_validation(&mut out, &report)?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_validation(out: &mut impl Write, r: &Validation) -> std::io::Result<()> {
    writeln!(out, "history: {}", r.dir.display())?;
    for t in &r.tables {
        if t.entry.is_none() {
            let why = absent_reason(t.table);
            writeln!(out, "  {:<8} absent ({why}), read as empty", t.table.name())?;
        } else {
            writeln!(
                out,
                "  {:<8} {:>10} rows read, {:>10} accepted, {} file(s)",
                t.table.name(),
                t.rows,
                t.accepted,
                t.files.len()
            )?;
        }
    }
    if let Some((a, b)) = &r.time_span {
        writeln!(out, "  time span {a} .. {b}")?;
    }
    if r.ok {
        writeln!(out, "ok: no problems")?;
        return Ok(());
    }
    writeln!(out, "{} problem(s):", r.problems_total)?;
    for (kind, n) in &r.problem_counts {
        writeln!(out, "  {kind:<16} {n}")?;
    }
    for p in &r.problems {
        writeln!(out, "  - {p}")?;
    }
    let listed = r.problems.len() as u64;
    if listed < r.problems_total {
        writeln!(out, "  ... and {} more", r.problems_total - listed)?;
    }
    Ok(())
}

pub fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let options = args.window.options()?;
    let history = load_history_with(&args.dir, &options)?;
    let s = summary::stats_in(&args.dir, &history);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
    } else {
        print_stats(&mut out, &s)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stats(out: &mut impl Write, s: &Stats) -> std::io::Result<()> {
    writeln!(
        out,
        "members {}  coupons {}  orders {}  points {}  labels {} ({} wool)",
        s.members, s.coupons, s.orders, s.points, s.labels, s.labelled_wool
    )?;
    write_absent(out, &s.absent_tables)?;
    if let Some((a, b)) = &s.time_span {
        writeln!(out, "time span {a} .. {b}")?;
    }
    writeln!(
        out,
        "sales {:.2} (refunds excluded), {} refunded orders, {} orders with a coupon",
        s.sales, s.refunded_orders, s.orders_with_coupon
    )?;
    writeln!(
        out,
        "members with a device id {}, with an inviter {}",
        s.members_with_device, s.members_with_inviter
    )?;
    writeln!(out, "channels:")?;
    for c in &s.channels {
        writeln!(
            out,
            "  {:<16} {:>9} {:>6.1}%",
            c.name,
            c.members,
            100.0 * c.share
        )?;
    }
    writeln!(out, "campaigns:")?;
    for c in s.campaigns.iter().take(20) {
        writeln!(
            out,
            "  {:<24} {:>9} {:>6.1}%",
            c.name,
            c.members,
            100.0 * c.share
        )?;
    }
    if s.campaigns.len() > 20 {
        writeln!(out, "  ... {} campaigns in all", s.campaigns.len())?;
    }
    writeln!(out, "coupon events: {}", counts(&s.coupon_events))?;
    writeln!(out, "coupon kinds: {}", counts(&s.coupon_kinds))?;
    Ok(())
}

/// `claim 12, redeem 3`, or `none`.
fn counts(c: &std::collections::BTreeMap<String, u64>) -> String {
    if c.is_empty() {
        return "none".into();
    }
    let parts: Vec<String> = c.iter().map(|(k, n)| format!("{k} {n}")).collect();
    parts.join(", ")
}
