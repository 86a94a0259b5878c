//! `resolve-position --emit` proved on a real replica. A private MariaDB primary with
//! the fixture history (across rotations); a second private MariaDB, with log_slave_updates, is
//! made its replica by running exactly what `--emit mariadb` prints, in the GTID form and in the
//! file/position form, after the history before the answer is restored into it the way a DBA
//! restores a backup to a point (`mariadb-binlog --stop-position` piped into `mariadb`, not
//! logged). Once caught up, the replica's own binlog holds exactly the transactions committed
//! at or after T, in order, each once: the first is the transaction at the answer, an earlier
//! start would have applied one twice (or failed on it), a later one would have lost some.

use crate::support;

use std::time::Duration;

use mysql_async::prelude::*;
use startpoint::binlog::{FileEventSource, ReadOptions};
use startpoint::gtid::UnitGtid;
use startpoint::source::local::BinlogDir;
use startpoint::start_time::format_instant;
use startpoint::testkit::fixtures::server_with_history;
use startpoint::testkit::mariadb::{MariaDb, ServerConfig};
use startpoint::testkit::workload::FIXTURE_MAX_BINLOG_SIZE;
use startpoint::unit::UnitReader;

/// One transaction of the local copy, in binlog order.
struct Trx {
    commit_us: i64,
    gtid: String,
    /// Index of its file.
    file: usize,
    /// Where it starts: what the answer is when it is the first committed at or after T.
    at: (String, u64),
}

/// Every transaction of the local copy, in binlog order.
fn transactions(local: &BinlogDir) -> Vec<Trx> {
    let mut out = Vec::new();
    for (i, file) in local.files.iter().enumerate() {
        let options = ReadOptions {
            newest: i + 1 == local.files.len(),
            ..ReadOptions::default()
        };
        let mut units = UnitReader::new(FileEventSource::open(&file.path, options).unwrap(), false);
        while let Some(unit) = units.next_unit().unwrap() {
            if let Some(UnitGtid::MariaDb(gtid)) = &unit.gtid {
                out.push(Trx {
                    commit_us: unit.commit_us(),
                    gtid: gtid.to_string(),
                    file: i,
                    at: (file.name.clone(), unit.pos),
                });
            }
        }
    }
    out
}

/// `resolve-position` from `source` (its flags) at `t` with `extra`: what it prints on stdout,
/// once it succeeded.
fn resolve(source: &[&str], t: i64, extra: &[&str]) -> String {
    let out = support::command()
        .arg("resolve-position")
        .args(source)
        .args(["--start-time", &format_instant(t)])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The answer's file and position, from the JSON output.
fn answer_at(source: &[&str], t: i64) -> (String, u64) {
    let answer: serde_json::Value =
        serde_json::from_str(&resolve(source, t, &["--output", "json"])).unwrap();
    (
        answer["binlog_name"].as_str().unwrap().to_owned(),
        answer["binlog_pos"].as_u64().unwrap(),
    )
}

/// The first transaction of the file the long statement's commit opened: the two before the
/// statement in the old file committed later than it (the workload's last rotation).
fn long_statement_rotation(all: &[Trx]) -> usize {
    (3..all.len())
        .find(|&j| {
            all[j].file != all[j - 1].file
                && all[j - 2].commit_us > all[j - 1].commit_us
                && all[j - 3].commit_us > all[j - 1].commit_us
        })
        .expect("the history has the long statement's rotation")
}

/// Replays the primary's binlog up to `file:pos` into `replica`, unlogged: the backup restored
/// to the point the replica then replicates from.
fn restore_until(local: &BinlogDir, file: &str, pos: u64, replica: &MariaDb) {
    use std::process::{Command, Stdio};
    let upto = local.files.iter().position(|f| f.name == file).unwrap();
    let mut dump = Command::new("mariadb-binlog");
    dump.arg(format!("--stop-position={pos}"));
    for f in &local.files[..=upto] {
        dump.arg(&f.path);
    }
    let mut dump = dump.stdout(Stdio::piped()).spawn().unwrap();
    let status = Command::new("mariadb")
        .args([
            "--host=127.0.0.1",
            &format!("--port={}", replica.port()),
            "--user=root",
            "--init-command=SET sql_log_bin = 0",
        ])
        .stdin(dump.stdout.take().unwrap())
        .status()
        .unwrap();
    assert!(
        dump.wait().unwrap().success() && status.success(),
        "restore to {file}:{pos}"
    );
}

/// `CHECKSUM TABLE` of every user table, by name.
async fn checksums(server: &MariaDb) -> Vec<(String, Option<i64>)> {
    let mut conn = server.connect().await.unwrap();
    let tables: Vec<(String, String)> = conn
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema \
             NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') AND \
             table_type = 'BASE TABLE' ORDER BY 1, 2",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for (schema, table) in tables {
        let row: Option<(String, Option<i64>)> = conn
            .query_first(format!("CHECKSUM TABLE `{schema}`.`{table}`"))
            .await
            .unwrap();
        out.push(row.unwrap());
    }
    conn.disconnect().await.unwrap();
    out
}

