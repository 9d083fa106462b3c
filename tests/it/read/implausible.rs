//! Values that parse but make no sense (issue 12 part 1, the file side): a time outside the
//! plausible window is `implausible_time`, an amount or points movement beyond its bound is
//! `implausible_value`, each naming file, column and row; `validate` exits 1 on them, and its
//! `--earliest` / `--latest` flags move the window.

use std::path::Path;
use std::process::{Command, Output};

use woolguard::data::plausible::TimeWindow;
use woolguard::data::write::{CouponRow, DatasetWriter, MemberRow, PointsRow};
use woolguard::data::{load, load_with, ProblemKind, ReadOptions};

use super::{first_problem, folder, with};

/// 2024-01-01T00:00:00Z
const JAN_2024: i64 = 1_704_067_200;

/// A Parquet history of members M0..M2 joined in January 2024, after `edit` has its say.
fn parquet_history(dir: &Path, edit: impl FnOnce(&mut DatasetWriter)) {
    let mut w = DatasetWriter::create(dir).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..3 {
        let row = MemberRow {
            member_id: format!("M{i}"),
            joined_at: JAN_2024 + i,
            channel: "app".into(),
            ..MemberRow::default()
        };
        w.members.push(&row).unwrap_or_else(|e| panic!("{e}"));
    }
    edit(&mut w);
    w.finish().unwrap_or_else(|e| panic!("{e}"));
}

/// The first problem of loading `dir` with the default window: kind, location without the
/// folder, and message.
fn first(dir: &Path) -> (ProblemKind, String, String) {
    let err = load(dir)
        .err()
        .unwrap_or_else(|| panic!("expected a problem"));
    let p = err.problem().unwrap_or_else(|| panic!("{err}"));
    let at = p
        .location
        .to_string()
        .replace(&dir.display().to_string(), "");
    (p.kind, at, p.message.clone())
}

fn validate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .arg("validate")
        .args(args)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("running woolguard: {e}"))
}

const MEMBERS_9999: &str = "member_id,joined_at,channel\n\
M1,2024-01-01T00:00:00Z,tmall\n\
M2,2024-01-02 00:00:00,jd\n\
M3,9999-12-31,app\n";

#[test]
fn joined_at_9999_12_31_is_an_implausible_time_naming_the_cell() {
    // Seen: joined_at 9999-12-31 accepted; train then labelled members whose window is open.
    let (kind, at) = first_problem(&with("members.csv", MEMBERS_9999));
    assert_eq!(kind, ProblemKind::ImplausibleTime);
    assert_eq!(at, "/members.csv, column joined_at, row 3");
    let dir = folder(&with("members.csv", MEMBERS_9999));
    let (_, _, message) = first(dir.path());
    assert!(
        message.starts_with(
            "9999-12-31T00:00:00Z is outside the plausible window 1990-01-01T00:00:00Z .. "
        ),
        "{message}"
    );
}

#[test]
fn parquet_times_of_year_0_and_i64_max_are_implausible() {
    // Year 0 (0000-01-01T00:00:00Z) as a joined_at, i64::MAX seconds as an order time.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    parquet_history(dir.path(), |w| {
        let row = MemberRow {
            member_id: "M9".into(),
            joined_at: -62_167_219_200,
            channel: "app".into(),
            ..MemberRow::default()
        };
        w.members.push(&row).unwrap_or_else(|e| panic!("{e}"));
    });
    let (kind, at, message) = first(dir.path());
    assert_eq!(kind, ProblemKind::ImplausibleTime);
    assert_eq!(at, "/members.parquet, column joined_at, row 4");
    assert!(
        message.starts_with("0000-01-01T00:00:00Z is outside"),
        "{message}"
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    parquet_history(dir.path(), |w| {
        let row = PointsRow {
            member_id: "M1".into(),
            at: i64::MAX,
            delta: 5,
            reason: "share".into(),
        };
        w.points.push(&row).unwrap_or_else(|e| panic!("{e}"));
    });
    let (kind, at, message) = first(dir.path());
    assert_eq!(kind, ProblemKind::ImplausibleTime);
    assert_eq!(at, "/points.parquet, column at, row 1");
    assert!(message.contains("(Unix seconds) is outside"), "{message}");
}

#[test]
fn a_coupon_at_of_minus_one_second_is_implausible() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    parquet_history(dir.path(), |w| {
        for (at, event) in [(JAN_2024 + 60, "claim"), (-1, "redeem")] {
            let row = CouponRow {
                member_id: "M0".into(),
                coupon_id: "K1".into(),
                campaign_id: None,
                event: event.into(),
                at,
                face_value: 20.0,
                threshold: 99.0,
                kind: "welcome".into(),
            };
            w.coupons.push(&row).unwrap_or_else(|e| panic!("{e}"));
        }
    });
    let (kind, at, message) = first(dir.path());
    assert_eq!(kind, ProblemKind::ImplausibleTime);
    assert_eq!(at, "/coupons.parquet, column at, row 2");
    assert!(
        message.starts_with("1969-12-31T23:59:59Z is outside"),
        "{message}"
    );
}

