//! `Tenant::check_benefit`: a benefit at grant time, judged on the member's verdict and its gang
//! as it stands in the live state; every hold stored as an event.

use serde::{Deserialize, Serialize};

use super::{poisoned, Tenant};
use crate::data::plausible::{self, text_problem, TimeWindow, MAX_ID_CHARS};
use crate::model::artefact::Reason;
use crate::scoring::benefit::{self, BenefitKind, Grant};
use crate::scoring::gang::GangBrief;
use crate::scoring::Verdict;
use crate::state::events::Event;
use crate::state::StateError;

/// A benefit about to be granted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitCheck {
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
    )]
    pub member_id: String,
    /// welcome / fission / invite_reward / points / coupon.
    #[schema(pattern = "^(welcome|fission|invite_reward|points|coupon)$")]
    pub kind: String,
    #[serde(default)]
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub campaign_id: Option<String>,
    /// The benefit's value (face value, points).
    #[schema(minimum = 0, maximum = 1000000000)]
    pub value: f64,
    /// Unix seconds or RFC 3339, from 2000-01-01 to now + 1 day; default now.
    #[serde(default, deserialize_with = "crate::data::plausible::de_opt_time")]
    #[schema(schema_with = crate::state::events::opt_time_schema)]
    pub at: Option<i64>,
}

/// Grant, hold or deny, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BenefitAnswer {
    pub member_id: String,
    pub kind: BenefitKind,
    pub decision: Grant,
    /// The deciding reason first.
    pub reasons: Vec<Reason>,
    /// The member's gang as it stands now (`null`: none).
    pub gang: Option<GangBrief>,
    /// The member's verdict (`null`: not scored yet).
    pub verdict: Option<Verdict>,
    /// The stored hold event's id (a hold on a scorer with an event store).
    pub hold_event_id: Option<String>,
}

impl BenefitCheck {
    fn check(&self) -> Result<(BenefitKind, i64), StateError> {
        let bad = |field: &'static str, why: String| StateError::InvalidField { field, why };
        if let Some(why) = text_problem(&self.member_id, MAX_ID_CHARS) {
            return Err(bad("member_id", why));
        }
        if let Some(why) = self
            .campaign_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .and_then(|c| text_problem(c, MAX_ID_CHARS))
        {
            return Err(bad("campaign_id", why));
        }
        let kind = BenefitKind::parse(&self.kind)
            .ok_or_else(|| bad("kind", BenefitKind::expected(&self.kind)))?;
        plausible::check_amount(self.value).map_err(|e| bad("value", e.0))?;
        let at = self.at.unwrap_or_else(plausible::now);
        TimeWindow::live().check(at).map_err(|e| bad("at", e.0))?;
        Ok((kind, at))
    }
}

impl Tenant {
    /// Grant, hold or deny a benefit: the member's verdict (live where an event touched it since
    /// the snapshot, else the snapshot's) with its gang as it stands in the live state now (a
    /// gang flagged since the last refresh holds at once); a member the scorer cannot score yet
    /// (recorded without an event store) is judged by its gang alone. A hold is stored (with an
    /// event store) before the answer; a retry of the same check stores it once.
    pub fn check_benefit(&self, req: &BenefitCheck) -> Result<BenefitAnswer, StateError> {
        let (kind, at) = req.check()?;
        let models = self.snapshot()?;
        let lists = self.lists.read().map_err(|_| poisoned())?;
        let judge = self.judge(&lists, &models);
        let (known_live, gang) = {
            let st = self.online.read().map_err(|_| poisoned())?;
            let group = st.keys.get(&req.member_id).and_then(|m| st.group_of(m));
            let brief = group.and_then(|(_, g)| judge.gang(st.first_member(g).map(|f| (f, g)), at));
            (group.is_some(), brief)
        };
        let m = models.history.members.index_of(&req.member_id);
        // Live where an event touched the member since the snapshot, else the snapshot's.
        self.freshen(&req.member_id)?;
        let scored = match self.live.score_of(&req.member_id)? {
            Some(ls) => Some((ls.member.clone(), ls.keys.clone())),
            None => m.and_then(|m| {
                let s = models.member_score(m)?;
                let keys = crate::scoring::members::member_keys(&models.history, m);
                Some((s, super::live::OwnedKeys::of(&keys)))
            }),
        };
        let verdict = match scored {
            Some(((scored, mut outcome), keys)) => {
                outcome.gang = gang.clone();
                Some(judge.decide(&models.member, scored, &keys.keys(), &outcome))
            }
            None if m.is_some() || known_live => None,
            None => return Err(StateError::UnknownMember(req.member_id.clone())),
        };
        drop(lists);
        let (decision, reasons) = benefit::decide(verdict.as_ref(), gang.as_ref());
        let hold_event_id = match (decision, &self.store) {
            (Grant::Hold, Some(_)) => {
                let id = format!(
                    "hold:{}:{}:{}:{at}",
                    req.member_id,
                    kind.name(),
                    req.campaign_id.as_deref().unwrap_or_default()
                );
                self.ingest(&[Event::Hold {
                    event_id: id.clone(),
                    member_id: req.member_id.clone(),
                    at,
                    kind: kind.name().to_string(),
                    campaign_id: req.campaign_id.clone(),
                    value: req.value,
                    reason: reasons.first().map(|r| r.code.clone()).unwrap_or_default(),
                }])?;
                Some(id)
            }
            _ => None,
        };
        Ok(BenefitAnswer {
            member_id: req.member_id.clone(),
            kind,
            decision,
            reasons,
            gang,
            verdict,
            hold_event_id,
        })
    }
}
