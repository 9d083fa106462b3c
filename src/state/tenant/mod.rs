//! One brand's scorer: its snapshot (history, models and every member's score and standing,
//! swapped atomically as one), its online sign-up state, the events acknowledged since the
//! snapshot, and its allow / deny lists. Everything here is plain Rust the HTTP handlers
//! call; nothing here knows about HTTP.

use std::sync::{Arc, Mutex, RwLock};

mod audience;
mod benefit;
mod candidate;
pub mod challenger;
mod gangs;
pub mod live;
mod live_drift;
mod tail;
pub use tail::{CaughtUp, StateStatus};

pub use audience::{Audience, AudienceSummary, Dropped};
pub use benefit::{BenefitAnswer, BenefitCheck};
pub use candidate::Candidate;
pub use gangs::{GangDetail, GangQuery};
use serde::Serialize;

use super::events::{fold, Event, Folded};
use super::export::{write_folded, ExportError, Exported};
pub use super::snapshot::Models;
use super::store::{Appended, EventStore};
use super::StateError;
use crate::data::history::NONE;
use crate::data::plausible::{self, TimeWindow};
use crate::features::recruit::{self, Group, RecruitState, Signup, FEATURES};
use crate::model::artefact::{Artefact, Scored};
use crate::scoring::members::member_keys;
use crate::scoring::rules::RulesFile;
use crate::scoring::rules::{channel_code, On};
pub use crate::scoring::{
    drop_reason, AudiencePolicy, DropLevel, Judge, ListKey, ListKeys, ListKind, Lists, Outcome,
    RuleSet, Standing, Verdict,
};
use challenger::Challenger;
use live_drift::LiveDrift;

/// A group with the member id of its first account.
type Named = (String, Group);

pub struct Tenant {
    pub name: String,
    /// Where acknowledged events live; `None` serves without ingestion.
    store: Option<Box<dyn EventStore>>,
    models: RwLock<Arc<Models>>,
    /// Acknowledged events not yet in the snapshot's history, in acknowledgement order.
    pending: Mutex<Vec<Event>>,
    /// Pending events that were waiting for their member's sign-up at the last refresh.
    waiting: std::sync::atomic::AtomicUsize,
    /// Held while a new snapshot is built, so that a refresh and a model reload never both
    /// start from the same snapshot and one's swap undoes the other's.
    rebuilding: Mutex<()>,
    /// Read side by side by candidates that are not recorded; written by recorded sign-ups and
    /// events.
    online: RwLock<RecruitState>,
    lists: RwLock<Lists>,
    remedy: Option<String>,
    /// A second model beside one of the two, and where its comparisons are logged.
    challenger: RwLock<Option<Arc<Challenger>>>,
    shadow_log: Option<std::path::PathBuf>,
    /// Where `export` writes (`<state>/<tenant>/exports`); `None` without a state folder.
    exports: Option<std::path::PathBuf>,
    /// Where a rebuilt snapshot is kept and read back in place; `None`: it stays on the heap.
    serving_image: Option<std::path::PathBuf>,
    /// The live sign-up traffic counted under the sign-up model's training bins.
    drift: Mutex<LiveDrift>,
    /// The store's log position applied up to, and the lists' and rules' versions seen; held
    /// while events are applied, so that they reach the online state in log order.
    applied: Mutex<tail::Applied>,
    /// The members events touched since the snapshot, scored live.
    live: live::Live,
}

fn poisoned() -> StateError {
    StateError::Poisoned
}

impl Tenant {
    /// A tenant serving its snapshot's history, the online state rebuilt from it.
    pub fn new(name: &str, models: Models, remedy: Option<String>) -> Self {
        Self::starting(name, models, None, remedy)
    }

    /// [`Tenant::new`] with the online state where scoring already swept it
    /// ([`Models::load_to_start`]); without, a sweep of its own.
    pub fn starting(
        name: &str,
        models: Models,
        online: Option<RecruitState>,
        remedy: Option<String>,
    ) -> Self {
        let online = match online {
            Some(state) => state,
            None => recruit::build(&models.history, models.signup.config.merge.caps()).1,
        };
        Tenant {
            name: name.to_string(),
            store: None,
            pending: Mutex::new(Vec::new()),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            rebuilding: Mutex::new(()),
            models: RwLock::new(Arc::new(models)),
            online: RwLock::new(online),
            lists: RwLock::new(Lists::default()),
            remedy,
            challenger: RwLock::new(None),
            shadow_log: None,
            exports: None,
            serving_image: None,
            drift: Mutex::new(LiveDrift::default()),
            applied: Mutex::new(tail::Applied::default()),
            live: live::Live::default(),
        }
    }

