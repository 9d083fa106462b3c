//! `state`: the scorer's durable online state.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

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
    /// Fold the tenant's log after its latest snapshot into a new snapshot at the log's last
    /// position (`<state>/<tenant>/snapshots/<position>/`), which a new or restarted scorer loads
    /// before folding only the tail; keep the newest --keep, and with --prune drop the log's
    /// event bodies behind the oldest one kept. With the embedded store, run it with the scorer
    /// stopped; with a shared store (--store), any time.
    Snapshot(SnapshotArgs),
}

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// State folder; snapshots go to `<state>/<tenant>/snapshots/`.
    #[arg(long)]
    pub state: PathBuf,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// The tenant's shared store (`postgres://…`); default: the embedded store in --state.
    #[arg(long, env = "WOOLGUARD_STORE")]
    pub store: Option<String>,
    /// The history the tenant's scorer starts from (`data = …`) when no snapshot was taken yet;
    /// default: the one `state init` wrote.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Snapshots to keep (older folders are removed).
    #[arg(long, default_value_t = 2)]
    pub keep: usize,
    /// Drop the log's event bodies behind the oldest snapshot kept (their ids stay).
    #[arg(long)]
    pub prune: bool,
    /// The tenant's member model: with it (and --signup-model), the snapshot's start image is
    /// written too (every member scored, the sign-up state swept), so that a scorer starting
    /// from the snapshot with these models and rules reads it instead of computing it.
    #[arg(long, requires = "signup_model")]
    pub model: Option<PathBuf>,
    #[arg(long, requires = "model")]
    pub signup_model: Option<PathBuf>,
    /// The tenant's rules file, where its store holds no rules (as `serve` takes them).
    #[arg(long, requires = "model")]
    pub rules: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
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
                    "tenant {}: snapshot {} ({}; fingerprint {}), event store {}",
                    done.tenant,
                    done.history.display(),
                    rows(r),
                    done.fingerprint,
                    done.events.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Snapshot(a) => snapshot(a),
        StateCommand::Export(a) => {
            let done = export_state(&a.state, &a.tenant, a.data.as_deref(), &a.out, a.replace)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                let (r, f) = (&done.rows, &done.folded);
                println!(
                    "tenant {}: {} stored events ({} reviews, {} holds) folded into {}: {} applied, {} already there, {} skipped, {} waiting for a sign-up (not written); {}; fingerprint {}",
                    done.tenant,
                    done.events,
                    done.reviews,
                    done.holds,
                    done.out.display(),
                    f.applied,
                    f.already_there,
                    f.skipped,
                    f.waiting,
                    rows(r),
                    done.fingerprint
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn snapshot(a: SnapshotArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    use woolguard::state::store::{EventStore, PgStore, RedbStore};
    let dir = woolguard::state::dir::StateDir::of(&a.state, &a.tenant);
    let store: Box<dyn EventStore> = match &a.store {
        Some(url) => Box::new(
            PgStore::connect(url, &a.tenant).with_context(|| format!("tenant {}", a.tenant))?,
        ),
        None => {
            if !dir.events.is_file() {
                anyhow::bail!(
                    "tenant '{}' has no event store under {}: run `woolguard state init`, or give --store",
                    a.tenant,
                    a.state.display()
                );
            }
            Box::new(RedbStore::open(&dir.events).with_context(|| {
                format!(
                    "{} (stop the tenant's scorer first: it holds the store while serving)",
                    dir.events.display()
                )
            })?)
        }
    };
    let history = a.data.clone().unwrap_or_else(|| dir.history.clone());
    let root = a.state.join(&a.tenant).join("snapshots");
    let mut done = woolguard::state::snapshots::take(
        store.as_ref(),
        &a.tenant,
        &history,
        &root,
        a.keep,
        a.prune,
    )?;
    if let (Some(model), Some(signup)) = (&a.model, &a.signup_model) {
        // The rules a scorer of the tenant starts with: its store's, else its file's.
        let rules = match (store.stored_rules()?, &a.rules) {
            (Some(stored), _) => stored,
            (None, Some(path)) => crate::cli::policy::load_rules(path)?,
            (None, None) => Default::default(),
        };
        let folder = &done.snapshot.path;
        let quiet = |_: &str, _: std::time::Instant| {};
        let (_, _, used) =
            woolguard::state::image::start(folder, (model, signup), rules.into(), true, &quiet)
                .with_context(|| format!("start image of {}", folder.display()))?;
        if used == woolguard::state::image::ImageUse::None {
            anyhow::bail!(
                "start image of {}: not written (see the log)",
                folder.display()
            );
        }
        done.start_image = Some(folder.join(woolguard::state::image::FILE));
        done.seconds = started.elapsed().as_secs_f64();
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &done)?;
        writeln!(out)?;
    } else {
        let r = &done.rows;
        writeln!(
            out,
            "tenant {}: snapshot at log position {} in {} ({} events folded now, {} waiting for a sign-up; {}; fingerprint {}); {} kept, {} removed, {} event bodies pruned; {:.1} s",
            done.tenant,
            done.snapshot.position,
            done.snapshot.path.display(),
            done.events,
            done.waiting,
            rows(r),
            done.fingerprint,
            done.kept.len(),
            done.removed.len(),
            done.pruned,
            done.seconds
        )?;
        if let Some(file) = &done.start_image {
            writeln!(out, "start image: {}", file.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Rows written per table, in words.
fn rows(r: &woolguard::data::write::RowCounts) -> String {
    format!(
        "{} members, {} coupon, {} order, {} points, {} label rows",
        r.members, r.coupons, r.orders, r.points, r.labels
    )
}
