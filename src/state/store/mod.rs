//! The durable store of a tenant's events and lists: an event is acknowledged only after the
//! transaction that holds it has committed, and an event id is stored once, so a retried batch is
//! never applied twice. Every stored event has a position in the tenant's log (`seq`: 1, 2, 3, …
//! with no gaps, in commit order), which replicas fold in, in that order.
//!
//! The store is behind [`EventStore`]. [`RedbStore`] is the embedded one, one file per tenant
//! (redb: a pure-Rust, crash-safe, copy-on-write B-tree store with ACID transactions). The shared
//! one is [`PgStore`] (PostgreSQL, `postgres://…`), which several replicas of a tenant write and
//! tail at once.

mod group;
mod pg;
mod redb;

use serde::Serialize;

use super::events::Event;
use crate::members::tier::TierRules;
use crate::scoring::lists::Lists;
use crate::scoring::rules::{RuleError, RuleSet, RulesFile};

pub use self::redb::{replay_file, RedbStore};
pub use pg::{PgStore, PgTail};

/// The store could not be read or written; nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("event store: {0}")]
    Redb(#[from] ::redb::Error),
    #[error("event store: {0}")]
    Io(#[from] std::io::Error),
    /// The shared store could not be reached or refused the statement.
    #[error("event store (postgres): {0}")]
    Postgres(String),
    /// A commit shared with other callers failed (group commit): its cause, in words.
    #[error("{0}")]
    Commit(String),
    #[error("event store: event '{id}': {source}")]
    Json {
        id: String,
        source: serde_json::Error,
    },
    #[error("event store: event '{0}' is listed but missing")]
    Missing(String),
    #[error("event store: the log of tenant '{tenant}' has a gap: position {expected} was expected, {found} came")]
    Gap {
        tenant: String,
        expected: u64,
        found: u64,
    },
    #[error("event store: the stored rules: {0}")]
    StoredRules(#[source] serde_json::Error),
    #[error("event store: the stored rules no longer check: {0}")]
    Rules(#[from] RuleError),
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Appended {
    /// Stored now, in batch order.
    pub accepted: Vec<String>,
    /// Already stored before (idempotent retries), or repeated within the batch.
    pub duplicates: Vec<String>,
    /// The log position of the batch's last new event (0: nothing new was stored). A replica
    /// whose `log_position` (`GET /v1/state`) reached it has applied the batch.
    pub position: u64,
}

/// A stored event and its position in the tenant's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub seq: u64,
    pub event: Event,
}

/// How many times the lists and the rules were changed: a replica reloads what another changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Versions {
    pub lists: u64,
    pub rules: u64,
}

/// A snapshot at a log position: the tenant's history with every event up to `position` folded
/// in, written as a contract folder at `path` (`woolguard state snapshot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SnapshotPointer {
    pub position: u64,
    #[schema(value_type = String)]
    pub path: std::path::PathBuf,
    /// UTC seconds when it was written.
    pub taken_at: i64,
}

/// Where events live.
pub trait EventStore: Send + Sync {
    /// Stores the events not stored yet, in one durable transaction, and returns which were new
    /// with their log positions. Nothing is acknowledged before the commit returns.
    fn append(&self, events: &[Event]) -> Result<(Appended, Vec<Logged>), StoreError>;
    /// Up to `limit` stored events after log position `after`, in log order.
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<Logged>, StoreError>;
    fn contains(&self, event_id: &str) -> Result<bool, StoreError>;
    /// Adds (`present`) or removes an allow / deny list entry (`kind/key/value`), durably.
    fn set_list_entry(&self, entry: &str, present: bool) -> Result<(), StoreError>;
    /// Every list entry stored.
    fn list_entries(&self) -> Result<Vec<String>, StoreError>;
    /// Replaces the stored rule set (JSON), durably.
    fn set_rules(&self, json: &str) -> Result<(), StoreError>;
    /// The stored rule set, if one was ever stored.
    fn rules(&self) -> Result<Option<String>, StoreError>;
    /// The snapshots kept, oldest first (JSON as stored; empty when none was ever taken).
    fn snapshots_json(&self) -> Result<Option<String>, StoreError>;
    /// Replaces the list of snapshots kept, durably.
    fn set_snapshots_json(&self, json: &str) -> Result<(), StoreError>;
    /// Drops the bodies of the events up to log position `position` (their ids stay, so a retry
    /// of one is still a duplicate); returns how many were dropped. Only the tail after a
    /// snapshot can be read afterwards.
    fn prune_through(&self, position: u64) -> Result<usize, StoreError>;
    /// How often the lists and rules were changed (a store only this process writes: zero).
    fn versions(&self) -> Result<Versions, StoreError> {
        Ok(Versions::default())
    }
    /// Whether other processes write this store too, so that the scorer tails its log.
    fn shared(&self) -> bool {
        false
    }

    /// Every stored event, in log order.
    fn replay(&self) -> Result<Vec<Event>, StoreError> {
        Ok(self
            .read_all_after(0)?
            .into_iter()
            .map(|l| l.event)
            .collect())
    }

    /// Every stored event after log position `after`, in log order.
    fn read_all_after(&self, after: u64) -> Result<Vec<Logged>, StoreError> {
        const PAGE: usize = 10_000;
        let mut out: Vec<Logged> = Vec::new();
        loop {
            let from = out.last().map_or(after, |l| l.seq);
            let page = self.read_after(from, PAGE)?;
            let done = page.len() < PAGE;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// The snapshots kept, oldest first.
    fn snapshots(&self) -> Result<Vec<SnapshotPointer>, StoreError> {
        match self.snapshots_json()? {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json).map_err(|source| StoreError::Json {
                id: "(snapshots)".to_string(),
                source,
            }),
        }
    }

    /// Replaces the list of snapshots kept.
    fn set_snapshots(&self, list: &[SnapshotPointer]) -> Result<(), StoreError> {
        let json = serde_json::to_string(list).map_err(|source| StoreError::Json {
            id: "(snapshots)".to_string(),
            source,
        })?;
        self.set_snapshots_json(&json)
    }

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

/// An event as stored: its JSON.
fn to_json(e: &Event) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(e).map_err(|source| StoreError::Json {
        id: e.id().to_string(),
        source,
    })
}

/// A stored event read back.
fn from_json(id: &str, bytes: &[u8]) -> Result<Event, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Json {
        id: id.to_string(),
        source,
    })
}
