//! A tenant's snapshot: the history as last folded, both models loaded and checked together,
//! the rules, and every member scored (and judged by the rules) as of the history's end. A
//! snapshot is built whole off the request path and swapped in one step by the tenant.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::image;
use super::kept::KeptScores;
use super::tenant::challenger::ModelSlot;
use super::StateError;
use crate::data::history::{History, MemberIdx};
use crate::features::member::MemberIndex;
use crate::features::recruit::{self, FEATURES};
use crate::features::{Matrix, Parts};
use crate::members::rfm::NO_ORDERS;
use crate::members::segment::Segmentation;
use crate::model::artefact::{Artefact, Scored};
use crate::model::score::end_of;
use crate::model::slot::{self, SmokeBand};
use crate::scoring::members::{MemberScorer, Standings};
use crate::scoring::{Judge, Outcome, RuleSet, Standing};

/// Members scored at a time when a snapshot is built.
const KEEP_CHUNK: usize = 65_536;

/// The model does not fit or failed its checks; the old one keeps serving.
fn refused(e: impl std::error::Error + Send + Sync + 'static) -> StateError {
    StateError::ModelRefused(Box::new(e))
}

/// A tenant's snapshot: the history as last folded, both models loaded and checked together,
/// and every member of that history scored by the member model as of the history's end.
/// Swapped as a whole: a request sees one snapshot.
#[derive(Debug)]
pub struct Models {
    pub history: Arc<History>,
    pub member: Artefact,
    pub signup: Artefact,
    pub member_path: PathBuf,
    pub signup_path: PathBuf,
    pub as_of: i64,
    /// The rules this snapshot decides under: a new rule set is a new snapshot.
    pub rules: Arc<RuleSet>,
    /// Indexed by member: the model's score and what the rules said; `None` for members the
    /// member model cannot score yet (read with [`Models::member`]).
    pub scores: KeptScores,
    /// The tier rules the members' standings are named by (the defaults).
    tiers: crate::members::tier::TierRules,
    /// A second model beside one of the two (shadow or rollout), checked for its slot.
    pub challenger: Option<ChallengerModel>,
    /// What one member's member-time row is built again from when an event touches it.
    pub base: Base,
}

/// What the live scorer needs of a snapshot to score one member again: its recruitment-time
/// row (as the sweep computed it for the member model), the index of its own events in the
/// history, and its standing in the segmentation (the rules' facts).
#[derive(Debug, Clone)]
pub struct Base {
    /// One row per history member: the recruitment-time features.
    pub recruitment: Matrix,
    pub index: MemberIndex,
    pub segmentation: Segmentation,
    /// Each member's position in `segmentation`, `u32::MAX` for none.
    pub position: Vec<u32>,
}

impl Base {
    /// Member `m`'s position in the segmentation.
    pub fn position(&self, m: MemberIdx) -> Option<usize> {
        self.position
            .get(m as usize)
            .filter(|&&p| p != u32::MAX)
            .map(|&p| p as usize)
    }
}

/// The challenger's model as part of a snapshot: for the member slot, every member scored by it
/// too (the rollout position and tallies live with the tenant).
#[derive(Debug)]
pub struct ChallengerModel {
    pub slot: ModelSlot,
    pub artefact: Artefact,
    pub path: PathBuf,
    /// Member slot: indexed by member, as [`Models::scores`] (read with its artefact); empty for
    /// the sign-up slot.
    pub scores: KeptScores,
}

/// A challenger to build a snapshot with: its slot, model and path.
pub type ChallengerSpec = (ModelSlot, Artefact, PathBuf);

impl Models {
    /// Loads both artefacts, checks each is of the moment it serves and scores `history`.
    pub fn load(
        history: Arc<History>,
        member_path: &Path,
        signup_path: &Path,
        rules: Arc<RuleSet>,
    ) -> Result<Self, StateError> {
        Ok(Self::load_with(history, member_path, signup_path, rules, false)?.0)
    }

    /// [`Models::load`] for a tenant starting up, with the sign-up sweep's state after the
    /// history's last event that scoring ran, where both models merge groups under the same caps:
    /// the tenant's online state ([`crate::state::Tenant::starting`]) without a second sweep.
    pub fn load_to_start(
        history: Arc<History>,
        member_path: &Path,
        signup_path: &Path,
        rules: Arc<RuleSet>,
    ) -> Result<(Self, Option<recruit::RecruitState>), StateError> {
        Self::load_with(history, member_path, signup_path, rules, true)
    }

