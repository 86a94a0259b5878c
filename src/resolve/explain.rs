//! What a resolution explains, as data: the steps it took ([`Step`]), what it warns about
//! ([`Warning`]), what it notes about how it got there ([`Note`]), and why each file was read or
//! not ([`FileReason`]). The search builds these values from the decision it takes; only
//! `Display` turns them into English, and JSON gives each a stable snake_case `code`, its fields
//! and the `message` ([`coded`]).

use std::fmt;

use serde::Serialize;

use crate::binlog::BinlogWarning;
use crate::start_time::{AmbiguousTime, format_instant};
use crate::unit::TimeBasis;

/// The version of every JSON document startpoint shapes itself (`resolve-position`, each line
/// of `list-units`, `index`; `docs/schemas/`), as `schema_version`: it grows when a field
/// changes meaning or goes, never when one is added. DM's replies (`start-task`,
/// `operate-source`, `query-status`) carry none.
pub const SCHEMA_VERSION: u32 = 1;

/// `{"code": …, <fields>…, "message": <Display>}` for a JSON document.
pub fn coded<T: Serialize + fmt::Display>(item: &T) -> serde_json::Value {
    let mut value = serde_json::to_value(item).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("message".to_owned(), item.to_string().into());
    }
    value
}

fn instant(f: &mut fmt::Formatter<'_>, us: i64) -> fmt::Result {
    f.write_str(&format_instant(us))
}

/// Why the commit clock lets no file be skipped: reading starts at the first file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NoClockSkip {
    /// `--time-basis begin`: begin times do not rise with the file order.
    BeginBasis,
    /// A relay directory holding several servers' binlogs.
    SeveralServers,
    /// The first transaction of `file` records no commit time.
    NoCommitTime {
        /// The binlog file's name.
        file: String,
    },
    /// The first file's first transaction committed at or after the start time.
    FirstFileNotBefore,
    /// The first commit times probed do not rise in file order.
    SteppedBack {
        /// The first file whose first commit time is before an earlier file's.
        file: String,
    },
    /// A commit time read went backwards while files were skipped on the clock.
    WentBackwards {
        /// The commit time that went backwards, and where.
        why: ClockContradiction,
    },
}

impl fmt::Display for NoClockSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoClockSkip::BeginBasis => f.write_str("the begin basis has no monotonic clock"),
            NoClockSkip::SeveralServers => f.write_str(
                "the relay directory holds several servers' binlogs, whose commit clocks do not \
                 bound each other",
            ),
            NoClockSkip::NoCommitTime { file } => write!(
                f,
                "{file}'s first transaction records no commit time (MariaDB, MySQL before 8.0.1, \
                 or no GTID events)"
            ),
            NoClockSkip::FirstFileNotBefore => write!(
                f,
                "the first file's first transaction committed at or after the start time"
            ),
            NoClockSkip::SteppedBack { file } => write!(
                f,
                "{file}'s first transaction committed before the first transaction of a file \
                 before it (the server clock stepped back?)"
            ),
            NoClockSkip::WentBackwards { why } => {
                write!(f, "the commit clock went backwards ({why})")
            }
        }
    }
}

/// A commit time that breaks the rising clock files were skipped on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ClockContradiction {
    /// The transaction at `file:pos` records no commit time.
    NoCommitTime {
        /// The binlog file's name.
        file: String,
        /// Byte offset of the transaction in the file.
        pos: u64,
    },
    /// The transaction at `file:pos` committed before the one before it.
    Backwards {
        /// The binlog file's name.
        file: String,
        /// Byte offset of the transaction in the file.
        pos: u64,
    },
    /// The commit time of the transaction at `file:pos` goes backwards or is missing.
    BackwardsOrMissing {
        /// The binlog file's name.
        file: String,
        /// Byte offset of the transaction in the file.
        pos: u64,
    },
}

impl fmt::Display for ClockContradiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockContradiction::NoCommitTime { file, pos } => {
                write!(f, "the transaction at {file}:{pos} records no commit time")
            }
            ClockContradiction::Backwards { file, pos } => write!(
                f,
                "the transaction at {file}:{pos} committed before the one before it"
            ),
            ClockContradiction::BackwardsOrMissing { file, pos } => write!(
                f,
                "{file}: the commit time of the transaction at {pos} goes backwards or is missing"
            ),
        }
    }
}

