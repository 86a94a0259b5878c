//! The live path at link speed (`compare --only link`): a private MariaDB serves binlogs, and
//! `startpoint resolve-position --url` is timed against `mariadb-binlog --read-from-remote-server`
//! and against the floor, a plain reader that only receives the same bytes (a bare
//! replication client: handshake, `COM_BINLOG_DUMP`, packets counted and dropped).
//!
//! Links:
//! - `loopback`: a namespace's loopback as the machine's is (MTU 65536), no shaping;
//! - a shaped link (`--links 100mbit,32mbit`, `tc` rates): the bench makes a network namespace
//!   of its own, sets its loopback to an Ethernet MTU (1500) under a `tbf` qdisc of that rate,
//!   and runs the server and every client inside it, so all traffic stays on that namespace's
//!   own 127.0.0.1; the namespace is deleted at the end (also when the bench fails).
//!   Needs root and iproute2. `netem` (delay) does not work on this machine, so the link has
//!   the rate but not the latency of a real one.
//!
//! Cases:
//! - the single ~1 GiB MariaDB file of `mariadb/`, T at 97 % of its seconds (loopback only: at
//!   4 MB/s it would take minutes a run);
//! - `link-history/`: a 128 MiB history of 4 files of 32 MiB written by a private MariaDB with a
//!   sysbench-like OLTP workload (random digits, ~2.4× compressible), T at 97 % of its
//!   seconds: a cold resolution streams every file before the answer.
//!
//! Figures per command: median wall time, CPU seconds (user + system, from `wait4`) per GiB
//! received, peak RSS, and the bytes that crossed the link (the namespace's loopback counters:
//! both directions, TCP/IP headers included). Every link runs in a network namespace of its
//! own, so those counters hold the bench's traffic only.
//!
//! Two builds, A/B: with `COMPARE_ALSO=PATH` (another build of `startpoint`, say one copied
//! aside before a change), that build runs in turn with `target/release/startpoint`, plain and
//! `--compress`, against the same server, and only those and the floor are measured; the two
//! must give the same answer.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use startpoint::testkit::mariadb::{MariaDb, ServerConfig};

use super::{BASE, median, utc};

/// One run of a command.
#[derive(Clone, Copy, Default)]
struct Run {
    wall: Duration,
    cpu: Duration,
    rss_kib: i64,
    link_bytes: u64,
}