#[test]
fn an_amount_of_1e308_is_an_implausible_value_naming_the_cell() {
    let (kind, at) = first_problem(&with(
        "orders.csv",
        "order_id,member_id,at,amount,list_amount,discount,coupon_id,channel,refunded\n\
         O1,M1,2024-01-03T00:00:00Z,10,10,0,,app,false\n\
         O2,M1,2024-01-03T00:00:00Z,1e308,1e308,0,,app,false\n",
    ));
    assert_eq!(kind, ProblemKind::ImplausibleValue);
    assert_eq!(at, "/orders.csv, column amount, row 2");
    // A plausible large amount is kept.
    let dir = folder(&with(
        "orders.csv",
        "order_id,member_id,at,amount,list_amount,discount,coupon_id,channel,refunded\n\
         O1,M1,2024-01-03T00:00:00Z,999999999,999999999,0,,app,false\n",
    ));
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.orders.amount, vec![999_999_999.0]);
}

#[test]
fn a_points_delta_of_i64_max_in_parquet_is_an_implausible_value() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    parquet_history(dir.path(), |w| {
        for delta in [80, i64::MAX, i64::MIN, -300] {
            let row = PointsRow {
                member_id: "M1".into(),
                at: JAN_2024 + 3600,
                delta,
                reason: "purchase".into(),
            };
            w.points.push(&row).unwrap_or_else(|e| panic!("{e}"));
        }
    });
    let (kind, at, message) = first(dir.path());
    assert_eq!(kind, ProblemKind::ImplausibleValue);
    assert_eq!(at, "/points.parquet, column delta, row 2");
    assert!(
        message.starts_with("9223372036854775807 is beyond"),
        "{message}"
    );
    let report =
        woolguard::data::summary::validate(dir.path(), 5).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.problem_counts.get("implausible_value"),
        Some(&2),
        "i64::MAX and i64::MIN"
    );
    let points = report.tables.iter().find(|t| t.table.name() == "points");
    let points = points.unwrap_or_else(|| panic!("points reported"));
    assert_eq!((points.rows, points.accepted), (4, 2));
}

#[test]
fn a_points_delta_written_as_text_is_read_exactly() {
    let (kind, at) = first_problem(&with(
        "points.csv",
        "member_id,at,delta,reason\nM1,2024-01-03T00:00:00Z,9223372036854775807,share\n",
    ));
    assert_eq!(kind, ProblemKind::ImplausibleValue);
    assert_eq!(at, "/points.csv, column delta, row 1");
}

#[test]
fn another_window_is_taken_when_asked() {
    let dir = folder(&with("members.csv", MEMBERS_9999));
    let wide = ReadOptions {
        window: TimeWindow {
            earliest: 0,
            latest: 253_402_300_799, // 9999-12-31T23:59:59Z
        },
    };
    let h = load_with(dir.path(), &wide).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.members.len(), 3);
    // A narrow one refuses what the default keeps: 2024-01-05 is after 2024-01-04.
    let dir = folder(&super::good());
    let narrow = ReadOptions {
        window: TimeWindow {
            earliest: JAN_2024,
            latest: JAN_2024 + 3 * 86_400,
        },
    };
    let err = load_with(dir.path(), &narrow).err();
    let kind = err.as_ref().and_then(|e| e.problem()).map(|p| p.kind);
    assert_eq!(kind, Some(ProblemKind::ImplausibleTime));
}

#[test]
fn validate_exits_1_on_implausible_cells_and_its_flags_move_the_window() {
    let dir = folder(&with("members.csv", MEMBERS_9999));
    let out = validate(&[], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("members.csv, column joined_at, row 3: 9999-12-31T00:00:00Z is outside the plausible window"),
        "{text}"
    );
    assert!(text.contains("[implausible_time]"), "{text}");

    let out = validate(&["--latest", "9999-12-31T23:59:59Z", "--json"], dir.path());
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{json}");
    assert_eq!(json["window"][1], "9999-12-31T23:59:59Z");

    let out = validate(
        &["--earliest", "2024-01-02", "--latest", "2099-01-01"],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("members.csv, column joined_at, row 1: 2024-01-01T00:00:00Z is outside the plausible window 2024-01-02T00:00:00Z .. 2099-01-01T00:00:00Z"), "{text}");

    let out = validate(
        &["--earliest", "2024-02-01", "--latest", "2024-01-01"],
        dir.path(),
    );
    assert_ne!(out.status.code(), Some(0), "an empty window is refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--earliest 2024-02-01T00:00:00Z is after --latest"),
        "{err}"
    );

    let out = validate(&["--latest", "soon"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses a flag that is not a time"
    );
}