/// Why reading starts at the file it starts at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ReadStart {
    /// The commit clock skips nothing.
    FromFirst {
        /// Why the commit clock lets no file be skipped.
        why: NoClockSkip,
    },
    /// The last file whose first transaction committed before the start time, at `at_us`.
    LastBeforeStart {
        /// When that first transaction committed, in microseconds since the epoch.
        at_us: i64,
    },
}

impl fmt::Display for ReadStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadStart::FromFirst { why } => write!(f, "{why}"),
            ReadStart::LastBeforeStart { at_us } => {
                f.write_str(
                    "the last file whose first transaction committed before the start time (at ",
                )?;
                instant(f, *at_us)?;
                f.write_str("), by the commit clock")
            }
        }
    }
}

/// A transaction that shows an assumption does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssumptionBroken {
    /// The binlog file holding the transaction.
    pub file: String,
    /// When the transaction is dated.
    pub latest_us: i64,
    /// What the assumption said every transaction of the file is before.
    pub bound_us: i64,
}

impl fmt::Display for AssumptionBroken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} holds a transaction dated ", self.file)?;
        instant(f, self.latest_us)?;
        f.write_str(", not before ")?;
        instant(f, self.bound_us)
    }
}

/// Why one file was read, skipped or left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FileReason {
    /// The start time is before the file (the first) was created.
    BeforeCreation,
    /// The answer is in an earlier file.
    AnswerBefore,
    /// The answer is in it.
    AnswerIn,
    /// Read because reading starts at or before it (`start`), and every transaction in it is
    /// before the start time when `all_before`.
    Read {
        /// Why reading starts at the file it starts at.
        start: ReadStart,
        /// Whether every transaction in the file is before the start time.
        all_before: bool,
    },
    /// Every transaction in it is before the start time: read in full.
    AllBefore,
    /// Its cached summary shows every transaction before the start time (`latest_us` the latest,
    /// `None` when it holds none).
    SkippedOnSummary {
        /// When its latest transaction is dated, in microseconds since the epoch; `None` when
        /// it holds no transaction.
        latest_us: Option<i64>,
    },
    /// Every transaction in it committed before the first transaction of `file`, which is before
    /// the start time.
    SkippedOnClock {
        /// The binlog file whose first transaction bounds this one.
        file: String,
    },
    /// Under `assumption`, every transaction in it is before `file`'s creation.
    SkippedOnAssumption {
        /// The assumption's name (`mtime-bounds`, `max-statement=…`).
        assumption: String,
        /// The binlog file whose creation bounds this one.
        file: String,
    },
}

impl fmt::Display for FileReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileReason::BeforeCreation => f.write_str("the start time is before it was created"),
            FileReason::AnswerBefore => f.write_str("the answer is before it"),
            FileReason::AnswerIn => f.write_str("the answer is in it"),
            FileReason::Read {
                start,
                all_before: true,
            } => write!(f, "{start}; {}", FileReason::AllBefore),
            FileReason::Read { start, .. } => write!(f, "{start}"),
            FileReason::AllBefore => {
                f.write_str("read in full: every transaction in it is before the start time")
            }
            FileReason::SkippedOnSummary {
                latest_us: Some(latest),
            } => {
                f.write_str(
                    "its cached summary shows every transaction before the start time (the \
                     latest at ",
                )?;
                instant(f, *latest)?;
                f.write_str(")")
            }
            FileReason::SkippedOnSummary { latest_us: None } => {
                f.write_str("its cached summary shows it holds no transaction")
            }
            FileReason::SkippedOnClock { file } => write!(
                f,
                "every transaction in it committed before the first transaction of {file} or a \
                 later file, which is before the start time"
            ),
            FileReason::SkippedOnAssumption { assumption, file } => write!(
                f,
                "assuming {assumption}, every transaction in it is before {file}'s creation and \
                 so before the start time"
            ),
        }
    }
}

