//! A start time → a binlog location (SEMANTICS.md §5), from any `BinlogSequence`: files on
//! disk (`local`) or a live server (`crate::remote`).
//!
//! [`resolve`] skips a file only on a sound bound (SEMANTICS.md §6), never on a file's creation
//! time: a long statement that rotates the log dates the new file at its *start*, before
//! transactions other sessions committed into the file before it.
//! - **The commit clock** (the `commit` basis on files whose GTID events record
//!   `immediate_commit_timestamp`, MySQL ≥ 8.0.1): commit times rise across the files of one
//!   server, so the first transaction of file k bounds every file before it. A k-ary search over
//!   the files' first commit times (each probe reads a file up to its first GTID event) finds the
//!   last file whose first transaction committed before T; the reading starts there. Every commit
//!   time read (the probes', then every transaction read) must rise, or the resolution starts
//!   over from the first file.
//! - **A summary from a full read** ([`summary`], kept in [`cache`]): a file whose proven
//!   summary puts every unit before T is skipped wherever it lies, its GTID state carried on.
//! - **Everything else** (MariaDB, MySQL ≤ 5.7, the `begin` basis, several servers in one DM
//!   relay directory, no summary): the file is read, since it may hold a transaction at or
//!   after T.
//! - **An assumption the user turned on** ([`Assumption`]): files it bounds before T are skipped;
//!   a unit read that contradicts it turns it off and the resolution starts over without it.
//!
//! The creation second of the first file keeps one role: a start time before it (plus a second)
//! is BelowLowerBound (§5.1).
//!
//! Files are read one at a time ([`BinlogSequence::read_file`]: bisected where the commit clock
//! allows, else in two halves or one pass), the GTID state carried from file to file, so the
//! exact GTID set before the answer comes out of the reading. Every file read in full that is no
//! longer written leaves its summary behind.
//!
//! [`linear::resolve_linear`] is the plain reading of §5 — every unit of every file, in order —
//! kept as the reference the fast path is tested against.
//!
//! Costs: with the commit clock, O(log F) probes of a few hundred bytes each plus one read of the
//! target file up to the answer (bisected where it can be); otherwise one sequential read of
//! every file up to the answer that has no summary, plus an identity check of a few KiB per file
//! that has one.

pub mod cache;
pub mod explain;
#[doc(hidden)]
pub mod index;
#[doc(hidden)]
pub mod linear;
pub(crate) mod local;
pub(crate) mod progress;
pub(crate) mod scan;
#[doc(hidden)]
pub mod summary;

use std::fmt;
use std::time::Instant;

use crate::binlog::{BinlogError, EventSource};
use crate::gtid::ExecutedGtids;
use crate::source::local::LocalSourceError;
use crate::unit::{FirstCommit, TimeBasis, TransactionUnit, UnitReader};

use explain::{
    AssumptionBroken, At, ClockContradiction, FileReason, NoClockSkip, Note, ReadStart, Step,
    Warning,
};
use scan::{ClockSeen, FileAnswer, FileScan};
use summary::FileSummary;

#[doc(hidden)]
pub use local::{LocalSequence, resolve_files, resolve_files_tuned, resolve_files_with_progress};
pub use progress::{ProgressSnapshot, ReadProgress};
pub use scan::ScanTuning;

/// Whether to compute the GTID set at the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GtidMode {
    /// When the binlog carries GTIDs; `""` when it does not.
    Auto,
    /// Required: a binlog without GTIDs is an error.
    On,
    /// Not computed (`""`), and not paid for.
    Off,
}

/// What to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// T, in µs since the epoch.
    pub start_us: i64,
    /// Which clock a transaction's time is read from.
    pub basis: TimeBasis,
    /// Whether to compute the GTID set executed before the answer.
    pub gtid: GtidMode,
}

/// Something the binlog does not prove, that the user may choose to rely on to skip files
/// without reading them (SEMANTICS.md §6, last paragraph). Off unless asked for; a unit read
/// that contradicts it turns it off for the rest of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assumption {
    /// No statement (nor a replica's applying of a transaction) ran longer than this many µs:
    /// the log was rotated at most that long after the next file's creation second, so every
    /// unit of a file is before the next file's creation second + 1 s + this.
    MaxStatement {
        /// The longest statement, in µs.
        us: i64,
    },
    /// A local file's modification time bounds its units: header times never run ahead of the
    /// server's clock, and the file was last written (or copied) after them.
    FileMtime,
}

impl Assumption {
    /// The name answers carry.
    pub fn name(&self) -> String {
        match self {
            Assumption::MaxStatement { us } => format!(
                "max-statement={}",
                humantime::format_duration(std::time::Duration::from_micros(
                    u64::try_from(*us).unwrap_or(0)
                ))
            ),
            Assumption::FileMtime => "mtime-bounds".to_owned(),
        }
    }
}

/// SEMANTICS.md §5's three outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A transaction committed at or after T is in the binlog: the answer is where it starts.
    InRange,
    /// Every transaction in the binlog is at or after T, so T may be before the oldest file
    /// (older ones were purged): the answer is the oldest file's start, with a warning.
    BelowLowerBound,
    /// Every transaction in the binlog is before T: there is no location to give.
    AboveUpperBound,
}