    pub fn snapshot(&self) -> Result<Arc<Models>, StateError> {
        self.models
            .read()
            .map(|m| m.clone())
            .map_err(|_| poisoned())
    }

    /// Builds a new snapshot from the current one and swaps it in one step; requests in flight
    /// finish on the snapshot they hold. One rebuild runs at a time.
    pub fn rebuild(
        &self,
        make: impl FnOnce(&Models) -> Result<Models, StateError>,
    ) -> Result<Arc<Models>, StateError> {
        self.rebuild_folding(make, None)
    }

    /// [`Self::rebuild`]; with `folded`, for a snapshot whose history holds the events
    /// acknowledged up to that sequence (a refresh): the live entries it now holds are dropped in
    /// the same step as the swap.
    fn rebuild_folding(
        &self,
        make: impl FnOnce(&Models) -> Result<Models, StateError>,
        folded: Option<u64>,
    ) -> Result<Arc<Models>, StateError> {
        let _one = self.rebuilding.lock().map_err(|_| poisoned())?;
        let mut new = make(&*self.snapshot()?)?;
        if let Some(file) = &self.serving_image {
            new = new.kept_in(file);
        }
        let new = Arc::new(new);
        let mut old = None;
        let stay = self.live.swap(&new, folded, || {
            let mut current = self.models.write().map_err(|_| poisoned())?;
            old = Some(std::mem::replace(&mut *current, new.clone()));
            Ok(())
        })?;
        // Dropped outside the locks (the last request holding it may drop it later).
        drop(old);
        if self.serving_image.is_some() {
            crate::data::column::release_free_heap();
        }
        // A refresh keeps the models and rules: a live score computed against the old snapshot
        // already reflects every event of its member, and stays until the member's next touch.
        // Other swaps change what scores and decides: the members touched since are marked
        // stale, for the rescorer (a read of one rescores it first).
        if folded.is_some() {
            return Ok(new);
        }
        self.live.mark_stale(stay, self.live.last_seq())?;
        Ok(new)
    }

    /// Scores `ids` again live, after event `seq` touched them (`spread`: on every core).
    fn rescore(&self, ids: Vec<String>, seq: u64, spread: bool) -> Result<(), StateError> {
        let current = || self.snapshot();
        let pools = |ids: &[String], t: i64| -> Result<Vec<live::Pool>, StateError> {
            let st = self.online.read().map_err(|_| poisoned())?;
            Ok(live::pools(&st, ids, t))
        };
        self.live.rescore(ids, seq, spread, &current, &pools)
    }

    /// Folds the events acknowledged since the snapshot into its history and rescores every
    /// member as of the new end, so member scores, audiences and standing see them. Events of
    /// members who have not signed up yet stay pending. On failure nothing is lost: the events
    /// go back to pending.
    pub fn refresh(&self) -> Result<Refreshed, StateError> {
        let started = std::time::Instant::now();
        // Sequences are taken under the pending lock: every event up to `folded` is taken here.
        let (events, folded) = {
            let mut pending = self.pending.lock().map_err(|_| poisoned())?;
            (std::mem::take(&mut *pending), self.live.last_seq())
        };
        let mut outcome = (Folded::default(), Vec::new());
        let result = self.rebuild_folding(
            |old| {
                let mut history = (*old.history).clone();
                outcome = fold(&mut history, &events);
                old.rebuild(Arc::new(history))
            },
            Some(folded),
        );
        let n = events.len();
        let (folded, waiting) = outcome;
        // Back ahead of anything acknowledged meanwhile: the events of members not signed up
        // yet, or, when the new snapshot failed, every event taken.
        let back = if result.is_ok() { waiting } else { events };
        self.waiting
            .store(back.len(), std::sync::atomic::Ordering::Relaxed);
        self.pending
            .lock()
            .map_err(|_| poisoned())?
            .splice(0..0, back);
        let models = match result {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(tenant = %self.name, reason = %e, "refresh failed; the events stay pending");
                return Err(e);
            }
        };
        tracing::info!(
            tenant = %self.name,
            events = n,
            applied = folded.applied,
            already_there = folded.already_there,
            waiting = folded.waiting,
            skipped = folded.skipped,
            members = models.history.members.len(),
            scores_as_of = models.as_of,
            seconds = started.elapsed().as_secs_f64(),
            "refreshed"
        );
        Ok(Refreshed {
            events: n,
            folded,
            members: models.history.members.len(),
            scores_as_of: models.as_of,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Writes the tenant's history with every acknowledged event folded in — the snapshot's
    /// history and the events pending since — as a contract folder `exports/<name>` of its state
    /// folder, while it keeps serving (the fold a refresh would do, on a copy).
    pub fn export(&self, name: &str, replace: bool) -> Result<Exported, StateError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(StateError::InvalidField {
                field: "name",
                why: format!("{name:?}: 1 to 64 letters, digits, '-' or '_'"),
            });
        }
        let dir = self.exports.as_ref().ok_or(StateError::NoEventStore)?;
        let history = (*self.snapshot()?.history).clone();
        let events = self.pending.lock().map_err(|_| poisoned())?.clone();
        write_folded(&self.name, history, &events, &dir.join(name), replace).map_err(|e| match e {
            ExportError::Exists(_) => StateError::ExportExists(name.to_string()),
            e => StateError::Export(Box::new(e)),
        })
    }

