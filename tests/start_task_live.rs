//! start-task end to end on the real binary, against private MariaDB servers the test starts:
//! an upstream with the fixture history (simulated clock from 2030-03-30 23:00 UTC, server time
//! zone UTC) and a downstream holding DM's checkpoint table. Expected locations come from the
//! local resolver on a copy of the upstream's binlogs (itself checked against the server).

use crate::support;

use std::path::Path;
use std::time::Duration;

use mysql_async::prelude::*;
use startpoint::resolve::{GtidMode, Request, resolve_files};
use startpoint::source::local::BinlogDir;
use startpoint::start_time::{StartTime, Zone};
use startpoint::task::dm::default_worker;
use startpoint::testkit::fixtures::server_with_history;
use startpoint::testkit::mariadb::{MariaDb, ServerConfig};
use startpoint::testkit::workload::FIXTURE_MAX_BINLOG_SIZE;
use startpoint::unit::TimeBasis;
use support::{Output, Scene};

pub(crate) const SOURCE_ID: &str = "mysql-replica-01";
pub(crate) const TASK: &str = "acceptance";

/// The upstream with history (server time zone UTC) and a copy of its binlogs.
pub(crate) struct Upstream {
    pub(crate) server: MariaDb,
    pub(crate) binlogs: BinlogDir,
    _copy: tempfile::TempDir,
}

pub(crate) async fn upstream() -> Upstream {
    let (server, copy, binlogs) = server_with_history(&ServerConfig {
        max_binlog_size: FIXTURE_MAX_BINLOG_SIZE,
        env: vec![("TZ".into(), "UTC".into())],
        ..ServerConfig::default()
    })
    .await
    .expect("an upstream with the fixture history");
    Upstream {
        server,
        binlogs,
        _copy: copy,
    }
}

/// (binlog_name, binlog_pos, binlog_gtid) the local resolver gives for a UTC time.
pub(crate) fn expected_at(binlogs: &BinlogDir, utc: &str) -> (String, u32, String) {
    let instant = StartTime::parse(utc)
        .unwrap()
        .resolve(&Zone::parse("UTC").unwrap())
        .unwrap()
        .instant_us;
    let resolution = resolve_files(
        binlogs,
        &Request {
            start_us: instant,
            basis: TimeBasis::Commit,
            gtid: GtidMode::Auto,
        },
    )
    .unwrap();
    let location = resolution.location.clone().unwrap();
    (location.file, location.pos as u32, resolution.gtid_text())
}

/// A source DM reads through its relay log, kept in `relay`.
fn relay_source_yaml(id: &str, port: u16, relay: &std::path::Path) -> String {
    source_yaml(
        id,
        port,
        "root",
        "",
        &format!("enable-relay: true\nrelay-dir: \"{}\"\n", relay.display()),
    )
}

pub(crate) fn source_yaml(id: &str, port: u16, user: &str, password: &str, extra: &str) -> String {
    format!(
        "source-id: \"{id}\"\nflavor: mariadb\nenable-gtid: true\n{extra}from:\n  host: \
         \"127.0.0.1\"\n  port: {port}\n  user: \"{user}\"\n  password: \"{password}\"\n"
    )
}

pub(crate) fn task_yaml(name: &str, sources: &[&str], downstream_port: u16) -> String {
    let mut text = format!(
        "name: {name}\ntask-mode: incremental\nmeta-schema: dm_meta\ntarget-database:\n  host: \
         \"127.0.0.1\"\n  port: {downstream_port}\n  user: \"root\"\n  password: \"\"\n\
         mysql-instances:\n"
    );
    for source in sources {
        text.push_str(&format!(
            "  - source-id: \"{source}\"\n    block-allow-list: \"global\"\n"
        ));
    }
    text.push_str("block-allow-list:\n  global:\n    do-dbs: [\"shop\"]\n");
    text
}

/// `text` (from [`task_yaml`]) with `keys` (lines indented for an instance) added to every
/// instance.
pub(crate) fn with_instance_keys(text: &str, keys: &str) -> String {
    let instance = "    block-allow-list: \"global\"\n";
    text.replace(instance, &format!("{instance}{keys}"))
}

/// `start-task --meta-store downstream EXTRA… --start-time TIME TASK` in `scene`.
pub(crate) fn start_downstream(scene: &Scene, task: &str, extra: &[&str], time: &str) -> Output {
    let mut args = vec!["start-task", "--meta-store", "downstream"];
    args.extend_from_slice(extra);
    args.extend(["--start-time", time, task]);
    scene.run(&args)
}

/// start-task's `msg` after writing task `TASK` to the downstream at `port`.
fn written_msg(port: u16) -> String {
    format!(
        "checkpoint written to `dm_meta`.`{TASK}_syncer_checkpoint` in the target database at \
         127.0.0.1:{port}, where DM reads it when the task starts; a DM task {TASK} still \
         running or paused would overwrite it at its next flush: stop it (dmctl stop-task \
         {TASK}) and start it again"
    )
}

fn expected_json(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("__WORKER__", &default_worker())
}

/// One row of the checkpoint table, as strings, in DM's column order.
pub(crate) type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<u32>,
    Option<String>,
    Option<String>,
    Option<u32>,
    Option<String>,
    String,
    i64,
);

pub(crate) async fn rows(downstream: &MariaDb, task: &str) -> Vec<Row> {
    let mut conn = downstream.connect().await.unwrap();
    let rows = conn
        .query(format!(
            "SELECT id, cp_schema, cp_table, binlog_name, binlog_pos, binlog_gtid, \
             exit_safe_binlog_name, exit_safe_binlog_pos, exit_safe_binlog_gtid, \
             CAST(table_info AS CHAR), is_global FROM dm_meta.{task}_syncer_checkpoint \
             ORDER BY id, cp_schema, cp_table"
        ))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    rows
}

pub(crate) fn global(rows: &[Row], source: &str) -> Row {
    rows.iter()
        .find(|r| r.0 == source && r.10 == 1)
        .cloned()
        .unwrap_or_else(|| panic!("no global row for {source} in {rows:?}"))
}

pub(crate) fn checkpoint(row: &Row) -> (String, u32, String) {
    (
        row.3.clone().unwrap_or_default(),
        row.4.unwrap_or_default(),
        row.5.clone().unwrap_or_default(),
    )
}

pub(crate) fn exit_point(row: &Row) -> (String, u32, String) {
    (
        row.6.clone().unwrap_or_default(),
        row.7.unwrap_or_default(),
        row.8.clone().unwrap_or_default(),
    )
}

/// A scene with the upstream created as source `SOURCE_ID` (root, no password) and a task file
/// `TASK` reading it into the downstream at `downstream_port`; the task file's path.
pub(crate) fn one_source_task(up: &Upstream, downstream_port: u16) -> (Scene, String) {
    one_source_task_as(up.server.port(), "root", "", downstream_port)
}

