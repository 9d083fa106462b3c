//! Stored events reach the online state in the log's order: the events a request stored, and the
//! events other replicas stored in a shared store, which [`Tenant::catch_up`] reads (on a
//! notification from the store, or on the scorer's poll). Replicas that fold one log in one order
//! hold the same state.

use std::sync::Arc;

use serde::Serialize;

use super::{poisoned, Tenant};
use crate::data::plausible::TimeWindow;
use crate::state::store::{EventStore, Logged, Versions};
use crate::state::StateError;

/// How far a tenant has folded its store's log.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// The last log position applied.
    pub seq: u64,
    /// The lists' and rules' versions last seen.
    pub versions: Versions,
}

/// Where a tenant's state stands (`GET /v1/state`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StateStatus {
    pub tenant: String,
    /// `shared` (PostgreSQL, tailed), `embedded` (redb in the state folder) or `none`.
    pub store: &'static str,
    /// The store's log position this replica has applied up to.
    pub log_position: u64,
    /// Acknowledged events not yet in the member scores' snapshot.
    pub pending: usize,
    /// Members in the snapshot.
    pub members: usize,
    /// UTC seconds: the snapshot's member scores are as of this moment.
    pub scores_as_of: i64,
    /// Members scored live since the snapshot (touched by an event).
    pub live_members: usize,
    /// Group mates an event made stale that the rescorer has not reached yet (a read of one
    /// rescores it first).
    pub stale_members: usize,
}

/// What a catch-up found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaughtUp {
    /// Events applied, stored through other replicas.
    pub events: usize,
    /// The log position applied up to.
    pub position: u64,
    pub lists_reloaded: bool,
    pub rules_reloaded: bool,
}

impl Tenant {
    /// Queues stored events for the next full refresh and applies them to the online state, in
    /// log order, and with `score` scores the members they touch again. An event
    /// stored before its values were checked on arrival is not applied (the fold skips it too,
    /// counted and logged): one bad value must not stop the tenant.
    pub(super) fn take(&self, logged: &[Logged], score: bool) -> Result<(), StateError> {
        // Sequences are taken under the pending lock, as `accept` takes them, so that a full
        // refresh folds exactly the events before its sequence.
        let first = {
            let mut pending = self.pending.lock().map_err(|_| poisoned())?;
            let first = self.live.take_seqs(logged.len());
            pending.extend(logged.iter().map(|l| l.event.clone()));
            first
        };
        // The events' own members are scored again once, after the last of them, before the
        // answer; the group mates a group change made stale are marked for the rescorer (a
        // burst of events on one group rescores the group once, off the request).
        let window = TimeWindow::live();
        let mut own = Vec::new();
        let mut mates = Vec::new();
        for (i, l) in logged.iter().enumerate() {
            if l.event.problem(&window).is_none() {
                let member = l.event.member_id();
                for id in self.note_and_apply(&l.event, first + i as u64)? {
                    if id == member {
                        own.push(id);
                    } else {
                        mates.push(id);
                    }
                }
            }
        }
        let last = first + logged.len() as u64 - 1;
        let own: Vec<String> = dedup(own);
        let owned: std::collections::HashSet<&String> = own.iter().collect();
        let mates: Vec<String> = dedup(mates)
            .into_iter()
            .filter(|id| !owned.contains(id))
            .collect();
        self.live.mark_stale(mates, last)?;
        if score && !own.is_empty() {
            self.rescore(own, last, true)?;
        }
        Ok(())
    }

