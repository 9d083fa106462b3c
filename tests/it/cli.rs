//! One CLI: every `--as-of` reads the same time forms through one parser and refuses the
//! implausible naming the flag; a moment outside the history is warned about; a failure says its
//! path and cause once with the documented exit code; names are whole and tables carry no debug
//! text; logs are JSON lines with `--log-format json`. Each test runs the real binary.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use woolguard::generate::{generate, Params};
use woolguard::model::artefact::Artefact;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn woolguard<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("WOOLGUARD_LOG_FORMAT")
        .output()
        .unwrap_or_else(|e| panic!("running woolguard: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Both streams, for assertion messages.
fn shown(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

struct Fixture {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    model: PathBuf,
}

/// One generated history (3,000 members, every campaign of the generator) and the shipped
/// model, shared by the tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let data = tmp.path().join("gen");
        let params = Params {
            members: 3_000,
            seed: 12,
            difficulty: 0.5,
        }
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
        generate(&params, &data, &|_| {}).unwrap_or_else(|e| panic!("generate: {e}"));
        let model = model_path(tmp.path());
        Fixture {
            _tmp: tmp,
            data,
            model,
        }
    })
}

/// `models/default`, or, where this build cannot read its training config's `gbm` table, a
/// copy without it (scoring reads only the trees, calibration and thresholds).
fn model_path(dir: &Path) -> PathBuf {
    let path = repo().join("models/default");
    if Artefact::load(&path).is_ok() {
        return path;
    }
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut v: serde_json::Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}"));
    if let Some(c) = v.get_mut("config").and_then(|c| c.as_object_mut()) {
        c.remove("gbm");
    }
    let copy = dir.join("default-model.json");
    std::fs::write(&copy, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    copy
}

/// Each command that takes `--as-of`, with its other arguments; `out` is where it may write.
fn as_of_commands(f: &Fixture, out: &Path) -> Vec<(&'static str, Vec<PathBuf>)> {
    let p = |s: &str| PathBuf::from(s);
    let data = f.data.clone();
    let model = f.model.clone();
    vec![
        (
            "score",
            vec![
                p("score"),
                p("--model"),
                model.clone(),
                p("--data"),
                data.clone(),
                p("--out"),
                out.join("scores.csv"),
            ],
        ),
        (
            "explain",
            vec![
                p("explain"),
                p("--model"),
                model.clone(),
                p("--data"),
                data.clone(),
                p("--member"),
                p("M00000074"),
                p("--json"),
            ],
        ),
        (
            "segment",
            vec![
                p("segment"),
                p("--data"),
                data.clone(),
                p("--out"),
                out.join("segments.csv"),
                p("--json"),
            ],
        ),
        (
            "diagnose",
            vec![p("diagnose"), p("--data"), data.clone(), p("--json")],
        ),
        (
            "report",
            vec![
                p("report"),
                p("--data"),
                data.clone(),
                p("--out"),
                out.join("report.html"),
            ],
        ),
        (
            "audience",
            vec![
                p("audience"),
                p("--data"),
                data,
                p("--model"),
                model,
                p("--out"),
                out.join("audience.csv"),
                p("--json"),
            ],
        ),
    ]
}

/// What a run produced: its stdout and the files it wrote (name, bytes).
type Produced = (String, Vec<(String, Vec<u8>)>);

fn result_of(o: &Output, out: &Path) -> Produced {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "csv"))
                .map(|e| {
                    let bytes = std::fs::read(e.path()).unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), bytes)
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    // The output folder differs from run to run; what is written there must not.
    let stdout = text(&o.stdout).replace(&out.display().to_string(), "<out>");
    (stdout, files)
}

