//! `train`, `evaluate`, `score`, `explain`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use woolguard::data::History;
use woolguard::generate::{read_truth, TRUTH_FILE};
use woolguard::model::artefact::Artefact;
#[cfg(feature = "gbm")]
use woolguard::model::config::TrainConfig;
use woolguard::model::evaluate::{header, row, tradeoff_lines, Cutoff, Evaluation};
#[cfg(feature = "gbm")]
use woolguard::model::holdout::{self, HeldOut};
use woolguard::model::importance::Importance;
#[cfg(feature = "gbm")]
use woolguard::model::label::quality::LabelQuality;
#[cfg(feature = "gbm")]
use woolguard::model::policy::{Basis, BasisLabels, PolicyParams};
use woolguard::model::score;
use woolguard::model::slot;
#[cfg(feature = "gbm")]
use woolguard::model::{report::TrainReport, train::train as fit, train::Timings};

use woolguard::scoring::members::{self as scoring, score_to_file, MemberScorer};

use super::data::load_history;
use super::policy::PolicyArgs;
use super::progress::spinner;
use super::time::{self, flag_time};

#[cfg(feature = "gbm")]
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// History folder to train on.
    #[arg(long)]
    pub data: PathBuf,
    /// Training configuration (label rule, moment, split, hyper-parameters, policy).
    #[arg(long, default_value = "training/wool.toml")]
    pub config: PathBuf,
    /// The artefact to write; its file name is the model version.
    #[arg(long, required_unless_present = "labels_only")]
    pub out: Option<PathBuf>,
    /// Only label the members and measure the labels against the truth (generated data): no
    /// features, no model, nothing written.
    #[arg(long, conflicts_with = "by_campaign_holdout")]
    pub labels_only: bool,
    /// Also hold out each campaign in turn: train on the others, measure on it (cold start for
    /// a new campaign), against the labels and the truth where known.
    #[arg(long)]
    pub by_campaign_holdout: bool,
    /// With --by-campaign-holdout: the labelled members a campaign needs to be held out.
    #[arg(long, default_value_t = 50, requires = "by_campaign_holdout")]
    pub holdout_min_members: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// History folder to measure on (ideally members the model has not seen).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    /// Output file: `.csv` writes CSV, anything else Parquet.
    #[arg(long)]
    pub out: PathBuf,
    /// Score as of this moment: 2024-12-31T12:00:00Z (RFC 3339), 2024-12-31T12:00:00 (UTC) or
    /// 2024-12-31 (00:00 UTC). Default: just after the history's last event.
    #[arg(long, value_parser = flag_time)]
    pub as_of: Option<i64>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    /// The member's id.
    #[arg(long)]
    pub member: String,
    /// As for `score`.
    #[arg(long, value_parser = flag_time)]
    pub as_of: Option<i64>,
    /// Features listed (largest effect first).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[arg(long)]
    pub json: bool,
}

/// The truth of a generated history, one flag per member, when the folder has one.
pub(super) fn truth_of(dir: &Path, h: &History) -> anyhow::Result<Option<Vec<bool>>> {
    if !dir.join(TRUTH_FILE).exists() {
        return Ok(None);
    }
    let t = read_truth(dir)?;
    Ok(Some(t.for_members(&h.members)?))
}

fn load_model(path: &Path) -> anyhow::Result<Artefact> {
    Ok(Artefact::load(path)?)
}

