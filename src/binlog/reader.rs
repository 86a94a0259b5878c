//! Framing: turns a byte source into a sequence of validated events.
//!
//! [`EventSource`] is what transaction units are built from; [`BinlogReader`] implements it over
//! the bytes of a binlog file (on disk, [`FileEventSource`], or in memory), and a replication
//! stream implements it over events from the network.
//!
//! What a file source checks, in this order, before handing out an event:
//! - the magic `fe 62 69 6e`, and a FORMAT_DESCRIPTION event (binlog v4) first;
//! - the 19-byte header: `event_size` at least a header (plus checksum) and at most the limit
//!   (1 GiB by default), the whole event present in the file, and `log_pos` equal to the offset
//!   just past the event (modulo 2³², as servers write it), except where `log_pos` is 0 and in
//!   relay logs, whose events carry the source server's positions (recognised by the artificial
//!   ROTATE a relay log holds before them);
//! - for events whose body is decoded, the CRC32 when the FDE in force says the binlog has
//!   checksums (the FDE's own with the in-use flag cleared).
//!
//! A file may end inside an event only when it is the newest of its source (a file being
//! written): reading then stops there without error. Anywhere else that is an error.
//!
//! Costs: the file is read with `pread` into one reused window (4 MiB by default), sequentially;
//! bodies of events nobody decodes and that lie beyond the window are never read. Nothing is
//! allocated per event. Memory: the window, grown temporarily for a decoded event larger than it
//! (at most [`MAX_DECODED_EVENT`]).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::checksum;
use super::error::BinlogError;
use super::event_type::{EventType, type_name};
use super::format::ChecksumAlg;
use super::format::FormatDescription;
use super::header::{EventHeader, HEADER_LEN};

/// The binlog file magic.
pub(crate) const BINLOG_MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];

/// Offset of the first event in a binlog file.
pub(crate) const FIRST_EVENT_OFFSET: u64 = 4;

/// The largest event whose body is ever held in memory for decoding.
pub(crate) const MAX_DECODED_EVENT: u64 = 64 << 20;

/// Default largest `event_size` accepted (MySQL's `max_allowed_packet` ceiling).
pub(crate) const DEFAULT_MAX_EVENT_SIZE: u64 = 1 << 30;

/// An event the source has framed: where it starts and its header. Its bytes stay in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef {
    /// Offset of the event's first byte in its binlog file.
    pub offset: u64,
    pub header: EventHeader,
}

impl EventRef {
    /// Offset just past the event.
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.header.event_size)
    }
}

/// A sequence of framed events: a binlog file, or a replication stream.
pub trait EventSource {
    /// The file (or stream) name used in messages.
    fn name(&self) -> &str;

    /// The binlog file name (as `SHOW BINARY LOGS` lists it) the current event belongs to.
    fn file_name(&self) -> &str;

    /// Moves to the next event; `false` at the end. The event is then [`EventSource::current`].
    fn advance(&mut self) -> Result<bool, BinlogError>;

    /// The event the last successful [`EventSource::advance`] moved to.
    fn current(&self) -> Option<EventRef>;

    /// The next event, or `None` at the end.
    fn next_event(&mut self) -> Result<Option<EventRef>, BinlogError> {
        Ok(if self.advance()? {
            self.current()
        } else {
            None
        })
    }

    /// The body (after the header, without the checksum) of the event last returned by
    /// [`EventSource::next_event`], its checksum verified.
    fn body(&mut self) -> Result<&[u8], BinlogError>;

    /// The FORMAT_DESCRIPTION in force, once one has been read.
    fn format(&self) -> Option<&FormatDescription>;

    /// True when the source is the newest of its sequence and may still be written to, so a
    /// transaction open at its end is being written rather than lost.
    fn may_grow(&self) -> bool;
}

