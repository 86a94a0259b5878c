//! Resolution against a live MySQL/MariaDB server over the replication protocol: the same
//! answers as local files (SEMANTICS.md), from the network, with few bytes and round trips.
//!
//! On the wire, per attempt:
//! 1. one control connection: `SELECT VERSION()`, `@@global.binlog_checksum`, the server's own
//!    reading of a bare start time (`UNIX_TIMESTAMP('…')` in a session with the server's default
//!    zone, DST-correct, checked by converting back), and `SHOW BINARY LOGS` once;
//! 2. file probes: binlog dumps from `(file, 4)` that read the artificial ROTATE, the
//!    FORMAT_DESCRIPTION and PREVIOUS_GTIDS / GTID_LIST, then close; up to three at once (the
//!    search asks for them in rounds);
//! 3. one dump per file to read, from its start, non-blocking, read through the file reader's
//!    decoders ([`EventStreamSource`]) and closed at the answer or at the file's end; or, where
//!    the file's clock allows it and no GTID set is asked for, a bisection on the server
//!    (`bisect`) and a dump from the last transaction before T;
//! 4. with a summary cache, for each file that has a summary, two short dumps that prove it is
//!    the same file (its first events from position 4, and its closing event at the offset the
//!    summary recorded) before it is skipped.
//!
//! Each connection registers as a replica with a server_id drawn from a reserved high range (a
//! new one on "duplicate server id") and closes, which unregisters it. MariaDB gets
//! `SET @mariadb_slave_capability=4` first, or it would replace GTID events by `BEGIN`; it also
//! leaves ANNOTATE_ROWS out of dumps, so positions come from `log_pos`, never from sums of sizes.
//! mysql_async expands MySQL 8 TRANSACTION_PAYLOAD events into the events inside; those are
//! skipped (the payload event itself ends the transaction unit).
//!
//! Failures: definite ones stop at once ([`RemoteError`]); transient ones restart the attempt
//! with backoff until the deadline (`--rpc-timeout`), which also bounds every network wait; a
//! file purged between listing and dumping (error 1236) restarts once from a fresh listing.
//!
//! The search itself is `resolve::resolve`, run on a blocking thread whose network calls block
//! on the runtime.

mod bisect;
pub(crate) mod error;
pub(crate) mod relay;
pub mod settings;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::prelude::*;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn};
use mysql_common::binlog::events::Event;
use mysql_common::proto::MySerialize;
use tokio::runtime::Handle;
use tokio::time::Instant;

use crate::binlog::{
    BinlogError, ChecksumAlg, EventRef, EventSource, EventStreamSource, EventType, Flavor,
    FormatDescription,
};
use crate::gtid::ExecutedGtids;
use crate::resolve::cache::{SummaryCache, stale_note};
use crate::resolve::scan::{FileAnswer, FileScan, Tally};
use crate::resolve::summary::{FileIdentity, FileSummary, digest};
use crate::resolve::{
    self, Assumption, BinlogSequence, FileProbe, GtidMode, ReadProgress, Request, Resolution,
    ResolveError, SearchStats, SequenceFile, Walk,
};
use crate::start_time::{ResolvedTime, StartTime, TimeError, Zone};
use crate::unit::{FirstCommit, TimeBasis, UnitReader, declared_gtids, first_commit};

pub use error::RemoteError;
use relay::Relay;
pub use settings::{ConnSettings, Secret, TlsFiles};

/// What a resolution against a server needs besides the connection.
#[derive(Debug, Clone)]
pub struct RemoteRequest {
    pub start: StartTime,
    /// Reads a bare start time in this zone instead of asking the server.
    pub zone: Option<Zone>,
    pub basis: TimeBasis,
    pub gtid: GtidMode,
    /// When to give up, all retries included.
    pub deadline: Instant,
    /// Where to count what is received, for a progress bar.
    pub progress: Option<Arc<ReadProgress>>,
    /// File summaries to read and fill (SEMANTICS.md §6.2); `None`: none.
    pub cache: Option<Arc<SummaryCache>>,
    /// An assumption to skip files on, when the user turned one on.
    pub assume: Option<Assumption>,
}

/// The answer, and the instant the start time meant.
#[derive(Debug, Clone)]
pub struct RemoteAnswer {
    pub start: ResolvedTime,
    pub resolution: Resolution,
    /// `VERSION()` of the server.
    pub server_version: String,
}

/// What the control connection learned.
#[derive(Debug, Clone)]
struct ServerFacts {
    version: String,
    flavor: Flavor,
    checksum: ChecksumAlg,
    /// Which server this is, for file summaries: `mysql:<server_uuid>`, or on MariaDB (which has
    /// no server_uuid) `mariadb:server_id=<id>` (each file's GTID_LIST is in its identity).
    source: String,
}

/// First wait between attempts after a transient failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How many file probes run at once.
const PROBE_WIDTH: usize = 3;
/// A probe stops after this many events even without PREVIOUS_GTIDS / GTID_LIST.
const PROBE_EVENTS: usize = 16;
/// What a probe's dump may read ahead of its reader (its first events are a few hundred bytes;
/// a larger PREVIOUS_GTIDS is let through when the reader starves).
const PROBE_BYTES: u64 = 1024;
/// What a walk's dump may read ahead to begin with; it grows with what is read.
const WALK_BYTES: u64 = 16 * 1024;

