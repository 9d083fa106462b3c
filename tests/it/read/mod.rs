//! The contract reader: a round trip through Parquet, CSV and folders of files, and one test per
//! kind of bad input, each asserting the problem's kind and exact location. `entries` covers how
//! a table is found (part-file folders, two entries, empty files, absent tables), `implausible`
//! the values that parse but make no sense.

mod entries;
mod implausible;

use std::fs;

use tempfile::TempDir;
use woolguard::data::schema::{CouponEvent, PointsReason};
use woolguard::data::summary::validate;
use woolguard::data::write::{DatasetWriter, MemberRow, OrderRow, TableWriter};
use woolguard::data::{load, ProblemKind, NONE};

const MEMBERS: &str = "member_id,joined_at,channel,campaign_id,device_id,extra\n\
M1,2024-01-01T00:00:00Z,tmall,C1,D1,x\n\
M2,2024-01-02 00:00:00,jd,,D1,y\n";

const COUPONS: &str = "member_id,coupon_id,campaign_id,event,at,face_value,threshold,kind\n\
M1,K1,C1,claim,2024-01-01T00:10:00Z,20,99,welcome\n\
M1,K1,C1,redeem,2024-01-03T00:00:00Z,20,99,welcome\n";

const ORDERS: &str =
    "order_id,member_id,at,amount,list_amount,discount,coupon_id,channel,refunded\n\
O1,M1,2024-01-03T00:00:00Z,79.5,99.5,20,K1,tmall,false\n\
O2,M2,2024-01-04T00:00:00Z,120,120,0,,jd,1\n";

const POINTS: &str = "member_id,at,delta,reason\n\
M1,2024-01-03T00:00:00Z,80,purchase\n\
M1,2024-01-05T00:00:00Z,-50,redeem_coupon\n";

fn folder(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("members.csv", MEMBERS),
        ("coupons.csv", COUPONS),
        ("orders.csv", ORDERS),
        ("points.csv", POINTS),
    ]
}

/// Replaces one file of the good set and asserts the first problem found.
fn first_problem(files: &[(&str, &str)]) -> (ProblemKind, String) {
    let dir = folder(files);
    match load(dir.path()) {
        Ok(_) => panic!("expected a problem in {files:?}"),
        Err(e) => {
            let p = e
                .problem()
                .unwrap_or_else(|| panic!("expected a located problem, got {e}"));
            (
                p.kind,
                p.location
                    .to_string()
                    .replace(&dir.path().display().to_string(), ""),
            )
        }
    }
}

fn with(name: &'static str, text: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut files = good();
    files.retain(|(n, _)| *n != name);
    files.push((name, text));
    files
}

#[test]
fn csv_history_loads_with_exact_values() {
    let dir = folder(&good());
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.members.len(), 2);
    assert_eq!(h.members.index_of("M2"), Some(1));
    assert_eq!(h.members.joined_at, vec![1_704_067_200, 1_704_153_600]);
    assert_eq!(
        h.members.device[0], h.members.device[1],
        "same device interned once"
    );
    assert_eq!(h.members.campaign[1], NONE);
    assert_eq!(h.keys.name(h.members.channel[1]), "jd");
    assert_eq!(
        h.coupons.event,
        vec![CouponEvent::Claim, CouponEvent::Redeem]
    );
    assert_eq!(h.orders.amount, vec![79.5, 120.0]);
    assert_eq!(h.orders.refunded, vec![false, true]);
    assert_eq!(h.orders.coupon[1], NONE);
    assert_eq!(h.points.delta, vec![80, -50]);
    assert_eq!(h.points.reason[1], PointsReason::RedeemCoupon);
    assert!(h.labels.is_empty(), "an absent labels table reads as empty");
    assert_eq!(h.history_rows(), 6);
}

