//! Running a checked mapping: stream each source once per pass, turn rows (or groups of rows) into
//! contract rows, check them as the reader would, and write Parquet.
//!
//! Two passes: the members feeds first (members merge by id, so every event can then be checked
//! against the complete member list), then the event feeds, one scan per source for all the feeds
//! that read it. Memory holds the members, the open groups of grouped feeds and the order ids
//! (to refuse a duplicate), never a whole source. The output is written into a hidden folder
//! inside `out` and moved into place only when everything succeeded, so a failed import never
//! leaves a half-written history behind.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use super::mapping::{clean_header, Feed, Mapping, Source};
use super::{FeedReport, ImportError, ImportOptions, ImportReport, Progress};
use crate::data::error::Location;
use crate::data::schema::{CouponEvent, CouponKind, PointsReason, Table, Vocabulary};
use crate::data::write::{CouponRow, DatasetWriter, LabelRow, MemberRow, OrderRow, PointsRow};
use crate::expr::import::{fmt_num, Ctx, EvalError, Value};

/// FxHash, as rustc uses it: ids are short strings hashed millions of times, and SipHash's
/// defence against crafted keys buys nothing when a brand imports its own export.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Hidden work folder inside `out`; the reader never looks at it.
const PARTIAL: &str = ".woolguard-import.partial";

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 16 * 1024;

