//! The four tracks of member operations per period: recruitment, first purchase, repurchase and
//! propagation.

use rayon::prelude::*;

use super::super::DAY;
use super::{day_string, DiagnoseParams, Facts, TrackRow};
use crate::data::history::{History, MemberIdx, NONE};

pub(super) fn tracks(
    h: &History,
    members: &[MemberIdx],
    facts: &[Facts],
    join_period: &[usize],
    starts: &[i64],
    p: &DiagnoseParams,
    as_of: i64,
) -> Vec<TrackRow> {
    let np = starts.len();
    #[derive(Clone, Copy, Default)]
    struct T {
        new: usize,
        fp: usize,
        rep: usize,
        prop: usize,
    }
    let counts = (0..members.len())
        .into_par_iter()
        .with_min_len(4_096)
        .fold(
            || vec![T::default(); np],
            |mut acc, i| {
                let f = &facts[i];
                if let Some(t) = acc.get_mut(join_period[i]) {
                    t.new += 1;
                    t.fp += usize::from(f.first_purchaser);
                    let invited = h.members.inviter[members[i] as usize] != NONE;
                    t.prop += usize::from(invited && f.orders > 0);
                }
                for &q in &f.repurchase_periods {
                    if let Some(t) = acc.get_mut(q as usize) {
                        t.rep += 1;
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![T::default(); np],
            |a, b| {
                a.iter()
                    .zip(&b)
                    .map(|(x, y)| T {
                        new: x.new + y.new,
                        fp: x.fp + y.fp,
                        rep: x.rep + y.rep,
                        prop: x.prop + y.prop,
                    })
                    .collect()
            },
        );
    starts
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(q, (&s, t))| {
            let end = starts.get(q + 1).copied().unwrap_or(as_of);
            TrackRow {
                period_start: day_string(s),
                new_members: t.new,
                first_purchase: t.fp,
                first_purchase_complete: end.saturating_add(p.first_purchase_days * DAY) <= as_of,
                repurchase: t.rep,
                propagation: t.prop,
            }
        })
        .collect()
}