#[test]
fn every_as_of_takes_each_time_form_with_the_same_result() -> TestResult {
    let f = fixture();
    // The same moment three ways, and a date against its midnight written out.
    let same = [
        [
            "2024-12-31T12:00:00Z",
            "2024-12-31T12:00:00",
            "2024-12-31T20:00:00+08:00",
        ],
        ["2024-12-31", "2024-12-31T00:00:00Z", "2024-12-31T00:00:00"],
    ];
    let commands = as_of_commands(f, Path::new("."));
    for (name, _) in commands {
        for forms in &same {
            let mut first: Option<Produced> = None;
            for form in forms {
                let out = tempfile::tempdir()?;
                let (_, mut args) = as_of_commands(f, out.path())
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .ok_or("command lost")?;
                args.push("--as-of".into());
                args.push(form.into());
                let o = woolguard(&args);
                assert_eq!(
                    o.status.code(),
                    Some(0),
                    "{name} --as-of {form}: {}",
                    shown(&o)
                );
                assert!(
                    !text(&o.stderr).contains("WARN"),
                    "{name} --as-of {form} lies within the history: {}",
                    shown(&o)
                );
                let got = result_of(&o, out.path());
                match &first {
                    None => first = Some(got),
                    Some(want) => assert!(
                        *want == got,
                        "{name}: --as-of {form} differs from {}:\n{}\n---\n{}",
                        forms[0],
                        want.0,
                        got.0
                    ),
                }
            }
        }
    }
    Ok(())
}

#[test]
fn an_implausible_as_of_exits_2_naming_the_flag() -> TestResult {
    let f = fixture();
    let out = tempfile::tempdir()?;
    for (name, args) in as_of_commands(f, out.path()) {
        for bad in [
            "0001-01-01",
            "9999-12-31T00:00:00Z",
            "1989-12-31",
            "31/12/2024",
        ] {
            let mut a = args.clone();
            a.push("--as-of".into());
            a.push(bad.into());
            let o = woolguard(&a);
            let err = text(&o.stderr);
            assert_eq!(
                o.status.code(),
                Some(2),
                "{name} --as-of {bad}: {}",
                shown(&o)
            );
            assert!(
                err.contains("--as-of") && err.contains(bad),
                "{name}: the message names neither the flag nor the value: {err}"
            );
        }
    }
    Ok(())
}

#[test]
fn an_as_of_outside_the_history_is_warned_about_once() -> TestResult {
    let f = fixture();
    for (when, expect) in [
        ("1995-01-01", "is before the history's first event"),
        ("2026-01-01", "is after the history's last event"),
    ] {
        let out = tempfile::tempdir()?;
        for (name, mut args) in as_of_commands(f, out.path()) {
            args.push("--as-of".into());
            args.push(when.into());
            let o = woolguard(&args);
            let err = text(&o.stderr);
            // One member cannot be explained before it joined; the rest run on what there is.
            let refused = name == "explain" && when.starts_with("1995");
            assert_eq!(
                o.status.code(),
                Some(if refused { 2 } else { 0 }),
                "{name} --as-of {when}: {}",
                shown(&o)
            );
            assert_eq!(
                err.matches(expect).count(),
                1,
                "{name} --as-of {when}: one warning expected: {err}"
            );
            assert!(err.contains(&format!("--as-of {when}")), "{err}");
        }
    }
    // The generator ends at 2025-01-01T00:00:00Z: its midnight is the history's end, no warning.
    let out = tempfile::tempdir()?;
    for (name, mut args) in as_of_commands(f, out.path()) {
        args.push("--as-of".into());
        args.push("2025-01-01".into());
        let o = woolguard(&args);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", shown(&o));
        assert!(o.stderr.is_empty(), "{name}: {}", shown(&o));
    }
    Ok(())
}

