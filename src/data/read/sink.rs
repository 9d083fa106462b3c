//! Appending checked rows to the typed history, table by table: each row's cells are checked
//! (all of them, so that one bad row reports every bad cell), a row with any bad cell is left
//! out, and ids that must be unique point a twin at its first sighting.

use std::path::PathBuf;

use super::cells::{Bad, Cells, LastMember};
use crate::data::error::{ProblemKind, Problems};
use crate::data::history::{History, Interner, Sym, NONE};
use crate::data::schema::{CouponEvent, CouponKind, PointsReason, Table};

fn opt_sym(keys: &mut Interner, v: Option<&str>) -> Sym {
    v.map_or(NONE, |s| keys.intern(s))
}

/// Appends checked rows of one table to the history.
pub(super) struct TableSink<'h> {
    table: Table,
    history: &'h mut History,
    pub accepted: u64,
    /// Where each id was first seen (file, row), by the id's dense symbol, to point a duplicate
    /// at its twin.
    first_seen: Vec<(usize, u64)>,
    files: Vec<PathBuf>,
    last_member: LastMember,
}

impl<'h> TableSink<'h> {
    pub fn new(table: Table, history: &'h mut History) -> Self {
        TableSink {
            table,
            history,
            accepted: 0,
            first_seen: Vec::new(),
            files: Vec::new(),
            last_member: LastMember::default(),
        }
    }

    /// Makes room for about `rows` more rows, so that the id tables, which outgrow the caches,
    /// are not rebuilt again and again as they fill.
    pub fn reserve(&mut self, rows: usize) {
        let h = &mut *self.history;
        match self.table {
            Table::Members => {
                h.members.ids.reserve(rows, 0);
                self.first_seen.reserve(rows);
            }
            Table::Orders => {
                h.orders.ids.reserve(rows, 0);
                self.first_seen.reserve(rows);
            }
            Table::Coupons | Table::Points | Table::Labels => {}
        }
    }

    /// Appends the good rows of `cells`; returns true (the file's columns were usable).
    pub fn push(&mut self, cells: &Cells<'_>, p: &mut Problems) -> bool {
        if self.files.last().map(|f| f.as_path()) != Some(cells.file) {
            self.files.push(cells.file.to_path_buf());
        }
        for i in 0..cells.len {
            let ok = match self.table {
                Table::Members => self.member_row(cells, i, p),
                Table::Coupons => self.coupon_row(cells, i, p),
                Table::Orders => self.order_row(cells, i, p),
                Table::Points => self.points_row(cells, i, p),
                Table::Labels => self.label_row(cells, i, p),
            };
            if ok.is_ok() {
                self.accepted += 1;
            }
        }
        true
    }

    /// Records that `sym` was seen at row `i`; a second sighting is a duplicate-id problem.
    fn first_sighting(
        &mut self,
        cells: &Cells<'_>,
        c: usize,
        i: usize,
        sym: Sym,
        id: &str,
        p: &mut Problems,
    ) -> Result<(), Bad> {
        let here = (self.files.len() - 1, cells.row(i));
        // Symbols are dense and handed out in order of first sighting: one below the count of
        // sightings is a twin.
        if let Some(&(file, row)) = self.first_seen.get(sym as usize) {
            let twin = self
                .files
                .get(file)
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            let msg = format!("'{id}' appears twice; first at {twin}, row {row}");
            return Err(cells.report(p, c, i, ProblemKind::DuplicateId, msg));
        }
        self.first_seen.push(here);
        Ok(())
    }

