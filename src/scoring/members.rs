//! Verdicts for the members of a history at a moment: in batch (to Parquet or CSV, one chunk of
//! rows held at a time), for the scorer's snapshot, and for one member explained. The rows come
//! from [`AsOf`] (the as-of rule) and the decisions from [`Judge`].

use std::path::Path;

use serde::Serialize;

use super::rules::{channel_code, On, Outcome};
use super::{Judge, ListKeys, Standing, Verdict};
use crate::data::history::{History, MemberIdx};
use crate::data::schema::{opt, req, Column, Kind};
use crate::data::write::{Row, RowSink, TableWriter};
use crate::expr::select::Facts;
use crate::features;
use crate::members::rfm::NO_ORDERS;
use crate::members::segment::Segmentation;
use crate::members::tier::TierRules;
use crate::model::artefact::{Artefact, ArtefactError, Decision, Scored};
use crate::model::score::{AsOf, ScoreError};

/// Tiers and segments of the members, to put beside their verdicts.
pub struct Standings<'a> {
    pub segmentation: &'a Segmentation,
    pub tiers: &'a TierRules,
    /// Each member's position in the segmentation, `u32::MAX` for none.
    position: Vec<u32>,
}

impl<'a> Standings<'a> {
    pub fn new(h: &History, segmentation: &'a Segmentation, tiers: &'a TierRules) -> Self {
        let mut position = vec![u32::MAX; h.members.len()];
        for (i, &m) in segmentation.members.iter().enumerate() {
            position[m as usize] = i as u32;
        }
        Standings {
            segmentation,
            tiers,
            position,
        }
    }

    /// Every member's position in the segmentation, `u32::MAX` for none.
    pub fn positions(&self) -> &[u32] {
        &self.position
    }

    /// The member's position in the segmentation.
    pub fn position(&self, m: MemberIdx) -> Option<usize> {
        self.position
            .get(m as usize)
            .filter(|&&p| p != u32::MAX)
            .map(|&p| p as usize)
    }

    pub fn of(&self, m: MemberIdx) -> Option<Standing> {
        let i = self.position(m)?;
        let s = self.segmentation;
        Some(Standing {
            tier: self.tiers.name(s.tiers[i]).to_string(),
            segment: s.segments[i].map_or(NO_ORDERS, |x| x.name()),
        })
    }
}

/// Scores the members of one history with one model at one moment, under one policy.
pub struct MemberScorer<'a> {
    history: &'a History,
    model: &'a Artefact,
    judge: Judge<'a>,
    at: AsOf<'a>,
    standings: Option<&'a Standings<'a>>,
}

/// The keys the lists match for a history member.
pub fn member_keys(h: &History, m: MemberIdx) -> ListKeys<'_> {
    let i = m as usize;
    ListKeys {
        member: Some(h.members.id(m)),
        device: h.keys.opt_name(h.members.device[i]),
        phone_hash: h.keys.opt_name(h.members.phone_hash[i]),
        ip: h.keys.opt_name(h.members.ip[i]),
    }
}

/// What a member rule reads besides the row: the member's standing at its position in a
/// segmentation (none for a member it does not hold) and its channel. The batch and the live
/// scorer both take a member's facts here.
pub fn member_facts(h: &History, seg: Option<(&Segmentation, usize)>, channel: &str) -> Facts {
    let base = seg
        .map(|(s, i)| super::campaign::facts(h, s, None, i))
        .unwrap_or_default();
    Facts {
        channel: channel_code(channel),
        campaign: crate::data::history::NONE,
        ..base
    }
}

impl<'a> MemberScorer<'a> {
    pub fn new(
        history: &'a History,
        model: &'a Artefact,
        judge: Judge<'a>,
        as_of: i64,
        standings: Option<&'a Standings<'a>>,
    ) -> Self {
        Self::over(AsOf::new(history, model, as_of), model, judge, standings)
    }

    /// A scorer over rows `at` builds (e.g. [`AsOf::keeping_state`], for a scorer starting up).
    pub fn over(
        at: AsOf<'a>,
        model: &'a Artefact,
        judge: Judge<'a>,
        standings: Option<&'a Standings<'a>>,
    ) -> Self {
        MemberScorer {
            history: at.history(),
            model,
            judge,
            at,
            standings,
        }
    }

