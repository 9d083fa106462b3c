//! Planning the wool accounts: lone opportunists, device and SIM farms, IP bursts, invite trees
//! and careful gangs, each a gang drawn whole, and a scenario's wool wave on one channel.

use rand::Rng;

use super::{Planned, Planner, NO_CAMPAIGN, NO_KEY, NO_MEMBER};
use crate::generate::calendar::{
    at_hour, CAMPAIGNS, DAY, HOUR, LAST_JOIN, MINUTE, PEOPLE, SCRIPTS, START,
};
use crate::generate::dist::{chance, exp, lognormal, uniform, weighted};
use crate::generate::keys::MemberKind;
use crate::generate::scenario;

impl Planner {
    pub(super) fn plan_wool(&mut self, total: usize) {
        // The mix is in accounts; a pick makes a whole gang, so weigh each kind by the
        // inverse of its mean gang size.
        let k = self.k;
        let sizes = [
            1.2,
            k.farm_size * 1.13,
            k.farm_size * 1.13,
            k.farm_size * 1.7,
            k.farm_size * 2.26,
            9.0,
        ];
        let picks: Vec<f64> = k.wool_mix.iter().zip(sizes).map(|(w, s)| w / s).collect();
        while self.members.len() < total {
            let left = total - self.members.len();
            match weighted(&mut self.rng, &picks) {
                0 => self.lone(left),
                1 => self.device_farm(left),
                2 => self.sim_farm(left),
                3 => self.ip_burst(left),
                4 => self.invite_tree(left),
                _ => self.careful_gang(left),
            }
        }
    }

    /// The scenario's wool wave on one channel: lone accounts joining from `JUMP_FROM` on, until
    /// `total` members are planned (nothing, and no draw, when they already are).
    pub(super) fn plan_jump(&mut self, total: usize) {
        let channel = Self::channel_index(scenario::JUMP_CHANNEL);
        while self.members.len() < total {
            let t = uniform(&mut self.rng, scenario::JUMP_FROM as f64, LAST_JOIN as f64) as i64;
            let t = at_hour(&mut self.rng, t, &PEOPLE).clamp(scenario::JUMP_FROM, LAST_JOIN);
            let campaign = (0..CAMPAIGNS.len())
                .find(|&i| {
                    let c = &CAMPAIGNS[i];
                    c.channel == scenario::JUMP_CHANNEL && c.start <= t && t < c.end()
                })
                .map_or(NO_CAMPAIGN, |i| i as u16);
            let mut m = self.wool_account(MemberKind::LoneOpportunist, campaign, t, 0);
            m.channel = channel;
            self.push(m);
        }
    }

    fn gang_size(&mut self, median: f64, left: usize) -> usize {
        (lognormal(&mut self.rng, median, 0.5).round() as usize)
            .clamp(3, 400)
            .min(left)
    }

    /// The campaign a gang goes for: the more generous the coupon, the likelier.
    fn lure(&mut self) -> usize {
        weighted(&mut self.rng, &self.lure)
    }

    fn wool_account(&mut self, kind: MemberKind, campaign: u16, t: i64, group: u32) -> Planned {
        let channel = self.channel_for(campaign);
        let virtual_segment = chance(&mut self.rng, self.k.wool_virtual);
        let (phone, prefix) = self.new_phone(virtual_segment);
        let (ip_range, ip_host) = self.residential();
        Planned {
            joined_at: t,
            device: self.new_device(),
            phone,
            inviter: NO_MEMBER,
            ip_range,
            group,
            campaign,
            kind,
            channel,
            ip_host,
            prefix,
            region: self.region(),
        }
    }

    /// One person, one account (sometimes a second on the same phone's device).
    fn lone(&mut self, left: usize) {
        let (campaign, t) = if chance(&mut self.rng, 0.75) {
            let ci = self.lure();
            let t = self.join_in(&CAMPAIGNS[ci], 0.15, 15.0, &PEOPLE);
            (ci as u16, t)
        } else {
            (NO_CAMPAIGN, self.organic_time())
        };
        let mut m = self.wool_account(MemberKind::LoneOpportunist, campaign, t, 0);
        if chance(&mut self.rng, self.k.nat) {
            let n = self.nat[self.rng.random_range(0..self.nat.len())];
            m.ip_range = n.range;
            m.region = n.region;
        }
        let second = left > 1 && chance(&mut self.rng, 0.2);
        let twin = m.clone();
        self.push(m);
        if second {
            let virtual_segment = chance(&mut self.rng, self.k.wool_virtual);
            let (phone, prefix) = self.new_phone(virtual_segment);
            let t2 = (t + (exp(&mut self.rng, 2.0) * DAY as f64) as i64).min(LAST_JOIN);
            let campaign = self.campaign_at(t2);
            self.push(Planned {
                joined_at: t2.max(t + 1),
                phone,
                prefix,
                campaign,
                ..twin
            });
        }
    }

