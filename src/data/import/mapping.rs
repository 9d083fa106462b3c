//! Import mappings: the TOML as written (`RawMapping`, deserialized unchecked) and the checked
//! `Mapping` that `check()` makes of it, in the manner of a parameter guard: every name, expression
//! and time format is resolved against the real source headers before a single row is imported,
//! and each mistake is an error naming the mapping file and the key.
//!
//! Checking reads each source's header line and loads the (small) sources that have a `key`
//! whole, for `lookup()`; it never reads the data rows of the other sources.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::FixedOffset;
use serde::Deserialize;

use super::timefmt::{parse_offset, utc};
use super::ImportError;
use crate::data::error::Location;
use crate::data::schema::{CouponEvent, CouponKind, Kind, PointsReason, Table, Vocabulary};
use crate::expr::import::{self as expr, Compiler, Expr, Lookup, Scope, SlotDef, ValueMap, Want};

/// A mapping as written in TOML, before any check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    /// Folder of the export, relative to the mapping file (default: the mapping's own folder).
    pub source: Option<String>,
    /// Where times without their own offset were recorded, e.g. "+08:00" (default UTC).
    pub utc_offset: Option<String>,
    #[serde(default)]
    pub sources: BTreeMap<String, RawSource>,
    #[serde(default)]
    pub maps: BTreeMap<String, BTreeMap<String, toml::Value>>,
    pub members: Option<toml::Value>,
    pub coupons: Option<toml::Value>,
    pub orders: Option<toml::Value>,
    pub points: Option<toml::Value>,
    pub labels: Option<toml::Value>,
}

/// One file of the export.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// CSV file, relative to the source folder.
    pub file: String,
    /// One character, or "tab" (default ",").
    pub delimiter: Option<String>,
    /// Makes the source a lookup table keyed by this column, for `lookup()`.
    pub key: Option<String>,
}

/// Keys of a feed that are not contract columns.
const FEED_KEYS: [&str; 3] = ["from", "where", "group_by"];

/// A checked mapping, ready to import.
#[derive(Debug)]
pub struct Mapping {
    pub path: PathBuf,
    pub source_dir: PathBuf,
    pub sources: Vec<Source>,
    /// Members feeds first, then coupons, orders, points, labels; each table's in file order.
    pub feeds: Vec<Feed>,
}

/// A source file whose header has been read.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub file: PathBuf,
    pub delimiter: u8,
    pub header: Vec<String>,
}

/// One feed: a source's rows (or groups of rows) turned into rows of one contract table.
#[derive(Debug)]
pub struct Feed {
    pub table: Table,
    /// `orders`, or `orders[2]` when the table has several feeds (counted from 1).
    pub label: String,
    /// Index into `Mapping::sources`.
    pub source: usize,
    pub filter: Option<Expr>,
    pub group: Option<Grouping>,
    /// By contract column index; `None` where this feed does not give the column.
    pub columns: Vec<Option<ColumnExpr>>,
}

#[derive(Debug)]
pub struct Grouping {
    pub key: Expr,
    /// The `group_by` text, for messages.
    pub text: String,
    pub slots: Vec<SlotDef>,
}

#[derive(Debug)]
pub struct ColumnExpr {
    /// `orders.amount`, for messages.
    pub name: String,
    /// The expression as written.
    pub text: String,
    pub expr: Expr,
}

