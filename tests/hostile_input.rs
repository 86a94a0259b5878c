//! What a hostile user or a careless operator can hand startpoint — a cache someone else wrote,
//! a binlog edited in place, a FIFO, a device, YAML built to exhaust the stack or the memory, a
//! URL with a password in the wrong place, a server that lies — never changes an answer, never
//! hangs it and never takes it down. Every run here is of the real binary under
//! [`support::bounded`]: an address-space limit, a wall clock limit and a peak-RSS bound.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{self, Bounded, bounded};

const FIXTURE: &str = "testdata/mariadb/binlog";
/// 01:30 Berlin on the fixture: the answer is `mysql-bin.000007:19599`, and 000001–000006 are
/// read in full before it (MariaDB), so a cold run summarises them.
const T: &str = "2030-03-31 01:30:00";
const ZONE: &str = "Europe/Berlin";
/// T as seconds since the epoch (00:30:00 UTC).
const T_EPOCH: u32 = 1_901_147_400;

fn wall() -> Duration {
    Duration::from_secs(60)
}

/// A copy of the fixture binlogs, which tests may change.
fn binlog_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("binlog");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(FIXTURE).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    (dir, copy)
}

/// `resolve-position` at T on `binlogs`, with the cache in `cache` (`None`: `--no-cache`).
fn resolve(binlogs: &Path, cache: Option<&Path>) -> Bounded {
    let binlogs = binlogs.display().to_string();
    let cache_dir = cache.map(|c| c.display().to_string());
    let mut args = vec![
        "resolve-position",
        "--binlog-dir",
        &binlogs,
        "--start-time",
        T,
        "--timezone",
        ZONE,
        "--output",
        "json",
    ];
    match &cache_dir {
        Some(dir) => args.extend(["--cache-dir", dir.as_str()]),
        None => args.push("--no-cache"),
    }
    let run = bounded(&args, wall());
    run.assert_contained();
    run
}

/// The answer's `file:pos` from a JSON run.
fn answer(run: &Bounded) -> String {
    let json: serde_json::Value = serde_json::from_str(&run.output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?}", run.output));
    format!(
        "{}:{}",
        json["binlog_name"].as_str().unwrap_or("?"),
        json["binlog_pos"]
    )
}

