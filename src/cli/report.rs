//! `report`: one self-contained HTML page of member value as of a date — headline numbers and
//! flags, tiers, channels over time, RFM grid, Pareto curve, the four tracks — and, with a model,
//! its ROC, precision–recall and reliability curves.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::members::diagnose;
use woolguard::model::slot;
use woolguard::report::{self, Inputs};

use super::data::load_history;
use super::policy::PolicyArgs;
use super::progress::spinner;
use super::segment::ValueRules;
use super::time::{self, flag_time};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// History folder.
    #[arg(long)]
    pub data: PathBuf,
    /// A model artefact to measure on the members as of the date (ROC, PR, reliability).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The moment of the report: 2024-12-31T12:00:00Z (RFC 3339), 2024-12-31T12:00:00 (UTC) or
    /// 2024-12-31 (00:00 UTC); only history strictly before it is read. Default: just after the
    /// history's last event.
    #[arg(long, value_parser = flag_time)]
    pub as_of: Option<i64>,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Diagnostic rules and flag thresholds (e.g. training/diagnose.toml), as for `diagnose`;
    /// built-in defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub rules: ValueRules,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let diagnose = diagnose::load(args.config.as_deref())?;
    let (tiers, rules) = args.rules.load()?;
    let model = args
        .model
        .as_deref()
        .map(|p| slot::load_for(p, slot::MEMBER))
        .transpose()?;
    let history = load_history(&args.data)?;
    let as_of = time::as_of(args.as_of, &history);
    let policy = args.policy.load()?;
    let inputs = Inputs {
        history: &history,
        source: args.data.display().to_string(),
        tiers: &tiers,
        rfm: &rules,
        diagnose: &diagnose,
        as_of,
        model: model.as_ref(),
        judge: policy.judge(),
    };
    let s = spinner("building the report");
    let written = report::write(&inputs, &args.out);
    s.finish_and_clear();
    let bytes = written.with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "report as of {} ({} KiB) → {}",
        report::page::date_time(as_of),
        bytes.div_ceil(1024),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
