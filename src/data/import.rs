//! Import: turn a real export (CSV files whose names and shapes never match ours) into the data
//! contract of DESIGN.md §3, driven by a TOML column mapping, so that another brand's export is
//! mapped by writing a file, not code.
//!
//! The importer never guesses and never drops a row silently: a mistake in the mapping is an error
//! naming the mapping file and the key, found before any row is read; a bad source value is an
//! error naming the source file, column and row (1-based data row, the header is not counted).
//! Rows left out on purpose are those a feed's `where` rejects, and the report counts them.
//!
//! # The mapping format
//!
//! ```toml
//! source = "../exports/brand"      # export folder, relative to this file (--source overrides)
//! utc_offset = "+08:00"            # where times without an offset were recorded (default UTC)
//!
//! [sources.tx]                     # a source: one CSV file of the export
//! file = "orders_lines.csv"        # relative to `source`
//! delimiter = ","                  # optional: one character or "tab"
//!
//! [sources.campaigns]
//! file = "campaigns.csv"
//! key = "campaign_id"              # optional: loaded whole, for lookup(campaigns, id, column)
//!
//! [maps.coupon_kind]               # value maps, for map(coupon_kind, x)
//! "NEW" = "welcome"
//! "*" = "promo"                    # optional fallback for any other value
//!
//! [[members]]                      # a feed: each row (or group) of a source → a contract row
//! from = "tx"                      # the source it reads
//! member_id = "buyer_id"           # contract column = expression
//! joined_at = "time(paid_at, '%Y-%m-%d %H:%M:%S')"
//! channel = "'tmall'"              # constant text: quoted inside the TOML string
//!
//! [[orders]]
//! from = "tx"
//! where = "status != 'test'"       # optional: rows to leave out (counted in the report)
//! group_by = "order_no"            # optional: one contract row per distinct key
//! order_id = "order_no"            # outside an aggregate: must agree across the group's rows
//! member_id = "buyer_id"
//! at = "min(time(paid_at, '%Y-%m-%d %H:%M:%S'))"
//! amount = "sum(paid)"
//! discount = "sum(coupon_off + promo_off)"
//! list_amount = "sum(paid + coupon_off + promo_off)"
//! coupon_id = "first(coupon_code)"
//! channel = "'tmall'"
//! refunded = "any(status == 'refund')"
//! ```
//!
//! - Tables: `members`, `coupons`, `orders`, `points`, `labels`, each given by one `[table]` or
//!   several `[[table]]` feeds (counted from 1 in messages: `orders[2].amount`). Feed keys are
//!   `from`, `where`, `group_by`; every other key must be a column of the table. A feed of an event
//!   table gives all its required columns; optional columns left out are empty.
//! - Members are merged by `member_id` across all members feeds, so a table the export lacks can
//!   be derived: `joined_at` is the earliest time any feed gives (the first event of a customer).
//!   Each other column comes from a feed without `joined_at` (a customer file) when one gives it,
//!   else from the earliest row that has a value. A members feed may leave out `joined_at` or
//!   `channel` if another gives them. Every event's member must be among the members.
//! - Values are expressions (see `crate::expr::import`): a column name (in backticks if it has
//!   spaces or punctuation), a constant (`'text'`, `12.5`, `true`, `null`, or a bare TOML number
//!   or boolean), `+ - * /`, `&` or `+` with a quoted text to join text, comparisons
//!   `= (or ==) != < <= > >=`,
//!   `and or not`, and functions: `time(x, 'strftime format' | 'iso' | 'epoch' | 'epoch_ms',
//!   'offset'?)`, `number`, `text`, `abs`, `round(x, digits)`, `if(cond, a, b?)`, `coalesce`,
//!   `empty`, `lookup(source, key, column)`, `map(name, x)`, `row()` (the 1-based data row),
//!   `lower`, `upper`, `trim`; with `group_by` also `sum min max first last count any all`.
//! - Contract rules are checked on the way out as the reader checks them: money never negative, a
//!   vocabulary value (coupon event and kind, points reason, label) within its vocabulary, order
//!   ids unique.

pub mod mapping;
mod run;
pub(crate) mod timefmt;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use mapping::{Mapping, RawMapping};

use super::error::{DataError, Location};
use super::schema::Table;
use super::write::RowCounts;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the mapping {}: {source}", path.display())]
    ReadMapping {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mapping {}: {source}", path.display())]
    MappingSyntax {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("mapping {}, key {key}: {message}", path.display())]
    Mapping {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{location}: {message}")]
    Source { location: Location, message: String },
    #[error("{location}: {source}")]
    SourceCsv {
        location: Location,
        #[source]
        source: csv::Error,
    },
    #[error("cannot import into {}: {message}", path.display())]
    Output { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
}

impl ImportError {
    /// True when the mapping or the export is at fault (the user fixes the input), false when
    /// the import could not run (I/O, the output folder).
    pub fn is_input_problem(&self) -> bool {
        matches!(
            self,
            ImportError::ReadMapping { .. }
                | ImportError::MappingSyntax { .. }
                | ImportError::Mapping { .. }
                | ImportError::Source { .. }
                | ImportError::SourceCsv { .. }
        )
    }
}

/// Progress of the scans, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    Start {
        source: &'a str,
        file: &'a Path,
        bytes: u64,
    },
    Advance {
        bytes: u64,
    },
    Finish,
}

#[derive(Default, Clone, Copy)]
pub struct ImportOptions<'p> {
    /// Replaces the mapping's `source` folder.
    pub source: Option<&'p Path>,
    /// Replace contract tables already in the output folder.
    pub force: bool,
    pub progress: Option<&'p dyn Fn(Progress<'_>)>,
}

/// What one feed did.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub table: Table,
    pub feed: String,
    pub file: PathBuf,
    pub rows_read: u64,
    /// Rows its `where` left out.
    pub rows_filtered_out: u64,
    /// Contract rows it gave (for members: before merging by member_id).
    pub rows_out: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub out: PathBuf,
    /// Rows written per table.
    pub rows: RowCounts,
    pub feeds: Vec<FeedReport>,
}

/// Reads and checks a mapping file.
pub fn load_mapping(path: &Path, source: Option<&Path>) -> Result<Mapping, ImportError> {
    RawMapping::from_file(path)?.check(path, source)
}

/// Imports the export a mapping describes into `out` as `<table>.parquet` files.
pub fn import(
    mapping: &Path,
    out: &Path,
    options: &ImportOptions<'_>,
) -> Result<ImportReport, ImportError> {
    let checked = load_mapping(mapping, options.source)?;
    run::run(&checked, out, options)
}
