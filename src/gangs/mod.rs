//! Gangs as objects (DESIGN.md §8): sets of accounts tied by rare shared keys, each with an id,
//! members, keys, a timeline, what its members did, a score and a flag with its reason in words.
//!
//! The connected groups come from the recruitment state (`features::recruit`: a union-find that
//! merges only through keys still rare), swept point in time to the moment asked; inside the
//! crowds of busy keys, which the union-find leaves unmerged, a dense-subgraph peel ([`peel`])
//! finds the camouflaged gangs. [`rule`] holds what a gang's counters say in constant time (its
//! figures, score and flag: the [`GangSummary`] the online scorer attaches), [`gang`] the full
//! object, [`table`] its file rows, [`eval`] how it compares with the truth
//! of a generated history. The report draws them (`report::gangs`).
//!
//! Nothing here decides a verdict or changes the online state; it reads them.

pub mod eval;
pub mod gang;
pub mod peel;
pub mod rule;
pub mod table;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::data::history::{History, MemberIdx};
use crate::features::recruit::{sweep, MergeCaps, RecruitState};

pub use gang::{FoundBy, Gang, KeyCount, MemberScores};
pub use rule::{summary, GangParams, GangRule, GangSummary, DEFAULT_FLAG, FIGURES};

/// What can go wrong with gangs.
#[derive(Debug, thiserror::Error)]
pub enum GangsError {
    #[error("the gangs config is not valid TOML: {0}")]
    Toml(#[source] toml::de::Error),
    #[error("`flag`: {show}")]
    Flag {
        show: String,
        #[source]
        source: crate::expr::ExprError,
    },
    #[error("`{key}`: {message}")]
    Setting { key: &'static str, message: String },
    #[error("no gang {id} as of this moment (gang ids are `g-` and the member id of the first account; `woolguard gangs --out` lists them)")]
    UnknownGang { id: String },
    #[error(transparent)]
    Write(#[from] crate::members::MembersError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The gangs of a history as of a moment.
pub struct GangSet {
    pub as_of: i64,
    /// Members who joined before `as_of`.
    pub members: usize,
    /// Flagged first, then by score and size.
    pub gangs: Vec<Gang>,
    /// The recruitment state as of `as_of`.
    pub state: RecruitState,
    /// Each history member's gang (an index into `gangs`).
    gang_of: HashMap<MemberIdx, usize>,
}

/// How to find the gangs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub caps: MergeCaps,
    /// Also peel the crowds of busy keys for camouflaged gangs.
    pub peel: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            caps: MergeCaps::default(),
            peel: true,
        }
    }
}

impl GangSet {
    pub fn get(&self, id: &str) -> Result<&Gang, GangsError> {
        self.gangs
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| GangsError::UnknownGang { id: id.to_string() })
    }

    /// The gang of history member `m`, if it is in one.
    pub fn of(&self, m: MemberIdx) -> Option<&Gang> {
        self.gang_of.get(&m).map(|&i| &self.gangs[i])
    }

    /// Flagged gangs and the accounts in them.
    pub fn flagged(&self) -> (usize, usize) {
        self.gangs
            .iter()
            .filter(|g| g.flagged)
            .fold((0, 0), |(n, a), g| (n + 1, a + g.size as usize))
    }
}

/// The gang fields of the selection language, in the order [`member_numbers`] gives them.
pub const MEMBER_FIELDS: [&str; 3] = ["gang_flagged", "gang_size", "gang_score"];

/// For each of `members`, its gang as of `as_of` by `rule` (flagged 1 or 0, accounts in its
/// group, gang score), read from each group's counters as the online scorer reads them
/// ([`summary`]); a member alone is a group of one. Three numbers a member, in
/// [`MEMBER_FIELDS`] order.
pub fn member_numbers(h: &History, members: &[MemberIdx], as_of: i64, rule: &GangRule) -> Vec<f64> {
    let state = sweep(h, MergeCaps::default(), &[], as_of).state;
    let mut out = Vec::with_capacity(3 * members.len());
    for &m in members {
        let group = state
            .keys
            .get(h.members.id(m))
            .and_then(|sym| state.group_of(sym));
        match group {
            Some((root, g)) => {
                let s = summary(&state, root, g, rule, as_of);
                out.extend([f64::from(u8::from(s.flagged)), f64::from(s.size), s.score]);
            }
            None => out.extend([f64::NAN; 3]),
        }
    }
    out
}