#[cfg(feature = "gbm")]
pub fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let checked = TrainConfig::load(&args.config)?;
    let mut read = Timings::default();
    // The truth file (generated histories) is read beside the history.
    let (h, truth_table) = read.time("read", || {
        rayon::join(
            || load_history(&args.data),
            || {
                args.data
                    .join(TRUTH_FILE)
                    .exists()
                    .then(|| read_truth(&args.data))
                    .transpose()
            },
        )
    });
    let h = h?;
    super::data::say_absent(&args.data)?;
    let truth = read.time("truth", || -> anyhow::Result<Option<Vec<bool>>> {
        Ok(match truth_table? {
            Some(t) => Some(t.for_members(&h.members)?),
            None => None,
        })
    })?;
    if args.labels_only {
        return labels_only(&args, &h, &checked, truth.as_deref());
    }
    let out_path = args.out.clone().context("--out is required")?;
    let version = out_path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".json").to_string())
        .filter(|n| !n.is_empty())
        .with_context(|| format!("--out {}: needs a file name", out_path.display()))?;
    let s = spinner(&format!("training {version}"));
    let trained = fit(&h, &checked, &version, truth.as_deref());
    s.finish_and_clear();
    let (artefact, trained_in) = trained?;
    let mut timings = read;
    timings.phases.extend(trained_in.phases);
    timings.time("write", || artefact.save(&out_path))?;
    let held = if args.by_campaign_holdout {
        let s = spinner("holding out each campaign");
        let held = holdout::by_campaign(&h, &checked, truth.as_deref(), args.holdout_min_members);
        s.finish_and_clear();
        Some(held?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "version": artefact.version,
            "path": out_path,
            "thresholds": artefact.thresholds,
            "threshold_basis": artefact.report.families.first().and_then(|f| f.basis.as_ref()),
            "report": artefact.report,
            "data": artefact.data,
            "seconds": timings.phases,
            "campaign_holdout": held,
            "label_quality": artefact.report.label_quality,
            "tradeoff": artefact.report.tradeoff,
            "tradeoff_truth": artefact.report.tradeoff_truth,
            "importance": artefact.report.importance,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_train(&mut out, &artefact.report)?;
    writeln!(
        out,
        "thresholds: review ≥ {:.4}, reject ≥ {:.4} (policy {})",
        artefact.thresholds.review,
        artefact.thresholds.reject,
        policy_text(&checked.config.policy)
    )?;
    if let Some(b) = artefact
        .report
        .families
        .first()
        .and_then(|f| f.basis.as_ref())
    {
        writeln!(out, "thresholds {}", basis_text(b))?;
    }
    let phases: Vec<String> = timings
        .phases
        .iter()
        .map(|(n, s)| format!("{n} {s:.2}s"))
        .collect();
    writeln!(out, "time: {}", phases.join(", "))?;
    writeln!(
        out,
        "wrote {} (version {}, data {})",
        out_path.display(),
        artefact.version,
        artefact.data.fingerprint
    )?;
    if let Some(held) = &held {
        print_holdout(&mut out, held)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `train --labels-only`: the labels against the truth, nothing trained.
#[cfg(feature = "gbm")]
fn labels_only(
    args: &TrainArgs,
    h: &History,
    checked: &woolguard::model::config::Checked,
    truth: Option<&[bool]>,
) -> anyhow::Result<ExitCode> {
    let truth = truth.with_context(|| {
        format!(
            "--labels-only measures the labels against {}, which {} does not have",
            TRUTH_FILE,
            args.data.display()
        )
    })?;
    let q = LabelQuality::of_rule(h, &checked.rule, truth)
        .context("the truth does not cover every member")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({ "label_quality": q });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        print_label_quality(&mut out, &q)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Each held-out campaign: the model trained on the others, measured on it.
#[cfg(feature = "gbm")]
fn print_holdout(out: &mut impl Write, held: &[HeldOut]) -> std::io::Result<()> {
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    writeln!(
        out,
        "each campaign held out (trained on the others):\n  {:<28} {:>7} {:>8}  {:>9} {:>9} {:>8}  {:>9} {:>9} {:>8}",
        "campaign", "members", "trained", "auc.lab", "rej.prec", "rejected", "auc.tru", "rej.prec", "rej.rec"
    )?;
    for h in held {
        let t = h.truth.as_ref();
        writeln!(
            out,
            "  {:<28} {:>7} {:>8}  {:>9} {:>9} {:>8}  {:>9} {:>9} {:>8}",
            h.campaign,
            h.members,
            h.trained_on,
            num(h.labels.roc_auc),
            num(h.labels.reject.precision),
            h.labels.reject.flagged,
            num(t.and_then(|m| m.roc_auc)),
            num(t.and_then(|m| m.reject.precision)),
            num(t.and_then(|m| m.reject.recall)),
        )?;
    }
    Ok(())
}

/// The policy as `[policy]` in the training TOML names it: `targets: reject_precision 0.9, …`.
#[cfg(feature = "gbm")]
fn policy_text(p: &PolicyParams) -> String {
    match *p {
        PolicyParams::Targets {
            reject_precision,
            review_recall,
        } => format!("targets: reject_precision {reject_precision}, review_recall {review_recall}"),
        PolicyParams::Capacity {
            reviews_per_10k,
            rejects_per_10k,
        } => format!(
            "capacity: reviews_per_10k {reviews_per_10k}, rejects_per_10k {rejects_per_10k}"
        ),
        PolicyParams::Cost {
            wool_cost,
            genuine_margin,
            review_cost,
        } => format!(
            "cost: wool_cost {wool_cost}, genuine_margin {genuine_margin}, review_cost {review_cost}"
        ),
        PolicyParams::Reviewed {
            min_reviewed,
            review_share,
            reject_precision,
        } => format!(
            "reviewed: min_reviewed {min_reviewed}, review_share {review_share}, reject_precision {reject_precision}"
        ),
    }
}

/// Which labels set the thresholds: `on 412 reviewed labels (160 wool)`, or the fallback's
/// warning.
#[cfg(feature = "gbm")]
fn basis_text(b: &Basis) -> String {
    let what = match b.labels {
        BasisLabels::Reviewed => "reviewed labels of the calibration and validation rows",
        BasisLabels::All => "all labels of the calibration rows",
    };
    let mut text = format!("set on {} {what} ({} wool)", b.members, b.positives);
    if let Some(w) = &b.warning {
        text.push_str(&format!("; warning: {w}"));
    }
    text
}

#[cfg(feature = "gbm")]
fn print_train(out: &mut impl Write, r: &TrainReport) -> std::io::Result<()> {
    writeln!(
        out,
        "labelled {} members ({} positive, {} reviewed); split train {} / calibration {} / validation {}",
        r.labelled, r.positives, r.reviewed, r.train_rows, r.calibration_rows, r.validation_rows
    )?;
    writeln!(out, "validation, against labels:")?;
    writeln!(out, "  {}", header("family"))?;
    for f in &r.families {
        writeln!(out, "  {}", row(&f.family, &f.validation))?;
    }
    if r.families.iter().any(|f| f.against_truth.is_some()) {
        writeln!(out, "validation, against the generator's truth:")?;
        writeln!(out, "  {}", header("family"))?;
        for f in &r.families {
            if let Some(m) = &f.against_truth {
                writeln!(out, "  {}", row(&f.family, m))?;
            }
        }
    }
    print_slices(out, &r.evaluation)?;
    if !r.tradeoff.is_empty() {
        print_tradeoff(
            out,
            "validation rows",
            &r.tradeoff,
            r.tradeoff_truth.as_deref(),
        )?;
    }
    if let Some(i) = &r.importance {
        print_importance(out, "validation rows", i)?;
    }
    if let Some(q) = &r.label_quality {
        print_label_quality(out, q)?;
    }
    Ok(())
}

/// The labels against the generator's truth: all, by source, and the reviews table itself.
#[cfg(feature = "gbm")]
fn print_label_quality(out: &mut impl Write, q: &LabelQuality) -> std::io::Result<()> {
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    writeln!(
        out,
        "labels against the generator's truth:\n  {:<14} {:>8} {:>8} {:>8} {:>9} {:>7}",
        "labels", "members", "wool", "true", "precision", "recall"
    )?;
    for (name, a) in [
        ("all", &q.all),
        ("reviewed", &q.reviewed),
        ("rule", &q.rule),
        ("linked", &q.linked),
        ("reviews table", &q.reviews_table),
    ] {
        writeln!(
            out,
            "  {:<14} {:>8} {:>8} {:>8} {:>9} {:>7}",
            name,
            a.members,
            a.labelled_wool,
            a.truly_wool,
            num(a.precision),
            num(a.recall)
        )?;
    }
    Ok(())
}

fn print_slices(out: &mut impl Write, e: &Evaluation) -> std::io::Result<()> {
    writeln!(out, "by channel:")?;
    writeln!(out, "  {}", header("channel"))?;
    for s in &e.by_channel {
        writeln!(out, "  {}", row(&s.name, &s.metrics))?;
    }
    writeln!(out, "by campaign:")?;
    writeln!(out, "  {}", header("campaign"))?;
    for s in &e.by_campaign {
        writeln!(out, "  {}", row(&s.name, &s.metrics))?;
    }
    Ok(())
}

pub fn evaluate(args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let a = load_model(&args.model)?;
    let h = load_history(&args.data)?;
    let truth = truth_of(&args.data, &h)?;
    let x = score::assess(&h, &a, truth.as_deref())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&x)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let e = &x.evaluation;
    writeln!(
        out,
        "model {} on {} (thresholds: review ≥ {:.4}, reject ≥ {:.4})",
        a.version,
        args.data.display(),
        a.thresholds.review,
        a.thresholds.reject
    )?;
    writeln!(out, "  {}", header(""))?;
    writeln!(out, "  {}", row("against labels", &e.overall))?;
    if let Some(m) = &e.against_truth {
        writeln!(out, "  {}", row("against truth", m))?;
    }
    print_slices(&mut out, e)?;
    print_tradeoff(
        &mut out,
        "members scored",
        &x.tradeoff,
        x.tradeoff_truth.as_deref(),
    )?;
    print_importance(&mut out, "members scored", &x.importance)?;
    Ok(ExitCode::SUCCESS)
}

/// The trade-off table: what flagging at each cut-off would do, against labels and truth.
fn print_tradeoff(
    out: &mut impl Write,
    over: &str,
    labels: &[Cutoff],
    truth: Option<&[Cutoff]>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "trade-off: flagging every member at or above a cut-off (per 10,000 {over}, the share of the wool caught, the precision)"
    )?;
    for line in tradeoff_lines(labels, truth) {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// Features listed by [`print_importance`]; `--json` carries them all.
const TOP_FEATURES: usize = 12;

/// The trees' feature importance, largest total split gain first.
fn print_importance(out: &mut impl Write, over: &str, i: &Importance) -> std::io::Result<()> {
    writeln!(
        out,
        "feature importance: share of the trees' split gain, and mean |path attribution| (log-odds) over {} {over} (top {} of {}):",
        i.rows,
        TOP_FEATURES.min(i.features.len()),
        i.features.len()
    )?;
    writeln!(
        out,
        "  {:<30} {:>10} {:>13}",
        "feature", "gain share", "mean |attr.|"
    )?;
    for f in i.features.iter().take(TOP_FEATURES) {
        writeln!(
            out,
            "  {:<30} {:>10} {:>13.4}",
            f.feature,
            f.gain_share
                .map_or_else(|| "-".to_string(), |v| format!("{:.1}%", 100.0 * v)),
            f.mean_abs_attribution
        )?;
    }
    Ok(())
}

pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let a = load_model(&args.model)?;
    let mut h = load_history(&args.data)?;
    // Verdicts never name a coupon or an order.
    h.forget_event_ids();
    let t = time::as_of(args.as_of, &h);
    let s = spinner("scoring");
    let policy = args.policy.load()?;
    let scorer = MemberScorer::new(&h, &a, policy.judge(), t, None);
    let summary = score_to_file(&scorer, &args.out);
    s.finish_and_clear();
    let summary = summary?;
    println!(
        "scored {} members with {}: {} pass, {} review, {} reject → {}",
        summary.members,
        a.version,
        summary.pass,
        summary.review,
        summary.reject,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let a = load_model(&args.model)?;
    let h = load_history(&args.data)?;
    let t = time::as_of(args.as_of, &h);
    let policy = args.policy.load()?;
    let scorer = MemberScorer::new(&h, &a, policy.judge(), t, None);
    let mut e = scoring::explain(&scorer, &args.member)?;
    e.terms.truncate(args.top);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&e)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "member {}: {} probability {:.4}, quality {}, decision {} (model {})",
        e.member_id,
        a.target.name(),
        e.verdict.probability,
        e.verdict.quality,
        e.verdict.decision.name(),
        a.version
    )?;
    for r in &e.verdict.reasons {
        writeln!(out, "  reason {}: {}", r.code, r.text)?;
    }
    writeln!(
        out,
        "  {:<28} {:>12} {:>10}  what it measures",
        "feature", "value", "effect"
    )?;
    for term in &e.terms {
        writeln!(
            out,
            "  {:<28} {:>12} {:>+10.4}  {}",
            term.feature,
            term.value
                .map_or_else(|| "none".to_string(), |v| format!("{v:.2}")),
            term.contribution,
            term.description
        )?;
    }
    writeln!(
        out,
        "  (raw score = {:.4} + the effects above and the rest)",
        e.bias
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The current model, then the candidate.
    #[arg(long, num_args = 2, value_names = ["CURRENT", "NEW"], required_unless_present = "shadow_log", conflicts_with = "shadow_log")]
    pub models: Vec<PathBuf>,
    /// Recent history both are measured on.
    #[arg(
        long,
        required_unless_present = "shadow_log",
        conflicts_with = "shadow_log"
    )]
    pub data: Option<PathBuf>,
    /// Instead: a scorer's challenger log (`<state>/<tenant>/shadow.jsonl`): the live model
    /// against the challenger on real traffic, with the reasons where they differ.
    #[arg(long)]
    pub shadow_log: Option<PathBuf>,
    /// With --shadow-log: how many differing requests to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Seed of the bootstrap resampling.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The model artefact to make current.
    pub model: PathBuf,
    /// The models folder holding `current`, `releases/` and `promotions.jsonl`.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// A running scorer to ask to reload, e.g. `http://127.0.0.1:8080` (plain HTTP).
    #[arg(long, requires = "admin_key")]
    pub scorer: Option<String>,
    /// The scorer's admin key.
    #[arg(long, env = "WOOLGUARD_ADMIN_KEY")]
    pub admin_key: Option<String>,
    /// The tenant whose member model is replaced.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// A history to smoke-check the model on first: its decisions on these members must stay
    /// inside the band (at most 20% rejected, 90% reviewed or rejected).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Promote even when the smoke check (here with --data, or the scorer's) is outside the
    /// band. The slot and sanity checks still apply.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
}

pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    if let Some(log) = &args.shadow_log {
        return super::shadow::run(log, args.top, args.json);
    }
    let Some(data) = &args.data else {
        anyhow::bail!("--data: the history both models are measured on");
    };
    let [current, new] = args.models.as_slice() else {
        anyhow::bail!("--models takes two model files: the current one, then the new one");
    };
    let a = load_model(current)?;
    let b = load_model(new)?;
    let kind = |m: &Artefact| (m.target, m.moment);
    if kind(&a) != kind(&b) {
        anyhow::bail!(
            "{} is a {} model of the {} moment and {} a {} model of the {} moment: compare takes two models of one kind",
            current.display(),
            a.target.name(),
            slot::moment_name(a.moment),
            new.display(),
            b.target.name(),
            slot::moment_name(b.moment)
        );
    }
    let h = load_history(data)?;
    let c = woolguard::model::compare::compare(&h, &a, &b, args.seed)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&c)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{} members of {} ({} positive), each model at its own thresholds",
        c.members,
        data.display(),
        c.positives
    )?;
    writeln!(out, "  {}", header("model"))?;
    writeln!(out, "  {}", row(&c.current, &c.current_metrics))?;
    writeln!(out, "  {}", row(&c.new, &c.new_metrics))?;
    let show = |name: &str, i: &woolguard::model::compare::Interval| {
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:+.4}"));
        format!(
            "{name}: new − current {} (95% bootstrap interval {} .. {}, {} resamples)",
            f(i.difference),
            f(i.low),
            f(i.high),
            woolguard::model::compare::RESAMPLES
        )
    };
    writeln!(out, "{}", show("ROC-AUC", &c.roc_auc))?;
    writeln!(out, "{}", show("precision at reject", &c.reject_precision))?;
    Ok(ExitCode::SUCCESS)
}

