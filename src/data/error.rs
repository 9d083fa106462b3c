//! Errors and problems of the data layer.
//!
//! A *problem* is something wrong with the input at a known place (file, column, row); readers
//! collect them, capped per kind, so that `validate` can report everything at once. A
//! `DataError` is what loading returns when the input cannot be trusted: it carries the first
//! problem (with its location) and the total, or the I/O or format failure with its source.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::schema::Table;

/// Where in the input a problem sits. `row` is the 1-based data row within the file (the header
/// line of a CSV file is not counted, so CSV row N is on line N + 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
}

impl Location {
    pub fn file(file: &Path) -> Self {
        Location {
            file: file.to_path_buf(),
            column: None,
            row: None,
        }
    }

    pub fn column(file: &Path, column: &str) -> Self {
        Location {
            file: file.to_path_buf(),
            column: Some(column.to_string()),
            row: None,
        }
    }

    pub fn cell(file: &Path, column: &str, row: u64) -> Self {
        Location {
            file: file.to_path_buf(),
            column: Some(column.to_string()),
            row: Some(row),
        }
    }

    pub fn row(file: &Path, row: u64) -> Self {
        Location {
            file: file.to_path_buf(),
            column: None,
            row: Some(row),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        Ok(())
    }
}

/// The stable kinds of problem; `validate --json` and tests match on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    MissingTable,
    Unreadable,
    MissingColumn,
    WrongType,
    MalformedRow,
    MissingValue,
    BadTime,
    BadNumber,
    UnknownValue,
    NegativeValue,
    DuplicateId,
    UnknownMember,
    /// Two entries for one table (say `members.parquet` and `members.csv`): never merged.
    DuplicateTable,
    /// A table's entry exists but holds nothing: a 0-byte file, a folder without a data file,
    /// or a required table without a row.
    EmptyTable,
    /// A time that parses but lies outside the plausible window.
    ImplausibleTime,
    /// An amount or points movement that parses but is beyond what makes sense.
    ImplausibleValue,
}

impl ProblemKind {
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::MissingTable => "missing_table",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::MissingColumn => "missing_column",
            ProblemKind::WrongType => "wrong_type",
            ProblemKind::MalformedRow => "malformed_row",
            ProblemKind::MissingValue => "missing_value",
            ProblemKind::BadTime => "bad_time",
            ProblemKind::BadNumber => "bad_number",
            ProblemKind::UnknownValue => "unknown_value",
            ProblemKind::NegativeValue => "negative_value",
            ProblemKind::DuplicateId => "duplicate_id",
            ProblemKind::UnknownMember => "unknown_member",
            ProblemKind::DuplicateTable => "duplicate_table",
            ProblemKind::EmptyTable => "empty_table",
            ProblemKind::ImplausibleTime => "implausible_time",
            ProblemKind::ImplausibleValue => "implausible_value",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.location, self.message, self.kind)
    }
}

/// Problems found so far: every one is counted, the first `cap` of each kind are kept.
#[derive(Debug, Clone)]
pub struct Problems {
    cap: usize,
    kept: Vec<Problem>,
    counts: BTreeMap<ProblemKind, u64>,
}

impl Default for Problems {
    fn default() -> Self {
        Problems::with_cap(20)
    }
}

impl Problems {
    pub fn with_cap(cap: usize) -> Self {
        Problems {
            cap: cap.max(1),
            kept: Vec::new(),
            counts: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, kind: ProblemKind, location: Location, message: impl Into<String>) {
        let n = self.counts.entry(kind).or_insert(0);
        *n += 1;
        if *n as usize <= self.cap {
            self.kept.push(Problem {
                kind,
                location,
                message: message.into(),
            });
        }
    }

    pub fn merge(&mut self, other: Problems) {
        for p in other.kept {
            let kept_of_kind = self.kept.iter().filter(|k| k.kind == p.kind).count();
            if kept_of_kind < self.cap {
                self.kept.push(p);
            }
        }
        for (k, n) in other.counts {
            *self.counts.entry(k).or_insert(0) += n;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn kept(&self) -> &[Problem] {
        &self.kept
    }

    pub fn counts(&self) -> &BTreeMap<ProblemKind, u64> {
        &self.counts
    }

    pub fn count(&self, kind: ProblemKind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// The error a strict load returns, or `Ok` when nothing was found.
    pub fn into_result(self, dir: &Path) -> Result<(), DataError> {
        match self.kept.first() {
            None => Ok(()),
            Some(first) => Err(DataError::Invalid {
                dir: dir.to_path_buf(),
                total: self.total(),
                first: Box::new(first.clone()),
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{} problem(s) in {}; the first: {first} (run `woolguard validate {}` for all)", total, dir.display(), dir.display())]
    Invalid {
        dir: PathBuf,
        total: u64,
        first: Box<Problem>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{}: {source}", path.display())]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{table}: {message}")]
    Contract { table: Table, message: String },
}

impl DataError {
    /// The problem behind an `Invalid` error, for callers (and tests) that match on its kind.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            DataError::Invalid { first, .. } => Some(first),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_count_all_and_keep_a_capped_few() {
        let mut p = Problems::with_cap(2);
        for r in 1..=5 {
            p.push(
                ProblemKind::BadTime,
                Location::cell(Path::new("orders.csv"), "at", r),
                "x",
            );
        }
        p.push(
            ProblemKind::UnknownMember,
            Location::row(Path::new("o.csv"), 9),
            "y",
        );
        assert_eq!(p.total(), 6);
        assert_eq!(p.count(ProblemKind::BadTime), 5);
        assert_eq!(p.kept().len(), 3);
        let err = p.into_result(Path::new("d")).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("orders.csv, column at, row 1"), "{text}");
        assert!(text.starts_with("6 problem(s)"), "{text}");
    }
}
