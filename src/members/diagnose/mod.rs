//! Member-value diagnostics (DESIGN.md §1 and §5): tiers, recruitment channels, campaigns and RFM
//! segments side by side — size, wool share, first-purchase and repurchase rates, average order
//! value, share of sales, coupon use and points-for-coupon exchange — the 20/80 figure, the four
//! tracks of member operations per period (recruitment, first purchase, repurchase, propagation),
//! the wool share of each channel per period, and flags for what should not be there: a middle
//! tier that behaves worst of all (the beer brand's silver tier) and a channel or campaign whose
//! wool share jumps.
//!
//! Definitions (every one reads only events strictly before the as-of moment):
//! - the **population** is every member who joined before the as-of moment;
//! - **orders** are orders not refunded; **buyers** have at least one;
//! - **labelled wool**: the reviewed label (made before the as-of moment) where the rule prefers
//!   reviews, else the model module's outcome rule (`model::label`) for members whose outcome
//!   window closed before the as-of moment; members with an open window are unlabelled and the
//!   wool share is wool / labelled;
//! - **predicted wool** (with a model): the model's decision as of the moment is `reject`;
//! - **first-purchase rate**: of members who joined at least `first_purchase_days` before the
//!   moment, the share with an order within `first_purchase_days` of joining;
//! - **repurchase rate**: of buyers, the share with two orders or more;
//! - **purchase rate**, **exchange rate** and **coupon use rate** look at the last
//!   `activity_days` before the moment (the activity window): what a group does now, not what it
//!   did to get there. Each is a rate among the members who *could* do the thing, so that a group
//!   of members who do nothing at all (dormant sign-ups without points or coupons) does not look
//!   worst by default:
//!   - purchase rate: of the **past buyers** (an order before the window), the share who bought
//!     again in the window;
//!   - exchange rate: of the **points holders** (a points balance, all movements summed, of at
//!     least `exchange_points` at some moment in the window, or an exchange in it), the share
//!     who swapped points for a coupon (`redeem_coupon`) in the window;
//!   - coupon use rate: of the coupons claimed in the window, the share the member redeemed
//!     before the moment (members who claimed nothing take no part);
//!
//!   by tier, these three count each member in the tier held when the window opened: what the
//!   members of a tier did next. Buying in the window moves a member up, so grouping them by
//!   the tier at the moment would take every one-star who bought out of one-star;
//! - **average order value**: paid / orders; **share of sales**: the group's paid / everyone's.
//!
//! Small numbers and missing evidence (`quality`, `[quality]` of `training/diagnose.toml`): every
//! wool share carries its Wilson 95% interval and its count, and where too few labelled members
//! took a benefit or were reviewed, wool cannot be measured: every wool share is `None`, no wool
//! flag fires, and `wool_evidence` says why.
//!
//! The flag rules and their thresholds live in `FlagParams` (`training/diagnose.toml`, `[flags]`)
//! and are copied into every `Diagnosis`, so that a reader of the output sees the rule next to
//! the numbers it fired on.
//!
//! Never reads an event at or after the as-of moment, and never reads the generator's truth.

use std::collections::BTreeMap;

use chrono::DateTime;
use rayon::prelude::*;
use serde::Serialize;

use super::rfm::{RfmRules, Segment, NO_ORDERS};
use super::segment::{pareto, segment, Pareto, Segmentation};
use super::tier::TierRules;
use super::DAY;
use crate::data::history::{History, NONE};
use crate::features::member::MemberIndex;
use crate::model::artefact::ArtefactError;
use crate::model::label::LabelParams;

mod facts;
mod flags;
mod params;
mod quality;
mod tracks;

use facts::period_index;
pub use facts::{facts_of, periods, Facts};
pub use flags::tier_flags;
use flags::{above_flags, jump_flags};
pub use params::{
    definition_text, load, rule_text, DiagnoseParams, DiagnoseRules, FlagParams, Period,
};
pub use quality::{wilson, QualityParams, WoolEvidence, Z95};
use tracks::tracks;

#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    #[error("scoring members with model {version}: {source}")]
    Model {
        version: String,
        source: ArtefactError,
    },
}

