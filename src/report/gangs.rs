//! Gangs in pictures: one gang drawn as a graph of its accounts and the keys they share
//! (`woolguard gangs --svg` and the report), and the report's gangs section (the most suspicious
//! and the largest gangs in a table, the first of them drawn). The figures come from
//! [`crate::gangs`]; nothing here computes one.

use std::fmt::Write;

use serde::Serialize;

use crate::data::history::{History, Sym, NONE};
use crate::features::recruit::group::{FULL_PRICE, TOOK};
use crate::gangs::table::rfc3339;
use crate::gangs::{Gang, GangSet, MemberScores};
use crate::model::artefact::Decision;

use super::svg::graph::{graph, Legend, Node};
use super::svg::{esc, SMALL};

/// Accounts drawn at most; a larger gang is drawn by its first accounts.
pub const DRAWN: usize = 150;

const PASS: &str = "#009E73";
const REVIEW: &str = "#E69F00";
const REJECT: &str = "#D55E00";
const OTHER: &str = "#0072B2";
const KEY_COLOURS: [(&str, &str); 4] = [
    ("device", "#CC79A7"),
    ("phone hash", "#56B4E9"),
    ("IP range", "#F0E442"),
    ("inviter", "#000000"),
];

/// Gang `g` of `set` as a self-contained SVG: its accounts on the outer ring, coloured by the
/// member model's decision (with `scores`) or else by whether the account took a benefit and never
/// bought at full price; the devices, phone hashes, IP ranges and inviters two or more of them
/// share on the inner ring.
pub fn gang_svg(h: &History, set: &GangSet, g: &Gang, scores: Option<&MemberScores>) -> String {
    let st = &set.state;
    let drawn = g.accounts.len().min(DRAWN);
    let mut nodes: Vec<Node> = Vec::new();
    // Shared keys first (kind, key), then the accounts joined to them.
    let mut keys: Vec<(usize, Sym)> = Vec::new();
    for a in &g.accounts[..drawn] {
        for (kind, k) in [a.device, a.phone, a.range, a.inviter]
            .into_iter()
            .enumerate()
        {
            if k != NONE && !keys.contains(&(kind, k)) {
                let shared = g.accounts[..drawn]
                    .iter()
                    .filter(|b| [b.device, b.phone, b.range, b.inviter][kind] == k)
                    .count();
                if shared >= 2 {
                    keys.push((kind, k));
                }
            }
        }
    }
    keys.sort_by_key(|&(kind, k)| (kind, st.keys.name(k).to_string()));
    for &(kind, k) in &keys {
        let name = st.keys.name(k);
        let name = name.strip_prefix("range:").unwrap_or(name);
        nodes.push(Node {
            label: name.to_string(),
            tip: format!("{} {name}", KEY_COLOURS[kind].0),
            colour: KEY_COLOURS[kind].1.to_string(),
            inner: true,
        });
    }
    let mut edges = Vec::new();
    // Accounts in the order of their first shared key, so that lines stay short.
    let mut order: Vec<usize> = (0..drawn).collect();
    let first_key = |i: usize| {
        let a = &g.accounts[i];
        keys.iter()
            .position(|&(kind, k)| [a.device, a.phone, a.range, a.inviter][kind] == k)
            .unwrap_or(keys.len())
    };
    order.sort_by_key(|&i| (first_key(i), i));
    for i in order {
        let a = &g.accounts[i];
        let m = g.members[i];
        let id = h.members.id(m);
        let no_full = a.flags & TOOK != 0 && a.flags & FULL_PRICE == 0;
        let (colour, verdict) = match scores {
            Some(s) => {
                let p = s.probability.get(m as usize).copied().unwrap_or(f64::NAN);
                match s.decision.get(m as usize).copied().flatten() {
                    Some(Decision::Pass) => (PASS, format!("pass, probability {p:.2}")),
                    Some(Decision::Review) => (REVIEW, format!("review, probability {p:.2}")),
                    Some(Decision::Reject) => (REJECT, format!("reject, probability {p:.2}")),
                    None => (SMALL, "not scored".to_string()),
                }
            }
            None if no_full => (
                REJECT,
                "took a benefit, never bought at full price".to_string(),
            ),
            None => (OTHER, "did not take a benefit without buying".to_string()),
        };
        let at = nodes.len();
        nodes.push(Node {
            label: id.to_string(),
            tip: format!("{id}, joined {}: {verdict}", rfc3339(a.joined_at)),
            colour: colour.to_string(),
            inner: false,
        });
        for (j, &(kind, k)) in keys.iter().enumerate() {
            if [a.device, a.phone, a.range, a.inviter][kind] == k {
                edges.push((at, j));
            }
        }
    }
    let mut legend: Vec<Legend> = match scores {
        Some(s) => vec![
            (PASS.into(), format!("pass ({})", s.version)),
            (REVIEW.into(), "review".into()),
            (REJECT.into(), "reject".into()),
        ],
        None => vec![
            (REJECT.into(), "took a benefit, no full price".into()),
            (OTHER.into(), "other accounts".into()),
        ],
    };
    legend.extend(
        KEY_COLOURS
            .iter()
            .map(|(what, c)| (c.to_string(), format!("shared {what}"))),
    );
    let mut title = format!(
        "{}: {} accounts, score {:.2}{}",
        g.id,
        g.size,
        g.score,
        if g.flagged { ", flagged" } else { "" }
    );
    if drawn < g.accounts.len() {
        let _ = write!(title, " (first {drawn} drawn)");
    }
    graph(&title, &nodes, &edges, &legend)
}

