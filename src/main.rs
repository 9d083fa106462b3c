//! The `woolguard` command: parses arguments, sets up logging, runs the library, maps failures
//! to exit codes (0 done, 1 the input has problems, 2 the command could not run).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // Before any subcommand, `serve` included: every log line goes through this subscriber.
    cli::log::init(args.log_format);
    match cli::run(args) {
        Ok(code) => code,
        // A reader that stopped early (`woolguard stats d | head`) is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            cli::log::error(&err);
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