/// Rewrites every summary in the store at `cache` to claim that all its file's units are
/// before T: the forgery that moves an answer later, if the store is believed.
fn forge_every_summary(cache: &Path) {
    let conn = rusqlite::Connection::open(cache.join("summaries-v2.sqlite3")).unwrap();
    let rows: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT name, summary FROM summaries").unwrap();
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(!rows.is_empty());
    for (name, text) in rows {
        let mut summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        summary["units"]["max"] = serde_json::json!([0, 0]);
        summary["units"]["min"] = serde_json::json!([0, 0]);
        conn.execute(
            "UPDATE summaries SET summary = ?1 WHERE name = ?2",
            rusqlite::params![summary.to_string(), name],
        )
        .unwrap();
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

/// A binlog edited in place (same size, same first and last 4 KiB, CRCs fixed) must not be
/// answered from its cached summary: a warm run that skipped it would answer later than the
/// cold run. Here a transaction in the middle of `mysql-bin.000006` is re-dated after T, its CRC
/// fixed and even the file's mtime put back: the change time (which no user tool sets) differs,
/// the file is read again, and the warm answer is the cold one.
#[test]
fn a_binlog_edited_in_place_is_read_again_not_answered_from_its_cached_summary() {
    let (_dir, binlogs) = binlog_copy();
    let cache = tempfile::tempdir().unwrap();
    let before = answer(&resolve(&binlogs, Some(cache.path())));
    assert_eq!(before, "mysql-bin.000007:19599");
    // Warm: the same answer, from the summaries.
    assert_eq!(answer(&resolve(&binlogs, Some(cache.path()))), before);

    let file = binlogs.join("mysql-bin.000006");
    let mut bytes = std::fs::read(&file).unwrap();
    let size = bytes.len();
    let units = support::startpoint(&[
        "list-units",
        "--output",
        "json",
        &file.display().to_string(),
    ]);
    units.assert_success();
    let unit: serde_json::Value = units
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|u| u["pos"].as_u64().unwrap() > 12_000)
        .unwrap();
    let (pos, end) = (
        unit["pos"].as_u64().unwrap() as usize,
        unit["end_pos"].as_u64().unwrap() as usize,
    );
    assert!(
        pos > 4096 && end < size - 4096,
        "the edit must miss the digested ends"
    );
    // The unit's last event (its XID): its header time is the commit time.
    let mut at = pos;
    let mut last = pos;
    while at < end {
        last = at;
        at += u32::from_le_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
    }
    assert_eq!(bytes[last + 4], 16, "an XID event");
    let event_size = end - last;
    bytes[last..last + 4].copy_from_slice(&(T_EPOCH + 3600).to_le_bytes());
    let crc = crc32fast::hash(&bytes[last..end - 4]);
    bytes[end - 4..end].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(event_size, 31);
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut handle = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        handle.seek(SeekFrom::Start(last as u64)).unwrap();
        handle.write_all(&bytes[last..end]).unwrap();
        handle.set_modified(mtime).unwrap();
    }
    assert_eq!(std::fs::metadata(&file).unwrap().len() as usize, size);

    let cold = answer(&resolve(&binlogs, None));
    assert_eq!(cold, format!("mysql-bin.000006:{pos}"));
    let warm = resolve(&binlogs, Some(cache.path()));
    assert_eq!(answer(&warm), cold, "{}", warm.output.stderr);
    assert!(
        warm.output
            .stderr
            .contains("mysql-bin.000006 does not match the file"),
        "{}",
        warm.output.stderr
    );
}

/// A cache another user could write is not trusted: forged rows claiming every file is before
/// T would move the answer later, with nothing on stderr. A store or directory that is group- or
/// world-writable, or (as root, which CI is) owned by another user, is not used: one note names
/// it and the fix, and the answer is the cold one. The same forged rows in a store that is ours
/// do move the answer: the forgery is real, the refusal is what stops it.
#[test]
fn a_cache_another_user_could_write_is_not_used() {
    let (_dir, binlogs) = binlog_copy();
    let cold = answer(&resolve(&binlogs, None));
    let scene = tempfile::tempdir().unwrap();
    let cache = scene.path().join("c");
    assert_eq!(answer(&resolve(&binlogs, Some(&cache))), cold);
    // Every file but the newest summarised, those after the answer too.
    let (dir, cache_dir) = (binlogs.display().to_string(), cache.display().to_string());
    bounded(
        &["index", "--binlog-dir", &dir, "--cache-dir", &cache_dir],
        wall(),
    )
    .output
    .assert_success();
    assert_eq!(answer(&resolve(&binlogs, Some(&cache))), cold);
    assert_eq!(mode(&cache), 0o700, "a new cache directory is 0700");
    let store = cache.join("summaries-v2.sqlite3");
    assert_eq!(mode(&store), 0o600, "a new store is 0600");
    forge_every_summary(&cache);
    let believed = answer(&resolve(&binlogs, Some(&cache)));
    assert_ne!(believed, cold, "forged rows in our own store are believed");

    /// What the note says, how to make the cache untrusted, how to undo it.
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>, Box<dyn Fn() + 'a>);
    let mut cases: Vec<Case> = vec![
        (
            "every other user",
            Box::new(|| chmod(&store, 0o666)),
            Box::new(|| chmod(&store, 0o600)),
        ),
        (
            "its group",
            Box::new(|| chmod(&cache, 0o770)),
            Box::new(|| chmod(&cache, 0o700)),
        ),
        (
            "every other user",
            Box::new(|| chmod(&cache, 0o777)),
            Box::new(|| chmod(&cache, 0o700)),
        ),
        // A directory above it that anyone may write, not sticky: another directory could be
        // put in the cache's place.
        (
            "above it can be written by every user",
            Box::new(|| chmod(scene.path(), 0o777)),
            Box::new(|| chmod(scene.path(), 0o700)),
        ),
    ];
    if is_root() {
        cases.push((
            "owned by uid 12345",
            Box::new(|| std::os::unix::fs::chown(&store, Some(12345), Some(12345)).unwrap()),
            Box::new(|| std::os::unix::fs::chown(&store, Some(0), Some(0)).unwrap()),
        ));
    } else {
        eprintln!(
            "SKIPPED (not root): the case of a cache owned by another user needs chown; CI runs \
             it as root"
        );
    }
    for (why, make, undo) in &cases {
        make();
        let run = resolve(&binlogs, Some(&cache));
        assert_eq!(answer(&run), cold, "{why}: {}", run.output.stderr);
        assert!(
            run.output.stderr.contains("is not used") && run.output.stderr.contains(why),
            "{why}: {}",
            run.output.stderr
        );
        undo();
    }
}

