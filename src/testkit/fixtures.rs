//! The MariaDB fixture corpus in `testdata/mariadb/`: how it is made and what it promises.
//!
//! [`generate`] starts a private server, runs [`run_fixture_workload`], copies the binlog files
//! and the server's own `mysql-bin.index` into `<out>/binlog/`, and writes `<out>/expected.json`:
//! every transaction unit (from `mariadb-binlog` output, grouped by SEMANTICS.md §3) with the
//! server's `BINLOG_GTID_POS` before it, and the answers (§5, both time bases) for a few hundred
//! start times chosen around every interesting point: file creation seconds, every scripted unit,
//! times going backwards, the first and last unit of each file, and both ends of the history.
//!
//! Only BINLOG_CHECKPOINT events carry the real clock, so regenerating changes a few bytes of the
//! binlog files but not `expected.json` (a test checks this).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::DateTime;
use mysql_async::prelude::*;
use serde::{Deserialize, Serialize};

use super::mariadb::{BINLOG_BASENAME, HarnessError, MariaDb, ServerConfig};
use super::oracle::{self, Basis, OracleError, OracleUnit};
use super::workload::{FIXTURE_BASE_TIME, FIXTURE_MAX_BINLOG_SIZE, run_fixture_workload};

/// The command that regenerates the corpus, recorded in `expected.json`.
pub const REGENERATE_COMMAND: &str = "cargo run --example gen-fixtures -- testdata/mariadb";

/// Simulated offset where the scripted part of the workload ends and the bulk begins.
const SCRIPTED_UNTIL: i64 = FIXTURE_BASE_TIME + 1300;

