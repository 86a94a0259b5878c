//! Damaged binlogs never panic, never hang, and never produce units that are not in the
//! original: real files cut at every byte offset, with every byte flipped, and with forged
//! `event_size` fields, each read as the newest file of a source and as an older one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use startpoint::binlog::{BinlogError, BinlogReader, ReadOptions};
use startpoint::testkit::binlog_writer::{
    FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
};
use startpoint::unit::{TransactionUnit, UnitReader};

/// Units of `bytes`, or the error that stopped reading.
fn units_of(bytes: &[u8], newest: bool) -> Result<Vec<TransactionUnit>, BinlogError> {
    let options = ReadOptions {
        newest,
        window: 512,
        ..ReadOptions::default()
    };
    let source = BinlogReader::from_bytes("damaged", bytes.to_vec(), options)?;
    let mut reader = UnitReader::new(source, true);
    let mut units = Vec::new();
    while let Some(unit) = reader.next_unit()? {
        let _ = reader.executed().to_string();
        units.push(unit);
    }
    Ok(units)
}

/// Runs `read` and turns a panic into a test failure that names the damage.
fn no_panic<T>(what: &str, read: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(read)).unwrap_or_else(|_| panic!("panicked on {what}"))
}

fn small_files() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let public = root.join("testdata/public");
    let mut files: Vec<(String, Vec<u8>)> = [
        "apecloud/mysql-bin.000057",
        "apecloud/mysql-bin.000080",
        "easypost/bin-log.000001",
        "osheroff/mysql-bin.aurora-padding",
        "osheroff/mysql-bin.compressed",
        "percona-8.0.45-gtid/binlog.000001",
        "rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
        "rust_mysql_common/mariadb-bin.000001",
        "rust_mysql_common/binlog_savepoint.000001",
        "rust_mysql_common/binlog_transaction.000001",
    ]
    .iter()
    .map(|name| (name.to_string(), std::fs::read(public.join(name)).unwrap()))
    .collect();
    files.push((
        "fixture mysql-bin.000004".to_owned(),
        std::fs::read(root.join("testdata/mariadb/binlog/mysql-bin.000004")).unwrap(),
    ));
    for flavor in [
        WriterFlavor::MariaDb,
        WriterFlavor::MySql80Gtid,
        WriterFlavor::MySql56NoGtid,
    ] {
        let trxs = [
            TrxShape::RowDml { statements: 2 },
            TrxShape::Ddl,
            TrxShape::StatementDml,
            TrxShape::RolledBack,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, shape)| {
            TrxSpec::at(1_900_000_000 + i as u32, 1_900_000_001 + i as u32)
                .with_shape(shape)
                .with_micros(7)
                .with_origin(1)
        })
        .collect();
        let written = SequenceWriter::new(flavor, "binlog").write_file(
            &FileSpec {
                created: 1_900_000_000,
                trxs,
                trailing: Trailing::Nothing,
            },
            false,
        );
        files.push((format!("writer {flavor:?}"), written.bytes));
    }
    files
}

#[test]
fn cutting_at_every_offset_only_ever_loses_units() {
    for (name, bytes) in small_files() {
        let whole = units_of(&bytes, true).unwrap_or_else(|e| panic!("{name}: {e}"));
        for cut in 0..bytes.len() {
            let part = &bytes[..cut];
            let what = format!("{name} cut at {cut}");
            let newest = no_panic(&what, || units_of(part, true));
            match newest {
                Ok(units) => assert!(
                    whole.starts_with(&units),
                    "{what}: units that are not a prefix of the whole file's"
                ),
                Err(err) => assert!(
                    matches!(err, BinlogError::NotABinlog { .. }) && cut < 4
                        || err.to_string().contains("damaged"),
                    "{what}: unexpected error for a newest file: {err}"
                ),
            }
            let older = no_panic(&what, || units_of(part, false));
            if let Ok(units) = older {
                assert!(whole.starts_with(&units), "{what}");
            }
        }
    }
}