    /// Many accounts on a few devices, one region, signing up in a burst.
    fn device_farm(&mut self, left: usize) {
        let size = self.gang_size(self.k.farm_size, left);
        let group = self.group();
        let ci = self.lure();
        let c = CAMPAIGNS[ci];
        let t0 = self.join_in(&c, self.k.wool_at_open, 5.0, &SCRIPTS);
        let per_device = lognormal(&mut self.rng, self.k.per_device, 0.4).max(2.0);
        let n_devices = ((size as f64 / per_device).ceil() as usize).max(1);
        let devices: Vec<u64> = (0..n_devices).map(|_| self.new_device()).collect();
        let shared_ip = chance(&mut self.rng, 0.6);
        let range = self.new_range();
        let region = self.region();
        for i in 0..size {
            let t = (t0 + (exp(&mut self.rng, self.k.burst_minutes) * MINUTE as f64) as i64)
                .min(LAST_JOIN);
            let mut m = self.wool_account(MemberKind::DeviceFarm, ci as u16, t, group);
            m.device = devices[i % n_devices];
            m.region = region;
            if shared_ip {
                m.ip_range = range;
                m.ip_host = 1 + (i % 3) as u8;
            }
            self.push(m);
        }
    }

    /// Accounts on numbers bought in bulk from virtual operators; a number serves several
    /// accounts over time, devices come from emulators, sign-ups hit one to three campaigns.
    fn sim_farm(&mut self, left: usize) {
        let size = self.gang_size(self.k.farm_size, left);
        let group = self.group();
        let n_sims = ((size as f64 * uniform(&mut self.rng, 0.5, 0.9)).ceil() as usize).max(1);
        let sims: Vec<(u64, u8)> = (0..n_sims)
            .map(|_| {
                let v = chance(&mut self.rng, self.k.sim_virtual);
                self.new_phone(v)
            })
            .collect();
        let emulator = chance(&mut self.rng, 0.6);
        let pool: Vec<u64> = (0..(size / 8).max(1)).map(|_| self.new_device()).collect();
        let proxied = chance(&mut self.rng, 0.5);
        let range = self.new_range();
        let n_campaigns = self.rng.random_range(1..=3usize);
        let targets: Vec<(usize, i64)> = (0..n_campaigns)
            .map(|_| {
                let ci = self.lure();
                let t0 = self.join_in(&CAMPAIGNS[ci], self.k.wool_at_open, 5.0, &SCRIPTS);
                (ci, t0)
            })
            .collect();
        for i in 0..size {
            let (ci, t0) = targets[i % n_campaigns];
            let t = (t0 + (exp(&mut self.rng, 3.0 * self.k.burst_minutes) * MINUTE as f64) as i64)
                .min(LAST_JOIN);
            let mut m = self.wool_account(MemberKind::SimFarm, ci as u16, t, group);
            (m.phone, m.prefix) = sims[i % n_sims];
            if !emulator {
                m.device = pool[i % pool.len()];
            }
            if !proxied {
                m.ip_range = range;
                m.ip_host = self.host();
            }
            self.push(m);
        }
    }

    /// Sign-ups from one or two /24s in the minutes after a campaign opens.
    fn ip_burst(&mut self, left: usize) {
        let size = self.gang_size(self.k.farm_size * 1.5, left);
        let group = self.group();
        let ci = self.lure();
        let c = CAMPAIGNS[ci];
        let t0 = c.start + (exp(&mut self.rng, 4.0) * MINUTE as f64) as i64 + 1;
        let ranges = [self.new_range(), self.new_range()];
        let two = chance(&mut self.rng, 0.5);
        let unique_devices = chance(&mut self.rng, 0.7);
        let pool: Vec<u64> = (0..(size / 6).max(1)).map(|_| self.new_device()).collect();
        let region = self.region();
        for i in 0..size {
            let t = (t0 + (exp(&mut self.rng, self.k.burst_minutes) * MINUTE as f64) as i64)
                .min(LAST_JOIN);
            let mut m = self.wool_account(MemberKind::IpBurst, ci as u16, t, group);
            m.ip_range = ranges[usize::from(two && i % 2 == 1)];
            m.ip_host = self.host();
            m.region = region;
            if !unique_devices {
                m.device = pool[i % pool.len()];
            }
            self.push(m);
        }
    }

