//! Campaign audiences (DESIGN.md §1, "before a campaign"): the members a selection keeps, less
//! those the audience policy drops (their verdict rejects, or reviews, or their quality is under
//! the floor), with each kept member's tier, segment and cluster, and a summary of what was
//! removed and why.
//!
//! Every member of the segmentation is accounted for exactly once: kept, removed by the
//! selection, or selected and removed by its verdict, with the reason code
//! [`super::drop_reason`] gives (the one `POST /v1/audiences/filter` gives). The wool share of
//! the removed comes from the reviewed labels table (a member's latest review), never from the
//! model.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::members::MemberScorer;
use super::{drop_reason, AudiencePolicy};
use crate::data::history::{History, MemberIdx, NONE};
use crate::data::schema::{opt, req, Column, Kind};
use crate::data::write::{Row, RowSink};
use crate::expr::select::{Expr, Facts, Field, Vocabulary};
use crate::members::rfm::{Segment, NO_ORDERS};
use crate::members::segment::Segmentation;
use crate::members::tier::TierRules;
use crate::members::{write_table, MembersError};
use crate::model::artefact::{ArtefactError, Decision};

#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    #[error(transparent)]
    Model(#[from] ArtefactError),
    #[error(transparent)]
    Members(#[from] MembersError),
}

/// The names a selection over this segmentation may use.
pub fn vocabulary(h: &History, s: &Segmentation, tiers: &TierRules, model: bool) -> Vocabulary {
    let named = |syms: &[u32]| -> Vec<(String, u32)> {
        let mut seen: Vec<u32> = syms.iter().copied().filter(|&x| x != NONE).collect();
        seen.par_sort_unstable();
        seen.dedup();
        let mut out: Vec<(String, u32)> = seen
            .into_iter()
            .map(|x| (h.keys.name(x).to_string(), x))
            .collect();
        out.sort();
        out
    };
    Vocabulary {
        tiers: tiers.names.clone(),
        clusters: s
            .clustering
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        channels: named(&h.members.channel),
        campaigns: named(&h.members.campaign),
        model,
        numbers: crate::gangs::MEMBER_FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect(),
        ..Vocabulary::default()
    }
}

/// The verdicts of the segmentation's members, parallel to `Segmentation::members`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelScores {
    pub version: String,
    pub probability: Vec<f64>,
    pub decision: Vec<Decision>,
    pub quality: Vec<u8>,
    /// The reason code of each member the policy drops (`None`: kept by the policy).
    pub dropped: Vec<Option<String>>,
}

impl ModelScores {
    pub fn quality(&self, i: usize) -> u8 {
        self.quality[i]
    }
}

/// The verdicts of every member of `s` as of the segmentation's moment, and which of them
/// `policy` drops (none without one).
pub fn score(
    scorer: &MemberScorer<'_>,
    s: &Segmentation,
    policy: Option<&AudiencePolicy>,
) -> Result<ModelScores, AudienceError> {
    score_in_chunks(scorer, s, policy, SCORE_CHUNK)
}

/// Members scored at a time for an audience: the rows and verdicts of one chunk are held, never
/// those of every member.
const SCORE_CHUNK: usize = 64 * 1024;

/// [`score`], `chunk` members at a time (the same scores whatever the chunk).
pub fn score_in_chunks(
    scorer: &MemberScorer<'_>,
    s: &Segmentation,
    policy: Option<&AudiencePolicy>,
    chunk: usize,
) -> Result<ModelScores, AudienceError> {
    let n = s.members.len();
    let mut scores = ModelScores {
        version: scorer.model().version.clone(),
        probability: Vec::with_capacity(n),
        decision: Vec::with_capacity(n),
        quality: Vec::with_capacity(n),
        dropped: Vec::with_capacity(n),
    };
    for members in s.members.chunks(chunk.max(1)) {
        for v in scorer.audience_verdicts(members, policy)? {
            scores.probability.push(v.probability);
            scores.decision.push(v.decision);
            scores.quality.push(v.quality);
            scores.dropped.push(policy.and_then(|p| drop_reason(&v, p)));
        }
    }
    Ok(scores)
}

/// Why a member is not in the audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Kept,
    /// The selection did not match.
    Selection,
    /// Selected, then dropped by the policy: the verdict's decision and the reason code.
    Dropped(Decision, String),
}

/// Count of members under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub members: usize,
}

