//! One member's history: coupons claimed, redeemed and expired, orders and refunds, points
//! earned and spent, and (for a few) a reviewed label, from the member's plan and kind.
//!
//! Each member is simulated on its own, in time order, from an RNG that belongs to its chunk,
//! so the output does not depend on how chunks are spread over threads. What members of a gang
//! do in step (a farm redeeming its coupons in one script run) comes from an RNG seeded by the
//! gang, not from shared state.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::calendar::{
    at_hour, sale_at, Sale, CAMPAIGNS, DAY, END, HOUR, MINUTE, PEOPLE, POINTS_EXPIRY, SALES,
    SCRIPTS, YEAR_2024,
};
use super::dist::{chance, exp, jitter, lognormal, mix64, poisson, uniform};
use super::keys::MemberKind;
use super::knobs::Knobs;
use super::plan::{Population, NO_CAMPAIGN, NO_MEMBER};
use super::scenario::{self, Scenario};
use crate::data::schema::{CouponEvent, CouponKind, PointsReason, CHANNELS};

/// A coupon event, in numbers; `spell` turns it into a contract row. Keeping events free of
/// strings keeps the simulation free of allocations, which dominated the run time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CouponEvt {
    pub member: u32,
    /// The member's n-th coupon.
    pub n: u32,
    pub campaign: Option<&'static str>,
    pub event: CouponEvent,
    pub at: i64,
    pub face: f64,
    pub threshold: f64,
    pub kind: CouponKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderEvt {
    pub member: u32,
    /// The member's n-th order.
    pub n: u32,
    pub at: i64,
    pub amount: f64,
    pub list_amount: f64,
    pub discount: f64,
    /// The member's coupon number used, if any.
    pub coupon: Option<u32>,
    pub channel: &'static str,
    pub refunded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointsEvt {
    pub member: u32,
    pub at: i64,
    pub delta: i64,
    pub reason: PointsReason,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelEvt {
    pub member: u32,
    pub label: i64,
    pub at: i64,
}

/// The events of a run of members, in member order.
#[derive(Debug, Default)]
pub struct Rows {
    pub members: std::ops::Range<usize>,
    pub coupons: Vec<CouponEvt>,
    pub orders: Vec<OrderEvt>,
    pub points: Vec<PointsEvt>,
    pub labels: Vec<LabelEvt>,
}

/// What the whole run shares: the plan, the knobs, the key speller, the seed.
pub struct World<'a> {
    pub population: &'a Population,
    pub knobs: Knobs,
    pub seed: u64,
    pub scenario: Scenario,
}

impl World<'_> {
    /// The rows of members `range`, from an RNG of its own (`chunk` selects the stream).
    pub fn rows(&self, chunk: u64, range: std::ops::Range<usize>) -> Rows {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(chunk + 1);
        let mut out = Rows {
            members: range.clone(),
            ..Rows::default()
        };
        for i in range {
            self.member(i, &mut rng, &mut out);
        }
        out
    }

    fn member(&self, i: usize, rng: &mut ChaCha8Rng, out: &mut Rows) {
        let Some(m) = self.population.members.get(i) else {
            return;
        };
        let profile = Profile::of(m.kind).vary(rng, m.kind, &self.knobs);
        let mut sim = Sim {
            rng,
            out,
            member: i as u32,
            channel: CHANNELS
                .get(usize::from(m.channel))
                .copied()
                .unwrap_or("app"),
            kind: m.kind,
            p: profile,
            joined_at: m.joined_at,
            heap: BinaryHeap::new(),
            acts: Vec::new(),
            held: Vec::new(),
            coupons: 0,
            orders: 0,
            balance: 0,
            earned: 0,
            earned_2023: 0,
            spent: 0,
            tier: 0,
            invites: 0,
            trapped: self.scenario == Scenario::SilverTrap && scenario::trapped(self.seed, i, m),
        };
        sim.plan_member(self, i);
        sim.run();
        let Sim { rng, out, .. } = sim;
        review(rng, out, i as u32, m.kind, m.joined_at, &self.knobs);
    }
}

