//! Reading a history folder (DESIGN.md §3) into the typed form, checking every cell on the way.
//!
//! Each table is one entry of the folder: `<table>.parquet`, `<table>.csv`, or a folder of part
//! files (`discover`). Files are read as a stream of record batches (`stream`), each batch's
//! cells checked (`cells`: they parse, and they make sense — times inside a plausible window,
//! amounts and points within bounds) and its good rows appended to the history (`sink`). Every
//! bad entry, file, cell or row becomes a `Problem` naming file, column and row; nothing is
//! skipped silently and nothing absent goes unsaid: a load with any problem fails, `validate`
//! reports them all, and the optional tables a folder lacks are listed.

mod cells;
mod discover;
mod sink;
mod stream;

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use serde::Serialize;

use super::error::{DataError, Location, ProblemKind, Problems};
use super::history::{History, Interner, Sym, NONE};
use super::plausible::TimeWindow;
use super::schema::Table;
pub use cells::parse_time;
use cells::Cells;
pub use discover::{absent_reason, absent_tables, entries};
use discover::{DataFile, Format};
use sink::TableSink;

/// Rows per record batch.
pub const BATCH_ROWS: usize = 64 * 1024;

/// How a history folder is read: what counts as a plausible time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Times outside it are `implausible_time` problems.
    pub window: TimeWindow,
}

impl Default for ReadOptions {
    /// History files: 1990-01-01 .. now + 1 day.
    fn default() -> Self {
        ReadOptions {
            window: TimeWindow::files(),
        }
    }
}

/// What was found for one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: Table,
    /// The file or folder holding the table; `None` when it is absent.
    pub entry: Option<PathBuf>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// Rows read from the files, good or bad.
    pub rows: u64,
    /// Rows that passed every check and are in the typed form.
    pub accepted: u64,
}

/// Everything reading a folder found: per-table counts and the problems.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub history: History,
    pub tables: Vec<TableReport>,
    pub problems: Problems,
}

impl ReadOutcome {
    /// The optional tables the folder holds no entry for (read as empty).
    pub fn absent_tables(&self) -> Vec<Table> {
        self.tables
            .iter()
            .filter(|t| t.entry.is_none() && !t.table.required())
            .map(|t| t.table)
            .collect()
    }
}

/// Loads a history folder strictly: any problem is an error naming the first one and the total.
pub fn load(dir: &Path) -> Result<History, DataError> {
    load_with(dir, &ReadOptions::default())
}

/// [`load`] with other options (another plausible window).
pub fn load_with(dir: &Path, options: &ReadOptions) -> Result<History, DataError> {
    let outcome = read_dir_with(dir, 20, options)?;
    outcome.problems.into_result(dir)?;
    Ok(outcome.history)
}

/// Reads a history folder, collecting problems (at most `cap` kept per kind, all counted).
/// Fails outright only when `dir` itself is not a folder.
pub fn read_dir(dir: &Path, cap: usize) -> Result<ReadOutcome, DataError> {
    read_dir_with(dir, cap, &ReadOptions::default())
}

