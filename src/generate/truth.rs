//! `truth.parquet`: what every generated member really is (member_id, is_wool 0/1, kind, and
//! gang_id: the gang a wool account was planned in, empty for lone accounts and genuine members).
//!
//! Only evaluation reads it; it is not a contract table, so `data::read` never loads it and
//! nothing that trains or scores may. The reader checks the file as strictly as the contract
//! readers check theirs: a missing column, a null, an `is_wool` other than 0/1 or a repeated
//! member is an error naming the file, column and row.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;

use super::keys::MemberKind;
use crate::data::history::Members;
use crate::data::schema::{opt, req, Column, Kind};
use crate::data::write::{Row, RowSink, TableWriter};
use crate::data::{DataError, Table};

/// The file name inside a generated history folder.
pub const TRUTH_FILE: &str = "truth.parquet";

const BATCH_ROWS: usize = 64 * 1024;

const TRUTH_COLUMNS: &[Column] = &[
    req("member_id", Kind::Text),
    req("is_wool", Kind::Int),
    req("kind", Kind::Text),
    opt("gang_id", Kind::Text),
];

/// How a planned gang is named in the truth: `G` and its number.
pub fn gang_name(group: u32) -> Option<String> {
    (group != 0).then(|| format!("G{group:06}"))
}

/// One row as written.
struct TruthOut {
    member_id: String,
    kind: MemberKind,
    gang: Option<String>,
}

impl Row for TruthOut {
    fn columns() -> &'static [Column] {
        TRUTH_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.int(i64::from(self.kind.is_wool()));
        out.text(self.kind.name());
        out.opt_text(self.gang.as_deref());
    }
}

/// Streams truth rows into `<dir>/truth.parquet`, through the same writer as the contract
/// tables.
pub struct TruthWriter(TableWriter<TruthOut>);

impl TruthWriter {
    pub fn create(dir: &Path) -> Result<Self, DataError> {
        TableWriter::create(&dir.join(TRUTH_FILE)).map(TruthWriter)
    }

    /// One member: its kind and, for a wool account planned in a gang, the gang (`group`, 0:
    /// none; genuine members never have one).
    pub fn push(&mut self, member_id: &str, kind: MemberKind, group: u32) -> Result<(), DataError> {
        let gang = if kind.is_wool() {
            gang_name(group)
        } else {
            None
        };
        self.0.push(&TruthOut {
            member_id: member_id.to_string(),
            kind,
            gang,
        })
    }

    /// Flushes, closes the file and returns the rows written.
    pub fn finish(self) -> Result<u64, DataError> {
        self.0.finish()
    }
}

/// One member's truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthRow {
    pub member_id: String,
    pub is_wool: bool,
    /// A `MemberKind` name for generated sets; kept as text so that other sources of truth
    /// with their own kinds read too.
    pub kind: String,
    /// The gang the account belongs to (`None`: a lone account or a genuine member; also for
    /// truth files written before gangs were recorded).
    pub gang_id: Option<String>,
}

/// The truth of a generated history, in file order, with a lookup by member id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Truth {
    pub rows: Vec<TruthRow>,
    index: HashMap<String, usize>,
}

impl Truth {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn get(&self, member_id: &str) -> Option<&TruthRow> {
        self.index.get(member_id).map(|&i| &self.rows[i])
    }

    pub fn wool(&self) -> usize {
        self.rows.iter().filter(|r| r.is_wool).count()
    }

    /// Whether each member of a loaded history is wool, in the history's member order. Every
    /// member must have a truth row: evaluating against partial truth would mislead.
    pub fn for_members(&self, members: &Members) -> Result<Vec<bool>, DataError> {
        (0..members.len() as u32)
            .map(|m| {
                let id = members.id(m);
                self.get(id)
                    .map(|r| r.is_wool)
                    .ok_or_else(|| DataError::Contract {
                        table: Table::Members,
                        message: format!("member '{id}' has no row in {TRUTH_FILE}"),
                    })
            })
            .collect()
    }
}

fn malformed(path: &Path, message: String) -> DataError {
    DataError::Parquet {
        path: path.to_path_buf(),
        source: ParquetError::General(message),
    }
}

