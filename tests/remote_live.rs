//! The live-server path against private MariaDB servers: the same answers as the local path on
//! copies of the same binlogs, few bytes on the wire, and clear failures.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::*;
use startpoint::binlog::{FileEventSource, ReadOptions};
use startpoint::remote::{
    ConnSettings, RemoteError, RemoteRequest, TlsFiles, resolve_many, resolve_remote,
};
use startpoint::resolve::explain::{FileReason, Note, Step, Warning};
use startpoint::resolve::{GtidMode, Request, Resolution, Status, resolve_files};
use startpoint::source::local::BinlogDir;
use startpoint::start_time::{StartTime, Zone, format_instant};
use startpoint::testkit::fixtures;
use startpoint::testkit::mariadb::{MariaDb, ServerConfig};
use startpoint::testkit::proxy::Proxy;
use startpoint::testkit::workload::FIXTURE_MAX_BINLOG_SIZE;
use startpoint::unit::{TimeBasis, UnitReader};

fn small_binlogs() -> ServerConfig {
    ServerConfig {
        max_binlog_size: FIXTURE_MAX_BINLOG_SIZE,
        ..ServerConfig::default()
    }
}

/// A server with the fixture history, and a copy of its binlogs.
async fn server_with_history(config: &ServerConfig) -> (MariaDb, tempfile::TempDir, BinlogDir) {
    fixtures::server_with_history(config)
        .await
        .expect("a server with the fixture history")
}

fn request(time: &str, basis: TimeBasis, seconds: u64) -> RemoteRequest {
    RemoteRequest {
        start: StartTime::parse(time).unwrap(),
        zone: None,
        basis,
        gtid: GtidMode::Auto,
        deadline: tokio::time::Instant::now() + Duration::from_secs(seconds),
        progress: None,
        cache: None,
        assume: None,
    }
}

fn summary(r: &Resolution) -> (Status, Option<(String, u64)>, String) {
    (
        r.status,
        r.location.as_ref().map(|l| (l.file.clone(), l.pos)),
        r.gtid_text(),
    )
}

/// A request for the instant `t` on the `commit` basis.
fn commit_request(t: i64, gtid: GtidMode) -> RemoteRequest {
    RemoteRequest {
        start: StartTime::parse(&format_instant(t)).unwrap(),
        zone: None,
        basis: TimeBasis::Commit,
        gtid,
        deadline: tokio::time::Instant::now() + Duration::from_secs(60),
        progress: None,
        cache: None,
        assume: None,
    }
}

/// The local path's answer for `t` on the `commit` basis: what a live answer must equal.
fn local_commit_answer(local: &BinlogDir, t: i64, gtid: GtidMode) -> Resolution {
    resolve_files(
        local,
        &Request {
            start_us: t,
            basis: TimeBasis::Commit,
            gtid,
        },
    )
    .unwrap()
}

/// Runs `statements` as root on the server at `port`, from a proxy hook (a blocking thread).
fn run_as_root(port: u16, statements: &[&str]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut conn = mysql_async::Conn::new(
            mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(port)
                .user(Some("root"))
                .prefer_socket(false),
        )
        .await
        .unwrap();
        for statement in statements {
            conn.query_drop(*statement).await.unwrap();
        }
        conn.disconnect().await.unwrap();
    });
}

/// The linear definition's position-only answer for `t` on the `commit` basis.
fn linear_position(local: &BinlogDir, t: i64) -> Resolution {
    startpoint::resolve::linear::resolve_linear(
        local,
        &Request {
            start_us: t,
            basis: TimeBasis::Commit,
            gtid: GtidMode::Off,
        },
    )
    .unwrap()
}

/// Whether one of `--explain`'s steps of `resolution` is `step`.
fn explains(resolution: &Resolution, step: impl Fn(&Step) -> bool) -> bool {
    resolution.steps.iter().any(step)
}

/// A private MariaDB serving the binlog files of `dir` as its history.
fn serving(dir: &Path) -> (MariaDb, ConnSettings) {
    let server = MariaDb::start_with(&ServerConfig {
        binlogs: Some(dir.to_path_buf()),
        ..ServerConfig::default()
    })
    .unwrap();
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    (server, settings)
}

/// A new directory holding `files` (from the project's writer, base `mysql-bin`) and their index.
fn seed_dir(files: &[startpoint::testkit::binlog_writer::WrittenFile]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut index = String::new();
    for file in files {
        std::fs::write(dir.path().join(&file.name), &file.bytes).unwrap();
        index.push_str(&format!("./{}\n", file.name));
    }
    std::fs::write(dir.path().join("mysql-bin.index"), index).unwrap();
    dir
}

/// Writes `files` with `writer` (all closed, as a server that rotated) into a new directory.
fn write_sequence(
    mut writer: startpoint::testkit::binlog_writer::SequenceWriter,
    files: &[startpoint::testkit::binlog_writer::FileSpec],
) -> (
    tempfile::TempDir,
    Vec<startpoint::testkit::binlog_writer::WrittenFile>,
) {
    let written: Vec<_> = files.iter().map(|f| writer.write_file(f, false)).collect();
    (seed_dir(&written), written)
}

/// What a dump sends of the binlog before `pos` in file `index`: every event but ANNOTATE_ROWS
/// (which MariaDB sends only to a replica that asks for it with BINLOG_SEND_ANNOTATE_ROWS_EVENT,
/// `send_event_to_slave` in `sql/sql_repl.cc`; a dump of ours does not ask), with the 5 bytes of
/// packet header and OK byte before each.
fn sent_before(local: &BinlogDir, index: usize, pos: u64) -> u64 {
    use startpoint::binlog::EventSource;
    const ANNOTATE_ROWS: u8 = 160;
    let mut sent = 0;
    for (i, file) in local.files[..=index].iter().enumerate() {
        let mut events = FileEventSource::open(&file.path, ReadOptions::default()).unwrap();
        while let Some(event) = events.next_event().unwrap() {
            if i == index && event.offset >= pos {
                break;
            }
            if event.header.type_code != ANNOTATE_ROWS {
                sent += u64::from(event.header.event_size) + 5;
            }
        }
    }
    sent
}

/// Unit times (both bases) of a local copy: the interesting start times.
fn unit_times(local: &BinlogDir) -> Vec<i64> {
    let mut times = Vec::new();
    for (i, file) in local.files.iter().enumerate() {
        let options = ReadOptions {
            newest: i + 1 == local.files.len(),
            ..ReadOptions::default()
        };
        let mut units = UnitReader::new(FileEventSource::open(&file.path, options).unwrap(), false);
        while let Some(unit) = units.next_unit().unwrap() {
            times.extend([unit.commit_us(), unit.begin_us()]);
        }
    }
    times.sort_unstable();
    times.dedup();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_answers_equal_local_answers_receiving_only_the_binlog_before_them() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    let times = unit_times(&local);
    let mut probes: Vec<i64> = times
        .iter()
        .step_by(7)
        .flat_map(|&t| [t - 1_000_000, t, t + 1_000_000])
        .collect();
    probes.extend([
        times[0] - 86_400_000_000,
        times[times.len() - 1] + 86_400_000_000,
    ]);
    for basis in [TimeBasis::Commit, TimeBasis::Begin] {
        for &t in &probes {
            let input = format_instant(t);
            let remote = resolve_remote(&settings, &request(&input, basis, 30))
                .await
                .unwrap_or_else(|e| panic!("{input}: {e}"));
            let local_answer = resolve_files(
                &local,
                &Request {
                    start_us: t,
                    basis,
                    gtid: GtidMode::Auto,
                },
            )
            .unwrap();
            assert_eq!(
                summary(&remote.resolution),
                summary(&local_answer),
                "{input} {basis}"
            );
            assert_eq!(remote.start.instant_us, t);
        }
    }

    // Bytes: MariaDB's clock bounds no file (SEMANTICS.md §6), so every file before the answer
    // is streamed, then the answer's file up to the answer; plus a small constant per
    // connection, measured on the wire. Per connection the proxy itself buffers up to ~12 KiB
    // (its socket buffers and chunk), a probe takes its handshake, a 4 KiB allowance and the
    // kernel's receive buffer, and the walk reads ahead a quarter of what it has read: nothing
    // near the binlog after the answer.
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    let through_proxy = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
    let sizes: Vec<u64> = local
        .files
        .iter()
        .map(|f| std::fs::metadata(&f.path).unwrap().len())
        .collect();
    for at in [times.len() / 10, times.len() * 3 / 4] {
        let input = format_instant(times[at]);
        proxy.reset();
        let connections_before = proxy.connections();
        let answer = resolve_remote(&through_proxy, &request(&input, TimeBasis::Commit, 30))
            .await
            .unwrap();
        let wire = proxy.bytes_to_client();
        let connections = proxy.connections() - connections_before;
        let matched = answer.resolution.matched.as_ref().unwrap();
        let index = local
            .files
            .iter()
            .position(|f| f.name == matched.file)
            .unwrap();
        let before: u64 = sizes[..index].iter().sum();
        let prefix = before + matched.unit.end_pos;
        let sent = sent_before(&local, index, matched.unit.pos);
        let after: u64 = sizes[index..].iter().sum::<u64>() - matched.unit.end_pos;
        let bound = prefix + prefix / 2 + 24_576 * connections;
        assert!(
            wire >= sent,
            "{input}: {wire} bytes, less than the {sent} the server sends of the binlog before \
             the answer"
        );
        let reported = answer.resolution.stats.bytes_read;
        // What it took in: the prefix, the relay's read-ahead (a quarter of what was read) and
        // the packet headers; never the rest of the binlog.
        assert!(
            wire <= bound
                && reported <= prefix + prefix / 4 + 24_576 * connections
                && reported < prefix + after,
            "{input}: {wire} bytes on the wire ({reported} taken in) for {prefix} bytes up to \
             the answer over {connections} connections (bound {bound}; {after} after it): {:?}",
            answer.resolution.stats
        );
        assert!(
            reported <= wire && wire - reported <= 24_576 * connections,
            "{input}: reported {reported}, wire {wire}"
        );
    }
    let input = format_instant(times[times.len() * 3 / 4]);
    proxy.reset();
    let plain = resolve_remote(&through_proxy, &request(&input, TimeBasis::Commit, 30))
        .await
        .unwrap();
    let wire = proxy.bytes_to_client();

    let mut compressed_settings = through_proxy.clone();
    compressed_settings.compress = true;
    proxy.reset();
    let compressed = resolve_remote(
        &compressed_settings,
        &request(&input, TimeBasis::Commit, 30),
    )
    .await
    .unwrap();
    assert_eq!(summary(&compressed.resolution), summary(&plain.resolution));
    let compressed_wire = proxy.bytes_to_client();
    assert!(
        compressed_wire < wire * 3 / 4,
        "compressed {compressed_wire} bytes vs {wire}"
    );
}