/// [`read_dir`] with other options (another plausible window).
pub fn read_dir_with(
    dir: &Path,
    cap: usize,
    options: &ReadOptions,
) -> Result<ReadOutcome, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        });
    }
    let mut problems = Problems::with_cap(cap);
    let mut history = History::default();
    let mut tables = Vec::new();
    let read = |table, history: &mut History, problems: &mut Problems| {
        read_table(dir, table, options, history, problems)
    };
    // Members first: every event table resolves its member ids against them.
    tables.push(read(Table::Members, &mut history, &mut problems));
    // Orders, the costliest table (a new id per row), are read on a second thread into their own
    // shell history while coupons and then points are read here; problems are kept per table and
    // merged in table order afterwards. The keys and coupon ids orders name are interned in the
    // shell and re-interned here once coupons are done, in the shell's order of first sighting,
    // so every symbol is the one a reading in table order would give.
    let mut shell = History::default();
    shell.members.ids = history.members.ids.clone();
    let mut order_problems = Problems::with_cap(cap);
    let mut point_problems = Problems::with_cap(cap);
    let (coupons, points, orders) = std::thread::scope(|scope| {
        let orders = scope.spawn(|| read(Table::Orders, &mut shell, &mut order_problems));
        let coupons = read(Table::Coupons, &mut history, &mut problems);
        let points = read(Table::Points, &mut history, &mut point_problems);
        (coupons, points, orders.join())
    });
    tables.push(coupons);
    tables.push(orders.map_err(|_| DataError::Contract {
        table: Table::Orders,
        message: "the orders reader stopped unexpectedly".into(),
    })?);
    tables.push(points);
    adopt_orders(&mut history, shell);
    problems.merge(order_problems);
    problems.merge(point_problems);
    tables.push(read(Table::Labels, &mut history, &mut problems));
    Ok(ReadOutcome {
        history,
        tables,
        problems,
    })
}

/// Moves the orders read into `shell` into `history`, re-interning the keys and coupon ids they
/// name in the shell's symbol order (its order of first sighting).
fn adopt_orders(history: &mut History, shell: History) {
    let mut orders = shell.orders;
    let remap = |from: &Interner, to: &mut Interner| -> Vec<Sym> {
        (0..from.len() as Sym)
            .map(|s| to.intern(from.name(s)))
            .collect()
    };
    let coupons = remap(&shell.coupons.ids, &mut history.coupons.ids);
    let keys = remap(&shell.keys, &mut history.keys);
    let look = |map: &[Sym], s: &mut Sym| *s = map.get(*s as usize).copied().unwrap_or(NONE);
    orders.coupon.iter_mut().for_each(|s| look(&coupons, s));
    orders.channel.iter_mut().for_each(|s| look(&keys, s));
    history.orders = orders;
}

/// Reads every file of one table into `history`, recording problems.
fn read_table(
    dir: &Path,
    table: Table,
    options: &ReadOptions,
    history: &mut History,
    problems: &mut Problems,
) -> TableReport {
    let found = discover::table_files(dir, table, problems);
    let mut report = TableReport {
        table,
        entry: found.entry.clone(),
        files: found.files.iter().map(|f| f.path.clone()).collect(),
        rows: 0,
        accepted: 0,
    };
    let before = problems.total();
    let mut sink = TableSink::new(table, history);
    sink.reserve(found.files.iter().filter_map(stream::parquet_rows).sum());
    for file in &found.files {
        read_file(file, table, options, &mut sink, &mut report, problems);
    }
    report.accepted = sink.accepted;
    // A required table that reads cleanly but holds no row (a header line, an empty Parquet
    // file, a folder of empty parts) would make every event an unknown member, or nothing at all.
    if let Some(entry) = &found.entry {
        let clean = problems.total() == before;
        if table.required() && !found.files.is_empty() && clean && report.rows == 0 {
            problems.push(
                ProblemKind::EmptyTable,
                Location::file(entry),
                format!("the {table} table is required and holds no row"),
            );
        }
    }
    report
}

/// Streams one file's batches into `sink`; any failure becomes a problem of that file.
fn read_file(
    file: &DataFile,
    table: Table,
    options: &ReadOptions,
    sink: &mut TableSink<'_>,
    report: &mut TableReport,
    problems: &mut Problems,
) {
    let path = file.path.as_path();
    let mut on_batch = |batch: &RecordBatch, first_row: u64, problems: &mut Problems| {
        report.rows += batch.num_rows() as u64;
        match Cells::new(path, table, options.window, batch, first_row, problems) {
            Some(cells) => sink.push(&cells, problems),
            None => false,
        }
    };
    match file.format {
        Format::Parquet => stream::read_parquet(path, table, &mut on_batch, problems),
        Format::Csv => stream::read_csv(path, table, &mut on_batch, problems),
    }
}
