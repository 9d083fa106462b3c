//! The gangs as file rows: one row a gang (`woolguard gangs --out`), and one a member in a gang
//! (`--members`), Parquet or CSV by the file's extension, through the project's writers.

use std::path::Path;

use serde::Serialize;

use crate::data::history::History;
use crate::data::schema::{opt, req, Column, Kind};
use crate::data::write::{Row, RowSink};
use crate::members::write_table;

use super::{Gang, GangSet, GangsError, KeyCount};

/// One gang in a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GangRow {
    pub gang_id: String,
    pub found_by: &'static str,
    pub size: i64,
    pub score: f64,
    pub flagged: bool,
    pub reason: String,
    pub devices: i64,
    pub top_device: Option<String>,
    pub top_device_accounts: i64,
    pub phones: i64,
    pub ip_ranges: i64,
    pub top_ip_range: Option<String>,
    pub top_ip_range_accounts: i64,
    pub inviters: i64,
    pub top_inviter: Option<String>,
    pub top_inviter_accounts: i64,
    /// RFC 3339.
    pub first_at: String,
    pub last_at: String,
    pub velocity: f64,
    pub campaign: Option<String>,
    pub campaign_accounts: i64,
    pub burst: i64,
    pub claims: i64,
    pub redeems: i64,
    pub orders: i64,
    pub paid: f64,
    pub took: i64,
    pub took_no_full: i64,
    pub full_price: i64,
    pub labelled: i64,
    pub wool: i64,
    pub virtual_phones: i64,
    /// NaN without a model.
    pub mean_probability: Option<f64>,
    pub rejects: Option<i64>,
}

const GANG_COLUMNS: &[Column] = &[
    req("gang_id", Kind::Text),
    req("found_by", Kind::Text),
    req("size", Kind::Int),
    req("score", Kind::Money),
    req("flagged", Kind::Bool),
    req("reason", Kind::Text),
    req("devices", Kind::Int),
    opt("top_device", Kind::Text),
    req("top_device_accounts", Kind::Int),
    req("phones", Kind::Int),
    req("ip_ranges", Kind::Int),
    opt("top_ip_range", Kind::Text),
    req("top_ip_range_accounts", Kind::Int),
    req("inviters", Kind::Int),
    opt("top_inviter", Kind::Text),
    req("top_inviter_accounts", Kind::Int),
    req("first_at", Kind::Text),
    req("last_at", Kind::Text),
    req("velocity", Kind::Money),
    opt("campaign", Kind::Text),
    req("campaign_accounts", Kind::Int),
    req("burst", Kind::Int),
    req("claims", Kind::Int),
    req("redeems", Kind::Int),
    req("orders", Kind::Int),
    req("paid", Kind::Money),
    req("took", Kind::Int),
    req("took_no_full", Kind::Int),
    req("full_price", Kind::Int),
    req("labelled", Kind::Int),
    req("wool", Kind::Int),
    req("virtual_phones", Kind::Int),
    opt("mean_probability", Kind::Money),
    opt("rejects", Kind::Int),
];

impl Row for GangRow {
    fn columns() -> &'static [Column] {
        GANG_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.gang_id);
        out.text(self.found_by);
        out.int(self.size);
        out.money(self.score);
        out.boolean(self.flagged);
        out.text(&self.reason);
        out.int(self.devices);
        out.opt_text(self.top_device.as_deref());
        out.int(self.top_device_accounts);
        out.int(self.phones);
        out.int(self.ip_ranges);
        out.opt_text(self.top_ip_range.as_deref());
        out.int(self.top_ip_range_accounts);
        out.int(self.inviters);
        out.opt_text(self.top_inviter.as_deref());
        out.int(self.top_inviter_accounts);
        out.text(&self.first_at);
        out.text(&self.last_at);
        out.money(self.velocity);
        out.opt_text(self.campaign.as_deref());
        out.int(self.campaign_accounts);
        out.int(self.burst);
        out.int(self.claims);
        out.int(self.redeems);
        out.int(self.orders);
        out.money(self.paid);
        out.int(self.took);
        out.int(self.took_no_full);
        out.int(self.full_price);
        out.int(self.labelled);
        out.int(self.wool);
        out.int(self.virtual_phones);
        out.money(self.mean_probability.unwrap_or(f64::NAN));
        out.opt_int(self.rejects);
    }
}

