//! A start time → a binlog location (SEMANTICS.md §5), from binlog files on disk.
//!
//! [`resolve_files`] is the fast path: it picks the file to start in by the creation second of
//! each file (its FORMAT_DESCRIPTION's header time), opening O(log F) files with a binary search
//! (sound by §6: every unit of file j committed before file j+1 was created), then walks that
//! file's events, and later files' if need be, to the first unit whose time is at or after T.
//! Reading a file from its start also yields the exact GTID set before the answer. The walk
//! inside a file is the seam where bisection (for files whose clock is monotonic) plugs in.
//!
//! [`linear::resolve_linear`] is the plain reading of §5 — every unit of every file, in order —
//! kept as the reference the fast path is tested against.
//!
//! Costs: O(log F) file opens of a few hundred bytes each, plus one sequential read of the target
//! file up to the answer (and of any later file the answer lies in).

pub mod linear;

use std::fmt;
use std::time::Instant;

use crate::binlog::{BinlogError, EventSource, FileEventSource, ReadOptions};
use crate::gtid::ExecutedGtids;
use crate::source::local::{BinlogDir, BinlogFileEntry, LocalSourceError};
use crate::start_time::format_instant;
use crate::unit::{TimeBasis, TransactionUnit, UnitReader, declared_gtids};

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
    pub basis: TimeBasis,
    pub gtid: GtidMode,
}

/// SEMANTICS.md §5's three outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    InRange,
    BelowLowerBound,
    AboveUpperBound,
}

impl Status {
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
    pub file: String,
    pub pos: u64,
    /// The DM relay sub-directory holding `file`, for relay directories.
    pub relay_subdir: Option<String>,
}

/// The unit the answer starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedUnit {
    pub file: String,
    pub unit: TransactionUnit,
}

/// Counters for `--explain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    pub files_opened: u64,
    pub bytes_read: u64,
    pub events_read: u64,
    pub elapsed_us: u64,
}

/// The answer, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub status: Status,
    /// `None` for AboveUpperBound.
    pub location: Option<BinlogLocation>,
    /// The GTIDs executed before the location; `None` when not computed (`GtidMode::Off`) and
    /// for AboveUpperBound.
    pub gtid: Option<ExecutedGtids>,
    pub matched: Option<MatchedUnit>,
    /// For the user: purged gaps, skipped transactions, the lower bound.
    pub warnings: Vec<String>,
    /// How the answer was reached, for `--explain`.
    pub steps: Vec<String>,
    pub stats: SearchStats,
}

impl Resolution {
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
    #[error(transparent)]
    Binlog(#[from] BinlogError),
    #[error(transparent)]
    Source(#[from] LocalSourceError),
    #[error(
        "{file}: the binlog carries no GTIDs (written with gtid_mode=OFF?), so --gtid on cannot \
         be met; use --gtid auto or --gtid off"
    )]
    NoGtids { file: String },
}

/// Reads a sequence's files and remembers each one's creation second.
struct Files<'a> {
    sequence: &'a BinlogDir,
    created: Vec<Option<Option<u32>>>,
    stats: SearchStats,
    steps: Vec<String>,
}

impl<'a> Files<'a> {
    fn new(sequence: &'a BinlogDir) -> Files<'a> {
        Files {
            sequence,
            created: vec![None; sequence.files.len()],
            stats: SearchStats::default(),
            steps: Vec::new(),
        }
    }

    fn entry(&self, index: usize) -> &'a BinlogFileEntry {
        &self.sequence.files[index]
    }

    fn open(&mut self, index: usize) -> Result<FileEventSource, BinlogError> {
        self.open_with_window(index, ReadOptions::default().window)
    }

    fn open_with_window(
        &mut self,
        index: usize,
        window: usize,
    ) -> Result<FileEventSource, BinlogError> {
        let options = ReadOptions {
            newest: index + 1 == self.sequence.files.len(),
            window,
            ..ReadOptions::default()
        };
        self.stats.files_opened += 1;
        FileEventSource::open(&self.entry(index).path, options)
    }

