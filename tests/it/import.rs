//! Import tests: the two shipped mappings on the real exports (exact row counts, validated by the
//! contract reader), a hand-written export with hand-computed values, and the errors a user meets:
//! a mapping mistake names the mapping file and key, a bad source value its file, column and row.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use woolguard::data::import::{import, ImportError, ImportOptions};
use woolguard::data::schema::{CouponEvent, CouponKind};
use woolguard::data::summary::{stats, validate};
use woolguard::data::{load, History, NONE};

use crate::common;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tempdir() -> TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Imports with a shipped mapping, checks the result the way `woolguard validate` does, loads it.
fn import_real(
    mapping: &str,
    source: &Path,
) -> (TempDir, History, woolguard::data::import::ImportReport) {
    let out = tempdir();
    let options = ImportOptions {
        source: Some(source),
        ..Default::default()
    };
    let report = import(
        &repo().join("data/mappings").join(mapping),
        out.path(),
        &options,
    )
    .unwrap_or_else(|e| panic!("import with {mapping}: {e}"));
    let v = validate(out.path(), 5).unwrap_or_else(|e| panic!("{e}"));
    assert!(v.ok, "the imported history has problems: {:?}", v.problems);
    let history = load(out.path()).unwrap_or_else(|e| panic!("{e}"));
    (out, history, report)
}

// The expected counts below were computed apart from this code, with Python's csv module over the
// files in ../shared/realdata (python3, stdlib only):
//   members = len(set of household_id over transactions_sample.csv ∪ campaigns.csv ∪
//             coupon_redemptions.csv))                                   → 2379
//   coupons = rows(campaigns.csv) + rows(coupon_redemptions.csv)         → 6589 + 2102 = 8691
//   orders  = len(set of basket_id in transactions_sample.csv)           → 47243
//   orders with a coupon = baskets where sum(coupon_disc + coupon_match_disc) > 0 → 1013
//   sales = sum over baskets of round(sum(sales_value), 2)               → 233935.24
//   basket 32053127496 (3 lines of household 2131 at 2017-03-01 03:31:57):
//     sales 1.59 + 4.0 + 4.5 = 10.09, discounts 0.9 + 0.78 + 0.98 = 2.66
//   household 1 first appears at 2016-12-28 (start_date of a campaign it received) = 1482883200
//   CDNOW: customers = len(set of customer_id) → 23570, orders = rows → 69659,
//          sales = sum(dollar_value) → 2500315.63

#[test]
fn complete_journey_imports_with_exact_counts() {
    let Some(source) = common::realdata("completejourney") else {
        eprintln!("skipped: complete_journey_imports_with_exact_counts needs ../shared/realdata");
        return;
    };
    let (_out, h, report) = import_real("completejourney.toml", &source);
    assert_eq!(report.rows.members, 2379);
    assert_eq!(report.rows.coupons, 8691);
    assert_eq!(report.rows.orders, 47243);
    assert_eq!(report.rows.points, 0);
    assert_eq!(report.rows.labels, 0);
    assert_eq!(h.members.len(), 2379);
    assert_eq!(h.coupons.len(), 8691);
    assert_eq!(h.orders.len(), 47243);
    let claims = h
        .coupons
        .event
        .iter()
        .filter(|e| **e == CouponEvent::Claim)
        .count();
    assert_eq!(claims, 6589);
    assert!(h.coupons.kind.iter().all(|k| *k == CouponKind::Promo));

    let s = stats(&h);
    assert_eq!(s.orders_with_coupon, 1013);
    assert_eq!(s.refunded_orders, 0);
    assert!((s.sales - 233_935.24).abs() < 0.01, "sales {}", s.sales);

    let basket = h
        .orders
        .ids
        .get("32053127496")
        .unwrap_or_else(|| panic!("basket id not interned"));
    let o = h
        .orders
        .order
        .iter()
        .position(|x| *x == basket)
        .unwrap_or_else(|| panic!("basket 32053127496 not imported"));
    assert_eq!(h.members.id(h.orders.member[o]), "2131");
    assert_eq!(h.orders.amount[o], 10.09);
    assert_eq!(h.orders.discount[o], 2.66);
    assert_eq!(h.orders.list_amount[o], 12.75);
    assert_eq!(h.orders.coupon[o], NONE);
    // 2017-03-01 03:31:57 UTC.
    assert_eq!(h.orders.at[o], 1_488_339_117);

    let m = h
        .members
        .index_of("1")
        .unwrap_or_else(|| panic!("household 1 missing")) as usize;
    assert_eq!(h.members.joined_at[m], 1_482_883_200);
    assert_eq!(h.keys.name(h.members.channel[m]), "pos");
}

