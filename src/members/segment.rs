//! Tier, RFM segment and behavioural cluster of every member as of a moment, the programme's
//! summary (segment, tier and cluster sizes, the 20/80 figure), and the per-member file (`.csv` →
//! CSV, else Parquet).
//!
//! The population is every member who joined strictly before the as-of moment, with or without
//! orders; members without orders are in the first tier and the `no_orders` segment, and count
//! (with no sales) in the Pareto figure.

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::cluster::{self, Clusters};
use super::rfm::{self, Rfm, RfmRules, Scores, Segment, NO_ORDERS};
use super::tier::TierRules;
use super::{write_table, MembersError};
use crate::data::history::{History, MemberIdx};
use crate::data::schema::{opt, req, Column, Kind};
use crate::data::write::{Row, RowSink};
use crate::features::member::MemberIndex;

/// Every member's tier, RFM and cluster as of one moment; the vectors are parallel to `members`.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// UTC seconds.
    pub as_of: i64,
    pub members: Vec<MemberIdx>,
    pub tiers: Vec<usize>,
    pub rfm: Vec<Rfm>,
    pub scores: Vec<Scores>,
    pub segments: Vec<Option<Segment>>,
    /// The clustering fitted as of this moment.
    pub clustering: Clusters,
    /// Each member's cluster: an index into `clustering.clusters` (0-based; its id is one more).
    pub clusters: Vec<u16>,
}

/// Tiers, segments and clusters of every member who joined before `as_of`, from history strictly before it.
pub fn segment(h: &History, tiers: &TierRules, rules: &RfmRules, as_of: i64) -> Segmentation {
    let members: Vec<MemberIdx> = (0..h.members.len() as MemberIdx)
        .into_par_iter()
        .filter(|&m| h.members.joined_at[m as usize] < as_of)
        .collect();
    let ix = MemberIndex::build(h);
    let ((tier, values), (clustering, clusters)) = rayon::join(
        || {
            rayon::join(
                || tiers.tiers(h, &ix, &members, as_of),
                || rfm::rfm_all(h, &ix, &members, as_of),
            )
        },
        || {
            let used = cluster::FEATURES_USED;
            let rows = cluster::rows(h, &ix, &members, as_of, used);
            let fitted = cluster::fit(&rows, used, &cluster::ClusterParams::default());
            let of = fitted.assign_all(&rows);
            (fitted, of)
        },
    );
    let scores = rfm::scores(&values);
    let segments = scores.iter().map(|&s| rules.segment(s)).collect();
    Segmentation {
        as_of,
        members,
        tiers: tier,
        rfm: values,
        scores,
        segments,
        clustering,
        clusters,
    }
}

/// One group's size and sales.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    pub members: usize,
    /// Share of the population's members.
    pub share: f64,
    /// Paid (not refunded) before the as-of moment.
    pub sales: f64,
    /// Share of the population's sales; 0 when there are none.
    pub sales_share: f64,
}

/// The 20/80 figure: what share of sales the top fifth of members by monetary brings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pareto {
    /// ceil(members / 5).
    pub top_members: usize,
    pub top_sales: f64,
    pub sales: f64,
    /// `None` when nobody bought anything.
    pub top_sales_share: Option<f64>,
}

/// The share of `monetary_cents` (one value per member) held by the top `ceil(n / 5)` members.
pub fn pareto(monetary_cents: &[i64]) -> Pareto {
    let mut sorted = monetary_cents.to_vec();
    sorted.par_sort_unstable_by(|a, b| b.cmp(a));
    let k = sorted.len().div_ceil(5);
    let top: i64 = sorted[..k].iter().sum();
    let all: i64 = sorted.iter().sum();
    Pareto {
        top_members: k,
        top_sales: top as f64 / 100.0,
        sales: all as f64 / 100.0,
        top_sales_share: (all > 0).then(|| top as f64 / all as f64),
    }
}

/// What `woolguard segment` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The as-of moment, RFC 3339.
    pub as_of: String,
    pub members: usize,
    pub members_with_orders: usize,
    /// The eleven segments in their fixed order, then `no_orders`.
    pub segments: Vec<Group>,
    /// Every tier, lowest first.
    pub tiers: Vec<Group>,
    /// Every cluster, by id (1 first).
    pub clusters: Vec<ClusterGroup>,
    /// How k was chosen, and the silhouette of each k tried.
    pub clustering: ClusterChoice,
    pub pareto: Pareto,
}

