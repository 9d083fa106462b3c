//! Scoring a history with a model artefact: every member in batch (to Parquet or CSV), one member
//! explained, and the evaluation of a model on another history. Feature rows come from the same
//! `features::build` that training used.

use std::path::Path;

use serde::Serialize;

use super::artefact::{Artefact, ArtefactError, Scored};
use super::config::TrainConfig;
use super::dataset::assemble;
use super::evaluate::{slices, truth_labels, Evaluation, Metrics};
use crate::data::history::{History, MemberIdx};
use crate::data::schema::{opt, req, Column, Kind};
use crate::data::write::{Row, RowSink, TableWriter};
use crate::data::DataError;
use crate::features::{self, Matrix, Moment};

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Model(#[from] ArtefactError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("the model's training config no longer checks: {0}")]
    Config(String),
    #[error("no member of this history has a label under the model's rule (and no reviewed labels): nothing to evaluate")]
    NoLabels,
    #[error("member '{0}' is not in this history")]
    UnknownMember(String),
    #[error("member '{member}' joined after the as-of time; a member-time score needs history before it")]
    NotYetJoined { member: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// The members scored and their feature rows, as of `as_of` (Unix seconds).
///
/// A member-time model scores every member who joined before `as_of` on their events before it;
/// a recruitment-time model scores every member as at their own sign-up.
pub fn rows_as_of(h: &History, a: &Artefact, as_of: i64) -> (Vec<MemberIdx>, Matrix) {
    let members = members_as_of(h, a, as_of);
    let cutoffs = (a.moment == Moment::Member).then(|| vec![as_of; members.len()]);
    let matrix = features::build(h, a.config.merge.caps(), &members, cutoffs.as_deref());
    (members, matrix)
}

/// The members a model scores as of `as_of`: everyone for a recruitment-time model, those who
/// joined before it for a member-time one.
fn members_as_of(h: &History, a: &Artefact, as_of: i64) -> Vec<MemberIdx> {
    (0..h.members.len() as MemberIdx)
        .filter(|&m| a.moment == Moment::Recruitment || h.members.joined_at[m as usize] < as_of)
        .collect()
}

/// The moment just after the history's last event: "now" for a history export.
pub fn end_of(h: &History) -> i64 {
    h.time_span().map_or(0, |(_, hi)| hi.saturating_add(1))
}

/// One row of a batch score file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    pub member_id: String,
    pub target: &'static str,
    pub probability: f64,
    pub quality: i64,
    pub decision: &'static str,
    pub reason_1: Option<String>,
    pub reason_2: Option<String>,
    pub reason_3: Option<String>,
    pub reasons: String,
    pub model_version: String,
}

const SCORE_COLUMNS: &[Column] = &[
    req("member_id", Kind::Text),
    req("target", Kind::Text),
    req("probability", Kind::Money),
    req("quality", Kind::Int),
    req("decision", Kind::Text),
    opt("reason_1", Kind::Text),
    opt("reason_2", Kind::Text),
    opt("reason_3", Kind::Text),
    req("reasons", Kind::Text),
    req("model_version", Kind::Text),
];

impl Row for ScoreRow {
    fn columns() -> &'static [Column] {
        SCORE_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.text(self.target);
        out.money(self.probability);
        out.int(self.quality);
        out.text(self.decision);
        out.opt_text(self.reason_1.as_deref());
        out.opt_text(self.reason_2.as_deref());
        out.opt_text(self.reason_3.as_deref());
        out.text(&self.reasons);
        out.text(&self.model_version);
    }
}

impl ScoreRow {
    pub fn new(member_id: &str, a: &Artefact, s: &Scored) -> Self {
        let code = |i: usize| s.reasons.get(i).map(|r| r.code.clone());
        ScoreRow {
            member_id: member_id.to_string(),
            target: a.target.name(),
            probability: s.probability,
            quality: i64::from(s.quality),
            decision: s.decision.name(),
            reason_1: code(0),
            reason_2: code(1),
            reason_3: code(2),
            reasons: s
                .reasons
                .iter()
                .map(|r| format!("{} ({})", r.code, r.text))
                .collect::<Vec<_>>()
                .join("; "),
            model_version: a.version.clone(),
        }
    }
}

/// Counts of a batch score, by decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScoreSummary {
    pub members: usize,
    pub pass: usize,
    pub review: usize,
    pub reject: usize,
}

