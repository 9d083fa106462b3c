//! The parser of the import language: expression text → [`Ast`], names unresolved.

use crate::expr::error::ExprError;
use crate::expr::lex::{lex, Mode, Op, Tok, Token};

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
    Cmp(Op),
    And,
    Or,
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
}

/// Parses the text of an expression.
pub fn parse(src: &str) -> Result<Ast, ExprError> {
    let mut p = Parser {
        toks: lex(src, Mode::Arithmetic)?,
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
        self.toks.get(self.i).map(|t| &t.tok).unwrap_or(&Tok::End)
    }

    fn at(&self) -> usize {
        self.toks.get(self.i).map(|t| t.col).unwrap_or(1)
    }

    fn error(&self, message: String) -> ExprError {
        ExprError::new(self.at(), message)
    }

    /// An error about the token just taken: at the column before the next one.
    fn error_before(&self, message: String) -> ExprError {
        ExprError::new(self.at().saturating_sub(1).max(1), message)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word(s) if s == word)
    }

    fn or(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.bump();
            let right = self.and()?;
            left = Ast::Bin(BinOp::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.bump();
            let right = self.not()?;
            left = Ast::Bin(BinOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Ast, ExprError> {
        if self.keyword("not") {
            self.bump();
            return Ok(Ast::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Ast, ExprError> {
        let left = self.add()?;
        let Tok::Cmp(op) = *self.peek() else {
            return Ok(left);
        };
        self.bump();
        let right = self.add()?;
        if matches!(self.peek(), Tok::Cmp(_)) {
            return Err(self.error("comparisons do not chain: join them with 'and'".into()));
        }
        Ok(Ast::Bin(BinOp::Cmp(op), Box::new(left), Box::new(right)))
    }

    fn add(&mut self) -> Result<Ast, ExprError> {
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

    fn mul(&mut self) -> Result<Ast, ExprError> {
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

    fn unary(&mut self) -> Result<Ast, ExprError> {
        if matches!(self.peek(), Tok::Minus) {
            self.bump();
            return Ok(match self.unary()? {
                Ast::Num(v) => Ast::Num(-v),
                other => Ast::Neg(Box::new(other)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        let at = self.at();
        match self.bump() {
            Tok::Num(v) => Ok(Ast::Num(v)),
            Tok::Text(s) => Ok(Ast::Str(s)),
            Tok::Name(s) => Ok(Ast::Col(s)),
            Tok::LParen => {
                let inner = self.or()?;
                match self.bump() {
                    Tok::RParen => Ok(inner),
                    other => Err(self.error_before(format!("expected ')', found {other}"))),
                }
            }
            Tok::Word(name) => {
                if matches!(self.peek(), Tok::LParen) {
                    return self.call(name);
                }
                Ok(match name.as_str() {
                    "true" => Ast::Bool(true),
                    "false" => Ast::Bool(false),
                    "null" => Ast::Null,
                    "and" | "or" | "not" => {
                        return Err(ExprError::new(
                            at,
                            format!("'{name}' needs a value before it"),
                        ))
                    }
                    _ => Ast::Col(name),
                })
            }
            Tok::End => Err(ExprError::new(
                at,
                "the expression ends where a value is expected",
            )),
            other => Err(ExprError::new(
                at,
                format!("expected a value, found {other}"),
            )),
        }
    }

    /// `name(args)`, the `(` next.
    fn call(&mut self, name: String) -> Result<Ast, ExprError> {
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
                    return Err(self.error_before(format!(
                        "expected ',' or ')' in the arguments of {name}(), found {other}"
                    )))
                }
            }
        }
    }
}
