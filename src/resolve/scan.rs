//! Reading one binlog file on disk for the answer, as fast as the file allows, with the same
//! result as reading it unit by unit (SEMANTICS.md §5, §6).
//!
//! Three ways, tried in this order:
//! 1. **Bisection** (the `commit` basis on files whose transactions start with a GTID event
//!    carrying `immediate_commit_timestamp` and `transaction_length`, MySQL ≥ 8.0.2): jump to a
//!    byte offset, find an event start there ([`BinlogReader::resync`]), walk to the next
//!    transaction's GTID event and compare its commit time; O(log size) reads of a few KiB.
//!    The probes' times must rise with their offsets, and the final short walk must find the
//!    answer where the probes said: anything else means the clock is not monotonic in this
//!    file, and the file is read in full instead (the steps say so). The GTID set before the
//!    answer is PREVIOUS_GTIDS plus the GTIDs of the transactions before it, collected by
//!    hopping from GTID event to GTID event with `transaction_length` (each landing checked
//!    as an event start, each GTID event's checksum verified), on two threads, one per half.
//! 2. **Two halves** (large files whose units start with GTID events): the second half is read
//!    on a second thread from a GTID event near the middle, collecting only the GTIDs of its own
//!    units; the halves' results are joined (the first half's answer wins; otherwise the
//!    second's, with the first half's GTIDs before it).
//! 3. **One pass** over the file, unit by unit.
//!
//! Whenever a faster way meets something it cannot vouch for (a landing that is not an event
//! start, a half that ends inside a unit, a file that declares no GTIDs while the state before
//! it is unknown), it gives the file back to the next way, never a different answer.
//!
//! **Why this bisection halves and the server's interpolates** (`remote::bisect`): both find
//! the last transaction committed before T by probing commit times, but their probes cost
//! different things. Here a probe is a `pread` of a few KiB from the page cache, microseconds
//! each, and landing anywhere is free ([`BinlogReader::resync`] finds an event start in the
//! bytes read), so plain halving is as cheap as any guess and needs no model of the clock. On a
//! server a probe is a `SHOW BINLOG EVENTS` round trip plus a dump opened and closed, tens of
//! milliseconds over a slow link, and only an event start the server names can be dumped from:
//! fewer probes are worth a guess, so the server's search interpolates on the commit clock and
//! falls back to halving when the clock is uneven. Sharing one search with the policy as a
//! parameter would join a synchronous reader and an asynchronous one for the price of a trait
//! over both; the two are kept apart, each with its own tests against the linear reference.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::binlog::reader::Resync;
use crate::binlog::{
    BinlogError, EventSource, EventType, FileEventSource, ReadOptions, UnitRole, events,
};
use crate::gtid::{ExecutedGtids, GtidSet, Tsid};
use crate::unit::{TimeBasis, TransactionUnit, UnitReader, declared_gtids};

use super::explain::{ClockContradiction, NotBisected, Step, Warning};
use super::progress::ReadProgress;
use super::summary::{FileSummary, UnitSpan};
use super::{GtidMode, Request, ResolveError, SearchStats};

/// The read window of a scan: small enough that a window just read is still in the CPU's
/// cache when its events are walked (a large one costs a cache miss per event header).
const SCAN_WINDOW: usize = 1 << 20;

/// When the faster ways are worth their set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanTuning {
    /// Files at least this large are bisected when their clock allows it.
    pub bisect_min_bytes: u64,
    /// Files at least this large are read in two halves.
    pub parallel_min_bytes: u64,
    /// Bisection stops and walks when the range is this small.
    pub walk_span: u64,
}

impl Default for ScanTuning {
    fn default() -> Self {
        ScanTuning {
            bisect_min_bytes: 4 << 20,
            parallel_min_bytes: 32 << 20,
            walk_span: 64 << 10,
        }
    }
}

/// What a file says about the answer.
#[derive(Debug, Clone)]
pub enum FileAnswer {
    /// The first unit at or after T, and the GTIDs executed before it (when tracked).
    Found {
        unit: TransactionUnit,
        executed: ExecutedGtids,
    },
    /// No unit qualifies. `executed`: everything the file holds, when known (the next file
    /// starts from it if it declares nothing itself).
    NotHere { executed: Option<ExecutedGtids> },
}

