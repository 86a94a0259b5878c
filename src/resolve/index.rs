//! `startpoint index`: a summary of every file of a source (SEMANTICS.md §6.2), from the cache
//! where one is proven to belong to the file, else by reading the file in full (and keeping the
//! summary of every file but the newest). What history the server still holds, per file: its
//! first and last transaction, how far its clock runs backwards, its GTIDs, and purged gaps.
//!
//! Costs: one full read of every file not summarised yet (both cores for local files, each
//! thread a file at a time); a cached file costs its identity check only.

use std::sync::Arc;

use super::explain::Note;
use crate::gtid::ExecutedGtids;
use crate::source::local::BinlogDir;
use crate::unit::TimeBasis;

use super::cache::SummaryCache;
use super::local::LocalSequence;
use super::progress::ReadProgress;
use super::summary::FileSummary;
use super::{BinlogSequence, GtidMode, Request, ResolveError, ScanTuning, Summaries};

/// Where a file's row came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// From the cache, proven to belong to the file.
    Cached,
    /// Read now, and kept in the cache.
    Summarised,
    /// The newest file, still written: read now, not kept.
    Newest,
    /// Listed in the index but missing: purged.
    Purged,
    /// Read, but no summary could be made (why).
    Unsummarised(NotSummarised),
    /// `--verify`: read again, and the cached summary says what the read says.
    Verified,
    /// `--verify`: the cached summary was proven to belong to the file, yet does not say what
    /// reading it again says (what differs): the cache was wrong; replaced by the read's.
    Mismatch(Mismatch),
    /// `--verify`: a summary is cached under the file's name but is not this file's (replaced
    /// or changed since): never used; replaced by the read's.
    Stale,
}

impl Coverage {
    pub fn as_str(&self) -> &'static str {
        match self {
            Coverage::Cached => "cached",
            Coverage::Summarised => "read now",
            Coverage::Newest => "newest (not cached)",
            Coverage::Purged => "purged",
            Coverage::Unsummarised(_) => "not summarised",
            Coverage::Verified => "verified",
            Coverage::Mismatch(_) => "DID NOT MATCH (replaced)",
            Coverage::Stale => "stale, not used (replaced)",
        }
    }
}

/// Why a file read by `index` leaves no summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NotSummarised {
    /// Reading it failed (`--verify` goes on with the other files).
    ReadFailed { error: String },
    /// It declares no GTIDs and the state before it is unknown.
    NoGtidsOnItsOwn,
    /// It could not be read to its end.
    NotToItsEnd,
}

impl std::fmt::Display for NotSummarised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotSummarised::ReadFailed { error } => write!(f, "reading it failed: {error}"),
            NotSummarised::NoGtidsOnItsOwn => {
                f.write_str("it declares no GTIDs and cannot be read on its own")
            }
            NotSummarised::NotToItsEnd => f.write_str("it could not be read to its end"),
        }
    }
}

/// How a proven cached summary disagrees with reading its file again (`--verify`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Mismatch {
    /// What differs.
    Differs { what: Vec<Difference> },
    /// The file no longer reads as something summarisable.
    NoLongerReads { why: NotSummarised },
}

/// One thing a cached summary says differently from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Difference {
    UnitCount {
        cached: u64,
        read: u64,
    },
    FirstOrLastUnit,
    UnitTimes,
    DeclaredGtids,
    EndGtids,
    /// Something else in it.
    Summary,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::UnitCount { cached, read } => {
                write!(f, "{cached} units cached, {read} read")
            }
            Difference::FirstOrLastUnit => f.write_str("its first or last unit"),
            Difference::UnitTimes => f.write_str("its unit times"),
            Difference::DeclaredGtids => f.write_str("the GTIDs it declares"),
            Difference::EndGtids => f.write_str("the GTIDs at its end"),
            Difference::Summary => f.write_str("its summary"),
        }
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Differs { what } => {
                let what: Vec<String> = what.iter().map(ToString::to_string).collect();
                f.write_str(&what.join(", "))
            }
            Mismatch::NoLongerReads { why } => write!(f, "{why}"),
        }
    }
}

