//! Binlog files on disk (a binlog directory or a DM relay directory) as a [`BinlogSequence`].
//!
//! A probe opens a file with a small window (the FDE, PREVIOUS_GTIDS / GTID_LIST and the first
//! GTID event sit in its first few hundred bytes). A file is read on its own by
//! [`scan::scan_file`] (bisection, two halves, or one pass); [`ChainedFiles`] is the plain walk,
//! kept for when a file cannot be read on its own. A file's identity, for its summary, is its
//! directory, name and size and digests of its first and last 4 KiB: a file that is no longer
//! written only grows by being replaced.

use std::sync::Arc;

use crate::binlog::{
    BinlogError, EventRef, EventSource, FileEventSource, FormatDescription, ReadOptions,
};
use crate::gtid::ExecutedGtids;
use crate::source::local::{BinlogDir, BinlogFileEntry};
use crate::unit::{FirstCommit, declared_gtids, first_commit};

use super::cache::SummaryCache;
use super::explain::Note;
use super::progress::ReadProgress;
use super::scan::{self, FileScan, ScanTuning};
use super::summary::{FileIdentity, FileStat, FileSummary, digest};
use super::{
    Assumption, BinlogSequence, FileProbe, Listing, Request, Resolution, ResolveError, SearchStats,
    SequenceFile, Summaries, Walk, resolve,
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
    resolve(
        &mut LocalSequence::new(sequence).with_progress(progress),
        request,
    )
}

/// [`resolve_files`] with chosen thresholds for the faster ways of reading a file (tests use
/// small ones so that small files take them too).
pub fn resolve_files_tuned(
    sequence: &BinlogDir,
    request: &Request,
    tuning: ScanTuning,
) -> Result<Resolution, ResolveError> {
    resolve(
        &mut LocalSequence::new(sequence).with_tuning(tuning),
        request,
    )
}

/// The files of a directory, for the search.
pub struct LocalSequence<'d> {
    dir: &'d BinlogDir,
    files: Vec<SequenceFile>,
    stats: SearchStats,
    tuning: ScanTuning,
    progress: Option<Arc<ReadProgress>>,
    cache: Arc<SummaryCache>,
    notes: Vec<Note>,
    assumption: Option<Assumption>,
    /// The identity of each file as it was before it was read, to check at `remember` that
    /// the file did not change while it was read.
    read_as: Vec<Option<FileIdentity>>,
}

/// How much of a file's start and end its identity digests (SEMANTICS.md §6.2): the FDE and
/// PREVIOUS_GTIDS / GTID_LIST sit in the first few hundred bytes, the ROTATE in the last ones.
const IDENTITY_BYTES: u64 = 4096;

/// What proves a summary belongs to `file`: its directory, name, size, device, inode,
/// modification and change times, and digests of its first and last bytes (`None` when the
/// file cannot be read; it is then simply not cached). The times and the inode come from the
/// same `fstat` that gives the size: the check costs no more than it.
pub(crate) fn identity(file: &BinlogFileEntry) -> Option<FileIdentity> {
    use std::os::unix::fs::FileExt;
    let handle = crate::input::open_listed(&file.path).ok()?;
    let meta = handle.metadata().ok()?;
    let size = meta.len();
    let dir = file.path.parent()?.canonicalize().ok()?;
    let read = |from: u64, to: u64| -> Option<Vec<u8>> {
        let mut bytes = vec![0; usize::try_from(to.saturating_sub(from)).ok()?];
        handle.read_exact_at(&mut bytes, from).ok()?;
        Some(bytes)
    };
    let head = read(0, size.min(IDENTITY_BYTES))?;
    let tail_offset = size.saturating_sub(IDENTITY_BYTES);
    let tail = read(tail_offset, size)?;
    Some(FileIdentity {
        source: format!("dir:{}", dir.display()),
        name: file.name.clone(),
        size,
        head: digest(&[&head]),
        tail_offset,
        tail: digest(&[&tail]),
        stat: Some(FileStat::of(&meta)),
    })
}

