//! The expression language of import mappings: what one contract column is, in terms of the
//! columns of a source row (or of a group of rows).
//!
//! An expression is parsed and type-checked once, when the mapping is checked, against the header
//! of its source file; a bad expression is a mapping error there, never a failure on row 90,000.
//! Evaluation then works on borrowed cells and allocates only for text it builds. A bad cell (text
//! where a number is needed, an unparsable time, an empty required value) is an `EvalError` naming
//! the source column; the caller adds the file and the row. Nothing here panics on input.
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! expr    = or
//! or      = and ("or" and)*
//! and     = not ("and" not)*
//! not     = "not" not | cmp
//! cmp     = add (("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") add)?
//! add     = mul (("+" | "-" | "&") mul)*
//! mul     = unary (("*" | "/") unary)*
//! unary   = "-" unary | primary
//! primary = number | 'text' | "text" | column | `any column name` | true | false | null
//!         | name "(" (expr ("," expr)*)? ")" | "(" expr ")"
//! ```
//!
//! Source cells are untyped text that takes the type its use needs: `a + b` of two columns adds
//! numbers, `'cj-' + basket_id` (a quoted text on either side) or `a & b` joins text, `x > 0`
//! compares numbers, `x == 'A'` (or `x = 'A'`) compares text.
//!
//! The job is split by stage: `parse` (text → [`Ast`], through the shared lexer), `check`
//! (names resolved and types checked against a source: [`Compiler`]), `eval` (one row or one
//! group) and `agg` (how the rows of a group fold into an aggregate).

mod agg;
mod check;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

pub use self::agg::{AggFunc, SlotDef};
pub use self::check::{Compiler, Lookup, Scope, Ty, ValueMap, Want};
pub use self::eval::{parse_bool, ArOp, CmpOn, Ctx, Expr};
pub use self::parse::{parse, Ast, BinOp};
/// The import language's parse errors are the expression languages' one positioned error.
pub type ParseError = crate::expr::ExprError;

// ---------------------------------------------------------------------------------------------
// Values

/// A value during evaluation. Text borrows from the source row, the mapping or a slot where it
/// can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// An empty cell or an absent result, with the source column it came from, if one did.
    Null(Option<usize>),
    Text(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    /// UTC seconds.
    Time(i64),
}

impl Value<'_> {
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null(o) => Value::Null(o),
            Value::Text(s) => Value::Text(Cow::Owned(s.into_owned())),
            Value::Num(v) => Value::Num(v),
            Value::Bool(b) => Value::Bool(b),
            Value::Time(t) => Value::Time(t),
        }
    }

    /// A copy that borrows this value's text.
    pub fn view(&self) -> Value<'_> {
        match self {
            Value::Text(s) => Value::Text(Cow::Borrowed(s.as_ref())),
            Value::Null(o) => Value::Null(*o),
            Value::Num(v) => Value::Num(*v),
            Value::Bool(b) => Value::Bool(*b),
            Value::Time(t) => Value::Time(*t),
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null(_) => f.write_str("(empty)"),
            Value::Text(s) => write!(f, "'{s}'"),
            Value::Num(v) => f.write_str(&fmt_num(*v)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Time(t) => f.write_str(&crate::data::summary::iso(*t)),
        }
    }
}

/// A number as text: whole numbers without a fraction (a row number 17 becomes "17", not "17.0").
pub fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A bad value met while evaluating; `column` is the source column it came from, when known.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub column: Option<usize>,
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(column: Option<usize>, message: impl Into<String>) -> Self {
        EvalError {
            column,
            message: message.into(),
        }
    }

    pub(crate) fn empty(column: Option<usize>, needed: &str) -> Self {
        EvalError::new(
            column,
            format!("the value is empty where {needed} is needed"),
        )
    }

    pub(crate) fn internal(what: &str) -> Self {
        EvalError::new(
            None,
            format!("internal: {what} (a mapping check should have caught this)"),
        )
    }
}
