//! A benefit at the moment it is granted (a welcome coupon, an invite reward, a points swap):
//! grant, hold or deny, from the member's verdict — lists, rules, the model's thresholds and its
//! gang as it stands now. The last line of defence against a gang whose first members passed
//! sign-up.

use serde::{Deserialize, Serialize};

use super::gang::GangBrief;
use super::{ListKind, Verdict};
use crate::model::artefact::{Decision, Reason};

/// What is being granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BenefitKind {
    Welcome,
    Fission,
    InviteReward,
    Points,
    Coupon,
}

impl BenefitKind {
    const NAMES: [(&'static str, BenefitKind); 5] = [
        ("welcome", BenefitKind::Welcome),
        ("fission", BenefitKind::Fission),
        ("invite_reward", BenefitKind::InviteReward),
        ("points", BenefitKind::Points),
        ("coupon", BenefitKind::Coupon),
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, k)| *k)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("coupon", |(n, _)| n)
    }

    /// The error text for an unknown kind.
    pub fn expected(given: &str) -> String {
        format!("'{given}' is not welcome, fission, invite_reward, points or coupon")
    }
}

/// The answer at grant time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    Grant,
    Hold,
    Deny,
}

/// Grant, hold or deny a benefit to a member whose verdict is `verdict` (`None`: a member not
/// scored yet) in gang `gang` as it stands now. In order: a
/// list decides; a reject denies; a flagged gang, a `hold` rule or a review holds; else grant.
/// Returns the answer and its reasons, the deciding one first.
pub fn decide(verdict: Option<&Verdict>, gang: Option<&GangBrief>) -> (Grant, Vec<Reason>) {
    let reason = |code: &str, text: String| Reason {
        code: code.to_string(),
        value: None,
        contribution: 0.0,
        text,
    };
    let mut reasons: Vec<Reason> = verdict.map(|v| v.reasons.clone()).unwrap_or_default();
    let flagged = gang.filter(|g| g.flagged);
    if let Some(list) = verdict.and_then(|v| v.list.as_ref()) {
        let grant = match list.list {
            ListKind::Deny => Grant::Deny,
            ListKind::Allow => Grant::Grant,
        };
        return (grant, reasons);
    }
    let decision = verdict.map(|v| v.decision);
    let grant = if decision == Some(Decision::Reject) {
        Grant::Deny
    } else if let Some(g) = flagged {
        if !reasons.iter().any(|r| r.code == "GANG_FLAGGED") {
            reasons.insert(0, super::gang::flag_reason(g));
        }
        Grant::Hold
    } else if verdict.is_some_and(|v| v.hold_benefits) || decision == Some(Decision::Review) {
        Grant::Hold
    } else {
        Grant::Grant
    };
    if verdict.is_none() {
        reasons.push(reason(
            "NOT_SCORED_YET",
            "not scored yet: judged by its gang only".to_string(),
        ));
    }
    (grant, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(decision: Decision, hold: bool) -> Verdict {
        Verdict {
            probability: 0.5,
            quality: 50,
            decision,
            reasons: Vec::new(),
            model_version: "m".into(),
            list: None,
            rule: None,
            rules_matched: Vec::new(),
            hold_benefits: hold,
            remedy: None,
            standing: None,
            gang: None,
        }
    }

    fn gang(flagged: bool) -> GangBrief {
        GangBrief {
            id: "g-M1".into(),
            size: 9,
            score: if flagged { 0.95 } else { 0.1 },
            flagged,
            reason: flagged.then(|| "9 accounts on one device".to_string()),
        }
    }

    #[test]
    fn the_answer_by_hand() {
        let pass = verdict(Decision::Pass, false);
        assert_eq!(decide(Some(&pass), None).0, Grant::Grant);
        assert_eq!(decide(Some(&pass), Some(&gang(false))).0, Grant::Grant);
        let (g, reasons) = decide(Some(&pass), Some(&gang(true)));
        assert_eq!(g, Grant::Hold);
        assert_eq!(reasons[0].code, "GANG_FLAGGED");
        assert_eq!(
            decide(Some(&verdict(Decision::Review, false)), None).0,
            Grant::Hold
        );
        assert_eq!(
            decide(Some(&verdict(Decision::Pass, true)), None).0,
            Grant::Hold
        );
        assert_eq!(
            decide(Some(&verdict(Decision::Reject, false)), Some(&gang(true))).0,
            Grant::Deny
        );
        let (g, reasons) = decide(None, None);
        assert_eq!(
            (g, reasons[0].code.as_str()),
            (Grant::Grant, "NOT_SCORED_YET")
        );
        assert_eq!(decide(None, Some(&gang(true))).0, Grant::Hold);
        assert_eq!(
            BenefitKind::parse("invite_reward"),
            Some(BenefitKind::InviteReward)
        );
        assert_eq!(BenefitKind::parse("cash"), None);
    }
}
