//! Recruitment-time features and the online state they read.
//!
//! `RecruitState` holds what is known about everyone who has joined so far: accounts per device,
//! phone hash, IP range (/24) and inviter, recent sign-ups per key, the inviter's record and
//! invite tree, the connected groups of a union-find over shared keys, and what each set of
//! accounts has done since (benefits taken, orders, full-price purchases: [`group::Behaviour`]).
//! `features` reads it for a candidate; `record` adds a sign-up, `record_deed` something a
//! member did, `record_label` a review outcome; `pool` reads a member's keys and group as they
//! stand. Offline, [`sweep`] runs a history in time order through exactly these calls, so
//! training sees what the scorer would have seen.
//!
//! Merging into groups only goes through keys that are still rare: a key stops gluing accounts
//! together once it has `MergeCaps` accounts, so a carrier NAT range or a popular inviter shared
//! by thousands of genuine members does not make one giant group.

mod candidate;
pub mod group;
mod image;
mod keys;
mod sweep;
mod window;

use std::collections::HashMap;

use crate::data::history::{History, Interner, Sym, NONE};

pub use candidate::CandidateKeys;
pub use group::Account;
use group::ORDERED;
pub use group::{share, Behaviour, Deed, Group};
use keys::{KeyStats, KeyTable};
pub use sweep::{build, coupon_deed, order_deed, sweep, timeline, Probe, ProbeGroups, Step, Sweep};

use super::{FeatureDef, Moment};

pub(crate) const MINUTE: i64 = 60;
pub(crate) const HOUR: i64 = 3_600;
pub(crate) const DAY: i64 = 86_400;

const fn rec(name: &'static str, description: &'static str) -> FeatureDef {
    FeatureDef::new(Moment::Recruitment, name, description)
}

const fn pool(name: &'static str, description: &'static str) -> FeatureDef {
    FeatureDef::new(Moment::Member, name, description)
}

/// The recruitment-time features, in column order.
pub const FEATURES: &[FeatureDef] = &[
    rec("device_accounts", "accounts already on this device"),
    rec("phone_accounts", "accounts already on this phone hash"),
    rec("ip24_accounts", "accounts already on this IP range (/24)"),
    rec(
        "device_signups_1h",
        "sign-ups on this device in the last hour",
    ),
    rec(
        "ip24_signups_10m",
        "sign-ups from this IP range in the last 10 minutes",
    ),
    rec(
        "ip24_signups_1h",
        "sign-ups from this IP range in the last hour",
    ),
    rec(
        "campaign_signups_10m",
        "sign-ups into this campaign in the last 10 minutes",
    ),
    rec(
        "minutes_from_campaign_start",
        "minutes since the campaign's first sign-up",
    ),
    rec(
        "virtual_phone",
        "phone on a virtual-operator segment (170/171/162/165/167)",
    ),
    rec(
        "inviter_fanout",
        "members the inviter has already brought in",
    ),
    rec(
        "inviter_invites_1h",
        "members the inviter brought in during the last hour",
    ),
    rec(
        "inviter_wool_share",
        "reviewed wool share of the inviter's earlier invitees",
    ),
    rec("inviter_age_days", "days since the inviter joined"),
    rec(
        "group_size",
        "accounts in the connected group (shared rare device, phone, IP range, inviter)",
    ),
    rec("group_devices", "distinct devices in the connected group"),
    rec("group_ip24s", "distinct IP ranges in the connected group"),
    rec(
        "group_age_hours",
        "hours since the group's first account joined",
    ),
    rec(
        "group_wool_share",
        "reviewed wool share of the group's labelled accounts",
    ),
    rec("signup_hour", "hour of day of the sign-up (UTC+8)"),
    rec(
        "group_took_no_full_share",
        "share of the group's accounts that took a welcome or fission benefit and never bought at full price, so far",
    ),
    rec(
        "group_order_share",
        "share of the group's accounts with any order so far",
    ),
    rec(
        "group_full_price_share",
        "share of the group's accounts that bought at full price so far",
    ),
    rec(
        "group_hours_to_redeem",
        "mean hours from joining to the first redemption, over the group's accounts that redeemed",
    ),
    rec(
        "group_value_per_account",
        "face value of the benefits the group redeemed, per account",
    ),
    rec(
        "group_velocity",
        "the group's recent sign-ups, each counting half as much an hour later",
    ),
    rec(
        "device_took_no_full_share",
        "share of the earlier accounts on this device and phone that took a benefit and never bought at full price",
    ),
    rec(
        "ip24_took_no_full_share",
        "share of the earlier accounts on this IP range that took a benefit and never bought at full price",
    ),
    rec(
        "keys_order_share",
        "share of the earlier accounts on this device, phone and IP range with any order",
    ),
    rec(
        "inviter_tree_depth",
        "invitation steps from the first account of the inviter's tree to the candidate",
    ),
    rec("inviter_tree_size", "accounts in the inviter's invite tree"),
    rec(
        "inviter_tree_nobuyer_share",
        "share of the accounts in the inviter's invite tree with no order so far",
    ),
];

