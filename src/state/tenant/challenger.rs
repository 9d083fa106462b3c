//! A second model beside the live one: in shadow it scores every request of its slot and never
//! decides; in a rollout it decides for a stable share of members, chosen by a hash of the member
//! id, moved through configured steps (and back). Both answers of every request are kept in a
//! bounded log (in memory, and in `<state>/<tenant>/shadow.jsonl` with a state folder) that
//! `woolguard compare --shadow-log` reads.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::Models;
use crate::model::artefact::{Artefact, Decision};
use crate::model::drift::Drift;
use crate::model::slot::{self, SmokeBand};
use crate::scoring::Verdict;
use crate::state::StateError;

/// Which model a challenger stands beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelSlot {
    /// The sign-up model (`POST /v1/candidates/score`).
    Signup,
    /// The member model (`POST /v1/members/score`, `POST /v1/benefits/check`).
    Member,
}

impl ModelSlot {
    pub fn name(self) -> &'static str {
        match self {
            ModelSlot::Signup => "signup",
            ModelSlot::Member => "member",
        }
    }
}

fn default_steps() -> Vec<f64> {
    vec![0.0, 1.0, 5.0, 25.0, 50.0, 100.0]
}

fn default_log_entries() -> usize {
    100_000
}

/// A challenger as configured (`[tenants.challenger]`) or set by `PUT /v1/models/challenger`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengerConfig {
    pub slot: ModelSlot,
    #[schema(value_type = String)]
    pub model: PathBuf,
    /// The rollout's steps: the percent of members the challenger decides for at each; 0 is
    /// shadow (it decides for nobody). Non-decreasing, each in [0, 100].
    #[serde(default = "default_steps")]
    pub steps: Vec<f64>,
    /// The step it starts at (an index into `steps`).
    #[serde(default)]
    pub step: usize,
    /// How many comparisons the log keeps (in memory, and per file generation on disk).
    #[serde(default = "default_log_entries")]
    #[schema(minimum = 1, maximum = 10000000)]
    pub log_entries: usize,
}

impl ChallengerConfig {
    /// Refuses steps and sizes no rollout can use, naming the field.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.steps.is_empty() || self.steps.len() > 100 {
            return Some(("steps", "between 1 and 100 steps are needed".into()));
        }
        if let Some(s) = self
            .steps
            .iter()
            .find(|s| !s.is_finite() || !(0.0..=100.0).contains(*s))
        {
            return Some(("steps", format!("{s} is not a percent in [0, 100]")));
        }
        if self.steps.windows(2).any(|w| w[1] < w[0]) {
            return Some(("steps", "the steps must not go down".into()));
        }
        if self.step >= self.steps.len() {
            return Some((
                "step",
                format!(
                    "{} is past the last step ({})",
                    self.step,
                    self.steps.len() - 1
                ),
            ));
        }
        if !(1..=10_000_000).contains(&self.log_entries) {
            return Some(("log_entries", "must be between 1 and 10,000,000".into()));
        }
        None
    }
}

/// A member's rollout bucket in [0, 10,000): FNV-1a of the member id, so it never changes and a
/// member in a smaller share stays in every larger one.
pub fn bucket(member_id: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in member_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 10_000) as u32
}

/// Whether the challenger decides for this member at `percent` (never without a member id).
pub fn decides(member_id: Option<&str>, percent: f64) -> bool {
    member_id.is_some_and(|id| f64::from(bucket(id)) < percent * 100.0)
}

/// One model's answer, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Answer {
    pub version: String,
    pub probability: f64,
    pub decision: Decision,
    /// The reason codes, strongest first.
    pub reasons: Vec<String>,
}

impl Answer {
    pub fn of(v: &Verdict) -> Answer {
        Answer {
            version: v.model_version.clone(),
            probability: v.probability,
            decision: v.decision,
            reasons: v.reasons.iter().map(|r| r.code.clone()).collect(),
        }
    }
}

/// `live` or `challenger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Live,
    Challenger,
}

/// One request both models answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShadowEntry {
    /// UTC seconds when it was answered.
    pub at: i64,
    pub slot: ModelSlot,
    pub member_id: Option<String>,
    /// Whose answer was given.
    pub decided_by: Role,
    pub live: Answer,
    pub challenger: Answer,
}