/// One file read.
#[derive(Debug, Clone)]
pub struct FileScan {
    pub answer: FileAnswer,
    pub warnings: Vec<Warning>,
    pub steps: Vec<Step>,
    pub stats: SearchStats,
    /// The commit times of the transactions read, for the check that they rise.
    pub clock: ClockSeen,
    /// The units read, and whether they are all the file's units.
    pub units: UnitSpan,
    pub whole: bool,
    /// PREVIOUS_GTIDS / GTID_LIST at the file's start, when read.
    pub declared: Option<ExecutedGtids>,
}

impl FileScan {
    /// The file's summary, when every unit of it was read and no answer was found in it
    /// (`tracked`: the GTIDs were followed).
    pub fn summary(&self, tracked: bool) -> Option<FileSummary> {
        let FileAnswer::NotHere { executed } = &self.answer else {
            return None;
        };
        if !self.whole {
            return None;
        }
        let end = match (tracked, &self.declared, executed) {
            (true, Some(_), Some(executed)) => Some(executed.clone()),
            (true, None, Some(ExecutedGtids::None)) => Some(ExecutedGtids::None),
            _ => None,
        };
        Some(FileSummary {
            units: self.units.clone(),
            declared: self.declared.clone(),
            end,
        })
    }
}

/// What a reading of a file notes about each unit it reads, for the clock check and the file's
/// summary; the last unit is marked once, when the reading stops.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub clock: ClockSeen,
    pub units: UnitSpan,
    last: Option<TransactionUnit>,
}

impl Tally {
    /// Notes `unit`; whether it is the answer (at or after T under the request's basis).
    #[inline]
    pub(crate) fn answers(&mut self, unit: &TransactionUnit, request: &Request) -> bool {
        self.clock.see(unit);
        self.units.see(unit);
        unit.time_us(request.basis) >= request.start_us
    }

    /// Keeps `unit`, read and not the answer, as the last one so far.
    #[inline]
    pub(crate) fn passed(&mut self, unit: TransactionUnit) {
        self.last = Some(unit);
    }

    /// The reading stopped at `found` (or after the last unit passed).
    pub(crate) fn finish(mut self, found: Option<&TransactionUnit>) -> (ClockSeen, UnitSpan) {
        self.units.end_at(found.or(self.last.as_ref()));
        (self.clock, self.units)
    }
}

/// The commit times a reading saw, in binlog order, for the check that they rise where files
/// were skipped on the commit clock (SEMANTICS.md §6.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockSeen {
    /// The first transaction read: its position and commit time.
    first: Option<(u64, i64)>,
    last: Option<i64>,
    /// Where the times stopped rising, or a transaction recorded no commit time.
    broken: Option<u64>,
}

impl ClockSeen {
    #[inline]
    pub(crate) fn see(&mut self, unit: &TransactionUnit) {
        if self.broken.is_some() {
            return;
        }
        match unit
            .recorded_commit_us
            .and_then(|us| i64::try_from(us).ok())
        {
            Some(us) if self.last.is_none_or(|last| last <= us) => {
                self.first.get_or_insert((unit.pos, us));
                self.last = Some(us);
            }
            _ => self.broken = Some(unit.pos),
        }
    }

    /// A reading that rose from `first` to `last` without a break (bisection checks its probes
    /// and its walk itself).
    pub(crate) fn rising(first: (u64, i64), last: i64) -> ClockSeen {
        ClockSeen {
            first: Some(first),
            last: Some(last),
            broken: None,
        }
    }

    /// This reading followed by `later`.
    pub fn then(self, later: ClockSeen) -> ClockSeen {
        let crossing = match (self.last, later.first) {
            (Some(last), Some((pos, us))) if us < last => Some(pos),
            _ => None,
        };
        let broken = self.broken.or(later.broken).or(crossing);
        ClockSeen {
            first: self.first.or(later.first),
            last: later.last.or(self.last),
            broken,
        }
    }

    /// Why the times read do not rise, naming the file the last reading was in.
    pub fn contradiction(&self, file: &str) -> Option<ClockContradiction> {
        self.broken
            .map(|pos| ClockContradiction::BackwardsOrMissing {
                file: file.to_owned(),
                pos,
            })
    }
}

