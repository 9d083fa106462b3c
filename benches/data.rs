//! Reading the contract from Parquet into the typed form, and generating histories, at several
//! sizes. Data is generated at bench time (seeded) into a temporary folder, never committed.
//!
//! `cargo bench --bench data`; throughput is in history rows (coupons + orders + points) for
//! reading and in members for generation.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use woolguard::data::load;
use woolguard::generate::{generate, Params};

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

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_parquet");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for members in SIZES {
        let dir = generated(members);
        let rows = load(dir.path()).map(|h| h.history_rows()).unwrap_or(0);
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::from_parameter(members), &dir, |b, dir| {
            b.iter(|| load(dir.path()).unwrap_or_else(|e| panic!("{e}")))
        });
    }
    group.finish();
}

fn generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for members in SIZES {
        let config = Params {
            members,
            seed: 7,
            difficulty: 0.5,
        }
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
        group.throughput(Throughput::Elements(members));
        group.bench_with_input(
            BenchmarkId::from_parameter(members),
            &config,
            |b, config| {
                b.iter(|| {
                    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                    generate(config, dir.path(), &|_| {}).unwrap_or_else(|e| panic!("{e}"))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, read, generation);
criterion_main!(benches);
