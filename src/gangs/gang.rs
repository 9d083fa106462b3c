//! A gang as an object: its members, the keys they share, its timeline, the campaign it joined
//! for, what its members did, its score and flag, and its reason in words.

use std::collections::HashMap;

use serde::Serialize;

use crate::data::history::{History, MemberIdx, Sym, NONE};
use crate::data::schema::VIRTUAL_PHONE_PREFIXES;
use crate::features::recruit::group::{FULL_PRICE, ORDERED, TOOK};
use crate::features::recruit::{Account, Group, RecruitState};
use crate::model::artefact::Decision;

use super::rule::{figures, gang_id, GangRule};

/// The member model's verdicts, by history member (what colours a drawing and gives a gang its
/// mean probability).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberScores {
    pub version: String,
    /// NaN for a member the model does not score.
    pub probability: Vec<f64>,
    pub decision: Vec<Option<Decision>>,
}

/// How a gang was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// A connected group of the union-find over rare shared keys.
    Keys,
    /// A dense block the peel separated from busy keys ([`super::peel`]).
    Peel,
}

impl FoundBy {
    pub fn name(self) -> &'static str {
        match self {
            FoundBy::Keys => "keys",
            FoundBy::Peel => "peel",
        }
    }
}

/// A shared key and how many of the gang's accounts have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCount {
    pub key: String,
    pub accounts: u32,
}

/// One gang.
#[derive(Debug, Clone, Serialize)]
pub struct Gang {
    pub id: String,
    pub found_by: FoundBy,
    /// History members, in join order.
    #[serde(skip)]
    pub members: Vec<MemberIdx>,
    /// The state's record of each member, parallel to `members`.
    #[serde(skip)]
    pub accounts: Vec<Account>,
    #[serde(skip)]
    pub group: Group,
    pub size: u32,
    /// Distinct keys with the accounts on each, most first.
    pub devices: Vec<KeyCount>,
    pub phones: Vec<KeyCount>,
    pub ip_ranges: Vec<KeyCount>,
    /// Inviters of the gang's accounts, with the accounts each invited.
    pub inviters: Vec<KeyCount>,
    pub first_at: i64,
    pub last_at: i64,
    pub velocity: f64,
    /// The campaign most of its accounts joined for.
    pub campaign: Option<String>,
    pub campaign_accounts: u32,
    /// Accounts that joined within `burst_minutes` of that campaign's first sign-up.
    pub burst: u32,
    pub claims: u32,
    pub redeems: u32,
    pub orders: u32,
    pub paid: f64,
    pub took: u32,
    pub took_no_full: u32,
    pub full_price: u32,
    pub labelled: u32,
    pub wool: u32,
    pub virtual_phones: u32,
    /// The member model's mean probability over the accounts it scores.
    pub mean_probability: Option<f64>,
    /// Accounts the member model rejects.
    pub rejects: Option<u32>,
    pub score: f64,
    pub flagged: bool,
    pub reason: String,
}

/// What building a gang reads besides its accounts.
pub struct Context<'a> {
    pub history: &'a History,
    pub state: &'a RecruitState,
    pub rule: &'a GangRule,
    pub now: i64,
    pub scores: Option<&'a MemberScores>,
    /// Each campaign's first sign-up before `now`.
    campaign_first: HashMap<Sym, i64>,
}

impl<'a> Context<'a> {
    pub fn new(
        history: &'a History,
        state: &'a RecruitState,
        rule: &'a GangRule,
        now: i64,
        scores: Option<&'a MemberScores>,
    ) -> Self {
        let mm = &history.members;
        let mut campaign_first: HashMap<Sym, i64> = HashMap::new();
        for i in 0..mm.len() {
            let (c, t) = (mm.campaign[i], mm.joined_at[i]);
            if c != NONE && t < now {
                let e = campaign_first.entry(c).or_insert(t);
                *e = (*e).min(t);
            }
        }
        Context {
            history,
            state,
            rule,
            now,
            scores,
            campaign_first,
        }
    }

    /// The history member an account of the state is.
    pub fn member_of(&self, a: &Account) -> Option<MemberIdx> {
        self.history
            .members
            .index_of(self.state.keys.name(a.member))
    }
}