#[test]
fn cdnow_imports_with_exact_counts() {
    let Some(source) = common::realdata("cdnow") else {
        eprintln!("skipped: cdnow_imports_with_exact_counts needs ../shared/realdata");
        return;
    };
    let (_out, h, report) = import_real("cdnow.toml", &source);
    assert_eq!(report.rows.members, 23570);
    assert_eq!(report.rows.orders, 69659);
    assert_eq!(report.rows.coupons, 0);
    assert_eq!(h.members.len(), 23570);
    assert_eq!(h.orders.len(), 69659);
    let s = stats(&h);
    assert!((s.sales - 2_500_315.63).abs() < 0.01, "sales {}", s.sales);
    // The first line: 00001,19970101,1,11.77.
    let first = h
        .orders
        .ids
        .get("00001-1")
        .unwrap_or_else(|| panic!("order 00001-1 missing"));
    assert_eq!(h.orders.order[0], first);
    assert_eq!(h.orders.amount[0], 11.77);
    let m = h
        .members
        .index_of("00001")
        .unwrap_or_else(|| panic!("customer 00001 missing")) as usize;
    // 1997-01-01 00:00:00 UTC.
    assert_eq!(h.members.joined_at[m], 852_076_800);
}

#[test]
fn shipped_mappings_find_their_sources_relative_to_themselves() {
    if common::realdata("cdnow").is_none() {
        return;
    }
    // No --source: the mapping's own `source` folder is used.
    let out = tempdir();
    let mapping = repo().join("data/mappings/cdnow.toml");
    let report =
        import(&mapping, out.path(), &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows.orders, 69659);
}

// ---------------------------------------------------------------------------------------------
// A hand-written export

const CUSTOMERS: &str = "cust,signup_channel,city\n\
C1,wechat,Shanghai\n\
C2,,Beijing\n";

const LINES: &str = "basket,cust,ts,price,qty,promo_off,coupon_off,status\n\
B1,C1,2024-03-01 10:00:00,10.00,2,1.50,0,ok\n\
B1,C1,2024-03-01 10:00:05,5.25,1,0,2.00,ok\n\
B1,C1,2024-03-01 09:59:58,3.10,1,0.40,0,ok\n\
B2,C2,2024-03-02 12:00:00,-4.00,1,0,0,ok\n\
B3,C1,2024-03-03 08:00:00,1.00,1,0,0,test\n";

const CLAIMS: &str = "cust;code;claimed\n\
C3;WELCOME10;2024-02-28\n\
C1;WELCOME10;2024-02-27\n";

const MAPPING: &str = r#"
source = "export"

[sources.customers]
file = "customers.csv"

[sources.lines]
file = "lines.csv"

[sources.claims]
file = "claims.csv"
delimiter = ";"

[maps.kinds]
"WELCOME10" = "welcome"

[[members]]
from = "customers"
member_id = "cust"
channel = "signup_channel"
region = "lower(city)"

[[members]]
from = "lines"
member_id = "cust"
joined_at = "time(ts, '%Y-%m-%d %H:%M:%S')"
channel = "'pos'"