/// Each member's latest reviewed label before `as_of` (1 wool, 0 genuine).
fn latest_labels(h: &History, as_of: i64) -> HashMap<MemberIdx, u8> {
    let l = &h.labels;
    let mut out: HashMap<MemberIdx, (i64, u8)> = HashMap::new();
    for i in (0..l.len()).filter(|&i| l.at[i] < as_of) {
        let e = out.entry(l.member[i]).or_insert((i64::MIN, l.label[i]));
        if l.at[i] >= e.0 {
            *e = (l.at[i], l.label[i]);
        }
    }
    out.into_iter().map(|(m, (_, v))| (m, v)).collect()
}

/// Per history member: claims, redemptions, orders, face value redeemed and paid, before `as_of`,
/// for the members in `wanted`.
fn deeds_of(
    h: &History,
    as_of: i64,
    wanted: &[bool],
) -> HashMap<MemberIdx, (u32, u32, u32, f64, f64)> {
    use crate::data::schema::CouponEvent;
    let mut out: HashMap<MemberIdx, (u32, u32, u32, f64, f64)> = HashMap::new();
    let c = &h.coupons;
    for r in 0..c.len() {
        let m = c.member[r];
        if c.at[r] >= as_of || !wanted.get(m as usize).copied().unwrap_or(false) {
            continue;
        }
        let e = out.entry(m).or_default();
        match c.event[r] {
            CouponEvent::Claim => e.0 += 1,
            CouponEvent::Redeem => {
                e.1 += 1;
                e.3 += c.face_value[r];
            }
            CouponEvent::Expire => {}
        }
    }
    let o = &h.orders;
    for r in 0..o.len() {
        let m = o.member[r];
        if o.at[r] >= as_of || !wanted.get(m as usize).copied().unwrap_or(false) {
            continue;
        }
        let e = out.entry(m).or_default();
        e.2 += 1;
        e.4 += o.amount[r];
    }
    out
}

/// The gangs of `h` as of `as_of` (events at or after it left out): every connected group of at
/// least `rule.min_size` accounts, and with `options.peel` the dense blocks peeled from the
/// crowds of busy keys, each judged by `rule`.
pub fn find(
    h: &History,
    as_of: i64,
    rule: &GangRule,
    scores: Option<&MemberScores>,
    options: Options,
) -> GangSet {
    let state = sweep(h, options.caps, &[], as_of).state;
    let members = h.members.joined_at.iter().filter(|&&t| t < as_of).count();
    let mut gangs: Vec<Gang> = {
        let cx = gang::Context::new(h, &state, rule, as_of, scores);
        let mut gangs: Vec<Gang> = state
            .groups(rule.min_size)
            .iter()
            .map(|(root, g, accounts)| gang::build(&cx, *root, g, accounts, FoundBy::Keys))
            .collect();
        if options.peel {
            let mut in_gang = vec![false; state.members()];
            for node in 0..state.members() as u32 {
                if let Some(a) = state.account(node) {
                    if state
                        .group_of(a.member)
                        .is_some_and(|(_, g)| g.size >= rule.min_size)
                    {
                        in_gang[node as usize] = true;
                    }
                }
            }
            let blocks = peel::blocks(&cx, options.caps, rule.min_size, &in_gang);
            let mut wanted = vec![false; h.members.len()];
            for b in &blocks {
                for &n in &b.nodes {
                    if let Some(m) = state.account(n).and_then(|a| cx.member_of(a)) {
                        wanted[m as usize] = true;
                    }
                }
            }
            let deeds = deeds_of(h, as_of, &wanted);
            let labels = latest_labels(h, as_of);
            for b in &blocks {
                let g = gang::group_of_accounts(&cx, &b.nodes, &deeds, &labels);
                let mut accounts: Vec<_> =
                    b.nodes.iter().filter_map(|&n| state.account(n)).collect();
                accounts.sort_by_key(|a| a.joined_at);
                gangs.push(gang::build(&cx, g.first, &g, &accounts, FoundBy::Peel));
            }
        }
        gangs
    };
    gangs.sort_by(|a, b| {
        b.flagged
            .cmp(&a.flagged)
            .then(b.score.total_cmp(&a.score))
            .then(b.size.cmp(&a.size))
            .then(a.id.cmp(&b.id))
    });
    let mut gang_of = HashMap::new();
    for (i, g) in gangs.iter().enumerate() {
        for &m in &g.members {
            gang_of.insert(m, i);
        }
    }
    GangSet {
        as_of,
        members,
        gangs,
        state,
        gang_of,
    }
}
