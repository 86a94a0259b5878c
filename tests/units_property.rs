//! Property test: binlogs written by the test writer (MySQL 5.6/5.7/8.0, MariaDB; arbitrary
//! transaction shapes, times going backwards, GTID gaps, tags, empty files, a newest file caught
//! mid-transaction or mid-event) read back as exactly the units the writer put in.

use proptest::prelude::*;

use startpoint::binlog::{BinlogReader, FileEventSource, ReadOptions};
use startpoint::testkit::binlog_writer::{
    ExpectedUnit, FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
};
use startpoint::unit::UnitReader;

const BASE: u32 = 1_900_000_000;

fn shape(flavor: WriterFlavor) -> impl Strategy<Value = TrxShape> {
    prop_oneof![
        4 => (1u8..4).prop_map(|statements| TrxShape::RowDml { statements }),
        1 => Just(TrxShape::StatementDml),
        1 => Just(TrxShape::Ddl),
        1 => Just(TrxShape::RolledBack),
        1 => Just(TrxShape::XaPrepare),
        1 => Just(TrxShape::XaCommit),
        1 => Just(TrxShape::XaRollback),
        1 => Just(TrxShape::NonTransactionalRows),
        1 => Just(TrxShape::Compressed),
    ]
    .prop_filter("shape the flavour writes", move |s| s.fits(flavor))
}

fn trx(flavor: WriterFlavor) -> impl Strategy<Value = (TrxShape, u32, u32, u32, u32, u32, u64)> {
    (
        shape(flavor),
        0u32..90,
        0u32..8,
        0u32..1_000_000,
        0u32..3,
        0u32..3,
        prop_oneof![6 => Just(0u64), 1 => 1u64..4],
    )
}

fn corpus() -> impl Strategy<Value = (WriterFlavor, Vec<FileSpec>)> {
    prop::sample::select(WriterFlavor::ALL.to_vec()).prop_flat_map(|flavor| {
        let file = (
            prop::collection::vec(trx(flavor), 0..7),
            prop_oneof![
                3 => Just(Trailing::Nothing),
                1 => Just(Trailing::OpenTransaction),
                1 => (1u16..60).prop_map(Trailing::PartialEvent),
            ],
        );
        (Just(flavor), prop::collection::vec(file, 1..4)).prop_map(|(flavor, files)| {
            let specs = files
                .into_iter()
                .enumerate()
                .map(|(i, (trxs, trailing))| {
                    let created = BASE + 100 * i as u32;
                    FileSpec {
                        created,
                        trailing,
                        trxs: trxs
                            .into_iter()
                            .map(|(shape, start, duration, micros, domain, origin, gap)| {
                                // Statements may start before earlier transactions committed:
                                // header times are not monotonic.
                                TrxSpec {
                                    shape,
                                    begin_ts: created + start,
                                    commit_ts: created + (start + duration).min(99),
                                    commit_micros: micros,
                                    domain,
                                    origin,
                                    gtid_gap: gap,
                                }
                            })
                            .collect(),
                    }
                })
                .collect();
            (flavor, specs)
        })
    })
}