[[members]]
from = "claims"
member_id = "cust"
joined_at = "time(claimed, '%Y-%m-%d')"
channel = "'app'"

[coupons]
from = "claims"
member_id = "cust"
coupon_id = "code"
event = "'claim'"
at = "time(claimed, '%Y-%m-%d')"
face_value = 10
threshold = 50
kind = "map(kinds, code)"

[orders]
from = "lines"
where = "status != 'test'"
group_by = "basket"
order_id = "'shop-' + basket"
member_id = "cust"
at = "min(time(ts, '%Y-%m-%d %H:%M:%S'))"
amount = "round(abs(sum(price * qty)), 2)"
discount = "round(sum(promo_off + coupon_off), 2)"
list_amount = "round(abs(sum(price * qty)) + sum(promo_off + coupon_off), 2)"
coupon_id = "if(any(coupon_off > 0), 'coupon')"
channel = "'pos'"
refunded = "sum(price * qty) < 0"
"#;

/// A temp folder with the export under `export/` and `mapping.toml` beside it; `edit` changes
/// the mapping text and `files` replaces export files.
fn export(edit: &dyn Fn(&str) -> String, files: &[(&str, &str)]) -> (TempDir, PathBuf) {
    let dir = tempdir();
    let mut all = vec![
        ("customers.csv", CUSTOMERS),
        ("lines.csv", LINES),
        ("claims.csv", CLAIMS),
    ];
    for (name, text) in files {
        all.retain(|(n, _)| n != name);
        all.push((name, text));
    }
    for (name, text) in all {
        write(&dir.path().join("export"), name, text);
    }
    let mapping = write(dir.path(), "mapping.toml", &edit(MAPPING));
    (dir, mapping)
}

fn import_err(edit: &dyn Fn(&str) -> String, files: &[(&str, &str)]) -> (String, ImportError) {
    let (dir, mapping) = export(edit, files);
    let out = dir.path().join("out");
    match import(&mapping, &out, &ImportOptions::default()) {
        Ok(r) => panic!("expected an error, imported {:?}", r.rows),
        Err(e) => {
            assert!(
                !out.join("members.parquet").exists(),
                "a failed import must leave no table behind"
            );
            (
                e.to_string().replace(&dir.path().display().to_string(), ""),
                e,
            )
        }
    }
}

fn same(s: &str) -> String {
    s.to_string()
}