#[test]
fn parquet_written_by_us_reads_back_identically_and_folders_concatenate() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut w = DatasetWriter::create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..3 {
        let row = MemberRow {
            member_id: format!("M{i}"),
            joined_at: 1_700_000_000 + i,
            channel: "app".into(),
            phone_prefix: (i == 1).then(|| "170".into()),
            ..MemberRow::default()
        };
        w.members.push(&row).unwrap_or_else(|e| panic!("{e}"));
    }
    let order = |id: &str, member: &str, amount: f64| OrderRow {
        order_id: id.into(),
        member_id: member.into(),
        at: 1_700_100_000,
        amount,
        list_amount: amount + 5.0,
        discount: 5.0,
        coupon_id: None,
        channel: "app".into(),
        refunded: false,
    };
    w.orders
        .push(&order("O1", "M0", 10.25))
        .unwrap_or_else(|e| panic!("{e}"));
    let counts = w.finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((counts.members, counts.orders, counts.points), (3, 1, 0));

    // The orders as a folder of two part files, read in name order.
    let parts = dir.path().join("orders");
    fs::create_dir(&parts).unwrap_or_else(|e| panic!("{e}"));
    fs::rename(
        dir.path().join("orders.parquet"),
        parts.join("part-1.parquet"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let extra = parts.join("part-2.parquet");
    let mut more = TableWriter::<OrderRow>::create(&extra).unwrap_or_else(|e| panic!("{e}"));
    more.push(&order("O2", "M2", 3.5))
        .unwrap_or_else(|e| panic!("{e}"));
    more.finish().unwrap_or_else(|e| panic!("{e}"));

    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        h.members.joined_at,
        vec![1_700_000_000, 1_700_000_001, 1_700_000_002]
    );
    assert_eq!(h.keys.opt_name(h.members.phone_prefix[1]), Some("170"));
    assert_eq!(h.members.phone_prefix[0], NONE);
    assert_eq!(h.orders.amount, vec![10.25, 3.5]);
    assert_eq!(h.orders.member, vec![0, 2]);
    assert_eq!(h.orders.list_amount, vec![15.25, 8.5]);
}

#[test]
fn missing_members_table_is_an_error() {
    let (kind, _) = first_problem(&[("orders.csv", ORDERS)]);
    assert_eq!(kind, ProblemKind::MissingTable);
}

#[test]
fn missing_required_column_names_file_and_column() {
    let (kind, at) = first_problem(&with(
        "points.csv",
        "member_id,at,reason\nM1,2024-01-03T00:00:00Z,purchase\n",
    ));
    assert_eq!(kind, ProblemKind::MissingColumn);
    assert_eq!(at, "/points.csv, column delta");
}

#[test]
fn unparsable_time_names_cell() {
    let (kind, at) = first_problem(&with(
        "points.csv",
        "member_id,at,delta,reason\nM1,2024-01-03T00:00:00Z,1,share\nM1,yesterday,1,share\n",
    ));
    assert_eq!(kind, ProblemKind::BadTime);
    assert_eq!(at, "/points.csv, column at, row 2");
}

