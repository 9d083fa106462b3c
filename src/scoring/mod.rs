//! The one place a decision is made. A verdict for a sign-up candidate or a member comes from the
//! same steps on every path (`woolguard score`, `audience`, `explain`, `diagnose`, `report` and
//! every HTTP route): the allow / deny lists first, then the analysts' rules, then the model's
//! thresholds, then the remedy offered instead of a plain no; with a member's tier and segment.
//!
//! Nothing here reads files or speaks HTTP: the callers hand in the model's score, the feature
//! row it came from, the keys the lists match on and what the rules may read.

pub mod audience;
pub mod backtest;
pub mod benefit;
pub mod campaign;
pub mod gang;
pub mod lists;
pub mod members;
pub mod rules;

use serde::Serialize;

use crate::expr::select::Facts;
use crate::model::artefact::{quality, Artefact, Decision, Reason, Scored};
pub use audience::{drop_reason, AudiencePolicy, DropLevel};
pub use lists::{ListHit, ListKey, ListKind, Lists};
pub use rules::{On, Outcome, RuleHit, RuleSet};

/// Where a member stands: tier and RFM segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Standing {
    pub tier: String,
    pub segment: &'static str,
}

/// A decision with everything that made it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    /// The model's calibrated probability (1 on a deny list, 0 on an allow list).
    pub probability: f64,
    pub quality: u8,
    pub decision: Decision,
    /// What decided first (a list entry, a rule), then the features that pushed the score up.
    pub reasons: Vec<Reason>,
    pub model_version: String,
    /// The list entry that decided instead of the model, if any.
    pub list: Option<ListHit>,
    /// The enforced rule that took part in the decision, if any.
    pub rule: Option<RuleHit>,
    /// Every rule that matched, enforced or in shadow (shadow rules never decide).
    pub rules_matched: Vec<String>,
    /// Whether the benefits of this member or candidate are held (a `hold` rule).
    pub hold_benefits: bool,
    /// What to offer instead of a plain no, for review decisions where configured.
    pub remedy: Option<String>,
    /// A member's tier and segment (members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standing: Option<Standing>,
    /// The gang the member is in, or the candidate would join (`null`: none).
    pub gang: Option<gang::GangBrief>,
}

/// The keys a list entry can match, for one candidate or member.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListKeys<'a> {
    pub member: Option<&'a str>,
    pub device: Option<&'a str>,
    pub phone_hash: Option<&'a str>,
    pub ip: Option<&'a str>,
}

impl ListKeys<'_> {
    fn check(&self, lists: &Lists) -> Option<ListHit> {
        lists.check(&[
            (ListKey::Member, self.member),
            (ListKey::Device, self.device),
            (ListKey::PhoneHash, self.phone_hash),
            (ListKey::IpRange, self.ip),
        ])
    }
}

/// The policy a tenant (or a batch command) decides under.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    pub lists: &'a Lists,
    pub rules: &'a RuleSet,
    pub remedy: Option<&'a str>,
    /// How gangs are scored and flagged (`None`: gangs are not judged).
    pub gangs: Option<&'a gang::GangPolicy>,
}

static NO_LISTS: std::sync::LazyLock<Lists> = std::sync::LazyLock::new(Lists::default);
static NO_RULES: std::sync::LazyLock<RuleSet> = std::sync::LazyLock::new(RuleSet::default);

impl Judge<'static> {
    /// The model's thresholds alone: no lists, no rules, no remedy, no gangs.
    pub fn model_only() -> Self {
        Judge {
            lists: &NO_LISTS,
            rules: &NO_RULES,
            remedy: None,
            gangs: None,
        }
    }
}

impl<'a> Judge<'a> {
    /// What the rules over `on` say of a candidate or member the model scored `scored`, with its
    /// facts (asked for only when a rule judges `on`) and feature row; the model's
    /// `probability`, `quality` and `decision` are added to the facts here.
    pub fn rules_for(
        &self,
        on: On,
        scored: &Scored,
        facts: impl FnOnce() -> Facts,
        row: &[f64],
    ) -> Outcome {
        if !self.rules.judges(on) {
            return Outcome::default();
        }
        let facts = Facts {
            decision: Some(scored.decision),
            quality: Some(scored.quality),
            probability: Some(scored.probability),
            ..facts()
        };
        self.rules.evaluate(on, &facts, row)
    }

    /// The brief of a group (first account `first_member`) as of `now`, under this judge's gang
    /// policy (`None`: no policy, or too small to be a gang).
    pub fn gang(
        &self,
        group: Option<(&str, &crate::features::recruit::Group)>,
        now: i64,
    ) -> Option<gang::GangBrief> {
        let (first, g) = group?;
        self.gangs?.brief(first, g, now)
    }

    /// Decides from the model's score of one candidate or member and what the rules said of it:
    /// lists first, then the deciding rule, then the model's thresholds (already in `scored`),
    /// then a flagged gang (never lowering the decision), then the remedy.
    pub fn decide(
        &self,
        model: &Artefact,
        scored: Scored,
        keys: &ListKeys<'_>,
        outcome: &Outcome,
    ) -> Verdict {
        let list = keys.check(self.lists);
        let Scored {
            mut probability,
            quality: mut q,
            mut decision,
            mut reasons,
        } = scored;
        let mut rule = None;
        if let Some(hit) = &list {
            (probability, decision) = match hit.list {
                ListKind::Deny => (1.0, Decision::Reject),
                ListKind::Allow => (0.0, Decision::Pass),
            };
            q = quality(probability);
            reasons = vec![list_reason(hit)];
        } else if let Some(hit) = &outcome.decided {
            decision = rules::apply(hit.action, decision);
            reasons.insert(
                0,
                Reason {
                    code: hit.code.clone(),
                    value: None,
                    contribution: 0.0,
                    text: hit.text.clone(),
                },
            );
            rule = Some(hit.clone());
        }
        let flagged = outcome
            .gang
            .as_ref()
            .filter(|g| g.flagged && list.is_none());
        if let Some(g) = flagged {
            decision = gang::escalate(decision, outcome.gang_on_signup);
            reasons.insert(0, gang::flag_reason(g));
        }
        let remedy = (decision == Decision::Review)
            .then(|| self.remedy.map(str::to_string))
            .flatten();
        let rules_matched = outcome
            .matched
            .iter()
            .filter_map(|&i| self.rules.rules().get(i))
            .map(|r| r.spec.name.clone())
            .collect();
        Verdict {
            probability,
            quality: q,
            decision,
            reasons,
            model_version: model.version.clone(),
            list,
            hold_benefits: flagged.is_some()
                || rule
                    .as_ref()
                    .is_some_and(|r: &RuleHit| r.action == rules::Action::Hold),
            rule,
            rules_matched,
            remedy,
            standing: None,
            gang: outcome.gang.clone(),
        }
    }
}

/// The first reason of a verdict a list decided: `DENY_LIST` or `ALLOW_LIST`.
fn list_reason(hit: &ListHit) -> Reason {
    Reason {
        code: format!("{}_LIST", hit.list.name().to_uppercase()),
        value: None,
        contribution: 0.0,
        text: format!(
            "on the {} list by {}: {}",
            hit.list.name(),
            hit.key.name(),
            hit.value
        ),
    }
}
