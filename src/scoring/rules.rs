//! Rules analysts write beside the model: named tests in the selection language over the
//! features of the moment (the recruitment features for a sign-up; the member features with
//! tier, segment and r/f/m for a member; the model's `probability`, `quality` and `decision`
//! either way), each with an action, a reason, a priority and a mode.
//!
//! ```toml
//! [[rule]]
//! name = "device_farm"
//! on = "signup"                      # or "member"
//! when = "device_accounts >= 6 and device_signups_1h >= 3"
//! action = "reject"                  # reject, review, hold (benefits) or pass
//! code = "DEVICE_FARM"
//! text = "six or more accounts already on this device, three of them in the last hour"
//! priority = 10                      # lower first; default 100
//! mode = "enforce"                   # or "shadow": evaluated and counted, never applied
//! ```
//!
//! A rule set is checked whole before it is used (an expression error points at its column) and
//! is swapped whole: a decision sees one rule set. The first enforced rule that matches, by
//! priority then file order, takes part in the decision: `reject` and `review` raise the model's
//! decision to at least theirs, `pass` lets the member or candidate through, `hold` leaves the
//! decision and holds their benefits.

use serde::{Deserialize, Serialize};

use crate::data::history::NONE;
use crate::data::schema::CHANNELS;
use crate::expr::select::{self, Expr, Facts, Vocabulary};
use crate::features::Moment;
use crate::model::artefact::{feature_names, Decision};

/// What a matching rule does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Pass,
    Hold,
    Review,
    Reject,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Hold => "hold",
            Action::Review => "review",
            Action::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

/// Whom a rule judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum On {
    /// A sign-up candidate (the recruitment features).
    Signup,
    /// A member (the member features, tier, segment, r/f/m).
    Member,
}

impl On {
    pub fn of(moment: Moment) -> On {
        match moment {
            Moment::Recruitment => On::Signup,
            Moment::Member => On::Member,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            On::Signup => "signup",
            On::Member => "member",
        }
    }
}

fn default_priority() -> u32 {
    100
}

/// One rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique in the set: letters, digits, `_` and `-`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub name: String,
    pub on: On,
    /// The test, in the selection language.
    pub when: String,
    pub action: Action,
    /// The reason code a decision carries: capitals, digits and `_`.
    #[schema(pattern = "^[A-Z0-9_]{1,64}$")]
    pub code: String,
    /// The reason in words.
    #[schema(min_length = 1, max_length = 300, pattern = "\\S")]
    pub text: String,
    #[serde(default = "default_priority")]
    pub priority: u32,
    #[serde(default)]
    pub mode: Mode,
}

/// A rules file, or the body of `PUT /v1/rules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

/// A rule set that does not check, naming the rule and (for its test) the column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the rules are not valid TOML: {0}")]
    Toml(String),
    #[error("rule {index} ({name:?}): {message}")]
    Rule {
        index: usize,
        name: String,
        message: String,
    },
}

/// A rule, checked and compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub spec: RuleSpec,
    expr: Expr,
}

/// The rule that took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleHit {
    pub name: String,
    pub action: Action,
    pub code: String,
    pub text: String,
}

/// What a rule set said of one candidate or member, and the gang it is in (or would join).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The enforced rule that decides, if any.
    pub decided: Option<RuleHit>,
    /// Every rule that matched, enforced or in shadow, by position in the set.
    pub matched: Vec<usize>,
    pub gang: Option<super::gang::GangBrief>,
    /// For a candidate: what joining a flagged gang does (`None`: a member).
    pub gang_on_signup: Option<super::gang::GangAction>,
}

/// A checked rule set, in evaluation order (priority, then file order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    rules: Vec<Rule>,
    spec: RulesFile,
}

/// The code a channel has in a rule: its position in the contract's channel list.
pub fn channel_code(name: &str) -> u32 {
    CHANNELS
        .iter()
        .position(|c| *c == name)
        .map_or(NONE - 1, |i| i as u32)
}

