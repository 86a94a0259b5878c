//! The reader on arbitrary bytes, as an older file and as the newest one of a source: transaction
//! units and GTID sets are built to the end or to an error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use startpoint::binlog::{BinlogReader, ReadOptions};
use startpoint::unit::UnitReader;

fuzz_target!(|data: &[u8]| {
    for newest in [false, true] {
        let options = ReadOptions { newest, window: 256, ..ReadOptions::default() };
        let Ok(source) = BinlogReader::from_bytes("fuzz", data.to_vec(), options) else {
            continue;
        };
        let mut units = UnitReader::new(source, true);
        while let Ok(Some(unit)) = units.next_unit() {
            assert!(unit.pos < unit.end_pos);
            let _ = units.executed().to_string();
        }
    }
});
