//! The offline sweep: a history run through the online state's own calls in time order, so that
//! every feature a model is trained on is what the scorer would have computed at that moment.
//!
//! At one instant, in this order: probes read members' pools, then the sign-ups of that instant
//! are scored and recorded one after another in arrival order (the members table's row order),
//! then reviews and deeds land. So a feature at `t` sees deeds and reviews strictly before `t`
//! and the sign-ups that arrived before it, as a live scorer receiving them one by one would.

use crate::data::history::{History, MemberIdx};
use crate::data::schema::{CouponEvent, CouponKind};
use crate::features::Matrix;

use super::{signup_of, Deed, MergeCaps, RecruitState, FEATURES, POOL_FEATURES};

/// Read member `member`'s pool (keys and group as they stand) at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub member: MemberIdx,
    pub at: i64,
}

/// What a sweep gives: every member's recruitment features (member order), each probe's pool
/// features (probe order, `POOL_FEATURES.len()` values each), and the state at the end.
pub struct Sweep {
    pub recruitment: Matrix,
    pub pool: Vec<f64>,
    pub state: RecruitState,
}

/// Sweeps a whole history (see [`sweep`]): the recruitment matrix and the state after the last
/// event (the online state's bootstrap).
pub fn build(history: &History, caps: MergeCaps) -> (Matrix, RecruitState) {
    let s = sweep(history, caps, &[], i64::MAX);
    (s.recruitment, s.state)
}

/// Events at or after `until` are left out (the state as of `until`); members who join then
/// keep NaN rows.
pub fn sweep(history: &History, caps: MergeCaps, probes: &[Probe], until: i64) -> Sweep {
    let h = history;
    let n = h.members.len();
    let width = FEATURES.len();
    let pool_width = POOL_FEATURES.len();
    let mut state = RecruitState::new(h.keys.clone(), caps);
    let syms: Vec<_> = (0..n as MemberIdx)
        .map(|m| state.keys.intern(h.members.id(m)))
        .collect();
    let by_time = |len: usize, at: &dyn Fn(usize) -> i64| {
        let mut order: Vec<u32> = (0..len as u32)
            .filter(|&i| at(i as usize) < until)
            .collect();
        order.sort_by_key(|&i| (at(i as usize), i));
        order
    };
    let signups = by_time(n, &|i| h.members.joined_at[i]);
    let labels = by_time(h.labels.len(), &|i| h.labels.at[i]);
    let coupons = by_time(h.coupons.len(), &|i| h.coupons.at[i]);
    let orders = by_time(h.orders.len(), &|i| h.orders.at[i]);
    let mut probe_order: Vec<u32> = (0..probes.len() as u32)
        .filter(|&i| probes[i as usize].at <= until)
        .collect();
    probe_order.sort_by_key(|&i| (probes[i as usize].at, i));

    let mut values = vec![f64::NAN; n * width];
    let mut pool = vec![f64::NAN; probes.len() * pool_width];
    // Streams in their order at one instant: probes, sign-ups, reviews, coupons, orders.
    let mut heads = [0usize; 5];
    let times = |k: usize, i: usize| -> i64 {
        match k {
            0 => probes[probe_order[i] as usize].at,
            1 => h.members.joined_at[signups[i] as usize],
            2 => h.labels.at[labels[i] as usize],
            3 => h.coupons.at[coupons[i] as usize],
            _ => h.orders.at[orders[i] as usize],
        }
    };
    let lens = [
        probe_order.len(),
        signups.len(),
        labels.len(),
        coupons.len(),
        orders.len(),
    ];
    loop {
        let mut next: Option<(i64, usize)> = None;
        for k in 0..5 {
            if heads[k] < lens[k] {
                let t = times(k, heads[k]);
                if next.is_none_or(|(bt, _)| t < bt) {
                    next = Some((t, k));
                }
            }
        }
        let Some((_, k)) = next else { break };
        let i = heads[k];
        heads[k] += 1;
        match k {
            0 => {
                let p = probes[probe_order[i] as usize];
                let member = syms[p.member as usize];
                let at = probe_order[i] as usize * pool_width;
                state.pool(member, p.at, &mut pool[at..at + pool_width]);
            }
            1 => {
                let m = signups[i];
                let s = signup_of(h, &mut state, m);
                let at = m as usize * width;
                state.features(&s, &mut values[at..at + width]);
                state.record(&s);
            }
            2 => {
                let r = labels[i] as usize;
                let member = syms[h.labels.member[r] as usize];
                state.record_label(member, h.labels.label[r]);
            }
            3 => {
                let r = coupons[i] as usize;
                let c = &h.coupons;
                let deed = match c.event[r] {
                    CouponEvent::Claim => Deed::Claim,
                    CouponEvent::Redeem => Deed::Redeem {
                        benefit: matches!(c.kind[r], CouponKind::Welcome | CouponKind::Fission),
                        value: c.face_value[r],
                    },
                    CouponEvent::Expire => continue,
                };
                let member = syms[c.member[r] as usize];
                state.record_deed(member, c.at[r], deed);
            }
            _ => {
                let r = orders[i] as usize;
                let o = &h.orders;
                let full_price = o.coupon[r] == crate::data::history::NONE && o.discount[r] == 0.0;
                let member = syms[o.member[r] as usize];
                state.record_deed(
                    member,
                    o.at[r],
                    Deed::Order {
                        paid: o.amount[r],
                        full_price,
                    },
                );
            }
        }
    }
    Sweep {
        recruitment: Matrix {
            names: FEATURES.iter().map(|f| f.name).collect(),
            rows: n,
            values,
        },
        pool,
        state,
    }
}
