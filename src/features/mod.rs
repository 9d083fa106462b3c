//! Point-in-time features (DESIGN.md §4): the one place where a feature is defined, named,
//! described and computed, for training, batch scoring and the online scorer alike.
//!
//! Two scoring moments:
//! - recruitment: at sign-up, from the candidate's own fields and the history of everyone who
//!   joined strictly before (`recruit::RecruitState`, a sweep in time order whose state is the
//!   same state the online scorer keeps);
//! - member: as of a cutoff, from the member's own events strictly before it (`member`).
//!
//! Nothing here may read an event at or after the moment it scores: the leakage tests in
//! `tests/it/features.rs` change the future and assert every feature is bit-for-bit unchanged.

pub mod member;
pub mod recruit;

use serde::{Deserialize, Serialize};

/// When a feature can be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    Recruitment,
    Member,
}

/// A feature's identity: its name (stable, used in model artefacts and reason codes), what it
/// measures, and its moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureDef {
    pub name: &'static str,
    pub description: &'static str,
    pub moment: Moment,
}

impl FeatureDef {
    pub(crate) const fn new(moment: Moment, name: &'static str, description: &'static str) -> Self {
        FeatureDef {
            name,
            description,
            moment,
        }
    }
}

/// Every feature, recruitment-time first, in the column order of feature matrices.
pub fn registry() -> Vec<FeatureDef> {
    recruit::FEATURES
        .iter()
        .chain(member::FEATURES.iter())
        .copied()
        .collect()
}

/// What the feature named `name` measures, in words.
pub fn description(name: &str) -> Option<&'static str> {
    recruit::FEATURES
        .iter()
        .chain(member::FEATURES.iter())
        .find(|f| f.name == name)
        .map(|f| f.description)
}

/// A dense row-major feature matrix; missing values are NaN.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    pub names: Vec<&'static str>,
    pub rows: usize,
    pub values: Vec<f64>,
}

impl Matrix {
    pub fn cols(&self) -> usize {
        self.names.len()
    }

    pub fn row(&self, i: usize) -> &[f64] {
        let c = self.cols();
        &self.values[i * c..(i + 1) * c]
    }

    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let j = self.names.iter().position(|n| *n == name)?;
        Some(
            (0..self.rows)
                .map(|i| self.values[i * self.cols() + j])
                .collect(),
        )
    }
}

/// Feature rows for `members`: the recruitment-time features, followed, when `cutoffs` is given,
/// by the member-time features as of each member's cutoff. Training, evaluation and batch
/// scoring all build their matrices here (through [`Builder`]).
pub fn build(
    history: &crate::data::History,
    caps: recruit::MergeCaps,
    members: &[crate::data::MemberIdx],
    cutoffs: Option<&[i64]>,
) -> Matrix {
    Builder::new(history, caps, cutoffs.is_some()).rows(members, cutoffs)
}

/// What every feature row of a history shares: the recruitment sweep over all members (group
/// features need everyone) and, for member-time rows, the index of each member's events. Rows
/// are then built for any slice of members, so a batch can be scored chunk by chunk without
/// holding every member's row at once.
pub struct Builder<'h> {
    history: &'h crate::data::History,
    recruitment: Matrix,
    index: Option<member::MemberIndex>,
}

impl<'h> Builder<'h> {
    pub fn new(
        history: &'h crate::data::History,
        caps: recruit::MergeCaps,
        member_time: bool,
    ) -> Self {
        let (recruitment, _) = recruit::build(history, caps);
        let index = member_time.then(|| member::MemberIndex::build(history));
        Builder {
            history,
            recruitment,
            index,
        }
    }

    /// Rows for `members`; member-time features too when `cutoffs` (one per member) is given
    /// and the builder was made for them.
    pub fn rows(&self, members: &[crate::data::MemberIdx], cutoffs: Option<&[i64]>) -> Matrix {
        let member = match (cutoffs, &self.index) {
            (Some(c), Some(ix)) => Some(member::build(self.history, ix, members, c)),
            _ => None,
        };
        let recruitment = &self.recruitment;
        let rw = recruitment.cols();
        let mw = member.as_ref().map_or(0, Matrix::cols);
        let mut values = Vec::with_capacity(members.len() * (rw + mw));
        for (i, &m) in members.iter().enumerate() {
            values.extend_from_slice(recruitment.row(m as usize));
            if let Some(mm) = &member {
                values.extend_from_slice(mm.row(i));
            }
        }
        let mut names = recruitment.names.clone();
        if let Some(mm) = &member {
            names.extend(mm.names.iter().copied());
        }
        Matrix {
            names,
            rows: members.len(),
            values,
        }
    }
}
