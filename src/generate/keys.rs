//! Who a generated member really is (`MemberKind`), and how the keys they sign up with (device,
//! phone, IP, region) are spelt in the output.
//!
//! Keys are planned as small numbers and written as seeded hashes, so an id never reveals the
//! order it was made in, the gang it belongs to, or the seed's neighbours.

use std::fmt::Write as _;

use super::dist::mix64;
use crate::data::schema::VIRTUAL_PHONE_PREFIXES;

/// The behaviour behind a generated member: four genuine kinds and six kinds of wool account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberKind {
    /// Buys often, mostly at full price, climbs the tiers.
    Loyal,
    /// Buys now and then.
    Occasional,
    /// Genuine but loves coupons: claims every promo, tops baskets up to the threshold, still
    /// buys at full price sometimes. The hard negatives.
    DealSeeker,
    /// Joined and (almost) never came back.
    Dormant,
    /// One person, one or two accounts, in it for the coupon.
    LoneOpportunist,
    /// Many accounts on a few devices.
    DeviceFarm,
    /// Accounts on numbers bought from virtual operators, numbers reused across accounts.
    SimFarm,
    /// A burst of sign-ups from one IP range in the minutes after a campaign opens.
    IpBurst,
    /// An inviter and the many invitees it farms invite rewards with; the invitees never buy.
    InviteTree,
    /// Spread over devices and time, buys a little to look genuine.
    CarefulGang,
}

impl MemberKind {
    pub const ALL: [MemberKind; 10] = [
        MemberKind::Loyal,
        MemberKind::Occasional,
        MemberKind::DealSeeker,
        MemberKind::Dormant,
        MemberKind::LoneOpportunist,
        MemberKind::DeviceFarm,
        MemberKind::SimFarm,
        MemberKind::IpBurst,
        MemberKind::InviteTree,
        MemberKind::CarefulGang,
    ];

    pub fn is_wool(self) -> bool {
        !matches!(
            self,
            MemberKind::Loyal
                | MemberKind::Occasional
                | MemberKind::DealSeeker
                | MemberKind::Dormant
        )
    }

    /// The name written in truth.parquet.
    pub fn name(self) -> &'static str {
        match self {
            MemberKind::Loyal => "loyal",
            MemberKind::Occasional => "occasional",
            MemberKind::DealSeeker => "deal_seeker",
            MemberKind::Dormant => "dormant",
            MemberKind::LoneOpportunist => "lone_opportunist",
            MemberKind::DeviceFarm => "device_farm",
            MemberKind::SimFarm => "sim_farm",
            MemberKind::IpBurst => "ip_burst",
            MemberKind::InviteTree => "invite_tree",
            MemberKind::CarefulGang => "careful_gang",
        }
    }

    pub fn parse(s: &str) -> Option<MemberKind> {
        MemberKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Mobile number segments of the three carriers (the first three digits).
pub const CARRIER_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "185", "186",
    "187", "188", "189", "191", "195", "198", "199",
];

/// Index into `phone_prefix` space: carrier segments first, then the virtual ones.
pub fn phone_prefix(index: u8) -> &'static str {
    let i = usize::from(index);
    CARRIER_PREFIXES
        .get(i)
        .or_else(|| VIRTUAL_PHONE_PREFIXES.get(i.wrapping_sub(CARRIER_PREFIXES.len())))
        .copied()
        .unwrap_or("138")
}

pub fn carrier_prefix_count() -> u8 {
    CARRIER_PREFIXES.len() as u8
}

pub fn virtual_prefix_count() -> u8 {
    VIRTUAL_PHONE_PREFIXES.len() as u8
}

