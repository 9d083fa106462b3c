//! The online sign-up state in a start image: every key's record, the union-find and its groups,
//! as they are in memory, so that a scorer starting from a snapshot holds the state the sweep
//! ended with without sweeping again.

use std::io::{self, Read, Write};

use super::group::{Account, Behaviour, Group, Velocity};
use super::keys::{KeyStats, KeyTable};
use super::window::Window;
use super::{MergeCaps, Record, RecruitState, Tree};
use crate::data::image::{Image, ImageError, In, Out};
use crate::image_struct;

impl Image for Window {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        match self {
            Window::Empty => 0u8.put(o),
            Window::One(t) => {
                1u8.put(o)?;
                t.put(o)
            }
            Window::Many(q) => {
                2u8.put(o)?;
                q.put(o)
            }
        }
    }

    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        match u8::take(i)? {
            0 => Ok(Window::Empty),
            1 => Ok(Window::One(i64::take(i)?)),
            2 => Ok(Window::Many(Image::take(i)?)),
            b => Err(ImageError::Damaged(format!("{b} is not a sign-up window"))),
        }
    }
}

image_struct!(KeyStats {
    accounts,
    recent,
    first_node,
    first_at,
    deeds
});
image_struct!(KeyTable { slot, pages });
image_struct!(Behaviour {
    took,
    took_and_full,
    ordered,
    full_price,
    redeemed_accounts,
    redeem_hours,
    claims,
    redeems,
    orders,
    value_taken,
    paid
});
image_struct!(Velocity { value, at });
image_struct!(Group {
    first,
    size,
    devices,
    ip24s,
    first_at,
    last_at,
    labelled,
    wool,
    deeds,
    velocity
});
image_struct!(Account {
    member,
    joined_at,
    inviter,
    device,
    phone,
    range,
    tree,
    depth,
    flags
});
image_struct!(Record { labelled, wool });
image_struct!(Tree { accounts, ordered });
image_struct!(MergeCaps {
    device,
    phone,
    ip24,
    inviter
});

image_struct!(RecruitState {
    keys,
    caps,
    ip_range,
    device,
    phone,
    ip24,
    inviter,
    campaign,
    inviter_record,
    nodes,
    accounts,
    parent,
    next,
    groups,
    trees
} checked by holds_together);

/// Refused where the union-find's tables disagree in length or point outside themselves.
fn holds_together(s: &RecruitState) -> Result<(), ImageError> {
    let n = s.accounts.len();
    let inside = |v: &[u32]| v.iter().all(|&x| (x as usize) < n);
    if s.parent.len() != n
        || s.next.len() != n
        || s.groups.len() != n
        || !inside(&s.parent)
        || !inside(&s.next)
        || !s.nodes.values().all(|&x| (x as usize) < n)
    {
        return Err(ImageError::Damaged(format!(
            "the sign-up state's union-find does not hold together ({n} accounts)"
        )));
    }
    Ok(())
}
