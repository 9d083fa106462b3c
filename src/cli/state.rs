//! `state`: the scorer's durable online state.

use std::path::PathBuf;
use std::process::ExitCode;

use woolguard::state::dir::init_state;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Bootstrap a tenant's online state from a history folder: a checked snapshot of the
    /// history and an empty event store, which `woolguard serve --state` starts from.
    Init(InitArgs),
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// History folder (the data contract) to start from.
    #[arg(long)]
    pub data: PathBuf,
    /// State folder; the tenant's state goes to `<state>/<tenant>/`.
    #[arg(long)]
    pub state: PathBuf,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Start over a tenant whose state already exists (its stored events are dropped).
    #[arg(long)]
    pub replace: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        StateCommand::Init(a) => {
            let done = init_state(&a.data, &a.state, &a.tenant, a.replace)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                let r = &done.rows;
                println!(
                    "tenant {}: snapshot {} ({} members, {} coupon, {} order, {} points, {} label rows; fingerprint {}), event store {}",
                    done.tenant,
                    done.history.display(),
                    r.members,
                    r.coupons,
                    r.orders,
                    r.points,
                    r.labels,
                    done.fingerprint,
                    done.events.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
