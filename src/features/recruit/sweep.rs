//! The offline sweep: a history run through the online state's own calls in time order, so that
//! every feature a model is trained on is what the scorer would have computed at that moment.
//!
//! [`timeline`] is the one statement of that order. At one instant: probes read members' pools,
//! then the sign-ups of that instant are scored and recorded one after another in arrival order
//! (the members table's row order), then reviews, coupons and orders land. So a feature at `t`
//! sees deeds and reviews strictly before `t` and the sign-ups that arrived before it, as a live
//! scorer receiving them one by one would.

use crate::data::history::{History, MemberIdx, NONE};
use crate::data::schema::CouponEvent;
use crate::features::Matrix;

use super::{signup_of, Deed, Group, MergeCaps, RecruitState, FEATURES, POOL_FEATURES};

/// Read member `member`'s pool (keys and group as they stand) at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub member: MemberIdx,
    pub at: i64,
}

/// One step of a history in time order: a row of one of its tables (or a probe, by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Probe(usize),
    Signup(MemberIdx),
    Label(usize),
    Coupon(usize),
    Order(usize),
}

/// Every row of `h` before `until`, and every probe at or before it, in the order the state
/// takes them (see the module's text).
pub fn timeline(h: &History, probes: &[Probe], until: i64) -> impl Iterator<Item = Step> {
    let by_time = |len: usize, at: &dyn Fn(usize) -> i64, keep: &dyn Fn(i64) -> bool| {
        let mut order: Vec<(i64, u32)> = (0..len)
            .map(|i| (at(i), i as u32))
            .filter(|&(t, _)| keep(t))
            .collect();
        order.sort_unstable();
        order
    };
    let before = |t: i64| t < until;
    let streams = [
        by_time(probes.len(), &|i| probes[i].at, &|t| t <= until),
        signup_order(h, until),
        by_time(h.labels.len(), &|i| h.labels.at[i], &before),
        by_time(h.coupons.len(), &|i| h.coupons.at[i], &before),
        by_time(h.orders.len(), &|i| h.orders.at[i], &before),
    ];
    let mut heads = [0usize; 5];
    std::iter::from_fn(move || {
        let mut next: Option<(i64, usize)> = None;
        for (k, s) in streams.iter().enumerate() {
            if let Some(&(t, _)) = s.get(heads[k]) {
                if next.is_none_or(|(bt, _)| t < bt) {
                    next = Some((t, k));
                }
            }
        }
        let (_, k) = next?;
        let i = streams[k][heads[k]].1;
        heads[k] += 1;
        Some(match k {
            0 => Step::Probe(i as usize),
            1 => Step::Signup(i),
            2 => Step::Label(i as usize),
            3 => Step::Coupon(i as usize),
            _ => Step::Order(i as usize),
        })
    })
}

/// Sign-ups before `until` by time, then arrival: the `seq` column where the table has one, then
/// the row order.
fn signup_order(h: &History, until: i64) -> Vec<(i64, u32)> {
    let m = &h.members;
    let mut order: Vec<(i64, i64, u32)> = (0..m.len())
        .filter(|&i| m.joined_at[i] < until)
        .map(|i| (m.joined_at[i], m.seq.get(i).copied().unwrap_or(0), i as u32))
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(t, _, i)| (t, i)).collect()
}

/// What coupon row `r` tells the state (`None`: an expiry, which it does not keep).
pub fn coupon_deed(h: &History, r: usize) -> Option<Deed> {
    let c = &h.coupons;
    match c.event[r] {
        CouponEvent::Claim => Some(Deed::Claim),
        CouponEvent::Redeem => Some(Deed::redeem(c.kind[r], c.face_value[r])),
        CouponEvent::Expire => None,
    }
}

/// What order row `r` tells the state.
pub fn order_deed(h: &History, r: usize) -> Deed {
    let o = &h.orders;
    Deed::order(o.amount[r], o.coupon[r] != NONE, o.discount[r])
}

/// What a sweep gives: every member's recruitment features (member order), each probe's pool
/// features (probe order, `POOL_FEATURES.len()` values each) and group (with the member id of
/// its first account; `None` alone), and the state at the end.
pub struct Sweep {
    pub recruitment: Matrix,
    pub pool: Vec<f64>,
    pub groups: Vec<Option<(String, Group)>>,
    pub state: RecruitState,
}

/// Sweeps a whole history (see [`sweep`]): the recruitment matrix and the state after the last
/// event (the online state's bootstrap).
pub fn build(history: &History, caps: MergeCaps) -> (Matrix, RecruitState) {
    let s = sweep(history, caps, &[], i64::MAX);
    (s.recruitment, s.state)
}

/// Runs `history`'s [`timeline`] through the state. Events at or after `until` are left out
/// (the state as of `until`); members who join then keep NaN rows.
pub fn sweep(history: &History, caps: MergeCaps, probes: &[Probe], until: i64) -> Sweep {
    let h = history;
    let n = h.members.len();
    let width = FEATURES.len();
    let pool_width = POOL_FEATURES.len();
    let mut state = RecruitState::new(h.keys.clone(), caps);
    let syms: Vec<_> = (0..n as MemberIdx)
        .map(|m| state.keys.intern(h.members.id(m)))
        .collect();
    let mut values = vec![f64::NAN; n * width];
    let mut pool = vec![f64::NAN; probes.len() * pool_width];
    let mut groups = vec![None; probes.len()];
    for step in timeline(h, probes, until) {
        match step {
            Step::Probe(k) => {
                let p = probes[k];
                let at = k * pool_width;
                let member = syms[p.member as usize];
                state.pool(member, p.at, &mut pool[at..at + pool_width]);
                if let Some((_, g)) = state.group_of(member).filter(|(_, g)| g.size > 1) {
                    let first = state.first_member(g).unwrap_or_default().to_string();
                    groups[k] = Some((first, *g));
                }
            }
            Step::Signup(m) => {
                let s = signup_of(h, &mut state, m);
                let at = m as usize * width;
                state.features(&s, &mut values[at..at + width]);
                state.record(&s);
            }
            Step::Label(r) => {
                let member = syms[h.labels.member[r] as usize];
                state.record_label(member, h.labels.label[r]);
            }
            Step::Coupon(r) => {
                if let Some(deed) = coupon_deed(h, r) {
                    state.record_deed(syms[h.coupons.member[r] as usize], h.coupons.at[r], deed);
                }
            }
            Step::Order(r) => {
                let deed = order_deed(h, r);
                state.record_deed(syms[h.orders.member[r] as usize], h.orders.at[r], deed);
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
        groups,
        state,
    }
}
