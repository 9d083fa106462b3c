//! Evaluation: how well scores rank and how honest their probabilities are on held-out members,
//! overall and by recruitment channel and campaign, against labels and (on generated data)
//! against the truth.

use serde::{Deserialize, Serialize};

use super::metrics::{at_threshold, ece, lift_at, pr_auc, roc_auc};
use super::policy::Thresholds;
use crate::data::history::{History, MemberIdx};

/// Smallest slice (channel, campaign) reported on its own; smaller ones are too noisy to read.
pub const MIN_SLICE: usize = 50;

/// What a threshold does on a labelled set; shares are `None` where undefined (nothing flagged,
/// no positives).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub threshold: f64,
    pub flagged: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl Point {
    pub fn of(probs: &[f64], labels: &[u8], threshold: f64) -> Self {
        let a = at_threshold(probs, labels, threshold);
        Point {
            threshold,
            flagged: a.flagged,
            precision: finite(a.precision),
            recall: finite(a.recall),
        }
    }
}

/// Quality of calibrated probabilities on one labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub members: usize,
    pub positives: usize,
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    /// Positive rate in the top 1% / 5% of scores over the base rate.
    pub lift_1: Option<f64>,
    pub lift_5: Option<f64>,
    /// Expected calibration error over 10 equal-width bins.
    pub ece: Option<f64>,
    pub review: Point,
    pub reject: Point,
}

impl Metrics {
    pub fn of(probs: &[f64], labels: &[u8], t: &Thresholds) -> Self {
        Metrics {
            members: labels.len(),
            positives: labels.iter().filter(|&&l| l == 1).count(),
            roc_auc: roc_auc(probs, labels),
            pr_auc: pr_auc(probs, labels),
            lift_1: lift_at(probs, labels, 0.01),
            lift_5: lift_at(probs, labels, 0.05),
            ece: (!labels.is_empty()).then(|| ece(probs, labels, 10)),
            review: Point::of(probs, labels, t.review),
            reject: Point::of(probs, labels, t.reject),
        }
    }
}

/// The metrics of one slice of members (a channel, a campaign).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    pub name: String,
    pub metrics: Metrics,
}

/// A whole evaluation: overall and by slice, against labels, and against the truth where known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub overall: Metrics,
    pub against_truth: Option<Metrics>,
    pub by_channel: Vec<Slice>,
    pub by_campaign: Vec<Slice>,
}

/// Metrics per distinct `key` value with at least `MIN_SLICE` members, largest first.
pub fn by_key(keys: &[&str], probs: &[f64], labels: &[u8], t: &Thresholds) -> Vec<Slice> {
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, k) in keys.iter().enumerate() {
        groups.entry(k).or_default().push(i);
    }
    let mut out: Vec<Slice> = groups
        .into_iter()
        .filter(|(_, rows)| rows.len() >= MIN_SLICE)
        .map(|(name, rows)| {
            let p: Vec<f64> = rows.iter().map(|&i| probs[i]).collect();
            let l: Vec<u8> = rows.iter().map(|&i| labels[i]).collect();
            Slice {
                name: name.to_string(),
                metrics: Metrics::of(&p, &l, t),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.metrics
            .members
            .cmp(&a.metrics.members)
            .then(a.name.cmp(&b.name))
    });
    out
}

/// Metrics by recruitment channel and by campaign, for rows scored for `members` (one per row).
pub fn slices(
    h: &History,
    members: &[MemberIdx],
    probs: &[f64],
    labels: &[u8],
    t: &Thresholds,
) -> (Vec<Slice>, Vec<Slice>) {
    let keys = |col: &[u32]| -> Vec<&str> {
        members
            .iter()
            .map(|&m| h.keys.opt_name(col[m as usize]).unwrap_or("(none)"))
            .collect()
    };
    (
        by_key(&keys(&h.members.channel), probs, labels, t),
        by_key(&keys(&h.members.campaign), probs, labels, t),
    )
}

/// The truth of `members` as labels (1 = wool), or `None` where a member has no truth.
pub fn truth_labels(truth: &[bool], members: &[MemberIdx]) -> Option<Vec<u8>> {
    members
        .iter()
        .map(|&m| truth.get(m as usize).map(|&w| u8::from(w)))
        .collect()
}

/// Which of the model's own thresholds a cut-off is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Own {
    Review,
    Reject,
}

impl Own {
    pub fn name(self) -> &'static str {
        match self {
            Own::Review => "review",
            Own::Reject => "reject",
        }
    }
}

