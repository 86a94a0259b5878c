//! Side-by-side timing of `startpoint resolve-position` and `mariadb-binlog` on ~1 GiB binlogs,
//! the comparison behind BENCHMARKS.md.
//!
//! ```text
//! cargo build --release && cargo run --release --example compare -- [--dir DIR] [--runs N] [--mib N] [--only local|remote]
//! ```
//!
//! The data is built on demand, outside the repository (default `$TMPDIR/startpoint-bench`), and
//! reused by later runs:
//! - `mariadb/`: a ~1 GiB binlog written by a private MariaDB from the test harness (autocommit
//!   row inserts of ~1 KiB, a simulated clock advancing one second per 100 transactions), then a
//!   `FLUSH BINARY LOGS`, so a small newest file follows it as on a real server;
//! - `mysql80/`: a ~1 GiB MySQL 8.0 binlog from the project's binlog writer (GTIDs, commit
//!   timestamps, `transaction_length`, 200-byte row images), and a small newest file after it;
//! - `mariadb-history/` and `mysql80-history/`: the same two workloads as ~1 GiB histories of
//!   128 MiB files, resolved with T at 97 % of the MariaDB history (cold with `--no-cache`, and
//!   warm after `startpoint index` filled a cache) and near the end of the MySQL one.
//!
//! Each case also times the copy floor in the same run: two threads that `pread` the same files
//! into reused 1 MiB buffers, the least that reading every byte costs here.
//!
//! Each case runs both tools alternately (after a warm-up run that brings the files into the
//! page cache), `--runs` times (default 7), and reports the medians, their ratio and each
//! tool's peak RSS (from `wait4`). The start time lies near the end of the big file. The
//! `mariadb-binlog` run is `--start-datetime=T --stop-datetime=T+1s FILE` in UTC, output to
//! /dev/null: it reads the file from its start to T, as DM's own finder does.

// Measures child processes with libc (wait4, getrusage).
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "compare/link.rs"]
mod link;

use mysql_async::prelude::*;
use startpoint::testkit::binlog_writer::{SequenceWriter, TrxShape, TrxSpec, WriterFlavor};
use startpoint::testkit::mariadb::{MariaDb, ServerConfig};

/// First simulated second of both data sets: 2031-01-01 00:00:00 UTC.
const BASE: u32 = 1_924_992_000;
/// Transactions per simulated second.
const PER_SECOND: u32 = 100;

struct Options {
    dir: PathBuf,
    runs: usize,
    mib: u64,
    /// `local`, `remote`, `link`, or `local` and `remote` (`None`).
    only: Option<String>,
    /// The links `--only link` measures (`loopback` or a `tc` rate such as `32mbit`).
    links: Vec<String>,
    /// Run the link benches here: this process is inside the namespace of this link.
    link_inside: Option<String>,
    /// Only serve this directory of binlogs from a private MariaDB, until stdin closes (for
    /// profiling by hand).
    serve: Option<PathBuf>,
    /// Only build the data (run in a child process, so the measuring process stays small:
    /// a child's peak RSS counts the parent's at fork time).
    build: bool,
}

fn options() -> Options {
    let mut options = Options {
        dir: std::env::temp_dir().join("startpoint-bench"),
        runs: 7,
        mib: 1024,
        build: false,
        only: None,
        links: vec!["loopback".into(), "100mbit".into(), "32mbit".into()],
        link_inside: None,
        serve: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--dir" => options.dir = PathBuf::from(value()),
            "--runs" => options.runs = value().parse().unwrap_or_else(|_| usage("--runs")),
            "--mib" => options.mib = value().parse().unwrap_or_else(|_| usage("--mib")),
            "--bench" => {}
            "--build" => options.build = true,
            "--only" => options.only = Some(value()),
            "--links" => options.links = value().split(',').map(str::to_owned).collect(),
            "--link-inside" => options.link_inside = Some(value()),
            "--serve" => options.serve = Some(PathBuf::from(value())),
            other => usage(other),
        }
    }
    // Shaped links take minutes a run: at least 3 there, 5 elsewhere.
    let least = match options.only.as_deref() == Some("link") || options.link_inside.is_some() {
        true => 3,
        false => 5,
    };
    options.runs = options.runs.max(least);
    options
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "compare: bad argument {arg}; usage: compare [--dir DIR] [--runs N] [--mib N] \
         [--only local|remote|link] [--links loopback,100mbit,32mbit]"
    );
    std::process::exit(2)
}