/// A scene with one source (the upstream on `up_port`, as `user`) and a task file for it.
fn one_source_task_as(
    up_port: u16,
    user: &str,
    password: &str,
    downstream_port: u16,
) -> (Scene, String) {
    let scene = Scene::new();
    scene.create_source(
        "source.yaml",
        &source_yaml(SOURCE_ID, up_port, user, password, ""),
    );
    let task = scene.file("task.yaml", &task_yaml(TASK, &[SOURCE_ID], downstream_port));
    (scene, task)
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{}", out.stdout, out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_task_with_a_downstream_meta_store() {
    let up = upstream().await;
    let downstream = MariaDb::start().expect("start the downstream mariadbd");
    let (scene, task) = one_source_task(&up, downstream.port());
    let start = |time: &str| start_downstream(&scene, &task, &[], time);

    // Fresh start at T1: the checkpoint is T1's resolution, no exit point.
    let t1 = "2030-03-31 00:30:00";
    let out = start(t1);
    out.assert_success();
    assert_eq!(
        out.stdout,
        expected_json("start-task-ok.json").replace("__MSG__", &written_msg(downstream.port())),
        "{}",
        out.stderr
    );
    let table = rows(&downstream, TASK).await;
    assert_eq!(table.len(), 1, "{table:?}");
    let row = global(&table, SOURCE_ID);
    assert_eq!((row.1.as_str(), row.2.as_str()), ("", ""));
    assert_eq!((row.9.as_str(), row.10), ("null", 1));
    assert_eq!(checkpoint(&row), expected_at(&up.binlogs, t1));
    assert_eq!(exit_point(&row), (String::new(), 0, String::new()));

    // DM's DDL, exactly.
    let mut conn = downstream.connect().await.unwrap();
    let ddl: Option<(String, String)> = conn
        .query_first(format!(
            "SHOW CREATE TABLE dm_meta.{TASK}_syncer_checkpoint"
        ))
        .await
        .unwrap();
    let ddl = ddl.unwrap().1;
    for column in [
        "`exit_safe_binlog_name` varchar(128) DEFAULT ''",
        "`exit_safe_binlog_pos` int(10) unsigned DEFAULT 0",
        "`update_time` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp()",
        "UNIQUE KEY `uk_id_schema_table` (`id`,`cp_schema`,`cp_table`)",
    ] {
        assert!(ddl.contains(column), "{column} not in {ddl}");
    }

    // Replication progresses to L2 (as DM's syncer would write it), with a table checkpoint.
    let l2 = expected_at(&up.binlogs, "2030-03-31 02:00:00");
    conn.exec_drop(
        format!(
            "UPDATE dm_meta.{TASK}_syncer_checkpoint SET binlog_name = ?, binlog_pos = ?, \
             binlog_gtid = ? WHERE id = ? AND is_global = 1"
        ),
        (&l2.0, l2.1, &l2.2, SOURCE_ID),
    )
    .await
    .unwrap();
    conn.query_drop(format!(
        "INSERT INTO dm_meta.{TASK}_syncer_checkpoint (id, cp_schema, cp_table, binlog_name, \
         binlog_pos, binlog_gtid, table_info, is_global) VALUES ('{SOURCE_ID}', 'shop', \
         'orders', '{}', {}, '{}', '{{}}', 0)",
        l2.0, l2.1, l2.2
    ))
    .await
    .unwrap();

    // Start at T0 < L2. DM wrote the row after startpoint did: refused, nothing written,
    // until the user says the task is stopped.
    let t0 = "2030-03-31 00:10:00";
    let before = rows(&downstream, TASK).await;
    let out = start(t0);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let msg = json(&out)["msg"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("written by someone other than startpoint")
            && msg.contains(&format!("dmctl stop-task {TASK}"))
            && msg.contains("--task-stopped"),
        "{msg}"
    );
    assert_eq!(rows(&downstream, TASK).await, before, "nothing is written");
    // The task stopped: checkpoint at T0, safe mode until L2, table checkpoints gone.
    let out = scene.run(&[
        "start-task",
        "--meta-store",
        "downstream",
        "--task-stopped",
        "--start-time",
        t0,
        &task,
    ]);
    out.assert_success();
    assert_eq!(
        out.stdout,
        expected_json("start-task-ok.json").replace("__MSG__", &written_msg(downstream.port()))
    );
    assert!(out.stderr.contains("safe mode until"), "{}", out.stderr);
    let table = rows(&downstream, TASK).await;
    assert_eq!(table.len(), 1, "table checkpoints must go: {table:?}");
    let row = global(&table, SOURCE_ID);
    assert_eq!(checkpoint(&row), expected_at(&up.binlogs, t0));
    assert_eq!(exit_point(&row), l2);

    // Start after L2: no window, and a warning that binlog is skipped.
    let t3 = "2030-03-31 02:30:00";
    let out = start(t3);
    out.assert_success();
    let answer = json(&out);
    assert_eq!(answer["result"], true);
    let msg = answer["sources"][0]["msg"].as_str().unwrap();
    assert!(msg.contains("is after the task's checkpoint"), "{msg}");
    assert!(msg.contains("skipped"), "{msg}");
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(checkpoint(&row), expected_at(&up.binlogs, t3));
    assert_eq!(exit_point(&row), (String::new(), 0, String::new()));

    // Too late: DM's text, nothing changes, non-zero exit.
    let before = rows(&downstream, TASK).await;
    let out = start("2031-01-01 00:00:00");
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, expected_json("start-task-too-late.json"));
    assert_eq!(rows(&downstream, TASK).await, before);

    // Too early: the earliest location, result true, a warning.
    let out = start("2020-01-01 00:00:00");
    out.assert_success();
    let msg = json(&out)["sources"][0]["msg"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("is too early, will use the earliest binlog location"),
        "{msg}"
    );
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(checkpoint(&row).0, up.binlogs.files[0].name);
    assert_eq!(checkpoint(&row).1, 4);

    // query-status: the checkpoint and how it was set.
    let status = scene.run(&["query-status", TASK]);
    status.assert_success();
    let status = json(&status);
    crate::json_contract::assert_valid("query-status", &status);
    let subtask = &status["sources"][0]["subTaskStatus"][0];
    let source = &subtask["startpoint"];
    assert_eq!(source["metaStore"], "downstream");
    assert_eq!(source["checkpoint"]["binlog_pos"], 4);
    // DM's own fields say the same (syncerBinlog is go-mysql's Position.String()).
    let name = source["checkpoint"]["binlog_name"].as_str().unwrap();
    assert_eq!(
        subtask["sync"]["syncerBinlog"],
        format!("({name}, 4)").as_str()
    );
    assert_eq!(subtask["stage"], "Stopped");
    assert!(
        source["setBy"]["how"]
            .as_str()
            .unwrap()
            .starts_with("start-time 2020-01-01 00:00:00 in the server's time zone"),
        "{source}"
    );

    // --dry-run: prints the statements, writes nothing.
    let before = rows(&downstream, TASK).await;
    let out = scene.run(&[
        "start-task",
        "--meta-store",
        "downstream",
        "--dry-run",
        "--start-time",
        t1,
        &task,
    ]);
    out.assert_success();
    assert!(out.stderr.contains("would run:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("ON DUPLICATE KEY UPDATE"),
        "{}",
        out.stderr
    );
    assert_eq!(
        json(&out)["msg"],
        format!(
            "dry run: nothing was written; the write would go to the target database at \
             127.0.0.1:{}",
            downstream.port()
        )
    );
    assert_eq!(rows(&downstream, TASK).await, before);

    // Without --start-time, an existing checkpoint is kept as it is.
    let out = scene.run(&["start-task", "--meta-store", "downstream", &task]);
    out.assert_success();
    assert!(
        out.stderr.contains("resumes from its checkpoint"),
        "{}",
        out.stderr
    );
    assert_eq!(rows(&downstream, TASK).await, before);

    // --remove-meta: DM's other meta tables of the task go, the checkpoint is T1's again with
    // no exit point, and the log starts over.
    for table in ["loader_checkpoint", "onlineddl", "syncer_sharding_meta"] {
        conn.query_drop(format!(
            "CREATE TABLE dm_meta.{TASK}_{table} (id INT PRIMARY KEY)"
        ))
        .await
        .unwrap();
    }
    let out = scene.run(&[
        "start-task",
        "--meta-store",
        "downstream",
        "--remove-meta",
        "--start-time",
        t0,
        &task,
    ]);
    out.assert_success();
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(checkpoint(&row), expected_at(&up.binlogs, t0));
    assert_eq!(exit_point(&row), (String::new(), 0, String::new()));
    let left: Vec<String> = conn
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'dm_meta' \
             ORDER BY table_name",
        )
        .await
        .unwrap();
    assert_eq!(
        left,
        [
            format!("{TASK}_startpoint_log"),
            format!("{TASK}_syncer_checkpoint")
        ]
    );
    let log: Vec<String> = conn
        .query(format!("SELECT how FROM dm_meta.{TASK}_startpoint_log"))
        .await
        .unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    conn.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_cleanly_and_writes_nothing() {
    let up = MariaDb::start().expect("start the upstream mariadbd");
    let downstream = MariaDb::start().expect("start the downstream mariadbd");
    let mut conn = up.connect().await.unwrap();
    conn.query_drop(
        "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'right-password'; \
         GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'127.0.0.1'",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
    let (scene, task) =
        one_source_task_as(up.port(), "repl", "wrong-password-here", downstream.port());
    let out = scene.run(&[
        "start-task",
        "--meta-store",
        "downstream",
        "--start-time",
        "2030-03-31 00:30:00",
        &task,
    ]);
    assert_eq!(out.code, Some(1));
    let answer = json(&out);
    assert_eq!(answer["result"], false);
    assert_eq!(answer["sources"], serde_json::json!([]));
    let check = answer["checkResult"].as_str().unwrap();
    assert!(check.contains("access denied for user repl"), "{check}");
    assert!(
        check.contains("check from.user and from.password"),
        "{check}"
    );
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("wrong-password-here") && !text.contains("right-password"));
    }
    let mut conn = downstream.connect().await.unwrap();
    let schemas: Vec<String> = conn.query("SHOW DATABASES LIKE 'dm_meta'").await.unwrap();
    assert!(schemas.is_empty(), "nothing may be written: {schemas:?}");
    conn.disconnect().await.unwrap();

    // With the right password but without BINLOG MONITOR the precheck names the privilege.
    let mut conn = up.connect().await.unwrap();
    conn.query_drop("REVOKE BINLOG MONITOR ON *.* FROM 'repl'@'127.0.0.1'")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    scene
        .run(&["operate-source", "stop", SOURCE_ID])
        .assert_success();
    scene.create_source(
        "source2.yaml",
        &source_yaml(SOURCE_ID, up.port(), "repl", "right-password", ""),
    );
    let out = scene.run(&["start-task", "--start-time", "2030-03-31 00:30:00", &task]);
    assert_eq!(out.code, Some(1));
    let check = json(&out)["checkResult"].as_str().unwrap().to_owned();
    assert!(check.contains("lacks BINLOG MONITOR"), "{check}");
    assert!(
        check.contains("\"instruction\": \"GRANT BINLOG MONITOR"),
        "{check}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_relay_directory_and_concurrent_runs() {
    let up = upstream().await;
    let scene = Scene::new();

    // A DM relay directory holding the upstream's files in two sub-directories.
    let relay = scene.path("relay");
    let uuid = "0b8d2c3a-1111-11ee-8c99-0242ac120002";
    let half = up.binlogs.files.len() / 2;
    let mut index = String::new();
    for (n, files) in [&up.binlogs.files[..half], &up.binlogs.files[half..]]
        .iter()
        .enumerate()
    {
        let sub = format!("{uuid}.{:06}", n + 1);
        std::fs::create_dir_all(relay.join(&sub)).unwrap();
        let mut names = String::new();
        for file in *files {
            std::fs::copy(&file.path, relay.join(&sub).join(&file.name)).unwrap();
            names.push_str(&format!("{}\n", file.name));
        }
        std::fs::write(relay.join(&sub).join("mysql-bin.index"), names).unwrap();
        index.push_str(&format!("{sub}\n"));
    }
    std::fs::write(relay.join("server-uuid.index"), index).unwrap();
    scene.create_source(
        "source.yaml",
        &relay_source_yaml(SOURCE_ID, up.server.port(), &relay),
    );
    let task = scene.file("task.yaml", &task_yaml(TASK, &[SOURCE_ID], 1));

    let late = "2030-03-31 02:30:00";
    let out = scene.run(&["start-task", "--start-time", late, &task]);
    out.assert_success();
    assert!(
        out.stderr.contains("from the relay directory"),
        "{}",
        out.stderr
    );
    let (file, pos, gtid) = expected_at(&up.binlogs, late);
    let status = json(&scene.run(&["query-status", TASK]));
    let stored = &status["sources"][0]["subTaskStatus"][0]["startpoint"];
    assert_eq!(stored["metaStore"], "embedded");
    let stored = &stored["checkpoint"];
    // DM's relay naming: base|<sub-directory suffix>.seq.
    let subdir = if up.binlogs.files[..half].iter().any(|f| f.name == file) {
        "000001"
    } else {
        "000002"
    };
    let (base, seq) = file.rsplit_once('.').unwrap();
    assert_eq!(stored["binlog_name"], format!("{base}|{subdir}.{seq}"));
    assert_eq!(stored["binlog_pos"], pos);
    assert_eq!(stored["binlog_gtid"], gtid);
    assert!(scene.path("state/meta/dm_meta.sqlite3").exists());

    // dmctl's other ways to ask (dm/ctl/master/query_status.go): the task file names the task;
    // nothing at all gives dmctl's summary of every task; --more and -s the full reply.
    let by_file = json(&scene.run(&["query-status", &task]));
    assert_eq!(by_file, status);
    let all = scene.run(&["query-status"]);
    all.assert_success();
    crate::json_contract::assert_valid("query-status", &json(&all));
    assert_eq!(
        json(&all),
        serde_json::json!({"result": true, "msg": "", "tasks": [
            {"taskName": TASK, "taskStatus": "Stopped", "sources": [SOURCE_ID]}
        ]})
    );
    let more = json(&scene.run(&["query-status", "--more"]));
    assert_eq!(more, status);
    let other = scene.run(&["-s", "no-such-source", "query-status", TASK]);
    assert_eq!(other.code, Some(1));
    let other = json(&other);
    crate::json_contract::assert_valid("query-status", &other);
    assert_eq!(
        other["sources"][0]["msg"],
        "source not found in task's config"
    );

    // Two runs of the same task at once: the second waits for the first; both land, one after
    // the other, and the state is one of theirs, whole.
    let state = scene.path("state").display().to_string();
    let spawn = |time: &str| {
        support::command()
            .args([
                "--state-dir",
                &state,
                "start-task",
                "--start-time",
                time,
                &task,
            ])
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("2030-03-31 00:10:00"));
        std::thread::sleep(Duration::from_millis(5));
        let b = s.spawn(|| spawn("2030-03-31 02:00:00"));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let status = json(&scene.run(&["query-status", TASK]));
    let stored = &status["sources"][0]["subTaskStatus"][0]["startpoint"];
    let name = stored["checkpoint"]["binlog_name"]
        .as_str()
        .unwrap()
        .to_owned();
    let how = stored["setBy"]["how"].as_str().unwrap();
    let candidates = ["2030-03-31 00:10:00", "2030-03-31 02:00:00"];
    let winner = candidates
        .iter()
        .find(|t| how.starts_with(&format!("start-time {t}")))
        .unwrap_or_else(|| panic!("{how}"));
    let (file, _, _) = expected_at(&up.binlogs, winner);
    assert!(
        name.ends_with(&file[file.rfind('.').unwrap()..]),
        "{name} vs {file}"
    );
}

