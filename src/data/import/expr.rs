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
//! cmp     = add (("==" | "!=" | "<" | "<=" | ">" | ">=") add)?
//! add     = mul (("+" | "-" | "&") mul)*
//! mul     = unary (("*" | "/") unary)*
//! unary   = "-" unary | primary
//! primary = number | 'text' | "text" | column | `any column name` | true | false | null
//!         | name "(" (expr ("," expr)*)? ")" | "(" expr ")"
//! ```
//!
//! Source cells are untyped text that takes the type its use needs: `a + b` of two columns adds
//! numbers, `'cj-' + basket_id` (a quoted text on either side) or `a & b` joins text, `x > 0`
//! compares numbers, `x == 'A'` compares text.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::FixedOffset;

use super::timefmt::{parse_offset, TimeFormat};

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
    fn new(column: Option<usize>, message: impl Into<String>) -> Self {
        EvalError {
            column,
            message: message.into(),
        }
    }

    fn empty(column: Option<usize>, needed: &str) -> Self {
        EvalError::new(
            column,
            format!("the value is empty where {needed} is needed"),
        )
    }

    fn internal(what: &str) -> Self {
        EvalError::new(
            None,
            format!("internal: {what} (a mapping check should have caught this)"),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Quoted(String),
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(v) => write!(f, "number {}", fmt_num(*v)),
            Tok::Str(s) => write!(f, "text '{s}'"),
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Quoted(s) => write!(f, "`{s}`"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::Comma => f.write_str("','"),
            Tok::Plus => f.write_str("'+'"),
            Tok::Minus => f.write_str("'-'"),
            Tok::Star => f.write_str("'*'"),
            Tok::Slash => f.write_str("'/'"),
            Tok::Amp => f.write_str("'&'"),
            Tok::Eq => f.write_str("'=='"),
            Tok::Ne => f.write_str("'!='"),
            Tok::Lt => f.write_str("'<'"),
            Tok::Le => f.write_str("'<='"),
            Tok::Gt => f.write_str("'>'"),
            Tok::Ge => f.write_str("'>='"),
            Tok::End => f.write_str("the end"),
        }
    }
}

/// A syntax error at a 1-based character position of the expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at, self.message)
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, message: String| ParseError {
        at: at + 1,
        message,
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '+' => Some(Tok::Plus),
            '-' => Some(Tok::Minus),
            '*' => Some(Tok::Star),
            '/' => Some(Tok::Slash),
            '&' => Some(Tok::Amp),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, start));
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let two = match (c, next) {
            ('=', Some('=')) => Some(Tok::Eq),
            ('!', Some('=')) => Some(Tok::Ne),
            ('<', Some('=')) => Some(Tok::Le),
            ('>', Some('=')) => Some(Tok::Ge),
            ('<', Some('>')) => Some(Tok::Ne),
            _ => None,
        };
        if let Some(t) = two {
            out.push((t, start));
            i += 2;
            continue;
        }
        match c {
            '<' => {
                out.push((Tok::Lt, start));
                i += 1;
            }
            '>' => {
                out.push((Tok::Gt, start));
                i += 1;
            }
            '=' => return Err(err(start, "'=' alone: write '==' to compare".into())),
            '\'' | '"' | '`' => {
                // A quote inside is written twice ('it''s'), as in SQL.
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, format!("{c}...{c} is not closed"))),
                        Some(&q) if q == c => {
                            if chars.get(i + 1) == Some(&c) {
                                text.push(c);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&other) => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                out.push((
                    if c == '`' {
                        Tok::Quoted(text)
                    } else {
                        Tok::Str(text)
                    },
                    start,
                ));
            }
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text: String = chars[start..i].iter().collect();
                let v = text
                    .parse::<f64>()
                    .map_err(|_| err(start, format!("'{text}' is not a number")))?;
                if i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    return Err(err(
                        start,
                        "a name cannot start with a digit: quote it with backticks, e.g. `2nd_col`"
                            .into(),
                    ));
                }
                out.push((Tok::Num(v), start));
            }
            // Column names of real exports are often not ASCII (e.g. 会员ID): any letter goes.
            c if c.is_alphanumeric() || c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), start));
            }
            other => {
                return Err(err(
                    start,
                    format!("unexpected '{other}' (a column name with such characters is written in backticks)"),
                ))
            }
        }
    }
    out.push((Tok::End, chars.len()));
    Ok(out)
}

