//! Member scores as a snapshot keeps them: flat columns, one row a member and one a reason, so
//! that a million members' scores are a few allocations (or, read from a start image, none: the
//! file's pages). A reason is kept as the feature's position, its value and its contribution,
//! and its words are written again when it is read, by the same code that wrote them
//! ([`Artefact::reason`]). A score whose reasons the artefact would not write back the same (a
//! reason that is not a feature's), and an outcome other than "no rule, no gang", are kept whole
//! beside the columns, by member.

use crate::data::column::Column;
use std::collections::HashMap;

use crate::data::image::ImageError;
use crate::model::artefact::{Artefact, Decision, Reason, Scored};
use crate::scoring::gang::{GangAction, GangBrief};
use crate::scoring::rules::Action;
use crate::scoring::{Outcome, RuleHit};
use crate::{image_enum, image_struct};

/// (feature position, value or NaN, contribution).
type Compact = (u32, f64, f64);

/// One member's score while scores are being kept.
#[derive(Debug, Clone)]
struct Kept {
    probability: f64,
    quality: u8,
    decision: Decision,
    /// `None`: kept whole (below).
    reasons: Option<Box<[Compact]>>,
}

const DECISIONS: [Decision; 3] = [Decision::Pass, Decision::Review, Decision::Reject];

/// Every member's score and the rules' outcome, indexed by member; `None` for members the
/// model cannot score.
#[derive(Debug, Clone, Default)]
pub struct KeptScores {
    probability: Column<f64>,
    /// Quality in the low byte; the decision's position in `DECISIONS` plus one in the next
    /// (0: not scored).
    meta: Column<u32>,
    /// Member `m`'s reasons are rows `start[m]..start[m + 1]` of the three reason columns.
    start: Column<u32>,
    feature: Column<u32>,
    value: Column<f64>,
    contribution: Column<f64>,
    /// Reasons that are not all a feature's, by member.
    whole: HashMap<u32, Vec<Reason>>,
    /// Outcomes other than the default, by member.
    outcomes: HashMap<u32, Outcome>,
}

/// Keeps scores as they come (see [`KeptScores::keeper`]).
pub struct Keeper<'a> {
    artefact: &'a Artefact,
    /// Each feature's reason code and its position.
    position: HashMap<String, u32>,
    rows: Vec<Option<Kept>>,
    whole: HashMap<u32, Vec<Reason>>,
    outcomes: HashMap<u32, Outcome>,
}

impl Keeper<'_> {
    /// Keeps member `m`'s score.
    pub fn set(&mut self, m: usize, (s, outcome): (Scored, Outcome)) {
        let a = self.artefact;
        let Some(row) = self.rows.get_mut(m) else {
            return;
        };
        let compact: Option<Box<[Compact]>> = s
            .reasons
            .iter()
            .map(|r| {
                let j = *self.position.get(&r.code)?;
                let v = r.value.unwrap_or(f64::NAN);
                // Kept compact only where the words come back the same.
                (a.reason(j as usize, v, r.contribution) == *r).then_some((j, v, r.contribution))
            })
            .collect();
        if compact.is_none() {
            self.whole.insert(m as u32, s.reasons);
        } else {
            self.whole.remove(&(m as u32));
        }
        if outcome != Outcome::default() {
            self.outcomes.insert(m as u32, outcome);
        } else {
            self.outcomes.remove(&(m as u32));
        }
        *row = Some(Kept {
            probability: s.probability,
            quality: s.quality,
            decision: s.decision,
            reasons: compact,
        });
    }

    pub fn done(self) -> KeptScores {
        let n = self.rows.len();
        let mut k = KeptScores {
            probability: Column::with_capacity(n),
            meta: Column::with_capacity(n),
            start: Column::with_capacity(n + 1),
            whole: self.whole,
            outcomes: self.outcomes,
            ..Default::default()
        };
        k.start.push(0);
        for row in self.rows {
            let (p, meta, reasons) = match row {
                None => (f64::NAN, 0, None),
                Some(r) => {
                    let d = DECISIONS.iter().position(|&d| d == r.decision).unwrap_or(0);
                    (
                        r.probability,
                        u32::from(r.quality) | ((d as u32 + 1) << 8),
                        r.reasons,
                    )
                }
            };
            k.probability.push(p);
            k.meta.push(meta);
            for &(j, v, c) in reasons.iter().flatten() {
                k.feature.push(j);
                k.value.push(v);
                k.contribution.push(c);
            }
            k.start.push(k.feature.len() as u32);
        }
        k
    }
}