pub(super) fn run(
    mapping: &Mapping,
    out: &Path,
    options: &ImportOptions<'_>,
) -> Result<ImportReport, ImportError> {
    let partial = prepare_out(out, options.force)?;
    let result = write_all(mapping, &partial, options);
    let (rows, feeds) = match result {
        Ok(done) => done,
        Err(e) => {
            // Best effort: the error that stopped the import matters more than a leftover folder.
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    for table in Table::ALL {
        let name = format!("{}.parquet", table.name());
        let to = out.join(&name);
        fs::rename(partial.join(&name), &to)
            .map_err(|source| ImportError::Io { path: to, source })?;
    }
    fs::remove_dir_all(&partial).map_err(|source| ImportError::Io {
        path: partial.clone(),
        source,
    })?;
    Ok(ImportReport {
        out: out.to_path_buf(),
        rows,
        feeds,
    })
}

/// Refuses to mix the import with tables already in `out` (the reader would read both), and
/// makes the work folder.
fn prepare_out(out: &Path, force: bool) -> Result<PathBuf, ImportError> {
    let io = |path: &Path, source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::create_dir_all(out).map_err(|e| io(out, e))?;
    for table in Table::ALL {
        for other in [out.join(format!("{table}.csv")), out.join(table.name())] {
            if other.exists() {
                return Err(ImportError::Output {
                    path: out.to_path_buf(),
                    message: format!(
                        "it already holds {}, which would be read beside the import; remove it or import elsewhere",
                        other.display()
                    ),
                });
            }
        }
        let parquet = out.join(format!("{table}.parquet"));
        if parquet.exists() && !force {
            return Err(ImportError::Output {
                path: out.to_path_buf(),
                message: format!(
                    "it already holds {}; pass --force to replace the history there",
                    parquet.display()
                ),
            });
        }
    }
    let partial = out.join(PARTIAL);
    if partial.exists() {
        // Left by an import that was killed; nothing in it is worth keeping.
        fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
    }
    fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
    Ok(partial)
}

fn write_all(
    mapping: &Mapping,
    dir: &Path,
    options: &ImportOptions<'_>,
) -> Result<(crate::data::write::RowCounts, Vec<FeedReport>), ImportError> {
    let mut writer = DatasetWriter::create(dir)?;
    let mut runs: Vec<FeedRun<'_>> = mapping
        .feeds
        .iter()
        .map(|feed| FeedRun::new(feed, &mapping.sources[feed.source]))
        .collect();

    let mut members = MemberSet::default();
    scan_pass(mapping, &mut runs, true, &mut members, options)?;
    let index = members.write(&mapping.sources, &mut writer)?;

    let mut events = EventSink {
        writer: &mut writer,
        sources: &mapping.sources,
        members: &index,
        member_sources: mapping
            .feeds
            .iter()
            .filter(|f| f.table == Table::Members)
            .map(|f| mapping.sources[f.source].name.clone())
            .collect::<Vec<_>>()
            .join(", "),
        order_ids: FastMap::default(),
    };
    scan_pass(mapping, &mut runs, false, &mut events, options)?;

    let reports = runs.into_iter().map(|r| r.report).collect();
    Ok((writer.finish()?, reports))
}

/// Scans every source that feeds the pass's tables (members, or the event tables) once.
fn scan_pass(
    mapping: &Mapping,
    runs: &mut [FeedRun<'_>],
    members_pass: bool,
    sink: &mut dyn Sink,
    options: &ImportOptions<'_>,
) -> Result<(), ImportError> {
    let in_pass = |f: &Feed| (f.table == Table::Members) == members_pass;
    // Sources in the order their first feed appears in the mapping, so that "first seen" (the
    // order of members, and which of two equal candidates wins) follows the file as written.
    let mut order: Vec<usize> = Vec::new();
    for feed in mapping.feeds.iter().filter(|f| in_pass(f)) {
        if !order.contains(&feed.source) {
            order.push(feed.source);
        }
    }
    for s in order {
        let Some(source) = mapping.sources.get(s) else {
            continue;
        };
        let mut mine: Vec<&mut FeedRun<'_>> = runs
            .iter_mut()
            .filter(|r| r.feed.source == s && in_pass(r.feed))
            .collect();
        if mine.is_empty() {
            continue;
        }
        scan(source, options, |record, row| {
            for run in mine.iter_mut() {
                run.row(record, row, sink)?;
            }
            Ok(())
        })?;
        for run in mine.iter_mut() {
            run.finish(sink)?;
        }
    }
    Ok(())
}

/// Streams the data rows of one source, numbered from 1 (the header is not a row).
fn scan(
    source: &Source,
    options: &ImportOptions<'_>,
    mut on_row: impl FnMut(&csv::StringRecord, u64) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let file = &source.file;
    let csv_err = |location, source| ImportError::SourceCsv { location, source };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(source.delimiter)
        .has_headers(true)
        .from_path(file)
        .map_err(|e| csv_err(Location::file(file), e))?;
    let header = clean_header(
        reader
            .headers()
            .map_err(|e| csv_err(Location::file(file), e))?,
    );
    if header != source.header {
        return Err(ImportError::Source {
            location: Location::file(file),
            message: "the header line changed after the mapping was checked".into(),
        });
    }
    let total = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    if let Some(p) = options.progress {
        p(Progress::Start {
            source: &source.name,
            file,
            bytes: total,
        });
    }
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    loop {
        row += 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => on_row(&record, row)?,
            Err(e) => {
                // A broken line is never skipped: the rows after it could not be trusted either.
                return Err(csv_err(Location::row(file, row), e));
            }
        }
        if row.is_multiple_of(PROGRESS_EVERY) {
            if let Some(p) = options.progress {
                p(Progress::Advance {
                    bytes: reader.position().byte(),
                });
            }
        }
    }
    if let Some(p) = options.progress {
        p(Progress::Finish);
    }
    Ok(())
}

/// Where an output row came from.
enum Origin<'k> {
    Row(u64),
    Group { first_row: u64, key: &'k str },
}

impl Origin<'_> {
    fn row(&self) -> u64 {
        match self {
            Origin::Row(r) => *r,
            Origin::Group { first_row, .. } => *first_row,
        }
    }
}

/// An open group; its key lives only in `FeedRun::index` (one copy per group, not two).
struct GroupState {
    first_row: u64,
    slots: Vec<Option<Value<'static>>>,
}

/// One feed being run: its counters and, when grouped, its open groups.
struct FeedRun<'m> {
    feed: &'m Feed,
    source: &'m Source,
    index: FastMap<String, usize>,
    groups: Vec<GroupState>,
    report: FeedReport,
}

impl<'m> FeedRun<'m> {
    fn new(feed: &'m Feed, source: &'m Source) -> Self {
        FeedRun {
            feed,
            source,
            index: FastMap::default(),
            groups: Vec::new(),
            report: FeedReport {
                table: feed.table,
                feed: feed.label.clone(),
                file: source.file.clone(),
                rows_read: 0,
                rows_filtered_out: 0,
                rows_out: 0,
            },
        }
    }

