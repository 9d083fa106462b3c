//! Member value tests: tiers and RFM segments on the real CDNOW export, with every figure
//! computed again here straight from the raw CSV (a daily replay for the tiers, sorting for the
//! quintiles), hand-checked customers and the 20/80 figure; on generated data, RFM against a
//! brute-force scan, the tier invariants, point-in-time safety; and the command end to end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Datelike, NaiveDate};
use woolguard::data::import::{import, ImportOptions};
use woolguard::data::{load, History};
use woolguard::generate::{generate, Params};
use woolguard::members::rfm::{RfmRules, Segment};
use woolguard::members::segment::{segment, summarise, Segmentation};
use woolguard::members::tier::{TierParams, TierRules};

use crate::common;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY: i64 = 86_400;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
}

fn epoch_days(d: NaiveDate) -> i64 {
    (d - date(1970, 1, 1)).num_days()
}

/// Quintile scores the slow, obvious way: 1 + floor(5 × (keys strictly below) / n).
fn quintile_by_sorting(keys: &[i64]) -> Vec<u8> {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let n = keys.len();
    keys.iter()
        .map(|k| 1 + (5 * sorted.partition_point(|x| x < k) / n) as u8)
        .collect()
}

/// The default grid, written out again: (R, ceil((F + M) / 2)) → segment name.
fn grid(r: u8, fm: u8) -> &'static str {
    const G: [[&str; 5]; 5] = [
        ["lost", "lost", "at_risk", "cant_lose", "cant_lose"],
        [
            "hibernating",
            "hibernating",
            "at_risk",
            "at_risk",
            "cant_lose",
        ],
        [
            "about_to_sleep",
            "about_to_sleep",
            "need_attention",
            "loyal",
            "loyal",
        ],
        [
            "promising",
            "potential_loyalist",
            "potential_loyalist",
            "loyal",
            "champions",
        ],
        [
            "new",
            "potential_loyalist",
            "potential_loyalist",
            "champions",
            "champions",
        ],
    ];
    G[usize::from(r) - 1][usize::from(fm) - 1]
}

/// One CDNOW purchase: customer, day (days since 1970-01-01), cents.
struct Purchase {
    customer: String,
    day: i64,
    cents: i64,
}

fn read_cdnow(dir: &Path) -> Vec<Purchase> {
    let mut r = csv::Reader::from_path(dir.join("cdnow_master.csv"))
        .unwrap_or_else(|e| panic!("cdnow_master.csv: {e}"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap_or_else(|e| panic!("cdnow_master.csv: {e}"));
            let d = NaiveDate::parse_from_str(&rec[1], "%Y%m%d")
                .unwrap_or_else(|e| panic!("date {}: {e}", &rec[1]));
            let dollars: f64 = rec[3]
                .parse()
                .unwrap_or_else(|e| panic!("dollar_value {}: {e}", &rec[3]));
            Purchase {
                customer: rec[0].to_string(),
                day: epoch_days(d),
                cents: (dollars * 100.0).round() as i64,
            }
        })
        .collect()
}

/// Tier of one customer by replaying every day: at 00:00 on the first of a month the review
/// (window: the 365 days before, one tier down at most), then that day's purchases (window: the
/// 365 days ending that day, up to the highest tier reached).
fn replay_tier(daily: &HashMap<i64, i64>, first: i64, as_of: i64, thresholds: &[i64]) -> usize {
    let level = |v: i64| thresholds.iter().filter(|&&t| t <= v).count() - 1;
    let window = |from: i64, to_excl: i64| -> i64 {
        (from..to_excl)
            .map(|d| daily.get(&d).copied().unwrap_or(0))
            .sum()
    };
    let mut tier = 0;
    for day in first..=as_of {
        let is_month_start = (date(1970, 1, 1) + chrono::Duration::days(day)).day() == 1;
        if is_month_start && tier > 0 && level(window(day - 365, day)) < tier {
            tier -= 1;
        }
        if day == as_of {
            break;
        }
        if daily.contains_key(&day) {
            tier = tier.max(level(window(day - 364, day + 1)));
        }
    }
    tier
}

