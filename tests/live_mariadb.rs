//! The private-server harness itself, against a real `mariadbd`.

use std::path::Path;

use mysql_async::prelude::*;
use startpoint::testkit::mariadb::{BINLOG_BASENAME, MariaDb, ServerConfig};

#[tokio::test]
async fn writes_reach_the_binlog_and_show_binary_logs_reads_them_back() {
    let server = MariaDb::start_with(&ServerConfig {
        max_binlog_size: 4096,
        ..ServerConfig::default()
    })
    .expect("start a private mariadbd");
    assert_ne!(server.port(), 3306);

    let mut conn = server.connect().await.expect("connect as root over TCP");
    let settings: (u8, String, String, u32, u8, String) = conn
        .query_first(
            "SELECT @@log_bin, @@binlog_format, @@binlog_checksum, @@server_id, \
             @@gtid_strict_mode, @@datadir",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settings.0, 1);
    assert_eq!(settings.1, "ROW");
    assert_eq!(settings.2, "CRC32");
    assert_eq!(settings.3, 1);
    assert_eq!(settings.4, 1);
    assert_eq!(
        Path::new(&settings.5).canonicalize().unwrap(),
        server.datadir().canonicalize().unwrap(),
        "connected to a server other than ours"
    );

    conn.query_drop("CREATE DATABASE w").await.unwrap();
    conn.query_drop("CREATE TABLE w.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB")
        .await
        .unwrap();
    // Enough rows to rotate past a 4 KiB max_binlog_size, plus an explicit rotation.
    for id in 0..40 {
        conn.exec_drop("INSERT INTO w.t VALUES (?, REPEAT('x', 150))", (id,))
            .await
            .unwrap();
    }
    conn.query_drop("FLUSH BINARY LOGS").await.unwrap();

    let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.unwrap();
    assert!(
        logs.len() >= 3,
        "expected size and FLUSH rotations, got {logs:?}"
    );
    for (name, size) in &logs {
        assert!(name.starts_with(BINLOG_BASENAME), "{name}");
        let on_disk = std::fs::metadata(server.binlog_path(name)).unwrap().len();
        assert_eq!(
            on_disk, *size,
            "{name}: SHOW BINARY LOGS and the file disagree"
        );
    }
    let index = std::fs::read_to_string(server.datadir().join("mysql-bin.index")).unwrap();
    assert_eq!(index.lines().count(), logs.len());

    let rows: u64 = conn
        .query_first("SELECT COUNT(*) FROM w.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows, 40);
    conn.disconnect().await.unwrap();
}

#[test]
fn several_servers_run_at_once_and_vanish_on_drop() {
    let a = MariaDb::start().expect("first server");
    let b = MariaDb::start().expect("second server");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.datadir(), b.datadir());

    let (pid, dir) = (a.pid(), a.datadir());
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(a);
    assert!(!dir.exists(), "datadir {} left behind", dir.display());
    // The pid may be reused eventually, but not by a mariadbd of ours this quickly.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_ne!(
        comm.trim(),
        "mariadbd",
        "server {pid} still running after drop"
    );

    // The other server is untouched.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = b.connect().await.expect("second server still answers");
        let one: u8 = conn.query_first("SELECT 1").await.unwrap().unwrap();
        assert_eq!(one, 1);
        conn.disconnect().await.unwrap();
    });
}