#[test]
fn hand_written_export_round_trips_with_hand_computed_values() {
    let (dir, mapping) = export(&same, &[]);
    let out = dir.path().join("out");
    let report =
        import(&mapping, &out, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows.members, 3);
    assert_eq!(report.rows.coupons, 2);
    assert_eq!(report.rows.orders, 2);
    let orders_feed = report
        .feeds
        .iter()
        .find(|f| f.feed == "orders")
        .unwrap_or_else(|| panic!("no orders feed in {:?}", report.feeds));
    assert_eq!(
        (
            orders_feed.rows_read,
            orders_feed.rows_filtered_out,
            orders_feed.rows_out
        ),
        (5, 1, 2)
    );

    let h = load(&out).unwrap_or_else(|e| panic!("{e}"));
    let order_id = |s: &str| {
        h.orders
            .ids
            .get(s)
            .unwrap_or_else(|| panic!("order '{s}' not interned"))
    };
    let coupon_id = |s: &str| {
        h.coupons
            .ids
            .get(s)
            .unwrap_or_else(|| panic!("coupon '{s}' not interned"))
    };

    // Basket B1: 10.00 × 2 + 5.25 + 3.10 = 28.35 paid; discounts 1.50 + 2.00 + 0.40 = 3.90;
    // list 32.25; at the earliest line, 2024-03-01 09:59:58 UTC = 1709287198.
    assert_eq!(h.orders.order[0], order_id("shop-B1"));
    assert_eq!(h.orders.amount[0], 28.35);
    assert_eq!(h.orders.discount[0], 3.9);
    assert_eq!(h.orders.list_amount[0], 32.25);
    assert_eq!(h.orders.at[0], 1_709_287_198);
    assert_eq!(h.orders.coupon[0], coupon_id("coupon"));
    assert!(!h.orders.refunded[0]);
    // Basket B2 nets -4.00: a return, kept with its absolute amount and marked refunded.
    assert_eq!(h.orders.order[1], order_id("shop-B2"));
    assert_eq!(h.orders.amount[1], 4.0);
    assert_eq!(h.orders.list_amount[1], 4.0);
    assert!(h.orders.refunded[1]);
    assert_eq!(h.orders.coupon[1], NONE);

    // Members in the order first seen: the customer file's C1, C2, then C3 from the claims only.
    let members: Vec<&str> = (0..3).map(|i| h.members.id(i)).collect();
    assert_eq!(members, ["C1", "C2", "C3"]);
    // C1 joins at its claim, 2024-02-27 = 1708992000, before its first basket; its channel and
    // region come from the customer file, which outranks what events imply.
    assert_eq!(h.members.joined_at[0], 1_708_992_000);
    assert_eq!(h.keys.name(h.members.channel[0]), "wechat");
    assert_eq!(h.keys.name(h.members.region[0]), "shanghai");
    // C2 has no signup channel in the file: its first event (a basket at the till) gives "pos".
    assert_eq!(h.members.joined_at[1], 1_709_380_800);
    assert_eq!(h.keys.name(h.members.channel[1]), "pos");
    assert_eq!(h.members.joined_at[2], 1_709_078_400);
    assert_eq!(h.keys.name(h.members.channel[2]), "app");

    assert_eq!(
        h.coupons.kind,
        vec![CouponKind::Welcome, CouponKind::Welcome]
    );
    assert_eq!(h.coupons.face_value, vec![10.0, 10.0]);
    assert_eq!(h.coupons.threshold, vec![50.0, 50.0]);
}

#[test]
fn a_bad_expression_names_the_mapping_file_and_key() {
    let (msg, e) = import_err(
        &|m| m.replace("sum(price * qty)) + sum", "sum(price * qty) + sum"),
        &[],
    );
    assert!(matches!(e, ImportError::Mapping { .. }), "{e:?}");
    assert!(
        msg.contains("mapping.toml, key orders.list_amount"),
        "{msg}"
    );
    assert!(msg.contains("col "), "{msg}");

    let (msg, _) = import_err(
        &|m| {
            m.replace(
                "sum(promo_off + coupon_off), 2)\"\nlist",
                "sum(promo_of + coupon_off), 2)\"\nlist",
            )
        },
        &[],
    );
    assert!(msg.contains("key orders.discount"), "{msg}");
    assert!(msg.contains("'promo_of' is not a column of"), "{msg}");

    let (msg, _) = import_err(
        &|m| {
            m.replace(
                "time(claimed, '%Y-%m-%d')\"\nface",
                "time(claimed, '%Y-%m-%')\"\nface",
            )
        },
        &[],
    );
    assert!(msg.contains("key coupons.at"), "{msg}");
    assert!(msg.contains("not a valid time format"), "{msg}");

    let (msg, _) = import_err(
        &|m| m.replace("channel = \"'app'\"", "channel = \"app\""),
        &[],
    );
    assert!(msg.contains("key members[3].channel"), "{msg}");
    assert!(msg.contains("single quotes"), "{msg}");

    let (msg, _) = import_err(
        &|m| m.replace("event = \"'claim'\"", "event = \"'grab'\""),
        &[],
    );
    assert!(msg.contains("key coupons.event"), "{msg}");
    assert!(msg.contains("claim / redeem / expire"), "{msg}");

    let (msg, _) = import_err(
        &|m| m.replace("amount = \"round(abs", "amout = \"round(abs"),
        &[],
    );
    assert!(msg.contains("key orders.amout"), "{msg}");
    assert!(msg.contains("not a column of the orders table"), "{msg}");

    let (msg, _) = import_err(
        &|m| m.replace("amount = \"round(abs(sum(price * qty)), 2)\"\n", ""),
        &[],
    );
    assert!(
        msg.contains("key orders: does not give the required column(s) amount"),
        "{msg}"
    );

    let (msg, _) = import_err(
        &|m| {
            m.replace(
                "member_id = \"cust\"\ncoupon_id",
                "member_id = \"sum(cust)\"\ncoupon_id",
            )
        },
        &[],
    );
    assert!(msg.contains("key coupons.member_id"), "{msg}");
    assert!(msg.contains("needs a group_by"), "{msg}");
}