/// How a file is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Largest `event_size` accepted.
    pub max_event_size: u64,
    /// The file is the newest of its source: it may end mid-event.
    pub newest: bool,
    /// Size of the read window.
    pub window: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            newest: false,
            window: 4 << 20,
        }
    }
}

/// Counters for `--explain` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub bytes_read: u64,
    pub events: u64,
    pub bodies_decoded: u64,
}

/// Bytes readable at any offset: a file (`pread`) or a buffer.
pub trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for Vec<u8> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// How far [`BinlogReader::resync`] scans for an event start before it gives up.
pub(crate) const MAX_RESYNC_SCAN: u64 = 16 << 20;

/// What [`BinlogReader::resync`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    /// An event starts here.
    At(u64),
    /// No event starts in the range.
    None,
    /// None within [`MAX_RESYNC_SCAN`] bytes: unknown whether one starts further on.
    TooFar,
}

/// A binlog file on disk as an [`EventSource`].
pub type FileEventSource = BinlogReader<File>;

/// The bytes of one binlog file as an [`EventSource`].
pub struct BinlogReader<R> {
    name: String,
    file_name: String,
    file: R,
    len: u64,
    options: ReadOptions,
    window: Vec<u8>,
    window_start: u64,
    window_len: usize,
    next: u64,
    /// Offset of the current event, whose header stays in the window until the next advance
    /// (re-read from there rather than kept in a struct: cheaper on the hot path).
    current: Option<u64>,
    current_verified: bool,
    format: Option<FormatDescription>,
    /// In a relay log, after the artificial ROTATE, events carry the source server's log_pos.
    foreign_positions: bool,
    /// Where the file ends inside an event (newest file only).
    cut_at: Option<u64>,
    /// Header plus the checksum the FDE in force declares.
    min_event_size: u64,
    stats: ReadStats,
}

impl BinlogReader<File> {
    /// Opens the binlog file at `path` and checks its magic.
    pub fn open(path: &Path, options: ReadOptions) -> Result<FileEventSource, BinlogError> {
        let name = path.display().to_string();
        let io = |source| BinlogError::Io {
            file: name.clone(),
            source,
        };
        let file = crate::input::open_regular(path)?;
        let len = file.metadata().map_err(io)?.len();
        BinlogReader::new(name, file, len, options)
    }
}

impl BinlogReader<Vec<u8>> {
    /// Reads a binlog file held in memory; `name` is how messages refer to it.
    pub fn from_bytes(
        name: impl Into<String>,
        bytes: Vec<u8>,
        options: ReadOptions,
    ) -> Result<BinlogReader<Vec<u8>>, BinlogError> {
        let len = bytes.len() as u64;
        BinlogReader::new(name.into(), bytes, len, options)
    }
}

impl<R: ReadAt> BinlogReader<R> {
    /// Reads `len` bytes of `file` as a binlog and checks the magic.
    pub fn new(
        name: String,
        file: R,
        len: u64,
        options: ReadOptions,
    ) -> Result<BinlogReader<R>, BinlogError> {
        let file_name = Path::new(&name)
            .file_name()
            .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
        let mut source = BinlogReader {
            name,
            file_name,
            file,
            len,
            window: Vec::new(),
            window_start: 0,
            window_len: 0,
            next: FIRST_EVENT_OFFSET,
            current: None,
            current_verified: false,
            format: None,
            foreign_positions: false,
            cut_at: None,
            min_event_size: HEADER_LEN as u64,
            stats: ReadStats::default(),
            options,
        };
        let present = len.min(4) as usize;
        source.ensure(0, present)?;
        let magic = &source.window[..present];
        if magic != &BINLOG_MAGIC[..present] || (len < 4 && !source.options.newest) {
            return Err(BinlogError::NotABinlog { file: source.name });
        }
        if len < 4 {
            // A newest file caught while the server creates it: no events yet.
            source.next = len;
            source.cut_at = Some(0);
        }
        Ok(source)
    }

