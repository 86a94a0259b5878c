//! A live server's binary logs as a `resolve::BinlogSequence`: the listing (`SHOW BINARY
//! LOGS`), file probes (a dump read to its PREVIOUS_GTIDS / GTID_LIST or first transaction, up to
//! three at once), per-file reads (one dump from the file's start, which runs on into the next
//! file when that is read next), bisection on the server where `bisect` allows it, and the
//! identity checks that let a cached summary skip a file. The search runs on a blocking thread;
//! every network call here blocks on the runtime.

use std::sync::{Arc, Mutex};

use mysql_async::Conn;
use mysql_async::prelude::*;
use tokio::runtime::Handle;
use tokio::time::Instant;

use crate::binlog::{
    BinlogError, EventHeader, EventRef, EventSource, EventStreamSource, EventType,
    FormatDescription, UnitRole,
};
use crate::gtid::ExecutedGtids;
use crate::resolve::cache::SummaryCache;
use crate::resolve::explain::{NotBisected, Note, Step, Warning};
use crate::resolve::scan::{ClockSeen, FileAnswer, FileScan, Tally};
use crate::resolve::summary::{FileIdentity, FileSummary, UnitSpan, digest};
use crate::resolve::{
    Assumption, BinlogSequence, FileProbe, GtidMode, ReadProgress, Request, ResolveError,
    SearchStats, SequenceFile, Walk,
};
use crate::unit::{FirstCommit, TimeBasis, UnitReader, declared_gtids, first_commit};

use super::bisect::{Bisection, Bracket, STREAM_SPAN};
use super::connection::{
    CONTROL_ROUND_TRIPS, DUMP_ROUND_TRIPS, FILE_PROBE_EVENTS, POSITION_PROBE_EVENTS, Role,
    ServerFacts, StreamEvents, dump, dump_head, within,
};
use super::error::{Failures, Recovery, RemoteError};
use super::settings::ConnSettings;
use super::throttle::Throttle;

/// How many file probes run at once.
const PROBE_WIDTH: usize = 3;

/// `SHOW BINARY LOGS`, read once on the control connection (which it closes).
pub(super) struct Listing {
    pub(super) files: Vec<SequenceFile>,
    pub(super) sizes: Vec<Option<u64>>,
    /// Listed files missing from the server's disk, with the position in `files` they would
    /// have had.
    pub(super) purged: Vec<(usize, String)>,
    /// What the control connection received.
    pub(super) control_bytes: u64,
}

impl Listing {
    pub(super) async fn read(
        settings: &ConnSettings,
        mut conn: Conn,
        control_throttle: Throttle,
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
        let control_bytes = control_throttle.received();
        drop(control_throttle);
        let mut listing = Listing {
            files: Vec::new(),
            sizes: Vec::new(),
            purged: Vec::new(),
            control_bytes,
        };
        let listed = rows
            .iter()
            .filter_map(|row| Some((row.get::<String, _>(0)?, row.get_opt::<u64, _>(1))));
        for (name, size) in listed {
            let size = size.and_then(Result::ok);
            // Such a name would reach outputs, checkpoints and consumers' statements as it is; a
            // server writes none, so one is a server (or something between) not to be trusted.
            if name.chars().any(char::is_control) {
                return Err(RemoteError::ControlCharacters {
                    server: settings.address(),
                    name: crate::input::escape_controls(&name).into_owned(),
                });
            }
            // A file the index lists but the disk no longer has: both servers report it with
            // size 0, which no binlog file has (its magic alone is 4 bytes). Like a purged file
            // of a local directory, it is a gap (SEMANTICS.md §2).
            if size == Some(0) {
                listing.purged.push((listing.files.len(), name));
                continue;
            }
            listing.files.push(SequenceFile {
                name,
                relay_subdir: None,
            });
            listing.sizes.push(size);
        }
        if listing.files.is_empty() {
            return Err(RemoteError::BinlogOff {
                server: settings.address(),
            });
        }
        Ok(listing)
    }
}