    pub fn model(&self) -> &'a Artefact {
        self.model
    }

    /// The rows' builder behind this scorer (see [`AsOf::into_builder`]).
    pub fn into_as_of(self) -> AsOf<'a> {
        self.at
    }

    /// The members the model scores at this moment.
    pub fn members(&self) -> Vec<MemberIdx> {
        self.at.members()
    }

    /// Whether the model scores member `m` at this moment.
    pub fn scores(&self, m: MemberIdx) -> bool {
        self.at.scores(m)
    }

    /// What a rule reads of member `m` besides its feature row: its standing (with standings)
    /// and its channel.
    pub fn facts(&self, m: MemberIdx) -> Facts {
        let h = self.history;
        let seg = self
            .standings
            .and_then(|st| Some((st.segmentation, st.position(m)?)));
        member_facts(h, seg, h.keys.name(h.members.channel[m as usize]))
    }

    /// The model's scores of `members` (each one the model scores), with the `top` strongest
    /// reasons, and what the rules say of each: everything but the lists, which a scorer applies
    /// as they stand when asked.
    pub fn judged(
        &self,
        members: &[MemberIdx],
        top: usize,
    ) -> Result<Vec<(Scored, Outcome)>, ArtefactError> {
        let rows = self.at.rows(members);
        let scored = self.model.score_rows(&rows.values, top)?;
        let on = On::of(self.model.moment);
        let width = rows.cols().max(1);
        Ok(members
            .iter()
            .zip(scored)
            .enumerate()
            .map(|(i, (&m, s))| {
                let row = &rows.values[i * width..(i + 1) * width];
                let outcome = self.outcome(on, m, &s, row);
                (s, outcome)
            })
            .collect())
    }

    /// The verdicts of `members` (each one the model scores), with the `top` strongest reasons.
    pub fn verdicts(
        &self,
        members: &[MemberIdx],
        top: usize,
    ) -> Result<Vec<Verdict>, ArtefactError> {
        Ok(members
            .iter()
            .zip(self.judged(members, top)?)
            .map(|(&m, (s, o))| self.verdict(m, s, &o))
            .collect())
    }

    /// The verdicts of `members` from the batch probabilities, with the first reason computed
    /// only where an audience under `policy` drops the member (the attributions are the slow
    /// part); without a policy, no reasons at all.
    pub fn audience_verdicts(
        &self,
        members: &[MemberIdx],
        policy: Option<&super::AudiencePolicy>,
    ) -> Result<Vec<Verdict>, ArtefactError> {
        let rows = self.at.rows(members);
        let probabilities = self.model.probabilities(&rows.values)?;
        let width = rows.cols().max(1);
        let on = On::of(self.model.moment);
        members
            .iter()
            .zip(probabilities)
            .enumerate()
            .map(|(i, (&m, p))| {
                let row = &rows.values[i * width..(i + 1) * width];
                let bare = self.model.bare(p);
                let outcome = self.outcome(on, m, &bare, row);
                let v = self.verdict(m, bare, &outcome);
                if policy.is_some_and(|p| super::drop_reason(&v, p).is_some()) {
                    return Ok(self.verdict(m, self.model.score_row(row, 1)?, &outcome));
                }
                Ok(v)
            })
            .collect()
    }

    /// For every member of the history, `Some(true)` when its verdict rejects it, `None` for
    /// members the model does not score at this moment (the predicted wool of `diagnose` and
    /// the report).
    pub fn rejects(&self) -> Result<Vec<Option<bool>>, ArtefactError> {
        const CHUNK: usize = 64 * 1024;
        let mut out = vec![None; self.history.members.len()];
        for chunk in self.members().chunks(CHUNK) {
            for (&m, v) in chunk.iter().zip(self.audience_verdicts(chunk, None)?) {
                out[m as usize] = Some(v.decision == Decision::Reject);
            }
        }
        Ok(out)
    }

    /// What the rules say of member `m` scored `scored` on `row`, and its gang at this moment.
    fn outcome(&self, on: On, m: MemberIdx, scored: &Scored, row: &[f64]) -> Outcome {
        let mut outcome = self.judge.rules_for(on, scored, || self.facts(m), row);
        outcome.gang = self.judge.gang(self.at.group(m), self.at.as_of());
        outcome
    }

    fn verdict(&self, m: MemberIdx, scored: Scored, outcome: &Outcome) -> Verdict {
        let mut v = self
            .judge
            .decide(self.model, scored, &member_keys(self.history, m), outcome);
        v.standing = self.standings.and_then(|s| s.of(m));
        v
    }
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
    pub fn new(member_id: &str, a: &Artefact, v: &Verdict) -> Self {
        let code = |i: usize| v.reasons.get(i).map(|r| r.code.clone());
        ScoreRow {
            member_id: member_id.to_string(),
            target: a.target.name(),
            probability: v.probability,
            quality: i64::from(v.quality),
            decision: v.decision.name(),
            reason_1: code(0),
            reason_2: code(1),
            reason_3: code(2),
            reasons: v
                .reasons
                .iter()
                .map(|r| format!("{} ({})", r.code, r.text))
                .collect::<Vec<_>>()
                .join("; "),
            model_version: v.model_version.clone(),
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
/// so that only one chunk's rows and verdicts are held at a time.
pub fn score_to_file(scorer: &MemberScorer<'_>, out: &Path) -> Result<ScoreSummary, ScoreError> {
    const CHUNK: usize = 64 * 1024;
    let members = scorer.members();
    let mut sink = ScoreSink::create(out)?;
    let mut summary = ScoreSummary::default();
    for chunk in members.chunks(CHUNK) {
        for (&m, v) in chunk.iter().zip(scorer.verdicts(chunk, 3)?) {
            sink.push(&ScoreRow::new(
                scorer.history.members.id(m),
                scorer.model,
                &v,
            ))?;
            summary.members += 1;
            match v.decision {
                Decision::Pass => summary.pass += 1,
                Decision::Review => summary.review += 1,
                Decision::Reject => summary.reject += 1,
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
    pub verdict: Verdict,
    /// The raw score every member starts from (log-odds).
    pub bias: f64,
    pub terms: Vec<Term>,
}

/// One member's verdict with every feature's value and contribution.
pub fn explain(scorer: &MemberScorer<'_>, member_id: &str) -> Result<Explanation, ScoreError> {
    let (h, a) = (scorer.history, scorer.model);
    let m = h
        .members
        .index_of(member_id)
        .ok_or_else(|| ScoreError::UnknownMember(member_id.to_string()))?;
    if !scorer.scores(m) {
        return Err(ScoreError::NotYetJoined {
            member: member_id.to_string(),
        });
    }
    let matrix = scorer.at.rows(&[m]);
    let row = matrix.row(0);
    let scored = a.score_row(row, 3)?;
    let outcome = scorer.outcome(On::of(a.moment), m, &scored, row);
    let verdict = scorer.verdict(m, scored, &outcome);
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
        as_of: scorer.at.as_of(),
        verdict,
        bias: c.bias,
        terms,
    })
}
