//! Planning the population: who joins when, through which campaign and channel, with which
//! device, phone and IP, invited by whom, and what kind of member each one really is.
//!
//! Planning is sequential on one seeded RNG (it is a small part of the work and the shared keys
//! tie members together); the resulting members are sorted by join time, which fixes their ids.
//! Histories are generated afterwards, member by member, from this plan alone.
//!
//! The genuine members are planned here; `wool` plans the wool accounts.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::calendar::{
    at_hour, Campaign, DayShape, CAMPAIGNS, DAY, HOUR, LAST_JOIN, MINUTE, PEOPLE, START,
};
use super::dist::{chance, exp, lognormal, uniform, weighted};
use super::keys::{carrier_prefix_count, virtual_prefix_count, MemberKind, REGIONS};
use super::knobs::Knobs;
use super::scenario::{self, Scenario};
use crate::data::schema::CHANNELS;

mod wool;

pub const NO_CAMPAIGN: u16 = u16::MAX;
pub const NO_MEMBER: u32 = u32::MAX;
/// No device or phone (keys start at 1).
pub const NO_KEY: u64 = 0;
pub const NO_RANGE: u32 = u32::MAX;

/// One planned member. Keys are numbers here and spelt out when written (`keys::Speller`).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub joined_at: i64,
    pub device: u64,
    pub phone: u64,
    /// Position of the inviter (before sorting: in planning order; after: in join order).
    pub inviter: u32,
    pub ip_range: u32,
    /// The gang this wool account belongs to (0: none); its members act in step.
    pub group: u32,
    pub campaign: u16,
    pub kind: MemberKind,
    /// Index into `schema::CHANNELS`.
    pub channel: u8,
    pub ip_host: u8,
    /// Index into `keys::phone_prefix`.
    pub prefix: u8,
    /// Index into `keys::REGIONS`.
    pub region: u8,
}

/// The planned population, in join order (member `i` gets id number `i`).
#[derive(Debug, Clone, Default)]
pub struct Population {
    pub members: Vec<Planned>,
    /// Join times of each member's invitees (CSR: member `i`'s are
    /// `invitee_times[invitee_offsets[i]..invitee_offsets[i + 1]]`, sorted).
    pub invitee_offsets: Vec<u32>,
    pub invitee_times: Vec<i64>,
}