fn main() {
    let options = options();
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/startpoint");
    if !binary.exists() {
        eprintln!("compare: build the release binary first: cargo build --release");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mariadb = options.dir.join("mariadb");
    let mysql = options.dir.join("mysql80");
    let big = options.mib << 20;
    let history = options.dir.join("mariadb-history");
    let mysql_history = options.dir.join("mysql80-history");
    if let Some(dir) = &options.serve {
        let server = link::serve(dir);
        println!("{}", server.url());
        let _ = std::io::stdin().read_line(&mut String::new());
        return;
    }
    if let Some(link) = &options.link_inside {
        link::inside(
            &binary,
            &options.dir,
            link,
            options.runs,
            link == "loopback",
        );
        return;
    }
    if options.build {
        runtime.block_on(ensure_mariadb(&mariadb, big, 1 << 30));
        runtime.block_on(ensure_mariadb(&history, big, HISTORY_FILE));
        ensure_mysql80(&mysql, big);
        ensure_mysql80_history(&mysql_history, big);
        return;
    }
    let built = Command::new(std::env::current_exe().expect("this program"))
        .args(["--build", "--dir"])
        .arg(&options.dir)
        .args(["--mib", &options.mib.to_string()])
        .status()
        .expect("build the data");
    assert!(built.success(), "building the data failed");
    if options.only.as_deref() == Some("link") {
        drop(runtime);
        link::all(&options.dir, &options.links, options.runs);
        return;
    }
    let maria_last = runtime.block_on(ensure_mariadb(&mariadb, big, 1 << 30));
    let history_last = runtime.block_on(ensure_mariadb(&history, big, HISTORY_FILE));
    let mysql_last = ensure_mysql80(&mysql, big);
    let mysql_history_last = ensure_mysql80_history(&mysql_history, big);
    let history_files = binlogs(&history);
    let mysql_history_files = binlogs(&mysql_history);
    // T at 97 % of the history: 97 % of its seconds.
    let history_first = BASE + 1;
    let history_at = history_first + (history_last - history_first) * 97 / 100;
    let history_cache = options.dir.join("history-cache");

    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    let cases = [
        Case {
            name: "MariaDB 10.11, scan",
            dir: mariadb.clone(),
            their_files: vec![mariadb.join("mysql-bin.000002")],
            at: maria_last - 60,
            extra: vec![],
        },
        Case {
            name: "MySQL 8.0, exact GTID set",
            dir: mysql.clone(),
            their_files: vec![mysql.join("binlog.000001")],
            at: mysql_last - 60,
            extra: vec![],
        },
        Case {
            name: "MySQL 8.0, position only",
            dir: mysql.clone(),
            their_files: vec![mysql.join("binlog.000001")],
            at: mysql_last - 60,
            extra: vec!["--gtid".into(), "off".into()],
        },
        Case {
            name: "MariaDB history, cold",
            dir: history.clone(),
            their_files: history_files.clone(),
            at: history_at,
            extra: vec!["--no-cache".into()],
        },
        Case {
            name: "MariaDB history, warm",
            dir: history.clone(),
            their_files: history_files.clone(),
            at: history_at,
            extra: vec!["--cache-dir".into(), history_cache.display().to_string()],
        },
        Case {
            name: "MySQL 8.0 history, GTID set",
            dir: mysql_history.clone(),
            their_files: mysql_history_files.clone(),
            at: mysql_history_last - 60,
            extra: vec!["--no-cache".into()],
        },
        Case {
            name: "MySQL 8.0 history, position",
            dir: mysql_history.clone(),
            their_files: mysql_history_files.clone(),
            at: mysql_history_last - 60,
            extra: vec!["--no-cache".into(), "--gtid".into(), "off".into()],
        },
    ];
    // The warm case's cache, filled once (what `startpoint index` does).
    let _ = std::fs::remove_dir_all(&history_cache);
    let filled = Command::new(&binary)
        .args(["index", "--binlog-dir"])
        .arg(&history)
        .arg("--cache-dir")
        .arg(&history_cache)
        .stdout(Stdio::null())
        .status()
        .expect("run startpoint index");
    assert!(filled.success(), "startpoint index failed");
    println!(
        "{:<28} {:>10} {:>12} {:>9} {:>12} {:>14} {:>10} {:>9}",
        "case", "MiB", "startpoint", "RSS MiB", "mariadb-bin", "ratio", "floor", "vs floor"
    );
    for case in &cases {
        if options.only.as_deref() != Some("remote") {
            case.run(&binary, options.runs);
        }
    }
    if options.only.as_deref() != Some("local") {
        runtime.block_on(remote_bytes(&binary));
        runtime.block_on(remote_mysql80_bytes(
            &binary,
            &options.dir.join("mysql80-served"),
            big,
        ));
    }
}

/// The `i`-th transaction of a MySQL 8.0 data set starting at `base`: one row, `PER_SECOND`
/// commits a second, evenly spread over the second.
fn mysql_trx(base: u32, i: u32) -> TrxSpec {
    TrxSpec {
        shape: TrxShape::RowDml { statements: 1 },
        begin_ts: base + i / PER_SECOND,
        commit_ts: base + i / PER_SECOND,
        commit_micros: (i % PER_SECOND) * (1_000_000 / PER_SECOND),
        domain: 0,
        origin: 0,
        gtid_gap: 0,
    }
}

/// `max_binlog_size` of the history data sets: about 8 files of 128 MiB per GiB.
const HISTORY_FILE: u64 = 128 << 20;

/// The binlog files of `dir`, in its index's order.
fn binlogs(dir: &Path) -> Vec<PathBuf> {
    startpoint::source::local::BinlogDir::open(dir)
        .expect("a data set directory")
        .files
        .into_iter()
        .map(|f| f.path)
        .collect()
}

/// The copy floor: two threads `pread` the same bytes (the files split between them, by turns)
/// into reused 1 MiB buffers, as much as any reading of every byte costs here.
fn floor(files: &[PathBuf]) -> Duration {
    use std::os::unix::fs::FileExt;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for part in 0..2 {
            scope.spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                let mut chunk = 0u64;
                for file in files {
                    let handle = std::fs::File::open(file).expect("open a binlog");
                    let len = handle.metadata().map_or(0, |m| m.len());
                    let mut at = 0;
                    while at < len {
                        if chunk % 2 == part {
                            let n = handle.read_at(&mut buf, at).expect("read a binlog");
                            std::hint::black_box(&buf[..n]);
                        }
                        chunk += 1;
                        at += 1 << 20;
                    }
                }
            });
        }
    });
    started.elapsed()
}