impl Status {
    /// The name DM and JSON output use (`InRange`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InRange => "InRange",
            Status::BelowLowerBound => "BelowLowerBound",
            Status::AboveUpperBound => "AboveUpperBound",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where replication starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogLocation {
    /// The binlog file's name, as `SHOW BINARY LOGS` gives it.
    pub file: String,
    /// Byte offset in the file where the transaction starts (4: the file's start).
    pub pos: u64,
    /// The DM relay sub-directory holding `file`, for relay directories.
    pub relay_subdir: Option<String>,
}

/// The unit the answer starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedUnit {
    /// The binlog file the unit is in.
    pub file: String,
    /// The unit.
    pub unit: TransactionUnit,
}

/// Counters for `--explain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Files opened, or binlog dumps requested from a server.
    pub files_opened: u64,
    /// Bytes read from files, or received from a server.
    pub bytes_read: u64,
    /// Events decoded.
    pub events_read: u64,
    /// Network round trips (0 for local files).
    pub round_trips: u64,
    /// Wall time of the search, in µs.
    pub elapsed_us: u64,
}

impl std::ops::AddAssign for SearchStats {
    fn add_assign(&mut self, other: SearchStats) {
        self.files_opened += other.files_opened;
        self.bytes_read += other.bytes_read;
        self.events_read += other.events_read;
        self.round_trips += other.round_trips;
        self.elapsed_us += other.elapsed_us;
    }
}

/// The answer, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Which of the three outcomes this is.
    pub status: Status,
    /// `None` for AboveUpperBound.
    pub location: Option<BinlogLocation>,
    /// The GTIDs executed before the location; `None` when not computed (`GtidMode::Off`) and
    /// for AboveUpperBound.
    pub gtid: Option<ExecutedGtids>,
    /// The transaction the answer starts at; `None` when none follows it.
    pub matched: Option<MatchedUnit>,
    /// For the user: purged gaps, skipped transactions, the lower bound.
    pub warnings: Vec<Warning>,
    /// How the answer was reached, for `--explain`.
    pub steps: Vec<Step>,
    /// What became of each file of the sequence, in order (empty for the linear reference).
    pub files: Vec<FileVisit>,
    /// About how it was reached rather than the answer (a cache not used), for stderr.
    pub notes: Vec<Note>,
    /// The assumption the answer rests on, when files were skipped on one (its name).
    pub assumption: Option<String>,
    /// What the search read.
    pub stats: SearchStats,
}

/// What the search did with one file, and why (`--explain`, `--output json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVisit {
    /// The file's name.
    pub name: String,
    /// The DM relay sub-directory holding it, for relay directories.
    pub relay_subdir: Option<String>,
    /// Whether it was read or skipped, and on what.
    pub decision: FileDecision,
    /// Why, with the data the decision rests on.
    pub why: FileReason,
    /// The latest unit time (either basis) of the units read in it, or of its summary.
    pub latest_us: Option<i64>,
}

/// What the search did with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDecision {
    /// Every transaction in it committed before T, by the commit clock (SEMANTICS.md §6.1).
    SkippedOnCommitClock,
    /// Every transaction in it is before T, by its cached summary (SEMANTICS.md §6.2).
    SkippedOnSummary,
    /// Every transaction in it is before T if the assumption the user turned on holds.
    SkippedOnAssumption,
    /// Read, in full or up to the answer.
    Read,
    /// Not needed: the answer is before it.
    NotRead,
}

impl FileDecision {
    /// The name `--output json` uses (`skipped-on-commit-clock`…).
    pub fn as_str(self) -> &'static str {
        match self {
            FileDecision::SkippedOnCommitClock => "skipped-on-commit-clock",
            FileDecision::SkippedOnSummary => "skipped-on-summary",
            FileDecision::SkippedOnAssumption => "skipped-on-assumption",
            FileDecision::Read => "read",
            FileDecision::NotRead => "not-read",
        }
    }
}

impl Resolution {
    /// An answer of `status`, with nothing else known yet.
    fn bare(status: Status, warnings: Vec<Warning>, stats: SearchStats) -> Resolution {
        Resolution {
            status,
            location: None,
            gtid: None,
            matched: None,
            warnings,
            steps: Vec::new(),
            files: Vec::new(),
            notes: Vec::new(),
            assumption: None,
            stats,
        }
    }

    /// InRange at `unit` of `file` (SEMANTICS.md §5.2).
    pub(crate) fn in_range(
        file: SequenceFile,
        unit: TransactionUnit,
        gtid: Option<ExecutedGtids>,
        warnings: Vec<Warning>,
        stats: SearchStats,
    ) -> Resolution {
        Resolution {
            status: Status::InRange,
            location: Some(BinlogLocation {
                file: file.name.clone(),
                pos: unit.pos,
                relay_subdir: file.relay_subdir,
            }),
            gtid,
            matched: Some(MatchedUnit {
                file: file.name,
                unit,
            }),
            ..Resolution::bare(Status::InRange, warnings, stats)
        }
    }

    /// BelowLowerBound: the start of `first`, the oldest file (SEMANTICS.md §5.1).
    pub(crate) fn below_lower_bound(
        first: SequenceFile,
        gtid: Option<ExecutedGtids>,
        warnings: Vec<Warning>,
    ) -> Resolution {
        Resolution {
            status: Status::BelowLowerBound,
            location: Some(BinlogLocation {
                file: first.name,
                pos: 4,
                relay_subdir: first.relay_subdir,
            }),
            gtid,
            ..Resolution::bare(Status::BelowLowerBound, warnings, SearchStats::default())
        }
    }

