//! The one lexer of the expression languages: splits an expression into tokens, each with its
//! 1-based character column.
//!
//! The two grammars read bare words differently, so the lexer takes a [`Mode`]:
//!
//! - [`Mode::Arithmetic`] (import mappings): `-`, `+`, `/` are operators, a digit starts a number,
//!   and a name is letters, digits and `_` (any script: real exports have columns like 会员ID).
//! - [`Mode::Words`] (selections and rules): a word runs over letters, digits and `-._+:/@#`, so
//!   that values like `rc-2405-618-tmall`, `two-star` or `0.25` are one word; numbers are words the
//!   parser reads as numbers.
//!
//! Everything else is shared: `'text'` and `"text"` (a quote inside written twice, as in SQL),
//! `` `a name` ``, the comparisons `= == != <> < <= > >=`, `* &`, parentheses, brackets and commas.
//! Nothing here knows a keyword: `and`, `or`, `not`, `in` are words the parsers recognise.

use std::fmt;

use serde::Serialize;

use super::error::{err, ExprError};

/// How bare words are read (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Arithmetic,
    Words,
}

/// A comparison operator; `=` and `==` are the same, as are `!=` and `<>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare word: a name, a keyword or (in `Words` mode) a value.
    Word(String),
    /// A number (`Arithmetic` mode only).
    Num(f64),
    /// `'…'` or `"…"`: never a keyword.
    Text(String),
    /// `` `…` ``: a name with any characters.
    Name(String),
    Cmp(Op),
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(s) => write!(f, "'{s}'"),
            Tok::Num(v) => write!(f, "number {}", crate::expr::import::fmt_num(*v)),
            Tok::Text(s) => write!(f, "text '{s}'"),
            Tok::Name(s) => write!(f, "`{s}`"),
            Tok::Cmp(o) => write!(f, "'{o}'"),
            Tok::Plus => f.write_str("'+'"),
            Tok::Minus => f.write_str("'-'"),
            Tok::Star => f.write_str("'*'"),
            Tok::Slash => f.write_str("'/'"),
            Tok::Amp => f.write_str("'&'"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
            Tok::Comma => f.write_str("','"),
            Tok::End => f.write_str("the end"),
        }
    }
}

/// A token and its 1-based character column.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub col: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | ':' | '/' | '@' | '#')
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits `text` into tokens; the last is always `End`, one column past the last character.
pub fn lex(text: &str, mode: Mode) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let next = chars.get(i + 1).copied();
        let words = mode == Mode::Words;
        let (tok, len) = match c {
            _ if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '*' => (Tok::Star, 1),
            '&' => (Tok::Amp, 1),
            '=' if next == Some('=') => (Tok::Cmp(Op::Eq), 2),
            '=' => (Tok::Cmp(Op::Eq), 1),
            '!' if next == Some('=') => (Tok::Cmp(Op::Ne), 2),
            '<' if next == Some('=') => (Tok::Cmp(Op::Le), 2),
            '<' if next == Some('>') => (Tok::Cmp(Op::Ne), 2),
            '<' => (Tok::Cmp(Op::Lt), 1),
            '>' if next == Some('=') => (Tok::Cmp(Op::Ge), 2),
            '>' => (Tok::Cmp(Op::Gt), 1),
            '!' => return err(col, "unexpected '!' (use `not` or `!=`)"),
            '\'' | '"' | '`' => {
                let (s, len) = quoted(&chars[i..], col)?;
                let tok = if c == '`' { Tok::Name(s) } else { Tok::Text(s) };
                (tok, len)
            }
            _ if words && is_word_char(c) => {
                let len = chars[i..].iter().take_while(|&&x| is_word_char(x)).count();
                (Tok::Word(chars[i..i + len].iter().collect()), len)
            }
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '/' => (Tok::Slash, 1),
            _ if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                number(&chars[i..], col)?
            }
            _ if is_name_char(c) => {
                let len = chars[i..].iter().take_while(|&&x| is_name_char(x)).count();
                (Tok::Word(chars[i..i + len].iter().collect()), len)
            }
            _ if words => return err(col, format!("unexpected character {c:?}")),
            _ => {
                return err(
                    col,
                    format!(
                        "unexpected '{c}' (a column name with such characters is written in \
                         backticks)"
                    ),
                )
            }
        };
        out.push(Token { tok, col });
        i += len;
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}

/// The text of a quoted token starting at `chars[0]` (the quote), and the characters it spans.
fn quoted(chars: &[char], col: usize) -> Result<(String, usize), ExprError> {
    let q = chars[0];
    let mut text = String::new();
    let mut i = 1;
    loop {
        match chars.get(i) {
            None => return err(col, format!("{q}...{q} is not closed")),
            Some(&c) if c == q => {
                if chars.get(i + 1) == Some(&q) {
                    text.push(q);
                    i += 2;
                } else {
                    return Ok((text, i + 1));
                }
            }
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

/// A number starting at `chars[0]`: digits and points, then an optional exponent.
fn number(chars: &[char], col: usize) -> Result<(Tok, usize), ExprError> {
    let mut i = 0;
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
    let text: String = chars[..i].iter().collect();
    let Ok(v) = text.parse::<f64>() else {
        return err(col, format!("'{text}' is not a number"));
    };
    if chars.get(i).is_some_and(|&c| is_name_char(c)) {
        return err(
            col,
            "a name cannot start with a digit: quote it with backticks, e.g. `2nd_col`",
        );
    }
    Ok((Tok::Num(v), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str, mode: Mode) -> Vec<(Tok, usize)> {
        match lex(text, mode) {
            Ok(t) => t.into_iter().map(|t| (t.tok, t.col)).collect(),
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn word(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    #[test]
    fn words_keep_dashes_and_points_that_arithmetic_splits() {
        assert_eq!(
            toks("campaign = rc-2405-618-tmall", Mode::Words),
            vec![
                (word("campaign"), 1),
                (Tok::Cmp(Op::Eq), 10),
                (word("rc-2405-618-tmall"), 12),
                (Tok::End, 29),
            ]
        );
        assert_eq!(
            toks("a-1.5e2", Mode::Arithmetic),
            vec![
                (word("a"), 1),
                (Tok::Minus, 2),
                (Tok::Num(150.0), 3),
                (Tok::End, 8),
            ]
        );
    }

    #[test]
    fn both_modes_share_quotes_operators_and_brackets() {
        for mode in [Mode::Words, Mode::Arithmetic] {
            assert_eq!(
                toks("x== 'it''s' <> `会员 ID` in [", mode),
                vec![
                    (word("x"), 1),
                    (Tok::Cmp(Op::Eq), 2),
                    (Tok::Text("it's".into()), 5),
                    (Tok::Cmp(Op::Ne), 13),
                    (Tok::Name("会员 ID".into()), 16),
                    (word("in"), 24),
                    (Tok::LBracket, 27),
                    (Tok::End, 28),
                ]
            );
        }
    }

    #[test]
    fn errors_carry_the_character_column() {
        let col = |text: &str, mode| lex(text, mode).err().map(|e| e.col);
        assert_eq!(col("会员 ~ 1", Mode::Words), Some(4));
        assert_eq!(col("会员 ~ 1", Mode::Arithmetic), Some(4));
        assert_eq!(col("a = 'open", Mode::Words), Some(5));
        assert_eq!(col("a ! b", Mode::Arithmetic), Some(3));
        assert_eq!(col("2nd + 1", Mode::Arithmetic), Some(1));
    }
}