    /// An inviter account and the crowd it invites during a fission campaign; a few invitees
    /// invite further. Invitees join in clusters (a script run each) and never buy.
    fn invite_tree(&mut self, left: usize) {
        let size = self.gang_size(self.k.farm_size * 2.0, left).max(2);
        let group = self.group();
        let fissions: Vec<usize> = (0..CAMPAIGNS.len())
            .filter(|&i| CAMPAIGNS[i].fission)
            .collect();
        let weights: Vec<f64> = fissions.iter().map(|&i| self.lure[i]).collect();
        let ci = fissions[weighted(&mut self.rng, &weights)];
        let c = CAMPAIGNS[ci];
        let root_t =
            (c.start - (uniform(&mut self.rng, 1.0, 45.0) * DAY as f64) as i64).max(START + HOUR);
        let root_campaign = self.campaign_at(root_t);
        let root = self.wool_account(MemberKind::InviteTree, root_campaign, root_t, group);
        let root_idx = self.push(root);
        let shared_devices = chance(&mut self.rng, 0.6);
        let pool: Vec<u64> = (0..((size as f64 / self.k.per_device).ceil() as usize).max(1))
            .map(|_| self.new_device())
            .collect();
        let farm_ip = chance(&mut self.rng, 0.5);
        let range = self.new_range();
        let clusters = (size / 12).max(1);
        let bases: Vec<i64> = (0..clusters)
            .map(|_| {
                let t = c.start + (uniform(&mut self.rng, 0.0, c.days as f64) * DAY as f64) as i64;
                at_hour(&mut self.rng, t, &SCRIPTS).max(c.start + 1)
            })
            .collect();
        let mut times: Vec<i64> = (1..size)
            .map(|i| {
                let b = bases[i % clusters];
                (b + (exp(&mut self.rng, 20.0) * MINUTE as f64) as i64).min(LAST_JOIN)
            })
            .collect();
        times.sort_unstable();
        let mut inviters = vec![root_idx];
        for (i, t) in times.into_iter().enumerate() {
            let mut m = self.wool_account(MemberKind::InviteTree, ci as u16, t, group);
            let pick = if inviters.len() > 1 && chance(&mut self.rng, 0.25) {
                inviters[self.rng.random_range(1..inviters.len())]
            } else {
                root_idx
            };
            m.inviter = if self.members[pick as usize].joined_at < t {
                pick
            } else {
                root_idx
            };
            if shared_devices {
                m.device = pool[i % pool.len()];
            }
            if farm_ip {
                m.ip_range = range;
                m.ip_host = self.host();
            }
            let idx = self.push(m);
            if chance(&mut self.rng, 0.04) {
                inviters.push(idx);
            }
        }
    }

    /// A gang that spreads over devices, numbers and days like people do; some route through
    /// a campus/carrier NAT or sign up under a popular genuine inviter.
    fn careful_gang(&mut self, left: usize) {
        let size = self.gang_size(8.0, left);
        let group = self.group();
        let camo = chance(&mut self.rng, self.k.camouflage);
        let fissions: Vec<usize> = (0..CAMPAIGNS.len())
            .filter(|&i| CAMPAIGNS[i].fission)
            .collect();
        let via_kol = camo && !self.kols.is_empty() && chance(&mut self.rng, 0.5);
        let ci = if via_kol {
            fissions[self.rng.random_range(0..fissions.len())]
        } else {
            self.lure()
        };
        let c = CAMPAIGNS[ci];
        let kol = if via_kol {
            Some(self.kols[self.rng.random_range(0..self.kols.len())])
        } else {
            None
        };
        let nat = self.nat[self.rng.random_range(0..self.nat.len())];
        let mut pair_device = NO_KEY;
        for i in 0..size {
            let t = self.join_in(&c, self.k.at_open, 12.0, &PEOPLE);
            let mut m = self.wool_account(MemberKind::CarefulGang, ci as u16, t, group);
            let virtual_segment = chance(&mut self.rng, 0.08);
            let (phone, prefix) = self.new_phone(virtual_segment);
            m.phone = phone;
            m.prefix = prefix;
            if i % 2 == 1 && chance(&mut self.rng, 0.25) && pair_device != NO_KEY {
                m.device = pair_device;
            }
            pair_device = m.device;
            if camo && chance(&mut self.rng, 0.6) {
                m.ip_range = nat.range;
                m.region = nat.region;
            }
            if let Some(k) = kol {
                if self.members[k as usize].joined_at < t {
                    m.inviter = k;
                }
            }
            self.push(m);
        }
    }
}