/// Where a reading found the answer, or what it ended with.
struct Scanned {
    found: Option<TransactionUnit>,
    /// Before `found`, or everything read when nothing was found.
    executed: ExecutedGtids,
    declared: Option<ExecutedGtids>,
    ended_open: bool,
    warnings: Vec<Warning>,
    stats: SearchStats,
    clock: ClockSeen,
    units: UnitSpan,
    /// Read to the end of the source (not stopped early).
    complete: bool,
}

fn open(path: &Path, newest: bool, window: usize) -> Result<FileEventSource, BinlogError> {
    FileEventSource::open(
        path,
        ReadOptions {
            newest,
            window,
            ..ReadOptions::default()
        },
    )
}

fn stats_of(reader: &FileEventSource) -> SearchStats {
    let read = reader.stats();
    SearchStats {
        files_opened: 1,
        bytes_read: read.bytes_read,
        events_read: read.events,
        ..SearchStats::default()
    }
}

/// Reads units from `units` to the first at or after T; `stop` ends the reading early.
fn find(
    mut units: UnitReader<FileEventSource>,
    request: &Request,
    stop: Option<&AtomicBool>,
    progress: Option<&ReadProgress>,
) -> Result<Scanned, BinlogError> {
    let mut counted = 0;
    let mut count = |units: &UnitReader<FileEventSource>| {
        if let Some(progress) = progress {
            let read = units.source().stats().bytes_read;
            progress.read(read.saturating_sub(counted));
            counted = read;
        }
    };
    let mut found = None;
    let mut read = 0u32;
    let mut tally = Tally::default();
    let mut complete = true;
    while let Some(unit) = units.next_unit()? {
        if tally.answers(&unit, request) {
            found = Some(unit);
            complete = false;
            break;
        }
        tally.passed(unit);
        read = read.wrapping_add(1);
        if read.is_multiple_of(1024) {
            count(&units);
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                complete = false;
                break;
            }
        }
    }
    count(&units);
    let (clock, span) = tally.finish(found.as_ref());
    Ok(Scanned {
        found,
        executed: units.executed().clone(),
        declared: units.initial_gtids().cloned(),
        ended_open: units.ended_open(),
        warnings: units
            .warnings()
            .iter()
            .cloned()
            .map(Warning::Binlog)
            .collect(),
        stats: stats_of(units.source()),
        clock,
        units: span,
        complete,
    })
}

/// Reads file `path` for the answer. `initial`: the GTIDs executed before the file, `None` when
/// unknown. `Ok(None)`: the file cannot be read on its own (it declares no GTIDs while the
/// state before it is unknown); the caller walks the whole sequence instead.
pub(crate) fn scan_file(
    path: &Path,
    newest: bool,
    request: &Request,
    initial: Option<&ExecutedGtids>,
    tuning: &ScanTuning,
    progress: Option<&ReadProgress>,
) -> Result<Option<FileScan>, ResolveError> {
    let len = std::fs::metadata(path)
        .map_err(|source| BinlogError::Io {
            file: path.display().to_string(),
            source,
        })?
        .len();
    let mut steps = Vec::new();
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if request.basis == TimeBasis::Commit && len >= tuning.bisect_min_bytes {
        match bisect(path, newest, request, initial, tuning)? {
            Bisected::Done(mut scan) => {
                scan.steps.splice(0..0, steps);
                return Ok(Some(*scan));
            }
            Bisected::No(why) => {
                if let Some(why) = why {
                    steps.push(Step::NotBisected {
                        file: name.clone(),
                        why,
                    });
                }
            }
        }
    }
    if len >= tuning.parallel_min_bytes
        && let Some(mut scan) = halves(path, newest, request, initial, progress)?
    {
        scan.steps.splice(0..0, steps);
        return Ok(Some(scan));
    }
    let track = request.gtid != GtidMode::Off;
    let reader = open(path, newest, SCAN_WINDOW)?;
    let start = initial.cloned().unwrap_or_default();
    let scanned = find(
        UnitReader::resume(reader, track, start),
        request,
        None,
        progress,
    )?;
    if track && initial.is_none() && scanned.declared.is_none() {
        return Ok(None);
    }
    steps.push(Step::UnitByUnit { file: name });
    Ok(Some(into_scan(scanned, steps)))
}