/// How many of a group have a reviewed label, and how many of those are wool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    pub members: usize,
    pub labelled: usize,
    pub wool: usize,
    /// wool / labelled; `None` when nobody is labelled.
    pub wool_share: Option<f64>,
}

impl Tally {
    fn add(&mut self, label: Option<u8>) {
        self.members += 1;
        if let Some(l) = label {
            self.labelled += 1;
            self.wool += usize::from(l == 1);
        }
        self.wool_share = (self.labelled > 0).then(|| self.wool as f64 / self.labelled as f64);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabelShares {
    pub removed: Tally,
    pub removed_by_selection: Tally,
    pub removed_by_model: Tally,
    pub kept: Tally,
}

/// What `woolguard audience` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudienceSummary {
    /// RFC 3339.
    pub as_of: String,
    pub select: Option<String>,
    pub drop: Option<super::DropLevel>,
    pub min_quality: Option<u8>,
    pub model_version: Option<String>,
    /// Members who joined before the as-of moment.
    pub members: usize,
    pub selected: usize,
    pub kept: usize,
    pub removed: usize,
    /// `selection`, `model_reject`, `model_review`, `low_quality`: adds up to `removed`.
    pub removed_by_reason: Vec<Count>,
    /// The reason code of each member the policy removed (`DENY_LIST`, a feature's code,
    /// `LOW_QUALITY`, …), most frequent first: adds up to the policy's share of `removed`.
    pub removed_by_code: Vec<Count>,
    /// Every tier, lowest first: adds up to `removed`.
    pub removed_by_tier: Vec<Count>,
    /// Every channel with a removal, most first: adds up to `removed`.
    pub removed_by_channel: Vec<Count>,
    /// The model's decisions over every member (with a model).
    pub decisions: Vec<Count>,
    /// Wool share in the reviewed labels of the removed and of the kept.
    pub labels: LabelShares,
}

/// An audience: the kept members (positions in the segmentation), the scores, the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    pub kept: Vec<usize>,
    pub removal: Vec<Removal>,
    pub scores: Option<ModelScores>,
    pub summary: AudienceSummary,
}

/// What a selection reads of the `i`-th member of `s`.
pub fn facts(h: &History, s: &Segmentation, scores: Option<&ModelScores>, i: usize) -> Facts {
    let m = s.members[i] as usize;
    let v = &s.rfm[i];
    let sc = s.scores[i];
    Facts {
        tier: s.tiers[i],
        segment: s.segments[i],
        cluster: usize::from(s.clusters[i]),
        channel: h.members.channel[m],
        campaign: h.members.campaign[m],
        r: sc.r,
        f: sc.f,
        m: sc.m,
        recency_days: v.recency_days,
        frequency: v.frequency,
        monetary: v.monetary(),
        decision: scores.map(|x| x.decision[i]),
        quality: scores.map(|x| x.quality(i)),
        probability: scores.map(|x| x.probability[i]),
    }
}

/// Each member's latest reviewed label (1 wool, 0 genuine), by member index.
pub fn latest_labels(h: &History) -> HashMap<MemberIdx, u8> {
    let l = &h.labels;
    let mut out: HashMap<MemberIdx, (i64, u8)> = HashMap::new();
    for i in 0..l.len() {
        let e = out.entry(l.member[i]).or_insert((i64::MIN, l.label[i]));
        if l.at[i] >= e.0 {
            *e = (l.at[i], l.label[i]);
        }
    }
    out.into_iter().map(|(m, (_, v))| (m, v)).collect()
}

fn counts(map: BTreeMap<String, usize>, by_size: bool) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(name, members)| Count { name, members })
        .collect();
    if by_size {
        v.sort_by(|a, b| b.members.cmp(&a.members).then(a.name.cmp(&b.name)));
    }
    v
}

