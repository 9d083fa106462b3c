//! Generator tests: the output passes the contract reader, is a function of the seed, has a
//! realistic wool share, and no single simple signal gives the wool party away.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use woolguard::data::history::History;
use woolguard::data::schema::{CouponEvent, VIRTUAL_PHONE_PREFIXES};
use woolguard::data::{load, DataError, NONE};
use woolguard::generate::{generate, read_truth, GenerateError, Params, Summary, Truth};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn run(members: u64, seed: u64, difficulty: f64, out: &Path) -> Result<Summary, GenerateError> {
    let config = Params {
        members,
        seed,
        difficulty,
    }
    .check()?;
    generate(&config, out, &|_| {})
}

#[test]
fn generated_set_loads_with_the_written_row_counts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let s = run(3_000, 11, 0.5, dir.path())?;
    let h = load(dir.path())?;
    assert_eq!(h.members.len(), 3_000);
    assert_eq!(s.rows.members, 3_000);
    assert_eq!(h.coupons.len() as u64, s.rows.coupons);
    assert_eq!(h.orders.len() as u64, s.rows.orders);
    assert_eq!(h.points.len() as u64, s.rows.points);
    assert_eq!(h.labels.len() as u64, s.rows.labels);
    assert!(
        s.rows.orders > 3_000 && s.rows.coupons > 3_000 && s.rows.points > 3_000,
        "{s:?}"
    );

    let truth = read_truth(dir.path())?;
    assert_eq!(truth.len(), 3_000);
    let wool = truth.for_members(&h.members)?;
    let share = wool.iter().filter(|w| **w).count() as f64 / wool.len() as f64;
    assert!(
        (0.05..=0.15).contains(&share),
        "wool share {share} outside 5–15%"
    );
    assert_eq!(s.wool as usize, truth.wool());
    // Gang truth: every gang account is wool and shares its gang with at least one other;
    // lone opportunists and genuine members have none.
    let mut gangs: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for r in &truth.rows {
        match (&r.gang_id, r.kind.as_str()) {
            (Some(g), _) => {
                assert!(r.is_wool, "{} in gang {g} is not wool", r.member_id);
                *gangs.entry(g.as_str()).or_default() += 1;
            }
            (None, "lone_opportunist") => {}
            (None, kind) => assert!(
                !r.is_wool,
                "{} ({kind}) is wool without a gang",
                r.member_id
            ),
        }
        if r.kind == "lone_opportunist" {
            assert_eq!(r.gang_id, None, "{}", r.member_id);
        }
    }
    assert!(gangs.len() >= 5, "{} gangs", gangs.len());
    assert!(gangs.values().all(|&n| n >= 2), "a gang of one: {gangs:?}");

    // Reviewed labels: a few percent, mostly right, some wrong.
    let labelled = h.labels.len() as f64 / 3_000.0;
    assert!(
        (0.01..0.08).contains(&labelled),
        "labelled share {labelled}"
    );
    let agree = (0..h.labels.len())
        .filter(|&i| (h.labels.label[i] == 1) == wool[h.labels.member[i] as usize])
        .count() as f64
        / h.labels.len() as f64;
    assert!(
        (0.85..1.0).contains(&agree) || h.labels.len() < 60,
        "labels agree with truth {agree}"
    );
    Ok(())
}

