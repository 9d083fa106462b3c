//! The replay benchmark: generated histories sent through the online sign-up state event by
//! event, in time order (sign-ups, coupons, orders, reviews), as a scorer receives them. It
//! measures what a state update costs (per event, µs; events per second on one core; heap bytes
//! per account) and what the gang flag achieves against the generator's truth, beside the
//! per-account sign-up model alone: how early gangs are flagged, and how many benefit claims of
//! wool and of genuine members would have been held.
//!
//! Shards: `shards` histories of `members` each (seeds `seed`, `seed + 1`, …) run one after the
//! other through one state, their names prefixed by the shard and their times moved after the
//! previous shard's end, so that ten 1M-member histories make a 10M-account state without
//! holding a 10M-member history in memory.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use crate::data::history::{History, Sym, NONE};
use crate::data::read::load;
use crate::features::recruit::{
    self, coupon_deed, order_deed, Deed, Group, MergeCaps, RecruitState, Signup, Step, FEATURES,
};
use crate::generate::{generate, read_truth, Params, Truth};
use crate::model::artefact::{Artefact, Decision};

/// Whether a group is flagged as a gang at a moment.
pub type Flag<'a> = &'a dyn Fn(&Group, i64) -> bool;

/// What to replay.
#[derive(Debug, Clone, Copy)]
pub struct ReplayParams {
    pub members: u64,
    pub shards: u32,
    pub seed: u64,
    pub difficulty: f64,
    pub caps: MergeCaps,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("generating shard {shard}: {message}")]
    Generate { shard: u32, message: String },
    #[error("reading shard {shard}: {message}")]
    Read { shard: u32, message: String },
    #[error("scoring with the sign-up model: {0}")]
    Score(String),
}

/// Latencies in a histogram of 10 ns buckets up to 1 ms (slower events counted at 1 ms).
#[derive(Debug, Clone)]
struct Latency {
    buckets: Vec<u64>,
    n: u64,
}

const BUCKET_NS: u64 = 10;
const BUCKETS: usize = 100_000;

impl Latency {
    fn new() -> Self {
        Latency {
            buckets: vec![0; BUCKETS],
            n: 0,
        }
    }

    fn add(&mut self, ns: u64) {
        let b = ((ns / BUCKET_NS) as usize).min(BUCKETS - 1);
        self.buckets[b] += 1;
        self.n += 1;
    }

    /// The `q` quantile, in µs (upper edge of its bucket).
    fn quantile_us(&self, q: f64) -> f64 {
        let want = ((self.n as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= want {
                return ((b as u64 + 1) * BUCKET_NS) as f64 / 1_000.0;
            }
        }
        0.0
    }
}

/// p50 and p99 of one kind of event, µs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Quantiles {
    pub events: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl From<&Latency> for Quantiles {
    fn from(l: &Latency) -> Self {
        Quantiles {
            events: l.n,
            p50_us: l.quantile_us(0.5),
            p99_us: l.quantile_us(0.99),
        }
    }
}

/// Benefit claims held by one way of deciding.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Held {
    /// Share of wool accounts' claims held.
    pub wool_claims_held: f64,
    /// Share of genuine members' claims held.
    pub genuine_claims_held: f64,
    /// Genuine members with at least one claim held, per 10,000 genuine members.
    pub genuine_members_held_per_10k: f64,
    /// Share of gang accounts' claims held after their gang was first flagged (gang flag only).
    pub gang_claims_held_after_flag: Option<f64>,
}

/// What the replay measured.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub shards: u32,
    pub accounts: u64,
    /// Every state update (sign-up: features and record; coupon, order, review: record).
    pub update: Quantiles,
    pub signup: Quantiles,
    pub deed: Quantiles,
    /// The sign-up model's score of a feature row (not a state update; for comparison).
    pub model: Quantiles,
    /// State updates per second of state time, on one core (the replay is one thread).
    pub events_per_second: f64,
    /// The state's heap bytes at the end, per account.
    pub bytes_per_account: f64,
    /// Truth gangs of at least 10 accounts.
    pub gangs: u64,
    /// Share of those flagged by their 10th sign-up (the group of the 10th, right after it).
    pub gangs_flagged_by_10th: f64,
    /// The flag by account at the end: precision (flagged accounts that are wool) and recall
    /// (gang accounts flagged).
    pub flag_precision: f64,
    pub flag_recall: f64,
    /// Holding a claim when the member's group is flagged, at the claim.
    pub held_by_gang_flag: Held,
    /// Holding a claim when the sign-up model did not pass the member.
    pub held_by_model_alone: Held,
    /// Either.
    pub held_by_both: Held,
    /// The gang flag, or the sign-up model's reject (its reviews pass).
    pub held_by_flag_or_reject: Held,
}

