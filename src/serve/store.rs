//! The durable store of a tenant's events and lists: an event is acknowledged only after the
//! transaction that holds it has committed to disk, and an event id is stored once, so a retried
//! batch is never applied twice.
//!
//! The store is behind [`EventStore`]; [`RedbStore`] is the embedded implementation (redb: a
//! pure-Rust, crash-safe, copy-on-write B-tree store with ACID transactions and a stable file
//! format, and no C dependency). A shared store (PostgreSQL) would be another implementation.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;

use super::error::ApiError;
use super::events::Event;

/// Event id → the event as JSON.
const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("events");
/// Allow / deny list entries (`kind/key/value`) that are present.
const LISTS: TableDefinition<&str, u8> = TableDefinition::new("lists");

/// The tenant's rule set (key `current`), as JSON, swapped whole.
const RULES: TableDefinition<&str, &str> = TableDefinition::new("rules");

/// Arrival order → event id, for replay in the order events were acknowledged.
const ORDER: TableDefinition<u64, &str> = TableDefinition::new("order");

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    /// Adds (`present`) or removes an allow / deny list entry (`kind/key/value`), durably.
    fn set_list_entry(&self, entry: &str, present: bool) -> Result<(), ApiError>;
    /// Every list entry stored.
    fn list_entries(&self) -> Result<Vec<String>, ApiError>;
    /// Replaces the stored rule set (JSON), durably.
    fn set_rules(&self, json: &str) -> Result<(), ApiError>;
    /// The stored rule set, if one was ever stored.
    fn rules(&self) -> Result<Option<String>, ApiError>;
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
        tx.open_table(LISTS).map_err(store_error)?;
        tx.open_table(RULES).map_err(store_error)?;
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

    fn set_list_entry(&self, entry: &str, present: bool) -> Result<(), ApiError> {
        let tx = self.db.begin_write().map_err(store_error)?;
        {
            let mut table = tx.open_table(LISTS).map_err(store_error)?;
            if present {
                table.insert(entry, 1).map_err(store_error)?;
            } else {
                table.remove(entry).map_err(store_error)?;
            }
        }
        tx.commit().map_err(store_error)
    }

    fn list_entries(&self) -> Result<Vec<String>, ApiError> {
        let tx = self.db.begin_read().map_err(store_error)?;
        let table = tx.open_table(LISTS).map_err(store_error)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(store_error)? {
            let (k, _) = row.map_err(store_error)?;
            out.push(k.value().to_string());
        }
        Ok(out)
    }

    fn set_rules(&self, json: &str) -> Result<(), ApiError> {
        let tx = self.db.begin_write().map_err(store_error)?;
        tx.open_table(RULES)
            .map_err(store_error)?
            .insert("current", json)
            .map_err(store_error)?;
        tx.commit().map_err(store_error)
    }

    fn rules(&self) -> Result<Option<String>, ApiError> {
        let tx = self.db.begin_read().map_err(store_error)?;
        let table = tx.open_table(RULES).map_err(store_error)?;
        let current = table.get("current").map_err(store_error)?;
        Ok(current.map(|v| v.value().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::events::tests::signup;

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
}