    /// AboveUpperBound (SEMANTICS.md §5.3): no location matches the start time.
    pub fn too_late(warnings: Vec<Warning>, stats: SearchStats) -> Resolution {
        Resolution::bare(Status::AboveUpperBound, warnings, stats)
    }

    /// `binlog_gtid` as SEMANTICS.md §7 prints it (`""` when none or not computed).
    pub fn gtid_text(&self) -> String {
        self.gtid
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}

/// Why a resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A binlog file cannot be read (damaged, cut short, encrypted).
    #[error(transparent)]
    Binlog(#[from] BinlogError),
    /// The local directory cannot be listed.
    #[error(transparent)]
    Source(#[from] LocalSourceError),
    /// `--gtid on` asked for a GTID set, and the binlog has none.
    #[error(
        "{file}: the binlog carries no GTIDs (written with gtid_mode=OFF?), so --gtid on cannot \
         be met; use --gtid auto or --gtid off"
    )]
    NoGtids {
        /// The file the answer is in.
        file: String,
    },
    /// The sequence has no file.
    #[error("there is no binlog file to search")]
    NoFiles,
    /// A clock check failed where none was asked for (a bug).
    #[error(
        "internal error: a clock check failed where none was asked for ({0}); please report it"
    )]
    UnaskedClockCheck(ClockContradiction),
    /// A thread of the search stopped with a panic (a bug).
    #[error("internal error: {0} thread panicked; please report it")]
    ThreadPanicked(&'static str),
}

/// What a probe learns about one file: when it was created, the GTIDs it declares executed
/// before its first event, and (for a deep probe) its first transaction's commit clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProbe {
    /// The FDE's header second; `None` for a newest file with no event yet.
    pub created: Option<u32>,
    /// PREVIOUS_GTIDS / GTID_LIST; `None` when the file has neither.
    pub declared: Option<ExecutedGtids>,
    /// The first transaction's commit time; `NoClock` when the probe did not look that far.
    pub first: FirstCommit,
}

/// How a reading from a chosen file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The answer, found in the files read.
    Answer(Box<Resolution>),
    /// A commit time read went backwards (or a transaction recorded none) while the files before
    /// were skipped on the commit clock: the skip is not sound; why.
    ClockContradicted(ClockContradiction),
}

/// One file of a sequence, as the answer names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceFile {
    /// The file's name.
    pub name: String,
    /// The DM relay sub-directory holding it, for relay directories.
    pub relay_subdir: Option<String>,
}

/// Events from the start of one file of a sequence through the later ones.
#[doc(hidden)]
pub trait Walk: EventSource {
    /// Index in the sequence of the file the current event belongs to.
    fn file_index(&self) -> usize;
    /// Bytes read or received and events seen so far.
    fn stats(&self) -> SearchStats;
}

/// What the search knows of the files of one source before reading them: their names in
/// order, sizes and modification times, and which listed ones are gone.
#[doc(hidden)]
pub trait Listing {
    /// The files, oldest first.
    fn files(&self) -> &[SequenceFile];

    /// Purged files listed between the first present file and file `index`.
    fn gap_before(&self, index: usize) -> Vec<String>;

    /// Whether files older than the first one were purged.
    fn purged_before_first(&self) -> bool;

    /// The size of file `index`, when known.
    fn size(&self, index: usize) -> Option<u64>;

    /// The modification time of file `index` in µs, for [`Assumption::FileMtime`] (local files
    /// only: a server's files have none).
    fn modified_us(&self, index: usize) -> Option<i64>;
}

/// The summary store as the search uses it (SEMANTICS.md §6.2), and the notes it leaves.
#[doc(hidden)]
pub trait Summaries {
    /// A summary of file `index` proven to belong to it, when one is kept.
    fn summary(&mut self, index: usize) -> Result<Option<FileSummary>, ResolveError>;

    /// The summary the cache holds under file `index`'s name, whatever file it was made from
    /// (`Some(None)`: one that cannot be read): for `index --verify`, to tell a stale entry from
    /// none, never to trust.
    fn stored_summary(&mut self, index: usize) -> Option<Option<FileSummary>>;

    /// Drops what the cache holds for file `index` (`index --verify`, for a summary whose file
    /// does not read as one).
    fn forget(&mut self, index: usize);

    /// Keeps the summary of file `index`, read in full (a file that is no longer written).
    fn remember(&mut self, index: usize, summary: FileSummary);

    /// Notes for the user (the cache not used, a summary out of date), once each.
    fn take_notes(&mut self) -> Vec<Note>;
}

/// Reading the binlog files of one source: probes of their first events, walks across them,
/// whole files; with their [`Listing`] and [`Summaries`], all the search is given.
#[doc(hidden)]
pub trait BinlogSequence: Listing + Summaries {
    /// A walk across the files, from one on.
    type Walk: Walk;

    /// Probes the files at `indices` (the implementation may do so concurrently); `deep` reads on
    /// to each file's first transaction for [`FileProbe::first`].
    fn probe(&mut self, indices: &[usize], deep: bool) -> Result<Vec<FileProbe>, ResolveError>;

    /// How many probes the search should ask for at once: 1 gives a binary search; a live
    /// server with concurrent probes takes fewer, wider rounds.
    fn probe_width(&self) -> usize {
        1
    }

    /// Events from the start of file `index` on.
    fn walk_from(&mut self, index: usize) -> Result<Self::Walk, ResolveError>;

