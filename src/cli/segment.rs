//! `segment`: every member's tier, RFM segment and behavioural cluster as of a date, written to
//! a file, with the segment, tier and cluster sizes and the 20/80 figure printed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::members::segment::{self, Group, Summary};
use woolguard::members::{rfm, tier};

use super::data::load_history;
use super::time::{self, flag_time};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// History folder.
    #[arg(long)]
    pub data: PathBuf,
    /// The moment to segment at: 2024-12-31T12:00:00Z (RFC 3339), 2024-12-31T12:00:00 (UTC)
    /// or 2024-12-31 (00:00 UTC). Only history strictly before it is read; only members who
    /// joined before it are segmented.
    #[arg(long, value_parser = flag_time)]
    pub as_of: i64,
    /// Output file: `.csv` writes CSV, anything else Parquet.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub rules: ValueRules,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The tier and RFM rules of the member-value commands (segment, diagnose, audience, report).
#[derive(Debug, clap::Args)]
pub struct ValueRules {
    /// Tier rules (e.g. training/tiers.toml); the built-in defaults when absent.
    #[arg(long)]
    pub tiers: Option<PathBuf>,
    /// RFM segment grid (e.g. training/rfm.toml); the built-in defaults when absent.
    #[arg(long)]
    pub rfm: Option<PathBuf>,
}

impl ValueRules {
    pub fn load(&self) -> anyhow::Result<(tier::TierRules, rfm::RfmRules)> {
        Ok((
            tier::load(self.tiers.as_deref())?,
            rfm::load(self.rfm.as_deref())?,
        ))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (tiers, rules) = args.rules.load()?;
    let history = load_history(&args.data)?;
    let moment = time::as_of(Some(args.as_of), &history);
    let started = std::time::Instant::now();
    let s = segment::segment(&history, &tiers, &rules, moment);
    let seconds = started.elapsed().as_secs_f64();
    segment::write(&history, &s, &tiers, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let summary = segment::summarise(&s, &tiers);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        print_summary(&mut out, &summary, &args.out)?;
        writeln!(out, "tiers + RFM + clusters: {seconds:.2} s")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_groups(out: &mut impl Write, title: &str, groups: &[Group]) -> std::io::Result<()> {
    writeln!(
        out,
        "{title:<20} {:>9} {:>7} {:>14} {:>11}",
        "members", "share", "sales", "sales_share"
    )?;
    for g in groups {
        writeln!(out, "  {:<18}{}", g.name, figures(g))?;
    }
    Ok(())
}

/// A group's members, share, sales and sales share, under the headings of [`print_groups`].
fn figures(g: &Group) -> String {
    format!(
        " {:>9} {:>6.1}% {:>14.2} {:>10.1}%",
        g.members,
        100.0 * g.share,
        g.sales,
        100.0 * g.sales_share
    )
}

fn print_summary(out: &mut impl Write, s: &Summary, file: &std::path::Path) -> std::io::Result<()> {
    writeln!(
        out,
        "as of {}: {} members joined before, {} with orders; written to {}",
        s.as_of,
        s.members,
        s.members_with_orders,
        file.display()
    )?;
    print_groups(out, "segment", &s.segments)?;
    print_groups(out, "tier", &s.tiers)?;
    writeln!(
        out,
        "clusters (k = {}, {}):",
        s.clustering.k, s.clustering.criterion
    )?;
    for c in &s.clusters {
        let g = &c.group;
        writeln!(out, "  {:>2} {:<44}{}", c.id, g.name, figures(g))?;
    }
    let p = &s.pareto;
    match p.top_sales_share {
        Some(share) => writeln!(
            out,
            "pareto: the top 20% of members by monetary ({}) bring {:.1}% of sales ({:.2} of {:.2})",
            p.top_members,
            100.0 * share,
            p.top_sales,
            p.sales
        ),
        None => writeln!(out, "pareto: no sales before the as-of moment"),
    }
}
