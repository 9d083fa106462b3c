//! A member's or candidate's gang as a verdict carries it, and what a flagged gang does to the
//! decision: a candidate joining a flagged gang is rejected (or reviewed), a member of one has
//! its benefits held, with reason `GANG_FLAGGED` first.
//!
//! The brief is a pure function of a group's running stats ([`Group`]), the id of its first
//! account and the moment: O(1), the same offline (the sweep's group at a probe) and online (the
//! live state's group).

use serde::{Deserialize, Serialize};

use crate::features::recruit::{share, Group};
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

/// The gang id of a group whose first account is `first_member`.
pub fn gang_id(first_member: &str) -> String {
    format!("g-{first_member}")
}

/// How a gang is scored and flagged, and what a flag does (`[gang]` of a tenant's config).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GangPolicy {
    /// Groups smaller than this are no gang (no brief).
    pub min_size: u32,
    /// A gang is flagged at or above this score.
    pub flag_score: f64,
    /// What happens to a candidate joining a flagged gang: `reject` or `review`.
    pub on_signup: GangAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GangAction {
    Reject,
    Review,
}

/// The policy every path judges gangs by unless configured otherwise.
pub static DEFAULT_POLICY: GangPolicy = GangPolicy {
    min_size: 3,
    flag_score: 0.8,
    on_signup: GangAction::Reject,
};

impl Default for GangPolicy {
    fn default() -> Self {
        DEFAULT_POLICY
    }
}

impl GangPolicy {
    /// The brief of `g` (first account `first_member`) as of `now`; `None` under `min_size`.
    pub fn brief(&self, first_member: &str, g: &Group, now: i64) -> Option<GangBrief> {
        if g.size < self.min_size.max(2) {
            return None;
        }
        let score = score(g, now);
        let flagged = score >= self.flag_score;
        Some(GangBrief {
            id: gang_id(first_member),
            size: g.size,
            score,
            flagged,
            reason: flagged.then(|| reason(g)),
        })
    }
}

/// The gang score: a logistic of what gangs do and genuine groups (families, flatmates) do not —
/// many accounts, few devices per account, joined within hours, benefits taken without buying
/// at full price, reviewed wool.
pub fn score(g: &Group, now: i64) -> f64 {
    let n = f64::from(g.size);
    let d = &g.deeds;
    let took = share(d.took_no_full(), g.size);
    let full = share(d.full_price, g.size);
    let span_h = (g.last_at - g.first_at).max(0) as f64 / 3_600.0;
    let per_device = if g.devices == 0 {
        0.0
    } else {
        n / f64::from(g.devices)
    };
    let reviewed = g.wool_share();
    let z = -6.0
        + 1.6 * (n - 1.0).ln()
        + 0.35 * per_device.min(10.0)
        + 1.2 * (1.0 - (span_h / 24.0).min(1.0))
        + 0.6 * g.velocity.at(now).min(10.0).ln_1p()
        + if took.is_nan() { 0.0 } else { 3.0 * took }
        - if full.is_nan() { 0.0 } else { 4.0 * full }
        + if reviewed.is_nan() {
            0.0
        } else {
            4.0 * (reviewed - 0.5)
        };
    1.0 / (1.0 + (-z).exp())
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
    use crate::features::recruit::Behaviour;

    fn group(size: u32, devices: u32, span: i64, took: u32, full: u32) -> Group {
        Group {
            size,
            devices,
            ip24s: 1,
            first_at: 0,
            last_at: span,
            deeds: Behaviour {
                took,
                full_price: full,
                ..Behaviour::default()
            },
            ..Group::default()
        }
    }

    #[test]
    fn a_farm_is_flagged_and_a_family_is_not() {
        let p = GangPolicy::default();
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
        assert!(f.is_some_and(|f| !f.flagged && f.score < 0.2));
        assert_eq!(
            p.brief("M5", &group(2, 1, 0, 0, 0), 0),
            None,
            "under min_size"
        );
    }
}
