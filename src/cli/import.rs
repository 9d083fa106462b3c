//! `import`: a real export → the data contract, driven by a TOML column mapping, then checked by
//! the same validation `woolguard validate` runs.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::ProgressBar;
use woolguard::data::import::{self, ImportError, ImportOptions, ImportReport, Progress};
use woolguard::data::summary;

use super::progress;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML column mapping (see data/mappings/*.toml; the format is described at their top).
    #[arg(long)]
    pub mapping: PathBuf,
    /// Output history folder: members, coupons, orders, points, labels as .parquet.
    #[arg(long)]
    pub out: PathBuf,
    /// Export folder, replacing the mapping's `source`.
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Replace the tables of a history already in --out.
    #[arg(long)]
    pub force: bool,
    /// Skip validating the written history.
    #[arg(long)]
    pub no_validate: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bar: RefCell<Option<ProgressBar>> = RefCell::new(None);
    let on_progress = |p: Progress<'_>| match p {
        Progress::Start { source, bytes, .. } => {
            *bar.borrow_mut() = Some(progress::bar(bytes, source));
        }
        Progress::Advance { bytes } => {
            if let Some(b) = bar.borrow().as_ref() {
                b.set_position(bytes);
            }
        }
        Progress::Finish => {
            if let Some(b) = bar.borrow_mut().take() {
                b.finish_and_clear();
            }
        }
    };
    let options = ImportOptions {
        source: args.source.as_deref(),
        force: args.force,
        progress: Some(&on_progress),
    };
    let report = match import::import(&args.mapping, &args.out, &options) {
        Ok(r) => r,
        // The user's mapping or export is at fault: exit 1 with the located message, as
        // `validate` does for a bad history. A mapping that cannot be read at all, like anything
        // else, means the command could not run (exit 2 from main).
        Err(e) if e.is_input_problem() && !matches!(e, ImportError::ReadMapping { .. }) => {
            if let Some(b) = bar.borrow_mut().take() {
                b.finish_and_clear();
            }
            super::log::error(&e.into());
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let validation = if args.no_validate {
        None
    } else {
        Some(summary::validate(&args.out, 10)?)
    };
    if args.json {
        let body = serde_json::json!({ "import": report, "validation": validation });
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print_report(&report);
        if let Some(v) = &validation {
            if v.ok {
                println!("ok: no problems (validated as `woolguard validate` does)");
            } else {
                println!("{} problem(s) in the written history:", v.problems_total);
                for p in &v.problems {
                    println!("  - {p}");
                }
            }
        }
    }
    Ok(match validation {
        Some(v) if !v.ok => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

fn print_report(r: &ImportReport) {
    println!("imported into {}", r.out.display());
    let rows = &r.rows;
    for (name, n) in [
        ("members", rows.members),
        ("coupons", rows.coupons),
        ("orders", rows.orders),
        ("points", rows.points),
        ("labels", rows.labels),
    ] {
        println!("  {name:<8} {n:>10} rows");
    }
    println!("feeds:");
    for f in &r.feeds {
        let filtered = if f.rows_filtered_out > 0 {
            format!(", {} left out by `where`", f.rows_filtered_out)
        } else {
            String::new()
        };
        println!(
            "  {:<12} {:>10} rows read from {} → {} {} row(s){filtered}",
            f.feed,
            f.rows_read,
            f.file.display(),
            f.rows_out,
            f.table
        );
    }
}
