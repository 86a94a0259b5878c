//! The committed MariaDB fixture corpus (`testdata/mariadb/`) is what its `expected.json` says,
//! and the generator still produces it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use startpoint::testkit::fixtures::{self, FixtureExpectations};
use startpoint::testkit::oracle::OracleUnit;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mariadb")
}

fn committed() -> FixtureExpectations {
    fixtures::load(&corpus_dir()).expect("testdata/mariadb/expected.json")
}

#[test]
fn the_corpus_is_small_and_its_index_names_every_file() {
    let expected = committed();
    let binlog_dir = corpus_dir().join("binlog");
    let index = std::fs::read_to_string(binlog_dir.join("mysql-bin.index")).unwrap();
    let listed: Vec<&str> = index
        .lines()
        .map(|line| line.trim_start_matches("./"))
        .collect();
    let names: Vec<&str> = expected.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(listed, names);

    let mut total = 0;
    for file in &expected.files {
        let len = std::fs::metadata(binlog_dir.join(&file.name))
            .unwrap()
            .len();
        assert_eq!(len, file.size, "{}", file.name);
        total += len;
    }
    assert!(total <= 3 << 20, "the corpus grew to {total} bytes");
    assert!(
        expected.files.len() >= 5,
        "several files, rotations included"
    );
}

/// `mariadb-binlog` on the committed files gives the units and answers in `expected.json`.
#[test]
fn mariadb_binlog_agrees_with_expected_json() {
    let expected = committed();
    let logs: Vec<(String, u64)> = expected
        .files
        .iter()
        .map(|f| (f.name.clone(), f.size))
        .collect();
    let (files, units) = fixtures::read_corpus(&corpus_dir().join("binlog"), &logs).unwrap();
    assert_eq!(files, expected.files);
    let recorded: Vec<&OracleUnit> = expected.units.iter().map(|u| &u.unit).collect();
    assert_eq!(units.iter().collect::<Vec<_>>(), recorded);

    let mut recomputed = fixtures::expected_cases(&files, &expected.units);
    for (case, stored) in recomputed.iter_mut().zip(&expected.cases) {
        case.binlog_gtid = stored.binlog_gtid.clone();
    }
    assert_eq!(recomputed, expected.cases);
}

/// The server's `BINLOG_GTID_POS` (recorded by the generator) is SEMANTICS.md §5's MariaDB rule:
/// the GTID_LIST with each domain's last GTID before the unit.
#[test]
fn recorded_gtid_positions_follow_the_per_domain_rule() {
    let expected = committed();
    let mut state: BTreeMap<u32, String> = BTreeMap::new();
    let mut before_by_location = BTreeMap::new();
    for unit in &expected.units {
        let text: Vec<&str> = state.values().map(String::as_str).collect();
        assert_eq!(
            unit.gtid_before,
            text.join(","),
            "{}:{}",
            unit.unit.file,
            unit.unit.pos
        );
        before_by_location.insert((unit.unit.file.clone(), unit.unit.pos), text.join(","));
        if let Some(gtid) = &unit.unit.gtid {
            let domain = gtid.split('-').next().unwrap().parse().unwrap();
            state.insert(domain, gtid.clone());
        }
    }
    for case in &expected.cases {
        match case.status.as_str() {
            "InRange" => {
                let key = (case.binlog_name.clone().unwrap(), case.binlog_pos.unwrap());
                assert_eq!(case.binlog_gtid.as_ref(), before_by_location.get(&key));
            }
            "BelowLowerBound" => {
                assert_eq!(case.binlog_pos, Some(4));
                assert_eq!(case.binlog_gtid.as_deref(), Some(""));
            }
            _ => assert_eq!(case.binlog_gtid, None),
        }
    }
}