impl RawMapping {
    pub fn from_toml(path: &Path, text: &str) -> Result<Self, ImportError> {
        toml::from_str(text).map_err(|source| ImportError::MappingSyntax {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    pub fn from_file(path: &Path) -> Result<Self, ImportError> {
        let text = fs::read_to_string(path).map_err(|source| ImportError::ReadMapping {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(path, &text)
    }

    /// Resolves every name against the sources; `path` is the mapping file (relative `source`
    /// folders start from its folder), `source_override` replaces the `source` folder.
    pub fn check(
        self,
        path: &Path,
        source_override: Option<&Path>,
    ) -> Result<Mapping, ImportError> {
        let bad = |key: &str, message: String| ImportError::Mapping {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let offset: FixedOffset = match &self.utc_offset {
            Some(s) => parse_offset(s).map_err(|m| bad("utc_offset", m))?,
            None => utc(),
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let (source_dir, source_key) = match source_override {
            Some(dir) => (dir.to_path_buf(), "source (given by --source)"),
            None => match &self.source {
                Some(s) => (base.join(s), "source"),
                None => (base.clone(), "source (default: the mapping's folder)"),
            },
        };
        if !source_dir.is_dir() {
            return Err(bad(
                source_key,
                format!("the export folder {} does not exist", source_dir.display()),
            ));
        }

        let mut sources = Vec::new();
        let mut lookups: HashMap<String, Arc<Lookup>> = HashMap::new();
        for (name, raw) in &self.sources {
            let key = format!("sources.{name}");
            let file = source_dir.join(&raw.file);
            if !file.is_file() {
                return Err(bad(
                    &format!("{key}.file"),
                    format!("{} does not exist", file.display()),
                ));
            }
            let delimiter = match raw.delimiter.as_deref() {
                None => b',',
                Some("tab") | Some("\t") => b'\t',
                Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
                Some(d) => {
                    return Err(bad(
                        &format!("{key}.delimiter"),
                        format!("'{d}' is not one ASCII character (or \"tab\")"),
                    ))
                }
            };
            let header =
                read_header(&file, delimiter).map_err(|m| bad(&format!("{key}.file"), m))?;
            if let Some(k) = &raw.key {
                let col = header.iter().position(|h| h == k).ok_or_else(|| {
                    bad(
                        &format!("{key}.key"),
                        format!(
                            "'{k}' is not a column of {} (its columns: {})",
                            file.display(),
                            header.join(", ")
                        ),
                    )
                })?;
                let rows = load_lookup(&file, delimiter, k, col)?;
                lookups.insert(
                    name.clone(),
                    Arc::new(Lookup {
                        name: name.clone(),
                        file: file.clone(),
                        key_column: k.clone(),
                        header: header.clone(),
                        rows,
                    }),
                );
            }
            sources.push(Source {
                name: name.clone(),
                file,
                delimiter,
                header,
            });
        }

        let mut maps: HashMap<String, Arc<ValueMap>> = HashMap::new();
        for (name, entries) in &self.maps {
            let mut map = ValueMap {
                name: name.clone(),
                entries: HashMap::new(),
                fallback: None,
            };
            for (from, to) in entries {
                let to = match to {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => expr::fmt_num(*f),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => {
                        return Err(bad(
                            &format!("maps.{name}.{from}"),
                            "a map value must be a text, a number or a boolean".into(),
                        ))
                    }
                };
                if from == "*" {
                    map.fallback = Some(to);
                } else {
                    map.entries.insert(from.clone(), to);
                }
            }
            maps.insert(name.clone(), Arc::new(map));
        }

        let mut feeds = Vec::new();
        let tables = [
            (Table::Members, &self.members),
            (Table::Coupons, &self.coupons),
            (Table::Orders, &self.orders),
            (Table::Points, &self.points),
            (Table::Labels, &self.labels),
        ];
        for (table, value) in tables {
            let Some(value) = value else { continue };
            let items: Vec<&toml::Table> = match value {
                toml::Value::Table(t) => vec![t],
                toml::Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_table())
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        bad(
                            table.name(),
                            format!("must be a table [{table}] or tables [[{table}]]"),
                        )
                    })?,
                _ => {
                    return Err(bad(
                        table.name(),
                        format!("must be a table [{table}] or tables [[{table}]]"),
                    ))
                }
            };
            let several = items.len() > 1;
            for (i, item) in items.into_iter().enumerate() {
                let label = if several {
                    format!("{table}[{}]", i + 1)
                } else {
                    table.name().to_string()
                };
                let ctx = FeedContext {
                    path,
                    sources: &sources,
                    lookups: &lookups,
                    maps: &maps,
                    offset,
                };
                feeds.push(ctx.feed(table, label, item)?);
            }
        }

        let members: Vec<&Feed> = feeds.iter().filter(|f| f.table == Table::Members).collect();
        if members.is_empty() {
            return Err(bad(
                "members",
                "no [[members]] feed: the mapping must say where members come from (a customer file, or the first event of each customer)".into(),
            ));
        }
        for (c, column) in Table::Members.columns().iter().enumerate() {
            if column.required && members.iter().all(|f| f.columns[c].is_none()) {
                return Err(bad(
                    "members",
                    format!(
                        "no [[members]] feed gives {}, which every member needs",
                        column.name
                    ),
                ));
            }
        }

        Ok(Mapping {
            path: path.to_path_buf(),
            source_dir,
            sources,
            feeds,
        })
    }
}

struct FeedContext<'c> {
    path: &'c Path,
    sources: &'c [Source],
    lookups: &'c HashMap<String, Arc<Lookup>>,
    maps: &'c HashMap<String, Arc<ValueMap>>,
    offset: FixedOffset,
}

fn want_of(kind: Kind) -> Want {
    match kind {
        Kind::Text => Want::Text,
        Kind::Time => Want::Time,
        Kind::Money | Kind::Int => Want::Num,
        Kind::Bool => Want::Bool,
    }
}

impl FeedContext<'_> {
    fn bad(&self, key: &str, message: String) -> ImportError {
        ImportError::Mapping {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            message,
        }
    }

    fn text_key(
        &self,
        item: &toml::Table,
        label: &str,
        key: &str,
    ) -> Result<Option<String>, ImportError> {
        match item.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(&format!("{label}.{key}"), "must be a text".into())),
        }
    }