/// Runs `work` over the server's binary logs on a blocking thread (whose network calls block on
/// the runtime).
#[allow(clippy::too_many_arguments)]
pub(super) async fn over_sequence<T: Send + 'static>(
    settings: &ConnSettings,
    facts: ServerFacts,
    listing: Listing,
    deadline: Instant,
    progress: Option<Arc<ReadProgress>>,
    cache: Option<Arc<SummaryCache>>,
    assume: Option<Assumption>,
    work: impl FnOnce(&mut RemoteSequence) -> Result<T, ResolveError> + Send + 'static,
) -> Result<T, RemoteError> {
    let mut sequence = RemoteSequence {
        settings: settings.clone(),
        facts,
        files: listing.files,
        sizes: listing.sizes,
        purged: listing.purged,
        handle: Handle::current(),
        // A fixed server_id serves one dump at a time: the server disconnects the older of two.
        width: match settings.server_id {
            Some(_) => 1,
            None => PROBE_WIDTH,
        },
        deadline,
        stats: SearchStats {
            round_trips: CONTROL_ROUND_TRIPS,
            bytes_read: listing.control_bytes,
            ..SearchStats::default()
        },
        progress,
        cache: cache.unwrap_or_else(|| Arc::new(SummaryCache::disabled())),
        identities: Vec::new(),
        notes: Vec::new(),
        assume,
        open_walk: None,
        failures: Failures::default(),
    };
    let failures = sequence.failures.clone();
    let outcome = tokio::task::spawn_blocking(move || work(&mut sequence)).await;
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(remote_error(settings, err, &failures)),
        Err(join) => Err(RemoteError::Stopped {
            server: settings.address(),
            why: join.to_string(),
        }),
    }
}

/// The error behind a failed search over a server: the network's own when the connection
/// failed (kept in `failures` while the reader and the search carry its marker), else the
/// reader's or the search's, naming the server.
fn remote_error(settings: &ConnSettings, err: ResolveError, failures: &Failures) -> RemoteError {
    let server = || settings.address();
    match err {
        ResolveError::Binlog(BinlogError::Transport { .. }) => {
            failures.take().unwrap_or_else(|| RemoteError::Stopped {
                server: server(),
                why: "the connection failed and its error was not kept".to_owned(),
            })
        }
        ResolveError::Binlog(source) => RemoteError::Binlog {
            server: server(),
            what: "reading the binlog stream".to_owned(),
            source,
        },
        other => RemoteError::Search {
            server: server(),
            error: Box::new(other),
        },
    }
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
    let (events, bytes) = dump_head(settings, file, 4, deadline, FILE_PROBE_EVENTS, |raw| {
        let Some(header) = EventHeader::parse_prefix(raw) else {
            return false;
        };
        let Ok(event_type) = header.event_type() else {
            return false;
        };
        if event_type == EventType::FormatDescription {
            seen_format = true;
            return false;
        }
        let starts_unit = event_type.role() != UnitRole::Outside;
        let ends_file = header.closes_file();
        let declares = matches!(
            event_type,
            EventType::PreviousGtids | EventType::MariaGtidList
        );
        decided = seen_format && (starts_unit || ends_file || (declares && !deep));
        decided
    })
    .await?;
    let count = events.len() as u64;
    let cut_short = !decided && events.len() >= FILE_PROBE_EVENTS;
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
            first_commit(source, FILE_PROBE_EVENTS)?
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
        dump_head(settings, file, 4, deadline, FILE_PROBE_EVENTS, |raw| {
            let Some(header) = EventHeader::parse_prefix(raw) else {
                return true;
            };
            let kind = header.event_type().ok();
            header.closes_file()
                || matches!(
                    kind,
                    Some(EventType::PreviousGtids | EventType::MariaGtidList)
                )
                || kind.is_some_and(|k| k.role() != UnitRole::Outside)
        })
        .await?;
    // As a reading of the file sees them: its own events only (a file with neither a declaring
    // event nor a transaction ends with its ROTATE, after which the next file's come).
    for raw in &head_events {
        if let Some(header) = EventHeader::parse_prefix(raw) {
            let offset = u64::from(header.log_pos).saturating_sub(u64::from(header.event_size));
            capture.see(EventRef { offset, header }, raw);
            if header.closes_file() {
                break;
            }
        }
    }
    let (tail_events, tail_bytes) = match dump_head(
        settings,
        file,
        tail_offset,
        deadline,
        POSITION_PROBE_EVENTS,
        |raw| {
            EventHeader::parse_prefix(raw).is_some_and(|h| {
                !h.is_artificial() && u64::from(h.log_pos) == tail_offset + u64::from(h.event_size)
            })
        },
    )
    .await
    {
        Ok(pulled) => pulled,
        // Not an event start there any more: another file.
        Err(error) if error.recovery() == Recovery::Relist => return Ok(None),
        Err(error) => return Err(error),
    };
    let tail = tail_events.iter().find_map(|raw| {
        let header = EventHeader::parse_prefix(raw)?;
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
        round_trips: 2 * DUMP_ROUND_TRIPS,
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
            stat: None,
        },
        stats,
    )))
}