/// A relay directory that is missing or unreadable (`enable-relay: true`, `relay-dir` on another
/// host or relative) is where DM would read, so start-task does not pass over it in silence: the
/// answer still comes from the upstream, and DM's `msg` and the notes say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_directory_that_cannot_be_read_is_named_not_passed_over() {
    let up = upstream().await;
    let scene = Scene::new();
    let missing = scene.path("no-such-relay");
    scene.create_source(
        "source.yaml",
        &relay_source_yaml(SOURCE_ID, up.server.port(), &missing),
    );
    let task = scene.file("task.yaml", &task_yaml(TASK, &[SOURCE_ID], 1));
    let late = "2030-03-31 02:30:00";
    let out = scene.run(&["start-task", "--start-time", late, &task]);
    out.assert_success();
    let reply = json(&out);
    let msg = reply.to_string();
    assert!(
        msg.contains("relay-dir")
            && msg.contains("no-such-relay")
            && msg.contains("cannot be used"),
        "{msg}"
    );
    assert!(out.stderr.contains("from the upstream"), "{}", out.stderr);
    let (file, pos, _) = expected_at(&up.binlogs, late);
    let status = json(&scene.run(&["query-status", TASK]));
    let stored = &status["sources"][0]["subTaskStatus"][0]["startpoint"]["checkpoint"];
    assert_eq!(stored["binlog_name"], file);
    assert_eq!(stored["binlog_pos"], pos);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_source_means_nothing_is_written_and_task_timezone_moves_nothing() {
    let up = upstream().await;
    let scene = Scene::new();
    // Source 02 reads a relay directory holding only the oldest files: a late start time is
    // too late there, though not on the live upstream source 01 reads.
    let relay = scene.path("relay");
    let sub = "0b8d2c3a-1111-11ee-8c99-0242ac120002.000001";
    std::fs::create_dir_all(relay.join(sub)).unwrap();
    for file in &up.binlogs.files[..2] {
        std::fs::copy(&file.path, relay.join(sub).join(&file.name)).unwrap();
    }
    std::fs::write(relay.join("server-uuid.index"), format!("{sub}\n")).unwrap();
    scene.create_source(
        "one.yaml",
        &source_yaml(SOURCE_ID, up.server.port(), "root", "", ""),
    );
    scene.create_source(
        "two.yaml",
        &relay_source_yaml("mysql-replica-02", up.server.port(), &relay),
    );
    let task = scene.file(
        "task.yaml",
        &task_yaml(TASK, &[SOURCE_ID, "mysql-replica-02"], 1),
    );
    let out = scene.run(&["start-task", "--start-time", "2030-03-31 02:30:00", &task]);
    assert_eq!(out.code, Some(1));
    let answer = json(&out);
    assert_eq!(answer["result"], false);
    assert_eq!(answer["sources"][0]["result"], true);
    assert_eq!(answer["sources"][1]["result"], false);
    assert!(
        answer["sources"][1]["msg"]
            .as_str()
            .unwrap()
            .starts_with("[code=20057:"),
        "{answer}"
    );
    assert!(!scene.path("state/meta").exists(), "nothing may be written");
    let status = scene.run(&["query-status", TASK]);
    assert_eq!(status.code, Some(1));

    // -s picks the source that can start. A bare time is read in the upstream's zone, as DM
    // reads it (tiflow #5471), not in the task's `timezone`, which is the downstream session's
    // (read there, it would be an hour early here: 01:30 UTC).
    let task = scene.file(
        "task-tz.yaml",
        &format!(
            "timezone: \"+01:00\"\n{}",
            task_yaml(TASK, &[SOURCE_ID, "mysql-replica-02"], 1)
        ),
    );
    let out = scene.run(&[
        "start-task",
        "-s",
        SOURCE_ID,
        "--dry-run",
        "--start-time",
        "2030-03-31 02:30:00",
        &task,
    ]);
    out.assert_success();
    let (file, pos, gtid) = expected_at(&up.binlogs, "2030-03-31 02:30:00");
    assert!(
        out.stderr
            .contains(&format!("starts at {file}:{pos} ({gtid})")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("UTC+01:00"), "{}", out.stderr);
    assert_eq!(json(&out)["sources"].as_array().unwrap().len(), 1);
    assert!(
        !scene.path("state/meta").exists(),
        "a dry run writes nothing"
    );
}

/// Every checkpoint row of a task without its timestamps: (id, schema, table, checkpoint,
/// exit point), from the downstream or the embedded store.
type Snapshot = Vec<(
    String,
    String,
    String,
    (String, u32, String),
    (String, u32, String),
)>;

async fn snapshot(store: &str, downstream: &MariaDb, scene: &Scene) -> Snapshot {
    let rows: Vec<Row> = if store == "downstream" {
        let mut conn = downstream.connect().await.unwrap();
        let exists: Vec<String> = conn
            .query(format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = \
                 'dm_meta' AND table_name = '{TASK}_syncer_checkpoint'"
            ))
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
        if exists.is_empty() {
            return Vec::new();
        }
        rows(downstream, TASK).await
    } else {
        let path = scene.path("state/meta/dm_meta.sqlite3");
        if !path.exists() {
            return Vec::new();
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT id, cp_schema, cp_table, binlog_name, binlog_pos, binlog_gtid, \
                 exit_safe_binlog_name, exit_safe_binlog_pos, exit_safe_binlog_gtid, \
                 CAST(table_info AS TEXT), is_global FROM \"{TASK}_syncer_checkpoint\" \
                 ORDER BY id, cp_schema, cp_table"
            ))
            .unwrap();
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    rows.iter()
        .map(|r| {
            (
                r.0.clone(),
                r.1.clone(),
                r.2.clone(),
                checkpoint(r),
                exit_point(r),
            )
        })
        .collect()
}

