//! `startpoint resolve-position` on the real binary: every status, both output formats, time
//! zones, bad times and bad directories.

use crate::support;

use std::path::Path;

use serde_json::Value;
use startpoint::testkit::fixtures;
use support::startpoint;

const DIR: &str = "testdata/mariadb/binlog";

fn resolve(extra: &[&str]) -> support::Output {
    let mut args = vec!["resolve-position", "--binlog-dir", DIR];
    args.extend_from_slice(extra);
    startpoint(&args)
}

fn json(out: &support::Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[test]
fn json_answers_match_the_servers_ground_truth() {
    let expected = fixtures::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/mariadb"
    )))
    .unwrap();
    // A sample of cases of every status and both bases (the library test covers them all).
    for case in expected.cases.iter().step_by(23) {
        let basis = match case.time_basis {
            startpoint::testkit::oracle::Basis::Commit => "commit",
            startpoint::testkit::oracle::Basis::Begin => "begin",
        };
        let out = resolve(&[
            "--start-time",
            &case.input,
            "--time-basis",
            basis,
            "--output",
            "json",
        ]);
        let answer = json(&out);
        assert_eq!(answer["status"], case.status.as_str(), "{}", case.input);
        assert_eq!(answer["start_time"], case.start_time.as_str());
        assert_eq!(answer["time_basis"], basis);
        match case.status.as_str() {
            "AboveUpperBound" => {
                assert_eq!(out.code, Some(3));
                assert_eq!(answer["error"].as_str(), case.error.as_deref());
            }
            _ => {
                assert_eq!(out.code, Some(0), "{}", out.stderr);
                assert_eq!(answer["binlog_name"].as_str(), case.binlog_name.as_deref());
                assert_eq!(answer["binlog_pos"].as_u64(), case.binlog_pos);
                assert_eq!(answer["binlog_gtid"].as_str(), case.binlog_gtid.as_deref());
            }
        }
    }
}

#[test]
fn json_starts_with_the_contract_fields_in_order() {
    let out = resolve(&["--start-time", "2030-03-31 00:30:00Z", "--output", "json"]);
    out.assert_success();
    let keys = [
        "status",
        "binlog_name",
        "binlog_pos",
        "binlog_gtid",
        "start_time",
        "time_basis",
    ];
    let at: Vec<usize> = keys
        .iter()
        .map(|k| out.stdout.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);
    let answer = json(&out);
    assert_eq!(answer["status"], "InRange");
    assert_eq!(answer["binlog_name"], "mysql-bin.000007");
    assert_eq!(answer["binlog_pos"], 19599);
    assert_eq!(answer["binlog_gtid"], "0-1-129,1-2-18");
    assert_eq!(answer["matched"]["gtid"], "0-1-130");
    assert!(answer.get("explain").is_none());
    let explained = json(&resolve(&[
        "--start-time",
        "2030-03-31 00:30:00Z",
        "--output",
        "json",
        "--explain",
    ]));
    assert!(
        explained["explain"]
            .as_array()
            .is_some_and(|steps| !steps.is_empty())
    );
}

