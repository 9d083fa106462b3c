//! What a set of accounts has done so far, kept for connected groups, shared keys and invite
//! trees alike, and the union-find that grows the groups.

use crate::data::history::{Sym, NONE};
use crate::data::schema::CouponKind;

use super::HOUR;

/// Half-life of a group's sign-up velocity: a sign-up counts 1 when it happens and half as much
/// an hour later.
pub const VELOCITY_HALF_LIFE: i64 = HOUR;

/// Counters over the deeds of a set of accounts, as known so far. Every counter only grows, so
/// sets merge by adding.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Behaviour {
    /// Accounts that redeemed a welcome or fission benefit.
    pub took: u32,
    /// Of those, accounts that also bought at full price.
    pub took_and_full: u32,
    /// Accounts with any order.
    pub ordered: u32,
    /// Accounts with an order at full price (no coupon, no discount).
    pub full_price: u32,
    /// Accounts with a redemption, and the hours from their join to their first one, summed.
    pub redeemed_accounts: u32,
    pub redeem_hours: f64,
    pub claims: u32,
    pub redeems: u32,
    pub orders: u32,
    /// Face value of the benefits redeemed.
    pub value_taken: f64,
    /// Paid on orders.
    pub paid: f64,
}

impl Behaviour {
    pub fn add(&mut self, o: &Behaviour) {
        self.took += o.took;
        self.took_and_full += o.took_and_full;
        self.ordered += o.ordered;
        self.full_price += o.full_price;
        self.redeemed_accounts += o.redeemed_accounts;
        self.redeem_hours += o.redeem_hours;
        self.claims += o.claims;
        self.redeems += o.redeems;
        self.orders += o.orders;
        self.value_taken += o.value_taken;
        self.paid += o.paid;
    }

    /// Accounts that took a welcome or fission benefit and never bought at full price.
    pub fn took_no_full(&self) -> u32 {
        self.took - self.took_and_full
    }
}

/// A share of `accounts`, NaN for none.
pub fn share(count: u32, accounts: u32) -> f64 {
    if accounts == 0 {
        f64::NAN
    } else {
        f64::from(count) / f64::from(accounts)
    }
}

/// A count that halves every [`VELOCITY_HALF_LIFE`]: recent sign-ups per hour, smoothly.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Velocity {
    pub(super) value: f64,
    pub(super) at: i64,
}

impl Velocity {
    /// The value as of `t` (not before the last update).
    pub fn at(&self, t: i64) -> f64 {
        if self.value == 0.0 {
            return 0.0;
        }
        let dt = t.saturating_sub(self.at).max(0) as f64;
        self.value * (-dt * std::f64::consts::LN_2 / VELOCITY_HALF_LIFE as f64).exp()
    }

    pub fn bump(&mut self, t: i64) {
        let t = t.max(self.at);
        self.value = self.at(t) + 1.0;
        self.at = t;
    }

    pub fn merge(&mut self, o: &Velocity) {
        let t = self.at.max(o.at);
        self.value = self.at(t) + o.at(t);
        self.at = t;
    }
}

/// A connected group: accounts tied by rare shared keys, what they are and what they did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Group {
    /// The node of the group's earliest account (the smaller node on a tie): what names it.
    pub first: u32,
    pub size: u32,
    pub devices: u32,
    pub ip24s: u32,
    pub first_at: i64,
    pub last_at: i64,
    pub labelled: u32,
    pub wool: u32,
    pub deeds: Behaviour,
    pub velocity: Velocity,
}

impl Group {
    pub fn merge(&mut self, o: &Group) {
        if self.size == 0 {
            *self = *o;
            return;
        }
        if o.size == 0 {
            return;
        }
        if (o.first_at, o.first) < (self.first_at, self.first) {
            self.first = o.first;
        }
        self.size += o.size;
        self.devices += o.devices;
        self.ip24s += o.ip24s;
        self.first_at = self.first_at.min(o.first_at);
        self.last_at = self.last_at.max(o.last_at);
        self.labelled += o.labelled;
        self.wool += o.wool;
        self.deeds.add(&o.deeds);
        self.velocity.merge(&o.velocity);
    }

    /// Reviewed wool share of the group's labelled accounts (NaN: none labelled).
    pub fn wool_share(&self) -> f64 {
        share(self.wool, self.labelled)
    }
}

/// What one recorded account is, as the state needs it later.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    pub member: Sym,
    pub joined_at: i64,
    pub inviter: Sym,
    pub device: Sym,
    pub phone: Sym,
    pub range: Sym,
    /// The first account of its invite tree (itself when it was not invited by a member).
    pub tree: u32,
    pub depth: u16,
    pub flags: u8,
}

pub const TOOK: u8 = 1;
pub const ORDERED: u8 = 2;
pub const FULL_PRICE: u8 = 4;
pub const REDEEMED: u8 = 8;

impl Account {
    pub fn new(member: Sym, joined_at: i64) -> Self {
        Account {
            member,
            joined_at,
            inviter: NONE,
            device: NONE,
            phone: NONE,
            range: NONE,
            tree: 0,
            depth: 0,
            flags: 0,
        }
    }
}

