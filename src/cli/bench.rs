//! `bench replay`: the replay benchmark (`woolguard::state::replay::bench`); `bench live`: the
//! event-to-score benchmark (`woolguard::state::replay::live`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use woolguard::features::recruit::Group;
use woolguard::model::slot;
use woolguard::state::replay::bench::{replay, Held, Quantiles, ReplayParams, ReplayReport};

use super::progress::spinner;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Generated histories through the online sign-up state, event by event in time order:
    /// update latency, events per second, bytes per account, and what the gang flag holds
    /// beside the sign-up model alone, against the truth.
    Replay(ReplayArgs),
    /// Running replicas of one tenant on a shared store, over HTTP: recorded sign-ups per second
    /// and latency, cross-replica visibility lag, events per second into the log.
    Replicas(super::bench_replicas::ReplicasArgs),
    /// A tenant over a history (e.g. from `woolguard generate`) sent order events at a steady
    /// rate through ingestion: time from an acknowledged order to the member's new score,
    /// memory per member, start time, and a full refresh after 100 orders.
    Live(LiveArgs),
}

#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// The history folder (a contract folder, e.g. written by `woolguard generate`).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "models/default")]
    pub model: PathBuf,
    #[arg(long, default_value = "models/signup")]
    pub signup_model: PathBuf,
    /// Order events per second, over all senders.
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Threads sending orders (each at rate / senders).
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Orders per ingestion call (one durable commit each), as a brand's pipeline batches them.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Members per shard.
    #[arg(long, default_value_t = 1_000_000)]
    pub members: u64,
    /// Shards replayed one after another through one state.
    #[arg(long, default_value_t = 10)]
    pub shards: u32,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value_t = 0.5)]
    pub difficulty: f64,
    /// The per-account sign-up model the gang flag is compared with.
    #[arg(long, default_value = "models/signup")]
    pub signup_model: PathBuf,
    /// The gangs config whose flag rule is replayed (default: the shipped rule).
    #[arg(long)]
    pub gangs: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Replay(a) => run_replay(a),
        BenchCommand::Replicas(a) => super::bench_replicas::run_replicas(a),
        BenchCommand::Live(a) => run_live(a),
    }
}

fn run_live(args: LiveArgs) -> anyhow::Result<ExitCode> {
    use woolguard::state::replay::live;
    if !(args.rate > 0.0 && args.rate.is_finite() && args.seconds > 0.0 && args.seconds.is_finite())
    {
        anyhow::bail!("--rate and --seconds must be positive numbers");
    }
    let params = live::LiveParams {
        data: args.data,
        model: args.model,
        signup_model: args.signup_model,
        rate: args.rate,
        seconds: args.seconds,
        senders: args.senders,
        batch: args.batch,
    };
    let bar = spinner("loading, then sending orders");
    let r = live::run(&params)?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mb = |b: u64| b as f64 / 1e6;
    writeln!(
        out,
        "{} members: started in {:.1} s, {:.0} MB resident ({:.0} bytes per member)",
        r.members,
        r.start_seconds,
        mb(r.rss_bytes_after_start),
        r.rss_bytes_per_member
    )?;
    writeln!(
        out,
        "full refresh after 100 orders: {:.1} s",
        r.full_refresh_seconds
    )?;
    writeln!(
        out,
        "durable commit alone (an event that rescores nobody): p50 {:.2} ms, p99 {:.2} ms",
        r.commit_only.p50, r.commit_only.p99
    )?;
    writeln!(
        out,
        "{} orders at {:.0}/s ({} senders, {} a call): event to score p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.orders,
        r.orders_per_second,
        r.senders,
        r.batch,
        r.event_to_score.p50,
        r.event_to_score.p99,
        r.event_to_score.max
    )?;
    writeln!(
        out,
        "member score reads meanwhile: {} at p50 {:.3} ms, p99 {:.3} ms, max {:.2} ms",
        r.reads.n, r.reads.p50, r.reads.p99, r.reads.max
    )?;
    writeln!(
        out,
        "{} members scored live; {:.0} MB resident at the end",
        r.live_members,
        mb(r.rss_bytes_at_end)
    )?;
    Ok(ExitCode::SUCCESS)
}

fn run_replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let signup = slot::load_for(&args.signup_model, slot::SIGNUP)?;
    let params = ReplayParams {
        members: args.members,
        shards: args.shards,
        seed: args.seed,
        difficulty: args.difficulty,
        caps: signup.config.merge.caps(),
    };
    let mut policy = woolguard::scoring::gang::DEFAULT_POLICY.clone();
    if let Some(path) = &args.gangs {
        policy.rule = super::gangs::read_params(Some(path), "--gangs")?
            .check()
            .with_context(|| format!("--gangs {}", path.display()))?;
    }
    let policy = &policy;
    let flag = |g: &Group, now: i64| policy.judge(g, now).is_some_and(|(_, flagged)| flagged);
    let bar = spinner("replaying");
    let report = replay(&params, &signup, &flag, &|m| bar.set_message(m.to_string()))?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print(out: &mut impl Write, r: &ReplayReport) -> std::io::Result<()> {
    writeln!(out, "{} accounts in {} shards", r.accounts, r.shards)?;
    let q = |out: &mut dyn Write, what: &str, q: &Quantiles| {
        writeln!(
            out,
            "  {what:<22} {:>11} events  p50 {:>6.2} µs  p99 {:>6.2} µs",
            q.events, q.p50_us, q.p99_us
        )
    };
    q(out, "state update (all)", &r.update)?;
    q(out, "sign-up (features+record)", &r.signup)?;
    q(out, "coupon / order / review", &r.deed)?;
    q(out, "sign-up model score", &r.model)?;
    writeln!(
        out,
        "  {:.0} state updates per second on one core; {:.0} heap bytes per account",
        r.events_per_second, r.bytes_per_account
    )?;
    writeln!(
        out,
        "gang flag: {} truth gangs of 10+; {:.1}% flagged by their 10th sign-up; by account: precision {:.1}%, recall {:.1}%",
        r.gangs,
        100.0 * r.gangs_flagged_by_10th,
        100.0 * r.flag_precision,
        100.0 * r.flag_recall
    )?;
    let held = |out: &mut dyn Write, what: &str, h: &Held| {
        writeln!(
            out,
            "  {what:<18} wool claims held {:>5.1}%  genuine claims held {:>5.2}%  genuine members held {:>6.1} per 10,000{}",
            100.0 * h.wool_claims_held,
            100.0 * h.genuine_claims_held,
            h.genuine_members_held_per_10k,
            h.gang_claims_held_after_flag
                .map(|v| format!("  gang claims held after the flag {:.1}%", 100.0 * v))
                .unwrap_or_default()
        )
    };
    held(out, "gang flag", &r.held_by_gang_flag)?;
    held(out, "sign-up model", &r.held_by_model_alone)?;
    held(out, "either", &r.held_by_both)?;
    held(out, "flag or reject", &r.held_by_flag_or_reject)?;
    Ok(())
}