/// Runs `sql` (several statements) on `server` as root.
async fn run_sql(server: &MariaDb, sql: &str) {
    let mut conn = server.connect().await.unwrap();
    conn.query_drop(sql)
        .await
        .unwrap_or_else(|e| panic!("{e}:\n{sql}"));
    conn.disconnect().await.unwrap();
}

/// The GTIDs the replica wrote to its own binlog, in order.
async fn replica_binlog_gtids(replica: &MariaDb) -> Vec<String> {
    let mut conn = replica.connect().await.unwrap();
    let files: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await.unwrap();
    let mut gtids = Vec::new();
    for file in files {
        let name: String = file.get(0).unwrap();
        let events: Vec<mysql_async::Row> = conn
            .query(format!("SHOW BINLOG EVENTS IN '{name}'"))
            .await
            .unwrap();
        for event in events {
            let kind: String = event.get(2).unwrap();
            let info: String = event.get(5).unwrap();
            if kind == "Gtid" {
                // "BEGIN GTID 0-1-214" or "GTID 0-1-214" (DDL).
                if let Some(gtid) = info.split_whitespace().find(|w| w.contains('-')) {
                    gtids.push(gtid.to_owned());
                }
            }
        }
    }
    conn.disconnect().await.unwrap();
    gtids
}

