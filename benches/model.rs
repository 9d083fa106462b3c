//! Feature building and batch scoring at several sizes. Histories are generated at bench time
//! (seeded) into a temporary folder, never committed; the model is the committed default.
//!
//! `cargo bench --bench model`:
//! - `features_from_parquet`: read the history and build every member's feature row as of the
//!   history's end (recruitment sweep + member features), in history rows per second;
//! - `score_batch`: calibrated probabilities of every member with `models/default`, without and
//!   with the top-3 reasons, in members per second (feature rows built beforehand).

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use woolguard::data::load;
use woolguard::generate::{generate, Params};
use woolguard::model::artefact::Artefact;
use woolguard::model::score::{end_of, rows_as_of};

const SIZES: [u64; 3] = [10_000, 50_000, 200_000];

fn generated(members: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let config = Params {
        members,
        seed: 7,
        difficulty: 0.5,
    }
    .check()
    .unwrap_or_else(|e| panic!("{e}"));
    generate(&config, dir.path(), &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn model() -> Artefact {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default");
    Artefact::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn features(c: &mut Criterion) {
    let a = model();
    let mut group = c.benchmark_group("features_from_parquet");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for members in SIZES {
        let dir = generated(members);
        let rows = load(dir.path()).map(|h| h.history_rows()).unwrap_or(0);
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::from_parameter(members), &dir, |b, dir| {
            b.iter(|| {
                let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
                rows_as_of(&h, &a, end_of(&h))
            })
        });
    }
    group.finish();
}

fn scoring(c: &mut Criterion) {
    let a = model();
    let mut group = c.benchmark_group("score_batch");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for members in SIZES {
        let dir = generated(members);
        let h = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let (scored, rows) = rows_as_of(&h, &a, end_of(&h));
        group.throughput(Throughput::Elements(scored.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("probability", members),
            &rows,
            |b, rows| {
                b.iter(|| {
                    a.probabilities(&rows.values)
                        .unwrap_or_else(|e| panic!("{e}"))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("with_reasons", members),
            &rows,
            |b, rows| {
                b.iter(|| {
                    a.score_rows(&rows.values, 3)
                        .unwrap_or_else(|e| panic!("{e}"))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, features, scoring);
criterion_main!(benches);
