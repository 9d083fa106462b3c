//! The synthetic history generator behind `woolguard generate`: a membership programme over 18
//! months with genuine members of several kinds and wool accounts of several kinds, written as
//! the five contract tables plus `truth.parquet`.
//!
//! It exists so that every other part (features, models, scoring, diagnostics) can be built and
//! tested on realistic data, including the hard cases: genuine members who share keys or love
//! coupons, wool gangs that buy a little and hide behind busy benign keys. `--difficulty` moves
//! that overlap (see `knobs`).
//!
//! Shape of a run: the population is planned sequentially from the seed (`plan`), then member
//! histories are simulated in parallel in fixed chunks, each with its own RNG stream, and written
//! in chunk order (`behave`), so the output is a function of (seed, members, difficulty) alone,
//! whatever the number of threads. Memory holds the plan and a few chunks of rows, never the
//! whole history.
//!
//! The generator never reads anything, and truth.parquet is for evaluation only: nothing that
//! trains or scores may read it.

mod behave;
mod calendar;
mod dist;
mod keys;
mod knobs;
mod plan;
mod scenario;
mod spell;
mod truth;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::write::{DatasetWriter, RowCounts};
use crate::data::{DataError, Table};
use behave::{Rows, World};
pub use calendar::{END, START};
pub use keys::MemberKind;
pub use knobs::Knobs;
pub use scenario::Scenario;
use truth::TruthWriter;
pub use truth::{read_truth, Truth, TruthRow, TRUTH_FILE};

/// Members simulated per chunk: each chunk has its own RNG stream, so this constant (not the
/// thread count) fixes the output.
const CHUNK: usize = 2_048;
/// Chunks generated in parallel while the previous window is written.
const WINDOW: usize = 8;
/// Member ids have eight digits.
pub const MAX_MEMBERS: u64 = 50_000_000;

/// What to generate, unchecked (from the command line or a config file).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub members: u64,
    pub seed: u64,
    /// 0.0 easy … 1.0 hard.
    pub difficulty: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            members: 200_000,
            seed: 7,
            difficulty: 0.5,
        }
    }
}

impl Params {
    pub fn check(self) -> Result<Config, GenerateError> {
        if self.members == 0 || self.members > MAX_MEMBERS {
            return Err(GenerateError::Members(self.members));
        }
        if !(0.0..=1.0).contains(&self.difficulty) {
            return Err(GenerateError::Difficulty(self.difficulty));
        }
        Ok(Config {
            members: self.members as usize,
            seed: self.seed,
            difficulty: self.difficulty,
            scenario: Scenario::None,
        })
    }
}

/// Checked parameters (`Params::check`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    members: usize,
    seed: u64,
    difficulty: f64,
    scenario: Scenario,
}

