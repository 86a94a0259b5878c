//! Every input a fuzz target ever crashed on, replayed: `testdata/fuzz-regressions/<target>/`.

use std::path::Path;

use startpoint::testkit::fuzzing;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/fuzz-regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{} still crashes {target}", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn saved_crashes_no_longer_crash() {
    let total = replay("binlog_bytes", fuzzing::binlog_bytes)
        + replay("event_bodies", fuzzing::event_bodies)
        + replay("gtid_text", fuzzing::gtid_text)
        + replay("start_time", fuzzing::start_time)
        + replay("dm_yaml", fuzzing::dm_yaml)
        + replay("dump_deframer", fuzzing::dump_deframer);
    assert!(total >= 1);
}