    /// What probing has cost so far.
    fn stats(&self) -> SearchStats;

    /// Counts files `start..` as to be read, for a progress bar.
    fn plan(&mut self, start: usize);

    /// The assumption the user turned on, if any.
    fn assumption(&self) -> Option<Assumption>;

    /// Reads file `index` for the answer; `initial`: the GTIDs executed before it, when known.
    /// `Ok(None)`: it cannot be read on its own (it declares no GTIDs while the state before it
    /// is unknown).
    fn read_file(
        &mut self,
        index: usize,
        request: &Request,
        initial: Option<&ExecutedGtids>,
    ) -> Result<Option<FileScan>, ResolveError>;

    /// The answer, reading from file `start` on (the search chose it). `check_clock`: the files
    /// before `start` were skipped on the commit clock, so every transaction read must record a
    /// commit time no earlier than the one before it.
    fn resolve_from(
        &mut self,
        start: usize,
        request: &Request,
        check_clock: bool,
        steps: &mut Vec<Step>,
    ) -> Result<Reading, ResolveError>
    where
        Self: Sized,
    {
        read_files(self, start, request, check_clock, steps)
    }
}

/// Reads the files from `start` on, one at a time, to the answer: a file whose proven summary
/// shows every unit before T is skipped (its end state carried on), any other is read
/// ([`BinlogSequence::read_file`]); a file read in full leaves its summary behind. The GTID state
/// is carried from file to file; a file that cannot be read on its own makes the walk start over
/// from `start` as one stream.
pub(crate) fn read_files<S: BinlogSequence>(
    sequence: &mut S,
    start: usize,
    request: &Request,
    check_clock: bool,
    steps: &mut Vec<Step>,
) -> Result<Reading, ResolveError> {
    let count = sequence.files().len();
    let track = request.gtid != GtidMode::Off;
    let mut carried = Some(ExecutedGtids::None);
    let mut warnings = Vec::new();
    let mut file_steps = Vec::new();
    let mut stats = SearchStats::default();
    let mut clock = ClockSeen::default();
    let mut visited = Vec::new();
    sequence.plan(start);
    for index in start..count {
        let file = sequence.files()[index].clone();
        // Where files are skipped on the commit clock, every unit read must check it: summaries
        // (which do not record it) are not used then.
        if !check_clock
            && let Some(summary) = sequence.summary(index)?
            && summary.all_before(request.basis, request.start_us)
        {
            carried = carried_past(&summary, carried);
            let why = FileReason::SkippedOnSummary {
                latest_us: summary.units.latest(request.basis),
            };
            file_steps.push(Step::SkippedOnSummary {
                file: file.name.clone(),
                reason: why.clone(),
            });
            visited.push(visit(
                &file,
                FileDecision::SkippedOnSummary,
                why,
                &summary.units,
            ));
            continue;
        }
        let Some(scanned) = sequence.read_file(index, request, carried.as_ref())? else {
            steps.push(Step::WalkedForGtids {
                file: file.name.clone(),
                from: sequence.files()[start].name.clone(),
            });
            return walk_to_answer(sequence, start, request, check_clock, steps);
        };
        if check_clock {
            clock = clock.then(scanned.clock);
            if let Some(why) = clock.contradiction(&file.name) {
                return Ok(Reading::ClockContradicted(why));
            }
        }
        if index + 1 < count
            && let Some(summary) = scanned.summary(track)
        {
            sequence.remember(index, summary);
        }
        warnings.extend(scanned.warnings);
        file_steps.extend(scanned.steps);
        stats += scanned.stats;
        match scanned.answer {
            FileAnswer::NotHere { executed } => {
                carried = executed;
                visited.push(visit(
                    &file,
                    FileDecision::Read,
                    FileReason::AllBefore,
                    &scanned.units,
                ));
            }
            FileAnswer::Found { unit, executed } => {
                let gtid = gtid_at(request, executed, &unit, &file)?;
                steps.extend(file_steps);
                steps.push(Step::Found {
                    file: file.name.clone(),
                    pos: unit.pos,
                    basis: request.basis,
                });
                visited.push(visit(
                    &file,
                    FileDecision::Read,
                    FileReason::AnswerIn,
                    &scanned.units,
                ));
                let mut resolution = Resolution::in_range(file, unit, gtid, warnings, stats);
                resolution.files = visited;
                return Ok(Reading::Answer(Box::new(resolution)));
            }
        }
    }
    steps.extend(file_steps);
    steps.push(Step::AllBefore {
        from: sequence.files()[start].name.clone(),
    });
    let mut resolution = Resolution::too_late(warnings, stats);
    resolution.files = visited;
    Ok(Reading::Answer(Box::new(resolution)))
}

/// The GTIDs executed after a file skipped on its `summary`, `before` being those before it:
/// the file's own end state when it declares its start, else `before` extended by what the
/// file holds; unknown when neither is known.
fn carried_past(summary: &FileSummary, before: Option<ExecutedGtids>) -> Option<ExecutedGtids> {
    match (&summary.declared, summary.end.clone(), before) {
        (Some(_), Some(end), _) => Some(end),
        (None, Some(end), Some(mut before)) => {
            before.extend(&end);
            Some(before)
        }
        _ => None,
    }
}

