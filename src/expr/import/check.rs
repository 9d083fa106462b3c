//! Checking an import expression against its source: names resolved to columns, lookups and
//! maps, types checked and coerced, aggregates gathered into the slots of a grouped feed. A
//! mistake here is a mapping error, found before any row is read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::FixedOffset;

use super::agg::{AggFunc, SlotDef};
use super::eval::{ArOp, CmpOn, Expr};
use super::parse::{Ast, BinOp};
use super::Value;
use crate::data::import::timefmt::{parse_offset, TimeFormat};

/// A source loaded whole, keyed by one column, for `lookup(name, key, column)`.
#[derive(Debug)]
pub struct Lookup {
    pub name: String,
    pub file: PathBuf,
    pub key_column: String,
    pub header: Vec<String>,
    pub rows: HashMap<String, csv::StringRecord>,
}

/// A `[maps.NAME]` table: source value → contract value, with an optional `"*"` fallback.
#[derive(Debug)]
pub struct ValueMap {
    pub name: String,
    pub entries: HashMap<String, String>,
    pub fallback: Option<String>,
}

/// What names resolve to while compiling the expressions of one feed.
pub struct Scope<'s> {
    /// The source file's name, for messages.
    pub file: &'s str,
    pub header: &'s [String],
    pub lookups: &'s HashMap<String, Arc<Lookup>>,
    pub maps: &'s HashMap<String, Arc<ValueMap>>,
    /// Where times without their own offset were recorded.
    pub offset: FixedOffset,
}

/// Static type of an expression. `Raw` is a source cell: text that becomes a number, time or
/// boolean where one is needed (checked per row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Raw,
    Text,
    Num,
    Bool,
    Time,
    Null,
}

impl Ty {
    fn describe(self) -> &'static str {
        match self {
            Ty::Raw => "a source value",
            Ty::Text => "text",
            Ty::Num => "a number",
            Ty::Bool => "a true/false value",
            Ty::Time => "a time",
            Ty::Null => "null",
        }
    }
}

/// The type a contract column needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Text,
    Num,
    Bool,
    Time,
}

impl Want {
    fn ty(self) -> Ty {
        match self {
            Want::Text => Ty::Text,
            Want::Num => Ty::Num,
            Want::Bool => Ty::Bool,
            Want::Time => Ty::Time,
        }
    }
}

const FUNCTIONS: &str = "time, number, text, abs, round, if, coalesce, empty, lookup, map, row, \
lower, upper, trim; with group_by also sum, min, max, first, last, count, any, all";

fn contains_agg(ast: &Ast) -> bool {
    match ast {
        Ast::Call(name, args) => AggFunc::by_name(name).is_some() || args.iter().any(contains_agg),
        Ast::Neg(a) | Ast::Not(a) => contains_agg(a),
        Ast::Bin(_, a, b) => contains_agg(a) || contains_agg(b),
        _ => false,
    }
}

fn reads_row(ast: &Ast) -> bool {
    match ast {
        Ast::Col(_) => true,
        Ast::Call(name, args) => name == "row" || args.iter().any(reads_row),
        Ast::Neg(a) | Ast::Not(a) => reads_row(a),
        Ast::Bin(_, a, b) => reads_row(a) || reads_row(b),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Evaluated on one source row.
    Row,
    /// Evaluated once per group, from the slots.
    Group,
}

/// Compiles the expressions of one feed; for a grouped feed it collects the slots all its
/// expressions share.
pub struct Compiler<'s> {
    scope: &'s Scope<'s>,
    grouped: bool,
    pub slots: Vec<SlotDef>,
    /// What each slot folds, to share one slot between equal aggregates (the CJ mapping sums
    /// sales_value three times): fewer slots per open group, less memory.
    folds: Vec<(AggFunc, Option<Ast>)>,
}

impl<'s> Compiler<'s> {
    pub fn new(scope: &'s Scope<'s>, grouped: bool) -> Self {
        Compiler {
            scope,
            grouped,
            slots: Vec::new(),
            folds: Vec::new(),
        }
    }

    /// A contract column's expression: per row, or per group when the feed is grouped.
    pub fn column(&mut self, ast: &Ast, want: Want) -> Result<Expr, String> {
        let mode = if self.grouped { Mode::Group } else { Mode::Row };
        let (e, ty) = self.node(ast, mode)?;
        coerce(e, ty, want.ty(), self.scope.offset)
    }