/// A few members are reviewed by people, weeks after joining. Reviews go where suspicion is, so
/// wool is over-represented, and reviewers get some wrong.
fn review(
    rng: &mut ChaCha8Rng,
    out: &mut Rows,
    member: u32,
    kind: MemberKind,
    joined: i64,
    k: &Knobs,
) {
    let p = if kind.is_wool() { 0.12 } else { 0.02 };
    if !chance(rng, p) {
        return;
    }
    let at = joined + 14 * DAY + (exp(rng, 30.0) * DAY as f64) as i64;
    if at >= END {
        return;
    }
    let truth = i64::from(kind.is_wool());
    let label = if chance(rng, k.label_noise) {
        1 - truth
    } else {
        truth
    };
    out.labels.push(LabelEvt { member, label, at });
}

/// How a kind of member behaves; each member varies around it (`vary`).
#[derive(Debug, Clone, Copy)]
struct Profile {
    /// Claims the sign-up coupon.
    claim_welcome: f64,
    /// Redeems a claimed sign-up or fission coupon.
    use_welcome: f64,
    /// Mean hours from claiming a coupon to the order that redeems it.
    use_delay_h: f64,
    /// A coupon order's basket is the smallest the threshold allows.
    hug: f64,
    /// Orders a month (not driven by a coupon) while active.
    orders_pm: f64,
    /// Mean days active after joining.
    active_days: f64,
    /// An order made anyway skips a coupon that fits.
    full_price: f64,
    /// Median list amount of an order made anyway.
    basket: f64,
    refund: f64,
    /// Claims a sale's promo coupon while active.
    promo_claim: f64,
    promo_use: f64,
    /// Has a check-in habit, and how many check-ins it brings.
    checkin: f64,
    checkins: f64,
    /// Mean shares of product pages.
    shares: f64,
    /// Swaps points for a coupon whenever the balance allows.
    swap: f64,
    gift: f64,
    /// Pays part of an order in points.
    ppc: f64,
    /// Places an extra order during a sale while active.
    sale_order: f64,
}

impl Profile {
    #[rustfmt::skip]
    fn of(kind: MemberKind) -> Profile {
        let p = |v: [f64; 18]| Profile {
            claim_welcome: v[0], use_welcome: v[1], use_delay_h: v[2], hug: v[3],
            orders_pm: v[4], active_days: v[5], full_price: v[6], basket: v[7], refund: v[8],
            promo_claim: v[9], promo_use: v[10], checkin: v[11], checkins: v[12], shares: v[13],
            swap: v[14], gift: v[15], ppc: v[16], sale_order: v[17],
        };
        match kind {
            //                         claim use  delay  hug  /month days  full basket refund promo use chk  n    shr  swap gift ppc  sale
            MemberKind::Loyal =>      p([0.75, 0.55, 96.0, 0.05, 1.4, 600.0, 0.55, 210.0, 0.03, 0.45, 0.55, 0.5, 25.0, 3.0, 0.08, 0.35, 0.15, 0.4]),
            MemberKind::Occasional => p([0.65, 0.45, 200.0, 0.12, 0.25, 260.0, 0.6, 150.0, 0.04, 0.12, 0.4, 0.1, 6.0, 0.5, 0.12, 0.03, 0.05, 0.12]),
            MemberKind::DealSeeker => p([0.95, 0.8, 36.0, 0.45, 0.45, 420.0, 0.25, 120.0, 0.06, 0.85, 0.8, 0.35, 12.0, 2.0, 0.55, 0.03, 0.3, 0.55]),
            MemberKind::Dormant =>    p([0.45, 0.08, 300.0, 0.2, 0.008, 90.0, 0.7, 100.0, 0.03, 0.02, 0.2, 0.02, 3.0, 0.1, 0.05, 0.0, 0.0, 0.0]),
            MemberKind::LoneOpportunist => p([0.97, 0.7, 10.0, 0.8, 0.0, 150.0, 0.3, 60.0, 0.2, 0.5, 0.55, 0.3, 10.0, 1.0, 0.9, 0.05, 0.1, 0.0]),
            MemberKind::DeviceFarm => p([0.97, 0.5, 4.0, 0.9, 0.0, 150.0, 0.3, 50.0, 0.25, 0.3, 0.45, 0.15, 8.0, 0.5, 0.9, 0.0, 0.05, 0.0]),
            MemberKind::SimFarm =>    p([0.97, 0.5, 4.0, 0.9, 0.0, 150.0, 0.3, 50.0, 0.25, 0.3, 0.45, 0.15, 8.0, 0.5, 0.9, 0.0, 0.05, 0.0]),
            MemberKind::IpBurst =>    p([0.97, 0.45, 3.0, 0.9, 0.0, 150.0, 0.3, 50.0, 0.25, 0.25, 0.45, 0.1, 8.0, 0.5, 0.9, 0.0, 0.05, 0.0]),
            MemberKind::InviteTree => p([0.9, 0.12, 12.0, 0.9, 0.0, 150.0, 0.3, 50.0, 0.2, 0.1, 0.3, 0.1, 8.0, 2.0, 0.95, 0.05, 0.05, 0.0]),
            MemberKind::CarefulGang => p([0.95, 0.8, 30.0, 0.65, 0.15, 150.0, 0.8, 70.0, 0.1, 0.45, 0.6, 0.4, 12.0, 2.0, 0.7, 0.02, 0.1, 0.2]),
        }
    }