    /// How many acknowledged events the snapshot does not hold yet.
    pub fn pending(&self) -> Result<usize, StateError> {
        Ok(self.pending.lock().map_err(|_| poisoned())?.len())
    }

    /// Whether events arrived since the last refresh (not counting those still waiting for
    /// their member's sign-up, which only a new sign-up can settle).
    pub fn has_new_events(&self) -> Result<bool, StateError> {
        Ok(self.pending()? > self.waiting.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Decides under the tenant's lists and remedy as they stand and the snapshot's rules.
    fn decide(
        &self,
        models: &Models,
        a: &Artefact,
        scored: Scored,
        keys: &ListKeys<'_>,
        outcome: &Outcome,
    ) -> Result<Verdict, StateError> {
        let lists = self.lists.read().map_err(|_| poisoned())?;
        Ok(self.judge(&lists, models).decide(a, scored, keys, outcome))
    }

    fn judge<'a>(&'a self, lists: &'a Lists, models: &'a Models) -> Judge<'a> {
        Judge {
            lists,
            rules: &models.rules,
            remedy: self.remedy.as_deref(),
            gangs: Some(&*crate::scoring::gang::DEFAULT_POLICY),
        }
    }

    /// Scores a candidate against the online state as of its `joined_at`, and records it when
    /// asked to (so the next candidate on the same device sees it).
    pub fn score_candidate(&self, c: &Candidate) -> Result<Verdict, StateError> {
        c.check(&TimeWindow::live())?;
        if c.record && c.member_id.as_deref().is_none_or(str::is_empty) {
            return Err(StateError::MissingField(
                "member_id is required when record is true",
            ));
        }
        if let Some(id) = &c.member_id {
            if c.record && self.snapshot()?.history.members.index_of(id).is_some() {
                return Err(StateError::MemberExists(id.clone()));
            }
        }
        let models = self.snapshot()?;
        let a = &models.signup;
        let (row, group) = match (&self.store, c.record) {
            // With a store, a recorded sign-up is an event like any other: scored first, then
            // stored durably and applied, so it survives a restart (and a retry is not counted
            // twice: its id is the member's).
            (Some(_), true) => {
                let scored = self.features_and_group(&Candidate {
                    record: false,
                    ..c.clone()
                })?;
                self.ingest(&[c.signup_event()])?;
                scored
            }
            _ => self.features_and_group(c)?,
        };
        let keys = ListKeys {
            member: c.member_id.as_deref(),
            device: c.device_id.as_deref(),
            phone_hash: c.phone_hash.as_deref(),
            ip: c.ip.as_deref(),
        };
        let facts = || crate::expr::select::Facts {
            channel: channel_code(c.channel.as_deref().unwrap_or_default()),
            campaign: crate::data::history::NONE,
            ..Default::default()
        };
        let lists = self.lists.read().map_err(|_| poisoned())?;
        let judge = self.judge(&lists, &models);
        let joined_at = c.joined_at.unwrap_or_else(plausible::now);
        let verdict_of = |a: &Artefact| -> Result<Verdict, StateError> {
            let scored = a
                .score_row(&row[..a.features.len().min(row.len())], 3)
                .map_err(StateError::Score)?;
            let mut outcome = judge.rules_for(On::Signup, &scored, facts, &row);
            outcome.gang = judge.gang(group.as_ref().map(|(f, g)| (f.as_str(), g)), joined_at);
            outcome.gang_on_signup = judge.gangs.map(|p| p.on_signup);
            Ok(judge.decide(a, scored, &keys, &outcome))
        };
        let live = verdict_of(a)?;
        if let Ok(mut d) = self.drift.lock() {
            d.add(
                a,
                &row,
                c.channel.as_deref(),
                c.campaign_id.as_deref(),
                live.probability,
            );
        }
        match self.challenger_of(&models, challenger::ModelSlot::Signup)? {
            Some((ch, ca)) => Ok(ch.settle(c.member_id.as_deref(), live, verdict_of(ca)?)),
            None => Ok(live),
        }
    }

