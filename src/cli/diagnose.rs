//! `diagnose`: tiers, channels, campaigns and RFM segments side by side, the four tracks per
//! period, channel wool per period, and the flags (a middle tier behaving worst of all, a wool
//! share that jumps), as text tables or as JSON.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::members::diagnose::{self, Diagnosis, GroupStats, Predicted};
use woolguard::members::segment;
use woolguard::scoring::members::{MemberScorer, Standings};

use super::data::MemberInputs;
use super::policy::PolicyArgs;
use super::segment::ValueRules;
use super::time;

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("model", |a| a.help(
        "A model artefact (e.g. models/default): adds the predicted wool share (decision \
         reject) of every group as of the moment"
    )),
    mut_arg("as_of", |a| a.help(time::as_of_help("The moment to diagnose at"))),
)]
pub struct Args {
    #[command(flatten)]
    pub inputs: MemberInputs,
    /// Diagnostic rules and flag thresholds (e.g. training/diagnose.toml); built-in defaults
    /// when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub rules: ValueRules,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Print the whole diagnosis as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rules = diagnose::load(args.config.as_deref())?;
    let (tiers, rfm_rules) = args.rules.load()?;
    let (model, history, as_of) = args.inputs.load()?;
    let seg = segment::segment(&history, &tiers, &rfm_rules, as_of);
    let policy = args.policy.load()?;
    let rejects = match &model {
        Some(a) => {
            let standings = Standings::new(&history, &seg, &tiers);
            Some(
                MemberScorer::new(&history, a, policy.judge(), as_of, Some(&standings))
                    .rejects()?,
            )
        }
        None => None,
    };
    let predicted = model
        .as_ref()
        .zip(rejects.as_deref())
        .map(|(a, r)| Predicted {
            version: &a.version,
            rejects: r,
        });
    let d = diagnose::diagnose_segmented(&history, &rules, &tiers, &seg, predicted)
        .with_context(|| format!("diagnosing {}", args.inputs.data.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
    } else {
        print(&mut out, &d)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", 100.0 * v))
}

/// A share over `n`, in brackets when `n` is under the minimum (`quality.min_members`).
fn pct_n(x: Option<f64>, n: usize, min: usize) -> String {
    match x {
        Some(_) if n < min => format!("[{}]", pct(x)),
        _ => pct(x),
    }
}

/// Names are written whole (a campaign copied from here must work in `audience --select`); the
/// name column is as wide as the longest, at least 20.
fn name_width(d: &Diagnosis) -> usize {
    let groups = [&d.by_tier, &d.by_channel, &d.by_campaign, &d.by_segment];
    groups
        .into_iter()
        .flatten()
        .map(|g| g.name.chars().count())
        .fold(20, usize::max)
}

fn print_groups(
    out: &mut impl Write,
    title: &str,
    groups: &[GroupStats],
    width: usize,
    min: usize,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{title:<w$} {:>8} {:>6} {:>8} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "members",
        "share",
        "labelled",
        "wool",
        "pred",
        "1st",
        "rep",
        "buy",
        "exch",
        "c.use",
        "aov",
        "sales",
        w = width + 2
    )?;
    for g in groups {
        // Under the headings 1st, rep, buy, exch and c.use.
        let rates: String = g
            .activity_rates()
            .into_iter()
            .zip([6, 8, 8, 8, 8])
            .map(|((rate, n), w)| format!(" {:>w$}", pct_n(rate, n, min)))
            .collect();
        writeln!(
            out,
            "  {:<width$} {:>8} {:>6} {:>8} {:>8} {:>6}{rates} {:>8} {:>6}",
            g.name,
            g.members,
            pct(Some(g.share)),
            g.labelled,
            pct_n(g.wool_share, g.labelled, min),
            pct(g.predicted_wool_share),
            g.average_order_value
                .map_or_else(|| "-".to_string(), |v| format!("{v:.2}")),
            pct(Some(g.sales_share)),
        )?;
    }
    Ok(())
}

fn print(out: &mut impl Write, d: &Diagnosis) -> std::io::Result<()> {
    let s = &d.settings;
    writeln!(
        out,
        "as of {}: {} members{}",
        d.as_of,
        d.members,
        d.model
            .as_ref()
            .map_or_else(String::new, |m| format!(", predicted wool by model {m}"))
    )?;
    writeln!(
        out,
        "wool = labelled wool share (reviews, else the {}-day outcome rule); pred = share the model \
         rejects; 1st = bought within {} days of joining; rep = buyers with 2+ orders; over the \
         last {} days: buy = past buyers who bought again, exch = members holding {}+ points who \
         swapped points for a coupon, c.use = coupons claimed that were redeemed; sales = share \
         of sales",
        s.label.window_days, s.first_purchase_days, s.activity_days, s.exchange_points
    )?;
    let min = s.quality.min_members;
    writeln!(
        out,
        "[bracketed] rates rest on fewer than {min} members (labelled, eligible, buyers, past \
         buyers, points holders) or coupons: too few to read as a fact"
    )?;
    writeln!(out, "{}", d.wool_evidence.reason)?;
    let w = name_width(d);
    print_groups(out, "overall", std::slice::from_ref(&d.overall), w, min)?;
    print_groups(out, "tier", &d.by_tier, w, min)?;
    print_groups(out, "channel", &d.by_channel, w, min)?;
    print_groups(out, "campaign", &d.by_campaign, w, min)?;
    print_groups(out, "segment", &d.by_segment, w, min)?;
    let p = &d.pareto;
    match p.top_sales_share {
        Some(share) => writeln!(
            out,
            "pareto: the top 20% of members by spend ({}) bring {:.1}% of sales ({:.2} of {:.2})",
            p.top_members,
            100.0 * share,
            p.top_sales,
            p.sales
        )?,
        None => writeln!(out, "pareto: no sales before the as-of moment")?,
    }
    writeln!(
        out,
        "tracks per {:<8} {:>9} {:>14} {:>11} {:>12}",
        s.period.name(),
        "recruited",
        "first purchase",
        "repurchase",
        "propagation"
    )?;
    for t in &d.tracks {
        writeln!(
            out,
            "  {:<19} {:>9} {:>13}{} {:>11} {:>12}",
            t.period_start,
            t.new_members,
            t.first_purchase,
            if t.first_purchase_complete { " " } else { "*" },
            t.repurchase,
            t.propagation
        )?;
    }
    writeln!(
        out,
        "  (* first-purchase window still open at the as-of moment)"
    )?;
    print_channel_periods(out, d)?;
    writeln!(out, "flag rules:")?;
    for r in &s.rules {
        writeln!(out, "  - {r}")?;
    }
    if d.flags.is_empty() {
        writeln!(out, "flags: none")?;
    } else {
        writeln!(out, "flags:")?;
        for f in &d.flags {
            writeln!(out, "  [{}] {}", f.kind.name(), f.message)?;
        }
    }
    Ok(())
}

/// Channels as columns, periods as rows: the labelled wool share (labelled members).
fn print_channel_periods(out: &mut impl Write, d: &Diagnosis) -> std::io::Result<()> {
    let min = d.settings.quality.min_members;
    let channels: Vec<&str> = d.by_channel.iter().map(|g| g.name.as_str()).collect();
    write!(
        out,
        "wool share by channel per {:<6}",
        d.settings.period.name()
    )?;
    let w = channels
        .iter()
        .map(|c| c.chars().count())
        .fold(15, usize::max);
    for c in &channels {
        write!(out, " {c:>w$}")?;
    }
    writeln!(out)?;
    for t in &d.tracks {
        write!(out, "  {:<30}", t.period_start)?;
        for c in &channels {
            let cell = d
                .channel_wool_by_period
                .iter()
                .find(|r| r.channel == *c && r.period_start == t.period_start);
            let text = cell.map_or_else(String::new, |r| {
                format!("{} ({})", pct_n(r.wool_share, r.labelled, min), r.labelled)
            });
            write!(out, " {text:>w$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
