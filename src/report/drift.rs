//! The report's drift section: the members as of the report's date against the model's training
//! population (population stability index per feature and for the score, and the channels and
//! campaigns that moved).

use std::fmt::Write;

use super::svg::esc;
use super::ModelSection;

/// Features listed in the table.
const TOP: usize = 10;

pub fn render(out: &mut String, m: &ModelSection) {
    out.push_str(r#"<section id="drift"><h2>Drift from the training population</h2>"#);
    let Some(d) = &m.drift else {
        let _ = write!(
            out,
            r#"<p class="note">Model {} keeps no profile of its training population (trained before drift was measured): retrain it to see drift.</p></section>"#,
            esc(&m.version)
        );
        return;
    };
    let moved = if d.flagged.is_empty() {
        "nothing moved past it".to_string()
    } else {
        format!("moved: {}", esc(&d.flagged.join(", ")))
    };
    let _ = write!(
        out,
        r#"<p class="note">{} members (rows built as in training) against {} held-out training rows, by the population stability index (PSI; under 0.1 stable, 0.1–0.25 a moderate shift, above {} flagged). Score PSI {:.3} ({}); {}.</p>"#,
        d.rows,
        d.training_rows,
        d.threshold,
        d.score.psi,
        esc(&d.score.how),
        moved
    );
    out.push_str(r#"<table id="drift-table"><thead><tr><th>feature</th><th>PSI</th><th>most moved bin (training → now)</th><th>flagged</th></tr></thead><tbody>"#);
    for f in d.features.iter().take(TOP) {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.name),
            f.psi,
            esc(&f.how),
            if f.flagged { "yes" } else { "" }
        );
    }
    out.push_str("</tbody></table>");
    let slices: Vec<String> = d
        .slices
        .iter()
        .filter(|s| s.score_psi > d.threshold)
        .map(|s| {
            format!(
                "{} <code>{}</code> (score PSI {:.2}, {} members{})",
                s.by,
                esc(&s.name),
                s.score_psi,
                s.rows,
                if s.own_reference {
                    ""
                } else {
                    ", against all training rows"
                }
            )
        })
        .collect();
    if !slices.is_empty() {
        let _ = write!(
            out,
            r#"<p class="note">Slices whose score moved: {}.</p>"#,
            slices.join("; ")
        );
    }
    out.push_str("</section>");
}
