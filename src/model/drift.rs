//! Drift: how far the members a model scores now have moved from those it was trained on.
//!
//! At training, the artefact keeps a [`Profile`]: for each feature and for the calibrated score,
//! the cut points of ten bins (deciles of the held-out rows, the newest members the training saw)
//! and the share of rows in each bin and missing, overall and by channel (same cuts). Later the
//! same bins are counted over another population and compared by the population stability index,
//! `PSI = Σ (a − e) · ln(a / e)` over the bins (the missing share a bin of its own), each share
//! floored at [`FLOOR`] so that an empty bin does not make it infinite. A PSI under 0.1 is
//! usually read as stable, 0.1–0.25 as a moderate shift and above 0.25 as a real move.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::artefact::{Artefact, ArtefactError};
use crate::data::{History, MemberIdx};
use crate::features::Matrix;

/// The smallest share a bin counts with in the PSI.
pub const FLOOR: f64 = 1e-4;
/// Bins per feature (deciles, fewer where a feature has fewer distinct values).
pub const BINS: usize = 10;

/// One distribution's bins: values `x` fall in bin `i` where `cuts[i-1] < x <= cuts[i]`
/// (the first bin below every cut, the last above); NaN is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub cuts: Vec<f64>,
    /// One share per bin (`cuts.len() + 1`), then the missing share.
    pub shares: Vec<f64>,
}

impl Bins {
    /// Decile cuts of `values` (distinct, NaN left out) and the shares they give.
    pub fn fit(values: &[f64], bins: usize) -> Bins {
        let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        present.sort_by(f64::total_cmp);
        let mut cuts: Vec<f64> = Vec::new();
        if !present.is_empty() {
            for k in 1..bins {
                let c = present[(k * present.len() / bins).min(present.len() - 1)];
                // A cut at the largest value would leave the last bin empty forever.
                if cuts.last().is_none_or(|&l| c > l) && c < present[present.len() - 1] {
                    cuts.push(c);
                }
            }
        }
        let shares = rounded_shares(&counts(&cuts, values.iter().copied()));
        Bins { cuts, shares }
    }

    /// The bin of `x` (`cuts.len() + 1` for missing).
    pub fn bin(&self, x: f64) -> usize {
        bin_of(&self.cuts, x)
    }

    /// Counts per bin of `values` under these cuts (the missing count last).
    pub fn count(&self, values: impl Iterator<Item = f64>) -> Vec<u64> {
        counts(&self.cuts, values)
    }
}

fn bin_of(cuts: &[f64], x: f64) -> usize {
    if x.is_nan() {
        cuts.len() + 1
    } else {
        cuts.partition_point(|&c| c < x)
    }
}

fn counts(cuts: &[f64], values: impl Iterator<Item = f64>) -> Vec<u64> {
    let mut n = vec![0u64; cuts.len() + 2];
    for v in values {
        n[bin_of(cuts, v)] += 1;
    }
    n
}

/// Counts as shares of their total (all zero for no rows), rounded to 1e-5 (the artefact keeps
/// them; a PSI floors shares at 1e-4 anyway).
pub fn rounded_shares(counts: &[u64]) -> Vec<f64> {
    shares(counts)
        .into_iter()
        .map(|s| (s * 1e5).round() / 1e5)
        .collect()
}

/// Counts as shares of their total (all zero for no rows).
pub fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
        .collect()
}

/// The population stability index of `actual` against `expected` (shares over the same bins).
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// A model's training population, as the artefact keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Rows profiled (the held-out calibration and validation rows).
    pub rows: usize,
    /// One per feature, in the artefact's feature order.
    pub features: Vec<Bins>,
    /// The calibrated probability.
    pub score: Bins,
    /// Per channel and per campaign (with at least [`MIN_SLICE`] rows): the shares of each
    /// feature and of the score under the overall cuts.
    pub by_channel: BTreeMap<String, SliceShares>,
    #[serde(default)]
    pub by_campaign: BTreeMap<String, SliceShares>,
}