/// A user with a password and the replication privileges, and one without privileges.
async fn add_users(server: &MariaDb) {
    let mut conn = server.connect().await.unwrap();
    for statement in [
        "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'Rep1-secret'",
        "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'127.0.0.1'",
        "CREATE USER 'nobody'@'127.0.0.1' IDENTIFIED BY 'n0body-secret'",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    conn.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_privileges_fail_clearly() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    add_users(&server).await;
    let url = |user: &str, password: &str| {
        format!("mysql://{user}:{password}@127.0.0.1:{}", server.port())
    };
    let t = format_instant(unit_times(&local)[40]);

    let repl = ConnSettings::from_url(&url("repl", "Rep1-secret"), None).unwrap();
    let answer = resolve_remote(&repl, &request(&t, TimeBasis::Commit, 20))
        .await
        .unwrap();
    assert_eq!(answer.resolution.status, Status::InRange);

    let wrong = ConnSettings::from_url(&url("repl", "Wr0ng-guess"), None).unwrap();
    let err = resolve_remote(&wrong, &request(&t, TimeBasis::Commit, 20))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Auth { .. }), "{err}");
    let text = err.to_string();
    assert!(
        !text.contains("Wr0ng-guess")
            && text.contains("repl")
            && text.contains(&server.port().to_string()),
        "{text}"
    );

    let nobody = ConnSettings::from_url(&url("nobody", "n0body-secret"), None).unwrap();
    let err = resolve_remote(&nobody, &request(&t, TimeBasis::Commit, 20))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Privilege { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("BINLOG MONITOR") && !text.contains("n0body-secret"),
        "{text}"
    );

    // Nothing listens: refused at once, naming the host and what to check, rather than retried
    // until the deadline (10 minutes by default) and reported as "connection closed".
    let closed = ConnSettings::from_url("mysql://root@127.0.0.1:9", None).unwrap();
    let started = std::time::Instant::now();
    let err = resolve_remote(&closed, &request(&t, TimeBasis::Commit, 60))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A listener that never greets: each attempt gives up after its own 10 s, and the error says
    // why rather than only that the deadline passed.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("mysql://root@{}", silent.local_addr().unwrap());
    let quiet = ConnSettings::from_url(&silent_url, None).unwrap();
    let err = resolve_remote(&quiet, &request(&t, TimeBasis::Commit, 11))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no MySQL greeting"), "{err}");

    // An account on PAM (the `dialog` plugin, which no library client speaks): definite.
    let mut conn = server.connect().await.unwrap();
    for statement in [
        "INSTALL SONAME 'auth_pam'",
        "CREATE USER 'pam'@'%' IDENTIFIED VIA pam",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    conn.disconnect().await.unwrap();
    let pam = ConnSettings::from_url(&url("pam", "Pam-secret1"), None).unwrap();
    let started = std::time::Instant::now();
    let err = resolve_remote(&pam, &request(&t, TimeBasis::Commit, 60))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RemoteError::AuthPlugin { .. } | RemoteError::Auth { .. }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("Pam-secret1"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// An account that authenticates with MariaDB's `ed25519` plugin resolves; a panic inside the
/// driver (exit 101) would take every other source of a start-task with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ed25519_account_resolves() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let mut conn = server.connect().await.unwrap();
    for statement in [
        "INSTALL SONAME 'auth_ed25519'",
        "CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('Ed-secret1')",
        "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'ed'@'%'",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    conn.disconnect().await.unwrap();
    let t = unit_times(&local)[40];
    let url = format!("mysql://ed@127.0.0.1:{}", server.port());
    let settings = ConnSettings::from_url(&url, Some("Ed-secret1".to_owned())).unwrap();
    let answer = resolve_remote(&settings, &commit_request(t, GtidMode::Auto))
        .await
        .unwrap();
    let local_answer = local_commit_answer(&local, t, GtidMode::Auto);
    assert_eq!(summary(&answer.resolution), summary(&local_answer));
    let wrong = ConnSettings::from_url(&url, Some("Wr0ng-guess".to_owned())).unwrap();
    let err = resolve_remote(&wrong, &commit_request(t, GtidMode::Auto))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Auth { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_during_a_resolution() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let server = Arc::new(std::sync::Mutex::new(server));
    let port = server.lock().unwrap().port();
    let proxy = Proxy::start(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let settings = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
    let times = unit_times(&local);
    let late = times[times.len() - 5];
    let input = format_instant(late);
    let want = resolve_files(
        &local,
        &Request {
            start_us: late,
            basis: TimeBasis::Commit,
            gtid: GtidMode::Auto,
        },
    )
    .unwrap();

    // The server is killed while the target file streams, and comes back a second later: the
    // resolution retries and gives the answer it would have given.
    let victim = server.clone();
    proxy.on_bytes_to_client(
        6_000,
        Box::new(move || {
            victim.lock().unwrap().kill();
            let victim = victim.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(800));
                victim.lock().unwrap().restart().expect("restart mariadbd");
            });
        }),
    );
    let answer = resolve_remote(&settings, &request(&input, TimeBasis::Commit, 60))
        .await
        .unwrap();
    assert_eq!(summary(&answer.resolution), summary(&want));

    // Every stream is cut short: retries until the deadline, then an error naming the server.
    proxy.cut_after(Some((proxy.connections(), 3_000)));
    let err = resolve_remote(&settings, &request(&input, TimeBasis::Commit, 3))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Deadline { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", proxy.port())),
        "{err}"
    );
    proxy.cut_after(None);

    // Binlogs purged between the listing and the first probe: one fresh start from a new listing.
    proxy.on_connection(
        proxy.connections() + 1,
        Box::new(move || run_as_root(port, &["PURGE BINARY LOGS TO 'mysql-bin.000007'"])),
    );
    let early = format_instant(times[10]);
    let answer = resolve_remote(&settings, &request(&early, TimeBasis::Commit, 30))
        .await
        .unwrap();
    assert_eq!(answer.resolution.status, Status::BelowLowerBound);
    assert_eq!(
        answer.resolution.location.as_ref().unwrap().file,
        "mysql-bin.000007"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_time_is_read_in_the_servers_own_zone() {
    let config = ServerConfig {
        env: vec![("TZ".to_owned(), "Europe/Berlin".to_owned())],
        ..small_binlogs()
    };
    let (server, _copy, _local) = server_with_history(&config).await;
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    let answer = resolve_remote(
        &settings,
        &request("2030-03-31 01:30:00", TimeBasis::Commit, 20),
    )
    .await
    .unwrap();
    assert_eq!(
        format_instant(answer.start.instant_us),
        "2030-03-31T00:30:00.000000Z"
    );
    assert!(
        answer.start.zone.contains("SYSTEM"),
        "{}",
        answer.start.zone
    );
    // After the DST change the offset is +02:00, as the server knows.
    let answer = resolve_remote(
        &settings,
        &request("2030-03-31 04:30:00", TimeBasis::Commit, 20),
    )
    .await
    .unwrap();
    assert_eq!(
        format_instant(answer.start.instant_us),
        "2030-03-31T02:30:00.000000Z"
    );
    // A local time the server's zone skips is an error.
    let err = resolve_remote(
        &settings,
        &request("2030-03-31 02:30:00", TimeBasis::Commit, 20),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // One it has twice means the earlier instant, with a note.
    let answer = resolve_remote(
        &settings,
        &request("2030-10-27 02:30:00", TimeBasis::Commit, 20),
    )
    .await
    .unwrap();
    assert_eq!(
        format_instant(answer.start.instant_us),
        "2030-10-27T00:30:00.000000Z"
    );
    assert!(answer.start.note.is_some());
    // An explicit zone wins over the server's.
    let mut utc = request("2030-03-31 00:30:00", TimeBasis::Commit, 20);
    utc.zone = Some(Zone::parse("UTC").unwrap());
    let answer = resolve_remote(&settings, &utc).await.unwrap();
    assert_eq!(
        format_instant(answer.start.instant_us),
        "2030-03-31T00:30:00.000000Z"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sources_resolve_independently() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let times = unit_times(&local);
    let good = ConnSettings::from_url(&server.url(), None).unwrap();
    let bad = ConnSettings::from_url("mysql://root@127.0.0.1:9", None).unwrap();
    let jobs = vec![
        (
            good.clone(),
            request(&format_instant(times[5]), TimeBasis::Commit, 20),
        ),
        (
            bad,
            request(&format_instant(times[5]), TimeBasis::Commit, 2),
        ),
        (
            good,
            request(
                &format_instant(times[times.len() - 3]),
                TimeBasis::Begin,
                20,
            ),
        ),
    ];
    let results = resolve_many(jobs, 2).await;
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[0].as_ref().unwrap().resolution.status,
        Status::InRange
    );
    assert!(results[1].is_err());
    assert_eq!(
        results[2].as_ref().unwrap().resolution.status,
        Status::InRange
    );
}

/// A CA, and a server certificate for 127.0.0.1 signed by it, made with openssl.
fn make_certificates(
    dir: &Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "2",
        "-subj",
        &format!("/CN={name} test CA"),
    ]);
    let key = format!("{name}-server.key");
    let csr = format!("{name}-server.csr");
    let cert = format!("{name}-server.pem");
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (dir.join(ca), dir.join(cert), dir.join(key))
}

/// A server with history that accepts TLS connections only, with certificates made in
/// `certs` (its CA, and another CA that did not sign it).
struct TlsOnly {
    server: MariaDb,
    _copy: tempfile::TempDir,
    local: BinlogDir,
    ca: std::path::PathBuf,
    other_ca: std::path::PathBuf,
}

async fn tls_only_server(certs: &Path) -> TlsOnly {
    let (ca, cert, key) = make_certificates(certs, "good");
    let (other_ca, _, _) = make_certificates(certs, "other");
    let config = ServerConfig {
        extra_args: vec![
            format!("--ssl-ca={}", ca.display()),
            format!("--ssl-cert={}", cert.display()),
            format!("--ssl-key={}", key.display()),
        ],
        ..small_binlogs()
    };
    let (server, _copy, local) = server_with_history(&config).await;
    let mut conn = server.connect().await.unwrap();
    conn.query_drop("SET GLOBAL require_secure_transport = ON")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    TlsOnly {
        server,
        _copy,
        local,
        ca,
        other_ca,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_and_a_wrong_one() {
    let certs = tempfile::tempdir().unwrap();
    let TlsOnly {
        server,
        _copy,
        local,
        ca,
        other_ca,
    } = tls_only_server(certs.path()).await;
    let t = format_instant(unit_times(&local)[20]);
    let mut settings = ConnSettings::from_url(&server.url(), None).unwrap();

    // The server insists on TLS: without it, a definite error.
    let err = resolve_remote(&settings, &request(&t, TimeBasis::Commit, 10))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    // MariaDB says "access denied" (MDEV-30178); the message says to look at TLS too.
    let text = err.to_string();
    assert!(
        text.contains("requires TLS") && text.contains("--ssl-ca") && text.contains("127.0.0.1"),
        "{text}"
    );

    settings.tls = Some(TlsFiles {
        ca: Some(ca),
        ..TlsFiles::default()
    });
    let answer = resolve_remote(&settings, &request(&t, TimeBasis::Commit, 20))
        .await
        .unwrap();
    assert_eq!(answer.resolution.status, Status::InRange);
    // Over TLS the dump is mysql_async's (the relay cannot read it): the same answers as the
    // local files, here as on the paths without TLS.
    let times = unit_times(&local);
    for at in [times.len() / 3, times.len() * 2 / 3, times.len() - 2] {
        let input = format_instant(times[at]);
        let remote = resolve_remote(&settings, &request(&input, TimeBasis::Commit, 20))
            .await
            .unwrap();
        let local_answer = resolve_files(
            &local,
            &Request {
                start_us: times[at],
                basis: TimeBasis::Commit,
                gtid: GtidMode::Auto,
            },
        )
        .unwrap();
        assert_eq!(
            summary(&remote.resolution),
            summary(&local_answer),
            "{input} over TLS"
        );
    }

    settings.tls = Some(TlsFiles {
        ca: Some(other_ca),
        ..TlsFiles::default()
    });
    let err = resolve_remote(&settings, &request(&t, TimeBasis::Commit, 10))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Tls { .. }), "{err}");
}

/// A DM source whose only TLS material is inline (`ssl-ca-base64`, or `ssl-ca-bytes`) connects with
/// it, never dropping it for plaintext. Against a server that requires TLS: the inline CA connects,
/// another CA given the same way is refused, so the material really is the one used; and
/// `cert-allowed-cn`, which cannot be checked, refuses the file instead of connecting without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_tls_material_is_used_never_dropped_to_plaintext() {
    use base64::Engine;
    use startpoint::task::source::SourceConfig;
    let certs = tempfile::tempdir().unwrap();
    let TlsOnly {
        server,
        _copy,
        local,
        ca,
        other_ca,
    } = tls_only_server(certs.path()).await;
    let t = format_instant(unit_times(&local)[20]);
    let source = |security: &str| {
        let text = format!(
            "source-id: s\nfrom:\n  host: 127.0.0.1\n  port: {}\n  user: root\n  security:\n{security}",
            server.port()
        );
        SourceConfig::parse("source.yaml", &text).map(|s| s.connection)
    };
    let b64 = |path: &Path| {
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap())
    };
    let settings = source(&format!("    ssl-ca-base64: {}\n", b64(&ca))).unwrap();
    let answer = resolve_remote(&settings, &request(&t, TimeBasis::Commit, 20))
        .await
        .unwrap();
    assert_eq!(answer.resolution.status, Status::InRange);
    let pem = std::fs::read_to_string(&ca).unwrap();
    let block: String = pem.lines().map(|l| format!("      {l}\n")).collect();
    let settings = source(&format!("    ssl-ca-bytes: |\n{block}")).unwrap();
    resolve_remote(&settings, &request(&t, TimeBasis::Commit, 20))
        .await
        .unwrap();
    let settings = source(&format!("    ssl-ca-base64: {}\n", b64(&other_ca))).unwrap();
    let err = resolve_remote(&settings, &request(&t, TimeBasis::Commit, 10))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::Tls { .. }), "{err}");
    let refused = source(&format!(
        "    ssl-ca-base64: {}\n    cert-allowed-cn: [\"127.0.0.1\"]\n",
        b64(&ca)
    ))
    .unwrap_err()
    .to_string();
    assert!(refused.contains("cert-allowed-cn"), "{refused}");
}