/// Every command that reads a model, given one that does not exist.
#[test]
fn a_missing_model_is_said_once_with_its_path_and_exit_2() -> TestResult {
    let f = fixture();
    let out = tempfile::tempdir()?;
    let missing = out.path().join("no-such-model");
    let m = missing.as_os_str();
    let d = f.data.as_os_str();
    let o = |s: &str| out.path().join(s).into_os_string();
    let (csv, html) = (o("s.csv"), o("r.html"));
    let real = f.model.as_os_str();
    let runs: Vec<Vec<&OsStr>> = vec![
        vec![
            "evaluate".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
        ],
        vec![
            "score".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
            "--out".as_ref(),
            &csv,
        ],
        vec![
            "explain".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
            "--member".as_ref(),
            "M00000001".as_ref(),
        ],
        vec![
            "compare".as_ref(),
            "--models".as_ref(),
            real,
            m,
            "--data".as_ref(),
            d,
        ],
        vec![
            "diagnose".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
        ],
        vec![
            "audience".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
            "--out".as_ref(),
            &csv,
        ],
        vec![
            "report".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
            "--out".as_ref(),
            &html,
        ],
    ];
    let path = missing.display().to_string();
    for args in runs {
        let r = woolguard(&args);
        let err = text(&r.stderr);
        let what = format!("{:?}: {}", args[0], shown(&r));
        assert_eq!(r.status.code(), Some(2), "{what}");
        assert_eq!(err.matches(&path).count(), 1, "the path once: {what}");
        assert_eq!(
            err.matches("os error 2").count(),
            1,
            "the cause once: {what}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {what}");
        assert!(err.starts_with("error: "), "{what}");
    }
    Ok(())
}