/// start-task killed at every crash point, and by SIGKILL at random moments, with either meta
/// store: the checkpoint is the old one or the new one, whole; the next run is not blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_point_leaves_the_old_or_the_new_checkpoint() {
    use startpoint::crashpoint::{POINTS, VARIABLE};
    let up = upstream().await;
    let downstream = MariaDb::start().expect("start the downstream mariadbd");
    let (scene, task) = one_source_task(&up, downstream.port());
    let times = ["2030-03-31 00:10:00", "2030-03-31 02:00:00"];
    for store in ["downstream", "embedded"] {
        let start = |time: &str, crash: Option<&str>| {
            let env: Vec<(&str, &str)> = crash.map(|p| (VARIABLE, p)).into_iter().collect();
            scene.run_env(
                &[
                    "start-task",
                    "--meta-store",
                    store,
                    "--start-time",
                    time,
                    &task,
                ],
                &env,
            )
        };
        start(times[0], None).assert_success();
        let mut current = 0;
        let mut old = snapshot(store, &downstream, &scene).await;
        // What the store holds after a clean move to times[i] from the other time.
        let mut arrived: [Option<Snapshot>; 2] = [None, None];
        for point in POINTS {
            let other = 1 - current;
            let out = start(times[other], Some(point));
            let committed = matches!(*point, "store-after-commit" | "state-before-task-record");
            assert_eq!(
                out.code, None,
                "{store}: {point} not reached:\n{}",
                out.stderr
            );
            let after = snapshot(store, &downstream, &scene).await;
            // The clean run from the same old state gives the new one.
            if committed {
                // Put the old state back first: the crashed run already moved it.
                start(times[current], None).assert_success();
            }
            start(times[other], None).assert_success();
            let new = snapshot(store, &downstream, &scene).await;
            assert_ne!(
                old, new,
                "{store}: the two times must store different checkpoints"
            );
            if committed {
                assert_eq!(after, new, "{store}: killed at {point} after the commit");
            } else {
                assert_eq!(after, old, "{store}: killed at {point} before the commit");
            }
            let status = scene.run(&["query-status", TASK]);
            status.assert_success();
            arrived[other] = Some(new.clone());
            old = new;
            current = other;
        }
        // SIGKILL at moments spread over a run.
        let state = scene.state();
        for round in 0..10u64 {
            let other = 1 - current;
            let mut child = support::command()
                .args([
                    "--state-dir",
                    &state,
                    "start-task",
                    "--meta-store",
                    store,
                    "--start-time",
                    times[other],
                    &task,
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(15 + round * 20));
            let _ = child.kill();
            let _ = child.wait();
            let after = snapshot(store, &downstream, &scene).await;
            if Some(&after) == arrived[other].as_ref() {
                current = other;
            } else {
                assert_eq!(
                    Some(&after),
                    arrived[current].as_ref(),
                    "{store}: SIGKILL after {} ms left a checkpoint that is neither",
                    15 + round * 20
                );
            }
        }
        // The next run is not blocked by a lock or a journal the killed ones left.
        start(times[1 - current], None).assert_success();
    }
}