/// The real binary against a live server: `--url` with `MYSQL_PWD`, `--source-config`, and a
/// wrong password that never shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_resolves_against_a_live_server() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    add_users(&server).await;
    let t = unit_times(&local)[60];
    let input = format_instant(t);
    let want = local_commit_answer(&local, t, GtidMode::Auto);
    let run = |args: &[&str], password: Option<&str>| {
        let mut command = support::command();
        command.args(args).env_remove("MYSQL_PWD");
        if let Some(password) = password {
            command.env("MYSQL_PWD", password);
        }
        command.output().unwrap()
    };
    let url = format!("mysql://repl@127.0.0.1:{}", server.port());
    let out = run(
        &[
            "resolve-position",
            "--url",
            &url,
            "--start-time",
            &input,
            "--output",
            "json",
            "--explain",
        ],
        Some("Rep1-secret"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let location = want.location.as_ref().unwrap();
    assert_eq!(answer["binlog_name"], location.file.as_str());
    assert_eq!(answer["binlog_pos"], location.pos);
    assert_eq!(answer["binlog_gtid"], want.gtid_text().as_str());
    assert_eq!(
        answer["server"],
        format!("repl@127.0.0.1:{}", server.port()).as_str()
    );
    assert!(answer["round_trips"].as_u64().unwrap() > 0);

    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.yaml");
    std::fs::write(
        &source,
        format!(
            "source-id: mysql-replica-01\nflavor: mariadb\nfrom:\n  host: 127.0.0.1\n  port: {}\n  user: repl\n  password: Rep1-secret\n",
            server.port()
        ),
    )
    .unwrap();
    let out = run(
        &[
            "resolve-position",
            "--source-config",
            source.to_str().unwrap(),
            "--start-time",
            &input,
            "--output",
            "json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["binlog_pos"], location.pos);

    let out = run(
        &[
            "--rpc-timeout",
            "5s",
            "resolve-position",
            "--url",
            &url,
            "--start-time",
            &input,
        ],
        Some("Not-the-Pass"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("access denied") && stderr.contains("repl"),
        "{stderr}"
    );
    assert!(!stderr.contains("Not-the-Pass") && !stdout.contains("Not-the-Pass"));
}

/// The mysql client's conventions on the real binary, with `HOME` in a temporary directory:
/// `~/.my.cnf`'s `[client]` group, `--host`/`--port`/`--user`, `-R`, `--defaults-file`,
/// `--no-defaults` with `MYSQL_PWD`, and `-p` at a terminal (a pseudo-terminal made by
/// util-linux's `script`), the password never echoed nor printed. The order read is MySQL's
/// (mysys/my_default.cc: the global files, the extra file, then `~/.my.cnf`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_logs_in_as_the_mysql_client_does() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    add_users(&server).await;
    let t = unit_times(&local)[60];
    let input = format_instant(t);
    let want = local_commit_answer(&local, t, GtidMode::Auto);
    let location = want.location.as_ref().unwrap();
    let home = tempfile::tempdir().unwrap();
    let port = server.port().to_string();
    std::fs::write(
        home.path().join(".my.cnf"),
        format!("[client]\nuser = repl\npassword = \"Rep1-secret\"\nport = {port}\n\n[mysql]\nuser = nobody\n"),
    )
    .unwrap();
    let wrong = home.path().join("wrong.cnf");
    std::fs::write(&wrong, "[client]\nuser = repl\npassword = Not-the-Pass\n").unwrap();
    let run = |args: &[&str], pwd: Option<&str>| {
        let mut command = support::command();
        command
            .args([
                "resolve-position",
                "--start-time",
                &input,
                "--output",
                "json",
            ])
            .args(args)
            .env("HOME", home.path())
            .env_remove("MYSQL_PWD")
            .env_remove("MYSQL_TCP_PORT")
            .stdin(std::process::Stdio::null());
        if let Some(pwd) = pwd {
            command.env("MYSQL_PWD", pwd);
        }
        command.output().unwrap()
    };
    let answered = |out: &std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["binlog_name"], location.file.as_str());
        assert_eq!(answer["binlog_pos"], location.pos);
        assert_eq!(answer["server"], format!("repl@127.0.0.1:{port}").as_str());
    };
    // User, password and port from ~/.my.cnf; [mysql] is the mysql program's group, not ours.
    answered(&run(&["--host", "127.0.0.1"], None));
    // --log-level debug (and RUST_LOG): the files read, the connections, the dumps, the
    // cache's decisions, in the one style of stderr; never the password.
    for (flag, env) in [(Some("--log-level=debug"), None), (None, Some("debug"))] {
        let mut command = support::command();
        command
            .args([
                "resolve-position",
                "--start-time",
                &input,
                "--host",
                "127.0.0.1",
            ])
            .args(flag)
            .env("HOME", home.path())
            .env_remove("MYSQL_PWD")
            .env_remove("RUST_LOG");
        if let Some(env) = env {
            command.env("RUST_LOG", env);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        for expected in [
            "debug: option files read: ",
            &format!("debug: connected to repl@127.0.0.1:{port} (Control connection"),
            "debug: binlog dump of ",
            "debug: summary cache: ",
        ] {
            assert!(stderr.contains(expected), "no {expected:?} in:\n{stderr}");
        }
        assert!(!stderr.contains("Rep1-secret"), "{stderr}");
        for line in stderr.lines() {
            assert!(
                [
                    "error: ",
                    "warning: ",
                    "note: ",
                    "info: ",
                    "debug: ",
                    "trace: ",
                    "  "
                ]
                .iter()
                .any(|p| line.starts_with(p)),
                "{line:?}"
            );
        }
    }
    // The flags win over the file.
    answered(&run(
        &["--host", "127.0.0.1", "-P", &port, "-u", "repl"],
        None,
    ));
    // -R: the host from the files too.
    let extra = home.path().join("extra.cnf");
    std::fs::write(&extra, "[client]\nhost = 127.0.0.1\nuser = nobody\n").unwrap();
    answered(&run(
        &["-R", "--defaults-extra-file", extra.to_str().unwrap()],
        None,
    ));
    // --no-defaults: nothing from the files; MYSQL_PWD then carries the password.
    answered(&run(
        &[
            "--host",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            "repl",
            "--no-defaults",
        ],
        Some("Rep1-secret"),
    ));
    // The file's password wins over MYSQL_PWD, as in libmysql.
    answered(&run(&["--host", "127.0.0.1"], Some("Not-the-Pass")));
    // --defaults-file reads that file alone: its wrong password fails, and never shows.
    let out = run(
        &[
            "--host",
            "127.0.0.1",
            "-P",
            &port,
            "--defaults-file",
            wrong.to_str().unwrap(),
        ],
        None,
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("access denied") && !all.contains("Not-the-Pass"),
        "{all}"
    );
    // -p without a terminal says what to do instead.
    let out = run(&["--host", "127.0.0.1", "-p"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot ask for the password"), "{stderr}");

    // -p at a terminal: the prompt, the password typed and not echoed, the answer.
    let binary = env!("CARGO_BIN_EXE_startpoint");
    let line = format!(
        "{binary} resolve-position --start-time '{input}' --output json --host 127.0.0.1 \
         -P {port} -u repl -p --no-defaults"
    );
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("HOME", home.path())
        .env_remove("MYSQL_PWD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux's script");
    // --socket (and the default host, localhost, through the socket the files name): the
    // account as the server sees a local client, 'repl'@'localhost'; the walk's dump read from
    // the Unix socket the relay hands over.
    let socket = server.datadir().parent().unwrap().join("mariadbd.sock");
    let mut conn = server.connect().await.unwrap();
    conn.query_drop(
        "CREATE USER 'repl'@'localhost' IDENTIFIED BY 'Rep1-secret'; \
         GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'repl'@'localhost'",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
    let through_socket = |out: &std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["binlog_name"], location.file.as_str());
        assert_eq!(answer["binlog_pos"], location.pos);
        assert_eq!(
            answer["server"],
            format!("repl@localhost:{}", socket.display()).as_str()
        );
    };
    through_socket(&run(
        &[
            "--socket",
            socket.to_str().unwrap(),
            "-u",
            "repl",
            "--no-defaults",
        ],
        Some("Rep1-secret"),
    ));
    let local = home.path().join("local.cnf");
    std::fs::write(
        &local,
        format!(
            "[client]\nuser = repl\npassword = Rep1-secret\nsocket = {}\n",
            socket.display()
        ),
    )
    .unwrap();
    through_socket(&run(
        &["-R", "--defaults-file", local.to_str().unwrap()],
        None,
    ));

    // Typed only once the prompt is shown (and the echo off a moment after it), as a person
    // types it: what the terminal received before would be echoed by the terminal itself.
    use std::io::{Read, Write};
    let mut stdout = child.stdout.take().unwrap();
    let mut shown = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&shown).contains("Enter password: ") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&shown));
        shown.extend_from_slice(&buf[..n]);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"Rep1-secret\n").unwrap();
    stdout.read_to_end(&mut shown).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let shown: String = String::from_utf8_lossy(&shown)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(status.success(), "{shown}");
    assert!(
        !shown.contains("Rep1-secret"),
        "the password was echoed: {shown}"
    );
    assert!(
        shown.contains(&format!("\"binlog_pos\":{}", location.pos)),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_binary_logging_is_a_definite_error() {
    let server = MariaDb::start_with(&ServerConfig {
        extra_args: vec!["--skip-log-bin".to_owned()],
        ..ServerConfig::default()
    })
    .unwrap();
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    let started = std::time::Instant::now();
    let err = resolve_remote(
        &settings,
        &request("2030-03-31 00:30:00Z", TimeBasis::Commit, 20),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RemoteError::BinlogOff { .. }), "{err}");
    assert!(err.to_string().contains("log_bin=OFF"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a definite error is not retried"
    );
}

/// A server stopped with SIGSTOP in the middle of a resolution: it ends at its deadline with an
/// error naming the server, and the CLI keeps to `--rpc-timeout`. The stop comes when the
/// first connection after the control connection arrives, before the server greets it: a stop
/// later, inside a dump, races with the server pushing the fixture's whole 300 KB history into
/// the proxy's and the kernel's socket buffers, from which the resolution can finish (seen in
/// CI with a stop 2,500 bytes into a dump, more often once the relay read dumps itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_ends_in_a_timeout() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let server = Arc::new(server);
    let port = server.port();
    let proxy = Proxy::start(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let settings = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
    let times = unit_times(&local);
    let late = format_instant(times[times.len() - 5]);
    let victim = server.clone();
    proxy.on_connection(1, Box::new(move || victim.pause(true)));
    let started = std::time::Instant::now();
    let err = resolve_remote(&settings, &request(&late, TimeBasis::Commit, 4))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, RemoteError::Deadline { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", proxy.port())),
        "{err}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");

    // The binary, with the server still stopped from the start: --rpc-timeout holds.
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        support::command()
            .args([
                "--rpc-timeout",
                "3s",
                "resolve-position",
                "--url",
                &format!("mysql://root@127.0.0.1:{port}"),
                "--start-time",
                "2030-03-31 02:00:00Z",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("--rpc-timeout"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(7), "took {took:?}");
    server.pause(false);
    // Running again, the server answers as before.
    let answer = resolve_remote(&settings, &request(&late, TimeBasis::Commit, 30))
        .await
        .unwrap();
    let want = resolve_files(
        &local,
        &Request {
            start_us: times[times.len() - 5],
            basis: TimeBasis::Commit,
            gtid: GtidMode::Auto,
        },
    )
    .unwrap();
    assert_eq!(summary(&answer.resolution), summary(&want));
}

/// Events larger than the server's `max_allowed_packet` stream all the same (a binlog dump is
/// not bound by it), and the answer is the local one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_larger_than_max_allowed_packet() {
    let server = MariaDb::start_with(&small_binlogs()).unwrap();
    let mut conn = server.connect().await.unwrap();
    conn.query_drop(
        "CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB",
    )
    .await
    .unwrap();
    let base = 1_900_000_000i64;
    for (i, size) in [(1, 10), (2, 300_000), (3, 10), (4, 2_000_000), (5, 10)] {
        conn.query_drop(format!(
            "SET TIMESTAMP = {}; INSERT INTO big.t VALUES ({i}, REPEAT('x', {size}))",
            base + i * 10
        ))
        .await
        .unwrap();
    }
    conn.query_drop("SET GLOBAL max_allowed_packet = 16384")
        .await
        .unwrap();
    let copy = tempfile::tempdir().unwrap();
    fixtures::snapshot_binlogs(&server, &mut conn, copy.path())
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let local = BinlogDir::open(copy.path()).unwrap();
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    for offset in [15, 35, 45] {
        let start_us = (base + offset) * 1_000_000;
        let want = resolve_files(
            &local,
            &Request {
                start_us,
                basis: TimeBasis::Commit,
                gtid: GtidMode::Auto,
            },
        )
        .unwrap();
        let answer = resolve_remote(
            &settings,
            &request(&format_instant(start_us), TimeBasis::Commit, 30),
        )
        .await
        .unwrap_or_else(|e| panic!("at +{offset}s: {e}"));
        assert_eq!(summary(&answer.resolution), summary(&want), "at +{offset}s");
    }
}

/// MySQL 8.0 files from the project's writer, served by a real MariaDB (which serves
/// MySQL-format binlogs as its own history): the live path on MySQL files. With `--gtid off`
/// the target file is bisected on the server, for a small fraction of its bytes, and every
/// answer is the linear definition's; with GTIDs asked for, the answer and the GTID set are the
/// local path's. A clock going backwards in the streamed stretch is noticed and the file read in
/// full, still giving the linear answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql8_files_are_bisected_on_the_server() {
    use startpoint::testkit::binlog_writer::{
        FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor, forge_commit_us,
    };
    // Before the real clock, so the server's own new file comes after these.
    const BASE: u32 = 1_735_689_600; // 2025-01-01 00:00:00 UTC
    let spec = |i: u32| TrxSpec {
        shape: if i % 97 == 96 {
            TrxShape::Ddl
        } else {
            TrxShape::RowDml {
                statements: 1 + (i % 3) as u8,
            }
        },
        begin_ts: BASE + i / 50,
        commit_ts: BASE + i / 50,
        commit_micros: (i % 50) * 20_000,
        domain: i % 2,
        origin: 0,
        gtid_gap: 0,
    };
    let files: Vec<FileSpec> = [0..40u32, 40..20_040, 20_040..20_100]
        .into_iter()
        .map(|range| FileSpec {
            created: spec(range.start).commit_ts,
            trxs: range.map(spec).collect(),
            trailing: Trailing::Nothing,
        })
        .collect();
    let writer = SequenceWriter::new(WriterFlavor::MySql80Gtid, "mysql-bin").with_row_image(200);
    let (seed, written) = write_sequence(writer, &files);
    let target_size = written[1].bytes.len() as u64;
    let (server, settings) = serving(seed.path());
    let local = BinlogDir::open(seed.path()).unwrap();
    let units: Vec<_> = written.iter().flat_map(|f| f.units.iter()).collect();
    let target_units = &written[1].units;

    let mut times: Vec<i64> = target_units
        .iter()
        .step_by(613)
        .flat_map(|u| [u.commit_us - 1, u.commit_us, u.commit_us + 1])
        .collect();
    for file in &written {
        times.extend([
            file.units[0].commit_us,
            file.units.last().unwrap().commit_us,
        ]);
    }
    times.extend([
        units[0].commit_us - 86_400_000_000,
        units.last().unwrap().commit_us + 1,
    ]);
    let mut bisected = 0;
    for &t in &times {
        let input = format_instant(t);
        let remote = resolve_remote(&settings, &commit_request(t, GtidMode::Off))
            .await
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        let linear = linear_position(&local, t);
        let resolution = &remote.resolution;
        assert_eq!(
            summary(resolution),
            summary(&linear),
            "{input}: {:?}",
            resolution.steps
        );
        let deep = resolution.location.as_ref().is_some_and(|l| {
            l.file == written[1].name && l.pos > 512 << 10 && l.pos < target_size - (512 << 10)
        });
        if deep {
            bisected += 1;
            assert!(
                explains(resolution, |s| matches!(s, Step::SearchedOnServer { .. })),
                "{input}: {:?}",
                resolution.steps
            );
            assert!(
                resolution.stats.bytes_read < target_size / 8,
                "{input}: {} bytes received for a {target_size}-byte file: {:?}",
                resolution.stats.bytes_read,
                resolution.steps
            );
        }
    }
    assert!(bisected >= 20, "only {bisected} answers deep in the file");

    // The binary says so too: JSON with the answer and what it cost, `--explain` with the way.
    let deep = &target_units[target_units.len() * 2 / 3];
    let input = format_instant(deep.commit_us);
    for output in ["json", "text"] {
        let out = support::command()
            .args([
                "resolve-position",
                "--url",
                &server.url(),
                "--start-time",
                &input,
            ])
            .args(["--gtid", "off", "--explain", "--output", output])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        if output == "json" {
            let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(answer["binlog_pos"], deep.pos, "{stdout}");
            assert_eq!(answer["binlog_gtid"], "", "{stdout}");
            assert!(answer["bytes_read"].as_u64().unwrap() < target_size / 8);
        } else {
            let said = format!("{stdout}{stderr}");
            assert!(
                said.contains("searched by commit time on the server"),
                "{said}"
            );
            assert!(
                said.contains(&format!("binlog_pos   {}", deep.pos)),
                "{said}"
            );
        }
    }

    // GTIDs asked for: the file is streamed, and the set is the local path's.
    for u in target_units.iter().skip(100).step_by(2_503) {
        let remote = resolve_remote(&settings, &commit_request(u.commit_us, GtidMode::Auto))
            .await
            .unwrap();
        let local_answer = resolve_files(
            &local,
            &Request {
                start_us: u.commit_us,
                basis: TimeBasis::Commit,
                gtid: GtidMode::Auto,
            },
        )
        .unwrap();
        assert_eq!(summary(&remote.resolution), summary(&local_answer));
        assert_eq!(remote.resolution.gtid_text(), u.gtid_before);
    }
    drop(server);

    // A clock that goes backwards just before the answer: noticed, and read in full.
    let answer = &target_units[15_000];
    let before = &target_units[14_999];
    let mut forged = written.clone();
    forge_commit_us(
        &mut forged[1].bytes,
        before.pos,
        (target_units[0].commit_us - 1_000_000) as u64,
    );
    let seed = seed_dir(&forged);
    let (_server, settings) = serving(seed.path());
    let local = BinlogDir::open(seed.path()).unwrap();
    let t = answer.commit_us;
    let remote = resolve_remote(&settings, &commit_request(t, GtidMode::Off))
        .await
        .unwrap();
    let linear = linear_position(&local, t);
    assert_eq!(summary(&remote.resolution), summary(&linear));
    assert_eq!(
        remote.resolution.location.as_ref().map(|l| l.pos),
        Some(answer.pos)
    );
    assert!(
        explains(&remote.resolution, |s| matches!(
            s,
            Step::NotSearched { .. } | Step::SearchAbandoned { .. }
        )),
        "{:?}",
        remote.resolution.steps
    );
}

/// The server-side bisection on MySQL 8.0 files of other shapes: anonymous transactions,
/// transactions of more events than one `SHOW BINLOG EVENTS` page, and DDL, over random clocks;
/// every answer is the linear definition's. (Not compressed transactions nor tagged GTIDs:
/// MariaDB cannot list TRANSACTION_PAYLOAD or GTID_TAGGED events, so there the resolution
/// streams the file instead, which the last check covers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_bisection_on_other_shapes() {
    use startpoint::testkit::binlog_writer::{
        FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
    };
    const BASE: u32 = 1_735_689_600;
    for (flavor, seed) in [
        (WriterFlavor::MySql80Anonymous, 7u64),
        (WriterFlavor::MySql80Gtid, 11),
    ] {
        let mut state = seed;
        let mut next = move |n: u32| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % u64::from(n)) as u32
        };
        let mut second = BASE;
        let trxs: Vec<TrxSpec> = (0..6_000)
            .map(|i| {
                second += next(3) / 2;
                TrxSpec {
                    shape: match next(40) {
                        0 => TrxShape::RowDml { statements: 90 },
                        1 => TrxShape::Ddl,
                        _ => TrxShape::RowDml {
                            statements: 1 + next(3) as u8,
                        },
                    },
                    begin_ts: second.saturating_sub(next(3)),
                    commit_ts: second,
                    commit_micros: next(1_000_000),
                    domain: i % 2,
                    origin: 0,
                    gtid_gap: 0,
                }
            })
            .collect();
        let files: Vec<FileSpec> = [&trxs[..10], &trxs[10..5_990], &trxs[5_990..]]
            .into_iter()
            .map(|chunk| FileSpec {
                created: chunk[0].commit_ts,
                trxs: chunk.to_vec(),
                trailing: Trailing::Nothing,
            })
            .collect();
        let writer = SequenceWriter::new(flavor, "mysql-bin").with_row_image(120);
        let (dir, written) = write_sequence(writer, &files);
        let (_server, settings) = serving(dir.path());
        let local = BinlogDir::open(dir.path()).unwrap();
        let mut bisected = 0;
        for unit in written[1].units.iter().step_by(173) {
            for t in [unit.commit_us - 1, unit.commit_us, unit.commit_us + 1] {
                let input = format_instant(t);
                let remote = resolve_remote(&settings, &commit_request(t, GtidMode::Off))
                    .await
                    .unwrap_or_else(|e| panic!("{flavor:?} {input}: {e}"));
                let linear = linear_position(&local, t);
                assert_eq!(
                    summary(&remote.resolution),
                    summary(&linear),
                    "{flavor:?} {input}: {:?}",
                    remote.resolution.steps
                );
                if explains(&remote.resolution, |s| {
                    matches!(s, Step::SearchedOnServer { .. })
                }) {
                    bisected += 1;
                }
            }
        }
        assert!(bisected > 30, "{flavor:?}: only {bisected} bisected");
    }

    // A file the server cannot list (a compressed transaction near its start): read in full,
    // with the reason in the steps, and still the linear answer.
    let spec = |i: u32| TrxSpec {
        shape: if i == 3 {
            TrxShape::Compressed
        } else {
            TrxShape::RowDml { statements: 1 }
        },
        begin_ts: BASE + i / 10,
        commit_ts: BASE + i / 10,
        commit_micros: (i % 10) * 100_000,
        domain: 0,
        origin: 0,
        gtid_gap: 0,
    };
    let writer = SequenceWriter::new(WriterFlavor::MySql80Gtid, "mysql-bin").with_row_image(200);
    let (dir, written) = write_sequence(
        writer,
        &[FileSpec {
            created: BASE,
            trxs: (0..4_000).map(spec).collect(),
            trailing: Trailing::Nothing,
        }],
    );
    let file = &written[0];
    let (_server, settings) = serving(dir.path());
    let target = &file.units[3_000];
    let remote = resolve_remote(&settings, &commit_request(target.commit_us, GtidMode::Off))
        .await
        .unwrap();
    assert_eq!(
        remote.resolution.location.as_ref().map(|l| l.pos),
        Some(target.pos)
    );
    assert!(
        explains(&remote.resolution, |s| matches!(
            s,
            Step::NotSearched { .. }
        )),
        "{:?}",
        remote.resolution.steps
    );
}