/// The GTID set an answer at `unit` of `file` reports, `executed` being the GTIDs before it:
/// none with `--gtid off`; with `--gtid on`, an error when the binlog carries no GTIDs.
fn gtid_at(
    request: &Request,
    executed: ExecutedGtids,
    unit: &TransactionUnit,
    file: &SequenceFile,
) -> Result<Option<ExecutedGtids>, ResolveError> {
    match request.gtid {
        GtidMode::Off => Ok(None),
        GtidMode::On if executed == ExecutedGtids::None && unit.gtid.is_none() => {
            Err(ResolveError::NoGtids {
                file: file.name.clone(),
            })
        }
        _ => Ok(Some(executed)),
    }
}

fn visit(
    file: &SequenceFile,
    decision: FileDecision,
    why: FileReason,
    units: &summary::UnitSpan,
) -> FileVisit {
    FileVisit {
        name: file.name.clone(),
        relay_subdir: file.relay_subdir.clone(),
        decision,
        why,
        latest_us: units
            .latest(TimeBasis::Commit)
            .max(units.latest(TimeBasis::Begin)),
    }
}

/// Probes, each file at most once.
struct Probes<'s, S: BinlogSequence> {
    sequence: &'s mut S,
    known: Vec<Option<FileProbe>>,
    deep: bool,
}

impl<'s, S: BinlogSequence> Probes<'s, S> {
    fn new(sequence: &'s mut S, deep: bool) -> Self {
        let count = sequence.files().len();
        Probes {
            sequence,
            known: vec![None; count],
            deep,
        }
    }

    fn ensure(&mut self, indices: &[usize]) -> Result<(), ResolveError> {
        let missing: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| self.known[i].is_none())
            .collect();
        if !missing.is_empty() {
            for (index, probe) in missing
                .iter()
                .zip(self.sequence.probe(&missing, self.deep)?)
            {
                self.known[*index] = Some(probe);
            }
        }
        Ok(())
    }

    fn get(&mut self, index: usize) -> Result<&FileProbe, ResolveError> {
        self.ensure(&[index])?;
        Ok(self.known[index].as_ref().expect("probed above"))
    }

    /// The creation second as a bound: a file without an FDE yet sorts after everything.
    fn created_bound(&mut self, index: usize) -> Result<i64, ResolveError> {
        Ok(self.get(index)?.created.map_or(i64::MAX, i64::from))
    }

    /// The commit time that bounds every transaction of the files before `index` (under the
    /// commit clock): the first commit time of the first file at or after `index` that holds a
    /// transaction. `Ok(None)` when no file from `index` on holds one; `Err(())` inside when a
    /// file's first transaction records no commit time.
    fn clock_bound(&mut self, index: usize) -> Result<Result<Option<i64>, usize>, ResolveError> {
        for at in index..self.known.len() {
            match self.get(at)?.first {
                FirstCommit::At { us, .. } => return Ok(Ok(Some(us))),
                FirstCommit::NoUnits => continue,
                FirstCommit::NoClock => return Ok(Err(at)),
            }
        }
        Ok(Ok(None))
    }
}

fn seconds_to_us(seconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000)
}

/// Resolves `request` against `sequence` (SEMANTICS.md §5).
#[doc(hidden)]
pub fn resolve<S: BinlogSequence>(
    sequence: &mut S,
    request: &Request,
) -> Result<Resolution, ResolveError> {
    let started = Instant::now();
    let mut steps = Vec::new();
    let count = sequence.files().len();
    if count == 0 {
        return Err(ResolveError::NoFiles);
    }
    let mut probes = Probes::new(sequence, request.basis == TimeBasis::Commit);
    let mut contradicted = Vec::new();
    let first_created = probes.created_bound(0)?;
    let t = request.start_us;

    let mut resolution = if t < seconds_to_us(first_created.saturating_add(1)) {
        let mut resolution = lower_bound(&mut probes, request, &mut steps)?;
        resolution.files = visits(
            probes.sequence.files(),
            count,
            &resolution,
            None,
            (FileDecision::NotRead, FileReason::BeforeCreation),
        );
        resolution
    } else {
        let (start, mut why_read) = match request.basis {
            TimeBasis::Commit => commit_clock_start(&mut probes, count, t, &mut steps)?,
            TimeBasis::Begin => {
                let why = NoClockSkip::BeginBasis;
                steps.push(Step::ClockSkipsNothing { why: why.clone() });
                (0, ReadStart::FromFirst { why })
            }
        };
        let (mut from, mut check_clock, mut assumed) =
            assumed_start_or(&mut probes, start, t, &mut steps)?;
        let mut resolution = loop {
            match probes
                .sequence
                .resolve_from(from, request, check_clock, &mut steps)?
            {
                Reading::Answer(resolution) => {
                    if let Some(assumption) = assumed
                        && let Some(why) =
                            contradiction(&mut probes, assumption, from, &resolution.files)?
                    {
                        steps.push(Step::AssumptionDoesNotHold {
                            assumption: assumption.name(),
                            why: why.clone(),
                        });
                        contradicted.push(Note::AssumptionDoesNotHold {
                            assumption: assumption.name(),
                            why,
                        });
                        assumed = None;
                        (from, check_clock) = (start, start > 0);
                        continue;
                    }
                    break *resolution;
                }
                Reading::ClockContradicted(why) if check_clock => {
                    steps.push(Step::ClockContradicted {
                        why: why.clone(),
                        file: probes.sequence.files()[from].name.clone(),
                    });
                    why_read = ReadStart::FromFirst {
                        why: NoClockSkip::WentBackwards { why },
                    };
                    (from, check_clock) = (0, false);
                }
                Reading::ClockContradicted(why) => {
                    return Err(ResolveError::UnaskedClockCheck(why));
                }
            }
        };
        resolution.assumption = assumed.map(|a| a.name());
        resolution
            .warnings
            .extend(purged_warning(probes.sequence, &resolution));
        let skipped = skipped_before(probes.sequence.files(), from, assumed);
        resolution.files = visits(
            probes.sequence.files(),
            from,
            &resolution,
            Some(&why_read),
            skipped,
        );
        resolution
    };
    resolution.steps = steps;
    resolution.notes = probes.sequence.take_notes();
    resolution.notes.extend(contradicted);
    resolution.stats += probes.sequence.stats();
    resolution.stats.elapsed_us = started.elapsed().as_micros() as u64;
    Ok(resolution)
}

