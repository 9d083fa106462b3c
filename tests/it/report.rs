//! The HTML report: rendered by the real binary for a small generated history with the sample
//! model, then loaded in headless Chromium to prove that every chart is in the rendered DOM and
//! that no script error or console error occurs. Without Chromium the browser part is skipped
//! with a message, except under CI (`CI=true`), where a missing browser fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use woolguard::data::load;
use woolguard::generate::{generate, Params};
use woolguard::members::diagnose;
use woolguard::members::rfm::RfmRules;
use woolguard::members::tier::TierRules;
use woolguard::report::page::{CHARTS, MODEL_CHARTS};
use woolguard::report::{build, render, Inputs};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generated(dir: &Path, members: u64, seed: u64) {
    let config = Params {
        members,
        seed,
        difficulty: 0.5,
    }
    .check()
    .unwrap_or_else(|e| panic!("{e}"));
    generate(&config, dir, &|_| {}).unwrap_or_else(|e| panic!("generate: {e}"));
}

fn woolguard(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running woolguard: {e}"))
}

/// The Chromium binary, or `None` when it is absent and we are not under CI (skip). Under CI a
/// missing browser is a failure: the test must not pass without running.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| {
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join(name))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|p| p.is_file());
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CI is set but chromium is not installed: run `bash scripts/setup.sh` (it installs Debian's chromium)"
        );
        eprintln!("skipped: chromium is not installed (bash scripts/setup.sh installs it)");
    }
    found
}

/// Runs `cmd` to its end, its output into files beside `profile` (a pipe would fill up with
/// the DOM and stall the browser), or kills it after `limit`. Returns (stdout, stderr).
fn run_with_limit(mut cmd: Command, dir: &Path, limit: Duration) -> (String, String) {
    let (out_path, err_path) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let file =
        |p: &Path| std::fs::File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut child = cmd
        .stdout(Stdio::from(file(&out_path)))
        .stderr(Stdio::from(file(&err_path)))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} did not finish within {limit:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    assert!(status.success(), "{cmd:?} failed ({status}): {stderr}");
    (stdout, stderr)
}

/// The DOM of `page` after Chromium loaded it and ran its scripts, with Chromium's log.
fn dump_dom(browser: &Path, page: &Path, dir: &Path) -> (String, String) {
    let profile = dir.join("chromium-profile");
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg("--dump-dom")
    .arg(format!("file://{}", page.display()));
    run_with_limit(cmd, dir, Duration::from_secs(120))
}

/// The text of the chart `id` (from its `<svg` to its `</svg>`), if present.
fn chart<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!("<svg id=\"{id}\""))?;
    let end = html[start..].find("</svg>")?;
    Some(&html[start..start + end])
}

#[test]
fn the_report_renders_every_chart_in_a_browser_without_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("gen");
    generated(&data, 3_000, 31);
    let page = dir.path().join("out").join("report.html");
    let model = repo().join("models").join("default");
    let out = woolguard(&[
        "report".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--out".as_ref(),
        page.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page)?;
    assert!(
        html.len() < 1024 * 1024,
        "{} bytes for 3,000 members",
        html.len()
    );
    // Self-contained: no resource from anywhere else (the SVG namespace is a name, not a fetch).
    for bad in ["src=\"http", "href=\"http", "@import", "url(http", "<link"] {
        assert!(
            !html.contains(bad),
            "the page loads an outside resource: {bad}"
        );
    }
    for id in CHARTS {
        let svg = chart(&html, id).ok_or_else(|| format!("chart {id} is missing"))?;
        assert!(
            svg.contains("<rect") || svg.contains("<path"),
            "chart {id} draws nothing"
        );
    }

    let Some(browser) = chromium() else {
        return Ok(());
    };
    let (dom, log) = dump_dom(&browser, &page, dir.path());
    assert!(
        !dom.contains("id=\"js-errors\""),
        "script errors in the page: {dom}"
    );
    for marker in ["Uncaught", ":CONSOLE(", "console.error"] {
        assert!(
            !log.contains(marker),
            "console output in chromium's log: {log}"
        );
    }
    // The page's own script ran and counted every chart in the DOM it built.
    let rendered = format!("data-charts-rendered=\"{}\"", CHARTS.len());
    assert!(
        dom.contains(&rendered),
        "expected {rendered} in the rendered DOM (did the script run?)"
    );
    for id in CHARTS {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "chart {id} is not in the rendered DOM"
        );
    }
    assert_eq!(
        dom.matches("<svg").count(),
        CHARTS.len(),
        "one <svg> per chart"
    );
    Ok(())
}

#[test]
fn without_a_model_the_report_has_no_model_charts_and_stays_aggregate() -> TestResult {
    let dir = tempfile::tempdir()?;
    generated(dir.path(), 2_000, 32);
    let h = load(dir.path())?;
    let as_of = chrono::NaiveDate::from_ymd_opt(2024, 9, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .ok_or("bad date")?;
    let (tiers, rfm) = (TierRules::default(), RfmRules::default());
    let diagnose = diagnose::load(None)?;
    let inputs = Inputs {
        history: &h,
        source: "gen <&> \"x\"".to_string(),
        tiers: &tiers,
        rfm: &rfm,
        diagnose: &diagnose,
        as_of,
        model: None,
    };
    let report = build(&inputs)?;
    // The grid and the curve come from the same members as the diagnosis.
    let grid: usize = report.grid.members.iter().flatten().sum();
    assert_eq!(grid + report.grid.no_orders, report.diagnosis.members);
    assert_eq!(
        report.grid.no_orders,
        report.diagnosis.members - report.diagnosis.overall.buyers
    );
    let at20 = report
        .pareto
        .iter()
        .find(|p| p.0 >= 0.2)
        .ok_or("no 20% point")?;
    let top = report.diagnosis.pareto.top_sales_share.ok_or("no sales")?;
    assert!(
        (at20.1 - top).abs() < 0.01,
        "curve {at20:?} vs figure {top}"
    );
    let html = render(&report);
    for id in CHARTS {
        let present = chart(&html, id).is_some();
        assert_eq!(present, !MODEL_CHARTS.contains(id), "chart {id}");
    }
    // The source path is text, escaped.
    assert!(html.contains("gen &lt;&amp;&gt; &quot;x&quot;"));
    assert!(html.contains("2024-09-01 00:00 UTC"));
    Ok(())
}

#[test]
fn the_report_command_refuses_bad_input_with_a_message() -> TestResult {
    let dir = tempfile::tempdir()?;
    generated(dir.path(), 300, 33);
    let page = dir.path().join("r.html");
    let missing = dir.path().join("no-such-model");
    let out = woolguard(&[
        "report".as_ref(),
        "--data".as_ref(),
        dir.path().as_os_str(),
        "--model".as_ref(),
        missing.as_os_str(),
        "--out".as_ref(),
        page.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-model"));
    let out = woolguard(&[
        "report".as_ref(),
        "--data".as_ref(),
        dir.path().as_os_str(),
        "--as-of".as_ref(),
        "yesterday".as_ref(),
        "--out".as_ref(),
        page.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("yesterday"));
    assert!(!page.exists());
    Ok(())
}
