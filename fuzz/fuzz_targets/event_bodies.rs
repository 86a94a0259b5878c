//! Every event-body decoder on arbitrary bodies (the framing layer would have accepted any of
//! them in a checksum-less binlog).
#![no_main]

use libfuzzer_sys::fuzz_target;
use startpoint::binlog::EventType;
use startpoint::binlog::events;

fuzz_target!(|data: &[u8]| {
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
    for event_type in [EventType::Gtid, EventType::AnonymousGtid, EventType::GtidTagged] {
        let _ = events::mysql_gtid(event_type, body);
    }
});