/// The binlog files of a live server, for the search.
pub(super) struct RemoteSequence {
    settings: ConnSettings,
    facts: ServerFacts,
    files: Vec<SequenceFile>,
    /// `File_size` of each file in `SHOW BINARY LOGS`, when the server gave one.
    sizes: Vec<Option<u64>>,
    /// Listed files missing from the server's disk (see [`Listing::purged`]).
    purged: Vec<(usize, String)>,
    handle: Handle,
    deadline: Instant,
    stats: SearchStats,
    /// How many files are probed at once: [`PROBE_WIDTH`], or 1 with a fixed server_id (the
    /// server keeps one dump per id) or for an account whose connections are limited.
    width: usize,
    progress: Option<Arc<ReadProgress>>,
    cache: Arc<SummaryCache>,
    /// What a per-file read proved about each file's identity, for its summary.
    identities: Vec<Option<FileIdentity>>,
    notes: Vec<Note>,
    assume: Option<Assumption>,
    /// A per-file dump that read to the end of a file and stands at the start of the next
    /// (its index), to go on with if that file is read next.
    open_walk: Option<(usize, RemoteWalk)>,
    /// Where a network failure is kept while the search carries only its marker.
    failures: Failures,
}

impl RemoteSequence {
    /// A dump from `pos` (a transaction start, or 4) of file `index` on, to walk; with `only`,
    /// the walk ends where the next file begins and notes what proves the file's identity.
    fn walk_at(&mut self, index: usize, pos: u64, only: bool) -> Result<RemoteWalk, ResolveError> {
        let name = self.files[index].name.clone();
        let (stream, throttle) = self
            .handle
            .block_on(dump(&self.settings, &name, pos, Role::Walk, self.deadline))
            .map_err(|e| self.fail(e))?;
        self.stats.round_trips += DUMP_ROUND_TRIPS;
        self.stats.files_opened += 1;
        let counters = Arc::new(Mutex::new(SearchStats::default()));
        let events = StreamEvents {
            stream: Some(stream),
            throttle,
            consumed: 0,
            said: 0,
            handle: self.handle.clone(),
            deadline: self.deadline,
            settings: self.settings.clone(),
            payload_end: None,
            counters: counters.clone(),
            progress: self.progress.clone(),
            failures: self.failures.clone(),
        };
        Ok(RemoteWalk {
            source: EventStreamSource::new(
                self.settings.address(),
                name,
                self.facts.checksum,
                events,
            ),
            names: self.files.iter().map(|f| f.name.clone()).collect(),
            missing: self.purged.iter().map(|(_, name)| name.clone()).collect(),
            index,
            counters,
            progress: self.progress.clone(),
            failures: self.failures.clone(),
            only,
            capture: Capture::default(),
            reached_next: false,
        })
    }