#[test]
fn text_puts_the_answer_first() {
    let out = resolve(&["--start-time", "2030-03-31T00:30:00.5+00:00"]);
    out.assert_success();
    let first = out.stdout.lines().next().unwrap();
    assert_eq!(first, "mysql-bin.000007:19599");
    assert!(
        out.stdout.contains("binlog_gtid  0-1-129,1-2-18"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("2030-03-31T00:30:00.500000Z"),
        "{}",
        out.stdout
    );
}

#[test]
fn below_the_lower_bound_starts_at_the_first_file_with_a_warning() {
    let out = resolve(&["--start-time", "2020-01-01 00:00:00Z", "--output", "json"]);
    assert_eq!(out.code, Some(0));
    let answer = json(&out);
    assert_eq!(answer["status"], "BelowLowerBound");
    assert_eq!(answer["binlog_name"], "mysql-bin.000002");
    assert_eq!(answer["binlog_pos"], 4);
    assert_eq!(answer["warnings"][0]["code"], "before_oldest", "{answer}");
    assert_eq!(
        answer["warnings"][0]["file"], "mysql-bin.000002",
        "{answer}"
    );
    assert!(
        out.stderr.contains("may have been purged"),
        "{}",
        out.stderr
    );
}

#[test]
fn too_late_is_exit_status_3_with_dms_text() {
    let out = resolve(&["--start-time", "2031-01-01 00:00:00"]);
    assert_eq!(out.code, Some(3));
    assert!(
        out.stdout.lines().all(|l| l.starts_with("  ")),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("start-time 2031-01-01 00:00:00 is too late, no binlog location matches it"),
        "{}",
        out.stderr
    );
}

#[test]
fn gtid_off_leaves_the_gtid_empty() {
    let answer = json(&resolve(&[
        "--start-time",
        "2030-03-31 00:30:00Z",
        "--output",
        "json",
        "--gtid",
        "off",
    ]));
    assert_eq!(answer["binlog_gtid"], "");
    assert_eq!(answer["binlog_pos"], 19599);
}

#[test]
fn bare_times_follow_the_time_zone() {
    let utc = json(&resolve(&[
        "--start-time",
        "2030-03-31 00:30:00",
        "--timezone",
        "UTC",
        "--output",
        "json",
    ]));
    let berlin = json(&resolve(&[
        "--start-time",
        "2030-03-31 01:30:00",
        "--timezone",
        "Europe/Berlin",
        "--output",
        "json",
    ]));
    assert_eq!(utc["start_time"], "2030-03-31T00:30:00.000000Z");
    assert_eq!(berlin["start_time"], utc["start_time"]);
    assert_eq!(berlin["timezone"], "Europe/Berlin (+01:00)");
    let offset = json(&resolve(&[
        "--start-time",
        "2030-03-31 05:30:00",
        "--timezone",
        "+05:00",
        "--output",
        "json",
    ]));
    assert_eq!(offset["start_time"], utc["start_time"]);

    // TZ is what "the machine's zone" means when --timezone is absent.
    let out = support::startpoint_env(
        &[
            "resolve-position",
            "--binlog-dir",
            DIR,
            "--start-time",
            "2030-03-31 09:30:00",
            "--output",
            "json",
        ],
        &[("TZ", "Asia/Tokyo")],
    );
    assert_eq!(json(&out)["start_time"], utc["start_time"]);
    // And the zone it names is TZ's, not the system's.
    let said = json(&out)["timezone"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        said.contains("Asia/Tokyo") && said.contains("+09:00"),
        "{said}"
    );

    let gap = resolve(&[
        "--start-time",
        "2030-03-31 02:30:00",
        "--timezone",
        "Europe/Berlin",
    ]);
    assert_eq!(gap.code, Some(1));
    assert!(
        gap.stderr.contains("does not exist in Europe/Berlin"),
        "{}",
        gap.stderr
    );

    let fold = resolve(&[
        "--start-time",
        "2030-10-27 02:30:00",
        "--timezone",
        "Europe/Berlin",
    ]);
    assert_eq!(fold.code, Some(3));
    assert!(fold.stderr.contains("happens twice"), "{}", fold.stderr);
    assert!(
        fold.stdout.contains("2030-10-27T00:30:00.000000Z"),
        "{}",
        fold.stdout
    );

    let bad_zone = resolve(&[
        "--start-time",
        "2030-03-31 00:30:00",
        "--timezone",
        "Mars/Olympus",
    ]);
    assert_eq!(bad_zone.code, Some(1));
    assert!(
        bad_zone.stderr.contains("unknown time zone"),
        "{}",
        bad_zone.stderr
    );
}

#[test]
fn malformed_times_are_rejected_with_the_accepted_forms() {
    for text in [
        "2021/10/21 00:01:00",
        "2021-10-21",
        "15:04:05",
        "20211021 000100",
        "yesterday",
    ] {
        let out = resolve(&["--start-time", text]);
        assert_eq!(out.code, Some(1), "{text}");
        assert!(
            out.stderr.contains("'2006-01-02 15:04:05'"),
            "{text}: {}",
            out.stderr
        );
        let out = resolve(&["--start-time", text, "--output", "json"]);
        assert_eq!(json(&out)["status"], "Error");
    }
}

#[test]
fn bad_directories_say_what_is_wrong() {
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        "no/such/dir",
        "--start-time",
        "2030-03-31 00:00:00Z",
    ]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no/such/dir"), "{}", out.stderr);

    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "hello").unwrap();
    let dir = empty.path().to_str().unwrap();
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        dir,
        "--start-time",
        "2030-03-31 00:00:00Z",
    ]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("no binlog files") && out.stderr.contains("notes.txt"),
        "{}",
        out.stderr
    );

    let out = startpoint(&[
        "resolve-position",
        "--relay-dir",
        DIR,
        "--start-time",
        "2030-03-31 00:00:00Z",
    ]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("not a DM relay directory"),
        "{}",
        out.stderr
    );

    // A damaged file in the way is an error naming file and offset, never an answer.
    let broken = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, broken.path().join(path.file_name().unwrap())).unwrap();
    }
    let target = broken.path().join("mysql-bin.000007");
    let mut bytes = std::fs::read(&target).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    bytes[at + 1] ^= 0xff;
    std::fs::write(&target, bytes).unwrap();
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        broken.path().to_str().unwrap(),
        "--start-time",
        "2030-03-31 01:30:00Z",
    ]);
    // Unless the flipped bytes sit in a row image nobody decodes, reading fails loudly.
    if out.code != Some(0) {
        assert_eq!(out.code, Some(1));
        assert!(
            out.stderr.contains("mysql-bin.000007") && out.stderr.contains("offset"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn relay_directories_are_searched_across_sub_directories() {
    let relay = tempfile::tempdir().unwrap();
    let subdirs = ["0-1-aaaa.000001", "0-1-bbbb.000002"];
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".index"))
        .collect();
    files.sort();
    for (i, file) in files.iter().enumerate() {
        let sub = relay.path().join(subdirs[usize::from(i >= 4)]);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::copy(file, sub.join(file.file_name().unwrap())).unwrap();
        std::fs::write(
            sub.join("relay.meta"),
            "binlog-name = \"mysql-bin.000010\"\n",
        )
        .unwrap();
    }
    std::fs::write(
        relay.path().join("server-uuid.index"),
        subdirs.join("\n") + "\n",
    )
    .unwrap();
    let dir = relay.path().to_str().unwrap();
    let out = startpoint(&[
        "resolve-position",
        "--relay-dir",
        dir,
        "--start-time",
        "2030-03-31 00:30:00Z",
        "--output",
        "json",
    ]);
    out.assert_success();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let answer = json(&out);
    assert_eq!(answer["binlog_name"], "mysql-bin.000007");
    assert_eq!(answer["binlog_pos"], 19599);
    assert_eq!(answer["relay_subdir"], subdirs[1]);
    assert_eq!(answer["binlog_gtid"], "0-1-129,1-2-18");
}

#[test]
fn an_unreachable_server_fails_within_the_rpc_timeout() {
    let started = std::time::Instant::now();
    let out = startpoint(&[
        "--rpc-timeout",
        "2s",
        "resolve-position",
        "--url",
        "mysql://root:Secr3t-pw@127.0.0.1:9",
        "--start-time",
        "2030-03-31 00:30:00Z",
    ]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("127.0.0.1:9"), "{}", out.stderr);
    assert!(!out.stderr.contains("Secr3t-pw") && !out.stdout.contains("Secr3t-pw"));
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
}

#[test]
fn gtid_on_needs_a_binlog_with_gtids() {
    let dir = "testdata/public/canal-5.1";
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        dir,
        "--start-time",
        "2012-01-01 00:00:00Z",
        "--gtid",
        "on",
    ]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("carries no GTIDs"), "{}", out.stderr);
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        dir,
        "--start-time",
        "2012-01-01 00:00:00Z",
        "--output",
        "json",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(json(&out)["binlog_gtid"], "");
}

