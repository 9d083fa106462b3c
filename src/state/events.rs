//! Events a brand sends the scorer (sign-ups, coupon, order and points movements, reviews): their
//! contract, the one check of their values, and the fold of events into a history. Where they
//! are kept is [`super::store`].

use serde::{Deserialize, Serialize};

use crate::data::history::{History, NONE};
use crate::data::plausible::{self, text_problem, TimeWindow, MAX_ID_CHARS};
use crate::data::schema::{CouponEvent, CouponKind, PointsReason, Vocabulary};

/// An event the contract refuses: `events[index].field: why`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("events[{index}].{field}: {why}")]
pub struct EventError {
    pub index: usize,
    pub field: &'static str,
    pub why: String,
}

/// One event, in the contract's shape (DESIGN.md §3), with its own id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    Signup {
        #[schema(
            min_length = 1,
            max_length = 512,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        event_id: String,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        member_id: String,
        #[serde(deserialize_with = "plausible::de_time")]
        #[schema(schema_with = time_schema)]
        at: i64,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        channel: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        campaign_id: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        inviter_id: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        device_id: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        ip: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        phone_prefix: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        phone_hash: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        region: Option<String>,
    },
    Coupon {
        #[schema(
            min_length = 1,
            max_length = 512,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        event_id: String,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        member_id: String,
        #[serde(deserialize_with = "plausible::de_time")]
        #[schema(schema_with = time_schema)]
        at: i64,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        coupon_id: String,
        /// claim / redeem / expire.
        #[schema(pattern = "^(claim|redeem|expire)$")]
        event: String,
        /// welcome / fission / tier / promo.
        #[schema(pattern = "^(welcome|fission|tier|promo)$")]
        kind: String,
        #[schema(minimum = 0, maximum = 1000000000)]
        face_value: f64,
        #[schema(minimum = 0, maximum = 1000000000)]
        threshold: f64,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        campaign_id: Option<String>,
    },
    Order {
        #[schema(
            min_length = 1,
            max_length = 512,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        event_id: String,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        member_id: String,
        #[serde(deserialize_with = "plausible::de_time")]
        #[schema(schema_with = time_schema)]
        at: i64,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        order_id: String,
        #[schema(minimum = 0, maximum = 1000000000)]
        amount: f64,
        #[schema(minimum = 0, maximum = 1000000000)]
        list_amount: f64,
        #[schema(minimum = 0, maximum = 1000000000)]
        discount: f64,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        coupon_id: Option<String>,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        channel: Option<String>,
        #[serde(default)]
        refunded: bool,
    },
    Points {
        #[schema(
            min_length = 1,
            max_length = 512,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        event_id: String,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        member_id: String,
        #[serde(deserialize_with = "plausible::de_time")]
        #[schema(schema_with = time_schema)]
        at: i64,
        #[schema(minimum = -1000000000, maximum = 1000000000)]
        #[serde(deserialize_with = "crate::data::plausible::de_whole_i64")]
        delta: i64,
        /// purchase / share / invite / checkin / redeem_coupon / redeem_gift / points_plus_cash / expire.
        #[schema(
            pattern = "^(purchase|share|invite|checkin|redeem_coupon|redeem_gift|points_plus_cash|expire)$"
        )]
        reason: String,
    },
    Label {
        #[schema(
            min_length = 1,
            max_length = 512,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        event_id: String,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        member_id: String,
        #[serde(deserialize_with = "plausible::de_time")]
        #[schema(schema_with = time_schema)]
        at: i64,
        /// 1 = wool, 0 = genuine.
        #[schema(maximum = 1)]
        #[serde(deserialize_with = "crate::data::plausible::de_whole_u8")]
        label: u8,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        source: Option<String>,
    },
    /// A benefit held at grant time (`POST /v1/benefits/check` writes one for every hold).
    Hold {
        #[schema(
            min_length = 1,
            max_length = 512,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        event_id: String,
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        member_id: String,
        #[serde(deserialize_with = "plausible::de_time")]
        #[schema(schema_with = time_schema)]
        at: i64,
        /// welcome / fission / invite_reward / points / coupon.
        #[schema(pattern = "^(welcome|fission|invite_reward|points|coupon)$")]
        kind: String,
        #[schema(max_length = 256, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]*$")]
        campaign_id: Option<String>,
        #[schema(minimum = 0, maximum = 1000000000)]
        value: f64,
        /// The first reason code of the hold (`GANG_FLAGGED`, a rule's code, …).
        #[schema(
            min_length = 1,
            max_length = 256,
            pattern = "^[^\\x00-\\x1f\\x7f-\\x9f\\ufffd]+$"
        )]
        reason: String,
    },
}

