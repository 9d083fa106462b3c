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

pub mod image;
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

/// Every feature, in the column order of feature matrices: recruitment-time, then the member's
/// own behaviour, then its pool (its keys and group as they stand at the cutoff).
pub fn registry() -> Vec<FeatureDef> {
    all().copied().collect()
}

fn all() -> impl Iterator<Item = &'static FeatureDef> {
    recruit::FEATURES
        .iter()
        .chain(member::FEATURES.iter())
        .chain(recruit::POOL_FEATURES.iter())
}

/// What the feature named `name` measures, in words.
pub fn description(name: &str) -> Option<&'static str> {
    all().find(|f| f.name == name).map(|f| f.description)
}

/// A dense row-major feature matrix; missing values are NaN.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    pub names: Vec<&'static str>,
    pub rows: usize,
    pub values: crate::data::column::Column<f64>,
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
    let at = match cutoffs {
        Some(c) => Cutoffs::Each(members, c),
        None => Cutoffs::None,
    };
    Builder::new(history, caps, at).rows(members)
}

/// What [`Builder::into_parts`] hands on.
pub struct Parts {
    pub recruitment: Matrix,
    pub index: Option<member::MemberIndex>,
    pub state: Option<recruit::RecruitState>,
}

/// Where member-time rows are cut.
#[derive(Debug, Clone, Copy)]
pub enum Cutoffs<'a> {
    /// Recruitment-time rows only.
    None,
    /// Every member at one moment.
    At(i64),
    /// Each of these members at its own cutoff.
    Each(&'a [crate::data::MemberIdx], &'a [i64]),
}

/// What every feature row of a history shares: the sweep over all members (group features need
/// everyone), each member's cutoff and pool as read in that sweep, and the index of each
/// member's events. Rows are then built for any slice of members, so a batch can be scored
/// chunk by chunk without holding every member's row at once.
pub struct Builder<'h> {
    history: &'h crate::data::History,
    recruitment: Matrix,
    member_time: Option<MemberTime>,
    /// The sweep's state after the history's last event, where asked to keep it.
    state: Option<recruit::RecruitState>,
}

struct MemberTime {
    index: member::MemberIndex,
    /// Per member: its cutoff and the row of its pool in `pool` (`None`: no member-time row).
    cut: Vec<Option<(i64, u32)>>,
    pool: Vec<f64>,
    groups: recruit::ProbeGroups,
}

impl<'h> Builder<'h> {
    pub fn new(
        history: &'h crate::data::History,
        caps: recruit::MergeCaps,
        cutoffs: Cutoffs,
    ) -> Self {
        Self::built(history, caps, cutoffs, false).0
    }

    /// As [`Builder::new`], keeping the sweep's state for [`Builder::into_parts`] (a scorer's
    /// online sign-up state, without a second sweep).
    pub fn keeping_state(
        history: &'h crate::data::History,
        caps: recruit::MergeCaps,
        cutoffs: Cutoffs,
    ) -> Self {
        let (mut b, state) = Self::built(history, caps, cutoffs, true);
        b.state = state;
        b
    }

    /// As [`Builder::new`], with the sweep's state after the history's last event (its
    /// connected groups, which labels spread through).
    pub fn with_state(
        history: &'h crate::data::History,
        caps: recruit::MergeCaps,
        cutoffs: Cutoffs,
    ) -> (Self, Option<recruit::RecruitState>) {
        Self::built(history, caps, cutoffs, true)
    }

    fn built(
        history: &'h crate::data::History,
        caps: recruit::MergeCaps,
        cutoffs: Cutoffs,
        keep: bool,
    ) -> (Self, Option<recruit::RecruitState>) {
        let (sweep, probes) = Self::sweep(history, caps, cutoffs);
        let recruit::Sweep {
            recruitment,
            pool,
            groups,
            state,
        } = sweep;
        // The state is the largest thing a sweep leaves: unless kept, gone before the event
        // index is built.
        let state = keep.then_some(state);
        let builder = Self::assemble(history, cutoffs, &probes, recruitment, pool, groups);
        (builder, state)
    }