/// `--emit mysql` on MySQL 5.7 binlogs written with GTIDs off (the public `canal-5.7` files:
/// every file has a PREVIOUS_GTIDS event, empty) prints the file and position. Auto-positioning
/// with `gtid_purged = ''` would be refused by a replica with gtid_mode=OFF (error 1777), and its
/// RESET would wipe the replica's binlogs for nothing.
/// `--emit` prints the consumer's own form, so `--output` with it is a usage error rather than
/// ignored; and a negative offset after `--timezone` is its value, not a flag.
#[test]
fn emit_with_output_is_refused_and_a_negative_timezone_is_a_value() {
    let both = resolve(&[
        "--start-time",
        "2030-03-31 09:30:00Z",
        "--emit",
        "dm",
        "--output",
        "json",
    ]);
    assert_eq!(both.code, Some(2), "{}", both.stderr);
    assert!(both.stderr.contains("--output"), "{}", both.stderr);
    let west = resolve(&[
        "--start-time",
        "2030-03-30 21:30:00",
        "--timezone",
        "-12:00",
        "--output",
        "json",
    ]);
    let utc = resolve(&["--start-time", "2030-03-31 09:30:00Z", "--output", "json"]);
    assert_eq!(west.code, utc.code, "{}", west.stderr);
    assert_eq!(json(&west)["start_time"], json(&utc)["start_time"]);
    assert_eq!(json(&west)["timezone"], "UTC-12:00 (-12:00)");
}