#[test]
fn mapping_structure_mistakes_are_named() {
    let (msg, e) = import_err(&|m| m.replace("[orders]", "[order]"), &[]);
    assert!(matches!(e, ImportError::MappingSyntax { .. }), "{e:?}");
    assert!(
        msg.contains("mapping.toml") && msg.contains("unknown field `order`"),
        "{msg}"
    );

    let (msg, _) = import_err(
        &|m| m.replace("file = \"lines.csv\"", "file = \"line.csv\""),
        &[],
    );
    assert!(
        msg.contains("mapping.toml, key sources.lines.file"),
        "{msg}"
    );
    assert!(msg.contains("line.csv does not exist"), "{msg}");

    let (msg, _) = import_err(
        &|m| m.replace("source = \"export\"", "source = \"exports\""),
        &[],
    );
    assert!(msg.contains("key source"), "{msg}");

    let (msg, _) = import_err(
        &|m| {
            m.replace(
                "from = \"claims\"\nmember_id = \"cust\"\ncoupon_id",
                "from = \"claim\"\nmember_id = \"cust\"\ncoupon_id",
            )
        },
        &[],
    );
    assert!(msg.contains("key coupons.from"), "{msg}");
    assert!(msg.contains("no [sources.claim]"), "{msg}");

    let (msg, _) = import_err(&|m| m.replace("map(kinds, code)", "map(kind, code)"), &[]);
    assert!(
        msg.contains("key coupons.kind") && msg.contains("no [maps.kind]"),
        "{msg}"
    );
}

#[test]
fn a_bad_source_value_names_file_column_and_row() {
    let lines = LINES.replace("5.25", "5.25x");
    let (msg, e) = import_err(&same, &[("lines.csv", &lines)]);
    assert!(matches!(e, ImportError::Source { .. }), "{e:?}");
    assert!(
        msg.contains("lines.csv, column price, row 2: '5.25x' is not a number"),
        "{msg}"
    );

    let lines = LINES.replace("2024-03-02 12:00:00", "2024-03-02T12");
    let (msg, _) = import_err(&same, &[("lines.csv", &lines)]);
    assert!(
        msg.contains("lines.csv, column ts, row 4: '2024-03-02T12' does not match the time format"),
        "{msg}"
    );

    let lines = LINES.replace(
        "B1,C1,2024-03-01 10:00:05,5.25",
        "B1,C1,2024-03-01 10:00:05,",
    );
    let (msg, _) = import_err(&same, &[("lines.csv", &lines)]);
    assert!(
        msg.contains("lines.csv, column price, row 2: the value is empty"),
        "{msg}"
    );

    // A basket whose lines disagree on the household cannot be one order.
    let lines = LINES.replace("B1,C1,2024-03-01 09:59:58", "B1,C2,2024-03-01 09:59:58");
    let (msg, _) = import_err(&same, &[("lines.csv", &lines)]);
    assert!(
        msg.contains("lines.csv, column cust, row 3: 'C2' here but 'C1'"),
        "{msg}"
    );

    // `+` of two source columns adds numbers; the message says how to join text instead.
    let (msg, _) = import_err(
        &|m| m.replace("group_by = \"basket\"", "group_by = \"basket + ts\""),
        &[],
    );
    assert!(
        msg.contains("lines.csv, column basket, row 1: 'B1' is not a number (`a + b`"),
        "{msg}"
    );

    let claims = CLAIMS.replace("WELCOME10;2024-02-27", "SPRING5;2024-02-27");
    let (msg, _) = import_err(&same, &[("claims.csv", &claims)]);
    assert!(
        msg.contains("claims.csv, column code, row 2: 'SPRING5' is not in [maps.kinds]"),
        "{msg}"
    );

    let broken = format!("{LINES}B4,C1,2024-03-04 08:00:00,1.00\n");
    let (msg, e) = import_err(&same, &[("lines.csv", &broken)]);
    assert!(matches!(e, ImportError::SourceCsv { .. }), "{e:?}");
    assert!(msg.contains("lines.csv, row 6"), "{msg}");
}

