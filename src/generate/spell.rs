//! Spelling simulated events as contract rows and pushing them to the table writers.
//!
//! The simulation works in numbers; here ids and keys become text. Each writer reuses one row
//! whose strings are overwritten in place, so writing a row allocates nothing: with tens of
//! millions of rows, allocation was most of the cost.

use std::fmt::Write as _;
use std::ops::Range;

use super::behave::{CouponEvt, LabelEvt, OrderEvt, PointsEvt};
use super::calendar::CAMPAIGNS;
use super::keys::{phone_prefix, region, Speller};
use super::plan::{Population, NO_KEY, NO_MEMBER, NO_RANGE};
use super::truth::TruthWriter;
use crate::data::schema::{Vocabulary, CHANNELS};
use crate::data::write::{CouponRow, LabelRow, MemberRow, OrderRow, PointsRow, TableWriter};
use crate::data::DataError;

fn set(slot: &mut String, value: &str) {
    slot.clear();
    slot.push_str(value);
}

/// Overwrites an optional text in place when both old and new are present.
fn set_opt(slot: &mut Option<String>, value: Option<&str>) {
    match (slot.as_mut(), value) {
        (Some(s), Some(v)) => set(s, v),
        (_, v) => *slot = v.map(str::to_string),
    }
}

/// Like `set_opt`, for a value written by `fill`.
fn fill_opt(slot: &mut Option<String>, present: bool, fill: impl FnOnce(&mut String)) {
    if !present {
        *slot = None;
        return;
    }
    let s = slot.get_or_insert_with(String::new);
    s.clear();
    fill(s);
}

/// `<member id><tag><n>`, e.g. `M00000042-c3`.
fn child_id(out: &mut String, member_id: &str, tag: &str, n: u32) {
    out.clear();
    out.push_str(member_id);
    out.push_str(tag);
    let _ = write!(out, "{n}");
}

/// Keeps the spelt id of the member whose events are being written.
struct MemberId {
    member: u32,
    id: String,
}

impl MemberId {
    fn new() -> Self {
        MemberId {
            member: NO_MEMBER,
            id: String::new(),
        }
    }

    fn of(&mut self, member: u32) -> &str {
        if member != self.member {
            self.member = member;
            Speller::member_id_into(&mut self.id, member);
        }
        &self.id
    }
}

/// Members `range` of the population, and their truth.
pub fn members(
    w: &mut TableWriter<MemberRow>,
    truth: &mut TruthWriter,
    population: &Population,
    speller: &Speller,
    range: Range<usize>,
) -> Result<(), DataError> {
    let mut row = MemberRow::default();
    for i in range {
        let Some(m) = population.members.get(i) else {
            continue;
        };
        Speller::member_id_into(&mut row.member_id, i as u32);
        row.joined_at = m.joined_at;
        set(
            &mut row.channel,
            CHANNELS
                .get(usize::from(m.channel))
                .copied()
                .unwrap_or("app"),
        );
        set_opt(
            &mut row.campaign_id,
            CAMPAIGNS.get(usize::from(m.campaign)).map(|c| c.id),
        );
        fill_opt(&mut row.inviter_id, m.inviter != NO_MEMBER, |s| {
            Speller::member_id_into(s, m.inviter)
        });
        fill_opt(&mut row.device_id, m.device != NO_KEY, |s| {
            speller.device_into(s, m.device)
        });
        fill_opt(&mut row.ip, m.ip_range != NO_RANGE, |s| {
            speller.ip_into(s, m.ip_range, m.ip_host)
        });
        set_opt(
            &mut row.phone_prefix,
            (m.phone != NO_KEY).then(|| phone_prefix(m.prefix)),
        );
        fill_opt(&mut row.phone_hash, m.phone != NO_KEY, |s| {
            speller.phone_hash_into(s, m.phone)
        });
        set_opt(&mut row.region, Some(region(m.region)));
        w.push(&row)?;
        truth.push(&row.member_id, m.kind, m.group)?;
    }
    Ok(())
}

pub fn coupons(w: &mut TableWriter<CouponRow>, events: &[CouponEvt]) -> Result<(), DataError> {
    let mut row = CouponRow::default();
    let mut ids = MemberId::new();
    for e in events {
        let id = ids.of(e.member);
        set(&mut row.member_id, id);
        child_id(&mut row.coupon_id, id, "-c", e.n);
        set_opt(&mut row.campaign_id, e.campaign);
        set(&mut row.event, e.event.name());
        row.at = e.at;
        row.face_value = e.face;
        row.threshold = e.threshold;
        set(&mut row.kind, e.kind.name());
        w.push(&row)?;
    }
    Ok(())
}

pub fn orders(w: &mut TableWriter<OrderRow>, events: &[OrderEvt]) -> Result<(), DataError> {
    let mut row = OrderRow::default();
    let mut ids = MemberId::new();
    for e in events {
        let id = ids.of(e.member);
        child_id(&mut row.order_id, id, "-o", e.n);
        set(&mut row.member_id, id);
        row.at = e.at;
        row.amount = e.amount;
        row.list_amount = e.list_amount;
        row.discount = e.discount;
        fill_opt(&mut row.coupon_id, e.coupon.is_some(), |s| {
            child_id(s, id, "-c", e.coupon.unwrap_or(0))
        });
        set(&mut row.channel, e.channel);
        row.refunded = e.refunded;
        w.push(&row)?;
    }
    Ok(())
}

pub fn points(w: &mut TableWriter<PointsRow>, events: &[PointsEvt]) -> Result<(), DataError> {
    let mut row = PointsRow::default();
    let mut ids = MemberId::new();
    for e in events {
        set(&mut row.member_id, ids.of(e.member));
        row.at = e.at;
        row.delta = e.delta;
        set(&mut row.reason, e.reason.name());
        w.push(&row)?;
    }
    Ok(())
}

pub fn labels(w: &mut TableWriter<LabelRow>, events: &[LabelEvt]) -> Result<(), DataError> {
    let mut row = LabelRow {
        source: "review".to_string(),
        ..LabelRow::default()
    };
    let mut ids = MemberId::new();
    for e in events {
        set(&mut row.member_id, ids.of(e.member));
        row.label = e.label;
        row.at = e.at;
        w.push(&row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_text_is_reused_or_cleared() {
        let mut slot = Some("old".to_string());
        set_opt(&mut slot, Some("new"));
        assert_eq!(slot.as_deref(), Some("new"));
        set_opt(&mut slot, None);
        assert_eq!(slot, None);
        fill_opt(&mut slot, true, |s| child_id(s, "M00000001", "-o", 12));
        assert_eq!(slot.as_deref(), Some("M00000001-o12"));
        fill_opt(&mut slot, false, |s| s.push('x'));
        assert_eq!(slot, None);
    }
}