#[test]
fn emit_mysql_on_binlogs_without_gtids_gives_the_file_and_position() {
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        "testdata/public/canal-5.7",
        "--start-time",
        "2017-09-07 06:57:00Z",
        "--emit",
        "mysql",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = 'mysql-bin.000002', \
             SOURCE_LOG_POS = 316, SOURCE_AUTO_POSITION = 0;"
        ) && !out.stdout.contains("gtid_purged")
            && !out.stdout.contains("RESET BINARY LOGS"),
        "{}",
        out.stdout
    );
}

/// `--binlog-dir /var/lib/mysql`: an index names the binlog files, and the datadir's other files
/// (13 on a fresh MariaDB) are the server's business, so none gets a note; only `--explain`
/// mentions them, in one line.
#[test]
fn a_datadir_with_an_index_says_nothing_of_its_other_files() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    // What a fresh MariaDB datadir holds besides its binlogs.
    for name in [
        "aria_log.00000001",
        "aria_log_control",
        "ib_buffer_pool",
        "ibdata1",
    ] {
        std::fs::write(dir.path().join(name), "not a binlog").unwrap();
    }
    for name in ["mysql", "performance_schema", "sys"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
    }
    let args = [
        "resolve-position",
        "--binlog-dir",
        dir.path().to_str().unwrap(),
        "--start-time",
        "2030-03-31 00:30:00Z",
    ];
    let out = startpoint(&args);
    out.assert_success();
    assert!(!out.stderr.contains("left out"), "{}", out.stderr);
    assert_eq!(out.stdout.lines().next(), Some("mysql-bin.000007:19599"));

    let out = startpoint(&[&args[..], &["--explain"]].concat());
    out.assert_success();
    let notes: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("left out"))
        .collect();
    assert_eq!(notes.len(), 1, "{}", out.stderr);
    assert!(
        notes[0].contains("7 other entries") && notes[0].contains("ibdata1"),
        "{}",
        notes[0]
    );
}

#[test]
fn other_files_in_the_directory_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".index") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.path().join("backup.tar"), "not a binlog").unwrap();
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        dir.path().to_str().unwrap(),
        "--start-time",
        "2030-03-31 00:30:00Z",
    ]);
    out.assert_success();
    assert!(
        out.stderr
            .contains("note: backup.tar left out (not a binlog file)"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout.lines().next(), Some("mysql-bin.000007:19599"));
}

/// Files the index lists after the last one present: a late start time is too late for what
/// is there, and the warning says what is missing.
#[test]
fn missing_newest_files_are_named_when_too_late() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = String::new();
    for name in ["mysql-bin.000002", "mysql-bin.000003"] {
        std::fs::copy(Path::new(DIR).join(name), dir.path().join(name)).unwrap();
        index.push_str(&format!("./{name}\n"));
    }
    index.push_str("./mysql-bin.000004\n./mysql-bin.000005\n");
    std::fs::write(dir.path().join("mysql-bin.index"), index).unwrap();
    let out = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        dir.path().to_str().unwrap(),
        "--start-time",
        "2030-03-31 02:00:00Z",
    ]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr.contains("missing") && out.stderr.contains("mysql-bin.000004, mysql-bin.000005"),
        "{}",
        out.stderr
    );
}