/// Resolves `request` against the server `settings` reach, retrying transient failures until
/// the deadline.
pub async fn resolve_remote(
    settings: &ConnSettings,
    request: &RemoteRequest,
) -> Result<RemoteAnswer, RemoteError> {
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut relisted = false;
    loop {
        let error = match attempt(settings, request).await {
            Ok(answer) => return Ok(answer),
            Err(error) => error.with_elapsed(started.elapsed()),
        };
        if error.is_binlog_unavailable() && !relisted && !error.is_duplicate_server_id() {
            // Purged between listing and dumping: once more from a fresh SHOW BINARY LOGS.
            relisted = true;
            continue;
        }
        if !(error.is_transient() || error.is_duplicate_server_id()) {
            return Err(error);
        }
        if Instant::now() + backoff >= request.deadline {
            return Err(match error {
                deadline @ RemoteError::Deadline { .. } => deadline,
                other => RemoteError::Deadline {
                    server: settings.address(),
                    what: "resolving the start time".to_owned(),
                    elapsed: started.elapsed(),
                    last: other.to_string(),
                },
            });
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Resolves several sources at once (at most `concurrency` at a time), each with its own
/// deadline and error; one failure does not stop the others. Answers come back in input order.
pub async fn resolve_many(
    jobs: Vec<(ConnSettings, RemoteRequest)>,
    concurrency: usize,
) -> Vec<Result<RemoteAnswer, RemoteError>> {
    futures_util::stream::iter(jobs)
        .map(|(settings, request)| async move { resolve_remote(&settings, &request).await })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

/// A plain query connection to the server (no relay): for prechecks and the current position.
pub async fn query_connection(
    settings: &ConnSettings,
    deadline: Instant,
) -> Result<Conn, RemoteError> {
    within(
        settings,
        deadline,
        "connecting",
        Conn::new(settings.opts_direct()),
    )
    .await
}

/// Runs `future` on a query connection under the deadline, naming what it does in errors.
pub async fn query<T>(
    settings: &ConnSettings,
    deadline: Instant,
    what: &str,
    future: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, RemoteError> {
    within(settings, deadline, what, future).await
}

/// The instant a start time means to the server (a bare one read in the server's own zone at
/// that instant; one with an offset as it is), on a connection of its own.
pub async fn read_start_time(
    settings: &ConnSettings,
    start: &StartTime,
    deadline: Instant,
) -> Result<ResolvedTime, RemoteError> {
    if start.offset.is_some() {
        return start.resolve(&Zone::Local).map_err(|e| RemoteError::Other {
            server: settings.address(),
            message: e.to_string(),
        });
    }
    let mut conn = query_connection(settings, deadline).await?;
    let answer = server_time(settings, &mut conn, start, deadline).await;
    let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
    answer
}

/// Where the server is writing now: the newest binlog file, its size, and the GTIDs executed
/// (`@@gtid_executed` on MySQL, `@@gtid_binlog_pos` on MariaDB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPosition {
    pub file: String,
    pub pos: u64,
    pub gtid: String,
}

/// The server's current binlog position (`SHOW MASTER STATUS`, `SHOW BINARY LOG STATUS` on
/// MySQL 8.4 and later).
pub async fn current_position(
    settings: &ConnSettings,
    deadline: Instant,
) -> Result<ServerPosition, RemoteError> {
    let mut conn = query_connection(settings, deadline).await?;
    let answer = async {
        let version: Option<String> = within(
            settings,
            deadline,
            "reading VERSION()",
            conn.query_first("SELECT VERSION()"),
        )
        .await?;
        let version = version.unwrap_or_default();
        let mariadb = version.to_ascii_lowercase().contains("mariadb");
        let status = if !mariadb && mysql_at_least(&version, 8, 4) {
            "SHOW BINARY LOG STATUS"
        } else {
            "SHOW MASTER STATUS"
        };
        let row: Option<mysql_async::Row> =
            within(settings, deadline, status, conn.query_first(status)).await?;
        let Some(row) = row else {
            return Err(RemoteError::BinlogOff {
                server: settings.address(),
            });
        };
        let file: String = row.get(0).unwrap_or_default();
        let pos: u64 = row.get(1).unwrap_or_default();
        let gtid_query = if mariadb {
            "SELECT @@global.gtid_binlog_pos"
        } else {
            "SELECT @@global.gtid_executed"
        };
        let gtid: Option<Option<String>> = within(
            settings,
            deadline,
            "reading the executed GTIDs",
            conn.query_first(gtid_query),
        )
        .await?;
        let gtid = gtid.flatten().unwrap_or_default();
        // MySQL prints gtid_executed over several lines; the set is the same without them.
        let gtid: String = gtid.chars().filter(|c| !c.is_whitespace()).collect();
        Ok(ServerPosition { file, pos, gtid })
    }
    .await;
    let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
    answer
}

/// `8.4.0` ≥ `major.minor`?
fn mysql_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

/// Runs `future` under the deadline, naming what was being done when it passes.
async fn within<T>(
    settings: &ConnSettings,
    deadline: Instant,
    what: &str,
    future: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, RemoteError> {
    match tokio::time::timeout_at(deadline, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(error::classify(err, settings, what)),
        Err(_) => Err(RemoteError::Deadline {
            server: settings.address(),
            what: what.to_owned(),
            elapsed: Duration::ZERO,
            last: "no answer before the deadline".to_owned(),
        }),
    }
}

/// How a connection is used, which decides its buffers and compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Queries only.
    Control,
    /// A dump read for its first events: compression would only make the server send a
    /// whole compressed frame where a few hundred bytes do.
    Probe,
    /// A dump read up to the answer: compressed when asked.
    Walk,
}

/// A connection through its own relay (kept alive as long as the connection is used).
async fn connect(
    settings: &ConnSettings,
    role: Role,
    deadline: Instant,
) -> Result<(Conn, Relay), RemoteError> {
    let receive_buffer = match role {
        Role::Control => None,
        Role::Probe => Some(2048),
        Role::Walk => Some(WALK_BYTES as u32),
    };
    let relay = Relay::start(settings.address(), receive_buffer)
        .await
        .map_err(|e| RemoteError::Connection {
            server: settings.address(),
            what: "opening a local relay".to_owned(),
            message: e.to_string(),
        })?;
    let conn = within(
        settings,
        deadline,
        "connecting",
        Conn::new(settings.opts_via(relay.port(), role == Role::Walk)),
    )
    .await?;
    Ok((conn, relay))
}

async fn attempt(
    settings: &ConnSettings,
    request: &RemoteRequest,
) -> Result<RemoteAnswer, RemoteError> {
    let deadline = request.deadline;
    let (mut conn, control_relay) = connect(settings, Role::Control, deadline).await?;
    let facts = server_facts(settings, &mut conn, deadline).await?;
    let start = match (&request.start.offset, &request.zone) {
        (None, None) => server_time(settings, &mut conn, &request.start, deadline).await?,
        (_, zone) => request
            .start
            .resolve(zone.as_ref().unwrap_or(&Zone::Local))
            .map_err(|e| RemoteError::Other {
                server: settings.address(),
                message: e.to_string(),
            })?,
    };
    let resolve_request = Request {
        start_us: start.instant_us,
        basis: request.basis,
        gtid: request.gtid,
    };
    let version = facts.version.clone();
    let listing = Listing::read(settings, conn, control_relay, deadline).await?;
    let resolution = over_sequence(
        settings,
        facts,
        listing,
        deadline,
        request.progress.clone(),
        request.cache.clone(),
        request.assume,
        move |sequence| resolve::resolve(sequence, &resolve_request),
    )
    .await?;
    Ok(RemoteAnswer {
        start,
        resolution,
        server_version: version,
    })
}

/// `SHOW BINARY LOGS`, read once on the control connection (which it closes).
struct Listing {
    files: Vec<SequenceFile>,
    sizes: Vec<Option<u64>>,
    /// What the control connection received.
    control_bytes: u64,
}

impl Listing {
    async fn read(
        settings: &ConnSettings,
        mut conn: Conn,
        control_relay: Relay,
        deadline: Instant,
    ) -> Result<Listing, RemoteError> {
        let rows: Vec<mysql_async::Row> = within(
            settings,
            deadline,
            "listing binary logs (SHOW BINARY LOGS)",
            conn.query("SHOW BINARY LOGS"),
        )
        .await?;
        let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
        let control_bytes = control_relay.received();
        drop(control_relay);
        let (files, sizes): (Vec<SequenceFile>, Vec<Option<u64>>) = rows
            .iter()
            .filter_map(|row| Some((row.get::<String, _>(0)?, row.get_opt::<u64, _>(1))))
            .map(|(name, size)| {
                let file = SequenceFile {
                    name,
                    relay_subdir: None,
                };
                (file, size.and_then(Result::ok))
            })
            .unzip();
        if files.is_empty() {
            return Err(RemoteError::BinlogOff {
                server: settings.address(),
            });
        }
        Ok(Listing {
            files,
            sizes,
            control_bytes,
        })
    }
}

/// Runs `work` over the server's binary logs on a blocking thread (whose network calls block on
/// the runtime); the precise network error behind a failure wins over the resolver's words.
#[allow(clippy::too_many_arguments)]
async fn over_sequence<T: Send + 'static>(
    settings: &ConnSettings,
    facts: ServerFacts,
    listing: Listing,
    deadline: Instant,
    progress: Option<Arc<ReadProgress>>,
    cache: Option<Arc<SummaryCache>>,
    assume: Option<Assumption>,
    work: impl FnOnce(&mut RemoteSequence) -> Result<T, ResolveError> + Send + 'static,
) -> Result<T, RemoteError> {
    let failure = Arc::new(Mutex::new(None));
    let mut sequence = RemoteSequence {
        settings: settings.clone(),
        facts,
        files: listing.files,
        sizes: listing.sizes,
        handle: Handle::current(),
        deadline,
        stats: SearchStats {
            // Connecting, three queries and the listing on the control connection.
            round_trips: 7,
            bytes_read: listing.control_bytes,
            ..SearchStats::default()
        },
        failure: failure.clone(),
        progress,
        cache: cache.unwrap_or_else(|| Arc::new(SummaryCache::disabled())),
        identities: Vec::new(),
        notes: Vec::new(),
        assume,
        open_walk: None,
    };
    let outcome = tokio::task::spawn_blocking(move || work(&mut sequence)).await;
    let taken = failure.lock().ok().and_then(|mut f| f.take());
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(taken.unwrap_or_else(|| match err {
            ResolveError::Binlog(source) => RemoteError::Binlog {
                server: settings.address(),
                what: "reading the binlog stream".to_owned(),
                source,
            },
            other => RemoteError::Other {
                server: settings.address(),
                message: other.to_string(),
            },
        })),
        Err(join) => Err(taken.unwrap_or_else(|| RemoteError::Other {
            server: settings.address(),
            message: format!("the replication stream could not be read: {join}"),
        })),
    }
}

/// The coverage table of a live server's binary logs (`startpoint index --url`): every file
/// without a proven summary streamed in full, one at a time, and its summary kept.
pub async fn index_remote(
    settings: &ConnSettings,
    deadline: Instant,
    progress: Arc<ReadProgress>,
    cache: Arc<SummaryCache>,
) -> Result<(Vec<resolve::index::FileCoverage>, Vec<String>, String), RemoteError> {
    let (mut conn, control_relay) = connect(settings, Role::Control, deadline).await?;
    let facts = server_facts(settings, &mut conn, deadline).await?;
    let version = facts.version.clone();
    let listing = Listing::read(settings, conn, control_relay, deadline).await?;
    let (rows, notes) = over_sequence(
        settings,
        facts,
        listing,
        deadline,
        Some(progress),
        Some(cache),
        None,
        |sequence| {
            sequence.plan(0);
            let all: Vec<usize> = (0..sequence.files.len()).collect();
            let rows = resolve::index::cover(sequence, &all)?;
            let mut rows: Vec<_> = rows.into_iter().map(|(_, row)| row).collect();
            resolve::index::mark_gtid_gaps(&mut rows);
            Ok((rows, sequence.take_notes()))
        },
    )
    .await?;
    Ok((rows, notes, version))
}

async fn server_facts(
    settings: &ConnSettings,
    conn: &mut Conn,
    deadline: Instant,
) -> Result<ServerFacts, RemoteError> {
    let row: Option<(String, Option<String>, Option<u64>)> = within(
        settings,
        deadline,
        "reading the server version, binlog_checksum and server_id",
        conn.query_first("SELECT VERSION(), @@global.binlog_checksum, @@global.server_id"),
    )
    .await?;
    let (version, checksum, server_id) = row.unwrap_or_default();
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        Flavor::MariaDb
    } else {
        Flavor::MySql
    };
    let uuid = match flavor {
        Flavor::MySql => conn
            .query_first::<Option<String>, _>("SELECT @@global.server_uuid")
            .await
            .ok()
            .flatten()
            .flatten(),
        Flavor::MariaDb => None,
    };
    let source = match uuid {
        Some(uuid) => format!("mysql:{uuid}"),
        None => format!(
            "{}:server_id={}",
            if flavor == Flavor::MariaDb {
                "mariadb"
            } else {
                "mysql"
            },
            server_id.unwrap_or(0)
        ),
    };
    Ok(ServerFacts {
        flavor,
        checksum: match checksum.as_deref() {
            Some(alg) if alg.eq_ignore_ascii_case("CRC32") => ChecksumAlg::Crc32,
            _ => ChecksumAlg::Off,
        },
        version,
        source,
    })
}

/// The instant a bare start time means in the server's default time zone, as the server itself
/// computes it. A local time the zone skips is an error; one it has twice is the earlier.
async fn server_time(
    settings: &ConnSettings,
    conn: &mut Conn,
    start: &StartTime,
    deadline: Instant,
) -> Result<ResolvedTime, RemoteError> {
    // The text is digits and separators only (StartTime's grammar), safe to inline.
    let local = start.local.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let query = format!(
        "SELECT CAST(UNIX_TIMESTAMP('{local}') AS CHAR), @@session.time_zone, @@global.system_time_zone"
    );
    let row: Option<(Option<String>, String, String)> = within(
        settings,
        deadline,
        "asking the server to read the start time",
        conn.query_first(query),
    )
    .await?;
    let (seconds, zone, system) = row.unwrap_or_default();
    let zone = if zone.eq_ignore_ascii_case("SYSTEM") {
        format!("the server's time zone (SYSTEM = {system})")
    } else {
        format!("the server's time zone ({zone})")
    };
    let out_of_range = || RemoteError::Other {
        server: settings.address(),
        message: format!(
            "start-time {:?} is outside what the server can represent as a timestamp in {zone}",
            start.input
        ),
    };
    let us = seconds
        .as_deref()
        .and_then(parse_decimal_us)
        .filter(|&us| us > 0)
        .ok_or_else(out_of_range)?;
    // Converting back tells a skipped local time (DST gap) and a repeated one (DST fold).
    let back = |us: i64| {
        format!(
            "SELECT CAST(FROM_UNIXTIME({}.{:06}) AS CHAR)",
            us / 1_000_000,
            us % 1_000_000
        )
    };
    let same: Option<Option<String>> = within(
        settings,
        deadline,
        "checking the start time",
        conn.query_first(back(us)),
    )
    .await?;
    if same.flatten().as_deref() != Some(local.as_str()) {
        return Err(RemoteError::Other {
            server: settings.address(),
            message: TimeError::NonExistent {
                input: start.input.clone(),
                zone,
            }
            .to_string(),
        });
    }
    let hour_earlier: Option<Option<String>> = within(
        settings,
        deadline,
        "checking the start time",
        conn.query_first(back(us - 3_600_000_000)),
    )
    .await?;
    let (instant_us, note) = if hour_earlier.flatten().as_deref() == Some(local.as_str()) {
        (
            us - 3_600_000_000,
            Some(format!(
                "{} happens twice in {zone} (daylight saving ends); the earlier one was used; \
                 write an offset to choose",
                start.input.trim()
            )),
        )
    } else {
        (us, None)
    };
    Ok(ResolvedTime {
        instant_us,
        zone,
        note,
    })
}

/// `1901149200.500000` → µs.
fn parse_decimal_us(text: &str) -> Option<i64> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let whole: i64 = whole.parse().ok()?;
    let mut digits: String = fraction.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    Some(whole * 1_000_000 + digits.parse::<i64>().ok()?)
}