/// Where reading starts: the assumption's start when the user turned one on and it skips more
/// than the commit clock's `start` does (then no clock check and the assumption in force), else
/// `start`, checking the clock when files before it were skipped on it.
fn assumed_start_or<S: BinlogSequence>(
    probes: &mut Probes<'_, S>,
    start: usize,
    t: i64,
    steps: &mut Vec<Step>,
) -> Result<(usize, bool, Option<Assumption>), ResolveError> {
    let count = probes.sequence.files().len();
    let assumption = probes.sequence.assumption();
    let assumed_start = match assumption {
        Some(assumption) => assumption_start(probes, assumption, count, t)?,
        None => 0,
    };
    Ok(if assumed_start > start {
        steps.push(Step::SkippedOnAssumption {
            count: assumed_start,
            assumption: assumption.map(|a| a.name()).unwrap_or_default(),
            file: probes.sequence.files()[assumed_start].name.clone(),
        });
        (assumed_start, false, assumption)
    } else {
        (start, start > 0, None)
    })
}

/// Why the files before `from` were not read: skipped under the assumption the answer rests on,
/// else on the commit clock.
fn skipped_before(
    files: &[SequenceFile],
    from: usize,
    assumed: Option<Assumption>,
) -> (FileDecision, FileReason) {
    match assumed {
        Some(assumption) => (
            FileDecision::SkippedOnAssumption,
            FileReason::SkippedOnAssumption {
                assumption: assumption.name(),
                file: files[from].name.clone(),
            },
        ),
        None => (
            FileDecision::SkippedOnCommitClock,
            FileReason::SkippedOnClock {
                file: files[from.min(files.len() - 1)].name.clone(),
            },
        ),
    }
}

/// The files the index lists but the directory or server lacks, where they matter: before
/// the answer's file, or (for an answer too late for what is here) after the last file.
fn purged_warning<S: BinlogSequence>(sequence: &S, resolution: &Resolution) -> Option<Warning> {
    let count = sequence.files().len();
    if let Some(location) = &resolution.location {
        let index = sequence
            .files()
            .iter()
            .position(|f| f.name == location.file && f.relay_subdir == location.relay_subdir)
            .unwrap_or(0);
        let gap = sequence.gap_before(index);
        if !gap.is_empty() {
            return Some(Warning::Purged { files: gap });
        }
    } else {
        // Too late for what is here; files listed after the last one are gone.
        let before_last = sequence.gap_before(count - 1);
        let after_last: Vec<String> = sequence
            .gap_before(count)
            .into_iter()
            .filter(|name| !before_last.contains(name))
            .collect();
        if !after_last.is_empty() {
            return Some(Warning::PurgedAfterLast { files: after_last });
        }
    }
    None
}

/// SEMANTICS.md §6.1 under the `commit` basis: the last file whose first transaction committed
/// before T (every file before it is then before T), by a k-ary search over the files' first
/// commit times (k - 1 probes a round, as wide as the sequence allows). The first file when the
/// files record no commit clock, when they come from several servers (DM relay sub-directories),
/// or when the probed commit times do not rise in file order.
fn commit_clock_start<S: BinlogSequence>(
    probes: &mut Probes<'_, S>,
    count: usize,
    t: i64,
    steps: &mut Vec<Step>,
) -> Result<(usize, ReadStart), ResolveError> {
    let files = probes.sequence.files();
    if files
        .iter()
        .any(|f| f.relay_subdir != files[0].relay_subdir)
    {
        let why = NoClockSkip::SeveralServers;
        steps.push(Step::ClockSkipsNothing { why: why.clone() });
        return Ok((0, ReadStart::FromFirst { why }));
    }
    let no_clock = |probes: &mut Probes<'_, S>, at: usize, steps: &mut Vec<Step>| {
        let why = NoClockSkip::NoCommitTime {
            file: probes.sequence.files()[at].name.clone(),
        };
        steps.push(Step::ClockSkipsNothing { why: why.clone() });
        Ok((0, ReadStart::FromFirst { why }))
    };
    match probes.clock_bound(0)? {
        Err(at) => return no_clock(probes, at, steps),
        Ok(Some(us)) if us < t => {}
        Ok(_) => {
            let why = NoClockSkip::FirstFileNotBefore;
            steps.push(Step::ClockSkipsNothing { why: why.clone() });
            return Ok((0, ReadStart::FromFirst { why }));
        }
    }
    let width = probes.sequence.probe_width().max(1);
    let (mut lo, mut hi) = (0, count - 1);
    while lo < hi {
        let span = hi - lo;
        let mut points: Vec<usize> = (1..=width)
            .map(|j| lo + (span * j).div_ceil(width + 1))
            .filter(|&p| p > lo && p <= hi)
            .collect();
        points.dedup();
        probes.ensure(&points)?;
        let mut next_hi = hi;
        for &point in &points {
            match probes.clock_bound(point)? {
                Err(at) => return no_clock(probes, at, steps),
                Ok(Some(us)) if us < t => lo = point,
                Ok(_) => {
                    next_hi = point - 1;
                    break;
                }
            }
        }
        hi = next_hi.max(lo);
    }
    // Everything probed must agree with a rising clock.
    let mut previous = i64::MIN;
    let mut probed = 0;
    for (index, probe) in probes.known.iter().enumerate() {
        if let Some(FileProbe {
            first: FirstCommit::At { us, .. },
            ..
        }) = probe
        {
            probed += 1;
            if *us < previous {
                let why = NoClockSkip::SteppedBack {
                    file: probes.sequence.files()[index].name.clone(),
                };
                steps.push(Step::ClockSkipsNothing { why: why.clone() });
                return Ok((0, ReadStart::FromFirst { why }));
            }
            previous = *us;
        }
    }
    let bound = probes.clock_bound(lo)?.ok().flatten().unwrap_or(i64::MIN);
    if lo > 0 {
        steps.push(Step::SkippedOnClock {
            count: lo,
            file: probes.sequence.files()[lo].name.clone(),
            at_us: bound,
            probed,
            total: count,
        });
    }
    Ok((lo, ReadStart::LastBeforeStart { at_us: bound }))
}

