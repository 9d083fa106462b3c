//! RFM: recency, frequency and monetary value of each member as of a moment, from their orders
//! strictly before it; quintile scores 1–5; and the named segment of each (R, FM) pair from a
//! configurable grid (`training/rfm.toml`).
//!
//! Definitions (only orders not refunded count, everywhere):
//! - recency: whole days from the last order to the as-of moment, rounded down;
//! - frequency: the number of orders;
//! - monetary: paid on those orders, summed in cents (each amount rounded to the cent), so that
//!   equal spends tie exactly whatever order the rows came in.
//!
//! Scores rank the members **with at least one order** against each other: a member's score is
//! `1 + floor(5 × w / n)` where `n` is the number of such members and `w` the number of them with
//! a strictly worse value (longer recency, fewer orders, less spent). Ties therefore share one
//! score, the one of their lowest rank, whatever the input order; a value shared by many members
//! (one order is common) can leave a score empty. Members with no order before the as-of moment
//! are not ranked: their R, F and M are 0 and their segment is `no_orders`, outside the grid.
//!
//! The segment comes from R and FM, where FM combines F and M per `fm` (default: their mean,
//! halves rounded up), through a 5 × 5 grid whose default is the usual RFM segment grid.
//!
//! Never reads an order at or after the as-of moment.

use std::fmt;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::tier::Invalid;
use super::{read_toml, MembersError, DAY};
use crate::data::history::{History, MemberIdx};
use crate::features::member::MemberIndex;

/// One member's RFM values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rfm {
    /// Whole days since the last order; `None` without orders.
    pub recency_days: Option<i64>,
    pub frequency: u32,
    /// Paid, in cents.
    pub monetary_cents: i64,
}

impl Rfm {
    /// Paid, in the history's currency.
    pub fn monetary(&self) -> f64 {
        self.monetary_cents as f64 / 100.0
    }
}

/// An amount in cents, rounded to the nearest cent.
pub fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

/// Member `m`'s RFM as of `as_of`, from orders not refunded strictly before it.
pub fn rfm_of(h: &History, ix: &MemberIndex, m: MemberIdx, as_of: i64) -> Rfm {
    let o = &h.orders;
    let mut out = Rfm::default();
    let mut last = None;
    for &r in ix.orders.of(m) {
        let r = r as usize;
        if o.at[r] >= as_of {
            break;
        }
        if o.refunded[r] {
            continue;
        }
        out.frequency += 1;
        out.monetary_cents = out.monetary_cents.saturating_add(cents(o.amount[r]));
        last = Some(o.at[r]);
    }
    out.recency_days = last.map(|t| (as_of - t).div_euclid(DAY));
    out
}

/// RFM of each of `members` as of `as_of`, in parallel.
pub fn rfm_all(h: &History, ix: &MemberIndex, members: &[MemberIdx], as_of: i64) -> Vec<Rfm> {
    members
        .par_iter()
        .with_min_len(1_024)
        .map(|&m| rfm_of(h, ix, m, as_of))
        .collect()
}

/// Quintile scores of `keys` (larger is better): `1 + floor(5 × w / n)` with `w` the number of
/// strictly smaller keys. Equal keys get equal scores.
pub fn quintiles(keys: &[i64]) -> Vec<u8> {
    let n = keys.len();
    let mut order: Vec<(i64, u32)> = keys.iter().zip(0u32..).map(|(&k, i)| (k, i)).collect();
    order.par_sort_unstable();
    let mut scores = vec![0u8; n];
    let mut start = 0;
    while start < n {
        let key = order[start].0;
        let end = start + order[start..].partition_point(|&(k, _)| k == key);
        let score = 1 + (5 * start / n) as u8;
        for &(_, i) in &order[start..end] {
            scores[i as usize] = score;
        }
        start = end;
    }
    scores
}

/// R, F and M scores, 1–5; all 0 for a member without orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Scores {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

/// Scores of every member of `values`, ranked among those with orders.
pub fn scores(values: &[Rfm]) -> Vec<Scores> {
    let ranked: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].recency_days.is_some())
        .collect();
    let key = |f: &dyn Fn(&Rfm) -> i64| -> Vec<u8> {
        quintiles(&ranked.iter().map(|&i| f(&values[i])).collect::<Vec<_>>())
    };
    // Fewer days since the last order is better.
    let r = key(&|v| v.recency_days.map_or(i64::MIN, |d| -d));
    let f = key(&|v| i64::from(v.frequency));
    let m = key(&|v| v.monetary_cents);
    let mut out = vec![Scores::default(); values.len()];
    for (j, &i) in ranked.iter().enumerate() {
        out[i] = Scores {
            r: r[j],
            f: f[j],
            m: m[j],
        };
    }
    out
}

/// A named RFM segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Champions,
    Loyal,
    PotentialLoyalist,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CantLose,
    Hibernating,
    Lost,
}