    /// The file length when it was opened; events past it are not read.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len <= FIRST_EVENT_OFFSET
    }

    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// Where a newest file ends inside an event, if it does.
    pub fn cut_at(&self) -> Option<u64> {
        self.cut_at
    }

    /// Offset of the next event to read.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Whether events carry the positions of this file (not a relay log's source positions),
    /// which [`BinlogReader::resync`] relies on.
    pub fn has_own_positions(&self) -> bool {
        !self.foreign_positions
    }

    /// Continues reading at `offset`, which must be the start of an event (a unit start found by
    /// [`BinlogReader::resync`] or a position read from the file). The FORMAT_DESCRIPTION must
    /// have been read already; the usual checks apply to every event from there.
    pub fn seek(&mut self, offset: u64) -> Result<(), BinlogError> {
        if self.format.is_none() {
            return Err(self.corrupt(offset, "a seek before the FORMAT_DESCRIPTION was read"));
        }
        self.next = offset.clamp(FIRST_EVENT_OFFSET, self.len);
        self.current = None;
        Ok(())
    }

    /// Treats `offset` (an event start) as the end of the file: the reader stops there.
    pub fn end_at(&mut self, offset: u64) {
        self.len = self.len.min(offset);
    }

    /// The first offset in `[from, limit)` where an event starts, recognised without knowing
    /// where the events before it are: a known event type, a size the format allows, `log_pos`
    /// equal to the offset just past the event, the CRC32 right (when the binlog has checksums
    /// and the event is under 1 MiB), and the event after it chaining on the same way (unless
    /// it ends the file). Wrong guesses need all of that to line up by chance. `Resync::None` when no
    /// event starts there. Only for files whose events carry their own positions.
    ///
    /// The scan goes byte by byte, so it stops after `MAX_RESYNC_SCAN` (16 MiB) bytes:
    /// `Resync::TooFar` says no event start was found that near (inside an event that large,
    /// or in bytes that are no binlog, such as a sparse file's zeros), and the caller reads the
    /// file in order instead.
    pub fn resync(&mut self, from: u64, limit: u64) -> Result<Resync, BinlogError> {
        const CHUNK: usize = 64 << 10;
        const CRC_LIMIT: u64 = 1 << 20;
        if self.foreign_positions || self.format.is_none() {
            return Ok(Resync::None);
        }
        let limit = limit.min(self.len);
        let mut at = from.max(FIRST_EVENT_OFFSET);
        let give_up = at.saturating_add(MAX_RESYNC_SCAN);
        while at < limit {
            if at >= give_up {
                return Ok(Resync::TooFar);
            }
            let chunk_end = (at + CHUNK as u64).min(limit);
            let readable = (chunk_end + HEADER_LEN as u64).min(self.len);
            self.ensure(at, (readable - at) as usize)?;
            while at < chunk_end {
                if self.plausible_at(at)? {
                    let header = EventHeader::parse_prefix(self.resident(at, HEADER_LEN))
                        .ok_or_else(|| self.corrupt(at, "short header"))?;
                    let size = u64::from(header.event_size);
                    let mut confirmed = true;
                    if self.checksum_len() > 0 && size <= CRC_LIMIT {
                        self.ensure(at, size as usize)?;
                        let is_format = header.type_code == EventType::FormatDescription as u8;
                        confirmed = matches!(
                            checksum::stored_and_computed(self.resident(at, size as usize), is_format),
                            Some((stored, computed)) if stored == computed
                        );
                    }
                    let next = at + size;
                    if confirmed && next + HEADER_LEN as u64 <= self.len {
                        confirmed = self.plausible_at(next)?;
                    }
                    if confirmed {
                        return Ok(Resync::At(at));
                    }
                    // The checks above moved the window; bring the scan's bytes back.
                    let readable = (chunk_end + HEADER_LEN as u64).min(self.len);
                    self.ensure(at, (readable - at) as usize)?;
                }
                at += 1;
            }
        }
        Ok(Resync::None)
    }

    fn checksum_len(&self) -> usize {
        self.format
            .as_ref()
            .map_or(0, FormatDescription::checksum_len)
    }

    /// A header at `at` that could start an event: known type, sane size, whole, chained.
    pub fn plausible_at(&mut self, at: u64) -> Result<bool, BinlogError> {
        if at + HEADER_LEN as u64 > self.len {
            return Ok(false);
        }
        self.ensure(at, HEADER_LEN)?;
        let Some(header) = EventHeader::parse_prefix(self.resident(at, HEADER_LEN)) else {
            return Ok(false);
        };
        let size = u64::from(header.event_size);
        Ok(header.log_pos == (at + size) as u32
            && size >= self.min_event_size
            && size <= self.options.max_event_size
            && at + size <= self.len
            && EventType::try_from(header.type_code).is_ok()
            && header.type_code != EventType::FormatDescription as u8)
    }

    /// Makes `[offset, offset + n)` resident in the window, reading ahead as far as the window
    /// allows. `offset + n` must not exceed the file length.
    fn ensure(&mut self, offset: u64, n: usize) -> Result<(), BinlogError> {
        let window_end = self.window_start + self.window_len as u64;
        if offset >= self.window_start && offset + n as u64 <= window_end {
            return Ok(());
        }
        // Never more than the rest of the file: small files get small windows.
        let rest = usize::try_from(self.len - offset).unwrap_or(usize::MAX);
        let capacity = self.options.window.min(rest).max(n);
        if self.window.len() < capacity {
            self.window.resize(capacity, 0);
        } else if self.window.len() > self.options.window.max(n) {
            // Give back what a large decoded event needed.
            self.window.truncate(capacity);
            self.window.shrink_to_fit();
        }
        let want = (self.len - offset).min(capacity as u64) as usize;
        self.file
            .read_exact_at(&mut self.window[..want], offset)
            .map_err(|source| BinlogError::Io {
                file: self.name.clone(),
                source,
            })?;
        self.window_start = offset;
        self.window_len = want;
        self.stats.bytes_read += want as u64;
        Ok(())
    }

    fn resident(&self, offset: u64, n: usize) -> &[u8] {
        let at = (offset - self.window_start) as usize;
        &self.window[at..at + n]
    }

    fn corrupt(&self, offset: u64, what: impl std::fmt::Display) -> BinlogError {
        BinlogError::corrupt(&self.name, offset, what)
    }

    /// Ends reading at a partial event: fine for the newest file, an error elsewhere.
    fn cut(&mut self, offset: u64, size: u64) -> Result<Option<EventRef>, BinlogError> {
        let available = self.len - offset;
        if self.options.newest {
            self.cut_at = Some(offset);
            self.next = self.len;
            return Ok(None);
        }
        Err(BinlogError::Truncated {
            file: self.name.clone(),
            offset,
            size,
            available,
        })
    }

    /// Reads and checks the FORMAT_DESCRIPTION at `event`.
    fn load_format(&mut self, event: EventRef) -> Result<(), BinlogError> {
        let size = u64::from(event.header.event_size);
        if size > MAX_DECODED_EVENT {
            return Err(self.corrupt(
                event.offset,
                format!("FORMAT_DESCRIPTION_EVENT of {size} bytes"),
            ));
        }
        self.ensure(event.offset, size as usize)?;
        let format = FormatDescription::parse(self.resident(event.offset, size as usize))
            .map_err(|what| self.corrupt(event.offset, what))?;
        // A damaged FDE is reported as damage (its offset and checksum), not as a version.
        if format.has_checksum_trailer() && format.checksum == ChecksumAlg::Crc32 {
            self.verify(event, true)?;
        }
        if format.binlog_version != 4 {
            return Err(BinlogError::UnsupportedVersion {
                file: self.name.clone(),
                what: format!(
                    "the FORMAT_DESCRIPTION_EVENT at offset {} says binlog v{}",
                    event.offset, format.binlog_version
                ),
            });
        }
        self.min_event_size = (HEADER_LEN + format.checksum_len()) as u64;
        self.format = Some(format);
        Ok(())
    }

    /// Checks the CRC32 of a resident event.
    /// The fast path of `advance` and `next_event`, taken by nearly every event: the header
    /// is in the window, the event is whole, its size and log_pos check out, and its type needs
    /// no special handling. `None` hands the event to the checked path.
    #[inline(always)]
    fn fast_next(&mut self) -> Option<EventRef> {
        let offset = self.next;
        let window_end = self.window_start + self.window_len as u64;
        if offset < self.window_start
            || offset + HEADER_LEN as u64 > window_end
            || offset <= FIRST_EVENT_OFFSET
        {
            return None;
        }
        let at = (offset - self.window_start) as usize;
        let header = EventHeader::parse_prefix(&self.window[at..])?;
        let size = u64::from(header.event_size);
        let plain_type = !matches!(
            header.event_type(),
            Ok(EventType::Rotate | EventType::FormatDescription | EventType::MariaStartEncryption)
        );
        let log_pos_ok = self.foreign_positions
            || header.log_pos == 0
            || header.log_pos == (offset + size) as u32;
        if !(plain_type
            && log_pos_ok
            && size >= self.min_event_size
            && size <= self.options.max_event_size
            && offset + size <= self.len)
        {
            return None;
        }
        self.next = offset + size;
        self.current = Some(offset);
        self.current_verified = false;
        self.stats.events += 1;
        Some(EventRef { offset, header })
    }

    fn verify(&self, event: EventRef, is_format: bool) -> Result<(), BinlogError> {
        let bytes = self.resident(event.offset, event.header.event_size as usize);
        match checksum::stored_and_computed(bytes, is_format) {
            Some((stored, computed)) if stored == computed => Ok(()),
            Some((stored, computed)) => Err(BinlogError::Checksum {
                file: self.name.clone(),
                offset: event.offset,
                event: type_name(event.header.type_code),
                stored,
                computed,
            }),
            None => Err(self.corrupt(event.offset, "event too short for its checksum")),
        }
    }
}

