//! Behavioural clusters (DESIGN.md §5): k-means over a few standardised member features as of a
//! date, so that an analyst sees groups such as "frequent buyers, big spenders" or "coupon
//! redeemers, rare buyers" beside the RFM segments.
//!
//! How, and why so:
//! - the features are columns of `features::member::member_row` (never computed again here):
//!   counts and amounts go through `ln(1 + x)` so that a few whales do not make every other member
//!   one blob; a value that is undefined (a ratio over no orders) takes the sample's mean, so it
//!   pulls no cluster either way; then every column is standardised (z-scores);
//! - k is chosen by the best mean silhouette over k = 2..=8 (ties to the smaller k), each k
//!   fitted by linfa's k-means on a seeded sample of `select_sample` members and scored on the
//!   first `silhouette_sample` of them; the chosen k is then fitted again on `fit_sample` members.
//!   Fitting on a sample and assigning every member to the nearest centroid in parallel keeps a
//!   million members within seconds. Same history, same date, same seed → same clusters;
//! - clusters are numbered from 1 by size in the fitting sample (1 is the largest), and named in
//!   words by the features whose centroid lies furthest from the mean (|z| ≥ 0.5, at most two;
//!   a third, then the id, when two clusters would share a name).
//!
//! Never reads an event at or after the as-of moment (the rows come from `member_row`).

use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::data::history::{History, MemberIdx};
use crate::features::member::{member_row, MemberIndex, FEATURES};
use crate::model::metrics::mean_variance;

/// One clustering feature: a member-feature column and the words for a cluster far above or
/// below the mean on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// A name from `features::member::FEATURES`.
    pub name: &'static str,
    /// Taken as `ln(1 + x)` (counts and amounts).
    pub log: bool,
    pub high: &'static str,
    pub low: &'static str,
}

const fn feat(name: &'static str, log: bool, high: &'static str, low: &'static str) -> Feature {
    Feature {
        name,
        log,
        high,
        low,
    }
}

/// The behavioural features the clusters are fitted on.
pub const FEATURES_USED: &[Feature] = &[
    feat("orders", true, "frequent buyers", "rare buyers"),
    feat("paid_total", true, "big spenders", "low spenders"),
    feat(
        "coupon_order_share",
        false,
        "coupon-driven",
        "full-price buyers",
    ),
    feat("discount_depth", false, "deep discounts", "little discount"),
    feat(
        "coupons_redeemed",
        true,
        "coupon redeemers",
        "few coupons redeemed",
    ),
    feat(
        "points_for_coupons",
        true,
        "points-for-coupon swappers",
        "no points swaps",
    ),
    feat("days_since_last_order", false, "lapsed", "recently active"),
    feat("tenure_days", false, "long-standing", "newly joined"),
];

/// Sample sizes, the range of k and the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClusterParams {
    pub k_min: usize,
    pub k_max: usize,
    /// Members each candidate k is fitted on.
    pub select_sample: usize,
    /// Of those, the members the silhouette is computed on (quadratic cost).
    pub silhouette_sample: usize,
    /// Members the chosen k is fitted on.
    pub fit_sample: usize,
    pub seed: u64,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            k_min: 2,
            k_max: 8,
            select_sample: 5_000,
            silhouette_sample: 2_000,
            fit_sample: 20_000,
            seed: 7,
        }
    }
}

/// One cluster, described.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// 1-based; 1 is the largest in the fitting sample.
    pub id: u16,
    pub name: String,
    /// The centroid in z-scores, one per feature.
    pub centroid_z: Vec<f64>,
    /// The centroid back in the features' own units (a typical member of the cluster).
    pub centroid: Vec<f64>,
}

/// A fitted clustering: how to standardise a row, the centroids, and how k was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clusters {
    pub features: Vec<&'static str>,
    /// Mean and standard deviation of each (logged) feature in the fitting sample.
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub clusters: Vec<Cluster>,
    /// "best mean silhouette over k = 2..=8 on a seeded sample", or why there is one cluster.
    pub criterion: String,
    /// Mean silhouette of each k tried.
    pub silhouette: Vec<(usize, f64)>,
    pub params: ClusterParams,
}

