//! See `startpoint::testkit::fuzzing::dump_deframer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| startpoint::testkit::fuzzing::dump_deframer(data));
