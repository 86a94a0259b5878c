//! Binlog files on disk (a binlog directory or a DM relay directory) as a [`BinlogSequence`].
//!
//! A probe opens a file with a small window (the FDE and PREVIOUS_GTIDS / GTID_LIST sit in its
//! first few hundred bytes). From the chosen file on, each file is read on its own by
//! [`scan::scan_file`] (bisection, two halves, or one pass), carrying the GTID state from one
//! file to the next; [`ChainedFiles`] is the plain walk, kept for when a file cannot be read on
//! its own.

use std::sync::Arc;

use crate::binlog::{
    BinlogError, EventRef, EventSource, FileEventSource, FormatDescription, ReadOptions,
};
use crate::gtid::ExecutedGtids;
use crate::source::local::BinlogDir;
use crate::unit::{FirstCommit, declared_gtids, first_commit};

use super::progress::ReadProgress;
use super::scan::{self, ClockSeen, FileAnswer, ScanTuning};
use super::{
    BinlogLocation, BinlogSequence, FileProbe, GtidMode, MatchedUnit, Reading, Request, Resolution,
    ResolveError, SearchStats, SequenceFile, Status, Walk, resolve, walk_to_answer,
};

/// What a file probe reads: enough for the FDE, most PREVIOUS_GTIDS events and the first GTID
/// event (a larger one grows the window).
const PROBE_WINDOW: usize = 4096;
/// A deep probe looks this many events past PREVIOUS_GTIDS for the first transaction.
pub(crate) const PROBE_EVENTS: usize = 16;

/// Resolves `request` against the files of a binlog or DM relay directory.
pub fn resolve_files(sequence: &BinlogDir, request: &Request) -> Result<Resolution, ResolveError> {
    resolve(&mut LocalSequence::new(sequence), request)
}

/// [`resolve_files`], adding what it reads to `progress` as it goes.
pub fn resolve_files_with_progress(
    sequence: &BinlogDir,
    request: &Request,
    progress: Arc<ReadProgress>,
) -> Result<Resolution, ResolveError> {
    let mut local = LocalSequence::new(sequence);
    local.progress = Some(progress);
    resolve(&mut local, request)
}

/// [`resolve_files`] with chosen thresholds for the faster ways of reading a file (tests use
/// small ones so that small files take them too).
pub fn resolve_files_tuned(
    sequence: &BinlogDir,
    request: &Request,
    tuning: ScanTuning,
) -> Result<Resolution, ResolveError> {
    let mut local = LocalSequence::new(sequence);
    local.tuning = tuning;
    resolve(&mut local, request)
}

/// The files of a directory, for the search.
pub struct LocalSequence<'d> {
    dir: &'d BinlogDir,
    files: Vec<SequenceFile>,
    stats: SearchStats,
    tuning: ScanTuning,
    progress: Option<Arc<ReadProgress>>,
}

impl<'d> LocalSequence<'d> {
    pub fn new(dir: &'d BinlogDir) -> LocalSequence<'d> {
        LocalSequence {
            files: dir
                .files
                .iter()
                .map(|f| SequenceFile {
                    name: f.name.clone(),
                    relay_subdir: f.relay_subdir.clone(),
                })
                .collect(),
            dir,
            stats: SearchStats::default(),
            tuning: ScanTuning::default(),
            progress: None,
        }
    }

    fn probe_one(&mut self, index: usize, deep: bool) -> Result<FileProbe, ResolveError> {
        let mut source = open(self.dir, index, PROBE_WINDOW)?;
        source.advance()?;
        let created = source.format().map(|f| f.created);
        let declared = declared_gtids(&mut source)?;
        let first = if deep {
            first_commit(&mut source, PROBE_EVENTS)?
        } else {
            FirstCommit::NoClock
        };
        let stats = source.stats();
        self.stats.files_opened += 1;
        self.stats.bytes_read += stats.bytes_read;
        self.stats.events_read += stats.events;
        Ok(FileProbe {
            created,
            declared,
            first,
        })
    }
}

fn open(dir: &BinlogDir, index: usize, window: usize) -> Result<FileEventSource, BinlogError> {
    let options = ReadOptions {
        newest: index + 1 == dir.files.len(),
        window,
        ..ReadOptions::default()
    };
    FileEventSource::open(&dir.files[index].path, options)
}

impl<'d> BinlogSequence for LocalSequence<'d> {
    type Walk = ChainedFiles<'d>;

    fn files(&self) -> &[SequenceFile] {
        &self.files
    }

    fn probe(&mut self, indices: &[usize], deep: bool) -> Result<Vec<FileProbe>, ResolveError> {
        indices.iter().map(|&i| self.probe_one(i, deep)).collect()
    }

    fn walk_from(&mut self, index: usize) -> Result<ChainedFiles<'d>, ResolveError> {
        let current = open(self.dir, index, ReadOptions::default().window)?;
        Ok(ChainedFiles {
            dir: self.dir,
            index,
            current,
            done: SearchStats {
                files_opened: 1,
                ..SearchStats::default()
            },
        })
    }