/// `expected.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureExpectations {
    pub regenerate: String,
    pub server_version: String,
    /// Binlog files in index order.
    pub files: Vec<FixtureFile>,
    pub units: Vec<ExpectedUnit>,
    pub cases: Vec<ExpectedCase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureFile {
    pub name: String,
    pub size: u64,
    /// Header seconds of the file's FORMAT_DESCRIPTION event.
    pub fde_ts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedUnit {
    #[serde(flatten)]
    pub unit: OracleUnit,
    /// `BINLOG_GTID_POS(file, pos)`, domains ascending.
    pub gtid_before: String,
}

/// One start time and the answer SEMANTICS.md §5 gives for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedCase {
    /// The start time as a user would write it (UTC, `Z`).
    pub input: String,
    /// The instant, as `resolve-position` prints it.
    pub start_time: String,
    pub time_basis: Basis,
    pub status: String,
    pub binlog_name: Option<String>,
    pub binlog_pos: Option<u64>,
    /// `BINLOG_GTID_POS` at the location, domains ascending.
    pub binlog_gtid: Option<String>,
    /// The exact error text for AboveUpperBound.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// Why the corpus could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error("talking to the fixture server: {0}")]
    Server(#[from] mysql_async::Error),
    #[error(transparent)]
    Oracle(#[from] OracleError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("the fixture corpus is inconsistent: {0}")]
    Inconsistent(String),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> FixtureError + '_ {
    move |source| FixtureError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Generates the corpus into `out` (replacing `out/binlog/` and `out/expected.json`).
pub async fn generate(out: &Path) -> Result<FixtureExpectations, FixtureError> {
    let server = MariaDb::start_with(&ServerConfig {
        max_binlog_size: FIXTURE_MAX_BINLOG_SIZE,
        ..ServerConfig::default()
    })?;
    run_fixture_workload(&server).await?;

    let mut conn = server.connect().await?;
    let server_version: String = conn
        .query_first("SELECT VERSION()")
        .await?
        .unwrap_or_default();
    let binlog_out = out.join("binlog");
    let logs = snapshot_binlogs(&server, &mut conn, &binlog_out).await?;

    let (files, units) = read_corpus(&binlog_out, &logs)?;
    let mut expected_units = Vec::with_capacity(units.len());
    for unit in units {
        let gtid_before = oracle::binlog_gtid_pos(&mut conn, &unit.file, unit.pos)
            .await?
            .ok_or_else(|| {
                FixtureError::Inconsistent(format!(
                    "the server says {}:{} is not an event start",
                    unit.file, unit.pos
                ))
            })?;
        expected_units.push(ExpectedUnit { unit, gtid_before });
    }
    let mut cases = expected_cases(&files, &expected_units);
    for case in &mut cases {
        if let (Some(name), Some(pos)) = (&case.binlog_name, case.binlog_pos) {
            case.binlog_gtid = oracle::binlog_gtid_pos(&mut conn, name, pos).await?;
        }
    }
    conn.disconnect().await?;
    drop(server);

    let expectations = FixtureExpectations {
        regenerate: REGENERATE_COMMAND.to_owned(),
        server_version,
        files,
        units: expected_units,
        cases,
    };
    let json_path = out.join("expected.json");
    let mut json = serde_json::to_string_pretty(&expectations)
        .map_err(|e| FixtureError::Inconsistent(e.to_string()))?;
    json.push('\n');
    fs::write(&json_path, json).map_err(io_at(&json_path))?;
    Ok(expectations)
}

/// Copies a server's binlog files (as `SHOW BINARY LOGS` lists them, once they stop growing)
/// and its index into `dir`, replacing what was there; returns the files and sizes.
pub async fn snapshot_binlogs(
    server: &MariaDb,
    conn: &mut mysql_async::Conn,
    dir: &Path,
) -> Result<Vec<(String, u64)>, FixtureError> {
    let logs = settled_binary_logs(conn).await?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_at(dir))?;
    }
    fs::create_dir_all(dir).map_err(io_at(dir))?;
    for (name, size) in &logs {
        copy_prefix(&server.binlog_path(name), &dir.join(name), *size)?;
    }
    let index_name = format!("{BINLOG_BASENAME}.index");
    let index_src = server.datadir().join(&index_name);
    fs::copy(&index_src, dir.join(&index_name)).map_err(io_at(&index_src))?;
    Ok(logs)
}

/// A server started with `config` and the fixture history, and a copy of its binlogs (in the
/// returned temporary directory) as a [`BinlogDir`](crate::source::local::BinlogDir).
pub async fn server_with_history(
    config: &ServerConfig,
) -> Result<(MariaDb, tempfile::TempDir, crate::source::local::BinlogDir), FixtureError> {
    let server = MariaDb::start_with(config)?;
    run_fixture_workload(&server).await?;
    let copy = tempfile::tempdir().map_err(io_at(Path::new("temporary directory")))?;
    let mut conn = server.connect().await?;
    snapshot_binlogs(&server, &mut conn, copy.path()).await?;
    conn.disconnect().await?;
    let local = crate::source::local::BinlogDir::open(copy.path())
        .map_err(|e| FixtureError::Inconsistent(e.to_string()))?;
    Ok((server, copy, local))
}

/// Reads `expected.json` from a corpus directory.
pub fn load(dir: &Path) -> Result<FixtureExpectations, FixtureError> {
    let path = dir.join("expected.json");
    let text = fs::read_to_string(&path).map_err(io_at(&path))?;
    serde_json::from_str(&text)
        .map_err(|e| FixtureError::Inconsistent(format!("{}: {e}", path.display())))
}

/// Reads the corpus files through the oracle: per-file facts and all units in order.
pub fn read_corpus(
    binlog_dir: &Path,
    logs: &[(String, u64)],
) -> Result<(Vec<FixtureFile>, Vec<OracleUnit>), FixtureError> {
    let mut files = Vec::new();
    let mut units = Vec::new();
    for (i, (name, size)) in logs.iter().enumerate() {
        let events = oracle::read_events(&binlog_dir.join(name))?;
        let fde_ts = match events.first() {
            Some(event) if event.kind == oracle::EventKind::FormatDescription => event.timestamp,
            _ => {
                return Err(FixtureError::Inconsistent(format!(
                    "{name} does not start with a FORMAT_DESCRIPTION event"
                )));
            }
        };
        units.extend(oracle::group_units(name, &events, i + 1 == logs.len())?);
        files.push(FixtureFile {
            name: name.clone(),
            size: *size,
            fde_ts,
        });
    }
    Ok((files, units))
}

/// `SHOW BINARY LOGS` once two readings 200 ms apart agree: the background thread that writes
/// BINLOG_CHECKPOINT events after a rotation has then caught up.
async fn settled_binary_logs(
    conn: &mut mysql_async::Conn,
) -> Result<Vec<(String, u64)>, FixtureError> {
    let mut previous: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await?;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await?;
        if now == previous {
            return Ok(now);
        }
        previous = now;
    }
    Err(FixtureError::Inconsistent(
        "the binlog kept growing after the workload ended".to_owned(),
    ))
}