    /// This member's own version of the profile: people differ, and some wool accounts buy a
    /// little at full price to look genuine.
    fn vary<R: Rng + ?Sized>(mut self, rng: &mut R, kind: MemberKind, k: &Knobs) -> Profile {
        let sd = 0.6;
        for p in [
            &mut self.claim_welcome,
            &mut self.use_welcome,
            &mut self.hug,
            &mut self.full_price,
            &mut self.refund,
            &mut self.promo_claim,
            &mut self.promo_use,
            &mut self.checkin,
            &mut self.swap,
            &mut self.sale_order,
        ] {
            *p = jitter(rng, *p, sd);
        }
        self.orders_pm *= lognormal(rng, 1.0, 0.8);
        self.basket *= lognormal(rng, 1.0, 0.45);
        self.use_delay_h *= lognormal(rng, 1.0, 0.6);
        self.active_days = exp(rng, self.active_days);
        // A few small full-price orders over the first months (invitees of a tree rarely
        // bother).
        let disguise = if kind == MemberKind::InviteTree {
            k.looks_genuine / 2.0
        } else {
            k.looks_genuine
        };
        if kind.is_wool() && chance(rng, disguise) {
            self.orders_pm = self.orders_pm.max(lognormal(rng, 0.4, 0.4));
            self.active_days = 45.0 + exp(rng, 60.0);
            self.full_price = self.full_price.max(0.7);
            self.sale_order = self.sale_order.max(0.15);
        }
        self
    }
}

/// Points tiers by points earned: one-star, two-star, silver, platinum, diamond, supreme.
/// Reaching a tier grants a tier coupon (face, threshold).
const TIERS: [(i64, f64, f64); 5] = [
    (500, 10.0, 59.0),
    (2_000, 30.0, 149.0),
    (5_000, 60.0, 299.0),
    (15_000, 120.0, 599.0),
    (40_000, 300.0, 1_299.0),
];
/// Points for one coupon in the points mall, and that coupon.
const SWAP_COST: i64 = 300;
const SWAP_COUPON: (f64, f64) = (15.0, 99.0);
const GIFT_COST: i64 = 2_000;
/// Points used in a points-plus-cash order, and the cash they stand for.
const PPC_POINTS: i64 = 500;
const PPC_CASH: f64 = 5.0;
const CHECKIN_POINTS: i64 = 5;
const SHARE_POINTS: i64 = 10;
const INVITE_POINTS: i64 = 50;
/// A fission coupon for every this many friends who join.
const INVITES_PER_COUPON: u32 = 3;
/// Sign-up coupon for members who joined through no campaign.
const STANDARD_WELCOME: (f64, f64) = (10.0, 99.0);

#[derive(Debug, Clone, Copy)]
struct Grant {
    kind: CouponKind,
    campaign: Option<&'static str>,
    face: f64,
    threshold: f64,
    valid_days: i64,
    /// Chance the member means to redeem it, and when (absolute time; 0: mean delay).
    use_p: f64,
    use_at: i64,
}