/// What became of each file: skipped before `from` (on the commit clock), read from `from` to
/// the answer's file, not read after it.
fn visits(
    files: &[SequenceFile],
    from: usize,
    resolution: &Resolution,
    why_read: Option<&ReadStart>,
    skipped: (FileDecision, FileReason),
) -> Vec<FileVisit> {
    let answer = resolution.location.as_ref().and_then(|location| {
        files
            .iter()
            .position(|f| f.name == location.file && f.relay_subdir == location.relay_subdir)
    });
    let last_read = answer.unwrap_or(files.len().saturating_sub(1));
    // What the reading itself said about the files it met, from `from` on.
    let known = &resolution.files;
    files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let read = |all_before: bool| match why_read {
                Some(start) => FileReason::Read {
                    start: start.clone(),
                    all_before,
                },
                None => FileReason::AllBefore,
            };
            let (decision, why) = if from >= files.len() {
                // BelowLowerBound: nothing is read.
                let why = if index == 0 {
                    skipped.1.clone()
                } else {
                    FileReason::AnswerBefore
                };
                (FileDecision::NotRead, why)
            } else if index < from {
                skipped.clone()
            } else if let Some(seen) = known.get(index - from) {
                let why = if seen.decision == FileDecision::Read && Some(index) != answer {
                    read(seen.why == FileReason::AllBefore)
                } else {
                    seen.why.clone()
                };
                (seen.decision, why)
            } else if Some(index) == answer {
                (FileDecision::Read, FileReason::AnswerIn)
            } else if index <= last_read {
                (FileDecision::Read, read(false))
            } else {
                (FileDecision::NotRead, FileReason::AnswerBefore)
            };
            FileVisit {
                name: file.name.clone(),
                relay_subdir: file.relay_subdir.clone(),
                decision,
                why,
                latest_us: if index >= from && from < files.len() {
                    known.get(index - from).and_then(|seen| seen.latest_us)
                } else {
                    None
                },
            }
        })
        .collect()
}

/// Under `assumption`, the time every unit of file `index` is before; `None` when it gives none
/// (the newest file under [`Assumption::MaxStatement`], a live server's file under
/// [`Assumption::FileMtime`]).
fn assumed_bound<S: BinlogSequence>(
    probes: &mut Probes<'_, S>,
    assumption: Assumption,
    index: usize,
) -> Result<Option<i64>, ResolveError> {
    Ok(match assumption {
        Assumption::MaxStatement { us } if index + 1 < probes.known.len() => probes
            .get(index + 1)?
            .created
            .map(|created| seconds_to_us(i64::from(created) + 1).saturating_add(us)),
        Assumption::MaxStatement { .. } => None,
        // A unit is at most the modification time; file systems and copies that keep whole
        // seconds (tar, ext3, HFS+) truncate it, so the bound is the next whole second.
        Assumption::FileMtime => probes
            .sequence
            .modified_us(index)
            .map(|us| seconds_to_us(us.div_euclid(1_000_000) + 1)),
    })
}

/// The first file to read under `assumption`: the last one all of whose predecessors end
/// before T by it (a binary search; the bounds rise with the server's real clock).
fn assumption_start<S: BinlogSequence>(
    probes: &mut Probes<'_, S>,
    assumption: Assumption,
    count: usize,
    t: i64,
) -> Result<usize, ResolveError> {
    let (mut lo, mut hi) = (0, count - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match assumed_bound(probes, assumption, mid - 1)? {
            Some(bound) if bound <= t => lo = mid,
            _ => hi = mid - 1,
        }
    }
    Ok(lo)
}

