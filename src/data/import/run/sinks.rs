//! Where output rows go: the members, merged by id across the members feeds, and the events,
//! checked against the members and written as they come.

use super::feed::{Out, Sink};
use super::FastMap;
use crate::data::error::Location;
use crate::data::import::mapping::Source;
use crate::data::import::ImportError;
use crate::data::schema::{CouponEvent, CouponKind, PointsReason, Table};
use crate::data::write::{CouponRow, DatasetWriter, LabelRow, MemberRow, OrderRow, PointsRow};

/// A member as the members feeds build it up.
struct MemberAcc {
    pub(super) id: String,
    joined_at: Option<i64>,
    /// The text columns after joined_at (channel, campaign_id, ...), each with the rank of the row
    /// that gave it (its time, or i64::MIN from a feed without joined_at): the lowest rank wins,
    /// the first seen among equals.
    fields: Vec<Option<(String, i64)>>,
    first_source: usize,
    pub(super) first_row: u64,
}

/// Members, merged by member_id in the order first seen.
#[derive(Default)]
pub(super) struct MemberSet {
    pub(super) index: FastMap<String, usize>,
    members: Vec<MemberAcc>,
}

/// Column positions in the members table (schema::MEMBERS).
const MEMBER_ID: usize = 0;
const JOINED_AT: usize = 1;
const MEMBER_TEXTS: std::ops::Range<usize> = 2..10;

impl Sink for MemberSet {
    fn accept(&mut self, out: &Out<'_, '_>) -> Result<(), ImportError> {
        let (feed, origin) = (out.feed, out.origin);
        let id = out.str(MEMBER_ID)?;
        // Members merge across feeds, so an empty joined_at or channel in one row only means this
        // row does not tell it; `write` refuses a member that no row tells.
        let joined = out.opt_time(JOINED_AT)?;
        // A feed without joined_at is a customer file: what it says about a member outranks what
        // events imply. Among timed rows the earliest wins (the member's first appearance); a
        // timed feed's row without a time comes last.
        let rank = match joined {
            Some(t) => t,
            None if out.given(JOINED_AT) => i64::MAX,
            None => i64::MIN,
        };
        // Most rows repeat a known member and change nothing: borrow, allocate only what is kept.
        let m = match self.index.get(id.as_ref()) {
            Some(&m) => m,
            None => {
                self.members.push(MemberAcc {
                    id: id.to_string(),
                    joined_at: None,
                    fields: vec![None; MEMBER_TEXTS.len()],
                    first_source: feed.source,
                    first_row: origin.row(),
                });
                self.index.insert(id.into_owned(), self.members.len() - 1);
                self.members.len() - 1
            }
        };
        let m = &mut self.members[m];
        if let Some(t) = joined {
            m.joined_at = Some(m.joined_at.map_or(t, |j| j.min(t)));
        }
        for (slot, c) in m.fields.iter_mut().zip(MEMBER_TEXTS) {
            if let Some(v) = out.opt_str(c)? {
                if slot.as_ref().is_none_or(|(_, r)| rank < *r) {
                    *slot = Some((v.into_owned(), rank));
                }
            }
        }
        Ok(())
    }
}

impl MemberSet {
    /// Writes the members and returns the id index the event feeds check against.
    pub(super) fn write(
        self,
        sources: &[Source],
        writer: &mut DatasetWriter,
    ) -> Result<FastMap<String, usize>, ImportError> {
        for m in &self.members {
            let missing = |what: &str| {
                let file = sources
                    .get(m.first_source)
                    .map(|s| s.file.clone())
                    .unwrap_or_default();
                ImportError::Source {
                    location: Location::row(&file, m.first_row),
                    message: format!(
                        "member '{}' (first seen here) gets no {what} from any [[members]] feed",
                        m.id
                    ),
                }
            };
            let joined_at = m.joined_at.ok_or_else(|| missing("joined_at"))?;
            let text = |i: usize| {
                m.fields[i - MEMBER_TEXTS.start]
                    .as_ref()
                    .map(|(s, _)| s.clone())
            };
            let row = MemberRow {
                member_id: m.id.clone(),
                joined_at,
                channel: text(2).ok_or_else(|| missing("channel"))?,
                campaign_id: text(3),
                inviter_id: text(4),
                device_id: text(5),
                ip: text(6),
                phone_prefix: text(7),
                phone_hash: text(8),
                region: text(9),
                seq: None,
            };
            writer.members.push(&row)?;
        }
        Ok(self.index)
    }
}

