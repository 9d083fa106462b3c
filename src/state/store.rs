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

use super::events::Event;
use crate::members::tier::TierRules;
use crate::scoring::lists::Lists;
use crate::scoring::rules::{RuleError, RuleSet, RulesFile};

/// The store could not be read or written; nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("event store: {0}")]
    Redb(#[from] redb::Error),
    #[error("event store: {0}")]
    Io(#[from] std::io::Error),
    #[error("event store: event '{id}': {source}")]
    Json {
        id: String,
        source: serde_json::Error,
    },
    #[error("event store: event '{0}' is listed but missing")]
    Missing(String),
    #[error("event store: the stored rules: {0}")]
    StoredRules(#[source] serde_json::Error),
    #[error("event store: the stored rules no longer check: {0}")]
    Rules(#[from] RuleError),
}

/// Any of redb's errors, as the store's.
fn redb_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Redb(e.into())
}

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
    fn append(&self, events: &[Event]) -> Result<(Appended, Vec<Event>), StoreError>;
    /// Every stored event, in acknowledgement order.
    fn replay(&self) -> Result<Vec<Event>, StoreError>;
    fn contains(&self, event_id: &str) -> Result<bool, StoreError>;
    /// Adds (`present`) or removes an allow / deny list entry (`kind/key/value`), durably.
    fn set_list_entry(&self, entry: &str, present: bool) -> Result<(), StoreError>;
    /// Every list entry stored.
    fn list_entries(&self) -> Result<Vec<String>, StoreError>;
    /// Replaces the stored rule set (JSON), durably.
    fn set_rules(&self, json: &str) -> Result<(), StoreError>;
    /// The stored rule set, if one was ever stored.
    fn rules(&self) -> Result<Option<String>, StoreError>;

    /// The stored lists. Entries stored before values were checked are normalised; one that can
    /// never match is left out, said in the log.
    fn stored_lists(&self) -> Result<Lists, StoreError> {
        let (lists, left_out) = Lists::from_stored(&self.list_entries()?);
        for (entry, reason) in left_out {
            tracing::warn!(entry = %entry, reason = %reason, "stored list entry left out: it can never match");
        }
        Ok(lists)
    }

    /// The stored rule set, checked again (against the default tier names), if one was stored.
    fn stored_rules(&self) -> Result<Option<RuleSet>, StoreError> {
        let Some(json) = self.rules()? else {
            return Ok(None);
        };
        let file: RulesFile = serde_json::from_str(&json).map_err(StoreError::StoredRules)?;
        Ok(Some(RuleSet::check(file, &TierRules::default().names)?))
    }

    /// Replaces the stored rule set with `rules`, durably.
    fn store_rules(&self, rules: &RuleSet) -> Result<(), StoreError> {
        let json = serde_json::to_string(rules.spec()).map_err(StoreError::StoredRules)?;
        self.set_rules(&json)
    }
}

/// The embedded store: one redb file per tenant.
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database::create(path).map_err(redb_err)?;
        // Create the tables so that a fresh store replays as empty.
        let tx = db.begin_write().map_err(redb_err)?;
        tx.open_table(EVENTS).map_err(redb_err)?;
        tx.open_table(ORDER).map_err(redb_err)?;
        tx.open_table(LISTS).map_err(redb_err)?;
        tx.open_table(RULES).map_err(redb_err)?;
        tx.commit().map_err(redb_err)?;
        Ok(RedbStore { db })
    }
}

/// Every event of a store file in acknowledgement order, the file opened read-only.
pub fn replay_file(path: &Path) -> Result<Vec<Event>, StoreError> {
    let db = redb::ReadOnlyDatabase::open(path).map_err(redb_err)?;
    replay_from(&db)
}

fn replay_from(db: &impl ReadableDatabase) -> Result<Vec<Event>, StoreError> {
    let tx = db.begin_read().map_err(redb_err)?;
    let table = tx.open_table(EVENTS).map_err(redb_err)?;
    let order = tx.open_table(ORDER).map_err(redb_err)?;
    let mut out = Vec::new();
    for row in order.iter().map_err(redb_err)? {
        let (_, id) = row.map_err(redb_err)?;
        let Some(bytes) = table.get(id.value()).map_err(redb_err)? else {
            return Err(StoreError::Missing(id.value().to_string()));
        };
        let e: Event =
            serde_json::from_slice(bytes.value()).map_err(|source| StoreError::Json {
                id: id.value().to_string(),
                source,
            })?;
        out.push(e);
    }
    Ok(out)
}

impl EventStore for RedbStore {
    fn append(&self, events: &[Event]) -> Result<(Appended, Vec<Event>), StoreError> {
        let tx = self.db.begin_write().map_err(redb_err)?;
        let mut out = Appended::default();
        let mut fresh = Vec::new();
        {
            let mut table = tx.open_table(EVENTS).map_err(redb_err)?;
            let mut order = tx.open_table(ORDER).map_err(redb_err)?;
            let mut next = order
                .last()
                .map_err(redb_err)?
                .map_or(0, |(k, _)| k.value() + 1);
            for e in events {
                let id = e.id();
                if table.get(id).map_err(redb_err)?.is_some() {
                    out.duplicates.push(id.to_string());
                    continue;
                }
                let bytes = serde_json::to_vec(e).map_err(|source| StoreError::Json {
                    id: id.to_string(),
                    source,
                })?;
                table.insert(id, bytes.as_slice()).map_err(redb_err)?;
                order.insert(next, id).map_err(redb_err)?;
                next += 1;
                out.accepted.push(id.to_string());
                fresh.push(e.clone());
            }
        }
        // redb commits durably (fsync) by default: after this returns, the events survive a
        // crash or `kill -9`.
        tx.commit().map_err(redb_err)?;
        Ok((out, fresh))
    }

    fn replay(&self) -> Result<Vec<Event>, StoreError> {
        replay_from(&self.db)
    }

    fn contains(&self, event_id: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(redb_err)?;
        let table = tx.open_table(EVENTS).map_err(redb_err)?;
        Ok(table.get(event_id).map_err(redb_err)?.is_some())
    }

    fn set_list_entry(&self, entry: &str, present: bool) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(redb_err)?;
        {
            let mut table = tx.open_table(LISTS).map_err(redb_err)?;
            if present {
                table.insert(entry, 1).map_err(redb_err)?;
            } else {
                table.remove(entry).map_err(redb_err)?;
            }
        }
        tx.commit().map_err(redb_err)
    }

    fn list_entries(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read().map_err(redb_err)?;
        let table = tx.open_table(LISTS).map_err(redb_err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(redb_err)? {
            let (k, _) = row.map_err(redb_err)?;
            out.push(k.value().to_string());
        }
        Ok(out)
    }

    fn set_rules(&self, json: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(redb_err)?;
        tx.open_table(RULES)
            .map_err(redb_err)?
            .insert("current", json)
            .map_err(redb_err)?;
        tx.commit().map_err(redb_err)
    }

    fn rules(&self) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read().map_err(redb_err)?;
        let table = tx.open_table(RULES).map_err(redb_err)?;
        let current = table.get("current").map_err(redb_err)?;
        Ok(current.map(|v| v.value().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::events::tests::signup;

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