/// Why a file that looked bisectable was read in full instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NotBisected {
    /// The transaction at `at` records no commit timestamp.
    NoCommitTime {
        /// Byte offset of the transaction in the file.
        at: u64,
    },
    /// No event starts within `mib` MiB of offset `at`.
    NoEventNear {
        /// Byte offset in the file the search for an event start began at.
        at: u64,
        /// How far that search reaches, in MiB.
        mib: u64,
    },
    /// The commit times probed go backwards.
    ProbesBackwards,
    /// The clock is not monotonic near `at`.
    NotMonotonic {
        /// Byte offset of the transaction whose commit time goes backwards or is missing.
        at: u64,
    },
    /// The transactions disagree with the probes.
    DisagreeWithProbes,
    /// A `transaction_length` does not lead to the next transaction.
    TransactionLength,
    /// The server would not answer the search (`error`).
    ServerRefused {
        /// The server's error, as text.
        error: String,
    },
}

impl fmt::Display for NotBisected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotBisected::NoCommitTime { at } => write!(
                f,
                "the transaction at {at} records no commit timestamp; read in full"
            ),
            NotBisected::NoEventNear { at, mib } => {
                write!(
                    f,
                    "no event starts within {mib} MiB of offset {at}; read in full"
                )
            }
            NotBisected::ProbesBackwards => {
                f.write_str("commit times go backwards between probes; read in full")
            }
            NotBisected::NotMonotonic { at } => {
                write!(f, "the clock is not monotonic near {at}; read in full")
            }
            NotBisected::DisagreeWithProbes => {
                f.write_str("the transactions disagree with the probes; read in full")
            }
            NotBisected::TransactionLength => f.write_str(
                "a transaction_length does not lead to the next transaction; read in full",
            ),
            NotBisected::ServerRefused { error } => {
                write!(f, "not searched on the server ({error}); read in full")
            }
        }
    }
}

/// A place in the binlog: a file and a position in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct At {
    /// The binlog file's name.
    pub file: String,
    /// Byte offset in the file.
    pub pos: u64,
}