/// One group's figures (a tier, a channel, a campaign, a segment, or everyone).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    pub name: String,
    pub members: usize,
    /// Share of the population's members.
    pub share: f64,
    /// Members with a label (reviewed, or a closed outcome window).
    pub labelled: usize,
    pub wool: usize,
    /// wool / labelled; `None` without labelled members.
    pub wool_share: Option<f64>,
    /// The Wilson 95% interval of the wool share.
    pub wool_interval: Option<[f64; 2]>,
    /// Members the model rejects; `None` without a model.
    pub predicted_wool: Option<usize>,
    pub predicted_wool_share: Option<f64>,
    /// Members who joined at least `first_purchase_days` before the moment.
    pub first_purchase_eligible: usize,
    pub first_purchasers: usize,
    pub first_purchase_rate: Option<f64>,
    /// Members with at least one order.
    pub buyers: usize,
    /// Buyers with two orders or more.
    pub repeat_buyers: usize,
    pub repurchase_rate: Option<f64>,
    /// Members with an order in the activity window.
    pub active_buyers: usize,
    /// Members with an order before the activity window, and those of them with one in it too;
    /// purchase rate = returning / past buyers.
    pub past_buyers: usize,
    pub returning_buyers: usize,
    pub purchase_rate: Option<f64>,
    /// Members holding at least `exchange_points` at some moment in the activity window (or
    /// exchanging in it), and those who swapped points for a coupon in it; exchange rate =
    /// exchangers / holders.
    pub points_holders: usize,
    pub exchangers: usize,
    pub exchange_rate: Option<f64>,
    /// Coupons claimed in the activity window, and those of them redeemed before the moment;
    /// use rate = redeems / claims.
    pub coupon_claims: usize,
    pub coupon_redeems: usize,
    pub coupon_use_rate: Option<f64>,
    pub orders: usize,
    pub sales: f64,
    pub average_order_value: Option<f64>,
    /// Share of the population's sales.
    pub sales_share: f64,
}

impl GroupStats {
    /// The activity rates in table order (first purchase, repurchase, purchase, points
    /// exchange, coupon use), each with the count it is a share of.
    pub fn activity_rates(&self) -> [(Option<f64>, usize); 5] {
        [
            (self.first_purchase_rate, self.first_purchase_eligible),
            (self.repurchase_rate, self.buyers),
            (self.purchase_rate, self.past_buyers),
            (self.exchange_rate, self.points_holders),
            (self.coupon_use_rate, self.coupon_claims),
        ]
    }
}

/// The four tracks of member operations in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRow {
    /// First day of the period, YYYY-MM-DD.
    pub period_start: String,
    /// Recruitment: members who joined in the period.
    pub new_members: usize,
    /// First purchase: of those, members who bought within `first_purchase_days` of joining.
    pub first_purchase: usize,
    /// Whether every new member's first-purchase window closed before the moment (otherwise
    /// `first_purchase` can still grow).
    pub first_purchase_complete: bool,
    /// Repurchase: members who placed their second or later order in the period.
    pub repurchase: usize,
    /// Propagation: new members who joined through an inviter and have bought since.
    pub propagation: usize,
}

/// One channel's wool in one period, by join period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelPeriod {
    pub channel: String,
    pub period_start: String,
    /// Members of the channel who joined in the period.
    pub members: usize,
    pub labelled: usize,
    pub wool: usize,
    pub wool_share: Option<f64>,
    pub wool_interval: Option<[f64; 2]>,
    pub predicted_wool: Option<usize>,
    pub predicted_wool_share: Option<f64>,
}

/// What a flag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// (a) A middle tier with the lowest purchase, exchange and coupon use rates of all tiers.
    MiddleTier,
    /// (b) A channel or campaign whose recent wool share jumps against its own earlier periods.
    WoolJump,
    /// (b) A channel or campaign whose wool share is far above the whole population's.
    WoolAboveOthers,
}

impl FlagKind {
    pub fn name(self) -> &'static str {
        match self {
            FlagKind::MiddleTier => "middle_tier",
            FlagKind::WoolJump => "wool_jump",
            FlagKind::WoolAboveOthers => "wool_above_others",
        }
    }
}

/// Something that should not be there, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub kind: FlagKind,
    /// `tier:<name>`, `channel:<name>` or `campaign:<id>`.
    pub subject: String,
    pub message: String,
    pub numbers: BTreeMap<String, f64>,
}

