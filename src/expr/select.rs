//! The selection language: a small boolean expression over a member's tier, segment, cluster,
//! channel, campaign, RFM values and (with a model) score, e.g.
//! `tier >= silver and segment in [champions, loyal] and not channel = douyin`; and, with extra
//! numeric fields (a model's feature names), the language of scoring rules, e.g.
//! `device_accounts >= 5 and channel = douyin`.
//!
//! Grammar (keywords case-insensitive; `not` binds tighter than `and`, `and` than `or`):
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | test
//! test    := field op value | field "in" "[" value ("," value)* "]"
//! field   := word | `backquoted name`
//! op      := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! value   := word | number | "double-quoted" | 'single-quoted'
//! ```
//! Fields: `tier` (ordered by the tier config), `segment`, `cluster` (id or name), `channel`,
//! `campaign` (equality and `in` only), `r`, `f`, `m` (0–5; 0 without orders), `recency_days`,
//! `frequency`, `monetary`, with a model `decision` (pass < review < reject), `quality`
//! (0–100), `probability` (0–1), and the numeric fields the vocabulary adds (`Vocabulary::numbers`;
//! a built-in field of the same name wins): a campaign audience adds the member's gang,
//! `gang_flagged` (1 or 0), `gang_size` and `gang_score` (`gangs::MEMBER_FIELDS`).
//!
//! Values are checked when the expression is parsed, against the names this history and config
//! actually have: an unknown field, an unknown tier or segment, a channel no member joined from,
//! a cluster that does not exist, a score field without a model, a member-only field at sign-up
//! are errors that point at the token with its 1-based column.
//!
//! An absent value (a member without orders has no `recency_days`; a NaN or missing number) makes
//! every comparison false except `!=`, which is true: `!=` is always `not =`.
//!
//! Never evaluates anything a user typed as code: the expression only compares values.

use serde::Serialize;

use super::error::{err, ExprError};
pub use super::lex::Op;
use super::lex::{lex, Mode, Tok, Token};
use crate::members::rfm::{Segment, NO_ORDERS};
use crate::model::artefact::Decision;

/// A selection's errors are the expression languages' one positioned error.
pub type SelectError = ExprError;

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
    /// A numeric field of the vocabulary: an index into `Vocabulary::numbers`, and into the
    /// numbers given to `Expr::matches_with`.
    Number(u16),
}

impl Field {
    /// The built-in fields.
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

    /// The field's name as written; a numeric field's comes from `vocab`.
    pub fn name(self, vocab: &Vocabulary) -> &str {
        match self {
            Field::Number(i) => vocab
                .numbers
                .get(usize::from(i))
                .map_or("number", String::as_str),
            f => f.builtin_name(),
        }
    }

    fn builtin_name(self) -> &'static str {
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
            Field::Number(_) => "number",
        }
    }

    fn needs_model(self) -> bool {
        matches!(self, Field::Decision | Field::Quality | Field::Probability)
    }

    /// Whether the field needs a member's orders and value, which a sign-up does not have yet.
    pub fn member_only(self) -> bool {
        matches!(
            self,
            Field::Tier
                | Field::Segment
                | Field::Cluster
                | Field::R
                | Field::F
                | Field::M
                | Field::RecencyDays
                | Field::Frequency
                | Field::Monetary
        )
    }

    /// Whether `<`, `<=`, `>`, `>=` mean something.
    fn ordered(self) -> bool {
        !matches!(
            self,
            Field::Segment | Field::Cluster | Field::Channel | Field::Campaign
        )
    }
}

/// The names an expression may use: from the tier config, the clustering and the history, and
/// the extra numeric fields of a rule.
///
/// `Default` is a member selection without a model and without extra fields (`sign_up: false`).
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
    /// Extra numeric fields by name, lower-case (e.g. a model's feature names such as
    /// `device_accounts`): `Field::Number(i)` is `numbers[i]`, read from the numbers given to
    /// `Expr::matches_with`. A built-in field of the same name wins.
    pub numbers: Vec<String>,
    /// Whether the expression is about a sign-up candidate, who has no orders yet: the
    /// member-only fields (`Field::member_only`) are then errors. `false` for members.
    pub sign_up: bool,
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
    /// The value of `field`, `None` when absent; a numeric field reads `numbers`, where a NaN or
    /// a missing entry is absent.
    fn get(&self, field: Field, numbers: &[f64]) -> Option<f64> {
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
            Field::Number(i) => numbers.get(usize::from(i)).copied().filter(|v| !v.is_nan()),
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
    /// Whether a member with these facts is selected; the same as `matches_with(m, &[])`.
    pub fn matches(&self, m: &Facts) -> bool {
        self.matches_with(m, &[])
    }

    /// Whether these facts, with `numbers` for the numeric fields (`numbers[i]` for
    /// `Field::Number(i)`), match. An absent value fails every comparison except `!=`.
    pub fn matches_with(&self, m: &Facts, numbers: &[f64]) -> bool {
        match self {
            Expr::Or(a, b) => a.matches_with(m, numbers) || b.matches_with(m, numbers),
            Expr::And(a, b) => a.matches_with(m, numbers) && b.matches_with(m, numbers),
            Expr::Not(a) => !a.matches_with(m, numbers),
            Expr::Cmp { field, op, value } => {
                let v = m.get(*field, numbers);
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
            Expr::In { field, values } => {
                m.get(*field, numbers).is_some_and(|v| values.contains(&v))
            }
        }
    }

    /// The fields the expression reads, each once, in the order they first appear.
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields(&self, out: &mut Vec<Field>) {
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                a.collect_fields(out);
                b.collect_fields(out);
            }
            Expr::Not(a) => a.collect_fields(out),
            Expr::Cmp { field, .. } | Expr::In { field, .. } => {
                if !out.contains(field) {
                    out.push(*field);
                }
            }
        }
    }
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
    toks: Vec<Token>,
    pos: usize,
    vocab: &'v Vocabulary,
}