#[test]
fn history_is_consistent() -> TestResult {
    let dir = tempfile::tempdir()?;
    run(3_000, 12, 0.5, dir.path())?;
    let h = load(dir.path())?;
    let (start, end) = (woolguard::generate::START, woolguard::generate::END);
    let span = h.time_span().ok_or("empty history")?;
    assert!(span.0 >= start && span.1 < end, "{span:?}");
    // 18 months of history.
    assert!(span.1 - span.0 > 500 * 86_400);
    for i in 0..h.members.len() as u32 {
        let inviter = h.members.inviter[i as usize];
        if inviter != NONE {
            let id = h.keys.name(inviter);
            let j = h.members.index_of(id).ok_or("inviter is not a member")?;
            assert!(h.members.joined_at[j as usize] < h.members.joined_at[i as usize]);
        }
    }
    for i in 0..h.orders.len() {
        let (list, paid, disc) = (
            h.orders.list_amount[i],
            h.orders.amount[i],
            h.orders.discount[i],
        );
        assert!(
            paid <= list + 1e-6 && (list - paid - disc).abs() < 0.011,
            "order {i}: {list} {paid} {disc}"
        );
        let m = h.orders.member[i] as usize;
        assert!(h.orders.at[i] >= h.members.joined_at[m]);
    }
    // Every vocabulary value and channel occurs.
    use woolguard::data::schema::{CouponKind, PointsReason, Vocabulary, CHANNELS};
    for (_, r) in PointsReason::VALUES {
        assert!(h.points.reason.contains(r), "no {r:?} points");
    }
    for (_, k) in CouponKind::VALUES {
        assert!(h.coupons.kind.contains(k), "no {k:?} coupons");
    }
    for (_, e) in CouponEvent::VALUES {
        assert!(h.coupons.event.contains(e), "no {e:?} coupon events");
    }
    for c in CHANNELS {
        let sym = h.keys.get(c).ok_or(format!("no {c} channel"))?;
        assert!(h.members.channel.contains(&sym), "no {c} members");
    }
    for p in VIRTUAL_PHONE_PREFIXES {
        assert!(h.keys.get(p).is_some(), "no {p} numbers");
    }
    assert!(h.orders.refunded.iter().any(|r| *r) && h.orders.coupon.iter().any(|c| *c != NONE));
    // Every points balance stays non-negative in time order.
    let by = woolguard::data::ByMember::build(h.members.len(), &h.points.member, &h.points.at);
    for m in 0..h.members.len() as u32 {
        let mut balance = 0i64;
        for &r in by.of(m) {
            balance += h.points.delta[r as usize];
            assert!(balance >= 0, "member {m} points go negative");
        }
    }
    // Each coupon is claimed once, before it is redeemed or expires, and ends at most once.
    let mut state: HashMap<u32, (i64, u8)> = HashMap::new();
    let by = woolguard::data::ByMember::build(h.members.len(), &h.coupons.member, &h.coupons.at);
    for m in 0..h.members.len() as u32 {
        for &r in by.of(m) {
            let r = r as usize;
            let c = h.coupons.coupon[r];
            match h.coupons.event[r] {
                CouponEvent::Claim => assert!(state.insert(c, (h.coupons.at[r], 0)).is_none()),
                _ => {
                    let s = state
                        .get_mut(&c)
                        .ok_or("coupon used before it was claimed")?;
                    assert!(s.0 <= h.coupons.at[r] && s.1 == 0, "coupon ends twice");
                    s.1 = 1;
                }
            }
        }
    }
    Ok(())
}

/// Every row of every table as text, to compare two generated sets.
fn snapshot(h: &History) -> Vec<String> {
    let k = |s| h.keys.name(s).to_string();
    let mut rows = Vec::new();
    let m = &h.members;
    for i in 0..m.len() {
        rows.push(format!(
            "m {} {} {} {} {} {} {} {} {} {}",
            m.id(i as u32),
            m.joined_at[i],
            k(m.channel[i]),
            k(m.campaign[i]),
            k(m.inviter[i]),
            k(m.device[i]),
            k(m.ip[i]),
            k(m.phone_prefix[i]),
            k(m.phone_hash[i]),
            k(m.region[i])
        ));
    }
    let c = &h.coupons;
    for i in 0..c.len() {
        rows.push(format!(
            "c {} {} {} {:?} {} {} {} {:?}",
            c.member[i],
            k(c.coupon[i]),
            k(c.campaign[i]),
            c.event[i],
            c.at[i],
            c.face_value[i],
            c.threshold[i],
            c.kind[i]
        ));
    }
    let o = &h.orders;
    for i in 0..o.len() {
        rows.push(format!(
            "o {} {} {} {} {} {} {} {} {}",
            k(o.order[i]),
            o.member[i],
            o.at[i],
            o.amount[i],
            o.list_amount[i],
            o.discount[i],
            k(o.coupon[i]),
            k(o.channel[i]),
            o.refunded[i]
        ));
    }
    let p = &h.points;
    for i in 0..p.len() {
        rows.push(format!(
            "p {} {} {} {:?}",
            p.member[i], p.at[i], p.delta[i], p.reason[i]
        ));
    }
    let l = &h.labels;
    for i in 0..l.len() {
        rows.push(format!(
            "l {} {} {} {}",
            l.member[i],
            l.label[i],
            l.at[i],
            k(l.source[i])
        ));
    }
    rows
}

