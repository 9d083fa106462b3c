//! Streaming one file's rows as record batches: Parquet natively (only the contract's columns,
//! `BATCH_ROWS` at a time), CSV cut into batches of text columns. Memory holds one batch, never a
//! whole file. A file that cannot be read, or stops part-way, is a problem of that file; a CSV
//! line with the wrong number of fields is a problem of its row, and the rows after it are still
//! read and numbered where they are.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::discover::{DataFile, Format};
use super::BATCH_ROWS;
use crate::data::error::{Location, ProblemKind, Problems};
use crate::data::schema::Table;

/// Rows a Parquet file's footer announces; `None` for CSV or a footer that cannot be read (the
/// read itself reports that). Only a size hint: nothing is trusted from it.
pub(super) fn parquet_rows(file: &DataFile) -> Option<usize> {
    if file.format != Format::Parquet {
        return None;
    }
    let handle = File::open(&file.path).ok()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(handle).ok()?;
    usize::try_from(builder.metadata().file_metadata().num_rows()).ok()
}

/// Called with each batch and the 1-based row number of its first row; returns false to stop
/// reading the file (its columns are unusable).
pub(super) type OnBatch<'a> = dyn FnMut(&RecordBatch, u64, &mut Problems) -> bool + 'a;

pub(super) fn read_parquet(
    file: &Path,
    table: Table,
    on_batch: &mut OnBatch<'_>,
    problems: &mut Problems,
) {
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

pub(super) fn read_csv(
    file: &Path,
    table: Table,
    on_batch: &mut OnBatch<'_>,
    problems: &mut Problems,
) {
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
