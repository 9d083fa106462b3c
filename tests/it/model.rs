//! Training, the artefact, evaluation and batch scoring on generated data, held out by join time:
//! a quality floor (the features carry signal), a ceiling (the generator is not trivially
//! separable), determinism, round trips and the artefact's refusals.

use std::path::Path;
use std::sync::OnceLock;

use woolguard::data::{load, History};
use woolguard::generate::{generate, read_truth, Params};
use woolguard::model::artefact::{Artefact, ArtefactError, Decision, FORMAT};
use woolguard::model::config::{Checked, TrainConfig};
use woolguard::model::score::{end_of, evaluate, rows_as_of};
use woolguard::scoring::members::{explain, score_to_file, MemberScorer};
use woolguard::scoring::Judge;

/// A scorer of `h` with `a` at `as_of`, the model's thresholds alone.
fn bare<'a>(
    h: &'a woolguard::data::History,
    a: &'a woolguard::model::artefact::Artefact,
    as_of: i64,
) -> MemberScorer<'a> {
    MemberScorer::new(h, a, Judge::model_only(), as_of, None)
}
use woolguard::model::train::train;

/// A small configuration: few trees so the tests stay quick.
const CONFIG: &str = r#"
name = "wool"
[split]
train = 0.6
calibration = 0.2
[gbm]
num_trees = 80
num_leaves = 15
num_threads = 2
[baselines]
forest_trees = 10
forest_sample_rows = 3000
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    history: History,
    truth: Vec<bool>,
    checked: Checked,
    model: Artefact,
}

/// One generated history (8,000 members) and one model trained on it, shared by the tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().to_path_buf();
        let config = Params {
            members: 8_000,
            seed: 21,
            difficulty: 0.5,
        }
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
        generate(&config, &dir, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
        let history = load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let truth = read_truth(&dir)
            .and_then(|t| t.for_members(&history.members))
            .unwrap_or_else(|e| panic!("{e}"));
        let checked = toml::from_str::<TrainConfig>(CONFIG)
            .map_err(|e| e.to_string())
            .and_then(|c| c.check().map_err(|e| e.to_string()))
            .unwrap_or_else(|e| panic!("{e}"));
        let (model, _) =
            train(&history, &checked, "wool-test", Some(&truth)).unwrap_or_else(|e| panic!("{e}"));
        Fixture {
            _dir: tmp,
            dir,
            history,
            truth,
            checked,
            model,
        }
    })
}

#[test]
fn gbm_on_a_time_split_has_signal_but_is_not_perfect() {
    let f = fixture();
    let r = &f.model.report;
    let names: Vec<&str> = r.families.iter().map(|x| x.family.as_str()).collect();
    assert_eq!(names, ["gbm", "random_forest", "logistic"]);
    for fam in &r.families {
        let labels = fam.validation.roc_auc.unwrap_or(0.0);
        let truth = fam.against_truth.and_then(|m| m.roc_auc).unwrap_or(0.0);
        println!(
            "{}: validation ROC-AUC {labels:.3} (labels), {truth:.3} (truth)",
            fam.family
        );
        assert!(
            truth < 0.99,
            "{}: {truth} — the generator is too easy",
            fam.family
        );
    }
    let gbm = &r.families[0];
    let auc = gbm.validation.roc_auc.unwrap_or(0.0);
    let auc_truth = gbm.against_truth.and_then(|m| m.roc_auc).unwrap_or(0.0);
    assert!(
        auc >= 0.70,
        "GBM ROC-AUC against labels {auc} under the floor"
    );
    assert!(
        auc_truth >= 0.80,
        "GBM ROC-AUC against truth {auc_truth} under the floor"
    );
    // The validation rows are the newest cohort: every one joined after every training row.
    assert_eq!(
        r.train_rows + r.calibration_rows + r.validation_rows,
        r.labelled
    );
    // The thresholds are ordered and the reject point meets its precision on calibration data
    // (on validation it may drift; it must at least flag someone and be mostly right).
    let t = f.model.thresholds;
    assert!(t.review <= t.reject, "{t:?}");
    let reject = gbm.validation.reject;
    assert!(reject.flagged > 0);
    assert!(reject.precision.unwrap_or(0.0) >= 0.6, "{reject:?}");
}