fn into_scan(scanned: Scanned, steps: Vec<Step>) -> FileScan {
    let whole = scanned.complete && scanned.found.is_none();
    FileScan {
        answer: match scanned.found {
            Some(unit) => FileAnswer::Found {
                unit,
                executed: scanned.executed,
            },
            None => FileAnswer::NotHere {
                executed: Some(scanned.executed),
            },
        },
        warnings: scanned.warnings,
        steps,
        stats: scanned.stats,
        clock: scanned.clock,
        whole,
        units: scanned.units,
        declared: scanned.declared,
    }
}

/// The two halves, on two threads; `None` when the file cannot be split cleanly.
fn halves(
    path: &Path,
    newest: bool,
    request: &Request,
    initial: Option<&ExecutedGtids>,
    progress: Option<&ReadProgress>,
) -> Result<Option<FileScan>, ResolveError> {
    let track = request.gtid != GtidMode::Off;
    let mut probe = open(path, newest, 64 << 10)?;
    if !probe.advance()? || probe.format().is_none() {
        return Ok(None);
    }
    let len = probe.len();
    // Nothing found, or not near enough to tell: one pass instead.
    let Ok(Some(split)) = unit_start_near(&mut probe, len / 2, len)? else {
        return Ok(None);
    };
    let first = open(path, newest, SCAN_WINDOW)?;
    let mut second = open(path, newest, SCAN_WINDOW)?;
    second.advance()?;
    second.seek(split)?;
    let mut first = first;
    first.end_at(split);
    let stop = AtomicBool::new(false);
    let start = initial.cloned().unwrap_or_default();
    let (a, b) = std::thread::scope(|scope| {
        let later = scope.spawn(|| {
            find(
                UnitReader::resume(second, track, ExecutedGtids::None),
                request,
                Some(&stop),
                progress,
            )
        });
        let earlier = find(
            UnitReader::resume(first, track, start),
            request,
            None,
            progress,
        );
        if earlier.as_ref().is_ok_and(|o| o.found.is_some()) {
            stop.store(true, Ordering::Relaxed);
        }
        (earlier, later.join())
    });
    let a = a?;
    if a.ended_open || (track && initial.is_none() && a.declared.is_none()) {
        return Ok(None);
    }
    let mut stats = a.stats;
    stats.bytes_read += probe.stats().bytes_read;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let steps = vec![Step::Halves { file: name, split }];
    if a.found.is_some() {
        return Ok(Some(into_scan(a, steps)));
    }
    let b = match b {
        Ok(b) => b?,
        Err(_) => return Ok(None),
    };
    stats += b.stats;
    let mut executed = a.executed;
    executed.extend(&b.executed);
    let mut warnings = a.warnings;
    warnings.extend(b.warnings);
    Ok(Some(into_scan(
        Scanned {
            complete: b.complete,
            found: b.found,
            executed,
            declared: a.declared,
            ended_open: b.ended_open,
            warnings,
            stats,
            clock: a.clock.then(b.clock),
            units: a.units.then(b.units),
        },
        steps,
    )))
}

/// The offset of the first GTID-family event at or after `from` (and before `limit`), found by
/// resynchronising on an event start and walking; `Ok(None)` if there is none, `Err(at)` if
/// none was found within the resync's reach of `at` (unknown: read the file in order).
fn unit_start_near(
    reader: &mut FileEventSource,
    from: u64,
    limit: u64,
) -> Result<Result<Option<u64>, u64>, BinlogError> {
    let at = match reader.resync(from, limit)? {
        Resync::At(at) => at,
        Resync::None => return Ok(Ok(None)),
        Resync::TooFar => return Ok(Err(from)),
    };
    reader.seek(at)?;
    while reader.advance()? {
        let Some(event) = reader.current() else {
            break;
        };
        if event.offset >= limit {
            break;
        }
        if event
            .header
            .event_type()
            .is_ok_and(|t| t.role() == UnitRole::Gtid)
        {
            return Ok(Ok(Some(event.offset)));
        }
    }
    Ok(Ok(None))
}

enum Bisected {
    Done(Box<FileScan>),
    /// Not bisected; why, when the file looked bisectable but was not.
    No(Option<NotBisected>),
}