/// The audience of `s`: members matching `select` (all when `None`), less those whose model
/// decision `drop` removes. `model` is the artefact and its scores of `s` (from [`score`]); the
/// strongest reason of each member the model removes is computed here, for those only.
pub fn build(
    h: &History,
    s: &Segmentation,
    tiers: &TierRules,
    select: Option<(&str, &Expr)>,
    model: Option<ModelScores>,
    policy: Option<AudiencePolicy>,
) -> Result<Audience, AudienceError> {
    let scores = model.as_ref();
    let n = s.members.len();
    // The gang fields (`gang_flagged`, `gang_size`, `gang_score`) cost a sweep of the history:
    // only a selection that names one pays for it.
    let gangs = select
        .filter(|(_, e)| e.fields().iter().any(|f| matches!(f, Field::Number(_))))
        .map(|_| {
            crate::gangs::member_numbers(h, &s.members, s.as_of, &crate::gangs::GangRule::default())
        });
    let width = crate::gangs::MEMBER_FIELDS.len();
    let selected: Vec<bool> = (0..n)
        .into_par_iter()
        .with_min_len(4_096)
        .map(|i| {
            select.is_none_or(|(_, e)| {
                let numbers = gangs
                    .as_deref()
                    .map_or(&[][..], |g| &g[i * width..(i + 1) * width]);
                e.matches_with(&facts(h, s, scores, i), numbers)
            })
        })
        .collect();
    let labels = latest_labels(h);
    let mut removal = Vec::with_capacity(n);
    let mut kept = Vec::new();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_tier = vec![0usize; tiers.names.len()];
    let mut by_channel: BTreeMap<String, usize> = BTreeMap::new();
    let mut decisions: BTreeMap<String, usize> = BTreeMap::new();
    let mut shares = LabelShares::default();
    for (i, &is_selected) in selected.iter().enumerate() {
        let m = s.members[i];
        let label = labels.get(&m).copied();
        if let Some(sc) = scores {
            *decisions
                .entry(sc.decision[i].name().to_string())
                .or_default() += 1;
        }
        let dropped = scores.and_then(|sc| sc.dropped[i].clone().map(|r| (sc.decision[i], r)));
        let r = match dropped {
            _ if !is_selected => Removal::Selection,
            Some((d, reason)) => Removal::Dropped(d, reason),
            None => Removal::Kept,
        };
        match &r {
            Removal::Kept => {
                kept.push(i);
                shares.kept.add(label);
            }
            removed => {
                shares.removed.add(label);
                let reason = match removed {
                    Removal::Dropped(d, code) => {
                        shares.removed_by_model.add(label);
                        *by_code.entry(code.clone()).or_default() += 1;
                        if code == "LOW_QUALITY" && !policy.is_some_and(|p| p.drop.drops(*d)) {
                            "low_quality".to_string()
                        } else {
                            format!("model_{}", d.name())
                        }
                    }
                    _ => {
                        shares.removed_by_selection.add(label);
                        "selection".to_string()
                    }
                };
                *by_reason.entry(reason).or_default() += 1;
                if let Some(t) = by_tier.get_mut(s.tiers[i]) {
                    *t += 1;
                }
                let ch = h.keys.name(h.members.channel[m as usize]).to_string();
                *by_channel.entry(ch).or_default() += 1;
            }
        }
        removal.push(r);
    }
    let summary = AudienceSummary {
        as_of: chrono::DateTime::from_timestamp(s.as_of, 0)
            .map_or_else(|| s.as_of.to_string(), |t| t.to_rfc3339()),
        select: select.map(|(text, _)| text.to_string()),
        drop: policy.map(|p| p.drop),
        min_quality: policy.and_then(|p| p.min_quality),
        model_version: scores.map(|sc| sc.version.clone()),
        members: n,
        selected: selected.iter().filter(|&&x| x).count(),
        kept: kept.len(),
        removed: n - kept.len(),
        removed_by_reason: counts(by_reason, true),
        removed_by_code: counts(by_code, true),
        removed_by_tier: tiers
            .names
            .iter()
            .zip(by_tier)
            .map(|(name, members)| Count {
                name: name.clone(),
                members,
            })
            .collect(),
        removed_by_channel: counts(by_channel, true),
        decisions: counts(decisions, false),
        labels: shares,
    };
    Ok(Audience {
        kept,
        removal,
        scores: model,
        summary,
    })
}

/// One row of an audience file without a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudienceRow {
    pub member_id: String,
    pub tier: String,
    pub segment: &'static str,
    pub cluster: i64,
    pub cluster_name: String,
}

/// One row of an audience file with a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredAudienceRow {
    pub member_id: String,
    pub tier: String,
    pub segment: &'static str,
    pub cluster: i64,
    pub cluster_name: String,
    pub decision: &'static str,
    pub quality: i64,
    pub probability: f64,
}

const AUDIENCE_COLUMNS: &[Column] = &[
    req("member_id", Kind::Text),
    req("tier", Kind::Text),
    req("segment", Kind::Text),
    req("cluster", Kind::Int),
    req("cluster_name", Kind::Text),
];