/// The multi-file MySQL 8.0 data set: ~`size` bytes in 128 MiB files (the project's writer,
/// GTIDs and commit timestamps); returns the last commit second.
fn ensure_mysql80_history(dir: &Path, size: u64) -> u32 {
    let marker = dir.join(format!("complete-{size}"));
    let per_trx = 437;
    let per_file = (HISTORY_FILE / per_trx) as u32;
    let files = (size / HISTORY_FILE).max(1) as u32;
    let count = per_file * files;
    let last = BASE + (count - 1) / PER_SECOND;
    if marker.exists() {
        return last;
    }
    eprintln!("building {} (MySQL 8.0, {files} files)…", dir.display());
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the data directory");
    let mut writer = SequenceWriter::new(WriterFlavor::MySql80Gtid, "binlog").with_row_image(200);
    let spec = |i: u32| mysql_trx(BASE, i);
    let mut index = String::new();
    for f in 0..=files {
        let range = if f < files {
            f * per_file..(f + 1) * per_file
        } else {
            count..count + 100
        };
        let created = BASE + range.start / PER_SECOND;
        let file = writer.write_file(
            &startpoint::testkit::binlog_writer::FileSpec {
                created,
                trxs: range.map(spec).collect(),
                trailing: startpoint::testkit::binlog_writer::Trailing::Nothing,
            },
            f == files,
        );
        std::fs::write(dir.join(&file.name), &file.bytes).expect("write a binlog");
        index.push_str(&format!("./{}\n", file.name));
    }
    std::fs::write(dir.join("binlog.index"), index).expect("write the index");
    std::fs::write(&marker, "").expect("mark the data set complete");
    last
}

/// First simulated second of the MySQL 8.0 files a live server serves: before the real clock,
/// so that the server's own new file comes after them.
const SERVED_BASE: u32 = 1_735_689_600;