    /// A row-level expression (a `where` filter or a `group_by` key).
    pub fn row_level(&mut self, ast: &Ast, want: Want) -> Result<Expr, String> {
        let (e, ty) = self.node(ast, Mode::Row)?;
        coerce(e, ty, want.ty(), self.scope.offset)
    }

    fn slot(&mut self, func: AggFunc, arg: Option<Expr>, ast: Option<&Ast>) -> Expr {
        let fold = (func, ast.cloned());
        if let Some(i) = self.folds.iter().position(|f| *f == fold) {
            return Expr::Slot(i);
        }
        self.folds.push(fold);
        self.slots.push(SlotDef { func, arg });
        Expr::Slot(self.slots.len() - 1)
    }

    fn node(&mut self, ast: &Ast, mode: Mode) -> Result<(Expr, Ty), String> {
        // In a group, a row-level part outside any aggregate must agree across the group's rows
        // (e.g. the household of a basket): it becomes a `Same` slot.
        if mode == Mode::Group && !contains_agg(ast) && reads_row(ast) {
            let (e, ty) = self.node(ast, Mode::Row)?;
            return Ok((self.slot(AggFunc::Same, Some(e), Some(ast)), ty));
        }
        let offset = self.scope.offset;
        match ast {
            Ast::Num(v) => Ok((Expr::Const(Value::Num(*v)), Ty::Num)),
            Ast::Str(s) => Ok((Expr::Const(Value::Text(Cow::Owned(s.clone()))), Ty::Text)),
            Ast::Bool(b) => Ok((Expr::Const(Value::Bool(*b)), Ty::Bool)),
            Ast::Null => Ok((Expr::Const(Value::Null(None)), Ty::Null)),
            Ast::Col(name) => self.column_ref(name).map(|i| (Expr::Cell(i), Ty::Raw)),
            Ast::Neg(a) => {
                let (e, ty) = self.node(a, mode)?;
                Ok((
                    Expr::Neg(Box::new(coerce(e, ty, Ty::Num, offset)?)),
                    Ty::Num,
                ))
            }
            Ast::Not(a) => {
                let (e, ty) = self.node(a, mode)?;
                Ok((
                    Expr::Not(Box::new(coerce(e, ty, Ty::Bool, offset)?)),
                    Ty::Bool,
                ))
            }
            Ast::Bin(op, a, b) => self.binary(*op, a, b, mode),
            Ast::Call(name, args) => self.call(name, args, mode),
        }
    }

    fn column_ref(&self, name: &str) -> Result<usize, String> {
        if let Some(i) = self.scope.header.iter().position(|h| h == name) {
            return Ok(i);
        }
        let hint = if self.scope.maps.contains_key(name) || self.scope.lookups.contains_key(name) {
            String::new()
        } else {
            format!("; for a constant text write '{name}' in single quotes")
        };
        Err(format!(
            "'{name}' is not a column of {} (its columns: {}){hint}",
            self.scope.file,
            self.scope.header.join(", ")
        ))
    }