impl Segment {
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::PotentialLoyalist,
        Segment::New,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CantLose,
        Segment::Hibernating,
        Segment::Lost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::Loyal => "loyal",
            Segment::PotentialLoyalist => "potential_loyalist",
            Segment::New => "new",
            Segment::Promising => "promising",
            Segment::NeedAttention => "need_attention",
            Segment::AboutToSleep => "about_to_sleep",
            Segment::AtRisk => "at_risk",
            Segment::CantLose => "cant_lose",
            Segment::Hibernating => "hibernating",
            Segment::Lost => "lost",
        }
    }
}

/// The segment name of members without orders.
pub const NO_ORDERS: &str = "no_orders";

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How F and M become the grid's FM column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FmFrom {
    /// (F + M) / 2, halves rounded up.
    Mean,
    Frequency,
    Monetary,
}

/// `[grid]`: for each R score, the segments of FM = 1..5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grid {
    pub r5: Vec<Segment>,
    pub r4: Vec<Segment>,
    pub r3: Vec<Segment>,
    pub r2: Vec<Segment>,
    pub r1: Vec<Segment>,
}

impl Default for Grid {
    fn default() -> Self {
        use Segment::*;
        Grid {
            r5: vec![
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
            r4: vec![
                Promising,
                PotentialLoyalist,
                PotentialLoyalist,
                Loyal,
                Champions,
            ],
            r3: vec![AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
            r2: vec![Hibernating, Hibernating, AtRisk, AtRisk, CantLose],
            r1: vec![Lost, Lost, AtRisk, CantLose, CantLose],
        }
    }
}

/// `training/rfm.toml` as written; every key has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RfmParams {
    pub fm: Option<FmFrom>,
    pub grid: Grid,
}

impl RfmParams {
    pub fn check(self) -> Result<RfmRules, Invalid> {
        let rows: [(&'static str, Vec<Segment>); 5] = [
            ("grid.r1", self.grid.r1),
            ("grid.r2", self.grid.r2),
            ("grid.r3", self.grid.r3),
            ("grid.r4", self.grid.r4),
            ("grid.r5", self.grid.r5),
        ];
        let mut grid = [[Segment::Lost; 5]; 5];
        for (r, (key, row)) in rows.into_iter().enumerate() {
            grid[r] = row.try_into().map_err(|row: Vec<Segment>| Invalid {
                key,
                message: format!(
                    "needs 5 segments (for FM = 1, 2, 3, 4, 5), has {}",
                    row.len()
                ),
            })?;
        }
        Ok(RfmRules {
            fm: self.fm.unwrap_or(FmFrom::Mean),
            grid,
        })
    }
}

/// Checked RFM rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RfmRules {
    pub fm: FmFrom,
    /// `grid[r - 1][fm - 1]`.
    pub grid: [[Segment; 5]; 5],
}

impl Default for RfmRules {
    fn default() -> Self {
        let g = Grid::default();
        let row = |v: Vec<Segment>| -> [Segment; 5] {
            let mut a = [Segment::Lost; 5];
            for (slot, s) in a.iter_mut().zip(v) {
                *slot = s;
            }
            a
        };
        RfmRules {
            fm: FmFrom::Mean,
            grid: [row(g.r1), row(g.r2), row(g.r3), row(g.r4), row(g.r5)],
        }
    }
}

/// Reads and checks an RFM config; `None` gives the defaults.
pub fn load(path: Option<&Path>) -> Result<RfmRules, MembersError> {
    let Some(path) = path else {
        return Ok(RfmRules::default());
    };
    let params: RfmParams = read_toml(path)?;
    params.check().map_err(|e| MembersError::Config {
        path: path.to_path_buf(),
        key: e.key,
        message: e.message,
    })
}

impl RfmRules {
    /// The FM score of F and M.
    pub fn fm(&self, s: Scores) -> u8 {
        match self.fm {
            FmFrom::Mean => (s.f + s.m).div_ceil(2),
            FmFrom::Frequency => s.f,
            FmFrom::Monetary => s.m,
        }
    }

