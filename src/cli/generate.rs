//! `generate`: a realistic synthetic history (the five contract tables and truth.parquet).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::data::schema::Table;
use woolguard::generate::{self, Params, Scenario, TRUTH_FILE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Members to generate (wool accounts included).
    #[arg(long, default_value_t = 200_000)]
    pub members: u64,
    /// Seed: the same seed and arguments give the same files.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// How hard the wool party is to tell apart, 0.0 (easy) … 1.0 (hard).
    #[arg(long, default_value_t = 0.5)]
    pub difficulty: f64,
    /// A planted pattern for testing diagnostics: `silver-trap` (a middle tier filled by a
    /// points promotion with members who then stop buying, and a wool wave on one channel in the
    /// latest months). Without it the output is the ordinary programme, unchanged.
    #[arg(long, value_parser = parse_scenario, default_value = "none")]
    pub scenario: Scenario,
    /// Output folder; its generated files are overwritten.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_scenario(s: &str) -> Result<Scenario, String> {
    Scenario::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Scenario::ALL.iter().map(|x| x.name()).collect();
        format!("'{s}' is not a scenario: one of {}", names.join(", "))
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Params {
        members: args.members,
        seed: args.seed,
        difficulty: args.difficulty,
    }
    .check()?
    .with_scenario(args.scenario);
    let bar = super::progress::bar(args.members, "members");
    let started = std::time::Instant::now();
    let summary = generate::generate(&config, &args.out, &|n| bar.set_position(n))
        .with_context(|| format!("generating into {}", args.out.display()))?;
    bar.finish_and_clear();
    let file = |name: &str| args.out.join(name).display().to_string();
    let rows = [
        (Table::Members, summary.rows.members),
        (Table::Coupons, summary.rows.coupons),
        (Table::Orders, summary.rows.orders),
        (Table::Points, summary.rows.points),
        (Table::Labels, summary.rows.labels),
    ];
    for (table, n) in rows {
        println!(
            "{:<8} {:>11} rows  {}",
            table.name(),
            n,
            file(&format!("{}.parquet", table.name()))
        );
    }
    println!(
        "{:<8} {:>11} rows  {}  ({} wool, {:.1}%)",
        "truth",
        summary.truth,
        file(TRUTH_FILE),
        summary.wool,
        100.0 * summary.wool_share()
    );
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        members = config.members(),
        seed = config.seed(),
        difficulty = config.difficulty(),
        seconds,
        out = %args.out.display(),
        "generated {} members in {seconds:.1}s",
        config.members()
    );
    Ok(ExitCode::SUCCESS)
}
