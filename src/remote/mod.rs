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
//!    decoders ([`EventStreamSource`](crate::binlog::EventStreamSource)) and closed at the answer or at the file's end; or, where
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
//!
//! One file per topic; each uses only those above it:
//! - `settings`, `error`: how to reach a server, and what can go wrong ([`Recovery`]);
//! - `throttle`: the loopback proxy every connection goes through, so that a dump reads no
//!   further ahead than the search;
//! - `connection`: connecting, server facts, dumps, and the cost constants of each;
//! - `server_time`: how the server reads a start time; `position`: where it writes now;
//! - `bisect`: the search by commit time inside one file, on the server;
//! - `sequence`: the server's binary logs as a `resolve::BinlogSequence` (probes, per-file
//!   reads, bisection where it applies, summary identities);
//! - this file: the entry points, with the retry policy.

mod bisect;
mod connection;
pub(crate) mod error;
pub mod option_files;
mod position;
mod sequence;
mod server_time;
pub mod settings;
mod stream;
mod tap;
#[cfg(feature = "testkit")]
pub(crate) use tap::deframer_property;
mod throttle;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use crate::resolve::cache::SummaryCache;
use crate::resolve::{
    self, Assumption, BinlogSequence, GtidMode, Listing as _, ReadProgress, Request, Resolution,
    Summaries as _,
};
use crate::start_time::{ResolvedTime, StartTime, Zone};
use crate::unit::TimeBasis;

pub(crate) use connection::{AUTH_TRIES, query, query_connection};
use connection::{Role, connect, server_facts};
pub use error::{Recovery, RemoteError};
pub use position::{ServerPosition, current_position, gtid_pos_at};
use sequence::{Listing, over_sequence};
use server_time::instant_on;
pub use server_time::read_start_time;
pub use settings::{ConnSettings, InlineTls, Pem, Secret, TlsFiles, TlsVerify};

/// What a resolution against a server needs besides the connection.
#[derive(Debug, Clone)]
pub struct RemoteRequest {
    /// The start time as the user wrote it.
    pub start: StartTime,
    /// Reads a bare start time in this zone instead of asking the server.
    pub zone: Option<Zone>,
    /// Which clock a transaction's time is read from.
    pub basis: TimeBasis,
    /// Whether to compute the GTID set executed before the answer.
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
    /// The instant the start time meant, and the zone it was read in.
    pub start: ResolvedTime,
    /// The answer.
    pub resolution: Resolution,
    /// `VERSION()` of the server.
    pub server_version: String,
}

/// First wait between attempts after a transient failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Resolves `request` against the server `settings` reach, retrying transient failures until
/// the deadline.
pub async fn resolve_remote(
    settings: &ConnSettings,
    request: &RemoteRequest,
) -> Result<RemoteAnswer, RemoteError> {
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut relisted = false;
    // Whether the server has answered in this run: before that, nothing listening is definite.
    let mut reached = false;
    // The error of the attempt before, for a deadline that cuts the next one short.
    let mut previous: Option<String> = None;
    loop {
        let error = match attempt(settings, request, &mut reached).await {
            Ok(answer) => return Ok(answer),
            Err(error) => error.with_elapsed(started.elapsed()),
        };
        let error = match (error, previous.take()) {
            (
                RemoteError::Deadline {
                    server,
                    what,
                    elapsed,
                    last,
                },
                Some(before),
            ) => RemoteError::Deadline {
                server,
                what,
                elapsed,
                last: format!("{last}; before that: {before}"),
            },
            (error, _) => error,
        };
        previous = Some(error.to_string());
        // Before the server has answered in this run, nothing listening or a name that does not
        // resolve is the address's fault; after, a restart or a hiccup, and retried.
        if !reached
            && matches!(
                error,
                RemoteError::Refused { .. } | RemoteError::Unresolved { .. }
            )
        {
            return Err(error);
        }
        match error.recovery() {
            // Purged between listing and dumping: once more from a fresh SHOW BINARY LOGS.
            Recovery::Relist if !relisted => {
                tracing::info!("{error}; listing the binary logs again");
                relisted = true;
                continue;
            }
            Recovery::Relist | Recovery::Definite => return Err(error),
            Recovery::Transient => {}
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
        tracing::info!(
            "{error}; trying {} again in {} ms",
            settings.display(),
            backoff.as_millis()
        );
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
        .map(|(settings, request)| async move {
            // One source's panic (a driver's, say) is that source's failure, not the run's.
            let resolved = std::panic::AssertUnwindSafe(resolve_remote(&settings, &request));
            futures_util::FutureExt::catch_unwind(resolved)
                .await
                .unwrap_or_else(|panic| {
                    Err(RemoteError::Panicked {
                        server: settings.address(),
                        panic: crate::panics::panic_text(&*panic).to_owned(),
                    })
                })
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

/// One try; `reached` turns true once the server has answered on the control connection.
async fn attempt(
    settings: &ConnSettings,
    request: &RemoteRequest,
    reached: &mut bool,
) -> Result<RemoteAnswer, RemoteError> {
    let deadline = request.deadline;
    let (mut conn, control_throttle) = connect(settings, Role::Control, deadline).await?;
    *reached = true;
    let facts = server_facts(settings, &mut conn, deadline).await?;
    let start = instant_on(
        settings,
        &mut conn,
        &request.start,
        request.zone.as_ref(),
        deadline,
    )
    .await?;
    let resolve_request = Request {
        start_us: start.instant_us,
        basis: request.basis,
        gtid: request.gtid,
    };
    let version = facts.version.clone();
    let listing = Listing::read(settings, conn, control_throttle, deadline).await?;
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

/// The coverage table of a live server's binary logs (`startpoint index --url`): every file
/// without a proven summary streamed in full, one at a time, and its summary kept.
pub async fn index_remote(
    settings: &ConnSettings,
    deadline: Instant,
    progress: Arc<ReadProgress>,
    cache: Arc<SummaryCache>,
    audit: resolve::index::Audit,
) -> Result<
    (
        Vec<resolve::index::FileCoverage>,
        Vec<resolve::explain::Note>,
        String,
    ),
    RemoteError,
> {
    let (mut conn, control_throttle) = connect(settings, Role::Control, deadline).await?;
    let facts = server_facts(settings, &mut conn, deadline).await?;
    let version = facts.version.clone();
    let listing = Listing::read(settings, conn, control_throttle, deadline).await?;
    let (rows, notes) = over_sequence(
        settings,
        facts,
        listing,
        deadline,
        Some(progress),
        Some(cache),
        None,
        move |sequence| {
            sequence.plan(0);
            let all: Vec<usize> = (0..sequence.files().len()).collect();
            let rows = resolve::index::cover(sequence, &all, audit)?;
            let mut rows: Vec<_> = rows.into_iter().map(|(_, row)| row).collect();
            resolve::index::mark_gtid_gaps(&mut rows);
            Ok((rows, sequence.take_notes()))
        },
    )
    .await?;
    Ok((rows, notes, version))
}
