//! Whether a model is fit for the place it is put in: an artefact can load cleanly and still be
//! wrong — thresholds that reject everyone, a calibration with no knots (every member passes), a
//! sign-up model where the member model belongs, the value model used to drop wool. Every command
//! and route that takes a model checks it here before using it, and a swap is smoke-checked on
//! the tenant's own members first.

use super::artefact::{Artefact, Decision};
use super::calibrate::Calibration;
use super::label::Target;
use crate::features::Moment;

/// What a place needs of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub name: &'static str,
    pub target: Target,
    pub moment: Moment,
}

/// The member-time wool model (members, audiences, diagnostics, reports).
pub const MEMBER: Slot = Slot {
    name: "member",
    target: Target::Wool,
    moment: Moment::Member,
};

/// The recruitment-time wool model (sign-up candidates).
pub const SIGNUP: Slot = Slot {
    name: "sign-up",
    target: Target::Wool,
    moment: Moment::Recruitment,
};

/// Why a model does not fit, in words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("{path} is a {found_target} model of the {found_moment} moment; the {slot} slot takes a {target} model of the {moment} moment")]
    Slot {
        path: String,
        slot: &'static str,
        target: &'static str,
        moment: &'static str,
        found_target: &'static str,
        found_moment: &'static str,
    },
    #[error("{path}: {message}")]
    Insane { path: String, message: String },
    #[error("{path}: on {members} of the tenant's members it would {what} {share:.1}% (more than {limit:.1}%); pass force to swap it in anyway")]
    Smoke {
        path: String,
        members: usize,
        what: &'static str,
        share: f64,
        limit: f64,
    },
}

/// `recruitment` or `member`.
pub fn moment_name(m: Moment) -> &'static str {
    match m {
        Moment::Recruitment => "recruitment",
        Moment::Member => "member",
    }
}

/// Thresholds in [0, 1] with review ≤ reject, and a calibration that is present, finite and
/// monotone. Every artefact must pass this, whatever slot it is for.
pub fn check_sane(a: &Artefact, path: &str) -> Result<(), FitError> {
    let insane = |message: String| FitError::Insane {
        path: path.to_string(),
        message,
    };
    let t = &a.thresholds;
    for (name, v) in [("review", t.review), ("reject", t.reject)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(insane(format!("the {name} threshold {v} is not in [0, 1]")));
        }
    }
    if t.review > t.reject {
        return Err(insane(format!(
            "the review threshold {} is above the reject threshold {}",
            t.review, t.reject
        )));
    }
    match &a.calibration {
        Calibration::Platt { a: slope, b } => {
            if !slope.is_finite() || !b.is_finite() || *slope <= 0.0 {
                return Err(insane(format!(
                    "the Platt calibration (a = {slope}, b = {b}) is not finite and increasing"
                )));
            }
        }
        Calibration::Isotonic { x, y } => {
            if x.is_empty() || x.len() != y.len() {
                return Err(insane(format!(
                    "the isotonic calibration has {} knots and {} values; it needs at least one of each, as many of both",
                    x.len(),
                    y.len()
                )));
            }
            let finite = x.iter().chain(y).all(|v| v.is_finite());
            let rising = |v: &[f64]| v.windows(2).all(|w| w[0] <= w[1]);
            if !finite || !rising(x) || !rising(y) {
                return Err(insane(
                    "the isotonic calibration is not finite and non-decreasing".into(),
                ));
            }
            if y.iter().any(|p| !(0.0..=1.0).contains(p)) {
                return Err(insane(
                    "the isotonic calibration gives probabilities outside [0, 1]".into(),
                ));
            }
        }
    }
    Ok(())
}

/// [`check_sane`], then the model's target and moment against the slot's.
pub fn check_fit(a: &Artefact, slot: Slot, path: &str) -> Result<(), FitError> {
    check_sane(a, path)?;
    if a.target != slot.target || a.moment != slot.moment {
        return Err(FitError::Slot {
            path: path.to_string(),
            slot: slot.name,
            target: slot.target.name(),
            moment: moment_name(slot.moment),
            found_target: a.target.name(),
            found_moment: moment_name(a.moment),
        });
    }
    Ok(())
}

/// Loads a model for a slot: [`Artefact::load`] (which checks it is sane), then its target and
/// moment against the slot's.
pub fn load_for(
    path: &std::path::Path,
    slot: Slot,
) -> Result<Artefact, super::artefact::ArtefactError> {
    let a = Artefact::load(path)?;
    check_fit(&a, slot, &path.display().to_string()).map_err(Box::new)?;
    Ok(a)
}