/// No password, right or wrong, appears in any output, state file or stored row, whatever
/// fails: bad passwords upstream and downstream, unreachable servers, bad YAML around a
/// password, a crash, URLs with passwords.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_in_any_output_state_file_or_row() {
    const UP: &str = "Up-S3cret-9f7e";
    const DOWN: &str = "Down-S3cret-4c2a";
    const WRONG: &str = "Wrong-S3cret-88d1";
    const IN_BAD_YAML: &str = "Yaml-S3cret-0a1b";
    let secrets = [UP, DOWN, WRONG, IN_BAD_YAML];
    let up = upstream().await;
    let downstream = MariaDb::start().expect("start the downstream mariadbd");
    for (server, user, password) in [(&up.server, "app", UP), (&downstream, "writer", DOWN)] {
        let mut conn = server.connect().await.unwrap();
        conn.query_drop(format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{user}'@'127.0.0.1'"
        ))
        .await
        .unwrap();
        conn.disconnect().await.unwrap();
    }
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let scene = Scene::new();
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut run = |what: &str, args: &[&str], env: &[(&str, &str)]| {
        // resolve-position keeps no state: --state-dir is not its flag.
        let out = match args.contains(&"resolve-position") {
            true => support::startpoint_env(args, env),
            false => scene.run_env(args, env),
        };
        outputs.push((what.to_owned(), out));
    };
    let source = scene.file(
        "source.yaml",
        &source_yaml(SOURCE_ID, up.server.port(), "app", UP, ""),
    );
    let wrong_source = scene.file(
        "wrong.yaml",
        &source_yaml("mysql-replica-02", up.server.port(), "app", WRONG, ""),
    );
    let bad_yaml_source = scene.file(
        "bad.yaml",
        &format!(
            "source-id: bad\nfrom:\n  host: 127.0.0.1\n  user: app\n  password: [\"{IN_BAD_YAML}\"]\n"
        ),
    );
    let unterminated = scene.file(
        "unterminated.yaml",
        &format!("source-id: bad2\nfrom:\n  host: 127.0.0.1\n  password: \"{IN_BAD_YAML}\n"),
    );
    let target = |port: u16, password: &str| {
        format!(
            "name: {TASK}\ntask-mode: incremental\nmeta-schema: dm_meta\ntarget-database:\n  \
             host: \"127.0.0.1\"\n  port: {port}\n  user: \"writer\"\n  password: \"{password}\"\n\
             mysql-instances:\n  - source-id: \"{SOURCE_ID}\"\n"
        )
    };
    let task = scene.file("task.yaml", &target(downstream.port(), DOWN));
    let both = scene.file(
        "both.yaml",
        &format!(
            "{}  - source-id: \"mysql-replica-02\"\n",
            target(downstream.port(), DOWN)
        ),
    );
    let wrong_down = scene.file("wrong-down.yaml", &target(downstream.port(), WRONG));
    let closed_down = scene.file("closed-down.yaml", &target(closed_port, WRONG));
    let bad_task = scene.file(
        "bad-task.yaml",
        &target(downstream.port(), DOWN).replace(
            &format!("password: \"{DOWN}\""),
            &format!("password: {{nested: \"{IN_BAD_YAML}\"}}"),
        ),
    );
    let late = "2030-03-31 02:00:00";
    run("create", &["operate-source", "create", &source], &[]);
    run(
        "create wrong",
        &["operate-source", "create", &wrong_source],
        &[],
    );
    run(
        "create bad",
        &["operate-source", "create", &bad_yaml_source],
        &[],
    );
    run(
        "create unterminated",
        &["operate-source", "create", &unterminated],
        &[],
    );
    run("show", &["operate-source", "show"], &[]);
    let downstream_args = [
        "start-task",
        "--meta-store",
        "downstream",
        "--start-time",
        late,
    ];
    let with = |file: &str| {
        let mut args = downstream_args.to_vec();
        args.push(file);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    for (what, file) in [
        ("start", &task),
        ("one wrong source", &both),
        ("wrong downstream password", &wrong_down),
        ("closed downstream", &closed_down),
        ("bad task yaml", &bad_task),
    ] {
        let args = with(file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(what, &args, &[]);
    }
    let args = with(&task);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(
        "crash",
        &args,
        &[("STARTPOINT_CRASH_AT", "store-mid-write")],
    );
    args.insert(1, "--dry-run");
    run("dry run", &args, &[]);
    run(
        "embedded",
        &["start-task", "--start-time", late, &task],
        &[],
    );
    run("status", &["query-status", TASK], &[]);
    let port = up.server.port();
    for (what, url) in [
        ("url", format!("mysql://app:{UP}@127.0.0.1:{port}/")),
        (
            "url wrong",
            format!("mysql://app:{WRONG}@127.0.0.1:{port}/"),
        ),
        (
            "url closed",
            format!("mysql://app:{WRONG}@127.0.0.1:{closed_port}/"),
        ),
    ] {
        run(
            what,
            &[
                "--rpc-timeout",
                "5s",
                "resolve-position",
                "--url",
                &url,
                "--start-time",
                late,
                "--output",
                "json",
                "--explain",
            ],
            &[],
        );
    }
    run(
        "source config",
        &[
            "resolve-position",
            "--source-config",
            &source,
            "--start-time",
            late,
            "--explain",
        ],
        &[],
    );
    run("stop", &["operate-source", "stop", SOURCE_ID], &[]);

    // The runs did what they should (a sanity check that the failures really happened).
    let code = |what: &str| outputs.iter().find(|o| o.0 == what).unwrap().1.code;
    assert_eq!(code("start"), Some(0));
    assert_eq!(code("url"), Some(0));
    for failing in [
        "create bad",
        "create unterminated",
        "one wrong source",
        "wrong downstream password",
        "closed downstream",
        "bad task yaml",
        "url wrong",
        "url closed",
    ] {
        assert_ne!(code(failing), Some(0), "{failing} should fail");
    }
    assert_eq!(code("crash"), None);

    for (what, out) in &outputs {
        for secret in secrets {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{what}: a password in the output:\n{}\n{}",
                out.stdout,
                out.stderr
            );
        }
    }
    // Every file of the state directory, whatever it is.
    let mut files = vec![scene.path("state")];
    let mut seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        seen += 1;
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a password",
                path.display()
            );
        }
    }
    assert!(seen >= 4, "the state directory was not used");
    // Every row of every table the runs wrote downstream.
    let mut conn = downstream.connect().await.unwrap();
    let tables: Vec<String> = conn
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'dm_meta'")
        .await
        .unwrap();
    assert!(!tables.is_empty());
    for table in tables {
        let rows: Vec<mysql_async::Row> = conn
            .query(format!("SELECT * FROM dm_meta.`{table}`"))
            .await
            .unwrap();
        for row in rows {
            for value in row.unwrap() {
                let text = match value {
                    mysql_async::Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => format!("{other:?}"),
                };
                for secret in secrets {
                    assert!(!text.contains(secret), "dm_meta.{table} holds a password");
                }
            }
        }
    }
    conn.disconnect().await.unwrap();
}