fn copy_prefix(from: &Path, to: &Path, len: u64) -> Result<(), FixtureError> {
    let mut bytes = fs::read(from).map_err(io_at(from))?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if bytes.len() < len {
        return Err(FixtureError::Inconsistent(format!(
            "{} is shorter than SHOW BINARY LOGS says",
            from.display()
        )));
    }
    bytes.truncate(len);
    fs::write(to, bytes).map_err(io_at(to))
}

/// The start times worth pinning, in µs, and their answers under both bases.
pub fn expected_cases(files: &[FixtureFile], units: &[ExpectedUnit]) -> Vec<ExpectedCase> {
    const S: i64 = 1_000_000;
    let mut probes: BTreeSet<i64> = BTreeSet::new();
    let mut around = |seconds: i64| {
        probes.extend([seconds - 1, seconds, seconds + 1].map(|s| s * S));
    };
    for file in files {
        around(file.fde_ts);
    }
    let mut previous_commit = i64::MIN;
    for (i, expected) in units.iter().enumerate() {
        let unit = &expected.unit;
        let scripted = unit.commit_ts < SCRIPTED_UNTIL;
        let backwards = unit.commit_ts < previous_commit;
        let file_edge = units
            .get(i.wrapping_sub(1))
            .is_none_or(|p| p.unit.file != unit.file)
            || units.get(i + 1).is_none_or(|n| n.unit.file != unit.file);
        if scripted || backwards || file_edge || i % 20 == 0 {
            around(unit.commit_ts);
            around(unit.begin_ts);
        }
        previous_commit = previous_commit.max(unit.commit_ts);
    }
    // Fractional times: half a second before, and just after, the first scripted units.
    for expected in units.iter().take(6) {
        let t = expected.unit.commit_ts * S;
        probes.extend([t - S / 2, t + 1]);
    }
    // The lower bound is FDE second + 1 s of the first file, to the microsecond.
    if let Some(first) = files.first() {
        probes.extend([first.fde_ts * S + S / 2, (first.fde_ts + 1) * S - 1]);
    }
    if let Some(last) = units.last() {
        probes.insert((last.unit.commit_ts + 86_400) * S);
    }

    let (Some(first), Some(_)) = (files.first(), units.first()) else {
        return Vec::new();
    };
    let plain_units: Vec<OracleUnit> = units.iter().map(|u| u.unit.clone()).collect();
    let mut cases = Vec::new();
    for basis in [Basis::Commit, Basis::Begin] {
        for &start_us in &probes {
            let answer = oracle::answer(&first.name, first.fde_ts, &plain_units, basis, start_us);
            let input = format_input(start_us);
            let error = (answer.status == "AboveUpperBound")
                .then(|| format!("start-time {input} is too late, no binlog location matches it"));
            cases.push(ExpectedCase {
                start_time: format_instant(start_us),
                input,
                time_basis: basis,
                status: answer.status,
                binlog_name: answer.binlog_name,
                binlog_pos: answer.binlog_pos,
                binlog_gtid: None,
                error,
            });
        }
    }
    cases
}

/// `2030-03-31T00:59:59Z`, with a fraction only when there is one.
fn format_input(us: i64) -> String {
    let Some(t) = DateTime::from_timestamp_micros(us) else {
        return us.to_string();
    };
    if us % 1_000_000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// `2030-03-31T00:59:59.000000Z`, the form every output uses (SEMANTICS.md §1).
fn format_instant(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| us.to_string())
}
