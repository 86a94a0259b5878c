//! The library's one entry point: a [`Source`], a start time and [`Options`] in, a
//! [`Located`] answer out. `resolve-position` and `start-task` both come through here.
//!
//! It owns the one policy that is not the search's: **which zone a start time without an
//! offset is read in** (`start_instant`):
//! 1. the zone the caller gives (`--timezone`, a task's `timezone`);
//! 2. else, for a live server, the server's own zone at that instant (what DM does);
//! 3. else, for local files whose upstream the caller names ([`Options::zone_server`], as
//!    start-task does with its source's relay directory), that server's zone;
//! 4. else this machine's zone.
//!
//! A time with an offset means that instant everywhere. Costs: a local source is listed once
//! and searched as `resolve::resolve` says (on a blocking thread); a live one costs what
//! `remote::resolve_remote` says, under [`Options::deadline`].

use std::path::PathBuf;
use std::sync::Arc;

use tokio::time::Instant;

use crate::remote::{self, ConnSettings, RemoteError, RemoteRequest};
use crate::resolve::cache::SummaryCache;
use crate::resolve::{
    self, Assumption, GtidMode, LocalSequence, ReadProgress, Request, Resolution, ResolveError,
};
use crate::source::local::{BinlogDir, LeftOut, LocalSourceError};
use crate::source::relay::open_relay_dir;
use crate::start_time::{Reading, ResolvedTime, StartTime, TimeError, Zone};
use crate::unit::TimeBasis;

/// Where the binlog comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory of binlog files (a server's datadir or a copy), with or without its index.
    BinlogDir(PathBuf),
    /// A DM relay directory (`server-uuid.index` and its sub-directories).
    RelayDir(PathBuf),
    /// A live server, over the replication protocol.
    Server(ConnSettings),
}

/// How to search, besides the source and the time.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which clock a transaction's time is read from: its commit (the default) or its first event.
    pub basis: TimeBasis,
    /// Whether to compute the GTID set executed before the answer (`auto`: when the binlog has GTIDs).
    pub gtid: GtidMode,
    /// The zone a start time without an offset is read in; `None`: see the module doc.
    pub zone: Option<Zone>,
    /// For a local source: the server whose zone reads a bare start time when no zone is given.
    pub zone_server: Option<ConnSettings>,
    /// When to give up on servers, all retries included.
    pub deadline: Instant,
    /// File summaries to read and fill; `None`: none.
    pub cache: Option<Arc<SummaryCache>>,
    /// An assumption to skip files on, when the user turned one on.
    pub assume: Option<Assumption>,
    /// Where to count what is read, for a progress bar.
    pub progress: Option<Arc<ReadProgress>>,
}

impl Options {
    /// The defaults: commit times, GTIDs when the binlog has them, no cache, no assumption, and
    /// `timeout` for servers.
    pub fn new(timeout: std::time::Duration) -> Options {
        Options {
            basis: TimeBasis::Commit,
            gtid: GtidMode::Auto,
            zone: None,
            zone_server: None,
            deadline: Instant::now() + timeout,
            cache: None,
            assume: None,
            progress: None,
        }
    }
}

/// The answer, and what the start time meant.
#[derive(Debug, Clone)]
pub struct Located {
    /// The instant the start time meant, and the zone it was read in.
    pub start: ResolvedTime,
    /// The answer: where to start, the GTID set, and how the search reached it.
    pub resolution: Resolution,
    /// `VERSION()` of a live server.
    pub server_version: Option<String>,
    /// Files of a local directory that are not part of the sequence, and why.
    pub left_out: Vec<LeftOut>,
}

/// Why there is no answer.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// The start time or the zone cannot be read.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The local directory cannot be listed as one binlog sequence.
    #[error(transparent)]
    Source(#[from] LocalSourceError),
    /// A local search failed (a damaged binlog, no GTIDs where `--gtid on` asked for them).
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Talking to a live server failed, or its search did.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The search's thread stopped with a panic or was cancelled (a bug).
    #[error("internal error: the search's thread stopped ({0}); please report it")]
    Thread(tokio::task::JoinError),
}

/// Resolves `start` against `source`: the location to start from, as SEMANTICS.md defines it.
pub async fn locate(
    source: &Source,
    start: &StartTime,
    options: &Options,
) -> Result<Located, LocateError> {
    match source {
        Source::Server(settings) => locate_on_server(settings, start, options).await,
        Source::BinlogDir(dir) => locate_in(BinlogDir::open(dir)?, start, options).await,
        Source::RelayDir(dir) => locate_in(open_relay_dir(dir)?, start, options).await,
    }
}

/// [`locate`] over a local sequence already listed (by `BinlogDir::open` or `open_relay_dir`),
/// for a caller that reports what was left out of it before the search.
pub async fn locate_in(
    dir: BinlogDir,
    start: &StartTime,
    options: &Options,
) -> Result<Located, LocateError> {
    let resolved = start_instant(start, options).await?;
    let request = Request {
        start_us: resolved.instant_us,
        basis: options.basis,
        gtid: options.gtid,
    };
    let cache = options
        .cache
        .clone()
        .unwrap_or_else(|| Arc::new(SummaryCache::disabled()));
    let assume = options.assume;
    let progress = options.progress.clone();
    let (resolution, left_out) = tokio::task::spawn_blocking(move || {
        let mut sequence = LocalSequence::new(&dir)
            .with_cache(cache)
            .with_assumption(assume);
        if let Some(progress) = progress {
            sequence = sequence.with_progress(progress);
        }
        let resolution = resolve::resolve(&mut sequence, &request);
        (resolution, dir.left_out)
    })
    .await
    .map_err(LocateError::Thread)?;
    Ok(Located {
        start: resolved,
        resolution: resolution?,
        server_version: None,
        left_out,
    })
}

async fn locate_on_server(
    settings: &ConnSettings,
    start: &StartTime,
    options: &Options,
) -> Result<Located, LocateError> {
    let request = RemoteRequest {
        start: start.clone(),
        zone: options.zone.clone(),
        basis: options.basis,
        gtid: options.gtid,
        deadline: options.deadline,
        progress: options.progress.clone(),
        cache: options.cache.clone(),
        assume: options.assume,
    };
    let answer = remote::resolve_remote(settings, &request).await?;
    Ok(Located {
        start: answer.start,
        resolution: answer.resolution,
        server_version: Some(answer.server_version),
        left_out: Vec::new(),
    })
}

/// The instant `start` means for a local source, read where [`StartTime::reading`] says: by
/// [`Options::zone_server`] when the caller names the files' upstream.
async fn start_instant(start: &StartTime, options: &Options) -> Result<ResolvedTime, LocateError> {
    let server = options.zone_server.as_ref();
    Ok(
        match (
            start.reading(options.zone.as_ref(), server.is_some()),
            server,
        ) {
            (Reading::OnServer, Some(server)) => {
                remote::read_start_time(server, start, options.deadline).await?
            }
            (Reading::Here(zone), _) => start.resolve(zone)?,
            (Reading::OnServer, None) => start.resolve(&Zone::Local)?,
        },
    )
}
