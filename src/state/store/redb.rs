//! The embedded store: one redb file per tenant, written by one scorer process.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::group::GroupCommit;
use super::{from_json, to_json, Appended, EventStore, Logged, StoreError};
use crate::state::events::Event;

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

/// Named values (`snapshots`: the snapshots kept, as JSON).
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// Arrival order (log position − 1) → event id.
const ORDER: TableDefinition<u64, &str> = TableDefinition::new("order");

/// The embedded store: one redb file per tenant.
pub struct RedbStore {
    db: Database,
    /// Concurrent appends, committed together.
    group: GroupCommit,
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
        tx.open_table(META).map_err(redb_err)?;
        tx.commit().map_err(redb_err)?;
        Ok(RedbStore {
            db,
            group: GroupCommit::default(),
        })
    }
}

/// Every event of a store file in acknowledgement order, the file opened read-only.
pub fn replay_file(path: &Path) -> Result<Vec<Event>, StoreError> {
    let db = redb::ReadOnlyDatabase::open(path).map_err(redb_err)?;
    Ok(read_from(&db, 0, usize::MAX)?
        .into_iter()
        .map(|l| l.event)
        .collect())
}

/// Up to `limit` events after log position `after` (the order key is the position − 1).
fn read_from(
    db: &impl ReadableDatabase,
    after: u64,
    limit: usize,
) -> Result<Vec<Logged>, StoreError> {
    let tx = db.begin_read().map_err(redb_err)?;
    let table = tx.open_table(EVENTS).map_err(redb_err)?;
    let order = tx.open_table(ORDER).map_err(redb_err)?;
    let mut out = Vec::new();
    for row in order.range(after..).map_err(redb_err)?.take(limit) {
        let (k, id) = row.map_err(redb_err)?;
        let Some(bytes) = table.get(id.value()).map_err(redb_err)? else {
            return Err(StoreError::Missing(id.value().to_string()));
        };
        out.push(Logged {
            seq: k.value() + 1,
            event: from_json(id.value(), bytes.value())?,
        });
    }
    Ok(out)
}

impl RedbStore {
    /// Stores batches in one durable transaction, each answered with its own part.
    fn commit_group(
        &self,
        batches: Vec<Vec<Event>>,
    ) -> Result<Vec<(Appended, Vec<Logged>)>, StoreError> {
        let tx = self.db.begin_write().map_err(redb_err)?;
        let mut parts = Vec::with_capacity(batches.len());
        {
            let mut table = tx.open_table(EVENTS).map_err(redb_err)?;
            let mut order = tx.open_table(ORDER).map_err(redb_err)?;
            let mut next = order
                .last()
                .map_err(redb_err)?
                .map_or(0, |(k, _)| k.value() + 1);
            for batch in batches {
                let mut out = Appended::default();
                let mut fresh = Vec::new();
                for e in batch {
                    let id = e.id().to_string();
                    if table.get(id.as_str()).map_err(redb_err)?.is_some() {
                        out.duplicates.push(id);
                        continue;
                    }
                    table
                        .insert(id.as_str(), to_json(&e)?.as_slice())
                        .map_err(redb_err)?;
                    order.insert(next, id.as_str()).map_err(redb_err)?;
                    next += 1;
                    out.accepted.push(id);
                    fresh.push(Logged {
                        seq: next,
                        event: e,
                    });
                }
                parts.push((out, fresh));
            }
        }
        // redb commits durably (fsync) by default: after this returns, the events survive a
        // crash or `kill -9`.
        tx.commit().map_err(redb_err)?;
        Ok(parts)
    }
}

impl EventStore for RedbStore {
    fn append(&self, events: &[Event]) -> Result<(Appended, Vec<Logged>), StoreError> {
        self.group
            .append(events, |batches| self.commit_group(batches))
    }

    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<Logged>, StoreError> {
        read_from(&self.db, after, limit)
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

    fn snapshots_json(&self) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read().map_err(redb_err)?;
        let table = tx.open_table(META).map_err(redb_err)?;
        let v = table.get("snapshots").map_err(redb_err)?;
        Ok(v.map(|v| v.value().to_string()))
    }

    fn set_snapshots_json(&self, json: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(redb_err)?;
        tx.open_table(META)
            .map_err(redb_err)?
            .insert("snapshots", json)
            .map_err(redb_err)?;
        tx.commit().map_err(redb_err)
    }

    fn prune_through(&self, position: u64) -> Result<usize, StoreError> {
        let tx = self.db.begin_write().map_err(redb_err)?;
        let mut dropped = 0;
        {
            let mut table = tx.open_table(EVENTS).map_err(redb_err)?;
            let mut order = tx.open_table(ORDER).map_err(redb_err)?;
            let ids: Vec<(u64, String)> = order
                .range(..position)
                .map_err(redb_err)?
                .map(|r| r.map(|(k, v)| (k.value(), v.value().to_string())))
                .collect::<Result<_, _>>()
                .map_err(redb_err)?;
            for (k, id) in ids {
                // The id stays (an empty body), so a retry is still a duplicate.
                table.insert(id.as_str(), &[][..]).map_err(redb_err)?;
                order.remove(k).map_err(redb_err)?;
                dropped += 1;
            }
        }
        tx.commit().map_err(redb_err)?;
        Ok(dropped)
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
            let seqs: Vec<u64> = fresh.iter().map(|l| l.seq).collect();
            assert_eq!(seqs, [1, 2]);
            let (a, fresh) = s
                .append(&[signup("e2", "m2"), signup("e3", "m3")])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((a.accepted.len(), a.duplicates.len()), (1, 1));
            assert_eq!(fresh.first().map(|l| l.seq), Some(3));
        }
        let s = RedbStore::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<String> = s
            .replay()
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|e| e.id().to_string())
            .collect();
        assert_eq!(ids, ["e1", "e2", "e3"]);
        let tail = s.read_after(1, 10).unwrap_or_else(|e| panic!("{e}"));
        let tail: Vec<(u64, &str)> = tail.iter().map(|l| (l.seq, l.event.id())).collect();
        assert_eq!(tail, [(2, "e2"), (3, "e3")]);
        assert_eq!(s.read_after(2, 1).map(|v| v.len()).unwrap_or(0), 1);
        assert!(s.contains("e3").unwrap_or(false));
        assert!(!s.contains("e4").unwrap_or(true));
    }
}