/// Member-time features of a member's keys and group as they stand at the cutoff (the
/// recruitment-time ones above are as at its sign-up).
pub const POOL_FEATURES: &[FeatureDef] = &[
    pool(
        "pool_device_accounts",
        "accounts on the member's device now",
    ),
    pool(
        "pool_phone_accounts",
        "accounts on the member's phone hash now",
    ),
    pool(
        "pool_ip24_accounts",
        "accounts on the member's IP range now",
    ),
    pool("pool_group_size", "accounts in the member's group now"),
    pool(
        "pool_group_devices",
        "distinct devices in the member's group now",
    ),
    pool(
        "pool_group_took_no_full_share",
        "share of the group's accounts that took a benefit and never bought at full price, now",
    ),
    pool(
        "pool_group_order_share",
        "share of the group's accounts with any order, now",
    ),
    pool(
        "pool_group_full_price_share",
        "share of the group's accounts that bought at full price, now",
    ),
    pool(
        "pool_group_wool_share",
        "reviewed wool share of the group's labelled accounts, now",
    ),
    pool(
        "pool_group_velocity",
        "the group's recent sign-ups, each counting half as much an hour later, now",
    ),
    pool(
        "pool_inviter_tree_nobuyer_share",
        "share of the accounts in the member's invite tree with no order, now",
    ),
];

/// How many accounts a key may hold and still merge accounts into one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MergeCaps {
    pub device: u32,
    pub phone: u32,
    pub ip24: u32,
    pub inviter: u32,
}

impl Default for MergeCaps {
    fn default() -> Self {
        MergeCaps {
            device: 12,
            phone: 6,
            ip24: 40,
            inviter: 60,
        }
    }
}

/// A sign-up, with every key a symbol of the state's interner (`NONE` where absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signup {
    pub member: Sym,
    pub joined_at: i64,
    pub campaign: Sym,
    pub inviter: Sym,
    pub device: Sym,
    pub ip: Sym,
    pub phone_prefix: Sym,
    pub phone_hash: Sym,
}

#[derive(Debug, Clone, Copy, Default)]
struct Record {
    labelled: u32,
    wool: u32,
}

/// An invite tree's accounts and how many of them ordered.
#[derive(Debug, Clone, Copy, Default)]
struct Tree {
    accounts: u32,
    ordered: u32,
}

/// What is known at a moment about everyone who has joined.
#[derive(Debug, Clone)]
pub struct RecruitState {
    /// Every key and member id, as symbols; starts as a copy of the history's key interner so
    /// that a history's symbols are valid here.
    pub keys: Interner,
    caps: MergeCaps,
    ip_range: HashMap<Sym, Sym>,
    device: KeyTable,
    phone: KeyTable,
    ip24: KeyTable,
    inviter: KeyTable,
    campaign: KeyTable,
    /// Reviewed outcomes of each inviter's invitees.
    inviter_record: HashMap<Sym, Record>,
    /// Member symbol → union-find node.
    nodes: HashMap<Sym, u32>,
    accounts: Vec<Account>,
    parent: Vec<u32>,
    /// Each group's nodes as a ring: `next[node]` is another node of the same group, and
    /// following it from any node visits the whole group once. A union splices two rings in
    /// constant time, so a group's members are listed in time proportional to its size.
    next: Vec<u32>,
    groups: Vec<Group>,
    /// By the node of each tree's first account.
    trees: HashMap<u32, Tree>,
}

impl RecruitState {
    pub fn new(keys: Interner, caps: MergeCaps) -> Self {
        RecruitState {
            keys,
            caps,
            ip_range: HashMap::new(),
            device: KeyTable::default(),
            phone: KeyTable::default(),
            ip24: KeyTable::default(),
            inviter: KeyTable::default(),
            campaign: KeyTable::default(),
            inviter_record: HashMap::new(),
            nodes: HashMap::new(),
            accounts: Vec::new(),
            parent: Vec::new(),
            next: Vec::new(),
            groups: Vec::new(),
            trees: HashMap::new(),
        }
    }