/// Bytes on the wire for a ~1 GiB MySQL 8.0 binlog (the project's writer) served by a live
/// MariaDB (which serves MySQL-format files as its own history), a start time near its end:
/// position only (bisected on the server) and with the exact GTID set (streamed), against a
/// plain binlog stream of the file from its start to the answer.
async fn remote_mysql80_bytes(binary: &Path, dir: &Path, size: u64) {
    let count = (size / 437) as u32;
    let last = SERVED_BASE + (count - 1) / PER_SECOND;
    let marker = dir.join(format!("complete-{size}"));
    if !marker.exists() {
        eprintln!("building {} (MySQL 8.0 for a live server)…", dir.display());
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("create the data directory");
        let mut writer =
            SequenceWriter::new(WriterFlavor::MySql80Gtid, "mysql-bin").with_row_image(200);
        let spec = |i: u32| mysql_trx(SERVED_BASE, i);
        let mut index = String::new();
        // Both files closed (a server would recover a file left in use).
        for (created, range) in [(SERVED_BASE, 0..count), (last + 1, count..count + 100)] {
            let file = writer.write_file(
                &startpoint::testkit::binlog_writer::FileSpec {
                    created,
                    trxs: range
                        .map(|i| TrxSpec {
                            begin_ts: spec(i).begin_ts.max(created),
                            commit_ts: spec(i).commit_ts.max(created),
                            ..spec(i)
                        })
                        .collect(),
                    trailing: startpoint::testkit::binlog_writer::Trailing::Nothing,
                },
                false,
            );
            std::fs::write(dir.join(&file.name), &file.bytes).expect("write a binlog");
            index.push_str(&format!("./{}\n", file.name));
        }
        std::fs::write(dir.join("mysql-bin.index"), index).expect("write the index");
        std::fs::write(&marker, "").expect("mark the data set complete");
    }
    let server = MariaDb::start_with(&ServerConfig {
        max_binlog_size: 1 << 30,
        binlogs: Some(dir.to_path_buf()),
        ..ServerConfig::default()
    })
    .expect("start mariadbd");
    let time = utc(last - 60);
    println!();
    println!(
        "remote (live MariaDB serving a {} MiB MySQL 8.0 file, {count} transactions): start time {time}",
        size >> 20
    );
    let mut plain = 0;
    for (label, extra) in [
        ("--gtid off", &["--gtid", "off"][..]),
        (
            "--gtid off --compress",
            &["--gtid", "off", "--compress"][..],
        ),
        ("exact GTID set", &[][..]),
        ("exact GTID set --compress", &["--compress"][..]),
    ] {
        let (answer, elapsed) = resolve_live(binary, &server, &time, extra);
        let pos = answer["binlog_pos"].as_u64().unwrap_or(0);
        if plain == 0 {
            plain = plain_prefix_bytes(&server, "mysql-bin.000001", pos).await;
            println!(
                "  {:<26} {plain} bytes: a plain binlog dump of mysql-bin.000001 from its start to \
                 the answer",
                "baseline"
            );
        }
        let received = answer["bytes_read"].as_u64().unwrap_or(0);
        println!(
            "  {label:<26} answer {}:{pos}, {received} bytes received in {} round trips, {:.0} ms: \
             {:.4} of the baseline",
            answer["binlog_name"].as_str().unwrap_or("?"),
            answer["round_trips"],
            elapsed.as_secs_f64() * 1e3,
            received as f64 / plain.max(1) as f64,
        );
    }
}

