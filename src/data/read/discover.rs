//! Finding a table's files in a history folder before a byte of them is parsed.
//!
//! A table is one entry: `<table>.parquet`, `<table>.csv`, or a folder — `<table>/`,
//! `<table>.parquet/` or `<table>.csv/` — of Parquet or CSV part files at any depth, the way
//! Spark, Hive and DuckDB write a table. Part files are read in sorted path order; bookkeeping
//! (`_SUCCESS`, `.crc` checksums, hidden files and folders, whose names start with `.` or `_`)
//! is skipped by name.
//!
//! It must never drop anything silently: every entry and file it finds is either read or a
//! problem — two entries for one table, a 0-byte file, a folder holding no data file, a file
//! that is neither Parquet nor CSV. An absent optional table is not a problem but is named
//! ([`absent_tables`]) so that callers can say so.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::error::{Location, ProblemKind, Problems};
use crate::data::schema::Table;

/// How deep part files may sit below a table's folder (Hive partitions nest a level a key);
/// deeper is taken for a symbolic link loop.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Parquet,
    Csv,
}

/// A file to read, with its format.
#[derive(Debug, Clone)]
pub(super) struct DataFile {
    pub path: PathBuf,
    pub format: Format,
}

/// The paths a table's entry may take, in the order the one read is chosen when (wrongly)
/// several exist.
fn entry_paths(dir: &Path, table: Table) -> [PathBuf; 3] {
    let name = table.name();
    [
        dir.join(format!("{name}.parquet")),
        dir.join(format!("{name}.csv")),
        dir.join(name),
    ]
}

/// The entries present for `table` (files or folders; a dangling link counts, and fails to read).
pub fn entries(dir: &Path, table: Table) -> Vec<PathBuf> {
    entry_paths(dir, table)
        .into_iter()
        .filter(|p| fs::symlink_metadata(p).is_ok())
        .collect()
}

/// The optional tables `dir` holds no entry for; they read as empty.
pub fn absent_tables(dir: &Path) -> Vec<Table> {
    Table::ALL
        .into_iter()
        .filter(|t| !t.required() && entries(dir, *t).is_empty())
        .collect()
}

/// What an absent table lacks, in words: `no points.parquet, points.csv or points/ folder`.
pub fn absent_reason(table: Table) -> String {
    format!("no {table}.parquet, {table}.csv or {table}/ folder")
}

/// A table's entry and the files in it to read.
#[derive(Debug, Clone, Default)]
pub(super) struct Found {
    /// The file or folder read; `None` when the table is absent.
    pub entry: Option<PathBuf>,
    /// Its files, in the order they are read.
    pub files: Vec<DataFile>,
}

/// The entry of `table` in `dir` and its files. Whatever stops a file from being read — a
/// second entry, an empty file or folder, an unknown format — is recorded in `problems`.
pub(super) fn table_files(dir: &Path, table: Table, problems: &mut Problems) -> Found {
    let found = entries(dir, table);
    let Some(entry) = found.first() else {
        if table.required() {
            problems.push(
                ProblemKind::MissingTable,
                Location::file(&dir.join(format!("{table}.parquet"))),
                format!("the {table} table is required: {}", absent_reason(table)),
            );
        }
        return Found::default();
    };
    for other in &found[1..] {
        problems.push(
            ProblemKind::DuplicateTable,
            Location::file(other),
            format!(
                "{} and {} both hold the {table} table; keep one (entries are never merged, only {} is read)",
                entry.display(),
                other.display(),
                entry.display()
            ),
        );
    }
    let files = if entry.is_dir() {
        folder_files(entry, problems)
    } else {
        classify(entry, problems).into_iter().collect()
    };
    Found {
        entry: Some(entry.clone()),
        files,
    }
}

/// The data files anywhere under a table's folder, in sorted path order.
fn folder_files(entry: &Path, problems: &mut Problems) -> Vec<DataFile> {
    let mut paths = Vec::new();
    walk(entry, 0, &mut paths, problems);
    if paths.is_empty() {
        problems.push(
            ProblemKind::EmptyTable,
            Location::file(entry),
            "the folder holds no data file (looked at any depth for .parquet and .csv files; \
             hidden files, _SUCCESS and .crc files are skipped)",
        );
    }
    paths.sort();
    paths.iter().filter_map(|p| classify(p, problems)).collect()
}

/// Bookkeeping that table writers leave beside their part files.
fn skipped(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with('.') || name.starts_with('_') || name.ends_with(".crc")
}

/// Collects every file under `folder` that is not bookkeeping.
fn walk(folder: &Path, depth: usize, out: &mut Vec<PathBuf>, problems: &mut Problems) {
    if depth > MAX_DEPTH {
        return problems.push(
            ProblemKind::Unreadable,
            Location::file(folder),
            format!("nested more than {MAX_DEPTH} folders deep (a symbolic link loop?)"),
        );
    }
    let listing = match fs::read_dir(folder) {
        Ok(l) => l,
        Err(e) => {
            return problems.push(
                ProblemKind::Unreadable,
                Location::file(folder),
                format!("cannot list the folder: {e}"),
            )
        }
    };
    for item in listing {
        let path = match item {
            Ok(item) => item.path(),
            Err(e) => {
                problems.push(
                    ProblemKind::Unreadable,
                    Location::file(folder),
                    format!("cannot list the folder: {e}"),
                );
                continue;
            }
        };
        if skipped(&path) {
            continue;
        }
        if path.is_dir() {
            walk(&path, depth + 1, out, problems);
        } else {
            out.push(path);
        }
    }
}

/// The file as one to read, or `None` with a problem when it cannot hold table rows.
fn classify(path: &Path, problems: &mut Problems) -> Option<DataFile> {
    let bytes = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            problems.push(ProblemKind::Unreadable, Location::file(path), e.to_string());
            return None;
        }
    };
    if bytes == 0 {
        problems.push(
            ProblemKind::EmptyTable,
            Location::file(path),
            "the file is empty (0 bytes); an empty table still needs its header line (CSV) or \
             schema (Parquet)",
        );
        return None;
    }
    match format_of(path) {
        Some(format) => Some(DataFile {
            path: path.to_path_buf(),
            format,
        }),
        None => {
            problems.push(
                ProblemKind::Unreadable,
                Location::file(path),
                "neither a Parquet file (.parquet, or the PAR1 magic) nor a CSV file (.csv)",
            );
            None
        }
    }
}

/// The format by extension; a file without a known one (Hive writes `000000_0`) is Parquet when
/// it starts with Parquet's magic bytes.
fn format_of(path: &Path) -> Option<Format> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("parquet") => return Some(Format::Parquet),
        Some("csv") => return Some(Format::Csv),
        _ => {}
    }
    let mut magic = [0u8; 4];
    let read = fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    (read.is_ok() && &magic == b"PAR1").then_some(Format::Parquet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping_is_skipped_by_name() {
        for name in [
            "_SUCCESS",
            ".part-0.parquet.crc",
            "part-0.parquet.crc",
            "_temporary",
            ".hidden",
        ] {
            assert!(skipped(Path::new(name)), "{name}");
        }
        for name in ["part-00000.parquet", "year=2024", "data_0.csv", "000000_0"] {
            assert!(!skipped(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn an_absent_table_says_what_was_looked_for() {
        assert_eq!(
            absent_reason(Table::Points),
            "no points.parquet, points.csv or points/ folder"
        );
    }
}
