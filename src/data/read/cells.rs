//! One batch's contract columns, whatever their physical type, and the getters that check a
//! cell — it parses, it is present when required, it makes sense (a time inside the plausible
//! window, an amount or points movement within bounds) — recording a problem at the cell's exact
//! file, column and row when it is bad. It never keeps a row: that is the sink's job.

use std::path::Path;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int32Type, TimeUnit};

use crate::data::error::{Location, ProblemKind, Problems};
use crate::data::history::{Interner, MemberIdx};
use crate::data::plausible::{self, TimeWindow};
use crate::data::schema::{Column, Kind, Table, Vocabulary};

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
/// date without one (taken as UTC). Fractions of a second are dropped. The one parser flags and
/// requests use too.
pub fn parse_time(s: &str) -> Option<i64> {
    plausible::parse_time(s)
}

pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// One batch with its contract columns resolved; the getters check a cell and record a problem
/// at its exact location when it is bad.
pub(super) struct Cells<'a> {
    pub file: &'a Path,
    window: TimeWindow,
    cols: Vec<(&'static Column, ColView)>,
    first_row: u64,
    pub len: usize,
}

/// A bad cell: the problem has been recorded, the row must not be accepted.
pub(super) struct Bad;

impl<'a> Cells<'a> {
    /// Resolves the batch's columns; records a problem and returns `None` when a required column
    /// is missing or has a type we cannot read.
    pub fn new(
        file: &'a Path,
        table: Table,
        window: TimeWindow,
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
            window,
            cols,
            first_row,
            len: batch.num_rows(),
        })
    }

    pub fn row(&self, i: usize) -> u64 {
        self.first_row + i as u64
    }

    pub fn report(
        &self,
        p: &mut Problems,
        c: usize,
        i: usize,
        kind: ProblemKind,
        msg: String,
    ) -> Bad {
        p.push(
            kind,
            Location::cell(self.file, self.cols[c].0.name, self.row(i)),
            msg,
        );
        Bad
    }

    pub fn missing(&self, p: &mut Problems, c: usize, i: usize) -> Bad {
        let msg = format!("'{}' is required and empty", self.cols[c].0.name);
        self.report(p, c, i, ProblemKind::MissingValue, msg)
    }

    pub fn opt_text(&self, c: usize, i: usize) -> Option<&str> {
        match &self.cols[c].1 {
            ColView::Text(a) if a.is_valid(i) => Some(a.value(i)).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    /// An optional whole number: `None` when the column is absent or the cell empty.
    pub fn opt_int(&self, p: &mut Problems, c: usize, i: usize) -> Option<Result<i64, Bad>> {
        match self.cols.get(c).map(|c| &c.1) {
            Some(ColView::Int(a)) if a.is_valid(i) => Some(Ok(a.value(i))),
            Some(ColView::Text(a)) if a.is_valid(i) && !a.value(i).trim().is_empty() => {
                Some(self.int(p, c, i))
            }
            Some(ColView::Float(a)) if a.is_valid(i) => Some(self.int(p, c, i)),
            _ => None,
        }
    }

    pub fn text(&self, p: &mut Problems, c: usize, i: usize) -> Result<&str, Bad> {
        self.opt_text(c, i).ok_or_else(|| self.missing(p, c, i))
    }

    pub fn time(&self, p: &mut Problems, c: usize, i: usize) -> Result<i64, Bad> {
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
        let t = found.ok_or_else(|| self.missing(p, c, i))?;
        self.window
            .check(t)
            .map_err(|e| self.report(p, c, i, ProblemKind::ImplausibleTime, e.0))
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

    /// A money amount: a finite number, never negative, within [`plausible::MAX_AMOUNT`].
    pub fn money(&self, p: &mut Problems, c: usize, i: usize) -> Result<f64, Bad> {
        let v = self.number(p, c, i)?;
        if v < 0.0 {
            let msg = format!("{v} is negative; '{}' cannot be", self.cols[c].0.name);
            return Err(self.report(p, c, i, ProblemKind::NegativeValue, msg));
        }
        plausible::check_amount(v)
            .map_err(|e| self.report(p, c, i, ProblemKind::ImplausibleValue, e.0))
    }

    /// A whole number, exact for integer columns and integer text; a float beyond the range of
    /// i64 saturates (the caller's bounds refuse it).
    pub fn int(&self, p: &mut Problems, c: usize, i: usize) -> Result<i64, Bad> {
        match &self.cols[c].1 {
            ColView::Int(a) if a.is_valid(i) => return Ok(a.value(i)),
            ColView::Text(a) if a.is_valid(i) => {
                if let Ok(v) = a.value(i).trim().parse::<i64>() {
                    return Ok(v);
                }
            }
            _ => {}
        }
        let v = self.number(p, c, i)?;
        if v.fract() != 0.0 {
            let msg = format!("{v} is not a whole number");
            return Err(self.report(p, c, i, ProblemKind::BadNumber, msg));
        }
        Ok(v as i64)
    }

    /// A points movement: a whole number within [`plausible::MAX_POINTS_DELTA`] either way.
    pub fn points(&self, p: &mut Problems, c: usize, i: usize) -> Result<i64, Bad> {
        let v = self.int(p, c, i)?;
        plausible::check_points(v)
            .map_err(|e| self.report(p, c, i, ProblemKind::ImplausibleValue, e.0))
    }

    pub fn boolean(&self, p: &mut Problems, c: usize, i: usize) -> Result<bool, Bad> {
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

    pub fn vocab<V: Vocabulary>(&self, p: &mut Problems, c: usize, i: usize) -> Result<V, Bad> {
        let raw = self.text(p, c, i)?;
        V::parse(raw).ok_or_else(|| {
            let msg = format!("'{raw}' is not one of {}", V::expected());
            self.report(p, c, i, ProblemKind::UnknownValue, msg)
        })
    }

    pub fn member(
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
pub(super) struct LastMember {
    id: String,
    idx: Option<MemberIdx>,
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