fn import_cdnow(source: &Path) -> (tempfile::TempDir, History) {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let options = ImportOptions {
        source: Some(source),
        ..Default::default()
    };
    import(
        &repo().join("data/mappings/cdnow.toml"),
        out.path(),
        &options,
    )
    .unwrap_or_else(|e| panic!("import cdnow: {e}"));
    let h = load(out.path()).unwrap_or_else(|e| panic!("{e}"));
    (out, h)
}

#[test]
fn cdnow_segments_tiers_and_pareto_as_of_mid_1998() {
    let Some(source) = common::realdata("cdnow") else {
        eprintln!("skipped: cdnow_segments_tiers_and_pareto_as_of_mid_1998 needs ../shared/realdata/cdnow");
        return;
    };
    let (_dir, h) = import_cdnow(&source);
    let as_of_day = epoch_days(date(1998, 6, 30));
    let tiers = TierRules::default();
    let s = segment(&h, &tiers, &RfmRules::default(), as_of_day * DAY);
    let sum = summarise(&s, &tiers);

    // Straight from the CSV.
    let purchases = read_cdnow(&source);
    let mut first: HashMap<&str, i64> = HashMap::new();
    let mut before: HashMap<&str, Vec<&Purchase>> = HashMap::new();
    for p in &purchases {
        let f = first.entry(&p.customer).or_insert(p.day);
        *f = (*f).min(p.day);
        if p.day < as_of_day {
            before.entry(&p.customer).or_default().push(p);
        }
    }
    let mut population: Vec<&str> = first
        .iter()
        .filter(|(_, &d)| d < as_of_day)
        .map(|(c, _)| *c)
        .collect();
    population.sort_unstable();
    assert_eq!(population.len(), 23_570);
    assert_eq!(s.members.len(), 23_570);
    // (recency days, orders, cents) per customer; every CDNOW customer bought in early 1997.
    let rfm: Vec<(i64, i64, i64)> = population
        .iter()
        .map(|c| {
            let ps = &before[c];
            let last = ps.iter().map(|p| p.day).max().unwrap_or(i64::MIN);
            (
                as_of_day - last,
                ps.len() as i64,
                ps.iter().map(|p| p.cents).sum(),
            )
        })
        .collect();
    let r = quintile_by_sorting(&rfm.iter().map(|v| -v.0).collect::<Vec<_>>());
    let f = quintile_by_sorting(&rfm.iter().map(|v| v.1).collect::<Vec<_>>());
    let m = quintile_by_sorting(&rfm.iter().map(|v| v.2).collect::<Vec<_>>());
    let mut expected_segments: HashMap<&str, usize> = HashMap::new();
    let mut row_of: HashMap<&str, usize> = HashMap::new();
    for (i, &mi) in s.members.iter().enumerate() {
        row_of.insert(h.members.id(mi), i);
    }
    for (j, c) in population.iter().enumerate() {
        let seg = grid(r[j], (f[j] + m[j]).div_ceil(2));
        *expected_segments.entry(seg).or_default() += 1;
        let i = row_of[c];
        let v = &s.rfm[i];
        assert_eq!(
            (v.recency_days, i64::from(v.frequency), v.monetary_cents),
            (Some(rfm[j].0), rfm[j].1, rfm[j].2),
            "customer {c}"
        );
        assert_eq!(
            (s.scores[i].r, s.scores[i].f, s.scores[i].m),
            (r[j], f[j], m[j]),
            "customer {c}"
        );
    }
    for g in &sum.segments {
        assert_eq!(
            g.members,
            expected_segments.get(g.name.as_str()).copied().unwrap_or(0),
            "segment {}",
            g.name
        );
    }
    // The same figures, written down (python3 over the CSV, the same definitions):
    let sizes: Vec<(&str, usize)> = sum
        .segments
        .iter()
        .map(|g| (g.name.as_str(), g.members))
        .collect();
    assert_eq!(
        sizes,
        vec![
            ("champions", 5_924),
            ("loyal", 2_787),
            ("potential_loyalist", 1_462),
            ("new", 0),
            ("promising", 0),
            ("need_attention", 914),
            ("about_to_sleep", 3_035),
            ("at_risk", 1_531),
            ("cant_lose", 181),
            ("hibernating", 3_771),
            ("lost", 3_965),
            ("no_orders", 0),
        ]
    );

    // Hand-checked customers.
    let at = |c: &str| row_of[c];
    let row = |c: &str| s.row(&h, &tiers, at(c));
    // 00001: one purchase of 11.77 on 1997-01-01, 545 days before 1998-06-30 (365 + 180).
    let r1 = row("00001");
    assert_eq!(
        (r1.recency_days, r1.frequency, r1.monetary),
        (Some(545), 1, 11.77)
    );
    assert_eq!((r1.r, r1.f, r1.m, r1.segment), (1, 1, 1, "lost"));
    assert_eq!(r1.tier, "one-star");
    // 00003: six purchases, the last on 1998-05-28 (33 days before); 20.76 + 20.76 + 19.54
    // + 57.45 + 20.96 + 16.99 = 156.46. Two-star from 1997-11-15 (118.51 over the year); at the
    // 1998-04-01 review the window [1997-04-01, 1998-04-01) holds 19.54 + 57.45 + 20.96 = 97.95
    // → one-star; the 16.99 of 1998-05-28 makes (1997-05-28, 1998-05-28] = 95.40: still one-star.
    let r3 = row("00003");
    assert_eq!(
        (r3.recency_days, r3.frequency, r3.monetary),
        (Some(33), 6, 156.46)
    );
    assert_eq!((r3.r, r3.f, r3.m, r3.segment), (5, 5, 5, "champions"));
    assert_eq!(r3.tier, "one-star");
    let s_mar = segment(
        &h,
        &tiers,
        &RfmRules::default(),
        epoch_days(date(1998, 3, 31)) * DAY,
    );
    assert_eq!(s_mar.tiers[at("00003")], 1, "00003 is two-star until April");
    // 00002: 12.00 + 77.00 on 1997-01-12, never 100 in a year.
    assert_eq!(row("00002").tier, "one-star");
    assert_eq!(row("00002").monetary, 89.0);
    // 00005: 11 purchases, 385.61 in all, 356.28 at most over a year → two-star.
    let r5 = row("00005");
    assert_eq!(
        (r5.frequency, r5.monetary, r5.tier.as_str()),
        (11, 385.61, "two-star")
    );

    // Tiers: every customer replayed day by day from the CSV.
    let mut daily: HashMap<&str, HashMap<i64, i64>> = HashMap::new();
    for p in &purchases {
        if p.cents > 0 {
            *daily
                .entry(&p.customer)
                .or_default()
                .entry(p.day)
                .or_default() += p.cents;
        }
    }
    let empty = HashMap::new();
    let mut tier_sizes = vec![0usize; 6];
    for c in &population {
        let d = daily.get(c).unwrap_or(&empty);
        let t = replay_tier(d, first[c], as_of_day, &tiers.thresholds);
        assert_eq!(s.tiers[row_of[c]], t, "tier of customer {c}");
        tier_sizes[t] += 1;
    }
    let got: Vec<usize> = sum.tiers.iter().map(|g| g.members).collect();
    assert_eq!(got, tier_sizes);

    // 20/80: the top ceil(23570 / 5) = 4714 customers by spend before 1998-06-30.
    let mut spend: Vec<i64> = rfm.iter().map(|v| v.2).collect();
    spend.sort_unstable_by(|a, b| b.cmp(a));
    let top: i64 = spend[..4_714].iter().sum();
    let all: i64 = spend.iter().sum();
    assert_eq!((top, all), (169_282_675, 249_813_498));
    assert_eq!(sum.pareto.top_members, 4_714);
    assert_eq!(sum.pareto.top_sales, 1_692_826.75);
    assert_eq!(sum.pareto.sales, 2_498_134.98);
    let share = sum.pareto.top_sales_share.unwrap_or(f64::NAN);
    assert!((share - 0.677_636_222).abs() < 1e-9, "pareto share {share}");
    eprintln!(
        "cdnow as of 1998-06-30: segments {sizes:?}; tiers {tier_sizes:?}; top 20% bring {:.2}% of sales",
        100.0 * share
    );
}