#[test]
fn a_missing_history_or_mapping_is_said_once_and_exits_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gone = dir.path().join("nothing-here");
    let path = gone.display().to_string();
    let out = dir.path().join("out");
    let mapping = dir.path().join("nothing.toml");
    let runs: Vec<Vec<&OsStr>> = vec![
        vec!["stats".as_ref(), gone.as_os_str()],
        vec![
            "segment".as_ref(),
            "--data".as_ref(),
            gone.as_os_str(),
            "--as-of".as_ref(),
            "2024-01-01".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
        vec!["diagnose".as_ref(), "--data".as_ref(), gone.as_os_str()],
    ];
    for args in runs {
        let r = woolguard(&args);
        let err = text(&r.stderr);
        let what = format!("{:?}: {}", args[0], shown(&r));
        assert_eq!(r.status.code(), Some(2), "{what}");
        assert_eq!(err.matches(&path).count(), 1, "the path once: {what}");
        assert_eq!(err.lines().count(), 1, "one line: {what}");
    }
    let r = woolguard(&[
        "import".as_ref(),
        "--mapping".as_ref(),
        mapping.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let err = text(&r.stderr);
    assert_eq!(
        r.status.code(),
        Some(2),
        "a mapping that is not there: {}",
        shown(&r)
    );
    let mapping = mapping.display().to_string();
    assert_eq!(err.matches(&mapping).count(), 1, "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    Ok(())
}

/// The first word of each row under a table's header, up to the next header at the margin.
fn table_names(stdout: &str, title: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{title} ")))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn diagnose_prints_whole_campaign_names_that_select_accepts() -> TestResult {
    let f = fixture();
    let o = woolguard(&["diagnose".as_ref(), "--data".as_ref(), f.data.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let stdout = text(&o.stdout);
    let campaigns = table_names(&stdout, "campaign");
    assert!(
        campaigns
            .iter()
            .any(|c| c == "fx-2407-summer-invite-wxmini"),
        "the long campaign name is cut: {campaigns:?}\n{stdout}"
    );
    let out = tempfile::tempdir()?;
    let file = out.path().join("a.csv");
    // `(none)` stands for members who joined outside any campaign: not a campaign's name.
    for c in campaigns.iter().filter(|c| !c.starts_with('(')) {
        let select = format!("campaign = \"{c}\"");
        let a = woolguard(&[
            "audience".as_ref(),
            "--data".as_ref(),
            f.data.as_os_str(),
            "--select".as_ref(),
            select.as_ref(),
            "--out".as_ref(),
            file.as_os_str(),
        ]);
        assert_eq!(a.status.code(), Some(0), "{select}: {}", shown(&a));
    }
    Ok(())
}

#[test]
fn segment_tables_name_each_column_once() -> TestResult {
    let f = fixture();
    let out = tempfile::tempdir()?;
    let file = out.path().join("s.csv");
    let o = woolguard(&[
        "segment".as_ref(),
        "--data".as_ref(),
        f.data.as_os_str(),
        "--as-of".as_ref(),
        "2024-10-01".as_ref(),
        "--out".as_ref(),
        file.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let stdout = text(&o.stdout);
    let headers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("segment ") || l.starts_with("tier "))
        .collect();
    assert_eq!(headers.len(), 2, "{stdout}");
    for h in headers {
        let words: Vec<&str> = h.split_whitespace().collect();
        let unique: HashSet<&&str> = words.iter().collect();
        assert_eq!(unique.len(), words.len(), "a column named twice: {h}");
    }
    assert!(!stdout.contains('{'), "debug text: {stdout}");
    Ok(())
}

/// Debug text (`{…}`, `Some(…)`, `Targets {`) in what a user reads, if any.
fn debug_text(stdout: &str) -> Option<&str> {
    stdout
        .lines()
        .find(|l| l.contains('{') || l.contains('}') || l.contains("Some(") || l.contains("None"))
}

#[test]
fn text_output_carries_no_debug_text() -> TestResult {
    let f = fixture();
    let out = tempfile::tempdir()?;
    let (d, m) = (f.data.as_os_str(), f.model.as_os_str());
    let file = |name: &str| out.path().join(name).into_os_string();
    let (seg, aud) = (file("seg.csv"), file("aud.csv"));
    let runs: Vec<Vec<&OsStr>> = vec![
        vec!["stats".as_ref(), d],
        vec![
            "evaluate".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
        ],
        vec![
            "explain".as_ref(),
            "--model".as_ref(),
            m,
            "--data".as_ref(),
            d,
            "--member".as_ref(),
            "M00000074".as_ref(),
        ],
        vec![
            "compare".as_ref(),
            "--models".as_ref(),
            m,
            m,
            "--data".as_ref(),
            d,
        ],
        vec![
            "diagnose".as_ref(),
            "--data".as_ref(),
            d,
            "--model".as_ref(),
            m,
        ],
        vec![
            "segment".as_ref(),
            "--data".as_ref(),
            d,
            "--as-of".as_ref(),
            "2024-12-01".as_ref(),
            "--out".as_ref(),
            &seg,
        ],
        vec![
            "audience".as_ref(),
            "--data".as_ref(),
            d,
            "--model".as_ref(),
            m,
            "--drop".as_ref(),
            "review".as_ref(),
            "--out".as_ref(),
            &aud,
        ],
    ];
    for args in runs {
        let o = woolguard(&args);
        assert_eq!(o.status.code(), Some(0), "{:?}: {}", args[0], shown(&o));
        let stdout = text(&o.stdout);
        if let Some(line) = debug_text(&stdout) {
            panic!("{:?} prints debug text: {line}\n{stdout}", args[0]);
        }
    }
    Ok(())
}

/// A quick training configuration (few trees).
#[cfg(feature = "gbm")]
const QUICK: &str = r#"
name = "wool"
[split]
train = 0.6
calibration = 0.2
[gbm]
num_trees = 20
num_leaves = 7
num_threads = 2
[baselines]
forest_trees = 5
forest_sample_rows = 1000
"#;

#[cfg(feature = "gbm")]
#[test]
fn train_prints_tables_without_debug_text() -> TestResult {
    let f = fixture();
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("quick.toml");
    std::fs::write(&config, QUICK)?;
    let model = dir.path().join("wool-quick");
    let o = woolguard(&[
        "train".as_ref(),
        "--data".as_ref(),
        f.data.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
        "--out".as_ref(),
        model.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let stdout = text(&o.stdout);
    assert!(debug_text(&stdout).is_none(), "debug text: {stdout}");
    assert!(
        stdout.contains("policy targets: reject_precision"),
        "the policy in words: {stdout}"
    );
    assert!(
        stdout.contains("← the model's reject threshold"),
        "{stdout}"
    );
    assert!(stdout.contains("feature importance: share of the trees' split gain"));
    Ok(())
}

#[test]
fn json_logs_are_one_object_a_line_with_level_and_message() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("gen");
    let args = ["generate", "--members", "300", "--seed", "3", "--out"];
    let by_flag = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .arg("--log-format")
        .arg("json")
        .args(args)
        .arg(&out)
        .env_remove("RUST_LOG")
        .output()?;
    let by_env = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .arg(&out)
        .env("WOOLGUARD_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .output()?;
    for o in [by_flag, by_env] {
        assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
        let err = text(&o.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert!(!lines.is_empty(), "no log line: {}", shown(&o));
        for line in lines {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?;
            assert!(v["level"].is_string(), "{line}");
            assert!(v["fields"]["message"].is_string(), "{line}");
        }
        assert!(err.contains("\"members\":300"), "fields carried: {err}");
    }
    // A failure is a JSON line too; RUST_LOG=warn keeps the info lines out.
    let missing = dir.path().join("missing");
    let o = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(["--log-format", "json", "stats"])
        .arg(&missing)
        .env("RUST_LOG", "warn")
        .output()?;
    assert_eq!(o.status.code(), Some(2), "{}", shown(&o));
    let err = text(&o.stderr);
    let v: serde_json::Value = serde_json::from_str(err.trim())?;
    assert_eq!(v["level"], "ERROR", "{err}");
    let quiet = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(["generate", "--members", "100", "--out"])
        .arg(dir.path().join("quiet"))
        .env("RUST_LOG", "warn")
        .output()?;
    assert_eq!(quiet.status.code(), Some(0), "{}", shown(&quiet));
    assert!(quiet.stderr.is_empty(), "{}", shown(&quiet));
    Ok(())
}

/// The trade-off table: one row a cut-off, highest first, the model's thresholds marked, and its
/// figures the evaluation's own at those thresholds.
#[test]
fn evaluate_shows_the_tradeoff_of_each_cutoff() -> TestResult {
    let f = fixture();
    let o = woolguard(&[
        OsStr::new("evaluate"),
        OsStr::new("--model"),
        f.model.as_os_str(),
        OsStr::new("--data"),
        f.data.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert!(o.status.success(), "{}", shown(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    let rows = v["tradeoff"].as_array().ok_or("no tradeoff")?;
    assert!(rows.len() >= 10, "{} rows", rows.len());
    let cut = |r: &serde_json::Value| r["threshold"].as_f64().unwrap_or(f64::NAN);
    assert!(rows.windows(2).all(|w| cut(&w[0]) > cut(&w[1])));
    let reject = rows
        .iter()
        .find(|r| r["current"] == "reject")
        .ok_or("no reject row")?;
    assert_eq!(reject["precision"], v["overall"]["reject"]["precision"]);
    assert_eq!(reject["caught"], v["overall"]["reject"]["recall"]);
    let members = v["overall"]["members"].as_f64().unwrap_or(0.0);
    let flagged = v["overall"]["reject"]["flagged"].as_f64().unwrap_or(-1.0);
    let per_10k = reject["per_10k"].as_f64().unwrap_or(-1.0);
    assert!(
        (per_10k - 10_000.0 * flagged / members).abs() < 1e-6,
        "{per_10k}"
    );
    // Against the truth too, row for row.
    let truth = v["tradeoff_truth"].as_array().ok_or("no truth table")?;
    assert_eq!(truth.len(), rows.len());
    // Every feature's importance, the shipped model's split gains shared out in full.
    let features = v["importance"]["features"]
        .as_array()
        .ok_or("no importance")?;
    assert_eq!(v["importance"]["rows"], v["overall"]["members"]);
    let share: f64 = features
        .iter()
        .filter_map(|f| f["gain_share"].as_f64())
        .sum();
    assert!((share - 1.0).abs() < 1e-9, "gain shares add up to {share}");
    assert!(features
        .iter()
        .any(|f| f["mean_abs_attribution"].as_f64() > Some(0.0)));
    let o = woolguard(&[
        OsStr::new("evaluate"),
        OsStr::new("--model"),
        f.model.as_os_str(),
        OsStr::new("--data"),
        f.data.as_os_str(),
    ]);
    let out = text(&o.stdout);
    assert!(out.contains("← the model's reject threshold"), "{out}");
    assert!(out.contains("← the model's review threshold"), "{out}");
    Ok(())
}