    fn load_with(
        history: Arc<History>,
        member_path: &Path,
        signup_path: &Path,
        rules: Arc<RuleSet>,
        start: bool,
    ) -> Result<(Self, Option<recruit::RecruitState>), StateError> {
        let paths = (member_path.to_path_buf(), signup_path.to_path_buf());
        // Each model's fit for its slot is checked in `build`.
        let (member, signup) = (load_model(member_path)?, load_model(signup_path)?);
        let keep = start && share_caps(&member, &signup);
        Self::build(history, member, signup, paths, rules, None, keep)
    }

    /// A start from a snapshot's image ([`super::image`]): what [`Models::load_to_start`] would
    /// compute from the same snapshot, models and rules, read back instead of computed.
    pub fn from_image(
        parts: image::Parts,
        member_path: &Path,
        signup_path: &Path,
        rules: Arc<RuleSet>,
    ) -> Result<(Self, Option<recruit::RecruitState>), StateError> {
        let (member, signup) = (load_model(member_path)?, load_model(signup_path)?);
        check_fits(&member, member_path, &signup, signup_path)?;
        warm(&parts.history, parts.online.as_ref());
        let history = Arc::new(parts.history);
        let keep = share_caps(&member, &signup);
        let models = Self::assemble(
            history,
            (member, signup),
            (member_path.to_path_buf(), signup_path.to_path_buf()),
            rules,
            Computed {
                as_of: parts.as_of,
                scores: parts.scores,
                segmentation: parts.segmentation,
                recruitment: parts.recruitment,
                index: parts.index,
                challenger: None,
            },
        )?;
        Ok((models, parts.online.filter(|_| keep)))
    }

