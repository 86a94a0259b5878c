//! Header-walk throughput: transaction units out of a page-cached binlog file, GTIDs tracked.
//! Goal: at least 2 GB/s on this 2-core machine.
//!
//! The files are made once per run by the test writer (~256 MiB each) in a temporary directory
//! and read once before measuring, so they sit in the page cache. "typical" files carry 200-byte
//! row images (transactions of ~550 bytes); "dense" ones 7-byte row images (~300-byte
//! transactions, five events each), the worst case for per-event costs.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use startpoint::binlog::{FileEventSource, ReadOptions};
use startpoint::testkit::binlog_writer::{
    FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
};
use startpoint::unit::UnitReader;

/// File size when measuring; `cargo test` runs each bench once on a small file instead.
fn target_bytes() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        256 << 20
    } else {
        1 << 20
    }
}

fn write_file(flavor: WriterFlavor, row_image: usize, path: &Path) -> u64 {
    let mut writer = SequenceWriter::new(flavor, "binlog").with_row_image(row_image);
    let per_trx = 100 + 2 * row_image;
    let count = target_bytes() / per_trx;
    let trxs = (0..count as u32)
        .map(|i| TrxSpec {
            shape: if i % 50 == 0 {
                TrxShape::Ddl
            } else {
                TrxShape::RowDml { statements: 1 }
            },
            begin_ts: 1_900_000_000 + i / 100,
            commit_ts: 1_900_000_000 + i / 100,
            commit_micros: (i % 100) * 10_000,
            domain: i % 2,
            // MariaDB: the server_id; MySQL: untagged GTIDs, as 8.0 writes them.
            origin: u32::from(flavor == WriterFlavor::MariaDb),
            gtid_gap: 0,
        })
        .collect();
    let written = writer.write_file(
        &FileSpec {
            created: 1_900_000_000,
            trxs,
            trailing: Trailing::Nothing,
        },
        true,
    );
    std::fs::write(path, &written.bytes).unwrap();
    written.bytes.len() as u64
}

fn walk(path: &Path) -> u64 {
    let options = ReadOptions {
        newest: true,
        ..ReadOptions::default()
    };
    let mut reader = UnitReader::new(FileEventSource::open(path, options).unwrap(), true);
    let mut units = 0;
    while reader.next_unit().unwrap().is_some() {
        units += 1;
    }
    units
}

fn header_walk(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("header_walk");
    group.sample_size(10);
    let cases = [
        (WriterFlavor::MariaDb, 200, "typical"),
        (WriterFlavor::MySql80Gtid, 200, "typical"),
        (WriterFlavor::MySql57Gtid, 200, "typical"),
        (WriterFlavor::MariaDb, 7, "dense"),
        (WriterFlavor::MySql80Gtid, 7, "dense"),
    ];
    for (flavor, row_image, label) in cases {
        let path = dir.path().join(format!("{flavor:?}-{label}"));
        let len = write_file(flavor, row_image, &path);
        walk(&path);
        group.throughput(Throughput::Bytes(len));
        group.bench_function(format!("{flavor:?}/{label}"), |b| b.iter(|| walk(&path)));
    }
    group.finish();
}

criterion_group!(benches, header_walk);
criterion_main!(benches);