    /// The error for a bad value at `row`, located at its source column when known.
    fn eval_error(&self, e: EvalError, row: u64, context: &str) -> ImportError {
        let file = &self.source.file;
        let location = match e.column.and_then(|c| self.source.header.get(c)) {
            Some(column) => Location::cell(file, column, row),
            None => Location::row(file, row),
        };
        ImportError::Source {
            location,
            message: format!("{} ({context})", e.message),
        }
    }

    fn row(
        &mut self,
        record: &csv::StringRecord,
        row: u64,
        sink: &mut dyn Sink,
    ) -> Result<(), ImportError> {
        self.report.rows_read += 1;
        let cx = Ctx {
            record: Some(record),
            row,
            slots: &[],
        };
        if let Some(filter) = &self.feed.filter {
            match filter.eval(&cx) {
                Ok(Value::Bool(true)) => {}
                Ok(_) => {
                    self.report.rows_filtered_out += 1;
                    return Ok(());
                }
                Err(e) => {
                    return Err(self.eval_error(e, row, &format!("{}.where", self.feed.label)))
                }
            }
        }
        let Some(group) = &self.feed.group else {
            self.report.rows_out += 1;
            let values = self.evaluate(&cx, &Origin::Row(row))?;
            return sink.accept(self.feed, self.source, &values, &Origin::Row(row));
        };
        let key = match group.key.eval(&cx) {
            Ok(Value::Text(k)) => k,
            Ok(Value::Num(v)) => fmt_num(v).into(),
            Ok(other) => {
                let column = if let Value::Null(o) = other { o } else { None };
                let e = EvalError {
                    column,
                    message: "the group key is empty".into(),
                };
                return Err(self.eval_error(
                    e,
                    row,
                    &format!("{}.group_by = `{}`", self.feed.label, group.text),
                ));
            }
            Err(e) => {
                return Err(self.eval_error(
                    e,
                    row,
                    &format!("{}.group_by = `{}`", self.feed.label, group.text),
                ))
            }
        };
        let g = match self.index.get(key.as_ref()) {
            Some(&g) => g,
            None => {
                self.groups.push(GroupState {
                    first_row: row,
                    slots: vec![None; group.slots.len()],
                });
                self.index.insert(key.to_string(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let state = &mut self.groups[g];
        for (slot, def) in state.slots.iter_mut().zip(&group.slots) {
            if let Err(e) = def.update(slot, &cx) {
                let context = format!(
                    "{}: the group {} = '{}' from row {}",
                    self.feed.label, group.text, key, state.first_row
                );
                let file = &self.source.file;
                let location = match e.column.and_then(|c| self.source.header.get(c)) {
                    Some(column) => Location::cell(file, column, row),
                    None => Location::row(file, row),
                };
                return Err(ImportError::Source {
                    location,
                    message: format!("{} ({context})", e.message),
                });
            }
        }
        Ok(())
    }

    /// Emits the groups of a grouped feed, in the order their first rows came.
    fn finish(&mut self, sink: &mut dyn Sink) -> Result<(), ImportError> {
        let groups = std::mem::take(&mut self.groups);
        let mut keys = vec![String::new(); groups.len()];
        for (key, g) in self.index.drain() {
            if let Some(k) = keys.get_mut(g) {
                *k = key;
            }
        }
        for (g, key) in groups.iter().zip(&keys) {
            let cx = Ctx {
                record: None,
                row: g.first_row,
                slots: &g.slots,
            };
            let origin = Origin::Group {
                first_row: g.first_row,
                key,
            };
            self.report.rows_out += 1;
            let values = self.evaluate(&cx, &origin)?;
            sink.accept(self.feed, self.source, &values, &origin)?;
        }
        Ok(())
    }

    fn evaluate<'a>(
        &'a self,
        cx: &Ctx<'a>,
        origin: &Origin<'_>,
    ) -> Result<Vec<Option<Value<'a>>>, ImportError> {
        let mut values = Vec::with_capacity(self.feed.columns.len());
        for column in &self.feed.columns {
            match column {
                None => values.push(None),
                Some(c) => match c.expr.eval(cx) {
                    Ok(v) => values.push(Some(v)),
                    Err(e) => {
                        let context = match origin {
                            Origin::Row(_) => format!("{} = `{}`", c.name, c.text),
                            Origin::Group { key, .. } => format!(
                                "{} = `{}`, the group {} = '{key}'",
                                c.name,
                                c.text,
                                self.feed
                                    .group
                                    .as_ref()
                                    .map(|g| g.text.as_str())
                                    .unwrap_or("")
                            ),
                        };
                        return Err(self.eval_error(e, origin.row(), &context));
                    }
                },
            }
        }
        Ok(values)
    }
}

/// Receives the output rows of feeds.
trait Sink {
    fn accept(
        &mut self,
        feed: &Feed,
        source: &Source,
        values: &[Option<Value<'_>>],
        origin: &Origin<'_>,
    ) -> Result<(), ImportError>;
}

/// One output row with what is needed to explain a bad value in it.
struct Out<'v, 'a> {
    feed: &'v Feed,
    source: &'v Source,
    values: &'v [Option<Value<'a>>],
    origin: &'v Origin<'v>,
}

impl Out<'_, '_> {
    fn error(&self, c: usize, message: String) -> ImportError {
        let file = &self.source.file;
        let from = self.values.get(c).and_then(|v| match v {
            Some(Value::Null(Some(o))) => self.source.header.get(*o),
            _ => None,
        });
        let location = match from {
            Some(column) => Location::cell(file, column, self.origin.row()),
            None => Location::row(file, self.origin.row()),
        };
        let column = self.feed.columns.get(c).and_then(|x| x.as_ref());
        let mut message = match column {
            Some(col) => format!("{} = `{}`: {message}", col.name, col.text),
            None => message,
        };
        if let (Origin::Group { key, .. }, Some(g)) = (self.origin, &self.feed.group) {
            message.push_str(&format!(" (the group {} = '{key}')", g.text));
        }
        ImportError::Source { location, message }
    }

    fn value(&self, c: usize) -> Option<&Value<'_>> {
        match self.values.get(c) {
            Some(Some(Value::Null(_))) | Some(None) | None => None,
            Some(Some(v)) => Some(v),
        }
    }

    fn given(&self, c: usize) -> bool {
        matches!(self.values.get(c), Some(Some(_)))
    }

    fn required(&self, c: usize) -> ImportError {
        self.error(c, "the value is empty, and the column is required".into())
    }

    fn opt_str(&self, c: usize) -> Result<Option<Cow<'_, str>>, ImportError> {
        match self.value(c) {
            None => Ok(None),
            Some(Value::Text(s)) if s.is_empty() => Ok(None),
            Some(Value::Text(s)) => Ok(Some(Cow::Borrowed(s.as_ref()))),
            Some(Value::Num(v)) => Ok(Some(Cow::Owned(fmt_num(*v)))),
            Some(other) => Err(self.error(c, format!("{other} is not text"))),
        }
    }