/// A unit read (in the files from `from` on, per `visited`) at or after its file's bound under
/// `assumption`: why the assumption does not hold.
fn contradiction<S: BinlogSequence>(
    probes: &mut Probes<'_, S>,
    assumption: Assumption,
    from: usize,
    visited: &[FileVisit],
) -> Result<Option<AssumptionBroken>, ResolveError> {
    for (offset, seen) in visited.iter().enumerate() {
        let Some(latest) = seen.latest_us else {
            continue;
        };
        if let Some(bound) = assumed_bound(probes, assumption, from + offset)?
            && latest >= bound
        {
            return Ok(Some(AssumptionBroken {
                file: seen.name.clone(),
                latest_us: latest,
                bound_us: bound,
            }));
        }
    }
    Ok(None)
}

/// BelowLowerBound: the first file at 4, with the GTIDs it declares before its first event.
fn lower_bound<S: BinlogSequence>(
    probes: &mut Probes<'_, S>,
    request: &Request,
    steps: &mut Vec<Step>,
) -> Result<Resolution, ResolveError> {
    let first = probes.sequence.files()[0].clone();
    let probe = probes.get(0)?.clone();
    let gtid = match request.gtid {
        GtidMode::Off => None,
        mode => {
            let declared = probe.declared.unwrap_or_default();
            if mode == GtidMode::On && declared == ExecutedGtids::None {
                return Err(ResolveError::NoGtids { file: first.name });
            }
            Some(declared)
        }
    };
    let mut warnings = vec![Warning::BeforeOldest {
        start_us: request.start_us,
        file: first.name.clone(),
        created_us: probe.created.map(|c| seconds_to_us(i64::from(c))),
    }];
    if probes.sequence.purged_before_first() {
        warnings.push(Warning::OlderPurged);
    }
    steps.push(Step::BeforeFirstCreation);
    Ok(Resolution::below_lower_bound(first, gtid, warnings))
}

/// Walks from file `start` on to the first unit at or after T; with `check_clock`, every unit
/// must record a commit time no earlier than the one before it.
pub(crate) fn walk_to_answer<S: BinlogSequence>(
    sequence: &mut S,
    start: usize,
    request: &Request,
    check_clock: bool,
    steps: &mut Vec<Step>,
) -> Result<Reading, ResolveError> {
    let walk = sequence.walk_from(start)?;
    let mut clock = RisingClock::default();
    let files = sequence.files();
    let outcome = walk_units(files, walk, start, request, steps, |unit| match unit {
        Some((unit, index)) if check_clock => clock.see(unit, &files[index].name),
        _ => Ok(()),
    })?;
    Ok(match outcome {
        Ok(resolution) => Reading::Answer(Box::new(resolution)),
        Err(why) => Reading::ClockContradicted(why),
    })
}

/// Checks that commit times rise over the units it sees (SEMANTICS.md §6.1).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RisingClock {
    last: Option<i64>,
}

impl RisingClock {
    pub(crate) fn see(
        &mut self,
        unit: &TransactionUnit,
        file: &str,
    ) -> Result<(), ClockContradiction> {
        let Some(us) = unit
            .recorded_commit_us
            .and_then(|us| i64::try_from(us).ok())
        else {
            return Err(ClockContradiction::NoCommitTime {
                file: file.to_owned(),
                pos: unit.pos,
            });
        };
        if self.last.is_some_and(|last| us < last) {
            return Err(ClockContradiction::Backwards {
                file: file.to_owned(),
                pos: unit.pos,
            });
        }
        self.last = Some(us);
        Ok(())
    }
}

/// Reads `walk`'s units (it starts at a unit of file `start`) to the first one at or after T.
/// `guard` sees each unit before it is judged, with the index of its file, and `None` at the
/// end of the binlog; when it objects (a path's assumption does not hold), the walk stops with
/// its reason instead of an answer.
pub(crate) fn walk_units<W: Walk, E>(
    files: &[SequenceFile],
    walk: W,
    start: usize,
    request: &Request,
    steps: &mut Vec<Step>,
    mut guard: impl FnMut(Option<(&TransactionUnit, usize)>) -> Result<(), E>,
) -> Result<Result<Resolution, E>, ResolveError> {
    let mut units = UnitReader::new(walk, request.gtid != GtidMode::Off);
    let mut skipped = 0u64;
    let found = loop {
        let unit = units.next_unit()?;
        let index = units.source().file_index();
        if let Err(reason) = guard(unit.as_ref().map(|u| (u, index))) {
            return Ok(Err(reason));
        }
        match unit {
            Some(unit) if unit.time_us(request.basis) >= request.start_us => break Some(unit),
            Some(_) => skipped += 1,
            None => break None,
        }
    };
    let warnings: Vec<Warning> = units
        .take_warnings()
        .into_iter()
        .map(Warning::Binlog)
        .collect();
    let stats = units.source().stats();
    let Some(unit) = found else {
        steps.push(Step::Walked {
            from: files[start].name.clone(),
            skipped,
            found: None,
            basis: request.basis,
        });
        return Ok(Ok(Resolution::too_late(warnings, stats)));
    };
    let file = files[units.source().file_index()].clone();
    steps.push(Step::Walked {
        from: files[start].name.clone(),
        skipped,
        found: Some(At {
            file: file.name.clone(),
            pos: unit.pos,
        }),
        basis: request.basis,
    });
    let gtid = gtid_at(request, units.executed().clone(), &unit, &file)?;
    Ok(Ok(Resolution::in_range(file, unit, gtid, warnings, stats)))
}

/// The error text of AboveUpperBound, as DM words it (`input` as the user wrote it).
pub fn too_late_message(input: &str) -> String {
    format!("start-time {input} is too late, no binlog location matches it")
}
