//! The live overlay over a tenant's snapshot: for every member an acknowledged event touched
//! since the snapshot, its events not in the snapshot's history and its member-time score as of
//! the newest acknowledged moment. Reads look here first, then in the snapshot.
//!
//! A member's row is built by the same code as the batch's: its recruitment-time row as the
//! snapshot's sweep computed it (or, for a member who signed up since, as the online state
//! computed it at its sign-up), `features::member::member_row` over a history of that one member
//! (its rows in the snapshot with its new events folded on top) and the pool features of its keys
//! and group from the online state. Scoring and the rules' outcome are the batch's too
//! (`Artefact::score_row`, `Judge::rules_for`, `Judge::gang`). Nothing here rescans every member.
//!
//! Scores are computed outside the overlay's lock: an entry's `version` says which touch a score
//! was computed for, and a score only replaces an older one computed against the same snapshot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::super::events::{fold, Event};
use super::super::snapshot::Models;
use super::super::StateError;
use crate::data::history::History;
use crate::features::member::{self, member_history, MemberIndex};
use crate::features::recruit::{self, Group, POOL_FEATURES};
use crate::model::artefact::{Artefact, Scored};
use crate::scoring::members::{member_facts, member_keys};
use crate::scoring::rules::On;
use crate::scoring::{Judge, ListKeys, Outcome, Standing};

/// At most this many members of one group are marked for rescoring when the group's stats
/// change: groups merge only through keys under their caps, so a real group is far smaller; a
/// larger one's other members keep their scores until the next full refresh.
pub const GROUP_RESCORE_LIMIT: usize = 2_000;

/// The keys the lists match for a member, owned (a live score outlives the snapshot it was
/// computed from).
#[derive(Debug, Clone, Default)]
pub struct OwnedKeys {
    pub member: Option<String>,
    pub device: Option<String>,
    pub phone_hash: Option<String>,
    pub ip: Option<String>,
}

impl OwnedKeys {
    pub fn of(k: &ListKeys<'_>) -> Self {
        let own = |v: Option<&str>| v.map(str::to_string);
        OwnedKeys {
            member: own(k.member),
            device: own(k.device),
            phone_hash: own(k.phone_hash),
            ip: own(k.ip),
        }
    }

    pub fn keys(&self) -> ListKeys<'_> {
        ListKeys {
            member: self.member.as_deref(),
            device: self.device.as_deref(),
            phone_hash: self.phone_hash.as_deref(),
            ip: self.ip.as_deref(),
        }
    }
}

/// A member's score computed live.
#[derive(Debug, Clone)]
pub struct LiveScore {
    /// The entry version it was computed for.
    version: u64,
    /// UTC seconds: the moment it is as of (the newest acknowledged moment then).
    pub as_of: i64,
    pub member: (Scored, Outcome),
    /// The member-slot challenger's score of the same row, where there is one.
    pub challenger: Option<(Scored, Outcome)>,
    pub keys: OwnedKeys,
    /// As of the snapshot (tiers and segments are recomputed at a full refresh); `None` for a
    /// member who signed up since.
    pub standing: Option<Standing>,
}

#[derive(Debug, Default)]
struct Entry {
    /// This member's events not in the snapshot's history, with their acknowledgement sequence.
    events: Vec<(u64, Event)>,
    /// The sequence of the newest event that touched the member (its own or its group's).
    touched: u64,
    /// Bumped on every touch.
    version: u64,
    /// The recruitment-time row of a member who signed up since the snapshot.
    signup: Option<Arc<Vec<f64>>>,
    score: Option<Arc<LiveScore>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Bumped at every snapshot swap.
    generation: u64,
    /// Events up to this sequence are in the snapshot's history (when their member is).
    folded: u64,
    entries: HashMap<String, Entry>,
    /// Group mates an event's group change made stale, with the sequence of the newest such
    /// event: rescored off the request (the tenant's rescorer, coalesced over a burst of events
    /// on one group), or on their next read, whichever comes first. A member leaves this set
    /// only once a score computed after its newest mark is installed.
    dirty: HashMap<String, u64>,
}

/// The overlay. Lock order: the tenant's `models` write lock is only taken inside `inner`.
#[derive(Debug, Default)]
pub struct Live {
    inner: Mutex<Inner>,
    /// Signalled when members are marked stale.
    stale: Condvar,
    /// The sequence of the last event acknowledged.
    seq: AtomicU64,
    /// The moment after the newest event acknowledged that a fold puts in the history: what a
    /// full rebuild's scores would be as of (`model::score::end_of`).
    end: AtomicI64,
}