/// A parsed expression, before its names are resolved against a source.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
    Col(String),
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
    Call(String, Vec<Ast>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
}

/// Parses the text of an expression.
pub fn parse(src: &str) -> Result<Ast, ParseError> {
    let mut p = Parser {
        toks: lex(src)?,
        i: 0,
    };
    let ast = p.or()?;
    match p.peek() {
        Tok::End => Ok(ast),
        other => Err(p.error(format!("unexpected {other} after a complete expression"))),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map(|(t, _)| t).unwrap_or(&Tok::End)
    }

    fn at(&self) -> usize {
        self.toks.get(self.i).map(|(_, p)| p + 1).unwrap_or(1)
    }

    fn error(&self, message: String) -> ParseError {
        ParseError {
            at: self.at(),
            message,
        }
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == word)
    }

    fn or(&mut self) -> Result<Ast, ParseError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.bump();
            let right = self.and()?;
            left = Ast::Bin(BinOp::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, ParseError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.bump();
            let right = self.not()?;
            left = Ast::Bin(BinOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Ast, ParseError> {
        if self.keyword("not") {
            self.bump();
            return Ok(Ast::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Ast, ParseError> {
        let left = self.add()?;
        let op = match self.peek() {
            Tok::Eq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            _ => return Ok(left),
        };
        self.bump();
        let right = self.add()?;
        if matches!(
            self.peek(),
            Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge
        ) {
            return Err(self.error("comparisons do not chain: join them with 'and'".into()));
        }
        Ok(Ast::Bin(op, Box::new(left), Box::new(right)))
    }

    fn add(&mut self) -> Result<Ast, ParseError> {
        let mut left = self.mul()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                Tok::Amp => BinOp::Concat,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.mul()?;
            left = Ast::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn mul(&mut self) -> Result<Ast, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            left = Ast::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Ast, ParseError> {
        if matches!(self.peek(), Tok::Minus) {
            self.bump();
            return Ok(match self.unary()? {
                Ast::Num(v) => Ast::Num(-v),
                other => Ast::Neg(Box::new(other)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, ParseError> {
        let at = self.at();
        match self.bump() {
            Tok::Num(v) => Ok(Ast::Num(v)),
            Tok::Str(s) => Ok(Ast::Str(s)),
            Tok::Quoted(s) => Ok(Ast::Col(s)),
            Tok::LParen => {
                let inner = self.or()?;
                match self.bump() {
                    Tok::RParen => Ok(inner),
                    other => Err(ParseError {
                        at: self.at().saturating_sub(1).max(1),
                        message: format!("expected ')', found {other}"),
                    }),
                }
            }
            Tok::Ident(name) => {
                if matches!(self.peek(), Tok::LParen) {
                    self.bump();
                    let mut args = Vec::new();
                    if matches!(self.peek(), Tok::RParen) {
                        self.bump();
                        return Ok(Ast::Call(name, args));
                    }
                    loop {
                        args.push(self.or()?);
                        match self.bump() {
                            Tok::Comma => continue,
                            Tok::RParen => return Ok(Ast::Call(name, args)),
                            other => {
                                return Err(ParseError {
                                    at: self.at().saturating_sub(1).max(1),
                                    message: format!(
                                        "expected ',' or ')' in the arguments of {name}(), found {other}"
                                    ),
                                })
                            }
                        }
                    }
                }
                Ok(match name.as_str() {
                    "true" => Ast::Bool(true),
                    "false" => Ast::Bool(false),
                    "null" => Ast::Null,
                    "and" | "or" | "not" => {
                        return Err(ParseError {
                            at,
                            message: format!("'{name}' needs a value before it"),
                        })
                    }
                    _ => Ast::Col(name),
                })
            }
            Tok::End => Err(ParseError {
                at,
                message: "the expression ends where a value is expected".into(),
            }),
            other => Err(ParseError {
                at,
                message: format!("expected a value, found {other}"),
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Names an expression can use besides its source's columns

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

// ---------------------------------------------------------------------------------------------
// Compiled expressions

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
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
    Cmp(CmpOp, CmpOn, Box<Expr>, Box<Expr>),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Sum,
    Min,
    Max,
    First,
    Last,
    Count,
    Any,
    All,
    /// A row-level value used outside an aggregate: it must be the same in every row of a group.
    Same,
}

impl AggFunc {
    fn by_name(name: &str) -> Option<AggFunc> {
        Some(match name {
            "sum" => AggFunc::Sum,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "first" => AggFunc::First,
            "last" => AggFunc::Last,
            "count" => AggFunc::Count,
            "any" => AggFunc::Any,
            "all" => AggFunc::All,
            _ => return None,
        })
    }
}

/// One aggregate of a grouped feed: a row-level expression and how rows combine.
#[derive(Debug, Clone)]
pub struct SlotDef {
    pub func: AggFunc,
    pub arg: Option<Expr>,
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
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let cmp = match op {
                    BinOp::Eq => CmpOp::Eq,
                    BinOp::Ne => CmpOp::Ne,
                    BinOp::Lt => CmpOp::Lt,
                    BinOp::Le => CmpOp::Le,
                    BinOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
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
fn origin(e: &Expr) -> Option<usize> {
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

// ---------------------------------------------------------------------------------------------
// Evaluation

/// What an expression reads: the current row (per-row phase) or a group's slots.
pub struct Ctx<'a> {
    pub record: Option<&'a csv::StringRecord>,
    /// 1-based data row number (header excluded).
    pub row: u64,
    pub slots: &'a [Option<Value<'static>>],
}

fn num(v: Value<'_>, needed: &str) -> Result<f64, EvalError> {
    match v {
        Value::Num(x) => Ok(x),
        Value::Null(o) => Err(EvalError::empty(o, needed)),
        _ => Err(EvalError::internal("a number was expected")),
    }
}

fn boolean(v: Value<'_>) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::Null(o) => Err(EvalError::empty(o, "a true/false value")),
        _ => Err(EvalError::internal("a boolean was expected")),
    }
}

fn text(v: Value<'_>) -> Result<Cow<'_, str>, EvalError> {
    match v {
        Value::Text(s) => Ok(s),
        Value::Num(x) => Ok(Cow::Owned(fmt_num(x))),
        Value::Null(o) => Err(EvalError::empty(o, "text")),
        _ => Err(EvalError::internal("text was expected")),
    }
}

fn time(v: Value<'_>) -> Result<i64, EvalError> {
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
                    CmpOp::Eq => ord == Equal,
                    CmpOp::Ne => ord != Equal,
                    CmpOp::Lt => ord == Less,
                    CmpOp::Le => ord != Greater,
                    CmpOp::Gt => ord == Greater,
                    CmpOp::Ge => ord != Less,
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

impl SlotDef {
    /// Folds one row into a slot; `state` is `None` before the group's first row.
    pub fn update(
        &self,
        state: &mut Option<Value<'static>>,
        cx: &Ctx<'_>,
    ) -> Result<(), EvalError> {
        let v = match &self.arg {
            Some(arg) => arg.eval(cx)?,
            None => Value::Null(None),
        };
        match self.func {
            AggFunc::Count => {
                let n = match state {
                    Some(Value::Num(n)) => *n,
                    _ => 0.0,
                };
                *state = Some(Value::Num(n + 1.0));
            }
            AggFunc::Sum => {
                let x = num(v, "a number")?;
                let prev = match state {
                    Some(Value::Num(n)) => *n,
                    _ => 0.0,
                };
                *state = Some(Value::Num(prev + x));
            }
            AggFunc::Min | AggFunc::Max => {
                if let Value::Null(o) = v {
                    return Err(EvalError::empty(o, "a value to compare"));
                }
                let better = match (&*state, &v) {
                    (None, _) => true,
                    (Some(Value::Num(p)), Value::Num(x)) => {
                        if self.func == AggFunc::Min {
                            x < p
                        } else {
                            x > p
                        }
                    }
                    (Some(Value::Time(p)), Value::Time(x)) => {
                        if self.func == AggFunc::Min {
                            x < p
                        } else {
                            x > p
                        }
                    }
                    _ => return Err(EvalError::internal("min/max over mixed types")),
                };
                if better {
                    *state = Some(v.into_owned());
                }
            }
            AggFunc::First => {
                if state.is_none() {
                    *state = Some(v.into_owned());
                }
            }
            AggFunc::Last => *state = Some(v.into_owned()),
            AggFunc::Any | AggFunc::All => {
                let b = boolean(v)?;
                let prev = match state {
                    Some(Value::Bool(p)) => Some(*p),
                    _ => None,
                };
                let next = match (self.func, prev) {
                    (_, None) => b,
                    (AggFunc::Any, Some(p)) => p || b,
                    (_, Some(p)) => p && b,
                };
                *state = Some(Value::Bool(next));
            }
            AggFunc::Same => match &*state {
                None => *state = Some(v.into_owned()),
                Some(prev) if *prev == v => {}
                Some(prev) => {
                    let column = match (&v, &self.arg) {
                        (Value::Null(o), _) => *o,
                        (_, Some(arg)) => origin(arg),
                        _ => None,
                    };
                    return Err(EvalError::new(
                        column,
                        format!(
                            "{v} here but {prev} in the group's first row: a value outside sum()/min()/first()/... must be the same in every row of a group"
                        ),
                    ));
                }
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::import::timefmt::utc;

    fn header() -> Vec<String> {
        ["id", "qty", "price", "disc", "day", "kind"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn with_scope<T>(f: impl FnOnce(&Scope<'_>) -> T) -> T {
        let h = header();
        let lookups = HashMap::new();
        let mut maps = HashMap::new();
        maps.insert(
            "kinds".to_string(),
            Arc::new(ValueMap {
                name: "kinds".into(),
                entries: [("A".to_string(), "promo".to_string())]
                    .into_iter()
                    .collect(),
                fallback: None,
            }),
        );
        let scope = Scope {
            file: "t.csv",
            header: &h,
            lookups: &lookups,
            maps: &maps,
            offset: utc(),
        };
        f(&scope)
    }

    fn eval_row(src: &str, want: Want, cells: &[&str]) -> Result<Value<'static>, String> {
        with_scope(|scope| {
            let ast = parse(src).map_err(|e| e.to_string())?;
            let mut c = Compiler::new(scope, false);
            let e = c.column(&ast, want)?;
            let rec = csv::StringRecord::from(cells.to_vec());
            let cx = Ctx {
                record: Some(&rec),
                row: 7,
                slots: &[],
            };
            e.eval(&cx)
                .map(Value::into_owned)
                .map_err(|e| format!("{:?}: {}", e.column, e.message))
        })
    }

    const ROW: &[&str] = &["B1", "3", "2.5", "0.75", "20240102", "A"];

    #[test]
    fn arithmetic_and_text_joining() {
        assert_eq!(
            eval_row("qty * price - disc", Want::Num, ROW),
            Ok(Value::Num(6.75))
        );
        assert_eq!(
            eval_row("price + disc", Want::Num, ROW),
            Ok(Value::Num(3.25))
        );
        assert_eq!(
            eval_row("'cj-' + id + '-' + row()", Want::Text, ROW),
            Ok(Value::Text("cj-B1-7".into()))
        );
        assert_eq!(
            eval_row("qty & price", Want::Text, ROW),
            Ok(Value::Text("32.5".into()))
        );
        assert_eq!(
            eval_row("-(qty) + 1e1", Want::Num, ROW),
            Ok(Value::Num(7.0))
        );
        assert_eq!(
            eval_row("round(10 / 3, 2)", Want::Num, ROW),
            Ok(Value::Num(3.33))
        );
    }

    #[test]
    fn conditions_maps_and_times() {
        assert_eq!(
            eval_row(
                "if(disc > 0.5 and kind == 'A', 'yes', 'no')",
                Want::Text,
                ROW
            ),
            Ok(Value::Text("yes".into()))
        );
        assert_eq!(
            eval_row("map(kinds, kind)", Want::Text, ROW),
            Ok(Value::Text("promo".into()))
        );
        // 2024-01-02 is 19724 days after 1970-01-01.
        assert_eq!(
            eval_row("time(day, '%Y%m%d')", Want::Time, ROW),
            Ok(Value::Time(19_724 * 86_400))
        );
        assert_eq!(
            eval_row("if(qty > 5, 'x')", Want::Text, ROW),
            Ok(Value::Null(None))
        );
        assert_eq!(
            eval_row("coalesce(if(qty > 5, 'x'), 'y')", Want::Text, ROW),
            Ok(Value::Text("y".into()))
        );
    }

    #[test]
    fn bad_cells_name_their_column() {
        let row = &["B1", "three", "2.5", "", "2024-13-01", "Z"];
        let e = eval_row("qty + 1", Want::Num, row)
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("Some(1): 'three' is not a number"), "{e}");
        let e = eval_row("disc * 2", Want::Num, row)
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("Some(3): the value is empty"), "{e}");
        let e = eval_row("time(day, '%Y%m%d')", Want::Time, row)
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("Some(4): '2024-13-01' does not match"), "{e}");
        let e = eval_row("map(kinds, kind)", Want::Text, row)
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("Some(5): 'Z' is not in [maps.kinds]"), "{e}");
    }

    #[test]
    fn mistakes_are_found_before_any_row() {
        let check = |src: &str, want: Want| -> String {
            with_scope(|scope| {
                let ast = match parse(src) {
                    Ok(a) => a,
                    Err(e) => return e.to_string(),
                };
                match Compiler::new(scope, false).column(&ast, want) {
                    Ok(_) => "ok".into(),
                    Err(e) => e,
                }
            })
        };
        assert!(check("qty +", Want::Num).contains("at character 6"));
        assert!(check("sum(qty", Want::Num).contains("expected ',' or ')'"));
        assert!(check("price = 1", Want::Bool).contains("write '=='"));
        assert!(check("pos", Want::Text).contains("'pos' is not a column of t.csv"));
        assert!(check("pos", Want::Text).contains("single quotes"));
        assert!(check("sum(qty)", Want::Num).contains("needs a group_by"));
        assert!(check("time(day, '%Q')", Want::Time).contains("not a valid time format"));
        assert!(check("'x' * 2", Want::Num).contains("text is used where a number"));
        assert!(check("frobnicate(id)", Want::Text).contains("unknown function"));
        assert!(check("map(nope, id)", Want::Text).contains("no [maps.nope]"));
        assert!(check("1 < 2 < 3", Want::Bool).contains("do not chain"));
        assert_eq!(check("`qty` + 1", Want::Num), "ok");
    }

    #[test]
    fn equal_aggregates_share_one_slot() {
        with_scope(|scope| {
            let mut c = Compiler::new(scope, true);
            for src in [
                "sum(price)",
                "abs(sum(price))",
                "sum(price) < 0",
                "id",
                "id",
            ] {
                let ast = parse(src).unwrap_or(Ast::Null);
                c.column(&ast, Want::Text)
                    .unwrap_or_else(|e| panic!("{src}: {e}"));
            }
            assert_eq!(c.slots.len(), 2);
        });
    }

    #[test]
    fn groups_sum_and_insist_on_shared_values() {
        with_scope(|scope| {
            let mut c = Compiler::new(scope, true);
            let amount = c
                .column(&parse("sum(qty * price)").unwrap_or(Ast::Null), Want::Num)
                .unwrap_or_else(|e| panic!("{e}"));
            let key = c
                .column(&parse("id").unwrap_or(Ast::Null), Want::Text)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.slots.len(), 2);
            let mut state: Vec<Option<Value<'static>>> = vec![None; 2];
            let rows = [
                ["B1", "2", "1.5", "0", "d", "A"],
                ["B1", "1", "4", "0", "d", "A"],
            ];
            for (i, r) in rows.iter().enumerate() {
                let rec = csv::StringRecord::from(r.to_vec());
                let cx = Ctx {
                    record: Some(&rec),
                    row: i as u64 + 1,
                    slots: &[],
                };
                for (s, d) in state.iter_mut().zip(&c.slots) {
                    d.update(s, &cx).unwrap_or_else(|e| panic!("{e:?}"));
                }
            }
            let cx = Ctx {
                record: None,
                row: 1,
                slots: &state,
            };
            assert_eq!(amount.eval(&cx).map(Value::into_owned), Ok(Value::Num(7.0)));
            assert_eq!(
                key.eval(&cx).map(Value::into_owned),
                Ok(Value::Text("B1".into()))
            );
            let other = csv::StringRecord::from(vec!["B2", "1", "1", "0", "d", "A"]);
            let cx = Ctx {
                record: Some(&other),
                row: 3,
                slots: &[],
            };
            let err = c.slots[1]
                .update(&mut state[1], &cx)
                .err()
                .map(|e| e.message)
                .unwrap_or_default();
            assert!(err.contains("same in every row"), "{err}");
        });
    }
}