/// A transaction start found by a probe.
#[derive(Debug, Clone, Copy)]
struct Probe {
    offset: u64,
    commit_us: i64,
}

/// A GTID-family event at or after `from` and before `limit`, with its commit time.
enum ProbeResult {
    At(Probe),
    None,
    /// A transaction without a commit timestamp: the file cannot be bisected.
    NoClock(u64),
    /// No event start found near this offset: unknown whether a transaction starts after it,
    /// so the file cannot be bisected.
    TooFar(u64),
}

fn probe_at(
    reader: &mut FileEventSource,
    from: u64,
    limit: u64,
) -> Result<ProbeResult, BinlogError> {
    let at = match unit_start_near(reader, from, limit)? {
        Ok(Some(at)) => at,
        Ok(None) => return Ok(ProbeResult::None),
        Err(at) => return Ok(ProbeResult::TooFar(at)),
    };
    let event_type = reader
        .current()
        .and_then(|e| e.header.event_type().ok())
        .unwrap_or(EventType::Unknown);
    if event_type == EventType::MariaGtid {
        return Ok(ProbeResult::NoClock(at));
    }
    let body = reader.body()?;
    let decoded = events::mysql_gtid(event_type, body)
        .map_err(|what| BinlogError::corrupt(reader.name(), at, what))?;
    match decoded
        .immediate_commit_us
        .and_then(|us| i64::try_from(us).ok())
    {
        Some(commit_us) => Ok(ProbeResult::At(Probe {
            offset: at,
            commit_us,
        })),
        None => Ok(ProbeResult::NoClock(at)),
    }
}

/// Bisection by commit time; see the module documentation.
fn bisect(
    path: &Path,
    newest: bool,
    request: &Request,
    initial: Option<&ExecutedGtids>,
    tuning: &ScanTuning,
) -> Result<Bisected, ResolveError> {
    let track = request.gtid != GtidMode::Off;
    let mut reader = open(path, newest, 16 << 10)?;
    let Some((first, first_commit, declared, base)) =
        first_transaction(&mut reader, initial, track)?
    else {
        return Ok(Bisected::No(None));
    };
    let len = reader.len();
    let t = request.start_us;
    let (probes, lo, hi) = match bracket(&mut reader, (first.offset, first_commit), len, t, tuning)?
    {
        Ok(bracket) => bracket,
        Err(why) => return Ok(Bisected::No(Some(why))),
    };
    let probe_count = probes.len();
    let mut stats = stats_of(&reader);

    // The last stretch, unit by unit, checking the clock on the way.
    reader.seek(lo)?;
    let mut units = UnitReader::resume(reader, false, ExecutedGtids::None);
    let (found, previous, walked) = match walk_stretch(&mut units, t, hi)? {
        Ok(walked) => walked,
        Err(why) => return Ok(Bisected::No(Some(why))),
    };
    let warnings: Vec<Warning> = units
        .warnings()
        .iter()
        .cloned()
        .map(Warning::Binlog)
        .collect();
    let read = units.source().stats();
    stats.bytes_read = read.bytes_read;
    stats.events_read = read.events;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut steps = vec![Step::Bisected {
        file: name.clone(),
        probes: probe_count,
        walked,
    }];
    let Some(unit) = found else {
        if hi < len || units.ended_open() {
            // A probe saw a transaction at or after T that the walk did not reach.
            return Ok(Bisected::No(Some(NotBisected::DisagreeWithProbes)));
        }
        return Ok(Bisected::Done(Box::new(FileScan {
            answer: FileAnswer::NotHere { executed: None },
            warnings,
            steps,
            stats,
            clock: ClockSeen::rising((first.offset, first_commit), previous.max(first_commit)),
            units: UnitSpan::default(),
            whole: false,
            declared: declared.clone(),
        })));
    };
    let executed = if track {
        let split = probes
            .iter()
            .map(|p| p.offset)
            .filter(|&o| o > first.offset && o < unit.pos)
            .min_by_key(|&o| o.abs_diff(first.offset + (unit.pos - first.offset) / 2));
        match hop_gtids(path, newest, first.offset, split, unit.pos)? {
            Some((gtids, bytes)) => {
                stats.bytes_read += bytes;
                let mut executed = base;
                executed.extend(&gtids);
                steps.push(Step::GtidsHopped {
                    file: name.clone(),
                    two_threads: split.is_some(),
                });
                executed
            }
            None => {
                return Ok(Bisected::No(Some(NotBisected::TransactionLength)));
            }
        }
    } else {
        ExecutedGtids::None
    };
    let clock = ClockSeen::rising((first.offset, first_commit), unit.commit_us());
    Ok(Bisected::Done(Box::new(FileScan {
        answer: FileAnswer::Found { unit, executed },
        warnings,
        steps,
        stats,
        clock,
        units: UnitSpan::default(),
        whole: false,
        declared,
    })))
}

