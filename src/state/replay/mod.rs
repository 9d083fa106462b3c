//! A history as the events a brand would have sent the scorer, in the order the offline sweep
//! takes them ([`recruit::timeline`]): what the online state must agree with, and what the
//! replay benchmark feeds it.

use crate::data::history::{History, Sym};
use crate::data::schema::Vocabulary;
use crate::features::recruit::{self, Step};

use super::events::Event;

pub mod bench;
pub mod live;

/// Every row of `h` as an event, in time order (points are left out: the sign-up state does
/// not read them).
pub fn events(h: &History) -> impl Iterator<Item = Event> + '_ {
    recruit::timeline(h, &[], i64::MAX).filter_map(move |step| event_of(h, step))
}

/// The event of one step of `h`'s timeline (`None` for a probe).
pub fn event_of(h: &History, step: Step) -> Option<Event> {
    let key = |s: Sym| h.keys.opt_name(s).map(str::to_string);
    Some(match step {
        Step::Probe(_) => return None,
        Step::Signup(m) => {
            let i = m as usize;
            let mm = &h.members;
            Event::Signup {
                event_id: format!("signup:{}", mm.id(m)),
                member_id: mm.id(m).to_string(),
                at: mm.joined_at[i],
                channel: key(mm.channel[i]),
                campaign_id: key(mm.campaign[i]),
                inviter_id: key(mm.inviter[i]),
                device_id: key(mm.device[i]),
                ip: key(mm.ip[i]),
                phone_prefix: key(mm.phone_prefix[i]),
                phone_hash: key(mm.phone_hash[i]),
                region: key(mm.region[i]),
            }
        }
        Step::Label(r) => {
            let l = &h.labels;
            Event::Label {
                event_id: format!("label:{r}"),
                member_id: h.members.id(l.member[r]).to_string(),
                at: l.at[r],
                label: l.label[r],
                source: key(l.source[r]),
            }
        }
        Step::Coupon(r) => {
            let c = &h.coupons;
            Event::Coupon {
                event_id: format!("coupon:{r}"),
                member_id: h.members.id(c.member[r]).to_string(),
                at: c.at[r],
                coupon_id: c.ids.name(c.coupon[r]).to_string(),
                event: c.event[r].name().to_string(),
                kind: c.kind[r].name().to_string(),
                face_value: c.face_value[r],
                threshold: c.threshold[r],
                campaign_id: key(c.campaign[r]),
            }
        }
        Step::Order(r) => {
            let o = &h.orders;
            Event::Order {
                event_id: format!("order:{r}"),
                member_id: h.members.id(o.member[r]).to_string(),
                at: o.at[r],
                order_id: o.ids.name(o.order[r]).to_string(),
                amount: o.amount[r],
                list_amount: o.list_amount[r],
                discount: o.discount[r],
                coupon_id: (o.coupon[r] != crate::data::history::NONE)
                    .then(|| h.coupons.ids.name(o.coupon[r]).to_string()),
                channel: key(o.channel[r]),
                refunded: o.refunded[r],
            }
        }
    })
}