#[test]
fn same_seed_gives_the_same_history_and_another_seed_does_not() -> TestResult {
    let (a, b, c) = (
        tempfile::tempdir()?,
        tempfile::tempdir()?,
        tempfile::tempdir()?,
    );
    run(2_500, 5, 0.5, a.path())?;
    // A single thread must not change anything either.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| run(2_500, 5, 0.5, b.path()))?;
    run(2_500, 6, 0.5, c.path())?;
    let (sa, sb, sc) = (
        snapshot(&load(a.path())?),
        snapshot(&load(b.path())?),
        snapshot(&load(c.path())?),
    );
    assert_eq!(sa.len(), sb.len());
    assert!(sa == sb, "same seed, different history");
    assert!(sa != sc, "another seed gave the same history");
    assert_eq!(read_truth(a.path())?, read_truth(b.path())?);
    Ok(())
}

// ---- single signals against truth ------------------------------------------------------------

/// ROC-AUC of `score` for `positive` by ranks (ties share their average rank).
fn auc(score: &[f64], positive: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|&t| positive[idx[t]]).count() as f64 * avg;
        i = j + 1;
    }
    let pos = positive.iter().filter(|p| **p).count() as f64;
    let neg = positive.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[test]
fn auc_matches_hand_computed_values() {
    assert_eq!(
        auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
        0.75
    );
    assert_eq!(auc(&[1.0, 1.0], &[false, true]), 0.5);
    assert_eq!(auc(&[3.0, 2.0, 1.0], &[true, false, false]), 1.0);
}

/// "Never" for time-to-something signals.
const NEVER: f64 = 1.0e9;