    fn member_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let id = cells.text(p, 0, i);
        let joined_at = cells.time(p, 1, i);
        let channel = cells.text(p, 2, i);
        let (id, joined_at, channel) = (id?, joined_at?, channel?);
        let m = &mut self.history.members;
        let sym = m.ids.intern(id);
        self.first_sighting(cells, 0, i, sym, id, p)?;
        let keys = &mut self.history.keys;
        let m = &mut self.history.members;
        m.joined_at.push(joined_at);
        m.channel.push(keys.intern(channel));
        m.campaign.push(opt_sym(keys, cells.opt_text(3, i)));
        m.inviter.push(opt_sym(keys, cells.opt_text(4, i)));
        m.device.push(opt_sym(keys, cells.opt_text(5, i)));
        m.ip.push(opt_sym(keys, cells.opt_text(6, i)));
        m.phone_prefix.push(opt_sym(keys, cells.opt_text(7, i)));
        m.phone_hash.push(opt_sym(keys, cells.opt_text(8, i)));
        m.region.push(opt_sym(keys, cells.opt_text(9, i)));
        // `seq` on every row or on none: a partial arrival order cannot order ties.
        let before = m.joined_at.len() - 1;
        match cells.opt_int(p, 10, i) {
            Some(Ok(v)) if m.seq.len() == before => m.seq.push(v),
            Some(Ok(_)) => {
                let msg = "'seq' is given here but not on earlier rows".to_string();
                return Err(cells.report(p, 10, i, ProblemKind::MissingValue, msg));
            }
            Some(Err(bad)) => return Err(bad),
            None if !m.seq.is_empty() => return Err(cells.missing(p, 10, i)),
            None => {}
        }
        Ok(())
    }

    fn coupon_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let member = cells.member(p, 0, i, &self.history.members.ids, &mut self.last_member);
        let coupon = cells.text(p, 1, i);
        let event = cells.vocab::<CouponEvent>(p, 3, i);
        let at = cells.time(p, 4, i);
        let face_value = cells.money(p, 5, i);
        let threshold = cells.money(p, 6, i);
        let kind = cells.vocab::<CouponKind>(p, 7, i);
        let (member, coupon, event, at, face_value, threshold, kind) = (
            member?,
            coupon?,
            event?,
            at?,
            face_value?,
            threshold?,
            kind?,
        );
        let keys = &mut self.history.keys;
        let c = &mut self.history.coupons;
        c.member.push(member);
        c.coupon.push(c.ids.intern(coupon));
        c.campaign.push(opt_sym(keys, cells.opt_text(2, i)));
        c.event.push(event);
        c.at.push(at);
        c.face_value.push(face_value);
        c.threshold.push(threshold);
        c.kind.push(kind);
        Ok(())
    }

    fn order_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let order = cells.text(p, 0, i);
        let member = cells.member(p, 1, i, &self.history.members.ids, &mut self.last_member);
        let at = cells.time(p, 2, i);
        let amount = cells.money(p, 3, i);
        let list_amount = cells.money(p, 4, i);
        let discount = cells.money(p, 5, i);
        let channel = cells.text(p, 7, i);
        let refunded = cells.boolean(p, 8, i);
        let (order, member, at, amount, list_amount, discount, channel, refunded) = (
            order?,
            member?,
            at?,
            amount?,
            list_amount?,
            discount?,
            channel?,
            refunded?,
        );
        let sym = self.history.orders.ids.intern(order);
        self.first_sighting(cells, 0, i, sym, order, p)?;
        let keys = &mut self.history.keys;
        let o = &mut self.history.orders;
        o.order.push(sym);
        o.member.push(member);
        o.at.push(at);
        o.amount.push(amount);
        o.list_amount.push(list_amount);
        o.discount.push(discount);
        o.coupon
            .push(opt_sym(&mut self.history.coupons.ids, cells.opt_text(6, i)));
        o.channel.push(keys.intern(channel));
        o.refunded.push(refunded);
        Ok(())
    }

    fn points_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let member = cells.member(p, 0, i, &self.history.members.ids, &mut self.last_member);
        let at = cells.time(p, 1, i);
        let delta = cells.points(p, 2, i);
        let reason = cells.vocab::<PointsReason>(p, 3, i);
        let (member, at, delta, reason) = (member?, at?, delta?, reason?);
        let pts = &mut self.history.points;
        pts.member.push(member);
        pts.at.push(at);
        pts.delta.push(delta);
        pts.reason.push(reason);
        Ok(())
    }

    fn label_row(&mut self, cells: &Cells<'_>, i: usize, p: &mut Problems) -> Result<(), Bad> {
        let member = cells.member(p, 0, i, &self.history.members.ids, &mut self.last_member);
        let label = cells.int(p, 1, i);
        let at = cells.time(p, 2, i);
        let source = cells.text(p, 3, i);
        let (member, label, at, source) = (member?, label?, at?, source?);
        let label = match label {
            0 | 1 => label as u8,
            v => {
                let msg = format!("{v} is not a label (1 = abuser, 0 = genuine)");
                return Err(cells.report(p, 1, i, ProblemKind::UnknownValue, msg));
            }
        };
        let sym = self.history.keys.intern(source);
        let l = &mut self.history.labels;
        l.member.push(member);
        l.label.push(label);
        l.at.push(at);
        l.source.push(sym);
        Ok(())
    }
}