/// A slice's shares under a profile's cuts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceShares {
    pub rows: usize,
    pub features: Vec<Vec<f64>>,
    pub score: Vec<f64>,
}

/// The fewest rows a slice needs to be profiled or compared.
pub const MIN_SLICE: usize = 100;

/// Rows of a population: values row by row (`width` features each, at stride `stride`), their
/// scores and each row's channel.
pub struct Population<'a> {
    pub values: &'a [f64],
    pub stride: usize,
    pub width: usize,
    pub scores: &'a [f64],
    pub channels: &'a [&'a str],
    pub campaigns: &'a [&'a str],
}

impl Population<'_> {
    fn rows(&self) -> usize {
        self.scores.len()
    }

    fn column<'r>(&'r self, j: usize, rows: &'r [usize]) -> impl Iterator<Item = f64> + 'r {
        rows.iter().map(move |&i| self.values[i * self.stride + j])
    }

    /// Row indices by key (a channel or a campaign per row).
    fn by(keys: &[&str]) -> BTreeMap<String, Vec<usize>> {
        let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, c) in keys.iter().enumerate() {
            out.entry((*c).to_string()).or_default().push(i);
        }
        out
    }
}

impl Profile {
    /// Profiles a population (the training's held-out rows).
    pub fn fit(p: &Population<'_>) -> Profile {
        let all: Vec<usize> = (0..p.rows()).collect();
        let features: Vec<Bins> = (0..p.width)
            .map(|j| Bins::fit(&p.column(j, &all).collect::<Vec<_>>(), BINS))
            .collect();
        let score = Bins::fit(p.scores, BINS);
        let profile = Profile {
            rows: p.rows(),
            features,
            score,
            by_channel: BTreeMap::new(),
            by_campaign: BTreeMap::new(),
        };
        let slices = |keys: &[&str]| -> BTreeMap<String, SliceShares> {
            Population::by(keys)
                .into_iter()
                .filter(|(_, rows)| rows.len() >= MIN_SLICE)
                .map(|(k, rows)| (k, profile.slice(p, &rows)))
                .collect()
        };
        let (by_channel, by_campaign) = (slices(p.channels), slices(p.campaigns));
        Profile {
            by_channel,
            by_campaign,
            ..profile
        }
    }

    /// The shares of `rows` of a population under this profile's cuts.
    pub fn slice(&self, p: &Population<'_>, rows: &[usize]) -> SliceShares {
        SliceShares {
            rows: rows.len(),
            features: self
                .features
                .iter()
                .enumerate()
                .map(|(j, b)| rounded_shares(&b.count(p.column(j, rows))))
                .collect(),
            score: rounded_shares(&self.score.count(rows.iter().map(|&i| p.scores[i]))),
        }
    }
}

/// Counts under a profile's bins: one population (or slice) as it is scored, row by row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tally {
    pub rows: u64,
    pub features: Vec<Vec<u64>>,
    pub score: Vec<u64>,
}

impl Tally {
    pub fn new(profile: &Profile) -> Tally {
        Tally {
            rows: 0,
            features: profile
                .features
                .iter()
                .map(|b| vec![0; b.cuts.len() + 2])
                .collect(),
            score: vec![0; profile.score.cuts.len() + 2],
        }
    }

    /// Counts one row (its first `profile.features.len()` values) and its score.
    pub fn add(&mut self, profile: &Profile, row: &[f64], score: f64) {
        self.rows += 1;
        for ((b, n), &x) in profile.features.iter().zip(&mut self.features).zip(row) {
            n[b.bin(x)] += 1;
        }
        self.score[profile.score.bin(score)] += 1;
    }
}

/// How one feature (or the score) moved.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Moved {
    pub name: String,
    pub psi: f64,
    /// Above the threshold.
    pub flagged: bool,
    /// The bin whose share moved most, e.g. `(3, 5]: 10.0% → 31.2%`.
    pub how: String,
}