/// A cache file that is a symlink is not followed (following it would give its target the
/// cache's tables and WAL mode, and a dangling one would create the file it points to), nor is a
/// symlinked cache directory: a note, and the answer unchanged.
#[test]
fn a_cache_that_is_a_symlink_is_never_followed() {
    let (_dir, binlogs) = binlog_copy();
    let cold = answer(&resolve(&binlogs, None));
    let scene = tempfile::tempdir().unwrap();
    let cache = scene.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    chmod(&cache, 0o700);
    let victim = scene.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let store = cache.join("summaries-v2.sqlite3");
    std::os::unix::fs::symlink(&victim, &store).unwrap();
    let run = resolve(&binlogs, Some(&cache));
    assert_eq!(answer(&run), cold);
    assert!(
        run.output.stderr.contains("symlink"),
        "{}",
        run.output.stderr
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    std::fs::remove_file(&store).unwrap();
    let nowhere = scene.path().join("created-by-a-dangling-link");
    std::os::unix::fs::symlink(&nowhere, &store).unwrap();
    let run = resolve(&binlogs, Some(&cache));
    assert_eq!(answer(&run), cold);
    assert!(!nowhere.exists(), "a dangling link's target was created");

    let real = scene.path().join("real");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    let linked = scene.path().join("linked");
    std::os::unix::fs::symlink(&real, &linked).unwrap();
    let run = resolve(&binlogs, Some(&linked));
    assert_eq!(answer(&run), cold);
    assert!(
        run.output.stderr.contains("symlink"),
        "{}",
        run.output.stderr
    );
    assert!(std::fs::read_dir(&real).unwrap().next().is_none());
}

/// `index --verify` trusts no summary: it reads every file again, reports each cached summary
/// that does not say what its file says (exit status 1), and replaces it; a second audit then
/// finds the cache sound.
#[test]
fn index_verify_reports_every_summary_that_does_not_match_its_file() {
    let (_dir, binlogs) = binlog_copy();
    let cache = tempfile::tempdir().unwrap();
    let (dir, cache_dir) = (
        binlogs.display().to_string(),
        cache.path().display().to_string(),
    );
    let index = |verify: bool| {
        let mut args = vec!["index", "--binlog-dir", &dir, "--cache-dir", &cache_dir];
        if verify {
            args.push("--verify");
        }
        let run = bounded(&args, wall());
        run.assert_contained();
        run
    };
    index(false).output.assert_success();
    let clean = index(true);
    clean.output.assert_success();
    assert!(
        clean.output.stdout.contains("verified"),
        "{}",
        clean.output.stdout
    );
    forge_every_summary(cache.path());
    let audit = index(true);
    assert_eq!(audit.output.code, Some(1), "{:?}", audit.output);
    assert!(
        audit
            .output
            .stdout
            .contains("DID NOT MATCH (replaced): its unit times"),
        "{}",
        audit.output.stdout
    );
    assert!(
        audit.output.stderr.contains("do not (the cache was wrong")
            && !audit.output.stderr.contains(", 0 do not"),
        "{}",
        audit.output.stderr
    );
    index(true).output.assert_success();
}

/// A FIFO in a binlog directory, listed in the index or not, never blocks startpoint (an `open`
/// on it waits forever for a writer). Not listed, it is left out with a note that says what it
/// is, and the answer is the one without it. Listed, a binlog belongs there whose transactions
/// cannot be read: a gap, as a purged file is, named for what it is, so the answer past it
/// carries the gap's warning rather than skipping its transactions in silence.
#[test]
fn a_fifo_in_a_binlog_directory_is_left_out_with_a_note() {
    let (_dir, binlogs) = binlog_copy();
    let cold = answer(&resolve(&binlogs, None));
    mkfifo(&binlogs.join("stray.fifo"));
    let run = resolve(&binlogs, None);
    assert_eq!(answer(&run), cold);
    assert!(
        run.output
            .stderr
            .contains("stray.fifo left out (a FIFO (named pipe))"),
        "{}",
        run.output.stderr
    );

    // The index lists a FIFO in the middle, where mysql-bin.000006 was.
    let middle = binlogs.join("mysql-bin.000006");
    std::fs::remove_file(&middle).unwrap();
    mkfifo(&middle);
    let run = resolve(&binlogs, None);
    let json: serde_json::Value = serde_json::from_str(&run.output.stdout).unwrap();
    let said = format!("{}{}", json["warnings"], run.output.stderr);
    assert!(
        said.contains(
            "mysql-bin.000006 left out (listed in mysql-bin.index but a FIFO (named pipe)"
        ) && json["warnings"].to_string().contains("mysql-bin.000006")
            && json["warnings"].to_string().contains("purged"),
        "{said}"
    );
    assert_eq!(
        said.matches("mysql-bin.000006 left out").count(),
        1,
        "one note for the entry: {said}"
    );
}

/// A newest binlog file extended to 1.25 GiB of zeros (`truncate -s`, free to make) would send
/// the search that splits a large file in two scanning byte by byte for an event start in the
/// zeros, for hours. The scan gives up after 16 MiB and the file is read in order: the answer
/// in seconds, in bounded memory.
#[test]
fn a_sparse_binlog_file_is_read_in_seconds_not_hours() {
    let (_dir, binlogs) = binlog_copy();
    std::fs::OpenOptions::new()
        .write(true)
        .open(binlogs.join("mysql-bin.000011"))
        .unwrap()
        .set_len(1280 << 20)
        .unwrap();
    let dir = binlogs.display().to_string();
    let run = bounded(
        &[
            "resolve-position",
            "--binlog-dir",
            &dir,
            "--start-time",
            "2030-03-31 04:46:05",
            "--timezone",
            ZONE,
            "--no-cache",
            "--output",
            "json",
        ],
        wall(),
    );
    run.assert_contained();
    assert_eq!(answer(&run), "mysql-bin.000011:417");
    eprintln!(
        "sparse newest file: {:?}, {} KiB",
        run.elapsed, run.peak_rss_kib
    );
}

/// A file name is outside text too: a binlog named with a newline and an escape sequence
/// (`mysql-bin.000001:4⏎…`) could forge the first line of the answer, or reach a terminal or a
/// consumer's statement raw. Such a name is left out with a note; the answer is the one
/// without it.
#[test]
fn a_binlog_whose_name_holds_control_characters_is_left_out() {
    let (_dir, binlogs) = binlog_copy();
    let cold = answer(&resolve(&binlogs, None));
    std::fs::remove_file(binlogs.join("mysql-bin.index")).unwrap();
    std::fs::copy(
        binlogs.join("mysql-bin.000011"),
        binlogs.join("mysql-bin.000001:4\n\x1b[31mmysql-bin.000012"),
    )
    .unwrap();
    let run = resolve(&binlogs, None);
    assert_eq!(answer(&run), cold);
    assert!(
        run.output
            .stderr
            .contains("mysql-bin.000001:4\\n\\x1b[31mmysql-bin.000012 left out")
            && !run.output.stderr.contains('\x1b'),
        "{}",
        run.output.stderr
    );
}

/// `index --verify` when the cache is wrong about a file it would use: the bytes of
/// `mysql-bin.000006` (read before the answer at T) damaged in the middle while the identity
/// still matches (as bit rot that leaves the change time alone would; set here by rewriting the
/// stored identity). The audit reports that file (exit status 1), goes on with the others, and
/// forgets its summary, so the next warm run reads the file and meets the damage, as a cold run
/// does.
#[test]
fn index_verify_reports_and_forgets_a_used_summary_whose_file_no_longer_reads() {
    use std::os::unix::fs::MetadataExt;
    let (_dir, binlogs) = binlog_copy();
    let cache = tempfile::tempdir().unwrap();
    let (dir, cache_dir) = (
        binlogs.display().to_string(),
        cache.path().display().to_string(),
    );
    bounded(
        &["index", "--binlog-dir", &dir, "--cache-dir", &cache_dir],
        wall(),
    )
    .output
    .assert_success();
    let file = binlogs.join("mysql-bin.000006");
    let units = support::startpoint(&[
        "list-units",
        "--output",
        "json",
        &file.display().to_string(),
    ]);
    let pos = units
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["pos"]
                .as_u64()
                .unwrap()
        })
        .find(|&p| p > 12_000)
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[pos as usize + 10] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    let stat = format!(
        "{}:{}:{}:{}",
        meta.dev(),
        meta.ino(),
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec())
    );
    let conn = rusqlite::Connection::open(cache.path().join("summaries-v2.sqlite3")).unwrap();
    conn.execute(
        "UPDATE summaries SET stat = ?1 WHERE name = 'mysql-bin.000006'",
        rusqlite::params![stat],
    )
    .unwrap();
    drop(conn);
    // The cache is now believed about a file that no longer reads.
    let cold = resolve(&binlogs, None);
    assert_ne!(cold.output.code, Some(0), "{:?}", cold.output);
    let audit = bounded(
        &[
            "index",
            "--binlog-dir",
            &dir,
            "--cache-dir",
            &cache_dir,
            "--verify",
        ],
        wall(),
    );
    audit.assert_contained();
    assert_eq!(audit.output.code, Some(1), "{:?}", audit.output);
    let row = audit
        .output
        .stdout
        .lines()
        .find(|l| l.starts_with("mysql-bin.000006"))
        .unwrap();
    assert!(
        row.contains("DID NOT MATCH") && row.contains("chain of events is broken"),
        "{row}"
    );
    assert!(
        audit.output.stdout.contains("mysql-bin.000010"),
        "went on: {}",
        audit.output.stdout
    );
    let warm = resolve(&binlogs, Some(cache.path()));
    assert_eq!(warm.output.code, cold.output.code);
    assert!(
        warm.output.stdout.contains("chain of events is broken"),
        "{:?}",
        warm.output
    );
}

