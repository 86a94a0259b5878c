//! `operate-source`, `start-task` and `query-status` on the real binary, for everything decided
//! before a server is contacted: DM's JSON byte for byte (tests/expected/), DM's error texts,
//! and passwords that never show. The live paths are in tests/start_task_live.rs.

use crate::support;

use std::path::Path;

use support::Scene;

/// DM's `msg` in a command's JSON reply.
fn msg(out: &support::Output) -> String {
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    json["msg"].as_str().unwrap().to_owned()
}

fn expected(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const SOURCE: &str = "\
source-id: \"mysql-replica-01\"
flavor: mariadb
enable-gtid: true
from:
  host: \"127.0.0.1\"
  port: 1
  user: \"root\"
  password: \"top-secret-pw\"
";

const TASK: &str = "\
name: test
task-mode: incremental
target-database:
  host: \"127.0.0.1\"
  port: 1
  user: \"root\"
  password: \"target-secret-pw\"
mysql-instances:
  - source-id: \"mysql-replica-01\"
";

/// yaml.v2 keeps a string field's text, so `source-id: 007` is stored as `007`, not `7` (under
/// which DM would never find the task's rows), and `password: 0123` is `0123`. And
/// `enable-gtid: on`, a YAML 1.1 boolean yaml.v2 reads, is accepted.
#[test]
fn number_like_yaml_strings_keep_their_text() {
    let scene = Scene::new();
    let text = SOURCE
        .replace("\"mysql-replica-01\"", "007")
        .replace("\"top-secret-pw\"", "0123")
        .replace("enable-gtid: true", "enable-gtid: on");
    let source = scene.file("source.yaml", &text);
    scene
        .run(&["operate-source", "create", &source])
        .assert_success();
    let show = scene.run(&["operate-source", "show", "-s", "007"]);
    show.assert_success();
    let json: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(json["sources"][0]["source"], "007", "{}", show.stdout);
    assert_eq!(
        json["sources"][0]["config"]["enable-gtid"], true,
        "{}",
        show.stdout
    );
}

#[test]
fn operate_source_stores_shows_and_stops_without_showing_passwords() {
    let scene = Scene::new();
    let source = scene.file("source.yaml", SOURCE);
    let out = scene.run(&["operate-source", "create", &source]);
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["result"], true);
    assert_eq!(json["sources"][0]["source"], "mysql-replica-01");
    assert!(
        out.stdout
            .starts_with("{\n    \"result\": true,\n    \"msg\": \"\",\n")
    );

    let again = scene.run(&["operate-source", "create", &source]);
    assert_eq!(again.code, Some(1));
    assert!(again.stdout.contains("already exists"), "{}", again.stdout);

    let show = scene.run(&["operate-source", "show"]);
    show.assert_success();
    let json: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(json["sources"][0]["config"]["from"]["password"], "******");
    assert_eq!(json["sources"][0]["config"]["flavor"], "mariadb");
    let filtered = scene.run(&["operate-source", "show", "-s", "nope"]);
    assert_eq!(filtered.code, Some(1));
    assert!(filtered.stdout.contains("source not found"));

    for out in [&out, &again, &show, &filtered] {
        assert!(!out.stdout.contains("top-secret-pw") && !out.stderr.contains("top-secret-pw"));
    }

    let stop = scene.run(&["operate-source", "stop", "mysql-replica-01"]);
    stop.assert_success();
    let stop_again = scene.run(&["operate-source", "stop", "mysql-replica-01"]);
    assert_eq!(stop_again.code, Some(1));
    assert!(stop_again.stdout.contains("does not exist"));
}

#[test]
fn operate_source_rejects_a_bad_file_naming_key_and_line() {
    let scene = Scene::new();
    let bad = scene.file(
        "bad.yaml",
        "source-id: s\nfrom:\n  host: h\n  user: u\n  port: lots\n",
    );
    let out = scene.run(&["operate-source", "create", &bad]);
    assert_eq!(out.code, Some(1));
    let msg = &msg(&out);
    assert!(
        msg.ends_with("bad.yaml:5: from.port: expected an integer, found a string"),
        "{msg}"
    );
}

