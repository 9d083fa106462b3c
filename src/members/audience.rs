//! Campaign audiences (DESIGN.md §1, "before a campaign"): the members a selection keeps, less
//! those a model would reject (or review), with each kept member's tier, segment and cluster, and
//! a summary of what was removed and why.
//!
//! Every member of the segmentation is accounted for exactly once: kept, removed by the
//! selection, or selected and removed by the model's decision. The wool share of the removed
//! comes from the reviewed labels table (a member's latest review), never from the model.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::rfm::{Segment, NO_ORDERS};
use super::segment::Segmentation;
use super::tier::TierRules;
use super::{write_table, MembersError};
use crate::data::history::{History, MemberIdx, NONE};
use crate::data::schema::{req, Column, Kind};
use crate::data::write::{Row, RowSink};
use crate::expr::select::{Expr, Facts, Vocabulary};
use crate::features::{self, Moment};
use crate::model::artefact::{Artefact, ArtefactError, Decision};

#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    #[error(transparent)]
    Model(#[from] ArtefactError),
    #[error(transparent)]
    Members(#[from] MembersError),
}

/// Which model decisions remove a selected member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropLevel {
    /// Reject only.
    Reject,
    /// Review and reject.
    Review,
}

impl DropLevel {
    pub fn drops(self, d: Decision) -> bool {
        match self {
            DropLevel::Reject => d == Decision::Reject,
            DropLevel::Review => d >= Decision::Review,
        }
    }
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
        ..Vocabulary::default()
    }
}

/// A model's scores of the segmentation's members, parallel to `Segmentation::members`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelScores {
    pub version: String,
    pub probability: Vec<f64>,
    pub decision: Vec<Decision>,
}

impl ModelScores {
    pub fn quality(&self, i: usize) -> u8 {
        crate::model::artefact::quality(self.probability[i])
    }
}

/// Scores every member of `s` with `a` as of the segmentation's moment (a member-time model on
/// their history before it; a recruitment model as at their sign-up), without reasons.
pub fn score(h: &History, s: &Segmentation, a: &Artefact) -> Result<ModelScores, AudienceError> {
    let cutoffs = (a.moment == Moment::Member).then(|| vec![s.as_of; s.members.len()]);
    let m = features::build(h, a.config.merge.caps(), &s.members, cutoffs.as_deref());
    let probability = a.probabilities(&m.values)?;
    let decision = probability.iter().map(|&p| a.decide(p)).collect();
    Ok(ModelScores {
        version: a.version.clone(),
        probability,
        decision,
    })
}

/// Why a member is not in the audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Kept,
    /// The selection did not match.
    Selection,
    /// Selected, then dropped for the model's decision; the model's strongest reason code.
    Model(Decision, Option<String>),
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
    pub drop: Option<DropLevel>,
    pub model_version: Option<String>,
    /// Members who joined before the as-of moment.
    pub members: usize,
    pub selected: usize,
    pub kept: usize,
    pub removed: usize,
    /// `selection`, `model_reject`, `model_review`: adds up to `removed`.
    pub removed_by_reason: Vec<Count>,
    /// The model's strongest reason code of each member it removed, most frequent first: adds
    /// up to the model's share of `removed`.
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
fn latest_labels(h: &History) -> HashMap<MemberIdx, u8> {
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
    model: Option<(&Artefact, ModelScores)>,
    drop: Option<DropLevel>,
) -> Result<Audience, AudienceError> {
    let scores = model.as_ref().map(|(_, sc)| sc);
    let n = s.members.len();
    let selected: Vec<bool> = (0..n)
        .into_par_iter()
        .with_min_len(4_096)
        .map(|i| select.is_none_or(|(_, e)| e.matches(&facts(h, s, scores, i))))
        .collect();
    let dropped: Vec<bool> = (0..n)
        .map(|i| {
            selected[i]
                && drop
                    .zip(scores)
                    .is_some_and(|(d, sc)| d.drops(sc.decision[i]))
        })
        .collect();
    // Reasons only for the members the model removes (path attributions are the slow part).
    let dropped_at: Vec<usize> = (0..n).filter(|&i| dropped[i]).collect();
    let mut codes: HashMap<usize, Option<String>> = HashMap::new();
    if let Some((a, _)) = &model {
        if !dropped_at.is_empty() {
            let members: Vec<MemberIdx> = dropped_at.iter().map(|&i| s.members[i]).collect();
            let cutoffs = (a.moment == Moment::Member).then(|| vec![s.as_of; members.len()]);
            let m = features::build(h, a.config.merge.caps(), &members, cutoffs.as_deref());
            let scored = a.score_rows(&m.values, 1)?;
            for (&i, sc) in dropped_at.iter().zip(scored) {
                codes.insert(i, sc.reasons.first().map(|r| r.code.clone()));
            }
        }
    }
    let labels = latest_labels(h);
    let mut removal = Vec::with_capacity(n);
    let mut kept = Vec::new();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_tier = vec![0usize; tiers.names.len()];
    let mut by_channel: BTreeMap<String, usize> = BTreeMap::new();
    let mut decisions: BTreeMap<String, usize> = BTreeMap::new();
    let mut shares = LabelShares::default();
    for i in 0..n {
        let m = s.members[i];
        let label = labels.get(&m).copied();
        if let Some(sc) = scores {
            *decisions
                .entry(sc.decision[i].name().to_string())
                .or_default() += 1;
        }
        let r = if !selected[i] {
            Removal::Selection
        } else if dropped[i] {
            let d = scores.map_or(Decision::Reject, |sc| sc.decision[i]);
            Removal::Model(d, codes.get(&i).cloned().flatten())
        } else {
            Removal::Kept
        };
        match &r {
            Removal::Kept => {
                kept.push(i);
                shares.kept.add(label);
            }
            removed => {
                shares.removed.add(label);
                let reason = match removed {
                    Removal::Model(d, code) => {
                        shares.removed_by_model.add(label);
                        let code = code.clone().unwrap_or_else(|| "NO_REASON".to_string());
                        *by_code.entry(code).or_default() += 1;
                        format!("model_{}", d.name())
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
        drop,
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
        scores: model.map(|(_, sc)| sc),
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

impl Audience {
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
