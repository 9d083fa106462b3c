//! The page's sections after the headline and the flags: tiers, channels, campaigns, the RFM grid,
//! the Pareto curve, the four tracks and the model. Each lays out figures of the [`Report`]; none
//! computes one.

use std::fmt::Write;

use super::{figure, group_table, share_cell, share_series, third_figure, wide_figure, wool_cell};
use crate::members::diagnose::{self, Diagnosis, GroupStats};
use crate::report::svg::{self, esc, Axes, Curve, Format, Frame, Marker, Series};
use crate::report::{ModelSection, Report, RfmGrid};

pub(super) fn tiers(out: &mut String, d: &Diagnosis) {
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

pub(super) fn channels(out: &mut String, d: &Diagnosis) {
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
pub(super) fn campaigns(out: &mut String, d: &Diagnosis) {
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

pub(super) fn tracks(out: &mut String, d: &Diagnosis) {
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

pub(super) fn rfm(out: &mut String, g: &RfmGrid) {
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

pub(super) fn pareto(out: &mut String, r: &Report) {
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

pub(super) fn model(out: &mut String, m: &ModelSection) {
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
    out.push_str("</div>");
    model_tradeoff(out, m);
    model_importance(out, m);
    out.push_str("</section>");
}

/// The trade-off table: each cut-off, what flagging every member at or above it would do.
fn model_tradeoff(out: &mut String, m: &ModelSection) {
    if m.tradeoff.is_empty() {
        return;
    }
    let pct = |v: Option<f64>| v.map_or_else(|| "–".to_string(), svg::percent);
    let truth = m.tradeoff_truth.as_deref();
    let _ = write!(
        out,
        r#"<h3>Thresholds: what each cut-off would do</h3><table id="model-tradeoff"><thead><tr><th>cut-off</th><th>flagged per 10,000</th><th>wool caught</th><th>precision</th>{}<th></th></tr></thead><tbody>"#,
        if truth.is_some() {
            "<th>wool caught (truth)</th><th>precision (truth)</th>"
        } else {
            ""
        }
    );
    for (i, c) in m.tradeoff.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{:.3}</td><td>{:.0}</td><td>{}</td><td>{}</td>",
            c.threshold,
            c.per_10k,
            pct(c.caught),
            pct(c.precision)
        );
        if let Some(t) = truth {
            let r = t.get(i);
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td>",
                pct(r.and_then(|r| r.caught)),
                pct(r.and_then(|r| r.precision))
            );
        }
        let _ = write!(
            out,
            "<td>{}</td></tr>",
            c.current.map_or(String::new(), |k| format!(
                "the model's {} threshold",
                k.name()
            ))
        );
    }
    out.push_str(r#"</tbody></table><p class="note">Members at or above each cut-off of the calibrated probability, per 10,000 labelled members as of the date; the share of the labelled wool among them and the precision."#);
    if truth.is_some() {
        out.push_str(" The truth columns use the generator's truth instead of the labels.");
    }
    out.push_str("</p>");
}

/// The features the trees lean on: share of split gain, and mean |path attribution|.
fn model_importance(out: &mut String, m: &ModelSection) {
    let Some(imp) = &m.importance else {
        return;
    };
    let _ = write!(
        out,
        r#"<h3>Feature importance</h3><table id="model-importance"><thead><tr><th>feature</th><th>share of split gain</th><th>mean |attribution| (log-odds)</th></tr></thead><tbody>"#
    );
    for f in imp.features.iter().take(IMPORTANCE_ROWS) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.4}</td></tr>",
            esc(&f.feature),
            f.gain_share.map_or_else(|| "–".to_string(), svg::percent),
            f.mean_abs_attribution
        );
    }
    let _ = write!(
        out,
        r#"</tbody></table><p class="note">The {} features with the most split gain in training, of {}; mean |path attribution| over the {} members above (what moves their scores).</p>"#,
        IMPORTANCE_ROWS.min(imp.features.len()),
        imp.features.len(),
        imp.rows
    );
}

/// Features the report's importance table lists.
const IMPORTANCE_ROWS: usize = 15;