/// Where the comparisons go: the newest in memory, and appended to a file (one JSON object a
/// line) that is set aside as `<file>.1` once it holds `cap` lines, so at most two
/// generations are on disk.
struct ShadowLog {
    ring: VecDeque<ShadowEntry>,
    cap: usize,
    file: Option<PathBuf>,
    /// The file, open for appending (opened on the first line, again after a rotation).
    open: Option<std::fs::File>,
    lines: usize,
}

impl ShadowLog {
    fn push(&mut self, e: ShadowEntry) {
        if let Some(path) = self.file.clone() {
            if let Err(err) = self.append(path.clone(), &e) {
                tracing::warn!(file = %path.display(), reason = %err, "shadow log line not written");
            }
        }
        if self.ring.len() == self.cap {
            self.ring.pop_front();
        }
        self.ring.push_back(e);
    }

    fn append(&mut self, path: PathBuf, e: &ShadowEntry) -> std::io::Result<()> {
        if self.lines >= self.cap {
            std::fs::rename(&path, rotated(&path))?;
            self.open = None;
            self.lines = 0;
        }
        let mut line = serde_json::to_vec(e)?;
        line.push(b'\n');
        let file = match &mut self.open {
            Some(f) => f,
            None => self.open.insert(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?,
            ),
        };
        // One write per line: a line is whole in the file or absent.
        file.write_all(&line)?;
        self.lines += 1;
        Ok(())
    }
}

/// The older generation of a shadow log file.
pub fn rotated(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

/// A challenger's rollout position and tallies; lives with the tenant (across refreshes), while
/// the model itself is part of the snapshot.
pub struct Challenger {
    pub config: ChallengerConfig,
    step: AtomicUsize,
    compared: AtomicU64,
    agreed: AtomicU64,
    decided: AtomicU64,
    log: Mutex<ShadowLog>,
}

/// Where a challenger stands, for `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChallengerInfo {
    pub slot: ModelSlot,
    pub version: String,
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub steps: Vec<f64>,
    pub step: usize,
    /// The percent of members it decides for now (0: shadow).
    pub percent: f64,
    /// Requests both models answered since it was set, those where their decisions agreed,
    /// and those the challenger decided.
    pub compared: u64,
    pub agreed: u64,
    pub agreement: Option<f64>,
    pub decided: u64,
    /// The log file (with a state folder).
    #[schema(value_type = Option<String>)]
    pub log: Option<PathBuf>,
}

impl Challenger {
    /// `log_file`: where the comparisons are appended (none without a state folder); an existing
    /// file is continued.
    pub fn new(config: ChallengerConfig, log_file: Option<PathBuf>) -> Challenger {
        let lines = log_file
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        Challenger {
            step: AtomicUsize::new(config.step),
            log: Mutex::new(ShadowLog {
                ring: VecDeque::new(),
                cap: config.log_entries,
                file: log_file,
                open: None,
                lines,
            }),
            config,
            compared: AtomicU64::new(0),
            agreed: AtomicU64::new(0),
            decided: AtomicU64::new(0),
        }
    }

    pub fn step(&self) -> usize {
        self.step.load(Ordering::Relaxed)
    }

    pub fn percent(&self) -> f64 {
        self.config.steps.get(self.step()).copied().unwrap_or(0.0)
    }

    /// Moves one step forward (`true`) or back; `None` past either end.
    pub fn move_step(&self, forward: bool) -> Option<usize> {
        let last = self.config.steps.len().saturating_sub(1);
        self.step
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                if forward {
                    (s < last).then_some(s + 1)
                } else {
                    s.checked_sub(1)
                }
            })
            .ok()
            .map(|old| if forward { old + 1 } else { old - 1 })
    }

    /// Both verdicts of one request → the one given, the comparison logged and counted.
    pub fn settle(&self, member_id: Option<&str>, live: Verdict, challenger: Verdict) -> Verdict {
        let by_challenger = decides(member_id, self.percent());
        self.compared.fetch_add(1, Ordering::Relaxed);
        if live.decision == challenger.decision {
            self.agreed.fetch_add(1, Ordering::Relaxed);
        }
        if by_challenger {
            self.decided.fetch_add(1, Ordering::Relaxed);
        }
        let entry = ShadowEntry {
            at: crate::data::plausible::now(),
            slot: self.config.slot,
            member_id: member_id.map(str::to_string),
            decided_by: if by_challenger {
                Role::Challenger
            } else {
                Role::Live
            },
            live: Answer::of(&live),
            challenger: Answer::of(&challenger),
        };
        if let Ok(mut log) = self.log.lock() {
            log.push(entry);
        }
        if by_challenger {
            challenger
        } else {
            live
        }
    }

    /// The newest `limit` comparisons, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<ShadowEntry> {
        self.log.lock().map_or_else(
            |_| Vec::new(),
            |log| {
                let skip = log.ring.len().saturating_sub(limit);
                log.ring.iter().skip(skip).cloned().collect()
            },
        )
    }

    pub fn info(&self, version: &str) -> ChallengerInfo {
        let compared = self.compared.load(Ordering::Relaxed);
        let agreed = self.agreed.load(Ordering::Relaxed);
        ChallengerInfo {
            slot: self.config.slot,
            version: version.to_string(),
            path: self.config.model.clone(),
            steps: self.config.steps.clone(),
            step: self.step(),
            percent: self.percent(),
            compared,
            agreed,
            agreement: (compared > 0).then(|| agreed as f64 / compared as f64),
            decided: self.decided.load(Ordering::Relaxed),
            log: self.log.lock().ok().and_then(|l| l.file.clone()),
        }
    }
}

