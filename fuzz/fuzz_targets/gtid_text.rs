//! See `startpoint::testkit::fuzzing::gtid_text`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| startpoint::testkit::fuzzing::gtid_text(data));