    /// With a fixed server_id the server keeps one dump: the open one ends before another opens.
    fn before_another_dump(&mut self) {
        if self.settings.server_id.is_some() {
            self.open_walk = None;
        }
    }

    fn stale(&mut self, name: &str) {
        self.notes.push(Note::StaleSummary {
            file: name.to_owned(),
        });
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
            stat: None,
        });
    }

    fn fail(&self, error: RemoteError) -> ResolveError {
        ResolveError::Binlog(self.failures.transport(self.settings.address(), error))
    }
}

impl RemoteSequence {
    /// File `index`'s name and size when searching it on the server can pay: the commit basis
    /// without GTIDs, a size above [`STREAM_SPAN`], a name fit for a query, and no dump already
    /// standing at it on a fixed server_id (one dump at a time), which is worth more than a
    /// search that would end it; any other dump ends before the search.
    fn bisectable(&mut self, index: usize, request: &Request) -> Option<(String, u64)> {
        if request.basis != TimeBasis::Commit || request.gtid != GtidMode::Off {
            return None;
        }
        if matches!(&self.open_walk, Some((next, _)) if *next == index)
            && self.settings.server_id.is_some()
        {
            return None;
        }
        self.before_another_dump();
        let file = self.files[index].name.clone();
        let size = self.sizes.get(index).copied().flatten()?;
        // Streaming a small file costs less than probing; a quote cannot go into a query.
        (size > STREAM_SPAN && !file.contains(['\'', '\\'])).then_some((file, size))
    }

    /// File `index` read by bisecting it on the server, when the request and the file allow it
    /// (see the module documentation); `None` to stream the file from its start. Why it was not
    /// bisected, when it looked bisectable, goes to `steps`.
    pub(super) fn bisect_file(
        &mut self,
        index: usize,
        request: &Request,
        steps: &mut Vec<Step>,
    ) -> Result<Option<FileScan>, ResolveError> {
        let Some((file, size)) = self.bisectable(index, request) else {
            return Ok(None);
        };
        let mut bisection = Bisection {
            settings: &self.settings,
            facts: &self.facts,
            file: &file,
            deadline: self.deadline,
            stats: SearchStats::default(),
        };
        let bracket = self.handle.block_on(bisection.run(size, request.start_us));
        let stats = bisection.stats;
        self.stats += stats;
        let (from, above, probes) = match bracket.map_err(|e| self.fail(e))? {
            Bracket::From {
                from,
                above,
                probes,
            } => (from, above, probes),
            Bracket::No(reason) => {
                steps.extend(reason.map(|why| Step::NotSearched {
                    file: file.clone(),
                    why,
                }));
                return Ok(None);
            }
        };
        let searched = Step::SearchedOnServer {
            file: file.clone(),
            probes,
            bytes: stats.bytes_read,
            from: from.pos,
        };
        let walk = self.walk_at(index, from.pos, true)?;
        let mut units = UnitReader::resume(walk, false, ExecutedGtids::None);
        let mut previous = from.commit_us;
        let mut found = None;
        // The walk must agree with the probes: commit times rise, each is recorded, and no
        // transaction at or past a probe at or after T is before T.
        let disagreement = loop {
            let Some(unit) = units.next_unit()? else {
                break above.map(|_| NotBisected::DisagreeWithProbes);
            };
            let time = unit.commit_us();
            if unit.recorded_commit_us.is_none() || time < previous {
                break Some(NotBisected::NotMonotonic { at: unit.pos });
            }
            previous = time;
            if time >= request.start_us {
                found = Some(unit);
                break None;
            }
            if above.is_some_and(|above| unit.pos >= above.pos) {
                break Some(NotBisected::DisagreeWithProbes);
            }
        };
        if let Some(why) = disagreement {
            steps.push(Step::SearchAbandoned { file, why });
            return Ok(None);
        }
        let walked = units.source().stats();
        let warnings = units
            .take_warnings()
            .into_iter()
            .map(Warning::Binlog)
            .collect();
        let clock = ClockSeen::rising((from.pos, from.commit_us), previous);
        Ok(Some(FileScan {
            answer: match found {
                Some(unit) => FileAnswer::Found {
                    unit,
                    executed: ExecutedGtids::None,
                },
                None => FileAnswer::NotHere { executed: None },
            },
            warnings,
            steps: vec![searched],
            stats: walked,
            clock,
            units: UnitSpan::default(),
            whole: false,
            declared: None,
        }))
    }
}