impl Event {
    pub fn id(&self) -> &str {
        match self {
            Event::Signup { event_id, .. }
            | Event::Coupon { event_id, .. }
            | Event::Order { event_id, .. }
            | Event::Points { event_id, .. }
            | Event::Label { event_id, .. }
            | Event::Hold { event_id, .. } => event_id,
        }
    }

    /// What the event tells the online sign-up state a member did, with when (`None`: nothing
    /// it keeps: sign-ups, points, reviews, an expiry, or an unknown spelling, which the checks
    /// refuse on arrival).
    pub fn deed(&self) -> Option<(i64, crate::features::recruit::Deed)> {
        use crate::features::recruit::Deed;
        match self {
            Event::Coupon {
                at,
                event,
                kind,
                face_value,
                ..
            } => match CouponEvent::parse(event)? {
                CouponEvent::Claim => Some((*at, Deed::Claim)),
                CouponEvent::Redeem => {
                    Some((*at, Deed::redeem(CouponKind::parse(kind)?, *face_value)))
                }
                CouponEvent::Expire => None,
            },
            Event::Order {
                at,
                amount,
                discount,
                coupon_id,
                ..
            } => Some((
                *at,
                Deed::order(
                    *amount,
                    coupon_id.as_deref().is_some_and(|c| !c.is_empty()),
                    *discount,
                ),
            )),
            _ => None,
        }
    }

    pub fn member_id(&self) -> &str {
        match self {
            Event::Signup { member_id, .. }
            | Event::Coupon { member_id, .. }
            | Event::Order { member_id, .. }
            | Event::Points { member_id, .. }
            | Event::Label { member_id, .. }
            | Event::Hold { member_id, .. } => member_id,
        }
    }

    /// Why the event makes no sense (the field and the reason), or `None` when it does: a time
    /// outside `window`, an amount or points movement out of bounds, an unknown spelling, an
    /// empty id. The one check of an event's values, used when it arrives and again when a
    /// stored event is folded (an event stored before a check existed is skipped, not fatal).
    pub fn problem(&self, window: &TimeWindow) -> Option<(&'static str, String)> {
        let text = |field: &'static str, v: &str| -> Option<(&'static str, String)> {
            // An event id may hold a member id and a prefix (`signup:<member>`).
            let max = if field == "event_id" {
                2 * MAX_ID_CHARS
            } else {
                MAX_ID_CHARS
            };
            text_problem(v, max).map(|why| (field, why))
        };
        // An optional text may be absent or empty; when given it is held to the same rules.
        let optional = |field: &'static str, v: &Option<String>| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .and_then(|v| text(field, v))
        };
        let amount =
            |field: &'static str, v: f64| plausible::check_amount(v).err().map(|e| (field, e.0));
        if let Some(p) = text("event_id", self.id()).or_else(|| text("member_id", self.member_id()))
        {
            return Some(p);
        }
        if let Err(e) = window.check(self.at()) {
            return Some(("at", e.0));
        }
        match self {
            Event::Signup { .. } => {
                super::tenant::Candidate::of_signup(self).and_then(|c| c.text_problem())
            }
            Event::Coupon {
                coupon_id,
                event,
                kind,
                face_value,
                threshold,
                campaign_id,
                ..
            } => text("coupon_id", coupon_id)
                .or_else(|| optional("campaign_id", campaign_id))
                .or_else(|| {
                    CouponEvent::parse(event)
                        .is_none()
                        .then(|| ("event", format!("'{event}' is not claim, redeem or expire")))
                })
                .or_else(|| {
                    CouponKind::parse(kind).is_none().then(|| {
                        (
                            "kind",
                            format!("'{kind}' is not welcome, fission, tier or promo"),
                        )
                    })
                })
                .or_else(|| amount("face_value", *face_value))
                .or_else(|| amount("threshold", *threshold)),
            Event::Order {
                order_id,
                amount: paid,
                list_amount,
                discount,
                coupon_id,
                channel,
                ..
            } => text("order_id", order_id)
                .or_else(|| optional("coupon_id", coupon_id))
                .or_else(|| optional("channel", channel))
                .or_else(|| amount("amount", *paid))
                .or_else(|| amount("list_amount", *list_amount))
                .or_else(|| amount("discount", *discount)),
            Event::Points { delta, reason, .. } => plausible::check_points(*delta)
                .err()
                .map(|e| ("delta", e.0))
                .or_else(|| {
                    PointsReason::parse(reason)
                        .is_none()
                        .then(|| ("reason", format!("'{reason}' is not a points reason")))
                }),
            Event::Label { label, source, .. } => (*label > 1)
                .then(|| ("label", format!("{label}: 1 = wool, 0 = genuine")))
                .or_else(|| optional("source", source)),
            Event::Hold {
                kind,
                campaign_id,
                value,
                reason,
                ..
            } => crate::scoring::benefit::BenefitKind::parse(kind)
                .is_none()
                .then(|| ("kind", crate::scoring::benefit::BenefitKind::expected(kind)))
                .or_else(|| optional("campaign_id", campaign_id))
                .or_else(|| amount("value", *value))
                .or_else(|| text("reason", reason)),
        }
    }

    /// When the event happened (UTC seconds).
    pub fn at(&self) -> i64 {
        match self {
            Event::Signup { at, .. }
            | Event::Coupon { at, .. }
            | Event::Order { at, .. }
            | Event::Points { at, .. }
            | Event::Label { at, .. }
            | Event::Hold { at, .. } => *at,
        }
    }

    /// Refuses what the contract refuses, naming the event (by position in the batch) and field.
    pub fn check(&self, i: usize, window: &TimeWindow) -> Result<(), EventError> {
        match self.problem(window) {
            None => Ok(()),
            Some((field, why)) => Err(EventError {
                index: i,
                field,
                why,
            }),
        }
    }
}

