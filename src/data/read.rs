//! Reading a history folder (DESIGN.md §3) into the typed form, checking every cell on the way.
//!
//! Each table is `<dir>/<table>.parquet`, `<dir>/<table>.csv`, or a folder `<dir>/<table>/` of such
//! files. Files are read as a stream of record batches (Parquet natively, CSV cut into batches of
//! text columns), so memory holds the typed result and one batch, never a whole file. Every bad
//! cell or row becomes a `Problem` naming file, column and row; nothing is skipped silently: a load
//! with any problem fails, and `validate` reports them all.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    StringBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use serde::Serialize;

use super::error::{DataError, Location, ProblemKind, Problems};
use super::history::{History, Interner, MemberIdx, Sym, NONE};
use super::schema::{Column, CouponEvent, CouponKind, Kind, PointsReason, Table, Vocabulary};

/// Rows per record batch.
pub const BATCH_ROWS: usize = 64 * 1024;

/// What was found for one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: Table,
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

/// Loads a history folder strictly: any problem is an error naming the first one and the total.
pub fn load(dir: &Path) -> Result<History, DataError> {
    let outcome = read_dir(dir, 20)?;
    outcome.problems.into_result(dir)?;
    Ok(outcome.history)
}

/// Reads a history folder, collecting problems (at most `cap` kept per kind, all counted).
/// Fails outright only when `dir` itself cannot be listed.
pub fn read_dir(dir: &Path, cap: usize) -> Result<ReadOutcome, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        });
    }
    let mut problems = Problems::with_cap(cap);
    let mut history = History::default();
    let mut tables = Vec::new();
    // Members first: every event table resolves its member ids against them.
    tables.push(read_table(
        dir,
        Table::Members,
        &mut history,
        &mut problems,
    )?);
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
        let orders =
            scope.spawn(|| read_table(dir, Table::Orders, &mut shell, &mut order_problems));
        let coupons = read_table(dir, Table::Coupons, &mut history, &mut problems);
        let points = read_table(dir, Table::Points, &mut history, &mut point_problems);
        (coupons, points, orders.join())
    });
    tables.push(coupons?);
    tables.push(orders.map_err(|_| DataError::Contract {
        table: Table::Orders,
        message: "the orders reader stopped unexpectedly".into(),
    })??);
    tables.push(points?);
    adopt_orders(&mut history, shell);
    problems.merge(order_problems);
    problems.merge(point_problems);
    tables.push(read_table(dir, Table::Labels, &mut history, &mut problems)?);
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
    history: &mut History,
    problems: &mut Problems,
) -> Result<TableReport, DataError> {
    let files = table_files(dir, table)?;
    if files.is_empty() && table.required() {
        problems.push(
            ProblemKind::MissingTable,
            Location::file(&dir.join(format!("{}.parquet", table.name()))),
            format!(
                "the {table} table is required: no {table}.parquet, {table}.csv or {table}/ folder"
            ),
        );
    }
    let mut report = TableReport {
        table,
        files: files.clone(),
        rows: 0,
        accepted: 0,
    };
    let mut sink = TableSink::new(table, history);
    sink.reserve(files.iter().filter_map(|f| parquet_rows(f)).sum());
    for file in &files {
        read_file(file, table, &mut sink, &mut report, problems);
    }
    report.accepted = sink.accepted;
    Ok(report)
}

/// Rows a Parquet file's footer announces; `None` for CSV or a footer that cannot be read (the
/// read itself reports that). Only a size hint: nothing is trusted from it.
fn parquet_rows(file: &Path) -> Option<usize> {
    if format_of(file) != Some(Format::Parquet) {
        return None;
    }
    let handle = File::open(file).ok()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(handle).ok()?;
    usize::try_from(builder.metadata().file_metadata().num_rows()).ok()
}