#[derive(Default)]
struct Tally {
    claims: [u64; 2],
    held: [[u64; 2]; 4],
    gang_claims_after_flag: u64,
    gang_held_after_flag: u64,
}

struct Member {
    wool: bool,
    gang: Option<u32>,
    passed: bool,
    rejected: bool,
    held_once: [bool; 4],
}

/// Replays `p` through one state, deciding with `signup` (the per-account model) and `flag`.
pub fn replay(
    p: &ReplayParams,
    signup: &Artefact,
    flag: Flag<'_>,
    progress: &dyn Fn(&str),
) -> Result<ReplayReport, BenchError> {
    let mut state = RecruitState::new(Default::default(), p.caps);
    let (mut update, mut signups, mut deeds, mut model) = (
        Latency::new(),
        Latency::new(),
        Latency::new(),
        Latency::new(),
    );
    let mut state_ns: u128 = 0;
    let mut members: Vec<Member> = Vec::new();
    let mut node_member: HashMap<Sym, usize> = HashMap::new();
    let mut gang_ids: HashMap<String, u32> = HashMap::new();
    // Per truth gang: sign-ups so far, whether flagged at its 10th, when first flagged.
    let mut gang_seen: Vec<(u32, Option<bool>, Option<i64>)> = Vec::new();
    let mut tally = Tally::default();
    let mut offset = 0i64;
    for shard in 0..p.shards {
        let dir = WorkDir::new(shard).map_err(|e| BenchError::Generate {
            shard,
            message: e.to_string(),
        })?;
        let params = Params {
            members: p.members,
            seed: p.seed + u64::from(shard),
            difficulty: p.difficulty,
        }
        .check()
        .map_err(|e| BenchError::Generate {
            shard,
            message: e.to_string(),
        })?;
        progress(&format!("shard {shard}: generating {} members", p.members));
        generate(&params, dir.path(), &|_| {}).map_err(|e| BenchError::Generate {
            shard,
            message: e.to_string(),
        })?;
        let read = |e: crate::data::DataError| BenchError::Read {
            shard,
            message: e.to_string(),
        };
        let h = load(dir.path()).map_err(read)?;
        let truth = read_truth(dir.path()).map_err(read)?;
        let (lo, hi) = h.time_span().unwrap_or((0, 0));
        let shift = offset - lo;
        offset = hi + shift + 86_400;
        progress(&format!("shard {shard}: replaying"));
        let ctx = Shard {
            h: &h,
            truth: &truth,
            prefix: format!("s{shard}:"),
        };
        let base = members.len();
        for step in recruit::timeline(&h, &[], i64::MAX) {
            match step {
                Step::Probe(_) => {}
                Step::Signup(m) => {
                    let names = ctx.signup_names(m);
                    let at = h.members.joined_at[m as usize] + shift;
                    let started = Instant::now();
                    let s = names.signup(&mut state, at);
                    let mut row = vec![f64::NAN; FEATURES.len()];
                    state.features(&s, &mut row);
                    state.record(&s);
                    let ns = started.elapsed().as_nanos();
                    state_ns += ns;
                    signups.add(ns as u64);
                    update.add(ns as u64);
                    let started = Instant::now();
                    let scored = signup
                        .score_row(&row[..signup.features.len().min(row.len())], 0)
                        .map_err(|e| BenchError::Score(e.to_string()))?;
                    model.add(started.elapsed().as_nanos() as u64);
                    let t = ctx.truth_of(m);
                    let gang = t.1.map(|g| {
                        let next = gang_ids.len() as u32;
                        let id = *gang_ids.entry(format!("{}{g}", ctx.prefix)).or_insert(next);
                        if id as usize == gang_seen.len() {
                            gang_seen.push((0, None, None));
                        }
                        id
                    });
                    node_member.insert(s.member, base + m as usize);
                    members.push(Member {
                        wool: t.0,
                        gang,
                        passed: scored.decision == Decision::Pass,
                        rejected: scored.decision == Decision::Reject,
                        held_once: [false; 4],
                    });
                    if let Some(g) = gang {
                        let flagged = state
                            .group_of(s.member)
                            .is_some_and(|(_, grp)| flag(grp, at));
                        let seen = &mut gang_seen[g as usize];
                        seen.0 += 1;
                        if seen.0 == 10 {
                            seen.1 = Some(flagged);
                        }
                        if flagged && seen.2.is_none() {
                            seen.2 = Some(at);
                        }
                    }
                }
                Step::Label(r) => {
                    let member = ctx.member_name(h.labels.member[r]);
                    let started = Instant::now();
                    if let Some(m) = state.keys.get(&member) {
                        state.record_label(m, h.labels.label[r]);
                    }
                    let ns = started.elapsed().as_nanos();
                    state_ns += ns;
                    deeds.add(ns as u64);
                    update.add(ns as u64);
                }
                Step::Coupon(_) | Step::Order(_) => {
                    let (who, at, deed) = match step {
                        Step::Coupon(r) => {
                            (h.coupons.member[r], h.coupons.at[r], coupon_deed(&h, r))
                        }
                        Step::Order(r) => {
                            (h.orders.member[r], h.orders.at[r], Some(order_deed(&h, r)))
                        }
                        _ => continue,
                    };
                    let Some(deed) = deed else { continue };
                    let at = at + shift;
                    let member = ctx.member_name(who);
                    let started = Instant::now();
                    let sym = state.keys.get(&member);
                    if let Some(m) = sym {
                        state.record_deed(m, at, deed);
                    }
                    let ns = started.elapsed().as_nanos();
                    state_ns += ns;
                    deeds.add(ns as u64);
                    update.add(ns as u64);
                    if deed == Deed::Claim {
                        if let Some(m) = sym {
                            claim(
                                &state,
                                flag,
                                m,
                                at,
                                &node_member,
                                &mut members,
                                &mut gang_seen,
                                &mut tally,
                            );
                        }
                    }
                }
            }
        }
    }
    // The flag by account at the end.
    let (mut flagged, mut flagged_wool, mut gang_accounts, mut gang_flagged) =
        (0u64, 0u64, 0u64, 0u64);
    for (&sym, &i) in &node_member {
        let f = state.group_of(sym).is_some_and(|(_, g)| flag(g, offset));
        let m = &members[i];
        flagged += u64::from(f);
        flagged_wool += u64::from(f && m.wool);
        if m.gang.is_some() {
            gang_accounts += 1;
            gang_flagged += u64::from(f);
        }
    }
    let big: Vec<&(u32, Option<bool>, Option<i64>)> =
        gang_seen.iter().filter(|g| g.0 >= 10).collect();
    let genuine = members.iter().filter(|m| !m.wool).count() as f64;
    let held = |k: usize| Held {
        wool_claims_held: ratio(tally.held[k][1], tally.claims[1]),
        genuine_claims_held: ratio(tally.held[k][0], tally.claims[0]),
        genuine_members_held_per_10k: 10_000.0
            * members.iter().filter(|m| !m.wool && m.held_once[k]).count() as f64
            / genuine.max(1.0),
        gang_claims_held_after_flag: (k == 0)
            .then(|| ratio(tally.gang_held_after_flag, tally.gang_claims_after_flag)),
    };
    Ok(ReplayReport {
        shards: p.shards,
        accounts: members.len() as u64,
        update: (&update).into(),
        signup: (&signups).into(),
        deed: (&deeds).into(),
        model: (&model).into(),
        events_per_second: update.n as f64 / (state_ns as f64 / 1e9).max(1e-9),
        bytes_per_account: state.heap_bytes() as f64 / (members.len().max(1) as f64),
        gangs: big.len() as u64,
        gangs_flagged_by_10th: ratio(
            big.iter().filter(|g| g.1 == Some(true)).count() as u64,
            big.len() as u64,
        ),
        flag_precision: ratio(flagged_wool, flagged),
        flag_recall: ratio(gang_flagged, gang_accounts),
        held_by_gang_flag: held(0),
        held_by_model_alone: held(1),
        held_by_both: held(2),
        held_by_flag_or_reject: held(3),
    })
}

