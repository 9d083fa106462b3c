//! Writing contract tables to Parquet, row by row, in bounded memory.
//!
//! The generator and the importer both produce rows of the structs below and hand them to a
//! `TableWriter`, which buffers a batch of rows in Arrow builders and flushes it to the file; the
//! column order and types come from `schema`, so everything written here reads back through
//! `data::read` without a mapping.

use std::fs::{self, File};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::error::DataError;
use super::history::{History, MemberIdx, Sym};
use super::schema::{Column, Kind, Table, Vocabulary};

/// Rows buffered before a batch is written out.
const BATCH_ROWS: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberRow {
    pub member_id: String,
    pub joined_at: i64,
    pub channel: String,
    pub campaign_id: Option<String>,
    pub inviter_id: Option<String>,
    pub device_id: Option<String>,
    pub ip: Option<String>,
    pub phone_prefix: Option<String>,
    pub phone_hash: Option<String>,
    pub region: Option<String>,
    /// Arrival order among sign-ups with equal `joined_at` (optional; else the row order).
    pub seq: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CouponRow {
    pub member_id: String,
    pub coupon_id: String,
    pub campaign_id: Option<String>,
    /// claim / redeem / expire
    pub event: String,
    pub at: i64,
    pub face_value: f64,
    pub threshold: f64,
    /// welcome / fission / tier / promo
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderRow {
    pub order_id: String,
    pub member_id: String,
    pub at: i64,
    pub amount: f64,
    pub list_amount: f64,
    pub discount: f64,
    pub coupon_id: Option<String>,
    pub channel: String,
    pub refunded: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PointsRow {
    pub member_id: String,
    pub at: i64,
    pub delta: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelRow {
    pub member_id: String,
    pub label: i64,
    pub at: i64,
    pub source: String,
}

/// A row of one table we write (a contract table, or an output such as batch scores): its
/// columns, and its values appended in that order.
pub trait Row {
    fn columns() -> &'static [Column];
    fn append(&self, out: &mut RowSink<'_>);
}

/// The Arrow schema our writers produce for these columns.
pub fn arrow_schema(columns: &[Column]) -> arrow::datatypes::SchemaRef {
    let fields: Vec<arrow::datatypes::Field> = columns
        .iter()
        .map(|c| arrow::datatypes::Field::new(c.name, c.kind.arrow_type(), !c.required))
        .collect();
    Arc::new(arrow::datatypes::Schema::new(fields))
}

enum ColBuilder {
    Text(StringBuilder),
    Time(TimestampMillisecondBuilder),
    Money(Float64Builder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
}

impl ColBuilder {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Text => ColBuilder::Text(StringBuilder::new()),
            Kind::Time => ColBuilder::Time(TimestampMillisecondBuilder::new().with_timezone("UTC")),
            Kind::Money => ColBuilder::Money(Float64Builder::new()),
            Kind::Int => ColBuilder::Int(Int64Builder::new()),
            Kind::Bool => ColBuilder::Bool(BooleanBuilder::new()),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Text(b) => Arc::new(b.finish()),
            ColBuilder::Time(b) => Arc::new(b.finish()),
            ColBuilder::Money(b) => Arc::new(b.finish()),
            ColBuilder::Int(b) => Arc::new(b.finish()),
            ColBuilder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// Receives one row's values, column by column, in schema order.
pub struct RowSink<'a> {
    cols: &'a mut [ColBuilder],
    next: usize,
}

impl RowSink<'_> {
    fn slot(&mut self) -> &mut ColBuilder {
        let i = self.next;
        self.next += 1;
        &mut self.cols[i]
    }

    pub fn text(&mut self, v: &str) {
        self.opt_text(Some(v));
    }

    pub fn opt_text(&mut self, v: Option<&str>) {
        if let ColBuilder::Text(b) = self.slot() {
            b.append_option(v);
        }
    }

    /// UTC seconds since the epoch.
    pub fn time(&mut self, secs: i64) {
        if let ColBuilder::Time(b) = self.slot() {
            b.append_value(secs.saturating_mul(1000));
        }
    }

    pub fn money(&mut self, v: f64) {
        if let ColBuilder::Money(b) = self.slot() {
            b.append_value(v);
        }
    }

    pub fn int(&mut self, v: i64) {
        if let ColBuilder::Int(b) = self.slot() {
            b.append_value(v);
        }
    }

    pub fn opt_int(&mut self, v: Option<i64>) {
        if let ColBuilder::Int(b) = self.slot() {
            b.append_option(v);
        }
    }

    pub fn boolean(&mut self, v: bool) {
        if let ColBuilder::Bool(b) = self.slot() {
            b.append_value(v);
        }
    }
}

impl Row for MemberRow {
    fn columns() -> &'static [Column] {
        Table::Members.columns()
    }
    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.time(self.joined_at);
        out.text(&self.channel);
        out.opt_text(self.campaign_id.as_deref());
        out.opt_text(self.inviter_id.as_deref());
        out.opt_text(self.device_id.as_deref());
        out.opt_text(self.ip.as_deref());
        out.opt_text(self.phone_prefix.as_deref());
        out.opt_text(self.phone_hash.as_deref());
        out.opt_text(self.region.as_deref());
        out.opt_int(self.seq);
    }
}

impl Row for CouponRow {
    fn columns() -> &'static [Column] {
        Table::Coupons.columns()
    }
    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.text(&self.coupon_id);
        out.opt_text(self.campaign_id.as_deref());
        out.text(&self.event);
        out.time(self.at);
        out.money(self.face_value);
        out.money(self.threshold);
        out.text(&self.kind);
    }
}

impl Row for OrderRow {
    fn columns() -> &'static [Column] {
        Table::Orders.columns()
    }
    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.order_id);
        out.text(&self.member_id);
        out.time(self.at);
        out.money(self.amount);
        out.money(self.list_amount);
        out.money(self.discount);
        out.opt_text(self.coupon_id.as_deref());
        out.text(&self.channel);
        out.boolean(self.refunded);
    }
}