impl BinlogSequence for RemoteSequence {
    type Walk = RemoteWalk;

    fn probe(&mut self, indices: &[usize], deep: bool) -> Result<Vec<FileProbe>, ResolveError> {
        let (settings, facts, deadline) = (&self.settings, &self.facts, self.deadline);
        let probe_one = |i: usize| probe_file(settings, facts, &self.files[i].name, deep, deadline);
        let mut results: Vec<Option<Result<_, RemoteError>>> = match self.width {
            1 => indices.iter().map(|_| None).collect(),
            _ => self
                .handle
                .block_on(futures_util::future::join_all(
                    indices.iter().map(|&i| probe_one(i)),
                ))
                .into_iter()
                .map(Some)
                .collect(),
        };
        // An account limited to fewer connections than the probes need at once
        // (max_user_connections) is served one probe at a time from then on: the probes that
        // failed now, and every later batch of this resolution.
        let limited = results
            .iter()
            .any(|r| matches!(r, Some(Err(RemoteError::ConnectionLimit { .. }))));
        if limited {
            self.width = 1;
        }
        if self.width == 1 {
            for (slot, &i) in results.iter_mut().zip(indices) {
                if matches!(slot, Some(Ok(_))) {
                    continue;
                }
                let result = self.handle.block_on(probe_one(i));
                let failed = result.is_err();
                *slot = Some(result);
                if failed {
                    break;
                }
            }
        }
        // A slot left empty follows an error, which is returned first below.
        let results: Vec<_> = results.into_iter().map_while(|r| r).collect();
        let mut out = Vec::with_capacity(results.len());
        for result in results {
            let (probe, bytes, events) = result.map_err(|e| self.fail(e))?;
            self.stats.files_opened += 1;
            self.stats.bytes_read += bytes;
            self.stats.events_read += events;
            self.stats.round_trips += DUMP_ROUND_TRIPS;
            out.push(probe);
        }
        Ok(out)
    }

    fn probe_width(&self) -> usize {
        self.width
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

    fn assumption(&self) -> Option<Assumption> {
        self.assume
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
            .map(Warning::Binlog)
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
        steps.push(Step::Streamed {
            file: self.files[index].name.clone(),
            whole,
        });
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

    fn stats(&self) -> SearchStats {
        self.stats
    }
}

impl crate::resolve::Listing for RemoteSequence {
    /// A server's files have no modification time it would tell.
    fn modified_us(&self, _index: usize) -> Option<i64> {
        None
    }

    fn files(&self) -> &[SequenceFile] {
        &self.files
    }

    fn gap_before(&self, index: usize) -> Vec<String> {
        self.purged
            .iter()
            .filter(|(at, _)| *at > 0 && *at <= index)
            .map(|(_, name)| name.clone())
            .collect()
    }

    fn purged_before_first(&self) -> bool {
        self.purged.iter().any(|(at, _)| *at == 0)
    }

    fn size(&self, index: usize) -> Option<u64> {
        self.sizes.get(index).copied().flatten()
    }
}

impl crate::resolve::Summaries for RemoteSequence {
    fn summary(&mut self, index: usize) -> Result<Option<FileSummary>, ResolveError> {
        if !self.cache.is_active() || index + 1 >= self.files.len() {
            return Ok(None);
        }
        self.before_another_dump();
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
                self.notes.push(Note::SummaryUnchecked {
                    file: name.clone(),
                    error: error.to_string(),
                });
                return Ok(None);
            }
        };
        Ok(self
            .cache
            .proven(&identity, self.progress.as_deref(), &mut self.notes))
    }