/// The bytes of an event as the server sent them (mysql_common splits off the checksum and the
/// FDE's checksum-algorithm byte; they are put back so the reader can verify them).
fn raw_event(event: &Event) -> Vec<u8> {
    let header = event.header();
    let mut raw = Vec::with_capacity(header.event_size() as usize);
    header.serialize(&mut raw);
    raw.extend_from_slice(event.data());
    if header.event_type_raw() == EventType::FormatDescription as u8 {
        match event.footer().get_checksum_alg() {
            Ok(Some(alg)) => raw.push(alg as u8),
            Err(mysql_common::binlog::consts::UnknownChecksumAlg(raw_alg)) => raw.push(raw_alg),
            Ok(None) => {}
        }
    }
    if let Some(checksum) = event.checksum() {
        raw.extend_from_slice(&checksum);
    }
    raw
}

/// Requests a non-blocking dump of `file` from `pos` (an event start) on a new connection.
async fn dump(
    settings: &ConnSettings,
    facts: &ServerFacts,
    file: &str,
    pos: u64,
    role: Role,
    deadline: Instant,
) -> Result<(BinlogStream, Relay), RemoteError> {
    let (mut conn, relay) = connect(settings, role, deadline).await?;
    if facts.flavor == Flavor::MariaDb {
        within(
            settings,
            deadline,
            "announcing MariaDB replica capabilities",
            conn.query_drop("SET @mariadb_slave_capability=4"),
        )
        .await?;
    }
    let request = BinlogStreamRequest::new(settings.probe_server_id())
        .with_filename(file.as_bytes())
        .with_pos(pos)
        .with_non_blocking();
    relay.start_dump(if role == Role::Probe {
        PROBE_BYTES
    } else {
        WALK_BYTES
    });
    let stream = within(
        settings,
        deadline,
        &format!("requesting a binlog dump of {file} from {pos}"),
        conn.get_binlog_stream(request),
    )
    .await?;
    Ok((stream, relay))
}

