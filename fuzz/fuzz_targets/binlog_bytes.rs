//! The reader on arbitrary bytes: as an older file, as the newest one of a source, and as a
//! replication stream (the bytes cut into items by their `event_size` fields). Transaction units
//! and GTID sets are built to the end or to an error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use startpoint::binlog::{BinlogError, BinlogReader, ChecksumAlg, EventSource, EventStreamSource, ReadOptions};
use startpoint::unit::UnitReader;

fn drain<S: EventSource>(mut units: UnitReader<S>) {
    while let Ok(Some(unit)) = units.next_unit() {
        assert!(unit.pos < unit.end_pos);
        let _ = units.executed().to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    for newest in [false, true] {
        let options = ReadOptions { newest, window: 256, ..ReadOptions::default() };
        if let Ok(source) = BinlogReader::from_bytes("fuzz", data.to_vec(), options) {
            drain(UnitReader::new(source, true));
        }
    }
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut rest = data.get(4..).unwrap_or_default();
    while rest.len() >= 13 {
        let size = u32::from_le_bytes([rest[9], rest[10], rest[11], rest[12]]) as usize;
        let take = size.clamp(1, rest.len());
        items.push(rest[..take].to_vec());
        rest = &rest[take..];
    }
    for checksum in [ChecksumAlg::Off, ChecksumAlg::Crc32] {
        let events = items.iter().cloned().map(Ok::<_, BinlogError>);
        let source = EventStreamSource::new("fuzz", "f.000001", checksum, events);
        drain(UnitReader::new(source, true));
    }
});