/// Provinces and their share of sign-ups.
pub const REGIONS: &[(&str, f64)] = &[
    ("guangdong", 12.0),
    ("zhejiang", 7.0),
    ("jiangsu", 7.5),
    ("shandong", 6.5),
    ("henan", 6.0),
    ("sichuan", 5.5),
    ("hubei", 4.5),
    ("hunan", 4.5),
    ("fujian", 4.0),
    ("shanghai", 4.0),
    ("beijing", 3.5),
    ("hebei", 4.5),
    ("anhui", 4.0),
    ("guangxi", 3.0),
    ("shaanxi", 3.0),
    ("jiangxi", 3.0),
    ("liaoning", 3.0),
    ("chongqing", 2.5),
    ("yunnan", 2.5),
    ("tianjin", 1.5),
];

pub fn region(index: u8) -> &'static str {
    REGIONS
        .get(usize::from(index))
        .map(|r| r.0)
        .unwrap_or("guangdong")
}

/// Spells planned keys; the seed is mixed in so that two seeds share no ids.
#[derive(Debug, Clone, Copy)]
pub struct Speller {
    salt: u64,
}

impl Speller {
    pub fn new(seed: u64) -> Self {
        Speller {
            salt: mix64(seed ^ 0x5eed_0fd3_71ce_0000),
        }
    }

    /// Writes member number `n`'s id (`M` and eight digits) into `out`.
    pub fn member_id_into(out: &mut String, n: u32) {
        out.clear();
        let _ = write!(out, "M{:08}", u64::from(n) + 1);
    }

    pub fn device_into(&self, out: &mut String, key: u64) {
        let _ = write!(
            out,
            "dv{:016x}",
            mix64(self.salt ^ key.wrapping_mul(0x9e37_79b9))
        );
    }

    pub fn phone_hash_into(&self, out: &mut String, key: u64) {
        let a = mix64(self.salt.rotate_left(17) ^ key);
        let b = mix64(a ^ 0xa5a5_a5a5);
        let _ = write!(out, "{a:016x}{b:016x}");
    }

    /// A public-looking IPv4 address in the /24 `range`, host `host`.
    pub fn ip_into(&self, out: &mut String, range: u32, host: u8) {
        let h = mix64(self.salt.rotate_left(31) ^ u64::from(range));
        // First octets that are not private, loopback, shared or link-local.
        let mut a = 1 + (h % 222) as u8;
        if matches!(a, 10 | 100 | 127 | 169 | 172 | 192) {
            a += 1;
        }
        let b = (h >> 8) as u8;
        let c = (h >> 16) as u8;
        let _ = write!(out, "{a}.{b}.{c}.{}", host.max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_split_into_wool_and_genuine() {
        for k in MemberKind::ALL {
            assert_eq!(MemberKind::parse(k.name()), Some(k));
        }
        assert_eq!(MemberKind::ALL.iter().filter(|k| k.is_wool()).count(), 6);
        assert_eq!(MemberKind::parse("farm"), None);
    }

    #[test]
    fn keys_are_spelt_stably_and_differ_by_seed() {
        let spell = |f: &dyn Fn(&mut String)| {
            let mut s = String::new();
            f(&mut s);
            s
        };
        let a = Speller::new(1);
        let b = Speller::new(2);
        let device = |sp: &Speller, k| spell(&|s| sp.device_into(s, k));
        assert_eq!(device(&a, 7), device(&a, 7));
        assert_ne!(device(&a, 7), device(&b, 7));
        assert_ne!(device(&a, 7), device(&a, 8));
        assert_eq!(spell(&|s| a.phone_hash_into(s, 3)).len(), 32);
        let ip = spell(&|s| a.ip_into(s, 5, 9));
        assert_eq!(ip.split('.').count(), 4, "{ip}");
        assert!(ip.ends_with(".9"));
        assert_eq!(spell(&|s| Speller::member_id_into(s, 0)), "M00000001");
        assert_eq!(phone_prefix(carrier_prefix_count()), "170");
        assert!(VIRTUAL_PHONE_PREFIXES.contains(&phone_prefix(carrier_prefix_count() + 4)));
    }
}
