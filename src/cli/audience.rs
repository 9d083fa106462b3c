//! `audience`: the members a selection keeps, less those a model rejects (or reviews), written
//! to a file, with a summary of what was removed and why.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::expr::select;
use woolguard::members::segment;
use woolguard::scoring::campaign::{self as audience, AudienceSummary, Count, Tally};
use woolguard::scoring::members::{MemberScorer, Standings};
use woolguard::scoring::{AudiencePolicy, DropLevel};

use super::data::MemberInputs;
use super::policy::PolicyArgs;
use super::progress::spinner;
use super::segment::ValueRules;
use super::time;

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("model", |a| a.help(
        "A member-time model artefact (e.g. models/default): adds decision, quality and \
         probability, and allows --drop and the score fields in --select"
    )),
    mut_arg("as_of", |a| a.help(time::as_of_help("The moment to build the audience at"))),
)]
pub struct Args {
    #[command(flatten)]
    pub inputs: MemberInputs,
    /// Which members to keep, e.g. "tier >= silver and segment in [champions, loyal]". Fields:
    /// tier, segment, cluster, channel, campaign, r, f, m, recency_days, frequency, monetary,
    /// the member's gang as of the date (gang_flagged 1 or 0 by the shipped flag rule,
    /// gang_size, gang_score), and with --model decision, quality, probability; and, or, not,
    /// (), in [a, b].
    #[arg(long)]
    pub select: Option<String>,
    /// Remove selected members whose verdict (lists, then the model) is reject (or review:
    /// review and reject), as `POST /v1/audiences/filter` does.
    #[arg(long, value_enum, requires = "model")]
    pub drop: Option<DropLevel>,
    /// Also remove selected members whose quality score (0 to 100) is below this.
    #[arg(long, requires = "model", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub min_quality: Option<u8>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Also write the removed members (member_id, removed_by, decision, reason) to this file.
    #[arg(long)]
    pub removed: Option<PathBuf>,
    /// Output file: `.csv` writes CSV, anything else Parquet.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub rules: ValueRules,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (tiers, rules) = args.rules.load()?;
    // The audience drops by the wool model's decisions.
    let (model, mut h, as_of) = args.inputs.load()?;
    // An audience never names a coupon or an order.
    h.forget_event_ids();
    let sp = spinner("segmenting");
    let s = segment::segment(&h, &tiers, &rules, as_of);
    sp.finish_and_clear();
    let vocab = audience::vocabulary(&h, &s, &tiers, model.is_some());
    // The error shows the selection with a caret under the column it names.
    let expr = match args.select.as_deref() {
        Some(text) => Some((
            text,
            select::parse(text, &vocab)
                .map_err(|e| anyhow::anyhow!("--select: {}", e.show(text)))?,
        )),
        None => None,
    };
    let policy = (args.drop.is_some() || args.min_quality.is_some()).then(|| AudiencePolicy {
        drop: args.drop.unwrap_or_default(),
        min_quality: args.min_quality,
    });
    let lists = args.policy.load()?;
    let scores = match &model {
        Some(a) => {
            let sp = spinner(&format!("scoring with {}", a.version));
            let standings = Standings::new(&h, &s, &tiers);
            let scorer = MemberScorer::new(&h, a, lists.judge(), as_of, Some(&standings));
            let sc = audience::score(&scorer, &s, policy.as_ref());
            sp.finish_and_clear();
            Some(sc?)
        }
        None => None,
    };
    let aud = audience::build(
        &h,
        &s,
        &tiers,
        expr.as_ref().map(|(t, e)| (*t, e)),
        scores,
        policy,
    )?;
    if let Some(path) = &args.removed {
        aud.write_removed(&h, &s, path)
            .with_context(|| format!("--removed {}", path.display()))?;
    }
    aud.write(&h, &s, &tiers, &args.out)
        .with_context(|| format!("--out {}", args.out.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&aud.summary)?)?;
    } else {
        print_summary(&mut out, &aud.summary, &args.out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole > 0 {
        100.0 * part as f64 / whole as f64
    } else {
        0.0
    }
}

fn print_counts(
    out: &mut impl Write,
    title: &str,
    counts: &[Count],
    whole: usize,
) -> std::io::Result<()> {
    writeln!(out, "{title}:")?;
    for c in counts {
        writeln!(
            out,
            "  {:<28} {:>9} {:>6.1}%",
            c.name,
            c.members,
            pct(c.members, whole)
        )?;
    }
    Ok(())
}

fn tally(t: &Tally) -> String {
    match t.wool_share {
        Some(share) => format!(
            "{} labelled of {}, {} wool ({:.1}%)",
            t.labelled,
            t.members,
            t.wool,
            100.0 * share
        ),
        None => format!("none labelled of {}", t.members),
    }
}

fn print_summary(
    out: &mut impl Write,
    s: &AudienceSummary,
    file: &std::path::Path,
) -> std::io::Result<()> {
    writeln!(
        out,
        "as of {}: {} members; {} selected; kept {} ({:.1}%), removed {}; written to {}",
        s.as_of,
        s.members,
        s.selected,
        s.kept,
        pct(s.kept, s.members),
        s.removed,
        file.display()
    )?;
    if let Some(v) = &s.model_version {
        let d: Vec<String> = s
            .decisions
            .iter()
            .map(|c| format!("{} {}", c.members, c.name))
            .collect();
        writeln!(out, "verdicts (lists, rules, model {v}): {}", d.join(", "))?;
    }
    print_counts(out, "removed by reason", &s.removed_by_reason, s.removed)?;
    if !s.removed_by_code.is_empty() {
        print_counts(
            out,
            "removed by the policy, by reason code",
            &s.removed_by_code,
            s.removed,
        )?;
    }
    print_counts(out, "removed by tier", &s.removed_by_tier, s.removed)?;
    print_counts(out, "removed by channel", &s.removed_by_channel, s.removed)?;
    let l = &s.labels;
    writeln!(out, "reviewed labels:")?;
    writeln!(out, "  removed               {}", tally(&l.removed))?;
    writeln!(
        out,
        "    by the selection    {}",
        tally(&l.removed_by_selection)
    )?;
    writeln!(
        out,
        "    by the policy       {}",
        tally(&l.removed_by_model)
    )?;
    writeln!(out, "  kept                  {}", tally(&l.kept))?;
    Ok(())
}
