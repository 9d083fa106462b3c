//! A member's or candidate's gang as a verdict carries it, and what a flagged gang does to the
//! decision: a candidate joining a flagged gang is rejected (or reviewed), a member of one has
//! its benefits held, with reason `GANG_FLAGGED` first.
//!
//! The brief is a pure function of a group's running stats ([`Group`]), the id of its first
//! account and the moment: O(1), the same offline (the sweep's group at a probe) and online (the
//! live state's group).

use serde::{Deserialize, Serialize};

use std::sync::LazyLock;

use crate::features::recruit::Group;
use crate::gangs::rule::{id_of, GangRule};
use crate::model::artefact::{Decision, Reason};

/// What a verdict says of the gang a member is in (or a candidate would join).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GangBrief {
    /// `g-` and the member id of the gang's first account: stable as the gang grows.
    pub id: String,
    pub size: u32,
    /// 0–1: how much the gang looks like a wool gang.
    pub score: f64,
    pub flagged: bool,
    /// Why it is flagged, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How a gang is scored and flagged (the flag rule of `training/gangs.toml`, see
/// [`crate::gangs::rule`]), and what a flag does to a candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct GangPolicy {
    pub rule: GangRule,
    /// What happens to a candidate joining a flagged gang: `reject` or `review`.
    pub on_signup: GangAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GangAction {
    Reject,
    Review,
}

/// The policy every path judges gangs by: the shipped flag rule, candidates rejected.
pub static DEFAULT_POLICY: LazyLock<GangPolicy> = LazyLock::new(|| GangPolicy {
    rule: GangRule::default(),
    on_signup: GangAction::Reject,
});

impl GangPolicy {
    /// `g`'s gang score and flag as of `now`; `None` under the rule's `min_size` (no gang).
    pub fn judge(&self, g: &Group, now: i64) -> Option<(f64, bool)> {
        (g.size >= self.rule.min_size.max(2)).then(|| self.rule.judge(g, now))
    }

    /// The brief of `g` (first account `first_member`) as of `now`, from the group's counters
    /// as [`crate::gangs::summary`] reads them; `None` under the rule's `min_size`.
    pub fn brief(&self, first_member: &str, g: &Group, now: i64) -> Option<GangBrief> {
        let (score, flagged) = self.judge(g, now)?;
        Some(GangBrief {
            id: id_of(first_member),
            size: g.size,
            score,
            flagged,
            reason: flagged.then(|| reason(g)),
        })
    }
}

/// Why a gang is flagged, in words: its size and keys, how fast it joined, what it took.
pub fn reason(g: &Group) -> String {
    let span = (g.last_at - g.first_at).max(0);
    let when = if span < 3_600 {
        format!("{} minutes", (span / 60).max(1))
    } else if span < 2 * 86_400 {
        format!("{} hours", span / 3_600)
    } else {
        format!("{} days", span / 86_400)
    };
    let d = &g.deeds;
    let plural = |n: u32, one: &str, many: &str| {
        if n == 1 {
            format!("one {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let bought = match d.full_price {
        0 => "none bought at full price".to_string(),
        n => format!("{n} bought at full price"),
    };
    format!(
        "{} on {} and {}, joined within {when}, {} took a welcome or invite benefit without buying at full price, {bought}",
        plural(g.size, "account", "accounts"),
        plural(g.devices, "device", "devices"),
        plural(g.ip24s, "IP range", "IP ranges"),
        d.took_no_full(),
    )
}

/// The reason a flagged gang puts first in a verdict.
pub fn flag_reason(b: &GangBrief) -> Reason {
    Reason {
        code: "GANG_FLAGGED".to_string(),
        value: Some(b.score),
        contribution: 0.0,
        text: format!(
            "in flagged gang {}: {}",
            b.id,
            b.reason.as_deref().unwrap_or("flagged")
        ),
    }
}

/// The decision a flag leaves: a candidate is rejected (or reviewed); a member keeps its
/// decision, at least review, and its benefits are held.
pub fn escalate(decision: Decision, on_signup: Option<GangAction>) -> Decision {
    match on_signup {
        Some(GangAction::Reject) => Decision::Reject,
        Some(GangAction::Review) | None => decision.max(Decision::Review),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::features::recruit::group::sample_group as group;

    #[test]
    fn a_farm_is_flagged_and_a_family_is_not() {
        let p = &*DEFAULT_POLICY;
        let farm = group(17, 3, 40 * 60, 12, 0);
        let b = p
            .brief("M1", &farm, 86_400)
            .unwrap_or_else(|| panic!("a gang"));
        assert_eq!(b.id, "g-M1");
        assert!(b.flagged, "score {}", b.score);
        assert_eq!(
            b.reason.as_deref(),
            Some("17 accounts on 3 devices and one IP range, joined within 40 minutes, 12 took a welcome or invite benefit without buying at full price, none bought at full price")
        );
        let family = group(3, 1, 400 * 86_400, 1, 2);
        let f = p.brief("M9", &family, 500 * 86_400);
        assert!(f.as_ref().is_some_and(|f| !f.flagged), "{f:?}");
        assert_eq!(
            p.brief("M5", &group(2, 1, 0, 0, 0), 0),
            None,
            "under min_size"
        );
    }
}