    /// Room for `accounts` more sign-ups in the per-account tables (and as many keys of each
    /// kind an account brings its own of), taken at once: a sweep that knows how many members
    /// it will record never holds a table and its copy twice the size.
    pub fn reserve(&mut self, accounts: usize) {
        self.accounts.reserve_exact(accounts);
        self.parent.reserve_exact(accounts);
        self.next.reserve_exact(accounts);
        self.groups.reserve_exact(accounts);
        self.nodes.reserve(accounts);
        self.device.reserve(accounts);
        self.phone.reserve(accounts);
        self.ip24.reserve(accounts);
    }

    /// Members recorded so far.
    pub fn members(&self) -> usize {
        self.parent.len()
    }

    /// The /24 range of an IPv4 address (the /48 of an IPv6 one), as a symbol.
    fn range_of(&mut self, ip: Sym) -> Sym {
        if ip == NONE {
            return NONE;
        }
        if let Some(&r) = self.ip_range.get(&ip) {
            return r;
        }
        let r = self.keys.intern(&range_key(self.keys.name(ip)));
        self.ip_range.insert(ip, r);
        r
    }

    fn find(&mut self, mut node: u32) -> u32 {
        while self.parent[node as usize] != node {
            let up = self.parent[node as usize];
            self.parent[node as usize] = self.parent[up as usize];
            node = up;
        }
        node
    }

    /// [`Self::find`] without shortening paths, for readers.
    fn root(&self, mut node: u32) -> u32 {
        while self.parent[node as usize] != node {
            node = self.parent[node as usize];
        }
        node
    }

    fn union(&mut self, a: u32, b: u32) -> u32 {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return ra;
        }
        let (big, small) = if self.groups[ra as usize].size >= self.groups[rb as usize].size {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.next.swap(big as usize, small as usize);
        let s = self.groups[small as usize];
        self.groups[big as usize].merge(&s);
        big
    }

    /// The group a candidate would join: the union of the groups of the given nodes, read
    /// without changing anything.
    fn prospective_group(&self, nodes: &[u32]) -> Group {
        let mut roots: Vec<u32> = Vec::with_capacity(nodes.len());
        for &node in nodes {
            let r = self.root(node);
            if !roots.contains(&r) {
                roots.push(r);
            }
        }
        let mut g = Group::default();
        for r in roots {
            g.merge(&self.groups[r as usize]);
        }
        g
    }

    /// The group member `member` is in now (its root node and what the group is and did), or
    /// `None` for a member never recorded.
    pub fn group_of(&self, member: Sym) -> Option<(u32, &Group)> {
        let &node = self.nodes.get(&member)?;
        let root = self.root(node);
        Some((root, &self.groups[root as usize]))
    }

    /// The account recorded as union-find node `node` (nodes come from [`Self::group_of`],
    /// [`Self::groups`] and [`Group::first`]).
    pub fn account(&self, node: u32) -> Option<&Account> {
        self.accounts.get(node as usize)
    }

    /// The accounts of the group rooted at `root`, in the order they were recorded.
    pub fn accounts_of(&self, root: u32) -> Vec<&Account> {
        let mut nodes = self.ring(root, usize::MAX);
        nodes.sort_unstable();
        nodes
            .into_iter()
            .filter_map(|node| self.accounts.get(node as usize))
            .collect()
    }

    /// The member symbols of the group member `member` is in (itself included), at most `limit`
    /// of them, in time proportional to the number listed; empty for a member never recorded.
    pub fn group_members(&self, member: Sym, limit: usize) -> Vec<Sym> {
        let Some(&node) = self.nodes.get(&member) else {
            return Vec::new();
        };
        self.ring(node, limit)
            .into_iter()
            .filter_map(|n| self.accounts.get(n as usize).map(|a| a.member))
            .collect()
    }

    /// The nodes of `node`'s group, following the ring from `node`, at most `limit` of them.
    fn ring(&self, node: u32, limit: usize) -> Vec<u32> {
        let mut out = Vec::new();
        if node as usize >= self.next.len() {
            return out;
        }
        let mut at = node;
        loop {
            if out.len() >= limit {
                break;
            }
            out.push(at);
            at = self.next[at as usize];
            if at == node {
                break;
            }
        }
        out
    }

