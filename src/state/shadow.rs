//! Reading a challenger's comparison log (`<state>/<tenant>/shadow.jsonl`, one JSON object a
//! line) and summing it up: how often the live model and the challenger agreed, where their
//! decisions went, and the requests where they differed most, with both sides' reasons.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::tenant::challenger::{Role, ShadowEntry};
use crate::model::artefact::Decision;

#[derive(Debug, thiserror::Error)]
pub enum ShadowLogError {
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}, line {line}: {source}", .path.display())]
    Line {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
}

/// Every entry of a log file, in the order written; a line that is not an entry names its
/// number.
pub fn read_log(path: &Path) -> Result<Vec<ShadowEntry>, ShadowLogError> {
    let file = std::fs::File::open(path).map_err(|source| ShadowLogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| ShadowLogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let e = serde_json::from_str(&line).map_err(|source| ShadowLogError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        out.push(e);
    }
    Ok(out)
}

/// One request where the two models decided differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub member_id: Option<String>,
    pub at: i64,
    pub live: String,
    pub challenger: String,
    pub live_probability: f64,
    pub challenger_probability: f64,
    pub live_reasons: Vec<String>,
    pub challenger_reasons: Vec<String>,
}

/// A log summed up, per pair of versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowSummary {
    pub slot: &'static str,
    pub live_version: String,
    pub challenger_version: String,
    pub compared: usize,
    pub agreed: usize,
    pub agreement: f64,
    /// Requests the challenger's answer was given for.
    pub decided_by_challenger: usize,
    /// `live decision → challenger decision`: count.
    pub transitions: BTreeMap<String, usize>,
    /// Mean challenger probability minus live probability.
    pub mean_shift: f64,
    pub mean_abs_shift: f64,
    /// The requests where they differed, largest probability gap first (at most `top`).
    pub differences: Vec<Difference>,
}

/// Sums up `entries`, one summary per (slot, live version, challenger version).
pub fn summarize(entries: &[ShadowEntry], top: usize) -> Vec<ShadowSummary> {
    let mut groups: BTreeMap<(&'static str, &str, &str), Vec<&ShadowEntry>> = BTreeMap::new();
    for e in entries {
        groups
            .entry((e.slot.name(), &e.live.version, &e.challenger.version))
            .or_default()
            .push(e);
    }
    groups
        .into_iter()
        .map(|((slot, live, challenger), es)| {
            let n = es.len();
            let agreed = es
                .iter()
                .filter(|e| e.live.decision == e.challenger.decision)
                .count();
            let mut transitions = BTreeMap::new();
            let mut shift = 0.0;
            let mut abs_shift = 0.0;
            for e in &es {
                let d = e.challenger.probability - e.live.probability;
                shift += d;
                abs_shift += d.abs();
                *transitions
                    .entry(format!(
                        "{} → {}",
                        name(e.live.decision),
                        name(e.challenger.decision)
                    ))
                    .or_insert(0) += 1;
            }
            let mut differ: Vec<&&ShadowEntry> = es
                .iter()
                .filter(|e| e.live.decision != e.challenger.decision)
                .collect();
            differ.sort_by(|a, b| {
                let gap = |e: &ShadowEntry| (e.challenger.probability - e.live.probability).abs();
                gap(b).total_cmp(&gap(a))
            });
            ShadowSummary {
                slot,
                live_version: live.to_string(),
                challenger_version: challenger.to_string(),
                compared: n,
                agreed,
                agreement: agreed as f64 / n.max(1) as f64,
                decided_by_challenger: es
                    .iter()
                    .filter(|e| e.decided_by == Role::Challenger)
                    .count(),
                transitions,
                mean_shift: shift / n.max(1) as f64,
                mean_abs_shift: abs_shift / n.max(1) as f64,
                differences: differ
                    .into_iter()
                    .take(top)
                    .map(|e| Difference {
                        member_id: e.member_id.clone(),
                        at: e.at,
                        live: name(e.live.decision).to_string(),
                        challenger: name(e.challenger.decision).to_string(),
                        live_probability: e.live.probability,
                        challenger_probability: e.challenger.probability,
                        live_reasons: e.live.reasons.clone(),
                        challenger_reasons: e.challenger.reasons.clone(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn name(d: Decision) -> &'static str {
    d.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tenant::challenger::{Answer, ModelSlot};

    fn entry(live: (f64, Decision), challenger: (f64, Decision), by: Role) -> ShadowEntry {
        let answer = |version: &str, (p, d): (f64, Decision)| Answer {
            version: version.into(),
            probability: p,
            decision: d,
            reasons: vec![format!("R{p}")],
        };
        ShadowEntry {
            at: 1,
            slot: ModelSlot::Signup,
            member_id: Some(format!("m{live:?}")),
            decided_by: by,
            live: answer("v1", live),
            challenger: answer("v2", challenger),
        }
    }

    #[test]
    fn agreement_transitions_and_the_widest_differences() {
        use Decision::*;
        let es = [
            entry((0.1, Pass), (0.2, Pass), Role::Live),
            entry((0.5, Review), (0.9, Reject), Role::Challenger),
            entry((0.7, Review), (0.3, Pass), Role::Live),
            entry((0.95, Reject), (0.97, Reject), Role::Live),
        ];
        let s = summarize(&es, 1);
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!((s.compared, s.agreed, s.decided_by_challenger), (4, 2, 1));
        assert!((s.agreement - 0.5).abs() < 1e-12);
        // (0.1 + 0.4 − 0.4 + 0.02) / 4 and (0.1 + 0.4 + 0.4 + 0.02) / 4.
        assert!((s.mean_shift - 0.03).abs() < 1e-12, "{}", s.mean_shift);
        assert!((s.mean_abs_shift - 0.23).abs() < 1e-12);
        assert_eq!(s.transitions.get("review → reject"), Some(&1));
        assert_eq!(s.transitions.get("pass → pass"), Some(&1));
        assert_eq!(s.differences.len(), 1);
        // Both differences are 0.4 apart; the first written wins the tie.
        assert_eq!(s.differences[0].challenger, "reject");
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("shadow.jsonl");
        let good = serde_json::to_string(&entry(
            (0.1, Decision::Pass),
            (0.1, Decision::Pass),
            Role::Live,
        ))
        .unwrap_or_default();
        std::fs::write(&p, format!("{good}\n{{\"at\": 1}}\n")).unwrap_or_else(|e| panic!("{e}"));
        let err = read_log(&p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("line 2"), "{err}");
    }
}