/// The files holding `table` in `dir`, in name order.
pub fn table_files(dir: &Path, table: Table) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    for ext in ["parquet", "csv"] {
        let f = dir.join(format!("{}.{ext}", table.name()));
        if f.is_file() {
            files.push(f);
        }
    }
    let sub = dir.join(table.name());
    if sub.is_dir() {
        let entries = fs::read_dir(&sub).map_err(|source| DataError::Io {
            path: sub.clone(),
            source,
        })?;
        let mut inner = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| DataError::Io {
                    path: sub.clone(),
                    source,
                })?
                .path();
            if format_of(&path).is_some() {
                inner.push(path);
            }
        }
        inner.sort();
        files.extend(inner);
    }
    Ok(files)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => Some(Format::Parquet),
        Some("csv") => Some(Format::Csv),
        _ => None,
    }
}

/// Streams one file's batches into `sink`; any failure becomes a problem of that file.
fn read_file(
    file: &Path,
    table: Table,
    sink: &mut TableSink<'_>,
    report: &mut TableReport,
    problems: &mut Problems,
) {
    let mut on_batch = |batch: &RecordBatch, first_row: u64, problems: &mut Problems| {
        report.rows += batch.num_rows() as u64;
        match Cells::new(file, table, batch, first_row, problems) {
            Some(cells) => sink.push(&cells, problems),
            None => false,
        }
    };
    match format_of(file) {
        Some(Format::Parquet) => read_parquet(file, table, &mut on_batch, problems),
        Some(Format::Csv) => read_csv(file, table, &mut on_batch, problems),
        None => problems.push(
            ProblemKind::Unreadable,
            Location::file(file),
            "neither .parquet nor .csv",
        ),
    }
}

/// Called with each batch and the 1-based row number of its first row; returns false to stop
/// reading the file (its columns are unusable).
type OnBatch<'a> = dyn FnMut(&RecordBatch, u64, &mut Problems) -> bool + 'a;

fn read_parquet(file: &Path, table: Table, on_batch: &mut OnBatch<'_>, problems: &mut Problems) {
    let unreadable = |problems: &mut Problems, row: Option<u64>, msg: String| {
        let location = match row {
            Some(r) => Location::row(file, r),
            None => Location::file(file),
        };
        problems.push(ProblemKind::Unreadable, location, msg);
    };
    let handle = match File::open(file) {
        Ok(h) => h,
        Err(e) => return unreadable(problems, None, e.to_string()),
    };
    let builder = match ParquetRecordBatchReaderBuilder::try_new(handle) {
        Ok(b) => b,
        Err(e) => return unreadable(problems, None, format!("not a readable Parquet file: {e}")),
    };
    let wanted: Vec<usize> = builder
        .parquet_schema()
        .root_schema()
        .get_fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| table.columns().iter().any(|c| c.name == f.name()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let reader = match builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
    {
        Ok(r) => r,
        Err(e) => return unreadable(problems, None, e.to_string()),
    };
    let mut next_row = 1u64;
    for batch in reader {
        match batch {
            Ok(batch) => {
                let n = batch.num_rows() as u64;
                if !on_batch(&batch, next_row, problems) {
                    return;
                }
                next_row += n;
            }
            Err(e) => {
                return unreadable(
                    problems,
                    Some(next_row),
                    format!("reading stopped at this row: {e}"),
                )
            }
        }
    }
}

fn read_csv(file: &Path, table: Table, on_batch: &mut OnBatch<'_>, problems: &mut Problems) {
    let mut reader = match csv::ReaderBuilder::new().has_headers(true).from_path(file) {
        Ok(r) => r,
        Err(e) => {
            return problems.push(ProblemKind::Unreadable, Location::file(file), e.to_string())
        }
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return problems.push(
                ProblemKind::Unreadable,
                Location::file(file),
                format!("cannot read the header line: {e}"),
            )
        }
    };
    // Only the contract's columns are kept; unknown ones are ignored.
    let picked: Vec<(usize, &'static str)> = table
        .columns()
        .iter()
        .filter_map(|c| {
            headers
                .iter()
                .position(|h| h.trim() == c.name)
                .map(|i| (i, c.name))
        })
        .collect();
    let schema = Arc::new(Schema::new(
        picked
            .iter()
            .map(|(_, name)| Field::new(*name, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let mut builders: Vec<StringBuilder> = picked.iter().map(|_| StringBuilder::new()).collect();
    let mut buffered = 0usize;
    let mut first_row = 1u64;
    let mut row = 0u64;
    let mut record = csv::StringRecord::new();
    let mut flush = |builders: &mut Vec<StringBuilder>,
                     buffered: &mut usize,
                     first_row: &mut u64,
                     problems: &mut Problems|
     -> bool {
        let arrays: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let n = *buffered as u64;
        let keep_going = match RecordBatch::try_new(schema.clone(), arrays) {
            Ok(batch) => on_batch(&batch, *first_row, problems),
            Err(e) => {
                problems.push(ProblemKind::Unreadable, Location::file(file), e.to_string());
                false
            }
        };
        *first_row += n;
        *buffered = 0;
        keep_going
    };
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                row += 1;
                for (b, (i, _)) in builders.iter_mut().zip(&picked) {
                    match record.get(*i) {
                        Some(v) if !v.is_empty() => b.append_value(v),
                        _ => b.append_null(),
                    }
                }
                buffered += 1;
                if buffered >= BATCH_ROWS
                    && !flush(&mut builders, &mut buffered, &mut first_row, problems)
                {
                    return;
                }
            }
            Err(e) => {
                row += 1;
                let fatal = !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. });
                let detail = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!(
                        "has {len} field(s), the header has {expected_len} (a truncated or broken line)"
                    ),
                    _ => e.to_string(),
                };
                problems.push(ProblemKind::MalformedRow, Location::row(file, row), detail);
                // The rejected row keeps its number: later rows are reported where they are.
                if buffered > 0 && !flush(&mut builders, &mut buffered, &mut first_row, problems) {
                    return;
                }
                first_row = row + 1;
                if fatal {
                    return;
                }
            }
        }
    }
    if buffered > 0 {
        flush(&mut builders, &mut buffered, &mut first_row, problems);
    }
}

