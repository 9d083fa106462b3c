//! What a candidate reads of the sign-up state: its recruitment-time features as of its sign-up,
//! and the group it would join. [`RecruitState::features_and_group`] reads a sign-up about to be
//! recorded (its keys interned); [`RecruitState::peek`] reads a candidate that is not, changing
//! nothing. Both compute the row in one place, `read_features`.

use super::{lookup, range_key, share, Group, KeyStats, RecruitState, Signup, DAY, HOUR, MINUTE};
use crate::data::history::{Sym, NONE};
use crate::data::schema::VIRTUAL_PHONE_PREFIXES;

/// A candidate's values as given, for [`RecruitState::peek`] (`None` or empty: not given).
#[derive(Debug, Clone, Copy, Default)]
pub struct CandidateKeys<'a> {
    pub member: Option<&'a str>,
    pub campaign: Option<&'a str>,
    pub inviter: Option<&'a str>,
    pub device: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub phone_prefix: Option<&'a str>,
    pub phone_hash: Option<&'a str>,
}

/// A value the state never saw, in a read that interns nothing: found in no table, so it reads
/// as a key with no accounts (unlike [`NONE`], a value not given).
const UNSEEN: Sym = NONE - 1;

impl RecruitState {
    /// The candidate's features as of `s.joined_at`, from what was recorded before it.
    /// `out` must hold `FEATURES.len()` values; missing values are NaN.
    pub fn features(&mut self, s: &Signup, out: &mut [f64]) {
        self.features_and_group(s, out);
    }

    /// [`Self::features`], and the group the candidate would join (empty: none) with the member
    /// id of its first account.
    pub fn features_and_group(&mut self, s: &Signup, out: &mut [f64]) -> (Group, Option<&str>) {
        let range = self.range_of(s.ip);
        let prefix = self.keys.opt_name(s.phone_prefix).map(str::to_string);
        self.read_features(s, range, prefix.as_deref(), out)
    }

    /// [`Self::features_and_group`] for a candidate that is not recorded, without changing the
    /// state (nothing interned: reading many candidates does not grow it), so that candidates
    /// can be read side by side. `keys` are the candidate's values (`None`: not given); a value
    /// the state never saw reads as a key with no accounts, as an interned one would.
    pub fn peek(
        &self,
        keys: &CandidateKeys<'_>,
        joined_at: i64,
        out: &mut [f64],
    ) -> (Group, Option<&str>) {
        let sym = |v: Option<&str>| match v.filter(|v| !v.is_empty()) {
            None => NONE,
            Some(v) => self.keys.get(v).unwrap_or(UNSEEN),
        };
        let s = Signup {
            member: sym(keys.member),
            joined_at,
            campaign: sym(keys.campaign),
            inviter: sym(keys.inviter),
            device: sym(keys.device),
            ip: sym(keys.ip),
            phone_prefix: NONE,
            phone_hash: sym(keys.phone_hash),
        };
        let range = match keys.ip.filter(|v| !v.is_empty()) {
            None => NONE,
            Some(ip) => match self.ip_range.get(&s.ip) {
                Some(&r) => r,
                None => self.keys.get(&range_key(ip)).unwrap_or(UNSEEN),
            },
        };
        let prefix = keys.phone_prefix.filter(|v| !v.is_empty());
        self.read_features(&s, range, prefix, out)
    }