    /// The same snapshot with its history, scores, segmentation, recruitment rows and event
    /// index written to `file` and read back in place: a rebuilt snapshot then holds them in the
    /// file's pages (read by the OS when touched), not on the heap. Unchanged, with a warning,
    /// where the file cannot be written or read.
    pub fn kept_in(self, file: &Path) -> Self {
        if self.in_place() {
            // Nothing on the heap to move (a challenger joined a snapshot read in place).
            return self;
        }
        let key = image::Key::private();
        let read = image::write(file, &key, &self.image_parts(None))
            .map_err(|e| e.to_string())
            .and_then(|_| image::read(file, &key).map_err(|e| e.to_string()));
        let parts = match read {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(file = %file.display(), "the rebuilt snapshot stays in memory: {e}");
                return self;
            }
        };
        warm(&parts.history, None);
        Models {
            history: Arc::new(parts.history),
            scores: parts.scores,
            base: Base {
                recruitment: parts.recruitment,
                index: parts.index,
                segmentation: parts.segmentation,
                position: self.base.position,
            },
            ..self
        }
    }

    /// Whether what [`Models::kept_in`] moves off the heap is read in place already.
    fn in_place(&self) -> bool {
        let h = &self.history;
        let b = &self.base;
        [
            h.members.joined_at.is_mapped(),
            h.coupons.at.is_mapped(),
            h.orders.at.is_mapped(),
            h.points.at.is_mapped(),
            self.scores.is_mapped(),
            b.recruitment.values.is_mapped(),
            b.index.orders.rows.is_mapped(),
        ]
        .iter()
        .all(|&m| m)
    }

    /// What a start image holds of this snapshot, with the online state `online` it started with.
    pub fn image_parts<'a>(
        &'a self,
        online: Option<&'a recruit::RecruitState>,
    ) -> image::PartsRef<'a> {
        image::PartsRef {
            history: &self.history,
            as_of: self.as_of,
            scores: &self.scores,
            segmentation: &self.base.segmentation,
            recruitment: &self.base.recruitment,
            index: &self.base.index,
            online,
        }
    }

    /// Member `m`'s tier and RFM segment as of the snapshot's moment (default rules); `None` for
    /// a member the segmentation does not hold.
    pub fn standing(&self, m: MemberIdx) -> Option<Standing> {
        let i = self.base.position(m)?;
        let s = &self.base.segmentation;
        Some(Standing {
            tier: self.tiers.name(*s.tiers.get(i)?).to_string(),
            segment: s.segments.get(i)?.map_or(NO_ORDERS, |x| x.name()),
        })
    }

    /// Member `m`'s score by the member model and the rules' outcome (`None`: not scored).
    pub fn member_score(&self, m: MemberIdx) -> Option<(Scored, Outcome)> {
        self.scores.get(&self.member, m as usize)
    }

    /// The smoke check before a swap: on the tenant's own members, the member model's decisions
    /// as of now and the sign-up model's at each member's sign-up must stay inside `band`.
    pub fn smoke(&self, band: &SmokeBand) -> Result<(), StateError> {
        let member = self.scores.decisions();
        slot::smoke(member, band, &self.member_path.display().to_string()).map_err(refused)?;
        let (rows, _) = recruit::build(&self.history, self.signup.config.merge.caps());
        let width = self.signup.features.len().min(FEATURES.len());
        let prefix: Vec<f64> = rows
            .values
            .chunks(FEATURES.len())
            .flat_map(|r| r[..width].iter().copied())
            .collect();
        let p = self.signup.probabilities(&prefix).map_err(refused)?;
        let signup = p.iter().map(|&p| self.signup.decide(p));
        slot::smoke(signup, band, &self.signup_path.display().to_string()).map_err(refused)
    }

    /// The same models over another history (after events were folded into it).
    pub fn rebuild(&self, history: Arc<History>) -> Result<Self, StateError> {
        self.rebuild_with(history, self.rules.clone())
    }

    /// The same models over `history` under `rules`.
    pub fn rebuild_with(
        &self,
        history: Arc<History>,
        rules: Arc<RuleSet>,
    ) -> Result<Self, StateError> {
        let paths = (self.member_path.clone(), self.signup_path.clone());
        Self::build(
            history,
            self.member.clone(),
            self.signup.clone(),
            paths,
            rules,
            self.challenger_spec(),
            false,
        )
        .map(|(m, _)| m)
    }

    /// The same snapshot with another challenger (or none): only the challenger's scores are
    /// computed; the rest is this snapshot's.
    pub fn with_challenger(&self, challenger: Option<ChallengerSpec>) -> Result<Self, StateError> {
        let standings = Standings::new(&self.history, &self.base.segmentation, &self.tiers);
        let on = Scoring {
            history: &self.history,
            judge: Judge {
                rules: &self.rules,
                gangs: Some(&*crate::scoring::gang::DEFAULT_POLICY),
                ..Judge::model_only()
            },
            as_of: self.as_of,
            standings: &standings,
        };
        let challenger = challenger.map(|spec| on.challenger(spec)).transpose()?;
        Ok(Models {
            history: self.history.clone(),
            member: self.member.clone(),
            signup: self.signup.clone(),
            member_path: self.member_path.clone(),
            signup_path: self.signup_path.clone(),
            as_of: self.as_of,
            rules: self.rules.clone(),
            scores: self.scores.clone(),
            tiers: self.tiers.clone(),
            challenger,
            base: self.base.clone(),
        })
    }

    /// The challenger this snapshot holds, to build another snapshot with.
    pub fn challenger_spec(&self) -> Option<ChallengerSpec> {
        self.challenger
            .as_ref()
            .map(|c| (c.slot, c.artefact.clone(), c.path.clone()))
    }

    fn build(
        history: Arc<History>,
        member: Artefact,
        signup: Artefact,
        (member_path, signup_path): (PathBuf, PathBuf),
        rules: Arc<RuleSet>,
        challenger: Option<ChallengerSpec>,
        keep_online: bool,
    ) -> Result<(Self, Option<recruit::RecruitState>), StateError> {
        check_fits(&member, &member_path, &signup, &signup_path)?;
        let as_of = end_of(&history);
        let tiers = crate::members::tier::TierRules::default();
        let seg = crate::members::segment::segment(
            &history,
            &tiers,
            &crate::members::rfm::RfmRules::default(),
            as_of,
        );
        let standings = Standings::new(&history, &seg, &tiers);
        // The model's scores and the rules' outcomes: the lists are applied per request, as they
        // stand then.
        let judge = Judge {
            rules: &rules,
            gangs: Some(&*crate::scoring::gang::DEFAULT_POLICY),
            ..Judge::model_only()
        };
        let on = Scoring {
            history: &history,
            judge,
            as_of,
            standings: &standings,
        };
        let (scores, parts) = on.score(&member, keep_online)?;
        let (recruitment, index, online) = match parts {
            Some(p) => (p.recruitment, p.index, p.state),
            None => Default::default(),
        };
        let index = index.unwrap_or_else(|| MemberIndex::build(&history));
        let challenger = challenger.map(|spec| on.challenger(spec)).transpose()?;
        drop(standings);
        let computed = Computed {
            as_of,
            scores,
            segmentation: seg,
            recruitment,
            index,
            challenger,
        };
        let paths = (member_path, signup_path);
        let models = Self::assemble(history, (member, signup), paths, rules, computed)?;
        Ok((models, online))
    }

    /// The snapshot of what was computed (or read back from an image): each member's standing
    /// from the segmentation, and a smoke prediction by the sign-up model.
    fn assemble(
        history: Arc<History>,
        (member, signup): (Artefact, Artefact),
        (member_path, signup_path): (PathBuf, PathBuf),
        rules: Arc<RuleSet>,
        c: Computed,
    ) -> Result<Self, StateError> {
        let tiers = crate::members::tier::TierRules::default();
        let position = Standings::new(&history, &c.segmentation, &tiers)
            .positions()
            .to_vec();
        // A smoke prediction with the sign-up model: an empty candidate.
        let empty = vec![f64::NAN; signup.features.len()];
        signup.score_row(&empty, 0).map_err(refused)?;
        Ok(Models {
            history,
            member,
            signup,
            member_path,
            signup_path,
            as_of: c.as_of,
            rules,
            scores: c.scores,
            tiers,
            challenger: c.challenger,
            base: Base {
                recruitment: c.recruitment,
                index: c.index,
                segmentation: c.segmentation,
                position,
            },
        })
    }
}