/// The workload covers what the corpus promises.
#[test]
fn the_corpus_holds_every_promised_shape() {
    let expected = committed();
    let units: Vec<&OracleUnit> = expected.units.iter().map(|u| &u.unit).collect();
    for end in [
        "xid",
        "xa-prepare",
        "xa-commit",
        "xa-rollback",
        "commit",
        "rollback",
        "statement",
    ] {
        assert!(
            units.iter().any(|u| u.end == end),
            "no unit ending in {end}"
        );
    }
    assert!(
        units
            .iter()
            .any(|u| u.gtid.as_deref().is_some_and(|g| g.starts_with("1-2-")))
    );
    assert!(
        units.windows(2).any(|w| w[1].commit_ts < w[0].commit_ts),
        "no header times going backwards"
    );
    let with_units: Vec<&str> = units.iter().map(|u| u.file.as_str()).collect();
    assert!(
        expected
            .files
            .iter()
            .any(|f| !with_units.contains(&f.name.as_str())),
        "no file without units"
    );
    let statuses: Vec<&str> = expected.cases.iter().map(|c| c.status.as_str()).collect();
    for status in ["InRange", "BelowLowerBound", "AboveUpperBound"] {
        assert!(statuses.contains(&status), "no {status} case");
    }
    // A file created before transactions of the file before it: a long statement rotates the
    // log on commit, dating the new file at its start.
    let late = expected.files.windows(2).any(|pair| {
        units
            .iter()
            .filter(|u| u.file == pair[0].name)
            .any(|u| u.commit_ts > pair[1].fde_ts)
    });
    assert!(
        late,
        "no file dated before transactions of the file before it"
    );
}

/// Regenerating from a fresh server gives the same `expected.json`: the workload and the
/// oracles are deterministic (only BINLOG_CHECKPOINT and exec_time bytes follow the real clock).
#[tokio::test]
async fn the_generator_reproduces_the_committed_answers() {
    let out = tempfile::tempdir().unwrap();
    let fresh = fixtures::generate(out.path())
        .await
        .expect("generate the corpus");
    reader_agrees_with_the_server(&out.path().join("binlog"), &fresh);
    let committed = committed();
    if fresh.server_version == committed.server_version {
        assert_eq!(fresh, committed);
    } else {
        // Another MariaDB build may size events differently; the history must still match.
        let shape = |e: &FixtureExpectations| -> Vec<(String, i64, i64, Option<String>, String)> {
            e.units
                .iter()
                .map(|u| {
                    let u = &u.unit;
                    (
                        u.file.clone(),
                        u.begin_ts,
                        u.commit_ts,
                        u.gtid.clone(),
                        u.end.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(shape(&fresh), shape(&committed));
        eprintln!(
            "note: the corpus was made by {}, this machine has {}; regenerate with `{}`",
            committed.server_version,
            fresh.server_version,
            fixtures::REGENERATE_COMMAND
        );
    }
}

/// The reader's units and executed GTIDs on freshly generated files equal what the live server
/// reported for them (`BINLOG_GTID_POS` at every unit).
fn reader_agrees_with_the_server(binlog_dir: &Path, fresh: &FixtureExpectations) {
    use startpoint::binlog::{FileEventSource, ReadOptions};
    use startpoint::source::local::BinlogDir;
    use startpoint::unit::UnitReader;

    let listing = BinlogDir::open(binlog_dir).unwrap();
    let mut got = Vec::new();
    for (i, file) in listing.files.iter().enumerate() {
        let options = ReadOptions {
            newest: i + 1 == listing.files.len(),
            ..ReadOptions::default()
        };
        let mut reader = UnitReader::new(FileEventSource::open(&file.path, options).unwrap(), true);
        while let Some(unit) = reader.next_unit().unwrap() {
            got.push((file.name.clone(), unit.pos, reader.executed().to_string()));
        }
    }
    let want: Vec<(String, u64, String)> = fresh
        .units
        .iter()
        .map(|u| (u.unit.file.clone(), u.unit.pos, u.gtid_before.clone()))
        .collect();
    assert_eq!(got, want);
}