/// What a cut-off would do: members at or above it per 10,000 scored, the share of the wool (the
/// positives) they hold, and the precision among them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cutoff {
    pub threshold: f64,
    pub per_10k: f64,
    pub caught: Option<f64>,
    pub precision: Option<f64>,
    /// `review` or `reject` where the cut-off is the model's own threshold.
    pub current: Option<Own>,
}

/// The cut-offs a trade-off table shows besides the model's own thresholds.
pub const CUTOFFS: [f64; 12] = [
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
];

/// The trade-off table: for each cut-off (the grid and the model's thresholds), highest first,
/// what flagging every member at or above it would give.
pub fn tradeoff(probs: &[f64], labels: &[u8], t: &Thresholds) -> Vec<Cutoff> {
    // A grid cut-off within half a point of one of the model's thresholds would print as the
    // same row: the model's own stands for it.
    let near = |c: f64| (c - t.review).abs() < 0.005 || (c - t.reject).abs() < 0.005;
    let mut cuts: Vec<(f64, Option<Own>)> = CUTOFFS
        .iter()
        .filter(|&&c| !near(c))
        .map(|&c| (c, None))
        .collect();
    cuts.push((t.review, Some(Own::Review)));
    if t.reject != t.review {
        cuts.push((t.reject, Some(Own::Reject)));
    }
    cuts.sort_by(|a, b| b.0.total_cmp(&a.0));
    cuts.into_iter()
        .map(|(threshold, current)| {
            let a = at_threshold(probs, labels, threshold);
            Cutoff {
                threshold,
                per_10k: 10_000.0 * a.flagged_share,
                caught: finite(a.recall),
                precision: finite(a.precision),
                current,
            }
        })
        .collect()
}

