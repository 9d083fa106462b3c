//! Planted patterns on top of the ordinary programme, for testing the diagnostics
//! (`woolguard generate --scenario silver-trap`).
//!
//! `silver-trap` plants the two things `woolguard diagnose` must flag (DESIGN.md §1):
//! 1. **The silver trap** (the beer brand's story): a points promotion in May 2024 pushes the
//!    programme's dead weight — dormant members and wool accounts who joined before it — and
//!    half of its occasional buyers (who had joined before it too) up to silver: each places two
//!    full-price orders during the promotion (together 600–960, enough for silver, not for
//!    platinum), then stops: no order, no points exchange, no coupon used ever after, though
//!    they still collect every coupon handed out (tier coupons, sale coupons). Their spend stays
//!    in the 365-day window until spring 2025, so from the promotion to the end of the history
//!    they hold silver while buying, exchanging and using coupons the least of all tiers.
//! 2. **A wool jump on one channel**: from June 2024 a wave of lone wool accounts signs up on
//!    `douyin` (2.5% of the members requested), so that channel's wool share in its latest
//!    labelled months jumps against its own earlier months.
//!
//! With `Scenario::None` nothing here runs and no random number is drawn for it: the output is
//! byte-identical to a generator without scenarios.

use serde::{Deserialize, Serialize};

use super::calendar::{utc, DAY, SALES};
use super::dist::mix64;
use super::keys::MemberKind;
use super::plan::Planned;

/// A planted pattern, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    #[default]
    None,
    SilverTrap,
}

impl Scenario {
    pub const ALL: [Scenario; 2] = [Scenario::None, Scenario::SilverTrap];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::None => "none",
            Scenario::SilverTrap => "silver-trap",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// The points promotion of the silver trap (China evening, 2024-05-13, for two weeks).
pub const PROMO_START: i64 = utc(2024, 5, 13, 12);
pub const PROMO_END: i64 = PROMO_START + 14 * DAY;
/// List amounts of each of the two promotion orders: from `PROMO_BASKET.0` to `PROMO_BASKET.1`.
pub const PROMO_BASKET: (f64, f64) = (300.0, 480.0);
/// Share of the eligible dead weight (dormant members, wool accounts) the promotion reaches, and
/// share of the eligible occasional buyers.
pub const TRAP_REACH: f64 = 1.0;
pub const OCCASIONAL_REACH: f64 = 0.5;

/// The channel whose wool share jumps, from when, and how many accounts (share of members).
pub const JUMP_CHANNEL: &str = "douyin";
pub const JUMP_FROM: i64 = utc(2024, 6, 1, 0);
pub const JUMP_SHARE: f64 = 0.025;

// The wave comes after the promotion.
const _: () = assert!(PROMO_END < JUMP_FROM);

/// Whether planned member `i` is caught by the silver trap: dormant, wool or an occasional
/// buyer, joined before the promotion, and reached by it (a hash of the seed and the member,
/// not the RNG stream).
pub fn trapped(seed: u64, i: usize, m: &Planned) -> bool {
    let reach = match m.kind {
        MemberKind::Dormant => TRAP_REACH,
        MemberKind::Occasional => OCCASIONAL_REACH,
        k if k.is_wool() => TRAP_REACH,
        _ => 0.0,
    };
    if reach == 0.0 || m.joined_at >= PROMO_START {
        return false;
    }
    let h = mix64(seed ^ 0x5117_e7a9 ^ (i as u64).wrapping_mul(0x9e37_79b9));
    let u = (h >> 11) as f64 / ((1u64 << 53) as f64);
    u < reach
}

/// The sales after the promotion whose coupons a trapped member collects.
pub fn sales_after_promo() -> impl Iterator<Item = &'static super::calendar::Sale> {
    SALES.iter().filter(|s| s.start >= PROMO_END)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        assert_eq!(Scenario::parse("Silver-Trap"), Some(Scenario::SilverTrap));
        assert_eq!(Scenario::parse("gold"), None);
    }
}