fn generated(members: u64, seed: u64) -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let config = Params {
        members,
        seed,
        difficulty: 0.5,
    }
    .check()
    .unwrap_or_else(|e| panic!("{e}"));
    generate(&config, dir.path(), &|_| {}).unwrap_or_else(|e| panic!("generate: {e}"));
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    (dir, h)
}

fn midnight(d: NaiveDate) -> i64 {
    epoch_days(d) * DAY
}

#[test]
fn generated_history_rfm_matches_a_brute_force_scan() -> TestResult {
    let (_dir, h) = generated(3_000, 21);
    let as_of = midnight(date(2024, 6, 1));
    let tiers = TierRules::default();
    let s = segment(&h, &tiers, &RfmRules::default(), as_of);
    let joined = h.members.joined_at.iter().filter(|&&t| t < as_of).count();
    assert_eq!(s.members.len(), joined);
    assert!(joined > 1_000 && joined < 3_000, "{joined} joined");

    // Brute force: every order row, no index.
    let mut by: HashMap<u32, (i64, u32, i64)> = HashMap::new();
    let o = &h.orders;
    for i in 0..o.len() {
        if o.at[i] < as_of && !o.refunded[i] {
            let e = by.entry(o.member[i]).or_insert((i64::MIN, 0, 0));
            e.0 = e.0.max(o.at[i]);
            e.1 += 1;
            e.2 += (o.amount[i] * 100.0).round() as i64;
        }
    }
    let mut with_orders = 0;
    for (i, &m) in s.members.iter().enumerate() {
        let v = &s.rfm[i];
        match by.get(&m) {
            Some(&(last, n, cents)) => {
                with_orders += 1;
                assert_eq!(v.recency_days, Some((as_of - last) / DAY), "member {m}");
                assert_eq!((v.frequency, v.monetary_cents), (n, cents), "member {m}");
                assert!(s.segments[i].is_some());
            }
            None => {
                assert_eq!(
                    (v.recency_days, v.frequency, v.monetary_cents),
                    (None, 0, 0)
                );
                assert_eq!((s.scores[i].r, s.scores[i].f, s.scores[i].m), (0, 0, 0));
                assert_eq!(s.segments[i], None);
            }
        }
    }
    assert!(with_orders > 500, "{with_orders} members with orders");
    let sum = summarise(&s, &tiers);
    assert_eq!(sum.members_with_orders, with_orders);
    assert_eq!(
        sum.segments.last().map(|g| g.members),
        Some(s.members.len() - with_orders)
    );
    // Monetary is nearly continuous: each M score holds a fifth of the ranked members, give or
    // take the ties.
    for score in 1..=5u8 {
        let n = s.scores.iter().filter(|x| x.m == score).count() as f64;
        let fifth = with_orders as f64 / 5.0;
        assert!(
            (n - fifth).abs() < 0.05 * fifth,
            "M = {score}: {n} members, a fifth is {fifth}"
        );
    }
    // The 20/80 rule of the generated programme: the top fifth brings most of the sales.
    let share = sum.pareto.top_sales_share.unwrap_or(0.0);
    assert!(share > 0.5 && share < 1.0, "pareto share {share}");
    let seg_total: usize = sum.segments.iter().map(|g| g.members).sum();
    let tier_total: usize = sum.tiers.iter().map(|g| g.members).sum();
    assert_eq!((seg_total, tier_total), (s.members.len(), s.members.len()));
    Ok(())
}