    fn parse(&self, key: &str, text: &str) -> Result<expr::Ast, ImportError> {
        expr::parse(text).map_err(|e| self.bad(key, format!("`{text}`: {e}")))
    }

    fn feed(&self, table: Table, label: String, item: &toml::Table) -> Result<Feed, ImportError> {
        let from = self
            .text_key(item, &label, "from")?
            .ok_or_else(|| self.bad(&label, "says no `from` (the source it reads)".into()))?;
        let source = self
            .sources
            .iter()
            .position(|s| s.name == from)
            .ok_or_else(|| {
                let names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
                self.bad(
                    &format!("{label}.from"),
                    format!(
                        "there is no [sources.{from}] (sources: {})",
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    ),
                )
            })?;
        let src = &self.sources[source];
        let file_name = src.file.display().to_string();
        let scope = Scope {
            file: &file_name,
            header: &src.header,
            lookups: self.lookups,
            maps: self.maps,
            offset: self.offset,
        };
        let group_text = self.text_key(item, &label, "group_by")?;
        let mut compiler = Compiler::new(&scope, group_text.is_some());

        let filter = match self.text_key(item, &label, "where")? {
            Some(text) => {
                let key = format!("{label}.where");
                let ast = self.parse(&key, &text)?;
                Some(
                    compiler
                        .row_level(&ast, Want::Bool)
                        .map_err(|m| self.bad(&key, format!("`{text}`: {m}")))?,
                )
            }
            None => None,
        };
        let group_key = match &group_text {
            Some(text) => {
                let key = format!("{label}.group_by");
                let ast = self.parse(&key, text)?;
                Some(
                    compiler
                        .row_level(&ast, Want::Text)
                        .map_err(|m| self.bad(&key, format!("`{text}`: {m}")))?,
                )
            }
            None => None,
        };

        let contract = table.columns();
        let mut columns: Vec<Option<ColumnExpr>> = contract.iter().map(|_| None).collect();
        for (name, value) in item {
            if FEED_KEYS.contains(&name.as_str()) {
                continue;
            }
            let key = format!("{label}.{name}");
            let Some(c) = contract.iter().position(|col| col.name == name) else {
                let names: Vec<&str> = contract.iter().map(|c| c.name).collect();
                return Err(self.bad(
                    &key,
                    format!(
                        "'{name}' is not a column of the {table} table (its columns: {}; feed keys: {})",
                        names.join(", "),
                        FEED_KEYS.join(", ")
                    ),
                ));
            };
            let (text, ast) = match value {
                toml::Value::String(s) => (s.clone(), self.parse(&key, s)?),
                toml::Value::Integer(i) => (i.to_string(), expr::Ast::Num(*i as f64)),
                toml::Value::Float(f) => (expr::fmt_num(*f), expr::Ast::Num(*f)),
                toml::Value::Boolean(b) => (b.to_string(), expr::Ast::Bool(*b)),
                _ => {
                    return Err(self.bad(
                        &key,
                        "must be an expression (a text), a number or a boolean".into(),
                    ))
                }
            };
            let compiled = compiler
                .column(&ast, want_of(contract[c].kind))
                .map_err(|m| self.bad(&key, format!("`{text}`: {m}")))?;
            vocabulary_check(table, contract[c].name, &compiled)
                .map_err(|m| self.bad(&key, format!("`{text}`: {m}")))?;
            columns[c] = Some(ColumnExpr {
                name: format!("{table}.{name}"),
                text,
                expr: compiled,
            });
        }

        // Members merge across feeds, so a members feed may leave out what another gives; its
        // key cannot be left out. Event rows stand alone and need every required column.
        let missing: Vec<&str> = contract
            .iter()
            .zip(&columns)
            .filter(|(col, given)| {
                col.required
                    && given.is_none()
                    && (table != Table::Members || col.name == "member_id")
            })
            .map(|(col, _)| col.name)
            .collect();
        if !missing.is_empty() {
            return Err(self.bad(
                &label,
                format!(
                    "does not give the required column(s) {} of the {table} table",
                    missing.join(", ")
                ),
            ));
        }

        let group = match (group_key, group_text) {
            (Some(key), Some(text)) => Some(Grouping {
                key,
                text,
                slots: compiler.slots,
            }),
            _ => None,
        };
        Ok(Feed {
            table,
            label,
            source,
            filter,
            group,
            columns,
        })
    }
}

