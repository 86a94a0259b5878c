//! See `startpoint::testkit::fuzzing::dm_yaml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| startpoint::testkit::fuzzing::dm_yaml(data));