#[test]
fn a_bad_start_time_is_dms_parse_error_with_no_sources() {
    let scene = Scene::new();
    let task = scene.file("task.yaml", TASK);
    let out = scene.run(&["start-task", &task, "--start-time", "20211021 000100"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, expected("start-task-bad-time.json"));
}

/// A start time with blanks around it is not trimmed: DM's pattern is anchored (`^\d{4}-…$`, tiflow
/// `dm/pkg/utils/time.go`, `ParseStartTimeInLoc`), so DM refuses it, with the whole text:
/// `TaskCliArgs.Verify`'s annotation, `": "`, then the parser's own error quoting the input as Go's
/// `%q` does.
#[test]
fn a_start_time_with_blanks_around_it_is_refused_as_dm_refuses_it() {
    let scene = Scene::new();
    let task = scene.file("task.yaml", TASK);
    let hint = "'2006-01-02 15:04:05', '2006-01-02T15:04:05', '2006-01-02 15:04:05+08:00', \
                '2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or \
                '2006-01-02T15:04:05+0800'";
    for (input, quoted) in [
        (" 2021-10-21 00:01:00", "\" 2021-10-21 00:01:00\""),
        ("2021-10-21 00:01:00\t", "\"2021-10-21 00:01:00\\t\""),
    ] {
        let out = scene.run(&["start-task", &task, "--start-time", input]);
        assert_eq!(out.code, Some(1));
        assert_eq!(
            msg(&out),
            format!(
                "error while parse start-time, expected in the format like {hint}: unsupported \
                 start-time format {quoted}, expected one of {hint}"
            )
        );
    }
}

/// `is-sharding: false` with a `shard-mode` (or `is-sharding: true` with an empty one) is
/// refused as dmctl refuses the contradiction before sending the task, judging a key set by a
/// line that begins with it (tiflow `dm/ctl/master/start_task.go`, `startTaskFunc`).
#[test]
fn is_sharding_contradicting_shard_mode_gets_dmctls_refusal() {
    let scene = Scene::new();
    for extra in [
        "is-sharding: false\nshard-mode: pessimistic\n",
        "is-sharding: false\nshard-mode: optimistic\n",
        "is-sharding: true\nshard-mode: \"\"\n",
    ] {
        let task = scene.file("task.yaml", &format!("{TASK}{extra}"));
        let out = scene.run(&["start-task", &task]);
        assert_eq!(out.code, Some(1), "{extra}");
        assert_eq!(
            msg(&out),
            "The behaviour of `is-sharding` and `shard-mode` is conflicting. `is-sharding` is \
             deprecated, please use `shard-mode` only.",
            "{extra}"
        );
    }
    // Agreeing, or one of them alone: past dmctl's check (here to the uncreated source).
    for extra in [
        "is-sharding: true\nshard-mode: pessimistic\n",
        "is-sharding: false\n",
        "shard-mode: pessimistic\n",
    ] {
        let task = scene.file("task.yaml", &format!("{TASK}{extra}"));
        let out = scene.run(&["start-task", &task]);
        assert!(msg(&out).contains("not created"), "{extra}: {}", out.stdout);
    }
}

#[test]
fn a_source_not_created_is_named() {
    let scene = Scene::new();
    let task = scene.file("task.yaml", TASK);
    let out = scene.run(&["start-task", &task]);
    assert_eq!(out.code, Some(1));
    // DM takes an empty start time for none (tiflow `dm/master/server.go`, `StartTask`:
    // `req.StartTime == ""`), so `--start-time ''` runs as a start without one.
    let empty = scene.run(&["start-task", &task, "--start-time", ""]);
    assert_eq!((empty.code, &empty.stdout), (out.code, &out.stdout));
    let msg = &msg(&out);
    assert!(
        msg.starts_with("source mysql-replica-01 not created"),
        "{msg}"
    );
    assert!(msg.contains("operate-source create"), "{msg}");
}

#[test]
fn task_file_errors_name_the_key_and_line() {
    let scene = Scene::new();
    let task = scene.file(
        "task.yaml",
        "name: test\ntask-mode: incremental\nmeta-schema: [x]\nmysql-instances:\n  - source-id: a\n",
    );
    let out = scene.run(&["start-task", &task]);
    assert_eq!(out.code, Some(1));
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        json["msg"]
            .as_str()
            .unwrap()
            .ends_with("task.yaml:3: meta-schema: expected a string, found a list"),
        "{}",
        out.stdout
    );
    let missing = scene.run(&["start-task", "/nonexistent/task.yaml"]);
    assert_eq!(missing.code, Some(1));
    assert!(missing.stdout.contains("task.yaml: cannot read it"));
}

