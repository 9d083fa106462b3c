//! The offline sweep: a history run through the online state's own calls in time order, so that
//! every feature a model is trained on is what the scorer would have computed at that moment.
//!
//! [`timeline`] is the one statement of that order. At one instant: probes read members' pools,
//! then the sign-ups of that instant are scored and recorded one after another in arrival order
//! (the members table's row order), then reviews, coupons and orders land. So a feature at `t`
//! sees deeds and reviews strictly before `t` and the sign-ups that arrived before it, as a live
//! scorer receiving them one by one would.

use std::collections::HashMap;

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
pub fn timeline<'a>(
    h: &'a History,
    probes: &'a [Probe],
    until: i64,
) -> impl Iterator<Item = Step> + 'a {
    let before = |t: i64| t < until;
    let probe_at: Vec<i64> = probes.iter().map(|p| p.at).collect();
    let streams = [
        Stream::by_time(probe_at.into(), |t| t <= until),
        Stream::signups(h, until),
        Stream::by_time((&h.labels.at[..]).into(), before),
        Stream::by_time((&h.coupons.at[..]).into(), before),
        Stream::by_time((&h.orders.at[..]).into(), before),
    ];
    let mut heads = [0usize; 5];
    std::iter::from_fn(move || {
        let mut next: Option<(i64, usize)> = None;
        for (k, s) in streams.iter().enumerate() {
            if let Some((t, _)) = s.get(heads[k]) {
                if next.is_none_or(|(bt, _)| t < bt) {
                    next = Some((t, k));
                }
            }
        }
        let (_, k) = next?;
        let (_, i) = streams[k].get(heads[k])?;
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

/// One table's rows in the order the state takes them: by time, then row. A table already in
/// that order (as a generated or time-sorted export is) is walked as it stands; any other keeps
/// the sorted row numbers, four bytes a row, since a history of hundreds of millions of events
/// cannot afford more beside the state.
struct Stream<'a> {
    at: std::borrow::Cow<'a, [i64]>,
    order: Order,
}

enum Order {
    /// Rows `0..n` are the stream.
    Rows(usize),
    Sorted(Vec<u32>),
}

impl<'a> Stream<'a> {
    /// The rows whose time `keep`s, by time then row.
    fn by_time(at: std::borrow::Cow<'a, [i64]>, keep: impl Fn(i64) -> bool) -> Self {
        let in_order = at.windows(2).all(|w| w[0] <= w[1]);
        let order = if in_order {
            // Sorted times: the rows kept are a prefix.
            Order::Rows(at.partition_point(|&t| keep(t)))
        } else {
            let mut rows: Vec<u32> = (0..at.len() as u32)
                .filter(|&i| keep(at[i as usize]))
                .collect();
            rows.sort_unstable_by_key(|&i| (at[i as usize], i));
            Order::Sorted(rows)
        };
        Stream { at, order }
    }

    /// Sign-ups before `until` by time, then arrival: the `seq` column where the table has one,
    /// then the row order.
    fn signups(h: &'a History, until: i64) -> Self {
        let m = &h.members;
        let mut rows: Vec<u32> = (0..m.len() as u32)
            .filter(|&i| m.joined_at[i as usize] < until)
            .collect();
        let seq = |i: u32| m.seq.get(i as usize).copied().unwrap_or(0);
        rows.sort_unstable_by_key(|&i| (m.joined_at[i as usize], seq(i), i));
        Stream {
            at: (&m.joined_at[..]).into(),
            order: Order::Sorted(rows),
        }
    }

    /// The `k`-th row of the stream: its time and row number.
    fn get(&self, k: usize) -> Option<(i64, u32)> {
        let i = match &self.order {
            Order::Rows(n) => (k < *n).then_some(k as u32)?,
            Order::Sorted(rows) => *rows.get(k)?,
        };
        Some((self.at[i as usize], i))
    }
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
    pub groups: ProbeGroups,
    pub state: RecruitState,
}

/// The group each probe read (when it had one of two or more accounts). Probes that read one
/// group at one state share one copy of it, and a group's first account is kept as a member
/// index: a batch probes every member, and most of them share their group with others.
#[derive(Debug, Clone, Default)]
pub struct ProbeGroups {
    /// Per probe, its group's position in `groups`; `u32::MAX` for none.
    of_probe: Vec<u32>,
    /// Each group read, with the history member of its first account (`u32::MAX`: unknown).
    groups: Vec<(MemberIdx, Group)>,
}

impl ProbeGroups {
    /// Probe `k`'s group, with the history member of its first account.
    pub fn get(&self, k: usize) -> Option<(Option<MemberIdx>, &Group)> {
        let &g = self.of_probe.get(k)?;
        let (first, group) = self.groups.get(g as usize)?;
        Some(((*first != u32::MAX).then_some(*first), group))
    }
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
    let id_bytes = (0..n as MemberIdx).map(|m| h.members.id(m).len()).sum();
    state.keys.reserve(n, id_bytes);
    state.reserve(n);
    let syms: Vec<_> = (0..n as MemberIdx)
        .map(|m| state.keys.intern(h.members.id(m)))
        .collect();
    let mut values = vec![f64::NAN; n * width];
    let mut pool = vec![f64::NAN; probes.len() * pool_width];
    let mut groups = ProbeGroups {
        of_probe: vec![u32::MAX; probes.len()],
        groups: Vec::new(),
    };
    // The history member recorded as each node of the state, and the groups read since the
    // state last changed, by root node.
    let mut node_member: Vec<MemberIdx> = Vec::with_capacity(n);
    let mut read: HashMap<u32, u32> = HashMap::new();
    for step in timeline(h, probes, until) {
        if !matches!(step, Step::Probe(_)) && !read.is_empty() {
            read.clear();
        }
        match step {
            Step::Probe(k) => {
                let p = probes[k];
                let at = k * pool_width;
                let member = syms[p.member as usize];
                state.pool(member, p.at, &mut pool[at..at + pool_width]);
                if let Some((root, g)) = state.group_of(member).filter(|(_, g)| g.size > 1) {
                    let next = groups.groups.len() as u32;
                    let slot = *read.entry(root).or_insert(next);
                    if slot == next {
                        let first = node_member.get(g.first as usize).copied();
                        groups.groups.push((first.unwrap_or(u32::MAX), *g));
                    }
                    groups.of_probe[k] = slot;
                }
            }
            Step::Signup(m) => {
                let s = signup_of(h, &mut state, m);
                let at = m as usize * width;
                state.features(&s, &mut values[at..at + width]);
                state.record(&s);
                node_member.push(m);
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
            values: values.into(),
        },
        pool,
        groups,
        state,
    }
}