/// A contract column of one batch, in a form the row getters can read whatever the physical type.
enum ColView {
    Absent,
    Text(StringArray),
    Float(Float64Array),
    Int(Int64Array),
    Bool(BooleanArray),
    /// Raw integer times with the factor that turns them into seconds.
    Epoch(Int64Array, i64),
    Days(Int64Array),
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
    )
}

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

fn view(array: &ArrayRef, kind: Kind) -> Result<ColView, String> {
    let t = array.data_type();
    let to = |target: &DataType| cast(array, target).map_err(|e| e.to_string());
    let text = |a: ArrayRef| a.as_string::<i32>().clone();
    let ints = |a: ArrayRef| a.as_primitive::<arrow::datatypes::Int64Type>().clone();
    Ok(match (kind, t) {
        (Kind::Text, t) if is_text(t) || is_integer(t) => ColView::Text(text(to(&DataType::Utf8)?)),
        (Kind::Money, DataType::Float64) => ColView::Float(
            array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .clone(),
        ),
        (Kind::Money, t) if t.is_numeric() => ColView::Float(
            to(&DataType::Float64)?
                .as_primitive::<arrow::datatypes::Float64Type>()
                .clone(),
        ),
        (Kind::Int, t) if is_integer(t) => ColView::Int(ints(to(&DataType::Int64)?)),
        (Kind::Int, t) if t.is_floating() => ColView::Float(
            to(&DataType::Float64)?
                .as_primitive::<arrow::datatypes::Float64Type>()
                .clone(),
        ),
        (Kind::Bool, DataType::Boolean) => ColView::Bool(array.as_boolean().clone()),
        (Kind::Bool, t) if is_integer(t) => ColView::Int(ints(to(&DataType::Int64)?)),
        (Kind::Time, DataType::Timestamp(unit, _)) => {
            let per_sec = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            ColView::Epoch(ints(to(&DataType::Int64)?), per_sec)
        }
        (Kind::Time, DataType::Date64) => ColView::Epoch(ints(to(&DataType::Int64)?), 1_000),
        (Kind::Time, DataType::Date32) => {
            let days = to(&DataType::Int32)?;
            let days = days.as_primitive::<Int32Type>();
            ColView::Days(days.iter().map(|d| d.map(i64::from)).collect())
        }
        (_, t) if is_text(t) => ColView::Text(text(to(&DataType::Utf8)?)),
        (kind, t) => return Err(format!("expected {}, found {t}", kind.describe())),
    })
}

