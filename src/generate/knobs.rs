//! What `--difficulty` turns: how blatant the wool party is and how much genuine members look
//! like it. 0.0 is easy (big farms, virtual numbers, bursts at the opening minute, genuine members
//! who share little), 1.0 is hard (careful gangs, camouflage, many genuine look-alikes).
//! Every knob moves linearly between the two ends.

/// The generator's parameters derived from the difficulty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knobs {
    /// Share of wool accounts in the population.
    pub wool_share: f64,
    /// Relative numbers of wool accounts by kind: lone, device farm, SIM farm, IP burst, invite
    /// tree, careful gang.
    pub wool_mix: [f64; 6],
    /// Median accounts in a farm, a burst or an invite tree.
    pub farm_size: f64,
    /// Median accounts per device in a device farm.
    pub per_device: f64,
    /// Share of wool accounts (other than SIM farms) on virtual phone segments.
    pub wool_virtual: f64,
    /// Share of SIM farm numbers on virtual segments.
    pub sim_virtual: f64,
    /// Mean minutes over which a burst of sign-ups spreads.
    pub burst_minutes: f64,
    /// Share of farms and bursts that hit a campaign in its first minutes.
    pub wool_at_open: f64,
    /// Share of careful gangs that route through busy genuine keys (a NAT range, a popular
    /// inviter).
    pub camouflage: f64,
    /// Share of wool accounts that place small full-price orders to look genuine.
    pub looks_genuine: f64,
    /// Genuine members in families sharing one device and home IP.
    pub family: f64,
    /// Genuine members behind a campus or carrier NAT range.
    pub nat: f64,
    /// Genuine campaign sign-ups in the first minutes after it opens.
    pub at_open: f64,
    /// Genuine members on virtual phone segments.
    pub genuine_virtual: f64,
    /// Share of genuine members who are deal-seekers.
    pub deal_seekers: f64,
    /// POS sign-ups made on the store's tablet rather than the member's phone.
    pub store_device: f64,
    /// Genuine members whose number was recycled from an earlier member.
    pub recycled_phone: f64,
    /// Share of reviewed labels that are wrong.
    pub label_noise: f64,
}

fn lerp(a: f64, b: f64, d: f64) -> f64 {
    a + (b - a) * d
}

impl Knobs {
    /// `difficulty` in 0..=1 (checked by `Params::check`).
    pub fn new(difficulty: f64) -> Self {
        let d = difficulty.clamp(0.0, 1.0);
        Knobs {
            wool_share: lerp(0.12, 0.08, d),
            wool_mix: [
                lerp(0.20, 0.24, d),
                lerp(0.26, 0.12, d),
                lerp(0.18, 0.12, d),
                lerp(0.18, 0.12, d),
                lerp(0.14, 0.12, d),
                lerp(0.04, 0.28, d),
            ],
            farm_size: lerp(40.0, 14.0, d),
            per_device: lerp(20.0, 5.0, d),
            wool_virtual: lerp(0.55, 0.15, d),
            sim_virtual: lerp(0.98, 0.70, d),
            burst_minutes: lerp(8.0, 90.0, d),
            wool_at_open: lerp(0.9, 0.4, d),
            camouflage: lerp(0.1, 0.8, d),
            looks_genuine: lerp(0.03, 0.45, d),
            family: lerp(0.03, 0.12, d),
            nat: lerp(0.03, 0.16, d),
            at_open: lerp(0.02, 0.12, d),
            genuine_virtual: lerp(0.01, 0.07, d),
            deal_seekers: lerp(0.06, 0.22, d),
            store_device: lerp(0.2, 0.6, d),
            recycled_phone: lerp(0.003, 0.03, d),
            label_noise: 0.04,
        }
    }
}