/// Dumps `file` from `pos` (an event start) and reads its first events, at most `limit`, until
/// `enough` holds for the last one read, then closes the dump. Returns the events as the server
/// sent them and the bytes received.
async fn dump_head(
    settings: &ConnSettings,
    facts: &ServerFacts,
    file: &str,
    pos: u64,
    deadline: Instant,
    limit: usize,
    mut enough: impl FnMut(&[u8]) -> bool,
) -> Result<(Vec<Vec<u8>>, u64), RemoteError> {
    let (mut stream, relay) = dump(settings, facts, file, pos, Role::Probe, deadline).await?;
    let what = format!("reading {file} from {pos}");
    let mut events = Vec::new();
    let mut consumed = 0u64;
    let pulled = loop {
        if events.len() >= limit {
            break Ok(());
        }
        relay.waiting(true);
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        relay.waiting(false);
        let event = match next {
            Err(_) => {
                break Err(RemoteError::Deadline {
                    server: settings.address(),
                    what,
                    elapsed: Duration::ZERO,
                    last: "no answer before the deadline".to_owned(),
                });
            }
            Ok(None) => break Ok(()),
            Ok(Some(Err(err))) => break Err(error::classify(err, settings, &what)),
            Ok(Some(Ok(event))) => event,
        };
        let raw = raw_event(&event);
        consumed += raw.len() as u64 + 5;
        relay.consumed(consumed);
        let done = enough(&raw);
        events.push(raw);
        if done {
            break Ok(());
        }
    };
    close(stream).await;
    pulled.map(|()| (events, relay.received()))
}

