//! Subcommands for analysts. Each wraps its own argument struct and calls one library function;
//! nothing here computes what the library should.

mod data;
mod generate;
mod import;
pub mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// woolguard: find the wool party (accounts that join only to farm benefits) in a membership
/// programme, and protect the members who bring the sales.
#[derive(Debug, Parser)]
#[command(name = "woolguard", version, about, long_about = None)]
pub struct Cli {
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
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Import(args) => import::run(args),
        Command::Validate(args) => data::validate(args),
        Command::Stats(args) => data::stats(args),
    }
}