impl<'d> LocalSequence<'d> {
    /// The files of `dir` as the search reads them.
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
            cache: Arc::new(SummaryCache::disabled()),
            notes: Vec::new(),
            assumption: None,
            read_as: Vec::new(),
        }
    }

    /// Skips files on `assumption` (off unless the user asks for it).
    pub fn with_assumption(mut self, assumption: Option<Assumption>) -> Self {
        self.assumption = assumption;
        self
    }

    fn note_read_as(&mut self, index: usize, identity: Option<FileIdentity>) {
        if self.read_as.len() <= index {
            self.read_as.resize(index + 1, None);
        }
        self.read_as[index] = identity;
    }

    /// Reads and fills `cache` with the summaries of the files it reads in full.
    pub fn with_cache(mut self, cache: Arc<SummaryCache>) -> Self {
        self.cache = cache;
        self
    }

    /// Adds what it reads to `progress`.
    pub fn with_progress(mut self, progress: Arc<ReadProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Uses `tuning`'s thresholds for the faster ways of reading a file.
    pub fn with_tuning(mut self, tuning: ScanTuning) -> Self {
        self.tuning = tuning;
        self
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

    fn plan(&mut self, start: usize) {
        if let Some(progress) = &self.progress {
            let bytes: u64 = self.dir.files[start..]
                .iter()
                .filter_map(|f| std::fs::metadata(&f.path).ok())
                .map(|m| m.len())
                .sum();
            progress.plan((self.dir.files.len() - start) as u64, bytes);
        }
    }

    fn assumption(&self) -> Option<Assumption> {
        self.assumption
    }

    fn read_file(
        &mut self,
        index: usize,
        request: &Request,
        initial: Option<&ExecutedGtids>,
    ) -> Result<Option<FileScan>, ResolveError> {
        let count = self.dir.files.len();
        if self.cache.is_active()
            && index + 1 < count
            && self.read_as.get(index).is_none_or(Option::is_none)
        {
            self.note_read_as(index, identity(&self.dir.files[index]));
        }
        let scanned = scan::scan_file(
            &self.dir.files[index].path,
            index + 1 == count,
            request,
            initial,
            &self.tuning,
            self.progress.as_deref(),
        )?;
        if let Some(progress) = &self.progress {
            progress.file_done();
        }
        Ok(scanned)
    }

    fn stats(&self) -> SearchStats {
        self.stats
    }
}

impl<'d> Listing for LocalSequence<'d> {
    fn files(&self) -> &[SequenceFile] {
        &self.files
    }

    fn gap_before(&self, index: usize) -> Vec<String> {
        self.dir
            .gap_before(index)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn size(&self, index: usize) -> Option<u64> {
        std::fs::metadata(&self.dir.files[index].path)
            .ok()
            .map(|m| m.len())
    }

    fn modified_us(&self, index: usize) -> Option<i64> {
        let modified = std::fs::metadata(&self.dir.files[index].path)
            .ok()?
            .modified()
            .ok()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        i64::try_from(since.as_micros()).ok()
    }

    fn purged_before_first(&self) -> bool {
        self.dir.purged.iter().any(|(at, _)| *at == 0)
    }
}

impl<'d> Summaries for LocalSequence<'d> {
    fn summary(&mut self, index: usize) -> Result<Option<FileSummary>, ResolveError> {
        if !self.cache.is_active() || index + 1 >= self.dir.files.len() {
            return Ok(None);
        }
        let Some(identity) = identity(&self.dir.files[index]) else {
            return Ok(None);
        };
        let proven = self
            .cache
            .proven(&identity, self.progress.as_deref(), &mut self.notes);
        if proven.is_none() {
            // The file is read next: this is its identity before the read.
            self.note_read_as(index, Some(identity));
        }
        Ok(proven)
    }

    fn forget(&mut self, index: usize) {
        if let Some(identity) = identity(&self.dir.files[index]) {
            self.cache.forget(&identity.source, &identity.name);
        }
    }

    fn stored_summary(&mut self, index: usize) -> Option<Option<FileSummary>> {
        let identity = identity(&self.dir.files[index])?;
        self.cache
            .stored(&identity.source, &identity.name)
            .map(|(_, summary)| summary)
    }

    fn remember(&mut self, index: usize, summary: FileSummary) {
        // Only a file that is the same before and after it was read (a copy still growing, a
        // file replaced meanwhile, would give a summary of something else).
        let before = self.read_as.get_mut(index).and_then(Option::take);
        if self.cache.is_active()
            && let Some(identity) = identity(&self.dir.files[index])
            && before.as_ref() == Some(&identity)
        {
            self.cache.put(&identity, &summary);
        }
    }

    fn take_notes(&mut self) -> Vec<Note> {
        let mut notes = std::mem::take(&mut self.notes);
        notes.extend(self.cache.take_notes());
        notes
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