async fn close(stream: BinlogStream) {
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.close()).await;
}

/// Reads the first events of `file`: its creation second and declared GTIDs, and with `deep`
/// its first transaction's commit time.
async fn probe_file(
    settings: &ConnSettings,
    facts: &ServerFacts,
    file: &str,
    deep: bool,
    deadline: Instant,
) -> Result<(FileProbe, u64, u64), RemoteError> {
    let mut seen_format = false;
    let mut decided = false;
    let (events, bytes) = dump_head(settings, facts, file, 4, deadline, PROBE_EVENTS, |raw| {
        let code = raw[4];
        if code == EventType::FormatDescription as u8 {
            seen_format = true;
            return false;
        }
        let Ok(event_type) = EventType::try_from(code) else {
            return false;
        };
        let starts_unit = event_type.role() != crate::binlog::UnitRole::Outside;
        let ends_file =
            crate::binlog::EventHeader::parse_prefix(raw).is_some_and(|h| h.closes_file());
        let declares = matches!(
            event_type,
            EventType::PreviousGtids | EventType::MariaGtidList
        );
        decided = seen_format && (starts_unit || ends_file || (declares && !deep));
        decided
    })
    .await?;
    let count = events.len() as u64;
    let cut_short = !decided && events.len() >= PROBE_EVENTS;
    let mut source = EventStreamSource::new(
        settings.address(),
        file,
        facts.checksum,
        events.into_iter().map(Ok),
    );
    let decode = |source: &mut EventStreamSource<_>| -> Result<FileProbe, BinlogError> {
        while source.format().is_none() && source.advance()? {}
        let created = source.format().map(|f| f.created);
        let declared = declared_gtids(source)?;
        let first = if deep && !cut_short {
            first_commit(source, PROBE_EVENTS)?
        } else {
            FirstCommit::NoClock
        };
        Ok(FileProbe {
            created,
            declared,
            first,
        })
    };
    let probe = decode(&mut source).map_err(|source| RemoteError::Binlog {
        server: settings.address(),
        what: format!("reading the start of {file}"),
        source,
    })?;
    Ok((probe, bytes, count))
}