/// A task file's `meta` naming a binlog file the upstream does not have fails the precheck, as
/// DM's meta position check refuses it (`dm/pkg/checker/binlog.go`, MetaPositionChecker). And a
/// number-like `source-id` keeps its text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_the_upstream_cannot_serve_fails_the_precheck() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let scene = Scene::new();
    scene.create_source(
        "source.yaml",
        &source_yaml("007", up.server.port(), "root", "", "")
            .replace("enable-gtid: true", "enable-gtid: false"),
    );
    let meta = |name: &str| {
        with_instance_keys(
            &task_yaml(TASK, &["007"], downstream.port()),
            &format!("    meta:\n      binlog-name: \"{name}\"\n      binlog-pos: 4\n"),
        )
    };
    let store = ["start-task", "--meta-store", "downstream"];
    let task = scene.file("task.yaml", &meta("mysql-bin.999999"));
    let out = scene.run(&[store[0], store[1], store[2], &task]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let check = json(&out)["checkResult"].as_str().unwrap().to_owned();
    assert!(
        check.contains("meta_position") && check.contains("mysql-bin.999999"),
        "{check}"
    );
    let mut conn = downstream.connect().await.unwrap();
    let schemas: Vec<String> = conn.query("SHOW DATABASES LIKE 'dm_meta'").await.unwrap();
    assert!(schemas.is_empty(), "nothing is written: {schemas:?}");
    conn.disconnect().await.unwrap();

    let first = up.binlogs.files[0].name.clone();
    let task = scene.file("task2.yaml", &meta(&first));
    let out = scene.run(&[store[0], store[1], store[2], &task]);
    out.assert_success();
    let row = global(&rows(&downstream, TASK).await, "007");
    assert_eq!(checkpoint(&row), (first, 4, String::new()));
}

/// A source password encrypted with `dmctl encrypt` is read as DM reads it: with DM's secret key
/// (`--secret-key-path`, as DM-master's) it is decrypted as DM's `DecryptOrPlaintext` does
/// (AES-256-CFB, `dm/pkg/encrypt/encrypt.go`); without it, it is the literal text, as in DM with
/// no key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_encrypted_by_dmctl_is_decrypted_with_the_secret_key() {
    use aes::cipher::{AsyncStreamCipher, KeyIvInit};
    use base64::Engine;
    let up = MariaDb::start().expect("start the upstream mariadbd");
    let downstream = MariaDb::start().expect("start the downstream mariadbd");
    let mut conn = up.connect().await.unwrap();
    conn.query_drop(
        "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'right-password'; \
         GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'127.0.0.1'",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
    let key = [0x5au8; 32];
    let iv = [0x13u8; 16];
    let mut sealed = b"right-password".to_vec();
    cfb_mode::Encryptor::<aes::Aes256>::new((&key).into(), (&iv).into()).encrypt(&mut sealed);
    let mut raw = iv.to_vec();
    raw.push(b'@');
    raw.extend_from_slice(&sealed);
    let encrypted = base64::engine::general_purpose::STANDARD.encode(&raw);
    let scene = Scene::new();
    let key_file = scene.file(
        "secret.key",
        &key.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    );
    scene.create_source(
        "source.yaml",
        &source_yaml(SOURCE_ID, up.port(), "repl", &encrypted, ""),
    );
    let task = scene.file(
        "task.yaml",
        &task_yaml(TASK, &[SOURCE_ID], downstream.port()),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["start-task", "--meta-store", "downstream", "--dry-run"];
        args.extend_from_slice(extra);
        args.push(&task);
        scene.run(&args)
    };
    let out = run(&["--secret-key-path", &key_file]);
    out.assert_success();
    let out = run(&[]);
    assert_eq!(
        out.code,
        Some(1),
        "without the key the ciphertext is the password"
    );
    let check = json(&out)["checkResult"].as_str().unwrap().to_owned();
    assert!(check.contains("access denied"), "{check}");
    assert!(!out.stdout.contains("right-password") && !out.stderr.contains("right-password"));
}

/// DM expands roles (`dm/pkg/checker/privilege.go`), so privileges granted through a role count
/// as granted, with no warning that they cannot be checked: on MariaDB each role's grants are
/// read, so a role holding them passes cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileges_granted_through_a_role_pass_the_precheck() {
    let up = MariaDb::start().expect("start the upstream mariadbd");
    let downstream = MariaDb::start().expect("start the downstream mariadbd");
    let mut conn = up.connect().await.unwrap();
    conn.query_drop(
        "CREATE ROLE repl_role; \
         GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO repl_role; \
         CREATE USER 'viarole'@'127.0.0.1' IDENTIFIED BY 'Role-secret1'; \
         GRANT repl_role TO 'viarole'@'127.0.0.1'; \
         SET DEFAULT ROLE repl_role FOR 'viarole'@'127.0.0.1'",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
    let (scene, task) = one_source_task_as(up.port(), "viarole", "Role-secret1", downstream.port());
    let out = scene.run(&[
        "start-task",
        "--meta-store",
        "downstream",
        "--dry-run",
        &task,
    ]);
    out.assert_success();
    assert_eq!(
        json(&out)["checkResult"],
        "pre-check is passed. ",
        "{}",
        out.stdout
    );
}

/// With `enable-gtid: true` DM's meta position check dumps from the meta's GTID set, which the
/// server refuses when it has purged transactions the set lacks; so a meta behind the oldest
/// binary log fails the precheck rather than being written as it stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_gtid_behind_the_purged_binlog_fails_the_precheck() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let early = expected_at(&up.binlogs, "2030-03-31 00:10:00");
    let late = expected_at(&up.binlogs, "2030-03-31 02:30:00");
    let mut conn = up.server.connect().await.unwrap();
    conn.query_drop(format!("PURGE BINARY LOGS TO '{}'", late.0))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let scene = Scene::new();
    scene.create_source(
        "source.yaml",
        &source_yaml(SOURCE_ID, up.server.port(), "root", "", ""),
    );
    let meta = |gtid: &str| {
        with_instance_keys(
            &task_yaml(TASK, &[SOURCE_ID], downstream.port()),
            &format!("    meta:\n      binlog-gtid: \"{gtid}\"\n"),
        )
    };
    let run = |file: &str| scene.run(&["start-task", "--meta-store", "downstream", file]);
    let out = run(&scene.file("early.yaml", &meta(&early.2)));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let check = json(&out)["checkResult"].as_str().unwrap().to_owned();
    assert!(
        check.contains("meta_position") && check.contains("purged"),
        "{check}"
    );
    run(&scene.file("late.yaml", &meta(&late.2))).assert_success();
}