/// The settings a diagnosis ran with, copied into the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub period: Period,
    pub first_purchase_days: i64,
    pub activity_days: i64,
    pub exchange_points: i64,
    pub label: LabelParams,
    pub flags: FlagParams,
    pub quality: QualityParams,
    /// The activity rates' definitions in words.
    pub definitions: Vec<String>,
    /// The flag rules in words.
    pub rules: Vec<String>,
}

/// What `woolguard diagnose` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// The as-of moment, RFC 3339.
    pub as_of: String,
    pub members: usize,
    /// Whether the history lets wool be measured (enough labelled members took a benefit or
    /// were reviewed); when not, every wool share is `None` and no wool flag fires.
    pub wool_measurable: bool,
    /// The counts behind `wool_measurable`, and the answer in words.
    pub wool_evidence: WoolEvidence,
    /// The model version behind the predicted wool figures, if any.
    pub model: Option<String>,
    pub settings: Settings,
    /// Everyone, as one group.
    pub overall: GroupStats,
    /// Every tier, lowest first.
    pub by_tier: Vec<GroupStats>,
    /// Every channel, by name.
    pub by_channel: Vec<GroupStats>,
    /// Every campaign by id, then `(none)` for members who joined through none.
    pub by_campaign: Vec<GroupStats>,
    /// The eleven RFM segments in their fixed order, then `no_orders`.
    pub by_segment: Vec<GroupStats>,
    pub pareto: Pareto,
    /// One row per period, from the first join to the as-of moment.
    pub tracks: Vec<TrackRow>,
    /// Channel by channel, period by period (join periods).
    pub channel_wool_by_period: Vec<ChannelPeriod>,
    pub flags: Vec<Flag>,
}

/// Name of the group of members without a channel or campaign.
pub const NO_GROUP: &str = "(none)";

/// Sums over a group's members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Acc {
    members: usize,
    labelled: usize,
    reviewed: usize,
    took: usize,
    wool: usize,
    predicted: usize,
    fp_eligible: usize,
    fp: usize,
    buyers: usize,
    repeaters: usize,
    active: usize,
    past_buyers: usize,
    returning: usize,
    holders: usize,
    exchangers: usize,
    claims: usize,
    redeems: usize,
    orders: usize,
    cents: i64,
}

impl Acc {
    fn add(&mut self, f: &Facts) {
        self.members += 1;
        if let Some(l) = f.label {
            self.labelled += 1;
            self.wool += usize::from(l == 1);
        }
        self.reviewed += usize::from(f.reviewed);
        self.took += usize::from(f.took_benefit);
        self.predicted += usize::from(f.predicted == Some(true));
        self.fp_eligible += usize::from(f.first_purchase_eligible);
        self.fp += usize::from(f.first_purchase_eligible && f.first_purchaser);
        self.buyers += usize::from(f.orders > 0);
        self.repeaters += usize::from(f.orders > 1);
        self.active += usize::from(f.active);
        self.past_buyers += usize::from(f.past_buyer);
        self.returning += usize::from(f.past_buyer && f.active);
        self.holders += usize::from(f.points_holder);
        self.exchangers += usize::from(f.exchanged);
        self.claims += f.claims as usize;
        self.redeems += f.redeems as usize;
        self.orders += f.orders as usize;
        self.cents = self.cents.saturating_add(f.cents);
    }

    /// These sums with the activity-window figures (past and returning buyers, points holders
    /// and exchangers, coupons claimed and redeemed) of `o`.
    fn with_activity_of(mut self, o: &Acc) -> Acc {
        self.past_buyers = o.past_buyers;
        self.returning = o.returning;
        self.holders = o.holders;
        self.exchangers = o.exchangers;
        self.claims = o.claims;
        self.redeems = o.redeems;
        self
    }

