//! The audience selection language: a small boolean expression over a member's tier, segment,
//! cluster, channel, campaign, RFM values and (with a model) score, e.g.
//! `tier >= silver and segment in [champions, loyal] and not channel = douyin`.
//!
//! Grammar (keywords case-insensitive; `not` binds tighter than `and`, `and` than `or`):
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | test
//! test    := field op value | field "in" "[" value ("," value)* "]"
//! op      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
//! value   := word | number | "double-quoted" | 'single-quoted'
//! ```
//! Fields: `tier` (ordered by the tier config), `segment`, `cluster` (id or name), `channel`,
//! `campaign` (equality and `in` only), `r`, `f`, `m` (0–5; 0 without orders), `recency_days`,
//! `frequency`, `monetary`, and with a model `decision` (pass < review < reject), `quality`
//! (0–100), `probability` (0–1).
//!
//! Values are checked when the expression is parsed, against the names this history and config
//! actually have: an unknown field, an unknown tier or segment, a channel no member joined from,
//! a cluster that does not exist, a score field without a model are errors that point at the
//! token with its 1-based column. A member without orders has no `recency_days`: every ordered
//! comparison on it is false; `!=` is always `not =`.
//!
//! Never evaluates anything a user typed as code: the expression only compares values.

use std::fmt;

use serde::Serialize;

use super::rfm::{Segment, NO_ORDERS};
use crate::model::artefact::Decision;

/// A selection error at a 1-based column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("col {col}: {message}")]
pub struct SelectError {
    pub col: usize,
    pub message: String,
}

fn err<T>(col: usize, message: impl Into<String>) -> Result<T, SelectError> {
    Err(SelectError {
        col,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    /// A quoted string: never a keyword.
    Quoted(String),
    Op(Op),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

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

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | ':' | '/' | '@' | '#')
}

/// Splits `text` into tokens, each with its 1-based column.
fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, SelectError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let next = chars.get(i + 1).copied();
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
            '=' if next == Some('=') => (Tok::Op(Op::Eq), 2),
            '=' => (Tok::Op(Op::Eq), 1),
            '!' if next == Some('=') => (Tok::Op(Op::Ne), 2),
            '<' if next == Some('=') => (Tok::Op(Op::Le), 2),
            '<' if next == Some('>') => (Tok::Op(Op::Ne), 2),
            '<' => (Tok::Op(Op::Lt), 1),
            '>' if next == Some('=') => (Tok::Op(Op::Ge), 2),
            '>' => (Tok::Op(Op::Gt), 1),
            '"' | '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .map(|p| i + 1 + p);
                let Some(end) = end else {
                    return err(col, format!("unclosed {c}"));
                };
                let s: String = chars[i + 1..end].iter().collect();
                (Tok::Quoted(s), end + 1 - i)
            }
            _ if is_word_char(c) => {
                let len = chars[i..].iter().take_while(|&&x| is_word_char(x)).count();
                (Tok::Word(chars[i..i + len].iter().collect()), len)
            }
            '!' => return err(col, "unexpected \"!\" (use `not` or `!=`)"),
            _ => return err(col, format!("unexpected character {c:?}")),
        };
        out.push((tok, col));
        i += len;
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

/// A field of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Tier,
    Segment,
    Cluster,
    Channel,
    Campaign,
    R,
    F,
    M,
    RecencyDays,
    Frequency,
    Monetary,
    Decision,
    Quality,
    Probability,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::Tier,
        Field::Segment,
        Field::Cluster,
        Field::Channel,
        Field::Campaign,
        Field::R,
        Field::F,
        Field::M,
        Field::RecencyDays,
        Field::Frequency,
        Field::Monetary,
        Field::Decision,
        Field::Quality,
        Field::Probability,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Tier => "tier",
            Field::Segment => "segment",
            Field::Cluster => "cluster",
            Field::Channel => "channel",
            Field::Campaign => "campaign",
            Field::R => "r",
            Field::F => "f",
            Field::M => "m",
            Field::RecencyDays => "recency_days",
            Field::Frequency => "frequency",
            Field::Monetary => "monetary",
            Field::Decision => "decision",
            Field::Quality => "quality",
            Field::Probability => "probability",
        }
    }

    fn needs_model(self) -> bool {
        matches!(self, Field::Decision | Field::Quality | Field::Probability)
    }

    /// Whether `<`, `<=`, `>`, `>=` mean something.
    fn ordered(self) -> bool {
        !matches!(
            self,
            Field::Segment | Field::Cluster | Field::Channel | Field::Campaign
        )
    }
}