/// The trade-off table as text lines, against labels and (where known) against the truth.
pub fn tradeoff_lines(labels: &[Cutoff], truth: Option<&[Cutoff]>) -> Vec<String> {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    let mut out = vec![format!(
        "{:>9} {:>9} {:>9} {:>10} {:>12} {:>14}  {}",
        "cut-off", "per 10k", "caught", "precision", "caught/truth", "precision/truth", ""
    )
    .trim_end()
    .to_string()];
    for (i, c) in labels.iter().enumerate() {
        let t = truth.and_then(|t| t.get(i));
        out.push(
            format!(
                "{:>9.3} {:>9.0} {:>9} {:>10} {:>12} {:>14}  {}",
                c.threshold,
                c.per_10k,
                pct(c.caught),
                pct(c.precision),
                pct(t.and_then(|t| t.caught)),
                pct(t.and_then(|t| t.precision)),
                c.current.map_or(String::new(), |k| format!(
                    "← the model's {} threshold",
                    k.name()
                )),
            )
            .trim_end()
            .to_string(),
        );
    }
    out
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// One line of a text table: the slice name, then the metrics.
pub fn row(name: &str, m: &Metrics) -> String {
    format!(
        "{name:<30} {:>8} {:>8} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8}",
        m.members,
        m.positives,
        opt(m.roc_auc),
        opt(m.pr_auc),
        opt(m.lift_1),
        opt(m.lift_5),
        opt(m.ece),
        opt(m.reject.precision),
        opt(m.review.recall),
    )
}

/// The header matching [`row`].
pub fn header(first: &str) -> String {
    format!(
        "{first:<30} {:>8} {:>8} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8}",
        "members",
        "positive",
        "roc_auc",
        "pr_auc",
        "lift1%",
        "lift5%",
        "ece",
        "rej_prec",
        "rev_rec"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tradeoff_by_hand() {
        // Four members, two wool: at 0.5, one member of four (2,500 per 10k) is flagged, it is
        // wool (precision 1) and it is one of the two (caught 0.5).
        let probs = [0.9, 0.4, 0.3, 0.2];
        let labels = [1, 0, 1, 0];
        let t = Thresholds {
            review: 0.25,
            reject: 0.85,
        };
        let table = tradeoff(&probs, &labels, &t);
        let at = |c: f64| table.iter().find(|r| r.threshold == c).copied();
        let half = at(0.5).unwrap_or_else(|| panic!("no 0.5 row"));
        assert_eq!(
            (half.per_10k, half.caught, half.precision),
            (2_500.0, Some(0.5), Some(1.0))
        );
        // The model's own thresholds are rows of their own, marked; 0.25 is on the grid too and
        // appears once.
        assert_eq!(at(0.85).and_then(|r| r.current), Some(Own::Reject));
        assert_eq!(table.iter().filter(|r| r.threshold == 0.25).count(), 1);
        assert_eq!(at(0.25).and_then(|r| r.current), Some(Own::Review));
        let quarter = at(0.25).unwrap_or_else(|| panic!("no 0.25 row"));
        assert_eq!((quarter.per_10k, quarter.caught), (7_500.0, Some(1.0)));
        assert_eq!(quarter.precision, Some(2.0 / 3.0));
        // Highest cut-off first.
        assert!(table.windows(2).all(|w| w[0].threshold > w[1].threshold));
    }

    #[test]
    fn tradeoff_of_ten_members_by_hand() {
        // Ten members, four wool (labels 1), probabilities falling from 0.95 to 0.02:
        //   p: 0.95 0.85 0.62 0.55 0.41 0.33 0.22 0.12 0.07 0.02
        //   y:    1    1    0    1    0    0    1    0    0    0
        let probs = [0.95, 0.85, 0.62, 0.55, 0.41, 0.33, 0.22, 0.12, 0.07, 0.02];
        let labels = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0];
        let t = Thresholds {
            review: 0.3,
            reject: 0.8,
        };
        let table = tradeoff(&probs, &labels, &t);
        let row = |c: f64| {
            let r = table
                .iter()
                .find(|r| (r.threshold - c).abs() < 1e-12)
                .unwrap_or_else(|| panic!("no {c} row"));
            (r.per_10k, r.caught, r.precision, r.current)
        };
        // At or above 0.8 (the reject threshold): 2 of 10 members, both wool: 2,000 per 10k,
        // 2 of the 4 wool caught, precision 2/2.
        assert_eq!(row(0.8), (2_000.0, Some(0.5), Some(1.0), Some(Own::Reject)));
        // 0.5: 4 members (0.95 0.85 0.62 0.55), 3 wool: 3/4 caught, precision 3/4.
        assert_eq!(row(0.5), (4_000.0, Some(0.75), Some(0.75), None));
        // 0.3 (the review threshold, also on the grid): 6 members, 3 wool: 3/4, 1/2.
        assert_eq!(
            row(0.3),
            (6_000.0, Some(0.75), Some(0.5), Some(Own::Review))
        );
        // 0.2: 7 members, all 4 wool: caught 1, precision 4/7.
        assert_eq!(row(0.2), (7_000.0, Some(1.0), Some(4.0 / 7.0), None));
        // 0.05: 9 members, precision 4/9; 0.9: 1 member, wool, caught 1/4.
        assert_eq!(row(0.05), (9_000.0, Some(1.0), Some(4.0 / 9.0), None));
        assert_eq!(row(0.9), (1_000.0, Some(0.25), Some(1.0), None));
        // The grid's 12 cut-offs, 0.3 and 0.8 standing as the model's own: 12 rows.
        assert_eq!(table.len(), 12);
        assert_eq!(table.iter().filter(|r| r.current.is_some()).count(), 2);
        // Against labels with no wool, nothing is caught: "caught" is undefined, precision 0.
        let none = tradeoff(&probs, &[0; 10], &t);
        assert_eq!(none[0].caught, None);
        assert_eq!(none.last().map(|r| r.precision), Some(Some(0.0)));
    }

    #[test]
    fn metrics_by_hand() {
        // Scores 0.9 0.8 0.3 0.2 with labels 1 0 1 0: ROC-AUC = 3 of 4 pairs ranked right.
        let probs = [0.9, 0.8, 0.3, 0.2];
        let labels = [1, 0, 1, 0];
        let t = Thresholds {
            review: 0.25,
            reject: 0.85,
        };
        let m = Metrics::of(&probs, &labels, &t);
        assert_eq!(m.members, 4);
        assert_eq!(m.positives, 2);
        assert_eq!(m.roc_auc, Some(0.75));
        assert_eq!(m.reject.flagged, 1);
        assert_eq!(m.reject.precision, Some(1.0));
        assert_eq!(m.reject.recall, Some(0.5));
        assert_eq!(m.review.flagged, 3);
        assert_eq!(m.review.recall, Some(1.0));
        let none = Point::of(&probs, &labels, 0.95);
        assert_eq!(none.precision, None);

        let keys = vec!["a"; 60];
        let p = vec![0.5; 60];
        let l: Vec<u8> = (0..60).map(|i| u8::from(i % 3 == 0)).collect();
        let s = by_key(&keys, &p, &l, &t);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].metrics.positives, 20);
        assert!(by_key(&keys[..49], &p[..49], &l[..49], &t).is_empty());
    }
}