/// Reads the pool features of members at a moment from the online state.
pub type ReadPools<'a> = dyn Fn(&[String], i64) -> Result<Vec<Pool>, StateError> + 'a;

/// One member to score: what the overlay held when it was asked.
struct Input {
    id: String,
    version: u64,
    events: Vec<Event>,
    signup: Option<Arc<Vec<f64>>>,
}

/// What the online state says of a member now: its pool features and its group (with the
/// member id of its first account) where it has one.
pub struct Pool {
    pub values: Vec<f64>,
    pub group: Option<(String, Group)>,
}

fn poisoned() -> StateError {
    StateError::Poisoned
}

impl Live {
    /// Takes `n` sequence numbers; returns the first.
    pub fn take_seqs(&self, n: usize) -> u64 {
        self.seq.fetch_add(n as u64, Ordering::SeqCst) + 1
    }

    /// The sequence of the last event acknowledged.
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// The moment member scores are computed as of: after the newest event.
    pub fn end(&self, models: &Models) -> i64 {
        self.end.load(Ordering::SeqCst).max(models.as_of)
    }

    /// Notes event `e` (sequence `seq`): kept for its member unless the snapshot already holds
    /// it, and moving the newest moment on.
    pub fn note(
        &self,
        e: &Event,
        seq: u64,
        current: &dyn Fn() -> Result<Arc<Models>, StateError>,
    ) -> Result<(), StateError> {
        if matches!(e, Event::Hold { .. }) {
            return Ok(());
        }
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        let in_history = current()?.history.members.index_of(e.member_id()).is_some();
        let entry = inner.entries.get(e.member_id());
        // An event of a member not signed up yet waits (a fold leaves it out too), and moves the
        // newest moment on only once the sign-up arrives.
        let known = in_history
            || matches!(e, Event::Signup { .. })
            || entry.is_some_and(|x| x.signup.is_some());
        if known && !matches!(e, Event::Label { .. }) {
            self.end
                .fetch_max(e.at().saturating_add(1), Ordering::SeqCst);
        }
        if seq <= inner.folded && in_history {
            return Ok(());
        }
        let entry = inner.entries.entry(e.member_id().to_string()).or_default();
        entry.events.push((seq, e.clone()));
        Ok(())
    }

