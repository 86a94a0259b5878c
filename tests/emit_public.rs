//! `resolve-position --emit` on real public binlogs (`testdata/public/`): the exact statements
//! each MySQL replica version gets, and what Debezium, Flink CDC and Canal are given or told,
//! for sources with GTIDs off, on, tagged, and on with nothing before the point.
//!
//! What each consumer does with the form is read from its own code, cited beside each test.

use crate::support;

use serde_json::Value;
use support::startpoint;

const CANAL_57: &str = "testdata/public/canal-5.7";
const POSITION: &str = "testdata/public/percona-8.0.45-position";
const GTID: &str = "testdata/public/percona-8.0.45-gtid";
const TAGGED: &str = "testdata/public/rust_mysql_common/binlog_transaction_with_GTID_TAG.000001";
const UUID: &str = "396e294c-1ca4-11f1-9ae7-00155da79c6b";

/// `resolve-position --binlog-dir DIR --start-time T --emit FORMAT… EXTRA…`, which must succeed.
fn emit(dir: &str, time: &str, formats: &[&str], extra: &[&str]) -> support::Output {
    let mut args = vec![
        "resolve-position",
        "--binlog-dir",
        dir,
        "--start-time",
        time,
    ];
    for format in formats {
        args.extend(["--emit", format]);
    }
    args.extend_from_slice(extra);
    let out = startpoint(&args);
    out.assert_success();
    out
}

/// The tagged MySQL 9.6 file alone in a directory of its own.
fn tagged_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let name = std::path::Path::new(TAGGED).file_name().unwrap();
    std::fs::copy(TAGGED, dir.path().join(name)).unwrap();
    dir
}

/// The statements for a replica of each version, exactly (MySQL Reference Manual: `CHANGE
/// REPLICATION SOURCE TO` and `START REPLICA` from 8.0.23, `CHANGE MASTER TO` before;
/// `gtid_purged` is set on an empty `gtid_executed`, emptied by `RESET BINARY LOGS AND GTIDS`
/// from 8.4 and `RESET MASTER` before; auto-positioning needs `gtid_mode=ON` on the replica,
/// error 1777 otherwise). Every MySQL 5.7+ binlog has a PREVIOUS_GTIDS event, empty when GTIDs
/// are off, so an empty set must give the file and position, as no set does.
#[test]
fn emit_mysql_drops_file_and_position_on_empty_gtid_sets_for_5_7_8_0_8_4() {
    let file_pos = |file: &str, pos: u64| {
        [
            format!(
                "STOP SLAVE;\nCHANGE MASTER TO MASTER_LOG_FILE = '{file}', MASTER_LOG_POS = {pos}, \
                 MASTER_AUTO_POSITION = 0;\nSTART SLAVE;\n"
            ),
            format!(
                "STOP REPLICA;\nCHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = '{file}', \
                 SOURCE_LOG_POS = {pos}, SOURCE_AUTO_POSITION = 0;\nSTART REPLICA;\n"
            ),
        ]
    };
    let set = format!("{UUID}:1-2");
    let auto = |reset: &str, change: &str, prefix: &str, stop: &str, start: &str| {
        format!(
            "STOP {stop};\n{reset};\nSET GLOBAL gtid_purged = '{set}';\n{change} \
             {prefix}_AUTO_POSITION = 1;\nSTART {start};\n"
        )
    };
    let cases: [(&str, &str, [String; 3]); 4] = [
        // MySQL 5.7 with GTIDs off: an empty PREVIOUS_GTIDS.
        ("canal-5.7", CANAL_57, {
            let [old, new] = file_pos("mysql-bin.000002", 316);
            [old, new.clone(), new]
        }),
        // Every transaction here commits in the second its first file was created, so the
        // time is below the lower bound: the first file's start.
        ("percona-8.0.45-position", POSITION, {
            let [old, new] = file_pos("binlog.000001", 4);
            [old, new.clone(), new]
        }),
        // GTIDs on, nothing executed before the point: the file and position too.
        ("percona-8.0.45-gtid, first transaction", GTID, {
            let [old, new] = file_pos("binlog.000001", 157);
            [old, new.clone(), new]
        }),
        ("percona-8.0.45-gtid", GTID, {
            [
                auto(
                    "RESET MASTER",
                    "CHANGE MASTER TO",
                    "MASTER",
                    "SLAVE",
                    "SLAVE",
                ),
                auto(
                    "RESET MASTER",
                    "CHANGE REPLICATION SOURCE TO",
                    "SOURCE",
                    "REPLICA",
                    "REPLICA",
                ),
                auto(
                    "RESET BINARY LOGS AND GTIDS",
                    "CHANGE REPLICATION SOURCE TO",
                    "SOURCE",
                    "REPLICA",
                    "REPLICA",
                ),
            ]
        }),
    ];
    let times = [
        "2017-09-07 06:57:00Z",
        "2026-03-10 21:52:40.470Z",
        "2026-03-10 17:11:54.300Z",
        "2026-03-10 17:11:54.400Z",
    ];
    for ((name, dir, expected), time) in cases.iter().zip(times) {
        for (version, expected) in ["5.7.44", "8.0.36", "8.4.0"].iter().zip(expected) {
            let out = emit(dir, time, &["mysql"], &["--replica-version", version]);
            assert_eq!(&out.stdout, expected, "{name}, replica {version}");
        }
    }
}