impl Row for PointsRow {
    fn columns() -> &'static [Column] {
        Table::Points.columns()
    }
    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.time(self.at);
        out.int(self.delta);
        out.text(&self.reason);
    }
}

impl Row for LabelRow {
    fn columns() -> &'static [Column] {
        Table::Labels.columns()
    }
    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.int(self.label);
        out.time(self.at);
        out.text(&self.source);
    }
}

/// Streams rows of one table into one Parquet file.
pub struct TableWriter<R: Row> {
    path: PathBuf,
    writer: ArrowWriter<File>,
    schema: arrow::datatypes::SchemaRef,
    cols: Vec<ColBuilder>,
    buffered: usize,
    written: u64,
    _row: PhantomData<R>,
}

impl<R: Row> TableWriter<R> {
    pub fn create(path: &Path) -> Result<Self, DataError> {
        let schema = arrow_schema(R::columns());
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|source| DataError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let file = File::create(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|source| {
            DataError::Parquet {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let cols = R::columns()
            .iter()
            .map(|c| ColBuilder::new(c.kind))
            .collect();
        Ok(TableWriter {
            path: path.to_path_buf(),
            writer,
            schema,
            cols,
            buffered: 0,
            written: 0,
            _row: PhantomData,
        })
    }

    pub fn push(&mut self, row: &R) -> Result<(), DataError> {
        row.append(&mut RowSink {
            cols: &mut self.cols,
            next: 0,
        });
        self.buffered += 1;
        if self.buffered >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DataError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(ColBuilder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|source| {
            DataError::Arrow {
                path: self.path.clone(),
                source,
            }
        })?;
        self.writer
            .write(&batch)
            .map_err(|source| DataError::Parquet {
                path: self.path.clone(),
                source,
            })?;
        self.written += self.buffered as u64;
        self.buffered = 0;
        Ok(())
    }

    /// Flushes what is buffered, closes the file and returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, DataError> {
        self.flush()?;
        self.writer.close().map_err(|source| DataError::Parquet {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.written)
    }
}

/// Writers for all five tables of a history folder (`<dir>/<table>.parquet`).
pub struct DatasetWriter {
    pub members: TableWriter<MemberRow>,
    pub coupons: TableWriter<CouponRow>,
    pub orders: TableWriter<OrderRow>,
    pub points: TableWriter<PointsRow>,
    pub labels: TableWriter<LabelRow>,
}

/// Rows written per table by `DatasetWriter::finish`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RowCounts {
    pub members: u64,
    pub coupons: u64,
    pub orders: u64,
    pub points: u64,
    pub labels: u64,
}

impl DatasetWriter {
    pub fn create(dir: &Path) -> Result<Self, DataError> {
        let file = |t: Table| dir.join(format!("{}.parquet", t.name()));
        Ok(DatasetWriter {
            members: TableWriter::create(&file(Table::Members))?,
            coupons: TableWriter::create(&file(Table::Coupons))?,
            orders: TableWriter::create(&file(Table::Orders))?,
            points: TableWriter::create(&file(Table::Points))?,
            labels: TableWriter::create(&file(Table::Labels))?,
        })
    }

    pub fn finish(self) -> Result<RowCounts, DataError> {
        Ok(RowCounts {
            members: self.members.finish()?,
            coupons: self.coupons.finish()?,
            orders: self.orders.finish()?,
            points: self.points.finish()?,
            labels: self.labels.finish()?,
        })
    }
}

/// Writes a whole history back to a contract folder (`<dir>/<table>.parquet`), row for row: the
/// reader gives back the same history. Used to keep a scorer's state as a snapshot.
pub fn write_history(h: &History, dir: &Path) -> Result<RowCounts, DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut w = DatasetWriter::create(dir)?;
    let key = |s: Sym| h.keys.opt_name(s).map(str::to_string);
    let m = &h.members;
    for i in 0..m.len() {
        w.members.push(&MemberRow {
            member_id: m.id(i as MemberIdx).to_string(),
            joined_at: m.joined_at[i],
            channel: key(m.channel[i]).unwrap_or_default(),
            campaign_id: key(m.campaign[i]),
            inviter_id: key(m.inviter[i]),
            device_id: key(m.device[i]),
            ip: key(m.ip[i]),
            phone_prefix: key(m.phone_prefix[i]),
            phone_hash: key(m.phone_hash[i]),
            region: key(m.region[i]),
            seq: m.seq.get(i).copied(),
        })?;
    }
    let c = &h.coupons;
    for i in 0..c.len() {
        w.coupons.push(&CouponRow {
            member_id: m.id(c.member[i]).to_string(),
            coupon_id: c.ids.name(c.coupon[i]).to_string(),
            campaign_id: key(c.campaign[i]),
            event: c.event[i].name().to_string(),
            at: c.at[i],
            face_value: c.face_value[i],
            threshold: c.threshold[i],
            kind: c.kind[i].name().to_string(),
        })?;
    }
    let o = &h.orders;
    for i in 0..o.len() {
        w.orders.push(&OrderRow {
            order_id: o.ids.name(o.order[i]).to_string(),
            member_id: m.id(o.member[i]).to_string(),
            at: o.at[i],
            amount: o.amount[i],
            list_amount: o.list_amount[i],
            discount: o.discount[i],
            coupon_id: h.coupons.ids.opt_name(o.coupon[i]).map(str::to_string),
            channel: key(o.channel[i]).unwrap_or_default(),
            refunded: o.refunded[i],
        })?;
    }
    let p = &h.points;
    for i in 0..p.len() {
        w.points.push(&PointsRow {
            member_id: m.id(p.member[i]).to_string(),
            at: p.at[i],
            delta: p.delta[i],
            reason: p.reason[i].name().to_string(),
        })?;
    }
    let l = &h.labels;
    for i in 0..l.len() {
        w.labels.push(&LabelRow {
            member_id: m.id(l.member[i]).to_string(),
            label: i64::from(l.label[i]),
            at: l.at[i],
            source: key(l.source[i]).unwrap_or_default(),
        })?;
    }
    w.finish()
}
