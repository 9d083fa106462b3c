//! How a table is found in a history folder (issue 12 part 3, "inputs silently read as empty"):
//! part-file folders as Spark, Hive and DuckDB write them, at any depth and in a stable order;
//! two entries for one table, empty files and empty folders as problems; an absent optional
//! table said out loud by `validate` and `stats`, in text and JSON.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use woolguard::data::summary::validate;
use woolguard::data::write::{OrderRow, TableWriter};
use woolguard::data::{load, ProblemKind, Table};

use super::{first_problem, folder, good, with, MEMBERS, ORDERS};

/// Writes `n` orders of member M1 (or M2 for odd ones) as one Parquet file at `path`.
fn orders_parquet(path: &Path, first: usize, n: usize) {
    let mut w = TableWriter::<OrderRow>::create(path).unwrap_or_else(|e| panic!("{e}"));
    for i in first..first + n {
        let row = OrderRow {
            order_id: format!("P{i}"),
            member_id: if i % 2 == 0 { "M1" } else { "M2" }.into(),
            at: 1_704_240_000,
            amount: 10.0,
            list_amount: 10.0,
            discount: 0.0,
            coupon_id: None,
            channel: "app".into(),
            refunded: false,
        };
        w.push(&row).unwrap_or_else(|e| panic!("{e}"));
    }
    w.finish().unwrap_or_else(|e| panic!("{e}"));
}

/// The good CSV tables without orders.
fn without_orders() -> Vec<(&'static str, &'static str)> {
    let mut files = good();
    files.retain(|(n, _)| *n != "orders.csv");
    files
}

fn woolguard(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_woolguard"))
        .args(args)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("running woolguard: {e}"))
}

#[test]
fn a_spark_style_orders_parquet_folder_is_the_orders_table() {
    // Seen: orders.parquet/ holding part-00000.parquet read as "orders absent", exit 0.
    let dir = folder(&without_orders());
    let table = dir.path().join("orders.parquet");
    orders_parquet(&table.join("part-00000-1a2b.snappy.parquet"), 0, 3);
    orders_parquet(&table.join("part-00001-1a2b.snappy.parquet"), 3, 2);
    fs::write(table.join("_SUCCESS"), "").unwrap_or_else(|e| panic!("{e}"));
    fs::write(table.join(".part-00000-1a2b.snappy.parquet.crc"), "crc")
        .unwrap_or_else(|e| panic!("{e}"));
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = (0..h.orders.len())
        .map(|i| h.orders.ids.name(h.orders.order[i]))
        .collect();
    assert_eq!(
        ids,
        ["P0", "P1", "P2", "P3", "P4"],
        "all parts, in name order"
    );
    let report = validate(dir.path(), 5).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.ok, "{:?}", report.problems);
    let orders = report.tables.iter().find(|t| t.table == Table::Orders);
    let orders = orders.unwrap_or_else(|| panic!("orders reported"));
    assert_eq!((orders.rows, orders.files.len()), (5, 2));
    assert!(!report.absent_tables.contains(&Table::Orders));
}

#[test]
fn part_files_in_subfolders_are_read_in_sorted_path_order() {
    // Seen: an orders/ folder whose file sits in a subfolder read as empty. Hive partitions nest
    // a folder a key; DuckDB writes data_0.csv files.
    let o = "order_id,member_id,at,amount,list_amount,discount,coupon_id,channel,refunded\n";
    let part = |id: &str| -> &'static str {
        Box::leak(format!("{o}{id},M1,2024-01-03T00:00:00Z,1,1,0,,app,false\n").into_boxed_str())
    };
    let mut files = without_orders();
    files.push(("orders/year=2024/month=02/data_0.csv", part("B")));
    files.push(("orders/year=2024/month=01/data_0.csv", part("A")));
    files.push(("orders/year=2024/month=01/data_1.csv", part("A2")));
    files.push(("orders/_temporary/0/data_9.csv", part("T")));
    let dir = folder(&files);
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = (0..h.orders.len())
        .map(|i| h.orders.ids.name(h.orders.order[i]))
        .collect();
    assert_eq!(
        ids,
        ["A", "A2", "B"],
        "_temporary is skipped, the rest sorted by path"
    );
}

#[test]
fn a_csv_folder_named_like_the_file_is_a_table() {
    let mut files = good();
    files.retain(|(n, _)| *n != "members.csv");
    files.push((
        "members.csv/part-1.csv",
        "member_id,joined_at,channel\nM2,2024-01-02,jd\n",
    ));
    files.push((
        "members.csv/part-0.csv",
        "member_id,joined_at,channel\nM1,2024-01-01,app\n",
    ));
    let dir = folder(&files);
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.members.index_of("M1"), Some(0));
    assert_eq!(h.members.index_of("M2"), Some(1));
}