/// Simple per-member signals an analyst would try first, by name.
fn signals(h: &History) -> Vec<(&'static str, Vec<f64>)> {
    let n = h.members.len();
    let m = &h.members;
    let count = |col: &[u32]| {
        let mut c: HashMap<u32, f64> = HashMap::new();
        for &s in col.iter().filter(|&&s| s != NONE) {
            *c.entry(s).or_default() += 1.0;
        }
        col.iter()
            .map(|s| c.get(s).copied().unwrap_or(0.0))
            .collect::<Vec<f64>>()
    };
    let ip24: Vec<u32> = {
        let mut ranges: HashMap<String, u32> = HashMap::new();
        m.ip.iter()
            .map(
                |&s| match h.keys.opt_name(s).and_then(|ip| ip.rsplit_once('.')) {
                    Some((range, _)) => {
                        let next = ranges.len() as u32;
                        *ranges.entry(range.to_string()).or_insert(next)
                    }
                    None => NONE,
                },
            )
            .collect()
    };
    let virtual_segment: Vec<f64> = m
        .phone_prefix
        .iter()
        .map(|&s| {
            f64::from(u8::from(
                h.keys
                    .opt_name(s)
                    .is_some_and(|p| VIRTUAL_PHONE_PREFIXES.contains(&p)),
            ))
        })
        .collect();
    let mut campaign_start: HashMap<u32, i64> = HashMap::new();
    for i in 0..n {
        if m.campaign[i] != NONE {
            let e = campaign_start.entry(m.campaign[i]).or_insert(i64::MAX);
            *e = (*e).min(m.joined_at[i]);
        }
    }
    let minutes: Vec<f64> = (0..n)
        .map(|i| match campaign_start.get(&m.campaign[i]) {
            Some(&s) => (m.joined_at[i] - s) as f64 / 60.0,
            None => NEVER,
        })
        .collect();
    let mut invitees: HashMap<&str, f64> = HashMap::new();
    for &s in m.inviter.iter().filter(|&&s| s != NONE) {
        *invitees.entry(h.keys.name(s)).or_default() += 1.0;
    }
    let fanout: Vec<f64> = m
        .inviter
        .iter()
        .map(|&s| {
            h.keys
                .opt_name(s)
                .and_then(|id| invitees.get(id))
                .copied()
                .unwrap_or(0.0)
        })
        .collect();
    let own_invitees: Vec<f64> = (0..n)
        .map(|i| invitees.get(m.id(i as u32)).copied().unwrap_or(0.0))
        .collect();
    let (mut orders, mut with_coupon, mut paid, mut refunded) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let o = &h.orders;
    for i in 0..o.len() {
        let k = o.member[i] as usize;
        orders[k] += 1.0;
        if o.coupon[i] != NONE {
            with_coupon[k] += 1.0;
        }
        if o.refunded[i] {
            refunded[k] += 1.0;
        } else {
            paid[k] += o.amount[i];
        }
    }
    let share = |a: &[f64]| {
        (0..n)
            .map(|i| {
                if orders[i] > 0.0 {
                    a[i] / orders[i]
                } else {
                    0.0
                }
            })
            .collect::<Vec<f64>>()
    };
    let mut full_price = vec![0.0; n];
    let mut thresholds: HashMap<u32, f64> = HashMap::new();
    let mut claims = vec![0.0; n];
    let c = &h.coupons;
    for i in 0..c.len() {
        if c.event[i] == CouponEvent::Claim {
            claims[c.member[i] as usize] += 1.0;
            thresholds.insert(c.coupon[i], c.threshold[i]);
        }
    }
    let mut hugging = vec![0.0; n];
    for i in 0..o.len() {
        let k = o.member[i] as usize;
        match thresholds.get(&o.coupon[i]) {
            Some(&t) if o.list_amount[i] <= t * 1.05 + 5.0 => hugging[k] += 1.0,
            Some(_) => {}
            None if o.discount[i] == 0.0 => full_price[k] += 1.0,
            None => {}
        }
    }
    let mut swaps = vec![0.0; n];
    for i in 0..h.points.len() {
        if h.points.reason[i] == woolguard::data::schema::PointsReason::RedeemCoupon {
            swaps[h.points.member[i] as usize] += 1.0;
        }
    }
    // Sign-up between 00:00 and 06:00 in China (UTC+8).
    let night: Vec<f64> = m
        .joined_at
        .iter()
        .map(|t| f64::from(u8::from((t + 8 * 3_600).rem_euclid(86_400) < 6 * 3_600)))
        .collect();
    let mut first_redeem = vec![NEVER; n];
    for i in 0..c.len() {
        if c.event[i] == CouponEvent::Redeem {
            let k = c.member[i] as usize;
            let hours = (c.at[i] - m.joined_at[k]) as f64 / 3_600.0;
            first_redeem[k] = first_redeem[k].min(hours);
        }
    }
    vec![
        ("accounts on device", count(&m.device)),
        ("accounts on phone hash", count(&m.phone_hash)),
        ("accounts on /24 IP range", count(&ip24)),
        ("virtual phone segment", virtual_segment),
        ("minutes from campaign start", minutes),
        ("coupon-only share of orders", share(&with_coupon)),
        ("inviter fan-out", fanout),
        ("own invitees", own_invitees),
        ("orders", orders.clone()),
        ("total paid", paid),
        ("refund share", share(&refunded)),
        ("hours join to first redemption", first_redeem),
        ("coupons claimed", claims),
        ("full-price orders", full_price),
        ("orders at the smallest basket", share(&hugging)),
        ("points swapped for coupons", swaps),
        ("night sign-up", night),
    ]
}