    fn str(&self, c: usize) -> Result<Cow<'_, str>, ImportError> {
        self.opt_str(c)?.ok_or_else(|| self.required(c))
    }

    fn opt_text(&self, c: usize) -> Result<Option<String>, ImportError> {
        Ok(self.opt_str(c)?.map(Cow::into_owned))
    }

    fn text(&self, c: usize) -> Result<String, ImportError> {
        self.opt_text(c)?.ok_or_else(|| self.required(c))
    }

    fn opt_time(&self, c: usize) -> Result<Option<i64>, ImportError> {
        match self.value(c) {
            None => Ok(None),
            Some(Value::Time(t)) => Ok(Some(*t)),
            Some(other) => Err(self.error(c, format!("{other} is not a time"))),
        }
    }

    fn time(&self, c: usize) -> Result<i64, ImportError> {
        self.opt_time(c)?.ok_or_else(|| self.required(c))
    }

    fn number(&self, c: usize) -> Result<f64, ImportError> {
        match self.value(c) {
            None => Err(self.required(c)),
            Some(Value::Num(v)) if v.is_finite() => Ok(*v),
            Some(other) => Err(self.error(c, format!("{other} is not a finite number"))),
        }
    }

    fn money(&self, c: usize) -> Result<f64, ImportError> {
        let v = self.number(c)?;
        if v < 0.0 {
            return Err(self.error(
                c,
                format!(
                    "{} is negative; money in the contract never is (a return is an order with refunded = true and its positive amount)",
                    fmt_num(v)
                ),
            ));
        }
        Ok(v)
    }

    fn int(&self, c: usize) -> Result<i64, ImportError> {
        let v = self.number(c)?;
        if v.fract() != 0.0 || v.abs() > 9.0e15 {
            return Err(self.error(c, format!("{} is not a whole number", fmt_num(v))));
        }
        Ok(v as i64)
    }

    fn boolean(&self, c: usize) -> Result<bool, ImportError> {
        match self.value(c) {
            None => Err(self.required(c)),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.error(c, format!("{other} is not true/false"))),
        }
    }

    fn vocab<V: Vocabulary + PartialEq>(&self, c: usize) -> Result<&'static str, ImportError> {
        let raw = self.text(c)?;
        match V::parse(&raw) {
            Some(v) => Ok(v.name()),
            None => Err(self.error(c, format!("'{raw}' is not one of {}", V::expected()))),
        }
    }
}