/// Reads `<dir>/truth.parquet`.
pub fn read_truth(dir: &Path) -> Result<Truth, DataError> {
    let path = dir.join(TRUTH_FILE);
    let file = File::open(&path).map_err(|source| DataError::Io {
        path: path.clone(),
        source: std::io::Error::new(
            source.kind(),
            format!("cannot open the truth file ({source}); only generated histories have one"),
        ),
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
        .map_err(|source| DataError::Parquet {
            path: path.clone(),
            source,
        })?;
    let mut truth = Truth::default();
    let mut first_row = 1u64;
    for batch in reader {
        let batch = batch.map_err(|source| DataError::Arrow {
            path: path.clone(),
            source,
        })?;
        read_batch(&path, &batch, first_row, &mut truth)?;
        first_row += batch.num_rows() as u64;
    }
    Ok(truth)
}

fn column(
    path: &Path,
    batch: &RecordBatch,
    name: &str,
    to: &DataType,
) -> Result<ArrayRef, DataError> {
    let array = batch.column_by_name(name).ok_or_else(|| {
        malformed(
            path,
            format!("required column '{name}' is missing (expected member_id, is_wool, kind)"),
        )
    })?;
    let readable = match to {
        DataType::Utf8 => matches!(
            array.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        _ => array.data_type().is_integer() || array.data_type() == &DataType::Boolean,
    };
    if !readable {
        return Err(malformed(
            path,
            format!(
                "column '{name}' has type {}, expected {to}",
                array.data_type()
            ),
        ));
    }
    cast(array, to).map_err(|source| DataError::Arrow {
        path: path.to_path_buf(),
        source,
    })
}

fn read_batch(
    path: &Path,
    batch: &RecordBatch,
    first_row: u64,
    truth: &mut Truth,
) -> Result<(), DataError> {
    let ids = column(path, batch, "member_id", &DataType::Utf8)?;
    let wool = column(path, batch, "is_wool", &DataType::Int64)?;
    let kinds = column(path, batch, "kind", &DataType::Utf8)?;
    let gangs = match batch.column_by_name("gang_id") {
        Some(_) => Some(column(path, batch, "gang_id", &DataType::Utf8)?),
        None => None,
    };
    let gangs = gangs.as_ref().map(|g| g.as_string::<i32>());
    let (ids, wool, kinds) = (
        ids.as_string::<i32>(),
        wool.as_primitive::<Int64Type>(),
        kinds.as_string::<i32>(),
    );
    for i in 0..batch.num_rows() {
        let row = first_row + i as u64;
        let cell = |c: &str, what: &str| malformed(path, format!("column {c}, row {row}: {what}"));
        if ids.is_null(i) || ids.value(i).is_empty() {
            return Err(cell("member_id", "empty"));
        }
        if wool.is_null(i) {
            return Err(cell("is_wool", "empty"));
        }
        if kinds.is_null(i) {
            return Err(cell("kind", "empty"));
        }
        let is_wool = match wool.value(i) {
            0 => false,
            1 => true,
            v => return Err(cell("is_wool", &format!("{v} is not 0 or 1"))),
        };
        let id = ids.value(i);
        if truth.index.contains_key(id) {
            return Err(cell("member_id", &format!("'{id}' appears twice")));
        }
        truth.index.insert(id.to_string(), truth.rows.len());
        truth.rows.push(TruthRow {
            member_id: id.to_string(),
            is_wool,
            kind: kinds.value(i).to_string(),
            gang_id: gangs
                .filter(|g| g.is_valid(i) && !g.value(i).is_empty())
                .map(|g| g.value(i).to_string()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back() -> Result<(), DataError> {
        let dir = tempfile::tempdir().map_err(|source| DataError::Io {
            path: std::path::PathBuf::from("tempdir"),
            source,
        })?;
        let mut w = TruthWriter::create(dir.path())?;
        w.push("M1", MemberKind::Loyal, 0)?;
        w.push("M2", MemberKind::DeviceFarm, 17)?;
        w.push("M3", MemberKind::Loyal, 17)?;
        assert_eq!(w.finish()?, 3);
        let t = read_truth(dir.path())?;
        assert_eq!(t.len(), 3);
        assert_eq!(t.wool(), 1);
        assert_eq!(t.get("M2").map(|r| r.kind.as_str()), Some("device_farm"));
        assert_eq!(
            t.get("M2").and_then(|r| r.gang_id.as_deref()),
            Some("G000017")
        );
        // A genuine member is never in a gang, whatever its plan says.
        assert_eq!(t.get("M3").and_then(|r| r.gang_id.as_deref()), None);
        assert_eq!(t.get("M1").and_then(|r| r.gang_id.as_deref()), None);
        assert_eq!(t.get("M4"), None);
        Ok(())
    }
}