/// A naive-Bayes score over binned signals, fitted on even members and scored on odd ones: a
/// rough floor for what a model will reach, printed to watch separability as a whole.
fn combined_auc(signals: &[(&str, Vec<f64>)], wool: &[bool]) -> f64 {
    let n = wool.len();
    let mut score = vec![0.0; n];
    for (_, values) in signals {
        let mut sorted: Vec<f64> = values.iter().step_by(2).copied().collect();
        sorted.sort_by(f64::total_cmp);
        let edges: Vec<f64> = (1..10).map(|q| sorted[q * sorted.len() / 10]).collect();
        let bin = |v: f64| edges.iter().filter(|e| v > **e).count();
        let (mut pos, mut neg) = ([1.0f64; 10], [1.0f64; 10]);
        for i in (0..n).step_by(2) {
            if wool[i] {
                pos[bin(values[i])] += 1.0;
            } else {
                neg[bin(values[i])] += 1.0;
            }
        }
        let (tp, tn): (f64, f64) = (pos.iter().sum(), neg.iter().sum());
        for i in 0..n {
            let b = bin(values[i]);
            score[i] += (pos[b] / tp).ln() - (neg[b] / tn).ln();
        }
    }
    let odd: Vec<usize> = (1..n).step_by(2).collect();
    let s: Vec<f64> = odd.iter().map(|&i| score[i]).collect();
    let w: Vec<bool> = odd.iter().map(|&i| wool[i]).collect();
    auc(&s, &w)
}

/// Each signal's max(AUC, 1 − AUC) by name, and the combined score's AUC.
type Separability = (Vec<(&'static str, f64)>, f64);

fn separability(
    members: u64,
    seed: u64,
    difficulty: f64,
) -> Result<Separability, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    run(members, seed, difficulty, dir.path())?;
    let h = load(dir.path())?;
    let truth: Truth = read_truth(dir.path())?;
    let wool = truth.for_members(&h.members)?;
    let sig = signals(&h);
    let aucs = sig
        .iter()
        .map(|(name, v)| {
            let a = auc(v, &wool);
            (*name, a.max(1.0 - a))
        })
        .collect();
    Ok((aucs, combined_auc(&sig, &wool)))
}

#[test]
fn no_single_simple_signal_separates_wool_at_the_default_difficulty() -> TestResult {
    let (aucs, combined) = separability(20_000, 7, 0.5)?;
    for (name, a) in &aucs {
        println!("{name:<32} AUC {a:.3}");
    }
    println!(
        "{:<32} AUC {combined:.3} (naive Bayes over all, held out)",
        "combined"
    );
    for (name, a) in &aucs {
        assert!(
            *a < 0.85,
            "'{name}' alone separates wool with ROC-AUC {a:.3} (must stay under 0.85)"
        );
    }
    // Together they must tell a lot, but far from everything.
    assert!(
        (0.80..0.97).contains(&combined),
        "combined AUC {combined:.3}"
    );
    Ok(())
}

#[test]
fn difficulty_moves_separability() -> TestResult {
    let (easy, easy_all) = separability(6_000, 3, 0.0)?;
    let (hard, hard_all) = separability(6_000, 3, 1.0)?;
    let mean = |v: &[(&str, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64;
    println!("easy: mean single {:.3}, combined {easy_all:.3}; hard: mean single {:.3}, combined {hard_all:.3}", mean(&easy), mean(&hard));
    assert!(
        mean(&easy) > mean(&hard) + 0.02,
        "easy {} vs hard {}",
        mean(&easy),
        mean(&hard)
    );
    assert!(easy_all > hard_all, "easy {easy_all} vs hard {hard_all}");
    Ok(())
}

// ---- truth file and command line ---------------------------------------------------------------

#[test]
fn truth_is_an_error_when_absent_or_malformed() -> TestResult {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;

    let dir = tempfile::tempdir()?;
    let err = read_truth(dir.path()).err().ok_or("absent truth read")?;
    assert!(
        matches!(err, DataError::Io { .. }) && err.to_string().contains("truth.parquet"),
        "{err}"
    );

    let write = |cols: Vec<(&str, ArrayRef)>| -> TestResult {
        let batch = RecordBatch::try_from_iter(cols)?;
        let file = std::fs::File::create(dir.path().join("truth.parquet"))?;
        let mut w = ArrowWriter::try_new(file, batch.schema(), None)?;
        w.write(&batch)?;
        w.close()?;
        Ok(())
    };
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["M1", "M2"]));
    let kinds: ArrayRef = Arc::new(StringArray::from(vec!["loyal", "sim_farm"]));
    write(vec![("member_id", ids.clone()), ("kind", kinds.clone())])?;
    let err = read_truth(dir.path())
        .err()
        .ok_or("truth without is_wool read")?;
    assert!(err.to_string().contains("'is_wool' is missing"), "{err}");

    write(vec![
        ("member_id", ids.clone()),
        ("is_wool", Arc::new(Int64Array::from(vec![0, 2]))),
        ("kind", kinds.clone()),
    ])?;
    let err = read_truth(dir.path()).err().ok_or("is_wool = 2 read")?;
    assert!(
        err.to_string().contains("row 2") && err.to_string().contains("not 0 or 1"),
        "{err}"
    );

    let twice: ArrayRef = Arc::new(StringArray::from(vec!["M1", "M1"]));
    write(vec![
        ("member_id", twice),
        ("is_wool", Arc::new(Int64Array::from(vec![0, 1]))),
        ("kind", kinds.clone()),
    ])?;
    let err = read_truth(dir.path())
        .err()
        .ok_or("duplicate member read")?;
    assert!(err.to_string().contains("appears twice"), "{err}");

    write(vec![
        ("member_id", ids),
        ("is_wool", Arc::new(StringArray::from(vec!["0", "1"]))),
        ("kind", kinds),
    ])?;
    let err = read_truth(dir.path()).err().ok_or("text is_wool read")?;
    assert!(err.to_string().contains("expected Int64"), "{err}");

    std::fs::write(dir.path().join("truth.parquet"), b"not parquet")?;
    assert!(matches!(
        read_truth(dir.path()),
        Err(DataError::Parquet { .. })
    ));
    Ok(())
}

#[test]
fn refuses_a_folder_with_a_stale_table_beside_the_output() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("orders.csv"), "order_id\n")?;
    let err = run(100, 1, 0.5, dir.path())
        .err()
        .ok_or("generated over a stale table")?;
    assert!(matches!(err, GenerateError::Conflict { .. }), "{err}");
    assert!(!dir.path().join("members.parquet").exists());
    Ok(())
}