fn keyword(t: &Tok, k: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(k))
}

impl Parser<'_> {
    fn peek(&self) -> (&Tok, usize) {
        match self.toks.get(self.pos).or(self.toks.last()) {
            Some(t) => (&t.tok, t.col),
            None => (&Tok::End, 1),
        }
    }

    fn bump(&mut self) -> (Tok, usize) {
        let (t, col) = self.peek();
        let t = t.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        (t, col)
    }

    /// The fields this vocabulary allows, built-in first.
    fn field_list(&self) -> String {
        let v = self.vocab;
        Field::ALL
            .iter()
            .filter(|f| !(v.sign_up && f.member_only()))
            .map(|f| f.builtin_name())
            .chain(v.numbers.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.and()?;
        while keyword(self.peek().0, "or") {
            self.bump();
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.unary()?;
        while keyword(self.peek().0, "and") {
            self.bump();
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        let (tok, col) = self.peek();
        if keyword(tok, "not") {
            self.bump();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if *tok == Tok::LParen {
            self.bump();
            let e = self.or()?;
            let (t, c) = self.bump();
            if t != Tok::RParen {
                return err(
                    c,
                    format!("expected \")\" to close the \"(\" at col {col}, found {t}"),
                );
            }
            return Ok(e);
        }
        self.test()
    }

    /// The field named `name` (at `col`), if this vocabulary allows it here.
    fn field(&self, name: &str, col: usize) -> Result<Field, ExprError> {
        let v = self.vocab;
        let builtin = Field::ALL
            .into_iter()
            .find(|f| f.builtin_name().eq_ignore_ascii_case(name));
        let number = || {
            v.numbers
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .and_then(|i| u16::try_from(i).ok())
                .map(Field::Number)
        };
        let Some(field) = builtin.or_else(number) else {
            return err(
                col,
                format!("unknown field \"{name}\"; fields are {}", self.field_list()),
            );
        };
        if v.sign_up && field.member_only() {
            return err(col, format!("`{}` is not known at sign-up", field.name(v)));
        }
        if field.needs_model() && !v.model {
            return err(col, format!("{} needs a model (--model)", field.name(v)));
        }
        Ok(field)
    }

    fn test(&mut self) -> Result<Expr, ExprError> {
        let (tok, col) = self.bump();
        let (Tok::Word(name) | Tok::Name(name)) = &tok else {
            return err(
                col,
                format!(
                    "expected a field, found {tok}; fields are {}",
                    self.field_list()
                ),
            );
        };
        let field = self.field(name, col)?;
        let name = field.name(self.vocab);
        let (tok, ocol) = self.bump();
        match tok {
            Tok::Cmp(op) => {
                if !field.ordered() && !matches!(op, Op::Eq | Op::Ne) {
                    return err(ocol, format!("{name} has no order: use =, != or in [..]"));
                }
                let value = self.value(field)?;
                Ok(Expr::Cmp { field, op, value })
            }
            t if keyword(&t, "in") => {
                let (t, c) = self.bump();
                if t != Tok::LBracket {
                    return err(c, format!("expected \"[\" after in, found {t}"));
                }
                let mut values = vec![self.value(field)?];
                loop {
                    let (t, c) = self.bump();
                    match t {
                        Tok::Comma => values.push(self.value(field)?),
                        Tok::RBracket => break,
                        t => return err(c, format!("expected \",\" or \"]\", found {t}")),
                    }
                }
                Ok(Expr::In { field, values })
            }
            t => err(
                ocol,
                format!("expected an operator (= != < <= > >=) or in after {name}, found {t}"),
            ),
        }
    }

    /// A value of `field`, resolved to the number `Facts::get` gives.
    fn value(&mut self, field: Field) -> Result<f64, ExprError> {
        let v = self.vocab;
        let name = field.name(v);
        let (tok, col) = self.bump();
        let text = match tok {
            Tok::Word(w) | Tok::Text(w) => w,
            t => return err(col, format!("expected a value for {name}, found {t}")),
        };
        let named = |names: &mut dyn Iterator<Item = &str>, what: &str| -> Result<f64, ExprError> {
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
        let number = |lo: f64, hi: f64, whole: bool| -> Result<f64, ExprError> {
            match text.parse::<f64>() {
                Ok(x)
                    if x.is_finite() && (lo..=hi).contains(&x) && (!whole || x.fract() == 0.0) =>
                {
                    Ok(x)
                }
                _ => err(
                    col,
                    format!(
                        "{name} takes {} from {lo} to {hi}, not \"{text}\"",
                        if whole { "a whole number" } else { "a number" }
                    ),
                ),
            }
        };
        let symbol = |names: &[(String, u32)], what: &str| -> Result<f64, ExprError> {
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
            Field::Monetary | Field::Number(_) => number(f64::MIN, f64::MAX, false),
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

/// Parses and checks a selection (or a rule) against the names in `vocab`.
pub fn parse(text: &str, vocab: &Vocabulary) -> Result<Expr, ExprError> {
    let toks = lex(text, Mode::Words)?;
    let mut p = Parser {
        toks,
        pos: 0,
        vocab,
    };
    if *p.peek().0 == Tok::End {
        return err(1, "empty selection");
    }
    let e = p.or()?;
    let (t, col) = p.peek();
    if *t != Tok::End {
        return err(col, format!("unexpected {t} (expected and, or or the end)"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests;