    fn binary(&mut self, op: BinOp, a: &Ast, b: &Ast, mode: Mode) -> Result<(Expr, Ty), String> {
        let offset = self.scope.offset;
        let (ea, ta) = self.node(a, mode)?;
        let (eb, tb) = self.node(b, mode)?;
        let ar = |o: ArOp, ea: Expr, eb: Expr| -> Result<(Expr, Ty), String> {
            Ok((
                Expr::Arith(
                    o,
                    Box::new(coerce(ea, ta, Ty::Num, offset)?),
                    Box::new(coerce(eb, tb, Ty::Num, offset)?),
                ),
                Ty::Num,
            ))
        };
        let concat = |ea: Expr, eb: Expr| -> Result<(Expr, Ty), String> {
            Ok((
                Expr::Concat(
                    Box::new(coerce(ea, ta, Ty::Text, offset)?),
                    Box::new(coerce(eb, tb, Ty::Text, offset)?),
                ),
                Ty::Text,
            ))
        };
        match op {
            // `+` joins text as soon as one side is text (a quoted prefix, a joined id).
            BinOp::Add if ta == Ty::Text || tb == Ty::Text => concat(ea, eb),
            BinOp::Add => {
                let (e, ty) = ar(ArOp::Add, ea, eb)?;
                let mark = |x: Box<Expr>| match *x {
                    Expr::ToNum(inner, o, _) => Box::new(Expr::ToNum(inner, o, true)),
                    other => Box::new(other),
                };
                Ok(match e {
                    Expr::Arith(op, x, y) => (Expr::Arith(op, mark(x), mark(y)), ty),
                    other => (other, ty),
                })
            }
            BinOp::Sub => ar(ArOp::Sub, ea, eb),
            BinOp::Mul => ar(ArOp::Mul, ea, eb),
            BinOp::Div => ar(ArOp::Div, ea, eb),
            BinOp::Concat => concat(ea, eb),
            BinOp::And | BinOp::Or => {
                let x = Box::new(coerce(ea, ta, Ty::Bool, offset)?);
                let y = Box::new(coerce(eb, tb, Ty::Bool, offset)?);
                Ok((
                    if op == BinOp::And {
                        Expr::And(x, y)
                    } else {
                        Expr::Or(x, y)
                    },
                    Ty::Bool,
                ))
            }
            BinOp::Cmp(cmp) => {
                let on = match (ta, tb) {
                    (Ty::Num, _) | (_, Ty::Num) => CmpOn::Num,
                    (Ty::Time, _) | (_, Ty::Time) => CmpOn::Time,
                    (Ty::Bool, _) | (_, Ty::Bool) => CmpOn::Bool,
                    _ => CmpOn::Text,
                };
                let want = match on {
                    CmpOn::Num => Ty::Num,
                    CmpOn::Time => Ty::Time,
                    CmpOn::Bool => Ty::Bool,
                    CmpOn::Text => Ty::Text,
                };
                Ok((
                    Expr::Cmp(
                        cmp,
                        on,
                        Box::new(coerce(ea, ta, want, offset)?),
                        Box::new(coerce(eb, tb, want, offset)?),
                    ),
                    Ty::Bool,
                ))
            }
        }
    }

