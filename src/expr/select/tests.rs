//! The selection language checked on hand-made vocabularies and facts.

use super::*;

fn vocab() -> Vocabulary {
    Vocabulary {
        tiers: ["one-star", "two-star", "silver", "platinum"]
            .map(String::from)
            .to_vec(),
        clusters: vec![
            "frequent buyers".into(),
            "coupon-driven, rare buyers".into(),
        ],
        channels: vec![("tmall".into(), 3), ("douyin".into(), 7)],
        campaigns: vec![("spring".into(), 9)],
        model: true,
        ..Vocabulary::default()
    }
}

fn p(s: &str) -> Expr {
    parse(s, &vocab()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn e(s: &str) -> SelectError {
    match parse(s, &vocab()) {
        Ok(x) => panic!("{s} parsed: {x:?}"),
        Err(e) => e,
    }
}

fn cmp(field: Field, op: Op, value: f64) -> Expr {
    Expr::Cmp { field, op, value }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let a = cmp(Field::R, Op::Eq, 5.0);
    let b = cmp(Field::F, Op::Ge, 4.0);
    let c = cmp(Field::M, Op::Lt, 2.0);
    let bx = || Box::new(b.clone());
    assert_eq!(
        p("r = 5 or f >= 4 and m < 2"),
        Expr::Or(
            Box::new(a.clone()),
            Box::new(Expr::And(bx(), Box::new(c.clone())))
        )
    );
    assert_eq!(
        p("(r = 5 or f >= 4) and m < 2"),
        Expr::And(
            Box::new(Expr::Or(Box::new(a.clone()), bx())),
            Box::new(c.clone())
        )
    );
    assert_eq!(
        p("not r = 5 and f >= 4"),
        Expr::And(Box::new(Expr::Not(Box::new(a.clone()))), bx())
    );
    assert_eq!(
        p("r=5 OR f>=4 OR m<2"),
        Expr::Or(Box::new(Expr::Or(Box::new(a), bx())), Box::new(c))
    );
}

#[test]
fn names_resolve_to_their_positions() {
    assert_eq!(p("tier >= silver"), cmp(Field::Tier, Op::Ge, 2.0));
    assert_eq!(
        p("segment in [champions, loyal, no_orders]"),
        Expr::In {
            field: Field::Segment,
            values: vec![0.0, 1.0, 11.0]
        }
    );
    assert_eq!(p("cluster = 2"), cmp(Field::Cluster, Op::Eq, 1.0));
    assert_eq!(
        p("cluster = 'coupon-driven, rare buyers'"),
        cmp(Field::Cluster, Op::Eq, 1.0)
    );
    assert_eq!(p("channel != douyin"), cmp(Field::Channel, Op::Ne, 7.0));
    assert_eq!(p("decision <= review"), cmp(Field::Decision, Op::Le, 1.0));
    assert_eq!(
        p("probability < 0.25"),
        cmp(Field::Probability, Op::Lt, 0.25)
    );
}

#[test]
fn errors_point_at_the_bad_token() {
    let x = e("tier >= silver and tir = gold");
    assert_eq!(x.col, 20);
    assert!(
        x.message
            .starts_with("unknown field \"tir\"; fields are tier, segment"),
        "{x}"
    );
    assert_eq!(x.to_string().split(':').next(), Some("col 20"));
    let x = e("tier >= gold");
    assert_eq!(x.col, 9);
    assert!(
        x.message.contains("unknown tier \"gold\"") && x.message.contains("silver"),
        "{x}"
    );
    assert_eq!(e("segment > loyal").col, 9);
    assert_eq!(e("segment in [champions loyal]").col, 23);
    assert_eq!(e("r = 6").col, 5);
    assert_eq!(e("(r = 5").col, 7);
    assert_eq!(e("r = 5)").col, 6);
    assert_eq!(e("r = 5 f = 2").col, 7);
    assert_eq!(e("channel = jd").col, 11);
    assert_eq!(e("cluster = 3").col, 11);
    assert_eq!(e("r ~ 5").col, 3);
    assert_eq!(e("segment = \"loyal").col, 11);
    assert_eq!(e("").col, 1);
    assert_eq!(e("tier >=").col, 8);
    let no_model = parse(
        "decision = reject",
        &Vocabulary {
            model: false,
            ..vocab()
        },
    );
    assert_eq!(no_model.map_err(|e| e.col), Err(1));
}

#[test]
fn matches_follows_the_rules() {
    let m = Facts {
        tier: 2,
        segment: Some(Segment::Loyal),
        cluster: 1,
        channel: 3,
        campaign: crate::data::history::NONE,
        r: 4,
        f: 3,
        m: 5,
        recency_days: None,
        frequency: 3,
        monetary: 120.5,
        decision: Some(Decision::Review),
        quality: Some(70),
        probability: Some(0.3),
    };
    let yes = |s: &str| p(s).matches(&m);
    assert!(yes("tier >= silver and segment in [champions, loyal]"));
    assert!(!yes("tier > silver"));
    assert!(yes("not tier > silver"));
    assert!(yes("channel = tmall and cluster = 2"));
    assert!(!yes("campaign = spring"));
    assert!(yes("campaign != spring"), "no campaign is not spring");
    assert!(!yes("recency_days < 30") && !yes("recency_days >= 30"));
    assert!(yes(
        "decision >= review and quality < 80 and probability > 0.25"
    ));
    assert!(yes("monetary > 100 and frequency = 3 and m = 5"));
    assert!(!yes("r = 5 or f < 3"));
}

/// A rule over a sign-up's feature row: numbers named by the vocabulary, no member fields.
fn rules() -> Vocabulary {
    Vocabulary {
        numbers: ["device_accounts", "ip_burst_1h", "tier"]
            .map(String::from)
            .to_vec(),
        sign_up: true,
        ..vocab()
    }
}

fn rule(s: &str) -> Expr {
    parse(s, &rules()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn rule_err(s: &str) -> SelectError {
    match parse(s, &rules()) {
        Ok(x) => panic!("{s} parsed: {x:?}"),
        Err(e) => e,
    }
}

#[test]
fn rules_read_numeric_fields_by_position() {
    let r = rule("device_accounts >= 5 and channel = douyin");
    assert_eq!(
        r,
        Expr::And(
            Box::new(cmp(Field::Number(0), Op::Ge, 5.0)),
            Box::new(cmp(Field::Channel, Op::Eq, 7.0))
        )
    );
    assert_eq!(r.fields(), vec![Field::Number(0), Field::Channel]);
    let douyin = Facts {
        channel: 7,
        ..Facts::default()
    };
    let tmall = Facts {
        channel: 3,
        ..douyin
    };
    assert!(r.matches_with(&douyin, &[5.0, 0.0]));
    assert!(!r.matches_with(&douyin, &[4.0, 0.0]));
    assert!(!r.matches_with(&tmall, &[9.0, 0.0]));
    let r = rule("ip_burst_1h in [1, 2.5] or `DEVICE_ACCOUNTS` == 0");
    assert!(r.matches_with(&douyin, &[3.0, 2.5]));
    assert!(r.matches_with(&douyin, &[0.0, 7.0]));
    assert!(!r.matches_with(&douyin, &[3.0, 7.0]));
    assert_eq!(r.fields(), vec![Field::Number(1), Field::Number(0)]);
}

#[test]
fn an_absent_number_fails_every_comparison_but_not_equal() {
    let m = Facts::default();
    let absent = [[f64::NAN].as_slice(), &[]];
    for numbers in absent {
        for s in [
            "device_accounts = 1",
            "device_accounts < 1",
            "device_accounts <= 1",
            "device_accounts > 1",
            "device_accounts >= 1",
            "device_accounts in [1, 2]",
        ] {
            assert!(!rule(s).matches_with(&m, numbers), "{s} on {numbers:?}");
        }
        assert!(rule("device_accounts != 1").matches_with(&m, numbers));
        assert!(rule("not device_accounts = 1").matches_with(&m, numbers));
    }
    // `matches` is `matches_with` without numbers: every number is absent.
    assert!(rule("device_accounts != 1").matches(&m));
    assert!(!rule("device_accounts >= 0").matches(&m));
}

#[test]
fn member_fields_are_refused_at_sign_up() {
    let x = rule_err("channel = douyin and tier >= silver");
    assert_eq!(x.col, 22);
    assert_eq!(x.message, "`tier` is not known at sign-up");
    // A built-in field wins over a number of the same name, even where it is refused.
    assert_eq!(rule_err("tier = 1").col, 1);
    assert_eq!(rule_err("not (recency_days < 3)").col, 6);
    // Members may use them, and the number of the same name stays hidden behind the built-in.
    let members = Vocabulary {
        sign_up: false,
        ..rules()
    };
    assert_eq!(
        parse("tier >= silver", &members),
        Ok(cmp(Field::Tier, Op::Ge, 2.0))
    );
}

#[test]
fn an_unknown_name_lists_the_allowed_ones_at_its_column() {
    let x = rule_err("device_accounts > 2 and ip_burst > 3");
    assert_eq!(x.col, 25);
    assert_eq!(
        x.message,
        "unknown field \"ip_burst\"; fields are channel, campaign, decision, quality, \
         probability, device_accounts, ip_burst_1h, tier"
    );
    assert_eq!(rule_err("ip_burst_1h > many").col, 15);
    assert_eq!(rule_err("ip_burst_1h >= 1e400").col, 16);
}