/// Debezium's `set-binlog-position` signal (debezium/debezium,
/// `debezium-connector-mysql/…/signal/SetBinlogPositionSignal.arrived`): its file form calls
/// `BinlogOffsetContext.setBinlogStartPoint`, which keeps the offset's `gtids`, and a connector
/// on a GTID server restarts from those. On such a server with nothing executed before the
/// point, the signal would not move the connector: none is given, and stderr says to use the
/// offsets PATCH, whose offset has no `gtids` (the connector then starts from file and pos).
#[test]
fn debezium_signal_on_a_gtid_server_with_an_empty_set_would_not_move_the_connector() {
    let out = emit(GTID, "2026-03-10 17:11:54.300Z", &["debezium"], &[]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        doc["set_binlog_position_signal"].is_null(),
        "{}",
        out.stdout
    );
    let value = &doc["connect_offsets_patch"]["offsets"][0]["offset"];
    assert_eq!(value["file"], "binlog.000001");
    assert_eq!(value["pos"], 157);
    assert!(value["gtids"].is_null(), "{}", out.stdout);
    assert!(
        out.stderr.contains("none precedes the point") && out.stderr.contains("offsets PATCH"),
        "{}",
        out.stderr
    );
    // Before the oldest binlog no transaction is at the point: whether the source writes GTIDs
    // is not known from it, so no file form either.
    let out = emit(GTID, "2026-03-10 17:11:00Z", &["debezium"], &[]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        doc["set_binlog_position_signal"].is_null(),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("is not known"), "{}", out.stderr);
    // --gtid off: the set was not computed, and the transaction at the point has a GTID.
    let out = emit(
        GTID,
        "2026-03-10 17:11:54.400Z",
        &["debezium"],
        &["--gtid", "off"],
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        doc["set_binlog_position_signal"].is_null(),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("not computed (--gtid off)"),
        "{}",
        out.stderr
    );
}

/// The signal exists from Debezium 3.5.0 for MySQL (DBZ-3829; 3.6.0 for MariaDB), must be
/// followed by a restart, and its GTID form (`setCompletedGtidSet`) keeps the offset's
/// `event`/`row` skip counts (`restartEventsToSkip`, `restartRowsToSkip`), which
/// `BinlogStreamingChangeEventSource` applies to the first transaction after the restart. The
/// offsets PATCH (KIP-875, connector stopped) sets the whole offset: it comes first.
#[test]
fn debezium_signal_is_given_with_its_version_and_skip_caveats_after_the_patch() {
    let out = emit(GTID, "2026-03-10 17:11:54.400Z", &["debezium"], &[]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        doc["set_binlog_position_signal"]["data"]["gtid_set"],
        format!("{UUID}:1-2")
    );
    let first_key = out.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        first_key.contains("connect_offsets_patch"),
        "{}",
        out.stdout
    );
    for said in [
        "connect_offsets_patch first",
        "Debezium 3.5.0 or later (MySQL connector)",
        "after a restart",
        "event and row counts",
    ] {
        out.assert_stderr_has(said);
    }
    // Without GTIDs the file form resets the counts: no such caveat.
    let out = emit(CANAL_57, "2017-09-07 06:57:00Z", &["debezium"], &[]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        doc["set_binlog_position_signal"]["data"]["binlog_filename"],
        "mysql-bin.000002"
    );
    assert!(
        !out.stderr.contains("event and row counts"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Debezium 3.5.0"), "{}", out.stderr);
}

/// A tagged set (MySQL 8.4+, the real 9.6 file): Flink CDC parses sets with Debezium 1.9.8's
/// `GtidSet`, and Canal with `UUIDSet.parse`, both reading `mytag` as a number
/// (`Long.parseLong`), so they get the file and position alone, with a note. Debezium's own
/// offset keeps the tags (read from 3.6.0), but its MySQL signal's pattern takes none. A MySQL
/// replica before 8.3 knows no tags: a note says so.
#[test]
fn tagged_gtid_sets_reach_flink_cdc_and_canal_without_a_word() {
    let dir = tagged_dir();
    let dir = dir.path().to_str().unwrap();
    let time = "2026-02-06 09:04:47Z";
    let tagged_set = "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2";
    let out = emit(dir, time, &["flink-cdc"], &[]);
    assert_eq!(
        out.stdout,
        "  'scan.startup.mode' = 'specific-offset',\n  \
         'scan.startup.specific-offset.file' = 'binlog_transaction_with_GTID_TAG.000001',\n  \
         'scan.startup.specific-offset.pos' = '245'\n"
    );
    out.assert_stderr_has("flink-cdc: the GTID set has tags");
    let out = emit(dir, time, &["canal"], &[]);
    assert!(!out.stdout.contains("gtid"), "{}", out.stdout);
    assert!(out.stdout.contains("canal.instance.master.position=245\n"));
    out.assert_stderr_has("canal: the GTID set has tags");
    let out = emit(dir, time, &["debezium"], &[]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["offset"]["value"]["gtids"], tagged_set);
    assert!(doc["set_binlog_position_signal"].is_null());
    for (version, warned) in [("5.7.44", true), ("8.0.36", true), ("8.4.0", false)] {
        let out = emit(dir, time, &["mysql"], &["--replica-version", version]);
        assert!(
            out.stdout
                .contains(&format!("SET GLOBAL gtid_purged = '{tagged_set}';")),
            "{}",
            out.stdout
        );
        assert_eq!(
            out.stderr.contains("before 8.3 cannot take"),
            warned,
            "{version}: {}",
            out.stderr
        );
    }
}
