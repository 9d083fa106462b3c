//! Point-in-time correctness (DESIGN.md §4): changing or adding anything at or after a moment
//! leaves every feature computed for that moment bit-for-bit unchanged.

use woolguard::data::history::History;
use woolguard::data::schema::{CouponEvent, CouponKind, PointsReason};
use woolguard::data::{load, NONE};
use woolguard::features;
use woolguard::features::member::{self, MemberIndex};
use woolguard::features::recruit::{self, MergeCaps};
use woolguard::generate::{generate, Params};

fn generated(members: u64, seed: u64) -> History {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = Params {
        members,
        seed,
        difficulty: 0.5,
    }
    .check()
    .unwrap_or_else(|e| panic!("{e}"));
    generate(&config, dir.path(), &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    load(dir.path()).unwrap_or_else(|e| panic!("{e}"))
}

fn median_join(h: &History) -> i64 {
    let mut t = h.members.joined_at.clone();
    t.sort_unstable();
    t[t.len() / 2]
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Adds a member joining at `at` on the given keys of member `like`, with one of each event.
fn add_member_like(h: &mut History, id: &str, like: usize, at: i64) -> u32 {
    let m = &mut h.members;
    let idx = m.ids.intern(id);
    m.joined_at.push(at);
    m.channel.push(m.channel[like]);
    m.campaign.push(m.campaign[like]);
    m.inviter.push(m.inviter[like]);
    m.device.push(m.device[like]);
    m.ip.push(m.ip[like]);
    m.phone_prefix.push(m.phone_prefix[like]);
    m.phone_hash.push(m.phone_hash[like]);
    m.region.push(m.region[like]);
    idx
}

fn add_events(h: &mut History, member: u32, at: i64) {
    let k = h.keys.intern("future-coupon");
    let c = &mut h.coupons;
    c.member.push(member);
    c.coupon.push(k);
    c.campaign.push(NONE);
    c.event.push(CouponEvent::Redeem);
    c.at.push(at);
    c.face_value.push(500.0);
    c.threshold.push(1.0);
    c.kind.push(CouponKind::Welcome);
    let o = &mut h.orders;
    o.order
        .push(h.keys.intern(&format!("future-order-{member}-{at}")));
    o.member.push(member);
    o.at.push(at);
    o.amount.push(1.0);
    o.list_amount.push(501.0);
    o.discount.push(500.0);
    o.coupon.push(k);
    o.channel.push(h.members.channel[member as usize]);
    o.refunded.push(true);
    let p = &mut h.points;
    p.member.push(member);
    p.at.push(at);
    p.delta.push(-10_000);
    p.reason.push(PointsReason::RedeemCoupon);
    let l = &mut h.labels;
    l.member.push(member);
    l.label.push(1);
    l.at.push(at);
    l.source.push(k);
}

#[test]
fn member_features_ignore_everything_at_or_after_the_cutoff() {
    let mut h = generated(3_000, 11);
    let cutoff = median_join(&h);
    let early: Vec<u32> = (0..h.members.len() as u32)
        .filter(|&m| h.members.joined_at[m as usize] < cutoff)
        .collect();
    let cutoffs = vec![cutoff; early.len()];
    let before = member::build(&h, &MemberIndex::build(&h), &early, &cutoffs);
    // The whole row: recruitment-time, the member's own, and its pool at the cutoff.
    let whole = features::build(&h, MergeCaps::default(), &early, Some(&cutoffs));

    // The future changes: every event at or after the cutoff is altered, each early member gets
    // new events exactly at and after the cutoff, and new members join later.
    for i in 0..h.orders.len() {
        if h.orders.at[i] >= cutoff {
            h.orders.amount[i] *= 3.0;
            h.orders.refunded[i] = !h.orders.refunded[i];
            // Now at full price: the pool's full-price and took-without-buying shares would move.
            h.orders.coupon[i] = NONE;
            h.orders.discount[i] = 0.0;
        }
    }
    for i in 0..h.coupons.len() {
        if h.coupons.at[i] >= cutoff {
            h.coupons.event[i] = CouponEvent::Redeem;
        }
    }
    for i in 0..h.points.len() {
        if h.points.at[i] >= cutoff {
            h.points.delta[i] += 77;
        }
    }
    for &m in &early {
        add_events(&mut h, m, cutoff);
        add_events(&mut h, m, cutoff + 86_400);
    }
    for j in 0..50 {
        let m = add_member_like(&mut h, &format!("late-{j}"), j, cutoff + j as i64);
        add_events(&mut h, m, cutoff + 100);
    }
    let after = member::build(&h, &MemberIndex::build(&h), &early, &cutoffs);
    assert!(before.rows > 1_000, "{} early members", before.rows);
    assert_eq!(bits(&before.values), bits(&after.values));
    let whole_after = features::build(&h, MergeCaps::default(), &early, Some(&cutoffs));
    assert_eq!(whole.names, whole_after.names);
    assert_eq!(bits(&whole.values), bits(&whole_after.values));
    // The pool is read, not empty: members share devices with others, groups have ordered.
    let pool = |name| whole.column(name).unwrap_or_default();
    assert!(
        pool("pool_device_accounts")
            .iter()
            .filter(|&&v| v > 1.0)
            .count()
            > 20
    );
    assert!(
        pool("pool_group_order_share")
            .iter()
            .filter(|&&v| v > 0.0)
            .count()
            > 100
    );
    // And the features are not trivially empty.
    let orders = before.column("orders").unwrap_or_default();
    assert!(orders.iter().sum::<f64>() > 100.0);
}

#[test]
fn recruitment_features_ignore_everyone_who_joined_later() {
    let mut h = generated(3_000, 12);
    let t = median_join(&h);
    let (before, _) = recruit::build(&h, MergeCaps::default());
    let n = h.members.len();

    // Later arrivals share the keys of every early member, reviews arrive at or after t, and
    // every order from t on is at full price.
    for i in 0..h.orders.len() {
        if h.orders.at[i] >= t {
            h.orders.coupon[i] = NONE;
            h.orders.discount[i] = 0.0;
        }
    }
    for j in 0..n {
        if h.members.joined_at[j] < t && j % 3 == 0 {
            let m = add_member_like(&mut h, &format!("copy-{j}"), j, t + j as i64);
            add_events(&mut h, m, t + 10);
            add_events(&mut h, j as u32, t);
        }
    }
    let (after, _) = recruit::build(&h, MergeCaps::default());
    let mut checked = 0;
    let mut nonzero_device = 0;
    for m in 0..n {
        if h.members.joined_at[m] < t {
            assert_eq!(bits(before.row(m)), bits(after.row(m)), "member {m}");
            checked += 1;
            nonzero_device += usize::from(before.row(m)[0] > 0.0);
        }
    }
    assert!(checked > 1_000, "{checked}");
    assert!(
        nonzero_device > 10,
        "shared devices exist: {nonzero_device}"
    );
    let with_orders = (0..n)
        .filter(|&m| h.members.joined_at[m] < t && before.row(m)[20] > 0.0)
        .count();
    assert!(with_orders > 50, "{with_orders} saw their group's orders");
    // The later copies do see the early members they copy.
    let copy = h.members.index_of("copy-0").unwrap_or(0) as usize;
    assert!(
        after.row(copy)[13] >= 1.0,
        "the copy joins its original's group"
    );
}

/// `h` with its coupon, order and label rows reordered by time, rows of one time keeping their
/// order: oldest first, or newest first (a table the sweep must sort itself).
fn reordered(h: &History, newest_first: bool) -> History {
    fn perm(at: &[i64], newest_first: bool) -> Vec<usize> {
        let mut p: Vec<usize> = (0..at.len()).collect();
        p.sort_by_key(|&i| if newest_first { -at[i] } else { at[i] });
        p
    }
    fn pick<T: Copy>(v: &mut Vec<T>, p: &[usize]) {
        *v = p.iter().map(|&i| v[i]).collect();
    }
    let mut out = h.clone();
    let c = &mut out.coupons;
    let p = perm(&c.at, newest_first);
    pick(c.member.to_mut(), &p);
    pick(c.coupon.to_mut(), &p);
    pick(c.campaign.to_mut(), &p);
    pick(&mut c.event, &p);
    pick(c.at.to_mut(), &p);
    pick(c.face_value.to_mut(), &p);
    pick(c.threshold.to_mut(), &p);
    pick(&mut c.kind, &p);
    let o = &mut out.orders;
    let p = perm(&o.at, newest_first);
    pick(o.order.to_mut(), &p);
    pick(o.member.to_mut(), &p);
    pick(o.at.to_mut(), &p);
    pick(o.amount.to_mut(), &p);
    pick(o.list_amount.to_mut(), &p);
    pick(o.discount.to_mut(), &p);
    pick(o.coupon.to_mut(), &p);
    pick(o.channel.to_mut(), &p);
    pick(&mut o.refunded, &p);
    let l = &mut out.labels;
    let p = perm(&l.at, newest_first);
    pick(&mut l.member, &p);
    pick(&mut l.label, &p);
    pick(&mut l.at, &p);
    pick(&mut l.source, &p);
    out
}

/// The sweep takes events in time order (rows of one time in row order) whatever order the
/// tables come in: a table already in time order is walked as it stands, any other is sorted,
/// and both give the rows and groups of the history as read.
#[test]
fn rows_and_groups_do_not_depend_on_the_order_tables_come_in() {
    let h = generated(1_500, 21);
    let t = median_join(&h) + 60 * 86_400;
    let members: Vec<u32> = (0..h.members.len() as u32)
        .filter(|&m| h.members.joined_at[m as usize] < t)
        .collect();
    let rows = |h: &History| {
        let b = features::Builder::new(h, MergeCaps::default(), features::Cutoffs::At(t));
        let groups: Vec<Option<(String, u32, u32)>> = members
            .iter()
            .map(|&m| {
                b.group_at_cutoff(m)
                    .map(|(first, g)| (first.to_string(), g.size, g.devices))
            })
            .collect();
        (bits(&b.rows(&members).values), groups)
    };
    let (values, groups) = rows(&h);
    let grouped = groups.iter().flatten().count();
    assert!(
        grouped >= 20,
        "only {grouped} members in a group of two or more"
    );
    assert!(values
        .iter()
        .any(|&v| !f64::from_bits(v).is_nan() && f64::from_bits(v) > 0.0));
    let oldest = reordered(&h, false);
    let newest = reordered(&h, true);
    assert!(oldest.coupons.at.windows(2).all(|w| w[0] <= w[1]));
    assert!(newest.coupons.at.windows(2).any(|w| w[0] > w[1]));
    assert!(newest.orders.at.windows(2).any(|w| w[0] > w[1]));
    assert!(rows(&oldest) == (values.clone(), groups.clone()));
    assert!(rows(&newest) == (values, groups));
}