/// Each key and how many times it occurs, most first (NONE left out).
fn count_syms(keys: impl Iterator<Item = Sym>) -> Vec<(Sym, u32)> {
    let mut counts: HashMap<Sym, u32> = HashMap::new();
    for k in keys.filter(|&k| k != NONE) {
        *counts.entry(k).or_default() += 1;
    }
    let mut out: Vec<(Sym, u32)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

fn count_keys(keys: impl Iterator<Item = Sym>, names: &dyn Fn(Sym) -> String) -> Vec<KeyCount> {
    let mut out: Vec<KeyCount> = count_syms(keys)
        .into_iter()
        .map(|(k, accounts)| KeyCount {
            key: names(k),
            accounts,
        })
        .collect();
    out.sort_by(|a, b| b.accounts.cmp(&a.accounts).then(a.key.cmp(&b.key)));
    out
}

/// "one device", "3 devices".
fn things(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {one}"),
        1 => format!("one {one}"),
        n => format!("{n} {many}"),
    }
}

/// Builds the gang of `accounts` (in join order) whose counters are `g`.
pub fn build(cx: &Context<'_>, root: u32, g: &Group, accounts: &[&Account], by: FoundBy) -> Gang {
    let h = cx.history;
    let st = cx.state;
    let name = |k: Sym| st.keys.name(k).to_string();
    let range_name = |k: Sym| {
        let n = st.keys.name(k);
        n.strip_prefix("range:").unwrap_or(n).to_string()
    };
    let (members, kept): (Vec<MemberIdx>, Vec<Account>) = accounts
        .iter()
        .filter_map(|a| Some((cx.member_of(a)?, **a)))
        .unzip();
    let devices = count_keys(accounts.iter().map(|a| a.device), &name);
    let phones = count_keys(accounts.iter().map(|a| a.phone), &name);
    let ip_ranges = count_keys(accounts.iter().map(|a| a.range), &range_name);
    let inviters = count_keys(accounts.iter().map(|a| a.inviter), &name);
    let mm = &h.members;
    let top = count_syms(members.iter().map(|&m| mm.campaign[m as usize]))
        .first()
        .copied();
    let burst_secs = i64::from(cx.rule.burst_minutes) * 60;
    let (campaign, campaign_accounts, burst) = match top {
        Some((c, n)) => {
            let first = cx.campaign_first.get(&c).copied().unwrap_or(i64::MIN);
            let burst = members
                .iter()
                .filter(|&&m| {
                    let i = m as usize;
                    mm.campaign[i] == c && mm.joined_at[i] - first <= burst_secs
                })
                .count() as u32;
            (Some(h.keys.name(c).to_string()), n, burst)
        }
        None => (None, 0, 0),
    };
    let virtual_phones = members
        .iter()
        .filter(|&&m| {
            h.keys
                .opt_name(mm.phone_prefix[m as usize])
                .is_some_and(|p| VIRTUAL_PHONE_PREFIXES.contains(&p.trim()))
        })
        .count() as u32;
    let (mean_probability, rejects) = match cx.scores {
        Some(s) => {
            let ps: Vec<f64> = members
                .iter()
                .filter_map(|&m| s.probability.get(m as usize).copied())
                .filter(|p| !p.is_nan())
                .collect();
            let rejects = members
                .iter()
                .filter(|&&m| s.decision.get(m as usize) == Some(&Some(Decision::Reject)))
                .count() as u32;
            let mean = (!ps.is_empty()).then(|| ps.iter().sum::<f64>() / ps.len() as f64);
            (mean, Some(rejects))
        }
        None => (None, None),
    };
    let f = figures(g, cx.now);
    let score = f[f.len() - 1];
    let flagged = cx.rule.flags(&f);
    let d = &g.deeds;
    let mut gang = Gang {
        id: gang_id(st, root, g),
        found_by: by,
        size: g.size,
        devices,
        phones,
        ip_ranges,
        inviters,
        first_at: g.first_at,
        last_at: g.last_at,
        velocity: g.velocity.at(cx.now),
        campaign,
        campaign_accounts,
        burst,
        claims: d.claims,
        redeems: d.redeems,
        orders: d.orders,
        paid: d.paid,
        took: d.took,
        took_no_full: d.took_no_full(),
        full_price: d.full_price,
        labelled: g.labelled,
        wool: g.wool,
        virtual_phones,
        mean_probability,
        rejects,
        score,
        flagged,
        reason: String::new(),
        members,
        accounts: kept,
        group: *g,
    };
    gang.reason = reason(&gang, cx.rule.burst_minutes);
    gang
}