impl<R: ReadAt> EventSource for BinlogReader<R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn file_name(&self) -> &str {
        &self.file_name
    }

    #[inline]
    fn advance(&mut self) -> Result<bool, BinlogError> {
        if self.fast_next().is_some() {
            return Ok(true);
        }
        Ok(self.next_event_checked()?.is_some())
    }

    #[inline]
    fn next_event(&mut self) -> Result<Option<EventRef>, BinlogError> {
        match self.fast_next() {
            Some(event) => Ok(Some(event)),
            None => self.next_event_checked(),
        }
    }

    #[inline]
    fn current(&self) -> Option<EventRef> {
        let offset = self.current?;
        let at = usize::try_from(offset.checked_sub(self.window_start)?).ok()?;
        let header = EventHeader::parse_prefix(self.window.get(at..)?)?;
        Some(EventRef { offset, header })
    }

    fn body(&mut self) -> Result<&[u8], BinlogError> {
        let event = self
            .current()
            .ok_or_else(|| self.corrupt(self.next, "no current event to decode"))?;
        let size = u64::from(event.header.event_size);
        if size > MAX_DECODED_EVENT {
            return Err(self.corrupt(
                event.offset,
                format!(
                    "{} of {size} bytes is too large to decode (limit {MAX_DECODED_EVENT})",
                    type_name(event.header.type_code)
                ),
            ));
        }
        self.ensure(event.offset, size as usize)?;
        let checksum_len = self
            .format
            .as_ref()
            .map_or(0, FormatDescription::checksum_len);
        let is_format = event.header.type_code == EventType::FormatDescription as u8;
        if !self.current_verified && checksum_len > 0 && !is_format {
            self.verify(event, false)?;
            self.current_verified = true;
        }
        self.stats.bodies_decoded += 1;
        let trailer = if is_format {
            self.format
                .as_ref()
                .filter(|f| f.has_checksum_trailer())
                .map_or(0, |_| checksum::CHECKSUM_LEN)
        } else {
            checksum_len
        };
        let bytes = self.resident(event.offset, size as usize);
        Ok(&bytes[HEADER_LEN..bytes.len() - trailer])
    }

    fn format(&self) -> Option<&FormatDescription> {
        self.format.as_ref()
    }

    fn may_grow(&self) -> bool {
        self.options.newest
    }
}