#[test]
fn training_is_deterministic_and_the_artefact_round_trips() {
    let f = fixture();
    let (again, _) = train(&f.history, &f.checked, "wool-test", Some(&f.truth))
        .unwrap_or_else(|e| panic!("{e}"));
    let a = serde_json::to_string(&f.model).unwrap_or_else(|e| panic!("{e}"));
    let b = serde_json::to_string(&again).unwrap_or_else(|e| panic!("{e}"));
    assert!(a == b, "two trainings of the same data differ");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("wool-test");
    f.model.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let loaded = Artefact::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded, f.model);
    let (_, rows) = rows_as_of(&f.history, &f.model, end_of(&f.history));
    let p1 = f
        .model
        .probabilities(&rows.values)
        .unwrap_or_else(|e| panic!("{e}"));
    let p2 = loaded
        .probabilities(&rows.values)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p1, p2);
    // The per-row path gives the batch path's probability, bit for bit.
    let one = f
        .model
        .score_row(rows.row(7), 3)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.probability, p1[7]);
    assert_eq!(one.quality, (100.0 * (1.0 - p1[7])).round() as u8);
}

fn edit(text: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    f(&mut v);
    v.to_string()
}

#[test]
fn a_wrong_format_a_changed_feature_list_or_a_corrupt_file_is_refused() {
    let f = fixture();
    let text = serde_json::to_string(&f.model).unwrap_or_else(|e| panic!("{e}"));

    let other = edit(&text, |v| v["format"] = serde_json::json!(FORMAT + 1));
    let err = Artefact::from_json(&other, "m").err();
    assert!(
        matches!(err, Some(ArtefactError::Format { found, .. }) if found == u64::from(FORMAT) + 1),
        "{err:?}"
    );

    let renamed = edit(&text, |v| v["features"][0] = serde_json::json!("shoe_size"));
    let err = Artefact::from_json(&renamed, "m")
        .err()
        .map(|e| e.to_string());
    let msg = err.unwrap_or_default();
    assert!(
        msg.contains("shoe_size") && msg.contains("device_accounts"),
        "{msg}"
    );

    let cut = &text[..text.len() / 2];
    assert!(matches!(
        Artefact::from_json(cut, "m"),
        Err(ArtefactError::Corrupt { .. })
    ));
    // A tree pointing at a feature that does not exist is refused as it loads.
    let bad_tree = edit(&text, |v| {
        v["gbm"]["trees"][0]["split_feature"][0] = serde_json::json!(9999)
    });
    assert!(matches!(
        Artefact::from_json(&bad_tree, "m"),
        Err(ArtefactError::Corrupt { .. })
    ));
    let missing = Artefact::load(Path::new("/nonexistent/model"));
    assert!(matches!(missing, Err(ArtefactError::Read { .. })));
}

#[test]
fn batch_scores_every_member_to_parquet_and_csv() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let as_of = end_of(&f.history);
    let pq = dir.path().join("scores.parquet");
    let summary =
        score_to_file(&bare(&f.history, &f.model, as_of), &pq).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.members, f.history.members.len());
    assert_eq!(
        summary.pass + summary.review + summary.reject,
        summary.members
    );
    assert!(summary.reject > 0 && summary.pass > summary.reject);

    let csv_path = dir.path().join("scores.csv");
    score_to_file(&bare(&f.history, &f.model, as_of), &csv_path).unwrap_or_else(|e| panic!("{e}"));
    let mut r = csv::Reader::from_path(&csv_path).unwrap_or_else(|e| panic!("{e}"));
    let headers = r.headers().cloned().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "member_id",
            "target",
            "probability",
            "quality",
            "decision",
            "reason_1",
            "reason_2",
            "reason_3",
            "reasons",
            "model_version"
        ]
    );
    let rows: Vec<csv::StringRecord> = r
        .records()
        .map(|x| x.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(rows.len(), f.history.members.len());
    // Rejected members carry reasons; every row names the model.
    let rejected: Vec<&csv::StringRecord> = rows.iter().filter(|x| &x[4] == "reject").collect();
    assert_eq!(rejected.len(), summary.reject);
    assert!(rejected.iter().all(|x| !x[5].is_empty()));
    assert!(rows.iter().all(|x| &x[9] == "wool-test"));

    // The Parquet file holds the same rows.
    let back = parquet_rows(&pq);
    assert_eq!(back, rows.len());
}

fn parquet_rows(path: &Path) -> usize {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{e}"));
    let reader =
        parquet::file::reader::SerializedFileReader::new(file).unwrap_or_else(|e| panic!("{e}"));
    use parquet::file::reader::FileReader;
    reader.metadata().file_metadata().num_rows() as usize
}

