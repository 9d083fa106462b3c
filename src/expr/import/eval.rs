//! Evaluating a checked import expression on one source row, or on a group's aggregates.

use std::borrow::Cow;
use std::sync::Arc;

use super::check::{origin, Lookup, ValueMap};
use super::{fmt_num, EvalError, Value};
use crate::data::import::timefmt::TimeFormat;
use crate::expr::lex::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOn {
    Num,
    Text,
    Time,
    Bool,
}

/// A checked expression, ready to evaluate.
#[derive(Debug, Clone)]
pub enum Expr {
    Const(Value<'static>),
    Cell(usize),
    RowNumber,
    /// The value of an aggregate of a group (grouped feeds, after all rows are in).
    Slot(usize),
    /// Text read as a number; the flag marks an operand of `+`, whose error hints at `&`.
    ToNum(Box<Expr>, Option<usize>, bool),
    ToBool(Box<Expr>, Option<usize>),
    ToTime(Box<Expr>, Box<TimeFormat>, Option<usize>),
    ToText(Box<Expr>),
    Neg(Box<Expr>),
    Arith(ArOp, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    Cmp(Op, CmpOn, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Abs(Box<Expr>),
    Round(Box<Expr>, i32),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Coalesce(Vec<Expr>),
    IsEmpty(Box<Expr>),
    Lookup(Arc<Lookup>, Box<Expr>, usize),
    Map(Arc<ValueMap>, Box<Expr>),
    Lower(Box<Expr>),
    Upper(Box<Expr>),
    Trim(Box<Expr>),
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// What an expression reads: the current row (per-row phase) or a group's slots.
pub struct Ctx<'a> {
    pub record: Option<&'a csv::StringRecord>,
    /// 1-based data row number (header excluded).
    pub row: u64,
    pub slots: &'a [Option<Value<'static>>],
}

pub(super) fn num(v: Value<'_>, needed: &str) -> Result<f64, EvalError> {
    match v {
        Value::Num(x) => Ok(x),
        Value::Null(o) => Err(EvalError::empty(o, needed)),
        _ => Err(EvalError::internal("a number was expected")),
    }
}

pub(super) fn boolean(v: Value<'_>) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::Null(o) => Err(EvalError::empty(o, "a true/false value")),
        _ => Err(EvalError::internal("a boolean was expected")),
    }
}

pub(super) fn text(v: Value<'_>) -> Result<Cow<'_, str>, EvalError> {
    match v {
        Value::Text(s) => Ok(s),
        Value::Num(x) => Ok(Cow::Owned(fmt_num(x))),
        Value::Null(o) => Err(EvalError::empty(o, "text")),
        _ => Err(EvalError::internal("text was expected")),
    }
}

pub(super) fn time(v: Value<'_>) -> Result<i64, EvalError> {
    match v {
        Value::Time(t) => Ok(t),
        Value::Null(o) => Err(EvalError::empty(o, "a time")),
        _ => Err(EvalError::internal("a time was expected")),
    }
}

/// Reads a boolean the way exports spell one.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

fn map_text<'a>(v: Value<'a>, f: impl Fn(&str) -> String) -> Result<Value<'a>, EvalError> {
    match v {
        Value::Null(o) => Ok(Value::Null(o)),
        other => Ok(Value::Text(Cow::Owned(f(&text(other)?)))),
    }
}