/// `--output json` and `--explain` say per file whether it was skipped on the commit clock, read,
/// or not needed, and why.
#[test]
fn every_file_says_whether_it_was_skipped_or_read_and_why() {
    use startpoint::testkit::binlog_writer::{
        FileSpec, SequenceWriter, Trailing, TrxSpec, WriterFlavor,
    };
    const T0: u32 = 1_900_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut writer = SequenceWriter::new(WriterFlavor::MySql80Gtid, "mysql-bin");
    let mut index = String::new();
    for f in 0..5u32 {
        let spec = FileSpec {
            created: T0 + f,
            trxs: (0..4u32)
                .map(|i| TrxSpec::in_second(T0 + 100 * f + i))
                .collect(),
            trailing: Trailing::Nothing,
        };
        let file = writer.write_file(&spec, f == 4);
        std::fs::write(dir.path().join(&file.name), &file.bytes).unwrap();
        index.push_str(&format!("./{}\n", file.name));
    }
    std::fs::write(dir.path().join("mysql-bin.index"), index).unwrap();
    let path = dir.path().display().to_string();
    let run = |basis: &str, extra: &[&str]| {
        let mut args = vec![
            "resolve-position",
            "--binlog-dir",
            &path,
            "--start-time",
            "2030-03-17 17:50:02Z", // T0 + 202 s
            "--time-basis",
            basis,
        ];
        args.extend_from_slice(extra);
        startpoint(&args)
    };
    let answer = json(&run("commit", &["--output", "json"]));
    assert_eq!(answer["binlog_name"], "mysql-bin.000003", "{answer}");
    let decisions: Vec<&str> = answer["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        [
            "skipped-on-commit-clock",
            "skipped-on-commit-clock",
            "read",
            "not-read",
            "not-read"
        ],
        "{answer}"
    );
    assert_eq!(answer["files"][2]["why"]["code"], "answer_in", "{answer}");
    assert_eq!(
        answer["files"][0]["why"]["code"], "skipped_on_clock",
        "{answer}"
    );
    let begin = json(&run("begin", &["--output", "json"]));
    assert_eq!(begin["files"][0]["decision"], "read", "{begin}");
    assert_eq!(begin["files"][0]["why"]["code"], "read", "{begin}");
    assert_eq!(
        begin["files"][0]["why"]["start"]["why"]["code"], "begin_basis",
        "{begin}"
    );
    // Before the first file (BelowLowerBound): nothing is read, and every file says so.
    let early = json(&startpoint(&[
        "resolve-position",
        "--binlog-dir",
        &path,
        "--start-time",
        "2020-01-01 00:00:00Z",
        "--output",
        "json",
    ]));
    assert_eq!(early["status"], "BelowLowerBound", "{early}");
    assert!(
        early["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["decision"] == "not-read"),
        "{early}"
    );
    let text = run("commit", &["--explain"]);
    text.assert_success();
    assert!(
        text.stdout
            .contains("mysql-bin.000001: skipped-on-commit-clock (every transaction in it"),
        "{}",
        text.stdout
    );
}

