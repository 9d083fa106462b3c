//! Audience tests: the selection language through the public API, an audience on a generated
//! history checked against a filter written out here (tiers, segments and channels from the
//! segmentation's own rows, decisions from the batch scorer), the command end to end with the
//! file read back and the summary's counts adding up, bad selections, and a CDNOW check against
//! the raw CSV.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use woolguard::data::{load, History};
use woolguard::expr::select::{self, Expr};
use woolguard::generate::{generate, Params};
use woolguard::members::rfm::RfmRules;
use woolguard::members::segment::{segment, Segmentation};
use woolguard::members::tier::TierRules;
use woolguard::model::artefact::{Artefact, Decision};
use woolguard::model::score::rows_as_of;
use woolguard::scoring::campaign::{self as audience, Removal};
use woolguard::scoring::members::MemberScorer;
use woolguard::scoring::{AudiencePolicy, DropLevel, Judge};

use crate::common;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY: i64 = 86_400;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn midnight(y: i32, m: u32, d: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
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

fn woolguard(args: &[&OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running woolguard: {e}"))
}

/// `models/default`, or, where this build cannot read its training config's `gbm` table
/// (`--no-default-features` before main's 147528a), a copy without that table in `dir`: the
/// trees, calibration and thresholds, all that scoring reads, are the same.
fn model_path(dir: &Path) -> PathBuf {
    let path = repo().join("models/default");
    if Artefact::load(&path).is_ok() {
        return path;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    if let Some(c) = v.get_mut("config").and_then(|c| c.as_object_mut()) {
        c.remove("gbm");
    }
    let copy = dir.join("default-model.json");
    std::fs::write(&copy, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    copy
}

fn model(dir: &Path) -> Artefact {
    Artefact::load(&model_path(dir)).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(text: &str, h: &History, s: &Segmentation, model: bool) -> Expr {
    let vocab = audience::vocabulary(h, s, &TierRules::default(), model);
    select::parse(text, &vocab).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn the_language_reads_this_historys_names() {
    let (_dir, h) = generated(600, 31);
    let s = segment(
        &h,
        &TierRules::default(),
        &RfmRules::default(),
        midnight(2024, 7, 1),
    );
    let vocab = audience::vocabulary(&h, &s, &TierRules::default(), false);
    assert!(!vocab.channels.is_empty());
    let channel = &vocab.channels[0].0;
    let ok = format!("channel = {channel} and (tier >= silver or not segment = lost)");
    assert!(select::parse(&ok, &vocab).is_ok(), "{ok}");
    let e = select::parse("channel = nowhere", &vocab).err();
    let e = e.unwrap_or_else(|| panic!("an unknown channel parsed"));
    assert_eq!(e.col, 11);
    assert!(e.message.contains(channel.as_str()), "{e}");
    // Precedence: `a or b and c` is `a or (b and c)`.
    let a = select::parse("r = 5 or r = 1 and f = 5", &vocab);
    let b = select::parse("r = 5 or (r = 1 and f = 5)", &vocab);
    assert_eq!(a, b);
    assert_ne!(a, select::parse("(r = 5 or r = 1) and f = 5", &vocab));
    let e = select::parse("quality > 50", &vocab).err();
    assert!(e.is_some_and(|e| e.col == 1 && e.message.contains("--model")));
}

/// The filter of the test below, written out by hand over the segmentation's file rows.
fn by_hand(
    h: &History,
    s: &Segmentation,
    tiers: &TierRules,
    channel: &str,
    decision: &HashMap<String, Decision>,
) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for i in 0..s.members.len() {
        let row = s.row(h, tiers, i);
        let tier_at = tiers.names.iter().position(|n| *n == row.tier);
        let silver_up = tier_at.is_some_and(|t| t >= 2);
        let seg_ok = ["champions", "loyal", "potential_loyalist"].contains(&row.segment);
        let ch = h.keys.name(h.members.channel[s.members[i] as usize]);
        let selected = (silver_up || seg_ok) && ch != channel;
        if !selected {
            out.insert(row.member_id, "selection");
            continue;
        }
        match decision[&row.member_id] {
            Decision::Pass => {}
            Decision::Review => {
                out.insert(row.member_id, "model_review");
            }
            Decision::Reject => {
                out.insert(row.member_id, "model_reject");
            }
        }
    }
    out
}

#[test]
fn an_audience_matches_a_filter_written_by_hand() -> TestResult {
    let (dir, h) = generated(2_500, 32);
    let tiers = TierRules::default();
    let as_of = midnight(2024, 7, 1);
    let s = segment(&h, &tiers, &RfmRules::default(), as_of);
    let a = model(dir.path());
    // Decisions from the batch scorer's rows and `score_rows` (the path `woolguard score` uses).
    let (members, rows) = rows_as_of(&h, &a, as_of);
    let scored = a.score_rows(&rows.values, 0)?;
    let decision: HashMap<String, Decision> = members
        .iter()
        .zip(&scored)
        .map(|(&m, sc)| (h.members.id(m).to_string(), sc.decision))
        .collect();
    assert_eq!(members.len(), s.members.len());
    let vocab = audience::vocabulary(&h, &s, &tiers, true);
    // The most common channel, dropped by the selection.
    let mut per: HashMap<u32, usize> = HashMap::new();
    for &m in &s.members {
        *per.entry(h.members.channel[m as usize]).or_default() += 1;
    }
    let top = per
        .iter()
        .max_by_key(|(sym, n)| (**n, std::cmp::Reverse(**sym)))
        .map(|(&sym, _)| h.keys.name(sym).to_string())
        .ok_or("no channel")?;
    let text = format!(
        "(tier >= silver or segment in [champions, loyal, potential_loyalist]) and not channel = {top}"
    );
    let expr = select::parse(&text, &vocab)?;
    let policy = AudiencePolicy {
        drop: DropLevel::Review,
        min_quality: None,
    };
    let judge = Judge::model_only();
    let scorer = MemberScorer::new(&h, &a, judge, as_of, None);
    let scores = audience::score(&scorer, &s, Some(&policy))?;
    let aud = audience::build(
        &h,
        &s,
        &tiers,
        Some((&text, &expr)),
        Some(scores),
        Some(policy),
    )?;
    let expected = by_hand(&h, &s, &tiers, &top, &decision);
    let mut got = BTreeMap::new();
    for (i, r) in aud.removal.iter().enumerate() {
        let id = h.members.id(s.members[i]).to_string();
        match r {
            Removal::Kept => {}
            Removal::Selection => {
                got.insert(id, "selection");
            }
            Removal::Dropped(Decision::Review, _) => {
                got.insert(id, "model_review");
            }
            Removal::Dropped(_, code) => {
                assert!(!code.is_empty(), "a rejected member without a reason");
                got.insert(id, "model_reject");
            }
        }
    }
    assert_eq!(got, expected);
    let sum = &aud.summary;
    assert_eq!(sum.kept + sum.removed, s.members.len());
    assert_eq!(sum.kept, aud.kept.len());
    assert!(sum.kept > 20 && sum.removed > 20, "{sum:?}");
    let by_model = expected.values().filter(|v| v.starts_with("model")).count();
    assert!(by_model > 0, "the model removed nobody: {sum:?}");
    let total = |c: &[audience::Count]| c.iter().map(|c| c.members).sum::<usize>();
    assert_eq!(total(&sum.removed_by_reason), sum.removed);
    assert_eq!(total(&sum.removed_by_tier), sum.removed);
    assert_eq!(total(&sum.removed_by_channel), sum.removed);
    assert_eq!(total(&sum.removed_by_code), by_model);
    assert_eq!(total(&sum.decisions), s.members.len());
    assert_eq!(
        sum.removed_by_channel
            .iter()
            .find(|c| c.name == top)
            .map(|c| c.members),
        Some(per.values().max().copied().unwrap_or(0)),
        "every member of {top} is removed by the selection"
    );
    // The wool share of the removed, from the labels table directly.
    let mut latest: HashMap<u32, (i64, u8)> = HashMap::new();
    for i in 0..h.labels.len() {
        let e = latest.entry(h.labels.member[i]).or_insert((i64::MIN, 0));
        if h.labels.at[i] >= e.0 {
            *e = (h.labels.at[i], h.labels.label[i]);
        }
    }
    let (mut labelled, mut wool) = (0, 0);
    for (i, &m) in s.members.iter().enumerate() {
        if expected.contains_key(h.members.id(m)) {
            assert_ne!(aud.removal[i], Removal::Kept);
            if let Some(&(_, l)) = latest.get(&m) {
                labelled += 1;
                wool += usize::from(l == 1);
            }
        }
    }
    assert_eq!(
        (sum.labels.removed.labelled, sum.labels.removed.wool),
        (labelled, wool)
    );
    assert!(labelled > 0, "no removed member has a review");
    assert_eq!(
        sum.labels.removed.members,
        sum.labels.removed_by_selection.members + sum.labels.removed_by_model.members
    );
    Ok(())
}

/// An audience's scores taken seven members at a time are the scores of one pass over every
/// member, and both are the probabilities of the whole feature matrix at once.
#[test]
fn audience_scores_in_chunks_are_the_scores_of_one_pass() -> TestResult {
    let (dir, h) = generated(600, 32);
    let tiers = TierRules::default();
    let as_of = midnight(2024, 7, 1);
    let s = segment(&h, &tiers, &RfmRules::default(), as_of);
    let a = model(dir.path());
    let policy = AudiencePolicy {
        drop: DropLevel::Review,
        min_quality: Some(60),
    };
    let scorer = MemberScorer::new(&h, &a, Judge::model_only(), as_of, None);
    let one = audience::score_in_chunks(&scorer, &s, Some(&policy), usize::MAX)?;
    let sevens = audience::score_in_chunks(&scorer, &s, Some(&policy), 7)?;
    assert!(s.members.len() > 70, "{} members", s.members.len());
    assert_eq!(sevens, one);
    assert_eq!(audience::score(&scorer, &s, Some(&policy))?, one);
    let (members, rows) = rows_as_of(&h, &a, as_of);
    assert_eq!(members, s.members);
    let whole: Vec<u64> = a
        .probabilities(&rows.values)?
        .iter()
        .map(|p| p.to_bits())
        .collect();
    let chunked: Vec<u64> = sevens.probability.iter().map(|p| p.to_bits()).collect();
    assert_eq!(chunked, whole);
    let dropped = sevens.dropped.iter().flatten().count();
    assert!(
        dropped > 0 && dropped < members.len(),
        "{dropped} of {} dropped",
        members.len()
    );
    Ok(())
}

fn read_parquet(
    path: &Path,
) -> Result<Vec<arrow::record_batch::RecordBatch>, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(path)?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

fn column<'a, T: 'static>(
    b: &'a arrow::record_batch::RecordBatch,
    name: &str,
) -> Result<&'a T, String> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or(format!("no column {name} of that type"))
}

#[test]
fn the_audience_command_writes_what_it_keeps_and_says_why_it_removed_the_rest() -> TestResult {
    let (dir, h) = generated(2_000, 33);
    let data = dir.path().as_os_str();
    let model_path = model_path(dir.path());
    let pq = dir.path().join("out/aud.parquet");
    let csv_out = dir.path().join("aud.csv");
    let select = "tier >= two-star and segment in [champions, loyal, need_attention, at_risk]";
    let run = |out: &Path, extra: &[&OsStr]| {
        let mut args: Vec<&OsStr> = vec![
            "audience".as_ref(),
            "--data".as_ref(),
            data,
            "--as-of".as_ref(),
            "2024-07-01".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        args.extend_from_slice(extra);
        woolguard(&args)
    };
    let ok = run(
        &pq,
        &[
            "--model".as_ref(),
            model_path.as_os_str(),
            "--select".as_ref(),
            select.as_ref(),
            "--drop".as_ref(),
            "reject".as_ref(),
            "--json".as_ref(),
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
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(u64::MAX) as usize;
    let sum_of = |key: &str| -> usize {
        json[key]
            .as_array()
            .map_or(usize::MAX, |a| a.iter().map(|c| n(&c["members"])).sum())
    };
    let (members, kept, removed) = (n(&json["members"]), n(&json["kept"]), n(&json["removed"]));
    assert_eq!(kept + removed, members);
    for key in ["removed_by_reason", "removed_by_tier", "removed_by_channel"] {
        assert_eq!(sum_of(key), removed, "{key} does not add up: {json}");
    }
    assert_eq!(sum_of("decisions"), members);
    assert_eq!(json["select"], select);
    assert_eq!(json["drop"], "reject");

    // The same audience from the library, and the file read back.
    let tiers = TierRules::default();
    let s = segment(&h, &tiers, &RfmRules::default(), midnight(2024, 7, 1));
    let a = model(dir.path());
    let expr = parse(select, &h, &s, true);
    let policy = AudiencePolicy::default();
    let judge = Judge::model_only();
    let scorer = MemberScorer::new(&h, &a, judge, s.as_of, None);
    let scores = audience::score(&scorer, &s, Some(&policy))?;
    let aud = audience::build(
        &h,
        &s,
        &tiers,
        Some((select, &expr)),
        Some(scores),
        Some(policy),
    )?;
    assert_eq!(aud.summary.kept, kept);
    let expected: Vec<String> = aud
        .kept
        .iter()
        .map(|&i| h.members.id(s.members[i]).to_string())
        .collect();
    let batches = read_parquet(&pq)?;
    let mut ids = Vec::new();
    for b in &batches {
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "member_id",
                "tier",
                "segment",
                "cluster",
                "cluster_name",
                "decision",
                "quality",
                "probability"
            ]
        );
        let id = column::<StringArray>(b, "member_id")?;
        let tier = column::<StringArray>(b, "tier")?;
        let seg = column::<StringArray>(b, "segment")?;
        let cluster = column::<Int64Array>(b, "cluster")?;
        let decision = column::<StringArray>(b, "decision")?;
        let quality = column::<Int64Array>(b, "quality")?;
        let p = column::<Float64Array>(b, "probability")?;
        for r in 0..b.num_rows() {
            ids.push(id.value(r).to_string());
            assert_ne!(tier.value(r), "one-star");
            assert!(
                ["champions", "loyal", "need_attention", "at_risk"].contains(&seg.value(r)),
                "{}",
                seg.value(r)
            );
            assert!((1..=s.clustering.k() as i64).contains(&cluster.value(r)));
            assert_ne!(decision.value(r), "reject");
            assert_eq!(
                quality.value(r),
                (100.0 * (1.0 - p.value(r))).round() as i64
            );
            assert!(!p.is_null(r));
        }
    }
    assert_eq!(ids, expected);

    // CSV, no model: the four columns and the cluster name; text summary.
    let text = run(&csv_out, &["--select".as_ref(), select.as_ref()]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        text.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    assert!(
        stdout.contains("removed by reason") && stdout.contains("selection"),
        "{stdout}"
    );
    let mut r = csv::Reader::from_path(&csv_out)?;
    let headers: Vec<String> = r.headers()?.iter().map(String::from).collect();
    assert_eq!(
        headers,
        ["member_id", "tier", "segment", "cluster", "cluster_name"]
    );
    let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>()?;
    let selected: HashSet<String> = (0..s.members.len())
        .filter(|&i| expr_matches(&h, &s, &expr, i))
        .map(|i| h.members.id(s.members[i]).to_string())
        .collect();
    assert_eq!(rows.len(), selected.len());
    assert!(rows.iter().all(|row| selected.contains(&row[0])));
    for row in &rows {
        let id: usize = row[3].parse()?;
        assert_eq!(&row[4], s.clustering.clusters[id - 1].name);
    }
    Ok(())
}

fn expr_matches(h: &History, s: &Segmentation, e: &Expr, i: usize) -> bool {
    e.matches(&audience::facts(h, s, None, i))
}

#[test]
fn bad_selections_and_flags_exit_2_with_the_column() -> TestResult {
    let (dir, _h) = generated(300, 34);
    let out = dir.path().join("aud.parquet");
    let run = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec![
            "audience".as_ref(),
            "--data".as_ref(),
            dir.path().as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        woolguard(&args)
    };
    let cases: [(&[&str], &str); 5] = [
        (
            &["--select", "tier >= silver and tir = gold"],
            "--select: col 20: unknown field \"tir\"; fields are tier",
        ),
        (
            &["--select", "tier >= gold"],
            "--select: col 9: unknown tier \"gold\"",
        ),
        (
            &["--select", "segment in [champions, loyal"],
            "--select: col 29: expected \",\" or \"]\"",
        ),
        (
            &["--select", "decision = reject"],
            "--select: col 1: decision needs a model",
        ),
        (&["--drop", "reject"], "--model"),
    ];
    for (args, message) in cases {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!out.exists(), "a failed audience wrote a file");
    Ok(())
}

#[test]
fn cdnow_audience_counts_match_the_raw_csv() -> TestResult {
    let Some(source) = common::realdata("cdnow") else {
        eprintln!(
            "skipped: cdnow_audience_counts_match_the_raw_csv needs ../shared/realdata/cdnow"
        );
        return Ok(());
    };
    let out = tempfile::tempdir()?;
    let options = woolguard::data::import::ImportOptions {
        source: Some(&source),
        ..Default::default()
    };
    woolguard::data::import::import(
        &repo().join("data/mappings/cdnow.toml"),
        out.path(),
        &options,
    )?;
    let h = load(out.path())?;
    let tiers = TierRules::default();
    let as_of = midnight(1998, 6, 30);
    let s = segment(&h, &tiers, &RfmRules::default(), as_of);
    let sel = |text: &str| -> Result<usize, Box<dyn std::error::Error>> {
        let e = parse(text, &h, &s, false);
        let aud = audience::build(&h, &s, &tiers, Some((text, &e)), None, None)?;
        assert_eq!(aud.summary.kept + aud.summary.removed, 23_570);
        Ok(aud.summary.kept)
    };
    // From the CSV: customers with at least 5 purchases before 1998-06-30 and 100.00 spent,
    // and those whose last purchase is within 90 days of it.
    let mut r = csv::Reader::from_path(source.join("cdnow_master.csv"))?;
    let mut per: HashMap<String, (usize, i64, i64)> = HashMap::new();
    let as_of_day = as_of / DAY;
    for rec in r.records() {
        let rec = rec?;
        let d = NaiveDate::parse_from_str(&rec[1], "%Y%m%d")?;
        let day = (d - NaiveDate::from_ymd_opt(1970, 1, 1).ok_or("epoch")?).num_days();
        if day >= as_of_day {
            continue;
        }
        let cents = (rec[3].parse::<f64>()? * 100.0).round() as i64;
        let e = per.entry(rec[0].to_string()).or_insert((0, 0, i64::MIN));
        e.0 += 1;
        e.1 += cents;
        e.2 = e.2.max(day);
    }
    let frequent = per.values().filter(|v| v.0 >= 5 && v.1 >= 10_000).count();
    let recent = per.values().filter(|v| as_of_day - v.2 <= 90).count();
    assert_eq!(sel("frequency >= 5 and monetary >= 100")?, frequent);
    assert_eq!(sel("recency_days <= 90")?, recent);
    assert_eq!(
        sel("not recency_days > 90 and not (frequency < 5 or monetary < 100)")?,
        per.values()
            .filter(|v| as_of_day - v.2 <= 90 && v.0 >= 5 && v.1 >= 10_000)
            .count()
    );
    // Segment sizes as written down in members.rs (python over the CSV): 5,924 + 2,787.
    assert_eq!(sel("segment in [champions, loyal]")?, 8_711);
    eprintln!(
        "cdnow as of 1998-06-30: {frequent} frequent, {recent} recent; clusters {:?}",
        s.clustering
            .clusters
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
    );
    Ok(())
}