#[test]
fn explain_adds_up_to_the_score_and_evaluate_matches_training() {
    let f = fixture();
    let as_of = end_of(&f.history);
    let (members, _) = rows_as_of(&f.history, &f.model, as_of);
    let id = f.history.members.id(members[0]).to_string();
    let e = explain(&bare(&f.history, &f.model, as_of), &id).unwrap_or_else(|e| panic!("{e}"));
    let raw = e.bias + e.terms.iter().map(|t| t.contribution).sum::<f64>();
    assert!((f.model.probability(raw) - e.verdict.probability).abs() < 1e-9);
    assert_eq!(e.terms.len(), f.model.features.len());
    let unknown = explain(&bare(&f.history, &f.model, as_of), "no-such-member");
    assert!(unknown.is_err());

    // Evaluating on the training history covers every labelled member, not only validation.
    let ev = evaluate(&f.history, &f.model, Some(&f.truth)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ev.overall.members, f.model.report.labelled);
    assert_eq!(ev.overall.positives, f.model.report.positives);
    assert!(ev.against_truth.is_some());
    assert!(!ev.by_channel.is_empty());
    assert!(matches!(f.model.decide(1.0), Decision::Reject));
    assert!(matches!(f.model.decide(0.0), Decision::Pass));
    let _ = &f.dir;
}

#[test]
fn compare_promote_and_rollback() {
    use woolguard::model::compare::compare;
    use woolguard::model::registry::{self, Action};
    let f = fixture();
    // A model against itself: no difference, and the bootstrap interval is exactly zero.
    let c = compare(&f.history, &f.model, &f.model, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.members, f.model.report.labelled);
    assert_eq!(c.roc_auc.difference, Some(0.0));
    assert_eq!((c.roc_auc.low, c.roc_auc.high), (Some(0.0), Some(0.0)));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let models = dir.path();
    let first = models.join("wool-a");
    let mut second = f.model.clone();
    second.version = "wool-b".to_string();
    second.thresholds.reject = 0.99;
    let second_path = models.join("wool-b");
    f.model.save(&first).unwrap_or_else(|e| panic!("{e}"));
    second.save(&second_path).unwrap_or_else(|e| panic!("{e}"));

    assert!(registry::rollback(models).is_err(), "nothing promoted yet");
    let e = registry::promote(models, &first).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((e.release, e.version.as_str()), (1, "wool-test"));
    registry::promote(models, &second_path).unwrap_or_else(|e| panic!("{e}"));
    let current = Artefact::load(&models.join("current")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(current.version, "wool-b");
    let back = registry::rollback(models).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.action, Action::Rollback);
    let current = Artefact::load(&models.join("current")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(current, f.model);
    assert!(registry::rollback(models).is_err(), "only one release left");
    let log = registry::history(models).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(log.len(), 3);
    // A corrupt artefact is refused and changes nothing.
    let junk = models.join("junk");
    std::fs::write(&junk, "{\"format\": 1").unwrap_or_else(|e| panic!("{e}"));
    assert!(registry::promote(models, &junk).is_err());
    assert_eq!(registry::history(models).map(|l| l.len()).unwrap_or(0), 3);
}

#[test]
fn each_campaign_held_out_is_measured_by_a_model_that_never_saw_it() {
    let f = fixture();
    let held = woolguard::model::holdout::by_campaign(&f.history, &f.checked, Some(&f.truth), 100)
        .unwrap_or_else(|e| panic!("{e}"));
    let ds = woolguard::model::dataset::assemble(
        &f.history,
        &f.checked.config.features,
        &f.checked.rule,
        f.checked.config.merge.caps(),
    );
    // Every labelled member of a campaign is measured; every other labelled member is trained on.
    let mut per: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for &m in &ds.members {
        let c = f.history.members.campaign[m as usize];
        if let Some(name) = f.history.keys.opt_name(c) {
            *per.entry(name).or_default() += 1;
        }
    }
    let eligible = per.values().filter(|&&n| n >= 100).count();
    assert!(
        held.len() >= 3 && held.len() <= eligible,
        "{} of {eligible}",
        held.len()
    );
    for h in &held {
        assert_eq!(h.members, per[h.campaign.as_str()], "{}", h.campaign);
        assert_eq!(h.members + h.trained_on, ds.labels.len(), "{}", h.campaign);
        assert_eq!(h.labels.members, h.members);
        let auc = h.labels.roc_auc.unwrap_or(0.0);
        assert!(auc > 0.6 && auc <= 1.0, "{}: {auc}", h.campaign);
        assert!(h.truth.is_some(), "{}", h.campaign);
    }
    assert!(held.windows(2).all(|w| w[0].members >= w[1].members));
}