/// One step of how the answer was reached (`--explain`), in the order taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Step {
    /// The start time is before the first file's creation second + 1 s.
    BeforeFirstCreation,
    /// The commit clock skips no file.
    ClockSkipsNothing {
        /// Why the commit clock lets no file be skipped.
        why: NoClockSkip,
    },
    /// `count` files skipped on the commit clock: `file` holds a transaction committed at
    /// `at_us`, before the start time (`probed` of `total` files' first commit times probed).
    SkippedOnClock {
        /// How many files were skipped: all those before `file`.
        count: usize,
        /// The binlog file reading starts at.
        file: String,
        /// When its first transaction committed, in microseconds since the epoch.
        at_us: i64,
        /// How many files' first commit times were probed.
        probed: usize,
        /// How many files there are.
        total: usize,
    },
    /// `count` files skipped under `assumption`: `file` was created early enough.
    SkippedOnAssumption {
        /// How many files were skipped: all those before `file`.
        count: usize,
        /// The assumption's name (`mtime-bounds`, `max-statement=…`).
        assumption: String,
        /// The binlog file reading starts at.
        file: String,
    },
    /// The assumption does not hold: turned off, and the files it skipped are read.
    AssumptionDoesNotHold {
        /// The assumption's name (`mtime-bounds`, `max-statement=…`).
        assumption: String,
        /// The transaction that shows it does not hold.
        why: AssumptionBroken,
    },
    /// A commit time read broke the clock the files before `file` were skipped on: they are
    /// read after all.
    ClockContradicted {
        /// The commit time that broke the clock, and where.
        why: ClockContradiction,
        /// The binlog file reading had started at on the clock.
        file: String,
    },
    /// `file` was skipped on its cached summary.
    SkippedOnSummary {
        /// The binlog file's name.
        file: String,
        /// What its summary showed.
        reason: FileReason,
    },
    /// `file` declares no GTIDs and the state before it is unknown: walked from `from`.
    WalkedForGtids {
        /// The binlog file that declares no GTIDs.
        file: String,
        /// The binlog file the walk starts at.
        from: String,
    },
    /// The transaction at `file:pos` is the first at or after the start time.
    Found {
        /// The binlog file's name.
        file: String,
        /// Byte offset of the transaction in the file.
        pos: u64,
        /// The time compared with the start time: commit or begin.
        basis: TimeBasis,
    },
    /// Every transaction from `from` on is before the start time.
    AllBefore {
        /// The binlog file reading started at.
        from: String,
    },
    /// Walked from `from` on: `skipped` transactions before the start time, then the answer at
    /// `file:pos` (or none).
    Walked {
        /// The binlog file the walk started at.
        from: String,
        /// How many transactions before the start time were walked past.
        skipped: u64,
        /// Where the answer is; `None` when every transaction is before the start time.
        found: Option<At>,
        /// The time compared with the start time: commit or begin.
        basis: TimeBasis,
    },
    /// `file` was not bisected.
    NotBisected {
        /// The binlog file's name.
        file: String,
        /// Why it was read in full.
        why: NotBisected,
    },
    /// `file` was bisected by commit time with `probes` probes, then walked `walked`
    /// transactions.
    Bisected {
        /// The binlog file's name.
        file: String,
        /// How many probes the bisection took.
        probes: usize,
        /// How many transactions were walked after it to reach the answer.
        walked: u64,
    },
    /// The GTIDs before the answer in `file` were collected by hopping between GTID events.
    GtidsHopped {
        /// The binlog file's name.
        file: String,
        /// Whether the hopping ran on two threads, one per half of the file.
        two_threads: bool,
    },
    /// `file` was read in two halves on two threads, split at the unit at `split`.
    Halves {
        /// The binlog file's name.
        file: String,
        /// Byte offset of the unit the second half starts at.
        split: u64,
    },
    /// `file` was read unit by unit.
    UnitByUnit {
        /// The binlog file's name.
        file: String,
    },
    /// `file` was streamed from a server from its start (to its end when `whole`).
    Streamed {
        /// The binlog file's name.
        file: String,
        /// Whether it was streamed to its end.
        whole: bool,
    },
    /// A server's `file` was not searched on the server: streamed from its start.
    NotSearched {
        /// The binlog file's name.
        file: String,
        /// Why it was not searched on the server.
        why: NotBisected,
    },
    /// A server's `file` was searched, but the walk from the search's answer disagreed with
    /// it: streamed from its start.
    SearchAbandoned {
        /// The binlog file's name.
        file: String,
        /// How the walk disagreed with the search's answer.
        why: NotBisected,
    },
    /// A server's `file` was searched by commit time on the server (`probes` probes, `bytes`
    /// bytes), then streamed from `from`.
    SearchedOnServer {
        /// The binlog file's name.
        file: String,
        /// How many probes the search took.
        probes: usize,
        /// How many bytes the search read from the server.
        bytes: u64,
        /// Byte offset in the file the stream started at.
        from: u64,
    },
}

