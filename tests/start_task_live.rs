//! start-task end to end on the real binary, against private MariaDB servers the test starts:
//! an upstream with the fixture history (simulated clock from 2030-03-30 23:00 UTC, server time
//! zone UTC) and a downstream holding DM's checkpoint table. Expected locations come from the
//! local resolver on a copy of the upstream's binlogs (itself checked against the server).

mod support;

use std::path::Path;
use std::time::Duration;

use mysql_async::prelude::*;
use startpoint::resolve::{GtidMode, Request, resolve_files};
use startpoint::source::local::BinlogDir;
use startpoint::start_time::{StartTime, Zone};
use startpoint::task::start::default_worker;
use startpoint::testkit::fixtures::server_with_history;
use startpoint::testkit::mariadb::{MariaDb, ServerConfig};
use startpoint::testkit::workload::FIXTURE_MAX_BINLOG_SIZE;
use startpoint::unit::TimeBasis;
use support::{Output, Scene};

const SOURCE_ID: &str = "mysql-replica-01";
const TASK: &str = "acceptance";

/// The upstream with history (server time zone UTC) and a copy of its binlogs.
struct Upstream {
    server: MariaDb,
    binlogs: BinlogDir,
    _copy: tempfile::TempDir,
}

async fn upstream() -> Upstream {
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
fn expected_at(binlogs: &BinlogDir, utc: &str) -> (String, u32, String) {
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

fn source_yaml(id: &str, port: u16, user: &str, password: &str, extra: &str) -> String {
    format!(
        "source-id: \"{id}\"\nflavor: mariadb\nenable-gtid: true\n{extra}from:\n  host: \
         \"127.0.0.1\"\n  port: {port}\n  user: \"{user}\"\n  password: \"{password}\"\n"
    )
}

fn task_yaml(name: &str, sources: &[&str], downstream_port: u16) -> String {
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

fn expected_json(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("__WORKER__", &default_worker())
}

/// One row of the checkpoint table, as strings, in DM's column order.
type Row = (
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

async fn rows(downstream: &MariaDb, task: &str) -> Vec<Row> {
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

fn global(rows: &[Row], source: &str) -> Row {
    rows.iter()
        .find(|r| r.0 == source && r.10 == 1)
        .cloned()
        .unwrap_or_else(|| panic!("no global row for {source} in {rows:?}"))
}

fn checkpoint(row: &Row) -> (String, u32, String) {
    (
        row.3.clone().unwrap_or_default(),
        row.4.unwrap_or_default(),
        row.5.clone().unwrap_or_default(),
    )
}

fn exit_point(row: &Row) -> (String, u32, String) {
    (
        row.6.clone().unwrap_or_default(),
        row.7.unwrap_or_default(),
        row.8.clone().unwrap_or_default(),
    )
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{}", out.stdout, out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_task_with_a_downstream_meta_store() {
    let up = upstream().await;
    let downstream = MariaDb::start().expect("start the downstream mariadbd");
    let scene = Scene::new();
    scene.create_source(
        "source.yaml",
        &source_yaml(SOURCE_ID, up.server.port(), "root", "", ""),
    );
    let task = scene.file(
        "task.yaml",
        &task_yaml(TASK, &[SOURCE_ID], downstream.port()),
    );
    let start = |time: &str| {
        scene.run(&[
            "start-task",
            "--meta-store",
            "downstream",
            "--start-time",
            time,
            &task,
        ])
    };

    // Fresh start at T1: the checkpoint is T1's resolution, no exit point.
    let t1 = "2030-03-31 00:30:00";
    let out = start(t1);
    out.assert_success();
    assert_eq!(
        out.stdout,
        expected_json("start-task-ok.json"),
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

    // Start at T0 < L2: checkpoint at T0, safe mode until L2, table checkpoints gone.
    let t0 = "2030-03-31 00:10:00";
    let out = start(t0);
    out.assert_success();
    assert_eq!(out.stdout, expected_json("start-task-ok.json"));
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
    assert_eq!(status["metaStore"], "downstream");
    let source = &status["sources"][0];
    assert_eq!(source["checkpoint"]["binlog_pos"], 4);
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
    assert_eq!(json(&out)["msg"], "dry run: nothing was written");
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
    let scene = Scene::new();
    scene.create_source(
        "source.yaml",
        &source_yaml(SOURCE_ID, up.port(), "repl", "wrong-password-here", ""),
    );
    let task = scene.file(
        "task.yaml",
        &task_yaml(TASK, &[SOURCE_ID], downstream.port()),
    );
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
        check.contains("\"instruction\":\"GRANT BINLOG MONITOR"),
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
        &source_yaml(
            SOURCE_ID,
            up.server.port(),
            "root",
            "",
            &format!("enable-relay: true\nrelay-dir: \"{}\"\n", relay.display()),
        ),
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
    assert_eq!(status["metaStore"], "embedded");
    let stored = &status["sources"][0]["checkpoint"];
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

    // Two runs of the same task at once: the second waits for the first; both land, one after
    // the other, and the state is one of theirs, whole.
    let state = scene.path("state").display().to_string();
    let binary = env!("CARGO_BIN_EXE_startpoint");
    let spawn = |time: &str| {
        std::process::Command::new(binary)
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
    let name = status["sources"][0]["checkpoint"]["binlog_name"]
        .as_str()
        .unwrap()
        .to_owned();
    let how = status["sources"][0]["setBy"]["how"].as_str().unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_source_means_nothing_is_written_and_task_timezone_is_used() {
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
        &source_yaml(
            "mysql-replica-02",
            up.server.port(),
            "root",
            "",
            &format!("enable-relay: true\nrelay-dir: \"{}\"\n", relay.display()),
        ),
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

    // -s picks the source that can start; the task's timezone reads the bare time.
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
        "2030-03-31 03:30:00",
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
    assert!(out.stderr.contains("in UTC+01:00"), "{}", out.stderr);
    assert_eq!(json(&out)["sources"].as_array().unwrap().len(), 1);
    assert!(
        !scene.path("state/meta").exists(),
        "a dry run writes nothing"
    );
}