/// DM's checkpoint DDL and its flush of a global row, verbatim (tiflow `dm/syncer/checkpoint.go`:
/// `createTable`, and `genUpdateSQL` with `globalCpSchema`/`globalCpTable` empty and
/// `table_info` "null").
async fn dm_flush(downstream: &MariaDb, task: &str, source: &str, at: &(String, u32, String)) {
    let mut conn = downstream.connect().await.unwrap();
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS dm_meta; CREATE TABLE IF NOT EXISTS \
         dm_meta.{task}_syncer_checkpoint (id VARCHAR(32) NOT NULL, cp_schema VARCHAR(128) NOT \
         NULL, cp_table VARCHAR(128) NOT NULL, binlog_name VARCHAR(128), binlog_pos INT \
         UNSIGNED, binlog_gtid TEXT, exit_safe_binlog_name VARCHAR(128) DEFAULT '', \
         exit_safe_binlog_pos INT UNSIGNED DEFAULT 0, exit_safe_binlog_gtid TEXT, table_info \
         JSON NOT NULL, is_global BOOLEAN, create_time timestamp NOT NULL DEFAULT \
         CURRENT_TIMESTAMP, update_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE \
         CURRENT_TIMESTAMP, UNIQUE KEY uk_id_schema_table (id, cp_schema, cp_table))"
    ))
    .await
    .unwrap();
    conn.exec_drop(
        format!(
            "INSERT INTO dm_meta.{task}_syncer_checkpoint (id, cp_schema, cp_table, binlog_name, \
             binlog_pos, binlog_gtid, exit_safe_binlog_name, exit_safe_binlog_pos, \
             exit_safe_binlog_gtid, table_info, is_global) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
             ?) ON DUPLICATE KEY UPDATE binlog_name = VALUES(binlog_name), binlog_pos = \
             VALUES(binlog_pos), binlog_gtid = VALUES(binlog_gtid), exit_safe_binlog_name = \
             VALUES(exit_safe_binlog_name), exit_safe_binlog_pos = \
             VALUES(exit_safe_binlog_pos), exit_safe_binlog_gtid = \
             VALUES(exit_safe_binlog_gtid), table_info = VALUES(table_info), is_global = \
             VALUES(is_global)"
        ),
        (
            source, "", "", &at.0, at.1, &at.2, "", 0u32, "", "null", true,
        ),
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
}

/// DM refuses start-task for a task that still has subtasks (46014, `ErrSchedulerSubTaskExist`,
/// tiflow `dm/master/scheduler/scheduler.go`), and a paused syncer's `Resume`
/// (`dm/syncer/syncer.go`) does not read the checkpoint table again: its next flush writes its
/// own checkpoint back. So a row DM flushed after startpoint's last write means the task ran
/// since and may still run: start-task refuses it (and `--remove-meta` over it, and a dry run)
/// with the command to run, writes nothing, and goes on once `--task-stopped` says the task is
/// stopped. A row startpoint wrote last needs no flag; a row only DM ever wrote is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_dm_flushed_after_startpoint_is_not_overwritten_while_the_task_may_run() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, task) = one_source_task(&up, downstream.port());
    let start = |extra: &[&str], time: &str| start_downstream(&scene, &task, extra, time);
    start(&[], "2030-03-31 00:30:00").assert_success();
    // startpoint wrote last: a new start needs no flag.
    start(&[], "2030-03-31 00:40:00").assert_success();
    // DM's syncer runs and flushes its progress.
    let l2 = expected_at(&up.binlogs, "2030-03-31 02:00:00");
    dm_flush(&downstream, TASK, SOURCE_ID, &l2).await;
    let before = rows(&downstream, TASK).await;
    for extra in [&[][..], &["--remove-meta"], &["--dry-run"]] {
        let out = start(extra, "2030-03-31 00:10:00");
        assert_eq!(out.code, Some(1), "{extra:?}: {}", out.stderr);
        let answer = json(&out);
        assert_eq!(answer["result"], false);
        let msg = answer["msg"].as_str().unwrap();
        for said in [
            "written by someone other than startpoint",
            &format!("source {SOURCE_ID}: row updated at "),
            "holding another checkpoint than startpoint set at",
            &format!("`dmctl stop-task {TASK}`"),
            "--task-stopped",
            "nothing was written",
        ] {
            assert!(msg.contains(said), "{extra:?}: {said}: {msg}");
        }
        assert_eq!(answer["checkResult"], "pre-check is passed. ");
        assert_eq!(rows(&downstream, TASK).await, before, "{extra:?}");
    }
    // Said stopped: written, with safe mode until DM's checkpoint.
    let out = start(&["--task-stopped"], "2030-03-31 00:10:00");
    out.assert_success();
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(
        checkpoint(&row),
        expected_at(&up.binlogs, "2030-03-31 00:10:00")
    );
    assert_eq!(exit_point(&row).0, l2.0);
    // startpoint wrote last again (exit point included): no flag needed.
    start(&[], "2030-03-31 00:20:00").assert_success();
    // A task only DM ever wrote.
    let dm_only = "dmonly";
    dm_flush(&downstream, dm_only, SOURCE_ID, &l2).await;
    let other = scene.file(
        "dmonly.yaml",
        &task_yaml(dm_only, &[SOURCE_ID], downstream.port()),
    );
    let out = scene.run(&[
        "start-task",
        "--meta-store",
        "downstream",
        "--start-time",
        "2030-03-31 00:10:00",
        &other,
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let msg = json(&out)["msg"].as_str().unwrap().to_owned();
    assert!(msg.contains("never set by startpoint"), "{msg}");
    assert!(msg.contains("dmctl stop-task dmonly"), "{msg}");
    // DM's fresh row ('', 4, ''), which a start without a time replaces: DM wrote it, so it
    // may run the task; refused the same way.
    let fresh = "dmfresh";
    dm_flush(
        &downstream,
        fresh,
        SOURCE_ID,
        &(String::new(), 4, String::new()),
    )
    .await;
    let fresh_task = scene.file(
        "dmfresh.yaml",
        &task_yaml(fresh, &[SOURCE_ID], downstream.port()),
    );
    let out = scene.run(&["start-task", "--meta-store", "downstream", &fresh_task]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let msg = json(&out)["msg"].as_str().unwrap().to_owned();
    assert!(msg.contains("never set by startpoint"), "{msg}");
}

/// The default embedded store writes nothing DM reads. The notes and `msg` name its file, and
/// for a task with a target-database say that DM reads only the downstream table and how to
/// write there; the downstream store is named with its table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_is_named_and_said_to_be_unread_by_dm() {
    let up = upstream().await;
    let (scene, task) = one_source_task(&up, 1);
    let out = scene.run(&["start-task", "--start-time", "2030-03-31 00:30:00", &task]);
    out.assert_success();
    let msg = json(&out)["msg"].as_str().unwrap().to_owned();
    let store = std::path::Path::new(&scene.state()).join("meta/dm_meta.sqlite3");
    let said = format!(
        "startpoint's embedded store {} (table {TASK}_syncer_checkpoint), which DM does not \
         read: DM reads only `dm_meta`.`{TASK}_syncer_checkpoint` in the target database at \
         127.0.0.1:1; write it there with --meta-store downstream",
        store.display()
    );
    assert_eq!(msg, format!("checkpoint written to {said}"));
    assert!(
        out.stderr.contains(&format!("note: checkpoints: {said}")),
        "{said}\n{}",
        out.stderr
    );
    assert!(store.is_file());
}

/// DM prechecks the whole task first and checks `-s` after (tiflow `dm/master/server.go`,
/// `StartTask`), so `-s` with a source the task lacks is answered after the precheck, and the
/// reply carries the check result rather than an empty `checkResult`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_source_is_answered_after_dms_precheck() {
    let up = upstream().await;
    let (scene, task) = one_source_task(&up, 1);
    let out = scene.run(&["start-task", "-s", "mysql-replica-09", &task]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, expected_json("start-task-unknown-source.json"));
}

