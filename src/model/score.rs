//! A model's rows at a moment (the as-of rule, stated once) and the evaluation of a model on
//! another history. Feature rows come from the same `features::build` that training used; the
//! decisions made from them are `crate::scoring`'s.

use serde::Serialize;

use super::artefact::{Artefact, ArtefactError};
use super::config::TrainConfig;
use super::dataset::assemble;
use super::evaluate::{slices, truth_labels, Evaluation, Metrics};
use super::importance::Importance;
use crate::data::history::{History, MemberIdx};
use crate::data::DataError;
use crate::features::{self, Matrix, Moment};

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Model(#[from] ArtefactError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("the model's training config no longer checks: {0}")]
    Config(#[from] super::config::InvalidConfig),
    #[error("{current} predicts {current_target} and {new} predicts {new_target}: compare models of one target")]
    Targets {
        current: String,
        current_target: &'static str,
        new: String,
        new_target: &'static str,
    },
    #[error("no member of this history has a label under the model's rule (and no reviewed labels): nothing to evaluate")]
    NoLabels,
    #[error("member '{0}' is not in this history")]
    UnknownMember(String),
    #[error("member '{member}' joined after the as-of time; a member-time score needs history before it")]
    NotYetJoined { member: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// The one statement of the as-of rule: a member-time model scores every member who joined
/// before `as_of`, on their events before it; a recruitment-time model scores every member as at
/// their own sign-up. Every path that builds a model's rows for a moment builds them here.
pub struct AsOf<'h> {
    history: &'h History,
    builder: features::Builder<'h>,
    as_of: i64,
    /// `Some(as_of)` for a member-time model.
    cutoff: Option<i64>,
}

impl<'h> AsOf<'h> {
    pub fn new(h: &'h History, a: &Artefact, as_of: i64) -> Self {
        Self::built(h, a, as_of, features::Builder::new)
    }

    /// As [`AsOf::new`], keeping the sign-up sweep's state (see [`features::Builder::keeping_state`]).
    pub fn keeping_state(h: &'h History, a: &Artefact, as_of: i64) -> Self {
        Self::built(h, a, as_of, features::Builder::keeping_state)
    }

    fn built(
        h: &'h History,
        a: &Artefact,
        as_of: i64,
        builder: fn(
            &'h History,
            crate::features::recruit::MergeCaps,
            features::Cutoffs,
        ) -> features::Builder<'h>,
    ) -> Self {
        let member_time = a.moment == Moment::Member;
        AsOf {
            history: h,
            builder: builder(
                h,
                a.config.merge.caps(),
                if member_time {
                    features::Cutoffs::At(as_of)
                } else {
                    features::Cutoffs::None
                },
            ),
            as_of,
            cutoff: member_time.then_some(as_of),
        }
    }

    pub fn as_of(&self) -> i64 {
        self.as_of
    }

    pub fn history(&self) -> &'h History {
        self.history
    }

    /// The row builder, to keep what one member's row is built from.
    pub fn into_builder(self) -> features::Builder<'h> {
        self.builder
    }

    /// Whether the model scores member `m` at this moment.
    pub fn scores(&self, m: MemberIdx) -> bool {
        self.cutoff
            .is_none_or(|t| self.history.members.joined_at[m as usize] < t)
    }

    /// The members the model scores at this moment, in index order.
    pub fn members(&self) -> Vec<MemberIdx> {
        (0..self.history.members.len() as MemberIdx)
            .filter(|&m| self.scores(m))
            .collect()
    }

    /// Member `m`'s group at this moment (member-time models; `None` alone), with the member id
    /// of its first account.
    pub fn group(&self, m: MemberIdx) -> Option<(&str, &crate::features::recruit::Group)> {
        self.builder.group_at_cutoff(m)
    }

    /// The feature rows of `members` (each one the model scores) at this moment.
    pub fn rows(&self, members: &[MemberIdx]) -> Matrix {
        self.builder.rows(members)
    }
}

/// The members scored and their feature rows, as of `as_of` (Unix seconds) (see [`AsOf`]).
pub fn rows_as_of(h: &History, a: &Artefact, as_of: i64) -> (Vec<MemberIdx>, Matrix) {
    let at = AsOf::new(h, a, as_of);
    let members = at.members();
    let matrix = at.rows(&members);
    (members, matrix)
}

/// The moment just after the history's last event: "now" for a history export.
pub fn end_of(h: &History) -> i64 {
    h.time_span().map_or(0, |(_, hi)| hi.saturating_add(1))
}

/// A model measured on a whole history: every member whose label the model's rule can tell
/// (or who has a review), with features at the model's moment, as in training.
pub fn evaluate(
    h: &History,
    a: &Artefact,
    truth: Option<&[bool]>,
) -> Result<Evaluation, ScoreError> {
    assess(h, a, truth).map(|x| x.evaluation)
}

/// An evaluation, its trade-off tables (what each cut-off would flag, catch and get right) and
/// the feature importance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// Against the labels.
    pub tradeoff: Vec<super::evaluate::Cutoff>,
    /// Against the truth, where known (same cut-offs).
    pub tradeoff_truth: Option<Vec<super::evaluate::Cutoff>>,
    /// The trees' feature importance: the split gains training recorded (where the artefact
    /// has them) and the mean |path attribution| over the rows evaluated.
    pub importance: Importance,
}

/// [`evaluate`] with the trade-off tables and the feature importance.
pub fn assess(h: &History, a: &Artefact, truth: Option<&[bool]>) -> Result<Assessment, ScoreError> {
    let checked: super::config::Checked =
        TrainConfig::check(a.config.clone()).map_err(ScoreError::Config)?;
    let ds = assemble(
        h,
        &checked.config.features,
        &checked.rule,
        checked.config.merge.caps(),
    );
    if ds.labels.is_empty() {
        return Err(ScoreError::NoLabels);
    }
    let probs = a.probabilities(&ds.matrix.values)?;
    let t = &a.thresholds;
    let against_truth = truth
        .filter(|_| a.target == super::label::Target::Wool)
        .and_then(|truth| truth_labels(truth, &ds.members));
    let (by_channel, by_campaign) = slices(h, &ds.members, &probs, &ds.labels, t);
    let tradeoff = super::evaluate::tradeoff(&probs, &ds.labels, t);
    let tradeoff_truth = against_truth
        .as_ref()
        .map(|y| super::evaluate::tradeoff(&probs, y, t));
    let gain = a
        .report
        .importance
        .as_ref()
        .and_then(|i| i.gains_for(&a.features));
    let importance =
        super::importance::measure(&a.gbm, &a.features, gain.as_deref(), &ds.matrix.values)
            .map_err(|source| ArtefactError::Score {
                version: a.version.clone(),
                source,
            })?;
    Ok(Assessment {
        evaluation: Evaluation {
            overall: Metrics::of(&probs, &ds.labels, t),
            against_truth: against_truth.map(|y| Metrics::of(&probs, &y, t)),
            by_channel,
            by_campaign,
        },
        tradeoff,
        tradeoff_truth,
        importance,
    })
}