    /// Every group of at least `min_size` accounts: its root node, what it is and did, and its
    /// accounts in the order they were recorded.
    pub fn groups(&self, min_size: u32) -> Vec<(u32, Group, Vec<&Account>)> {
        let mut at: HashMap<u32, usize> = HashMap::new();
        let mut out: Vec<(u32, Group, Vec<&Account>)> = Vec::new();
        for (node, account) in self.accounts.iter().enumerate() {
            let root = self.root(node as u32);
            let g = &self.groups[root as usize];
            if g.size < min_size.max(1) {
                continue;
            }
            let k = *at.entry(root).or_insert_with(|| {
                out.push((root, *g, Vec::with_capacity(g.size as usize)));
                out.len() - 1
            });
            out[k].2.push(account);
        }
        out
    }

    /// The member id of `g`'s first account.
    pub fn first_member(&self, g: &Group) -> Option<&str> {
        self.accounts
            .get(g.first as usize)
            .and_then(|a| self.keys.opt_name(a.member))
    }

    /// Member `member`'s keys and group as they stand at `t` (after everything recorded so far).
    /// `out` must hold `POOL_FEATURES.len()` values; all NaN for a member never recorded.
    pub fn pool(&self, member: Sym, t: i64, out: &mut [f64]) {
        out.fill(f64::NAN);
        let Some(&node) = self.nodes.get(&member) else {
            return;
        };
        let a = &self.accounts[node as usize];
        let accounts = |map: &KeyTable, key: Sym| {
            lookup(map, key).map_or(f64::NAN, |k| k.map_or(0.0, |k| f64::from(k.accounts)))
        };
        out[0] = accounts(&self.device, a.device);
        out[1] = accounts(&self.phone, a.phone);
        out[2] = accounts(&self.ip24, a.range);
        let g = &self.groups[self.root(node) as usize];
        out[3] = f64::from(g.size);
        out[4] = f64::from(g.devices);
        out[5] = share(g.deeds.took_no_full(), g.size);
        out[6] = share(g.deeds.ordered, g.size);
        out[7] = share(g.deeds.full_price, g.size);
        out[8] = g.wool_share();
        out[9] = g.velocity.at(t);
        let tree = self.trees.get(&a.tree).copied().unwrap_or_default();
        out[10] = share(tree.accounts.saturating_sub(tree.ordered), tree.accounts);
    }

    /// Adds a sign-up: counts its keys and merges it into the groups of its rare keys.
    pub fn record(&mut self, s: &Signup) {
        let node = self.parent.len() as u32;
        let range = self.range_of(s.ip);
        let mut account = Account::new(s.member, s.joined_at);
        account.inviter = s.inviter;
        account.device = s.device;
        account.phone = s.phone_hash;
        account.range = range;
        account.tree = node;
        if let Some(&up) = self.nodes.get(&s.inviter) {
            let inviter = &self.accounts[up as usize];
            account.tree = inviter.tree;
            account.depth = inviter.depth.saturating_add(1);
        }
        self.trees.entry(account.tree).or_default().accounts += 1;
        self.parent.push(node);
        self.next.push(node);
        self.accounts.push(account);
        self.nodes.insert(s.member, node);
        let mut velocity = group::Velocity::default();
        velocity.bump(s.joined_at);
        self.groups.push(Group {
            first: node,
            size: 1,
            first_at: s.joined_at,
            last_at: s.joined_at,
            velocity,
            ..Group::default()
        });
        let caps = self.caps;
        let keyed = [
            (KeyKind::Device, s.device, caps.device),
            (KeyKind::Phone, s.phone_hash, caps.phone),
            (KeyKind::Ip24, range, caps.ip24),
            (KeyKind::Inviter, s.inviter, caps.inviter),
            (KeyKind::Campaign, s.campaign, 0),
        ];
        for (kind, key, cap) in keyed {
            if key == NONE {
                continue;
            }
            let stats = self.map(kind).entry(key);
            let before = stats.accounts;
            let first = stats.first_node;
            stats.add(s.joined_at, node);
            if before == 0 {
                let root = self.find(node) as usize;
                match kind {
                    KeyKind::Device => self.groups[root].devices += 1,
                    KeyKind::Ip24 => self.groups[root].ip24s += 1,
                    _ => {}
                }
            } else if before < cap {
                self.union(first, node);
            }
        }
        // The inviter themselves joins the invitee's group while the inviter is still rare.
        if let Some(&inviter_node) = self.nodes.get(&s.inviter) {
            let fanout = self.inviter.get(&s.inviter).map_or(0, |k| k.accounts);
            if fanout <= caps.inviter {
                self.union(inviter_node, node);
            }
        }
    }