/// One slice (a channel or a campaign) against the training population.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SliceDrift {
    /// `channel` or `campaign`.
    pub by: &'static str,
    pub name: String,
    pub rows: u64,
    /// Whether the slice is compared with the same channel's (or campaign's) training rows;
    /// else with the whole training population (a new campaign, or one training saw too little
    /// of).
    pub own_reference: bool,
    pub score_psi: f64,
    /// The features above the threshold, most moved first.
    pub flagged: Vec<Moved>,
}

/// A population against a model's training population.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Drift {
    pub rows: u64,
    pub training_rows: usize,
    pub threshold: f64,
    pub score: Moved,
    /// Every feature, most moved first.
    pub features: Vec<Moved>,
    /// Names of the features above the threshold (the score first where it is).
    pub flagged: Vec<String>,
    pub slices: Vec<SliceDrift>,
}

fn label(cuts: &[f64], i: usize) -> String {
    let v = |x: f64| {
        if x.fract() == 0.0 && x.abs() < 1e15 {
            format!("{x:.0}")
        } else {
            format!("{x:.3}")
        }
    };
    match (i.checked_sub(1).and_then(|k| cuts.get(k)), cuts.get(i)) {
        _ if i == cuts.len() + 1 => "missing".to_string(),
        (None, Some(&hi)) => format!("≤ {}", v(hi)),
        (Some(&lo), Some(&hi)) => format!("({}, {}]", v(lo), v(hi)),
        (Some(&lo), None) => format!("> {}", v(lo)),
        (None, None) => "all".to_string(),
    }
}

fn moved(name: &str, cuts: &[f64], expected: &[f64], counts: &[u64], threshold: f64) -> Moved {
    let actual = shares(counts);
    let psi = psi(expected, &actual);
    let most = (0..expected.len().min(actual.len()))
        .max_by(|&a, &b| {
            let d = |i: usize| (actual[i] - expected[i]).abs();
            d(a).total_cmp(&d(b))
        })
        .unwrap_or(0);
    Moved {
        name: name.to_string(),
        psi,
        flagged: psi > threshold,
        how: format!(
            "{}: {:.1}% → {:.1}%",
            label(cuts, most),
            100.0 * expected.get(most).copied().unwrap_or(0.0),
            100.0 * actual.get(most).copied().unwrap_or(0.0)
        ),
    }
}

/// Slices of a population to compare: `(by, name, tally)`.
pub type Slices<'a> = Vec<(&'static str, String, &'a Tally)>;

impl Profile {
    /// `overall` (and each slice with at least [`MIN_SLICE`] rows) against this profile;
    /// `names` are the model's feature names.
    pub fn drift(
        &self,
        names: &[String],
        overall: &Tally,
        slices: Slices<'_>,
        threshold: f64,
    ) -> Drift {
        let features_of = |t: &Tally, reference: Option<&SliceShares>| -> Vec<Moved> {
            let mut out: Vec<Moved> = self
                .features
                .iter()
                .enumerate()
                .map(|(j, b)| {
                    let expected = reference.map_or(&b.shares, |r| &r.features[j]);
                    let name = names.get(j).map_or("?", String::as_str);
                    moved(name, &b.cuts, expected, &t.features[j], threshold)
                })
                .collect();
            out.sort_by(|a, b| b.psi.total_cmp(&a.psi));
            out
        };
        let features = features_of(overall, None);
        let score = moved(
            "score",
            &self.score.cuts,
            &self.score.shares,
            &overall.score,
            threshold,
        );
        let flagged = std::iter::once(&score)
            .chain(&features)
            .filter(|m| m.flagged)
            .map(|m| m.name.clone())
            .collect();
        let slices = slices
            .into_iter()
            .filter(|(_, _, t)| t.rows as usize >= MIN_SLICE)
            .map(|(by, name, t)| {
                let reference = match by {
                    "channel" => self.by_channel.get(&name),
                    _ => self.by_campaign.get(&name),
                };
                let expected = reference.map_or(&self.score.shares, |r| &r.score);
                SliceDrift {
                    by,
                    own_reference: reference.is_some(),
                    rows: t.rows,
                    score_psi: psi(expected, &shares(&t.score)),
                    flagged: features_of(t, reference)
                        .into_iter()
                        .filter(|m| m.flagged)
                        .collect(),
                    name,
                }
            })
            .collect();
        Drift {
            rows: overall.rows,
            training_rows: self.rows,
            threshold,
            score,
            features,
            flagged,
            slices,
        }
    }
}