/// Binlogs of every MySQL version the writer makes (5.6 without and with GTIDs, 5.7, 8.0
/// anonymous and with GTIDs), served by a real MariaDB: the live path (probes, the stream, the
/// GTID set) gives the local path's answers under both bases, across file boundaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_files_of_every_version_resolve_live_as_locally() {
    use startpoint::testkit::binlog_writer::{
        FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
    };
    const BASE: u32 = 1_735_689_600;
    for flavor in [
        WriterFlavor::MySql56NoGtid,
        WriterFlavor::MySql56Gtid,
        WriterFlavor::MySql57Gtid,
        WriterFlavor::MySql80Anonymous,
        WriterFlavor::MySql80Gtid,
    ] {
        let shapes: Vec<TrxShape> = [
            TrxShape::RowDml { statements: 2 },
            TrxShape::StatementDml,
            TrxShape::Ddl,
            TrxShape::RolledBack,
            TrxShape::NonTransactionalRows,
        ]
        .into_iter()
        .filter(|s| s.fits(flavor))
        .collect();
        let spec = |i: u32| TrxSpec {
            shape: shapes[i as usize % shapes.len()],
            // Header times that go backwards now and then.
            begin_ts: BASE + i / 3 - (i % 7 == 3) as u32,
            commit_ts: BASE + i / 3 + 1,
            commit_micros: (i % 3) * 300_000,
            domain: i % 2,
            origin: 0,
            gtid_gap: u64::from(i % 11 == 5),
        };
        let files: Vec<FileSpec> = [0..60u32, 60..240, 240..300]
            .into_iter()
            .map(|range| FileSpec {
                created: spec(range.start).begin_ts.min(spec(range.start).commit_ts),
                trxs: range.map(spec).collect(),
                trailing: Trailing::Nothing,
            })
            .collect();
        let (dir, written) = write_sequence(SequenceWriter::new(flavor, "mysql-bin"), &files);
        let mut times: Vec<i64> = written
            .iter()
            .flat_map(|f| &f.units)
            .flat_map(|unit| {
                [
                    unit.commit_us,
                    i64::from(unit.begin_ts) * 1_000_000,
                    unit.commit_us + 1,
                ]
            })
            .collect();
        times.sort_unstable();
        times.dedup();
        let (_server, settings) = serving(dir.path());
        let local = BinlogDir::open(dir.path()).unwrap();
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            for &t in times.iter().step_by(5) {
                let input = format_instant(t);
                let mut request = commit_request(t, GtidMode::Auto);
                request.basis = basis;
                let remote = resolve_remote(&settings, &request)
                    .await
                    .unwrap_or_else(|e| panic!("{flavor:?} {input} {basis}: {e}"));
                let local_answer = resolve_files(
                    &local,
                    &Request {
                        start_us: t,
                        basis,
                        gtid: GtidMode::Auto,
                    },
                )
                .unwrap();
                assert_eq!(
                    summary(&remote.resolution),
                    summary(&local_answer),
                    "{flavor:?} {input} {basis}: {:?}",
                    remote.resolution.steps
                );
            }
        }
    }
}

