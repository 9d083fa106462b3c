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
        "--window-size=1280,2000",
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

/// Appended (by the test, to a copy of the page) after the page's own scripts: measures the
/// rendered layout and writes what it found into `#layout-check`. Axis labels (ticks and titles)
/// of a chart must not overlap (their boxes may touch within half a pixel); every legend swatch
/// must have the colour of the marks of its series (grey small-number marks aside).
const LAYOUT_CHECK: &str = r#"<script>(function(){
  var problems=[],pairs=0,legends=0;
  function hit(a,b){return a.left<b.right-0.5&&b.left<a.right-0.5&&a.top<b.bottom-0.5&&b.top<a.bottom-0.5;}
  function paint(e){var s=getComputedStyle(e);return (e.tagName==='rect'||e.tagName==='circle')?s.fill:s.stroke;}
  document.querySelectorAll('svg.chart').forEach(function(svg){
    var t=[].slice.call(svg.querySelectorAll('text.tick,text.label'));
    var r=t.map(function(e){return e.getBoundingClientRect();});
    for(var i=0;i<t.length;i++){for(var j=i+1;j<t.length;j++){
      if(r[i].width===0||r[j].width===0){continue;}
      pairs++;
      if(hit(r[i],r[j])){problems.push('overlap in '+svg.id+': "'+t[i].textContent+'" and "'+t[j].textContent+'"');}
    }}
    svg.querySelectorAll('.swatch').forEach(function(sw){
      var name=sw.getAttribute('data-series');
      var marks=[].slice.call(svg.querySelectorAll('[data-series]')).filter(function(e){
        return e.getAttribute('data-series')===name&&!e.classList.contains('swatch')&&!e.classList.contains('small');});
      marks.forEach(function(m){
        legends++;
        if(paint(m)!==paint(sw)){problems.push('legend in '+svg.id+': '+name+' swatch '+paint(sw)+', mark '+paint(m));}
      });
    });
  });
  var pre=document.createElement('pre');
  pre.id='layout-check';
  pre.setAttribute('data-problems',String(problems.length));
  pre.setAttribute('data-pairs',String(pairs));
  pre.setAttribute('data-legend-marks',String(legends));
  pre.textContent=problems.join('\n');
  document.body.appendChild(pre);
})();</script>"#;

/// A number attribute of `#layout-check` in a dumped DOM.
fn layout_number(dom: &str, attr: &str) -> Option<usize> {
    let start = dom.find("id=\"layout-check\"")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let at = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
    tag[at..at + tag[at..].find('"')?].parse().ok()
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
    // The drift section: the model's training population against these members, ten features.
    let drift = html
        .find(r#"<section id="drift">"#)
        .map(|i| &html[i..])
        .and_then(|s| s.find("</section>").map(|j| &s[..j]))
        .ok_or("no drift section")?;
    assert!(drift.contains("held-out training rows"), "{drift}");
    assert_eq!(drift.matches("<tr><td><code>").count(), 10, "{drift}");

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

    // Layout, measured in the browser on a copy of the page with the check appended.
    let checked = dir.path().join("out").join("layout.html");
    std::fs::write(
        &checked,
        html.replace("</body>", &format!("{LAYOUT_CHECK}</body>")),
    )?;
    let (dom, _) = dump_dom(&browser, &checked, dir.path());
    let problems = layout_number(&dom, "data-problems").ok_or("no #layout-check in the DOM")?;
    let pairs = layout_number(&dom, "data-pairs").unwrap_or(0);
    let legend_marks = layout_number(&dom, "data-legend-marks").unwrap_or(0);
    let detail = dom
        .find("id=\"layout-check\"")
        .map_or("", |i| &dom[i..(i + 4_000).min(dom.len())]);
    assert_eq!(problems, 0, "layout problems: {detail}");
    // The check looked at something: hundreds of label pairs, and legend swatches against
    // the marks of their series in every chart with a legend.
    assert!(pairs > 1_000, "only {pairs} label pairs measured");
    assert!(
        legend_marks > 50,
        "only {legend_marks} legend marks compared"
    );
    eprintln!("layout: {pairs} axis label pairs without overlap, {legend_marks} marks in their legend colour");
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
        truth: None,
        judge: woolguard::scoring::Judge::model_only(),
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

/// Inputs over `h` as of `as_of` with `rules`, no model.
fn inputs<'a>(
    h: &'a woolguard::data::history::History,
    tiers: &'a TierRules,
    rfm: &'a RfmRules,
    rules: &'a diagnose::DiagnoseRules,
    as_of: i64,
) -> Inputs<'a> {
    Inputs {
        history: h,
        source: "gen".to_string(),
        tiers,
        rfm,
        diagnose: rules,
        as_of,
        model: None,
        truth: None,
        judge: woolguard::scoring::Judge::model_only(),
    }
}

