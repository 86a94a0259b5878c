//! The reader on real binlogs: the MariaDB fixture corpus against the server's own answers, and
//! every file in testdata/public against mariadb-binlog.

use std::io::Read;
use std::path::{Path, PathBuf};

use startpoint::binlog::{
    BinlogError, BinlogReader, EventSource, FileEventSource, Flavor, ReadOptions,
};
use startpoint::gtid::ExecutedGtids;
use startpoint::source::local::BinlogDir;
use startpoint::testkit::fixtures;
use startpoint::testkit::oracle::{self, OracleUnit};
use startpoint::unit::{TransactionUnit, UnitReader};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn public_dir() -> PathBuf {
    manifest_dir().join("testdata/public")
}

/// Units with the executed GTIDs before each, and the reader's warnings.
type Units = (Vec<(TransactionUnit, String)>, Vec<String>);

/// Every unit of a file, with the executed GTIDs before each, and the reader's warnings.
fn read_units(path: &Path, newest: bool) -> Result<Units, BinlogError> {
    let source = FileEventSource::open(
        path,
        ReadOptions {
            newest,
            ..ReadOptions::default()
        },
    )?;
    let mut reader = UnitReader::new(source, true);
    let mut units = Vec::new();
    while let Some(unit) = reader.next_unit()? {
        units.push((unit, reader.executed().to_string()));
    }
    let warnings = reader.warnings().iter().map(ToString::to_string).collect();
    Ok((units, warnings))
}

/// Walks every event and verifies every checksum, decoded or not.
fn verify_every_event(path: &Path, newest: bool) -> Result<u64, BinlogError> {
    let mut source = FileEventSource::open(
        path,
        ReadOptions {
            newest,
            ..ReadOptions::default()
        },
    )?;
    let mut events = 0;
    while source.next_event()?.is_some() {
        source.body()?;
        events += 1;
    }
    Ok(events)
}

#[test]
fn fixture_units_match_the_servers_own_answers() {
    let corpus = manifest_dir().join("testdata/mariadb");
    let expected = fixtures::load(&corpus).unwrap();
    let listing = BinlogDir::open(&corpus.join("binlog")).unwrap();
    assert!(listing.purged.is_empty() && listing.left_out.is_empty());
    let mut got = Vec::new();
    for (i, file) in listing.files.iter().enumerate() {
        let newest = i + 1 == listing.files.len();
        let (units, warnings) = read_units(&file.path, newest).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        verify_every_event(&file.path, newest).unwrap();
        for (unit, before) in units {
            got.push((
                OracleUnit {
                    file: file.name.clone(),
                    pos: unit.pos,
                    end_pos: unit.end_pos,
                    begin_ts: i64::from(unit.begin_ts),
                    commit_ts: unit.commit_us() / 1_000_000,
                    gtid: unit.gtid.as_ref().map(ToString::to_string),
                    end: unit.end.to_string(),
                },
                before,
            ));
        }
    }
    let want: Vec<(OracleUnit, String)> = expected
        .units
        .iter()
        .map(|u| (u.unit.clone(), u.gtid_before.clone()))
        .collect();
    assert_eq!(got.len(), want.len());
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, want);
    }
}

/// Public files and what reading them must give.
enum Expect {
    /// Reads completely; units agree with mariadb-binlog where it can read the file.
    Clean,
    /// An error mentioning this text, even as the newest file.
    Error(&'static str),
    /// As the newest file it reads to a soft end; as an older file it is truncated.
    CutShort,
}

fn public_files() -> Vec<(PathBuf, Expect)> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(public_dir()).expect("testdata/public in the project") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let expect = match name.as_str() {
                n if n.ends_with(".index") || n.ends_with(".gz") => continue,
                "non-binlog" => Expect::Error("is not a binlog file"),
                "corrupt-relay-bin.000624" => {
                    Expect::Error("at offset 91204: QUERY_EVENT is inconsistent")
                }
                "binlog_truncated_event.000001" | "binlog_truncated_prev_gtid_event.000001" => {
                    Expect::CutShort
                }
                _ => Expect::Clean,
            };
            files.push((path, expect));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        files.len() >= 35,
        "expected the whole public corpus, found {}",
        files.len()
    );
    files
}

/// mariadb-binlog's view of a file, if it can read it.
fn oracle_units(path: &Path) -> Option<Vec<OracleUnit>> {
    let events = oracle::read_events(path).ok()?;
    oracle::group_units("f", &events, true).ok()
}

#[test]
fn every_public_file_reads_or_fails_clearly() {
    let mut compared = 0;
    for (path, expect) in public_files() {
        let shown = path
            .strip_prefix(public_dir())
            .unwrap()
            .display()
            .to_string();
        match expect {
            Expect::Error(text) => {
                let err = read_units(&path, true)
                    .err()
                    .unwrap_or_else(|| panic!("{shown}: read without error"));
                let message = err.to_string();
                assert!(message.contains(text), "{shown}: {message}");
                assert!(
                    message.contains(&path.display().to_string()),
                    "{shown}: {message}"
                );
            }
            Expect::CutShort => {
                let (units, _) = read_units(&path, true).unwrap();
                assert!(units.is_empty(), "{shown}");
                let err = read_units(&path, false).unwrap_err();
                assert!(
                    matches!(err, BinlogError::Truncated { .. }),
                    "{shown}: {err}"
                );
            }
            Expect::Clean => {
                verify_every_event(&path, false).unwrap_or_else(|e| panic!("{shown}: {e}"));
                let (units, warnings) =
                    read_units(&path, true).unwrap_or_else(|e| panic!("{shown}: {e}"));
                assert!(warnings.is_empty(), "{shown}: {warnings:?}");
                for (unit, _) in &units {
                    assert!(
                        unit.pos < unit.end_pos && unit.begin_ts > 0,
                        "{shown}: {unit:?}"
                    );
                }
                if let Some(want) = oracle_units(&path) {
                    compare_with_oracle(&shown, &path, &units, &want);
                    compared += 1;
                }
            }
        }
    }
    assert!(
        compared >= 20,
        "mariadb-binlog read only {compared} public files"
    );
}