impl Grant {
    /// A sale's promo coupon, redeemed with chance `use_p` after the mean delay.
    fn promo(s: &Sale, use_p: f64) -> Grant {
        Grant {
            kind: CouponKind::Promo,
            campaign: Some(s.id),
            face: s.face,
            threshold: s.threshold,
            valid_days: s.days,
            use_p,
            use_at: 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Claim(Grant),
    /// Redeem held coupon number `n` in an order made for it.
    Use(u32),
    Order,
    Checkin,
    Share,
    Invitee,
    ExpirePoints,
    /// A full-price order in the silver trap's points promotion.
    Promo,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    n: u32,
    kind: CouponKind,
    campaign: Option<&'static str>,
    face: f64,
    threshold: f64,
    expires: i64,
}

struct Sim<'a> {
    rng: &'a mut ChaCha8Rng,
    out: &'a mut Rows,
    member: u32,
    channel: &'static str,
    kind: MemberKind,
    p: Profile,
    joined_at: i64,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    acts: Vec<Act>,
    held: Vec<Held>,
    coupons: u32,
    orders: u32,
    balance: i64,
    earned: i64,
    earned_2023: i64,
    spent: i64,
    tier: usize,
    invites: u32,
    /// Caught by the silver-trap scenario's points promotion (`scenario`).
    trapped: bool,
}

fn money(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Sim<'_> {
    fn at(&mut self, t: i64, act: Act) {
        // After the promotion a trapped member only collects what is handed out.
        let stopped = self.trapped
            && t >= scenario::PROMO_END
            && !matches!(act, Act::Claim(_) | Act::ExpirePoints);
        if t < END && !stopped {
            self.heap.push(Reverse((t, self.acts.len() as u32)));
            self.acts.push(act);
        }
    }

    fn hours(&mut self, mean_h: f64) -> i64 {
        (exp(self.rng, mean_h) * HOUR as f64) as i64
    }

    /// Everything the member will set out to do, known at sign-up.
    fn plan_member(&mut self, w: &World<'_>, i: usize) {
        let Some(m) = w.population.members.get(i) else {
            return;
        };
        let t0 = self.joined_at;
        let wool = self.kind.is_wool();
        let p = self.p;
        let active_end = (t0 + (p.active_days * DAY as f64) as i64).min(END);

        // The sign-up coupon: the campaign's, a fission coupon when invited in a fission
        // campaign, the standard one otherwise.
        if chance(self.rng, p.claim_welcome) {
            let campaign = CAMPAIGNS.get(usize::from(m.campaign));
            let (face, threshold) = campaign.map_or(STANDARD_WELCOME, |c| (c.face, c.threshold));
            let invited = m.inviter != NO_MEMBER && campaign.is_some_and(|c| c.fission);
            let delay = if wool {
                exp(self.rng, 3.0) * MINUTE as f64
            } else if chance(self.rng, 0.7) {
                exp(self.rng, 0.3) * HOUR as f64
            } else {
                exp(self.rng, 48.0) * HOUR as f64
            };
            let claim = t0 + delay as i64 + 5;
            // A gang redeems in one script run, keyed by the gang, not the member.
            let use_at = if wool && m.group != 0 && m.campaign != NO_CAMPAIGN {
                let mut g = ChaCha8Rng::seed_from_u64(mix64(
                    w.seed ^ u64::from(m.group).wrapping_mul(0x2545_f491),
                ));
                let anchor = CAMPAIGNS[usize::from(m.campaign)].start
                    + (exp(&mut g, p.use_delay_h.max(1.0) * 4.0) * HOUR as f64) as i64;
                anchor.max(claim + 2 * MINUTE) + (exp(self.rng, 20.0) * MINUTE as f64) as i64
            } else {
                0
            };
            self.at(
                claim,
                Act::Claim(Grant {
                    kind: if invited {
                        CouponKind::Fission
                    } else {
                        CouponKind::Welcome
                    },
                    campaign: campaign.map(|c| c.id),
                    face,
                    threshold,
                    valid_days: 30,
                    use_p: p.use_welcome,
                    use_at,
                }),
            );
        }

        // Orders made anyway, spread over the active months at hours people shop.
        let span = (active_end - t0).max(0) as f64;
        let n_orders = poisson(self.rng, p.orders_pm * span / (30.0 * DAY as f64));
        for _ in 0..n_orders {
            let t = t0 + (uniform(self.rng, 0.0, span)) as i64;
            let t = at_hour(self.rng, t, &PEOPLE).max(t0 + HOUR);
            self.at(t, Act::Order);
        }

        // Sales: promo coupons and sale orders while active (claiming lasts a month longer).
        for s in SALES {
            if s.start < t0 || s.start > active_end + 30 * DAY {
                continue;
            }
            if chance(self.rng, p.promo_claim) {
                let claim = if wool {
                    s.start + (exp(self.rng, 20.0) * MINUTE as f64) as i64
                } else {
                    let t = s.start + (uniform(self.rng, 0.0, 2.0) * DAY as f64) as i64;
                    at_hour(self.rng, t, &PEOPLE).max(s.start)
                };
                self.at(claim, Act::Claim(Grant::promo(s, p.promo_use)));
            }
            if s.start <= active_end && chance(self.rng, p.sale_order) {
                let t = s.start + (uniform(self.rng, 0.1, s.days as f64) * DAY as f64) as i64;
                let t = at_hour(self.rng, t, &PEOPLE).max(s.start + HOUR);
                self.at(t, Act::Order);
            }
        }

        // Check-in habit: a streak of daily check-ins (farms script it right after sign-up).
        if chance(self.rng, p.checkin) {
            let n = poisson(self.rng, p.checkins);
            let shape = if wool { &SCRIPTS } else { &PEOPLE };
            let mut day = t0
                + if wool {
                    DAY
                } else {
                    (exp(self.rng, 20.0) * DAY as f64) as i64
                };
            for _ in 0..n {
                let t = at_hour(self.rng, day, shape).max(t0 + MINUTE);
                self.at(t, Act::Checkin);
                day += DAY * (1 + i64::from(chance(self.rng, 0.3)) * self.rng.random_range(1..5));
            }
        }
        for _ in 0..poisson(self.rng, p.shares) {
            let t = t0 + uniform(self.rng, 0.0, span.max(DAY as f64)) as i64;
            self.at(t.max(t0 + MINUTE), Act::Share);
        }

        // Rewards for each friend who joined through this member.
        for &t in w.population.invitees_of(i) {
            let t = t + 60 + self.rng.random_range(0..600);
            self.at(t, Act::Invitee);
        }
        if t0 < YEAR_2024 {
            self.at(POINTS_EXPIRY, Act::ExpirePoints);
        }
        if self.trapped {
            self.plan_trap();
        }
    }

    /// The silver trap: two promotion orders, then every later sale's coupon collected.
    fn plan_trap(&mut self) {
        let span = (scenario::PROMO_END - scenario::PROMO_START) as f64;
        for _ in 0..2 {
            let t = scenario::PROMO_START + uniform(self.rng, 0.0, span) as i64;
            let t =
                at_hour(self.rng, t, &PEOPLE).clamp(scenario::PROMO_START, scenario::PROMO_END - 1);
            self.at(t, Act::Promo);
        }
        for s in scenario::sales_after_promo() {
            if chance(self.rng, 0.8) {
                let t = s.start + (uniform(self.rng, 0.0, 2.0) * DAY as f64) as i64;
                self.at(t, Act::Claim(Grant::promo(s, 0.0)));
            }
        }
    }

    /// A full-price order of the points promotion: no coupon, no markdown.
    fn promo_order(&mut self, t: i64) {
        let (lo, hi) = scenario::PROMO_BASKET;
        let list = money(uniform(self.rng, lo, hi).floor() + 0.9);
        self.orders += 1;
        self.out.orders.push(OrderEvt {
            member: self.member,
            n: self.orders,
            at: t,
            amount: list,
            list_amount: list,
            discount: 0.0,
            coupon: None,
            channel: self.channel,
            refunded: false,
        });
        self.earn(t, list.floor() as i64, PointsReason::Purchase);
    }

    fn run(&mut self) {
        while let Some(Reverse((t, a))) = self.heap.pop() {
            self.expire_coupons(t);
            let Some(&act) = self.acts.get(a as usize) else {
                continue;
            };
            match act {
                Act::Claim(g) => self.claim(t, g),
                Act::Use(n) => {
                    if let Some(pos) = self.held.iter().position(|h| h.n == n) {
                        self.order(t, Some(pos));
                    }
                }
                Act::Order => self.order(t, None),
                Act::Promo => self.promo_order(t),
                Act::Checkin => self.earn(t, CHECKIN_POINTS, PointsReason::Checkin),
                Act::Share => self.earn(t, SHARE_POINTS, PointsReason::Share),
                Act::Invitee => {
                    self.invites += 1;
                    self.earn(t, INVITE_POINTS, PointsReason::Invite);
                    if self.invites.is_multiple_of(INVITES_PER_COUPON) {
                        let use_p = self.p.use_welcome.max(0.3);
                        self.at(
                            t + MINUTE,
                            Act::Claim(Grant {
                                kind: CouponKind::Fission,
                                campaign: None,
                                face: 10.0,
                                threshold: 39.0,
                                valid_days: 30,
                                use_p,
                                use_at: 0,
                            }),
                        );
                    }
                }
                Act::ExpirePoints => {
                    let lapsed = (self.earned_2023 - self.spent).min(self.balance);
                    if lapsed > 0 {
                        self.points(t, -lapsed, PointsReason::Expire);
                        self.balance -= lapsed;
                        self.spent += lapsed;
                    }
                }
            }
        }
        self.expire_coupons(END);
    }

    fn coupon_row(&mut self, h: &Held, event: CouponEvent, at: i64) {
        self.out.coupons.push(CouponEvt {
            member: self.member,
            n: h.n,
            campaign: h.campaign,
            event,
            at,
            face: h.face,
            threshold: h.threshold,
            kind: h.kind,
        });
    }

    fn points(&mut self, at: i64, delta: i64, reason: PointsReason) {
        self.out.points.push(PointsEvt {
            member: self.member,
            at,
            delta,
            reason,
        });
    }

    /// Coupons whose validity ended before `t` expire, at the moment they lapsed.
    fn expire_coupons(&mut self, t: i64) {
        let mut i = 0;
        while i < self.held.len() {
            if self.held[i].expires < t {
                let h = self.held.swap_remove(i);
                self.coupon_row(&h, CouponEvent::Expire, h.expires);
            } else {
                i += 1;
            }
        }
    }

    fn claim(&mut self, t: i64, g: Grant) {
        self.coupons += 1;
        let h = Held {
            n: self.coupons,
            kind: g.kind,
            campaign: g.campaign,
            face: g.face,
            threshold: g.threshold,
            expires: t + g.valid_days * DAY,
        };
        self.coupon_row(&h, CouponEvent::Claim, t);
        self.held.push(h);
        if self.trapped && t >= scenario::PROMO_START {
            return;
        }
        if chance(self.rng, g.use_p) {
            let at = if g.use_at > t {
                g.use_at
            } else {
                let delay = self.hours(self.p.use_delay_h);
                t + 2 * MINUTE + delay
            };
            let at = if self.kind.is_wool() {
                at
            } else {
                at_hour(self.rng, at, &PEOPLE).max(t + MINUTE)
            };
            self.at(at, Act::Use(h.n));
        }
    }

    /// An order: for a held coupon (`forced`), or made anyway (using a coupon that fits unless
    /// the member pays full price).
    fn order(&mut self, t: i64, forced: Option<usize>) {
        let natural = (lognormal(self.rng, self.p.basket, 0.6).max(9.0)).floor() + 0.9;
        let mut coupon = forced;
        let mut list = natural;
        if forced.is_none() && !chance(self.rng, self.p.full_price) {
            // The best coupon the basket reaches, or can be topped up to reach.
            let reach = if chance(self.rng, self.p.hug) {
                natural * 1.4
            } else {
                natural
            };
            coupon = self
                .held
                .iter()
                .enumerate()
                .filter(|(_, h)| h.threshold <= reach)
                .max_by(|a, b| a.1.face.total_cmp(&b.1.face))
                .map(|(i, _)| i);
        }
        if let Some(pos) = coupon {
            let h = self.held[pos];
            list = if forced.is_some() && chance(self.rng, self.p.hug) || h.threshold > natural {
                // The smallest basket the threshold allows.
                let floor = if h.threshold > 0.0 {
                    h.threshold
                } else {
                    lognormal(self.rng, 19.0, 0.3)
                };
                (floor + uniform(self.rng, 0.0, 0.03 * floor + 3.0)).floor() + 0.9
            } else {
                natural.max(h.threshold + 0.9)
            };
            list = list.max(h.face + 0.9);
        }
        let markdown = match sale_at(t) {
            Some(_) => list * uniform(self.rng, 0.05, 0.15),
            None if chance(self.rng, 0.2) => list * uniform(self.rng, 0.03, 0.1),
            None => 0.0,
        };
        let face = coupon.map_or(0.0, |pos| self.held[pos].face);
        let mut ppc = 0.0;
        if self.balance >= PPC_POINTS
            && chance(self.rng, self.p.ppc)
            && list - markdown - face > PPC_CASH + 1.0
        {
            self.points(t, -PPC_POINTS, PointsReason::PointsPlusCash);
            self.balance -= PPC_POINTS;
            self.spent += PPC_POINTS;
            ppc = PPC_CASH;
        }
        let list = money(list);
        let amount = money(list - markdown - face - ppc).max(0.0);
        let refunded = chance(self.rng, self.p.refund);
        self.orders += 1;
        let channel = if chance(self.rng, 0.75) {
            self.channel
        } else {
            CHANNELS[self.rng.random_range(0..CHANNELS.len())]
        };
        self.out.orders.push(OrderEvt {
            member: self.member,
            n: self.orders,
            at: t,
            amount,
            list_amount: list,
            discount: money(list - amount),
            coupon: coupon.map(|pos| self.held[pos].n),
            channel,
            refunded,
        });
        if let Some(pos) = coupon {
            let h = self.held.swap_remove(pos);
            self.coupon_row(&h, CouponEvent::Redeem, t);
        }
        if !refunded && amount >= 1.0 {
            self.earn(t, amount.floor() as i64, PointsReason::Purchase);
        }
    }

    /// Points in; may lift the tier (a tier coupon) and tempt a swap or a gift.
    fn earn(&mut self, t: i64, delta: i64, reason: PointsReason) {
        self.points(t, delta, reason);
        self.balance += delta;
        self.earned += delta;
        if t < YEAR_2024 {
            self.earned_2023 += delta;
        }
        while self.tier < TIERS.len() && self.earned >= TIERS[self.tier].0 {
            let (_, face, threshold) = TIERS[self.tier];
            self.tier += 1;
            let use_p = (self.p.promo_use + 0.2).min(1.0);
            self.at(
                t + HOUR,
                Act::Claim(Grant {
                    kind: CouponKind::Tier,
                    campaign: None,
                    face,
                    threshold,
                    valid_days: 60,
                    use_p,
                    use_at: 0,
                }),
            );
        }
        if self.trapped && t >= scenario::PROMO_START {
            return;
        }
        if self.balance >= SWAP_COST && chance(self.rng, self.p.swap) {
            let at = t + (exp(self.rng, 30.0) * MINUTE as f64) as i64 + 1;
            if at < END {
                self.points(at, -SWAP_COST, PointsReason::RedeemCoupon);
                self.balance -= SWAP_COST;
                self.spent += SWAP_COST;
                let use_p = self.p.promo_use;
                self.at(
                    at,
                    Act::Claim(Grant {
                        kind: CouponKind::Promo,
                        campaign: None,
                        face: SWAP_COUPON.0,
                        threshold: SWAP_COUPON.1,
                        valid_days: 30,
                        use_p,
                        use_at: 0,
                    }),
                );
            }
        } else if self.balance >= GIFT_COST && chance(self.rng, self.p.gift) {
            let at = t + (exp(self.rng, 48.0) * HOUR as f64) as i64 + 1;
            if at < END {
                self.points(at, -GIFT_COST, PointsReason::RedeemGift);
                self.balance -= GIFT_COST;
                self.spent += GIFT_COST;
            }
        }
    }
}