/// A time in a request: Unix seconds or RFC 3339 text, inside the live window. The bounds are
/// written when the document is (the window's end moves with the clock).
pub fn time_schema() -> utoipa::openapi::schema::Schema {
    time_schema_of(false)
}

/// [`time_schema`], or null.
pub fn opt_time_schema() -> utoipa::openapi::schema::Schema {
    time_schema_of(true)
}

fn time_schema_of(nullable: bool) -> utoipa::openapi::schema::Schema {
    use chrono::Datelike;
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    let window = TimeWindow::live();
    // Text: any second of the whole years from the window's start to last year (every such
    // time is in the window); the days stop at 28 so that every date the pattern allows exists.
    let year = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.year());
    let last_year = year(plausible::now()).map_or(2025, |y| y - 1);
    // The first whole year inside the window.
    let first_year = year(window.earliest.saturating_sub(1)).map_or(2000, |y| y + 1);
    let years: Vec<String> = (first_year..=last_year).map(|y| y.to_string()).collect();
    let mut one_of = OneOfBuilder::new().item(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(window.earliest as f64))
            .maximum(Some(window.latest as f64))
            .description(Some("Unix seconds (UTC)")),
    );
    if !years.is_empty() {
        let pattern = format!(
            "^({})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$",
            years.join("|")
        );
        one_of = one_of.item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern))
                .description(Some(
                    "RFC 3339 (2024-05-01T08:30:00Z); offsets, a date-time without zone (UTC) and a date are taken too",
                )),
        );
    }
    if nullable {
        one_of = one_of.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    let one_of = one_of
        .description(Some(
            "A time inside the live window (by default 2000-01-01 to the end of the UTC day after today): Unix seconds or RFC 3339 text",
        ))
        .build();
    utoipa::openapi::schema::Schema::OneOf(one_of)
}

/// The channel a sign-up or order sent without one is folded with (the contract requires one).
pub const UNKNOWN_CHANNEL: &str = "unknown";

/// What folding events into a history did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Folded {
    /// Events now in the history's tables.
    pub applied: usize,
    /// Sign-ups of members the history already had, and orders whose id it already had.
    pub already_there: usize,
    /// Events of members that have not signed up yet: handed back, to be folded once they do.
    pub waiting: usize,
    /// Stored events whose values make no sense (a time outside the plausible window, an amount
    /// out of bounds), kept by a store written before they were checked on arrival: left out
    /// of the history, each logged with its reason, so that one cannot stop the tenant.
    pub skipped: usize,
}