/// Profiles `rows` of a training dataset (`members[i]` is row `i` of `matrix`) for `a`.
pub fn profile_rows(
    a: &Artefact,
    h: &History,
    members: &[MemberIdx],
    matrix: &Matrix,
    rows: &[usize],
) -> Result<Profile, ArtefactError> {
    let width = a.features.len().min(matrix.cols());
    let values = model_columns(matrix, width, rows.iter().copied());
    let scores = a.probabilities(&values)?;
    let channels: Vec<&str> = rows.iter().map(|&i| channel_of(h, members[i])).collect();
    let campaigns: Vec<&str> = rows.iter().map(|&i| campaign_of(h, members[i])).collect();
    Ok(Profile::fit(&Population {
        values: &values,
        stride: width,
        width,
        scores: &scores,
        channels: &channels,
        campaigns: &campaigns,
    }))
}

/// The first `width` columns (the model's features) of `rows` of a feature matrix, row by row.
fn model_columns(matrix: &Matrix, width: usize, rows: impl Iterator<Item = usize>) -> Vec<f64> {
    rows.flat_map(|i| matrix.row(i)[..width].iter().copied())
        .collect()
}

fn channel_of(h: &History, m: MemberIdx) -> &str {
    h.keys
        .opt_name(h.members.channel[m as usize])
        .unwrap_or("(none)")
}

fn campaign_of(h: &History, m: MemberIdx) -> &str {
    h.keys
        .opt_name(h.members.campaign[m as usize])
        .unwrap_or("(none)")
}

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("model {0} keeps no profile of its training population (trained before drift was measured): retrain it with this build")]
    NoProfile(String),
    #[error(transparent)]
    Artefact(#[from] ArtefactError),
    #[error("no member of this history joined at or after {0} (with its observation period over, for a member-time model): nothing to compare")]
    Empty(i64),
}

/// [`of_history_until`] as of the end of the history.
pub fn of_history(
    a: &Artefact,
    h: &History,
    since: Option<i64>,
    threshold: f64,
) -> Result<Drift, DriftError> {
    of_history_until(a, h, since, super::score::end_of(h), threshold)
}