const SCORED_AUDIENCE_COLUMNS: &[Column] = &[
    req("member_id", Kind::Text),
    req("tier", Kind::Text),
    req("segment", Kind::Text),
    req("cluster", Kind::Int),
    req("cluster_name", Kind::Text),
    req("decision", Kind::Text),
    req("quality", Kind::Int),
    req("probability", Kind::Money),
];

impl Row for AudienceRow {
    fn columns() -> &'static [Column] {
        AUDIENCE_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.text(&self.tier);
        out.text(self.segment);
        out.int(self.cluster);
        out.text(&self.cluster_name);
    }
}

impl Row for ScoredAudienceRow {
    fn columns() -> &'static [Column] {
        SCORED_AUDIENCE_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.text(&self.tier);
        out.text(self.segment);
        out.int(self.cluster);
        out.text(&self.cluster_name);
        out.text(self.decision);
        out.int(self.quality);
        out.money(self.probability);
    }
}

/// One row of the removed members' file: who, by what, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovedRow {
    pub member_id: String,
    /// `selection`, or `policy` (the verdict under the audience policy).
    pub removed_by: &'static str,
    pub decision: Option<&'static str>,
    /// The reason code (as `POST /v1/audiences/filter` gives it) of a member the policy removed.
    pub reason: Option<String>,
}

const REMOVED_COLUMNS: &[Column] = &[
    req("member_id", Kind::Text),
    req("removed_by", Kind::Text),
    opt("decision", Kind::Text),
    opt("reason", Kind::Text),
];

impl Row for RemovedRow {
    fn columns() -> &'static [Column] {
        REMOVED_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.text(self.removed_by);
        out.opt_text(self.decision);
        out.opt_text(self.reason.as_deref());
    }
}

impl Audience {
    /// Writes the removed members to `path` (`.csv` → CSV, else Parquet). Returns the rows
    /// written.
    pub fn write_removed(
        &self,
        h: &History,
        s: &Segmentation,
        path: &Path,
    ) -> Result<u64, AudienceError> {
        let removed: Vec<usize> = (0..self.removal.len())
            .filter(|&i| self.removal[i] != Removal::Kept)
            .collect();
        let written = write_table(path, removed.len(), |j| {
            let i = removed[j];
            let member_id = h.members.id(s.members[i]).to_string();
            match &self.removal[i] {
                Removal::Dropped(d, reason) => RemovedRow {
                    member_id,
                    removed_by: "policy",
                    decision: Some(d.name()),
                    reason: Some(reason.clone()),
                },
                _ => RemovedRow {
                    member_id,
                    removed_by: "selection",
                    decision: self.scores.as_ref().map(|sc| sc.decision[i].name()),
                    reason: None,
                },
            }
        })?;
        Ok(written)
    }

    /// The file row of the `i`-th member of the segmentation.
    pub fn row(&self, h: &History, s: &Segmentation, tiers: &TierRules, i: usize) -> AudienceRow {
        let c = usize::from(s.clusters[i]);
        AudienceRow {
            member_id: h.members.id(s.members[i]).to_string(),
            tier: tiers.name(s.tiers[i]).to_string(),
            segment: s.segments[i].map_or(NO_ORDERS, Segment::name),
            cluster: c as i64 + 1,
            cluster_name: s.clustering.name(c).to_string(),
        }
    }

    /// Writes the kept members to `path` (`.csv` → CSV, else Parquet), with the model's
    /// decision, quality and probability when there is a model. Returns the rows written.
    pub fn write(
        &self,
        h: &History,
        s: &Segmentation,
        tiers: &TierRules,
        path: &Path,
    ) -> Result<u64, AudienceError> {
        let kept = &self.kept;
        let written = match &self.scores {
            None => write_table(path, kept.len(), |j| self.row(h, s, tiers, kept[j]))?,
            Some(sc) => write_table(path, kept.len(), |j| {
                let i = kept[j];
                let r = self.row(h, s, tiers, i);
                ScoredAudienceRow {
                    member_id: r.member_id,
                    tier: r.tier,
                    segment: r.segment,
                    cluster: r.cluster,
                    cluster_name: r.cluster_name,
                    decision: sc.decision[i].name(),
                    quality: i64::from(sc.quality(i)),
                    probability: sc.probability[i],
                }
            })?,
        };
        Ok(written)
    }
}
