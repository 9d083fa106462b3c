//! The gangs of the live state (`GET /v1/gangs`, `GET /v1/gangs/{id}`): each connected group
//! scored and flagged by the tenant's gang rule as it stands now, built into the same gang
//! object `woolguard gangs` lists.

use serde::Serialize;

use super::{poisoned, Tenant};
use crate::data::plausible;
use crate::gangs::gang::{build, Context, FoundBy, Gang};
use crate::state::StateError;

/// One gang with its accounts.
#[derive(Debug, Clone, Serialize)]
pub struct GangDetail {
    #[serde(flatten)]
    pub gang: Gang,
    /// Its accounts' member ids, in join order.
    pub member_ids: Vec<String>,
}

/// Which gangs to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct GangQuery {
    /// Flagged gangs only.
    pub flagged: bool,
    /// Gangs with a sign-up at or after this time (UTC seconds).
    pub since: Option<i64>,
    /// At most this many, highest score first.
    pub limit: usize,
}

impl Tenant {
    /// The gangs of the live state as of now, highest score first.
    pub fn gangs(&self, q: &GangQuery) -> Result<Vec<Gang>, StateError> {
        let now = plausible::now();
        let models = self.snapshot()?;
        let policy = &*crate::scoring::gang::DEFAULT_POLICY;
        let st = self.online.read().map_err(|_| poisoned())?;
        let mut picked: Vec<(f64, u32, crate::features::recruit::Group, Vec<_>)> = st
            .groups(policy.rule.min_size)
            .into_iter()
            .filter(|(_, g, _)| q.since.is_none_or(|t| g.last_at >= t))
            .filter_map(|(root, g, accounts)| {
                let first = st.first_member(&g)?;
                let brief = policy.brief(first, &g, now)?;
                (!q.flagged || brief.flagged).then_some((brief.score, root, g, accounts))
            })
            .collect();
        picked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        picked.truncate(q.limit.max(1));
        let cx = Context::new(&models.history, &st, &policy.rule, now, None);
        Ok(picked
            .iter()
            .map(|(_, root, g, accounts)| build(&cx, *root, g, accounts, FoundBy::Keys))
            .collect())
    }

    /// The gang `id` names (`g-` and a member id): the gang that member is in now, or `None`.
    pub fn gang(&self, id: &str) -> Result<Option<GangDetail>, StateError> {
        let Some(member) = id.strip_prefix("g-") else {
            return Ok(None);
        };
        let now = plausible::now();
        let models = self.snapshot()?;
        let policy = &*crate::scoring::gang::DEFAULT_POLICY;
        let st = self.online.read().map_err(|_| poisoned())?;
        let Some((root, &g)) = st.keys.get(member).and_then(|m| st.group_of(m)) else {
            return Ok(None);
        };
        let accounts = st.accounts_of(root);
        let member_ids = accounts
            .iter()
            .map(|a| st.keys.name(a.member).to_string())
            .collect();
        let cx = Context::new(&models.history, &st, &policy.rule, now, None);
        Ok(Some(GangDetail {
            gang: build(&cx, root, &g, &accounts, FoundBy::Keys),
            member_ids,
        }))
    }
}