/// Stock MySQL sends a dump's first artificial ROTATE without a CRC32 to a replica whose
/// checksum variable names no algorithm it knows (mysql_async's `'ALL'`), though its
/// binlog_checksum is CRC32; read as checksummed, it would fail every live resolution at its
/// first probe with "CRC32 mismatch in ROTATE_EVENT … the file is damaged there". The proxy
/// makes MariaDB's dumps look like MySQL's in that one detail (`Proxy::like_mysql`, citing
/// MySQL's sender).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_dumps_first_rotate_without_a_crc_is_read() {
    use startpoint::testkit::binlog_writer::{
        FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
    };
    const BASE: u32 = 1_735_689_600;
    let spec = |i: u32| {
        TrxSpec::at(BASE + i / 3, BASE + i / 3 + 1)
            .with_shape(TrxShape::RowDml { statements: 2 })
            .with_micros((i % 3) * 300_000)
    };
    let files: Vec<FileSpec> = [0..40u32, 40..120, 120..160]
        .into_iter()
        .map(|range| FileSpec {
            created: spec(range.start).begin_ts,
            trxs: range.map(spec).collect(),
            trailing: Trailing::Nothing,
        })
        .collect();
    let (dir, written) = write_sequence(
        SequenceWriter::new(WriterFlavor::MySql80Gtid, "mysql-bin"),
        &files,
    );
    let (server, _) = serving(dir.path());
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    proxy.like_mysql(true);
    let settings = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
    let local = BinlogDir::open(dir.path()).unwrap();
    let units: Vec<i64> = written
        .iter()
        .flat_map(|f| &f.units)
        .map(|u| u.commit_us)
        .collect();
    for gtid in [GtidMode::Auto, GtidMode::Off] {
        for &t in units.iter().step_by(17) {
            let remote = resolve_remote(&settings, &commit_request(t, gtid))
                .await
                .unwrap_or_else(|e| panic!("{} {gtid:?}: {e}", format_instant(t)));
            let local_answer = local_commit_answer(&local, t, gtid);
            assert_eq!(summary(&remote.resolution), summary(&local_answer));
        }
    }
    assert!(proxy.rewritten() > 0, "the proxy rewrote no ROTATE");
}

