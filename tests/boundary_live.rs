//! Late-dated rotations on a real MariaDB with a real clock (no `SET TIMESTAMP` anywhere): long
//! autocommit statements rotate the log when they commit, so each new file's FDE (and the old
//! file's ROTATE) carries the statement's *start* time, while other sessions' small and long
//! transactions committed after it sit in the old file. Every start time around every boundary
//! gives the linear definition's answer from the files, from a DM relay layout and from the live
//! server, and `start-task` writes that location.
//!
//! The server's side of it: MariaDB dates every event of a statement with the session's
//! statement start (`THD::start_time`, `Log_event::Log_event(THD*)` in sql/log_event_server.cc),
//! and the rotation after a commit writes the new file's FDE from the committing session, so its
//! time is that start; MySQL does the same (`Log_event::get_time`, sql/log_event.cc).

use crate::support;

use std::time::Duration;

use mysql_async::prelude::*;
use startpoint::binlog::{EventSource, FileEventSource, ReadOptions};
use startpoint::remote::{ConnSettings, RemoteRequest, resolve_remote};
use startpoint::resolve::linear::resolve_linear;
use startpoint::resolve::{GtidMode, Request, Resolution, Status, resolve_files};
use startpoint::source::local::BinlogDir;
use startpoint::source::relay::open_relay_dir;
use startpoint::start_time::{StartTime, format_instant};
use startpoint::testkit::fixtures::snapshot_binlogs;
use startpoint::testkit::mariadb::{MariaDb, ServerConfig};
use startpoint::unit::{TimeBasis, UnitReader};
use support::Scene;

fn summary(r: &Resolution) -> (Status, Option<(String, u64)>, String) {
    (
        r.status,
        r.location.as_ref().map(|l| (l.file.clone(), l.pos)),
        r.gtid_text(),
    )
}