    fn gap_before(&self, index: usize) -> Vec<String> {
        self.dir
            .gap_before(index)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn resolve_from(
        &mut self,
        start: usize,
        request: &Request,
        check_clock: bool,
        steps: &mut Vec<String>,
    ) -> Result<Reading, ResolveError> {
        let count = self.dir.files.len();
        let mut initial = Some(ExecutedGtids::None);
        let mut warnings = Vec::new();
        let mut file_steps = Vec::new();
        let mut stats = SearchStats::default();
        let mut clock = ClockSeen::default();
        if let Some(progress) = &self.progress {
            let bytes: u64 = self.dir.files[start..]
                .iter()
                .filter_map(|f| std::fs::metadata(&f.path).ok())
                .map(|m| m.len())
                .sum();
            progress.plan((count - start) as u64, bytes);
        }
        for index in start..count {
            let entry = &self.dir.files[index];
            let Some(scanned) = scan::scan_file(
                &entry.path,
                index + 1 == count,
                request,
                initial.as_ref(),
                &self.tuning,
            )?
            else {
                steps.push(format!(
                    "{} declares no GTIDs and the state before it is unknown: walked from {}",
                    entry.name, self.dir.files[start].name
                ));
                return walk_to_answer(self, start, request, check_clock, steps);
            };
            if check_clock {
                clock = clock.then(scanned.clock);
                if let Some(why) = clock.contradiction(&entry.name) {
                    return Ok(Reading::ClockContradicted(why));
                }
            }
            if let Some(progress) = &self.progress {
                progress.read(scanned.stats.bytes_read);
                progress.file_done();
            }
            warnings.extend(scanned.warnings);
            file_steps.extend(scanned.steps);
            stats += scanned.stats;
            match scanned.answer {
                FileAnswer::NotHere { executed } => initial = executed,
                FileAnswer::Found { unit, executed } => {
                    let gtid = match request.gtid {
                        GtidMode::Off => None,
                        mode => {
                            if mode == GtidMode::On
                                && executed == ExecutedGtids::None
                                && unit.gtid.is_none()
                            {
                                return Err(ResolveError::NoGtids {
                                    file: entry.name.clone(),
                                });
                            }
                            Some(executed)
                        }
                    };
                    steps.extend(file_steps);
                    steps.push(format!(
                        "the transaction at {}:{} is the first whose {} time is at or after the \
                         start time",
                        entry.name, unit.pos, request.basis
                    ));
                    return Ok(Reading::Answer(Box::new(Resolution {
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
                        steps: Vec::new(),
                        files: Vec::new(),
                        stats,
                    })));
                }
            }
        }
        steps.extend(file_steps);
        steps.push(format!(
            "read {} onwards: every transaction is before the start time",
            self.dir.files[start].name
        ));
        Ok(Reading::Answer(Box::new(Resolution::too_late(
            warnings, stats,
        ))))
    }

    fn purged_before_first(&self) -> bool {
        self.dir.purged.iter().any(|(at, _)| *at == 0)
    }

    fn stats(&self) -> SearchStats {
        self.stats
    }
}

/// The events of files `index..` of a directory, one file after another.
pub struct ChainedFiles<'d> {
    dir: &'d BinlogDir,
    index: usize,
    current: FileEventSource,
    /// What the files already left behind cost.
    done: SearchStats,
}

impl ChainedFiles<'_> {
    /// Moves on to the next file; `false` after the last.
    fn next_file(&mut self) -> Result<bool, BinlogError> {
        if self.index + 1 >= self.dir.files.len() {
            return Ok(false);
        }
        self.leave_current();
        self.index += 1;
        self.current = open(self.dir, self.index, ReadOptions::default().window)?;
        self.done.files_opened += 1;
        Ok(true)
    }

    fn leave_current(&mut self) {
        let stats = self.current.stats();
        self.done.bytes_read += stats.bytes_read;
        self.done.events_read += stats.events;
    }
}

impl EventSource for ChainedFiles<'_> {
    fn name(&self) -> &str {
        self.current.name()
    }

    fn file_name(&self) -> &str {
        self.current.file_name()
    }

    fn advance(&mut self) -> Result<bool, BinlogError> {
        loop {
            if self.current.advance()? {
                return Ok(true);
            }
            if !self.next_file()? {
                return Ok(false);
            }
        }
    }

    #[inline]
    fn next_event(&mut self) -> Result<Option<EventRef>, BinlogError> {
        loop {
            if let Some(event) = self.current.next_event()? {
                return Ok(Some(event));
            }
            if !self.next_file()? {
                return Ok(None);
            }
        }
    }

    fn current(&self) -> Option<EventRef> {
        self.current.current()
    }

    fn body(&mut self) -> Result<&[u8], BinlogError> {
        self.current.body()
    }

    fn format(&self) -> Option<&FormatDescription> {
        self.current.format()
    }

    fn may_grow(&self) -> bool {
        self.current.may_grow()
    }
}

impl Walk for ChainedFiles<'_> {
    fn file_index(&self) -> usize {
        self.index
    }

    fn stats(&self) -> SearchStats {
        let current = self.current.stats();
        SearchStats {
            bytes_read: self.done.bytes_read + current.bytes_read,
            events_read: self.done.events_read + current.events,
            ..self.done
        }
    }
}