/// Heartbeats (27, 41) are no events. MySQL sends one with flags 0 and log_pos where the stream
/// stands (`Binlog_sender::send_heartbeat_event`); taken for an event, it would end a position
/// probe before the event it follows, or pose as the event at a position. The proxy sends a
/// heartbeat after every event of every dump, on top of MySQL's first ROTATE: scans,
/// server-side bisection, file probes and cached summaries still give the local answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_between_any_two_events_change_no_answer() {
    use startpoint::resolve::cache::SummaryCache;
    use startpoint::testkit::binlog_writer::{
        FileSpec, SequenceWriter, Trailing, TrxShape, TrxSpec, WriterFlavor,
    };
    const BASE: u32 = 1_735_689_600;
    let spec = |i: u32| {
        TrxSpec::in_second(BASE + i / 20)
            .with_shape(TrxShape::RowDml {
                statements: 1 + (i % 2) as u8,
            })
            .with_micros((i % 20) * 50_000)
    };
    let files: Vec<FileSpec> = [0..30u32, 30..4_030, 4_030..4_060]
        .into_iter()
        .map(|range| FileSpec {
            created: spec(range.start).commit_ts,
            trxs: range.map(spec).collect(),
            trailing: Trailing::Nothing,
        })
        .collect();
    let writer = SequenceWriter::new(WriterFlavor::MySql80Gtid, "mysql-bin").with_row_image(200);
    let (dir, written) = write_sequence(writer, &files);
    let (server, _) = serving(dir.path());
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    proxy.like_mysql(true);
    proxy.heartbeats(true);
    let settings = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
    let local = BinlogDir::open(dir.path()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(SummaryCache::open(cache_dir.path()));
    let middle = &written[1].units;
    let mut times: Vec<i64> = middle
        .iter()
        .step_by(701)
        .flat_map(|u| [u.commit_us, u.commit_us + 1])
        .collect();
    times.extend([written[0].units[3].commit_us, written[2].units[5].commit_us]);
    let mut searched_on_server = 0;
    for &t in &times {
        let input = format_instant(t);
        let off = resolve_remote(&settings, &commit_request(t, GtidMode::Off))
            .await
            .unwrap_or_else(|e| panic!("{input} off: {e}"));
        assert_eq!(
            summary(&off.resolution),
            summary(&linear_position(&local, t)),
            "{input}: {:?}",
            off.resolution.steps
        );
        searched_on_server += usize::from(explains(&off.resolution, |s| {
            matches!(s, Step::SearchedOnServer { .. })
        }));
        for cached in [false, true] {
            let request = RemoteRequest {
                cache: cached.then(|| cache.clone()),
                ..commit_request(t, GtidMode::Auto)
            };
            let auto = resolve_remote(&settings, &request)
                .await
                .unwrap_or_else(|e| panic!("{input} auto: {e}"));
            assert_eq!(
                summary(&auto.resolution),
                summary(&local_commit_answer(&local, t, GtidMode::Auto)),
                "{input} (cached: {cached})"
            );
        }
    }
    assert!(
        searched_on_server >= 3,
        "only {searched_on_server} bisections"
    );
    assert!(
        proxy.heartbeats_sent() > 1000,
        "{}",
        proxy.heartbeats_sent()
    );
}

/// MySQL with gtid_mode=OFF refuses to send GTID transactions (and ON anonymous ones) kept from
/// before a change of mode, with error 1236; that refusal is no purge, so it is not reported as
/// one ("it may have been purged") nor retried from a fresh listing. The proxy answers a dump's
/// first transaction the way MySQL's sender does; the error says what it is and how to go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gtid_mode_refusal_on_the_wire_says_what_to_do() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    proxy.refuse_gtid_mode(true);
    let settings = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
    let times = unit_times(&local);
    let started = std::time::Instant::now();
    let err = resolve_remote(
        &settings,
        &commit_request(times[times.len() / 2], GtidMode::Auto),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RemoteError::GtidModeRefuses { mode: "OFF", .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("--binlog-dir") && !text.contains("purged"),
        "{text}"
    );
    assert!(proxy.rewritten() > 0);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A binlog that rotates while a resolution runs. The dump of the last listed file runs on into
/// the file created after `SHOW BINARY LOGS` was read; a transaction found there must not be
/// answered with the last listed file's *name* and the new file's *offset*. The names are taken
/// once (SEMANTICS.md §2): the answer never leaves the listed files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_during_the_resolution_never_names_the_wrong_file() {
    let server = MariaDb::start().unwrap();
    let mut conn = server.connect().await.unwrap();
    conn.query_drop("CREATE DATABASE test").await.unwrap();
    conn.query_drop("CREATE TABLE test.t (id INT PRIMARY KEY, v VARCHAR(64))")
        .await
        .unwrap();
    for id in 0..20 {
        conn.query_drop(format!("INSERT INTO test.t VALUES ({id}, REPEAT('x', 64))"))
            .await
            .unwrap();
    }
    conn.query_drop("FLUSH BINARY LOGS").await.unwrap();
    for id in 20..40 {
        conn.query_drop(format!("INSERT INTO test.t VALUES ({id}, REPEAT('y', 64))"))
            .await
            .unwrap();
    }
    conn.disconnect().await.unwrap();
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    let settings = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
    // T: a second from now, after every transaction so far.
    let start_us = chrono::Utc::now().timestamp_micros() + 1_000_000;
    // After the listing (connection 0), before the first dump: wait for T, rotate, and commit
    // a transaction at or after T into the new file.
    let port = server.port();
    proxy.on_connection(
        1,
        Box::new(move || {
            // MariaDB dates a transaction to the second: commit in the second after T's.
            let next_second = (start_us / 1_000_000 + 1) * 1_000_000;
            let wait = next_second + 50_000 - chrono::Utc::now().timestamp_micros();
            std::thread::sleep(Duration::from_micros(wait.max(0) as u64));
            run_as_root(
                port,
                &[
                    "FLUSH BINARY LOGS",
                    "INSERT INTO test.t VALUES (1000, 'after the listing')",
                ],
            );
        }),
    );
    for gtid in [GtidMode::Auto, GtidMode::Off] {
        let answer = resolve_remote(&settings, &commit_request(start_us, gtid))
            .await
            .unwrap();
        let resolution = &answer.resolution;
        match (&resolution.status, &resolution.matched) {
            // Within the listed files there is nothing at or after T.
            (Status::AboveUpperBound, _) => {}
            // Or (the second round, listed after the rotation) the transaction, in its file.
            (Status::InRange, Some(matched)) => {
                let path = server.binlog_path(&matched.file);
                let bytes = std::fs::read(&path).unwrap();
                let pos = matched.unit.pos as usize;
                assert!(
                    pos + 19 <= bytes.len(),
                    "{gtid:?}: {}:{pos} is past the end of that file: {:?}",
                    matched.file,
                    resolution.steps
                );
                assert!(
                    resolution.location.as_ref().unwrap().file == matched.file,
                    "{gtid:?}: {resolution:?}"
                );
                let mut units = UnitReader::new(
                    FileEventSource::open(&path, ReadOptions::default()).unwrap(),
                    false,
                );
                let mut found = false;
                while let Some(unit) = units.next_unit().unwrap() {
                    found |= unit.pos == matched.unit.pos && unit.commit_us() >= start_us;
                }
                assert!(
                    found,
                    "{gtid:?}: no transaction at or after T at {}:{pos}",
                    matched.file
                );
            }
            other => panic!("{gtid:?}: {other:?}"),
        }
    }
}