impl super::Tenant {
    /// Logs comparisons to the tenant's state folder's `shadow.jsonl` and writes exports under
    /// its `exports/`.
    pub fn with_state_dir(mut self, dir: &crate::state::dir::StateDir) -> Self {
        self.shadow_log = Some(dir.shadow_log.clone());
        self.exports = Some(dir.exports.clone());
        self.serving_image = Some(dir.serving_image.clone());
        self
    }

    /// The challenger as it stands, if one is set.
    pub fn challenger(&self) -> Result<Option<Arc<Challenger>>, StateError> {
        Ok(self
            .challenger
            .read()
            .map_err(|_| StateError::Poisoned)?
            .clone())
    }

    /// The challenger and its model for `slot` in `models`, if one is set there.
    pub(super) fn challenger_of<'m>(
        &self,
        models: &'m Models,
        slot: ModelSlot,
    ) -> Result<Option<(Arc<Challenger>, &'m Artefact)>, StateError> {
        let Some(model) = models.challenger.as_ref().filter(|c| c.slot == slot) else {
            return Ok(None);
        };
        Ok(self.challenger()?.map(|c| (c, &model.artefact)))
    }

    /// Sets a challenger: its model checked for the slot (and, unless `force`, its decisions on
    /// the tenant's members kept inside `band`), the snapshot rebuilt with it, its tallies and log
    /// started. A refused model changes nothing.
    pub fn set_challenger(
        &self,
        config: ChallengerConfig,
        force: bool,
        band: &SmokeBand,
    ) -> Result<Arc<Models>, StateError> {
        if let Some((field, why)) = config.problem() {
            return Err(StateError::InvalidField { field, why });
        }
        if !config.model.is_file() {
            return Err(StateError::UnknownModel(config.model.clone()));
        }
        let artefact =
            Artefact::load(&config.model).map_err(|e| StateError::ModelRefused(Box::new(e)))?;
        let spec = (config.slot, artefact, config.model.clone());
        let models = self.rebuild(|old| {
            let new = old.with_challenger(Some(spec))?;
            if !force {
                smoke_challenger(&new, band)?;
            }
            Ok(new)
        })?;
        let log = self.shadow_log.clone();
        *self.challenger.write().map_err(|_| StateError::Poisoned)? =
            Some(Arc::new(Challenger::new(config, log)));
        Ok(models)
    }

    /// Removes the challenger; the live models go on alone.
    pub fn stop_challenger(&self) -> Result<Arc<Models>, StateError> {
        let models = self.rebuild(|old| old.with_challenger(None))?;
        *self.challenger.write().map_err(|_| StateError::Poisoned)? = None;
        Ok(models)
    }

    /// Moves the rollout one step forward or back; the new step.
    pub fn move_challenger(&self, forward: bool) -> Result<usize, StateError> {
        let c = self.challenger()?.ok_or(StateError::NoChallenger)?;
        c.move_step(forward)
            .ok_or_else(|| StateError::InvalidField {
                field: "direction",
                why: format!(
                    "already at the {} step ({}%)",
                    if forward { "last" } else { "first" },
                    c.percent()
                ),
            })
    }

    /// The live sign-up traffic against the sign-up model's training population.
    pub fn live_drift(&self, threshold: f64) -> Result<Option<Drift>, StateError> {
        let models = self.snapshot()?;
        let d = self.drift.lock().map_err(|_| StateError::Poisoned)?;
        Ok(d.report(&models.signup, threshold))
    }
}