/// Runs `sql` on a new connection to `server`.
async fn run(server: &MariaDb, sql: Vec<String>) {
    let mut conn = server.connect().await.unwrap();
    for statement in sql {
        conn.query_drop(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    conn.disconnect().await.unwrap();
}

/// One round: a 3-second `INSERT … SELECT` whose row images exceed `max_binlog_size` (so its
/// commit rotates the log), while two sessions commit small transactions every 300 ms and a
/// third a transaction that stays open for a second.
async fn late_dated_rotation(server: &MariaDb, round: u32) {
    let long = run(
        server,
        vec![format!(
            "INSERT INTO shop.big (round, pad) SELECT {round}, s.pad FROM shop.src s \
             JOIN (SELECT SLEEP(3) AS z) x ON x.z = 0"
        )],
    );
    let small = |who: u32| {
        run(
            server,
            (0..8)
                .flat_map(|i| {
                    [
                        "DO SLEEP(0.3)".to_owned(),
                        format!("INSERT INTO shop.small (who, n) VALUES ({who}, {i})"),
                    ]
                })
                .collect(),
        )
    };
    let open_for_a_second = run(
        server,
        vec![
            "DO SLEEP(0.5)".to_owned(),
            "BEGIN".to_owned(),
            "INSERT INTO shop.small (who, n) VALUES (9, 1)".to_owned(),
            "DO SLEEP(1)".to_owned(),
            "INSERT INTO shop.small (who, n) VALUES (9, 2)".to_owned(),
            "COMMIT".to_owned(),
        ],
    );
    futures_util::future::join4(long, small(1), small(2), open_for_a_second).await;
    // A few after the rotation, in the new file.
    run(
        server,
        (0..3)
            .map(|i| format!("INSERT INTO shop.small (who, n) VALUES (3, {i})"))
            .collect(),
    )
    .await;
}

/// (first unit's FDE-relative facts): per file, its FDE second and its units' largest commit
/// second.
fn file_times(local: &BinlogDir) -> Vec<(u32, Option<i64>)> {
    local
        .files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let options = ReadOptions {
                newest: i + 1 == local.files.len(),
                ..ReadOptions::default()
            };
            let mut units =
                UnitReader::new(FileEventSource::open(&file.path, options).unwrap(), false);
            units.source_mut().advance().unwrap();
            let created = units.source().format().unwrap().created;
            let mut latest = None;
            while let Some(unit) = units.next_unit().unwrap() {
                latest = latest.max(Some(unit.commit_us()));
            }
            (created, latest)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_dated_rotations_on_a_real_server_never_skip_transactions() {
    let server = MariaDb::start_with(&ServerConfig {
        max_binlog_size: 64 << 10,
        env: vec![("TZ".into(), "UTC".into())],
        ..ServerConfig::default()
    })
    .unwrap();
    let mut setup = vec![
        "CREATE DATABASE shop".to_owned(),
        "CREATE TABLE shop.src (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(600))".to_owned(),
        "CREATE TABLE shop.big (id INT AUTO_INCREMENT PRIMARY KEY, round INT, pad VARCHAR(600))"
            .to_owned(),
        "CREATE TABLE shop.small (id INT AUTO_INCREMENT PRIMARY KEY, who INT, n INT)".to_owned(),
    ];
    // 150 rows of ~500 bytes: one INSERT … SELECT of them is larger than max_binlog_size.
    setup.extend(
        (0..150)
            .map(|i| format!("INSERT INTO shop.src (pad) VALUES (CONCAT({i}, REPEAT('x', 500)))")),
    );
    setup.push("FLUSH BINARY LOGS".to_owned());
    run(&server, setup).await;
    for round in 0..2 {
        late_dated_rotation(&server, round).await;
    }

    let copy = tempfile::tempdir().unwrap();
    let mut conn = server.connect().await.unwrap();
    snapshot_binlogs(&server, &mut conn, copy.path())
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let local = BinlogDir::open(copy.path()).unwrap();

    // The scenario happened: some file is dated before transactions of the file before it.
    let times = file_times(&local);
    let late: Vec<usize> = (1..times.len())
        .filter(|&j| {
            times[j - 1]
                .1
                .is_some_and(|latest| latest >= (i64::from(times[j].0) + 1) * 1_000_000)
        })
        .collect();
    assert!(
        late.len() >= 2,
        "no rotation dated before the previous file's transactions: {times:?}"
    );

    // A DM relay layout of the same files.
    let relay = tempfile::tempdir().unwrap();
    let sub = "0b8d2c3a-1111-11ee-8c99-0242ac120002.000001";
    std::fs::create_dir_all(relay.path().join(sub)).unwrap();
    let mut names = String::new();
    for file in &local.files {
        std::fs::copy(&file.path, relay.path().join(sub).join(&file.name)).unwrap();
        names.push_str(&format!("{}\n", file.name));
    }
    std::fs::write(relay.path().join(sub).join("mysql-bin.index"), names).unwrap();
    std::fs::write(relay.path().join("server-uuid.index"), format!("{sub}\n")).unwrap();
    let relay_dir = open_relay_dir(relay.path()).unwrap();

    // Every second (and half second) around every boundary.
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    let mut probes = Vec::new();
    for &j in &late {
        let created = i64::from(times[j].0) * 1_000_000;
        let latest = times[j - 1].1.unwrap();
        let mut t = created - 2_000_000;
        while t <= latest + 3_000_000 {
            probes.extend([t, t + 500_000]);
            t += 1_000_000;
        }
    }
    let mut in_window = 0;
    for &t in &probes {
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            let request = Request {
                start_us: t,
                basis,
                gtid: GtidMode::Auto,
            };
            let what = format!("{} {basis}", format_instant(t));
            let linear = resolve_linear(&local, &request).unwrap();
            let files = resolve_files(&local, &request).unwrap();
            assert_eq!(summary(&files), summary(&linear), "files at {what}");
            let relayed = resolve_files(&relay_dir, &request).unwrap();
            assert_eq!(summary(&relayed), summary(&linear), "relay at {what}");
            let remote = resolve_remote(
                &settings,
                &RemoteRequest {
                    start: StartTime::parse(&format_instant(t)).unwrap(),
                    zone: None,
                    basis,
                    gtid: GtidMode::Auto,
                    deadline: tokio::time::Instant::now() + Duration::from_secs(60),
                    progress: None,
                    cache: None,
                    assume: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("live at {what}: {e}"));
            assert_eq!(
                summary(&remote.resolution),
                summary(&linear),
                "live at {what}"
            );
            // Counted: answers in an older file than the one a creation time would pick.
            if let Some(location) = &linear.location {
                let answer = local.files.iter().position(|f| f.name == location.file);
                let by_creation = times
                    .iter()
                    .rposition(|(created, _)| (i64::from(*created) + 1) * 1_000_000 <= t);
                if answer.zip(by_creation).is_some_and(|(a, c)| a < c) {
                    in_window += 1;
                }
            }
        }
    }
    assert!(
        in_window > 0,
        "no start time fell where a creation-time choice would skip transactions"
    );

    // start-task writes that location (embedded store, live upstream, the server's zone UTC).
    let &j = late.first().unwrap();
    let t = (i64::from(times[j].0) + 1) * 1_000_000;
    let expected = resolve_linear(
        &local,
        &Request {
            start_us: t,
            basis: TimeBasis::Commit,
            gtid: GtidMode::Auto,
        },
    )
    .unwrap();
    let location = expected.location.clone().unwrap();
    assert_ne!(
        location.file, local.files[j].name,
        "the window is before the new file"
    );
    let scene = Scene::new();
    scene.create_source(
        "source.yaml",
        &format!(
            "source-id: \"up\"\nflavor: mariadb\nenable-gtid: true\nfrom:\n  host: \
             \"127.0.0.1\"\n  port: {}\n  user: \"root\"\n  password: \"\"\n",
            server.port()
        ),
    );
    let task = scene.file(
        "task.yaml",
        "name: boundary\ntask-mode: incremental\nmeta-schema: dm_meta\ntarget-database:\n  \
         host: \"127.0.0.1\"\n  port: 1\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  \
         - source-id: \"up\"\n    block-allow-list: \"global\"\nblock-allow-list:\n  global:\n    \
         do-dbs: [\"shop\"]\n",
    );
    let start = format_instant(t);
    scene
        .run(&["start-task", "--start-time", &start, &task])
        .assert_success();
    let status: serde_json::Value =
        serde_json::from_str(&scene.run(&["query-status", "boundary"]).stdout).unwrap();
    let stored = &status["sources"][0]["subTaskStatus"][0]["startpoint"]["checkpoint"];
    assert_eq!(stored["binlog_name"], location.file.as_str(), "{status}");
    assert_eq!(stored["binlog_pos"], location.pos, "{status}");
    assert_eq!(
        stored["binlog_gtid"],
        expected.gtid_text().as_str(),
        "{status}"
    );
}
