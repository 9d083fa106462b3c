//! Subcommands for analysts. Each wraps its own argument struct and calls one library function;
//! nothing here computes what the library should.

mod audience;
mod bench;
mod bench_replicas;
mod data;
mod diagnose;
mod drift;
mod gangs;
mod generate;
mod http;
mod import;
pub mod log;
mod model;
mod policy;
pub mod progress;
mod report;
mod rules;
mod segment;
mod serve;
mod shadow;
mod state;
mod time;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// woolguard: find the wool party (accounts that join only to farm benefits) in a membership
/// programme, and protect the members who bring the sales.
#[derive(Debug, Parser)]
#[command(name = "woolguard", version, about, long_about = None)]
pub struct Cli {
    /// How log lines on stderr are written: `text` (readable) or `json` (one object a line).
    /// What is logged follows `RUST_LOG` (default `info`).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "WOOLGUARD_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: log::Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a realistic synthetic history (members, coupons, orders, points, labels, truth).
    Generate(generate::Args),
    /// Turn a real export into the data contract, driven by a TOML column mapping.
    Import(import::Args),
    /// Check every table of a history folder and report each problem with its location.
    Validate(data::ValidateArgs),
    /// Summarise a history folder: row counts, time span, channel and campaign mix.
    Stats(data::StatsArgs),
    /// Every member's tier and RFM segment as of a date, with segment and tier sizes and the
    /// share of sales from the top 20% of members.
    Segment(segment::Args),
    /// Tiers, channels, campaigns and RFM segments side by side (wool share, first purchase,
    /// repurchase, order value, sales, coupon use, points exchange), the four tracks per period,
    /// and flags for a middle tier or a channel that looks wrong.
    Diagnose(diagnose::Args),
    /// A campaign audience: the members a selection keeps (tier, segment, cluster, channel,
    /// RFM, score), less those a model rejects or reviews, with what was removed and why.
    Audience(audience::Args),
    /// Gangs as of a moment: accounts tied by rare shared keys (and dense blocks peeled from busy
    /// ones), each with its keys, timeline, deeds, score, flag and reason; `--gang ID --svg FILE`
    /// draws one.
    Gangs(gangs::Args),
    /// Train the wool (or value) classifier: gradient-boosted trees beside a random forest and
    /// logistic regression, calibrated, thresholded by the policy; writes the model artefact.
    #[cfg(feature = "gbm")]
    Train(model::TrainArgs),
    /// Measure a model on a history: ROC-AUC, PR-AUC, lift, calibration, the thresholds, by
    /// channel and campaign (and against the truth of a generated history).
    Evaluate(model::EvaluateArgs),
    /// Score every member of a history: probability, quality 0–100, decision, top reasons.
    Score(model::ScoreArgs),
    /// Why one member scored what it did: each feature's value and effect.
    Explain(model::ExplainArgs),
    /// Two models side by side on the same recent members, with bootstrap intervals on the
    /// differences; or, with `--shadow-log`, the live model against a challenger on the
    /// scorer's real traffic.
    Compare(model::CompareArgs),
    /// How far a history's members have moved from a model's training population: the
    /// population stability index per feature and for the score, overall, by channel and by
    /// campaign, with the features that moved named.
    Drift(drift::Args),
    /// Make a model the current one (kept under models/releases, logged in promotions.jsonl).
    Promote(model::PromoteArgs),
    /// Make the previous release current again.
    Rollback(model::RollbackArgs),
    /// One self-contained HTML report: headline numbers and flags, tiers, channels over time,
    /// RFM grid, Pareto curve, the four tracks, and a model's ROC, PR and reliability curves.
    Report(report::Args),
    /// Rules beside the model: `rules check FILE` checks a rules file; `rules backtest` replays
    /// it on a history, point in time, against the labels and the model.
    Rules(rules::Args),
    /// The scorer's durable online state: `state init` bootstraps it from a history.
    State(state::Args),
    /// Serve the HTTP scorer: candidates at sign-up, members, audiences, lists, model swaps.
    Serve(serve::Args),
    /// Benchmarks: `bench replay` sends generated histories through the online sign-up state.
    Bench(bench::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Import(args) => import::run(args),
        Command::Validate(args) => data::validate(args),
        Command::Stats(args) => data::stats(args),
        Command::Segment(args) => segment::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Audience(args) => audience::run(args),
        Command::Gangs(args) => gangs::run(args),
        #[cfg(feature = "gbm")]
        Command::Train(args) => model::train(args),
        Command::Evaluate(args) => model::evaluate(args),
        Command::Score(args) => model::score(args),
        Command::Explain(args) => model::explain(args),
        Command::Compare(args) => model::compare(args),
        Command::Drift(args) => drift::run(args),
        Command::Promote(args) => model::promote(args),
        Command::Rollback(args) => model::rollback(args),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run_cli(args),
        Command::State(args) => state::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
