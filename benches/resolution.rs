//! Whole resolutions on local files (page-cached): the fixture corpus, and a large generated
//! MySQL 8.0 file (bisection by commit time; with the GTID set, the hop walk on two threads)
//! and MariaDB file (read in two halves). `cargo test` runs each once on small files.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use startpoint::resolve::{GtidMode, Request, Status, resolve_files};
use startpoint::source::local::BinlogDir;
use startpoint::testkit::binlog_writer::{SequenceWriter, TrxShape, TrxSpec, WriterFlavor};
use startpoint::unit::TimeBasis;

const BASE: u32 = 1_900_000_000;

/// Bytes of the generated file when measuring; `cargo test` uses a small one.
fn target_bytes() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        256 << 20
    } else {
        2 << 20
    }
}

/// Writes a big file and a small newest one after it; returns the big file's last second.
fn write_sequence(flavor: WriterFlavor, dir: &Path) -> u32 {
    let mut writer = SequenceWriter::new(flavor, "binlog").with_row_image(200);
    let count = (target_bytes() / 437) as u32;
    let spec = |i: u32| TrxSpec {
        shape: TrxShape::RowDml { statements: 1 },
        begin_ts: BASE + i / 100,
        commit_ts: BASE + i / 100,
        commit_micros: (i % 100) * 10_000,
        domain: 0,
        origin: 0,
        gtid_gap: 0,
    };
    writer
        .write_long_and_newest(dir, BASE, count, 10, spec)
        .unwrap()
}

fn request(second: u32, gtid: GtidMode) -> Request {
    Request {
        start_us: i64::from(second) * 1_000_000,
        basis: TimeBasis::Commit,
        gtid,
    }
}

fn resolution(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolution");
    group.sample_size(10);

    let fixture =
        BinlogDir::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog"))
            .unwrap();
    // 2030-03-31 01:30 UTC: the middle of the corpus.
    let middle = request(1_901_149_800, GtidMode::Auto);
    assert_eq!(
        resolve_files(&fixture, &middle).unwrap().status,
        Status::InRange
    );
    group.bench_function("fixture corpus (MariaDB, 9 files)", |b| {
        b.iter(|| resolve_files(&fixture, &middle).unwrap())
    });

    let mysql = tempfile::tempdir().unwrap();
    let last = write_sequence(WriterFlavor::MySql80Gtid, mysql.path());
    let mysql = BinlogDir::open(mysql.path()).unwrap();
    for (label, gtid) in [
        ("position only", GtidMode::Off),
        ("exact GTID set", GtidMode::Auto),
    ] {
        let near_end = request(last - 10, gtid);
        assert_eq!(
            resolve_files(&mysql, &near_end).unwrap().status,
            Status::InRange
        );
        group.bench_function(format!("MySQL 8.0 big file, {label}"), |b| {
            b.iter(|| resolve_files(&mysql, &near_end).unwrap())
        });
    }

    let maria = tempfile::tempdir().unwrap();
    let last = write_sequence(WriterFlavor::MariaDb, maria.path());
    let maria = BinlogDir::open(maria.path()).unwrap();
    let near_end = request(last - 10, GtidMode::Auto);
    assert_eq!(
        resolve_files(&maria, &near_end).unwrap().status,
        Status::InRange
    );
    group.bench_function("MariaDB big file, scan", |b| {
        b.iter(|| resolve_files(&maria, &near_end).unwrap())
    });
    group.finish();
}

criterion_group!(benches, resolution);
criterion_main!(benches);