/// Bytes that crossed this namespace's loopback so far.
fn link_bytes() -> u64 {
    std::fs::read_to_string("/sys/class/net/lo/statistics/tx_bytes")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `command` to completion, output discarded.
fn run(command: &mut Command) -> Run {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let before = link_bytes();
    let started = Instant::now();
    let child = command.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we spawned and reap here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    std::mem::forget(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_kib: usage.ru_maxrss,
        link_bytes: link_bytes() - before,
    }
}

/// The medians of several runs.
fn summary(runs: &[Run]) -> Run {
    let mut wall: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    let mut cpu: Vec<Duration> = runs.iter().map(|r| r.cpu).collect();
    let mut bytes: Vec<u64> = runs.iter().map(|r| r.link_bytes).collect();
    bytes.sort();
    Run {
        wall: median(&mut wall),
        cpu: median(&mut cpu),
        rss_kib: runs.iter().map(|r| r.rss_kib).max().unwrap_or(0),
        link_bytes: bytes[bytes.len() / 2],
    }
}

/// What the bench needs of a served data set.
struct Served {
    label: &'static str,
    server: MariaDb,
    /// First file served, and the start time.
    first_file: String,
    time: String,
    stop: String,
}

/// A bare replication client: the floor. Receives the binlog from `file`:4 up to the event
/// that ends at or after `until` in `until_file`, counting and dropping packets. Returns the
/// bytes received.
fn floor_receive(port: u16, file: &str, until_file: &str, until: u64) -> u64 {
    use std::io::{Read, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).ok();
    let mut writer = stream.try_clone().expect("a second handle");
    let mut socket = std::io::BufReader::with_capacity(1 << 20, stream);
    let mut received = 0u64;
    let mut read_packet =
        |socket: &mut std::io::BufReader<std::net::TcpStream>, buf: &mut Vec<u8>| -> u8 {
            // A logical packet: 0xFFFFFF-long pieces joined.
            buf.clear();
            let mut seq;
            loop {
                let mut head = [0u8; 4];
                socket.read_exact(&mut head).expect("a packet header");
                let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
                seq = head[3];
                let start = buf.len();
                buf.resize(start + len, 0);
                socket.read_exact(&mut buf[start..]).expect("a packet");
                received += 4 + len as u64;
                if len < 0xFF_FFFF {
                    return seq;
                }
            }
        };
    let write_packet = |socket: &mut std::net::TcpStream, seq: u8, payload: &[u8]| {
        let len = (payload.len() as u32).to_le_bytes();
        let mut packet = vec![len[0], len[1], len[2], seq];
        packet.extend_from_slice(payload);
        socket.write_all(&packet).expect("write");
    };
    let mut buf = Vec::with_capacity(1 << 20);
    let seq = read_packet(&mut socket, &mut buf);
    assert_eq!(buf[0], 10, "handshake v10");
    // root with an empty password: an empty mysql_native_password answer.
    const CAPS: u32 = 0x1 | 0x200 | 0x8000 | 0x8_0000; // LONG_PASSWORD, PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH
    let mut response = Vec::new();
    response.extend_from_slice(&CAPS.to_le_bytes());
    response.extend_from_slice(&(1u32 << 24).to_le_bytes());
    response.push(33);
    response.extend_from_slice(&[0; 23]);
    response.extend_from_slice(b"root\0");
    response.push(0);
    response.extend_from_slice(b"mysql_native_password\0");
    write_packet(&mut writer, seq.wrapping_add(1), &response);
    let mut seq = read_packet(&mut socket, &mut buf);
    if buf[0] == 0xFE {
        write_packet(&mut writer, seq.wrapping_add(1), &[]);
        seq = read_packet(&mut socket, &mut buf);
    }
    let _ = seq;
    assert_eq!(
        buf[0],
        0,
        "authenticated: {:?}",
        String::from_utf8_lossy(&buf)
    );
    let mut query = vec![3u8];
    query.extend_from_slice(
        b"SET @mariadb_slave_capability=4, @master_binlog_checksum=@@global.binlog_checksum",
    );
    write_packet(&mut writer, 0, &query);
    read_packet(&mut socket, &mut buf);
    assert_eq!(buf[0], 0, "SET: {:?}", String::from_utf8_lossy(&buf));
    // COM_BINLOG_DUMP: pos, flags (BINLOG_DUMP_NON_BLOCK), server_id, file.
    let mut dump = vec![0x12u8];
    dump.extend_from_slice(&4u32.to_le_bytes());
    dump.extend_from_slice(&1u16.to_le_bytes());
    dump.extend_from_slice(&0xF000_0019u32.to_le_bytes());
    dump.extend_from_slice(file.as_bytes());
    write_packet(&mut writer, 0, &dump);
    let mut current = file.to_owned();
    loop {
        read_packet(&mut socket, &mut buf);
        match <[u8]>::first(&buf) {
            Some(0) if buf.len() >= 20 => {}
            _ => break, // EOF, error
        }
        let event = &buf[1..];
        let kind = event[4];
        let log_pos = u32::from_le_bytes([event[13], event[14], event[15], event[16]]);
        if kind == 4 {
            // ROTATE: position u64, then the name (a CRC may follow; it is stripped by length).
            let body = &event[19..];
            let name = &body[8..];
            let name = name
                .iter()
                .position(|&b| b == 0)
                .map_or(name, |end| &name[..end]);
            let mut name = String::from_utf8_lossy(name).into_owned();
            if name.len() > current.len() {
                name.truncate(current.len());
            }
            current = name;
        } else if current == until_file && u64::from(log_pos) >= until {
            break;
        }
    }
    received
}

/// The link benches, in this process (already inside the namespace when the link is shaped).
pub(crate) fn inside(binary: &Path, dir: &Path, link: &str, runs: usize, with_big_file: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let history = dir.join("link-history");
    let history_last = runtime.block_on(ensure_history(&history));
    let mut sets = Vec::new();
    if with_big_file {
        let big = dir.join("mariadb");
        let last: u32 = std::fs::read_to_string(big.join("complete-1073741824"))
            .expect("build the data first: compare --only local")
            .trim()
            .parse()
            .expect("the last second");
        let at = BASE + 1 + (last - BASE - 1) * 97 / 100;
        sets.push(Served {
            label: "1 GiB MariaDB file",
            server: serve(&big),
            first_file: "mysql-bin.000002".into(),
            time: utc(at),
            stop: utc(at + 1),
        });
    }
    let at = BASE + 1 + (history_last - BASE - 1) * 97 / 100;
    sets.push(Served {
        label: "history 4 × 32 MiB",
        server: serve(&history),
        first_file: "mysql-bin.000002".into(),
        time: utc(at),
        stop: utc(at + 1),
    });
    println!();
    println!("link: {link}");
    println!(
        "  {:<44} {:>9} {:>9} {:>12} {:>12} {:>8}",
        "", "wall", "CPU", "CPU s/GiB", "link bytes", "RSS MiB"
    );
    for set in &sets {
        let url = set.server.url();
        let ours = |extra: &[&str]| {
            let mut command = Command::new(binary);
            command
                .args(["resolve-position", "--url", &url, "--start-time", &set.time])
                .args(["--timezone", "UTC", "--output", "json", "--no-cache"])
                .args(extra);
            command
        };
        let theirs = |extra: &[&str]| {
            let mut command = Command::new("mariadb-binlog");
            command
                .args([
                    "--read-from-remote-server",
                    "--host=127.0.0.1",
                    "--user=root",
                ])
                // startpoint speaks plain TCP to this server: so does it.
                .arg("--skip-ssl")
                .arg(format!("--port={}", set.server.port()))
                .arg(format!("--start-datetime={}", set.time))
                .arg(format!("--stop-datetime={}", set.stop))
                .arg("--to-last-log")
                .args(extra)
                .arg(&set.first_file)
                .env("TZ", "UTC");
            command
        };
        // The answer, and what startpoint says it received.
        let answer = ours(&[]).output().expect("run startpoint");
        assert!(
            answer.status.success(),
            "{}",
            String::from_utf8_lossy(&answer.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&answer.stdout).expect("JSON");
        let (file, pos) = (
            answer["binlog_name"].as_str().unwrap_or("?").to_owned(),
            answer["binlog_pos"].as_u64().unwrap_or(0),
        );
        println!(
            "  {}: start time {}, answer {file}:{pos}, startpoint received {} bytes",
            set.label, set.time, answer["bytes_read"]
        );
        let mut commands: Vec<(String, Box<dyn Fn() -> Command>)> =
            vec![("startpoint".into(), Box::new(move || ours(&[])))];
        // COMPARE_ALSO: a second build of startpoint, run in turn with the first against the
        // same server (an A/B of two builds in one run); then only the two builds and the floor.
        let also = std::env::var_os("COMPARE_ALSO").map(PathBuf::from);
        if let Some(other) = &also {
            for extra in [None, Some("--compress")] {
                let (url, time) = (url.clone(), set.time.clone());
                let other = other.clone();
                commands.push((
                    format!("startpoint B {}", extra.unwrap_or("")),
                    Box::new(move || {
                        let mut command = Command::new(&other);
                        command
                            .args(["resolve-position", "--url", &url, "--start-time", &time])
                            .args(["--timezone", "UTC", "--output", "json", "--no-cache"])
                            .args(extra);
                        command
                    }),
                ));
                if let Some(extra) = extra {
                    commands.push((
                        format!("startpoint {extra}"),
                        Box::new(move || ours(&[extra])),
                    ));
                }
            }
        } else {
            commands.push((
                "startpoint --compress".into(),
                Box::new(move || ours(&["--compress"])),
            ));
            commands.push(("mariadb-binlog -R".into(), Box::new(move || theirs(&[]))));
        }
        if let Some((_, other)) = commands.get(1).filter(|_| also.is_some()) {
            let out = other().output().expect("run startpoint B");
            let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            for key in ["binlog_name", "binlog_pos", "binlog_gtid"] {
                assert_eq!(
                    answer[key], theirs[key],
                    "the two builds answer differently"
                );
            }
        }
        if also.is_none() && set.label.starts_with("history") {
            commands.push((
                "startpoint --assume-max-statement 1m".into(),
                Box::new(move || ours(&["--assume-max-statement", "1m"])),
            ));
        }
        let mut results: Vec<Vec<Run>> = vec![Vec::new(); commands.len() + 1];
        for _ in 0..runs {
            for (i, (_, command)) in commands.iter().enumerate() {
                results[i].push(run(&mut command()));
            }
            // The floor, in this process.
            let before = link_bytes();
            let started = Instant::now();
            let cpu = process_cpu();
            floor_receive(set.server.port(), &set.first_file, &file, pos);
            results[commands.len()].push(Run {
                wall: started.elapsed(),
                cpu: process_cpu() - cpu,
                rss_kib: 0,
                link_bytes: link_bytes() - before,
            });
        }
        let names: Vec<String> = commands
            .iter()
            .map(|(name, _)| name.clone())
            .chain(["floor (receive only)".to_owned()])
            .collect();
        for (name, runs) in names.iter().zip(&results) {
            let s = summary(runs);
            let bytes = s.link_bytes;
            let gib = bytes as f64 / f64::from(1u32 << 30);
            println!(
                "  {:<44} {:>7.2} s {:>7.2} s {:>12.2} {:>12} {:>8.1}",
                format!("{name}"),
                s.wall.as_secs_f64(),
                s.cpu.as_secs_f64(),
                s.cpu.as_secs_f64() / gib.max(1e-9),
                bytes,
                s.rss_kib as f64 / 1024.0,
            );
        }
    }
}

/// CPU time of this process so far.
fn process_cpu() -> Duration {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

pub(crate) fn serve(dir: &Path) -> MariaDb {
    MariaDb::start_with(&ServerConfig {
        max_binlog_size: 1 << 30,
        binlogs: Some(dir.to_path_buf()),
        ..ServerConfig::default()
    })
    .expect("start mariadbd")
}

/// A network namespace with a shaped loopback, deleted when dropped.
struct Namespace {
    name: String,
}

impl Namespace {
    /// `rate`: a `tc` rate for `tbf` on a loopback with an Ethernet MTU; `None` leaves the
    /// namespace's loopback as the machine's is (MTU 65536, no qdisc).
    fn new(rate: Option<&str>) -> Namespace {
        let name = format!("startpoint-bench-{}", std::process::id());
        let ns = Namespace { name };
        ns.ip(&["netns", "add", &ns.name]);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        if let Some(rate) = rate {
            ns.exec(&["ip", "link", "set", "lo", "mtu", "1500"]);
            // Burst: a few packets; queue: up to 50 ms at the rate.
            ns.exec(&[
                "tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", rate, "burst", "32kb",
                "latency", "50ms",
            ]);
        }
        ns
    }

    fn ip(&self, args: &[&str]) {
        let status = Command::new("ip").args(args).status().expect("run ip");
        assert!(status.success(), "ip {args:?}");
    }

    fn exec(&self, args: &[&str]) {
        let status = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .status()
            .expect("run ip netns exec");
        assert!(status.success(), "{args:?} in {}", self.name);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Every link, each in a namespace of its own (this program again, inside it).
pub(crate) fn all(dir: &Path, links: &[String], runs: usize) {
    // The data first, on an unshaped link.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(ensure_history(&dir.join("link-history")));
    for link in links {
        let ns = Namespace::new(Some(link.as_str()).filter(|l| *l != "loopback"));
        let status = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(std::env::current_exe().expect("this program"))
            .args(["--link-inside", link, "--dir"])
            .arg(dir)
            .args(["--runs", &runs.to_string()])
            .status()
            .expect("run the bench in the namespace");
        assert!(status.success(), "the bench on {link} failed");
        drop(ns);
    }
}

/// `link-history/`: 4 files of 32 MiB from a private MariaDB, sysbench's `oltp_write_only`
/// shape (rows of random digit groups). Returns the last commit second.
async fn ensure_history(dir: &Path) -> u32 {
    const FILE: u64 = 32 << 20;
    let marker = dir.join("complete");
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let Ok(last) = text.trim().parse()
    {
        return last;
    }
    eprintln!("building {} (a few minutes)…", dir.display());
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the data directory");
    let server = MariaDb::start_with(&ServerConfig {
        max_binlog_size: FILE,
        extra_args: vec!["--innodb-buffer-pool-size=128M".into()],
        ..ServerConfig::default()
    })
    .expect("start mariadbd");
    let mut conn = server.connect().await.expect("connect");
    // The start-up file, then four full ones.
    let (_, last) = super::oltp_workload(&mut conn, 500, |logs| logs.len() > 5).await;
    let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("list");
    conn.disconnect().await.expect("disconnect");
    let mut index = String::new();
    for (name, size) in &logs {
        if name.ends_with(".000001") {
            continue; // the start-up file, stamped with the real clock
        }
        super::copy_prefix(&server.binlog_path(name), &dir.join(name), *size);
        index.push_str(&format!("./{name}\n"));
    }
    std::fs::write(dir.join("mysql-bin.index"), index).expect("write the index");
    drop(server);
    std::fs::write(&marker, last.to_string()).expect("mark the data set complete");
    last
}