/// `startpoint index` summarises every closed file into the cache and prints the coverage
/// table; resolutions then skip those files (`skipped-on-summary`), with the same answer; a
/// damaged cache, or `--no-cache`, changes nothing but the cost.
#[test]
fn index_fills_the_cache_and_resolutions_skip_summarised_files() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();
    let index = |extra: &[&str]| {
        let mut args = vec!["index", "--binlog-dir", DIR, "--cache-dir", &cache_dir];
        args.extend_from_slice(extra);
        startpoint(&args)
    };
    let first = json(&index(&["--output", "json"]));
    let files = first["files"].as_array().unwrap();
    assert!(files.len() >= 5, "{first}");
    let states: Vec<&str> = files
        .iter()
        .map(|f| f["summary"].as_str().unwrap())
        .collect();
    assert_eq!(states.last(), Some(&"newest (not cached)"), "{first}");
    assert!(
        states[..states.len() - 1].iter().all(|s| *s == "read now"),
        "{first}"
    );
    let with_units = files
        .iter()
        .find(|f| f["units"].as_u64() > Some(10))
        .unwrap();
    assert!(
        with_units["first"]["commit_time"].as_str().is_some(),
        "{first}"
    );
    assert!(
        with_units["commit"]["backwards_us"].as_i64().is_some(),
        "{first}"
    );
    let second = index(&[]);
    second.assert_success();
    assert!(second.stdout.contains("cached"), "{}", second.stdout);
    assert!(second.stdout.starts_with(DIR), "{}", second.stdout);

    let resolve_with = |extra: &[&str]| {
        let mut args = vec![
            "resolve-position",
            "--binlog-dir",
            DIR,
            "--start-time",
            "2030-03-31 02:30:00Z",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        startpoint(&args)
    };
    let cold = json(&resolve_with(&["--no-cache"]));
    let warm_out = resolve_with(&["--cache-dir", &cache_dir]);
    let warm = json(&warm_out);
    for field in ["status", "binlog_name", "binlog_pos", "binlog_gtid"] {
        assert_eq!(warm[field], cold[field], "{field}");
    }
    let skipped = warm["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["decision"] == "skipped-on-summary")
        .count();
    assert!(skipped >= 5, "{warm}");
    assert!(
        warm["bytes_read"].as_u64() < cold["bytes_read"].as_u64(),
        "{warm}\n{cold}"
    );

    // A damaged cache: a note, the same answer.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not a database").unwrap();
    }
    let damaged_out = resolve_with(&["--cache-dir", &cache_dir]);
    let damaged = json(&damaged_out);
    for field in ["status", "binlog_name", "binlog_pos", "binlog_gtid"] {
        assert_eq!(damaged[field], cold[field], "{field}");
    }
    assert!(
        damaged_out.stderr.contains("note: the summary cache")
            && damaged_out.stderr.contains("not used"),
        "{}",
        damaged_out.stderr
    );
}

/// `--assume-max-statement` is named in the answer and skips files; `--assume-mtime-bounds`
/// is refused for a live server.
#[test]
fn an_opt_in_assumption_is_named_in_the_answer() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "resolve-position",
            "--binlog-dir",
            DIR,
            "--start-time",
            "2030-03-31 02:30:00Z",
            "--output",
            "json",
            "--no-cache",
        ];
        args.extend_from_slice(extra);
        startpoint(&args)
    };
    let plain = json(&run(&[]));
    assert!(plain.get("assumption").is_none(), "{plain}");
    let assumed = json(&run(&["--assume-max-statement", "1h"]));
    assert_eq!(assumed["assumption"], "max-statement=1h", "{assumed}");
    for field in ["status", "binlog_name", "binlog_pos", "binlog_gtid"] {
        assert_eq!(assumed[field], plain[field], "{field}");
    }
    assert!(
        assumed["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["decision"] == "skipped-on-assumption"),
        "{assumed}"
    );

    let text = startpoint(&[
        "resolve-position",
        "--binlog-dir",
        DIR,
        "--start-time",
        "2030-03-31 02:30:00Z",
        "--assume-max-statement",
        "1h",
    ]);
    text.assert_success();
    assert!(
        text.stdout.contains("assuming     max-statement=1h"),
        "{}",
        text.stdout
    );
    let refused = startpoint(&[
        "resolve-position",
        "--url",
        "mysql://repl@127.0.0.1:1",
        "--start-time",
        "2030-03-31 02:30:00Z",
        "--assume-mtime-bounds",
    ]);
    assert_eq!(refused.code, Some(1));
    assert!(
        refused
            .stderr
            .contains("--assume-mtime-bounds needs local files"),
        "{}",
        refused.stderr
    );
}

/// The fixture's late-dated rotation: mysql-bin.000011 is dated 02:45:30, when a long statement
/// started; two transactions committed at 02:45:35 and 02:45:41 sit in mysql-bin.000010 before it.
/// A start time between them is answered in mysql-bin.000010, as the server's own history says, not
/// in the newer file a creation-time choice would pick.
#[test]
fn a_late_dated_rotation_in_the_fixture_is_answered_in_the_older_file() {
    let out = resolve(&[
        "--start-time",
        "2030-03-31 02:45:33Z",
        "--output",
        "json",
        "--no-cache",
    ]);
    let answer = json(&out);
    assert_eq!(answer["binlog_name"], "mysql-bin.000010", "{answer}");
    assert_eq!(
        answer["matched"]["commit_time"], "2030-03-31T02:45:35.000000Z",
        "{answer}"
    );
}