impl Config {
    /// The same run with a planted pattern (`Scenario::None` by default).
    pub fn with_scenario(self, scenario: Scenario) -> Config {
        Config { scenario, ..self }
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    pub fn members(&self) -> usize {
        self.members
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }

    pub fn knobs(&self) -> Knobs {
        Knobs::new(self.difficulty)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the number of members must be between 1 and {MAX_MEMBERS}, got {0}")]
    Members(u64),
    #[error("the difficulty must be between 0.0 and 1.0, got {0}")]
    Difficulty(f64),
    #[error("{} would be read together with the generated {table} table; remove it or generate into another folder", path.display())]
    Conflict { path: PathBuf, table: Table },
    #[error(transparent)]
    Data(#[from] DataError),
}

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub out: PathBuf,
    pub rows: RowCounts,
    /// Rows of truth.parquet (one per member).
    pub truth: u64,
    pub wool: u64,
    /// Members of each kind, in `MemberKind::ALL` order.
    pub kinds: Vec<(String, u64)>,
}

impl Summary {
    pub fn wool_share(&self) -> f64 {
        self.wool as f64 / self.truth.max(1) as f64
    }
}

/// Generates a history into `out` (created if needed; the generated files are overwritten).
/// `progress` is called with the number of members written so far.
pub fn generate(
    config: &Config,
    out: &Path,
    progress: &dyn Fn(u64),
) -> Result<Summary, GenerateError> {
    refuse_conflicts(out)?;
    let knobs = config.knobs();
    let population = plan::plan_with(config.seed, config.members, &knobs, config.scenario);
    let mut kinds = vec![0u64; MemberKind::ALL.len()];
    for m in &population.members {
        if let Some(i) = MemberKind::ALL.iter().position(|k| *k == m.kind) {
            kinds[i] += 1;
        }
    }
    let world = World {
        population: &population,
        knobs,
        seed: config.seed,
        scenario: config.scenario,
    };
    let speller = keys::Speller::new(config.seed);
    let mut writer = DatasetWriter::create(out)?;
    let mut truth = TruthWriter::create(out)?;
    let n = population.members.len();
    let chunks = n.div_ceil(CHUNK);
    let mut pending: Vec<Rows> = Vec::new();
    let mut written = 0u64;
    for first in (0..chunks).step_by(WINDOW) {
        let window = first..(first + WINDOW).min(chunks);
        let batch = std::mem::take(&mut pending);
        // Write the previous window while the next one is simulated.
        let (done, next) = rayon::join(
            || write_rows(&mut writer, &mut truth, &population, &speller, &batch),
            || {
                window
                    .into_par_iter()
                    .map(|c| world.rows(c as u64, c * CHUNK..((c + 1) * CHUNK).min(n)))
                    .collect::<Vec<Rows>>()
            },
        );
        written += done?;
        progress(written);
        pending = next;
    }
    written += write_rows(&mut writer, &mut truth, &population, &speller, &pending)?;
    progress(written);
    let rows = writer.finish()?;
    let truth_rows = truth.finish()?;
    let wool = population
        .members
        .iter()
        .filter(|m| m.kind.is_wool())
        .count() as u64;
    Ok(Summary {
        out: out.to_path_buf(),
        rows,
        truth: truth_rows,
        wool,
        kinds: MemberKind::ALL
            .iter()
            .zip(kinds)
            .map(|(k, n)| (k.name().to_string(), n))
            .collect(),
    })
}

/// A stale `<table>.csv` or `<table>/` beside the generated `<table>.parquet` would be read
/// with it and break the history; better to stop before writing anything.
fn refuse_conflicts(out: &Path) -> Result<(), GenerateError> {
    for table in Table::ALL {
        for path in [
            out.join(format!("{}.csv", table.name())),
            out.join(table.name()),
        ] {
            if path.exists() {
                return Err(GenerateError::Conflict { path, table });
            }
        }
    }
    Ok(())
}

/// Writes chunks in order, each table on its own (the tables are independent files, so their
/// encoding runs in parallel); returns the members written.
fn write_rows(
    writer: &mut DatasetWriter,
    truth: &mut TruthWriter,
    population: &plan::Population,
    speller: &keys::Speller,
    chunks: &[Rows],
) -> Result<u64, DataError> {
    let DatasetWriter {
        members,
        coupons,
        orders,
        points,
        labels,
    } = writer;
    let each = |f: &mut dyn FnMut(&Rows) -> Result<(), DataError>| chunks.iter().try_for_each(f);
    let ((a, b), (c, d)) = rayon::join(
        || {
            rayon::join(
                || {
                    each(&mut |r| {
                        spell::members(members, truth, population, speller, r.members.clone())?;
                        spell::labels(labels, &r.labels)
                    })
                },
                || each(&mut |r| spell::coupons(coupons, &r.coupons)),
            )
        },
        || {
            rayon::join(
                || each(&mut |r| spell::orders(orders, &r.orders)),
                || each(&mut |r| spell::points(points, &r.points)),
            )
        },
    );
    a.and(b).and(c).and(d)?;
    Ok(chunks.iter().map(|r| r.members.len() as u64).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        let ok = Params::default().check();
        assert!(ok.is_ok());
        let bad = Params {
            members: 0,
            ..Params::default()
        }
        .check();
        assert!(matches!(bad, Err(GenerateError::Members(0))));
        let bad = Params {
            difficulty: 1.5,
            ..Params::default()
        }
        .check();
        assert!(matches!(bad, Err(GenerateError::Difficulty(_))));
        let bad = Params {
            difficulty: f64::NAN,
            ..Params::default()
        }
        .check();
        assert!(matches!(bad, Err(GenerateError::Difficulty(_))));
    }

    #[test]
    fn summary_and_errors_are_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Summary>();
        assert_send_sync::<GenerateError>();
        assert_send_sync::<Truth>();
    }
}