/// The file's first transaction, when the file can be bisected: its GTID event (which must
/// record `immediate_commit_timestamp` and `transaction_length`), that commit time, the GTIDs the
/// file declares, and the GTIDs before it (declared, else `initial`; none needed when not
/// tracked).
#[allow(clippy::type_complexity)]
fn first_transaction(
    reader: &mut FileEventSource,
    initial: Option<&ExecutedGtids>,
    track: bool,
) -> Result<
    Option<(
        crate::binlog::EventRef,
        i64,
        Option<ExecutedGtids>,
        ExecutedGtids,
    )>,
    ResolveError,
> {
    // The events before the first transaction: PREVIOUS_GTIDS, then the first GTID event.
    let declared = declared_gtids(reader)?;
    while reader
        .current()
        .and_then(|e| e.header.event_type().ok())
        .is_some_and(|t| t.role() == UnitRole::Outside)
    {
        if !reader.advance()? {
            break;
        }
    }
    let Some(first) = reader.current() else {
        return Ok(None);
    };
    let first_type = first.header.event_type().unwrap_or(EventType::Unknown);
    if !first_type.is_mysql_gtid() || !reader.has_own_positions() {
        return Ok(None);
    }
    let decoded = events::mysql_gtid(first_type, reader.body()?)
        .map_err(|what| BinlogError::corrupt(reader.name(), first.offset, what))?;
    let (Some(first_commit), Some(_)) = (
        decoded
            .immediate_commit_us
            .and_then(|us| i64::try_from(us).ok()),
        decoded.transaction_length,
    ) else {
        return Ok(None);
    };
    let base = match (&declared, initial) {
        (Some(declared), _) => declared.clone(),
        (None, Some(initial)) => initial.clone(),
        (None, None) if !track => ExecutedGtids::None,
        (None, None) => return Ok(None),
    };
    Ok(Some((first, first_commit, declared, base)))
}

/// Probes between the file's first transaction (`first`: its offset and commit time) and its
/// end (`len`) by halving until less than `tuning.walk_span` is left: the probes sorted by
/// offset, and the stretch `[lo, hi)` where the first transaction at or after `t` starts; why
/// not, when a probe finds no clock, no event start, or times that do not rise.
#[allow(clippy::type_complexity)]
fn bracket(
    reader: &mut FileEventSource,
    first: (u64, i64),
    len: u64,
    t: i64,
    tuning: &ScanTuning,
) -> Result<Result<(Vec<Probe>, u64, u64), NotBisected>, ResolveError> {
    let mut probes = vec![Probe {
        offset: first.0,
        commit_us: first.1,
    }];
    let (mut lo, mut hi) = (first.0, len);
    if first.1 < t {
        while hi - lo > tuning.walk_span {
            let mid = lo + (hi - lo) / 2;
            match probe_at(reader, mid, hi)? {
                ProbeResult::At(probe) => {
                    probes.push(probe);
                    if probe.commit_us < t {
                        lo = probe.offset;
                    } else {
                        hi = probe.offset;
                    }
                }
                ProbeResult::None => hi = mid,
                ProbeResult::NoClock(at) => return Ok(Err(NotBisected::NoCommitTime { at })),
                ProbeResult::TooFar(at) => {
                    return Ok(Err(NotBisected::NoEventNear {
                        at,
                        mib: crate::binlog::reader::MAX_RESYNC_SCAN >> 20,
                    }));
                }
            }
        }
    } else {
        hi = first.0;
    }
    probes.sort_by_key(|p| p.offset);
    if !probes.windows(2).all(|w| w[0].commit_us <= w[1].commit_us) {
        return Ok(Err(NotBisected::ProbesBackwards));
    }
    Ok(Ok((probes, lo, hi)))
}

