//! A sign-up as a caller sends it, and the sign-up event a recorded one is stored as.

use serde::Deserialize;

use super::super::events::Event;
use super::super::StateError;
use crate::data::plausible::{self, text_problem, TimeWindow, MAX_ID_CHARS};

/// A sign-up as a caller sends it (DESIGN.md §3, members columns).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub member_id: Option<String>,
    /// Unix seconds or RFC 3339, from 2000-01-01 to now + 1 day; default now.
    #[serde(default, deserialize_with = "crate::data::plausible::de_opt_time")]
    #[schema(schema_with = crate::state::events::opt_time_schema)]
    pub joined_at: Option<i64>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub channel: Option<String>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub campaign_id: Option<String>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub inviter_id: Option<String>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub device_id: Option<String>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub ip: Option<String>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub phone_prefix: Option<String>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub phone_hash: Option<String>,
    #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
    pub region: Option<String>,
    /// Also add the sign-up to the online state.
    #[serde(default)]
    pub record: bool,
}

impl Candidate {
    /// The candidate a sign-up event records (`record: true`); `None` for other events.
    pub fn of_signup(e: &Event) -> Option<Candidate> {
        let Event::Signup {
            member_id,
            at,
            channel,
            campaign_id,
            inviter_id,
            device_id,
            ip,
            phone_prefix,
            phone_hash,
            region,
            ..
        } = e
        else {
            return None;
        };
        Some(Candidate {
            member_id: Some(member_id.clone()),
            joined_at: Some(*at),
            channel: channel.clone(),
            campaign_id: campaign_id.clone(),
            inviter_id: inviter_id.clone(),
            device_id: device_id.clone(),
            ip: ip.clone(),
            phone_prefix: phone_prefix.clone(),
            phone_hash: phone_hash.clone(),
            region: region.clone(),
            record: true,
        })
    }

    /// The sign-up event of a recorded candidate: its id is the member's, so a retry is stored
    /// once.
    pub fn signup_event(&self) -> Event {
        Event::Signup {
            event_id: format!("signup:{}", self.member_id.as_deref().unwrap_or_default()),
            member_id: self.member_id.clone().unwrap_or_default(),
            at: self.joined_at.unwrap_or_else(plausible::now),
            channel: self.channel.clone(),
            campaign_id: self.campaign_id.clone(),
            inviter_id: self.inviter_id.clone(),
            device_id: self.device_id.clone(),
            ip: self.ip.clone(),
            phone_prefix: self.phone_prefix.clone(),
            phone_hash: self.phone_hash.clone(),
            region: self.region.clone(),
        }
    }

    /// Refuses a field whose value makes no sense: 400 `invalid_field` naming it. A sign-up
    /// given a time outside the plausible window would otherwise be recorded, and move every
    /// as-of time of the tenant with it.
    pub fn check(&self, window: &TimeWindow) -> Result<(), StateError> {
        let bad = |field: &'static str, why: String| Err(StateError::InvalidField { field, why });
        if let Some(t) = self.joined_at {
            if let Err(e) = window.check(t) {
                return bad("joined_at", e.0);
            }
        }
        if let Some(why) = self
            .member_id
            .as_deref()
            .filter(|v| !v.is_empty())
            .and_then(|v| text_problem(v, MAX_ID_CHARS))
        {
            return bad("member_id", why);
        }
        match self.text_problem() {
            Some((field, why)) => bad(field, why),
            None => Ok(()),
        }
    }

    /// The first optional text field (channel, campaign, inviter, device, IP, phone, region)
    /// whose value cannot be taken, with why: absent or empty is no value; a value given is held
    /// to the events' rules. The one check of these fields, for candidates and sign-up events.
    pub fn text_problem(&self) -> Option<(&'static str, String)> {
        [
            ("channel", &self.channel),
            ("campaign_id", &self.campaign_id),
            ("inviter_id", &self.inviter_id),
            ("device_id", &self.device_id),
            ("ip", &self.ip),
            ("phone_prefix", &self.phone_prefix),
            ("phone_hash", &self.phone_hash),
            ("region", &self.region),
        ]
        .into_iter()
        .find_map(|(field, v)| {
            let given = v.as_deref().filter(|v| !v.is_empty())?;
            text_problem(given, MAX_ID_CHARS).map(|why| (field, why))
        })
    }
}