    /// The sweep over every member, probing each member's pool at its cutoff.
    fn sweep(
        history: &crate::data::History,
        caps: recruit::MergeCaps,
        cutoffs: Cutoffs,
    ) -> (recruit::Sweep, Vec<recruit::Probe>) {
        let n = history.members.len();
        let probes: Vec<recruit::Probe> = match cutoffs {
            Cutoffs::None => Vec::new(),
            Cutoffs::At(t) => (0..n as crate::data::MemberIdx)
                .map(|member| recruit::Probe { member, at: t })
                .collect(),
            Cutoffs::Each(members, at) => members
                .iter()
                .zip(at)
                .map(|(&member, &at)| recruit::Probe { member, at })
                .collect(),
        };
        let sweep = recruit::sweep(history, caps, &probes, i64::MAX);
        (sweep, probes)
    }

    /// A builder from what a sweep read.
    fn assemble(
        history: &'h crate::data::History,
        cutoffs: Cutoffs,
        probes: &[recruit::Probe],
        recruitment: Matrix,
        pool: Vec<f64>,
        groups: recruit::ProbeGroups,
    ) -> Self {
        let member_time = (!matches!(cutoffs, Cutoffs::None)).then(|| {
            let mut cut = vec![None; history.members.len()];
            for (k, p) in probes.iter().enumerate() {
                cut[p.member as usize] = Some((p.at, k as u32));
            }
            let index = member::MemberIndex::build(history);
            MemberTime {
                index,
                cut,
                pool,
                groups,
            }
        });
        Builder {
            history,
            recruitment,
            member_time,
            state: None,
        }
    }

    /// Member `m`'s group at its cutoff, with the member id of its first account (`None`: alone,
    /// or no cutoff).
    pub fn group_at_cutoff(&self, m: crate::data::MemberIdx) -> Option<(&str, &recruit::Group)> {
        let mt = self.member_time.as_ref()?;
        let (_, k) = mt.cut.get(m as usize).copied().flatten()?;
        let (first, g) = mt.groups.get(k as usize)?;
        let first = first.map_or("", |f| self.history.members.id(f));
        Some((first, g))
    }

    /// What a live scorer keeps to build one member's row again later: every member's
    /// recruitment-time row and, with cutoffs, the index of each member's events; and the
    /// sweep's state, where kept.
    pub fn into_parts(self) -> Parts {
        Parts {
            recruitment: self.recruitment,
            index: self.member_time.map(|mt| mt.index),
            state: self.state,
        }
    }

    /// Rows for `members`; member-time features too when the builder was made with cutoffs
    /// (each member must have one).
    pub fn rows(&self, members: &[crate::data::MemberIdx]) -> Matrix {
        let recruitment = &self.recruitment;
        let pw = recruit::POOL_FEATURES.len();
        let member = self.member_time.as_ref().map(|mt| {
            let cutoffs: Vec<i64> = members
                .iter()
                .map(|&m| mt.cut[m as usize].map_or(i64::MIN, |(t, _)| t))
                .collect();
            (
                mt,
                member::build(self.history, &mt.index, members, &cutoffs),
            )
        });
        let rw = recruitment.cols();
        let mw = member.as_ref().map_or(0, |(_, mm)| mm.cols() + pw);
        let mut values = Vec::with_capacity(members.len() * (rw + mw));
        for (i, &m) in members.iter().enumerate() {
            values.extend_from_slice(recruitment.row(m as usize));
            if let Some((mt, mm)) = &member {
                values.extend_from_slice(mm.row(i));
                match mt.cut[m as usize] {
                    Some((_, k)) => {
                        let k = k as usize;
                        values.extend_from_slice(&mt.pool[k * pw..(k + 1) * pw]);
                    }
                    None => values.extend(std::iter::repeat_n(f64::NAN, pw)),
                }
            }
        }
        let mut names = recruitment.names.clone();
        if let Some((_, mm)) = &member {
            names.extend(mm.names.iter().copied());
            names.extend(recruit::POOL_FEATURES.iter().map(|f| f.name));
        }
        Matrix {
            names,
            rows: members.len(),
            values: values.into(),
        }
    }
}