fn rolling_level(h: &History, tiers: &TierRules, m: u32, as_of: i64) -> usize {
    let o = &h.orders;
    let v: i64 = (0..o.len())
        .filter(|&i| {
            o.member[i] == m && !o.refunded[i] && o.at[i] < as_of && o.at[i] >= as_of - tiers.window
        })
        .map(|i| (o.amount[i] * 100.0).round() as i64)
        .sum();
    tiers.level(v)
}

#[test]
fn generated_tiers_hold_their_invariants_and_never_peek() -> TestResult {
    let (_dir, h) = generated(2_000, 22);
    let tiers = TierParams {
        // Thresholds the generated spend reaches, so that every tier is used.
        thresholds: vec![0.0, 50.0, 150.0, 400.0, 800.0, 1_500.0],
        ..TierParams::default()
    }
    .check()
    .map_err(|e| format!("{e:?}"))?;
    let rules = RfmRules::default();
    let may = midnight(date(2024, 5, 1));
    let june = midnight(date(2024, 6, 1));
    let a = segment(&h, &tiers, &rules, may);
    let b = segment(&h, &tiers, &rules, june);
    let used = (0..6).filter(|t| a.tiers.contains(t)).count();
    assert!(
        used >= 4,
        "only {used} tiers used: {:?}",
        summarise(&a, &tiers).tiers
    );
    let pos: HashMap<u32, usize> = b.members.iter().enumerate().map(|(i, &m)| (m, i)).collect();
    for (i, &m) in a.members.iter().enumerate() {
        // Upgrades are immediate and downgrades step: a member is never below the tier their
        // rolling year earns.
        assert!(
            a.tiers[i] >= rolling_level(&h, &tiers, m, may),
            "member {m} below its rolling tier"
        );
        // One review (June 1) between May 1 and June 1: at most one tier down.
        let later = b.tiers[pos[&m]];
        assert!(
            later + 1 >= a.tiers[i],
            "member {m}: {} → {later}",
            a.tiers[i]
        );
    }

    // Point in time: rewriting everything at or after the as-of moment changes nothing.
    let mut future = h.clone();
    for i in 0..future.orders.len() {
        if future.orders.at[i] >= june {
            future.orders.amount[i] *= 10.0;
            future.orders.refunded[i] = !future.orders.refunded[i];
            future.orders.at[i] = june;
        }
    }
    let c: Segmentation = segment(&future, &tiers, &rules, june);
    assert_eq!(b, c, "the segmentation read the future");
    assert!(b.segments.contains(&Some(Segment::Champions)));
    Ok(())
}