/// One gang in the report's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GangLine {
    pub id: String,
    pub size: u32,
    pub score: f64,
    pub flagged: bool,
    pub reason: String,
}

/// The report's gangs section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GangsSection {
    pub gangs: usize,
    pub flagged: usize,
    pub flagged_accounts: usize,
    pub rule: String,
    /// The most suspicious gangs, then the largest not among them.
    pub lines: Vec<GangLine>,
    /// The first line's gang, drawn.
    pub drawn: Option<String>,
}

/// The section from a set of gangs: the 8 most suspicious and the 4 largest others.
pub fn section(h: &History, set: &GangSet, rule: &str) -> GangsSection {
    let mut picked: Vec<&Gang> = set.gangs.iter().take(8).collect();
    let mut by_size: Vec<&Gang> = set.gangs.iter().collect();
    by_size.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    for g in by_size {
        if picked.len() >= 12 {
            break;
        }
        if !picked.iter().any(|p| p.id == g.id) {
            picked.push(g);
        }
    }
    let (flagged, flagged_accounts) = set.flagged();
    GangsSection {
        gangs: set.gangs.len(),
        flagged,
        flagged_accounts,
        rule: rule.to_string(),
        lines: picked
            .iter()
            .map(|g| GangLine {
                id: g.id.clone(),
                size: g.size,
                score: g.score,
                flagged: g.flagged,
                reason: g.reason.clone(),
            })
            .collect(),
        drawn: picked.first().map(|g| gang_svg(h, set, g, None)),
    }
}

/// `svg` percent-encoded for a `data:` URL.
fn data_url(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len() * 2);
    for b in svg.bytes() {
        if b.is_ascii_alphanumeric() || b" -_.~/:=;,()!*".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The section as HTML.
pub fn render(out: &mut String, s: &GangsSection) {
    let _ = write!(
        out,
        r#"<section id="gangs"><h2>Gangs</h2><p class="note">{} gangs (accounts tied by rare shared devices, phones, IP ranges and inviters, and dense blocks peeled from busy keys); {} flagged by <code>{}</code>, {} accounts in them.</p>"#,
        s.gangs,
        s.flagged,
        esc(&s.rule),
        s.flagged_accounts
    );
    if !s.lines.is_empty() {
        out.push_str("<table><thead><tr><th>gang</th><th>accounts</th><th>score</th><th>flagged</th><th>why</th></tr></thead><tbody>");
        for l in &s.lines {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td></tr>",
                esc(&l.id),
                l.size,
                l.score,
                if l.flagged { "yes" } else { "no" },
                esc(&l.reason)
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(svg) = &s.drawn {
        // As an image: the page's charts are its inline <svg>s, and the drawing is not one.
        let _ = write!(
            out,
            r#"<div class="charts"><figure class="wide"><img alt="{}" src="data:image/svg+xml;charset=utf-8,{}"></figure></div>"#,
            esc(s.lines.first().map_or("", |l| l.id.as_str())),
            data_url(svg)
        );
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_url_escapes_what_a_url_cannot_hold() {
        assert_eq!(
            data_url(r##"<svg a="#1">é</svg>"##),
            "%3Csvg a=%22%231%22%3E%C3%A9%3C/svg%3E"
        );
    }
}
