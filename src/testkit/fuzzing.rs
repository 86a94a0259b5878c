//! What the fuzz targets run, shared with `cargo test` so that every input a fuzzer ever
//! crashed on stays a regression test (`testdata/fuzz-regressions/<target>/`).

use crate::binlog::{
    BinlogError, BinlogReader, ChecksumAlg, EventSource, EventStreamSource, EventType, ReadOptions,
    events,
};
use crate::gtid::{GtidSet, MariaGtidPos};
use crate::unit::UnitReader;

fn drain<S: EventSource>(mut units: UnitReader<S>) {
    while let Ok(Some(unit)) = units.next_unit() {
        assert!(
            unit.pos < unit.end_pos,
            "a unit ends before it starts: {unit:?}"
        );
        let _ = units.executed().to_string();
    }
}

/// The reader on arbitrary bytes: as an older file, as the newest one of a source, and as a
/// replication stream (the bytes cut into items by their `event_size` fields).
pub fn binlog_bytes(data: &[u8]) {
    for newest in [false, true] {
        let options = ReadOptions {
            newest,
            window: 256,
            ..ReadOptions::default()
        };
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
        drain(UnitReader::new(
            EventStreamSource::new("fuzz", "f.000001", checksum, events),
            true,
        ));
    }
}

/// Every event-body decoder on an arbitrary body; the first byte picks a post-header length.
pub fn event_bodies(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let post_header = usize::from(selector % 32);
    let _ = events::query_kind(body, post_header);
    let _ = events::compressed_query_kind(body, post_header);
    let _ = events::rows_flags(body, post_header);
    let _ = events::maria_gtid(body, 1);
    let _ = events::maria_gtid_list(body).map(|p| p.to_string());
    let _ = events::previous_gtids(body).map(|s| s.to_string());
    let _ = events::rotate(body);
    for event_type in [
        EventType::Gtid,
        EventType::AnonymousGtid,
        EventType::GtidTagged,
    ] {
        // The lean decoder and mysql_common's agree wherever both decode.
        if let (Ok(lean), Ok(full)) = (
            events::mysql_gtid(event_type, body),
            events::mysql_gtid_full(event_type, body),
        ) {
            assert_eq!(lean, full, "{event_type} decoders disagree");
        }
    }
}

/// GTID text: what parses prints canonically and parses back to the same value.
pub fn gtid_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = text.parse::<GtidSet>() {
        assert_eq!(set.to_string().parse::<GtidSet>().as_ref(), Ok(&set));
    }
    if let Ok(pos) = text.parse::<MariaGtidPos>() {
        assert_eq!(pos.to_string().parse::<MariaGtidPos>().as_ref(), Ok(&pos));
    }
}

/// The start-time parser: what parses resolves in every kind of zone without panicking, and the
/// instant, printed the way outputs print it, parses back to the same instant.
pub fn start_time(data: &[u8]) {
    use crate::start_time::{StartTime, Zone, format_instant};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Zone::parse(text);
    let Ok(start) = StartTime::parse(text) else {
        return;
    };
    let zones = [
        Zone::parse("UTC"),
        Zone::parse("Europe/Berlin"),
        Zone::parse("America/St_Johns"),
        Zone::parse("+14:00"),
        Zone::parse("-1159"),
    ];
    for zone in zones.into_iter().flatten() {
        if let Ok(resolved) = start.resolve(&zone) {
            let printed = format_instant(resolved.instant_us);
            let again = StartTime::parse(&printed)
                .and_then(|t| t.resolve(&Zone::Local))
                .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse back: {e}"));
            assert_eq!(
                again.instant_us, resolved.instant_us,
                "{text:?} -> {printed:?}"
            );
        }
    }
}

/// DM task and source YAML: arbitrary text never panics, and every error names the file.
pub fn dm_yaml(data: &[u8]) {
    use crate::task::config::TaskConfig;
    use crate::task::source::SourceConfig;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = TaskConfig::parse("fuzz-task.yaml", text) {
        assert!(e.to_string().starts_with("fuzz-task.yaml"), "{e}");
    }
    if let Err(e) = SourceConfig::parse("fuzz-source.yaml", text) {
        assert!(e.to_string().starts_with("fuzz-source.yaml"), "{e}");
    }
}

/// The direct dump read's deframer on arbitrary bytes, plain or compressed (the first byte's
/// lowest bit) and split anywhere (the bytes after it choose the splits): never a panic, the
/// same events and end whatever the split, no push over its bound, nothing after the end.
pub fn dump_deframer(data: &[u8]) {
    crate::remote::deframer_property(data);
}