impl KeptScores {
    /// A keeper for the scores of `members` members by `a` (each `None` until set).
    pub fn keeper(a: &Artefact, members: usize) -> Keeper<'_> {
        let position = a
            .features
            .iter()
            .enumerate()
            .filter_map(|(j, f)| Some((f.to_uppercase(), u32::try_from(j).ok()?)))
            .collect();
        Keeper {
            artefact: a,
            position,
            rows: vec![None; members],
            whole: HashMap::new(),
            outcomes: HashMap::new(),
        }
    }

    fn decision(&self, m: usize) -> Option<Decision> {
        let d = (*self.meta.get(m)? >> 8) as usize;
        DECISIONS.get(d.checked_sub(1)?).copied()
    }

    /// Member `m`'s score and outcome, its reasons written by `a` (the artefact that scored it).
    pub fn get(&self, a: &Artefact, m: usize) -> Option<(Scored, Outcome)> {
        let decision = self.decision(m)?;
        let key = m as u32;
        let reasons = match self.whole.get(&key) {
            Some(r) => r.clone(),
            None => {
                let (from, to) = (
                    *self.start.get(m)? as usize,
                    *self.start.get(m + 1)? as usize,
                );
                (from..to.min(self.feature.len()))
                    .map(|i| {
                        a.reason(
                            self.feature[i] as usize,
                            self.value[i],
                            self.contribution[i],
                        )
                    })
                    .collect()
            }
        };
        let scored = Scored {
            probability: *self.probability.get(m)?,
            quality: self.meta[m] as u8,
            decision,
            reasons,
        };
        Some((scored, self.outcomes.get(&key).cloned().unwrap_or_default()))
    }

    /// The decision of every member scored.
    pub fn decisions(&self) -> impl Iterator<Item = Decision> + '_ {
        (0..self.meta.len()).filter_map(|m| self.decision(m))
    }

    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether its columns are read in place from an image.
    pub fn is_mapped(&self) -> bool {
        self.probability.is_mapped()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Refused where the columns are not one per member, or the reasons' rows go back or past
    /// their columns.
    fn check(&self) -> Result<(), ImageError> {
        let n = self.meta.len();
        let r = self.feature.len();
        let fits = self.probability.len() == n
            && self.start.len() == n + 1
            && self.value.len() == r
            && self.contribution.len() == r
            && self.start.windows(2).all(|w| w[0] <= w[1])
            && self.start.last().is_some_and(|&l| l as usize == r);
        if fits {
            Ok(())
        } else {
            Err(ImageError::Damaged(format!(
                "scores whose columns are not one per member of {n}"
            )))
        }
    }
}

image_struct!(KeptScores {
    probability,
    meta,
    start,
    feature,
    value,
    contribution,
    whole,
    outcomes
} checked by KeptScores::check);
image_struct!(Reason {
    code,
    value,
    contribution,
    text
});
image_struct!(Outcome {
    decided,
    matched,
    gang,
    gang_on_signup
});
image_struct!(RuleHit {
    name,
    action,
    code,
    text
});
image_struct!(GangBrief {
    id,
    size,
    score,
    flagged,
    reason
});
image_enum!(Decision {
    Pass,
    Review,
    Reject
});
image_enum!(Action {
    Pass,
    Hold,
    Review,
    Reject
});
image_enum!(GangAction { Reject, Review });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_come_back_as_they_were_kept() {
        let path = format!("{}/models/default", env!("CARGO_MANIFEST_DIR"));
        let a = Artefact::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
        let row: Vec<f64> = (0..a.features.len()).map(|j| j as f64 * 1.5).collect();
        let mut row_nan = row.clone();
        row_nan[0] = f64::NAN;
        let scored = |row: &[f64]| a.score_row(row, 3).unwrap_or_else(|e| panic!("{e}"));
        let other = Reason {
            code: "DENY_LIST".to_string(),
            value: None,
            contribution: 0.0,
            text: "on the deny list".to_string(),
        };
        let mut with_other = scored(&row);
        with_other.reasons.insert(0, other);
        let scores = [
            Some((scored(&row), Outcome::default())),
            None,
            Some((
                scored(&row_nan),
                Outcome {
                    matched: vec![1],
                    ..Outcome::default()
                },
            )),
            Some((with_other, Outcome::default())),
        ];
        let mut keeper = KeptScores::keeper(&a, scores.len());
        for (m, s) in scores.iter().enumerate() {
            if let Some(s) = s {
                keeper.set(m, s.clone());
            }
        }
        let kept = keeper.done();
        assert_eq!(kept.len(), 4);
        for (m, s) in scores.iter().enumerate() {
            assert_eq!(kept.get(&a, m), *s, "member {m}");
        }
        assert!(scores[0]
            .as_ref()
            .is_some_and(|(s, _)| !s.reasons.is_empty()));
        // Kept compact, but for the score with a reason that is not a feature's.
        assert_eq!(kept.whole.keys().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(kept.start[1] - kept.start[0], 3);
        assert_eq!(kept.start.len(), 5);
        assert_eq!(kept.outcomes.keys().copied().collect::<Vec<_>>(), vec![2]);
        kept.check().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.decisions().count(), 3);
        assert_eq!(kept.get(&a, 9), None);
    }
}
