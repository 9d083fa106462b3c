//! A bipartite graph drawn on two rings: the outer ring's nodes (accounts) joined by lines to the
//! inner ring's (what they share), each with a colour, a label and a tip, under a title and
//! above a legend. The caller passes a few hundred nodes at most.

use std::f64::consts::PI;
use std::fmt::Write;

use super::{esc, n};

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub label: String,
    pub tip: String,
    pub colour: String,
    /// Inner ring (drawn as a square) or outer ring (a circle).
    pub inner: bool,
}

/// A legend entry: a colour and what it means.
pub type Legend = (String, String);

const SIZE: f64 = 720.0;
const TOP: f64 = 40.0;

/// The graph as a self-contained `<svg>`: `edges` join node indices (an outer node and an inner
/// one); labels show while the ring holds at most 60 nodes, tips always.
pub fn graph(title: &str, nodes: &[Node], edges: &[(usize, usize)], legend: &[Legend]) -> String {
    let rows = legend.len().div_ceil(3) as f64;
    let height = TOP + SIZE + 22.0 * rows + 10.0;
    let (cx, cy) = (SIZE / 2.0, TOP + SIZE / 2.0);
    let outer: Vec<usize> = (0..nodes.len()).filter(|&i| !nodes[i].inner).collect();
    let inner: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].inner).collect();
    let mut pos = vec![(cx, cy); nodes.len()];
    for (ring, radius) in [(&outer, SIZE * 0.40), (&inner, SIZE * 0.18)] {
        let k = ring.len().max(1) as f64;
        for (j, &i) in ring.iter().enumerate() {
            let a = -PI / 2.0 + 2.0 * PI * j as f64 / k;
            pos[i] = if ring.len() == 1 {
                (cx, cy)
            } else {
                (cx + radius * a.cos(), cy + radius * a.sin())
            };
        }
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="11" role="img"><title>{t}</title><rect width="{w}" height="{h}" fill="#ffffff"/><text x="10" y="22" font-size="15" font-weight="bold">{t}</text>"##,
        w = n(SIZE),
        h = n(height),
        t = esc(title)
    );
    s.push_str(r##"<g stroke="#9aa1a9" stroke-width="1" stroke-opacity="0.7">"##);
    for &(a, b) in edges {
        let (Some(p), Some(q)) = (pos.get(a), pos.get(b)) else {
            continue;
        };
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
            n(p.0),
            n(p.1),
            n(q.0),
            n(q.1)
        );
    }
    s.push_str("</g>");
    let labels = outer.len() <= 60;
    for (i, node) in nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let tip = esc(&node.tip);
        if node.inner {
            let _ = write!(
                s,
                r##"<rect class="key" x="{}" y="{}" width="12" height="12" fill="{}" stroke="#333333" data-tip="{tip}"><title>{tip}</title></rect>"##,
                n(x - 6.0),
                n(y - 6.0),
                esc(&node.colour)
            );
        } else {
            let _ = write!(
                s,
                r##"<circle class="account" cx="{}" cy="{}" r="7" fill="{}" stroke="#333333" data-tip="{tip}"><title>{tip}</title></circle>"##,
                n(x),
                n(y),
                esc(&node.colour)
            );
        }
        if labels || node.inner {
            // Outer labels point away from the centre, inner ones sit beside their square.
            let (dx, dy) = (x - cx, y - cy);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (lx, ly) = (x + 12.0 * dx / len, y + 12.0 * dy / len + 4.0);
            let anchor = if dx < -1.0 { "end" } else { "start" };
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" text-anchor="{anchor}">{}</text>"#,
                n(lx),
                n(ly),
                esc(&node.label)
            );
        }
    }
    for (j, (colour, what)) in legend.iter().enumerate() {
        let x = 10.0 + 235.0 * (j % 3) as f64;
        let y = TOP + SIZE + 22.0 * (j / 3) as f64;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            n(x),
            n(y),
            esc(colour),
            n(x + 17.0),
            n(y + 10.0),
            esc(what)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(label: &str, inner: bool) -> Node {
        Node {
            label: label.into(),
            tip: format!("{label} <tip>"),
            colour: "#000000".into(),
            inner,
        }
    }

    #[test]
    fn draws_every_node_and_edge_escaped() {
        let nodes = [node("a", false), node("b", false), node("k&1", true)];
        let svg = graph(
            "g-a",
            &nodes,
            &[(0, 2), (1, 2)],
            &[("#fff".into(), "x".into())],
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<line").count(), 2);
        assert_eq!(svg.matches(r#"class="key""#).count(), 1);
        assert!(svg.contains(">k&amp;1</text>"), "{svg}");
        assert!(svg.contains("a &lt;tip&gt;"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
