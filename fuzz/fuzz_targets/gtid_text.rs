//! GTID set and MariaDB GTID position text: parsing never panics, and what parses prints
//! canonically and parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use startpoint::gtid::{GtidSet, MariaGtidPos};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = text.parse::<GtidSet>() {
        let printed = set.to_string();
        assert_eq!(printed.parse::<GtidSet>().as_ref(), Ok(&set));
    }
    if let Ok(pos) = text.parse::<MariaGtidPos>() {
        let printed = pos.to_string();
        assert_eq!(printed.parse::<MariaGtidPos>().as_ref(), Ok(&pos));
    }
});