/// The last stretch, unit by unit from where the probes left off, checking the clock on the
/// way: the first unit at or after `t` (if any), the last commit time read and how many units
/// were passed; why not, when the clock does not rise or the walk passes `hi` without it.
#[allow(clippy::type_complexity)]
fn walk_stretch(
    units: &mut UnitReader<FileEventSource>,
    t: i64,
    hi: u64,
) -> Result<Result<(Option<TransactionUnit>, i64, u64), NotBisected>, ResolveError> {
    let mut previous = i64::MIN;
    let mut walked = 0u64;
    loop {
        let Some(unit) = units.next_unit()? else {
            return Ok(Ok((None, previous, walked)));
        };
        let time = unit.commit_us();
        if time < previous || unit.recorded_commit_us.is_none() {
            return Ok(Err(NotBisected::NotMonotonic { at: unit.pos }));
        }
        previous = time;
        if time >= t {
            return Ok(Ok((Some(unit), previous, walked)));
        }
        walked += 1;
        if unit.pos > hi {
            return Ok(Err(NotBisected::DisagreeWithProbes));
        }
    }
}

/// The GTIDs of the transactions in `[from, to)` (`from` and `to` transaction starts, `split`
/// one between them to cut the work in two), by hopping with `transaction_length`; `None` when a
/// hop does not land on an event start exactly at `to` (or at `split`).
fn hop_gtids(
    path: &Path,
    newest: bool,
    from: u64,
    split: Option<u64>,
    to: u64,
) -> Result<Option<(ExecutedGtids, u64)>, BinlogError> {
    let Some(split) = split else {
        return hop_range(path, newest, from, to);
    };
    let (a, b) = std::thread::scope(|scope| {
        let later = scope.spawn(|| hop_range(path, newest, split, to));
        let earlier = hop_range(path, newest, from, split);
        (earlier, later.join())
    });
    let (Some((mut gtids, bytes_a)), Ok(Ok(Some((more, bytes_b))))) = (a?, b) else {
        return Ok(None);
    };
    gtids.extend(&more);
    Ok(Some((gtids, bytes_a + bytes_b)))
}

fn hop_range(
    path: &Path,
    newest: bool,
    from: u64,
    to: u64,
) -> Result<Option<(ExecutedGtids, u64)>, BinlogError> {
    let mut reader = open(path, newest, 1 << 20)?;
    reader.advance()?;
    reader.seek(from)?;
    let mut set = GtidSet::new();
    // Consecutive GNOs of one source, added to the set as one range.
    let mut run: Option<(Tsid, u64, u64)> = None;
    let mut any = false;
    loop {
        if reader.position() == to {
            if let Some((tsid, first, last)) = run.take() {
                set.add_range(&tsid, first, last);
            }
            let bytes = reader.stats().bytes_read;
            return Ok(Some((
                if any {
                    ExecutedGtids::MySql(set)
                } else {
                    ExecutedGtids::None
                },
                bytes,
            )));
        }
        if reader.position() > to || !reader.plausible_at(reader.position())? {
            return Ok(None);
        }
        if !reader.advance()? {
            return Ok(None);
        }
        let Some(event) = reader.current() else {
            return Ok(None);
        };
        let event_type = event.header.event_type().unwrap_or(EventType::Unknown);
        if !event_type.is_mysql_gtid() {
            continue;
        }
        let decoded = events::mysql_gtid(event_type, reader.body()?)
            .map_err(|what| BinlogError::corrupt(reader.name(), event.offset, what))?;
        if let Some(gtid) = decoded.gtid {
            any = true;
            match &mut run {
                Some((tsid, _, last)) if *tsid == gtid.tsid && gtid.gno == *last + 1 => {
                    *last = gtid.gno;
                }
                _ => {
                    if let Some((tsid, first, last)) = run.take() {
                        set.add_range(&tsid, first, last);
                    }
                    run = Some((gtid.tsid, gtid.gno, gtid.gno));
                }
            }
        }
        match decoded.transaction_length {
            Some(length) if length >= u64::from(event.header.event_size) => {
                reader.seek(event.offset + length)?;
            }
            _ => {}
        }
    }
}
