//! A real DM carries on from what start-task writes. No DM runs here, so each case sets the
//! checkpoint row up by hand the way DM writes it (tiflow `dm/syncer/checkpoint.go`), runs
//! start-task on the real binary against a private MariaDB upstream and downstream, and reads the
//! row back to check it against what DM's code does with it (cited per test).

use mysql_async::prelude::*;
use startpoint::task::dm::SAFE_MODE_DURATION_ZERO;
use startpoint::testkit::mariadb::MariaDb;

use crate::start_task_live::{
    SOURCE_ID, TASK, checkpoint, exit_point, expected_at, global, json, rows, source_yaml,
    task_yaml, upstream, with_instance_keys,
};
use crate::support::Scene;

type Location = (String, u32, String);

/// Overwrites the task's global row for `source` as DM's checkpoint flush writes it.
async fn set_global(downstream: &MariaDb, source: &str, c: &Location, e: &Location) {
    let mut conn = downstream.connect().await.unwrap();
    conn.exec_drop(
        format!(
            "UPDATE dm_meta.{TASK}_syncer_checkpoint SET binlog_name = ?, binlog_pos = ?, \
             binlog_gtid = ?, exit_safe_binlog_name = ?, exit_safe_binlog_pos = ?, \
             exit_safe_binlog_gtid = ? WHERE id = ? AND is_global = 1"
        ),
        (&c.0, c.1, &c.2, &e.0, e.1, &e.2, source),
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
}

/// `start-task --meta-store downstream --task-stopped --start-time TIME TASK`: each case
/// plays a DM that wrote the row and was then stopped (`dmctl stop-task`), which the flag
/// says; without it start-task refuses rows DM wrote after its own.
fn start_at(scene: &Scene, task: &str, time: &str) -> crate::support::Output {
    crate::start_task_live::start_downstream(scene, task, &["--task-stopped"], time)
}

fn none() -> Location {
    (String::new(), 0, String::new())
}

/// A MariaDB GTID text with every sequence number one lower, plus `extra` (e.g. `0-77-7`).
fn one_lower_plus(gtid: &str, extra: &str) -> String {
    let mut entries: Vec<String> = gtid
        .split(',')
        .map(|entry| {
            let (prefix, seq) = entry.rsplit_once('-').unwrap();
            format!("{prefix}-{}", seq.parse::<u64>().unwrap().saturating_sub(1))
        })
        .collect();
    entries.push(extra.to_owned());
    entries.join(",")
}

/// `safe-mode-duration: "0s"` leaves no room for an exit point: DM's
/// `enableSafeModeInitializationPhase` (tiflow `dm/syncer/safe_mode.go`) refuses one with error
/// 36071 whenever it differs from the checkpoint. So a start that needs a window fails for the
/// source with DM's text, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_mode_duration_0s_fails_a_start_that_needs_a_window() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, task) = crate::start_task_live::one_source_task(&up, downstream.port());
    let text = with_instance_keys(
        &std::fs::read_to_string(&task).unwrap(),
        "    syncer-config-name: \"global\"\n",
    ) + "syncers:\n  global:\n    safe-mode-duration: \"0s\"\n";
    let task = scene.file("task.yaml", &text);
    let start = |time: &str| start_at(&scene, &task, time);
    // No checkpoint yet, then a later start: no window, so 0s is no obstacle.
    start("2030-03-31 00:30:00").assert_success();
    start("2030-03-31 02:30:00").assert_success();
    let before = rows(&downstream, TASK).await;
    assert_eq!(exit_point(&global(&before, SOURCE_ID)), none());
    // An earlier start needs a window DM could not keep.
    let out = start("2030-03-31 00:10:00");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let answer = json(&out);
    assert_eq!(answer["result"], false);
    assert_eq!(answer["sources"][0]["msg"], SAFE_MODE_DURATION_ZERO);
    assert_eq!(rows(&downstream, TASK).await, before, "nothing is written");
}