/// The members of `h` (only those who joined at or after `since`, and before `until`) against the model's training
/// population, overall, by channel and by campaign. Rows are built as in training: sign-up
/// features for a recruitment-time model; for a member-time model, the member's features
/// `observe_days` after joining, for each member whose observation period ended by the end of the
/// history (or `until`). Nothing at or after `until` is read.
pub fn of_history_until(
    a: &Artefact,
    h: &History,
    since: Option<i64>,
    until: i64,
    threshold: f64,
) -> Result<Drift, DriftError> {
    let profile = a
        .profile
        .as_ref()
        .ok_or_else(|| DriftError::NoProfile(a.version.clone()))?;
    let end = until;
    let joined: Vec<MemberIdx> = (0..h.members.len() as MemberIdx)
        .filter(|&m| {
            let t = h.members.joined_at[m as usize];
            since.is_none_or(|s| t >= s) && t < until
        })
        .collect();
    // The training's own cutoffs (none at sign-up), kept where they have passed.
    let (members, cutoffs): (Vec<MemberIdx>, Option<Vec<i64>>) =
        match super::dataset::cutoffs(h, &joined, &a.config.features) {
            None => (joined, None),
            Some(cut) => {
                let (m, c): (Vec<MemberIdx>, Vec<i64>) = joined
                    .into_iter()
                    .zip(cut)
                    .filter(|&(_, c)| c <= end)
                    .unzip();
                (m, Some(c))
            }
        };
    if members.is_empty() {
        return Err(DriftError::Empty(since.unwrap_or(0)));
    }
    let matrix = crate::features::build(h, a.config.merge.caps(), &members, cutoffs.as_deref());
    let width = a.features.len().min(matrix.cols());
    let values = model_columns(&matrix, width, 0..matrix.rows);
    let scores = a.probabilities(&values)?;
    let mut overall = Tally::new(profile);
    let mut channels: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut campaigns: BTreeMap<&str, Tally> = BTreeMap::new();
    for (i, &m) in members.iter().enumerate() {
        let row = &values[i * width..(i + 1) * width];
        overall.add(profile, row, scores[i]);
        for (map, key) in [
            (&mut channels, channel_of(h, m)),
            (&mut campaigns, campaign_of(h, m)),
        ] {
            map.entry(key)
                .or_insert_with(|| Tally::new(profile))
                .add(profile, row, scores[i]);
        }
    }
    let slices: Slices<'_> = channels
        .iter()
        .map(|(k, t)| ("channel", (*k).to_string(), t))
        .chain(
            campaigns
                .iter()
                .map(|(k, t)| ("campaign", (*k).to_string(), t)),
        )
        .collect();
    Ok(profile.drift(&a.features, &overall, slices, threshold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_by_hand() {
        // Two bins and missing: 0.5/0.5/0 against 0.3/0.6/0.1.
        let e = [0.5, 0.5, 0.0];
        let a = [0.3, 0.6, 0.1];
        let by_hand = (0.3 - 0.5) * (0.3f64 / 0.5).ln()
            + (0.6 - 0.5) * (0.6f64 / 0.5).ln()
            + (0.1 - FLOOR) * (0.1 / FLOOR).ln();
        assert!((psi(&e, &a) - by_hand).abs() < 1e-12);
        // 0.10216 + 0.01823 + 0.68981
        assert!((psi(&e, &a) - 0.810_482).abs() < 1e-5, "{}", psi(&e, &a));
        assert_eq!(psi(&e, &e), 0.0);
    }

    #[test]
    fn bins_are_deciles_with_missing_last() {
        let v: Vec<f64> = (1..=100).map(f64::from).chain([f64::NAN; 25]).collect();
        let b = Bins::fit(&v, 10);
        assert_eq!(
            b.cuts,
            [11.0, 21.0, 31.0, 41.0, 51.0, 61.0, 71.0, 81.0, 91.0]
        );
        assert_eq!(b.shares.len(), 11);
        assert!((b.shares[0] - 11.0 / 125.0).abs() < 1e-12);
        assert!((b.shares[9] - 9.0 / 125.0).abs() < 1e-12);
        assert!((b.shares[10] - 0.2).abs() < 1e-12);
        assert_eq!(b.bin(11.0), 0);
        assert_eq!(b.bin(11.5), 1);
        assert_eq!(b.bin(1e9), 9);
        assert_eq!(b.bin(f64::NAN), 10);
        // A flag: two values, one cut.
        let flag = Bins::fit(&[0.0, 0.0, 0.0, 1.0], 10);
        assert_eq!(flag.cuts, [0.0]);
        assert_eq!(flag.shares, [0.75, 0.25, 0.0]);
    }

    #[test]
    fn a_shifted_feature_moves_and_a_steady_one_does_not() {
        let base: Vec<f64> = (0..1000).map(|i| f64::from(i % 100)).collect();
        let b = Bins::fit(&base, 10);
        let same = shares(&b.count(base.iter().copied()));
        assert!(psi(&b.shares, &same) < 1e-12);
        let shifted = shares(&b.count(base.iter().map(|v| v + 30.0)));
        assert!(
            psi(&b.shares, &shifted) > 0.25,
            "{}",
            psi(&b.shares, &shifted)
        );
    }
}