impl<R: ReadAt> BinlogReader<R> {
    /// Every check of the module documentation, for the events the fast path leaves out.
    #[cold]
    #[inline(never)]
    fn next_event_checked(&mut self) -> Result<Option<EventRef>, BinlogError> {
        self.current = None;
        let offset = self.next;
        if offset >= self.len {
            return Ok(None);
        }
        let remaining = self.len - offset;
        if remaining < HEADER_LEN as u64 {
            return self.cut(offset, HEADER_LEN as u64);
        }
        self.ensure(offset, HEADER_LEN)?;
        let header = EventHeader::parse_prefix(self.resident(offset, HEADER_LEN))
            .ok_or_else(|| self.corrupt(offset, "short header"))?;
        let event = EventRef { offset, header };
        let size = u64::from(header.event_size);
        let event_type = header.event_type().ok();

        if offset == FIRST_EVENT_OFFSET {
            match event_type {
                Some(EventType::FormatDescription) => {}
                Some(EventType::StartV3) => {
                    return Err(BinlogError::UnsupportedVersion {
                        file: self.name.clone(),
                        what: "START_EVENT_V3: a binlog v1/v3 file from MySQL 3.23 or 4.x"
                            .to_owned(),
                    });
                }
                _ => {
                    return Err(self.corrupt(
                        offset,
                        format!(
                            "the first event is {}, not a FORMAT_DESCRIPTION_EVENT",
                            type_name(header.type_code)
                        ),
                    ));
                }
            }
        }

        let checksum_len = match (&self.format, event_type) {
            (_, Some(EventType::FormatDescription)) | (None, _) => 0,
            (Some(format), _) => format.checksum_len(),
        };
        let min_size = (HEADER_LEN + checksum_len) as u64;
        if size < min_size || size > self.options.max_event_size {
            return Err(self.corrupt(
                offset,
                format!(
                    "{} with event_size {size} cannot be right (at least {min_size}, at most {} \
                     bytes); the file is damaged here",
                    type_name(header.type_code),
                    self.options.max_event_size
                ),
            ));
        }
        if size > remaining {
            return self.cut(offset, size);
        }
        let expected_log_pos = (offset + size) as u32;
        if !self.foreign_positions && header.log_pos != 0 && header.log_pos != expected_log_pos {
            return Err(self.corrupt(
                offset,
                format!(
                    "{} says it ends at {} but it ends at {}: the chain of events is broken",
                    type_name(header.type_code),
                    header.log_pos,
                    offset + size
                ),
            ));
        }

        match event_type {
            Some(EventType::FormatDescription) => self.load_format(event)?,
            Some(EventType::Rotate) if header.is_artificial() || header.log_pos == 0 => {
                self.foreign_positions = true;
            }
            Some(EventType::MariaStartEncryption) => {
                return Err(BinlogError::Encrypted {
                    file: self.name.clone(),
                    offset,
                });
            }
            _ => {}
        }

        self.next = offset + size;
        self.current = Some(offset);
        self.current_verified = event_type == Some(EventType::FormatDescription);
        self.stats.events += 1;
        Ok(Some(event))
    }
}