/// Appends events to a history's tables, the way the contract reader would have read them
/// (sign-ups first, then the rest in the order given): a sign-up adds its member, and coupon, order, points and review events add
/// their rows. Events of members not in the history (nor signed up earlier in `events`) are
/// returned, as copies, for a later fold: nothing acknowledged is ever dropped. The events must
/// have passed [`Event::check`].
pub fn fold(h: &mut History, events: &[Event]) -> (Folded, Vec<Event>) {
    let mut report = Folded::default();
    let mut waiting = Vec::new();
    // Sign-ups first: a member's events may have been acknowledged before its sign-up.
    let signups = events.iter().filter(|e| matches!(e, Event::Signup { .. }));
    let others = events.iter().filter(|e| !matches!(e, Event::Signup { .. }));
    let window = TimeWindow::live();
    let mut next_seq: Option<i64> = None;
    for e in signups.chain(others) {
        if let Some((field, why)) = e.problem(&window) {
            tracing::warn!(event_id = e.id(), field, reason = %why, "stored event skipped: its values make no sense");
            report.skipped += 1;
            continue;
        }
        if let Some(c) = super::tenant::Candidate::of_signup(e) {
            let member_id = c.member_id.as_deref().unwrap_or_default();
            if h.members.index_of(member_id).is_some() {
                report.already_there += 1;
                continue;
            }
            let keys = &mut h.keys;
            let mut key = |v: &Option<String>| {
                v.as_deref()
                    .filter(|s| !s.is_empty())
                    .map_or(NONE, |s| keys.intern(s))
            };
            let m = &mut h.members;
            m.ids.intern(member_id);
            m.joined_at.push(c.joined_at.unwrap_or_default());
            // The contract requires a channel; a sign-up sent without one has `unknown`.
            let channel = c.channel.as_deref().filter(|s| !s.is_empty());
            m.channel
                .push(key(&Some(channel.unwrap_or(UNKNOWN_CHANNEL).to_string())));
            m.campaign.push(key(&c.campaign_id));
            m.inviter.push(key(&c.inviter_id));
            m.device.push(key(&c.device_id));
            m.ip.push(key(&c.ip));
            m.phone_prefix.push(key(&c.phone_prefix));
            m.phone_hash.push(key(&c.phone_hash));
            m.region.push(key(&c.region));
            // Online sign-ups arrive in acknowledgement order: after every one before them.
            if !m.seq.is_empty() {
                let next = *next_seq.get_or_insert_with(|| {
                    m.seq.iter().copied().max().unwrap_or(0).saturating_add(1)
                });
                m.seq.push(next);
                next_seq = Some(next.saturating_add(1));
            }
            report.applied += 1;
            continue;
        }
        let Some(member) = h.members.index_of(e.member_id()) else {
            report.waiting += 1;
            waiting.push(e.clone());
            continue;
        };
        match e {
            Event::Signup { .. } => {}
            Event::Coupon {
                at,
                coupon_id,
                event,
                kind,
                face_value,
                threshold,
                campaign_id,
                ..
            } => {
                // Checked by `Event::check`; an unknown spelling cannot reach here.
                let (Some(event), Some(kind)) =
                    (CouponEvent::parse(event), CouponKind::parse(kind))
                else {
                    continue;
                };
                let campaign = campaign_id.as_deref().map_or(NONE, |s| h.keys.intern(s));
                let c = &mut h.coupons;
                c.member.push(member);
                c.coupon.push(c.ids.intern(coupon_id));
                c.campaign.push(campaign);
                c.event.push(event);
                c.at.push(*at);
                c.face_value.push(*face_value);
                c.threshold.push(*threshold);
                c.kind.push(kind);
            }
            Event::Order {
                at,
                order_id,
                amount,
                list_amount,
                discount,
                coupon_id,
                channel,
                refunded,
                ..
            } => {
                let Some(order) = h.orders.ids.insert_new(order_id) else {
                    report.already_there += 1;
                    continue;
                };
                let coupon = coupon_id
                    .as_deref()
                    .map_or(NONE, |s| h.coupons.ids.intern(s));
                let channel = h.keys.intern(
                    channel
                        .as_deref()
                        .filter(|s| !s.is_empty())
                        .unwrap_or(UNKNOWN_CHANNEL),
                );
                let o = &mut h.orders;
                o.order.push(order);
                o.member.push(member);
                o.at.push(*at);
                o.amount.push(*amount);
                o.list_amount.push(*list_amount);
                o.discount.push(*discount);
                o.coupon.push(coupon);
                o.channel.push(channel);
                o.refunded.push(*refunded);
            }
            Event::Points {
                at, delta, reason, ..
            } => {
                let Some(reason) = PointsReason::parse(reason) else {
                    continue;
                };
                let p = &mut h.points;
                p.member.push(member);
                p.at.push(*at);
                p.delta.push(*delta);
                p.reason.push(reason);
            }
            Event::Label {
                at, label, source, ..
            } => {
                let source = h.keys.intern(source.as_deref().unwrap_or("online"));
                let l = &mut h.labels;
                l.member.push(member);
                l.label.push(*label);
                l.at.push(*at);
                l.source.push(source);
            }
            // A hold is the scorer's record of a decision: nothing in the history changes.
            Event::Hold { .. } => {}
        }
        report.applied += 1;
    }
    (report, waiting)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A sign-up on device `d` (the store's tests use it too).
    pub(crate) fn signup(id: &str, member: &str) -> Event {
        Event::Signup {
            event_id: id.into(),
            member_id: member.into(),
            at: 1_714_521_600,
            channel: None,
            campaign_id: None,
            inviter_id: None,
            device_id: Some("d".into()),
            ip: None,
            phone_prefix: None,
            phone_hash: None,
            region: None,
        }
    }

    #[test]
    fn bad_events_name_their_position_and_field() {
        let e = Event::Points {
            event_id: "p".into(),
            member_id: "m".into(),
            at: 1_714_521_600,
            delta: 5,
            reason: "lottery".into(),
        };
        let err = e
            .check(3, &TimeWindow::live())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("events[3].reason"), "{err}");
        assert!(signup("", "m").check(0, &TimeWindow::live()).is_err());
        assert!(signup("x", "m").check(0, &TimeWindow::live()).is_ok());
    }

    #[test]
    fn values_that_parse_but_make_no_sense_are_refused_by_field() {
        let w = TimeWindow::live();
        let field = |e: &Event| e.problem(&w).map(|(f, _)| f);
        for at in [i64::MAX, i64::MIN, -1, 0, -62_167_219_200, 253_402_300_800] {
            let e = Event::Points {
                event_id: "p".into(),
                member_id: "m".into(),
                at,
                delta: 1,
                reason: "share".into(),
            };
            assert_eq!(field(&e), Some("at"), "at = {at}");
        }
        for delta in [i64::MAX, i64::MIN, -i64::MAX] {
            let e = Event::Points {
                event_id: "p".into(),
                member_id: "m".into(),
                at: 1_714_521_600,
                delta,
                reason: "share".into(),
            };
            assert_eq!(field(&e), Some("delta"), "delta = {delta}");
        }
        let order = |amount: f64, discount: f64| Event::Order {
            event_id: "o".into(),
            member_id: "m".into(),
            at: 1_714_521_600,
            order_id: "o1".into(),
            amount,
            list_amount: 10.0,
            discount,
            coupon_id: None,
            channel: None,
            refunded: false,
        };
        assert_eq!(field(&order(1e308, 0.0)), Some("amount"));
        assert_eq!(field(&order(5.0, f64::INFINITY)), Some("discount"));
        assert_eq!(field(&order(5.0, 1.0)), None);
        let msg = order(1e308, 0.0)
            .check(7, &w)
            .err()
            .map(|e| (e.index, e.field, e.to_string()))
            .unwrap_or_default();
        assert_eq!((msg.0, msg.1), (7, "amount"));
        assert!(msg.2.starts_with("events[7].amount: "), "{}", msg.2);
    }

    #[test]
    fn times_arrive_as_seconds_or_rfc3339() {
        let a: Event = serde_json::from_str(
            r#"{"type":"points","event_id":"p","member_id":"m","at":"2024-05-01T00:00:00Z","delta":1,"reason":"share"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.at(), 1_714_521_600);
        // Stored as seconds, read back the same.
        let back: Event = serde_json::from_slice(&serde_json::to_vec(&a).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, a);
    }
}
