//! `rules check` and `rules backtest`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use woolguard::generate::{read_truth, TRUTH_FILE};
use woolguard::members::rfm::RfmRules;
use woolguard::members::segment;
use woolguard::members::tier::TierRules;
use woolguard::model::slot;
use woolguard::scoring::backtest::{backtest, Agreement, MomentBacktest};
use woolguard::scoring::members::Standings;
use woolguard::scoring::rules::On;

use super::data::load_history;
use super::policy::load_rules;
use super::progress::spinner;
use super::time::{self, flag_time};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Check a rules file: names, codes, actions and each test against the names of its moment
    /// (an error points at the column).
    Check(CheckArgs),
    /// Replay a rules file on a history, point in time: per rule and for the set, hits, hit
    /// rate by channel and campaign, precision and recall against the labels (and the truth of
    /// a generated history), overlap with the model's rejects, members only the rule catches,
    /// and the decision mix beside the model's alone.
    Backtest(BacktestArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub rules: PathBuf,
    /// The member-time model member rules are replayed with.
    #[arg(long, default_value = "models/default")]
    pub model: PathBuf,
    /// The sign-up model sign-up rules are replayed with.
    #[arg(long, default_value = "models/signup")]
    pub signup_model: PathBuf,
    /// The moment member rules are replayed at (as for `score`). Default: just after the
    /// history's last event.
    #[arg(long, value_parser = flag_time)]
    pub as_of: Option<i64>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        RulesCommand::Check(a) => {
            let set = load_rules(&a.file)?;
            let count = |on: On| set.rules().iter().filter(|r| r.spec.on == on).count();
            println!(
                "{}: {} rules ({} sign-up, {} member) check",
                a.file.display(),
                set.rules().len(),
                count(On::Signup),
                count(On::Member)
            );
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Backtest(a) => run_backtest(a),
    }
}

fn run_backtest(args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let rules = load_rules(&args.rules)?;
    let member = slot::load_for(&args.model, slot::MEMBER)?;
    let signup = slot::load_for(&args.signup_model, slot::SIGNUP)?;
    let h = load_history(&args.data)?;
    let truth = match args.data.join(TRUTH_FILE).exists() {
        true => Some(read_truth(&args.data)?.for_members(&h.members)?),
        false => None,
    };
    let as_of = time::as_of(args.as_of, &h);
    let sp = spinner("replaying the rules");
    let tiers = TierRules::default();
    let seg = segment::segment(&h, &tiers, &RfmRules::default(), as_of);
    let standings = Standings::new(&h, &seg, &tiers);
    let out = [
        backtest(&h, &signup, &rules, as_of, None, truth.as_deref()),
        backtest(
            &h,
            &member,
            &rules,
            as_of,
            Some(&standings),
            truth.as_deref(),
        ),
    ];
    sp.finish_and_clear();
    let [a, b] = out;
    let moments = [a?, b?];
    let mut w = std::io::stdout().lock();
    if args.json {
        writeln!(w, "{}", serde_json::to_string_pretty(&moments)?)?;
    } else {
        for m in &moments {
            print_moment(&mut w, m)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", 100.0 * v))
}

fn agreement(a: &Agreement) -> String {
    format!("{:>8} {:>8}", pct(a.precision), pct(a.recall))
}

fn print_moment(w: &mut impl Write, m: &MomentBacktest) -> std::io::Result<()> {
    writeln!(
        w,
        "{} rules with {} over {} members",
        m.on.name(),
        m.model_version,
        m.members
    )?;
    writeln!(
        w,
        "  {:<26} {:<7} {:<8} {:>7} {:>7}  {:>8} {:>8}  {:>8} {:>8}  {:>7} {:>6}",
        "rule",
        "action",
        "mode",
        "hits",
        "rate",
        "lab.prec",
        "lab.rec",
        "tru.prec",
        "tru.rec",
        "model✗",
        "only"
    )?;
    for r in m.rules.iter().chain([&m.set]) {
        writeln!(
            w,
            "  {:<26} {:<7} {:<8} {:>7} {:>6.2}%  {}  {}  {:>7} {:>6}",
            r.name,
            r.action,
            format!("{:?}", r.mode).to_lowercase(),
            r.hits,
            100.0 * r.hit_rate,
            agreement(&r.labels),
            r.truth
                .as_ref()
                .map_or_else(|| format!("{:>8} {:>8}", "-", "-"), agreement),
            r.model_rejects,
            r.only_this
        )?;
        let top: Vec<String> = r
            .by_channel
            .iter()
            .filter(|s| s.hits > 0)
            .take(3)
            .map(|s| format!("{} {:.1}%", s.name, 100.0 * s.hit_rate))
            .collect();
        if !top.is_empty() {
            writeln!(w, "      by channel: {}", top.join(", "))?;
        }
    }
    let (a, b) = (&m.model_alone, &m.with_rules);
    writeln!(
        w,
        "  decisions: model alone {} pass / {} review / {} reject; with the rules {} / {} / {} ({} benefits held)\n",
        a.pass, a.review, a.reject, b.pass, b.review, b.reject, b.hold_benefits
    )?;
    Ok(())
}