    fn forget(&mut self, index: usize) {
        self.cache
            .forget(&self.facts.source, &self.files[index].name);
    }

    fn stored_summary(&mut self, index: usize) -> Option<Option<FileSummary>> {
        self.cache
            .stored(&self.facts.source, &self.files[index].name)
            .map(|(_, summary)| summary)
    }

    fn remember(&mut self, index: usize, summary: FileSummary) {
        if let Some(Some(identity)) = self.identities.get(index) {
            self.cache.put(identity, &summary);
        }
    }

    fn take_notes(&mut self) -> Vec<Note> {
        let mut notes = std::mem::take(&mut self.notes);
        notes.extend(self.cache.take_notes());
        notes
    }
}

/// A dump from the start of the chosen file on, as the search walks it.
pub(super) struct RemoteWalk {
    source: EventStreamSource<StreamEvents>,
    names: Vec<String>,
    /// Listed files missing from the server's disk: a walk cannot cross them.
    missing: Vec<String>,
    index: usize,
    counters: Arc<Mutex<SearchStats>>,
    progress: Option<Arc<ReadProgress>>,
    failures: Failures,
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
            kind if kind.role() != UnitRole::Outside => self.head_done = true,
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
        if !moved {
            return Ok(false);
        }
        // The names are taken once (SEMANTICS.md §2): a file created after the listing ends the
        // walk, or its transactions would be answered with a listed file's name.
        let Some(position) = self.names.iter().position(|n| n == self.source.file_name()) else {
            if self.missing.iter().any(|n| n == self.source.file_name()) {
                // A gap in the middle: the walk's GTID state cannot cross it.
                let missing = RemoteError::FileMissing {
                    server: self.source.name().to_owned(),
                    what: "walking the binlog".to_owned(),
                    message: format!(
                        "{} is listed but not on the server's disk, and a walk from a file \
                         that declares no GTIDs cannot pass it",
                        self.source.file_name()
                    ),
                };
                return Err(self
                    .failures
                    .transport(self.source.name().to_owned(), missing));
            }
            return Ok(false);
        };
        if position > self.index
            && let Some(progress) = &self.progress
        {
            progress.file_done();
        }
        self.index = position;
        Ok(true)
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

    /// A network failure inside the search comes out as the same `RemoteError`, still
    /// retryable, whether it reached the search through the binlog reader or from the
    /// sequence: the search carries only its marker, and the failure waits, typed, beside it.
    #[test]
    fn a_network_failure_inside_the_search_comes_back_whole() {
        let settings = ConnSettings::from_url("mysql://repl@127.0.0.1:3307", None).unwrap();
        let dropped = || RemoteError::Connection {
            server: settings.address(),
            what: "reading the binlog stream".to_owned(),
            message: "connection reset by peer".to_owned(),
        };
        for origin in [settings.address(), "mysql-bin.000002".to_owned()] {
            let failures = Failures::default();
            let error = ResolveError::Binlog(failures.transport(origin, dropped()));
            let error = remote_error(&settings, error, &failures);
            assert!(matches!(error, RemoteError::Connection { .. }), "{error}");
            assert_eq!(error.recovery(), Recovery::Transient);
            assert_eq!(error.to_string(), dropped().to_string());
        }
        // A marker with no failure kept is a bug, said as one, never a silent success.
        let lost = ResolveError::Binlog(BinlogError::Transport {
            origin: settings.address(),
            reason: dropped().to_string(),
        });
        assert!(matches!(
            remote_error(&settings, lost, &Failures::default()),
            RemoteError::Stopped { .. }
        ));
        // The reader's own errors name the server.
        let corrupt = ResolveError::Binlog(BinlogError::corrupt("f", 4, "bad"));
        assert!(matches!(
            remote_error(&settings, corrupt, &Failures::default()),
            RemoteError::Binlog { .. }
        ));
    }
}