#[test]
fn a_file_in_a_table_folder_that_is_neither_parquet_nor_csv_is_a_problem() {
    let mut files = without_orders();
    files.push(("orders/part-0.csv", ORDERS));
    files.push(("orders/part-1.csv.gz", "not read"));
    let (kind, at) = first_problem(&files);
    assert_eq!(kind, ProblemKind::Unreadable);
    assert_eq!(at, "/orders/part-1.csv.gz");
}

#[test]
fn a_table_folder_without_a_data_file_is_empty_not_absent() {
    let mut files = without_orders();
    files.push(("orders/_SUCCESS", ""));
    files.push(("orders/nested/.hidden.csv", ORDERS));
    let (kind, at) = first_problem(&files);
    assert_eq!(kind, ProblemKind::EmptyTable);
    assert_eq!(at, "/orders");
}

#[test]
fn a_zero_byte_members_csv_is_an_empty_table_naming_the_file() {
    // Seen: a 0-byte members.csv passed validate.
    let (kind, at) = first_problem(&with("members.csv", ""));
    assert_eq!(kind, ProblemKind::EmptyTable);
    assert_eq!(at, "/members.csv");
}

#[test]
fn a_header_only_members_table_is_an_empty_table() {
    let dir = folder(&[("members.csv", "member_id,joined_at,channel\n")]);
    let err = load(dir.path())
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let p = err.problem().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(p.kind, ProblemKind::EmptyTable);
    assert!(p.location.file.ends_with("members.csv"), "{p}");
    assert!(p.message.contains("holds no row"), "{p}");
}

#[test]
fn a_zero_byte_optional_table_is_a_problem_not_an_absent_table() {
    let (kind, at) = first_problem(&with("points.csv", ""));
    assert_eq!(kind, ProblemKind::EmptyTable);
    assert_eq!(at, "/points.csv");
    // A header-only optional table is a table without rows, which is fine.
    let dir = folder(&with("points.csv", "member_id,at,delta,reason\n"));
    let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(h.points.is_empty());
}

#[test]
fn members_parquet_beside_members_csv_is_a_duplicate_not_a_merge() {
    // Seen: members.parquet and members.csv side by side were both read and merged.
    let dir = folder(&good());
    let mut w = TableWriter::<woolguard::data::write::MemberRow>::create(
        &dir.path().join("members.parquet"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let row = woolguard::data::write::MemberRow {
        member_id: "M3".into(),
        joined_at: 1_704_067_200,
        channel: "app".into(),
        ..Default::default()
    };
    w.push(&row).unwrap_or_else(|e| panic!("{e}"));
    w.finish().unwrap_or_else(|e| panic!("{e}"));
    let report = validate(dir.path(), 5).unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.ok);
    assert_eq!(report.problem_counts.get("duplicate_table"), Some(&1));
    let p = &report.problems[0];
    assert_eq!(p.kind, ProblemKind::DuplicateTable);
    assert!(p.location.file.ends_with("members.csv"), "{p}");
    assert!(
        p.message.contains("members.parquet") && p.message.contains("members.csv"),
        "names both: {p}"
    );
}

#[test]
fn a_file_and_a_folder_for_one_table_are_a_duplicate() {
    let mut files = good();
    files.push(("members/part-0.csv", MEMBERS));
    let (kind, at) = first_problem(&files);
    assert_eq!(kind, ProblemKind::DuplicateTable);
    assert_eq!(at, "/members");
}

#[test]
fn validate_names_the_absent_optional_tables_in_text_and_json() {
    let mut files = good();
    files.retain(|(n, _)| *n != "points.csv");
    let dir = folder(&files);
    let report = validate(dir.path(), 5).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.absent_tables, [Table::Points, Table::Labels]);

    let out = woolguard(&["validate"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("points   absent (no points.parquet, points.csv or points/ folder)"),
        "{text}"
    );
    assert!(
        text.contains("labels   absent (no labels.parquet"),
        "{text}"
    );

    let out = woolguard(&["validate", "--json"], dir.path());
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        json["absent_tables"],
        serde_json::json!(["points", "labels"])
    );
}

#[test]
fn stats_names_the_absent_optional_tables_in_text_and_json() {
    let dir = folder(&good());
    let out = woolguard(&["stats"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("labels: absent (no labels.parquet, labels.csv or labels/ folder)"),
        "{text}"
    );
    assert!(!text.contains("points: absent"), "{text}");
    assert!(
        text.contains("coupon events: claim 1, redeem 1"),
        "no debug text: {text}"
    );

    let out = woolguard(&["stats", "--json"], dir.path());
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["absent_tables"], serde_json::json!(["labels"]));
}

#[test]
fn validate_exits_1_on_a_zero_byte_members_file() {
    let dir = folder(&with("members.csv", ""));
    let out = woolguard(&["validate"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("members.csv: the file is empty (0 bytes)"),
        "{text}"
    );
    assert!(text.contains("[empty_table]"), "{text}");
}