/// Builds the lookup tables every request reads, before the first request: members and keys
/// (coupon and order ids are looked up only by a fold, and are built then).
fn warm(h: &History, online: Option<&recruit::RecruitState>) {
    rayon::join(
        || rayon::join(|| h.members.ids.warm(), || h.keys.warm()),
        || online.map(|o| o.keys.warm()),
    );
}

/// What building a snapshot computes from its history and models.
struct Computed {
    as_of: i64,
    scores: KeptScores,
    segmentation: Segmentation,
    recruitment: Matrix,
    index: MemberIndex,
    challenger: Option<ChallengerModel>,
}

/// Scoring every member of a history as of its end, under one set of rules and standings.
struct Scoring<'a> {
    history: &'a History,
    judge: Judge<'a>,
    as_of: i64,
    standings: &'a Standings<'a>,
}

impl Scoring<'_> {
    /// Every member's score by `a`, with the parts of the sweep a snapshot keeps (recruitment
    /// rows, event index) and, with `keep_online`, its final state.
    fn score(
        &self,
        a: &Artefact,
        keep_online: bool,
    ) -> Result<(KeptScores, Option<Parts>), StateError> {
        self.score_with(a, true, keep_online)
    }

    fn score_with(
        &self,
        a: &Artefact,
        keep: bool,
        keep_online: bool,
    ) -> Result<(KeptScores, Option<Parts>), StateError> {
        let (history, judge) = (self.history, self.judge);
        let scorer = if keep && keep_online {
            let at = crate::model::score::AsOf::keeping_state(history, a, self.as_of);
            MemberScorer::over(at, a, judge, Some(self.standings))
        } else {
            MemberScorer::new(history, a, judge, self.as_of, Some(self.standings))
        };
        // Kept a chunk at a time: the scores in words of every member at once would be the
        // largest thing a start holds.
        let members = scorer.members();
        let mut scores = KeptScores::keeper(a, history.members.len());
        for chunk in members.chunks(KEEP_CHUNK) {
            let judged = scorer.judged(chunk, 3).map_err(refused)?;
            for (&m, s) in chunk.iter().zip(judged) {
                scores.set(m as usize, s);
            }
        }
        let scores = scores.done();
        let parts = keep.then(|| scorer.into_as_of().into_builder().into_parts());
        Ok((scores, parts))
    }

    /// A challenger checked for its slot, with every member scored by it in the member slot.
    fn challenger(
        &self,
        (slot, artefact, path): ChallengerSpec,
    ) -> Result<ChallengerModel, StateError> {
        let place = match slot {
            ModelSlot::Member => slot::MEMBER,
            ModelSlot::Signup => slot::SIGNUP,
        };
        slot::check_fit(&artefact, place, &path.display().to_string()).map_err(refused)?;
        let scores = match slot {
            ModelSlot::Member => self.score_with(&artefact, false, false)?.0,
            ModelSlot::Signup => {
                let empty = vec![f64::NAN; artefact.features.len()];
                artefact.score_row(&empty, 0).map_err(refused)?;
                KeptScores::default()
            }
        };
        Ok(ChallengerModel {
            slot,
            artefact,
            path,
            scores,
        })
    }
}

/// Whether both models merge groups under the same caps: then the sweep that scores members
/// leaves the online sign-up state the sign-up model reads.
fn share_caps(member: &Artefact, signup: &Artefact) -> bool {
    member.config.merge.caps() == signup.config.merge.caps()
}

fn load_model(p: &Path) -> Result<Artefact, StateError> {
    if !p.is_file() {
        return Err(StateError::UnknownModel(p.to_path_buf()));
    }
    Artefact::load(p).map_err(refused)
}

/// Each model fits its slot.
fn check_fits(
    member: &Artefact,
    member_path: &Path,
    signup: &Artefact,
    signup_path: &Path,
) -> Result<(), StateError> {
    slot::check_fit(member, slot::MEMBER, &member_path.display().to_string()).map_err(refused)?;
    slot::check_fit(signup, slot::SIGNUP, &signup_path.display().to_string()).map_err(refused)
}