/// Bytes on the wire against a live MariaDB with an OLTP-like history (sysbench's
/// `oltp_write_only` shape: two UPDATEs, a DELETE and an INSERT per transaction, rows of digit
/// groups like sysbench's `c` and `pad` columns), for a start time three quarters into a 64 MiB
/// binlog file: startpoint with and without protocol compression, against what a plain
/// binlog stream of the target file from its start to the answer carries (DM's finder reads
/// that much at least).
async fn remote_bytes(binary: &Path) {
    let server = MariaDb::start_with(&ServerConfig {
        max_binlog_size: 64 << 20,
        extra_args: vec!["--innodb-buffer-pool-size=128M".into()],
        ..ServerConfig::default()
    })
    .expect("start mariadbd");
    let mut conn = server.connect().await.expect("connect");
    let (i, _) = oltp_workload(&mut conn, 200, |logs| {
        logs.len() > 2 && logs.last().is_some_and(|(_, size)| *size > 1 << 20)
    })
    .await;
    let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("list");
    conn.disconnect().await.expect("disconnect");
    // The target: the last full file, three quarters in by time.
    let (target, _) = &logs[logs.len() - 2];
    let first_second = {
        let path = server.binlog_path(target);
        let source = startpoint::binlog::FileEventSource::open(
            &path,
            startpoint::binlog::ReadOptions::default(),
        )
        .expect("open the target");
        let mut units = startpoint::unit::UnitReader::new(source, false);
        let mut times = Vec::new();
        while let Some(unit) = units.next_unit().expect("read the target") {
            times.push(unit.end_ts);
        }
        times[times.len() * 3 / 4]
    };
    let time = utc(first_second);
    println!();
    println!(
        "remote (live MariaDB, {transactions} OLTP transactions, target {target}): start time {time}",
        transactions = i
    );
    let mut plain = 0;
    for compress in [false, true] {
        let extra: &[&str] = if compress { &["--compress"] } else { &[] };
        let (answer, elapsed) = resolve_live(binary, &server, &time, extra);
        let pos = answer["binlog_pos"].as_u64().unwrap_or(0);
        if !compress {
            plain = plain_prefix_bytes(&server, target, pos).await;
            println!(
                "  {:<14} {plain} bytes: a plain binlog dump (as a MariaDB replica asks for it) of \
                 {target} from its start to the answer",
                "baseline"
            );
        }
        let received = answer["bytes_read"].as_u64().unwrap_or(0);
        println!(
            "  {:<14} answer {}:{pos}, {received} bytes received in {} round trips, {:.0} ms: {:.2} of \
             the baseline",
            if compress {
                "--compress"
            } else {
                "uncompressed"
            },
            answer["binlog_name"].as_str().unwrap_or("?"),
            answer["round_trips"],
            elapsed.as_secs_f64() * 1e3,
            received as f64 / plain.max(1) as f64,
        );
    }
}

