use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::data::import::timefmt::utc;

fn header() -> Vec<String> {
    ["id", "qty", "price", "disc", "day", "kind"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn with_scope<T>(f: impl FnOnce(&Scope<'_>) -> T) -> T {
    let h = header();
    let lookups = HashMap::new();
    let mut maps = HashMap::new();
    maps.insert(
        "kinds".to_string(),
        Arc::new(ValueMap {
            name: "kinds".into(),
            entries: [("A".to_string(), "promo".to_string())]
                .into_iter()
                .collect(),
            fallback: None,
        }),
    );
    let scope = Scope {
        file: "t.csv",
        header: &h,
        lookups: &lookups,
        maps: &maps,
        offset: utc(),
    };
    f(&scope)
}

fn eval_row(src: &str, want: Want, cells: &[&str]) -> Result<Value<'static>, String> {
    with_scope(|scope| {
        let ast = parse(src).map_err(|e| e.to_string())?;
        let mut c = Compiler::new(scope, false);
        let e = c.column(&ast, want)?;
        let rec = csv::StringRecord::from(cells.to_vec());
        let cx = Ctx {
            record: Some(&rec),
            row: 7,
            slots: &[],
        };
        e.eval(&cx)
            .map(Value::into_owned)
            .map_err(|e| format!("{:?}: {}", e.column, e.message))
    })
}

const ROW: &[&str] = &["B1", "3", "2.5", "0.75", "20240102", "A"];

#[test]
fn arithmetic_and_text_joining() {
    assert_eq!(
        eval_row("qty * price - disc", Want::Num, ROW),
        Ok(Value::Num(6.75))
    );
    assert_eq!(
        eval_row("price + disc", Want::Num, ROW),
        Ok(Value::Num(3.25))
    );
    assert_eq!(
        eval_row("'cj-' + id + '-' + row()", Want::Text, ROW),
        Ok(Value::Text("cj-B1-7".into()))
    );
    assert_eq!(
        eval_row("qty & price", Want::Text, ROW),
        Ok(Value::Text("32.5".into()))
    );
    assert_eq!(
        eval_row("-(qty) + 1e1", Want::Num, ROW),
        Ok(Value::Num(7.0))
    );
    assert_eq!(
        eval_row("round(10 / 3, 2)", Want::Num, ROW),
        Ok(Value::Num(3.33))
    );
}

#[test]
fn conditions_maps_and_times() {
    assert_eq!(
        eval_row(
            "if(disc > 0.5 and kind == 'A', 'yes', 'no')",
            Want::Text,
            ROW
        ),
        Ok(Value::Text("yes".into()))
    );
    assert_eq!(
        eval_row("map(kinds, kind)", Want::Text, ROW),
        Ok(Value::Text("promo".into()))
    );
    // 2024-01-02 is 19724 days after 1970-01-01.
    assert_eq!(
        eval_row("time(day, '%Y%m%d')", Want::Time, ROW),
        Ok(Value::Time(19_724 * 86_400))
    );
    assert_eq!(
        eval_row("if(qty > 5, 'x')", Want::Text, ROW),
        Ok(Value::Null(None))
    );
    assert_eq!(
        eval_row("coalesce(if(qty > 5, 'x'), 'y')", Want::Text, ROW),
        Ok(Value::Text("y".into()))
    );
}

#[test]
fn bad_cells_name_their_column() {
    let row = &["B1", "three", "2.5", "", "2024-13-01", "Z"];
    let e = eval_row("qty + 1", Want::Num, row)
        .err()
        .unwrap_or_default();
    assert!(e.starts_with("Some(1): 'three' is not a number"), "{e}");
    let e = eval_row("disc * 2", Want::Num, row)
        .err()
        .unwrap_or_default();
    assert!(e.starts_with("Some(3): the value is empty"), "{e}");
    let e = eval_row("time(day, '%Y%m%d')", Want::Time, row)
        .err()
        .unwrap_or_default();
    assert!(e.starts_with("Some(4): '2024-13-01' does not match"), "{e}");
    let e = eval_row("map(kinds, kind)", Want::Text, row)
        .err()
        .unwrap_or_default();
    assert!(e.starts_with("Some(5): 'Z' is not in [maps.kinds]"), "{e}");
}

#[test]
fn mistakes_are_found_before_any_row() {
    let check = |src: &str, want: Want| -> String {
        with_scope(|scope| {
            let ast = match parse(src) {
                Ok(a) => a,
                Err(e) => return e.to_string(),
            };
            match Compiler::new(scope, false).column(&ast, want) {
                Ok(_) => "ok".into(),
                Err(e) => e,
            }
        })
    };
    assert!(check("qty +", Want::Num).contains("col 6"));
    assert!(check("sum(qty", Want::Num).contains("expected ',' or ')'"));
    assert_eq!(check("price = 1", Want::Bool), "ok");
    assert_eq!(check("price == 1 and not kind = 'A'", Want::Bool), "ok");
    assert!(check("pos", Want::Text).contains("'pos' is not a column of t.csv"));
    assert!(check("pos", Want::Text).contains("single quotes"));
    assert!(check("sum(qty)", Want::Num).contains("needs a group_by"));
    assert!(check("time(day, '%Q')", Want::Time).contains("not a valid time format"));
    assert!(check("'x' * 2", Want::Num).contains("text is used where a number"));
    assert!(check("frobnicate(id)", Want::Text).contains("unknown function"));
    assert!(check("map(nope, id)", Want::Text).contains("no [maps.nope]"));
    assert!(check("1 < 2 < 3", Want::Bool).contains("do not chain"));
    assert_eq!(check("`qty` + 1", Want::Num), "ok");
}

#[test]
fn equal_aggregates_share_one_slot() {
    with_scope(|scope| {
        let mut c = Compiler::new(scope, true);
        for src in [
            "sum(price)",
            "abs(sum(price))",
            "sum(price) < 0",
            "id",
            "id",
        ] {
            let ast = parse(src).unwrap_or(Ast::Null);
            c.column(&ast, Want::Text)
                .unwrap_or_else(|e| panic!("{src}: {e}"));
        }
        assert_eq!(c.slots.len(), 2);
    });
}

#[test]
fn groups_sum_and_insist_on_shared_values() {
    with_scope(|scope| {
        let mut c = Compiler::new(scope, true);
        let amount = c
            .column(&parse("sum(qty * price)").unwrap_or(Ast::Null), Want::Num)
            .unwrap_or_else(|e| panic!("{e}"));
        let key = c
            .column(&parse("id").unwrap_or(Ast::Null), Want::Text)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.slots.len(), 2);
        let mut state: Vec<Option<Value<'static>>> = vec![None; 2];
        let rows = [
            ["B1", "2", "1.5", "0", "d", "A"],
            ["B1", "1", "4", "0", "d", "A"],
        ];
        for (i, r) in rows.iter().enumerate() {
            let rec = csv::StringRecord::from(r.to_vec());
            let cx = Ctx {
                record: Some(&rec),
                row: i as u64 + 1,
                slots: &[],
            };
            for (s, d) in state.iter_mut().zip(&c.slots) {
                d.update(s, &cx).unwrap_or_else(|e| panic!("{e:?}"));
            }
        }
        let cx = Ctx {
            record: None,
            row: 1,
            slots: &state,
        };
        assert_eq!(amount.eval(&cx).map(Value::into_owned), Ok(Value::Num(7.0)));
        assert_eq!(
            key.eval(&cx).map(Value::into_owned),
            Ok(Value::Text("B1".into()))
        );
        let other = csv::StringRecord::from(vec!["B2", "1", "1", "0", "d", "A"]);
        let cx = Ctx {
            record: Some(&other),
            row: 3,
            slots: &[],
        };
        let err = c.slots[1]
            .update(&mut state[1], &cx)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(err.contains("same in every row"), "{err}");
    });
}