/// `--emit` on the real binary. With one format stdout holds only that format (to
/// pipe into its consumer); with several each block is marked; the answer is the same one.
#[test]
fn emit_prints_each_consumers_form_and_only_that() {
    const T: &str = "--start-time=2030-03-31 01:30:00Z";
    let answer = json(&resolve(&[T, "--output", "json"]));
    let (file, pos, gtid) = (
        answer["binlog_name"].as_str().unwrap().to_owned(),
        answer["binlog_pos"].as_u64().unwrap(),
        answer["binlog_gtid"].as_str().unwrap().to_owned(),
    );
    let dm = resolve(&[T, "--emit", "dm"]);
    dm.assert_success();
    assert_eq!(
        dm.stdout,
        format!(
            "meta:\n  binlog-name: \"{file}\"\n  binlog-pos: {pos}\n  binlog-gtid: \"{gtid}\"\n"
        )
    );
    let mariadb = resolve(&[T, "--emit", "mariadb"]);
    assert!(
        mariadb
            .stdout
            .contains(&format!("SET GLOBAL gtid_slave_pos = '{gtid}';")),
        "{}",
        mariadb.stdout
    );
    // Debezium's MariaDB connector: the same GTID position, the same file and position.
    let dbz = json(&resolve(&[T, "--emit", "debezium"]));
    // debezium-patch: exactly the offsets PATCH body, for curl -d @- (no jq).
    let patch = resolve(&[T, "--emit", "debezium-patch"]);
    patch.assert_success();
    assert_eq!(json(&patch), dbz["connect_offsets_patch"]);
    assert!(
        patch.stderr.contains("PATCH /connectors/NAME/offsets"),
        "{}",
        patch.stderr
    );
    assert_eq!(dbz["offset"]["value"]["gtids"], gtid.as_str());
    assert_eq!(dbz["offset"]["value"]["file"], file.as_str());
    assert_eq!(dbz["offset"]["value"]["pos"], pos);
    assert!(dbz["offset"]["value"]["server_id"].as_u64().unwrap() > 0);
    let both = resolve(&[T, "--emit", "canal", "--emit", "flink-cdc"]);
    assert!(
        both.stdout
            .starts_with("==> canal <==\ncanal.instance.master.journal.name="),
        "{}",
        both.stdout
    );
    assert!(
        both.stdout.contains("==> flink-cdc <==\n"),
        "{}",
        both.stdout
    );
    assert!(
        both.stdout
            .contains(&format!("canal.instance.master.position={pos}\n")),
        "{}",
        both.stdout
    );
}

/// Each `--explain` line comes from the decision taken: the clock skips nothing, and the
/// summaries skip what they skip, so it never says "every file is read from the first" while it
/// lists files as `skipped-on-summary`.
#[test]
fn explain_never_says_every_file_is_read_while_summaries_skip_files() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();
    let base = ["--binlog-dir", DIR, "--cache-dir", &cache_dir];
    startpoint(&[&["index"][..], &base].concat()).assert_success();
    let out = startpoint(
        &[
            &["resolve-position"][..],
            &base,
            &["--start-time", "2030-03-31 01:30:00Z", "--explain"],
        ]
        .concat(),
    );
    out.assert_success();
    assert!(
        out.stdout.contains("skipped-on-summary")
            && out.stdout.contains("the commit clock skips no file")
            && !out.stdout.contains("every file is read"),
        "{}",
        out.stdout
    );
    let json = json(&startpoint(
        &[
            &["resolve-position"][..],
            &base,
            &[
                "--start-time",
                "2030-03-31 01:30:00Z",
                "--explain",
                "--output",
                "json",
            ],
        ]
        .concat(),
    ));
    let codes: Vec<&str> = json["explain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes[0], "clock_skips_nothing", "{json}");
    assert!(codes.contains(&"skipped_on_summary"), "{json}");
    assert!(
        json["explain"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("the commit clock skips no file"),
        "{json}"
    );
}
