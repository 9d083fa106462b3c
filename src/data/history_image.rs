//! The history in a start image: every table's columns as they are in memory, each interner as
//! its text and the ends of its symbols (its lookup table is built again on read).

use std::io::{self, Read, Write};

use super::column::{as_bytes, Column, Text};
use super::history::{ByMember, Coupons, History, Interner, Labels, Members, Orders, Points};
use super::image::{Image, ImageError, In, Out};
use super::schema::{CouponEvent, CouponKind, PointsReason};
use crate::{image_enum, image_struct};

impl Image for Interner {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        // One buffer and its ends, as read back: the second part's after the first's.
        let [(a, a_ends), (b, b_ends)] = self.parts();
        (a.len() + b.len()).put(o)?;
        o.bytes(a.as_bytes())?;
        o.bytes(b.as_bytes())?;
        (a_ends.len() + b_ends.len()).put(o)?;
        o.align(8)?;
        o.bytes(as_bytes(a_ends))?;
        b_ends.iter().try_for_each(|&e| (a.len() + e).put(o))
    }

    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        let buf = Text::take(i)?;
        let ends = Column::take(i)?;
        Interner::from_parts(buf, ends).map_err(ImageError::Damaged)
    }
}

image_struct!(Members {
    ids,
    joined_at,
    channel,
    campaign,
    inviter,
    device,
    ip,
    phone_prefix,
    phone_hash,
    region,
    seq
});
image_struct!(Coupons {
    ids,
    member,
    coupon,
    campaign,
    event,
    at,
    face_value,
    threshold,
    kind
});
image_struct!(Orders {
    ids,
    order,
    member,
    at,
    amount,
    list_amount,
    discount,
    coupon,
    channel,
    refunded
});
image_struct!(Points {
    member,
    at,
    delta,
    reason
});
image_struct!(Labels {
    member,
    label,
    at,
    source
});
image_struct!(History {
    keys,
    members,
    coupons,
    orders,
    points,
    labels
});
image_struct!(ByMember { offsets, rows } checked by in_order);

/// Refused where the offsets go back or past the rows.
fn in_order(b: &ByMember) -> Result<(), ImageError> {
    let ordered = b.offsets.windows(2).all(|w| w[0] <= w[1]);
    if !ordered
        || b.offsets
            .last()
            .is_some_and(|&l| l as usize != b.rows.len())
    {
        return Err(ImageError::Damaged("an event index out of order".into()));
    }
    Ok(())
}
image_enum!(CouponEvent {
    Claim,
    Redeem,
    Expire
});
image_enum!(CouponKind {
    Welcome,
    Fission,
    Tier,
    Promo
});
image_enum!(PointsReason {
    Purchase,
    Share,
    Invite,
    Checkin,
    RedeemCoupon,
    RedeemGift,
    PointsPlusCash,
    Expire
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_comes_back_equal() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
        let h = crate::data::load(&dir).unwrap();
        let mut o = Out::new(Vec::new());
        h.put(&mut o).unwrap();
        let (bytes, crc) = o.finish().unwrap();
        let mut i = In::new(&bytes[..], bytes.len() as u64);
        let back = History::take(&mut i).unwrap();
        assert_eq!(i.finish().unwrap(), crc);
        assert_eq!(
            crate::model::report::fingerprint(&back).fingerprint,
            crate::model::report::fingerprint(&h).fingerprint
        );
        assert_eq!(back.members.len(), 5_000);
        assert_eq!(back.orders.at, h.orders.at);
        assert_eq!(back.coupons.kind, h.coupons.kind);
        // Lookups work on the table built again.
        let id = h.members.id(4_321).to_string();
        assert_eq!(back.members.index_of(&id), Some(4_321));
        assert_eq!(back.keys.len(), h.keys.len());
        assert_eq!(back.keys.get(h.keys.name(17)), Some(17));
        // An interner that grew after it was read back is written as one, and reads back whole.
        let mut grown = back.keys.clone();
        let new = grown.intern("a key not in the sample");
        let mut o = Out::new(Vec::new());
        grown.put(&mut o).unwrap();
        let (bytes, _) = o.finish().unwrap();
        let again = Interner::take(&mut In::new(&bytes[..], bytes.len() as u64)).unwrap();
        assert_eq!(again.len(), h.keys.len() + 1);
        assert_eq!(again.get("a key not in the sample"), Some(new));
        assert_eq!(again.name(17), h.keys.name(17));
        assert_eq!(again.parts()[1].1.len(), 0, "one part once read");
    }
}
