//! The report's HTML: headline numbers, one section per topic, each chart an inline SVG from
//! [`super::svg`], inline CSS, and a short inline script that shows tooltips and records any
//! script error in the page (`#js-errors`), so that a headless browser test can read it back.
//! Nothing here computes a figure: it only lays out a [`Report`].

use std::fmt::Write;

use super::svg::{self, esc, Axes, Curve, Format, Frame, Marker, Series};
use super::{ModelSection, Report, RfmGrid};
use crate::members::diagnose::{self, Diagnosis, GroupStats};

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
        let _ = write!(
            out,
            "{}{}{}{}{}<td>{}</td><td>{}</td></tr>",
            share_cell(g.first_purchase_rate, g.first_purchase_eligible, min),
            share_cell(g.repurchase_rate, g.buyers, min),
            share_cell(g.purchase_rate, g.past_buyers, min),
            share_cell(g.exchange_rate, g.points_holders, min),
            share_cell(g.coupon_use_rate, g.coupon_claims, min),
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
        Series::new(
            "wool share",
            groups.iter().map(|g| nan(g.wool_share)).collect(),
        )
        .counts(groups.iter().map(|g| g.labelled).collect(), min)
        .intervals(groups.iter().map(|g| g.wool_interval).collect()),
    ];
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