/// The names a rule over `on` may read.
pub fn vocabulary(on: On, tiers: &[String]) -> Vocabulary {
    let moment = match on {
        On::Signup => Moment::Recruitment,
        On::Member => Moment::Member,
    };
    Vocabulary {
        tiers: tiers.to_vec(),
        clusters: Vec::new(),
        channels: CHANNELS
            .iter()
            .map(|c| (c.to_string(), channel_code(c)))
            .collect(),
        campaigns: Vec::new(),
        model: true,
        numbers: feature_names(moment)
            .into_iter()
            .map(str::to_string)
            .collect(),
        sign_up: on == On::Signup,
    }
}

fn well_formed(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(ok)
}

impl RuleSet {
    /// Parses and checks a rules file; `tiers` are the tier names a member rule may compare.
    pub fn from_toml(text: &str, tiers: &[String]) -> Result<Self, RuleError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| RuleError::Toml(e.to_string()))?;
        Self::check(file, tiers)
    }

    /// Checks every rule of `file`: a unique, well-formed name and code, a text, and a test that
    /// parses against the names of its moment.
    pub fn check(file: RulesFile, tiers: &[String]) -> Result<Self, RuleError> {
        let mut rules = Vec::with_capacity(file.rules.len());
        for (index, spec) in file.rules.iter().enumerate() {
            let fail = |message: String| RuleError::Rule {
                index: index + 1,
                name: spec.name.clone(),
                message,
            };
            if !well_formed(&spec.name, |c| {
                c.is_ascii_alphanumeric() || c == '_' || c == '-'
            }) {
                return Err(fail(
                    "name: 1 to 64 letters, digits, '_' or '-'".to_string(),
                ));
            }
            if file.rules[..index].iter().any(|r| r.name == spec.name) {
                return Err(fail("name: another rule has this name".to_string()));
            }
            if !well_formed(&spec.code, |c| {
                c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
            }) {
                return Err(fail(
                    "code: 1 to 64 capitals, digits or '_', e.g. DEVICE_FARM".to_string(),
                ));
            }
            if spec.text.trim().is_empty() || spec.text.chars().count() > 300 {
                return Err(fail("text: 1 to 300 characters".to_string()));
            }
            let expr = select::parse(&spec.when, &vocabulary(spec.on, tiers))
                .map_err(|e| fail(format!("when: {}", e.show(&spec.when))))?;
            rules.push(Rule {
                spec: spec.clone(),
                expr,
            });
        }
        rules.sort_by_key(|r| r.spec.priority);
        Ok(RuleSet { rules, spec: file })
    }

    /// The rules as written (file order).
    pub fn spec(&self) -> &RulesFile {
        &self.spec
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule judges `on`.
    pub fn judges(&self, on: On) -> bool {
        self.rules.iter().any(|r| r.spec.on == on)
    }

    /// Evaluates the rules over `on` against one candidate's or member's facts and feature row
    /// (in the order of [`vocabulary`]'s numbers).
    pub fn evaluate(&self, on: On, facts: &Facts, numbers: &[f64]) -> Outcome {
        let mut out = Outcome::default();
        for (i, r) in self.rules.iter().enumerate() {
            if r.spec.on != on || !r.expr.matches_with(facts, numbers) {
                continue;
            }
            out.matched.push(i);
            if r.spec.mode == Mode::Enforce && out.decided.is_none() {
                out.decided = Some(RuleHit {
                    name: r.spec.name.clone(),
                    action: r.spec.action,
                    code: r.spec.code.clone(),
                    text: r.spec.text.clone(),
                });
            }
        }
        out
    }
}