pub fn promote(args: PromoteArgs) -> anyhow::Result<ExitCode> {
    // Every check comes before anything changes: the slot and sanity, the smoke check on a
    // history, and the scorer's own checks of the file (its smoke check on the tenant's members).
    let a = slot::load_for(&args.model, slot::MEMBER)?;
    if let (Some(data), false) = (&args.data, args.force) {
        let h = load_history(data)?;
        slot::smoke_history(
            &a,
            &h,
            &slot::SmokeBand::default(),
            &args.model.display().to_string(),
        )?;
    }
    if let (Some(scorer), Some(key)) = (&args.scorer, &args.admin_key) {
        let candidate = std::fs::canonicalize(&args.model)
            .with_context(|| format!("{}", args.model.display()))?;
        let body =
            serde_json::json!({"tenant": args.tenant, "model": candidate, "force": args.force})
                .to_string();
        let (status, reply) = post(scorer, "/v1/models/reload", key, &body)
            .with_context(|| format!("asking {scorer} to check the model"))?;
        if status != 200 {
            anyhow::bail!("{scorer} refused the model ({status}): {reply}; nothing was promoted");
        }
    }
    let e = woolguard::model::registry::promote(&args.models_dir, &args.model)?;
    println!(
        "release {}: {} is now {}/current (kept as {})",
        e.release,
        e.version,
        args.models_dir.display(),
        e.file
    );
    if let (Some(scorer), Some(key)) = (&args.scorer, &args.admin_key) {
        let current = std::fs::canonicalize(args.models_dir.join("current"))?;
        // The same bytes the scorer just accepted, now from `current`.
        let body =
            serde_json::json!({"tenant": args.tenant, "model": current, "force": true}).to_string();
        let (status, reply) = post(scorer, "/v1/models/reload", key, &body)
            .with_context(|| format!("asking {scorer} to reload"))?;
        if status != 200 {
            anyhow::bail!("{scorer} refused the reload ({status}): {reply}");
        }
        println!(
            "{scorer} reloaded: tenant {} now serves {}",
            args.tenant, e.version
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A plain-HTTP POST with the admin key: (status, body).
fn post(base: &str, path: &str, admin_key: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let host = base
        .strip_prefix("http://")
        .context("--scorer must start with http://")?
        .trim_end_matches('/');
    let headers = [("x-admin-key", admin_key)];
    let timeout = std::time::Duration::from_secs(120);
    super::http::call(host, "POST", path, &headers, body, timeout)
}

pub fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let e = woolguard::model::registry::rollback(&args.models_dir)?;
    println!(
        "rolled back: {} ({}) is {}/current again",
        e.version,
        e.file,
        args.models_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