    fn account(&mut self, source: &FileEventSource) {
        let stats = source.stats();
        self.stats.bytes_read += stats.bytes_read;
        self.stats.events_read += stats.events;
    }

    /// The FDE second of file `index` (`None` for a newest file with no event yet).
    fn created(&mut self, index: usize) -> Result<Option<u32>, BinlogError> {
        if let Some(known) = self.created[index] {
            return Ok(known);
        }
        // The FDE is a few hundred bytes at offset 4: a probe reads one small window.
        let mut source = self.open_with_window(index, PROBE_WINDOW)?;
        source.advance()?;
        let created = source.format().map(|f| f.created);
        self.account(&source);
        self.created[index] = Some(created);
        Ok(created)
    }

    /// The creation second as a bound: a file without an FDE yet sorts after everything.
    fn created_bound(&mut self, index: usize) -> Result<i64, BinlogError> {
        Ok(self.created(index)?.map_or(i64::MAX, i64::from))
    }
}

/// What a file probe reads: enough for any FORMAT_DESCRIPTION event.
const PROBE_WINDOW: usize = 4096;

fn seconds_to_us(seconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000)
}

/// Resolves `request` against the binlog files of `sequence` (SEMANTICS.md §5).
pub fn resolve_files(sequence: &BinlogDir, request: &Request) -> Result<Resolution, ResolveError> {
    let started = Instant::now();
    let mut files = Files::new(sequence);
    let count = sequence.files.len();
    let first_created = files.created_bound(0)?;
    let t = request.start_us;

    if t < seconds_to_us(first_created.saturating_add(1)) {
        let mut resolution = lower_bound(&mut files, request)?;
        resolution.stats = SearchStats {
            elapsed_us: started.elapsed().as_micros() as u64,
            ..files.stats
        };
        return Ok(resolution);
    }

    // The last file created at least a second before T: nothing before it can qualify.
    let (mut lo, mut hi) = (0, count - 1);
    let mut probes = vec![(0, first_created)];
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let created = files.created_bound(mid)?;
        probes.push((mid, created));
        if seconds_to_us(created.saturating_add(1)) <= t {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    // Check the neighbours too: creation times going backwards break the reasoning.
    for neighbour in [lo.checked_sub(1), Some(lo + 1).filter(|&i| i < count)]
        .into_iter()
        .flatten()
    {
        probes.push((neighbour, files.created_bound(neighbour)?));
    }
    probes.sort_unstable();
    probes.dedup();
    let ordered = probes.windows(2).all(|w| w[0].1 <= w[1].1);
    let start = if ordered {
        let created = files.created_bound(lo)?;
        files.steps.push(format!(
            "picked {} (created {}) by the creation times of {} of {count} files",
            files.entry(lo).name,
            format_instant(seconds_to_us(created)),
            probes.len()
        ));
        lo
    } else {
        files.steps.push(
            "file creation times go backwards (the server clock stepped back?): scanned from \
             the first file instead of searching"
                .to_owned(),
        );
        0
    };

    let mut resolution = scan_from(&mut files, start, request)?;
    if let Some(location) = &resolution.location {
        let index = sequence
            .files
            .iter()
            .position(|f| f.name == location.file && f.relay_subdir == location.relay_subdir)
            .unwrap_or(0);
        let gap = sequence.gap_before(index);
        if !gap.is_empty() {
            resolution.warnings.push(format!(
                "binlog files listed in the index are missing (purged?): {}; transactions in \
                 them were not considered, so the start point may be later than it should be",
                gap.join(", ")
            ));
        }
    }
    resolution.stats = SearchStats {
        elapsed_us: started.elapsed().as_micros() as u64,
        ..files.stats
    };
    Ok(resolution)
}

/// BelowLowerBound: the first file at 4, with the GTIDs it declares before its first event.
fn lower_bound(files: &mut Files<'_>, request: &Request) -> Result<Resolution, ResolveError> {
    let first = files.entry(0);
    let gtid = match request.gtid {
        GtidMode::Off => None,
        mode => {
            // PREVIOUS_GTIDS / GTID_LIST come right after the FDE.
            let mut source = files.open_with_window(0, PROBE_WINDOW)?;
            let declared = declared_gtids(&mut source)?.unwrap_or_default();
            files.account(&source);
            if mode == GtidMode::On && declared == ExecutedGtids::None {
                return Err(ResolveError::NoGtids {
                    file: first.name.clone(),
                });
            }
            Some(declared)
        }
    };
    let created = files.created(0)?;
    let mut warnings = vec![format!(
        "start-time {} is before the oldest binlog file, {} (created {}): binlog before it may \
         have been purged, so replication starts at its beginning",
        format_instant(request.start_us),
        first.name,
        created.map_or("at an unknown time".to_owned(), |c| format_instant(
            seconds_to_us(i64::from(c))
        ))
    )];
    if files.sequence.purged.iter().any(|(at, _)| *at == 0) {
        warnings.push("older binlog files listed in the index are missing (purged)".to_owned());
    }
    files
        .steps
        .push("the start time is before the first file's creation second + 1 s".to_owned());
    Ok(Resolution {
        status: Status::BelowLowerBound,
        location: Some(BinlogLocation {
            file: first.name.clone(),
            pos: 4,
            relay_subdir: first.relay_subdir.clone(),
        }),
        gtid,
        matched: None,
        warnings,
        steps: std::mem::take(&mut files.steps),
        stats: SearchStats::default(),
    })
}

/// Walks files from `start` on to the first unit at or after T.
fn scan_from(
    files: &mut Files<'_>,
    start: usize,
    request: &Request,
) -> Result<Resolution, ResolveError> {
    let mut warnings = Vec::new();
    let mut previous_created: Option<u32> = None;
    for index in start..files.sequence.files.len() {
        let entry = files.entry(index);
        let mut units = UnitReader::new(files.open(index)?, request.gtid != GtidMode::Off);
        let mut scanned = 0u64;
        let found = loop {
            match units.next_unit()? {
                Some(unit) if unit.time_us(request.basis) >= request.start_us => break Some(unit),
                Some(_) => scanned += 1,
                None => break None,
            }
        };
        files.account(units.source());
        warnings.extend(units.take_warnings().into_iter().map(|w| w.to_string()));
        let created = units.source().format().map(|f| f.created);
        if let (Some(before), Some(now)) = (previous_created, created)
            && now < before
        {
            files.steps.push(format!(
                "{} was created before the file preceding it (the server clock stepped back?)",
                entry.name
            ));
        }
        previous_created = created.or(previous_created);
        let Some(unit) = found else {
            files.steps.push(format!(
                "{}: {scanned} transactions, all before the start time",
                entry.name
            ));
            continue;
        };
        files.steps.push(format!(
            "{}: the transaction at {} is the first of the file's transactions (after {scanned} \
             earlier ones) whose {} time is at or after the start time",
            entry.name, unit.pos, request.basis
        ));
        let gtid = match request.gtid {
            GtidMode::Off => None,
            mode => {
                let executed = units.executed().clone();
                let has_gtids = executed != ExecutedGtids::None || unit.gtid.is_some();
                if mode == GtidMode::On && !has_gtids {
                    return Err(ResolveError::NoGtids {
                        file: entry.name.clone(),
                    });
                }
                Some(executed)
            }
        };
        return Ok(Resolution {
            status: Status::InRange,
            location: Some(BinlogLocation {
                file: entry.name.clone(),
                pos: unit.pos,
                relay_subdir: entry.relay_subdir.clone(),
            }),
            gtid,
            matched: Some(MatchedUnit {
                file: entry.name.clone(),
                unit,
            }),
            warnings,
            steps: std::mem::take(&mut files.steps),
            stats: SearchStats::default(),
        });
    }
    files
        .steps
        .push("no transaction is at or after the start time".to_owned());
    Ok(Resolution {
        status: Status::AboveUpperBound,
        location: None,
        gtid: None,
        matched: None,
        warnings,
        steps: std::mem::take(&mut files.steps),
        stats: SearchStats::default(),
    })
}

/// The error text of AboveUpperBound, as DM words it (`input` as the user wrote it).
pub fn too_late_message(input: &str) -> String {
    format!("start-time {input} is too late, no binlog location matches it")
}