impl fmt::Display for Step {
    /// One match over every variant, with no catch-all: a new variant without its text does
    /// not compile.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Reading one file.
            Step::NotBisected { file, why } => write!(f, "{file}: not bisected: {why}"),
            Step::Bisected {
                file,
                probes,
                walked,
            } => write!(
                f,
                "{file}: bisected by commit time ({probes} probes), then walked {walked} \
                 transactions to the answer"
            ),
            Step::GtidsHopped { file, two_threads } => write!(
                f,
                "{file}: GTIDs before the answer collected by hopping from GTID event to GTID \
                 event{}",
                if *two_threads { " on two threads" } else { "" }
            ),
            Step::Halves { file, split } => write!(
                f,
                "{file}: read in two halves on two threads, split at the unit at {split}"
            ),
            Step::UnitByUnit { file } => write!(f, "{file}: read unit by unit"),
            Step::Streamed { file, whole } => write!(
                f,
                "{file}: streamed from its start{}",
                if *whole { " to its end" } else { "" }
            ),
            Step::NotSearched { file, why } => write!(f, "{file}: {why}"),
            Step::SearchAbandoned { file, why } => write!(
                f,
                "{file}: the search on the server was given up ({why}); streamed from its start"
            ),
            Step::SearchedOnServer {
                file,
                probes,
                bytes,
                from,
            } => write!(
                f,
                "{file}: searched by commit time on the server ({probes} probes, {bytes} bytes), \
                 then streamed from {from}"
            ),
            // The search over the files.
            Step::BeforeFirstCreation => {
                f.write_str("the start time is before the first file's creation second + 1 s")
            }
            Step::ClockSkipsNothing { why } => {
                write!(f, "{why}: the commit clock skips no file")
            }
            Step::SkippedOnClock {
                count,
                file,
                at_us,
                probed,
                total,
            } => {
                write!(
                    f,
                    "skipped {count} files on the commit clock: {file} holds a transaction \
                     committed at "
                )?;
                instant(f, *at_us)?;
                write!(
                    f,
                    ", before the start time (first commit times of {probed} of {total} files \
                     probed)"
                )
            }
            Step::SkippedOnAssumption {
                count,
                assumption,
                file,
            } => write!(
                f,
                "skipped {count} files assuming {assumption}: {file} was created early enough \
                 that every file before it ends before the start time"
            ),
            Step::AssumptionDoesNotHold { assumption, why } => write!(
                f,
                "the assumption {assumption} does not hold ({why}): it is turned off for the \
                 rest of this run and the files it skipped are read"
            ),
            Step::ClockContradicted { why, file } => write!(
                f,
                "{why}: the commit clock does not bound the files before {file}, so reading \
                 starts again at the first file"
            ),
            Step::SkippedOnSummary { file, reason } => write!(f, "{file}: skipped: {reason}"),
            Step::WalkedForGtids { file, from } => write!(
                f,
                "{file} declares no GTIDs and the state before it is unknown: walked from {from}"
            ),
            Step::Found { file, pos, basis } => write!(
                f,
                "the transaction at {file}:{pos} is the first whose {basis} time is at or after \
                 the start time"
            ),
            Step::AllBefore { from } => write!(
                f,
                "read {from} onwards: every transaction is before the start time"
            ),
            Step::Walked {
                from,
                skipped,
                found: None,
                ..
            } => write!(
                f,
                "walked {from} onwards: {skipped} transactions, all before the start time"
            ),
            Step::Walked {
                from,
                skipped,
                found: Some(At { file, pos }),
                basis,
            } => write!(
                f,
                "walked {from} onwards: the transaction at {file}:{pos} is the first whose \
                 {basis} time is at or after the start time ({skipped} transactions before it)"
            ),
        }
    }
}

/// What the user must know about the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Warning {
    /// The start time is before the oldest file (created at `created_us`, when known): binlog
    /// before it may have been purged.
    BeforeOldest {
        /// The start time, in microseconds since the epoch.
        start_us: i64,
        /// The oldest binlog file's name.
        file: String,
        /// When that file was created, in microseconds since the epoch; `None` when not known.
        created_us: Option<i64>,
    },
    /// Files listed in the index before the oldest one present are missing.
    OlderPurged,
    /// Files listed in the index before the answer are missing.
    Purged {
        /// The missing files' names, in index order.
        files: Vec<String>,
    },
    /// Files listed in the index after the last one present are missing.
    PurgedAfterLast {
        /// The missing files' names, in index order.
        files: Vec<String>,
    },
    /// A transaction was skipped, or an unknown event left out, while reading.
    Binlog(BinlogWarning),
    /// The start time happens twice in its zone: the earlier instant was used.
    AmbiguousTime(AmbiguousTime),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::BeforeOldest {
                start_us,
                file,
                created_us,
            } => {
                f.write_str("start-time ")?;
                instant(f, *start_us)?;
                write!(f, " is before the oldest binlog file, {file} (created ")?;
                match created_us {
                    Some(us) => instant(f, *us)?,
                    None => f.write_str("at an unknown time")?,
                }
                f.write_str(
                    "): binlog before it may have been purged, so replication starts at its \
                     beginning",
                )
            }
            Warning::OlderPurged => {
                f.write_str("older binlog files listed in the index are missing (purged)")
            }
            Warning::Purged { files } => write!(
                f,
                "binlog files listed in the index are missing (purged?): {}; transactions in \
                 them were not considered, so the start point may be later than it should be",
                files.join(", ")
            ),
            Warning::PurgedAfterLast { files } => write!(
                f,
                "binlog files listed in the index after the last one present are missing \
                 (purged or moved?): {}; the start time may fall in them",
                files.join(", ")
            ),
            Warning::Binlog(warning) => write!(f, "{warning}"),
            Warning::AmbiguousTime(time) => write!(f, "{time}"),
        }
    }
}