/// `remove-meta: true` in the task file is answered as dm-master answers it: with its
/// deprecation message, removing nothing for it, since only the request's `--remove-meta`
/// removes meta data (tiflow `dm/master/server.go`, `StartTask`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_meta_in_the_task_file_gets_dms_deprecation_and_removes_nothing() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, task) = one_source_task(&up, downstream.port());
    let start = |task: &str, time: &str| start_downstream(&scene, task, &[], time);
    start(&task, "2030-03-31 00:30:00").assert_success();
    let mut conn = downstream.connect().await.unwrap();
    conn.query_drop(format!(
        "CREATE TABLE dm_meta.{TASK}_loader_checkpoint (id INT)"
    ))
    .await
    .unwrap();
    let text = std::fs::read_to_string(&task).unwrap() + "remove-meta: true\n";
    let with_key = scene.file("task-remove-meta.yaml", &text);
    let out = start(&with_key, "2030-03-31 00:40:00");
    out.assert_success();
    let msg = json(&out)["msg"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with(
            "`remove-meta` in task config is deprecated, please use `start-task ... \
             --remove-meta` instead; checkpoint written to"
        ),
        "{msg}"
    );
    let tables: Vec<String> = conn
        .query(format!("SHOW TABLES FROM dm_meta LIKE '{TASK}_%'"))
        .await
        .unwrap();
    assert!(
        tables.contains(&format!("{TASK}_loader_checkpoint")),
        "{tables:?}"
    );
    let log: Option<i64> = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM dm_meta.{TASK}_startpoint_log"
        ))
        .await
        .unwrap();
    assert_eq!(log, Some(2), "the first start's log entry stays");
    conn.disconnect().await.unwrap();
}

/// Live: dm-master sets the start time's location in place of `meta` (so a `binlog-gtid` DM
/// cannot read does not matter with `--start-time`), and takes an empty start time for none
/// (tiflow `dm/master/server.go`, `StartTask`: `req.StartTime == ""`): `--start-time ''` keeps
/// the checkpoint, as a start without it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_meta_and_an_empty_start_time_go_as_in_dm() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, good) = one_source_task(&up, downstream.port());
    let text = with_instance_keys(
        &std::fs::read_to_string(&good).unwrap(),
        "    meta:\n      binlog-gtid: \"not-a-gtid\"\n",
    );
    let task = scene.file("unread-meta.yaml", &text);
    let start = |time: &str| start_downstream(&scene, &task, &[], time);
    let t = "2030-03-31 00:30:00";
    start(t).assert_success();
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(checkpoint(&row), expected_at(&up.binlogs, t));
    // Without a start time the meta is what DM reads: refused, naming the key.
    let before = rows(&downstream, TASK).await;
    let out = start("");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        json(&out)["msg"]
            .as_str()
            .unwrap()
            .contains("mysql-instances[0].meta.binlog-gtid"),
        "{}",
        out.stdout
    );
    assert_eq!(rows(&downstream, TASK).await, before);
    // A readable task: the empty start time keeps the checkpoint.
    let out = scene.run(&[
        "start-task",
        "--meta-store",
        "downstream",
        "--start-time",
        "",
        &good,
    ]);
    out.assert_success();
    assert!(
        out.stderr.contains("resumes from its checkpoint"),
        "{}",
        out.stderr
    );
    assert_eq!(rows(&downstream, TASK).await, before);
}

/// `export-checkpoint`: a start point set in the embedded store and reviewed there reaches
/// DM's downstream table with the downstream store's guards. `--sql` prints a script that the
/// mariadb client runs as it is; the direct write lands the same row; a row DM flushed since
/// is refused until `--task-stopped`; and query-status still reads the embedded store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_checkpoint_hands_the_embedded_start_point_to_dm() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, task) = one_source_task(&up, downstream.port());
    let t = "2030-03-31 00:30:00";
    scene
        .run(&["start-task", "--start-time", t, &task])
        .assert_success();
    let want = expected_at(&up.binlogs, t);

    // --sql: a MySQL script, run by the mariadb client as it is.
    let script = scene.run(&["export-checkpoint", TASK, "--sql"]);
    script.assert_success();
    assert!(
        script.stdout.contains("ON DUPLICATE KEY UPDATE") && script.stdout.contains("COMMIT;"),
        "{}",
        script.stdout
    );
    let client = startpoint::testkit::mariadb::find_program("mariadb").unwrap();
    let mut run = std::process::Command::new(client)
        .args(["--no-defaults", "-h127.0.0.1", "-uroot"])
        .arg(format!("-P{}", downstream.port()))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    run.stdin
        .take()
        .unwrap()
        .write_all(script.stdout.as_bytes())
        .unwrap();
    assert!(run.wait().unwrap().success(), "the script failed");
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(checkpoint(&row), want);

    // The direct write, to the task's target-database: the same row, DM's reply.
    let mut conn = downstream.connect().await.unwrap();
    conn.query_drop("DROP DATABASE dm_meta").await.unwrap();
    conn.disconnect().await.unwrap();
    let out = scene.run(&["export-checkpoint", &task]);
    out.assert_success();
    let answer = json(&out);
    assert_eq!(answer["result"], true);
    assert_eq!(answer["sources"][0]["source"], SOURCE_ID);
    assert!(
        answer["msg"]
            .as_str()
            .unwrap()
            .contains("where DM reads it"),
        "{answer}"
    );
    let table = rows(&downstream, TASK).await;
    assert_eq!(table.len(), 1);
    assert_eq!(checkpoint(&global(&table, SOURCE_ID)), want);
    // Again: startpoint wrote the row last, so no flag is needed.
    scene.run(&["export-checkpoint", TASK]).assert_success();

    // DM ran the task since: refused, nothing written, until --task-stopped.
    let l2 = expected_at(&up.binlogs, "2030-03-31 02:00:00");
    dm_flush(&downstream, TASK, SOURCE_ID, &l2).await;
    let out = scene.run(&["export-checkpoint", TASK]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let msg = json(&out)["msg"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("written by someone other than startpoint") && msg.contains("--task-stopped"),
        "{msg}"
    );
    assert_eq!(
        checkpoint(&global(&rows(&downstream, TASK).await, SOURCE_ID)),
        l2
    );
    scene
        .run(&["export-checkpoint", TASK, "--task-stopped"])
        .assert_success();
    assert_eq!(
        checkpoint(&global(&rows(&downstream, TASK).await, SOURCE_ID)),
        want
    );

    // query-status reads the store start-task used; a task never started is named.
    let status = json(&scene.run(&["query-status", TASK]));
    assert_eq!(
        status["sources"][0]["subTaskStatus"][0]["startpoint"]["metaStore"],
        "embedded"
    );
    // Named by a task file whose target has moved since start-task: said, and the export goes
    // where the task was started.
    let moved = scene.file(
        "moved.yaml",
        &std::fs::read_to_string(&task)
            .unwrap()
            .replace(&format!("port: {}", downstream.port()), "port: 1"),
    );
    let out = scene.run(&["export-checkpoint", &moved, "--sql"]);
    out.assert_success();
    assert!(
        out.stderr
            .contains("its target-database is now root@127.0.0.1:1"),
        "{}",
        out.stderr
    );

    // --sql's stdout is the script alone: a failure says why on stderr and prints nothing.
    let out = scene.run(&["export-checkpoint", "never-started", "--sql"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("error: task never-started has not been started"),
        "{}",
        out.stderr
    );
    let out = scene.run(&["export-checkpoint", "never-started"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout.contains("has not been started"),
        "{}",
        out.stdout
    );
}