impl Population {
    pub fn invitees_of(&self, i: usize) -> &[i64] {
        match (self.invitee_offsets.get(i), self.invitee_offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.invitee_times[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// Plans `n` members for `seed` and the given knobs.
#[cfg(test)]
pub fn plan(seed: u64, n: usize, knobs: &Knobs) -> Population {
    plan_with(seed, n, knobs, Scenario::None)
}

/// Plans `n` members, with the members a scenario adds taken out of the `n` (none for
/// `Scenario::None`, which draws exactly what `plan` always drew).
pub fn plan_with(seed: u64, n: usize, knobs: &Knobs, scenario: Scenario) -> Population {
    let mut p = Planner::new(seed, n, *knobs);
    let jump = match scenario {
        Scenario::None => 0,
        Scenario::SilverTrap => ((n as f64) * scenario::JUMP_SHARE).round() as usize,
    }
    .min(n);
    let wool = ((n as f64) * knobs.wool_share).round() as usize;
    let genuine = (n - jump).saturating_sub(wool.min(n));
    p.plan_genuine(genuine);
    p.plan_wool(n - jump);
    p.plan_jump(n);
    p.hide_platform_keys();
    p.finish()
}

/// A brand store: POS sign-ups made on its tablet share its device and broadband IP.
#[derive(Debug, Clone, Copy)]
struct Store {
    device: u64,
    range: u32,
    region: u8,
}

/// A campus or carrier NAT range: thousands of genuine people behind one /24.
#[derive(Debug, Clone, Copy)]
struct Nat {
    range: u32,
    region: u8,
    campus: bool,
}

struct Planner {
    rng: ChaCha8Rng,
    k: Knobs,
    members: Vec<Planned>,
    next_device: u64,
    next_phone: u64,
    next_range: u32,
    next_group: u32,
    /// Residential /24s are drawn from `0..residential`, so unrelated people sometimes share one.
    residential: u32,
    nat: Vec<Nat>,
    stores: Vec<Store>,
    /// Popular genuine inviters (planning positions).
    kols: Vec<u32>,
    region_weights: Vec<f64>,
    reach: Vec<f64>,
    lure: Vec<f64>,
}

/// Relative sign-ups per channel outside campaigns.
const ORGANIC_CHANNELS: [f64; 6] = [0.25, 0.18, 0.14, 0.18, 0.15, 0.10];

/// Share of genuine sign-ups that come through no campaign.
const ORGANIC_SHARE: f64 = 0.3;

impl Planner {
    fn new(seed: u64, n: usize, k: Knobs) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let region_weights: Vec<f64> = REGIONS.iter().map(|r| r.1).collect();
        let residential = (n as u32).saturating_mul(2).max(64);
        let mut next_range = residential;
        let n_nat = (n / 25_000).clamp(2, 60);
        let nat = (0..n_nat)
            .map(|i| {
                let range = next_range;
                next_range += 1;
                Nat {
                    range,
                    region: weighted(&mut rng, &region_weights) as u8,
                    campus: i % 2 == 0,
                }
            })
            .collect();
        let n_stores = (n / 2_500).max(4);
        let mut next_device = 1;
        let stores = (0..n_stores)
            .map(|_| {
                let s = Store {
                    device: next_device,
                    range: next_range,
                    region: weighted(&mut rng, &region_weights) as u8,
                };
                next_device += 1;
                next_range += 1;
                s
            })
            .collect();
        Planner {
            rng,
            k,
            members: Vec::with_capacity(n),
            next_device,
            next_phone: 1,
            next_range,
            next_group: 1,
            residential,
            nat,
            stores,
            kols: Vec::new(),
            region_weights,
            reach: CAMPAIGNS.iter().map(|c| c.reach).collect(),
            lure: CAMPAIGNS.iter().map(|c| c.reach * c.generosity()).collect(),
        }
    }

    // ---- keys -------------------------------------------------------------------------------

    fn new_device(&mut self) -> u64 {
        let d = self.next_device;
        self.next_device += 1;
        d
    }

    /// A new phone number: its key and its segment (carrier or virtual).
    fn new_phone(&mut self, virtual_segment: bool) -> (u64, u8) {
        let key = self.next_phone;
        self.next_phone += 1;
        let prefix = if virtual_segment {
            carrier_prefix_count() + self.rng.random_range(0..virtual_prefix_count())
        } else {
            self.rng.random_range(0..carrier_prefix_count())
        };
        (key, prefix)
    }

    fn new_range(&mut self) -> u32 {
        let r = self.next_range;
        self.next_range += 1;
        r
    }

    fn host(&mut self) -> u8 {
        self.rng.random_range(2..=254)
    }

    fn residential(&mut self) -> (u32, u8) {
        (self.rng.random_range(0..self.residential), self.host())
    }

    fn region(&mut self) -> u8 {
        weighted(&mut self.rng, &self.region_weights) as u8
    }

    fn channel_index(name: &str) -> u8 {
        CHANNELS.iter().position(|c| *c == name).unwrap_or(0) as u8
    }

    fn group(&mut self) -> u32 {
        let g = self.next_group;
        self.next_group += 1;
        g
    }

    fn push(&mut self, m: Planned) -> u32 {
        self.members.push(m);
        (self.members.len() - 1) as u32
    }

    // ---- join times -------------------------------------------------------------------------

    /// A campaign sign-up: in the opening minutes with probability `at_open`, otherwise spread
    /// over the campaign (more early than late), at an hour people or scripts are active.
    fn join_in(&mut self, c: &Campaign, at_open: f64, minutes: f64, shape: &DayShape) -> i64 {
        if chance(&mut self.rng, at_open) {
            return c.start + (exp(&mut self.rng, minutes) * MINUTE as f64) as i64 + 1;
        }
        let span = (c.days * DAY) as f64;
        let u: f64 = self.rng.random();
        let t = at_hour(&mut self.rng, c.start + (span * u.powf(1.6)) as i64, shape);
        // The first day's hours before the opening reflect to after it.
        let t = if t < c.start + HOUR {
            c.start + HOUR + (c.start - t).abs()
        } else {
            t
        };
        t.min(LAST_JOIN)
    }

    fn organic_time(&mut self) -> i64 {
        let t = uniform(&mut self.rng, (START + HOUR) as f64, LAST_JOIN as f64) as i64;
        at_hour(&mut self.rng, t, &PEOPLE).clamp(START + HOUR, LAST_JOIN)
    }

    /// Campaign and join time of a genuine sign-up.
    fn genuine_join(&mut self) -> (u16, i64) {
        if chance(&mut self.rng, ORGANIC_SHARE) {
            return (NO_CAMPAIGN, self.organic_time());
        }
        let ci = weighted(&mut self.rng, &self.reach);
        let t = self.join_in(&CAMPAIGNS[ci], self.k.at_open, 12.0, &PEOPLE);
        (ci as u16, t)
    }

    /// A campaign running at `t`, if any (the later sign-up of a family member joins through
    /// whatever is on).
    fn campaign_at(&mut self, t: i64) -> u16 {
        let running: Vec<usize> = (0..CAMPAIGNS.len())
            .filter(|&i| CAMPAIGNS[i].start <= t && t < CAMPAIGNS[i].end())
            .collect();
        if running.is_empty() || chance(&mut self.rng, ORGANIC_SHARE) {
            NO_CAMPAIGN
        } else {
            running[self.rng.random_range(0..running.len())] as u16
        }
    }

    fn channel_for(&mut self, campaign: u16) -> u8 {
        match CAMPAIGNS.get(usize::from(campaign)) {
            Some(c) => Self::channel_index(c.channel),
            None => weighted(&mut self.rng, &ORGANIC_CHANNELS) as u8,
        }
    }

    // ---- genuine members --------------------------------------------------------------------

    fn genuine_kind(&mut self) -> MemberKind {
        let w = [0.14, 0.50 - self.k.deal_seekers, self.k.deal_seekers, 0.36];
        match weighted(&mut self.rng, &w) {
            0 => MemberKind::Loyal,
            1 => MemberKind::Occasional,
            2 => MemberKind::DealSeeker,
            _ => MemberKind::Dormant,
        }
    }

    /// A genuine member joining at `t` through `campaign`, with the keys a person has.
    fn genuine(&mut self, kind: MemberKind, campaign: u16, t: i64) -> Planned {
        let channel = self.channel_for(campaign);
        let mut region = self.region();
        let mut device = self.new_device();
        let (mut ip_range, mut ip_host) = self.residential();
        let mut kind = kind;
        if CHANNELS.get(usize::from(channel)) == Some(&"pos")
            && chance(&mut self.rng, self.k.store_device)
        {
            let s = self.stores[self.rng.random_range(0..self.stores.len())];
            device = s.device;
            ip_range = s.range;
            ip_host = 1;
            region = s.region;
        } else if chance(&mut self.rng, self.k.nat) {
            let n = self.nat[self.rng.random_range(0..self.nat.len())];
            ip_range = n.range;
            region = n.region;
            // Students behind a campus NAT hunt deals more than most.
            if n.campus && chance(&mut self.rng, 0.3) {
                kind = MemberKind::DealSeeker;
            }
        }
        let virtual_segment = chance(&mut self.rng, self.k.genuine_virtual);
        let (mut phone, mut prefix) = self.new_phone(virtual_segment);
        if chance(&mut self.rng, self.k.recycled_phone) {
            // Carriers hand a cancelled number to someone else after a while.
            if let Some(j) = self.earlier(t - 90 * DAY, |m| m.phone != NO_KEY) {
                phone = self.members[j as usize].phone;
                prefix = self.members[j as usize].prefix;
            }
        }
        Planned {
            joined_at: t,
            device,
            phone,
            inviter: NO_MEMBER,
            ip_range,
            group: 0,
            campaign,
            kind,
            channel,
            ip_host,
            prefix,
            region,
        }
    }

    /// A random member already planned who joined before `t` and passes `ok`.
    fn earlier(&mut self, t: i64, ok: impl Fn(&Planned) -> bool) -> Option<u32> {
        if self.members.is_empty() {
            return None;
        }
        for _ in 0..12 {
            let j = self.rng.random_range(0..self.members.len());
            let m = &self.members[j];
            if m.joined_at < t && ok(m) {
                return Some(j as u32);
            }
        }
        None
    }

    fn plan_genuine(&mut self, budget: usize) {
        let start = self.members.len();
        let planned = |p: &Planner| p.members.len() - start;
        self.plan_kols(budget);
        while planned(self) < budget {
            let left = budget - planned(self);
            if left > 1 && chance(&mut self.rng, self.k.family / 2.5) {
                self.plan_family(left);
                continue;
            }
            let kind = self.genuine_kind();
            let (campaign, t) = self.genuine_join();
            let mut m = self.genuine(kind, campaign, t);
            let fission = CAMPAIGNS
                .get(usize::from(campaign))
                .is_some_and(|c| c.fission);
            if fission && chance(&mut self.rng, 0.5) {
                if let Some(j) = self.earlier(t - HOUR, |m| !m.kind.is_wool()) {
                    m.inviter = j;
                }
            }
            self.push(m);
        }
    }

    /// Popular genuine inviters (one per ~10,000 genuine members), each with a crowd of genuine
    /// invitees from the fission campaigns: a busy benign inviter key.
    fn plan_kols(&mut self, budget: usize) {
        let n_kols = (budget / 10_000).max(1);
        let invitees_total = (budget as f64 * 0.035) as usize;
        let fissions: Vec<usize> = (0..CAMPAIGNS.len())
            .filter(|&i| CAMPAIGNS[i].fission)
            .collect();
        for _ in 0..n_kols {
            let t = START + HOUR + (uniform(&mut self.rng, 0.0, 60.0) * DAY as f64) as i64;
            let t = at_hour(&mut self.rng, t, &PEOPLE).max(START + HOUR);
            let kol = self.genuine(MemberKind::Loyal, NO_CAMPAIGN, t);
            let kol_idx = self.push(kol);
            self.kols.push(kol_idx);
            let fans =
                ((invitees_total / n_kols) as f64 * lognormal(&mut self.rng, 1.0, 0.4)) as usize;
            for _ in 0..fans.min(budget.saturating_sub(self.members.len())) {
                let ci = fissions[self.rng.random_range(0..fissions.len())];
                let c = CAMPAIGNS[ci];
                let t = self
                    .join_in(&c, self.k.at_open, 12.0, &PEOPLE)
                    .max(t + HOUR);
                let kind = self.genuine_kind();
                let mut m = self.genuine(kind, ci as u16, t);
                m.inviter = kol_idx;
                self.push(m);
            }
        }
    }

    /// Two to four genuine members on one device and one home IP, joining weeks apart.
    fn plan_family(&mut self, left: usize) {
        let size = self.rng.random_range(2..=4usize).min(left);
        let kind = self.genuine_kind();
        let (campaign, t) = self.genuine_join();
        let head = self.genuine(kind, campaign, t);
        let (device, range, host, region) = (head.device, head.ip_range, head.ip_host, head.region);
        self.push(head);
        for _ in 1..size {
            let t2 = t + (exp(&mut self.rng, 40.0) * DAY as f64) as i64;
            let t2 = at_hour(&mut self.rng, t2, &PEOPLE).max(t + HOUR);
            if t2 >= LAST_JOIN {
                continue;
            }
            let campaign = self.campaign_at(t2);
            let kind = self.genuine_kind();
            let mut m = self.genuine(kind, campaign, t2);
            m.device = device;
            m.ip_range = range;
            m.ip_host = host;
            m.region = region;
            self.push(m);
        }
    }

    // ---- finishing --------------------------------------------------------------------------

    /// Tmall and JD do not pass the shopper's device to the brand, and often not the IP.
    fn hide_platform_keys(&mut self) {
        let tmall = Self::channel_index("tmall");
        let jd = Self::channel_index("jd");
        for m in &mut self.members {
            if m.channel == tmall || m.channel == jd {
                if chance(&mut self.rng, 0.6) {
                    m.device = NO_KEY;
                }
                if chance(&mut self.rng, 0.3) {
                    m.ip_range = NO_RANGE;
                }
            }
        }
    }

    /// Sorts by join time, renumbers inviters, indexes invitees.
    fn finish(self) -> Population {
        let members = self.members;
        let mut order: Vec<u32> = (0..members.len() as u32).collect();
        order.sort_by_key(|&i| (members[i as usize].joined_at, i));
        let mut rank = vec![0u32; members.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        let sorted: Vec<Planned> = order
            .iter()
            .map(|&i| {
                let mut m = members[i as usize].clone();
                if m.inviter != NO_MEMBER {
                    m.inviter = rank[m.inviter as usize];
                }
                m
            })
            .collect();
        let mut offsets = vec![0u32; sorted.len() + 1];
        for m in &sorted {
            if m.inviter != NO_MEMBER {
                offsets[m.inviter as usize + 1] += 1;
            }
        }
        for i in 0..sorted.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut times = vec![0i64; offsets[sorted.len()] as usize];
        // Members are in join order, so each inviter's list fills already sorted.
        for m in &sorted {
            if m.inviter != NO_MEMBER {
                let slot = &mut next[m.inviter as usize];
                times[*slot as usize] = m.joined_at;
                *slot += 1;
            }
        }
        Population {
            members: sorted,
            invitee_offsets: offsets,
            invitee_times: times,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn population(n: usize, seed: u64) -> Population {
        plan(seed, n, &Knobs::new(0.5))
    }

    #[test]
    fn plans_the_requested_members_in_join_order() {
        let p = population(3_000, 1);
        assert_eq!(p.members.len(), 3_000);
        assert!(p
            .members
            .windows(2)
            .all(|w| w[0].joined_at <= w[1].joined_at));
        assert!(p
            .members
            .iter()
            .all(|m| (START..LAST_JOIN + 1).contains(&m.joined_at)));
        let wool = p.members.iter().filter(|m| m.kind.is_wool()).count();
        let share = wool as f64 / 3_000.0;
        assert!((0.07..0.13).contains(&share), "wool share {share}");
    }

    #[test]
    fn inviters_join_before_their_invitees() {
        let p = population(5_000, 2);
        let mut invited = 0;
        for (i, m) in p.members.iter().enumerate() {
            if m.inviter != NO_MEMBER {
                invited += 1;
                assert!(
                    (m.inviter as usize) < i,
                    "member {i} invited by a later member"
                );
                assert!(p.members[m.inviter as usize].joined_at < m.joined_at);
            }
        }
        assert!(invited > 100, "{invited} invited members");
        assert_eq!(p.invitee_times.len(), invited);
    }

    #[test]
    fn planning_is_deterministic_for_a_seed() {
        let a = population(2_000, 9);
        let b = population(2_000, 9);
        let c = population(2_000, 10);
        assert_eq!(a.members, b.members);
        assert_ne!(a.members, c.members);
    }
}
