//! The shipped models against the truth of a history they never saw (generated with another
//! seed at the default difficulty): the quality floors a brand can switch them on by. Sign-up
//! model: ROC-AUC ≥ 0.85; at its thresholds at most 10% of sign-ups reviewed, rejects at
//! precision ≥ 90% and recall ≥ 40%. Member model: rejects at precision ≥ 90%, recall ≥ 30%.

use woolguard::data::load;
use woolguard::generate::{generate, read_truth, Params};
use woolguard::model::artefact::Artefact;
use woolguard::model::metrics::roc_auc;
use woolguard::model::score::{end_of, rows_as_of};

use crate::serve::root;

struct Measured {
    auc: f64,
    reviewed: f64,
    precision: f64,
    recall: f64,
}

fn measure(model: &str, h: &woolguard::data::History, wool: &[bool]) -> Measured {
    let a = Artefact::load(&root().join(model)).unwrap_or_else(|e| panic!("{e}"));
    let (members, rows) = rows_as_of(h, &a, end_of(h));
    let p = a
        .probabilities(&rows.values)
        .unwrap_or_else(|e| panic!("{e}"));
    let truth: Vec<u8> = members
        .iter()
        .map(|&m| u8::from(wool[m as usize]))
        .collect();
    let t = &a.thresholds;
    let n = p.len() as f64;
    let rejected: Vec<bool> = p.iter().map(|&p| p >= t.reject).collect();
    let hits = rejected
        .iter()
        .zip(&truth)
        .filter(|(&r, &w)| r && w == 1)
        .count() as f64;
    let rejects = rejected.iter().filter(|&&r| r).count() as f64;
    let positives = truth.iter().filter(|&&w| w == 1).count() as f64;
    Measured {
        auc: roc_auc(&p, &truth).unwrap_or(0.0),
        reviewed: p.iter().filter(|&&p| p >= t.review && p < t.reject).count() as f64 / n,
        precision: hits / rejects.max(1.0),
        recall: hits / positives.max(1.0),
    }
}

#[test]
fn the_shipped_models_meet_their_floors_on_an_unseen_history() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let params = Params {
        members: 50_000,
        seed: 11,
        difficulty: 0.5,
    }
    .check()
    .unwrap_or_else(|e| panic!("{e}"));
    generate(&params, dir.path(), &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let wool = read_truth(dir.path())
        .and_then(|t| t.for_members(&h.members))
        .unwrap_or_else(|e| panic!("{e}"));

    let s = measure("models/signup", &h, &wool);
    assert!(s.auc >= 0.85, "sign-up ROC-AUC against truth {:.3}", s.auc);
    assert!(s.reviewed <= 0.10, "{:.3} of sign-ups reviewed", s.reviewed);
    assert!(
        s.precision >= 0.90 && s.recall >= 0.40,
        "sign-up rejects: precision {:.3}, recall {:.3}",
        s.precision,
        s.recall
    );
    let m = measure("models/default", &h, &wool);
    assert!(
        m.precision >= 0.90 && m.recall >= 0.30,
        "member rejects: precision {:.3}, recall {:.3}",
        m.precision,
        m.recall
    );
    println!(
        "sign-up: auc {:.3} reviewed {:.3} reject precision {:.3} recall {:.3}; member: auc {:.3} reviewed {:.3} reject precision {:.3} recall {:.3}",
        s.auc, s.reviewed, s.precision, s.recall, m.auc, m.reviewed, m.precision, m.recall
    );
}
