//! Events a brand sends the scorer (sign-ups, coupon, order and points movements, reviews), and
//! the durable store that keeps them: an event is acknowledged only after the transaction that
//! holds it has committed to disk, and an event id is stored once, so a retried batch is never
//! applied twice.
//!
//! The store is behind [`EventStore`]; [`RedbStore`] is the embedded implementation (redb: a
//! pure-Rust, crash-safe, copy-on-write B-tree store with ACID transactions and a stable file
//! format, and no C dependency). A shared store (PostgreSQL) would be another implementation.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::data::schema::{CouponEvent, CouponKind, PointsReason, Vocabulary};

/// Event id → the event as JSON.
const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("events");
/// Arrival order → event id, for replay in the order events were acknowledged.
const ORDER: TableDefinition<u64, &str> = TableDefinition::new("order");

/// One event, in the contract's shape (DESIGN.md §3), with its own id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    Signup {
        event_id: String,
        member_id: String,
        at: i64,
        channel: Option<String>,
        campaign_id: Option<String>,
        inviter_id: Option<String>,
        device_id: Option<String>,
        ip: Option<String>,
        phone_prefix: Option<String>,
        phone_hash: Option<String>,
        region: Option<String>,
    },
    Coupon {
        event_id: String,
        member_id: String,
        at: i64,
        coupon_id: String,
        /// claim / redeem / expire.
        event: String,
        /// welcome / fission / tier / promo.
        kind: String,
        face_value: f64,
        threshold: f64,
        campaign_id: Option<String>,
    },
    Order {
        event_id: String,
        member_id: String,
        at: i64,
        order_id: String,
        amount: f64,
        list_amount: f64,
        discount: f64,
        coupon_id: Option<String>,
        channel: Option<String>,
        #[serde(default)]
        refunded: bool,
    },
    Points {
        event_id: String,
        member_id: String,
        at: i64,
        delta: i64,
        /// purchase / share / invite / checkin / redeem_coupon / redeem_gift / points_plus_cash / expire.
        reason: String,
    },
    Label {
        event_id: String,
        member_id: String,
        at: i64,
        /// 1 = wool, 0 = genuine.
        label: u8,
        source: Option<String>,
    },
}

impl Event {
    pub fn id(&self) -> &str {
        match self {
            Event::Signup { event_id, .. }
            | Event::Coupon { event_id, .. }
            | Event::Order { event_id, .. }
            | Event::Points { event_id, .. }
            | Event::Label { event_id, .. } => event_id,
        }
    }

    /// Refuses what the contract refuses, naming the event (by position in the batch) and field.
    pub fn check(&self, i: usize) -> Result<(), ApiError> {
        let bad = |field: &str, why: String| {
            Err(ApiError::bad_request(
                "invalid_event",
                format!("events[{i}].{field}: {why}"),
            ))
        };
        if self.id().is_empty() {
            return bad("event_id", "must not be empty".into());
        }
        let money = |v: f64| v.is_finite() && v >= 0.0;
        match self {
            Event::Signup { member_id, .. } if member_id.is_empty() => {
                bad("member_id", "must not be empty".into())
            }
            Event::Coupon {
                event,
                kind,
                face_value,
                threshold,
                ..
            } => {
                if CouponEvent::parse(event).is_none() {
                    return bad("event", format!("'{event}' is not claim, redeem or expire"));
                }
                if CouponKind::parse(kind).is_none() {
                    return bad(
                        "kind",
                        format!("'{kind}' is not welcome, fission, tier or promo"),
                    );
                }
                if !money(*face_value) || !money(*threshold) {
                    return bad("face_value", "amounts must be finite and ≥ 0".into());
                }
                Ok(())
            }
            Event::Order {
                amount,
                list_amount,
                discount,
                ..
            } => {
                if !money(*amount) || !money(*list_amount) || !money(*discount) {
                    return bad("amount", "amounts must be finite and ≥ 0".into());
                }
                Ok(())
            }
            Event::Points { reason, .. } if PointsReason::parse(reason).is_none() => {
                bad("reason", format!("'{reason}' is not a points reason"))
            }
            Event::Label { label, .. } if *label > 1 => {
                bad("label", format!("{label}: 1 = wool, 0 = genuine"))
            }
            _ => Ok(()),
        }
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// Stored now, in batch order.
    pub accepted: Vec<String>,
    /// Already stored before (idempotent retries), or repeated within the batch.
    pub duplicates: Vec<String>,
}

/// Where events live.
pub trait EventStore: Send + Sync {
    /// Stores the events not stored yet, in one durable transaction, and returns which were new.
    /// Nothing is acknowledged before the commit returns.
    fn append(&self, events: &[Event]) -> Result<(Appended, Vec<Event>), ApiError>;
    /// Every stored event, in acknowledgement order.
    fn replay(&self) -> Result<Vec<Event>, ApiError>;
    fn contains(&self, event_id: &str) -> Result<bool, ApiError>;
}

/// The embedded store: one redb file per tenant.
pub struct RedbStore {
    db: Database,
}

fn store_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(503, "store_unavailable", format!("event store: {e}"))
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<Self, ApiError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(store_error)?;
        }
        let db = Database::create(path).map_err(store_error)?;
        // Create the tables so that a fresh store replays as empty.
        let tx = db.begin_write().map_err(store_error)?;
        tx.open_table(EVENTS).map_err(store_error)?;
        tx.open_table(ORDER).map_err(store_error)?;
        tx.commit().map_err(store_error)?;
        Ok(RedbStore { db })
    }
}