/// About how the answer was reached rather than the answer itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Note {
    /// The summary cache `store` is not used this run: `why`.
    CacheNotUsed {
        /// The summary cache's path.
        store: String,
        /// Why it is not used.
        why: CacheRefusal,
    },
    /// The summary cache `store` failed while `doing` (reading, writing): not used any more in
    /// this run.
    CacheGivenUp {
        /// The summary cache's path.
        store: String,
        /// What was being done with it: `reading` or `writing`.
        doing: &'static str,
        /// The error met, as text.
        error: String,
    },
    /// The cached summary of `file` is another file's (replaced or changed): read again.
    StaleSummary {
        /// The binlog file's name.
        file: String,
    },
    /// The cached summary of a server's `file` could not be checked (`error`): read again.
    SummaryUnchecked {
        /// The binlog file's name.
        file: String,
        /// Why it could not be checked, as text.
        error: String,
    },
    /// The assumption does not hold: turned off for the rest of the run.
    AssumptionDoesNotHold {
        /// The assumption's name (`mtime-bounds`, `max-statement=…`).
        assumption: String,
        /// The transaction that shows it does not hold.
        why: AssumptionBroken,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::CacheNotUsed { store, why } => write!(
                f,
                "the summary cache {store} is not used: {why}; answers are unchanged, only \
                 slower (remove it, or give --cache-dir another directory, or --no-cache)"
            ),
            Note::CacheGivenUp {
                store,
                doing,
                error,
            } => write!(
                f,
                "the summary cache {store} is not used any more in this run: {doing} it failed \
                 ({error}); answers are unchanged"
            ),
            Note::StaleSummary { file } => write!(
                f,
                "the cached summary of {file} does not match the file any more (replaced or \
                 changed): it is read again"
            ),
            Note::SummaryUnchecked { file, error } => write!(
                f,
                "the cached summary of {file} could not be checked against the server \
                 ({error}): it is read again"
            ),
            Note::AssumptionDoesNotHold { assumption, why } => write!(
                f,
                "the assumption {assumption} does not hold ({why}): it is turned off for the \
                 rest of this run and the files it skipped are read"
            ),
        }
    }
}