/// The decision a rule's action makes of the model's.
pub fn apply(action: Action, model: Decision) -> Decision {
    match action {
        Action::Pass => Decision::Pass,
        Action::Hold => model,
        Action::Review => model.max(Decision::Review),
        Action::Reject => Decision::Reject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<String> {
        ["basic", "bronze", "silver", "gold"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    const FARM: &str = r#"
[[rule]]
name = "device_farm"
on = "signup"
when = "device_accounts >= 6 and channel = douyin"
action = "reject"
code = "DEVICE_FARM"
text = "a farm"
priority = 20

[[rule]]
name = "watch"
on = "signup"
when = "device_accounts >= 2"
action = "review"
code = "WATCH"
text = "watch"
priority = 10
mode = "shadow"

[[rule]]
name = "silver_no_buy"
on = "member"
when = "tier >= silver and frequency = 0"
action = "hold"
code = "NO_BUY"
text = "no orders"
"#;

    #[test]
    fn rules_evaluate_by_priority_and_shadow_rules_never_decide() {
        let set = RuleSet::from_toml(FARM, &tiers()).unwrap_or_default();
        assert_eq!(set.rules().len(), 3);
        let names = feature_names(Moment::Recruitment);
        let at = names
            .iter()
            .position(|n| *n == "device_accounts")
            .unwrap_or(0);
        let mut row = vec![f64::NAN; names.len()];
        row[at] = 7.0;
        let facts = Facts {
            channel: channel_code("douyin"),
            ..Facts::default()
        };
        let out = set.evaluate(On::Signup, &facts, &row);
        // `watch` (priority 10) matched first but is in shadow: the farm rule decides.
        assert_eq!(out.matched, vec![0, 1]);
        assert_eq!(out.decided.map(|h| h.code), Some("DEVICE_FARM".to_string()));
        row[at] = 3.0;
        let out = set.evaluate(On::Signup, &facts, &row);
        assert_eq!((out.matched, out.decided), (vec![0], None));
        let tmall = Facts {
            channel: channel_code("tmall"),
            ..Facts::default()
        };
        row[at] = 9.0;
        assert_eq!(set.evaluate(On::Signup, &tmall, &row).decided, None);
        // A missing feature is absent: no comparison on it holds.
        assert_eq!(
            set.evaluate(On::Signup, &facts, &[]).matched,
            Vec::<usize>::new()
        );
        // Member rules read the member's standing.
        let silver = Facts {
            tier: 2,
            frequency: 0,
            ..Facts::default()
        };
        let out = set.evaluate(On::Member, &silver, &[]);
        assert_eq!(out.decided.map(|h| h.action), Some(Action::Hold));
    }

    #[test]
    fn actions_raise_or_clear_the_models_decision() {
        assert_eq!(apply(Action::Review, Decision::Pass), Decision::Review);
        assert_eq!(apply(Action::Review, Decision::Reject), Decision::Reject);
        assert_eq!(apply(Action::Reject, Decision::Pass), Decision::Reject);
        assert_eq!(apply(Action::Pass, Decision::Reject), Decision::Pass);
        assert_eq!(apply(Action::Hold, Decision::Review), Decision::Review);
    }

    #[test]
    fn a_bad_rule_is_named_with_its_column() {
        let bad = |when: &str, on: &str| {
            let text = format!(
                "[[rule]]\nname = \"r\"\non = \"{on}\"\nwhen = \"{when}\"\naction = \"reject\"\ncode = \"R\"\ntext = \"t\"\n"
            );
            RuleSet::from_toml(&text, &tiers())
                .err()
                .map(|e| e.to_string())
        };
        let e = bad("device_acounts > 3", "signup").unwrap_or_default();
        assert!(e.starts_with("rule 1 (\"r\"): when: "), "{e}");
        assert!(e.contains("col 1"), "{e}");
        let e = bad("device_accounts > 3 and tier >= silver", "signup").unwrap_or_default();
        assert!(e.contains("col 25") && e.contains("sign-up"), "{e}");
        assert_eq!(bad("tier >= silver and recency_days > 30", "member"), None);
        let dup = format!("{FARM}\n[[rule]]\nname = \"watch\"\non = \"member\"\nwhen = \"r = 1\"\naction = \"pass\"\ncode = \"X\"\ntext = \"x\"\n");
        assert!(RuleSet::from_toml(&dup, &tiers()).is_err_and(
            |e| e.to_string() == "rule 4 (\"watch\"): name: another rule has this name"
        ));
        assert!(RuleSet::from_toml("[[rule]]\nname = 3\n", &tiers())
            .is_err_and(|e| matches!(e, RuleError::Toml(_))));
    }
}