#[test]
fn shares_on_too_few_members_are_greyed_with_their_count_and_wool_has_its_interval() -> TestResult {
    let dir = tempfile::tempdir()?;
    generated(dir.path(), 3_000, 34);
    let h = load(dir.path())?;
    let as_of = h.time_span().map_or(0, |(_, last)| last + 1);
    // The minimum one above the smallest channel's labelled count: that channel is under it,
    // the largest is not.
    let (tiers, rfm) = (TierRules::default(), RfmRules::default());
    let plain = diagnose::load(None)?;
    let first = build(&inputs(&h, &tiers, &rfm, &plain, as_of))?;
    let min = first
        .diagnosis
        .by_channel
        .iter()
        .map(|g| g.labelled)
        .min()
        .ok_or("no channel")?
        + 1;
    let mut p = diagnose::DiagnoseParams::default();
    p.quality.min_members = min;
    let rules = p.check().map_err(|e| format!("{e:?}"))?;
    let report = build(&inputs(&h, &tiers, &rfm, &rules, as_of))?;
    let html = render(&report);
    let d = &report.diagnosis;
    assert!(d.wool_measurable, "{}", d.wool_evidence.reason);
    let bars = chart(&html, "channel-wool-overall").ok_or("no channel-wool-overall")?;
    let (mut small, mut large) = (0, 0);
    for g in &d.by_channel {
        let share = g.wool_share.ok_or("a channel without labelled members")?;
        let [lo, hi] = g.wool_interval.ok_or("no interval")?;
        let wilson = diagnose::wilson(g.wool, g.labelled, diagnose::Z95).ok_or("n = 0")?;
        assert_eq!([lo, hi], wilson, "{}", g.name);
        let pct = |v: f64| woolguard::report::svg::percent(v);
        let tip = if g.labelled < min {
            small += 1;
            format!(
                r#"fill="{}" class="small" data-series="wool share" data-tip="{}: {}, 95% interval {}–{} (n={}, fewer than {min}: too few to read as a fact)""#,
                woolguard::report::svg::SMALL,
                g.name,
                pct(share),
                pct(lo),
                pct(hi),
                g.labelled
            )
        } else {
            large += 1;
            format!(
                r#"data-series="wool share" data-tip="{}: {}, 95% interval {}–{} (n={})""#,
                g.name,
                pct(share),
                pct(lo),
                pct(hi),
                g.labelled
            )
        };
        assert!(bars.contains(&tip), "{tip} not in {bars}");
        // The table gives the count beside the share, greyed under the minimum.
        let cell = format!(
            r#"<td{} title="{} of {} labelled · 95% interval {}–{}">{} <span class="n">({})</span></td>"#,
            if g.labelled < min {
                r#" class="small""#
            } else {
                ""
            },
            g.wool,
            g.labelled,
            pct(lo),
            pct(hi),
            pct(share),
            g.labelled
        );
        assert!(html.contains(&cell), "{cell}");
    }
    assert!(
        small > 0 && large > 0,
        "{small} small, {large} large channels"
    );
    Ok(())
}