    /// Rescores up to `max` group mates marked stale (waiting up to `wait` for one): the
    /// tenant's rescorer calls this in a loop. Returns how many it rescored.
    pub fn rescore_stale(
        &self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<usize, StateError> {
        let batch = self.live.stale_batch(max, wait)?;
        self.rescore_marked(&batch)?;
        Ok(batch.len())
    }

    /// Rescores member `id` first when it is marked stale, so that a read never answers with a
    /// score older than an acknowledged event of its group.
    pub(super) fn freshen(&self, id: &str) -> Result<(), StateError> {
        match self.live.stale_at(id)? {
            Some(seq) => self.rescore_marked(&[(id.to_string(), seq)]),
            None => Ok(()),
        }
    }

    /// Rescores stale members with their marks, on this thread, and unmarks them.
    fn rescore_marked(&self, marked: &[(String, u64)]) -> Result<(), StateError> {
        let Some(seq) = marked.iter().map(|(_, q)| *q).max() else {
            return Ok(());
        };
        self.rescore(
            marked.iter().map(|(id, _)| id.clone()).collect(),
            seq,
            false,
        )?;
        self.live.fresh(marked)
    }

    /// Applies the events a request just stored, after any stored before them that this replica
    /// has not applied yet (read back from the log), so that every event is applied once, in
    /// log order.
    pub(super) fn settle(
        &self,
        store: &dyn EventStore,
        fresh: &[Logged],
    ) -> Result<(), StateError> {
        let Some(last) = fresh.last() else {
            return Ok(());
        };
        let mut applied = self.applied.lock().map_err(|_| poisoned())?;
        if last.seq <= applied.seq {
            // A catch-up meanwhile applied them with the rest of the log.
            return Ok(());
        }
        let next = fresh
            .iter()
            .enumerate()
            .all(|(i, l)| l.seq == applied.seq + 1 + i as u64);
        let logged = if next {
            fresh.to_vec()
        } else {
            store.read_all_after(applied.seq)?
        };
        self.take(&logged, true)?;
        applied.seq = logged.last().map_or(applied.seq, |l| l.seq);
        Ok(())
    }

    /// Folds in what other replicas stored since this one last looked: the new events in log
    /// order, the lists when they changed, and the rules when they changed to another set (the
    /// snapshot is rebuilt under them).
    pub fn catch_up(&self) -> Result<CaughtUp, StateError> {
        let Some(store) = &self.store else {
            return Ok(CaughtUp::default());
        };
        let mut out = CaughtUp::default();
        let (rules_changed, versions) = {
            let mut applied = self.applied.lock().map_err(|_| poisoned())?;
            let logged = store.read_all_after(applied.seq)?;
            self.take(&logged, true)?;
            applied.seq = logged.last().map_or(applied.seq, |l| l.seq);
            out.events = logged.len();
            out.position = applied.seq;
            let versions = store.versions()?;
            if versions.lists != applied.versions.lists {
                *self.lists.write().map_err(|_| poisoned())? = store.stored_lists()?;
                out.lists_reloaded = true;
            }
            let rules_changed = versions.rules != applied.versions.rules;
            (rules_changed, versions)
        };
        if rules_changed {
            if let Some(stored) = store.stored_rules()? {
                let now = self.snapshot()?;
                let same = serde_json::to_string(stored.spec()).ok()
                    == serde_json::to_string(now.rules.spec()).ok();
                if !same {
                    let rules = Arc::new(stored);
                    self.rebuild(|old| old.rebuild_with(old.history.clone(), rules.clone()))?;
                    out.rules_reloaded = true;
                }
            }
        }
        self.applied.lock().map_err(|_| poisoned())?.versions = versions;
        if out.events > 0 || out.lists_reloaded || out.rules_reloaded {
            tracing::debug!(tenant = %self.name, events = out.events, position = out.position, lists = out.lists_reloaded, rules = out.rules_reloaded, "caught up with the store");
        }
        Ok(out)
    }

    /// The store's log position this tenant has applied up to (0: none, or no store).
    pub fn log_position(&self) -> Result<u64, StateError> {
        Ok(self.applied.lock().map_err(|_| poisoned())?.seq)
    }

    /// Where the tenant's state stands.
    pub fn status(&self) -> Result<StateStatus, StateError> {
        let models = self.snapshot()?;
        Ok(StateStatus {
            tenant: self.name.clone(),
            store: match &self.store {
                Some(s) if s.shared() => "shared",
                Some(_) => "embedded",
                None => "none",
            },
            log_position: self.log_position()?,
            pending: self.pending()?,
            members: models.history.members.len(),
            scores_as_of: models.as_of,
            live_members: self.live.members()?,
            stale_members: self.live.stale_members()?,
        })
    }

    /// Whether this tenant keeps its events in a store.
    pub fn has_store(&self) -> bool {
        self.store.is_some()
    }

    /// Whether this tenant's store is written by other replicas too.
    pub fn shares_store(&self) -> bool {
        self.store.as_ref().is_some_and(|s| s.shared())
    }
}

/// `ids` with repeats dropped, in first-seen order.
fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}
