//! The report's HTML: headline numbers, one section per topic, each chart an inline SVG from
//! [`super::svg`], inline CSS, and a short inline script that shows tooltips and records any
//! script error in the page (`#js-errors`), so that a headless browser test can read it back.
//! Nothing here computes a figure: it only lays out a [`Report`].

use std::fmt::Write;

mod sections;

use super::svg::{self, esc, Series};
use super::Report;
use crate::members::diagnose::{Diagnosis, GroupStats};
use sections::{campaigns, channels, model, pareto, rfm, tiers, tracks};

/// The id of every chart the page can hold, in page order (the model's only with a model).
pub const CHARTS: &[&str] = &[
    "tier-members",
    "tier-wool",
    "channel-wool-overall",
    "channel-wool",
    "channel-predicted",
    "campaign-wool",
    "rfm-members",
    "rfm-sales",
    "pareto",
    "segment-shares",
    "tracks",
    "model-roc",
    "model-pr",
    "model-calibration",
];

/// The charts that need a model.
pub const MODEL_CHARTS: &[&str] = &[
    "channel-predicted",
    "model-roc",
    "model-pr",
    "model-calibration",
];

const STYLE: &str = r#"
:root{--fg:#1d2430;--muted:#5b6573;--line:#d9dee5;--card:#fff;--bg:#f4f6f9;--accent:#0072B2;--warn:#b3261e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:20px 28px 8px}
h1{margin:0 0 4px;font-size:22px}
h2{margin:0 0 10px;font-size:17px}
h3{margin:0 0 6px;font-size:14px;color:var(--muted);font-weight:600}
.meta{color:var(--muted)}
main{padding:0 28px 28px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:14px 0}
.headline{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.kpi{border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.kpi .v{font-size:22px;font-weight:650}
.kpi .k{color:var(--muted);font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:18px}
figure{margin:0;flex:1 1 460px;min-width:0}
figure.wide{flex-basis:100%}
figure.third{flex-basis:300px}
figcaption{color:var(--muted);font-size:12px}
svg.chart{display:block;width:100%;height:auto;font-size:11px}
svg .ci{stroke:#1d2430;stroke-width:1.2;fill:none}
td.small{color:#9aa3ad}
.n{color:var(--muted);font-size:11px}
.unmeasurable{border-left:4px solid var(--warn);padding:6px 10px;margin:10px 0 0;background:#fbf3f2}
svg .grid{stroke:#eceff3}
svg .axis{stroke:#9aa3ad}
svg .marker{stroke:var(--warn);stroke-dasharray:3 3}
svg .tick{fill:var(--muted)}
svg .label{fill:var(--fg);font-weight:600}
svg .legend{fill:var(--fg)}
svg .cell{fill:#1d2430;font-size:10px}
svg .cell.dark{fill:#fff}
svg [data-tip]:hover{opacity:.8}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 10px;border-bottom:1px solid var(--line);text-align:right}
th:first-child,td:first-child{text-align:left}
.flags li{margin:4px 0}
.flag-warn{color:var(--warn);font-weight:600}
.note{color:var(--muted)}
#tip{position:fixed;pointer-events:none;background:#1d2430;color:#fff;padding:4px 8px;border-radius:4px;font-size:12px;display:none;z-index:9;max-width:360px}
#js-errors:empty{display:none}
#js-errors{color:var(--warn);white-space:pre-wrap}
"#;

/// Runs first: records any script error into `#js-errors` (created on demand).
const ERROR_CAPTURE: &str = r#"
(function(){
  function note(msg){
    var box=document.getElementById('js-errors');
    if(!box){box=document.createElement('pre');box.id='js-errors';(document.body||document.documentElement).appendChild(box);}
    box.textContent+=msg+'\n';
  }
  window.addEventListener('error',function(e){note('error: '+(e.message||e.type));});
  window.addEventListener('unhandledrejection',function(e){note('rejection: '+e.reason);});
})();
"#;

/// Tooltips for every `[data-tip]` mark, and a count of the charts drawn (read by the tests).
const TOOLTIP: &str = r#"
(function(){
  var tip=document.getElementById('tip');
  document.addEventListener('mousemove',function(e){
    var t=e.target&&e.target.closest?e.target.closest('[data-tip]'):null;
    if(!t||!t.getAttribute('data-tip')){tip.style.display='none';return;}
    tip.textContent=t.getAttribute('data-tip');
    tip.style.display='block';
    tip.style.left=Math.min(e.clientX+12,window.innerWidth-370)+'px';
    tip.style.top=(e.clientY+12)+'px';
  });
  document.body.setAttribute('data-charts-rendered',String(document.querySelectorAll('svg.chart').length));
})();
"#;

/// A moment as `2024-12-31 00:00 UTC`.
pub fn date_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn figure(out: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        out,
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        esc(caption)
    );
}

/// A figure across the whole width (long time axes, many groups).
fn wide_figure(out: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        out,
        r#"<figure class="wide">{svg}<figcaption>{}</figcaption></figure>"#,
        esc(caption)
    );
}

/// A small figure, three to a row.
fn third_figure(out: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        out,
        r#"<figure class="third">{svg}<figcaption>{}</figcaption></figure>"#,
        esc(caption)
    );
}

/// A table cell with a share over `n`: greyed with its count when `n` is under `min`.
fn share_cell(v: Option<f64>, n: usize, min: usize) -> String {
    match v {
        Some(v) if n < min => format!(
            r#"<td class="small" title="on {n}, fewer than {min}: too few to read as a fact">{} <span class="n">({n})</span></td>"#,
            svg::percent(v)
        ),
        v => format!("<td>{}</td>", opt_pct(v)),
    }
}

/// The wool share cell: the share, its Wilson 95% interval in the title, and the labelled
/// count; greyed under `min`; "not measurable" where wool cannot be measured.
fn wool_cell(g: &GroupStats, measurable: bool, min: usize) -> String {
    if !measurable {
        return r#"<td class="small" title="wool cannot be measured on this history">n/a</td>"#
            .to_string();
    }
    let Some(v) = g.wool_share else {
        return "<td>–</td>".to_string();
    };
    let ci = g.wool_interval.map_or_else(String::new, |[lo, hi]| {
        format!(" · 95% interval {}–{}", svg::percent(lo), svg::percent(hi))
    });
    let small = g.labelled < min;
    format!(
        r#"<td{} title="{} of {} labelled{ci}">{} <span class="n">({})</span></td>"#,
        if small { r#" class="small""# } else { "" },
        g.wool,
        g.labelled,
        svg::percent(v),
        g.labelled
    )
}

fn kpi(out: &mut String, value: &str, key: &str) {
    let _ = write!(
        out,
        r#"<div class="kpi"><div class="v">{}</div><div class="k">{}</div></div>"#,
        esc(value),
        esc(key)
    );
}

fn money(v: f64) -> String {
    svg::count(v)
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), svg::percent)
}

fn headline(out: &mut String, r: &Report) {
    let d = &r.diagnosis;
    let all = &d.overall;
    out.push_str(r#"<section id="headline"><h2>Headline</h2><div class="headline">"#);
    kpi(
        out,
        &svg::count(d.members as f64),
        "members joined before the date",
    );
    kpi(out, &money(all.sales), "sales before the date");
    match d.pareto.top_sales_share {
        Some(share) => kpi(
            out,
            &svg::percent(share),
            "of sales from the top 20% of members",
        ),
        None => kpi(out, "–", "no sales before the date"),
    }
    if d.wool_measurable {
        let ci = all.wool_interval.map_or_else(String::new, |[lo, hi]| {
            format!(" (95% interval {}–{})", svg::percent(lo), svg::percent(hi))
        });
        kpi(
            out,
            &opt_pct(all.wool_share),
            &format!(
                "wool share of {} labelled members{ci}",
                svg::count(all.labelled as f64)
            ),
        );
    } else {
        kpi(
            out,
            "not measurable",
            "wool cannot be measured on this history",
        );
    }
    if let Some(p) = all.predicted_wool_share {
        kpi(
            out,
            &svg::percent(p),
            "rejected by the model as of the date",
        );
    }
    if let Some(m) = r.model.as_ref().and_then(|m| m.metrics.as_ref()) {
        if d.wool_measurable && m.positives > 0 {
            for (point, what) in [(&m.reject, "rejects"), (&m.review, "rejects and reviews")] {
                let caught = (point.recall.unwrap_or(0.0) * m.positives as f64).round();
                kpi(
                    out,
                    &opt_pct(point.recall),
                    &format!(
                        "of the {} labelled wool caught by the model's {what} ({} of {} flagged), precision {}",
                        svg::count(m.positives as f64),
                        svg::count(caught),
                        svg::count(point.flagged as f64),
                        opt_pct(point.precision)
                    ),
                );
            }
        }
    }
    kpi(
        out,
        &opt_pct(all.first_purchase_rate),
        "first-purchase rate",
    );
    kpi(
        out,
        &opt_pct(all.repurchase_rate),
        "repurchase rate (of buyers)",
    );
    kpi(
        out,
        &all.average_order_value
            .map_or_else(|| "–".to_string(), |v| format!("{v:.2}")),
        "average order value",
    );
    if let Some(m) = r.model.as_ref().and_then(|m| m.metrics.as_ref()) {
        kpi(
            out,
            &m.roc_auc
                .map_or_else(|| "–".to_string(), |v| format!("{v:.3}")),
            "model ROC-AUC as of the date",
        );
    }
    kpi(out, &d.flags.len().to_string(), "diagnostic flags");
    out.push_str("</div>");
    if !d.wool_measurable {
        let _ = write!(
            out,
            r#"<p class="unmeasurable" id="wool-unmeasurable">{}. Wool shares and wool flags are left out; the other figures stand.</p>"#,
            esc(&d.wool_evidence.reason)
        );
    }
    out.push_str("</section>");
}

fn flags(out: &mut String, d: &Diagnosis) {
    out.push_str(r#"<section id="flags"><h2>Diagnostic flags</h2>"#);
    if d.flags.is_empty() {
        out.push_str(r#"<p class="note">No flag fired.</p>"#);
    } else {
        out.push_str(r#"<ul class="flags">"#);
        for f in &d.flags {
            let _ = write!(
                out,
                r#"<li><span class="flag-warn">{}</span> <code>{}</code>: {}</li>"#,
                esc(f.kind.name()),
                esc(&f.subject),
                esc(&f.message)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str(r#"<details><summary class="note">The rules</summary><ul>"#);
    for rule in &d.settings.rules {
        let _ = write!(out, "<li>{}</li>", esc(rule));
    }
    out.push_str("</ul></details></section>");
}

fn group_table(out: &mut String, title: &str, groups: &[GroupStats], d: &Diagnosis) {
    let with_model = d.model.is_some();
    let min = d.settings.quality.min_members;
    let _ = write!(
        out,
        "<table><thead><tr><th>{}</th><th>members</th><th>share</th><th>wool (labelled)</th>{}<th>first purchase</th><th>repurchase</th><th>purchase</th><th>points exchange</th><th>coupon use</th><th>avg order</th><th>sales share</th></tr></thead><tbody>",
        esc(title),
        if with_model { "<th>model rejects</th>" } else { "" }
    );
    for g in groups {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}",
            esc(&g.name),
            g.members,
            svg::percent(g.share),
            wool_cell(g, d.wool_measurable, min),
        );
        if with_model {
            out.push_str(&share_cell(g.predicted_wool_share, g.members, min));
        }
        for (rate, n) in g.activity_rates() {
            out.push_str(&share_cell(rate, n, min));
        }
        let _ = write!(
            out,
            "<td>{}</td><td>{}</td></tr>",
            g.average_order_value
                .map_or_else(|| "–".to_string(), |v| format!("{v:.2}")),
            svg::percent(g.sales_share)
        );
    }
    out.push_str("</tbody></table>");
}

/// Share series of groups: members, sales, labelled wool (with its interval, grey on too few
/// labelled members) and (with a model) rejected.
fn share_series(groups: &[GroupStats], d: &Diagnosis) -> Vec<Series> {
    let with_model = d.model.is_some();
    let min = d.settings.quality.min_members;
    let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    let mut s = vec![
        Series::new("share of members", groups.iter().map(|g| g.share).collect()),
        Series::new(
            "share of sales",
            groups.iter().map(|g| g.sales_share).collect(),
        ),
    ];
    // Where wool cannot be measured there is no wool series, not one of zeros.
    if d.wool_measurable {
        s.push(
            Series::new(
                "wool share",
                groups.iter().map(|g| nan(g.wool_share)).collect(),
            )
            .counts(groups.iter().map(|g| g.labelled).collect(), min)
            .intervals(groups.iter().map(|g| g.wool_interval).collect()),
        );
    }
    if with_model {
        s.push(
            Series::new(
                "model rejects",
                groups.iter().map(|g| nan(g.predicted_wool_share)).collect(),
            )
            .counts(groups.iter().map(|g| g.members).collect(), min),
        );
    }
    s
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = format!("woolguard report · {}", date_time(r.as_of));
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><script>{ERROR_CAPTURE}</script><style>{STYLE}</style></head><body>"#,
        esc(&title)
    );
    let _ = write!(
        out,
        r#"<header><h1>Member value report</h1><div class="meta">History <code>{}</code> as of {} · {} members · woolguard {}</div></header><main>"#,
        esc(&r.source),
        esc(&date_time(r.as_of)),
        r.diagnosis.members,
        env!("CARGO_PKG_VERSION")
    );
    headline(&mut out, r);
    flags(&mut out, &r.diagnosis);
    tiers(&mut out, &r.diagnosis);
    channels(&mut out, &r.diagnosis);
    campaigns(&mut out, &r.diagnosis);
    rfm(&mut out, &r.grid);
    pareto(&mut out, r);
    tracks(&mut out, &r.diagnosis);
    crate::report::gangs::render(&mut out, &r.gangs);
    if let Some(m) = &r.model {
        model(&mut out, m);
        crate::report::drift::render(&mut out, m);
    }
    let _ = write!(
        out,
        r#"</main><div id="tip"></div><script>{TOOLTIP}</script></body></html>"#
    );
    out
}