/// With a pending exit point E after the checkpoint C and a start S that cannot be ordered
/// against E (errant transactions: E has a GTID S has not, S one E has not), E is kept, and the
/// message names E: a window ending at C would lose E, and DM would leave safe mode at once and
/// replay (C, E] without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_exit_point_survives_a_start_that_crosses_it() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, task) = crate::start_task_live::one_source_task(&up, downstream.port());
    let start = |time: &str| start_at(&scene, &task, time);
    start("2030-03-31 00:30:00").assert_success();
    let c = expected_at(&up.binlogs, "2030-03-31 00:30:00");
    let s = expected_at(&up.binlogs, "2030-03-31 01:00:00");
    let l2 = expected_at(&up.binlogs, "2030-03-31 02:00:00");
    let e: Location = (l2.0.clone(), l2.1, one_lower_plus(&s.2, "0-77-7"));
    set_global(&downstream, SOURCE_ID, &c, &e).await;
    let out = start("2030-03-31 01:00:00");
    out.assert_success();
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(checkpoint(&row), s);
    assert_eq!(exit_point(&row), e, "the window lasts until E, not C");
    let msg = json(&out)["sources"][0]["msg"].as_str().unwrap().to_owned();
    assert!(msg.contains("cannot tell"), "{msg}");
    assert!(msg.contains(&format!("{}:{}", e.0, e.1)), "names E: {msg}");
}

/// On an `enable-gtid: true` source DM ignores an exit point without a GTID set (tiflow
/// `dm/syncer/checkpoint.go`, `Load`: it reads only a non-empty `exit_safe_binlog_gtid`, "TODO:
/// we forget to handle else"). So the exit point of a checkpoint from a meta with only
/// binlog-name/binlog-pos carries the GTIDs at that location, as the upstream computes them
/// (`BINLOG_GTID_POS`, what DM's `adjustGlobalPointGTID` reads from the binlog).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_point_on_an_enable_gtid_source_carries_its_gtids() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, task) = crate::start_task_live::one_source_task(&up, downstream.port());
    let start = |time: &str| start_at(&scene, &task, time);
    start("2030-03-31 00:30:00").assert_success();
    let l2 = expected_at(&up.binlogs, "2030-03-31 02:00:00");
    let c: Location = (l2.0.clone(), l2.1, String::new());
    set_global(&downstream, SOURCE_ID, &c, &none()).await;
    let out = start("2030-03-31 00:10:00");
    out.assert_success();
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    let exit = exit_point(&row);
    assert_eq!((exit.0.as_str(), exit.1), (l2.0.as_str(), l2.1));
    let parse = |text: &str| text.parse::<startpoint::gtid::MariaGtidSet>().unwrap();
    assert!(
        !exit.2.is_empty(),
        "DM would ignore this exit point: {row:?}"
    );
    assert_eq!(parse(&exit.2), parse(&l2.2), "the GTIDs at L2");
}

/// DM's MariaDB GTID text after a failover lists one GTID per (domain, server_id) (go-mysql
/// v1.13 `MariadbGTIDSet`), so a domain may appear twice. Taken as it stands and compared as
/// `MariadbGTIDSet.Contain` does, S is before C; ordering by files instead would, after an
/// upstream switch, put S after C: no window and a false "skipped" warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dms_mariadb_gtid_text_after_a_failover_orders_as_in_dm() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let (scene, task) = crate::start_task_live::one_source_task(&up, downstream.port());
    let start = |time: &str| start_at(&scene, &task, time);
    start("2030-03-31 00:30:00").assert_success();
    // C: written by DM on the old primary (server_id 9, its own file numbers), after the
    // switch to this upstream.
    let l2 = expected_at(&up.binlogs, "2030-03-31 02:00:00");
    let c: Location = (
        up.binlogs.files[0].name.clone(),
        4,
        format!("{},0-9-3", l2.2),
    );
    set_global(&downstream, SOURCE_ID, &c, &none()).await;
    let out = start("2030-03-31 00:10:00");
    out.assert_success();
    let msg = json(&out)["sources"][0]["msg"].as_str().unwrap().to_owned();
    assert!(!msg.contains("skipped"), "{msg}");
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(
        checkpoint(&row),
        expected_at(&up.binlogs, "2030-03-31 00:10:00")
    );
    assert_eq!(exit_point(&row), c, "safe mode until C");
}