fn tiers(out: &mut String, d: &Diagnosis) {
    let t = &d.by_tier;
    let names: Vec<String> = t.iter().map(|g| g.name.clone()).collect();
    let frame = Frame::default();
    out.push_str(r#"<section id="tiers"><h2>Tiers</h2><div class="charts">"#);
    figure(
        out,
        &svg::bars(
            "tier-members",
            "Members per tier",
            &frame,
            &names,
            &[Series::new(
                "members",
                t.iter().map(|g| g.members as f64).collect(),
            )],
            &Axes::new("tier", "members", Format::Count),
        ),
        "Members per tier as of the date, lowest tier first.",
    );
    figure(
        out,
        &svg::bars(
            "tier-wool",
            "Share of members, share of sales and wool share per tier",
            &frame,
            &names,
            &share_series(t, d),
            &Axes::new("tier", "share", Format::Percent),
        ),
        "Wool share: wool among the tier's labelled members. A tier with many members, few sales and a high wool share is where the wool party hides.",
    );
    out.push_str("</div>");
    group_table(out, "tier", t, d);
    out.push_str("</section>");
}

/// Channels drawn over time, largest first; the rest are in the table.
const MAX_CHANNEL_LINES: usize = 8;

fn channels(out: &mut String, d: &Diagnosis) {
    let with_model = d.model.is_some();
    let mut chans: Vec<&GroupStats> = d.by_channel.iter().collect();
    chans.sort_by(|a, b| b.members.cmp(&a.members).then(a.name.cmp(&b.name)));
    chans.truncate(MAX_CHANNEL_LINES);
    let mut periods: Vec<String> = Vec::new();
    for cp in &d.channel_wool_by_period {
        if !periods.contains(&cp.period_start) {
            periods.push(cp.period_start.clone());
        }
    }
    let min = d.settings.quality.min_members;
    type Pick<'a> = &'a dyn Fn(&diagnose::ChannelPeriod) -> (Option<f64>, usize);
    let series_of = |pick: Pick<'_>| -> Vec<Series> {
        chans
            .iter()
            .map(|c| {
                let cells: Vec<(Option<f64>, usize)> = periods
                    .iter()
                    .map(|p| {
                        d.channel_wool_by_period
                            .iter()
                            .find(|cp| cp.channel == c.name && &cp.period_start == p)
                            .map_or((None, 0), pick)
                    })
                    .collect();
                Series::new(
                    &c.name,
                    cells.iter().map(|c| c.0.unwrap_or(f64::NAN)).collect(),
                )
                .counts(cells.iter().map(|c| c.1).collect(), min)
            })
            .collect()
    };
    let frame = Frame {
        width: 1140.0,
        height: 320.0,
        top: 40.0,
        ..Frame::default()
    };
    out.push_str(r#"<section id="channels"><h2>Recruitment channels</h2><div class="charts">"#);
    wool_bars(
        out,
        "channel-wool-overall",
        "Wool share per channel, all join periods",
        "channel",
        &d.by_channel,
        d,
    );
    wide_figure(
        out,
        &svg::lines(
            "channel-wool",
            "Wool share by channel and join period",
            &frame,
            &periods,
            &series_of(&|cp| (cp.wool_share, cp.labelled)),
            &Axes::new("join period", "wool share", Format::Percent),
        ),
        &format!(
            "Wool among each channel's labelled members, by the period they joined; recent periods have no labels until the label rule's outcome window closes. A hollow grey ring off the line: fewer than {min} labelled members that period (the count is in its tip).",
        ),
    );
    if with_model {
        wide_figure(
            out,
            &svg::lines(
                "channel-predicted",
                "Share rejected by the model, by channel and join period",
                &frame,
                &periods,
                &series_of(&|cp| (cp.predicted_wool_share, cp.members)),
                &Axes::new("join period", "rejected", Format::Percent),
            ),
            "The model's reject decisions as of the date: they cover recent periods the labels cannot yet.",
        );
    }
    out.push_str("</div>");
    group_table(out, "channel", &d.by_channel, d);
    out.push_str("</section>");
}

/// Groups in a wool-share bar chart at most; the rest are in the table.
const MAX_BARS: usize = 12;

/// Wool share per group with its Wilson 95% interval, grey where fewer than the minimum are
/// labelled; the largest `MAX_BARS` groups by members, in their given order.
fn wool_bars(
    out: &mut String,
    id: &str,
    title: &str,
    what: &str,
    groups: &[GroupStats],
    d: &Diagnosis,
) {
    let min = d.settings.quality.min_members;
    let mut shown: Vec<&GroupStats> = groups.iter().collect();
    shown.sort_by(|a, b| b.members.cmp(&a.members).then(a.name.cmp(&b.name)));
    shown.truncate(MAX_BARS);
    shown.sort_by_key(|g| groups.iter().position(|x| x.name == g.name));
    let series = Series::new(
        "wool share",
        shown
            .iter()
            .map(|g| g.wool_share.unwrap_or(f64::NAN))
            .collect(),
    )
    .counts(shown.iter().map(|g| g.labelled).collect(), min)
    .intervals(shown.iter().map(|g| g.wool_interval).collect());
    let names: Vec<String> = shown.iter().map(|g| g.name.clone()).collect();
    let caption = if d.wool_measurable {
        format!(
            "Wool among each {what}'s labelled members, with its Wilson 95% interval; a grey bar rests on fewer than {min} labelled members (the count is in its tip and in the table).{}",
            if groups.len() > shown.len() {
                format!(" The {} largest of {} by members.", shown.len(), groups.len())
            } else {
                String::new()
            }
        )
    } else {
        "Wool cannot be measured on this history: no bars.".to_string()
    };
    wide_figure(
        out,
        &svg::bars(
            id,
            title,
            &Frame {
                width: 1140.0,
                ..Frame::default()
            },
            &names,
            &[series],
            &Axes::new(what, "wool share", Format::Percent),
        ),
        &caption,
    );
}

/// Campaigns side by side: size, wool share with counts and interval, first-purchase and
/// repurchase rates, share of sales, and the wool flags that fired on each.
fn campaigns(out: &mut String, d: &Diagnosis) {
    let min = d.settings.quality.min_members;
    out.push_str(r#"<section id="campaigns"><h2>Campaigns</h2><div class="charts">"#);
    wool_bars(
        out,
        "campaign-wool",
        "Wool share per campaign",
        "campaign",
        &d.by_campaign,
        d,
    );
    out.push_str("</div>");
    let flagged: Vec<&diagnose::Flag> = d
        .flags
        .iter()
        .filter(|f| f.subject.starts_with("campaign:"))
        .collect();
    out.push_str(r#"<table id="campaign-table"><thead><tr><th>campaign</th><th>members</th><th>share</th><th>wool (labelled)</th><th>first purchase</th><th>repurchase</th><th>sales share</th><th>flags</th></tr></thead><tbody>"#);
    for g in &d.by_campaign {
        let subject = format!("campaign:{}", g.name);
        let mine: Vec<&&diagnose::Flag> = flagged.iter().filter(|f| f.subject == subject).collect();
        let flag_cell = mine
            .iter()
            .map(|f| {
                format!(
                    r#"<span class="flag-warn" title="{}">{}</span>"#,
                    esc(&f.message),
                    esc(f.kind.name())
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            out,
            r#"<tr data-campaign="{}"><td>{}</td><td>{}</td><td>{}</td>{}{}{}<td>{}</td><td>{}</td></tr>"#,
            esc(&g.name),
            esc(&g.name),
            g.members,
            svg::percent(g.share),
            wool_cell(g, d.wool_measurable, min),
            share_cell(g.first_purchase_rate, g.first_purchase_eligible, min),
            share_cell(g.repurchase_rate, g.buyers, min),
            svg::percent(g.sales_share),
            flag_cell
        );
    }
    out.push_str("</tbody></table>");
    if flagged.is_empty() {
        out.push_str(r#"<p class="note">No campaign flag fired.</p>"#);
    } else {
        out.push_str(r#"<ul class="flags">"#);
        for f in flagged {
            let _ = write!(
                out,
                r#"<li><span class="flag-warn">{}</span> {}</li>"#,
                esc(f.kind.name()),
                esc(&f.message)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

fn tracks(out: &mut String, d: &Diagnosis) {
    let t = &d.tracks;
    let periods: Vec<String> = t.iter().map(|r| r.period_start.clone()).collect();
    let open: Vec<&str> = t
        .iter()
        .filter(|r| !r.first_purchase_complete)
        .map(|r| r.period_start.as_str())
        .collect();
    let frame = Frame {
        width: 1140.0,
        height: 320.0,
        top: 40.0,
        ..Frame::default()
    };
    out.push_str(r#"<section id="tracks-section"><h2>The four tracks</h2><div class="charts">"#);
    wide_figure(
        out,
        &svg::lines(
            "tracks",
            "Recruitment, first purchase, repurchase and propagation per period",
            &frame,
            &periods,
            &[
                Series::new("recruitment", t.iter().map(|r| r.new_members as f64).collect()),
                Series::new("first purchase", t.iter().map(|r| r.first_purchase as f64).collect()),
                Series::new("repurchase", t.iter().map(|r| r.repurchase as f64).collect()),
                Series::new("propagation", t.iter().map(|r| r.propagation as f64).collect()),
            ],
            &Axes::new(d.settings.period.name(), "members", Format::Count),
        ),
        &format!(
            "Recruitment: members who joined in the period; first purchase: of them, those who bought within {} days; repurchase: members who placed a second or later order in the period; propagation: invited new members who have bought.{}",
            d.settings.first_purchase_days,
            if open.is_empty() {
                String::new()
            } else {
                format!(
                    " First purchase can still grow for the periods from {} on.",
                    open[0]
                )
            }
        ),
    );
    out.push_str("</div></section>");
}

fn rfm(out: &mut String, g: &RfmGrid) {
    let rows: Vec<String> = (1..=5).rev().map(|r| format!("R{r}")).collect();
    let cols: Vec<String> = (1..=5).map(|f| format!("FM{f}")).collect();
    // Highest recency on top, as RFM grids are usually read.
    let order: Vec<usize> = (0..5).rev().collect();
    let total_members: usize = g.members.iter().flatten().sum();
    let total_sales: f64 = g.sales.iter().flatten().sum();
    let share = |v: f64, total: f64| if total > 0.0 { v / total } else { 0.0 };
    let tips: Vec<Vec<String>> = order
        .iter()
        .map(|&r| {
            (0..5)
                .map(|f| {
                    format!(
                        "R{} FM{} · {}: {} members, sales {:.2}",
                        r + 1,
                        f + 1,
                        g.segments[r][f],
                        g.members[r][f],
                        g.sales[r][f]
                    )
                })
                .collect()
        })
        .collect();
    let frame = Frame {
        left: 44.0,
        ..Frame::with_plot(510.0, 260.0)
    };
    let axes = Axes::new(
        "FM score (frequency and monetary)",
        "R score (recency)",
        Format::Count,
    );
    out.push_str(r#"<section id="rfm"><h2>RFM grid</h2><div class="charts">"#);
    figure(
        out,
        &svg::heat_map(
            "rfm-members",
            "Members per RFM cell",
            &frame,
            &rows,
            &cols,
            &order
                .iter()
                .map(|&r| g.members[r].iter().map(|&v| v as f64).collect())
                .collect::<Vec<_>>(),
            &order
                .iter()
                .map(|&r| {
                    (0..5)
                        .map(|f| {
                            format!(
                                "{}\n{}",
                                svg::count(g.members[r][f] as f64),
                                g.segments[r][f].name().replace('_', " ")
                            )
                        })
                        .collect()
                })
                .collect::<Vec<_>>(),
            &tips,
            &axes,
        ),
        &format!(
            "Members per cell (R 5 = bought most recently), with the cell's segment; {} members without orders are outside the grid.",
            g.no_orders
        ),
    );
    figure(
        out,
        &svg::heat_map(
            "rfm-sales",
            "Share of sales per RFM cell",
            &frame,
            &rows,
            &cols,
            &order
                .iter()
                .map(|&r| g.sales[r].to_vec())
                .collect::<Vec<_>>(),
            &order
                .iter()
                .map(|&r| {
                    (0..5)
                        .map(|f| svg::percent(share(g.sales[r][f], total_sales)))
                        .collect()
                })
                .collect::<Vec<_>>(),
            &tips,
            &axes,
        ),
        &format!(
            "Share of sales per cell ({} members with orders).",
            total_members
        ),
    );
    out.push_str("</div></section>");
}

fn pareto(out: &mut String, r: &Report) {
    out.push_str(
        r#"<section id="pareto-section"><h2>Pareto: who brings the sales</h2><div class="charts">"#,
    );
    let p = &r.diagnosis.pareto;
    let at20 = p
        .top_sales_share
        .map_or_else(|| "no sales".to_string(), svg::percent);
    figure(
        out,
        &svg::curves(
            "pareto",
            "Cumulative share of sales against share of members",
            &Frame::default(),
            &[
                Curve::new("members ranked by sales", r.pareto.clone()),
                Curve::new("equal shares", vec![(0.0, 0.0), (1.0, 1.0)]).dashed(),
            ],
            (0.0, 1.0),
            Format::Percent,
            &Axes::new("share of members (highest sales first)", "share of sales", Format::Percent),
            &[Marker {
                x: 0.2,
                label: format!("top 20%: {at20} of sales"),
            }],
        ),
        "Members ranked by sales before the date, highest first; the 20/80 rule puts the curve near 80% at the 20% mark.",
    );
    let segs = &r.diagnosis.by_segment;
    figure(
        out,
        &svg::bars(
            "segment-shares",
            "Share of members and of sales per RFM segment",
            &Frame {
                bottom: 70.0,
                ..Frame::default()
            },
            &segs
                .iter()
                .map(|g| g.name.replace('_', " "))
                .collect::<Vec<_>>(),
            &share_series(segs, &r.diagnosis),
            &Axes::new("", "share", Format::Percent),
        ),
        "RFM segments in their fixed order, then members without orders.",
    );
    out.push_str("</div>");
    group_table(out, "segment", segs, &r.diagnosis);
    out.push_str("</section>");
}

fn model(out: &mut String, m: &ModelSection) {
    let _ = write!(
        out,
        r#"<section id="model"><h2>Model {} ({} target)</h2>"#,
        esc(&m.version),
        esc(m.target)
    );
    let Some(metrics) = &m.metrics else {
        out.push_str(r#"<p class="note">No member has a label as of the date (the label rule's outcome window has not closed for anyone, and nobody was reviewed): no curves.</p></section>"#);
        return;
    };
    let opt = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"));
    let _ = write!(
        out,
        r#"<p class="meta">{} labelled members as of the date, {} positive · ROC-AUC {} · PR-AUC {} · lift at 5% {} · ECE {} · review ≥ {:.3} (precision {}, recall {}) · reject ≥ {:.3} (precision {}, recall {})</p><div class="charts">"#,
        metrics.members,
        metrics.positives,
        opt(metrics.roc_auc),
        opt(metrics.pr_auc),
        opt(metrics.lift_5),
        opt(metrics.ece),
        m.review_threshold,
        opt(metrics.review.precision),
        opt(metrics.review.recall),
        m.reject_threshold,
        opt(metrics.reject.precision),
        opt(metrics.reject.recall),
    );
    let small = Frame::with_plot(300.0, 260.0);
    third_figure(
        out,
        &svg::curves(
            "model-roc",
            "ROC curve",
            &small,
            &[
                Curve::new(
                    &format!("ROC (AUC {})", opt(metrics.roc_auc)),
                    m.roc.clone(),
                ),
                Curve::new("chance", vec![(0.0, 0.0), (1.0, 1.0)]).dashed(),
            ],
            (0.0, 1.0),
            Format::Percent,
            &Axes::new("false-positive rate", "true-positive rate", Format::Percent),
            &[],
        ),
        "True-positive against false-positive rate over every threshold.",
    );
    let base = metrics.positives as f64 / metrics.members.max(1) as f64;
    third_figure(
        out,
        &svg::curves(
            "model-pr",
            "Precision–recall curve",
            &small,
            &[
                Curve::new(&format!("PR (AP {})", opt(metrics.pr_auc)), m.pr.clone()),
                Curve::new("base rate", vec![(0.0, base), (1.0, base)]).dashed(),
            ],
            (0.0, 1.0),
            Format::Percent,
            &Axes::new("recall", "precision", Format::Percent),
            &[],
        ),
        "Precision against recall; the dashed line is the positive rate.",
    );
    let points: Vec<(f64, f64)> = m
        .reliability
        .iter()
        .map(|b| (b.mean_probability, b.observed_rate))
        .collect();
    third_figure(
        out,
        &svg::curves(
            "model-calibration",
            "Reliability curve",
            &small,
            &[
                Curve::new("observed rate per bin", points).dots(),
                Curve::new("perfect calibration", vec![(0.0, 0.0), (1.0, 1.0)]).dashed(),
            ],
            (0.0, 1.0),
            Format::Percent,
            &Axes::new(
                "mean predicted probability",
                "observed rate",
                Format::Percent,
            ),
            &[],
        ),
        &format!(
            "Ten equal-width probability bins; members per bin: {}.",
            m.reliability
                .iter()
                .map(|b| b.members.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    out.push_str("</div></section>");
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
    if let Some(m) = &r.model {
        model(&mut out, m);
    }
    let _ = write!(
        out,
        r#"</main><div id="tip"></div><script>{TOOLTIP}</script></body></html>"#
    );
    out
}
