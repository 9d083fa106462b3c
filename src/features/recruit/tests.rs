//! The sign-up state by hand: counts, windows, groups, ties and what linked accounts did.
use super::*;

fn signup(state: &mut RecruitState, id: &str, t: i64, device: &str, ip: &str) -> Signup {
    Signup {
        member: state.keys.intern(id),
        joined_at: t,
        campaign: NONE,
        inviter: NONE,
        device: state.keys.intern(device),
        ip: state.keys.intern(ip),
        phone_prefix: NONE,
        phone_hash: NONE,
    }
}

#[test]
fn counts_accounts_and_windows_and_groups_by_hand() {
    let mut st = RecruitState::new(Interner::default(), MergeCaps::default());
    let mut f = vec![0.0; FEATURES.len()];
    let a = signup(&mut st, "a", 0, "d1", "10.0.0.1");
    st.features(&a, &mut f);
    assert_eq!((f[0], f[2], f[13]), (0.0, 0.0, 0.0));
    st.record(&a);
    // b: same device, other range, 5 minutes later.
    let b = signup(&mut st, "b", 300, "d1", "10.0.1.7");
    st.features(&b, &mut f);
    assert_eq!(f[0], 1.0, "one account on the device");
    assert_eq!(f[2], 0.0, "a new range");
    assert_eq!(f[3], 1.0, "one device sign-up in the last hour");
    assert_eq!(f[13], 1.0, "joins a's group of one");
    st.record(&b);
    // c: b's range, other device, 2 hours later: the range window has emptied.
    let c = signup(&mut st, "c", 7_500, "d9", "10.0.1.200");
    st.features(&c, &mut f);
    assert_eq!((f[0], f[2], f[5]), (0.0, 1.0, 0.0));
    assert_eq!(f[13], 2.0, "group {{a, b}} via the range");
    assert_eq!(f[14], 1.0, "one device in it");
    assert_eq!(f[15], 2.0, "two ranges in it");
    assert_eq!(f[16], 7_500.0 / 3_600.0);
    st.record(&c);
    st.record_label(st.keys.get("a").unwrap_or(NONE), 1);
    let d = signup(&mut st, "d", 9_000, "d9", "192.168.0.1");
    st.features(&d, &mut f);
    assert_eq!(f[13], 3.0);
    assert_eq!(f[17], 1.0, "the one labelled member of the group is wool");
}

#[test]
fn a_busy_key_stops_merging() {
    let caps = MergeCaps {
        ip24: 3,
        ..MergeCaps::default()
    };
    let mut st = RecruitState::new(Interner::default(), caps);
    for i in 0..10 {
        let s = signup(
            &mut st,
            &format!("m{i}"),
            i * 10,
            &format!("d{i}"),
            "1.2.3.4",
        );
        st.record(&s);
    }
    let s = signup(&mut st, "x", 1_000, "dx", "1.2.3.9");
    let mut f = vec![0.0; FEATURES.len()];
    st.features(&s, &mut f);
    assert_eq!(f[2], 10.0, "ten accounts on the range");
    assert_eq!(f[13], 0.0, "but the range is busy: no group to join");
}