    fn arity(name: &str, args: &[Ast], min: usize, max: usize) -> Result<(), String> {
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "{name}() takes {expected} argument(s), found {}",
                args.len()
            ));
        }
        Ok(())
    }

    /// A name argument (a map, a lookup source or its column): bare or quoted.
    fn name_arg(ast: &Ast, func: &str, what: &str) -> Result<String, String> {
        match ast {
            Ast::Col(s) | Ast::Str(s) => Ok(s.clone()),
            _ => Err(format!("the {what} of {func}() must be a name")),
        }
    }

    fn text_arg(ast: &Ast, func: &str, what: &str) -> Result<String, String> {
        match ast {
            Ast::Str(s) => Ok(s.clone()),
            _ => Err(format!(
                "the {what} of {func}() must be a quoted text, e.g. '%Y-%m-%d'"
            )),
        }
    }

    fn call(&mut self, name: &str, args: &[Ast], mode: Mode) -> Result<(Expr, Ty), String> {
        let offset = self.scope.offset;
        if let Some(func) = AggFunc::by_name(name) {
            return self.aggregate(name, func, args, mode);
        }
        match name {
            "time" => {
                Self::arity(name, args, 1, 3)?;
                let offset = match args.get(2) {
                    Some(a) => {
                        parse_offset(&Self::text_arg(a, name, "third argument (UTC offset)")?)?
                    }
                    None => offset,
                };
                let format = match args.get(1) {
                    Some(a) => TimeFormat::new(&Self::text_arg(a, name, "format")?, offset)?,
                    None => TimeFormat::Iso { offset },
                };
                let (e, ty) = self.node(&args[0], mode)?;
                match ty {
                    Ty::Raw | Ty::Text | Ty::Null => {
                        let origin = origin(&e);
                        Ok((
                            Expr::ToTime(Box::new(e), Box::new(format), origin),
                            Ty::Time,
                        ))
                    }
                    other => Err(format!("time() reads text, found {}", other.describe())),
                }
            }
            "number" => {
                Self::arity(name, args, 1, 1)?;
                let (e, ty) = self.node(&args[0], mode)?;
                let e = match ty {
                    Ty::Text => {
                        let o = origin(&e);
                        Expr::ToNum(Box::new(e), o, false)
                    }
                    _ => coerce(e, ty, Ty::Num, offset)?,
                };
                Ok((e, Ty::Num))
            }
            "text" => {
                Self::arity(name, args, 1, 1)?;
                let (e, ty) = self.node(&args[0], mode)?;
                Ok((coerce(e, ty, Ty::Text, offset)?, Ty::Text))
            }
            "abs" => {
                Self::arity(name, args, 1, 1)?;
                let (e, ty) = self.node(&args[0], mode)?;
                Ok((
                    Expr::Abs(Box::new(coerce(e, ty, Ty::Num, offset)?)),
                    Ty::Num,
                ))
            }
            "round" => {
                Self::arity(name, args, 1, 2)?;
                let digits = match args.get(1) {
                    None => 0,
                    Some(Ast::Num(d)) if d.fract() == 0.0 && (0.0..=12.0).contains(d) => *d as i32,
                    Some(_) => {
                        return Err("the digits of round() must be a whole number 0 to 12".into())
                    }
                };
                let (e, ty) = self.node(&args[0], mode)?;
                Ok((
                    Expr::Round(Box::new(coerce(e, ty, Ty::Num, offset)?), digits),
                    Ty::Num,
                ))
            }
            "if" => {
                Self::arity(name, args, 2, 3)?;
                let (c, tc) = self.node(&args[0], mode)?;
                let c = coerce(c, tc, Ty::Bool, offset)?;
                let (a, ta) = self.node(&args[1], mode)?;
                let (b, tb) = match args.get(2) {
                    Some(x) => self.node(x, mode)?,
                    None => (Expr::Const(Value::Null(None)), Ty::Null),
                };
                let ty = unify(&[ta, tb])?;
                Ok((
                    Expr::If(
                        Box::new(c),
                        Box::new(coerce(a, ta, ty, offset)?),
                        Box::new(coerce(b, tb, ty, offset)?),
                    ),
                    ty,
                ))
            }
            "coalesce" => {
                Self::arity(name, args, 1, usize::MAX)?;
                let parts = args
                    .iter()
                    .map(|a| self.node(a, mode))
                    .collect::<Result<Vec<_>, _>>()?;
                let tys: Vec<Ty> = parts.iter().map(|(_, t)| *t).collect();
                let ty = unify(&tys)?;
                let parts = parts
                    .into_iter()
                    .map(|(e, t)| coerce(e, t, ty, offset))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((Expr::Coalesce(parts), ty))
            }
            "empty" => {
                Self::arity(name, args, 1, 1)?;
                let (e, _) = self.node(&args[0], mode)?;
                Ok((Expr::IsEmpty(Box::new(e)), Ty::Bool))
            }
            "lookup" => {
                Self::arity(name, args, 3, 3)?;
                let source =
                    Self::name_arg(&args[0], name, "first argument (a source with a key)")?;
                let table = self.scope.lookups.get(&source).cloned().ok_or_else(|| {
                    let known: Vec<&str> = self.scope.lookups.keys().map(String::as_str).collect();
                    format!(
                        "lookup(): '{source}' is not a source with a `key` (sources with a key: {})",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    )
                })?;
                let column = Self::name_arg(&args[2], name, "third argument (a column)")?;
                let col = table
                    .header
                    .iter()
                    .position(|h| *h == column)
                    .ok_or_else(|| {
                        format!(
                            "lookup(): '{column}' is not a column of {} (its columns: {})",
                            table.file.display(),
                            table.header.join(", ")
                        )
                    })?;
                let (k, tk) = self.node(&args[1], mode)?;
                let k = coerce(k, tk, Ty::Text, offset)?;
                Ok((Expr::Lookup(table, Box::new(k), col), Ty::Raw))
            }
            "map" => {
                Self::arity(name, args, 2, 2)?;
                let map_name = Self::name_arg(&args[0], name, "first argument (a [maps] table)")?;
                let map = self.scope.maps.get(&map_name).cloned().ok_or_else(|| {
                    let known: Vec<&str> = self.scope.maps.keys().map(String::as_str).collect();
                    format!(
                        "map(): there is no [maps.{map_name}] (maps: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    )
                })?;
                let (e, ty) = self.node(&args[1], mode)?;
                let e = coerce(e, ty, Ty::Text, offset)?;
                Ok((Expr::Map(map, Box::new(e)), Ty::Raw))
            }
            "row" => {
                Self::arity(name, args, 0, 0)?;
                Ok((Expr::RowNumber, Ty::Num))
            }
            "lower" | "upper" | "trim" => {
                Self::arity(name, args, 1, 1)?;
                let (e, ty) = self.node(&args[0], mode)?;
                let e = Box::new(coerce(e, ty, Ty::Text, offset)?);
                let out_ty = if ty == Ty::Raw { Ty::Raw } else { Ty::Text };
                Ok((
                    match name {
                        "lower" => Expr::Lower(e),
                        "upper" => Expr::Upper(e),
                        _ => Expr::Trim(e),
                    },
                    out_ty,
                ))
            }
            _ => Err(format!(
                "unknown function {name}() (functions: {FUNCTIONS})"
            )),
        }
    }

    fn aggregate(
        &mut self,
        name: &str,
        func: AggFunc,
        args: &[Ast],
        mode: Mode,
    ) -> Result<(Expr, Ty), String> {
        if mode == Mode::Row {
            return Err(if self.grouped {
                format!("{name}() cannot be used inside another aggregate, a where or a group_by")
            } else {
                format!("{name}() combines the rows of a group: the feed needs a group_by")
            });
        }
        let offset = self.scope.offset;
        if func == AggFunc::Count {
            Self::arity(name, args, 0, 0)?;
            return Ok((self.slot(func, None, None), Ty::Num));
        }
        Self::arity(name, args, 1, 1)?;
        let (e, ty) = self.node(&args[0], Mode::Row)?;
        let (arg, out) = match func {
            AggFunc::Sum => (coerce(e, ty, Ty::Num, offset)?, Ty::Num),
            AggFunc::Min | AggFunc::Max => match ty {
                Ty::Time => (e, Ty::Time),
                _ => (coerce(e, ty, Ty::Num, offset)?, Ty::Num),
            },
            AggFunc::Any | AggFunc::All => (coerce(e, ty, Ty::Bool, offset)?, Ty::Bool),
            _ => (e, ty),
        };
        Ok((self.slot(func, Some(arg), Some(&args[0])), out))
    }
}