/// The identity of `file` on the server now (SEMANTICS.md §6.2): its first events as a dump from
/// position 4 sends them, and the event at `tail_offset` (which must end the file), with what it
/// cost; `None` when the file does not have such an event there (it changed).
async fn identity_now(
    settings: &ConnSettings,
    facts: &ServerFacts,
    file: &str,
    size: u64,
    tail_offset: u64,
    deadline: Instant,
) -> Result<Option<(FileIdentity, SearchStats)>, RemoteError> {
    let mut capture = Capture::default();
    let (head_events, head_bytes) =
        dump_head(settings, facts, file, 4, deadline, PROBE_EVENTS, |raw| {
            let Some(header) = crate::binlog::EventHeader::parse_prefix(raw) else {
                return true;
            };
            let kind = header.event_type().ok();
            header.closes_file()
                || matches!(
                    kind,
                    Some(EventType::PreviousGtids | EventType::MariaGtidList)
                )
                || kind.is_some_and(|k| k.role() != crate::binlog::UnitRole::Outside)
        })
        .await?;
    // As a reading of the file sees them: its own events only (a file with neither a declaring
    // event nor a transaction ends with its ROTATE, after which the next file's come).
    for raw in &head_events {
        if let Some(header) = crate::binlog::EventHeader::parse_prefix(raw) {
            let offset = u64::from(header.log_pos).saturating_sub(u64::from(header.event_size));
            capture.see(EventRef { offset, header }, raw);
            if header.closes_file() {
                break;
            }
        }
    }
    let (tail_events, tail_bytes) =
        match dump_head(settings, facts, file, tail_offset, deadline, 8, |raw| {
            crate::binlog::EventHeader::parse_prefix(raw).is_some_and(|h| {
                !h.is_artificial() && u64::from(h.log_pos) == tail_offset + u64::from(h.event_size)
            })
        })
        .await
        {
            Ok(pulled) => pulled,
            // Not an event start there any more: another file.
            Err(error) if error.is_binlog_unavailable() => return Ok(None),
            Err(error) => return Err(error),
        };
    let tail = tail_events.iter().find_map(|raw| {
        let header = crate::binlog::EventHeader::parse_prefix(raw)?;
        let end = u64::from(header.log_pos);
        (!header.is_artificial()
            && end == size
            && end == tail_offset + u64::from(header.event_size))
        .then(|| digest(&[raw]))
    });
    let Some(tail) = tail else {
        return Ok(None);
    };
    let stats = SearchStats {
        files_opened: 2,
        bytes_read: head_bytes + tail_bytes,
        events_read: (head_events.len() + tail_events.len()) as u64,
        round_trips: 14,
        elapsed_us: 0,
    };
    Ok(Some((
        FileIdentity {
            source: facts.source.clone(),
            name: file.to_owned(),
            size,
            head: digest(&[&capture.head]),
            tail_offset,
            tail,
        },
        stats,
    )))
}

/// The binlog files of a live server, for the search.
struct RemoteSequence {
    settings: ConnSettings,
    facts: ServerFacts,
    files: Vec<SequenceFile>,
    /// `File_size` of each file in `SHOW BINARY LOGS`, when the server gave one.
    sizes: Vec<Option<u64>>,
    handle: Handle,
    deadline: Instant,
    stats: SearchStats,
    /// The precise network error behind a `ResolveError`, for the caller.
    failure: Arc<Mutex<Option<RemoteError>>>,
    progress: Option<Arc<ReadProgress>>,
    cache: Arc<SummaryCache>,
    /// What a per-file read proved about each file's identity, for its summary.
    identities: Vec<Option<FileIdentity>>,
    notes: Vec<String>,
    assume: Option<Assumption>,
    /// A per-file dump that read to the end of a file and stands at the start of the next
    /// (its index), to go on with if that file is read next.
    open_walk: Option<(usize, RemoteWalk)>,
}

impl RemoteSequence {
    /// A dump from `pos` (a transaction start, or 4) of file `index` on, to walk; with `only`,
    /// the walk ends where the next file begins and notes what proves the file's identity.
    fn walk_at(&mut self, index: usize, pos: u64, only: bool) -> Result<RemoteWalk, ResolveError> {
        let name = self.files[index].name.clone();
        let (stream, relay) = self
            .handle
            .block_on(dump(
                &self.settings,
                &self.facts,
                &name,
                pos,
                Role::Walk,
                self.deadline,
            ))
            .map_err(|e| self.fail(e))?;
        self.stats.round_trips += 7;
        self.stats.files_opened += 1;
        let counters = Arc::new(Mutex::new(SearchStats::default()));
        let events = StreamEvents {
            stream: Some(stream),
            relay,
            consumed: 0,
            handle: self.handle.clone(),
            deadline: self.deadline,
            settings: self.settings.clone(),
            payload_end: None,
            counters: counters.clone(),
            failure: self.failure.clone(),
            progress: self.progress.clone(),
        };
        Ok(RemoteWalk {
            source: EventStreamSource::new(
                self.settings.address(),
                name,
                self.facts.checksum,
                events,
            ),
            names: self.files.iter().map(|f| f.name.clone()).collect(),
            index,
            counters,
            progress: self.progress.clone(),
            only,
            capture: Capture::default(),
            reached_next: false,
        })
    }

    fn stale(&mut self, name: &str) {
        self.notes.push(stale_note(name));
    }

    /// Keeps what a whole read of file `index` proved about its identity.
    fn note_identity(&mut self, index: usize, capture: &Capture) {
        let (Some(size), Some((tail_offset, tail))) =
            (self.sizes.get(index).copied().flatten(), &capture.tail)
        else {
            return;
        };
        if self.identities.len() <= index {
            self.identities.resize(index + 1, None);
        }
        self.identities[index] = Some(FileIdentity {
            source: self.facts.source.clone(),
            name: self.files[index].name.clone(),
            size,
            head: digest(&[&capture.head]),
            tail_offset: *tail_offset,
            tail: tail.clone(),
        });
    }

    fn fail(&self, error: RemoteError) -> ResolveError {
        let message = error.to_string();
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(error);
        }
        ResolveError::Remote(message)
    }
}

impl BinlogSequence for RemoteSequence {
    type Walk = RemoteWalk;

    fn files(&self) -> &[SequenceFile] {
        &self.files
    }

    fn probe(&mut self, indices: &[usize], deep: bool) -> Result<Vec<FileProbe>, ResolveError> {
        let probes = indices.iter().map(|&i| {
            probe_file(
                &self.settings,
                &self.facts,
                &self.files[i].name,
                deep,
                self.deadline,
            )
        });
        let results = self.handle.block_on(futures_util::future::join_all(probes));
        let mut out = Vec::with_capacity(results.len());
        for result in results {
            let (probe, bytes, events) = result.map_err(|e| self.fail(e))?;
            self.stats.files_opened += 1;
            self.stats.bytes_read += bytes;
            self.stats.events_read += events;
            // Connect (3), capabilities, checksum, register, dump request.
            self.stats.round_trips += 7;
            out.push(probe);
        }
        Ok(out)
    }