    /// Adds something a recorded member did at `at` (a member never recorded is skipped: its
    /// sign-up has not reached the state).
    pub fn record_deed(&mut self, member: Sym, at: i64, deed: Deed) {
        let Some(&node) = self.nodes.get(&member) else {
            return;
        };
        let account = &mut self.accounts[node as usize];
        let was_ordered = account.flags & ORDERED != 0;
        let delta = account.apply(at, deed);
        let a = *account;
        let root = self.find(node) as usize;
        self.groups[root].deeds.add(&delta);
        for (map, key) in [
            (&mut self.device, a.device),
            (&mut self.phone, a.phone),
            (&mut self.ip24, a.range),
        ] {
            if let Some(k) = (key != NONE).then(|| map.get_mut(&key)).flatten() {
                k.deeds.add(&delta);
            }
        }
        if !was_ordered && a.flags & ORDERED != 0 {
            self.trees.entry(a.tree).or_default().ordered += 1;
        }
    }

    /// Adds a reviewed outcome for a recorded member (1 = wool, 0 = genuine).
    pub fn record_label(&mut self, member: Sym, label: u8) {
        let Some(&node) = self.nodes.get(&member) else {
            return;
        };
        let root = self.find(node) as usize;
        let wool = u32::from(label == 1);
        self.groups[root].labelled += 1;
        self.groups[root].wool += wool;
        let inviter = self.accounts[node as usize].inviter;
        if inviter != NONE {
            let r = self.inviter_record.entry(inviter).or_default();
            r.labelled += 1;
            r.wool += wool;
        }
    }

    /// Bytes the state holds on the heap, from the capacity of every table in it (hash tables
    /// counted at one control byte per slot): what an account costs to keep.
    pub fn heap_bytes(&self) -> usize {
        fn table<K, V>(m: &HashMap<K, V>) -> usize {
            m.capacity() * (std::mem::size_of::<(K, V)>() + 1)
        }
        fn vec<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        let keyed = [
            &self.device,
            &self.phone,
            &self.ip24,
            &self.inviter,
            &self.campaign,
        ];
        self.keys.heap_bytes()
            + keyed.iter().map(|m| m.heap_bytes()).sum::<usize>()
            + table(&self.ip_range)
            + table(&self.inviter_record)
            + table(&self.nodes)
            + table(&self.trees)
            + vec(&self.accounts)
            + vec(&self.parent)
            + vec(&self.next)
            + vec(&self.groups)
    }

    fn map(&mut self, kind: KeyKind) -> &mut KeyTable {
        match kind {
            KeyKind::Device => &mut self.device,
            KeyKind::Phone => &mut self.phone,
            KeyKind::Ip24 => &mut self.ip24,
            KeyKind::Inviter => &mut self.inviter,
            KeyKind::Campaign => &mut self.campaign,
        }
    }
}

/// The /24 range of an IPv4 address (the /48 of an IPv6 one): the key sign-ups share as an IP
/// range, and the key IP-range lists are written in.
pub fn ip_range(ip: &str) -> String {
    if ip.contains(':') {
        ip.splitn(4, ':').take(3).collect::<Vec<_>>().join(":")
    } else {
        ip.rsplit_once('.').map_or(ip, |(head, _)| head).to_string()
    }
}

/// The interned name of an address's range (see [`ip_range`]).
fn range_key(ip: &str) -> String {
    format!("range:{}", ip_range(ip))
}

/// `None` when the candidate has no such key, `Some(None)` when nobody has had it yet.
fn lookup(map: &KeyTable, key: Sym) -> Option<Option<&KeyStats>> {
    (key != NONE).then(|| map.get(&key))
}

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Device,
    Phone,
    Ip24,
    Inviter,
    Campaign,
}

/// The sign-up of history member `m`, in the symbols of `state` (which must have been created
/// from `history.keys`).
pub fn signup_of(history: &History, state: &mut RecruitState, m: u32) -> Signup {
    let mm = &history.members;
    let i = m as usize;
    Signup {
        member: state.keys.intern(mm.id(m)),
        joined_at: mm.joined_at[i],
        campaign: mm.campaign[i],
        inviter: mm.inviter[i],
        device: mm.device[i],
        ip: mm.ip[i],
        phone_prefix: mm.phone_prefix[i],
        phone_hash: mm.phone_hash[i],
    }
}

#[cfg(test)]
mod tests;
