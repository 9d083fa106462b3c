//! `gangs`: the gangs of a history as of a moment (stats, score, flag and reason) written to a
//! file, member → gang to another, a summary (against the truth of a generated history where it
//! has one), and one gang drawn as SVG.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use woolguard::data::History;
use woolguard::gangs::eval::{against_truth, TruthFigures};
use woolguard::gangs::{self, FoundBy, Gang, GangParams, GangSet, MemberScores, Options};
use woolguard::generate::{read_truth, TRUTH_FILE};
use woolguard::model::artefact::Artefact;
use woolguard::model::slot;
use woolguard::report::gangs::gang_svg;
use woolguard::scoring::members::MemberScorer;
use woolguard::scoring::Judge;

use super::data::load_history;
use super::progress::spinner;
use super::time::{self, flag_time};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// History folder.
    #[arg(long)]
    pub data: PathBuf,
    /// A member-time model artefact (e.g. models/default): adds each gang's mean probability and
    /// rejects, and colours a drawing by decision.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, value_parser = flag_time, help = time::as_of_help("The moment the gangs are taken at"))]
    pub as_of: Option<i64>,
    /// The flag rule and settings (TOML, as training/gangs.toml); the shipped defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The smallest group listed as a gang (overrides the config's `min_size`).
    #[arg(long)]
    pub min_size: Option<u32>,
    /// Leave out the dense-subgraph peel of busy keys' crowds.
    #[arg(long)]
    pub no_peel: bool,
    /// Write one row a gang here: `.csv` writes CSV, anything else Parquet.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write member_id → gang_id (and whether the gang is flagged) here.
    #[arg(long)]
    pub members: Option<PathBuf>,
    /// One gang, by id (`g-` and the member id of its first account): printed, or drawn with
    /// --svg.
    #[arg(long)]
    pub gang: Option<String>,
    /// Draw --gang as a self-contained SVG file.
    #[arg(long, requires = "gang")]
    pub svg: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `woolguard gangs` prints.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    as_of: String,
    members: usize,
    gangs: usize,
    peeled: usize,
    flagged: usize,
    flagged_accounts: usize,
    rule: &'a str,
    min_size: u32,
    model_version: Option<&'a str>,
    seconds: f64,
    truth: Option<TruthFigures>,
    top: Vec<&'a Gang>,
}

fn member_scores(h: &History, a: &Artefact, as_of: i64) -> anyhow::Result<MemberScores> {
    let scorer = MemberScorer::new(h, a, Judge::model_only(), as_of, None);
    let members = scorer.members();
    let verdicts = scorer.audience_verdicts(&members, None)?;
    let n = h.members.len();
    let mut s = MemberScores {
        version: a.version.clone(),
        probability: vec![f64::NAN; n],
        decision: vec![None; n],
    };
    for (&m, v) in members.iter().zip(&verdicts) {
        s.probability[m as usize] = v.probability;
        s.decision[m as usize] = Some(v.decision);
    }
    Ok(s)
}