/// `--remove-meta` is DM's `removeMetaData` (tiflow `dm/master/server.go`): the whole task even
/// with `-s` (said in `msg`), DM's other meta tables, and the Lightning error schema
/// `<meta-schema>_<task>`; a sharding meta table with rows means DM's etcd state is left, which
/// is said too. A meta `binlog-gtid` with a space, which go-mysql's parser cannot read, is
/// written canonically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_meta_clears_the_whole_task_as_dm_does() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let scene = Scene::new();
    let second = "mysql-replica-02";
    for (file, id) in [("one.yaml", SOURCE_ID), ("two.yaml", second)] {
        scene.create_source(file, &source_yaml(id, up.server.port(), "root", "", ""));
    }
    let task = scene.file(
        "task.yaml",
        &task_yaml(TASK, &[SOURCE_ID, second], downstream.port()),
    );
    let t1 = "2030-03-31 00:30:00";
    let store = ["start-task", "--meta-store", "downstream"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = store.iter().chain(extra).copied().collect();
        scene.run(&args)
    };
    run(&["--start-time", t1, &task]).assert_success();
    assert_eq!(rows(&downstream, TASK).await.len(), 2);
    let mut conn = downstream.connect().await.unwrap();
    for statement in [
        format!("CREATE TABLE dm_meta.{TASK}_syncer_sharding_meta (id INT PRIMARY KEY)"),
        format!("INSERT INTO dm_meta.{TASK}_syncer_sharding_meta VALUES (1)"),
        format!("CREATE DATABASE dm_meta_{TASK}"),
        format!("CREATE TABLE dm_meta_{TASK}.conflict_error_v1 (id INT PRIMARY KEY)"),
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    let t0 = "2030-03-31 00:10:00";
    let out = run(&["--remove-meta", "-s", SOURCE_ID, "--start-time", t0, &task]);
    out.assert_success();
    let msg = json(&out)["msg"].as_str().unwrap().to_owned();
    assert!(msg.contains("whole task"), "{msg}");
    assert!(msg.contains("sharding meta table held 1 rows"), "{msg}");
    let table = rows(&downstream, TASK).await;
    assert_eq!(table.len(), 1, "the other source's row goes too: {table:?}");
    assert_eq!(
        checkpoint(&global(&table, SOURCE_ID)),
        expected_at(&up.binlogs, t0)
    );
    let schemas: Vec<String> = conn
        .query(format!(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = \
             'dm_meta_{TASK}'"
        ))
        .await
        .unwrap();
    assert!(schemas.is_empty(), "the Lightning error schema is dropped");
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
        .query(format!("SELECT id FROM dm_meta.{TASK}_startpoint_log"))
        .await
        .unwrap();
    assert_eq!(
        log,
        [SOURCE_ID.to_owned()],
        "the old log goes with the task"
    );

    // The second source starts from its meta, whose GTID text has a space.
    let c = expected_at(&up.binlogs, t1);
    let meta = format!(
        "    meta:\n      binlog-name: \"{}\"\n      binlog-pos: {}\n      binlog-gtid: \"0-9-3, {}\"\n",
        c.0, c.1, c.2
    );
    let text = task_yaml(TASK, &[SOURCE_ID, second], downstream.port()).replace(
        &format!("  - source-id: \"{second}\"\n    block-allow-list: \"global\"\n"),
        &format!("  - source-id: \"{second}\"\n    block-allow-list: \"global\"\n{meta}"),
    );
    let with_meta = scene.file("task-meta.yaml", &text);
    run(&["-s", second, &with_meta]).assert_success();
    let row = global(&rows(&downstream, TASK).await, second);
    let written = checkpoint(&row).2;
    assert!(!written.contains(' '), "{written:?}");
    assert_eq!(
        written,
        format!("0-9-3,{}", c.2)
            .parse::<startpoint::gtid::MariaGtidSet>()
            .unwrap()
            .to_string()
    );
    conn.disconnect().await.unwrap();
}