/// MariaDB with `encrypt_binlog=ON` is resolved over the live path: a dump arrives decrypted,
/// its START_ENCRYPTION marked IGNORABLE; the answer is the server's own (`BINLOG_GTID_POS`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_binlog_is_read_over_the_live_path() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("keys.txt");
    std::fs::write(
        &key_file,
        "1;a7addd9adea9978fda19f21e6be987880e68ac92632ca052e5bb42b1a506939a\n",
    )
    .unwrap();
    let server = MariaDb::start_with(&ServerConfig {
        extra_args: vec![
            "--plugin-load-add=file_key_management".to_owned(),
            format!("--file-key-management-filename={}", key_file.display()),
            "--encrypt-binlog=ON".to_owned(),
        ],
        ..ServerConfig::default()
    })
    .unwrap();
    let mut conn = server.connect().await.unwrap();
    conn.query_drop("CREATE DATABASE test").await.unwrap();
    conn.query_drop("CREATE TABLE test.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    for id in 0..5 {
        conn.query_drop(format!("INSERT INTO test.t VALUES ({id})"))
            .await
            .unwrap();
    }
    // The start time: the next whole second (MariaDB dates transactions to the second).
    let now = chrono::Utc::now().timestamp_micros();
    let start_us = (now / 1_000_000 + 1) * 1_000_000;
    let before: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_micros((start_us - now + 50_000) as u64)).await;
    for id in 5..10 {
        conn.query_drop(format!("INSERT INTO test.t VALUES ({id})"))
            .await
            .unwrap();
    }
    let local = BinlogDir::open(&server.datadir()).unwrap();
    let first = &local.files[0].path;
    let refused = UnitReader::new(
        FileEventSource::open(first, ReadOptions::default()).unwrap(),
        false,
    )
    .next_unit();
    assert!(
        refused.is_err(),
        "the encrypted file on disk is still refused, with what to do"
    );
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    let answer = resolve_remote(&settings, &commit_request(start_us, GtidMode::Auto))
        .await
        .unwrap();
    assert_eq!(answer.resolution.status, Status::InRange);
    assert_eq!(answer.resolution.gtid_text(), before);
    let location = answer.resolution.location.as_ref().unwrap();
    let at: Option<String> = conn
        .query_first(format!(
            "SELECT BINLOG_GTID_POS('{}', {})",
            location.file, location.pos
        ))
        .await
        .unwrap();
    assert_eq!(at.as_deref(), Some(before.as_str()));
    conn.disconnect().await.unwrap();
}

/// An account with max_user_connections below what the probes open at once (three) gets
/// "server error 1226" for the connections over its limit, which is no reason to fail the run:
/// a connection the limit refuses is asked again after a short wait, and probes fall back to one
/// at a time when that is not enough; the answer is the local one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_at_its_connection_limit_still_resolves() {
    use startpoint::testkit::binlog_writer::{
        FileSpec, SequenceWriter, Trailing, TrxSpec, WriterFlavor,
    };
    const BASE: u32 = 1_735_689_600;
    let spec = |i: u32| TrxSpec::at(BASE + i, BASE + i + 1);
    let files: Vec<FileSpec> = (0..8u32)
        .map(|f| FileSpec {
            created: spec(f * 10).begin_ts,
            trxs: (f * 10..f * 10 + 10).map(spec).collect(),
            trailing: Trailing::Nothing,
        })
        .collect();
    let (dir, _) = write_sequence(
        SequenceWriter::new(WriterFlavor::MySql80Gtid, "mysql-bin"),
        &files,
    );
    let (server, _) = serving(dir.path());
    let mut conn = server.connect().await.unwrap();
    for statement in [
        "CREATE USER 'few'@'%' IDENTIFIED BY 'Few-secret1' WITH MAX_USER_CONNECTIONS 2",
        "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'few'@'%'",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    conn.disconnect().await.unwrap();
    let url = format!("mysql://few@127.0.0.1:{}", server.port());
    let settings = ConnSettings::from_url(&url, Some("Few-secret1".to_owned())).unwrap();
    let local = BinlogDir::open(dir.path()).unwrap();
    // One of the two connections the account may have is taken for the whole run.
    let mut held = mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(server.port())
            .user(Some("few"))
            .pass(Some("Few-secret1"))
            .prefer_socket(false),
    )
    .await
    .unwrap();

    for file in [1, 4, 7] {
        let t = i64::from(spec(file * 10 + 5).commit_ts) * 1_000_000;
        let remote = resolve_remote(&settings, &commit_request(t, GtidMode::Auto))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", format_instant(t)));

        let local_answer = local_commit_answer(&local, t, GtidMode::Auto);
        assert_eq!(summary(&remote.resolution), summary(&local_answer));
    }
    held.query_drop("DO 1").await.unwrap();
    held.disconnect().await.unwrap();
}

/// A file the server lists but does not have on disk (deleted by hand, not purged) makes MariaDB
/// answer error 29. As on the local path, it is a purged gap, not a final error: passed over, and
/// the answer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_file_missing_on_disk_is_a_purged_gap() {
    let (server, copy, local) = server_with_history(&small_binlogs()).await;
    let missing = local.files[3].name.clone();
    std::fs::remove_file(server.binlog_path(&missing)).unwrap();
    std::fs::remove_file(copy.path().join(&missing)).unwrap();
    let local = BinlogDir::open(copy.path()).unwrap();
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    let times = unit_times(&local);
    for &t in [times[times.len() / 2], times[times.len() - 3]].iter() {
        let remote = resolve_remote(&settings, &commit_request(t, GtidMode::Auto))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", format_instant(t)));
        let local_answer = local_commit_answer(&local, t, GtidMode::Auto);
        assert_eq!(summary(&remote.resolution), summary(&local_answer));
        assert!(
            remote
                .resolution
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::Purged { files } if files.contains(&missing))),
            "{:?}",
            remote.resolution.warnings
        );
    }
}

/// Three concurrent probes registering with the same `--server-id N` would make the server
/// disconnect one dump for each new one (runs of 4–14 s, or failures at the deadline); with N a
/// real replica's, the two would disconnect each other for the whole `--rpc-timeout`. With a
/// fixed id the files are probed one at a time, and an id a registered replica uses is refused
/// at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_server_id_neither_fights_itself_nor_a_replica() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    // A replica registered as 4242, its dump left open.
    let mut replica = server.connect().await.unwrap();
    replica
        .query_drop("SET @mariadb_slave_capability=4")
        .await
        .unwrap();
    let mut dump = replica
        .get_binlog_stream(mysql_async::BinlogStreamRequest::new(4242).with_hostname(b"replica1"))
        .await
        .unwrap();
    // Registered: its first event has come.
    futures_util::StreamExt::next(&mut dump)
        .await
        .unwrap()
        .unwrap();
    let times = unit_times(&local);
    let t = times[times.len() / 2];
    let with_id = |id: u32| {
        let mut settings = ConnSettings::from_url(&server.url(), None).unwrap();
        settings.server_id = Some(id);
        settings
    };
    let started = std::time::Instant::now();
    let err = resolve_remote(&with_id(4242), &commit_request(t, GtidMode::Auto))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemoteError::ServerIdInUse { id: 4242, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("replica1"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let started = std::time::Instant::now();
    let answer = resolve_remote(&with_id(4243), &commit_request(t, GtidMode::Auto))
        .await
        .unwrap();
    let local_answer = local_commit_answer(&local, t, GtidMode::Auto);
    assert_eq!(summary(&answer.resolution), summary(&local_answer));
    // Three concurrent probes with one id would take 4–14 s of disconnections and retries.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    drop(dump);
}

/// MySQL, when a replica dumps without a UUID, kills an older UUID-less dump of the same
/// server_id (`kill_zombie_dump_threads` and `Find_zombie_dump_thread` in mysql/mysql-server
/// `sql/rpl_source.cc`), so with `--server-id` our own dumps would kill each other there. Every
/// dump's connection sets a fresh `@replica_uuid` and `@slave_uuid` (as go-mysql does) with the
/// capability MariaDB needs, in one statement: the proxy sees it before every COM_BINLOG_DUMP,
/// and the very statement leaves both variables set on a real server (copying one into the
/// other would not: a `SET` evaluates its right sides before assigning, so the copy is NULL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dump_announces_a_fresh_replica_uuid() {
    const COM_QUERY: u8 = 0x03;
    const COM_BINLOG_DUMP: u8 = 0x12;
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    let times = unit_times(&local);
    let t = times[times.len() / 3];
    for id in [None, Some(4243)] {
        let mut settings = ConnSettings::from_url(&proxy.url("root"), None).unwrap();
        settings.server_id = id;
        let answer = resolve_remote(&settings, &commit_request(t, GtidMode::Auto))
            .await
            .unwrap();
        let local_answer = local_commit_answer(&local, t, GtidMode::Auto);
        assert_eq!(summary(&answer.resolution), summary(&local_answer));
    }
    let commands = proxy.commands();
    let dumps = commands
        .iter()
        .filter(|c| matches!(c.split_first(), Some((&COM_BINLOG_DUMP, _))))
        .count();
    let announced = commands
        .iter()
        .filter(|c| match c.split_first() {
            Some((&COM_QUERY, query)) => {
                let text = String::from_utf8_lossy(query);
                text.contains("@replica_uuid=UUID()")
                    && text.contains("@slave_uuid=UUID()")
                    && text.contains("@mariadb_slave_capability=4")
            }
            _ => false,
        })
        .count();
    assert!(dumps >= 4, "{dumps} dumps");
    assert_eq!(
        announced, dumps,
        "every dump's connection sets its own UUID"
    );
    let statement = commands
        .iter()
        .find_map(|c| match c.split_first() {
            Some((&COM_QUERY, query)) if query.starts_with(b"SET @mariadb_slave_capability") => {
                Some(String::from_utf8(query.to_vec()).unwrap())
            }
            _ => None,
        })
        .unwrap();
    let mut conn = server.connect().await.unwrap();
    conn.query_drop(&statement).await.unwrap();
    let (replica, slave): (Option<String>, Option<String>) = conn
        .query_first("SELECT @replica_uuid, @slave_uuid")
        .await
        .unwrap()
        .unwrap();
    for uuid in [&replica, &slave] {
        assert!(
            uuid.as_ref().is_some_and(|u| u.len() == 36),
            "{statement}: {replica:?} {slave:?}"
        );
    }
    conn.disconnect().await.unwrap();
}