/// UTC seconds as RFC 3339.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

fn top(keys: &[KeyCount]) -> (Option<String>, i64) {
    keys.first()
        .map_or((None, 0), |k| (Some(k.key.clone()), i64::from(k.accounts)))
}

impl GangRow {
    pub fn of(g: &Gang) -> GangRow {
        let (top_device, top_device_accounts) = top(&g.devices);
        let (top_ip_range, top_ip_range_accounts) = top(&g.ip_ranges);
        let (top_inviter, top_inviter_accounts) = top(&g.inviters);
        GangRow {
            gang_id: g.id.clone(),
            found_by: g.found_by.name(),
            size: i64::from(g.size),
            score: g.score,
            flagged: g.flagged,
            reason: g.reason.clone(),
            devices: g.devices.len() as i64,
            top_device,
            top_device_accounts,
            phones: g.phones.len() as i64,
            ip_ranges: g.ip_ranges.len() as i64,
            top_ip_range,
            top_ip_range_accounts,
            inviters: g.inviters.len() as i64,
            top_inviter,
            top_inviter_accounts,
            first_at: rfc3339(g.first_at),
            last_at: rfc3339(g.last_at),
            velocity: g.velocity,
            campaign: g.campaign.clone(),
            campaign_accounts: i64::from(g.campaign_accounts),
            burst: i64::from(g.burst),
            claims: i64::from(g.claims),
            redeems: i64::from(g.redeems),
            orders: i64::from(g.orders),
            paid: g.paid,
            took: i64::from(g.took),
            took_no_full: i64::from(g.took_no_full),
            full_price: i64::from(g.full_price),
            labelled: i64::from(g.labelled),
            wool: i64::from(g.wool),
            virtual_phones: i64::from(g.virtual_phones),
            mean_probability: g.mean_probability,
            rejects: g.rejects.map(i64::from),
        }
    }
}

/// One member in a gang.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberGangRow {
    pub member_id: String,
    pub gang_id: String,
    pub flagged: bool,
}

const MEMBER_GANG_COLUMNS: &[Column] = &[
    req("member_id", Kind::Text),
    req("gang_id", Kind::Text),
    req("flagged", Kind::Bool),
];

impl Row for MemberGangRow {
    fn columns() -> &'static [Column] {
        MEMBER_GANG_COLUMNS
    }

    fn append(&self, out: &mut RowSink<'_>) {
        out.text(&self.member_id);
        out.text(&self.gang_id);
        out.boolean(self.flagged);
    }
}

impl GangSet {
    /// Writes one row a gang to `path` (`.csv` → CSV, else Parquet); returns the rows written.
    pub fn write(&self, path: &Path) -> Result<u64, GangsError> {
        Ok(write_table(path, self.gangs.len(), |i| {
            GangRow::of(&self.gangs[i])
        })?)
    }

    /// Writes member_id → gang_id for every member in a gang; returns the rows written.
    pub fn write_members(&self, h: &History, path: &Path) -> Result<u64, GangsError> {
        let rows: Vec<(usize, u32)> = self
            .gangs
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.members.iter().map(move |&m| (i, m)))
            .collect();
        Ok(write_table(path, rows.len(), |j| {
            let (i, m) = rows[j];
            MemberGangRow {
                member_id: h.members.id(m).to_string(),
                gang_id: self.gangs[i].id.clone(),
                flagged: self.gangs[i].flagged,
            }
        })?)
    }
}
