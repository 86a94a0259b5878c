//! A replication stream goes through the same decoders and unit rules as a file: the fixture
//! corpus, cut into events the way a server sends them (an artificial ROTATE and the FDE at each
//! file's start, ANNOTATE_ROWS left out, heartbeats), gives the same units at the same positions.

use std::path::Path;

use startpoint::binlog::Trouble;
use startpoint::binlog::checksum;
use startpoint::binlog::header::{EventHeader, FLAG_ARTIFICIAL};
use startpoint::binlog::{
    BinlogError, ChecksumAlg, EventSource, EventStreamSource, FileEventSource, ReadOptions,
};
use startpoint::source::local::BinlogDir;
use startpoint::unit::UnitReader;

fn event(type_code: u8, log_pos: u32, flags: u16, body: &[u8]) -> Vec<u8> {
    let header = EventHeader {
        timestamp: 0,
        type_code,
        server_id: 1,
        event_size: (19 + body.len() + 4) as u32,
        log_pos,
        flags,
    };
    let mut bytes = header.serialize().to_vec();
    bytes.extend_from_slice(body);
    checksum::append(&mut bytes);
    bytes
}

fn artificial_rotate(file: &str) -> Vec<u8> {
    let mut body = 4u64.to_le_bytes().to_vec();
    body.extend_from_slice(file.as_bytes());
    event(4, 0, FLAG_ARTIFICIAL, &body)
}

/// The events of a file from offset 4, whole.
fn events_of(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 4;
    while at + 19 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
        out.push(bytes[at..at + size].to_vec());
        at += size;
    }
    out
}

#[test]
fn a_stream_of_the_fixture_corpus_gives_the_files_units() {
    let dir =
        BinlogDir::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog"))
            .unwrap();
    let mut stream: Vec<Result<Vec<u8>, BinlogError>> = Vec::new();
    let mut want = Vec::new();
    for (i, file) in dir.files.iter().enumerate() {
        stream.push(Ok(artificial_rotate(&file.name)));
        for (n, event) in events_of(&file.path).into_iter().enumerate() {
            if event[4] == 160 {
                continue; // MariaDB leaves ANNOTATE_ROWS out of a dump
            }
            stream.push(Ok(event));
            if n % 50 == 7 {
                stream.push(Ok(event_heartbeat()));
            }
        }
        let newest = i + 1 == dir.files.len();
        let source = FileEventSource::open(
            &file.path,
            ReadOptions {
                newest,
                ..ReadOptions::default()
            },
        )
        .unwrap();
        let mut reader = UnitReader::new(source, true);
        while let Some(unit) = reader.next_unit().unwrap() {
            want.push((
                file.name.clone(),
                unit.pos,
                unit.end_pos,
                unit.gtid.map(|g| g.to_string()),
                reader.executed().to_string(),
            ));
        }
    }
    let source = EventStreamSource::new(
        "127.0.0.1:3307",
        "mysql-bin.000002",
        ChecksumAlg::Crc32,
        stream.into_iter(),
    );
    let mut reader = UnitReader::new(source, true);
    let mut got = Vec::new();
    while let Some(unit) = reader.next_unit().unwrap() {
        let file = reader.source().file_name().to_owned();
        got.push((
            file,
            unit.pos,
            unit.end_pos,
            unit.gtid.map(|g| g.to_string()),
            reader.executed().to_string(),
        ));
    }
    assert_eq!(got, want);
}

fn event_heartbeat() -> Vec<u8> {
    event(27, 0, FLAG_ARTIFICIAL, b"mysql-bin.000002")
}

#[test]
fn stream_damage_is_an_error_naming_the_origin() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog/mysql-bin.000002");
    let mut events = events_of(&file);
    // Damage the first GTID event's body.
    let gtid = events.iter().position(|e| e[4] == 162).unwrap();
    events[gtid][20] ^= 1;
    let mut stream = vec![Ok(artificial_rotate("mysql-bin.000002"))];
    stream.extend(events.into_iter().map(Ok));
    let source = EventStreamSource::new(
        "db1:3306",
        "mysql-bin.000002",
        ChecksumAlg::Crc32,
        stream.into_iter(),
    );
    let mut reader = UnitReader::new(source, true);
    let err = loop {
        match reader.next_unit() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("damage went unnoticed"),
            Err(err) => break err,
        }
    };
    let text = err.to_string();
    assert!(
        text.contains("db1:3306 mysql-bin.000002 at offset 371"),
        "{text}"
    );

    let truncated = vec![Ok(artificial_rotate("f.000001")), Ok(vec![1, 2, 3])];
    let source = EventStreamSource::new(
        "db1:3306",
        "f.000001",
        ChecksumAlg::Crc32,
        truncated.into_iter(),
    );
    let mut reader = UnitReader::new(source, true);
    assert!(reader.next_unit().is_err());
}

#[test]
fn a_transaction_cut_off_by_the_next_file_is_dropped_with_a_warning() {
    let dir =
        BinlogDir::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb/binlog"))
            .unwrap();
    let (first, second) = (&dir.files[0], &dir.files[1]);
    let events = events_of(&first.path);
    let last_gtid = events.iter().rposition(|e| e[4] == 162).unwrap();
    let cut_at = u64::from(u32::from_le_bytes(
        events[last_gtid][13..17].try_into().unwrap(),
    )) - events[last_gtid].len() as u64;
    let mut stream = vec![Ok(artificial_rotate(&first.name))];
    stream.extend(events[..=last_gtid].iter().cloned().map(Ok));
    stream.push(Ok(artificial_rotate(&second.name)));
    stream.extend(events_of(&second.path).into_iter().map(Ok));

    let read = |path: &Path| {
        let source = FileEventSource::open(path, ReadOptions::default()).unwrap();
        let mut reader = UnitReader::new(source, false);
        std::iter::from_fn(|| reader.next_unit().unwrap())
            .map(|u| (u.pos, u.end_pos))
            .collect::<Vec<_>>()
    };
    let mut want: Vec<_> = read(&first.path)
        .into_iter()
        .filter(|&(pos, _)| pos < cut_at)
        .collect();
    want.extend(read(&second.path));

    let source = EventStreamSource::new(
        "127.0.0.1:3307",
        &first.name,
        ChecksumAlg::Crc32,
        stream.into_iter(),
    );
    let mut reader = UnitReader::new(source, false);
    let got: Vec<_> = std::iter::from_fn(|| reader.next_unit().unwrap())
        .map(|u| (u.pos, u.end_pos))
        .collect();
    assert_eq!(got, want);
    let warnings = reader.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.offset == cut_at && w.trouble == Trouble::EndsBeforeCommit),
        "{warnings:?}"
    );
}