/// The gang in words: "17 accounts on 3 devices and one IP range, 15 joined within 40 minutes
/// of rc-2405-618-tmall opening, 12 took a welcome or invite benefit, none bought at full price".
pub fn reason(g: &Gang, burst_minutes: u32) -> String {
    let mut parts = vec![format!(
        "{} accounts on {} and {}",
        g.size,
        things(g.devices.len(), "device", "devices"),
        things(g.ip_ranges.len(), "IP range", "IP ranges")
    )];
    if let Some(top) = g.inviters.first().filter(|k| k.accounts >= 2) {
        parts.push(format!("{} invited by {}", top.accounts, top.key));
    }
    if let Some(c) = &g.campaign {
        if g.burst >= 2 {
            parts.push(format!(
                "{} joined within {burst_minutes} minutes of {c} opening",
                g.burst
            ));
        } else {
            parts.push(format!("{} joined for {c}", g.campaign_accounts));
        }
    }
    parts.push(match g.took {
        0 => "none took a welcome or invite benefit".to_string(),
        n => format!("{n} took a welcome or invite benefit"),
    });
    parts.push(match g.full_price {
        0 => "none bought at full price".to_string(),
        n => format!("{n} bought at full price"),
    });
    if g.virtual_phones > 0 {
        parts.push(format!("{} on virtual-operator numbers", g.virtual_phones));
    }
    if g.labelled > 0 {
        parts.push(format!("{} of {} reviewed were wool", g.wool, g.labelled));
    }
    if let Some(p) = g.mean_probability {
        parts.push(format!("mean model probability {p:.2}"));
    }
    parts.join(", ")
}

/// The counters of a set of accounts that the union-find did not group (a peeled block):
/// sizes, keys, times and behaviour from each account's flags; claims, redemptions, orders and
/// payments from `deeds` (by history member); reviews from `labels`.
pub fn group_of_accounts(
    cx: &Context<'_>,
    nodes: &[u32],
    deeds: &HashMap<MemberIdx, (u32, u32, u32, f64, f64)>,
    labels: &HashMap<MemberIdx, u8>,
) -> Group {
    let st = cx.state;
    let mut g = Group::default();
    let mut devices: Vec<Sym> = Vec::new();
    let mut ranges: Vec<Sym> = Vec::new();
    let mut times: Vec<i64> = Vec::new();
    for &node in nodes {
        let Some(a) = st.account(node) else { continue };
        if g.size == 0 || (a.joined_at, node) < (g.first_at, g.first) {
            g.first = node;
            g.first_at = a.joined_at;
        }
        g.size += 1;
        g.last_at = g.last_at.max(a.joined_at);
        times.push(a.joined_at);
        devices.push(a.device);
        ranges.push(a.range);
        let has = |f: u8| a.flags & f != 0;
        let d = &mut g.deeds;
        d.took += u32::from(has(TOOK));
        d.took_and_full += u32::from(has(TOOK) && has(FULL_PRICE));
        d.ordered += u32::from(has(ORDERED));
        d.full_price += u32::from(has(FULL_PRICE));
        if let Some(m) = cx.member_of(a) {
            if let Some(&(claims, redeems, orders, value, paid)) = deeds.get(&m) {
                d.claims += claims;
                d.redeems += redeems;
                d.orders += orders;
                d.value_taken += value;
                d.paid += paid;
            }
            if let Some(&l) = labels.get(&m) {
                g.labelled += 1;
                g.wool += u32::from(l == 1);
            }
        }
    }
    let distinct = |mut v: Vec<Sym>| {
        v.retain(|&k| k != NONE);
        v.sort_unstable();
        v.dedup();
        v.len() as u32
    };
    g.devices = distinct(devices);
    g.ip24s = distinct(ranges);
    times.sort_unstable();
    for t in times {
        g.velocity.bump(t);
    }
    g
}
