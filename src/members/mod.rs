//! Member value: which tier each member holds, which RFM segment and which behavioural cluster
//! they fall in, as of a date, from their history strictly before it (DESIGN.md §5), and the
//! 20/80 figure of a programme; and campaign audiences built on them.
//!
//! `tier` and `rfm` each compute one member's value in one function and a whole history in
//! parallel over it; `cluster` fits k-means on a sample and assigns everyone; `segment` puts the
//! three together for the `segment` command. `audience` applies a selection (parsed by
//! `crate::expr::select`) and, optionally, a model's decisions. Nothing here reads an event at or
//! after the as-of moment, and only `audience` uses a trained model, when given one.

pub mod cluster;
pub mod diagnose;
mod image;
pub mod rfm;
pub mod segment;
pub mod tier;

use std::path::{Path, PathBuf};

use crate::data::write::{Row, TableWriter};

/// What can go wrong reading a member-value config or writing its output.
/// Midnight UTC of a calendar date, for tests written in dates.
#[cfg(test)]
pub(crate) fn at(y: i32, m: u32, d: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
}

#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML for this config: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{path}: `{key}`: {message}")]
    Config {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("cannot write {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
}

/// Reads a TOML config file into its unchecked form.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<T, MembersError> {
    let text = std::fs::read_to_string(path).map_err(|source| MembersError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| MembersError::Toml {
        path: path.to_path_buf(),
        source,
    })
}

const DAY: i64 = 86_400;

/// Writes rows `0..n` (made by `row`) to `path`: CSV when it ends in `.csv`, else Parquet.
/// Returns the rows written.
pub(crate) fn write_table<R: Row + serde::Serialize>(
    path: &Path,
    n: usize,
    row: impl Fn(usize) -> R,
) -> Result<u64, MembersError> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_csv {
        let mut w = TableWriter::<R>::create(path)?;
        for i in 0..n {
            w.push(&row(i))?;
        }
        return Ok(w.finish()?);
    }
    let csv_err = |source| MembersError::Csv {
        path: PathBuf::from(path),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| MembersError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut w = csv::Writer::from_path(path).map_err(csv_err)?;
    for i in 0..n {
        w.serialize(row(i)).map_err(csv_err)?;
    }
    w.flush().map_err(|source| MembersError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(n as u64)
}
