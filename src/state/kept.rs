//! Member scores as a snapshot keeps them, a million at a time: a reason is kept as the feature's
//! position, its value and its contribution (18 bytes), and its words are written again when it
//! is read, by the same code that wrote them ([`Artefact::reason`]). A score whose reasons the
//! artefact would not write back the same (a reason that is not a feature's) is kept whole.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use crate::data::image::{Image, ImageError, In, Out};
use crate::model::artefact::{Artefact, Decision, Reason, Scored};
use crate::scoring::gang::{GangAction, GangBrief};
use crate::scoring::rules::Action;
use crate::scoring::{Outcome, RuleHit};
use crate::{image_enum, image_struct};

#[derive(Debug, Clone)]
enum Reasons {
    /// (feature position, value or NaN, contribution).
    Features(Box<[(u16, f64, f64)]>),
    Whole(Vec<Reason>),
}

#[derive(Debug, Clone)]
struct Kept {
    probability: f64,
    quality: u8,
    decision: Decision,
    reasons: Reasons,
    /// `None` for the outcome most members have: no rule, no gang.
    outcome: Option<Box<Outcome>>,
}

/// Every member's score and the rules' outcome, indexed by member; `None` for members the
/// model cannot score.
#[derive(Debug, Clone, Default)]
pub struct KeptScores {
    rows: Vec<Option<Kept>>,
}

/// Keeps scores as they come (see [`KeptScores::keeper`]).
pub struct Keeper<'a> {
    artefact: &'a Artefact,
    /// Each feature's reason code and its position.
    position: HashMap<String, u16>,
    rows: Vec<Option<Kept>>,
}

impl Keeper<'_> {
    /// Keeps member `m`'s score.
    pub fn set(&mut self, m: usize, (s, outcome): (Scored, Outcome)) {
        let a = self.artefact;
        let compact: Option<Box<[(u16, f64, f64)]>> = s
            .reasons
            .iter()
            .map(|r| {
                let j = *self.position.get(&r.code)?;
                let v = r.value.unwrap_or(f64::NAN);
                // Kept compact only where the words come back the same.
                (a.reason(j as usize, v, r.contribution) == *r).then_some((j, v, r.contribution))
            })
            .collect();
        let kept = Kept {
            probability: s.probability,
            quality: s.quality,
            decision: s.decision,
            reasons: match compact {
                Some(c) => Reasons::Features(c),
                None => Reasons::Whole(s.reasons),
            },
            outcome: (outcome != Outcome::default()).then(|| Box::new(outcome)),
        };
        if let Some(row) = self.rows.get_mut(m) {
            *row = Some(kept);
        }
    }

    pub fn done(self) -> KeptScores {
        KeptScores { rows: self.rows }
    }
}

impl KeptScores {
    /// A keeper for the scores of `members` members by `a` (each `None` until set).
    pub fn keeper(a: &Artefact, members: usize) -> Keeper<'_> {
        let position = a
            .features
            .iter()
            .enumerate()
            .filter_map(|(j, f)| Some((f.to_uppercase(), u16::try_from(j).ok()?)))
            .collect();
        Keeper {
            artefact: a,
            position,
            rows: vec![None; members],
        }
    }

    /// Member `m`'s score and outcome, its reasons written by `a` (the artefact that scored it).
    pub fn get(&self, a: &Artefact, m: usize) -> Option<(Scored, Outcome)> {
        let k = self.rows.get(m)?.as_ref()?;
        let reasons = match &k.reasons {
            Reasons::Features(r) => r
                .iter()
                .map(|&(j, v, c)| a.reason(j as usize, v, c))
                .collect(),
            Reasons::Whole(r) => r.clone(),
        };
        let scored = Scored {
            probability: k.probability,
            quality: k.quality,
            decision: k.decision,
            reasons,
        };
        let outcome = k.outcome.as_deref().cloned().unwrap_or_default();
        Some((scored, outcome))
    }

    /// The decision of every member scored.
    pub fn decisions(&self) -> impl Iterator<Item = Decision> + '_ {
        self.rows.iter().flatten().map(|k| k.decision)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl Image for Reasons {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        match self {
            Reasons::Features(r) => {
                0u8.put(o)?;
                r.put(o)
            }
            Reasons::Whole(r) => {
                1u8.put(o)?;
                r.put(o)
            }
        }
    }

    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        match u8::take(i)? {
            0 => Ok(Reasons::Features(Image::take(i)?)),
            1 => Ok(Reasons::Whole(Image::take(i)?)),
            b => Err(ImageError::Damaged(format!("{b} is not a kind of reasons"))),
        }
    }
}

image_struct!(Kept {
    probability,
    quality,
    decision,
    reasons,
    outcome
});
image_struct!(KeptScores { rows });
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
            Some((scored(&row_nan), Outcome::default())),
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
        assert!(matches!(
            kept.rows[0].as_ref().map(|k| &k.reasons),
            Some(Reasons::Features(_))
        ));
        assert!(matches!(
            kept.rows[3].as_ref().map(|k| &k.reasons),
            Some(Reasons::Whole(_))
        ));
        assert_eq!(kept.decisions().count(), 3);
        assert_eq!(kept.get(&a, 9), None);
    }
}