/// An index that is a FIFO would hang startpoint in `open`; it is an error naming it.
#[test]
fn a_binlog_index_that_is_a_fifo_is_an_error_not_a_hang() {
    let (_dir, binlogs) = binlog_copy();
    let index = binlogs.join("mysql-bin.index");
    std::fs::remove_file(&index).unwrap();
    mkfifo(&index);
    let dir = binlogs.display().to_string();
    bounded(
        &[
            "resolve-position",
            "--binlog-dir",
            &dir,
            "--start-time",
            T,
            "--timezone",
            ZONE,
        ],
        wall(),
    )
    .assert_refused_with(&["mysql-bin.index", "a FIFO (named pipe), not a regular file"]);
    // A relay directory's index too.
    let relay = tempfile::tempdir().unwrap();
    mkfifo(&relay.path().join("server-uuid.index"));
    let dir = relay.path().display().to_string();
    bounded(
        &[
            "resolve-position",
            "--relay-dir",
            &dir,
            "--start-time",
            T,
            "--timezone",
            ZONE,
        ],
        wall(),
    )
    .assert_refused_with(&["server-uuid.index", "a FIFO (named pipe)"]);
}

/// A FIFO given by name to `list-units`, `start-task`, `operate-source create` or
/// `--secret-key-path` would block forever, and a device is no file either: reading
/// `/dev/urandom` or `/dev/zero` never ends. Each is an error naming the path and what it is.
#[test]
fn a_fifo_or_device_given_by_name_is_an_error_not_a_hang() {
    let scene = tempfile::tempdir().unwrap();
    let fifo = scene.path().join("named.pipe");
    mkfifo(&fifo);
    let fifo = fifo.display().to_string();
    let state = scene.path().join("state").display().to_string();
    let fifo_kind = "a FIFO (named pipe), not a regular file";
    let device = "a character device";
    // (the command, and whether it runs with the scene's state directory; the path named; what
    // it is)
    for (command, stateful, path, kind) in [
        (&["list-units"][..], false, fifo.as_str(), fifo_kind),
        (&["list-units"][..], false, "/dev/urandom", device),
        (&["start-task"][..], true, fifo.as_str(), fifo_kind),
        (
            &["operate-source", "create"][..],
            true,
            fifo.as_str(),
            fifo_kind,
        ),
        (&["operate-source", "create"][..], true, "/dev/zero", device),
        (&["--secret-key-path"][..], true, fifo.as_str(), fifo_kind),
    ] {
        let mut args: Vec<&str> = Vec::new();
        if stateful {
            args.extend(["--state-dir", state.as_str()]);
        }
        args.extend_from_slice(command);
        args.push(path);
        if command == ["--secret-key-path"] {
            args.extend(["query-status", "t"]);
        }
        bounded(&args, wall()).assert_refused_with(&[path, kind]);
    }
}