/// [`smoke`] for a member-time model on a history's members, each as of the history's end.
pub fn smoke_history(
    a: &Artefact,
    h: &crate::data::History,
    band: &SmokeBand,
    path: &str,
) -> Result<(), super::artefact::ArtefactError> {
    let as_of = super::score::end_of(h);
    let (_, rows) = super::score::rows_as_of(h, a, as_of);
    let p = a.probabilities(&rows.values)?;
    smoke(p.iter().map(|&p| a.decide(p)), band, path).map_err(Box::new)?;
    Ok(())
}

/// The largest shares of rejects and of reviews (rejects included) a new model may give on the
/// tenant's own members before a swap is refused.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmokeBand {
    /// Percent of members rejected.
    pub max_reject_pct: f64,
    /// Percent of members reviewed or rejected.
    pub max_review_pct: f64,
}

impl Default for SmokeBand {
    fn default() -> Self {
        SmokeBand {
            max_reject_pct: 20.0,
            max_review_pct: 90.0,
        }
    }
}

/// Refuses a model whose decisions on `decisions` (the tenant's members) fall outside `band`.
pub fn smoke(
    decisions: impl IntoIterator<Item = Decision>,
    band: &SmokeBand,
    path: &str,
) -> Result<(), FitError> {
    let (mut n, mut reject, mut review) = (0usize, 0usize, 0usize);
    for d in decisions {
        n += 1;
        reject += usize::from(d == Decision::Reject);
        review += usize::from(d >= Decision::Review);
    }
    if n == 0 {
        return Ok(());
    }
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    for (what, share, limit) in [
        ("reject", pct(reject), band.max_reject_pct),
        ("review or reject", pct(review), band.max_review_pct),
    ] {
        if share > limit {
            return Err(FitError::Smoke {
                path: path.to_string(),
                members: n,
                what,
                share,
                limit,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str) -> Artefact {
        let path = format!("{}/models/{name}", env!("CARGO_MANIFEST_DIR"));
        Artefact::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_shipped_models_fit_their_slots_and_no_other() {
        assert_eq!(check_fit(&model("default"), MEMBER, "default"), Ok(()));
        assert_eq!(check_fit(&model("signup"), SIGNUP, "signup"), Ok(()));
        let e = check_fit(&model("signup"), MEMBER, "models/signup").err();
        assert!(matches!(e, Some(FitError::Slot { .. })), "{e:?}");
        let e = check_fit(&model("value"), MEMBER, "models/value").err();
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("value model") && text.contains("takes a wool model"),
            "{text}"
        );
    }

    #[test]
    fn thresholds_and_calibration_must_make_sense() {
        let mut a = model("default");
        a.thresholds.review = 0.9;
        a.thresholds.reject = 0.5;
        assert!(matches!(check_sane(&a, "m"), Err(FitError::Insane { .. })));
        a.thresholds.review = -0.1;
        assert!(check_sane(&a, "m").is_err());
        let mut a = model("default");
        a.calibration = Calibration::Isotonic {
            x: vec![],
            y: vec![],
        };
        assert!(check_sane(&a, "m").is_err());
        a.calibration = Calibration::Isotonic {
            x: vec![0.0, 1.0],
            y: vec![0.6, 0.2],
        };
        assert!(check_sane(&a, "m").is_err());
        a.calibration = Calibration::Platt { a: -1.0, b: 0.0 };
        assert!(check_sane(&a, "m").is_err());
    }

    #[test]
    fn the_smoke_band_refuses_a_model_that_rejects_too_many() {
        use Decision::*;
        let band = SmokeBand::default();
        // 1 reject in 10: 10% ≤ 20%.
        let ok = [
            Reject, Review, Pass, Pass, Pass, Pass, Pass, Pass, Pass, Pass,
        ];
        assert_eq!(smoke(ok, &band, "m"), Ok(()));
        // 3 rejects in 10: 30% > 20%.
        let bad = [
            Reject, Reject, Reject, Pass, Pass, Pass, Pass, Pass, Pass, Pass,
        ];
        let e = smoke(bad, &band, "m")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("reject 30.0%"), "{e}");
        // Everyone reviewed: 100% > 90%.
        assert!(smoke([Review; 10], &band, "m").is_err());
    }
}