/// Parses the text forms of a UTC time we accept: RFC 3339 with an offset, or an ISO date-time or
/// date without one (taken as UTC). Fractions of a second are dropped.
pub fn parse_time(s: &str) -> Option<i64> {
    super::import::timefmt::parse_iso(s.trim(), chrono::FixedOffset::east_opt(0)?)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// One batch with its contract columns resolved; the getters check a cell and record a problem
/// at its exact location when it is bad.
struct Cells<'a> {
    file: &'a Path,
    cols: Vec<(&'static Column, ColView)>,
    first_row: u64,
    len: usize,
}

/// A bad cell: the problem has been recorded, the row must not be accepted.
struct Bad;

impl<'a> Cells<'a> {
    /// Resolves the batch's columns; records a problem and returns `None` when a required column
    /// is missing or has a type we cannot read.
    fn new(
        file: &'a Path,
        table: Table,
        batch: &RecordBatch,
        first_row: u64,
        problems: &mut Problems,
    ) -> Option<Self> {
        let mut cols = Vec::with_capacity(table.columns().len());
        let mut usable = true;
        for column in table.columns() {
            let col = match batch.column_by_name(column.name) {
                None if column.required => {
                    problems.push(
                        ProblemKind::MissingColumn,
                        Location::column(file, column.name),
                        format!("required column '{}' is missing", column.name),
                    );
                    usable = false;
                    ColView::Absent
                }
                None => ColView::Absent,
                Some(array) => match view(array, column.kind) {
                    Ok(v) => v,
                    Err(msg) => {
                        problems.push(
                            ProblemKind::WrongType,
                            Location::column(file, column.name),
                            msg,
                        );
                        usable = false;
                        ColView::Absent
                    }
                },
            };
            cols.push((column, col));
        }
        usable.then_some(Cells {
            file,
            cols,
            first_row,
            len: batch.num_rows(),
        })
    }

    fn row(&self, i: usize) -> u64 {
        self.first_row + i as u64
    }

    fn report(&self, p: &mut Problems, c: usize, i: usize, kind: ProblemKind, msg: String) -> Bad {
        p.push(
            kind,
            Location::cell(self.file, self.cols[c].0.name, self.row(i)),
            msg,
        );
        Bad
    }

    fn missing(&self, p: &mut Problems, c: usize, i: usize) -> Bad {
        let msg = format!("'{}' is required and empty", self.cols[c].0.name);
        self.report(p, c, i, ProblemKind::MissingValue, msg)
    }

    fn opt_text(&self, c: usize, i: usize) -> Option<&str> {
        match &self.cols[c].1 {
            ColView::Text(a) if a.is_valid(i) => Some(a.value(i)).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    fn text(&self, p: &mut Problems, c: usize, i: usize) -> Result<&str, Bad> {
        self.opt_text(c, i).ok_or_else(|| self.missing(p, c, i))
    }

    fn time(&self, p: &mut Problems, c: usize, i: usize) -> Result<i64, Bad> {
        let found = match &self.cols[c].1 {
            ColView::Epoch(a, per_sec) if a.is_valid(i) => Some(a.value(i).div_euclid(*per_sec)),
            ColView::Days(a) if a.is_valid(i) => Some(a.value(i) * 86_400),
            ColView::Text(a) if a.is_valid(i) => {
                let raw = a.value(i);
                match parse_time(raw) {
                    Some(t) => Some(t),
                    None => {
                        let msg = format!(
                            "'{raw}' is not a time (expected e.g. 2024-05-01T08:30:00Z or 2024-05-01 08:30:00)"
                        );
                        return Err(self.report(p, c, i, ProblemKind::BadTime, msg));
                    }
                }
            }
            _ => None,
        };
        found.ok_or_else(|| self.missing(p, c, i))
    }

    fn number(&self, p: &mut Problems, c: usize, i: usize) -> Result<f64, Bad> {
        let found = match &self.cols[c].1 {
            ColView::Float(a) if a.is_valid(i) => Some(a.value(i)),
            ColView::Int(a) if a.is_valid(i) => Some(a.value(i) as f64),
            ColView::Text(a) if a.is_valid(i) => {
                let raw = a.value(i);
                match raw.trim().parse::<f64>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        let msg = format!("'{raw}' is not a number");
                        return Err(self.report(p, c, i, ProblemKind::BadNumber, msg));
                    }
                }
            }
            _ => None,
        };
        match found {
            None => Err(self.missing(p, c, i)),
            Some(v) if !v.is_finite() => {
                let msg = format!("{v} is not a finite number");
                Err(self.report(p, c, i, ProblemKind::BadNumber, msg))
            }
            Some(v) => Ok(v),
        }
    }

    /// A money amount: a finite number, never negative.
    fn money(&self, p: &mut Problems, c: usize, i: usize) -> Result<f64, Bad> {
        let v = self.number(p, c, i)?;
        if v < 0.0 {
            let msg = format!("{v} is negative; '{}' cannot be", self.cols[c].0.name);
            return Err(self.report(p, c, i, ProblemKind::NegativeValue, msg));
        }
        Ok(v)
    }

    fn int(&self, p: &mut Problems, c: usize, i: usize) -> Result<i64, Bad> {
        let v = self.number(p, c, i)?;
        if v.fract() != 0.0 || v.abs() > 9.0e15 {
            let msg = format!("{v} is not a whole number");
            return Err(self.report(p, c, i, ProblemKind::BadNumber, msg));
        }
        Ok(v as i64)
    }

    fn boolean(&self, p: &mut Problems, c: usize, i: usize) -> Result<bool, Bad> {
        let found = match &self.cols[c].1 {
            ColView::Bool(a) if a.is_valid(i) => Some(a.value(i)),
            ColView::Int(a) if a.is_valid(i) => match a.value(i) {
                0 => Some(false),
                1 => Some(true),
                v => {
                    let msg = format!("{v} is not a boolean (0 or 1)");
                    return Err(self.report(p, c, i, ProblemKind::BadNumber, msg));
                }
            },
            ColView::Text(a) if a.is_valid(i) => {
                let raw = a.value(i);
                match parse_bool(raw) {
                    Some(b) => Some(b),
                    None => {
                        let msg = format!("'{raw}' is not a boolean (true/false, 1/0)");
                        return Err(self.report(p, c, i, ProblemKind::UnknownValue, msg));
                    }
                }
            }
            _ => None,
        };
        found.ok_or_else(|| self.missing(p, c, i))
    }

    fn vocab<V: Vocabulary>(&self, p: &mut Problems, c: usize, i: usize) -> Result<V, Bad> {
        let raw = self.text(p, c, i)?;
        V::parse(raw).ok_or_else(|| {
            let msg = format!("'{raw}' is not one of {}", V::expected());
            self.report(p, c, i, ProblemKind::UnknownValue, msg)
        })
    }

    fn member(
        &self,
        p: &mut Problems,
        c: usize,
        i: usize,
        members: &Interner,
        last: &mut LastMember,
    ) -> Result<MemberIdx, Bad> {
        let id = self.text(p, c, i)?;
        if let Some(m) = last.idx.filter(|_| last.id == id) {
            return Ok(m);
        }
        let m = members.get(id).ok_or_else(|| {
            let msg = format!("member_id '{id}' is not in the members table");
            self.report(p, c, i, ProblemKind::UnknownMember, msg)
        })?;
        last.id.clear();
        last.id.push_str(id);
        last.idx = Some(m);
        Ok(m)
    }
}

/// The last member id an event table resolved. Exports list a member's events together, so most
/// rows repeat it, and comparing two short strings is cheaper than a lookup among millions.
#[derive(Default)]
struct LastMember {
    id: String,
    idx: Option<MemberIdx>,
}

fn opt_sym(keys: &mut Interner, v: Option<&str>) -> Sym {
    v.map_or(NONE, |s| keys.intern(s))
}

/// Appends checked rows of one table to the history.
struct TableSink<'h> {
    table: Table,
    history: &'h mut History,
    accepted: u64,
    /// Where each id was first seen (file, row), by the id's dense symbol, to point a duplicate
    /// at its twin.
    first_seen: Vec<(usize, u64)>,
    files: Vec<PathBuf>,
    last_member: LastMember,
}

