//! See `startpoint::testkit::fuzzing::event_bodies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| startpoint::testkit::fuzzing::event_bodies(data));