/// One cluster's size and sales.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterGroup {
    pub id: u16,
    #[serde(flatten)]
    pub group: Group,
    /// The centroid in the features' own units, by feature name.
    pub centroid: Vec<(&'static str, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterChoice {
    pub k: usize,
    pub criterion: String,
    pub silhouette: Vec<(usize, f64)>,
    pub features: Vec<&'static str>,
}

fn groups(names: Vec<String>, of: impl Fn(usize) -> usize, s: &Segmentation) -> Vec<Group> {
    let mut counts = vec![(0usize, 0i64); names.len()];
    for (i, v) in s.rfm.iter().enumerate() {
        let c = &mut counts[of(i)];
        c.0 += 1;
        c.1 += v.monetary_cents;
    }
    let n = s.members.len();
    let total: i64 = counts.iter().map(|c| c.1).sum();
    names
        .into_iter()
        .zip(counts)
        .map(|(name, (members, cents))| Group {
            name,
            members,
            share: if n > 0 {
                members as f64 / n as f64
            } else {
                0.0
            },
            sales: cents as f64 / 100.0,
            sales_share: if total > 0 {
                cents as f64 / total as f64
            } else {
                0.0
            },
        })
        .collect()
}

/// Segment and tier sizes and the Pareto figure of a segmentation.
pub fn summarise(s: &Segmentation, tiers: &TierRules) -> Summary {
    let mut seg_names: Vec<String> = Segment::ALL.iter().map(|x| x.name().to_string()).collect();
    seg_names.push(NO_ORDERS.to_string());
    let seg_slot = |i: usize| {
        s.segments[i].map_or(Segment::ALL.len(), |g| {
            Segment::ALL.iter().position(|x| *x == g).unwrap_or(0)
        })
    };
    let cents: Vec<i64> = s.rfm.iter().map(|v| v.monetary_cents).collect();
    Summary {
        as_of: chrono::DateTime::from_timestamp(s.as_of, 0)
            .map_or_else(|| s.as_of.to_string(), |t| t.to_rfc3339()),
        members: s.members.len(),
        members_with_orders: s.rfm.iter().filter(|v| v.frequency > 0).count(),
        segments: groups(seg_names, seg_slot, s),
        tiers: groups(tiers.names.clone(), |i| s.tiers[i], s),
        clusters: groups(
            s.clustering
                .clusters
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            |i| usize::from(s.clusters[i]),
            s,
        )
        .into_iter()
        .zip(&s.clustering.clusters)
        .map(|(group, c)| ClusterGroup {
            id: c.id,
            group,
            centroid: s
                .clustering
                .features
                .iter()
                .copied()
                .zip(c.centroid.iter().copied())
                .collect(),
        })
        .collect(),
        clustering: ClusterChoice {
            k: s.clustering.k(),
            criterion: s.clustering.criterion.clone(),
            silhouette: s.clustering.silhouette.clone(),
            features: s.clustering.features.clone(),
        },
        pareto: pareto(&cents),
    }
}

/// One row of the segments file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRow {
    pub member_id: String,
    pub tier: String,
    pub recency_days: Option<i64>,
    pub frequency: i64,
    pub monetary: f64,
    pub r: i64,
    pub f: i64,
    pub m: i64,
    pub segment: &'static str,
    pub cluster: i64,
    pub cluster_name: String,
}

const SEGMENT_COLUMNS: &[Column] = &[
    req("member_id", Kind::Text),
    req("tier", Kind::Text),
    opt("recency_days", Kind::Int),
    req("frequency", Kind::Int),
    req("monetary", Kind::Money),
    req("r", Kind::Int),
    req("f", Kind::Int),
    req("m", Kind::Int),
    req("segment", Kind::Text),
    req("cluster", Kind::Int),
    req("cluster_name", Kind::Text),
];