impl<'h> TableSink<'h> {
    fn new(table: Table, history: &'h mut History) -> Self {
        TableSink {
            table,
            history,
            accepted: 0,
            first_seen: Vec::new(),
            files: Vec::new(),
            last_member: LastMember::default(),
        }
    }

    /// Makes room for about `rows` more rows, so that the id tables, which outgrow the caches,
    /// are not rebuilt again and again as they fill.
    fn reserve(&mut self, rows: usize) {
        let h = &mut *self.history;
        match self.table {
            Table::Members => {
                h.members.ids.reserve(rows, 0);
                self.first_seen.reserve(rows);
            }
            Table::Orders => {
                h.orders.ids.reserve(rows, 0);
                self.first_seen.reserve(rows);
            }
            Table::Coupons | Table::Points | Table::Labels => {}
        }
    }

    /// Appends the good rows of `cells`; returns true (the file's columns were usable).
    fn push(&mut self, cells: &Cells<'_>, p: &mut Problems) -> bool {
        if self.files.last().map(|f| f.as_path()) != Some(cells.file) {
            self.files.push(cells.file.to_path_buf());
        }
        for i in 0..cells.len {
            let ok = match self.table {
                Table::Members => self.member_row(cells, i, p),
                Table::Coupons => self.coupon_row(cells, i, p),
                Table::Orders => self.order_row(cells, i, p),
                Table::Points => self.points_row(cells, i, p),
                Table::Labels => self.label_row(cells, i, p),
            };
            if ok.is_ok() {
                self.accepted += 1;
            }
        }
        true
    }