fn compare_with_oracle(
    shown: &str,
    path: &Path,
    units: &[(TransactionUnit, String)],
    want: &[OracleUnit],
) {
    let source = FileEventSource::open(path, ReadOptions::default()).unwrap();
    let mut probe = source;
    probe.next_event().unwrap();
    let flavor = probe.format().map(|f| f.flavor);
    assert_eq!(
        units.len(),
        want.len(),
        "{shown}: unit count differs from mariadb-binlog's"
    );
    for ((unit, _), want) in units.iter().zip(want) {
        let got = (
            unit.pos,
            unit.end_pos,
            i64::from(unit.begin_ts),
            i64::from(unit.end_ts),
            unit.end.as_str(),
        );
        let exp = (
            want.pos,
            want.end_pos,
            want.begin_ts,
            want.commit_ts,
            want.end.as_str(),
        );
        assert_eq!(got, exp, "{shown}");
        if flavor == Some(Flavor::MariaDb) {
            assert_eq!(
                unit.gtid.as_ref().map(ToString::to_string),
                want.gtid,
                "{shown}"
            );
        }
    }
}

#[test]
fn the_sakila_dump_of_mysql_5_5_reads_like_mariadb_binlog_says() {
    let mut bytes = Vec::new();
    let gz = std::fs::File::open(public_dir().join("osheroff/mysql-bin.sakila.gz")).unwrap();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut bytes)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mysql-bin.sakila");
    std::fs::write(&path, &bytes).unwrap();
    verify_every_event(&path, false).unwrap();
    let (units, warnings) = read_units(&path, false).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let want = oracle_units(&path).unwrap();
    compare_with_oracle("sakila", &path, &units, &want);
    // In memory it reads the same.
    let mut reader = UnitReader::new(
        BinlogReader::from_bytes("sakila", bytes, ReadOptions::default()).unwrap(),
        true,
    );
    let mut count = 0;
    while reader.next_unit().unwrap().is_some() {
        count += 1;
    }
    assert_eq!(count, units.len());
}

/// Across a two-file MySQL 8.0.45 sequence, the GTIDs executed after the first file are the
/// second file's PREVIOUS_GTIDS: an independent check of GTID decoding and set arithmetic.
#[test]
fn gtids_carry_across_files_of_a_sequence() {
    let dir = public_dir().join("percona-8.0.45-gtid");
    let listing = BinlogDir::open(&dir).unwrap();
    let names: Vec<&str> = listing.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["binlog.000001", "binlog.000002"]);
    let first = FileEventSource::open(&listing.files[0].path, ReadOptions::default()).unwrap();
    let mut reader = UnitReader::new(first, true);
    let mut count = 0;
    while reader.next_unit().unwrap().is_some() {
        count += 1;
    }
    assert!(count > 0);
    let after_first = reader.executed().clone();
    let second = FileEventSource::open(
        &listing.files[1].path,
        ReadOptions {
            newest: true,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let mut reader = UnitReader::new(second, true);
    reader.next_unit().unwrap();
    let declared = reader.initial_gtids().cloned().unwrap();
    assert!(matches!(declared, ExecutedGtids::MySql(_)));
    assert_eq!(after_first, declared);
    assert!(!after_first.to_string().is_empty());
}

#[test]
fn mysql_8_units_carry_commit_timestamps_and_lengths() {
    let path = public_dir().join("percona-8.0.45-gtid/binlog.000001");
    let (units, _) = read_units(&path, false).unwrap();
    for (unit, _) in &units {
        let commit = unit
            .recorded_commit_us
            .expect("8.0.45 records commit timestamps");
        assert!(commit / 1_000_000 >= u64::from(unit.begin_ts));
        assert_eq!(
            unit.transaction_length,
            Some(unit.end_pos - unit.pos),
            "{unit:?}"
        );
        assert!(unit.gtid.is_some());
    }
    let tagged = public_dir().join("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001");
    let (units, _) = read_units(&tagged, false).unwrap();
    let text: Vec<String> = units
        .iter()
        .filter_map(|(u, _)| u.gtid.as_ref().map(ToString::to_string))
        .collect();
    assert!(
        text.iter().any(|g| g.split(':').count() == 3),
        "no tagged GTID in {text:?}"
    );
}

/// The lean decoder of MySQL GTID events agrees with mysql_common's on every real event.
#[test]
fn the_lean_gtid_decoder_agrees_with_mysql_common_on_real_files() {
    use startpoint::binlog::{EventType, events};
    let mut compared = 0;
    for (path, _) in public_files() {
        let Ok(mut source) = FileEventSource::open(
            &path,
            ReadOptions {
                newest: true,
                ..ReadOptions::default()
            },
        ) else {
            continue;
        };
        while let Ok(Some(event)) = source.next_event() {
            let Ok(event_type) = event.header.event_type() else {
                continue;
            };
            if !matches!(event_type, EventType::Gtid | EventType::AnonymousGtid) {
                continue;
            }
            let Ok(body) = source.body() else { break };
            let body = body.to_vec();
            assert_eq!(
                events::mysql_gtid(event_type, &body),
                events::mysql_gtid_full(event_type, &body),
                "{} at {}",
                path.display(),
                event.offset
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} GTID events compared");
}
