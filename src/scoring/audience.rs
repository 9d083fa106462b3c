//! The one audience policy: which verdicts remove a member from a campaign audience, and the
//! reason code said for each one removed. `woolguard audience` and `POST /v1/audiences/filter`
//! both ask it.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::model::artefact::Decision;

/// How much of the wool an audience filter drops.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum DropLevel {
    /// Drop reject decisions only.
    #[default]
    Reject,
    /// Drop review decisions too.
    Review,
}

impl DropLevel {
    pub fn drops(self, d: Decision) -> bool {
        match self {
            DropLevel::Reject => d == Decision::Reject,
            DropLevel::Review => d >= Decision::Review,
        }
    }
}

/// An audience's policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudiencePolicy {
    pub drop: DropLevel,
    /// Also drop members whose quality score (0 to 100) is below this.
    pub min_quality: Option<u8>,
}

/// The reason code of a member an audience drops under `policy`, or `None` when it is kept: the
/// verdict's first reason (`DENY_LIST`, a rule's code or the model's strongest feature) when its
/// decision drops it, `MODEL_SCORE` for a decision without a reason, `LOW_QUALITY` when only the
/// quality floor does.
pub fn drop_reason(v: &Verdict, policy: &AudiencePolicy) -> Option<String> {
    if policy.drop.drops(v.decision) {
        return Some(
            v.reasons
                .first()
                .map_or_else(|| "MODEL_SCORE".to_string(), |r| r.code.clone()),
        );
    }
    policy
        .min_quality
        .filter(|&q| v.quality < q)
        .map(|_| "LOW_QUALITY".to_string())
}