/// A TLS file that is a FIFO would block the connection in the driver's `open`: TLS files are
/// read (bounded, regular files only) before any connection, and handed to the driver inline.
#[test]
fn a_tls_file_that_is_a_fifo_is_an_error_before_any_connection() {
    let scene = tempfile::tempdir().unwrap();
    let fifo = scene.path().join("ca.pem");
    mkfifo(&fifo);
    let fifo = fifo.display().to_string();
    // Port 1 of 127.0.0.1: nothing is asked of it; the file is refused first.
    let run = bounded(
        &[
            "--ssl-ca",
            &fifo,
            "--rpc-timeout",
            "5s",
            "resolve-position",
            "--url",
            "mysql://root@127.0.0.1:1",
            "--start-time",
            T,
        ],
        wall(),
    );
    run.assert_refused_with(&[fifo.as_str(), "a FIFO (named pipe), not a regular file"]);
    assert!(
        !run.output.stderr.contains("nothing listens"),
        "{}",
        run.output.stderr
    );
}

/// `start-task` on 15 000 nested block sequences would overflow the stack in the YAML parser.
/// Nesting is counted as the parser's events arrive and refused past 64 levels, naming the line.
#[test]
fn a_task_file_of_fifteen_thousand_nested_sequences_is_refused_by_line() {
    let scene = support::Scene::new();
    let task = scene.file(
        "deep.yaml",
        &format!("name: t\nmeta-schema:\n{}1\n", "- ".repeat(15_000)),
    );
    let state = scene.state();
    bounded(&["--state-dir", &state, "start-task", &task], wall())
        .assert_refused_with(&["deep.yaml:3", "nested more than 64 levels"]);
    let flow = scene.file(
        "flow.yaml",
        &format!(
            "name: t\nx: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    );
    bounded(
        &["--state-dir", &state, "operate-source", "create", &flow],
        wall(),
    )
    .assert_refused_with(&["flow.yaml:2"]);
}

/// An alias bomb (each level ten aliases of the one before) is refused by the count of what it
/// would expand to, before it is expanded.
#[test]
fn a_yaml_alias_bomb_is_refused_not_expanded() {
    let scene = support::Scene::new();
    let mut text = "name: t\na: &a [x, x, x, x, x, x, x, x, x, x]\n".to_owned();
    let mut previous = 'a';
    for level in 'b'..='j' {
        text.push_str(&format!(
            "{level}: &{level} [{}]\n",
            vec![format!("*{previous}"); 10].join(", ")
        ));
        previous = level;
    }
    let task = scene.file("bomb.yaml", &text);
    bounded(
        &["--state-dir", &scene.state(), "start-task", &task],
        wall(),
    )
    .assert_refused_with(&["bomb.yaml:", "more than 500000 values"]);
    // One large scalar, aliased a thousand times: counted by its bytes.
    let big = scene.file(
        "big.yaml",
        &format!(
            "source-id: s\nenable-gtid: &a \"{}\"\nfrom: [{}]\n",
            "x".repeat(4 << 20),
            vec!["*a"; 1000].join(", ")
        ),
    );
    bounded(
        &[
            "--state-dir",
            &scene.state(),
            "operate-source",
            "create",
            &big,
        ],
        wall(),
    )
    .assert_refused_with(&["big.yaml:3", "more than 32 MiB of text"]);
}

/// Task, source and key files are read whole, so their size is capped: a file over 16 MiB (a
/// sparse 1 GiB one here) is refused by its size, naming the cap, without reading it.
#[test]
fn a_task_source_or_key_file_over_the_cap_is_refused_by_size() {
    let scene = support::Scene::new();
    let huge = scene.path("huge.yaml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let huge = huge.display().to_string();
    let state = scene.state();
    for args in [
        vec!["--state-dir", &state, "start-task", huge.as_str()],
        vec![
            "--state-dir",
            &state,
            "operate-source",
            "create",
            huge.as_str(),
        ],
    ] {
        bounded(&args, wall()).assert_refused_with(&[huge.as_str(), "more than 16 MiB"]);
    }
    bounded(
        &[
            "--state-dir",
            &state,
            "--secret-key-path",
            &huge,
            "query-status",
            "t",
        ],
        wall(),
    )
    .assert_refused_with(&[huge.as_str(), "more than 4096 bytes"]);
}

/// 100 000 YAML keys, with a linear search per key, would take over a minute. Keys are looked up
/// in a hash map: the run ends in seconds (the bound is the wall clock limit, far above it).
#[test]
fn a_hundred_thousand_yaml_keys_are_read_in_linear_time() {
    let scene = support::Scene::new();
    let mut text = "name: t\ntask-mode: incremental\n".to_owned();
    for i in 0..100_000 {
        text.push_str(&format!("key-{i}: {i}\n"));
    }
    let task = scene.file("keys.yaml", &text);
    let run = bounded(
        &["--state-dir", &scene.state(), "start-task", &task],
        wall(),
    );
    run.assert_refused_with(&["mysql-instances: required, but missing"]);
    eprintln!("100 000 keys: {:?}", run.elapsed);
}

/// An index listing 100 000 files, with a linear `contains` per file, would take half a minute.
/// Here an index lists 100 000 names, 50 000 of them present as stray files: the listing is
/// linear.
#[test]
fn an_index_of_a_hundred_thousand_files_is_listed_in_linear_time() {
    let (_dir, binlogs) = binlog_copy();
    let index = binlogs.join("mysql-bin.index");
    let mut listed = std::fs::read_to_string(&index).unwrap();
    for i in 0..100_000 {
        let name = format!("stray.{i:06}");
        if i % 2 == 0 {
            std::fs::write(binlogs.join(&name), b"").unwrap();
        }
        listed.push_str(&format!("./{name}\n"));
    }
    std::fs::write(&index, listed).unwrap();
    let run = resolve(&binlogs, None);
    assert_eq!(answer(&run), "mysql-bin.000007:19599");
    eprintln!("100 000 index entries: {:?}", run.elapsed);
}

/// A malformed URL (no host, as in `mysql:/root:S3cr3t@127.0.0.1:3308`) is refused without
/// echoing its password, and an unknown parameter (`?require_ssl=true`) is refused, naming
/// `--ssl-ca`, rather than dropped, which would connect in plain text. Neither reaches a server
/// here: both are refused before any connection.
#[test]
fn a_malformed_url_never_echoes_its_password_and_parameters_are_refused() {
    for url in [
        "mysql:/root:S3cr3t@127.0.0.1:3308",
        "mysql:root:S3cr3t@127.0.0.1:3308",
        "mysql//root:S3cr3t@127.0.0.1:3308",
        "root:S3cr3t@127.0.0.1:3308",
        "mysql://root:S3cr3t@127.0.0.1:3308?require_ssl=true",
        "mysql://root@127.0.0.1:3308?password=S3cr3t",
    ] {
        let run = bounded(
            &[
                "resolve-position",
                "--url",
                url,
                "--start-time",
                T,
                "--output",
                "json",
            ],
            wall(),
        );
        run.assert_refused_with(&["invalid server URL", "127.0.0.1"]);
        let said = format!("{}{}", run.output.stdout, run.output.stderr);
        assert!(!said.contains("S3cr3t"), "{url}: {said}");
        if url.contains("require_ssl") {
            assert!(
                said.contains("require_ssl") && said.contains("--ssl-ca"),
                "{said}"
            );
        }
    }
}

/// A hostile server (or anything between it and us). The login and the queries are a real
/// private MariaDB's; every dump is answered by the test proxy with crafted bytes: endless
/// 16 MiB continuations, a zlib bomb on a compressed connection, an ERR full of control
/// characters, garbage, and a packet that never ends. Each ends in a definite, clear error
/// naming the server, within the deadline, in bounded memory, and no control character of the
/// server's reaches the terminal or the JSON raw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_ends_in_a_clear_error_within_the_deadline_in_bounded_memory() {
    use startpoint::testkit::mariadb::MariaDb;
    use startpoint::testkit::proxy::{HostileDump, Proxy};
    let server = MariaDb::start().expect("start a private mariadbd");
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    let url = proxy.url("root");
    let address = format!("127.0.0.1:{}", proxy.port());
    for (answer, extra, words) in [
        (
            HostileDump::EndlessContinuations,
            None,
            &["continued packet"][..],
        ),
        (
            HostileDump::ZlibBomb,
            Some("--compress"),
            &["CRC32 mismatch"][..],
        ),
        (
            HostileDump::ErrWithControls,
            None,
            &[
                "server error 1105",
                "bad \\x1b[31mred\\x1b[0m \\x07bell \\rreturn \\0nul",
            ][..],
        ),
        (HostileDump::Garbage, None, &["starting with 0x41"][..]),
        (HostileDump::NeverEnds, None, &[][..]),
    ] {
        proxy.hostile_dumps(Some(answer));
        let mut args = vec![
            "resolve-position".to_owned(),
            "--url".to_owned(),
            url.clone(),
            "--start-time".to_owned(),
            "2030-01-01 00:00:00".to_owned(),
            "--timezone".to_owned(),
            "UTC".to_owned(),
            "--rpc-timeout".to_owned(),
            "8s".to_owned(),
            "--no-cache".to_owned(),
            "--output".to_owned(),
            "json".to_owned(),
        ];
        args.extend(extra.map(str::to_owned));
        let run = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bounded(&args, wall())
        })
        .await
        .unwrap();
        let mut all = vec![address.as_str()];
        all.extend_from_slice(words);
        run.assert_refused_with(&all);
        assert!(
            run.elapsed < Duration::from_secs(30),
            "{answer:?}: {:?}",
            run.elapsed
        );
        let said = format!("{}{}", run.output.stdout, run.output.stderr);
        assert!(
            !said.contains(['\x1b', '\x07', '\r', '\0', '\u{9b}']),
            "{answer:?}: a control character reached the output: {said:?}"
        );
        eprintln!(
            "{answer:?}: exit {:?} in {:?}, peak RSS {} KiB: {}",
            run.output.code,
            run.elapsed,
            run.peak_rss_kib,
            run.output.stderr.trim()
        );
    }
}