#[test]
fn wrong_type_in_parquet_names_column() {
    // A Parquet members file whose joined_at is a boolean column.
    use arrow::array::{BooleanArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let schema = Arc::new(Schema::new(vec![
        Field::new("member_id", DataType::Utf8, false),
        Field::new("joined_at", DataType::Boolean, false),
        Field::new("channel", DataType::Utf8, false),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["M1"])),
            Arc::new(BooleanArray::from(vec![true])),
            Arc::new(StringArray::from(vec!["app"])),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let file =
        fs::File::create(dir.path().join("members.parquet")).unwrap_or_else(|e| panic!("{e}"));
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap_or_else(|e| panic!("{e}"));
    w.write(&batch).unwrap_or_else(|e| panic!("{e}"));
    w.close().unwrap_or_else(|e| panic!("{e}"));
    let err = load(dir.path())
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let p = err.problem().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(p.kind, ProblemKind::WrongType);
    assert_eq!(p.location.column.as_deref(), Some("joined_at"));
    assert!(
        p.message.contains("expected UTC timestamp"),
        "{}",
        p.message
    );
}

#[test]
fn unknown_enum_value_names_cell_and_lists_the_allowed() {
    let (kind, at) = first_problem(&with(
        "coupons.csv",
        "member_id,coupon_id,campaign_id,event,at,face_value,threshold,kind\n\
         M1,K1,C1,steal,2024-01-01T00:10:00Z,20,99,welcome\n",
    ));
    assert_eq!(kind, ProblemKind::UnknownValue);
    assert_eq!(at, "/coupons.csv, column event, row 1");
}

#[test]
fn duplicate_member_id_points_at_its_twin() {
    let dir = folder(&with(
        "members.csv",
        "member_id,joined_at,channel\nM1,2024-01-01,app\nM2,2024-01-01,app\nM1,2024-01-02,jd\n",
    ));
    let err = load(dir.path())
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let p = err.problem().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(p.kind, ProblemKind::DuplicateId);
    assert_eq!(p.location.row, Some(3));
    assert!(
        p.message.contains("first at") && p.message.contains("row 1"),
        "{}",
        p.message
    );
}

#[test]
fn event_for_unknown_member_names_cell() {
    let (kind, at) = first_problem(&with(
        "orders.csv",
        "order_id,member_id,at,amount,list_amount,discount,coupon_id,channel,refunded\n\
         O1,M1,2024-01-03T00:00:00Z,1,1,0,,app,false\n\
         O2,M9,2024-01-03T00:00:00Z,1,1,0,,app,false\n",
    ));
    assert_eq!(kind, ProblemKind::UnknownMember);
    assert_eq!(at, "/orders.csv, column member_id, row 2");
}

#[test]
fn negative_amount_names_cell() {
    let (kind, at) = first_problem(&with(
        "orders.csv",
        "order_id,member_id,at,amount,list_amount,discount,coupon_id,channel,refunded\n\
         O1,M1,2024-01-03T00:00:00Z,-5,1,0,,app,false\n",
    ));
    assert_eq!(kind, ProblemKind::NegativeValue);
    assert_eq!(at, "/orders.csv, column amount, row 1");
}

#[test]
fn truncated_last_line_is_reported_not_dropped() {
    let (kind, at) = first_problem(&with(
        "points.csv",
        "member_id,at,delta,reason\nM1,2024-01-03T00:00:00Z,80,purchase\nM1,2024-01-0",
    ));
    assert_eq!(kind, ProblemKind::MalformedRow);
    assert_eq!(at, "/points.csv, row 2");
}

#[test]
fn truncated_parquet_file_is_unreadable_not_a_panic() {
    let dir = folder(&good());
    let bytes = b"PAR1 this is not a whole parquet file";
    fs::write(dir.path().join("labels.parquet"), bytes).unwrap_or_else(|e| panic!("{e}"));
    let err = load(dir.path())
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let p = err.problem().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(p.kind, ProblemKind::Unreadable);
    assert!(p.location.file.ends_with("labels.parquet"));
}

#[test]
fn validate_reports_every_problem_counted_and_capped() {
    let mut bad = String::from("member_id,at,delta,reason\n");
    for i in 0..30 {
        bad.push_str(&format!("M1,2024-01-03T00:00:00Z,{i},dance\n"));
    }
    bad.push_str("M7,2024-01-03T00:00:00Z,1,share\n");
    let bad: &'static str = Box::leak(bad.into_boxed_str());
    let dir = folder(&with("points.csv", bad));
    let report = validate(dir.path(), 5).unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.ok);
    assert_eq!(report.problems_total, 31);
    assert_eq!(report.problem_counts.get("unknown_value"), Some(&30));
    assert_eq!(report.problem_counts.get("unknown_member"), Some(&1));
    assert_eq!(report.problems.len(), 6, "5 kept of the 30, and the 1");
    let points = report.tables.iter().find(|t| t.table.name() == "points");
    let points = points.unwrap_or_else(|| panic!("points table reported"));
    assert_eq!((points.rows, points.accepted), (31, 0));
}

#[test]
fn validate_of_a_good_folder_is_ok() {
    let dir = folder(&good());
    let report = validate(dir.path(), 5).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(
        report.time_span,
        Some(("2024-01-01T00:00:00Z".into(), "2024-01-05T00:00:00Z".into()))
    );
}

/// Three sign-ups in one minute on one device, written out of arrival order with a `seq`
/// column: each sees the accounts that arrived before it, whatever the row order.
#[test]
fn a_seq_column_orders_sign_ups_in_the_same_minute() {
    use woolguard::features::recruit::{self, MergeCaps};
    let members = "member_id,joined_at,channel,device_id,seq\n\
C,2024-01-01T00:00:00Z,app,D9,3\n\
A,2024-01-01T00:00:00Z,app,D9,1\n\
B,2024-01-01T00:00:00Z,app,D9,2\n";
    let dir = folder(&[("members.csv", members)]);
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.members.seq, vec![3, 1, 2]);
    let (rows, _) = recruit::build(&h, MergeCaps::default());
    let device_accounts = |id: &str| rows.row(h.members.index_of(id).unwrap_or(0) as usize)[0];
    assert_eq!(
        (
            device_accounts("A"),
            device_accounts("B"),
            device_accounts("C")
        ),
        (0.0, 1.0, 2.0)
    );
    // Without it, the row order is the arrival order.
    let plain = members
        .replace(",seq", "")
        .replace(",3\n", "\n")
        .replace(",1\n", "\n")
        .replace(",2\n", "\n");
    let dir = folder(&[("members.csv", plain.as_str())]);
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(h.members.seq.is_empty());
    let (rows, _) = recruit::build(&h, MergeCaps::default());
    assert_eq!(rows.row(0)[0], 0.0, "C arrived first");
    // A seq on some rows only is refused where it is missing.
    let partial = "member_id,joined_at,channel,device_id,seq\n\
A,2024-01-01T00:00:00Z,app,D9,1\n\
B,2024-01-01T00:00:00Z,app,D9,\n";
    let (kind, at) = first_problem(&[("members.csv", partial)]);
    assert_eq!(kind, ProblemKind::MissingValue);
    assert_eq!(at, "/members.csv, column seq, row 2");
}