impl EventStore for RedbStore {
    fn append(&self, events: &[Event]) -> Result<(Appended, Vec<Event>), ApiError> {
        let tx = self.db.begin_write().map_err(store_error)?;
        let mut out = Appended::default();
        let mut fresh = Vec::new();
        {
            let mut table = tx.open_table(EVENTS).map_err(store_error)?;
            let mut order = tx.open_table(ORDER).map_err(store_error)?;
            let mut next = order
                .last()
                .map_err(store_error)?
                .map_or(0, |(k, _)| k.value() + 1);
            for e in events {
                let id = e.id();
                if table.get(id).map_err(store_error)?.is_some() {
                    out.duplicates.push(id.to_string());
                    continue;
                }
                let bytes = serde_json::to_vec(e).map_err(store_error)?;
                table.insert(id, bytes.as_slice()).map_err(store_error)?;
                order.insert(next, id).map_err(store_error)?;
                next += 1;
                out.accepted.push(id.to_string());
                fresh.push(e.clone());
            }
        }
        // redb commits durably (fsync) by default: after this returns, the events survive a
        // crash or `kill -9`.
        tx.commit().map_err(store_error)?;
        Ok((out, fresh))
    }

    fn replay(&self) -> Result<Vec<Event>, ApiError> {
        let tx = self.db.begin_read().map_err(store_error)?;
        let table = tx.open_table(EVENTS).map_err(store_error)?;
        let order = tx.open_table(ORDER).map_err(store_error)?;
        let mut out = Vec::new();
        for row in order.iter().map_err(store_error)? {
            let (_, id) = row.map_err(store_error)?;
            let Some(bytes) = table.get(id.value()).map_err(store_error)? else {
                return Err(store_error(format!(
                    "event '{}' is listed but missing",
                    id.value()
                )));
            };
            let e: Event = serde_json::from_slice(bytes.value()).map_err(store_error)?;
            out.push(e);
        }
        Ok(out)
    }

    fn contains(&self, event_id: &str) -> Result<bool, ApiError> {
        let tx = self.db.begin_read().map_err(store_error)?;
        let table = tx.open_table(EVENTS).map_err(store_error)?;
        Ok(table.get(event_id).map_err(store_error)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signup(id: &str, member: &str) -> Event {
        Event::Signup {
            event_id: id.into(),
            member_id: member.into(),
            at: 10,
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
    fn appends_once_and_replays_in_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.redb");
        {
            let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
            let (a, fresh) = s
                .append(&[signup("e1", "m1"), signup("e2", "m2"), signup("e1", "m1")])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(a.accepted, ["e1", "e2"]);
            assert_eq!(a.duplicates, ["e1"]);
            assert_eq!(fresh.len(), 2);
            let (a, _) = s
                .append(&[signup("e2", "m2"), signup("e3", "m3")])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((a.accepted.len(), a.duplicates.len()), (1, 1));
        }
        let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<String> = s
            .replay()
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|e| e.id().to_string())
            .collect();
        assert_eq!(ids, ["e1", "e2", "e3"]);
        assert!(s.contains("e3").unwrap_or(false));
        assert!(!s.contains("e4").unwrap_or(true));
    }

    #[test]
    fn bad_events_name_their_position_and_field() {
        let e = Event::Points {
            event_id: "p".into(),
            member_id: "m".into(),
            at: 0,
            delta: 5,
            reason: "lottery".into(),
        };
        let err = e.check(3).err().map(|e| e.message).unwrap_or_default();
        assert!(err.starts_with("events[3].reason"), "{err}");
        assert!(signup("", "m").check(0).is_err());
        assert!(signup("x", "m").check(0).is_ok());
    }
}