/// What `replica` logged once it applied `last` (the primary's last transaction), or after
/// 30 s.
async fn caught_up(replica: &MariaDb, last: &str) -> Vec<String> {
    let mut applied = Vec::new();
    for _ in 0..300 {
        applied = replica_binlog_gtids(replica).await;
        if applied.last().map(String::as_str) == Some(last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    applied
}

/// The first transaction committed at or after `t` (same-second commits included), and the
/// GTIDs of it and all after it, in order.
fn committed_from(all: &[Trx], t: i64) -> (usize, Vec<String>) {
    let first = all.iter().position(|trx| trx.commit_us >= t).unwrap();
    (
        first,
        all[first..].iter().map(|trx| trx.gtid.clone()).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_started_from_emit_mariadb_replays_exactly_from_the_answer() {
    let (primary, _copy, local) = server_with_history(&ServerConfig {
        max_binlog_size: FIXTURE_MAX_BINLOG_SIZE,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let all = transactions(&local);
    assert!(all.len() > 20, "{} transactions", all.len());
    let url = primary.url();
    assert!(
        !checksums(&primary).await.is_empty(),
        "the history has tables"
    );
    // Starts in an early file, in the middle, near the end, at the first transaction of a file
    // (the boundary: the answer may be the end of the file before), and around the long
    // statement whose commit rotated the log: the new file is dated at the statement's start,
    // before the two transactions other sessions committed into the old file while it ran
    // (SEMANTICS.md §6). A start time after that date but at or before their commits must
    // still start in the old file; starting at the new file skips them.
    let boundary = all
        .iter()
        .position(|t| t.file == all[all.len() / 2].file)
        .unwrap();
    let rotated = long_statement_rotation(&all);
    // The trap is real: the new file is dated at or before the commits left in the old one.
    let created = {
        use startpoint::binlog::EventSource;
        let path = &local.files[all[rotated].file].path;
        let mut events = FileEventSource::open(path, ReadOptions::default()).unwrap();
        i64::from(events.next_event().unwrap().unwrap().header.timestamp) * 1_000_000
    };
    assert!(
        created <= all[rotated - 3].commit_us && created <= all[rotated - 2].commit_us,
        "the long statement's new file is dated before the commits it follows"
    );
    let picks = [
        all.len() / 10,
        boundary,
        all.len() / 2,
        all.len() - 3,
        rotated - 3,
        rotated - 2,
        rotated - 1,
        rotated,
    ];
    for (round, &index) in picks.iter().enumerate() {
        for gtid_mode in ["auto", "off"] {
            let t = all[index].commit_us;
            let source = ["--url", url.as_str(), "--gtid", gtid_mode];
            let sql = resolve(&source, t, &["--emit", "mariadb"]);
            let (file, pos) = answer_at(&source, t);
            assert_eq!(
                sql.contains("gtid_slave_pos"),
                gtid_mode == "auto",
                "{gtid_mode}: {sql}"
            );
            let replica = MariaDb::start_with(&ServerConfig {
                server_id: 100 + round as u32,
                extra_args: vec!["--log-slave-updates".to_owned()],
                ..ServerConfig::default()
            })
            .unwrap();
            restore_until(&local, &file, pos, &replica);
            run_sql(&replica, &sql).await;
            // Caught up: the replica applied the primary's last transaction.
            let applied = caught_up(&replica, &all.last().unwrap().gtid).await;
            let (first, expected) = committed_from(&all, t);
            // The answer is where the first of them starts, in its own file.
            assert_eq!(
                (file.clone(), pos),
                all[first].at,
                "round {round}, --gtid {gtid_mode}: T = {}",
                format_instant(t)
            );
            assert_eq!(
                applied, expected,
                "round {round}, --gtid {gtid_mode}: replica started from\n{sql}"
            );
            // And it holds exactly the primary's rows: the restored part and the replicated
            // part meet without a gap or an overlap.
            assert_eq!(
                checksums(&replica).await,
                checksums(&primary).await,
                "round {round}, --gtid {gtid_mode}"
            );
        }
    }
}

/// The `mysqlbinlog` form, replayed. A fresh server restored to the answer, then fed
/// exactly what `--emit mysqlbinlog` prints (from the local files), logs exactly the
/// transactions committed at or after T.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_emit_mysqlbinlog_applies_exactly_from_the_answer() {
    let (primary, _copy, local) = server_with_history(&ServerConfig {
        max_binlog_size: FIXTURE_MAX_BINLOG_SIZE,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    drop(primary);
    let all = transactions(&local);
    let rotated = long_statement_rotation(&all);
    for index in [all.len() / 3, all.len() * 2 / 3, rotated - 2] {
        let t = all[index].commit_us;
        let dir = local.dir.display().to_string();
        let source = ["--binlog-dir", dir.as_str()];
        let command = resolve(&source, t, &["--emit", "mysqlbinlog"]);
        let (file, pos) = answer_at(&source, t);
        let server = MariaDb::start().unwrap();
        restore_until(&local, &file, pos, &server);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{} | mariadb --host=127.0.0.1 --port={} --user=root",
                command.trim(),
                server.port()
            ))
            .status()
            .unwrap();
        assert!(status.success(), "{command}");
        let applied = replica_binlog_gtids(&server).await;
        let (first, expected) = committed_from(&all, t);
        assert_eq!((file, pos), all[first].at, "{command}");
        assert_eq!(applied, expected, "{command}");
    }
}

/// `SHOW SLAVE STATUS`'s `Last_IO_Errno`, once the IO thread has tried to connect (0 when it
/// connected), or `None` if it has not reported within 15 s.
async fn io_error_after_trying(replica: &MariaDb) -> Option<u64> {
    let mut conn = replica.connect().await.unwrap();
    let mut seen = None;
    for _ in 0..150 {
        let row: Option<mysql_async::Row> = conn.query_first("SHOW SLAVE STATUS").await.unwrap();
        if let Some(row) = row {
            let running: Option<String> = row.get("Slave_IO_Running");
            let errno: Option<u64> = row.get("Last_IO_Errno");
            if errno.is_some_and(|e| e != 0) || running.as_deref() == Some("Yes") {
                seen = errno;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    conn.disconnect().await.unwrap();
    seen
}

/// With a password, `--emit mariadb` prints `MASTER_PASSWORD = '<password>'`, which
/// MariaDB takes as the password itself: piped as it is, the replica's IO thread fails to log
/// in (1045). stderr says to replace the placeholder; done as it says, the replica connects
/// and replays exactly from the answer. The password appears in no output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_placeholder_piped_into_a_replica_fails_until_replaced_as_told() {
    let (primary, _copy, local) = server_with_history(&ServerConfig {
        max_binlog_size: FIXTURE_MAX_BINLOG_SIZE,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    const SECRET: &str = "Rep1-secret";
    run_sql(
        &primary,
        &format!(
            "SET sql_log_bin = 0; CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '{SECRET}'; \
             GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'127.0.0.1'"
        ),
    )
    .await;
    // (Not logged: the history stays the fixture's.)
    let all = transactions(&local);
    let t = all[all.len() / 2].commit_us;
    let url = format!("mysql://repl:{SECRET}@127.0.0.1:{}", primary.port());
    let out = support::command()
        .args(["resolve-position", "--url", &url, "--start-time"])
        .arg(format_instant(t))
        .args(["--emit", "mariadb"])
        .output()
        .unwrap();
    let (sql, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        !sql.contains(SECRET) && !stderr.contains(SECRET),
        "{sql}{stderr}"
    );
    assert!(
        sql.contains("MASTER_USER = 'repl', MASTER_PASSWORD = '<password>'"),
        "{sql}"
    );
    assert!(
        stderr.contains("<password> stands for the replication user's password: replace it"),
        "{stderr}"
    );
    let (file, pos) = answer_at(&["--url", &url], t);
    let replica = MariaDb::start_with(&ServerConfig {
        server_id: 90,
        extra_args: vec!["--log-slave-updates".to_owned()],
        ..ServerConfig::default()
    })
    .unwrap();
    restore_until(&local, &file, pos, &replica);
    // As printed: the IO thread cannot log in (ER_ACCESS_DENIED_ERROR).
    run_sql(&replica, &sql).await;
    assert_eq!(io_error_after_trying(&replica).await, Some(1045));
    // As stderr says: the placeholder replaced by the password.
    run_sql(&replica, &sql.replace("<password>", SECRET)).await;
    assert_eq!(io_error_after_trying(&replica).await, Some(0));
    let applied = caught_up(&replica, &all.last().unwrap().gtid).await;
    assert_eq!(applied, committed_from(&all, t).1);
    assert_eq!(checksums(&replica).await, checksums(&primary).await);
}