#[test]
fn what_linked_accounts_did_by_hand() {
    let mut st = RecruitState::new(Interner::default(), MergeCaps::default());
    let mut f = vec![0.0; FEATURES.len()];
    // a and b share a device; a was invited by nobody, c by a.
    let a = signup(&mut st, "a", 0, "d1", "10.0.0.1");
    st.record(&a);
    let b = signup(&mut st, "b", 0, "d1", "10.0.5.1");
    st.features(&b, &mut f);
    assert_eq!(
        f[0], 1.0,
        "a sign-up in the same second, arrived earlier, is seen"
    );
    st.record(&b);
    let (sa, sb) = (a.member, b.member);
    let welcome = Deed::Redeem {
        benefit: true,
        value: 20.0,
    };
    st.record_deed(sa, 2 * HOUR, welcome);
    st.record_deed(sb, 4 * HOUR, welcome);
    st.record_deed(
        sb,
        5 * HOUR,
        Deed::Order {
            paid: 80.0,
            full_price: true,
        },
    );
    let mut c = signup(&mut st, "c", 6 * HOUR, "d1", "10.0.9.1");
    c.inviter = sa;
    st.features(&c, &mut f);
    assert_eq!(f[13], 2.0, "group {{a, b}}");
    assert_eq!(
        f[19], 0.5,
        "a took the welcome coupon and never bought at full price"
    );
    assert_eq!(f[20], 0.5, "b ordered");
    assert_eq!(f[21], 0.5);
    assert_eq!(f[22], 3.0, "first redemptions 2 h and 4 h after joining");
    assert_eq!(f[23], 20.0, "40 of face value over 2 accounts");
    // Two sign-ups at 0, six hours ago: 2 × 2^-6.
    assert!((f[24] - 2.0 / 64.0).abs() < 1e-12, "{}", f[24]);
    assert_eq!(
        f[25], 0.5,
        "of the device's two accounts, a took without buying"
    );
    assert_eq!(f[27], 0.5);
    assert_eq!(
        (f[28], f[29], f[30]),
        (1.0, 1.0, 1.0),
        "a's tree: a alone, no buyer"
    );
    st.record(&c);
    let mut p = vec![0.0; POOL_FEATURES.len()];
    st.pool(c.member, 7 * HOUR, &mut p);
    assert_eq!(
        (p[0], p[3]),
        (3.0, 3.0),
        "three on the device, three in the group"
    );
    assert!((p[5] - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(p[10], 1.0, "a and c in the tree, neither ordered");
    let d = Signup {
        inviter: c.member,
        ..signup(&mut st, "d", 8 * HOUR, "d7", "172.16.0.1")
    };
    st.features(&d, &mut f);
    assert_eq!((f[28], f[29]), (2.0, 2.0), "a → c → d");
}

/// A group's members are listed from any of them, across merges, and alone a member lists
/// itself; the list is capped.
#[test]
fn group_members_follow_merges() {
    let mut st = RecruitState::new(Interner::default(), MergeCaps::default());
    let a = signup(&mut st, "a", 0, "d1", "10.0.0.1");
    st.record(&a);
    let b = signup(&mut st, "b", 10, "d2", "10.0.9.1");
    st.record(&b);
    assert_eq!(st.group_members(a.member, 10), vec![a.member]);
    // c shares a's device and b's range: one group of three.
    let c = signup(&mut st, "c", 20, "d1", "10.0.9.2");
    st.record(&c);
    for m in [a.member, b.member, c.member] {
        let mut got = st.group_members(m, 10);
        got.sort_unstable();
        let mut want = vec![a.member, b.member, c.member];
        want.sort_unstable();
        assert_eq!(got, want);
    }
    assert_eq!(st.group_members(a.member, 2).len(), 2);
    let (root, _) = st
        .group_of(a.member)
        .unwrap_or_else(|| panic!("a has a group"));
    let names: Vec<Sym> = st.accounts_of(root).iter().map(|x| x.member).collect();
    assert_eq!(
        names,
        vec![a.member, b.member, c.member],
        "in recorded order"
    );
}

#[test]
fn a_peek_reads_what_the_interning_path_reads_and_interns_nothing() {
    let mut st = RecruitState::new(Interner::default(), MergeCaps::default());
    for (i, (device, ip)) in [("d1", "10.0.0.1"), ("d1", "10.0.0.9"), ("d2", "10.0.1.7")]
        .into_iter()
        .enumerate()
    {
        let s = signup(&mut st, &format!("m{i}"), 60 * i as i64, device, ip);
        st.record(&s);
    }
    st.record_label(st.keys.get("m0").unwrap_or(NONE), 1);
    let candidates = [
        // Known device and range; a range the state knows only through another address.
        ("d1", "10.0.0.77", Some("m0"), "170"),
        // Nothing known: an unseen device, address and range.
        ("d-new", "172.16.5.5", None, "138"),
        // A known device, no address, an inviter never seen.
        ("d2", "", Some("nobody"), "170"),
    ];
    for (device, ip, inviter, prefix) in candidates {
        let keys = CandidateKeys {
            member: Some("cand"),
            campaign: Some("camp-x"),
            inviter,
            device: Some(device),
            ip: Some(ip),
            phone_prefix: Some(prefix),
            phone_hash: None,
        };
        let symbols = st.keys.len();
        let mut peeked = vec![0.0; FEATURES.len()];
        let (g, _) = st.peek(&keys, 600, &mut peeked);
        let g = (g.size, g.wool);
        assert_eq!(st.keys.len(), symbols, "a peek interned something");
        let mut interned = vec![0.0; FEATURES.len()];
        let mut sym = |v: Option<&str>| {
            v.filter(|v| !v.is_empty())
                .map_or(NONE, |v| st.keys.intern(v))
        };
        let s = Signup {
            member: sym(Some("cand")),
            joined_at: 600,
            campaign: sym(Some("camp-x")),
            inviter: sym(inviter),
            device: sym(Some(device)),
            ip: sym(Some(ip)),
            phone_prefix: sym(Some(prefix)),
            phone_hash: NONE,
        };
        let (h, _) = st.features_and_group(&s, &mut interned);
        assert_eq!(g, (h.size, h.wool));
        let bits = |r: &[f64]| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&peeked), bits(&interned), "{device} {ip}");
    }
}