fn read_back(name: &str, bytes: Vec<u8>, newest: bool) -> Vec<ExpectedUnit> {
    let source = BinlogReader::from_bytes(
        name,
        bytes,
        ReadOptions {
            newest,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let mut reader = UnitReader::new(source, true);
    let mut units = Vec::new();
    while let Some(unit) = reader.next_unit().unwrap_or_else(|e| panic!("{e}")) {
        units.push(ExpectedUnit {
            file: name.to_owned(),
            pos: unit.pos,
            end_pos: unit.end_pos,
            begin_ts: unit.begin_ts,
            end_ts: unit.end_ts,
            commit_us: unit.commit_us(),
            gtid: unit.gtid.as_ref().map(ToString::to_string),
            gtid_before: reader.executed().to_string(),
            end: unit.end.as_str(),
        });
    }
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    units
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn written_units_read_back_exactly((flavor, specs) in corpus()) {
        let mut writer = SequenceWriter::new(flavor, "binlog");
        let count = specs.len();
        for (i, spec) in specs.iter().enumerate() {
            let newest = i + 1 == count;
            let written = writer.write_file(spec, newest);
            let got = read_back(&written.name, written.bytes.clone(), newest);
            prop_assert_eq!(&got, &written.units, "{:?} file {}", flavor, written.name);
        }
    }
}

/// The same bytes read from a file on disk give the same units as from memory.
#[test]
fn files_on_disk_read_like_bytes_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    for flavor in WriterFlavor::ALL {
        let mut writer = SequenceWriter::new(flavor, "binlog");
        let trxs = (0..50)
            .map(|i| TrxSpec {
                shape: if i % 7 == 0 {
                    TrxShape::Ddl
                } else {
                    TrxShape::RowDml { statements: 2 }
                },
                begin_ts: BASE + i,
                commit_ts: BASE + i + 1,
                commit_micros: i * 1000,
                domain: i % 2,
                origin: 1,
                gtid_gap: 0,
            })
            .collect();
        let written = writer.write_file(
            &FileSpec {
                created: BASE,
                trxs,
                trailing: Trailing::Nothing,
            },
            true,
        );
        let path = dir.path().join(format!("{flavor:?}"));
        std::fs::write(&path, &written.bytes).unwrap();
        let source = FileEventSource::open(
            &path,
            ReadOptions {
                newest: true,
                window: 4096,
                ..ReadOptions::default()
            },
        )
        .unwrap();
        let mut reader = UnitReader::new(source, true);
        let mut n = 0;
        while let Some(unit) = reader.next_unit().unwrap() {
            assert_eq!(unit.pos, written.units[n].pos, "{flavor:?}");
            assert_eq!(reader.executed().to_string(), written.units[n].gtid_before);
            n += 1;
        }
        assert_eq!(n, written.units.len(), "{flavor:?}");
        assert_eq!(
            read_back(&written.name, written.bytes.clone(), true),
            written.units
        );
    }
}

/// What the writer writes is what mariadb-binlog reads (for the flavours it can read): the
/// writer's expectations are checked against a real server tool, not only against our reader.
#[test]
fn mariadb_binlog_reads_the_writers_files_the_same_way() {
    use startpoint::testkit::oracle;
    let dir = tempfile::tempdir().unwrap();
    for flavor in [
        WriterFlavor::MariaDb,
        WriterFlavor::MySql56NoGtid,
        WriterFlavor::MySql56Gtid,
        WriterFlavor::MySql57Anonymous,
        WriterFlavor::MySql57Gtid,
    ] {
        let shapes = [
            TrxShape::RowDml { statements: 2 },
            TrxShape::StatementDml,
            TrxShape::Ddl,
            TrxShape::RolledBack,
            TrxShape::XaPrepare,
            TrxShape::XaCommit,
            TrxShape::XaRollback,
            TrxShape::NonTransactionalRows,
        ];
        let trxs = shapes
            .iter()
            .filter(|s| s.fits(flavor))
            .enumerate()
            .map(|(i, &shape)| TrxSpec {
                shape,
                begin_ts: BASE + 10 * i as u32,
                commit_ts: BASE + 10 * i as u32 + 3,
                commit_micros: 0,
                domain: i as u32 % 2,
                origin: 1 + i as u32 % 2,
                gtid_gap: u64::from(i == 3),
            })
            .collect();
        let mut writer = SequenceWriter::new(flavor, "binlog");
        for newest in [false, true] {
            let written = writer.write_file(
                &FileSpec {
                    created: BASE,
                    trxs: if newest {
                        Vec::new()
                    } else {
                        Vec::clone(&trxs)
                    },
                    trailing: Trailing::Nothing,
                },
                newest,
            );
            let path = dir.path().join(format!("{flavor:?}-{}", written.name));
            std::fs::write(&path, &written.bytes).unwrap();
            let events = oracle::read_events(&path).unwrap_or_else(|e| panic!("{flavor:?}: {e}"));
            let units = oracle::group_units(&written.name, &events, newest).unwrap();
            let got: Vec<_> = units
                .iter()
                .map(|u| (u.pos, u.end_pos, u.begin_ts, u.commit_ts, u.end.clone()))
                .collect();
            let want: Vec<_> = written
                .units
                .iter()
                .map(|u| {
                    (
                        u.pos,
                        u.end_pos,
                        i64::from(u.begin_ts),
                        i64::from(u.end_ts),
                        u.end.to_owned(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{flavor:?}");
            if flavor == WriterFlavor::MariaDb {
                let gtids: Vec<_> = units.iter().map(|u| u.gtid.clone()).collect();
                let want: Vec<_> = written.units.iter().map(|u| u.gtid.clone()).collect();
                assert_eq!(gtids, want);
            }
        }
    }
}
