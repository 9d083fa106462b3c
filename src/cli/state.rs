//! `state`: the scorer's durable online state.

use std::path::PathBuf;
use std::process::ExitCode;

use woolguard::state::dir::init_state;
use woolguard::state::export::export_state;

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
    /// Write a tenant's history with every acknowledged event folded in (sign-ups, coupons,
    /// orders, points, and review outcomes as labels) as a contract folder that `train` reads.
    /// Run it with the tenant's scorer stopped (it holds the store's lock while serving).
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// State folder (as given to `state init` and `serve`).
    #[arg(long)]
    pub state: PathBuf,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// The history folder the tenant's scorer starts from, where its configuration gives one
    /// (`data = …`); else the snapshot `state init` wrote is used.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder to write the history to.
    #[arg(long)]
    pub out: PathBuf,
    /// Write over a folder that already holds files.
    #[arg(long)]
    pub replace: bool,
    #[arg(long)]
    pub json: bool,
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
        StateCommand::Export(a) => {
            let done = export_state(&a.state, &a.tenant, a.data.as_deref(), &a.out, a.replace)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                let (r, f) = (&done.rows, &done.folded);
                println!(
                    "tenant {}: {} stored events ({} reviews, {} holds) folded into {}: {} applied, {} already there, {} skipped, {} waiting for a sign-up (not written); {} members, {} coupon, {} order, {} points, {} label rows; fingerprint {}",
                    done.tenant,
                    done.events,
                    done.reviews,
                    done.holds,
                    done.out.display(),
                    f.applied,
                    f.already_there,
                    f.skipped,
                    f.waiting,
                    r.members,
                    r.coupons,
                    r.orders,
                    r.points,
                    r.labels,
                    done.fingerprint
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