impl Row for SegmentRow {
    fn columns() -> &'static [Column] {
        SEGMENT_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.text(&self.tier);
        out.opt_int(self.recency_days);
        out.int(self.frequency);
        out.money(self.monetary);
        out.int(self.r);
        out.int(self.f);
        out.int(self.m);
        out.text(self.segment);
        out.int(self.cluster);
        out.text(&self.cluster_name);
    }
}

impl Segmentation {
    /// The file row of the `i`-th member.
    pub fn row(&self, h: &History, tiers: &TierRules, i: usize) -> SegmentRow {
        let v = &self.rfm[i];
        let s = self.scores[i];
        SegmentRow {
            member_id: h.members.id(self.members[i]).to_string(),
            tier: tiers.name(self.tiers[i]).to_string(),
            recency_days: v.recency_days,
            frequency: i64::from(v.frequency),
            monetary: v.monetary(),
            r: i64::from(s.r),
            f: i64::from(s.f),
            m: i64::from(s.m),
            segment: self.segments[i].map_or(NO_ORDERS, Segment::name),
            cluster: i64::from(self.clusters[i]) + 1,
            cluster_name: self
                .clustering
                .name(usize::from(self.clusters[i]))
                .to_string(),
        }
    }
}

/// Writes one row per member to `path`: CSV when it ends in `.csv`, else Parquet. Returns the
/// rows written.
pub fn write(
    h: &History,
    s: &Segmentation,
    tiers: &TierRules,
    path: &Path,
) -> Result<u64, MembersError> {
    write_table(path, s.members.len(), |i| s.row(h, tiers, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_takes_the_top_fifth_rounded_up() {
        // 6 members → top ceil(6/5) = 2: 500 + 300 of 1000 → 0.8.
        let p = pareto(&[10_000, 50_000, 0, 30_000, 5_000, 5_000]);
        assert_eq!(p.top_members, 2);
        assert_eq!(p.top_sales, 800.0);
        assert_eq!(p.sales, 1_000.0);
        assert_eq!(p.top_sales_share, Some(0.8));
        assert_eq!(pareto(&[0, 0]).top_sales_share, None);
        assert_eq!(pareto(&[]).top_members, 0);
    }

    #[test]
    fn segments_a_small_history() {
        let mut h = History::default();
        let day = 86_400;
        for (id, joined) in [("a", 0), ("b", 0), ("c", 50 * day)] {
            h.members.ids.intern(id);
            h.members.joined_at.push(joined);
        }
        // a: 150 on day 1 and 400 on day 10 → 550, silver; b: 20 on day 2; c joins after.
        for (m, t, amt) in [(0, day, 150.0), (0, 10 * day, 400.0), (1, 2 * day, 20.0)] {
            h.orders.member.push(m);
            h.orders.at.push(t);
            h.orders.amount.push(amt);
            h.orders.list_amount.push(amt);
            h.orders.discount.push(0.0);
            h.orders.coupon.push(crate::data::history::NONE);
            h.orders.refunded.push(false);
        }
        let tiers = TierRules::default();
        let s = segment(&h, &tiers, &RfmRules::default(), 20 * day);
        assert_eq!(s.members, vec![0, 1]);
        assert_eq!(s.tiers, vec![2, 0]);
        // a: R w=1 of 2 → 1 + floor(5/2) = 3, F 3, M 3 → need_attention; b: 1,1,1 → lost.
        assert_eq!(
            s.segments,
            vec![Some(Segment::NeedAttention), Some(Segment::Lost)]
        );
        let row = s.row(&h, &tiers, 0);
        assert_eq!(row.tier, "silver");
        assert_eq!(row.recency_days, Some(10));
        assert_eq!(row.monetary, 550.0);
        let sum = summarise(&s, &tiers);
        assert_eq!(sum.members, 2);
        assert_eq!(sum.pareto.top_sales_share, Some(550.0 / 570.0));
        assert_eq!(sum.tiers[2].members, 1);
        assert_eq!(sum.segments.len(), 12);
        // Two members: too few to split (k needs a silhouette sample of at least k + 1).
        assert_eq!(s.clustering.k(), 1);
        assert_eq!(s.clusters, vec![0, 0]);
        assert_eq!((row.cluster, sum.clusters[0].group.members), (1, 2));
    }
}
