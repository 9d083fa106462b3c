//! What `validate` and `stats` report about a history folder, as plain data (printed as text or
//! JSON by the CLI).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::DateTime;
use serde::Serialize;

use super::error::{DataError, Problem};
use super::history::{History, Sym, NONE};
use super::read::{absent_tables, read_dir_with, ReadOptions, TableReport};
use super::schema::{CouponEvent, CouponKind, Table};

#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub dir: PathBuf,
    pub ok: bool,
    pub tables: Vec<TableReport>,
    /// The optional tables the folder holds no entry for: read as empty, and said so.
    pub absent_tables: Vec<Table>,
    /// The plausible window times were checked against.
    pub window: (String, String),
    pub time_span: Option<(String, String)>,
    pub problems_total: u64,
    /// Problems by kind code, every one counted.
    pub problem_counts: BTreeMap<String, u64>,
    /// The first problems of each kind, with their locations.
    pub problems: Vec<Problem>,
}

/// Reads every table of `dir` and reports all problems (at most `cap` listed per kind).
pub fn validate(dir: &Path, cap: usize) -> Result<Validation, DataError> {
    validate_with(dir, cap, &ReadOptions::default())
}

/// [`validate`] with other read options (another plausible window).
pub fn validate_with(
    dir: &Path,
    cap: usize,
    options: &ReadOptions,
) -> Result<Validation, DataError> {
    let outcome = read_dir_with(dir, cap, options)?;
    let problems = &outcome.problems;
    Ok(Validation {
        dir: dir.to_path_buf(),
        ok: problems.is_empty(),
        absent_tables: outcome.absent_tables(),
        window: (iso(options.window.earliest), iso(options.window.latest)),
        time_span: outcome.history.time_span().map(|(a, b)| (iso(a), iso(b))),
        problems_total: problems.total(),
        problem_counts: problems
            .counts()
            .iter()
            .map(|(k, n)| (k.code().to_string(), *n))
            .collect(),
        problems: problems.kept().to_vec(),
        tables: outcome.tables,
    })
}

/// UTC seconds as an RFC 3339 string.
pub fn iso(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| secs.to_string())
}

#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub name: String,
    pub members: u64,
    pub share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// The optional tables the folder holds no entry for (read as empty); empty when the
    /// history did not come from a folder.
    pub absent_tables: Vec<Table>,
    pub members: u64,
    pub coupons: u64,
    pub orders: u64,
    pub points: u64,
    pub labels: u64,
    pub labelled_wool: u64,
    pub time_span: Option<(String, String)>,
    pub channels: Vec<Share>,
    pub campaigns: Vec<Share>,
    pub coupon_events: BTreeMap<String, u64>,
    pub coupon_kinds: BTreeMap<String, u64>,
    pub sales: f64,
    pub refunded_orders: u64,
    pub orders_with_coupon: u64,
    pub members_with_device: u64,
    pub members_with_inviter: u64,
}

fn shares(history: &History, syms: &[Sym], none_name: &str) -> Vec<Share> {
    let mut counts: BTreeMap<Sym, u64> = BTreeMap::new();
    for &s in syms {
        *counts.entry(s).or_insert(0) += 1;
    }
    let total = syms.len().max(1) as f64;
    let mut out: Vec<Share> = counts
        .into_iter()
        .map(|(s, n)| Share {
            name: if s == NONE {
                none_name.to_string()
            } else {
                history.keys.name(s).to_string()
            },
            members: n,
            share: n as f64 / total,
        })
        .collect();
    out.sort_by(|a, b| b.members.cmp(&a.members).then(a.name.cmp(&b.name)));
    out
}

/// What the history read from `dir` holds, with the optional tables the folder lacks.
pub fn stats_in(dir: &Path, history: &History) -> Stats {
    Stats {
        absent_tables: absent_tables(dir),
        ..stats(history)
    }
}

/// What a history holds (`absent_tables` is left empty: see [`stats_in`]).
pub fn stats(history: &History) -> Stats {
    let mut coupon_events = BTreeMap::new();
    let mut coupon_kinds = BTreeMap::new();
    for (e, k) in history.coupons.event.iter().zip(&history.coupons.kind) {
        let e = match e {
            CouponEvent::Claim => "claim",
            CouponEvent::Redeem => "redeem",
            CouponEvent::Expire => "expire",
        };
        let k = match k {
            CouponKind::Welcome => "welcome",
            CouponKind::Fission => "fission",
            CouponKind::Tier => "tier",
            CouponKind::Promo => "promo",
        };
        *coupon_events.entry(e.to_string()).or_insert(0) += 1;
        *coupon_kinds.entry(k.to_string()).or_insert(0) += 1;
    }
    let o = &history.orders;
    let m = &history.members;
    Stats {
        absent_tables: Vec::new(),
        members: m.len() as u64,
        coupons: history.coupons.len() as u64,
        orders: o.len() as u64,
        points: history.points.len() as u64,
        labels: history.labels.len() as u64,
        labelled_wool: history.labels.label.iter().filter(|&&l| l == 1).count() as u64,
        time_span: history.time_span().map(|(a, b)| (iso(a), iso(b))),
        channels: shares(history, &m.channel, "(none)"),
        campaigns: shares(history, &m.campaign, "(no campaign)"),
        coupon_events,
        coupon_kinds,
        sales: o
            .amount
            .iter()
            .zip(&o.refunded)
            .filter(|(_, r)| !**r)
            .map(|(a, _)| a)
            .sum(),
        refunded_orders: o.refunded.iter().filter(|r| **r).count() as u64,
        orders_with_coupon: o.coupon.iter().filter(|c| **c != NONE).count() as u64,
        members_with_device: m.device.iter().filter(|d| **d != NONE).count() as u64,
        members_with_inviter: m.inviter.iter().filter(|d| **d != NONE).count() as u64,
    }
}