/// The names a selection may use: from the tier config, the clustering and the history.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Tier names, lowest first.
    pub tiers: Vec<String>,
    /// Cluster names by index (id = index + 1).
    pub clusters: Vec<String>,
    /// Channel names with their symbols.
    pub channels: Vec<(String, u32)>,
    /// Campaign names with their symbols.
    pub campaigns: Vec<(String, u32)>,
    /// Whether a model scores the members (`decision`, `quality`, `probability`).
    pub model: bool,
}

/// What a selection reads of one member. Names are resolved to numbers when the expression is
/// parsed (tier and cluster index, segment position, symbols), so evaluation compares numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Facts {
    pub tier: usize,
    /// `None`: no orders.
    pub segment: Option<Segment>,
    /// 0-based cluster index.
    pub cluster: usize,
    pub channel: u32,
    /// `crate::data::history::NONE` when the member joined outside a campaign.
    pub campaign: u32,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub recency_days: Option<i64>,
    pub frequency: u32,
    pub monetary: f64,
    pub decision: Option<Decision>,
    pub quality: Option<u8>,
    pub probability: Option<f64>,
}

fn segment_code(s: Option<Segment>) -> f64 {
    s.map_or(Segment::ALL.len(), |s| {
        Segment::ALL.iter().position(|x| *x == s).unwrap_or(0)
    }) as f64
}

fn decision_code(d: Decision) -> f64 {
    match d {
        Decision::Pass => 0.0,
        Decision::Review => 1.0,
        Decision::Reject => 2.0,
    }
}

impl Facts {
    fn get(&self, field: Field) -> Option<f64> {
        match field {
            Field::Tier => Some(self.tier as f64),
            Field::Segment => Some(segment_code(self.segment)),
            Field::Cluster => Some(self.cluster as f64),
            Field::Channel => Some(f64::from(self.channel)),
            Field::Campaign => {
                (self.campaign != crate::data::history::NONE).then_some(f64::from(self.campaign))
            }
            Field::R => Some(f64::from(self.r)),
            Field::F => Some(f64::from(self.f)),
            Field::M => Some(f64::from(self.m)),
            Field::RecencyDays => self.recency_days.map(|d| d as f64),
            Field::Frequency => Some(f64::from(self.frequency)),
            Field::Monetary => Some(self.monetary),
            Field::Decision => self.decision.map(decision_code),
            Field::Quality => self.quality.map(f64::from),
            Field::Probability => self.probability,
        }
    }
}

/// A parsed, checked selection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `field op value`, the value resolved to the field's number.
    Cmp {
        field: Field,
        op: Op,
        value: f64,
    },
    /// `field in [..]`.
    In {
        field: Field,
        values: Vec<f64>,
    },
}

impl Expr {
    /// Whether a member with these facts is selected.
    pub fn matches(&self, m: &Facts) -> bool {
        match self {
            Expr::Or(a, b) => a.matches(m) || b.matches(m),
            Expr::And(a, b) => a.matches(m) && b.matches(m),
            Expr::Not(a) => !a.matches(m),
            Expr::Cmp { field, op, value } => {
                let v = m.get(*field);
                match (op, v) {
                    (Op::Ne, v) => v != Some(*value),
                    (_, None) => false,
                    (Op::Eq, Some(v)) => v == *value,
                    (Op::Lt, Some(v)) => v < *value,
                    (Op::Le, Some(v)) => v <= *value,
                    (Op::Gt, Some(v)) => v > *value,
                    (Op::Ge, Some(v)) => v >= *value,
                }
            }
            Expr::In { field, values } => m.get(*field).is_some_and(|v| values.contains(&v)),
        }
    }
}