/// One row of the coverage table.
#[derive(Debug, Clone)]
pub struct FileCoverage {
    pub name: String,
    pub relay_subdir: Option<String>,
    pub size: Option<u64>,
    pub coverage: Coverage,
    pub summary: Option<FileSummary>,
    /// The GTIDs this file declares before it differ from where the file before it ended
    /// (files purged between them, or `SET GLOBAL gtid_purged`).
    pub gtid_gap: bool,
}

/// What reading a whole file takes: every unit, the GTIDs followed.
const WHOLE: Request = Request {
    start_us: i64::MAX,
    basis: TimeBasis::Commit,
    gtid: GtidMode::Auto,
};

/// How `index` treats the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Audit {
    /// Use every summary proven to belong to its file.
    #[default]
    Trust,
    /// `--verify`: trust none; read every file again and compare with what the cache holds.
    Verify,
}

/// Rows for files `indices` of `sequence`, one file at a time.
pub fn cover<S: BinlogSequence>(
    sequence: &mut S,
    indices: &[usize],
    audit: Audit,
) -> Result<Vec<(usize, FileCoverage)>, ResolveError> {
    let count = sequence.files().len();
    let mut rows = Vec::with_capacity(indices.len());
    for &index in indices {
        let file = sequence.files()[index].clone();
        let size = sequence.size(index);
        let newest = index + 1 == count;
        // Verify: the summary the search would use (proven to be this file's), and whether one
        // is stored under the file's name at all; neither spares the read.
        let (cached, proven, stored) = match audit {
            Audit::Trust => (sequence.summary(index)?, None, false),
            Audit::Verify => {
                let stored = sequence.stored_summary(index);
                let proven = match stored {
                    Some(_) => sequence.summary(index)?,
                    None => None,
                };
                (None, proven, stored.is_some())
            }
        };
        let read = match cached {
            Some(_) => Ok(None),
            None => match sequence.read_file(index, &WHOLE, Some(&ExecutedGtids::None)) {
                Ok(read) => Ok(read),
                // An audit reports a file it cannot read and goes on with the others.
                Err(error) if audit == Audit::Verify => Err(NotSummarised::ReadFailed {
                    error: error.to_string(),
                }),
                Err(error) => return Err(error),
            },
        };
        let (coverage, summary) = match (cached, read) {
            (Some(summary), _) => (Coverage::Cached, Some(summary)),
            (None, Err(why)) => (Coverage::Unsummarised(why), None),
            (None, Ok(read)) => match read {
                None => (Coverage::Unsummarised(NotSummarised::NoGtidsOnItsOwn), None),
                Some(scan) => match scan.summary(true) {
                    Some(summary) if newest => (Coverage::Newest, Some(summary)),
                    Some(summary) => {
                        sequence.remember(index, summary.clone());
                        let coverage = match (&proven, stored) {
                            (Some(kept), _) if kept.agrees_with(&summary) => Coverage::Verified,
                            (Some(kept), _) => Coverage::Mismatch(Mismatch::Differs {
                                what: differences(kept, &summary),
                            }),
                            (None, true) => Coverage::Stale,
                            (None, false) => Coverage::Summarised,
                        };
                        (coverage, Some(summary))
                    }
                    None => (Coverage::Unsummarised(NotSummarised::NotToItsEnd), None),
                },
            },
        };
        // A summary the search would use whose file now reads as nothing summarisable: the
        // cache was wrong about it. It is forgotten, so no later run uses it.
        let coverage = match (coverage, &proven) {
            (Coverage::Unsummarised(why), Some(_)) => {
                sequence.forget(index);
                Coverage::Mismatch(Mismatch::NoLongerReads { why })
            }
            (coverage, _) => coverage,
        };
        rows.push((
            index,
            FileCoverage {
                name: file.name,
                relay_subdir: file.relay_subdir,
                size,
                coverage,
                summary,
                gtid_gap: false,
            },
        ));
    }
    Ok(rows)
}

