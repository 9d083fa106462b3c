//! `validate` and `stats`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::data::summary::{self, Stats, Validation};

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

pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let report = summary::validate(&args.dir, args.max_per_kind)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_validation(&report);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_validation(r: &Validation) {
    println!("history: {}", r.dir.display());
    for t in &r.tables {
        if t.files.is_empty() {
            println!("  {:<8} absent", t.table.name());
        } else {
            println!(
                "  {:<8} {:>10} rows read, {:>10} accepted, {} file(s)",
                t.table.name(),
                t.rows,
                t.accepted,
                t.files.len()
            );
        }
    }
    if let Some((a, b)) = &r.time_span {
        println!("  time span {a} .. {b}");
    }
    if r.ok {
        println!("ok: no problems");
        return;
    }
    println!("{} problem(s):", r.problems_total);
    for (kind, n) in &r.problem_counts {
        println!("  {kind:<16} {n}");
    }
    for p in &r.problems {
        println!("  - {p}");
    }
    let listed = r.problems.len() as u64;
    if listed < r.problems_total {
        println!("  ... and {} more", r.problems_total - listed);
    }
}

pub fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let history = woolguard::data::load(&args.dir)
        .with_context(|| format!("reading {}", args.dir.display()))?;
    let s = summary::stats(&history);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print_stats(&s);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stats(s: &Stats) {
    println!(
        "members {}  coupons {}  orders {}  points {}  labels {} ({} wool)",
        s.members, s.coupons, s.orders, s.points, s.labels, s.labelled_wool
    );
    if let Some((a, b)) = &s.time_span {
        println!("time span {a} .. {b}");
    }
    println!(
        "sales {:.2} (refunds excluded), {} refunded orders, {} orders with a coupon",
        s.sales, s.refunded_orders, s.orders_with_coupon
    );
    println!(
        "members with a device id {}, with an inviter {}",
        s.members_with_device, s.members_with_inviter
    );
    println!("channels:");
    for c in &s.channels {
        println!("  {:<16} {:>9} {:>6.1}%", c.name, c.members, 100.0 * c.share);
    }
    println!("campaigns:");
    for c in s.campaigns.iter().take(20) {
        println!("  {:<24} {:>9} {:>6.1}%", c.name, c.members, 100.0 * c.share);
    }
    if s.campaigns.len() > 20 {
        println!("  ... {} campaigns in all", s.campaigns.len());
    }
    println!("coupon events: {:?}", s.coupon_events);
    println!("coupon kinds: {:?}", s.coupon_kinds);
}
