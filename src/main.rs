//! The `woolguard` command: parses arguments, runs the library, maps failures to exit codes
//! (0 done, 1 the input has problems, 2 the command could not run).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