/// Where a checksum covers the flipped byte the flip is an error; elsewhere (row images nobody
/// decodes, checksum-less files, the FDE's version text that decides whether checksums exist)
/// it may go unnoticed, but it never panics.
#[test]
fn flipping_any_byte_never_panics() {
    for (name, bytes) in small_files() {
        for at in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= mask;
                let what = format!("{name} with byte {at} ^ {mask:#04x}");
                for newest in [false, true] {
                    let _ = no_panic(&what, || units_of(&damaged, newest));
                }
            }
        }
    }
}

#[test]
fn forged_event_sizes_are_errors_not_panics() {
    for (name, bytes) in small_files() {
        // Walk the real events and forge each one's size field.
        let mut offset = 4usize;
        while offset + 19 <= bytes.len() {
            let size =
                u32::from_le_bytes(bytes[offset + 9..offset + 13].try_into().unwrap()) as usize;
            for forged in [
                0u32,
                1,
                18,
                19,
                22,
                size as u32 - 1,
                size as u32 + 1,
                1 << 30,
                u32::MAX,
            ] {
                let mut damaged = bytes.clone();
                damaged[offset + 9..offset + 13].copy_from_slice(&forged.to_le_bytes());
                let what = format!("{name} event at {offset} with event_size {forged}");
                for newest in [false, true] {
                    let _ = no_panic(&what, || units_of(&damaged, newest));
                }
            }
            if size < 19 {
                break;
            }
            offset += size;
        }
    }
}

#[test]
fn degenerate_files() {
    assert!(matches!(
        units_of(&[], false),
        Err(BinlogError::NotABinlog { .. })
    ));
    assert_eq!(units_of(&[], true).unwrap(), []);
    assert_eq!(units_of(&[0xfe, b'b', b'i', b'n'], false).unwrap(), []);
    assert!(matches!(
        units_of(b"-bin", true),
        Err(BinlogError::NotABinlog { .. })
    ));
    let garbage = [
        0xfe, b'b', b'i', b'n', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
        20,
    ];
    let err = units_of(&garbage, false).unwrap_err().to_string();
    assert!(err.contains("offset 4"), "{err}");
}

#[test]
fn a_damaged_decoded_event_is_a_checksum_error_at_its_offset() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog/mysql-bin.000002");
    let mut bytes = std::fs::read(&path).unwrap();
    // The first GTID event is at 371; its sequence number is in the body.
    bytes[371 + 19] ^= 0x04;
    let err = units_of(&bytes, false).unwrap_err();
    assert!(
        matches!(err, BinlogError::Checksum { offset: 371, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("damaged") && text.contains("offset 371") && text.contains("GTID_EVENT"),
        "{text}"
    );
}

#[test]
fn an_encrypted_binlog_says_so() {
    use startpoint::binlog::checksum;
    use startpoint::binlog::header::EventHeader;
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog/mysql-bin.000004");
    let original = std::fs::read(&path).unwrap();
    let fde_size = u32::from_le_bytes(original[4 + 9..4 + 13].try_into().unwrap()) as usize;
    let mut bytes = original[..4 + fde_size].to_vec();
    let body = [1u8, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    let size = 19 + body.len() + 4;
    let header = EventHeader {
        timestamp: 1_901_143_100,
        type_code: 164,
        server_id: 1,
        event_size: size as u32,
        log_pos: (bytes.len() + size) as u32,
        flags: 0,
    };
    let mut event = header.serialize().to_vec();
    event.extend_from_slice(&body);
    checksum::append(&mut event);
    bytes.extend_from_slice(&event);
    let err = units_of(&bytes, true).unwrap_err();
    assert!(matches!(err, BinlogError::Encrypted { .. }), "{err}");
    assert!(err.to_string().contains("encrypted"), "{err}");
}