/// The source column an expression reads directly, for messages.
pub(super) fn origin(e: &Expr) -> Option<usize> {
    match e {
        Expr::Cell(i) => Some(*i),
        _ => None,
    }
}

/// The common type of the branches of `if` / `coalesce`.
fn unify(tys: &[Ty]) -> Result<Ty, String> {
    let known: Vec<Ty> = tys.iter().copied().filter(|t| *t != Ty::Null).collect();
    let Some(&first) = known.first() else {
        return Ok(Ty::Null);
    };
    let mut out = first;
    for &t in &known[1..] {
        out = match (out, t) {
            (a, b) if a == b => a,
            (Ty::Raw, b) | (b, Ty::Raw) => b,
            (Ty::Text, Ty::Num) | (Ty::Num, Ty::Text) => Ty::Text,
            (a, b) => {
                return Err(format!(
                    "the branches give {} and {}; they must agree",
                    a.describe(),
                    b.describe()
                ))
            }
        };
    }
    Ok(out)
}

/// Turns an expression of type `from` into one of type `to`, or says why it cannot be.
fn coerce(e: Expr, from: Ty, to: Ty, offset: FixedOffset) -> Result<Expr, String> {
    let o = origin(&e);
    Ok(match (from, to) {
        (a, b) if a == b => e,
        (Ty::Null, _) | (_, Ty::Raw) => e,
        (Ty::Raw, Ty::Text) => e,
        (Ty::Raw, Ty::Num) => Expr::ToNum(Box::new(e), o, false),
        (Ty::Raw, Ty::Bool) => Expr::ToBool(Box::new(e), o),
        (Ty::Raw, Ty::Time) => Expr::ToTime(Box::new(e), Box::new(TimeFormat::Iso { offset }), o),
        (Ty::Num | Ty::Bool | Ty::Time, Ty::Text) => Expr::ToText(Box::new(e)),
        (Ty::Num, Ty::Time) => {
            return Err(
                "a number is not a time: read it with time(x, 'epoch') or time(x, 'epoch_ms')"
                    .into(),
            )
        }
        (Ty::Text, Ty::Num) => {
            return Err(
                "text is used where a number is needed (number(x) reads text as a number)".into(),
            )
        }
        (Ty::Text, Ty::Time) => {
            return Err(
                "text is used where a time is needed: read it with time(x, 'format')".into(),
            )
        }
        (from, to) => {
            return Err(format!(
                "{} is used where {} is needed",
                from.describe(),
                to.describe()
            ))
        }
    })
}
