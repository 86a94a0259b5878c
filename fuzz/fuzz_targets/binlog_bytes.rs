//! See `startpoint::testkit::fuzzing::binlog_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| startpoint::testkit::fuzzing::binlog_bytes(data));