/// A `meta` with a `binlog-gtid` DM cannot read is refused only for a start from the meta,
/// naming the key and line: with `--start-time` DM never reads `meta` (dm-master replaces it
/// with the start time's location).
#[test]
fn a_meta_dm_cannot_read_is_refused_only_without_a_start_time() {
    let scene = Scene::new();
    let task = scene.file(
        "task.yaml",
        &format!("{TASK}    meta:\n      binlog-gtid: \"not-a-gtid\"\n"),
    );
    let out = scene.run(&["start-task", &task]);
    assert_eq!(out.code, Some(1));
    let msg = msg(&out);
    assert!(
        msg.contains("task.yaml:11: mysql-instances[0].meta.binlog-gtid")
            && msg.contains("is not a GTID set DM can read"),
        "{msg}"
    );
    let out = scene.run(&["start-task", &task, "--start-time", "2021-10-21 00:01:00"]);
    assert_eq!(out.code, Some(1));
    assert!(!out.stdout.contains("binlog-gtid"), "{}", out.stdout);
    assert!(out.stdout.contains("not created"), "{}", out.stdout);
}

#[test]
fn a_task_mode_without_replication_is_refused() {
    let scene = Scene::new();
    let task = scene.file("task.yaml", &TASK.replace("incremental", "full"));
    let out = scene.run(&["start-task", &task, "--start-time", "2021-10-21 00:01:00"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("task-mode full"), "{}", out.stdout);
}

/// In `all` and `load&sync` modes DM ignores meta and, finding a sync checkpoint before the
/// dump, skips dump and load (tiflow `dm/worker/subtask.go`), so the downstream would never get
/// the full data. A sync checkpoint (from meta or --start-time) in these modes is refused, with
/// the reason, before anything is read or written.
#[test]
fn all_and_load_sync_modes_are_refused_a_sync_checkpoint() {
    let scene = Scene::new();
    for mode in ["all", "load&sync"] {
        let task = scene.file("task.yaml", &TASK.replace("incremental", mode));
        let out = scene.run(&["start-task", &task, "--start-time", "2021-10-21 00:01:00"]);
        assert_eq!(out.code, Some(1), "{mode}");
        // DM dumps (or loads) first, then syncs from the start time (tiflow
        // `dm/syncer/syncer.go`, `Run`): the refusal says so, not that it syncs from the dump.
        let first = match mode {
            "all" => {
                "DM dumps and loads the full data first and only then syncs (from \
                      --start-time, when given)"
            }
            _ => "DM loads the dumped data first and only then syncs",
        };
        assert!(
            out.stdout.contains(&format!("task-mode {mode}"))
                && out.stdout.contains(first)
                && out.stdout.contains("skip the units before sync"),
            "{}",
            out.stdout
        );
        assert!(!scene.path("state/meta").exists(), "nothing is written");
    }
}

#[test]
fn unreachable_upstream_fails_the_precheck_without_secrets() {
    let scene = Scene::new();
    let source = scene.file("source.yaml", SOURCE);
    scene
        .run(&["operate-source", "create", &source])
        .assert_success();
    let task = scene.file("task.yaml", TASK);
    let out = scene.run(&[
        "--rpc-timeout",
        "5s",
        "start-task",
        &task,
        "--meta-store",
        "downstream",
        "--start-time",
        "2021-10-21 00:01:00",
    ]);
    assert_eq!(out.code, Some(1));
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["result"], false);
    assert_eq!(json["sources"], serde_json::json!([]));
    let check = json["checkResult"].as_str().unwrap();
    assert!(
        check.starts_with(
            "[code=26005:class=dm-master:scope=internal:level=medium], Message: fail to check \
             synchronization configuration with type: check was failed, please see detail\n \
             detail: {\n\t\t\"results\": ["
        ),
        "{check}"
    );
    assert!(
        check.contains("source mysql-replica-01: 127.0.0.1:1"),
        "{check}"
    );
    assert!(check.contains("target_db_connection"), "{check}");
    for secret in ["top-secret-pw", "target-secret-pw"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
    // Nothing was written: no task record, no store.
    let status = scene.run(&["query-status", "test"]);
    assert_eq!(status.code, Some(1));
    assert!(
        status
            .stdout
            .contains("task test has no source or not exist"),
        "{}",
        status.stdout
    );
    assert!(!Path::new(&scene.state()).join("meta").exists());
}