/// A live server's files are summarised once: a warm run checks each summary against the server
/// (its first events and last event) and skips the file, with the cold run's answers; `index --url`
/// reports them cached; after RESET MASTER the files of the same names are other files, whose old
/// summaries are not used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_summaries_are_checked_against_the_server_before_use() {
    use startpoint::resolve::FileDecision;
    use startpoint::resolve::cache::SummaryCache;
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let settings = ConnSettings::from_url(&server.url(), None).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(SummaryCache::open(cache_dir.path()));
    let cached = |t: i64, basis: TimeBasis| RemoteRequest {
        cache: Some(cache.clone()),
        basis,
        ..commit_request(t, GtidMode::Auto)
    };
    let linear = |local: &BinlogDir, t: i64, basis: TimeBasis| {
        startpoint::resolve::linear::resolve_linear(
            local,
            &Request {
                start_us: t,
                basis,
                gtid: GtidMode::Auto,
            },
        )
        .unwrap()
    };
    let times = unit_times(&local);
    let late = times[times.len() * 9 / 10];
    let cold = resolve_remote(&settings, &cached(late, TimeBasis::Commit))
        .await
        .unwrap()
        .resolution;
    assert_eq!(
        summary(&cold),
        summary(&linear(&local, late, TimeBasis::Commit))
    );
    let warm = resolve_remote(&settings, &cached(late, TimeBasis::Commit))
        .await
        .unwrap()
        .resolution;
    assert_eq!(summary(&warm), summary(&cold));
    let answer = warm
        .files
        .iter()
        .position(|f| f.decision == FileDecision::Read)
        .unwrap();
    assert!(answer >= 3, "{:?}", warm.files);
    assert!(
        warm.files[..answer]
            .iter()
            .all(|f| f.decision == FileDecision::SkippedOnSummary
                || f.why == FileReason::SkippedOnSummary { latest_us: None }),
        "{:?}",
        warm.files
    );
    assert!(
        warm.stats.bytes_read * 2 < cold.stats.bytes_read,
        "warm {:?} cold {:?}",
        warm.stats,
        cold.stats
    );
    for &t in times.iter().step_by(11) {
        for basis in [TimeBasis::Commit, TimeBasis::Begin] {
            let remote = resolve_remote(&settings, &cached(t, basis)).await.unwrap();
            assert_eq!(
                summary(&remote.resolution),
                summary(&linear(&local, t, basis)),
                "{} {basis}",
                format_instant(t)
            );
        }
    }

    // The coverage table from the server: the files read in full above are cached; a first
    // `index` summarises the rest, a second finds every file but the newest cached.
    let index = |extra: &[&str]| {
        let cache = cache_dir.path().display().to_string();
        let url = server.url();
        let mut args = vec![
            "index",
            "--url",
            &url,
            "--cache-dir",
            &cache,
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = support::command().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let states: Vec<String> = table["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["summary"].as_str().unwrap().to_owned())
            .collect();
        (table, states, stderr)
    };
    let (table, states, _) = index(&[]);
    assert_eq!(states.len(), local.files.len(), "{table}");
    assert!(states[..answer].iter().all(|s| s == "cached"), "{table}");
    let (table, states, _) = index(&[]);
    assert_eq!(
        states.last().map(String::as_str),
        Some("newest (not cached)")
    );
    assert!(
        states[..states.len() - 1].iter().all(|s| s == "cached"),
        "{table}"
    );
    // The audit of that cache against the server: every file read again over the wire, every
    // cached summary found to say what its file says.
    let (table, states, stderr) = index(&["--verify"]);
    assert!(
        states[..states.len() - 1].iter().all(|s| s == "verified"),
        "{table}"
    );
    assert!(stderr.contains(", 0 do not"), "{stderr}");

    // RESET MASTER: new files under the old names.
    // Simulated times after the fixture's, so that start times fall inside the new files.
    const AFTER: u64 = 2_000_000_000;
    let mut conn = server.connect().await.unwrap();
    conn.query_drop(format!("SET TIMESTAMP = {AFTER}"))
        .await
        .unwrap();
    conn.query_drop("RESET MASTER").await.unwrap();
    conn.query_drop("CREATE TABLE shop.after_reset (id INT PRIMARY KEY, pad TEXT)")
        .await
        .unwrap();
    for round in 0..4u64 {
        for i in 0..20u64 {
            conn.query_drop(format!(
                "SET TIMESTAMP = {}",
                AFTER + 10 + round * 100 + i * 3
            ))
            .await
            .unwrap();
            conn.query_drop(format!(
                "INSERT INTO shop.after_reset VALUES ({}, REPEAT('y', 300))",
                round * 100 + i
            ))
            .await
            .unwrap();
        }
        conn.query_drop("FLUSH BINARY LOGS").await.unwrap();
    }
    let copy = tempfile::tempdir().unwrap();
    startpoint::testkit::fixtures::snapshot_binlogs(&server, &mut conn, copy.path())
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let after = BinlogDir::open(copy.path()).unwrap();
    let times = unit_times(&after);
    let mut noted = false;
    for &t in times.iter().step_by(7).chain([times.last().unwrap()]) {
        let remote = resolve_remote(&settings, &cached(t, TimeBasis::Commit))
            .await
            .unwrap()
            .resolution;
        assert_eq!(
            summary(&remote),
            summary(&linear(&after, t, TimeBasis::Commit)),
            "after RESET MASTER at {}",
            format_instant(t)
        );
        noted |= remote
            .notes
            .iter()
            .any(|n| matches!(n, Note::StaleSummary { .. }));
    }
    assert!(noted, "no old summary was noticed to be another file's");
}

/// Every live answer equals the local one, whichever way the server is reached: as root;
/// compressed; with a fixed `--server-id`; as an ed25519 account; as an account at its connection
/// limit (two allowed, one held for the whole run); and through a wire that looks like stock
/// MySQL's (the first ROTATE without its CRC) with a heartbeat after every event. One real MariaDB
/// history, times across every file and outside them, with and without GTIDs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_of_reaching_the_server_gives_the_local_answer() {
    let (server, _copy, local) = server_with_history(&small_binlogs()).await;
    let mut conn = server.connect().await.unwrap();
    for statement in [
        "INSTALL SONAME 'auth_ed25519'",
        "CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('Ed-secret1')",
        "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'ed'@'%'",
        "CREATE USER 'few'@'%' IDENTIFIED BY 'Few-secret1' WITH MAX_USER_CONNECTIONS 2",
        "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'few'@'%'",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    conn.disconnect().await.unwrap();
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    proxy.like_mysql(true);
    proxy.heartbeats(true);
    let account = |user: &str, password: &str| {
        let url = format!("mysql://{user}@127.0.0.1:{}", server.port());
        ConnSettings::from_url(&url, Some(password.to_owned())).unwrap()
    };
    let root = ConnSettings::from_url(&server.url(), None).unwrap();
    let ways: Vec<(&str, ConnSettings)> = vec![
        ("root", root.clone()),
        (
            "compressed",
            ConnSettings {
                compress: true,
                ..root.clone()
            },
        ),
        (
            "--server-id 4250",
            ConnSettings {
                server_id: Some(4250),
                ..root.clone()
            },
        ),
        ("ed25519", account("ed", "Ed-secret1")),
        ("connection limit", account("few", "Few-secret1")),
        (
            "like MySQL, with heartbeats",
            ConnSettings::from_url(&proxy.url("root"), None).unwrap(),
        ),
    ];
    let units = unit_times(&local);
    let mut times: Vec<i64> = units.iter().copied().step_by(units.len() / 5).collect();
    times.extend([units[0] - 86_400_000_000, units[units.len() - 1] + 1]);
    let mut held = mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(server.port())
            .user(Some("few"))
            .pass(Some("Few-secret1"))
            .prefer_socket(false),
    )
    .await
    .unwrap();
    for gtid in [GtidMode::Auto, GtidMode::Off] {
        for &t in &times {
            let local_answer = summary(&local_commit_answer(&local, t, gtid));
            for (way, settings) in &ways {
                let remote = resolve_remote(settings, &commit_request(t, gtid))
                    .await
                    .unwrap_or_else(|e| panic!("{way}, {} {gtid:?}: {e}", format_instant(t)));
                assert_eq!(
                    summary(&remote.resolution),
                    local_answer,
                    "{way}, {} {gtid:?}",
                    format_instant(t)
                );
            }
        }
    }
    held.query_drop("DO 1").await.unwrap();
    held.disconnect().await.unwrap();
    assert!(proxy.rewritten() > 0 && proxy.heartbeats_sent() > 0);
}
