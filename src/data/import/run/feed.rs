//! One feed being run: its rows (or groups of rows) evaluated into output values, and each
//! output value read back as the contract column's type, with the source column, file and row
//! of a bad value.

use std::borrow::Cow;

use super::FastMap;
use crate::data::error::Location;
use crate::data::import::mapping::{Feed, Source};
use crate::data::import::{FeedReport, ImportError};
use crate::data::schema::Vocabulary;
use crate::expr::import::{fmt_num, Ctx, EvalError, Value};

/// Where an output row came from.
pub(super) enum Origin<'k> {
    Row(u64),
    Group { first_row: u64, key: &'k str },
}

impl Origin<'_> {
    pub(super) fn row(&self) -> u64 {
        match self {
            Origin::Row(r) => *r,
            Origin::Group { first_row, .. } => *first_row,
        }
    }
}

/// An open group; its key lives only in `FeedRun::index` (one copy per group, not two).
struct GroupState {
    pub(super) first_row: u64,
    slots: Vec<Option<Value<'static>>>,
}

/// One feed being run: its counters and, when grouped, its open groups.
pub(super) struct FeedRun<'m> {
    pub(super) feed: &'m Feed,
    pub(super) source: &'m Source,
    pub(super) index: FastMap<String, usize>,
    groups: Vec<GroupState>,
    pub(super) report: FeedReport,
}

impl<'m> FeedRun<'m> {
    pub(super) fn new(feed: &'m Feed, source: &'m Source) -> Self {
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

    pub(super) fn row(
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
            return sink.accept(&self.out(&values, &Origin::Row(row)));
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
    pub(super) fn finish(&mut self, sink: &mut dyn Sink) -> Result<(), ImportError> {
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
            sink.accept(&self.out(&values, &origin))?;
        }
        Ok(())
    }

    /// An output row of this feed, for a sink.
    fn out<'v, 'a>(
        &'v self,
        values: &'v [Option<Value<'a>>],
        origin: &'v Origin<'v>,
    ) -> Out<'v, 'a> {
        Out {
            feed: self.feed,
            source: self.source,
            values,
            origin,
        }
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
pub(super) trait Sink {
    fn accept(&mut self, out: &Out<'_, '_>) -> Result<(), ImportError>;
}

/// One output row with what is needed to explain a bad value in it.
pub(super) struct Out<'v, 'a> {
    pub(super) feed: &'v Feed,
    pub(super) source: &'v Source,
    pub(super) values: &'v [Option<Value<'a>>],
    pub(super) origin: &'v Origin<'v>,
}

impl Out<'_, '_> {
    pub(super) fn error(&self, c: usize, message: String) -> ImportError {
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

    pub(super) fn given(&self, c: usize) -> bool {
        matches!(self.values.get(c), Some(Some(_)))
    }

    fn required(&self, c: usize) -> ImportError {
        self.error(c, "the value is empty, and the column is required".into())
    }

    pub(super) fn opt_str(&self, c: usize) -> Result<Option<Cow<'_, str>>, ImportError> {
        match self.value(c) {
            None => Ok(None),
            Some(Value::Text(s)) if s.is_empty() => Ok(None),
            Some(Value::Text(s)) => Ok(Some(Cow::Borrowed(s.as_ref()))),
            Some(Value::Num(v)) => Ok(Some(Cow::Owned(fmt_num(*v)))),
            Some(other) => Err(self.error(c, format!("{other} is not text"))),
        }
    }

    pub(super) fn str(&self, c: usize) -> Result<Cow<'_, str>, ImportError> {
        self.opt_str(c)?.ok_or_else(|| self.required(c))
    }

    pub(super) fn opt_text(&self, c: usize) -> Result<Option<String>, ImportError> {
        Ok(self.opt_str(c)?.map(Cow::into_owned))
    }

    pub(super) fn text(&self, c: usize) -> Result<String, ImportError> {
        self.opt_text(c)?.ok_or_else(|| self.required(c))
    }

    pub(super) fn opt_time(&self, c: usize) -> Result<Option<i64>, ImportError> {
        match self.value(c) {
            None => Ok(None),
            Some(Value::Time(t)) => Ok(Some(*t)),
            Some(other) => Err(self.error(c, format!("{other} is not a time"))),
        }
    }

    pub(super) fn time(&self, c: usize) -> Result<i64, ImportError> {
        self.opt_time(c)?.ok_or_else(|| self.required(c))
    }

    fn number(&self, c: usize) -> Result<f64, ImportError> {
        match self.value(c) {
            None => Err(self.required(c)),
            Some(Value::Num(v)) if v.is_finite() => Ok(*v),
            Some(other) => Err(self.error(c, format!("{other} is not a finite number"))),
        }
    }

    pub(super) fn money(&self, c: usize) -> Result<f64, ImportError> {
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

    pub(super) fn int(&self, c: usize) -> Result<i64, ImportError> {
        let v = self.number(c)?;
        if v.fract() != 0.0 || v.abs() > 9.0e15 {
            return Err(self.error(c, format!("{} is not a whole number", fmt_num(v))));
        }
        Ok(v as i64)
    }

    pub(super) fn boolean(&self, c: usize) -> Result<bool, ImportError> {
        match self.value(c) {
            None => Err(self.required(c)),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.error(c, format!("{other} is not true/false"))),
        }
    }

    pub(super) fn vocab<V: Vocabulary + PartialEq>(
        &self,
        c: usize,
    ) -> Result<&'static str, ImportError> {
        let raw = self.text(c)?;
        match V::parse(&raw) {
            Some(v) => Ok(v.name()),
            None => Err(self.error(c, format!("'{raw}' is not one of {}", V::expected()))),
        }
    }
}