/// The gangs config at `path` (the shipped defaults without one), not yet checked; `flag` names
/// the option in errors.
pub(super) fn read_params(path: Option<&Path>, flag: &str) -> anyhow::Result<GangParams> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{flag} {}", path.display()))?;
            Ok(GangParams::from_toml(&text)
                .with_context(|| format!("{flag} {}", path.display()))?)
        }
        None => Ok(GangParams::default()),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut params = read_params(args.config.as_deref(), "--config")?;
    if let Some(n) = args.min_size {
        params.min_size = n;
    }
    let what = args.config.as_ref().map_or_else(
        || "the gangs config".to_string(),
        |p| p.display().to_string(),
    );
    let rule = params.check().with_context(|| what.clone())?;
    let model = args
        .model
        .as_deref()
        .map(|p| slot::load_for(p, slot::MEMBER))
        .transpose()?;
    let h = load_history(&args.data)?;
    let as_of = time::as_of(args.as_of, &h);
    let scores = match &model {
        Some(a) => {
            let sp = spinner(&format!("scoring with {}", a.version));
            let s = member_scores(&h, a, as_of);
            sp.finish_and_clear();
            Some(s?)
        }
        None => None,
    };
    let sp = spinner("finding gangs");
    let started = Instant::now();
    let options = Options {
        peel: !args.no_peel,
        ..Options::default()
    };
    let set = gangs::find(&h, as_of, &rule, scores.as_ref(), options);
    let seconds = started.elapsed().as_secs_f64();
    sp.finish_and_clear();
    tracing::info!(gangs = set.gangs.len(), seconds, "gangs found");
    if let Some(id) = &args.gang {
        let g = set.get(id)?;
        if let Some(path) = &args.svg {
            let svg = gang_svg(&h, &set, g, scores.as_ref());
            std::fs::write(path, svg).with_context(|| format!("--svg {}", path.display()))?;
            println!("{}: {} accounts drawn → {}", g.id, g.size, path.display());
        } else {
            print_gang(&mut std::io::stdout().lock(), &h, g, args.json)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.out {
        set.write(path)
            .with_context(|| format!("--out {}", path.display()))?;
    }
    if let Some(path) = &args.members {
        set.write_members(&h, path)
            .with_context(|| format!("--members {}", path.display()))?;
    }
    let truth = match args.data.join(TRUTH_FILE).exists() {
        true => Some(against_truth(&h, &set, &read_truth(&args.data)?)),
        false => None,
    };
    let (flagged, flagged_accounts) = set.flagged();
    let summary = Summary {
        as_of: time::show(as_of),
        members: set.members,
        gangs: set.gangs.len(),
        peeled: set
            .gangs
            .iter()
            .filter(|g| g.found_by == FoundBy::Peel)
            .count(),
        flagged,
        flagged_accounts,
        rule: &rule.flag,
        min_size: rule.min_size,
        model_version: model.as_ref().map(|a| a.version.as_str()),
        seconds,
        truth,
        top: set.gangs.iter().take(10).collect(),
    };
    let mut w = std::io::stdout().lock();
    if args.json {
        writeln!(w, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        print_summary(&mut w, &summary, &set, args.out.as_deref())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", 100.0 * v))
}

fn print_gang(w: &mut impl Write, h: &History, g: &Gang, json: bool) -> anyhow::Result<()> {
    if json {
        writeln!(w, "{}", serde_json::to_string_pretty(g)?)?;
        return Ok(());
    }
    writeln!(
        w,
        "{} ({}): {} accounts, score {:.2}, {}",
        g.id,
        g.found_by.name(),
        g.size,
        g.score,
        if g.flagged { "flagged" } else { "not flagged" }
    )?;
    writeln!(w, "  {}", g.reason)?;
    writeln!(
        w,
        "  joined {} to {}",
        time::show(g.first_at),
        time::show(g.last_at)
    )?;
    for (what, keys) in [
        ("devices", &g.devices),
        ("phones", &g.phones),
        ("IP ranges", &g.ip_ranges),
        ("inviters", &g.inviters),
    ] {
        let shown: Vec<String> = keys
            .iter()
            .take(8)
            .map(|k| format!("{} ×{}", k.key, k.accounts))
            .collect();
        writeln!(w, "  {what} ({}): {}", keys.len(), shown.join(", "))?;
    }
    let ids: Vec<&str> = g.members.iter().map(|&m| h.members.id(m)).collect();
    writeln!(w, "  members: {}", ids.join(", "))?;
    Ok(())
}

fn print_summary(
    w: &mut impl Write,
    s: &Summary<'_>,
    set: &GangSet,
    out: Option<&std::path::Path>,
) -> std::io::Result<()> {
    writeln!(
        w,
        "as of {}: {} members; {} gangs of {}+ accounts ({} peeled from busy keys) in {:.1}s{}",
        s.as_of,
        s.members,
        s.gangs,
        s.min_size,
        s.peeled,
        s.seconds,
        out.map_or_else(String::new, |p| format!(" → {}", p.display()))
    )?;
    writeln!(
        w,
        "flagged by \"{}\": {} gangs, {} accounts",
        s.rule, s.flagged, s.flagged_accounts
    )?;
    if let Some(t) = &s.truth {
        writeln!(
            w,
            "against the truth: flag precision {} ({} of {} accounts in a gang; {} wool), recall {} of {} gang accounts; truth gangs found {} of {} ({})",
            pct(t.flag.precision),
            t.flag.right,
            t.flag.found,
            pct(t.flag_wool_precision),
            pct(t.flag.recall),
            t.flag.truth,
            t.truth_gangs_found,
            t.truth_gangs,
            pct(t.share_found)
        )?;
        writeln!(
            w,
            "  peel: {} accounts, precision {}, recall {} of the {} gang accounts no key group holds (flagged: {} accounts, precision {}, recall {})",
            t.peel.found,
            pct(t.peel.precision),
            pct(t.peel.recall),
            t.peel.truth,
            t.peel_flagged.found,
            pct(t.peel_flagged.precision),
            pct(t.peel_flagged.recall)
        )?;
    }
    for g in set.gangs.iter().filter(|g| g.flagged).take(5) {
        writeln!(w, "  {} ({:.2}): {}", g.id, g.score, g.reason)?;
    }
    Ok(())
}
