//! `validate` and `stats`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::data::summary::{self, Stats, Validation};
use woolguard::data::History;

use super::progress::spinner;

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
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// History folder.
    pub dir: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reads a history folder, with a spinner on a terminal.
pub fn load_history(dir: &std::path::Path) -> anyhow::Result<History> {
    let s = spinner(&format!("reading {}", dir.display()));
    let h = woolguard::data::load(dir).with_context(|| format!("reading {}", dir.display()));
    s.finish_and_clear();
    h
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let report = summary::validate(&args.dir, args.max_per_kind)?;
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
        if t.files.is_empty() {
            writeln!(out, "  {:<8} absent", t.table.name())?;
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
    let history = load_history(&args.dir)?;
    let s = summary::stats(&history);
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
    writeln!(out, "coupon events: {:?}", s.coupon_events)?;
    writeln!(out, "coupon kinds: {:?}", s.coupon_kinds)?;
    Ok(())
}