fn woolguard(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running woolguard: {e}"))
}

#[test]
fn the_segment_command_writes_csv_and_parquet_and_reports_bad_input() -> TestResult {
    let (dir, h) = generated(1_500, 23);
    let data = dir.path().as_os_str();
    let csv_out = dir.path().join("out/segments.csv");
    let pq_out = dir.path().join("segments.parquet");
    let run = |out: &Path, extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "segment".as_ref(),
            "--data".as_ref(),
            data,
            "--as-of".as_ref(),
            "2024-07-01".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        woolguard(&args)
    };
    let tiers_toml = repo().join("training/tiers.toml");
    let rfm_toml = repo().join("training/rfm.toml");
    let ok = run(
        &csv_out,
        &[
            "--json",
            "--tiers",
            tiers_toml.to_str().ok_or("path")?,
            "--rfm",
            rfm_toml.to_str().ok_or("path")?,
        ],
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout)?;
    let as_of = midnight(date(2024, 7, 1));
    let s = segment(&h, &TierRules::default(), &RfmRules::default(), as_of);
    assert_eq!(json["members"], s.members.len());
    assert_eq!(json["segments"].as_array().map(Vec::len), Some(12));
    assert_eq!(json["tiers"][0]["name"], "one-star");
    let share = json["pareto"]["top_sales_share"]
        .as_f64()
        .ok_or("no share")?;
    assert!(share > 0.5, "{share}");

    let mut r = csv::Reader::from_path(&csv_out)?;
    let headers: Vec<String> = r.headers()?.iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "member_id",
            "tier",
            "recency_days",
            "frequency",
            "monetary",
            "r",
            "f",
            "m",
            "segment",
            "cluster",
            "cluster_name"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), s.members.len());
    let first = s.row(&h, &TierRules::default(), 0);
    assert_eq!(&rows[0][0], first.member_id);
    assert_eq!(&rows[0][8], first.segment);

    let text = run(&pq_out, &[]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        text.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    assert!(
        stdout.contains("champions") && stdout.contains("supreme"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pareto: the top 20% of members"),
        "{stdout}"
    );
    let file = std::fs::File::open(&pq_out)?;
    let reader = parquet::file::reader::SerializedFileReader::new(file)?;
    use parquet::file::reader::FileReader;
    assert_eq!(
        reader.metadata().file_metadata().num_rows(),
        s.members.len() as i64
    );

    // Bad input: exit 2 and a message that says what is wrong, never a panic.
    let bad_date = woolguard(&[
        "segment".as_ref(),
        "--data".as_ref(),
        data,
        "--as-of".as_ref(),
        "2024-13-01".as_ref(),
        "--out".as_ref(),
        pq_out.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&bad_date.stderr);
    assert_eq!(bad_date.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2024-13-01") && !err.contains("panicked"),
        "{err}"
    );

    let bad_tiers = dir.path().join("tiers.toml");
    std::fs::write(&bad_tiers, "thresholds = [0, 100, 50, 2000, 5000, 10000]\n")?;
    let out = run(&pq_out, &["--tiers", bad_tiers.to_str().ok_or("path")?]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`thresholds`") && err.contains("rise strictly"),
        "{err}"
    );

    let missing = run(&pq_out, &["--rfm", "/nonexistent/rfm.toml"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/rfm.toml"), "{err}");
    Ok(())
}

#[test]
fn complete_journey_pareto_share_matches_the_raw_transactions() -> TestResult {
    let Some(source) = common::realdata("completejourney") else {
        eprintln!("skipped: complete_journey_pareto_share_matches_the_raw_transactions needs ../shared/realdata/completejourney");
        return Ok(());
    };
    let out = tempfile::tempdir()?;
    let options = ImportOptions {
        source: Some(&source),
        ..Default::default()
    };
    import(
        &repo().join("data/mappings/completejourney.toml"),
        out.path(),
        &options,
    )?;
    let h = load(out.path())?;
    let tiers = TierRules::default();
    // After the last transaction (2018-01-01 03:47:38): every basket counts.
    let s = segment(&h, &tiers, &RfmRules::default(), midnight(date(2018, 1, 2)));
    let sum = summarise(&s, &tiers);

    // From the CSV: a basket's paid amount is its lines' sales_value summed and rounded to the
    // cent (as the mapping does); households spend the sum of their baskets.
    let mut r = csv::Reader::from_path(source.join("transactions_sample.csv"))?;
    let head = r.headers()?.clone();
    let col = |name: &str| {
        head.iter()
            .position(|h| h == name)
            .ok_or(format!("no {name}"))
    };
    let (hh, basket, value) = (col("household_id")?, col("basket_id")?, col("sales_value")?);
    let mut baskets: HashMap<String, (String, f64)> = HashMap::new();
    for rec in r.records() {
        let rec = rec?;
        let e = baskets
            .entry(rec[basket].to_string())
            .or_insert_with(|| (rec[hh].to_string(), 0.0));
        e.1 += rec[value].parse::<f64>()?;
    }
    let mut spend: HashMap<String, i64> = HashMap::new();
    for (household, v) in baskets.into_values() {
        *spend.entry(household).or_default() += (v * 100.0).round() as i64;
    }
    assert_eq!(spend.len(), 2_377, "households with a basket");
    let mut cents: Vec<i64> = spend.into_values().collect();
    cents.resize(2_379, 0); // two households only ever received campaigns
    cents.sort_unstable_by(|a, b| b.cmp(a));
    let k = 2_379usize.div_ceil(5);
    let top: i64 = cents[..k].iter().sum();
    let all: i64 = cents.iter().sum();
    assert_eq!((k, top, all), (476, 12_654_081, 23_393_524));

    assert_eq!(sum.members, 2_379);
    assert_eq!(sum.members_with_orders, 2_377);
    assert_eq!(sum.pareto.top_members, 476);
    assert_eq!(sum.pareto.top_sales, 126_540.81);
    assert_eq!(sum.pareto.sales, 233_935.24);
    let share = sum.pareto.top_sales_share.unwrap_or(f64::NAN);
    assert!(
        (share - top as f64 / all as f64).abs() < 1e-12,
        "pareto share {share}"
    );
    assert!((share - 0.540_922).abs() < 1e-6, "pareto share {share}");
    Ok(())
}