/// Scores every member and writes one row each to `out` (`.csv` → CSV, else Parquet), in chunks
/// so that only one chunk's scores are held at a time.
pub fn score_to_file(
    h: &History,
    a: &Artefact,
    as_of: i64,
    out: &Path,
) -> Result<ScoreSummary, ScoreError> {
    const CHUNK: usize = 64 * 1024;
    // Rows are built chunk by chunk: only the recruitment sweep and one chunk's rows are held.
    let members = members_as_of(h, a, as_of);
    let builder = features::Builder::new(h, a.config.merge.caps(), a.moment == Moment::Member);
    let cutoffs = vec![as_of; CHUNK.min(members.len())];
    let mut sink = ScoreSink::create(out)?;
    let mut summary = ScoreSummary::default();
    for chunk in members.chunks(CHUNK) {
        let cut = (a.moment == Moment::Member).then(|| &cutoffs[..chunk.len()]);
        let matrix = builder.rows(chunk, cut);
        let scored = a.score_rows(&matrix.values, 3)?;
        for (&m, s) in chunk.iter().zip(&scored) {
            sink.push(&ScoreRow::new(h.members.id(m), a, s))?;
            summary.members += 1;
            match s.decision {
                super::artefact::Decision::Pass => summary.pass += 1,
                super::artefact::Decision::Review => summary.review += 1,
                super::artefact::Decision::Reject => summary.reject += 1,
            }
        }
    }
    sink.finish()?;
    Ok(summary)
}

enum ScoreSink {
    Parquet(TableWriter<ScoreRow>),
    Csv {
        path: String,
        writer: csv::Writer<std::fs::File>,
    },
}

impl ScoreSink {
    fn create(path: &Path) -> Result<Self, ScoreError> {
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if !is_csv {
            return Ok(ScoreSink::Parquet(TableWriter::create(path)?));
        }
        let shown = path.display().to_string();
        let writer = csv::Writer::from_path(path).map_err(|e| ScoreError::Write {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Ok(ScoreSink::Csv {
            path: shown,
            writer,
        })
    }

    fn push(&mut self, row: &ScoreRow) -> Result<(), ScoreError> {
        match self {
            ScoreSink::Parquet(w) => Ok(w.push(row)?),
            ScoreSink::Csv { path, writer } => {
                writer.serialize(row).map_err(|e| ScoreError::Write {
                    path: path.clone(),
                    message: e.to_string(),
                })
            }
        }
    }

    fn finish(self) -> Result<(), ScoreError> {
        match self {
            ScoreSink::Parquet(w) => w.finish().map(|_| ()).map_err(ScoreError::from),
            ScoreSink::Csv { path, mut writer } => writer.flush().map_err(|e| ScoreError::Write {
                path,
                message: e.to_string(),
            }),
        }
    }
}

/// One feature of an explained member.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term {
    pub feature: String,
    pub description: &'static str,
    pub value: Option<f64>,
    pub contribution: f64,
}

/// Why a member scored what it did: every feature's value and contribution (path attributions
/// over the model's own trees), largest effect first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub member_id: String,
    pub as_of: i64,
    pub scored: Scored,
    /// The raw score every member starts from (log-odds).
    pub bias: f64,
    pub terms: Vec<Term>,
}

pub fn explain(
    h: &History,
    a: &Artefact,
    member_id: &str,
    as_of: i64,
) -> Result<Explanation, ScoreError> {
    let m = h
        .members
        .index_of(member_id)
        .ok_or_else(|| ScoreError::UnknownMember(member_id.to_string()))?;
    if a.moment == Moment::Member && h.members.joined_at[m as usize] >= as_of {
        return Err(ScoreError::NotYetJoined {
            member: member_id.to_string(),
        });
    }
    let cutoffs = (a.moment == Moment::Member).then(|| vec![as_of]);
    let matrix = features::build(h, a.config.merge.caps(), &[m], cutoffs.as_deref());
    let row = matrix.row(0);
    let scored = a.score_row(row, 3)?;
    let c = a
        .gbm
        .path_contributions(row)
        .map_err(|source| ArtefactError::Score {
            version: a.version.clone(),
            source,
        })?;
    let mut terms: Vec<Term> = a
        .features
        .iter()
        .enumerate()
        .map(|(j, name)| Term {
            feature: name.clone(),
            description: features::description(name).unwrap_or(""),
            value: (!row[j].is_nan()).then_some(row[j]),
            contribution: c.values[j],
        })
        .collect();
    terms.sort_by(|x, y| y.contribution.abs().total_cmp(&x.contribution.abs()));
    Ok(Explanation {
        member_id: member_id.to_string(),
        as_of,
        scored,
        bias: c.bias,
        terms,
    })
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

/// An evaluation and its trade-off tables (what each cut-off would flag, catch and get right).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// Against the labels.
    pub tradeoff: Vec<super::evaluate::Cutoff>,
    /// Against the truth, where known (same cut-offs).
    pub tradeoff_truth: Option<Vec<super::evaluate::Cutoff>>,
}

/// [`evaluate`] with the trade-off tables.
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
    Ok(Assessment {
        evaluation: Evaluation {
            overall: Metrics::of(&probs, &ds.labels, t),
            against_truth: against_truth.map(|y| Metrics::of(&probs, &y, t)),
            by_channel,
            by_campaign,
        },
        tradeoff,
        tradeoff_truth,
    })
}