/// Why the summary store is not used: what is wrong, where, and (in `Display`) the fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CacheRefusal {
    /// A file system call on `path` failed (`doing`: "create", "look at", "open").
    Io {
        /// What was being done.
        doing: &'static str,
        /// The path, when the call had one.
        path: Option<String>,
        /// The system's error.
        error: String,
    },
    /// SQLite refused: what that means for the store (`problem`), and SQLite's error.
    Sqlite {
        /// What the refusal means for the store (`it cannot be opened`…).
        problem: &'static str,
        /// SQLite's error.
        error: String,
    },
    /// `PRAGMA quick_check` did not say ok.
    Damaged {
        /// What it said.
        check: String,
    },
    /// The directory is a symlink.
    SymlinkDir {
        /// The directory.
        dir: String,
    },
    /// The store is a symlink.
    SymlinkStore,
    /// `dir` is not a directory.
    NotADirectory {
        /// The path given as the directory.
        dir: String,
    },
    /// The store is `kind`, not a regular file.
    NotRegular {
        /// What it is (`a directory`, `a FIFO`…).
        kind: String,
    },
    /// SQLite's `side` file (`-wal`, `-shm`) is not a regular file.
    SideNotRegular {
        /// The side file's path.
        side: String,
    },
    /// `path` is owned by `uid`, not this user.
    NotOwned {
        /// The file or directory.
        path: String,
        /// Its owner's uid.
        uid: u32,
        /// This process's effective uid.
        me: u32,
    },
    /// `path` can be written by `who` (its group, every other user).
    Writable {
        /// The file or directory.
        path: String,
        /// Who else can write it (`its group`, `every other user`).
        who: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// A directory above it is owned by `uid`, neither root nor this user.
    AncestorNotOwned {
        /// The directory.
        dir: String,
        /// Its owner's uid.
        uid: u32,
    },
    /// A directory above it can be written by every user and is not sticky.
    AncestorWritable {
        /// The directory.
        dir: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Written by another version of startpoint.
    Format {
        /// The store format found.
        found: String,
        /// The format this version reads.
        reads: String,
    },
    /// Written on another machine.
    Machine {
        /// The machine the store names.
        theirs: String,
        /// This machine.
        ours: String,
    },
}

impl std::fmt::Display for CacheRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheRefusal::Io {
                doing,
                path: Some(path),
                error,
            } => write!(f, "cannot {doing} {path}: {error}"),
            CacheRefusal::Io {
                doing,
                path: None,
                error,
            } => write!(f, "cannot {doing} it: {error}"),
            CacheRefusal::Sqlite { problem, error } => write!(f, "{problem} ({error})"),
            CacheRefusal::Damaged { check } => write!(f, "it is damaged ({check})"),
            CacheRefusal::SymlinkDir { dir } => write!(
                f,
                "its directory {dir} is a symlink, which another user may have planted; give \
                 --cache-dir the real directory"
            ),
            CacheRefusal::SymlinkStore => {
                f.write_str("it is a symlink, which another user may have planted; remove it")
            }
            CacheRefusal::NotADirectory { dir } => {
                write!(f, "cannot create {dir}: it is not a directory")
            }
            CacheRefusal::NotRegular { kind } => {
                write!(f, "it is {kind}, not a regular file; remove it")
            }
            CacheRefusal::SideNotRegular { side } => write!(
                f,
                "{side} is not a regular file (a symlink or something else another user may \
                 have planted); remove it"
            ),
            CacheRefusal::NotOwned { path, uid, me } => write!(
                f,
                "{path} is owned by uid {uid}, not by this user (uid {me}), who could have \
                 written it; remove it, or give --cache-dir a directory of your own"
            ),
            CacheRefusal::Writable { path, who, mode } => write!(
                f,
                "{path} can be written by {who} (mode {mode:04o}), who could have written it; \
                 run chmod go-w on it, or remove it"
            ),
            CacheRefusal::AncestorNotOwned { dir, uid } => write!(
                f,
                "{dir} above it is owned by uid {uid}, who could put another directory in its \
                 place; give --cache-dir a directory of your own"
            ),
            CacheRefusal::AncestorWritable { dir, mode } => write!(
                f,
                "{dir} above it can be written by every user (mode {mode:04o}, not sticky), who \
                 could put another directory in its place; run chmod o-w on it, or give \
                 --cache-dir a directory of your own"
            ),
            CacheRefusal::Format { found, reads } => write!(
                f,
                "it was written by another version of startpoint (format {found}, this one \
                 reads {reads})"
            ),
            CacheRefusal::Machine { theirs, ours } => {
                write!(
                    f,
                    "it was written on another machine ({theirs}; this is {ours})"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each item's JSON is its code, its fields and its message.
    #[test]
    fn json_has_a_code_the_fields_and_the_message() {
        let step = Step::ClockSkipsNothing {
            why: NoClockSkip::NoCommitTime {
                file: "mysql-bin.000001".into(),
            },
        };
        let json = coded(&step);
        assert_eq!(json["code"], "clock_skips_nothing");
        assert_eq!(json["why"]["code"], "no_commit_time");
        assert_eq!(json["why"]["file"], "mysql-bin.000001");
        assert_eq!(json["message"], step.to_string());
        let warning = Warning::Purged {
            files: vec!["a.000002".into()],
        };
        assert_eq!(coded(&warning)["code"], "purged");
        assert_eq!(coded(&warning)["files"][0], "a.000002");
        let walked = coded(&Step::Walked {
            from: "a.000001".into(),
            skipped: 3,
            found: Some(At {
                file: "a.000002".into(),
                pos: 4,
            }),
            basis: TimeBasis::Commit,
        });
        assert_eq!(walked["found"]["file"], "a.000002");
        assert_eq!(walked["found"]["pos"], 4);
        assert_eq!(walked["basis"], "commit");
    }

    /// The steps for a clock that skips nothing, or one found going backwards, say that, not
    /// that every file is read: files can still be skipped on their summaries.
    #[test]
    fn a_clock_that_skips_nothing_does_not_say_every_file_is_read() {
        for step in [
            Step::ClockSkipsNothing {
                why: NoClockSkip::BeginBasis,
            },
            Step::ClockContradicted {
                why: ClockContradiction::Backwards {
                    file: "a.000002".into(),
                    pos: 4,
                },
                file: "a.000002".into(),
            },
        ] {
            let text = step.to_string();
            assert!(!text.contains("every file is read"), "{text}");
        }
    }
}
