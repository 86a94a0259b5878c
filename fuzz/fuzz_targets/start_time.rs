//! See `startpoint::testkit::fuzzing::start_time`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| startpoint::testkit::fuzzing::start_time(data));