/// A member challenger's decisions on the tenant's members inside the band.
fn smoke_challenger(m: &Models, band: &SmokeBand) -> Result<(), StateError> {
    match &m.challenger {
        Some(c) if c.slot == ModelSlot::Member => {
            let decisions = c.scores.decisions();
            slot::smoke(decisions, band, &c.path.display().to_string())
                .map_err(|e| StateError::ModelRefused(Box::new(e)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_shares_nest() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; mod 10,000 by hand.
        assert_eq!(bucket("a"), (0xaf63_dc4c_8601_ec8c_u64 % 10_000) as u32);
        assert_eq!(bucket("member-42"), bucket("member-42"));
        let ids: Vec<String> = (0..100_000).map(|i| format!("m{i}")).collect();
        let share = |p: f64| ids.iter().filter(|id| decides(Some(id), p)).count();
        for (p, want) in [(1.0, 1_000), (5.0, 5_000), (25.0, 25_000), (50.0, 50_000)] {
            let got = share(p);
            assert!(got.abs_diff(want) < want / 10 + 100, "{p}%: {got}");
        }
        assert_eq!(share(0.0), 0);
        assert_eq!(share(100.0), 100_000);
        // A member in the 5% stays in the 25%.
        assert!(ids
            .iter()
            .filter(|id| decides(Some(id), 5.0))
            .all(|id| decides(Some(id), 25.0)));
        assert!(!decides(None, 100.0));
    }

    #[test]
    fn the_log_keeps_two_generations_of_cap_lines_and_the_newest_in_memory() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("shadow.jsonl");
        let mut log = ShadowLog {
            ring: VecDeque::new(),
            cap: 2,
            file: Some(path.clone()),
            open: None,
            lines: 0,
        };
        let answer = |p: f64| Answer {
            version: "v".into(),
            probability: p,
            decision: Decision::Pass,
            reasons: Vec::new(),
        };
        for i in 0..5 {
            log.push(ShadowEntry {
                at: i,
                slot: ModelSlot::Signup,
                member_id: None,
                decided_by: Role::Live,
                live: answer(0.1),
                challenger: answer(0.2),
            });
        }
        let lines = |p: &Path| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .map(|l| {
                    serde_json::from_str::<ShadowEntry>(l)
                        .map(|e| e.at)
                        .unwrap_or(-1)
                })
                .collect::<Vec<i64>>()
        };
        assert_eq!(lines(&path), [4]);
        assert_eq!(lines(&rotated(&path)), [2, 3]);
        let kept: Vec<i64> = log.ring.iter().map(|e| e.at).collect();
        assert_eq!(kept, [3, 4]);
    }

    #[test]
    fn steps_move_forward_and_back_within_their_ends() {
        let c = Challenger::new(
            ChallengerConfig {
                slot: ModelSlot::Signup,
                model: "m".into(),
                steps: vec![0.0, 10.0, 100.0],
                step: 0,
                log_entries: 2,
            },
            None,
        );
        assert_eq!(c.percent(), 0.0);
        assert_eq!(c.move_step(false), None);
        assert_eq!(c.move_step(true), Some(1));
        assert_eq!(c.percent(), 10.0);
        assert_eq!(c.move_step(true), Some(2));
        assert_eq!(c.move_step(true), None);
        assert_eq!(c.move_step(false), Some(1));
    }

    #[test]
    fn configs_that_make_no_sense_name_their_field() {
        let base = ChallengerConfig {
            slot: ModelSlot::Member,
            model: "m".into(),
            steps: default_steps(),
            step: 0,
            log_entries: 10,
        };
        let field = |c: ChallengerConfig| c.problem().map(|(f, _)| f);
        assert_eq!(field(base.clone()), None);
        for steps in [vec![], vec![0.0, 150.0], vec![50.0, 10.0], vec![f64::NAN]] {
            assert_eq!(
                field(ChallengerConfig {
                    steps,
                    ..base.clone()
                }),
                Some("steps")
            );
        }
        assert_eq!(
            field(ChallengerConfig {
                step: 6,
                ..base.clone()
            }),
            Some("step")
        );
        assert_eq!(
            field(ChallengerConfig {
                log_entries: 0,
                ..base
            }),
            Some("log_entries")
        );
    }
}