    fn probe_width(&self) -> usize {
        PROBE_WIDTH
    }

    fn walk_from(&mut self, index: usize) -> Result<RemoteWalk, ResolveError> {
        self.walk_at(index, 4, false)
    }

    fn plan(&mut self, start: usize) {
        if let Some(progress) = &self.progress {
            let rest: u64 = self.sizes[start..].iter().map(|s| s.unwrap_or(0)).sum();
            progress.plan((self.files.len() - start) as u64, rest);
        }
    }

    fn size(&self, index: usize) -> Option<u64> {
        self.sizes.get(index).copied().flatten()
    }

    fn assumption(&self) -> Option<Assumption> {
        self.assume
    }

    fn summary(&mut self, index: usize) -> Result<Option<FileSummary>, ResolveError> {
        if !self.cache.is_active() || index + 1 >= self.files.len() {
            return Ok(None);
        }
        let name = self.files[index].name.clone();
        let Some((stored, _)) = self.cache.stored(&self.facts.source, &name) else {
            return Ok(None);
        };
        let size = self.sizes.get(index).copied().flatten();
        let verified = if size != Some(stored.size) {
            Ok(None)
        } else {
            self.handle.block_on(identity_now(
                &self.settings,
                &self.facts,
                &name,
                stored.size,
                stored.tail_offset,
                self.deadline,
            ))
        };
        let identity = match verified {
            Ok(Some((identity, stats))) => {
                self.stats += stats;
                identity
            }
            Ok(None) => {
                self.stale(&name);
                return Ok(None);
            }
            Err(error) => {
                self.notes.push(format!(
                    "the cached summary of {name} could not be checked against the server \
                     ({error}): it is read again"
                ));
                return Ok(None);
            }
        };
        Ok(self
            .cache
            .proven(&identity, self.progress.as_deref(), &mut self.notes))
    }

    fn read_file(
        &mut self,
        index: usize,
        request: &Request,
        initial: Option<&ExecutedGtids>,
    ) -> Result<Option<FileScan>, ResolveError> {
        let mut steps = Vec::new();
        if let Some(mut scan) = self.bisect_file(index, request, &mut steps)? {
            steps.append(&mut scan.steps);
            scan.steps = steps;
            return Ok(Some(scan));
        }
        let track = request.gtid != GtidMode::Off;
        // The dump that read the file before this one runs on into this one: go on with it
        // rather than start another (which would also waste what the first read ahead).
        let walk = match self.open_walk.take() {
            Some((next, mut walk)) if next == index => {
                walk.go_on(index);
                walk
            }
            _ => self.walk_at(index, 4, true)?,
        };
        let before = walk.stats();
        let mut units = UnitReader::resume(walk, track, initial.cloned().unwrap_or_default());
        let mut tally = Tally::default();
        let mut found = None;
        while let Some(unit) = units.next_unit()? {
            if tally.answers(&unit, request) {
                found = Some(unit);
                break;
            }
            tally.passed(unit);
        }
        let (clock, span) = tally.finish(found.as_ref());
        let declared = units.initial_gtids().cloned();
        if track && initial.is_none() && declared.is_none() {
            return Ok(None);
        }
        let executed = units.executed().clone();
        let warnings = units
            .take_warnings()
            .into_iter()
            .map(|w| w.to_string())
            .collect();
        let walk = units.into_source();
        let after = walk.stats();
        let stats = SearchStats {
            bytes_read: after.bytes_read - before.bytes_read,
            events_read: after.events_read - before.events_read,
            ..SearchStats::default()
        };
        let whole = found.is_none();
        if whole {
            self.note_identity(index, &walk.capture);
            if let Some(progress) = &self.progress {
                progress.file_done();
            }
            if walk.reached_next {
                self.open_walk = Some((index + 1, walk));
            }
        }
        steps.push(format!(
            "{}: streamed from its start{}",
            self.files[index].name,
            if whole { " to its end" } else { "" }
        ));
        Ok(Some(FileScan {
            answer: match found {
                Some(unit) => FileAnswer::Found { unit, executed },
                None => FileAnswer::NotHere {
                    executed: Some(executed),
                },
            },
            warnings,
            steps,
            stats,
            clock,
            units: span,
            whole,
            declared,
        }))
    }

    fn remember(&mut self, index: usize, summary: FileSummary) {
        if let Some(Some(identity)) = self.identities.get(index) {
            self.cache.put(identity, &summary);
        }
    }

    fn take_notes(&mut self) -> Vec<String> {
        let mut notes = std::mem::take(&mut self.notes);
        notes.extend(self.cache.take_notes());
        notes
    }

    fn stats(&self) -> SearchStats {
        self.stats
    }
}

/// A dump's events, pulled one at a time on the blocking thread.
struct StreamEvents {
    stream: Option<BinlogStream>,
    /// Holds the server back to what has been consumed.
    relay: Relay,
    consumed: u64,
    handle: Handle,
    deadline: Instant,
    settings: ConnSettings,
    /// After a TRANSACTION_PAYLOAD ending here, mysql_async hands out the events inside it.
    payload_end: Option<u32>,
    counters: Arc<Mutex<SearchStats>>,
    failure: Arc<Mutex<Option<RemoteError>>>,
    progress: Option<Arc<ReadProgress>>,
}

impl StreamEvents {
    fn fail(&mut self, error: RemoteError) -> Option<Result<Vec<u8>, BinlogError>> {
        let message = error.to_string();
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(error);
        }
        if let Some(stream) = self.stream.take() {
            self.handle.block_on(close(stream));
        }
        Some(Err(BinlogError::Io {
            file: self.settings.address(),
            source: std::io::Error::other(message),
        }))
    }
}