    /// Keeps the recruitment-time row of a member who signed up since the snapshot.
    pub fn signed_up(&self, id: &str, row: Vec<f64>) -> Result<(), StateError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        let entry = inner.entries.entry(id.to_string()).or_default();
        entry.signup = Some(Arc::new(row));
        // The events that waited for the sign-up count from now on.
        let waited = entry
            .events
            .iter()
            .filter(|(_, e)| !matches!(e, Event::Label { .. } | Event::Hold { .. }));
        if let Some(t) = waited.map(|(_, e)| e.at()).max() {
            self.end.fetch_max(t.saturating_add(1), Ordering::SeqCst);
        }
        Ok(())
    }

    /// The live score of member `id`, where it has one.
    pub fn score_of(&self, id: &str) -> Result<Option<Arc<LiveScore>>, StateError> {
        let inner = self.inner.lock().map_err(|_| poisoned())?;
        Ok(inner.entries.get(id).and_then(|e| e.score.clone()))
    }

    /// Members with an entry (touched since the snapshot).
    pub fn members(&self) -> Result<usize, StateError> {
        Ok(self.inner.lock().map_err(|_| poisoned())?.entries.len())
    }

    /// Marks `ids` stale after event `seq` changed their group's stats, and wakes the rescorer.
    pub fn mark_stale(&self, ids: Vec<String>, seq: u64) -> Result<(), StateError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        for id in ids {
            let q = inner.dirty.entry(id).or_default();
            *q = (*q).max(seq);
        }
        self.stale.notify_all();
        Ok(())
    }

    /// The sequence member `id` was marked stale at, if it is stale.
    pub fn stale_at(&self, id: &str) -> Result<Option<u64>, StateError> {
        Ok(self
            .inner
            .lock()
            .map_err(|_| poisoned())?
            .dirty
            .get(id)
            .copied())
    }

    /// Members waiting to be rescored.
    pub fn stale_members(&self) -> Result<usize, StateError> {
        Ok(self.inner.lock().map_err(|_| poisoned())?.dirty.len())
    }

    /// Up to `max` stale members with their marks (they stay marked until [`Self::fresh`]);
    /// waits up to `wait` for one when there is none.
    pub fn stale_batch(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<(String, u64)>, StateError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        if inner.dirty.is_empty() {
            inner = self
                .stale
                .wait_timeout(inner, wait)
                .map_err(|_| poisoned())?
                .0;
        }
        Ok(inner
            .dirty
            .iter()
            .take(max)
            .map(|(id, q)| (id.clone(), *q))
            .collect())
    }

    /// Unmarks the members rescored after their marks `done` (a member marked again since stays).
    pub fn fresh(&self, done: &[(String, u64)]) -> Result<(), StateError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        for (id, q) in done {
            if inner.dirty.get(id).is_some_and(|now| now <= q) {
                inner.dirty.remove(id);
            }
        }
        Ok(())
    }

    /// Marks `ids` touched by event `seq` and hands back what to score them from, with the
    /// snapshot (read under the overlay's lock, so that it matches the generation).
    fn touch(
        &self,
        ids: &[String],
        seq: u64,
        current: &dyn Fn() -> Result<Arc<Models>, StateError>,
    ) -> Result<(u64, Arc<Models>, Vec<Input>), StateError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        let models = current()?;
        let generation = inner.generation;
        let inputs = ids
            .iter()
            .map(|id| {
                let e = inner.entries.entry(id.clone()).or_default();
                e.touched = e.touched.max(seq);
                e.version += 1;
                Input {
                    id: id.clone(),
                    version: e.version,
                    events: e.events.iter().map(|(_, e)| e.clone()).collect(),
                    signup: e.signup.clone(),
                }
            })
            .collect();
        Ok((generation, models, inputs))
    }

    /// Installs scores computed against generation `generation`; returns the ids whose score
    /// must be computed again (the snapshot was swapped meanwhile).
    fn install(
        &self,
        generation: u64,
        scores: Vec<(String, u64, Option<LiveScore>)>,
    ) -> Result<Vec<String>, StateError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        if inner.generation != generation {
            return Ok(scores.into_iter().map(|(id, _, _)| id).collect());
        }
        for (id, version, score) in scores {
            let Some(e) = inner.entries.get_mut(&id) else {
                continue;
            };
            let older = e.score.as_ref().is_none_or(|s| s.version < version);
            if let (true, Some(s)) = (older, score) {
                e.score = Some(Arc::new(s));
            }
        }
        Ok(Vec::new())
    }

    /// Scores `ids` again after event `seq` touched them: their rows from the current snapshot,
    /// their events since and the online state now. `pools` reads the online state.
    /// With `spread`, a large set is scored on every core (a request waits for it); without, on
    /// the calling thread alone (the rescorer, which must leave the cores to requests).
    pub fn rescore(
        &self,
        ids: Vec<String>,
        seq: u64,
        spread: bool,
        current: &dyn Fn() -> Result<Arc<Models>, StateError>,
        pools: &ReadPools<'_>,
    ) -> Result<(), StateError> {
        let mut ids = ids;
        // A swap between the touch and the install sends the work round again, against the
        // new snapshot; swaps are rare (a refresh, a model or rule change).
        for _ in 0..4 {
            if ids.is_empty() {
                return Ok(());
            }
            let (generation, models, inputs) = self.touch(&ids, seq, current)?;
            let as_of = self.end(&models);
            let names: Vec<String> = inputs.iter().map(|i| i.id.clone()).collect();
            let pools = pools(&names, as_of)?;
            let one = |(input, pool): (Input, Pool)| {
                let s = score_one(&models, &input, pool, as_of)?;
                Ok((input.id, input.version, s))
            };
            // A large group (or the members kept across a model swap) on every core.
            let scores = if spread && inputs.len() > 64 {
                use rayon::prelude::*;
                inputs
                    .into_par_iter()
                    .zip(pools)
                    .map(one)
                    .collect::<Result<Vec<_>, StateError>>()?
            } else {
                inputs
                    .into_iter()
                    .zip(pools)
                    .map(one)
                    .collect::<Result<Vec<_>, StateError>>()?
            };
            ids = self.install(generation, scores)?;
        }
        Ok(())
    }

    /// Swaps `models` in (through `swap`) under the overlay's lock and drops what the new
    /// snapshot holds: with `folded`, the events up to that sequence are in its history (those of
    /// members still not in it excepted), and an entry nothing touched since is dropped. Returns
    /// the members whose entries stay, to score again against the new snapshot.
    pub fn swap(
        &self,
        models: &Models,
        folded: Option<u64>,
        swap: impl FnOnce() -> Result<(), StateError>,
    ) -> Result<Vec<String>, StateError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        swap()?;
        inner.generation += 1;
        let s = folded.unwrap_or(inner.folded).max(inner.folded);
        inner.folded = s;
        let h = &models.history;
        inner.entries.retain(|id, e| {
            let known = h.members.index_of(id).is_some();
            e.events.retain(|(q, _)| *q > s || !known);
            if known {
                e.signup = None;
            }
            !e.events.is_empty() || e.touched > s || (!known && e.signup.is_some())
        });
        // A refresh's snapshot scores everyone as of after the events it folded: a mark from
        // before stays only on a member whose live entry stays.
        if folded.is_some() {
            let Inner { entries, dirty, .. } = &mut *inner;
            dirty.retain(|id, q| *q > s || entries.contains_key(id));
        }
        Ok(inner.entries.keys().cloned().collect())
    }
}