    /// The segment of a scored member; `None` for a member without orders (scores 0).
    pub fn segment(&self, s: Scores) -> Option<Segment> {
        let fm = self.fm(s);
        if !(1..=5).contains(&s.r) || !(1..=5).contains(&fm) {
            return None;
        }
        Some(self.grid[usize::from(s.r) - 1][usize::from(fm) - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_of_ten_distinct_values() {
        // 10 values: w = 0..9, score = 1 + floor(5w/10) = 1,1,2,2,3,3,4,4,5,5.
        let keys = [50, 10, 40, 20, 30, 90, 60, 80, 70, 100];
        assert_eq!(quintiles(&keys), vec![3, 1, 2, 1, 2, 5, 3, 4, 4, 5]);
    }

    #[test]
    fn ties_share_the_score_of_their_lowest_rank() {
        // Six 1s (w = 0 → 1), two 2s (w = 6 → 1 + floor(30/10) = 4), one 3 (w = 8 → 5),
        // one 7 (w = 9 → 5). Scores 2 and 3 stay empty.
        let keys = [1, 2, 1, 1, 3, 1, 7, 1, 2, 1];
        assert_eq!(quintiles(&keys), vec![1, 4, 1, 1, 5, 1, 5, 1, 4, 1]);
        // The input order does not matter.
        let mut rev = keys;
        rev.reverse();
        let mut s = quintiles(&rev);
        s.reverse();
        assert_eq!(s, quintiles(&keys));
        assert!(quintiles(&[]).is_empty());
        assert_eq!(quintiles(&[5]), vec![1]);
    }

    #[test]
    fn scores_rank_recency_down_and_skip_members_without_orders() {
        let v = |d: Option<i64>, f: u32, m: i64| Rfm {
            recency_days: d,
            frequency: f,
            monetary_cents: m,
        };
        let values = [
            v(Some(10), 3, 30_000),
            v(None, 0, 0),
            v(Some(200), 1, 1_000),
            v(Some(40), 2, 30_000),
            v(Some(10), 5, 90_000),
            v(Some(400), 1, 500),
        ];
        // Ranked: 5 members. Recency 10,200,40,10,400 → keys -10,-200,-40,-10,-400:
        //   w = 3,1,2,3,0 → R = 1+floor(5w/5) = 4,2,3,4,1.
        // Frequency 3,1,2,5,1: w = 3,0,2,4,0 → F = 4,1,3,5,1.
        // Monetary 300,10,300,900,5: w = 2,1,2,4,0 → M = 3,2,3,5,1.
        let s = scores(&values);
        let t = |r, f, m| Scores { r, f, m };
        assert_eq!(
            s,
            vec![
                t(4, 4, 3),
                t(0, 0, 0),
                t(2, 1, 2),
                t(3, 3, 3),
                t(4, 5, 5),
                t(1, 1, 1)
            ]
        );
        let rules = RfmRules::default();
        let seg: Vec<Option<Segment>> = s.iter().map(|&x| rules.segment(x)).collect();
        // FM = ceil((F + M) / 2): 4, -, 2, 3, 5, 1.
        assert_eq!(
            seg,
            vec![
                Some(Segment::Loyal),
                None,
                Some(Segment::Hibernating),
                Some(Segment::NeedAttention),
                Some(Segment::Champions),
                Some(Segment::Lost)
            ]
        );
    }

    #[test]
    fn default_grid_uses_all_eleven_segments() {
        let rules = RfmRules::default();
        let checked = RfmParams::default()
            .check()
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(checked, rules);
        for s in Segment::ALL {
            assert!(
                rules.grid.iter().flatten().any(|&g| g == s),
                "{s} is not in the default grid"
            );
        }
        let at = |r, f, m| rules.segment(Scores { r, f, m });
        assert_eq!(at(5, 5, 5), Some(Segment::Champions));
        assert_eq!(at(5, 1, 1), Some(Segment::New));
        assert_eq!(at(4, 1, 1), Some(Segment::Promising));
        assert_eq!(at(1, 5, 4), Some(Segment::CantLose));
        assert_eq!(at(1, 1, 2), Some(Segment::Lost));
        assert_eq!(at(0, 0, 0), None);
    }

    #[test]
    fn config_mistakes_name_the_key() {
        let p: RfmParams =
            toml::from_str("[grid]\nr3 = [\"lost\", \"lost\"]\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.check().err().map(|e| e.key), Some("grid.r3"));
        let e = toml::from_str::<RfmParams>("[grid]\nr3 = [\"sleepy\"]\n").err();
        assert!(e.is_some_and(|e| e.to_string().contains("sleepy")));
        let p: RfmParams = toml::from_str("fm = \"monetary\"\n").unwrap_or_else(|e| panic!("{e}"));
        let r = p.check().unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.fm(Scores { r: 3, f: 1, m: 4 }), 4);
    }

    #[test]
    fn rfm_of_reads_only_orders_before_the_moment() {
        use crate::data::history::History;
        let mut h = History::default();
        h.members.ids.intern("a");
        h.members.joined_at.push(0);
        let day = 86_400;
        // Orders at day 1 (12.34), day 3 (refunded, 50), day 5 (0.666 → 0.67), day 9 (100).
        for (t, amt, refunded) in [
            (day, 12.34, false),
            (3 * day, 50.0, true),
            (5 * day, 0.666, false),
            (9 * day, 100.0, false),
        ] {
            h.orders.member.push(0);
            h.orders.at.push(t);
            h.orders.amount.push(amt);
            h.orders.refunded.push(refunded);
        }
        let ix = MemberIndex::build(&h);
        // As of day 9: the day-9 order is not before it → last order day 5, 4 days ago.
        let r = rfm_of(&h, &ix, 0, 9 * day);
        assert_eq!(
            r,
            Rfm {
                recency_days: Some(4),
                frequency: 2,
                monetary_cents: 1_301
            }
        );
        assert_eq!(r.monetary(), 13.01);
        assert_eq!(rfm_of(&h, &ix, 0, day).recency_days, None);
        assert_eq!(rfm_of(&h, &ix, 0, 10 * day).frequency, 3);
    }
}