/// sysbench's `oltp_write_only` shape on `conn` (two UPDATEs, a DELETE and an INSERT per
/// transaction, rows of random digit groups like sysbench's `c` and `pad`, 50 transactions per
/// simulated second from BASE), in batches of `batch`, until `enough` holds for the server's
/// binary logs. Returns the transactions written and the last second.
async fn oltp_workload(
    conn: &mut mysql_async::Conn,
    batch: u32,
    enough: impl Fn(&[(String, u64)]) -> bool,
) -> (u32, u32) {
    conn.query_drop(format!(
        "SET TIMESTAMP={BASE}; FLUSH BINARY LOGS; CREATE DATABASE sbtest; \
         CREATE TABLE sbtest.sbtest1 (id INT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60), \
         KEY (k)) ENGINE=InnoDB; \
         INSERT INTO sbtest.sbtest1 SELECT seq, seq, '', '' FROM sbtest.seq_1_to_20000"
    ))
    .await
    .expect("set up");
    let digits = |groups: u32| {
        format!(
            "CONCAT_WS('-', {})",
            (0..groups)
                .map(|_| "LPAD(FLOOR(RAND() * 99999999999), 11, '0')")
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (c, pad) = (digits(10), digits(5));
    let mut i = 0u32;
    let mut last = BASE;
    loop {
        let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("list");
        if enough(&logs) {
            return (i, last);
        }
        let mut statements = String::new();
        for _ in 0..batch {
            last = BASE + 1 + i / 50;
            let id = 1 + (i * 7919) % 20000;
            statements.push_str(&format!(
                "SET TIMESTAMP={last}; BEGIN; \
                 UPDATE sbtest.sbtest1 SET k = k + 1 WHERE id = {id}; \
                 UPDATE sbtest.sbtest1 SET c = {c} WHERE id = {}; \
                 DELETE FROM sbtest.sbtest1 WHERE id = {}; \
                 INSERT INTO sbtest.sbtest1 VALUES ({}, {i}, {c}, {pad}); COMMIT;",
                1 + (id + 13) % 20000,
                1 + (id + 101) % 20000,
                1 + (id + 101) % 20000,
            ));
            i += 1;
        }
        conn.query_drop(statements).await.expect("workload");
    }
}

/// `startpoint resolve-position` against `server` for the UTC time `time`: its JSON answer and
/// how long it took.
fn resolve_live(
    binary: &Path,
    server: &MariaDb,
    time: &str,
    extra: &[&str],
) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let out = Command::new(binary)
        .args([
            "resolve-position",
            "--url",
            &server.url(),
            "--start-time",
            time,
        ])
        .args(["--timezone", "UTC", "--output", "json"])
        .args(extra)
        .output()
        .expect("run startpoint");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = serde_json::from_slice(&out.stdout).expect("JSON");
    (answer, elapsed)
}

struct Case {
    name: &'static str,
    dir: PathBuf,
    /// The files `mariadb-binlog` reads (and the floor copies).
    their_files: Vec<PathBuf>,
    /// The start time, a UTC second.
    at: u32,
    extra: Vec<String>,
}

impl Case {
    fn run(&self, binary: &Path, runs: usize) {
        let time = utc(self.at);
        let stop = utc(self.at + 1);
        let mut ours = Command::new(binary);
        ours.args(["resolve-position", "--binlog-dir"])
            .arg(&self.dir)
            .args([
                "--start-time",
                &time,
                "--timezone",
                "UTC",
                "--output",
                "json",
            ])
            .args(&self.extra);
        let mut theirs = Command::new("mariadb-binlog");
        theirs
            .arg(format!("--start-datetime={time}"))
            .arg(format!("--stop-datetime={stop}"))
            .args(&self.their_files)
            .env("TZ", "UTC");
        // Warm-up: page cache, and a check that startpoint answers.
        let answer = ours.output().expect("run startpoint");
        assert!(
            answer.status.success(),
            "startpoint failed: {}",
            String::from_utf8_lossy(&answer.stderr)
        );
        measure(&mut theirs);
        let mut our_times = Vec::new();
        let mut their_times = Vec::new();
        let mut floor_times = Vec::new();
        let mut our_rss = 0;
        let mut their_rss = 0;
        for _ in 0..runs {
            let (t, rss) = measure(&mut ours);
            our_times.push(t);
            our_rss = our_rss.max(rss);
            let (t, rss) = measure(&mut theirs);
            their_times.push(t);
            their_rss = their_rss.max(rss);
            floor_times.push(floor(&self.their_files));
        }
        let ours = median(&mut our_times);
        let theirs = median(&mut their_times);
        let floor = median(&mut floor_times);
        let size: u64 = self
            .their_files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum::<u64>()
            >> 20;
        println!(
            "{:<28} {:>10} {:>10.1}ms {:>9.1} {:>10.1}ms {:>13.1}x {:>8.1}ms {:>8.2}x   (mariadb-binlog RSS {:.1} MiB)",
            self.name,
            size,
            ours.as_secs_f64() * 1e3,
            our_rss as f64 / 1024.0,
            theirs.as_secs_f64() * 1e3,
            theirs.as_secs_f64() / ours.as_secs_f64(),
            floor.as_secs_f64() * 1e3,
            ours.as_secs_f64() / floor.as_secs_f64(),
            their_rss as f64 / 1024.0,
        );
        let answer: serde_json::Value =
            serde_json::from_slice(&answer.stdout).expect("startpoint's JSON");
        println!(
            "{:<28} answer {}:{} {}",
            "",
            answer["binlog_name"].as_str().unwrap_or("?"),
            answer["binlog_pos"],
            answer["binlog_gtid"].as_str().unwrap_or("")
        );
    }
}

/// Runs `command` to completion, output discarded: wall time and peak RSS (KiB).
fn measure(command: &mut Command) -> (Duration, i64) {
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let started = Instant::now();
    let child = command.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we spawned and reap here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    std::mem::forget(child);
    (elapsed, usage.ru_maxrss)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn utc(second: u32) -> String {
    chrono::DateTime::from_timestamp(i64::from(second), 0)
        .expect("a valid time")
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The MySQL 8.0 data set: returns the last commit second of the big file.
fn ensure_mysql80(dir: &Path, size: u64) -> u32 {
    let marker = dir.join(format!("complete-{size}"));
    let row_image = 200;
    // What one transaction of this shape takes in the file.
    let per_trx = 437;
    let count = (size / per_trx) as u32;
    let last = BASE + (count - 1) / PER_SECOND;
    if marker.exists() {
        return last;
    }
    eprintln!(
        "building {} (MySQL 8.0, {count} transactions)…",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the data directory");
    let mut writer =
        SequenceWriter::new(WriterFlavor::MySql80Gtid, "binlog").with_row_image(row_image);
    let spec = |i: u32| TrxSpec {
        shape: if i % 1000 == 999 {
            TrxShape::Ddl
        } else {
            TrxShape::RowDml { statements: 1 }
        },
        ..mysql_trx(BASE, i)
    };
    writer
        .write_long_and_newest(dir, BASE, count, 100, spec)
        .expect("write the MySQL 8.0 files");
    std::fs::write(&marker, "").expect("mark the data set complete");
    last
}

/// The MariaDB data set: returns the last commit second of the big file.
async fn ensure_mariadb(dir: &Path, size: u64, max_binlog_size: u64) -> u32 {
    let marker = dir.join(format!("complete-{size}"));
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let Ok(last) = text.trim().parse()
    {
        return last;
    }
    eprintln!(
        "building {} (MariaDB, this takes a few minutes)…",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the data directory");
    let server = MariaDb::start_with(&ServerConfig {
        max_binlog_size,
        extra_args: vec!["--innodb-buffer-pool-size=256M".into()],
        ..ServerConfig::default()
    })
    .expect("start mariadbd");
    let mut conn = server.connect().await.expect("connect");
    conn.query_drop(format!(
        "SET TIMESTAMP={BASE}; FLUSH BINARY LOGS; CREATE DATABASE bench; \
         CREATE TABLE bench.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, a INT, payload VARCHAR(1000)) \
         ENGINE=InnoDB"
    ))
    .await
    .expect("set up");
    let row = |i: u32| format!("({i}, REPEAT('{}', 180))", (b'a' + (i % 26) as u8) as char);
    let mut i = 0u32;
    let mut last = BASE;
    loop {
        let current: Vec<(String, u64)> = conn
            .query("SHOW BINARY LOGS")
            .await
            .expect("SHOW BINARY LOGS");
        // Everything but the start-up file.
        let written: u64 = current.iter().skip(1).map(|(_, s)| *s).sum();
        if written + (8 << 20) >= size {
            break;
        }
        let mut batch = String::new();
        for _ in 0..2000 {
            last = BASE + 1 + i / PER_SECOND;
            batch.push_str(&format!(
                "SET TIMESTAMP={last}; INSERT INTO bench.t (a, payload) VALUES {}, {}, {}, {}, {};",
                row(i),
                row(i + 1),
                row(i + 2),
                row(i + 3),
                row(i + 4)
            ));
            i += 1;
        }
        conn.query_drop(batch).await.expect("insert");
    }
    conn.query_drop(format!("SET TIMESTAMP={}; FLUSH BINARY LOGS", last + 1))
        .await
        .expect("flush");
    let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("list");
    conn.disconnect().await.expect("disconnect");
    let mut index = String::new();
    for (name, size) in &logs {
        if name.ends_with(".000001") {
            continue; // the start-up file, stamped with the real clock
        }
        copy_prefix(&server.binlog_path(name), &dir.join(name), *size);
        index.push_str(&format!("./{name}\n"));
    }
    std::fs::write(dir.join("mysql-bin.index"), index).expect("write the index");
    drop(server);
    std::fs::write(&marker, last.to_string()).expect("mark the data set complete");
    last
}

fn copy_prefix(from: &Path, to: &Path, size: u64) {
    use std::io::{Read, Write};
    let mut input = std::fs::File::open(from).expect("open a binlog");
    let mut output = std::fs::File::create(to).expect("create a copy");
    let mut rest = size;
    let mut buf = vec![0u8; 1 << 20];
    while rest > 0 {
        let n = input
            .read(&mut buf[..rest.min(1 << 20) as usize])
            .expect("read a binlog");
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n]).expect("write a copy");
        rest -= n as u64;
    }
}

/// Bytes a replica receives dumping `file` from its start until the event that ends at or after
/// `pos`: what the server sends with `@mariadb_slave_capability=4`, packet headers included.
async fn plain_prefix_bytes(server: &MariaDb, file: &str, pos: u64) -> u64 {
    use futures_util::StreamExt;
    let mut conn = server.connect().await.expect("connect");
    conn.query_drop("SET @mariadb_slave_capability=4")
        .await
        .expect("capability");
    let request = mysql_async::BinlogStreamRequest::new(0xF000_1234)
        .with_filename(file.as_bytes())
        .with_pos(4u64)
        .with_non_blocking();
    let mut stream = conn.get_binlog_stream(request).await.expect("dump");
    let mut bytes = 0u64;
    while let Some(event) = stream.next().await {
        let event = event.expect("an event");
        let header = event.header();
        // 4 bytes of packet header and the OK byte before each event.
        bytes += u64::from(header.event_size()) + 5;
        if u64::from(header.log_pos()) >= pos {
            break;
        }
    }
    let _ = stream.close().await;
    bytes
}