/// Something a recorded member did after joining, as it reaches the state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Deed {
    /// Claimed a coupon.
    Claim,
    /// Redeemed a coupon of `value`; `benefit`: a welcome or fission coupon (what farmers farm).
    Redeem { benefit: bool, value: f64 },
    /// Placed an order, paying `paid`; `full_price`: with neither coupon nor discount.
    Order { paid: f64, full_price: bool },
}

impl Deed {
    /// A redemption of a coupon of `kind` worth `value`: welcome and fission coupons are the
    /// benefits farmers farm.
    pub fn redeem(kind: CouponKind, value: f64) -> Deed {
        Deed::Redeem {
            benefit: matches!(kind, CouponKind::Welcome | CouponKind::Fission),
            value,
        }
    }

    /// An order paying `paid`: at full price when placed with neither a coupon nor a discount.
    pub fn order(paid: f64, with_coupon: bool, discount: f64) -> Deed {
        Deed::Order {
            paid,
            full_price: !with_coupon && discount == 0.0,
        }
    }
}

impl Account {
    /// What `deed` at `at` adds to the counters of every set this account is in, updating its
    /// flags.
    pub fn apply(&mut self, at: i64, deed: Deed) -> Behaviour {
        let mut d = Behaviour::default();
        let had = |flags: u8, f: u8| flags & f != 0;
        match deed {
            Deed::Claim => d.claims = 1,
            Deed::Redeem { benefit, value } => {
                d.redeems = 1;
                d.value_taken = value;
                if !had(self.flags, REDEEMED) {
                    self.flags |= REDEEMED;
                    d.redeemed_accounts = 1;
                    d.redeem_hours = at.saturating_sub(self.joined_at).max(0) as f64 / HOUR as f64;
                }
                if benefit && !had(self.flags, TOOK) {
                    self.flags |= TOOK;
                    d.took = 1;
                    d.took_and_full = u32::from(had(self.flags, FULL_PRICE));
                }
            }
            Deed::Order { paid, full_price } => {
                d.orders = 1;
                d.paid = paid;
                if !had(self.flags, ORDERED) {
                    self.flags |= ORDERED;
                    d.ordered = 1;
                }
                if full_price && !had(self.flags, FULL_PRICE) {
                    self.flags |= FULL_PRICE;
                    d.full_price = 1;
                    d.took_and_full = u32::from(had(self.flags, TOOK));
                }
            }
        }
        d
    }
}

/// A group of `size` accounts on `devices` devices and one IP range, joined over `span`
/// seconds from 0, `took` of them took a benefit and `full` bought at full price: what the
/// tests of the gang score and flag build.
#[cfg(test)]
pub(crate) fn sample_group(size: u32, devices: u32, span: i64, took: u32, full: u32) -> Group {
    Group {
        size,
        devices,
        ip24s: 1,
        first_at: 0,
        last_at: span,
        deeds: Behaviour {
            took,
            full_price: full,
            ..Behaviour::default()
        },
        ..Group::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeds_count_each_account_once_and_took_no_full_by_hand() {
        let mut a = Account::new(1, 0);
        let mut b = Behaviour::default();
        b.add(&a.apply(
            2 * HOUR,
            Deed::Redeem {
                benefit: true,
                value: 20.0,
            },
        ));
        b.add(&a.apply(3 * HOUR, Deed::Claim));
        b.add(&a.apply(
            4 * HOUR,
            Deed::Redeem {
                benefit: true,
                value: 5.0,
            },
        ));
        assert_eq!((b.took, b.took_no_full(), b.redeems), (1, 1, 2));
        assert_eq!((b.redeemed_accounts, b.redeem_hours), (1, 2.0));
        assert_eq!((b.value_taken, b.claims), (25.0, 1));
        b.add(&a.apply(
            5 * HOUR,
            Deed::Order {
                paid: 9.0,
                full_price: false,
            },
        ));
        assert_eq!((b.ordered, b.took_no_full()), (1, 1));
        b.add(&a.apply(
            6 * HOUR,
            Deed::Order {
                paid: 50.0,
                full_price: true,
            },
        ));
        b.add(&a.apply(
            7 * HOUR,
            Deed::Order {
                paid: 50.0,
                full_price: true,
            },
        ));
        assert_eq!((b.ordered, b.full_price, b.took_no_full()), (1, 1, 0));
        assert_eq!((b.orders, b.paid), (3, 109.0));
    }

    #[test]
    fn velocity_halves_every_hour_and_merges() {
        let mut v = Velocity::default();
        v.bump(0);
        v.bump(0);
        assert_eq!(v.at(0), 2.0);
        assert!((v.at(HOUR) - 1.0).abs() < 1e-12);
        let mut w = Velocity::default();
        w.bump(HOUR);
        v.merge(&w);
        assert!((v.at(HOUR) - 2.0).abs() < 1e-12);
        assert!((v.at(3 * HOUR) - 0.5).abs() < 1e-12);
    }
}
