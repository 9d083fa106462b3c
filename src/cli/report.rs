//! `report`: one self-contained HTML page of member value as of a date — headline numbers and
//! flags, tiers, channels over time, RFM grid, Pareto curve, the four tracks — and, with a model,
//! its ROC, precision–recall and reliability curves.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::members::diagnose;
use woolguard::report::{self, Inputs};

use super::data::MemberInputs;
use super::policy::PolicyArgs;
use super::progress::spinner;
use super::segment::ValueRules;
use super::time;

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("model", |a| a.help(
        "A model artefact to measure on the members as of the date (ROC, PR, reliability)"
    )),
    mut_arg("as_of", |a| a.help(time::as_of_help("The moment of the report"))),
)]
pub struct Args {
    #[command(flatten)]
    pub inputs: MemberInputs,
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
    let (model, history, as_of) = args.inputs.load()?;
    let policy = args.policy.load()?;
    let truth = match &model {
        Some(_) => super::model::truth_of(&args.inputs.data, &history)?,
        None => None,
    };
    let inputs = Inputs {
        history: &history,
        source: args.inputs.data.display().to_string(),
        tiers: &tiers,
        rfm: &rules,
        diagnose: &diagnose,
        as_of,
        model: model.as_ref(),
        truth: truth.as_deref(),
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