#[test]
fn the_campaign_section_holds_the_diagnosis_figures_and_flags() -> TestResult {
    let dir = tempfile::tempdir()?;
    generated(dir.path(), 3_000, 35);
    let h = load(dir.path())?;
    let as_of = h.time_span().map_or(0, |(_, last)| last + 1);
    let rules = diagnose::load(None)?;
    let (tiers, rfm) = (TierRules::default(), RfmRules::default());
    let mut report = build(&inputs(&h, &tiers, &rfm, &rules, as_of))?;
    let d = &report.diagnosis;
    assert!(d.by_campaign.len() > 3, "{} campaigns", d.by_campaign.len());
    // A flag on the largest campaign, as diagnose would raise it, is listed beside it.
    let first = d.by_campaign[0].name.clone();
    report.diagnosis.flags.push(diagnose::Flag {
        kind: diagnose::FlagKind::WoolJump,
        subject: format!("campaign:{first}"),
        message: format!("campaign '{first}': wool share jumps"),
        numbers: Default::default(),
    });
    let html = render(&report);
    let d = &report.diagnosis;
    let start = html
        .find(r#"<section id="campaigns">"#)
        .ok_or("no campaign section")?;
    let section = &html[start..start + html[start..].find("</section>").ok_or("open")?];
    assert!(chart(section, "campaign-wool").is_some());
    let pct = |v: f64| woolguard::report::svg::percent(v);
    for g in &d.by_campaign {
        let at = section
            .find(&format!(r#"<tr data-campaign="{}">"#, g.name))
            .ok_or_else(|| format!("no row for {}", g.name))?;
        let row = &section[at..at + section[at..].find("</tr>").ok_or("row")?];
        assert!(
            row.contains(&format!("<td>{}</td><td>{}</td>", g.members, pct(g.share))),
            "{row}"
        );
        let wool = g.wool_share.ok_or("no wool share")?;
        assert!(
            row.contains(&format!(
                "{} <span class=\"n\">({})</span>",
                pct(wool),
                g.labelled
            )),
            "{row}"
        );
        for (rate, n) in [
            (g.first_purchase_rate, g.first_purchase_eligible),
            (g.repurchase_rate, g.buyers),
        ] {
            let rate = pct(rate.ok_or("no rate")?);
            assert!(row.contains(&rate), "{rate} not in {row}");
            assert_eq!(
                row.contains(&format!("{rate} <span class=\"n\">({n})</span>")),
                n < 30,
                "{row}"
            );
        }
        assert!(
            row.contains(&format!("<td>{}</td>", pct(g.sales_share))),
            "{row}"
        );
        assert_eq!(row.contains("wool_jump"), g.name == first, "{row}");
    }
    assert!(section.contains(&format!("campaign &#39;{first}&#39;: wool share jumps")));
    Ok(())
}

#[test]
fn the_headline_gives_the_model_reach_on_the_labelled_wool() -> TestResult {
    let dir = tempfile::tempdir()?;
    generated(dir.path(), 3_000, 36);
    let h = load(dir.path())?;
    let as_of = h.time_span().map_or(0, |(_, last)| last + 1);
    let rules = diagnose::load(None)?;
    let (tiers, rfm) = (TierRules::default(), RfmRules::default());
    let model = woolguard::model::slot::load_for(
        &repo().join("models").join("default"),
        woolguard::model::slot::MEMBER,
    )?;
    let mut i = inputs(&h, &tiers, &rfm, &rules, as_of);
    i.model = Some(&model);
    let report = build(&i)?;
    let m = report
        .model
        .as_ref()
        .and_then(|m| m.metrics.as_ref())
        .ok_or("no metrics")?;
    assert!(m.positives > 0);
    // The trade-off table's row at the reject threshold is the metrics' reject point.
    let section = report.model.as_ref().ok_or("no model section")?;
    let reject = section
        .tradeoff
        .iter()
        .find(|c| c.threshold == section.reject_threshold)
        .ok_or("no reject row")?;
    assert_eq!(
        (reject.caught, reject.precision),
        (m.reject.recall, m.reject.precision)
    );
    let per_10k = 10_000.0 * m.reject.flagged as f64 / m.members as f64;
    assert!((reject.per_10k - per_10k).abs() < 1e-9);
    let importance = section.importance.as_ref().ok_or("no importance")?;
    assert_eq!(importance.rows, m.members);
    assert_eq!(importance.features.len(), model.features.len());
    let html = render(&report);
    assert!(html.contains(r#"<table id="model-tradeoff">"#));
    assert!(html.contains(r#"<table id="model-importance">"#));
    let pct = |v: Option<f64>| v.map_or("–".to_string(), woolguard::report::svg::percent);
    let count = |v: f64| woolguard::report::svg::count(v);
    for (point, what) in [(&m.reject, "rejects"), (&m.review, "rejects and reviews")] {
        let caught = (point.recall.unwrap_or(0.0) * m.positives as f64).round();
        let want = format!(
            r#"<div class="v">{}</div><div class="k">of the {} labelled wool caught by the model&#39;s {what} ({} of {} flagged), precision {}</div>"#,
            pct(point.recall),
            count(m.positives as f64),
            count(caught),
            count(point.flagged as f64),
            pct(point.precision)
        );
        assert!(html.contains(&want), "{want}");
        eprintln!(
            "model reach: {what} catch {} of the labelled wool at precision {}",
            pct(point.recall),
            pct(point.precision)
        );
    }
    Ok(())
}

#[test]
fn the_cdnow_report_says_wool_cannot_be_measured() -> TestResult {
    let Some(source) = crate::common::realdata("cdnow") else {
        eprintln!(
            "skipped: the_cdnow_report_says_wool_cannot_be_measured needs ../shared/realdata/cdnow"
        );
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let options = woolguard::data::import::ImportOptions {
        source: Some(&source),
        ..Default::default()
    };
    woolguard::data::import::import(
        &repo().join("data/mappings/cdnow.toml"),
        dir.path(),
        &options,
    )?;
    let page = dir.path().join("cdnow.html");
    let out = woolguard(&[
        "report".as_ref(),
        "--data".as_ref(),
        dir.path().as_os_str(),
        "--out".as_ref(),
        page.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page)?;
    let start = html
        .find(r#"<section id="headline">"#)
        .ok_or("no headline")?;
    let headline = &html[start..start + html[start..].find("</section>").ok_or("open")?];
    assert!(
        headline.contains(r#"<div class="v">not measurable</div><div class="k">wool cannot be measured on this history</div>"#),
        "{headline}"
    );
    assert!(
        headline.contains("of 23570 labelled members 0 did and 0 were reviewed"),
        "{headline}"
    );
    assert!(!headline.contains("wool share of"), "{headline}");
    // No table gives CDNOW a wool share (every wool cell says n/a), and no wool bar is drawn.
    assert!(
        !html.contains("labelled · 95% interval"),
        "a wool share is shown"
    );
    let na = html
        .matches(r#"title="wool cannot be measured on this history">n/a</td>"#)
        .count();
    assert!(na >= 6, "{na} wool cells say n/a");
    for id in ["channel-wool-overall", "tier-wool", "campaign-wool"] {
        let svg = chart(&html, id).ok_or("no chart")?;
        assert!(!svg.contains("data-series=\"wool share\""), "{id}: {svg}");
    }
    Ok(())
}