/// What a cached summary says that a fresh read of its file does not, in words.
fn differences(kept: &FileSummary, fresh: &FileSummary) -> Vec<Difference> {
    let mut out = Vec::new();
    let (a, b) = (&kept.units, &fresh.units);
    if a.count != b.count {
        out.push(Difference::UnitCount {
            cached: a.count,
            read: b.count,
        });
    }
    if a.first != b.first || a.last != b.last {
        out.push(Difference::FirstOrLastUnit);
    }
    if a.min != b.min || a.max != b.max || a.backwards != b.backwards {
        out.push(Difference::UnitTimes);
    }
    if kept.declared.is_some() && kept.declared != fresh.declared {
        out.push(Difference::DeclaredGtids);
    }
    if kept.end.is_some() && kept.end != fresh.end {
        out.push(Difference::EndGtids);
    }
    if out.is_empty() {
        out.push(Difference::Summary);
    }
    out
}

/// The coverage of a binlog or relay directory, read on two threads, with purged files in
/// their places and GTID gaps marked.
pub fn cover_local(
    dir: &BinlogDir,
    cache: Arc<SummaryCache>,
    progress: Arc<ReadProgress>,
    audit: Audit,
) -> Result<(Vec<FileCoverage>, Vec<Note>), ResolveError> {
    let sizes: Vec<u64> = dir
        .files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .collect();
    progress.plan(dir.files.len() as u64, sizes.iter().sum());
    // Two groups of about the same size, largest files first.
    let mut order: Vec<usize> = (0..dir.files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let (mut groups, mut loads) = ([Vec::new(), Vec::new()], [0u64, 0]);
    for index in order {
        let lighter = usize::from(loads[1] < loads[0]);
        loads[lighter] += sizes[index];
        groups[lighter].push(index);
    }
    // Each thread reads whole files in one pass: the two threads are the parallelism.
    let tuning = ScanTuning {
        bisect_min_bytes: u64::MAX,
        parallel_min_bytes: u64::MAX,
        ..ScanTuning::default()
    };
    let run = |group: &[usize]| {
        let mut sequence = LocalSequence::new(dir)
            .with_tuning(tuning)
            .with_cache(cache.clone())
            .with_progress(progress.clone());
        let rows = cover(&mut sequence, group, audit);
        (rows, sequence.take_notes())
    };
    let (a, b) = std::thread::scope(|scope| {
        let later = scope.spawn(|| run(&groups[1]));
        (run(&groups[0]), later.join())
    });
    let b = b.map_err(|_| ResolveError::ThreadPanicked("an index"))?;
    let mut notes = a.1;
    notes.extend(b.1);
    let mut rows: Vec<(usize, FileCoverage)> = a.0?;
    rows.extend(b.0?);
    rows.sort_by_key(|(index, _)| *index);
    let mut rows: Vec<FileCoverage> = rows.into_iter().map(|(_, row)| row).collect();
    mark_gtid_gaps(&mut rows);
    // Purged files where the index lists them (positions count present files before them).
    for (at, name) in dir.purged.iter().rev() {
        rows.insert(
            (*at).min(rows.len()),
            FileCoverage {
                name: name.clone(),
                relay_subdir: None,
                size: None,
                coverage: Coverage::Purged,
                summary: None,
                gtid_gap: false,
            },
        );
    }
    Ok((rows, notes))
}

/// Marks the files whose declared GTIDs differ from where the file before them ended.
pub fn mark_gtid_gaps(rows: &mut [FileCoverage]) {
    for i in 1..rows.len() {
        let before = rows[i - 1].summary.as_ref().and_then(|s| s.end.clone());
        let declared = rows[i].summary.as_ref().and_then(|s| s.declared.clone());
        if let (Some(before), Some(declared)) = (before, declared) {
            rows[i].gtid_gap = before.to_string() != declared.to_string();
        }
    }
}