#[test]
fn command_prints_one_line_per_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(["generate", "--members", "400", "--seed", "3", "--out"])
        .arg(dir.path())
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    for (line, table) in lines
        .iter()
        .zip(["members", "coupons", "orders", "points", "labels", "truth"])
    {
        assert!(line.starts_with(table), "{line}");
    }
    assert!(lines[0].contains(" 400 rows"), "{text}");

    let bad = Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(["generate", "--members", "10", "--difficulty", "2", "--out"])
        .arg(dir.path())
        .output()?;
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("difficulty"));
    Ok(())
}

/// Per-kind averages of what members did.
#[derive(Debug, Default, Clone, Copy)]
struct KindStats {
    members: f64,
    orders: f64,
    paid: f64,
    coupon_orders: f64,
    full_price_orders: f64,
    refunds: f64,
    claims: f64,
    redeems: f64,
    /// Orders whose basket is within 5% above the coupon's threshold.
    hugging: f64,
    swaps: f64,
    points_earned: f64,
    checkins: f64,
}

fn kind_stats(h: &History, truth: &Truth) -> std::collections::BTreeMap<String, KindStats> {
    use woolguard::data::schema::PointsReason;
    let kind: Vec<String> = (0..h.members.len() as u32)
        .map(|m| {
            truth
                .get(h.members.id(m))
                .map(|r| r.kind.clone())
                .unwrap_or_default()
        })
        .collect();
    let mut stats: std::collections::BTreeMap<String, KindStats> = Default::default();
    for k in &kind {
        stats.entry(k.clone()).or_default().members += 1.0;
    }
    let mut threshold: HashMap<u32, f64> = HashMap::new();
    for i in 0..h.coupons.len() {
        let s = stats
            .entry(kind[h.coupons.member[i] as usize].clone())
            .or_default();
        match h.coupons.event[i] {
            CouponEvent::Claim => {
                s.claims += 1.0;
                threshold.insert(h.coupons.coupon[i], h.coupons.threshold[i]);
            }
            CouponEvent::Redeem => s.redeems += 1.0,
            CouponEvent::Expire => {}
        }
    }
    for i in 0..h.orders.len() {
        let s = stats
            .entry(kind[h.orders.member[i] as usize].clone())
            .or_default();
        s.orders += 1.0;
        if h.orders.refunded[i] {
            s.refunds += 1.0;
        } else {
            s.paid += h.orders.amount[i];
        }
        match threshold.get(&h.orders.coupon[i]) {
            Some(&t) => {
                s.coupon_orders += 1.0;
                if h.orders.list_amount[i] <= t * 1.05 + 5.0 {
                    s.hugging += 1.0;
                }
            }
            None if h.orders.discount[i] == 0.0 => s.full_price_orders += 1.0,
            None => {}
        }
    }
    for i in 0..h.points.len() {
        let s = stats
            .entry(kind[h.points.member[i] as usize].clone())
            .or_default();
        match h.points.reason[i] {
            PointsReason::RedeemCoupon => s.swaps += 1.0,
            PointsReason::Checkin => s.checkins += 1.0,
            _ => {}
        }
        if h.points.delta[i] > 0 {
            s.points_earned += h.points.delta[i] as f64;
        }
    }
    stats
}