#[allow(clippy::too_many_arguments)]
fn claim(
    state: &RecruitState,
    flag: Flag<'_>,
    m: Sym,
    at: i64,
    node_member: &HashMap<Sym, usize>,
    members: &mut [Member],
    gang_seen: &mut [(u32, Option<bool>, Option<i64>)],
    tally: &mut Tally,
) {
    let Some(&i) = node_member.get(&m) else {
        return;
    };
    let flagged = state.group_of(m).is_some_and(|(_, g)| flag(g, at));
    let who = &mut members[i];
    let w = usize::from(who.wool);
    tally.claims[w] += 1;
    let by = [
        flagged,
        !who.passed,
        flagged || !who.passed,
        flagged || who.rejected,
    ];
    for (k, &h) in by.iter().enumerate() {
        if h {
            tally.held[k][w] += 1;
            who.held_once[k] = true;
        }
    }
    if let Some(g) = who.gang {
        let seen = &mut gang_seen[g as usize];
        if flagged && seen.2.is_none() {
            seen.2 = Some(at);
        }
        if seen.2.is_some_and(|t| t <= at) {
            tally.gang_claims_after_flag += 1;
            tally.gang_held_after_flag += u64::from(flagged);
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

struct Shard<'a> {
    h: &'a History,
    truth: &'a Truth,
    prefix: String,
}

/// A sign-up's names, prefixed by its shard: what a scorer receives.
struct Names {
    member: String,
    keys: [Option<String>; 6],
}

impl Names {
    /// Interns the names into `state` (as the scorer does on arrival).
    fn signup(&self, state: &mut RecruitState, joined_at: i64) -> Signup {
        let member = state.keys.intern(&self.member);
        let [campaign, inviter, device, ip, phone_prefix, phone_hash] = self
            .keys
            .each_ref()
            .map(|v| v.as_deref().map_or(NONE, |s| state.keys.intern(s)));
        Signup {
            member,
            joined_at,
            campaign,
            inviter,
            device,
            ip,
            phone_prefix,
            phone_hash,
        }
    }
}

impl Shard<'_> {
    fn member_name(&self, m: u32) -> String {
        format!("{}{}", self.prefix, self.h.members.id(m))
    }

    fn signup_names(&self, m: u32) -> Names {
        let mm = &self.h.members;
        let i = m as usize;
        let key = |s: Sym| {
            self.h
                .keys
                .opt_name(s)
                .map(|v| format!("{}{v}", self.prefix))
        };
        // A phone segment is not the shard's: it is the operator's.
        let prefix = self.h.keys.opt_name(mm.phone_prefix[i]).map(str::to_string);
        Names {
            member: self.member_name(m),
            keys: [
                key(mm.campaign[i]),
                mm.inviter[i]
                    .ne(&NONE)
                    .then(|| format!("{}{}", self.prefix, self.h.keys.name(mm.inviter[i]))),
                key(mm.device[i]),
                key(mm.ip[i]),
                prefix,
                key(mm.phone_hash[i]),
            ],
        }
    }

    /// Whether member `m` is wool and its truth gang.
    fn truth_of(&self, m: u32) -> (bool, Option<&str>) {
        self.truth
            .get(self.h.members.id(m))
            .map_or((false, None), |r| (r.is_wool, r.gang_id.as_deref()))
    }
}

/// A shard's folder under the system's temporary folder, removed when dropped.
struct WorkDir(std::path::PathBuf);

impl WorkDir {
    fn new(shard: u32) -> std::io::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("woolguard-replay-{}-{shard}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(WorkDir(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