#[test]
fn contract_rules_are_enforced_on_the_way_out() {
    // Without abs(), the returned basket would be a negative amount.
    let (msg, _) = import_err(
        &|m| {
            m.replace(
                "amount = \"round(abs(sum(price * qty)), 2)\"",
                "amount = \"sum(price * qty)\"",
            )
        },
        &[],
    );
    assert!(
        msg.contains("lines.csv, row 4: orders.amount = `sum(price * qty)`: -4 is negative"),
        "{msg}"
    );
    assert!(msg.contains("the group basket = 'B2'"), "{msg}");

    // An event of someone no members feed gives.
    let claims_members = "[[members]]\nfrom = \"claims\"\nmember_id = \"cust\"\n\
                          joined_at = \"time(claimed, '%Y-%m-%d')\"\nchannel = \"'app'\"\n";
    assert!(MAPPING.contains(claims_members));
    let (msg, _) = import_err(&|m| m.replace(claims_members, ""), &[]);
    assert!(
        msg.contains("claims.csv, row 1: coupons.member_id = `cust`: 'C3' is not a member"),
        "{msg}"
    );

    // Order ids must be unique: grouping by basket and time makes B1 three orders.
    let (msg, _) = import_err(
        &|m| m.replace("group_by = \"basket\"", "group_by = \"basket & ts\""),
        &[],
    );
    assert!(
        msg.contains("the order id 'shop-B1' was already given by"),
        "{msg}"
    );
}

#[test]
fn an_existing_history_is_replaced_only_with_force() {
    let (dir, mapping) = export(&same, &[]);
    let out = dir.path().join("out");
    import(&mapping, &out, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    match import(&mapping, &out, &ImportOptions::default()) {
        Ok(_) => panic!("a second import must not silently replace the first"),
        Err(e) => assert!(e.to_string().contains("--force"), "{e}"),
    }
    let forced = ImportOptions {
        force: true,
        ..Default::default()
    };
    let report = import(&mapping, &out, &forced).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows.orders, 2);
    let left: Vec<String> = fs::read_dir(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "work folder left behind: {left:?}");
}

#[test]
fn the_command_imports_and_reports_input_problems_with_exit_code_1() {
    let (dir, mapping) = export(&same, &[]);
    let out = dir.path().join("out");
    let run = |mapping: &Path| {
        Command::new(env!("CARGO_BIN_EXE_woolguard"))
            .arg("import")
            .arg("--mapping")
            .arg(mapping)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap_or_else(|e| panic!("running woolguard: {e}"))
    };
    let ok = run(&mapping);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains("orders") && stdout.contains("ok: no problems"),
        "{stdout}"
    );

    let bad = write(
        dir.path(),
        "bad.toml",
        &MAPPING.replace("sum(price * qty) < 0", "sum(price * qty) <"),
    );
    let failed = run(&bad);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("key orders.refunded"), "{stderr}");
}
