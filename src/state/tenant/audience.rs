//! An audience split by the tenant's scores: kept, or dropped with the reason.

use serde::Serialize;

use super::{drop_reason, poisoned, AudiencePolicy, Tenant};
use crate::model::artefact::Decision;
use crate::scoring::members::member_keys;
use crate::state::StateError;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Dropped {
    pub member_id: String,
    pub decision: Option<Decision>,
    /// The main reason code: a feature, `DENY_LIST`, `LOW_QUALITY` or `UNKNOWN_MEMBER`.
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AudienceSummary {
    pub requested: usize,
    pub kept: usize,
    pub dropped: usize,
    pub by_decision: std::collections::BTreeMap<String, usize>,
    pub dropped_by_reason: std::collections::BTreeMap<String, usize>,
    pub model_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Audience {
    pub kept: Vec<String>,
    pub dropped: Vec<Dropped>,
    pub summary: AudienceSummary,
}

impl Tenant {
    /// Splits an audience into kept and dropped members under `policy`, with the main reason
    /// for each one dropped. Every id is accounted for: kept, or dropped with a reason.
    pub fn filter_audience(
        &self,
        ids: &[String],
        policy: &AudiencePolicy,
    ) -> Result<Audience, StateError> {
        let models = self.snapshot()?;
        let lists = self.lists.read().map_err(|_| poisoned())?;
        let judge = self.judge(&lists, &models);
        let mut out = Audience::default();
        out.summary.requested = ids.len();
        out.summary.model_version = models.member.version.clone();
        for id in ids {
            self.freshen(id)?;
            let live = self.live.score_of(id)?;
            let verdict = if let Some(ls) = live {
                let (scored, outcome) = ls.member.clone();
                Some(judge.decide(&models.member, scored, &ls.keys.keys(), &outcome))
            } else {
                models.history.members.index_of(id).and_then(|m| {
                    let (scored, outcome) = models.member_score(m)?;
                    let keys = member_keys(&models.history, m);
                    Some(judge.decide(&models.member, scored, &keys, &outcome))
                })
            };
            let Some(v) = verdict else {
                out.dropped.push(Dropped {
                    member_id: id.clone(),
                    decision: None,
                    reason: "UNKNOWN_MEMBER".to_string(),
                });
                *out.summary
                    .dropped_by_reason
                    .entry("UNKNOWN_MEMBER".to_string())
                    .or_default() += 1;
                continue;
            };
            *out.summary
                .by_decision
                .entry(v.decision.name().to_string())
                .or_default() += 1;
            let Some(reason) = drop_reason(&v, policy) else {
                out.kept.push(id.clone());
                continue;
            };
            *out.summary
                .dropped_by_reason
                .entry(reason.clone())
                .or_default() += 1;
            out.dropped.push(Dropped {
                member_id: id.clone(),
                decision: Some(v.decision),
                reason,
            });
        }
        out.summary.kept = out.kept.len();
        out.summary.dropped = out.dropped.len();
        Ok(out)
    }
}