    /// The candidate's features from what was recorded before it, its IP range and phone prefix
    /// given.
    fn read_features(
        &self,
        s: &Signup,
        range: Sym,
        prefix: Option<&str>,
        out: &mut [f64],
    ) -> (Group, Option<&str>) {
        let t = s.joined_at;
        let device = lookup(&self.device, s.device);
        let phone = lookup(&self.phone, s.phone_hash);
        let ip24 = lookup(&self.ip24, range);
        let inviter = lookup(&self.inviter, s.inviter);
        let campaign = lookup(&self.campaign, s.campaign);
        let count = |k: Option<Option<&KeyStats>>| match k {
            None => f64::NAN,
            Some(k) => k.map_or(0.0, |k| k.accounts as f64),
        };
        let since = |k: Option<Option<&KeyStats>>, window: i64| match k {
            None => f64::NAN,
            Some(k) => k.map_or(0.0, |k| k.count_since(t - window) as f64),
        };
        out[0] = count(device);
        out[1] = count(phone);
        out[2] = count(ip24);
        out[3] = since(device, HOUR);
        out[4] = since(ip24, 10 * MINUTE);
        out[5] = since(ip24, HOUR);
        out[6] = since(campaign, 10 * MINUTE);
        out[7] = match campaign {
            None => f64::NAN,
            Some(None) => 0.0,
            Some(Some(c)) => (t - c.first_at) as f64 / MINUTE as f64,
        };
        out[8] = prefix.map_or(f64::NAN, |p| {
            f64::from(u8::from(VIRTUAL_PHONE_PREFIXES.contains(&p.trim())))
        });
        out[9] = count(inviter);
        out[10] = since(inviter, HOUR);
        out[11] = match (s.inviter != NONE).then(|| self.inviter_record.get(&s.inviter)) {
            Some(Some(r)) if r.labelled > 0 => r.wool as f64 / r.labelled as f64,
            _ => f64::NAN,
        };
        let inviter_node = self.nodes.get(&s.inviter).copied();
        out[12] = match (s.inviter != NONE).then_some(inviter_node) {
            Some(Some(n)) => {
                t.saturating_sub(self.accounts[n as usize].joined_at) as f64 / DAY as f64
            }
            _ => f64::NAN,
        };
        // The same merge rule as `record`: through keys still under their cap, and to the
        // inviter while the inviter is.
        let caps = self.caps;
        let mut nodes = Vec::with_capacity(5);
        for (k, cap) in [
            (device.flatten(), caps.device),
            (phone.flatten(), caps.phone),
            (ip24.flatten(), caps.ip24),
            (inviter.flatten(), caps.inviter),
        ] {
            if let Some(k) = k.filter(|k| k.accounts > 0 && k.accounts < cap) {
                nodes.push(k.first_node);
            }
        }
        let fanout = inviter.flatten().map_or(0, |k| k.accounts);
        if let Some(n) = inviter_node.filter(|_| fanout < caps.inviter) {
            nodes.push(n);
        }
        let g = self.prospective_group(&nodes);
        out[13] = f64::from(g.size);
        out[14] = f64::from(g.devices);
        out[15] = f64::from(g.ip24s);
        out[16] = if g.size == 0 {
            0.0
        } else {
            (t - g.first_at) as f64 / HOUR as f64
        };
        out[17] = g.wool_share();
        out[18] = (t.saturating_add(8 * HOUR).rem_euclid(DAY) / HOUR) as f64;
        let d = &g.deeds;
        out[19] = share(d.took_no_full(), g.size);
        out[20] = share(d.ordered, g.size);
        out[21] = share(d.full_price, g.size);
        out[22] = if d.redeemed_accounts == 0 {
            f64::NAN
        } else {
            d.redeem_hours / f64::from(d.redeemed_accounts)
        };
        out[23] = if g.size == 0 {
            f64::NAN
        } else {
            d.value_taken / f64::from(g.size)
        };
        out[24] = g.velocity.at(t);
        let close = [device.flatten(), phone.flatten()];
        let (n, took) = close.iter().flatten().fold((0, 0), |(n, took), k| {
            (n + k.accounts, took + k.deeds.took_no_full())
        });
        out[25] = share(took, n);
        out[26] = ip24
            .flatten()
            .map_or(f64::NAN, |k| share(k.deeds.took_no_full(), k.accounts));
        let (n, ordered) = [device.flatten(), phone.flatten(), ip24.flatten()]
            .iter()
            .flatten()
            .fold((0, 0), |(n, o), k| (n + k.accounts, o + k.deeds.ordered));
        out[27] = share(ordered, n);
        let tree = inviter_node.map(|n| {
            let a = &self.accounts[n as usize];
            (
                a.depth,
                self.trees.get(&a.tree).copied().unwrap_or_default(),
            )
        });
        out[28] = match (s.inviter != NONE, tree) {
            (false, _) => f64::NAN,
            (true, None) => 1.0,
            (true, Some((depth, _))) => f64::from(depth) + 1.0,
        };
        out[29] = tree.map_or(f64::NAN, |(_, t)| f64::from(t.accounts));
        out[30] = tree.map_or(f64::NAN, |(_, t)| {
            share(t.accounts.saturating_sub(t.ordered), t.accounts)
        });
        let first = (g.size > 0).then(|| self.first_member(&g)).flatten();
        (g, first)
    }
}