/// A member as the members feeds build it up.
struct MemberAcc {
    id: String,
    joined_at: Option<i64>,
    /// The text columns after joined_at (channel, campaign_id, ...), each with the rank of the row
    /// that gave it (its time, or i64::MIN from a feed without joined_at): the lowest rank wins,
    /// the first seen among equals.
    fields: Vec<Option<(String, i64)>>,
    first_source: usize,
    first_row: u64,
}

/// Members, merged by member_id in the order first seen.
#[derive(Default)]
struct MemberSet {
    index: FastMap<String, usize>,
    members: Vec<MemberAcc>,
}

/// Column positions in the members table (schema::MEMBERS).
const MEMBER_ID: usize = 0;
const JOINED_AT: usize = 1;
const MEMBER_TEXTS: std::ops::Range<usize> = 2..10;

impl Sink for MemberSet {
    fn accept(
        &mut self,
        feed: &Feed,
        source: &Source,
        values: &[Option<Value<'_>>],
        origin: &Origin<'_>,
    ) -> Result<(), ImportError> {
        let out = Out {
            feed,
            source,
            values,
            origin,
        };
        let id = out.str(MEMBER_ID)?;
        // Members merge across feeds, so an empty joined_at or channel in one row only means this
        // row does not tell it; `write` refuses a member that no row tells.
        let joined = out.opt_time(JOINED_AT)?;
        // A feed without joined_at is a customer file: what it says about a member outranks what
        // events imply. Among timed rows the earliest wins (the member's first appearance); a
        // timed feed's row without a time comes last.
        let rank = match joined {
            Some(t) => t,
            None if out.given(JOINED_AT) => i64::MAX,
            None => i64::MIN,
        };
        // Most rows repeat a known member and change nothing: borrow, allocate only what is kept.
        let m = match self.index.get(id.as_ref()) {
            Some(&m) => m,
            None => {
                self.members.push(MemberAcc {
                    id: id.to_string(),
                    joined_at: None,
                    fields: vec![None; MEMBER_TEXTS.len()],
                    first_source: feed.source,
                    first_row: origin.row(),
                });
                self.index.insert(id.into_owned(), self.members.len() - 1);
                self.members.len() - 1
            }
        };
        let m = &mut self.members[m];
        if let Some(t) = joined {
            m.joined_at = Some(m.joined_at.map_or(t, |j| j.min(t)));
        }
        for (slot, c) in m.fields.iter_mut().zip(MEMBER_TEXTS) {
            if let Some(v) = out.opt_str(c)? {
                if slot.as_ref().is_none_or(|(_, r)| rank < *r) {
                    *slot = Some((v.into_owned(), rank));
                }
            }
        }
        Ok(())
    }
}

impl MemberSet {
    /// Writes the members and returns the id index the event feeds check against.
    fn write(
        self,
        sources: &[Source],
        writer: &mut DatasetWriter,
    ) -> Result<FastMap<String, usize>, ImportError> {
        for m in &self.members {
            let missing = |what: &str| {
                let file = sources
                    .get(m.first_source)
                    .map(|s| s.file.clone())
                    .unwrap_or_default();
                ImportError::Source {
                    location: Location::row(&file, m.first_row),
                    message: format!(
                        "member '{}' (first seen here) gets no {what} from any [[members]] feed",
                        m.id
                    ),
                }
            };
            let joined_at = m.joined_at.ok_or_else(|| missing("joined_at"))?;
            let text = |i: usize| {
                m.fields[i - MEMBER_TEXTS.start]
                    .as_ref()
                    .map(|(s, _)| s.clone())
            };
            let row = MemberRow {
                member_id: m.id.clone(),
                joined_at,
                channel: text(2).ok_or_else(|| missing("channel"))?,
                campaign_id: text(3),
                inviter_id: text(4),
                device_id: text(5),
                ip: text(6),
                phone_prefix: text(7),
                phone_hash: text(8),
                region: text(9),
            };
            writer.members.push(&row)?;
        }
        Ok(self.index)
    }
}

/// Writes event rows, checking each against the members and each order id against the others.
struct EventSink<'w> {
    writer: &'w mut DatasetWriter,
    sources: &'w [Source],
    members: &'w FastMap<String, usize>,
    member_sources: String,
    /// Where each order id was first written: (source index, row).
    order_ids: FastMap<String, (usize, u64)>,
}