    /// The candidate's sign-up features from the online state as of its `joined_at` (the same
    /// `RecruitState` code the offline sweep runs), recording the sign-up when asked to.
    pub fn candidate_features(&self, c: &Candidate) -> Result<Vec<f64>, StateError> {
        self.features_and_group(c).map(|(row, _)| row)
    }

    /// [`Self::candidate_features`], and the group the candidate would join (with the member id
    /// of its first account; `None`: none).
    fn features_and_group(&self, c: &Candidate) -> Result<(Vec<f64>, Option<Named>), StateError> {
        let mut row = vec![f64::NAN; FEATURES.len()];
        let joined_at = c.joined_at.unwrap_or_else(plausible::now);
        if !c.record {
            // A read: candidates that are not recorded share the state and intern nothing.
            let st = self.online.read().map_err(|_| poisoned())?;
            let keys = recruit::CandidateKeys {
                member: c.member_id.as_deref(),
                campaign: c.campaign_id.as_deref(),
                inviter: c.inviter_id.as_deref(),
                device: c.device_id.as_deref(),
                ip: c.ip.as_deref(),
                phone_prefix: c.phone_prefix.as_deref(),
                phone_hash: c.phone_hash.as_deref(),
            };
            let (g, first) = st.peek(&keys, joined_at, &mut row);
            return Ok((row, first.map(|f| (f.to_string(), g))));
        }
        let mut st = self.online.write().map_err(|_| poisoned())?;
        let mut sym = |v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map_or(NONE, |s| st.keys.intern(s))
        };
        let s = Signup {
            member: sym(&c.member_id),
            joined_at,
            campaign: sym(&c.campaign_id),
            inviter: sym(&c.inviter_id),
            device: sym(&c.device_id),
            ip: sym(&c.ip),
            phone_prefix: sym(&c.phone_prefix),
            phone_hash: sym(&c.phone_hash),
        };
        let (g, first) = st.features_and_group(&s, &mut row);
        let group = first.map(|f| (f.to_string(), g));
        st.record(&s);
        Ok((row, group))
    }

    /// Attaches a durable event store and applies every event it holds, in log order, on top of
    /// the state built from the history.
    ///
    /// The events are pending afterwards (the next [`Tenant::refresh`] folds them into the
    /// snapshot) and the members they touch are scored live, as when they arrive.
    pub fn with_store(self, store: Box<dyn EventStore>) -> Result<Self, StateError> {
        self.with_store_at(store, 0, Vec::new())
    }

    /// [`Tenant::with_store`] for a snapshot's history: only the log after `position` is
    /// applied; `waiting` (events the snapshot kept beside its history, waiting for their
    /// member's sign-up) are queued first.
    pub fn with_store_at(
        mut self,
        store: Box<dyn EventStore>,
        position: u64,
        waiting: Vec<Event>,
    ) -> Result<Self, StateError> {
        let lists = {
            let _tenant = tracing::info_span!("tenant", tenant = %self.name).entered();
            store.stored_lists()?
        };
        *self.lists.get_mut().map_err(|_| poisoned())? = lists;
        let versions = store.versions()?;
        // The waiting events join the live overlay too, which scores them once their member
        // signs up.
        let current = || self.snapshot();
        for e in &waiting {
            self.live.note(e, 0, &current)?;
        }
        self.pending
            .get_mut()
            .map_err(|_| poisoned())?
            .extend(waiting);
        let logged = store.read_all_after(position)?;
        self.take(&logged, true)?;
        let applied = self.applied.get_mut().map_err(|_| poisoned())?;
        applied.seq = logged.last().map_or(position, |l| l.seq);
        applied.versions = versions;
        self.store = Some(store);
        Ok(self)
    }

    /// Checks a batch, stores it durably, then applies the new events to the online state, in
    /// log order (with events other replicas stored before them first). Nothing is acknowledged
    /// (nor applied) unless the whole batch was stored.
    pub fn ingest(&self, events: &[Event]) -> Result<Appended, StateError> {
        let window = TimeWindow::live();
        for (i, e) in events.iter().enumerate() {
            e.check(i, &window)?;
        }
        let store = self.store.as_ref().ok_or(StateError::NoEventStore)?;
        let (mut appended, fresh) = store.append(events)?;
        appended.position = fresh.last().map_or(0, |l| l.seq);
        self.settle(store.as_ref(), &fresh)?;
        Ok(appended)
    }

    /// What acknowledged event `seq` changes at once: it is noted in the live overlay, and the
    /// online state takes it (a sign-up is recorded unless the member is already in the
    /// history, a review reaches the group and inviter records, a coupon or an order what the
    /// member's group, keys and invite tree have done). Returns the members whose live score it
    /// changes: its member, and where its group's stats changed, that group's members (up to
    /// [`live::GROUP_RESCORE_LIMIT`]). The one entry point for an acknowledged event: `take`
    /// queues it as pending, calls this in log order and scores the members touched again.
    fn note_and_apply(&self, e: &Event, seq: u64) -> Result<Vec<String>, StateError> {
        let current = || self.snapshot();
        self.live.note(e, seq, &current)?;
        self.apply_online(e)
    }

    /// The online state's part of [`Self::note_and_apply`]; returns the members whose score it changes.
    fn apply_online(&self, e: &Event) -> Result<Vec<String>, StateError> {
        let limit = live::GROUP_RESCORE_LIMIT;
        let group_of = |st: &RecruitState, m| -> Vec<String> {
            st.group_members(m, limit)
                .into_iter()
                .map(|s| st.keys.name(s).to_string())
                .collect()
        };
        match e {
            Event::Signup { member_id, .. } => {
                if self
                    .snapshot()?
                    .history
                    .members
                    .index_of(member_id)
                    .is_some()
                {
                    return Ok(Vec::new());
                }
                let Some(c) = Candidate::of_signup(e) else {
                    return Ok(Vec::new());
                };
                let row = self.candidate_features(&c)?;
                self.live.signed_up(member_id, row)?;
                let st = self.online.read().map_err(|_| poisoned())?;
                Ok(match st.keys.get(member_id) {
                    Some(m) => group_of(&st, m),
                    None => vec![member_id.clone()],
                })
            }
            Event::Label {
                member_id, label, ..
            } => {
                let mut st = self.online.write().map_err(|_| poisoned())?;
                let m = st.keys.intern(member_id);
                st.record_label(m, *label);
                Ok(group_of(&st, m))
            }
            Event::Coupon { member_id, .. } | Event::Order { member_id, .. } => {
                let mut st = self.online.write().map_err(|_| poisoned())?;
                let m = st.keys.get(member_id);
                if let (Some((at, deed)), Some(m)) = (e.deed(), m) {
                    let before = st.group_of(m).map(|(_, g)| *g);
                    st.record_deed(m, at, deed);
                    let after = st.group_of(m).map(|(_, g)| *g);
                    if before != after && after.is_some_and(|g| g.size > 1) {
                        return Ok(group_of(&st, m));
                    }
                }
                Ok(vec![member_id.clone()])
            }
            Event::Points { member_id, .. } => Ok(vec![member_id.clone()]),
            Event::Hold { .. } => Ok(Vec::new()),
        }
    }

    /// Adds (`present`) or removes a list entry, its value checked and normalised first; with a
    /// store, durably before it takes effect. Returns the value as stored and whether the list
    /// changed.
    pub fn change_list(
        &self,
        kind: ListKind,
        key: ListKey,
        value: &str,
        present: bool,
    ) -> Result<(String, bool), StateError> {
        let raw = value;
        let value = &key.normalise(raw)?;
        let mut lists = self.lists.write().map_err(|_| poisoned())?;
        if let Some(store) = &self.store {
            let entry = |v: &str| format!("{}/{}/{v}", kind.name(), key.name());
            store.set_list_entry(&entry(value), present)?;
            // A removal also removes the entry as stored before values were normalised.
            if !present && raw != value {
                store.set_list_entry(&entry(raw), false)?;
            }
        }
        let changed = if present {
            lists.put(kind, key, value)
        } else {
            lists.delete(kind, key, value)
        };
        Ok((value.clone(), changed))
    }

    /// Checks a rule set, builds the snapshot that decides under it, stores the set durably (with
    /// a store) and swaps the snapshot in: a request sees the old rules or the new, never a mix.
    pub fn set_rules(&self, file: RulesFile) -> Result<Arc<Models>, StateError> {
        let rules = Arc::new(RuleSet::check(
            file,
            &crate::members::tier::TierRules::default().names,
        )?);
        self.rebuild(|old| {
            let new = old.rebuild_with(old.history.clone(), rules.clone())?;
            if let Some(store) = &self.store {
                store.store_rules(&rules)?;
            }
            Ok(new)
        })
    }

    /// The values of one list, sorted.
    pub fn list_values(&self, kind: ListKind, key: ListKey) -> Result<Vec<String>, StateError> {
        Ok(self.lists.read().map_err(|_| poisoned())?.get(kind, key))
    }

    /// Whether an event id has been stored.
    pub fn has_event(&self, id: &str) -> Result<bool, StateError> {
        match &self.store {
            Some(s) => Ok(s.contains(id)?),
            None => Ok(false),
        }
    }

    /// A member's member-time score, lists applied: live where an event touched it since the
    /// snapshot (as of the newest acknowledged moment then), else the snapshot's (as of the
    /// history's end).
    pub fn score_member(&self, models: &Models, id: &str) -> Result<Verdict, StateError> {
        self.freshen(id)?;
        if let Some(ls) = self.live.score_of(id)? {
            let keys = ls.keys.keys();
            let (scored, outcome) = ls.member.clone();
            let mut v = self.decide(models, &models.member, scored, &keys, &outcome)?;
            if let Some((ch, ca)) = self.challenger_of(models, challenger::ModelSlot::Member)? {
                if let Some((scored, outcome)) = &ls.challenger {
                    let other = self.decide(models, ca, scored.clone(), &keys, outcome)?;
                    v = ch.settle(Some(id), v, other);
                }
            }
            // Standing as of the newest snapshot that holds the member.
            v.standing = match models.history.members.index_of(id) {
                Some(m) => models.standing(m),
                None => ls.standing.clone(),
            };
            return Ok(v);
        }
        let m = models
            .history
            .members
            .index_of(id)
            .ok_or_else(|| StateError::UnknownMember(id.to_string()))?;
        let scored = models
            .member_score(m)
            .ok_or_else(|| StateError::NotScored(id.to_string()))?;
        let keys = member_keys(&models.history, m);
        let (scored, outcome) = scored;
        let mut v = self.decide(models, &models.member, scored, &keys, &outcome)?;
        if let Some((ch, ca)) = self.challenger_of(models, challenger::ModelSlot::Member)? {
            let theirs = models
                .challenger
                .as_ref()
                .and_then(|c| c.scores.get(&c.artefact, m as usize));
            if let Some((scored, outcome)) = theirs {
                let other = self.decide(models, ca, scored, &keys, &outcome)?;
                v = ch.settle(Some(id), v, other);
            }
        }
        v.standing = models.standing(m);
        Ok(v)
    }
}

impl Tenant {
    /// The moment member `id`'s score is as of: its live score's, else the snapshot's.
    pub fn member_as_of(&self, models: &Models, id: &str) -> Result<i64, StateError> {
        self.freshen(id)?;
        Ok(self.live.score_of(id)?.map_or(models.as_of, |ls| ls.as_of))
    }

    /// Members scored live (touched by an event since the snapshot).
    pub fn live_members(&self) -> Result<usize, StateError> {
        self.live.members()
    }

    /// Group mates waiting for the rescorer (each is rescored first if read before).
    pub fn stale_members(&self) -> Result<usize, StateError> {
        self.live.stale_members()
    }
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Refreshed {
    /// Pending events taken.
    pub events: usize,
    pub folded: Folded,
    /// Members in the new snapshot.
    pub members: usize,
    /// UTC seconds: the member scores are as of this moment.
    pub scores_as_of: i64,
    pub seconds: f64,
}