impl Expr {
    pub fn eval<'a>(&'a self, cx: &Ctx<'a>) -> Result<Value<'a>, EvalError> {
        Ok(match self {
            Expr::Const(v) => v.view(),
            Expr::Cell(i) => {
                let record = cx
                    .record
                    .ok_or_else(|| EvalError::internal("a cell read outside a row"))?;
                match record.get(*i) {
                    Some(s) if !s.is_empty() => Value::Text(Cow::Borrowed(s)),
                    _ => Value::Null(Some(*i)),
                }
            }
            Expr::RowNumber => Value::Num(cx.row as f64),
            Expr::Slot(i) => match cx.slots.get(*i) {
                Some(Some(v)) => v.view(),
                _ => return Err(EvalError::internal("an aggregate without a value")),
            },
            Expr::ToNum(e, o, plus) => match e.eval(cx)? {
                Value::Text(s) => match s.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => Value::Num(v),
                    _ => {
                        let hint = if *plus {
                            " (`a + b` of two columns adds numbers; `a & b` joins text)"
                        } else {
                            ""
                        };
                        return Err(EvalError::new(*o, format!("'{s}' is not a number{hint}")));
                    }
                },
                other => other,
            },
            Expr::ToBool(e, o) => match e.eval(cx)? {
                Value::Text(s) => match parse_bool(&s) {
                    Some(b) => Value::Bool(b),
                    None => {
                        return Err(EvalError::new(
                            *o,
                            format!(
                                "'{s}' is not true/false (accepted: true, false, 1, 0, yes, no)"
                            ),
                        ))
                    }
                },
                other => other,
            },
            Expr::ToTime(e, format, o) => match e.eval(cx)? {
                Value::Text(s) => Value::Time(format.parse(&s).map_err(|m| EvalError::new(*o, m))?),
                other => other,
            },
            Expr::ToText(e) => match e.eval(cx)? {
                Value::Num(v) => Value::Text(Cow::Owned(fmt_num(v))),
                Value::Bool(b) => Value::Text(Cow::Borrowed(if b { "true" } else { "false" })),
                Value::Time(t) => Value::Text(Cow::Owned(crate::data::summary::iso(t))),
                other => other,
            },
            Expr::Neg(e) => Value::Num(-num(e.eval(cx)?, "a number")?),
            Expr::Arith(op, a, b) => {
                let x = num(a.eval(cx)?, "a number")?;
                let y = num(b.eval(cx)?, "a number")?;
                let v = match op {
                    ArOp::Add => x + y,
                    ArOp::Sub => x - y,
                    ArOp::Mul => x * y,
                    ArOp::Div => x / y,
                };
                if !v.is_finite() {
                    let what = if *op == ArOp::Div && y == 0.0 {
                        "a division by zero"
                    } else {
                        "a number too large"
                    };
                    return Err(EvalError::new(
                        None,
                        format!("{what} ({} and {})", fmt_num(x), fmt_num(y)),
                    ));
                }
                Value::Num(v)
            }
            Expr::Concat(a, b) => {
                let mut s = text(a.eval(cx)?)?.into_owned();
                s.push_str(&text(b.eval(cx)?)?);
                Value::Text(Cow::Owned(s))
            }
            Expr::Cmp(op, on, a, b) => {
                let ord = match on {
                    CmpOn::Num => {
                        let x = num(a.eval(cx)?, "a number")?;
                        let y = num(b.eval(cx)?, "a number")?;
                        x.partial_cmp(&y)
                    }
                    CmpOn::Text => {
                        let x = text(a.eval(cx)?)?;
                        let y = text(b.eval(cx)?)?;
                        Some(x.as_ref().cmp(y.as_ref()))
                    }
                    CmpOn::Time => Some(time(a.eval(cx)?)?.cmp(&time(b.eval(cx)?)?)),
                    CmpOn::Bool => Some(boolean(a.eval(cx)?)?.cmp(&boolean(b.eval(cx)?)?)),
                };
                let ord = ord.ok_or_else(|| EvalError::internal("numbers that do not compare"))?;
                use std::cmp::Ordering::*;
                Value::Bool(match op {
                    Op::Eq => ord == Equal,
                    Op::Ne => ord != Equal,
                    Op::Lt => ord == Less,
                    Op::Le => ord != Greater,
                    Op::Gt => ord == Greater,
                    Op::Ge => ord != Less,
                })
            }
            Expr::And(a, b) => Value::Bool(boolean(a.eval(cx)?)? && boolean(b.eval(cx)?)?),
            Expr::Or(a, b) => Value::Bool(boolean(a.eval(cx)?)? || boolean(b.eval(cx)?)?),
            Expr::Not(a) => Value::Bool(!boolean(a.eval(cx)?)?),
            Expr::Abs(a) => Value::Num(num(a.eval(cx)?, "a number")?.abs()),
            Expr::Round(a, digits) => {
                let x = num(a.eval(cx)?, "a number")?;
                let scale = 10f64.powi(*digits);
                Value::Num((x * scale).round() / scale)
            }
            Expr::If(c, a, b) => {
                if boolean(c.eval(cx)?)? {
                    a.eval(cx)?
                } else {
                    b.eval(cx)?
                }
            }
            Expr::Coalesce(parts) => {
                let mut last = Value::Null(None);
                for p in parts {
                    last = p.eval(cx)?;
                    if !matches!(last, Value::Null(_)) {
                        break;
                    }
                }
                last
            }
            Expr::IsEmpty(e) => Value::Bool(match e.eval(cx)? {
                Value::Null(_) => true,
                Value::Text(s) => s.is_empty(),
                _ => false,
            }),
            Expr::Lookup(table, key, col) => {
                let k = key.eval(cx)?;
                let o = if let Value::Null(o) = k {
                    o
                } else {
                    origin(key)
                };
                let k = text(k)?;
                let found = table.rows.get(k.as_ref()).ok_or_else(|| {
                    EvalError::new(
                        o,
                        format!(
                            "no row of {} has {} = '{k}'",
                            table.file.display(),
                            table.key_column
                        ),
                    )
                })?;
                match found.get(*col) {
                    Some(s) if !s.is_empty() => Value::Text(Cow::Borrowed(s)),
                    _ => Value::Null(None),
                }
            }
            Expr::Map(map, e) => match e.eval(cx)? {
                Value::Null(o) => match map.entries.get("") {
                    Some(v) => Value::Text(Cow::Borrowed(v)),
                    None => Value::Null(o),
                },
                other => {
                    let key = text(other)?;
                    match map.entries.get(key.as_ref()).or(map.fallback.as_ref()) {
                        Some(v) => Value::Text(Cow::Borrowed(v)),
                        None => {
                            return Err(EvalError::new(
                                origin(e),
                                format!(
                                    "'{key}' is not in [maps.{}] (add it, or a \"*\" entry for all other values)",
                                    map.name
                                ),
                            ))
                        }
                    }
                }
            },
            Expr::Lower(e) => map_text(e.eval(cx)?, |s| s.to_lowercase())?,
            Expr::Upper(e) => map_text(e.eval(cx)?, |s| s.to_uppercase())?,
            Expr::Trim(e) => match e.eval(cx)? {
                Value::Text(Cow::Borrowed(s)) => {
                    let t = s.trim();
                    if t.is_empty() {
                        Value::Null(None)
                    } else {
                        Value::Text(Cow::Borrowed(t))
                    }
                }
                other => map_text(other, |s| s.trim().to_string())?,
            },
        })
    }

    /// Every text this expression can give without reading a row, when that set is known
    /// (constants, maps, the branches of if / coalesce); used to check vocabulary columns when the
    /// mapping is checked rather than on the first bad row.
    pub fn possible_texts(&self) -> Option<Vec<String>> {
        match self {
            Expr::Const(Value::Text(s)) => Some(vec![s.to_string()]),
            Expr::Const(Value::Num(v)) => Some(vec![fmt_num(*v)]),
            Expr::Const(Value::Null(_)) => Some(Vec::new()),
            Expr::ToText(e) | Expr::ToNum(e, _, _) => e.possible_texts(),
            Expr::Map(m, _) => {
                let mut out: Vec<String> = m.entries.values().cloned().collect();
                out.extend(m.fallback.iter().cloned());
                Some(out)
            }
            Expr::If(_, a, b) => {
                let mut out = a.possible_texts()?;
                out.extend(b.possible_texts()?);
                Some(out)
            }
            Expr::Coalesce(parts) => {
                let mut out = Vec::new();
                for p in parts {
                    out.extend(p.possible_texts()?);
                }
                Some(out)
            }
            _ => None,
        }
    }
}