/// Every member's clustering features (logged where the feature says so, NaN where undefined),
/// row-major, `features.len()` per member, computed in parallel through `member_row`.
pub fn rows(
    h: &History,
    ix: &MemberIndex,
    members: &[MemberIdx],
    as_of: i64,
    features: &[Feature],
) -> Vec<f64> {
    let cols: Vec<usize> = features
        .iter()
        .map(|f| {
            FEATURES
                .iter()
                .position(|d| d.name == f.name)
                .unwrap_or(usize::MAX)
        })
        .collect();
    let d = features.len();
    let mut out = vec![f64::NAN; members.len() * d];
    out.par_chunks_mut(d.max(1))
        .with_min_len(1_024)
        .zip(members.par_iter())
        .for_each_init(
            || vec![f64::NAN; FEATURES.len()],
            |buf, (row, &m)| {
                member_row(h, ix, m, as_of, buf);
                for ((slot, &c), f) in row.iter_mut().zip(&cols).zip(features) {
                    let v = buf.get(c).copied().unwrap_or(f64::NAN);
                    *slot = if f.log { v.max(0.0).ln_1p() } else { v };
                }
            },
        );
    out
}

/// `n` distinct row positions out of `total`, drawn with `seed`, in ascending order.
fn sample(total: usize, n: usize, seed: u64) -> Vec<usize> {
    if n >= total {
        return (0..total).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = rand::seq::index::sample(&mut rng, total, n).into_vec();
    picked.sort_unstable();
    picked
}

/// Squared Euclidean distance.
fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest of `centroids` (row-major, `d` per centroid) to `row`; ties to the lower index.
pub fn nearest(centroids: &[f64], d: usize, row: &[f64]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (c, centroid) in centroids.chunks(d.max(1)).enumerate() {
        let dd = dist2(centroid, row);
        if dd < best.1 {
            best = (c, dd);
        }
    }
    best.0
}

/// Mean silhouette of `labels` (0..k) over row-major `rows`: per point, a = mean distance to the
/// rest of its cluster, b = the least mean distance to another non-empty cluster, s = (b − a) /
/// max(a, b) (s = 1 alone in its cluster, as linfa has it). 1 when only one cluster is used.
pub fn silhouette(rows: &[f64], d: usize, labels: &[usize], k: usize) -> f64 {
    let n = labels.len();
    let mut size = vec![0usize; k];
    for &l in labels {
        size[l] += 1;
    }
    if size.iter().filter(|&&s| s > 0).count() < 2 {
        return 1.0;
    }
    // Per-point values collected in order and summed in order: the same sum on any thread count.
    let per_point: Vec<f64> = (0..n)
        .into_par_iter()
        .map_init(
            || vec![0.0f64; k],
            |sum, i| {
                sum.iter_mut().for_each(|s| *s = 0.0);
                let xi = &rows[i * d..(i + 1) * d];
                for j in 0..n {
                    sum[labels[j]] += dist2(xi, &rows[j * d..(j + 1) * d]).sqrt();
                }
                let own = labels[i];
                let a = if size[own] > 1 {
                    sum[own] / (size[own] - 1) as f64
                } else {
                    0.0
                };
                let b = (0..k)
                    .filter(|&c| c != own && size[c] > 0)
                    .map(|c| sum[c] / size[c] as f64)
                    .fold(f64::INFINITY, f64::min);
                let m = a.max(b);
                if m > 0.0 {
                    (b - a) / m
                } else {
                    0.0
                }
            },
        )
        .collect();
    per_point.iter().sum::<f64>() / n as f64
}

/// k-means with linfa on row-major `rows`: the centroids, row-major. `None` when linfa refuses
/// (fewer distinct points than k).
fn kmeans(rows: &[f64], d: usize, k: usize, runs: usize) -> Option<Vec<f64>> {
    let n = rows.len() / d.max(1);
    if n < k {
        return None;
    }
    let records = Array2::from_shape_vec((n, d), rows.to_vec()).ok()?;
    let ds = DatasetBase::from(records);
    let model = KMeans::params(k)
        .n_runs(runs)
        .max_n_iterations(100)
        .tolerance(1e-4)
        .fit(&ds)
        .ok()?;
    let c = model.centroids();
    let out: Vec<f64> = c.iter().copied().collect();
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// NaN → mean, then z-score, in place.
fn standardise_with(mean: &[f64], std: &[f64], row: &mut [f64]) {
    for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
        let x = if v.is_nan() { *m } else { *v };
        *v = (x - m) / s;
    }
}

impl Clusters {
    /// Standardises one raw row (from [`rows`]) in place: NaN → mean, then z-score.
    pub fn standardise(&self, row: &mut [f64]) {
        standardise_with(&self.mean, &self.std, row);
    }

    fn centroids_z(&self) -> Vec<f64> {
        self.clusters
            .iter()
            .flat_map(|c| c.centroid_z.iter().copied())
            .collect()
    }

    /// The cluster (index into `clusters`, 0-based) of one raw row.
    pub fn assign(&self, raw: &[f64]) -> usize {
        let mut z = raw.to_vec();
        self.standardise(&mut z);
        nearest(&self.centroids_z(), self.features.len(), &z)
    }

    /// The cluster (0-based index) of every raw row, in parallel, each through the same
    /// nearest-centroid rule as [`Clusters::assign`].
    pub fn assign_all(&self, rows: &[f64]) -> Vec<u16> {
        let d = self.features.len().max(1);
        let centroids = self.centroids_z();
        rows.par_chunks(d)
            .with_min_len(4_096)
            .map_init(
                || vec![0.0; d],
                |z, raw| {
                    z.copy_from_slice(raw);
                    self.standardise(z);
                    nearest(&centroids, d, z) as u16
                },
            )
            .collect()
    }

    pub fn k(&self) -> usize {
        self.clusters.len()
    }

    pub fn name(&self, cluster: usize) -> &str {
        self.clusters.get(cluster).map_or("", |c| c.name.as_str())
    }
}

/// The words for a centroid: its strongest deviations (|z| ≥ 0.5), `take` of them at most.
fn describe(features: &[Feature], z: &[f64], take: usize) -> String {
    let mut order: Vec<usize> = (0..z.len()).filter(|&j| z[j].abs() >= 0.5).collect();
    order.sort_by(|&a, &b| z[b].abs().total_cmp(&z[a].abs()).then(a.cmp(&b)));
    let words: Vec<&str> = order
        .iter()
        .take(take)
        .map(|&j| {
            if z[j] > 0.0 {
                features[j].high
            } else {
                features[j].low
            }
        })
        .collect();
    if words.is_empty() {
        "average members".to_string()
    } else {
        words.join(", ")
    }
}

/// Fits the clustering on row-major raw `rows` (`features.len()` per member, from [`rows`] or
/// any matrix of those features).
pub fn fit(rows: &[f64], features: &[Feature], params: &ClusterParams) -> Clusters {
    let d = features.len().max(1);
    let n = rows.len() / d;
    let fit_rows = sample(n, params.fit_sample, params.seed);
    // Mean and spread over the fitting sample, NaN skipped.
    let mut mean = vec![0.0; d];
    let mut std = vec![1.0; d];
    for j in 0..d {
        let vals: Vec<f64> = fit_rows
            .iter()
            .map(|&i| rows[i * d + j])
            .filter(|v| !v.is_nan())
            .collect();
        let Some((m, var)) = mean_variance(&vals) else {
            continue;
        };
        mean[j] = m;
        std[j] = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
    }
    let z_of = |picked: &[usize]| -> Vec<f64> {
        let mut z = Vec::with_capacity(picked.len() * d);
        for &i in picked {
            let start = z.len();
            z.extend_from_slice(&rows[i * d..(i + 1) * d]);
            standardise_with(&mean, &std, &mut z[start..]);
        }
        z
    };
    let mut silhouettes = Vec::new();

    // Choose k on a smaller sample (the first rows of a seeded draw score the silhouette).
    let select = sample(n, params.select_sample, params.seed.wrapping_add(1));
    let select_z = z_of(&select);
    let sil_n = select.len().min(params.silhouette_sample);
    let sil_z = &select_z[..sil_n * d];
    let k_max = params.k_max.min(sil_n.saturating_sub(1));
    let mut best: Option<(usize, f64)> = None;
    for k in params.k_min.max(2)..=k_max {
        let Some(centroids) = kmeans(&select_z, d, k, 3) else {
            continue;
        };
        let labels: Vec<usize> = sil_z
            .chunks(d)
            .map(|row| nearest(&centroids, d, row))
            .collect();
        let s = silhouette(sil_z, d, &labels, k);
        silhouettes.push((k, s));
        if best.is_none_or(|(_, b)| s > b + 1e-12) {
            best = Some((k, s));
        }
    }
    let fit_z = z_of(&fit_rows);
    let chosen = best.and_then(|(k, _)| kmeans(&fit_z, d, k, 5).map(|cs| (k, cs)));
    let (k, centroids, criterion) = match chosen {
        Some((k, cs)) => {
            let criterion = format!(
                "best mean silhouette over k = {}..={} (k-means on {} sampled members, silhouette on {}), seed {}",
                params.k_min.max(2),
                params.k_max,
                select.len(),
                sil_n,
                params.seed
            );
            (k, cs, criterion)
        }
        None => {
            let criterion = format!("one cluster: too few distinct members ({n}) to split");
            let mut centroid = vec![0.0; d];
            for row in fit_z.chunks(d) {
                for (s, v) in centroid.iter_mut().zip(row) {
                    *s += v / fit_rows.len().max(1) as f64;
                }
            }
            (1, centroid, criterion)
        }
    };
    // Number by size in the fitting sample, largest first.
    let mut size = vec![0usize; k];
    for row in fit_z.chunks(d) {
        size[nearest(&centroids, d, row)] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| size[b].cmp(&size[a]).then(a.cmp(&b)));
    let zs: Vec<Vec<f64>> = order
        .iter()
        .map(|&o| centroids[o * d..(o + 1) * d].to_vec())
        .collect();
    let mut names: Vec<String> = zs.iter().map(|z| describe(features, z, 2)).collect();
    for i in 0..k {
        if names.iter().filter(|n| **n == names[i]).count() > 1 {
            names[i] = describe(features, &zs[i], 3);
        }
    }
    for i in 0..k {
        if names.iter().filter(|n| **n == names[i]).count() > 1 {
            names[i] = format!("{} #{}", names[i], i + 1);
        }
    }
    let clusters = zs
        .into_iter()
        .zip(names)
        .enumerate()
        .map(|(i, (z, name))| {
            let centroid = z
                .iter()
                .enumerate()
                .map(|(j, &v)| {
                    let x = v * std[j] + mean[j];
                    if features[j].log {
                        x.exp_m1()
                    } else {
                        x
                    }
                })
                .collect();
            Cluster {
                id: i as u16 + 1,
                name,
                centroid_z: z,
                centroid,
            }
        })
        .collect();
    Clusters {
        features: features.iter().map(|f| f.name).collect(),
        mean,
        std,
        clusters,
        criterion,
        silhouette: silhouettes,
        params: *params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &[Feature] = &[
        feat("orders", false, "frequent buyers", "rare buyers"),
        feat(
            "coupon_order_share",
            false,
            "coupon-driven",
            "full-price buyers",
        ),
    ];

    /// Two obvious blobs: 60 points around (10, 0) and 40 around (0, 1), jittered by ±0.1.
    fn blobs() -> Vec<f64> {
        let mut rows = Vec::new();
        for i in 0..60 {
            rows.extend_from_slice(&[10.0 + 0.1 * f64::from(i % 3) - 0.1, 0.01 * f64::from(i % 2)]);
        }
        for i in 0..40 {
            rows.extend_from_slice(&[0.1 * f64::from(i % 3) - 0.1, 1.0 - 0.01 * f64::from(i % 2)]);
        }
        rows
    }

    #[test]
    fn two_blobs_give_two_named_clusters() {
        let rows = blobs();
        let c = fit(&rows, TWO, &ClusterParams::default());
        assert_eq!(c.k(), 2, "silhouettes {:?}", c.silhouette);
        // k = 2 has the best silhouette: each point is ~0 from its blob and far from the other.
        let best = c.silhouette.iter().map(|s| s.1).fold(f64::MIN, f64::max);
        assert_eq!(c.silhouette[0].0, 2);
        assert_eq!(c.silhouette[0].1, best);
        assert!(best > 0.95, "silhouette {best}");
        // Mean of orders = (60·10 + 40·0) / 100 = 6, sd ≈ sqrt(0.6·16 + 0.4·36) ≈ 4.9: the big
        // blob sits at z ≈ +0.82 on orders and ≈ −0.82 on coupon share (mean 0.4); the share's
        // jitter is smaller beside its spread, so its |z| is a hair larger and it is named first.
        assert_eq!(c.clusters[0].id, 1);
        assert_eq!(c.clusters[0].name, "full-price buyers, frequent buyers");
        assert_eq!(c.clusters[1].name, "coupon-driven, rare buyers");
        assert!((c.clusters[0].centroid[0] - 10.0).abs() < 0.1);
        assert!((c.clusters[1].centroid[1] - 1.0).abs() < 0.1);
        let labels = c.assign_all(&rows);
        assert!(labels[..60].iter().all(|&l| l == 0));
        assert!(labels[60..].iter().all(|&l| l == 1));
        assert_eq!(c.assign(&[9.0, 0.2]), 0);
        assert_eq!(
            c.assign(&[f64::NAN, 0.9]),
            1,
            "NaN orders count as the mean"
        );
        // Deterministic.
        assert_eq!(fit(&rows, TWO, &ClusterParams::default()), c);
    }

    #[test]
    fn silhouette_by_hand_and_as_linfa_computes_it() {
        // 1-D points 0, 1 | 5: for 0, a = 1, b = 5 → 0.8; for 1, a = 1, b = 4 → 0.75; 5 alone → 1.
        let rows = [0.0, 1.0, 5.0];
        let s = silhouette(&rows, 1, &[0, 0, 1], 2);
        assert!((s - (0.8 + 0.75 + 1.0) / 3.0).abs() < 1e-12, "{s}");
        let rows = blobs();
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i >= 55)).collect();
        let ours = silhouette(&rows, 2, &labels, 2);
        let ds = DatasetBase::new(
            Array2::from_shape_vec((100, 2), rows).unwrap_or_else(|e| panic!("{e}")),
            ndarray::Array1::from(labels),
        );
        let theirs: f64 = ds.silhouette_score().unwrap_or_else(|e| panic!("{e}"));
        assert!((ours - theirs).abs() < 1e-9, "{ours} vs linfa {theirs}");
        assert_eq!(silhouette(&[1.0, 2.0], 1, &[0, 0], 2), 1.0);
    }

    #[test]
    fn too_few_members_make_one_cluster() {
        let c = fit(&[1.0, 2.0], TWO, &ClusterParams::default());
        assert_eq!(c.k(), 1);
        assert_eq!(c.clusters[0].name, "average members");
        assert_eq!(c.assign_all(&[1.0, 2.0, 5.0, 5.0]), vec![0, 0]);
        let empty = fit(&[], TWO, &ClusterParams::default());
        assert_eq!(empty.k(), 1);
        assert!(empty.assign_all(&[]).is_empty());
    }

    #[test]
    fn every_feature_is_a_member_feature() {
        for f in FEATURES_USED {
            assert!(
                FEATURES.iter().any(|d| d.name == f.name),
                "{} is not computed by member_row",
                f.name
            );
        }
    }
}