impl Iterator for StreamEvents {
    type Item = Result<Vec<u8>, BinlogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let stream = self.stream.as_mut()?;
            self.relay.waiting(true);
            let next = self
                .handle
                .block_on(tokio::time::timeout_at(self.deadline, stream.next()));
            self.relay.waiting(false);
            let event = match next {
                Err(_) => {
                    return self.fail(RemoteError::Deadline {
                        server: self.settings.address(),
                        what: "reading the binlog stream".to_owned(),
                        elapsed: Duration::ZERO,
                        last: "no event before the deadline".to_owned(),
                    });
                }
                Ok(None) => {
                    if let Some(stream) = self.stream.take() {
                        self.handle.block_on(close(stream));
                    }
                    return None;
                }
                Ok(Some(Err(err))) => {
                    let error = error::classify(err, &self.settings, "reading the binlog stream");
                    return self.fail(error);
                }
                Ok(Some(Ok(event))) => event,
            };
            let header = event.header();
            if let Some(end) = self.payload_end {
                let log_pos = header.log_pos();
                if log_pos <= end && header.flags_raw() & 0x20 == 0 {
                    continue; // an event from inside the payload
                }
                self.payload_end = None;
            }
            if header.event_type_raw() == EventType::TransactionPayload as u8 {
                self.payload_end = Some(header.log_pos());
            }
            let raw = raw_event(&event);
            self.consumed += raw.len() as u64 + 5;
            self.relay.consumed(self.consumed);
            if let Some(progress) = &self.progress {
                progress.read(raw.len() as u64);
            }
            if let Ok(mut counters) = self.counters.lock() {
                counters.bytes_read = self.relay.received();
                counters.events_read += 1;
            }
            return Some(Ok(raw));
        }
    }
}

impl Drop for StreamEvents {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            // The answer is known: stop the dump now. Dropped on the blocking thread.
            self.handle.block_on(close(stream));
        }
    }
}

/// A dump from the start of the chosen file on, as the search walks it.
pub struct RemoteWalk {
    source: EventStreamSource<StreamEvents>,
    names: Vec<String>,
    index: usize,
    counters: Arc<Mutex<SearchStats>>,
    progress: Option<Arc<ReadProgress>>,
    /// A per-file read: the walk ends where the next file begins.
    only: bool,
    capture: Capture,
    /// A per-file read ended because the stream went on into the next file of the sequence.
    reached_next: bool,
}

impl RemoteWalk {
    /// Reads file `index` next, where the stream now stands.
    fn go_on(&mut self, index: usize) {
        self.index = index;
        self.capture = Capture::default();
        self.reached_next = false;
    }
}

/// What a per-file read notes for the file's identity (SEMANTICS.md §6.2): the bytes of its
/// FORMAT_DESCRIPTION and PREVIOUS_GTIDS / GTID_LIST as the server sends them from position 4,
/// and its last event (the ROTATE or STOP that closes it), with its offset.
#[derive(Debug, Default)]
struct Capture {
    head: Vec<u8>,
    head_done: bool,
    tail: Option<(u64, Vec<u8>)>,
}

impl Capture {
    fn see(&mut self, event: EventRef, raw: &[u8]) {
        let Ok(kind) = event.header.event_type() else {
            return;
        };
        let real = !event.header.is_artificial() && event.header.log_pos != 0;
        match kind {
            EventType::FormatDescription if real && !self.head_done => {
                self.head.extend_from_slice(raw);
            }
            EventType::PreviousGtids | EventType::MariaGtidList if !self.head_done => {
                self.head.extend_from_slice(raw);
                self.head_done = true;
            }
            _ if event.header.closes_file() => {
                self.tail = Some((event.offset, digest(&[raw])));
            }
            kind if kind.role() != crate::binlog::UnitRole::Outside => self.head_done = true,
            _ => {}
        }
    }
}

impl EventSource for RemoteWalk {
    fn name(&self) -> &str {
        self.source.name()
    }

    fn file_name(&self) -> &str {
        self.source.file_name()
    }

    fn advance(&mut self) -> Result<bool, BinlogError> {
        let moved = self.source.advance()?;
        if self.only {
            if !moved {
                return Ok(false);
            }
            if self.source.file_name() != self.names[self.index] {
                self.reached_next = self
                    .names
                    .get(self.index + 1)
                    .is_some_and(|next| next == self.source.file_name());
                return Ok(false);
            }
            if let Some(event) = self.source.current() {
                self.capture.see(event, self.source.raw());
            }
            return Ok(true);
        }
        if moved
            && let Some(position) = self.names.iter().position(|n| n == self.source.file_name())
        {
            if position > self.index
                && let Some(progress) = &self.progress
            {
                progress.file_done();
            }
            self.index = position;
        }
        Ok(moved)
    }

    fn current(&self) -> Option<EventRef> {
        self.source.current()
    }

    fn body(&mut self) -> Result<&[u8], BinlogError> {
        self.source.body()
    }

    fn format(&self) -> Option<&FormatDescription> {
        self.source.format()
    }

    fn may_grow(&self) -> bool {
        true
    }
}

impl Walk for RemoteWalk {
    fn file_index(&self) -> usize {
        self.index
    }

    fn stats(&self) -> SearchStats {
        self.counters.lock().map(|c| *c).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_microseconds() {
        assert_eq!(
            parse_decimal_us("1901149200.500000"),
            Some(1_901_149_200_500_000)
        );
        assert_eq!(parse_decimal_us("1901149200"), Some(1_901_149_200_000_000));
        assert_eq!(
            parse_decimal_us("1901149200.5"),
            Some(1_901_149_200_500_000)
        );
        assert_eq!(parse_decimal_us("x"), None);
    }
}