/// Writes event rows, checking each against the members and each order id against the others.
pub(super) struct EventSink<'w> {
    pub(super) writer: &'w mut DatasetWriter,
    pub(super) sources: &'w [Source],
    pub(super) members: &'w FastMap<String, usize>,
    pub(super) member_sources: String,
    /// Where each order id was first written: (source index, row).
    pub(super) order_ids: FastMap<String, (usize, u64)>,
}

impl EventSink<'_> {
    pub(super) fn member(&self, out: &Out<'_, '_>, c: usize) -> Result<String, ImportError> {
        let id = out.text(c)?;
        if !self.members.contains_key(&id) {
            return Err(out.error(
                c,
                format!(
                    "'{id}' is not a member: no [[members]] feed gives it (members come from: {}); add a members feed for this source",
                    self.member_sources
                ),
            ));
        }
        Ok(id)
    }
}

impl Sink for EventSink<'_> {
    fn accept(&mut self, out: &Out<'_, '_>) -> Result<(), ImportError> {
        let (feed, origin) = (out.feed, out.origin);
        // Column positions follow schema::{COUPONS, ORDERS, POINTS, LABELS}.
        match feed.table {
            Table::Members => Ok(()),
            Table::Coupons => {
                let row = CouponRow {
                    member_id: self.member(out, 0)?,
                    coupon_id: out.text(1)?,
                    campaign_id: out.opt_text(2)?,
                    event: out.vocab::<CouponEvent>(3)?.to_string(),
                    at: out.time(4)?,
                    face_value: out.money(5)?,
                    threshold: out.money(6)?,
                    kind: out.vocab::<CouponKind>(7)?.to_string(),
                };
                Ok(self.writer.coupons.push(&row)?)
            }
            Table::Orders => {
                let order_id = out.text(0)?;
                let here = (feed.source, origin.row());
                if let Some(&(s, r)) = self.order_ids.get(&order_id) {
                    return Err(out.error(
                        0,
                        format!(
                            "the order id '{order_id}' was already given by {}, row {r}; order ids must be unique",
                            self.source_file(s)
                        ),
                    ));
                }
                let row = OrderRow {
                    member_id: self.member(out, 1)?,
                    at: out.time(2)?,
                    amount: out.money(3)?,
                    list_amount: out.money(4)?,
                    discount: out.money(5)?,
                    coupon_id: out.opt_text(6)?,
                    channel: out.text(7)?,
                    refunded: out.boolean(8)?,
                    order_id: order_id.clone(),
                };
                self.order_ids.insert(order_id, here);
                Ok(self.writer.orders.push(&row)?)
            }
            Table::Points => {
                let row = PointsRow {
                    member_id: self.member(out, 0)?,
                    at: out.time(1)?,
                    delta: out.int(2)?,
                    reason: out.vocab::<PointsReason>(3)?.to_string(),
                };
                Ok(self.writer.points.push(&row)?)
            }
            Table::Labels => {
                let label = out.int(1)?;
                if label != 0 && label != 1 {
                    return Err(out.error(
                        1,
                        format!("{label} is not a label (1 = abuser, 0 = genuine)"),
                    ));
                }
                let row = LabelRow {
                    member_id: self.member(out, 0)?,
                    label,
                    at: out.time(2)?,
                    source: out.text(3)?,
                };
                Ok(self.writer.labels.push(&row)?)
            }
        }
    }
}

impl EventSink<'_> {
    fn source_file(&self, source: usize) -> String {
        self.sources
            .get(source)
            .map(|s| s.file.display().to_string())
            .unwrap_or_default()
    }
}