/// Member `input`'s score against `models` as of `as_of`; `None` when the member cannot be
/// scored (not signed up, or joined at or after `as_of`).
fn score_one(
    models: &Models,
    input: &Input,
    pool: Pool,
    as_of: i64,
) -> Result<Option<LiveScore>, StateError> {
    let h = &models.history;
    let known = h.members.index_of(&input.id);
    let (mut one, recruitment, keys, standing, seg, channel) = match known {
        Some(m) => (
            member_history(h, &models.base.index, m),
            models.base.recruitment.row(m as usize).to_vec(),
            OwnedKeys::of(&member_keys(h, m)),
            models.standing(m),
            models.base.position(m),
            h.keys.name(h.members.channel[m as usize]).to_string(),
        ),
        None => {
            let Some(row) = input.signup.as_deref() else {
                return Ok(None);
            };
            let Some(signup) = input.events.iter().find_map(super::Candidate::of_signup) else {
                return Ok(None);
            };
            let keys = OwnedKeys {
                member: signup.member_id.clone(),
                device: signup.device_id.clone(),
                phone_hash: signup.phone_hash.clone(),
                ip: signup.ip.clone(),
            };
            let channel = signup.channel.clone().filter(|c| !c.is_empty());
            let channel = channel.unwrap_or_else(|| super::super::events::UNKNOWN_CHANNEL.into());
            (History::default(), row.clone(), keys, None, None, channel)
        }
    };
    fold(&mut one, &input.events);
    if one.members.len() != 1 || one.members.joined_at[0] >= as_of {
        return Ok(None);
    }
    let ix = MemberIndex::build(&one);
    let mw = member::FEATURES.len();
    let mut row = recruitment;
    let start = row.len();
    row.resize(start + mw, f64::NAN);
    member::member_row(&one, &ix, 0, as_of, &mut row[start..]);
    debug_assert_eq!(pool.values.len(), POOL_FEATURES.len());
    row.extend_from_slice(&pool.values);
    let judge = Judge {
        rules: &models.rules,
        gangs: Some(&*crate::scoring::gang::DEFAULT_POLICY),
        ..Judge::model_only()
    };
    let facts = || member_facts(h, seg.map(|i| (&models.base.segmentation, i)), &channel);
    let group = pool.group.as_ref().map(|(f, g)| (f.as_str(), g));
    let judged = |a: &Artefact| -> Result<(Scored, Outcome), StateError> {
        let row = &row[..a.features.len().min(row.len())];
        let scored = a.score_row(row, 3).map_err(StateError::Score)?;
        let mut outcome = judge.rules_for(On::of(a.moment), &scored, facts, row);
        outcome.gang = judge.gang(group, as_of);
        Ok((scored, outcome))
    };
    let member = judged(&models.member)?;
    let challenger = match &models.challenger {
        Some(c) if c.slot == super::challenger::ModelSlot::Member => Some(judged(&c.artefact)?),
        _ => None,
    };
    Ok(Some(LiveScore {
        version: input.version,
        as_of,
        member,
        challenger,
        keys,
        standing,
    }))
}

/// The pool features and group of `members` in `state` at `t`, read in one pass.
pub fn pools(state: &recruit::RecruitState, members: &[String], t: i64) -> Vec<Pool> {
    members
        .iter()
        .map(|id| {
            let mut values = vec![f64::NAN; POOL_FEATURES.len()];
            let sym = state.keys.get(id);
            let group = sym.and_then(|m| {
                state.pool(m, t, &mut values);
                let (_, g) = state.group_of(m).filter(|(_, g)| g.size > 1)?;
                Some((state.first_member(g).unwrap_or_default().to_string(), *g))
            });
            Pool { values, group }
        })
        .collect()
}
