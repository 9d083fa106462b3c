//! Quality measures of a scored, labelled set: ranking (ROC-AUC, PR-AUC, lift), calibration
//! (expected calibration error) and the precision / recall of a threshold. Plain functions over
//! slices; NaN scores are refused by the callers, not here.

use serde::Serialize;

/// ROC-AUC by ranks (ties share their average rank). `None` when one class is absent.
pub fn roc_auc(scores: &[f64], labels: &[u8]) -> Option<f64> {
    let n = scores.len().min(labels.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] == 1 {
                rank_sum += avg_rank;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let (p, q) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * q))
}

/// Positions sorted by descending score.
fn by_score_desc(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Average precision (area under the precision-recall curve, step-wise). `None` without positives.
pub fn pr_auc(scores: &[f64], labels: &[u8]) -> Option<f64> {
    let total_pos = labels.iter().filter(|&&l| l == 1).count();
    if total_pos == 0 {
        return None;
    }
    let order = by_score_desc(scores);
    let (mut tp, mut ap) = (0usize, 0.0);
    let mut i = 0;
    while i < order.len() {
        // A group of tied scores is one threshold.
        let mut j = i;
        let mut group_pos = 0;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            group_pos += usize::from(labels[order[j]] == 1);
            j += 1;
        }
        tp += group_pos;
        ap += (group_pos as f64 / total_pos as f64) * (tp as f64 / j as f64);
        i = j;
    }
    Some(ap)
}

/// Share of positives among the top `frac` of scores, over the base rate.
pub fn lift_at(scores: &[f64], labels: &[u8], frac: f64) -> Option<f64> {
    let n = scores.len();
    let base = labels.iter().filter(|&&l| l == 1).count() as f64 / n.max(1) as f64;
    let k = ((n as f64 * frac).ceil() as usize).clamp(1, n.max(1));
    if n == 0 || base == 0.0 {
        return None;
    }
    let order = by_score_desc(scores);
    let hits = order[..k].iter().filter(|&&i| labels[i] == 1).count() as f64;
    Some(hits / k as f64 / base)
}

/// The mean and the (population) variance of `vals`; `None` when there are none.
pub fn mean_variance(vals: &[f64]) -> Option<(f64, f64)> {
    if vals.is_empty() {
        return None;
    }
    let m = vals.iter().sum::<f64>() / vals.len() as f64;
    let var = vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / vals.len() as f64;
    Some((m, var))
}

/// Expected calibration error over `bins` equal-width probability bins.
pub fn ece(probs: &[f64], labels: &[u8], bins: usize) -> f64 {
    let n = probs.len().max(1) as f64;
    probability_bins(probs, labels, bins)
        .iter()
        .map(|b| (b.count as f64 / n) * ((b.sum_p - b.sum_y) / b.count as f64).abs())
        .sum()
}

/// The members of one equal-width probability bin: how many, and the sums of their
/// probabilities and of their labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbabilityBin {
    pub count: usize,
    pub sum_p: f64,
    pub sum_y: f64,
}

/// `bins` equal-width probability bins (at least one), in order, empty ones left out: what the
/// ECE and the reliability diagram are made of.
pub fn probability_bins(probs: &[f64], labels: &[u8], bins: usize) -> Vec<ProbabilityBin> {
    let bins = bins.max(1);
    let mut out = vec![
        ProbabilityBin {
            count: 0,
            sum_p: 0.0,
            sum_y: 0.0,
        };
        bins
    ];
    for (&p, &y) in probs.iter().zip(labels) {
        let b = &mut out[((p * bins as f64) as usize).min(bins - 1)];
        b.count += 1;
        b.sum_p += p;
        b.sum_y += f64::from(y);
    }
    out.retain(|b| b.count > 0);
    out
}

/// What a threshold does on a labelled set (score ≥ threshold flags the member).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AtThreshold {
    pub threshold: f64,
    pub flagged: usize,
    pub precision: f64,
    pub recall: f64,
    pub flagged_share: f64,
}

pub fn at_threshold(scores: &[f64], labels: &[u8], threshold: f64) -> AtThreshold {
    let (mut flagged, mut tp, mut pos) = (0usize, 0usize, 0usize);
    for (&s, &y) in scores.iter().zip(labels) {
        let hit = s >= threshold;
        flagged += usize::from(hit);
        tp += usize::from(hit && y == 1);
        pos += usize::from(y == 1);
    }
    AtThreshold {
        threshold,
        flagged,
        precision: if flagged > 0 {
            tp as f64 / flagged as f64
        } else {
            f64::NAN
        },
        recall: if pos > 0 {
            tp as f64 / pos as f64
        } else {
            f64::NAN
        },
        flagged_share: flagged as f64 / scores.len().max(1) as f64,
    }
}

/// Every distinct threshold with its precision and recall, from the highest score down.
pub fn curve(scores: &[f64], labels: &[u8]) -> Vec<AtThreshold> {
    let pos = labels.iter().filter(|&&l| l == 1).count();
    let order = by_score_desc(scores);
    let mut out = Vec::new();
    let (mut tp, mut i) = (0usize, 0usize);
    while i < order.len() {
        let t = scores[order[i]];
        while i < order.len() && scores[order[i]] == t {
            tp += usize::from(labels[order[i]] == 1);
            i += 1;
        }
        out.push(AtThreshold {
            threshold: t,
            flagged: i,
            precision: tp as f64 / i as f64,
            recall: if pos > 0 {
                tp as f64 / pos as f64
            } else {
                f64::NAN
            },
            flagged_share: i as f64 / scores.len() as f64,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // Positives at 0.9 and 0.4, negatives at 0.8, 0.3, 0.1: of 6 pairs, 5 are ordered.
        let s = [0.9, 0.8, 0.4, 0.3, 0.1];
        let y = [1, 0, 1, 0, 0];
        assert_eq!(roc_auc(&s, &y), Some(5.0 / 6.0));
        // A tie between a positive and a negative counts one half.
        assert_eq!(roc_auc(&[0.5, 0.5], &[1, 0]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.7], &[1, 1]), None);
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranked: 1 0 1 0 0 → AP = (1/1 + 2/3) / 2.
        let s = [0.9, 0.8, 0.4, 0.3, 0.1];
        let y = [1, 0, 1, 0, 0];
        let ap = pr_auc(&s, &y).unwrap_or(f64::NAN);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12, "{ap}");
    }

    #[test]
    fn lift_ece_and_thresholds_by_hand() {
        let s = [0.9, 0.8, 0.4, 0.3, 0.1];
        let y = [1, 0, 1, 0, 0];
        // Top 20% = one member, a positive; base rate 0.4 → lift 2.5.
        assert_eq!(lift_at(&s, &y, 0.2), Some(2.5));
        let t = at_threshold(&s, &y, 0.4);
        assert_eq!((t.flagged, t.precision, t.recall), (3, 2.0 / 3.0, 1.0));
        // Bins of 0.5: [0.1,0.3,0.4] mean p 0.2667 vs rate 1/3; [0.8,0.9] mean 0.85 vs 0.5.
        let e = ece(&s, &y, 2);
        let want = 0.6 * (0.8 / 3.0 - 1.0 / 3.0_f64).abs() + 0.4 * (0.85 - 0.5_f64).abs();
        assert!((e - want).abs() < 1e-12, "{e} vs {want}");
        let c = curve(&s, &y);
        assert_eq!(c.len(), 5);
        assert_eq!((c[2].flagged, c[2].recall), (3, 1.0));
    }
}