#[test]
fn each_kind_behaves_as_described() -> TestResult {
    let dir = tempfile::tempdir()?;
    run(8_000, 21, 0.5, dir.path())?;
    let h = load(dir.path())?;
    let truth = read_truth(dir.path())?;
    let stats = kind_stats(&h, &truth);
    println!(
        "{:<17} {:>6} {:>6} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7}",
        "kind",
        "n",
        "orders",
        "paid",
        "coupon",
        "full",
        "refund",
        "claims",
        "redeem",
        "hug",
        "swaps",
        "points"
    );
    for (k, s) in &stats {
        let per = |x: f64| x / s.members;
        println!(
            "{k:<17} {:>6} {:>6.2} {:>8.0} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>7.0}",
            s.members, per(s.orders), per(s.paid), per(s.coupon_orders), per(s.full_price_orders), per(s.refunds),
            per(s.claims), per(s.redeems), per(s.hugging), per(s.swaps), per(s.points_earned)
        );
    }
    let get = |k: &str| stats.get(k).copied().ok_or(format!("no {k} members"));
    let per = |s: KindStats, x: fn(&KindStats) -> f64| x(&s) / s.members;
    let (loyal, deal, dormant) = (get("loyal")?, get("deal_seeker")?, get("dormant")?);
    let (tree, farm, careful) = (
        get("invite_tree")?,
        get("device_farm")?,
        get("careful_gang")?,
    );
    // Loyal members bring the sales; wool brings almost none.
    assert!(per(loyal, |s| s.paid) > 10.0 * per(farm, |s| s.paid));
    assert!(per(loyal, |s| s.paid) > 2.0 * per(deal, |s| s.paid));
    // Deal-seekers love coupons but still pay full price sometimes; farms never do.
    assert!(per(deal, |s| s.coupon_orders) > per(loyal, |s| s.coupon_orders) * 0.5);
    assert!(per(deal, |s| s.full_price_orders) > 0.3);
    assert!(per(farm, |s| s.full_price_orders) < 0.2);
    // Farms redeem at the smallest basket; loyal members rarely do.
    assert!(per(farm, |s| s.hugging) / per(farm, |s| s.coupon_orders).max(1e-9) > 0.7);
    assert!(per(loyal, |s| s.hugging) / per(loyal, |s| s.coupon_orders) < 0.4);
    // Invitees of an invite tree almost never buy; careful gangs buy a little.
    assert!(per(tree, |s| s.orders) < 0.6);
    assert!(per(careful, |s| s.full_price_orders) > 0.1);
    // Wool swaps points for coupons more than genuine members do (per point earned).
    let swap_rate = |s: KindStats| s.swaps / s.points_earned.max(1.0);
    assert!(swap_rate(farm) > swap_rate(loyal));
    // Dormant members take little and buy less.
    assert!(per(dormant, |s| s.orders) < 0.3);
    Ok(())
}
