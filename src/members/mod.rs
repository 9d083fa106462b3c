//! Member value: which tier each member holds and which RFM segment they fall in, as of a date,
//! from their history strictly before it (DESIGN.md §5), and the 20/80 figure of a programme.
//!
//! `tier` and `rfm` each compute one member's value in one function and a whole history in
//! parallel over it; `segment` puts the two together for the `segment` command. Nothing here
//! reads an event at or after the as-of moment, and nothing here depends on a trained model.

pub mod diagnose;
pub mod rfm;
pub mod segment;
pub mod tier;

use std::path::PathBuf;

/// What can go wrong reading a member-value config or writing its output.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    #[error("cannot read {path}: {source}")]
    Io {
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