/// Checks, where the values are known without reading rows, that a vocabulary column gets only
/// words of its vocabulary.
fn vocabulary_check(table: Table, column: &str, e: &Expr) -> Result<(), String> {
    let check = |ok: &dyn Fn(&str) -> bool, expected: String| -> Result<(), String> {
        if let Some(values) = e.possible_texts() {
            if let Some(v) = values.iter().find(|v| !ok(v)) {
                return Err(format!("'{v}' is not one of {expected}"));
            }
        }
        Ok(())
    };
    match (table, column) {
        (Table::Coupons, "event") => check(
            &|v| CouponEvent::parse(v).is_some(),
            CouponEvent::expected(),
        ),
        (Table::Coupons, "kind") => {
            check(&|v| CouponKind::parse(v).is_some(), CouponKind::expected())
        }
        (Table::Points, "reason") => check(
            &|v| PointsReason::parse(v).is_some(),
            PointsReason::expected(),
        ),
        (Table::Labels, "label") => check(&|v| v == "0" || v == "1", "0 / 1".into()),
        _ => Ok(()),
    }
}

fn csv_reader(file: &Path, delimiter: u8) -> Result<csv::Reader<fs::File>, csv::Error> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_path(file)
}

/// Header names, trimmed and without a byte-order mark (spreadsheet exports often start with one).
pub fn clean_header(record: &csv::StringRecord) -> Vec<String> {
    record
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect()
}

fn read_header(file: &Path, delimiter: u8) -> Result<Vec<String>, String> {
    let mut reader = csv_reader(file, delimiter).map_err(|e| format!("{}: {e}", file.display()))?;
    let header = clean_header(
        reader
            .headers()
            .map_err(|e| format!("{}: cannot read the header line: {e}", file.display()))?,
    );
    if header.iter().all(String::is_empty) {
        return Err(format!("{} has no header line", file.display()));
    }
    for (i, h) in header.iter().enumerate() {
        if header[..i].contains(h) {
            return Err(format!(
                "{} names the column '{h}' twice in its header",
                file.display()
            ));
        }
    }
    Ok(header)
}

/// Loads a lookup source whole; an empty or repeated key is an error at its row.
fn load_lookup(
    file: &Path,
    delimiter: u8,
    key: &str,
    col: usize,
) -> Result<HashMap<String, csv::StringRecord>, ImportError> {
    let mut reader = csv_reader(file, delimiter).map_err(|source| ImportError::SourceCsv {
        location: Location::file(file),
        source,
    })?;
    let mut rows: HashMap<String, (u64, csv::StringRecord)> = HashMap::new();
    let mut row = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        row += 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(source) => {
                return Err(ImportError::SourceCsv {
                    location: Location::row(file, row),
                    source,
                })
            }
        }
        let k = record.get(col).unwrap_or("").to_string();
        if k.is_empty() {
            return Err(ImportError::Source {
                location: Location::cell(file, key, row),
                message: "the key is empty; a lookup source needs one per row".into(),
            });
        }
        if let Some((first, _)) = rows.get(&k) {
            return Err(ImportError::Source {
                location: Location::cell(file, key, row),
                message: format!(
                    "the key '{k}' is also on row {first}; a lookup source needs one row per key"
                ),
            });
        }
        rows.insert(k, (row, record.clone()));
    }
    Ok(rows.into_iter().map(|(k, (_, r))| (k, r)).collect())
}