fn field_list() -> String {
    Field::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// At most 12 names, then how many more.
fn some_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = names.collect();
    let mut s = all.iter().take(12).copied().collect::<Vec<_>>().join(", ");
    if all.len() > 12 {
        s.push_str(&format!(", … ({} in all)", all.len()));
    }
    s
}

struct Parser<'v> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    vocab: &'v Vocabulary,
}

fn keyword(t: &Tok, k: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(k))
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("\"{w}\""),
        Tok::Quoted(w) => format!("\"{w}\""),
        Tok::Op(o) => format!("\"{o}\""),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LBracket => "\"[\"".into(),
        Tok::RBracket => "\"]\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::End => "the end".into(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &(Tok, usize) {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn or(&mut self) -> Result<Expr, SelectError> {
        let mut e = self.and()?;
        while keyword(&self.peek().0, "or") {
            self.bump();
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, SelectError> {
        let mut e = self.unary()?;
        while keyword(&self.peek().0, "and") {
            self.bump();
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, SelectError> {
        let (tok, col) = self.peek().clone();
        if keyword(&tok, "not") {
            self.bump();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if tok == Tok::LParen {
            self.bump();
            let e = self.or()?;
            let (t, c) = self.bump();
            if t != Tok::RParen {
                return err(
                    c,
                    format!(
                        "expected \")\" to close the \"(\" at col {col}, found {}",
                        describe(&t)
                    ),
                );
            }
            return Ok(e);
        }
        self.test()
    }

    fn test(&mut self) -> Result<Expr, SelectError> {
        let (tok, col) = self.bump();
        let Tok::Word(name) = &tok else {
            return err(
                col,
                format!(
                    "expected a field, found {}; fields are {}",
                    describe(&tok),
                    field_list()
                ),
            );
        };
        let Some(field) = Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
        else {
            return err(
                col,
                format!("unknown field \"{name}\"; fields are {}", field_list()),
            );
        };
        if field.needs_model() && !self.vocab.model {
            return err(col, format!("{} needs a model (--model)", field.name()));
        }
        let (tok, ocol) = self.bump();
        match tok {
            Tok::Op(op) => {
                if !field.ordered() && !matches!(op, Op::Eq | Op::Ne) {
                    return err(
                        ocol,
                        format!("{} has no order: use =, != or in [..]", field.name()),
                    );
                }
                let value = self.value(field)?;
                Ok(Expr::Cmp { field, op, value })
            }
            t if keyword(&t, "in") => {
                let (t, c) = self.bump();
                if t != Tok::LBracket {
                    return err(
                        c,
                        format!("expected \"[\" after in, found {}", describe(&t)),
                    );
                }
                let mut values = vec![self.value(field)?];
                loop {
                    let (t, c) = self.bump();
                    match t {
                        Tok::Comma => values.push(self.value(field)?),
                        Tok::RBracket => break,
                        t => {
                            return err(
                                c,
                                format!("expected \",\" or \"]\", found {}", describe(&t)),
                            )
                        }
                    }
                }
                Ok(Expr::In { field, values })
            }
            t => err(
                ocol,
                format!(
                    "expected an operator (= != < <= > >=) or in after {}, found {}",
                    field.name(),
                    describe(&t)
                ),
            ),
        }
    }

    /// A value of `field`, resolved to the number `Facts::get` gives.
    fn value(&mut self, field: Field) -> Result<f64, SelectError> {
        let (tok, col) = self.bump();
        let text = match &tok {
            Tok::Word(w) | Tok::Quoted(w) => w.clone(),
            t => {
                return err(
                    col,
                    format!(
                        "expected a value for {}, found {}",
                        field.name(),
                        describe(t)
                    ),
                )
            }
        };
        let v = self.vocab;
        let named =
            |names: &mut dyn Iterator<Item = &str>, what: &str| -> Result<f64, SelectError> {
                let all: Vec<&str> = names.collect();
                match all.iter().position(|n| n.eq_ignore_ascii_case(&text)) {
                    Some(i) => Ok(i as f64),
                    None => err(
                        col,
                        format!(
                            "unknown {what} \"{text}\"; {what}s are {}",
                            some_of(all.into_iter())
                        ),
                    ),
                }
            };
        let number = |lo: f64, hi: f64, whole: bool| -> Result<f64, SelectError> {
            match text.parse::<f64>() {
                Ok(x)
                    if x.is_finite() && (lo..=hi).contains(&x) && (!whole || x.fract() == 0.0) =>
                {
                    Ok(x)
                }
                _ => err(
                    col,
                    format!(
                        "{} takes {} from {lo} to {hi}, not \"{text}\"",
                        field.name(),
                        if whole { "a whole number" } else { "a number" }
                    ),
                ),
            }
        };
        let symbol = |names: &[(String, u32)], what: &str| -> Result<f64, SelectError> {
            match names.iter().find(|(n, _)| *n == text) {
                Some((_, s)) => Ok(f64::from(*s)),
                None => err(
                    col,
                    format!(
                        "unknown {what} \"{text}\"; {what}s are {}",
                        some_of(names.iter().map(|(n, _)| n.as_str()))
                    ),
                ),
            }
        };
        match field {
            Field::Tier => named(&mut v.tiers.iter().map(String::as_str), "tier"),
            Field::Segment => named(
                &mut Segment::ALL.iter().map(|s| s.name()).chain([NO_ORDERS]),
                "segment",
            ),
            Field::Cluster => {
                if let Ok(id) = text.parse::<usize>() {
                    if (1..=v.clusters.len()).contains(&id) {
                        return Ok((id - 1) as f64);
                    }
                    return err(
                        col,
                        format!("no cluster {id}: clusters are 1 to {}", v.clusters.len()),
                    );
                }
                named(&mut v.clusters.iter().map(String::as_str), "cluster")
            }
            Field::Channel => symbol(&v.channels, "channel"),
            Field::Campaign => symbol(&v.campaigns, "campaign"),
            Field::R | Field::F | Field::M => number(0.0, 5.0, true),
            Field::RecencyDays | Field::Frequency => number(0.0, 1e12, false),
            Field::Monetary => number(f64::MIN, f64::MAX, false),
            Field::Quality => number(0.0, 100.0, false),
            Field::Probability => number(0.0, 1.0, false),
            Field::Decision => match text.to_ascii_lowercase().as_str() {
                "pass" => Ok(0.0),
                "review" => Ok(1.0),
                "reject" => Ok(2.0),
                _ => err(
                    col,
                    format!("unknown decision \"{text}\"; decisions are pass, review, reject"),
                ),
            },
        }
    }
}

/// Parses and checks a selection against the names in `vocab`.
pub fn parse(text: &str, vocab: &Vocabulary) -> Result<Expr, SelectError> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        vocab,
    };
    if p.peek().0 == Tok::End {
        return err(1, "empty selection");
    }
    let e = p.or()?;
    let (t, col) = p.peek().clone();
    if t != Tok::End {
        return err(
            col,
            format!("unexpected {} (expected and, or or the end)", describe(&t)),
        );
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            tiers: ["one-star", "two-star", "silver", "platinum"]
                .map(String::from)
                .to_vec(),
            clusters: vec![
                "frequent buyers".into(),
                "coupon-driven, rare buyers".into(),
            ],
            channels: vec![("tmall".into(), 3), ("douyin".into(), 7)],
            campaigns: vec![("spring".into(), 9)],
            model: true,
        }
    }

    fn p(s: &str) -> Expr {
        parse(s, &vocab()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn e(s: &str) -> SelectError {
        match parse(s, &vocab()) {
            Ok(x) => panic!("{s} parsed: {x:?}"),
            Err(e) => e,
        }
    }

    fn cmp(field: Field, op: Op, value: f64) -> Expr {
        Expr::Cmp { field, op, value }
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tighter_than_and() {
        let a = cmp(Field::R, Op::Eq, 5.0);
        let b = cmp(Field::F, Op::Ge, 4.0);
        let c = cmp(Field::M, Op::Lt, 2.0);
        let bx = || Box::new(b.clone());
        assert_eq!(
            p("r = 5 or f >= 4 and m < 2"),
            Expr::Or(
                Box::new(a.clone()),
                Box::new(Expr::And(bx(), Box::new(c.clone())))
            )
        );
        assert_eq!(
            p("(r = 5 or f >= 4) and m < 2"),
            Expr::And(
                Box::new(Expr::Or(Box::new(a.clone()), bx())),
                Box::new(c.clone())
            )
        );
        assert_eq!(
            p("not r = 5 and f >= 4"),
            Expr::And(Box::new(Expr::Not(Box::new(a.clone()))), bx())
        );
        assert_eq!(
            p("r=5 OR f>=4 OR m<2"),
            Expr::Or(Box::new(Expr::Or(Box::new(a), bx())), Box::new(c))
        );
    }

    #[test]
    fn names_resolve_to_their_positions() {
        assert_eq!(p("tier >= silver"), cmp(Field::Tier, Op::Ge, 2.0));
        assert_eq!(
            p("segment in [champions, loyal, no_orders]"),
            Expr::In {
                field: Field::Segment,
                values: vec![0.0, 1.0, 11.0]
            }
        );
        assert_eq!(p("cluster = 2"), cmp(Field::Cluster, Op::Eq, 1.0));
        assert_eq!(
            p("cluster = 'coupon-driven, rare buyers'"),
            cmp(Field::Cluster, Op::Eq, 1.0)
        );
        assert_eq!(p("channel != douyin"), cmp(Field::Channel, Op::Ne, 7.0));
        assert_eq!(p("decision <= review"), cmp(Field::Decision, Op::Le, 1.0));
        assert_eq!(
            p("probability < 0.25"),
            cmp(Field::Probability, Op::Lt, 0.25)
        );
    }

    #[test]
    fn errors_point_at_the_bad_token() {
        let x = e("tier >= silver and tir = gold");
        assert_eq!(x.col, 20);
        assert!(
            x.message
                .starts_with("unknown field \"tir\"; fields are tier, segment"),
            "{x}"
        );
        assert_eq!(x.to_string().split(':').next(), Some("col 20"));
        let x = e("tier >= gold");
        assert_eq!(x.col, 9);
        assert!(
            x.message.contains("unknown tier \"gold\"") && x.message.contains("silver"),
            "{x}"
        );
        assert_eq!(e("segment > loyal").col, 9);
        assert_eq!(e("segment in [champions loyal]").col, 23);
        assert_eq!(e("r = 6").col, 5);
        assert_eq!(e("(r = 5").col, 7);
        assert_eq!(e("r = 5)").col, 6);
        assert_eq!(e("r = 5 f = 2").col, 7);
        assert_eq!(e("channel = jd").col, 11);
        assert_eq!(e("cluster = 3").col, 11);
        assert_eq!(e("r ~ 5").col, 3);
        assert_eq!(e("segment = \"loyal").col, 11);
        assert_eq!(e("").col, 1);
        assert_eq!(e("tier >=").col, 8);
        let no_model = parse(
            "decision = reject",
            &Vocabulary {
                model: false,
                ..vocab()
            },
        );
        assert_eq!(no_model.map_err(|e| e.col), Err(1));
    }

    #[test]
    fn matches_follows_the_rules() {
        let m = Facts {
            tier: 2,
            segment: Some(Segment::Loyal),
            cluster: 1,
            channel: 3,
            campaign: crate::data::history::NONE,
            r: 4,
            f: 3,
            m: 5,
            recency_days: None,
            frequency: 3,
            monetary: 120.5,
            decision: Some(Decision::Review),
            quality: Some(70),
            probability: Some(0.3),
        };
        let yes = |s: &str| p(s).matches(&m);
        assert!(yes("tier >= silver and segment in [champions, loyal]"));
        assert!(!yes("tier > silver"));
        assert!(yes("not tier > silver"));
        assert!(yes("channel = tmall and cluster = 2"));
        assert!(!yes("campaign = spring"));
        assert!(yes("campaign != spring"), "no campaign is not spring");
        assert!(!yes("recency_days < 30") && !yes("recency_days >= 30"));
        assert!(yes(
            "decision >= review and quality < 80 and probability > 0.25"
        ));
        assert!(yes("monetary > 100 and frequency = 3 and m = 5"));
        assert!(!yes("r = 5 or f < 3"));
    }
}
