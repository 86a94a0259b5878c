//! How far a long read has come, for whoever shows it (the command line's progress bar on a
//! terminal). A resolution only adds to these counters; whether and how to show them is the
//! caller's business. Costs one atomic add per file read from disk and per event received from a
//! server.

use std::sync::atomic::{AtomicU64, Ordering};

/// Files and bytes planned and read so far.
#[derive(Debug, Default)]
pub struct ReadProgress {
    files_total: AtomicU64,
    files_read: AtomicU64,
    bytes_total: AtomicU64,
    bytes_read: AtomicU64,
}

/// A consistent-enough copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Files planned to be read.
    pub files_total: u64,
    /// Files read to their end.
    pub files_read: u64,
    /// Bytes planned to be read.
    pub bytes_total: u64,
    /// Bytes read so far.
    pub bytes_read: u64,
}

impl ReadProgress {
    /// At most `files` files and `bytes` bytes are about to be read (added to what was planned).
    pub fn plan(&self, files: u64, bytes: u64) {
        self.files_total.fetch_add(files, Ordering::Relaxed);
        self.bytes_total.fetch_add(bytes, Ordering::Relaxed);
    }

    /// `bytes` more bytes were read.
    pub fn read(&self, bytes: u64) {
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One more file was read to its end.
    pub fn file_done(&self) {
        self.files_read.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as they stand, for a progress bar.
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            files_total: self.files_total.load(Ordering::Relaxed),
            files_read: self.files_read.load(Ordering::Relaxed),
            bytes_total: self.bytes_total.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up() {
        let progress = ReadProgress::default();
        progress.plan(2, 300);
        progress.read(100);
        progress.file_done();
        progress.read(50);
        assert_eq!(
            progress.snapshot(),
            ProgressSnapshot {
                files_total: 2,
                files_read: 1,
                bytes_total: 300,
                bytes_read: 150
            }
        );
    }
}
