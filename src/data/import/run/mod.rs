//! Running a checked mapping: stream each source once per pass, turn rows (or groups of rows) into
//! contract rows, check them as the reader would, and write Parquet.
//!
//! Two passes: the members feeds first (members merge by id, so every event can then be checked
//! against the complete member list), then the event feeds, one scan per source for all the feeds
//! that read it. Memory holds the members, the open groups of grouped feeds and the order ids
//! (to refuse a duplicate), never a whole source. The output is written into a hidden folder
//! inside `out` and moved into place only when everything succeeded, so a failed import never
//! leaves a half-written history behind.
//!
//! `feed` turns one feed's rows (or groups) into output values and reads them back typed; `sinks`
//! merges the members and checks and writes the events.

use std::collections::HashMap;
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use super::mapping::{clean_header, Feed, Mapping, Source};
use super::{FeedReport, ImportError, ImportOptions, ImportReport, Progress};
use crate::data::error::Location;
use crate::data::schema::Table;
use crate::data::write::DatasetWriter;

mod feed;
mod sinks;

use self::feed::{FeedRun, Sink};
use self::sinks::{EventSink, MemberSet};

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