impl EventSink<'_> {
    fn member(&self, out: &Out<'_, '_>, c: usize) -> Result<String, ImportError> {
        let id = out.text(c)?;
        if !self.members.contains_key(&id) {
            return Err(out.error(
                c,
                format!(
                    "'{id}' is not a member: no [[members]] feed gives it (members come from: {}); add a members feed for this source",
                    self.member_sources
                ),
            ));
        }
        Ok(id)
    }
}

impl Sink for EventSink<'_> {
    fn accept(
        &mut self,
        feed: &Feed,
        source: &Source,
        values: &[Option<Value<'_>>],
        origin: &Origin<'_>,
    ) -> Result<(), ImportError> {
        let out = Out {
            feed,
            source,
            values,
            origin,
        };
        // Column positions follow schema::{COUPONS, ORDERS, POINTS, LABELS}.
        match feed.table {
            Table::Members => Ok(()),
            Table::Coupons => {
                let row = CouponRow {
                    member_id: self.member(&out, 0)?,
                    coupon_id: out.text(1)?,
                    campaign_id: out.opt_text(2)?,
                    event: out.vocab::<CouponEvent>(3)?.to_string(),
                    at: out.time(4)?,
                    face_value: out.money(5)?,
                    threshold: out.money(6)?,
                    kind: out.vocab::<CouponKind>(7)?.to_string(),
                };
                Ok(self.writer.coupons.push(&row)?)
            }
            Table::Orders => {
                let order_id = out.text(0)?;
                let here = (feed.source, origin.row());
                if let Some(&(s, r)) = self.order_ids.get(&order_id) {
                    return Err(out.error(
                        0,
                        format!(
                            "the order id '{order_id}' was already given by {}, row {r}; order ids must be unique",
                            self.source_file(s)
                        ),
                    ));
                }
                let row = OrderRow {
                    member_id: self.member(&out, 1)?,
                    at: out.time(2)?,
                    amount: out.money(3)?,
                    list_amount: out.money(4)?,
                    discount: out.money(5)?,
                    coupon_id: out.opt_text(6)?,
                    channel: out.text(7)?,
                    refunded: out.boolean(8)?,
                    order_id: order_id.clone(),
                };
                self.order_ids.insert(order_id, here);
                Ok(self.writer.orders.push(&row)?)
            }
            Table::Points => {
                let row = PointsRow {
                    member_id: self.member(&out, 0)?,
                    at: out.time(1)?,
                    delta: out.int(2)?,
                    reason: out.vocab::<PointsReason>(3)?.to_string(),
                };
                Ok(self.writer.points.push(&row)?)
            }
            Table::Labels => {
                let label = out.int(1)?;
                if label != 0 && label != 1 {
                    return Err(out.error(
                        1,
                        format!("{label} is not a label (1 = abuser, 0 = genuine)"),
                    ));
                }
                let row = LabelRow {
                    member_id: self.member(&out, 0)?,
                    label,
                    at: out.time(2)?,
                    source: out.text(3)?,
                };
                Ok(self.writer.labels.push(&row)?)
            }
        }
    }
}

impl EventSink<'_> {
    fn source_file(&self, source: usize) -> String {
        self.sources
            .get(source)
            .map(|s| s.file.display().to_string())
            .unwrap_or_default()
    }
}