/// `--remove-meta`'s drops run after the checkpoint's COMMIT, so when one fails the reply says
/// the checkpoint is written (not "nothing was written"), which statement failed, and what is
/// left, with result false. And since `--remove-meta` drops DM's Lightning error schema
/// `<meta-schema>_<task>` too (the server checks that privilege even when the schema is absent),
/// the precheck asks for DROP there, before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_commit_says_what_was_written() {
    let up = upstream().await;
    let downstream = MariaDb::start().unwrap();
    let mut conn = downstream.connect().await.unwrap();
    for statement in [
        "CREATE USER 'dm'@'%' IDENTIFIED BY 'Dm-secret1'".to_owned(),
        "GRANT ALL ON `dm_meta`.* TO 'dm'@'%'".to_owned(),
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    let scene = Scene::new();
    scene.create_source(
        "source.yaml",
        &source_yaml(SOURCE_ID, up.server.port(), "root", "", ""),
    );
    let text = task_yaml(TASK, &[SOURCE_ID], downstream.port()).replace(
        "  user: \"root\"\n  password: \"\"\n",
        "  user: \"dm\"\n  password: \"Dm-secret1\"\n",
    );
    let task = scene.file("task.yaml", &text);
    let t1 = "2030-03-31 00:30:00";
    let remove_meta = || {
        scene.run(&[
            "start-task",
            "--meta-store",
            "downstream",
            "--remove-meta",
            "--start-time",
            t1,
            &task,
        ])
    };
    // Without DROP on the error schema: refused by the precheck, nothing written.
    let out = remove_meta();
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let answer = json(&out);
    let check = answer["checkResult"].as_str().unwrap();
    assert!(check.contains(&format!("dm_meta_{TASK}")), "{check}");
    let tables: Vec<String> = conn
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'dm_meta'")
        .await
        .unwrap();
    assert!(tables.is_empty(), "{tables:?}");

    // With it, but one of DM's meta tables held by an open transaction: its DROP times out
    // after the checkpoint committed.
    for statement in [
        format!("GRANT DROP ON `dm_meta_{TASK}`.* TO 'dm'@'%'"),
        "CREATE DATABASE IF NOT EXISTS dm_meta".to_owned(),
        format!("CREATE TABLE dm_meta.{TASK}_loader_checkpoint (id INT PRIMARY KEY)"),
        "SET GLOBAL lock_wait_timeout = 1".to_owned(),
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    let mut holder = downstream.connect().await.unwrap();
    holder.query_drop("START TRANSACTION").await.unwrap();
    holder
        .query_drop(format!("SELECT * FROM dm_meta.{TASK}_loader_checkpoint"))
        .await
        .unwrap();
    let out = remove_meta();
    holder.query_drop("COMMIT").await.unwrap();
    holder.disconnect().await.unwrap();
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let answer = json(&out);
    assert_eq!(answer["result"], false);
    let msg = answer["msg"].as_str().unwrap();
    assert!(
        msg.contains("the checkpoint is written (committed)"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "DROP TABLE IF EXISTS `dm_meta`.`{TASK}_loader_checkpoint`"
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("DROP DATABASE IF EXISTS `dm_meta_{TASK}`")),
        "what is left: {msg}"
    );
    assert!(!msg.contains("nothing was written"), "{msg}");
    assert!(!msg.contains("Dm-secret1"), "{msg}");
    let row = global(&rows(&downstream, TASK).await, SOURCE_ID);
    assert_eq!(checkpoint(&row), expected_at(&up.binlogs, t1));
    conn.disconnect().await.unwrap();
}