    fn merge(mut self, o: &Acc) -> Acc {
        self.members += o.members;
        self.labelled += o.labelled;
        self.reviewed += o.reviewed;
        self.took += o.took;
        self.wool += o.wool;
        self.predicted += o.predicted;
        self.fp_eligible += o.fp_eligible;
        self.fp += o.fp;
        self.buyers += o.buyers;
        self.repeaters += o.repeaters;
        self.active += o.active;
        self.past_buyers += o.past_buyers;
        self.returning += o.returning;
        self.holders += o.holders;
        self.exchangers += o.exchangers;
        self.claims += o.claims;
        self.redeems += o.redeems;
        self.orders += o.orders;
        self.cents = self.cents.saturating_add(o.cents);
        self
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// A wool share and its Wilson 95% interval; neither where wool cannot be measured.
fn wool_share(a: &Acc, measurable: bool) -> (Option<f64>, Option<[f64; 2]>) {
    if !measurable {
        return (None, None);
    }
    (ratio(a.wool, a.labelled), wilson(a.wool, a.labelled, Z95))
}

fn stats(name: String, a: &Acc, total: &Acc, with_model: bool, measurable: bool) -> GroupStats {
    let (wool_share, wool_interval) = wool_share(a, measurable);
    GroupStats {
        name,
        members: a.members,
        share: ratio(a.members, total.members).unwrap_or(0.0),
        labelled: a.labelled,
        wool: a.wool,
        wool_share,
        wool_interval,
        predicted_wool: with_model.then_some(a.predicted),
        predicted_wool_share: if with_model {
            ratio(a.predicted, a.members)
        } else {
            None
        },
        first_purchase_eligible: a.fp_eligible,
        first_purchasers: a.fp,
        first_purchase_rate: ratio(a.fp, a.fp_eligible),
        buyers: a.buyers,
        repeat_buyers: a.repeaters,
        repurchase_rate: ratio(a.repeaters, a.buyers),
        active_buyers: a.active,
        past_buyers: a.past_buyers,
        returning_buyers: a.returning,
        purchase_rate: ratio(a.returning, a.past_buyers),
        points_holders: a.holders,
        exchangers: a.exchangers,
        exchange_rate: ratio(a.exchangers, a.holders),
        coupon_claims: a.claims,
        coupon_redeems: a.redeems,
        coupon_use_rate: ratio(a.redeems, a.claims),
        orders: a.orders,
        sales: a.cents as f64 / 100.0,
        average_order_value: (a.orders > 0).then(|| a.cents as f64 / 100.0 / a.orders as f64),
        sales_share: if total.cents > 0 {
            a.cents as f64 / total.cents as f64
        } else {
            0.0
        },
    }
}

/// Sums `facts` into `n` groups by `key` (one key per member, `< n`), in parallel.
fn accumulate(facts: &[Facts], key: &[usize], n: usize) -> Vec<Acc> {
    facts
        .par_iter()
        .zip(key.par_iter())
        .with_min_len(4_096)
        .fold(
            || vec![Acc::default(); n],
            |mut acc, (f, &k)| {
                if let Some(a) = acc.get_mut(k) {
                    a.add(f);
                }
                acc
            },
        )
        .reduce(
            || vec![Acc::default(); n],
            |a, b| a.iter().zip(&b).map(|(x, y)| x.merge(y)).collect(),
        )
}

/// Dense group numbers for a symbol column: the distinct symbols sorted by name, `NONE` last.
fn dense(h: &History, syms: &[u32]) -> (Vec<String>, Vec<usize>) {
    let mut distinct: Vec<u32> = syms.to_vec();
    distinct.par_sort_unstable();
    distinct.dedup();
    let name = |s: u32| {
        if s == NONE {
            NO_GROUP.to_string()
        } else {
            h.keys.name(s).to_string()
        }
    };
    distinct.sort_by_key(|&s| (s == NONE, name(s)));
    let names: Vec<String> = distinct.iter().map(|&s| name(s)).collect();
    let keys = syms
        .par_iter()
        .map(|s| {
            distinct
                .binary_search_by(|d| cmp_sym(h, *d, *s))
                .unwrap_or(0)
        })
        .collect();
    (names, keys)
}

fn cmp_sym(h: &History, a: u32, b: u32) -> std::cmp::Ordering {
    let key = |s: u32| (s == NONE, if s == NONE { "" } else { h.keys.name(s) });
    key(a).cmp(&key(b))
}

fn day_string(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// What a model decided of the members, for the predicted wool figures: its version and, for
/// every member of the history, `Some(true)` when the verdict (`crate::scoring`) rejects it,
/// `None` for members it does not score (joined at or after the moment).
#[derive(Debug, Clone, Copy)]
pub struct Predicted<'a> {
    pub version: &'a str,
    pub rejects: &'a [Option<bool>],
}

/// Diagnoses every member who joined before `as_of` on the history strictly before it; with a
/// model, also the predicted wool of each.
pub fn diagnose(
    h: &History,
    rules: &DiagnoseRules,
    tiers: &TierRules,
    rfm: &RfmRules,
    as_of: i64,
    model: Option<Predicted<'_>>,
) -> Result<Diagnosis, DiagnoseError> {
    diagnose_segmented(h, rules, tiers, &segment(h, tiers, rfm, as_of), model)
}

/// As [`diagnose`], on a segmentation of `h` already made with `tiers` (the diagnosis is as of
/// its moment), for callers that use the segmentation too.
pub fn diagnose_segmented(
    h: &History,
    rules: &DiagnoseRules,
    tiers: &TierRules,
    seg: &Segmentation,
    model: Option<Predicted<'_>>,
) -> Result<Diagnosis, DiagnoseError> {
    let p = &rules.params;
    let as_of = seg.as_of;
    let predicted = model.map(|m| m.rejects);
    let members = &seg.members;
    let ix = MemberIndex::build(h);
    let first_join = members
        .iter()
        .map(|&m| h.members.joined_at[m as usize])
        .min()
        .unwrap_or(as_of);
    let starts = periods(p.period, first_join, as_of);

    // The latest review before the moment, per member.
    let mut reviewed: Vec<Option<(i64, u8)>> = vec![None; h.members.len()];
    for ((&m, &l), &t) in h
        .labels
        .member
        .iter()
        .zip(&h.labels.label)
        .zip(&h.labels.at)
    {
        if t < as_of {
            if let Some(slot) = reviewed.get_mut(m as usize) {
                if slot.is_none_or(|(t0, _)| t >= t0) {
                    *slot = Some((t, l));
                }
            }
        }
    }

    let facts: Vec<Facts> = members
        .par_iter()
        .with_min_len(1_024)
        .map(|&m| {
            let mut f = facts_of(
                h,
                &ix,
                rules,
                &starts,
                m,
                reviewed[m as usize].map(|r| r.1),
                as_of,
            );
            f.predicted = predicted.as_ref().and_then(|p| p[m as usize]);
            f
        })
        .collect();
    let with_model = predicted.is_some();

    let all = accumulate(&facts, &vec![0; facts.len()], 1)
        .pop()
        .unwrap_or_default();
    let taken = rules.label.params().taken;
    let evidence = quality::wool_evidence(
        all.labelled,
        all.reviewed,
        all.took,
        quality::benefit_events(h, taken, as_of),
        taken,
        &p.quality,
    );
    let measurable = evidence.measurable;
    let groups = |names: Vec<String>, key: &[usize]| -> Vec<GroupStats> {
        let accs = accumulate(&facts, key, names.len());
        names
            .into_iter()
            .zip(&accs)
            .map(|(n, a)| stats(n, a, &all, with_model, measurable))
            .collect()
    };

    // A tier's activity rates count the members who held it when the activity window opened:
    // buying in the window moves a member up, so grouping by the tier at the end would take
    // every one-star who bought out of one-star and leave it the non-buyers.
    let window_start = as_of.saturating_sub(p.activity_days * DAY);
    let start_tiers = tiers.tiers(h, &ix, members, window_start);
    let n_tiers = tiers.names.len();
    let by_tier: Vec<GroupStats> = tiers
        .names
        .iter()
        .zip(accumulate(&facts, &seg.tiers, n_tiers))
        .zip(accumulate(&facts, &start_tiers, n_tiers))
        .map(|((name, now), then)| {
            stats(
                name.clone(),
                &now.with_activity_of(&then),
                &all,
                with_model,
                measurable,
            )
        })
        .collect();
    let col = |c: &[u32]| -> Vec<u32> { members.iter().map(|&m| c[m as usize]).collect() };
    let channel_syms = col(&h.members.channel);
    let (channel_names, channel_key) = dense(h, &channel_syms);
    let by_channel = groups(channel_names.clone(), &channel_key);
    let (campaign_names, campaign_key) = dense(h, &col(&h.members.campaign));
    let by_campaign = groups(campaign_names.clone(), &campaign_key);
    let mut seg_names: Vec<String> = Segment::ALL.iter().map(|x| x.name().to_string()).collect();
    seg_names.push(NO_ORDERS.to_string());
    let seg_key: Vec<usize> = seg
        .segments
        .iter()
        .map(|s| {
            s.map_or(Segment::ALL.len(), |g| {
                Segment::ALL.iter().position(|x| *x == g).unwrap_or(0)
            })
        })
        .collect();
    let by_segment = groups(seg_names, &seg_key);

    let cents: Vec<i64> = facts.iter().map(|f| f.cents).collect();
    let pareto = pareto(&cents);

    // Tracks, by join period (and order period for repurchase).
    let np = starts.len();
    let join_period: Vec<usize> = members
        .iter()
        .map(|&m| period_index(&starts, h.members.joined_at[m as usize]).unwrap_or(0))
        .collect();
    let tracks = tracks(h, members, &facts, &join_period, &starts, p, as_of);

    // Channel × join period.
    let nc = channel_names.len();
    let cp_key: Vec<usize> = channel_key
        .iter()
        .zip(&join_period)
        .map(|(&c, &q)| c * np + q)
        .collect();
    let cp = accumulate(&facts, &cp_key, nc * np);
    let mut channel_wool_by_period = Vec::with_capacity(nc * np);
    for (c, name) in channel_names.iter().enumerate() {
        for (q, &s) in starts.iter().enumerate() {
            let a = &cp[c * np + q];
            let (wool_share, wool_interval) = wool_share(a, measurable);
            channel_wool_by_period.push(ChannelPeriod {
                channel: name.clone(),
                period_start: day_string(s),
                members: a.members,
                labelled: a.labelled,
                wool: a.wool,
                wool_share,
                wool_interval,
                predicted_wool: with_model.then_some(a.predicted),
                predicted_wool_share: if with_model {
                    ratio(a.predicted, a.members)
                } else {
                    None
                },
            });
        }
    }

    // Which periods are labelled: at least half of their new members have a label.
    let per_period = accumulate(&facts, &join_period, np);
    let labelled_periods: Vec<usize> = (0..np)
        .filter(|&q| {
            per_period[q].members > 0 && 2 * per_period[q].labelled >= per_period[q].members
        })
        .collect();

    let mut flags = tier_flags(&by_tier, p);
    let campaign_period_key: Vec<usize> = campaign_key
        .iter()
        .zip(&join_period)
        .map(|(&c, &q)| c * np + q)
        .collect();
    let campaign_periods = accumulate(&facts, &campaign_period_key, campaign_names.len() * np);
    // Where wool cannot be measured, a share of 0 everywhere is no evidence of a jump or of a
    // group above the others.
    let wool_groups = if measurable {
        vec![
            ("channel", &channel_names, &by_channel, &cp),
            ("campaign", &campaign_names, &by_campaign, &campaign_periods),
        ]
    } else {
        Vec::new()
    };
    for (what, names, by, grid) in wool_groups {
        flags.extend(jump_flags(
            what,
            names,
            grid,
            np,
            &labelled_periods,
            &starts,
            p,
        ));
        flags.extend(above_flags(what, by, &all, p));
    }

    Ok(Diagnosis {
        as_of: DateTime::from_timestamp(as_of, 0)
            .map_or_else(|| as_of.to_string(), |t| t.to_rfc3339()),
        members: members.len(),
        wool_measurable: measurable,
        wool_evidence: evidence,
        model: model.map(|m| m.version.to_string()),
        settings: Settings {
            period: p.period,
            first_purchase_days: p.first_purchase_days,
            activity_days: p.activity_days,
            exchange_points: p.exchange_points,
            label: *rules.label.params(),
            flags: p.flags,
            quality: p.quality,
            definitions: definition_text(p),
            rules: rule_text(p),
        },
        overall: stats("all".to_string(), &all, &all, with_model, measurable),
        by_tier,
        by_channel,
        by_campaign,
        by_segment,
        pareto,
        tracks,
        channel_wool_by_period,
        flags,
    })
}