    /// Records that `sym` was seen at row `i`; a second sighting is a duplicate-id problem.
    fn first_sighting(
        &mut self,
        cells: &Cells<'_>,
        c: usize,
        i: usize,
        sym: Sym,
        id: &str,
        p: &mut Problems,
    ) -> Result<(), Bad> {
        let here = (self.files.len() - 1, cells.row(i));
        // Symbols are dense and handed out in order of first sighting: one below the count of
        // sightings is a twin.
        if let Some(&(file, row)) = self.first_seen.get(sym as usize) {
            let twin = self
                .files
                .get(file)
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            let msg = format!("'{id}' appears twice; first at {twin}, row {row}");
            return Err(cells.report(p, c, i, ProblemKind::DuplicateId, msg));
        }
        self.first_seen.push(here);
        Ok(())
    }

    fn member_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let id = cells.text(p, 0, i);
        let joined_at = cells.time(p, 1, i);
        let channel = cells.text(p, 2, i);
        let (id, joined_at, channel) = (id?, joined_at?, channel?);
        let m = &mut self.history.members;
        let sym = m.ids.intern(id);
        self.first_sighting(cells, 0, i, sym, id, p)?;
        let keys = &mut self.history.keys;
        let m = &mut self.history.members;
        m.joined_at.push(joined_at);
        m.channel.push(keys.intern(channel));
        m.campaign.push(opt_sym(keys, cells.opt_text(3, i)));
        m.inviter.push(opt_sym(keys, cells.opt_text(4, i)));
        m.device.push(opt_sym(keys, cells.opt_text(5, i)));
        m.ip.push(opt_sym(keys, cells.opt_text(6, i)));
        m.phone_prefix.push(opt_sym(keys, cells.opt_text(7, i)));
        m.phone_hash.push(opt_sym(keys, cells.opt_text(8, i)));
        m.region.push(opt_sym(keys, cells.opt_text(9, i)));
        Ok(())
    }

    fn coupon_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let member = cells.member(p, 0, i, &self.history.members.ids, &mut self.last_member);
        let coupon = cells.text(p, 1, i);
        let event = cells.vocab::<CouponEvent>(p, 3, i);
        let at = cells.time(p, 4, i);
        let face_value = cells.money(p, 5, i);
        let threshold = cells.money(p, 6, i);
        let kind = cells.vocab::<CouponKind>(p, 7, i);
        let (member, coupon, event, at, face_value, threshold, kind) = (
            member?,
            coupon?,
            event?,
            at?,
            face_value?,
            threshold?,
            kind?,
        );
        let keys = &mut self.history.keys;
        let c = &mut self.history.coupons;
        c.member.push(member);
        c.coupon.push(c.ids.intern(coupon));
        c.campaign.push(opt_sym(keys, cells.opt_text(2, i)));
        c.event.push(event);
        c.at.push(at);
        c.face_value.push(face_value);
        c.threshold.push(threshold);
        c.kind.push(kind);
        Ok(())
    }

    fn order_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let order = cells.text(p, 0, i);
        let member = cells.member(p, 1, i, &self.history.members.ids, &mut self.last_member);
        let at = cells.time(p, 2, i);
        let amount = cells.money(p, 3, i);
        let list_amount = cells.money(p, 4, i);
        let discount = cells.money(p, 5, i);
        let channel = cells.text(p, 7, i);
        let refunded = cells.boolean(p, 8, i);
        let (order, member, at, amount, list_amount, discount, channel, refunded) = (
            order?,
            member?,
            at?,
            amount?,
            list_amount?,
            discount?,
            channel?,
            refunded?,
        );
        let sym = self.history.orders.ids.intern(order);
        self.first_sighting(cells, 0, i, sym, order, p)?;
        let keys = &mut self.history.keys;
        let o = &mut self.history.orders;
        o.order.push(sym);
        o.member.push(member);
        o.at.push(at);
        o.amount.push(amount);
        o.list_amount.push(list_amount);
        o.discount.push(discount);
        o.coupon
            .push(opt_sym(&mut self.history.coupons.ids, cells.opt_text(6, i)));
        o.channel.push(keys.intern(channel));
        o.refunded.push(refunded);
        Ok(())
    }

    fn points_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let member = cells.member(p, 0, i, &self.history.members.ids, &mut self.last_member);
        let at = cells.time(p, 1, i);
        let delta = cells.int(p, 2, i);
        let reason = cells.vocab::<PointsReason>(p, 3, i);
        let (member, at, delta, reason) = (member?, at?, delta?, reason?);
        let pts = &mut self.history.points;
        pts.member.push(member);
        pts.at.push(at);
        pts.delta.push(delta);
        pts.reason.push(reason);
        Ok(())
    }

    fn label_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let member = cells.member(p, 0, i, &self.history.members.ids, &mut self.last_member);
        let label = cells.int(p, 1, i);
        let at = cells.time(p, 2, i);
        let source = cells.text(p, 3, i);
        let (member, label, at, source) = (member?, label?, at?, source?);
        let label = match label {
            0 | 1 => label as u8,
            v => {
                let msg = format!("{v} is not a label (1 = abuser, 0 = genuine)");
                return Err(cells.report(p, 1, i, ProblemKind::UnknownValue, msg));
            }
        };
        let sym = self.history.keys.intern(source);
        let l = &mut self.history.labels;
        l.member.push(member);
        l.label.push(label);
        l.at.push(at);
        l.source.push(sym);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_time_forms() {
        assert_eq!(parse_time("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(parse_time("1970-01-01T08:00:00+08:00"), Some(0));
        assert_eq!(parse_time("1970-01-01 00:01:40"), Some(100));
        assert_eq!(parse_time("1970-01-01 00:01:40.999"), Some(100));
        assert_eq!(parse_time("1970-01-03"), Some(172_800));
        assert_eq!(parse_time("03/01/1970"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn parses_booleans_in_their_usual_spellings() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
