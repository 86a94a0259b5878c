//! A replication stream as an [`EventSource`]: events that arrive whole, one after another,
//! possibly across several binlog files, with positions taken from each event's `log_pos`.
//!
//! What a stream delivers differs from a file (MySQL `Binlog_sender`, MariaDB
//! `mysql_binlog_send`): it starts with an artificial ROTATE naming the file and position, then
//! the file's FORMAT_DESCRIPTION (with `log_pos` 0 when the dump did not start at 4); a real
//! ROTATE ends a file and the next file's artificial ROTATE and FDE follow; the server may leave
//! events out (MariaDB omits ANNOTATE_ROWS for replicas that do not ask for it) and sends
//! heartbeats. So an event's offset is `log_pos - event_size`, never a running sum of sizes.
//!
//! Checks: each item holds exactly one event (`event_size` equals its length), at least a
//! header and checksum, and, for decoded events, a matching CRC32. The decoders and the unit
//! rules are the file reader's.

use super::checksum;
use super::error::BinlogError;
use super::event_type::{EventType, type_name};
use super::events;
use super::format::{ChecksumAlg, FormatDescription};
use super::header::{EventHeader, HEADER_LEN};
use super::reader::{EventRef, EventSource};

/// Events from a replication stream.
pub struct EventStreamSource<I> {
    /// Where the stream comes from, e.g. `127.0.0.1:3307`.
    origin: String,
    /// `origin file`, for messages.
    name: String,
    file: String,
    events: I,
    current: Option<EventRef>,
    bytes: Vec<u8>,
    verified: bool,
    format: Option<FormatDescription>,
    /// Offset just past the last event with a position, for events with `log_pos` 0.
    last_end: u64,
    /// Checksum of the events that come before the first FDE (the artificial ROTATE): what
    /// the replica negotiated with `@master_binlog_checksum`.
    negotiated: ChecksumAlg,
    /// The current event's checksum trailer when it is not the format's (the first ROTATE).
    trailer: Option<usize>,
}

impl<I> EventStreamSource<I>
where
    I: Iterator<Item = Result<Vec<u8>, BinlogError>>,
{
    /// A stream from `origin` that starts in `file`; `negotiated` is the checksum the replica
    /// asked for, which covers events sent before the first FORMAT_DESCRIPTION.
    pub fn new(
        origin: impl Into<String>,
        file: impl Into<String>,
        negotiated: ChecksumAlg,
        events: I,
    ) -> Self {
        let origin = origin.into();
        let file = file.into();
        EventStreamSource {
            name: format!("{origin} {file}"),
            origin,
            file,
            events,
            current: None,
            bytes: Vec::new(),
            verified: false,
            format: None,
            last_end: 4,
            negotiated,
            trailer: None,
        }
    }

    /// The current event's bytes as the server sent them (header, body, checksum), unchecked.
    pub fn raw(&self) -> &[u8] {
        if self.current.is_some() {
            &self.bytes
        } else {
            &[]
        }
    }

    /// The next event that is part of the binlog into `bytes`; `false` at the stream's end.
    /// A heartbeat keeps the connection alive and is no part of the binlog: its log_pos is where
    /// the stream stands, not the end of an event (MySQL's `Binlog_sender::send_heartbeat_event`;
    /// binlog servers and proxies send them too).
    fn next_event(&mut self) -> Result<bool, BinlogError> {
        loop {
            let Some(item) = self.events.next() else {
                return Ok(false);
            };
            self.bytes = item?;
            let heartbeat = EventHeader::parse_prefix(&self.bytes).is_some_and(|h| {
                matches!(
                    h.event_type(),
                    Ok(EventType::Heartbeat | EventType::HeartbeatV2)
                )
            });
            if !heartbeat {
                return Ok(true);
            }
        }
    }

    /// The event in `bytes`: its header, checked against what arrived, and its offset, which
    /// only grows within a file.
    fn place(&mut self) -> Result<(EventHeader, u64), BinlogError> {
        let header = EventHeader::parse_prefix(&self.bytes).ok_or_else(|| {
            self.corrupt(
                self.last_end,
                format!("an event of {} bytes", self.bytes.len()),
            )
        })?;
        let size = u64::from(header.event_size);
        let event_type = header.event_type().ok();
        if size != self.bytes.len() as u64 {
            return Err(self.corrupt(
                self.last_end,
                format!(
                    "{} says it is {size} bytes but {} arrived",
                    type_name(header.type_code),
                    self.bytes.len()
                ),
            ));
        }
        let offset = match u64::from(header.log_pos) {
            0 => self.last_end,
            end if end >= size => end - size,
            end => {
                return Err(self.corrupt(
                    self.last_end,
                    format!("log_pos {end} is smaller than the event's {size} bytes"),
                ));
            }
        };
        // Within a file positions only grow (the server may leave events out, never go back);
        // an artificial ROTATE, which starts a file, is the one place they restart.
        let starts_file = event_type == Some(EventType::Rotate)
            && (header.is_artificial() || header.log_pos == 0);
        if offset < self.last_end && !starts_file {
            return Err(self.corrupt(
                offset,
                format!(
                    "{} at {offset} comes after an event that ended at {}: positions go backwards",
                    type_name(header.type_code),
                    self.last_end
                ),
            ));
        }
        let min_size = HEADER_LEN
            + if event_type == Some(EventType::FormatDescription) {
                0
            } else {
                self.checksum_len()
            };
        if (size as usize) < min_size {
            return Err(self.corrupt(offset, format!("event_size {size} is too small")));
        }
        Ok((header, offset))
    }

    /// What a FORMAT_DESCRIPTION, ROTATE or START_ENCRYPTION event at `offset` means for the
    /// stream; `true` when the event moved the stream to another file (it is then current).
    fn take_special(&mut self, header: EventHeader, offset: u64) -> Result<bool, BinlogError> {
        let size = u64::from(header.event_size);
        let event_type = header.event_type().ok();
        self.verified = false;
        match event_type {
            Some(EventType::FormatDescription) => {
                let format = FormatDescription::parse(&self.bytes)
                    .map_err(|what| self.corrupt(offset, what))?;
                if format.has_checksum_trailer() && format.checksum == ChecksumAlg::Crc32 {
                    self.verify(offset, true)?;
                }
                self.verified = true;
                self.format = Some(format);
            }
            Some(EventType::Rotate) => {
                let trailer = match self.format {
                    Some(_) => self.checksum_len(),
                    None => self.first_rotate_trailer(size),
                };
                self.trailer = Some(trailer);
                if trailer > 0 {
                    self.verify(offset, false)?;
                    self.verified = true;
                }
                let rotate = events::rotate(&self.bytes[HEADER_LEN..self.bytes.len() - trailer])
                    .map_err(|what| self.corrupt(offset, what))?;
                if header.is_artificial() || header.log_pos == 0 {
                    // Where the stream is now: the named file, at the given position.
                    self.file = rotate.next_file;
                    self.name = format!("{} {}", self.origin, self.file);
                    self.last_end = rotate.position;
                    self.current = Some(EventRef { offset, header });
                    return Ok(true);
                }
            }
            // A server decrypts an encrypted binlog before it sends it and marks the event that
            // started the encryption IGNORABLE (MariaDB `sql_repl.cc`): the rest reads as usual.
            Some(EventType::MariaStartEncryption) if header.is_ignorable() => {}
            Some(EventType::MariaStartEncryption) => {
                return Err(BinlogError::Encrypted {
                    file: self.name.clone(),
                    offset,
                });
            }
            _ => {}
        }
        Ok(false)
    }

    fn corrupt(&self, offset: u64, what: impl std::fmt::Display) -> BinlogError {
        BinlogError::corrupt(&self.name, offset, what)
    }

    fn verify(&self, offset: u64, is_format: bool) -> Result<(), BinlogError> {
        match checksum::stored_and_computed(&self.bytes, is_format) {
            Some((stored, computed)) if stored == computed => Ok(()),
            Some((stored, computed)) => Err(BinlogError::Checksum {
                file: self.name.clone(),
                offset,
                event: EventHeader::parse_prefix(&self.bytes)
                    .map_or_else(String::new, |header| type_name(header.type_code)),
                stored,
                computed,
            }),
            None => Err(self.corrupt(offset, "event too short for its checksum")),
        }
    }

    /// Whether the dump's first artificial ROTATE (before any FORMAT_DESCRIPTION) ends with a
    /// CRC32, read from its size: it names the file the dump was asked for, so its size is the
    /// header, the 8-byte position and that name, plus 4 with a CRC. The servers disagree on
    /// when they add one: MySQL only when the replica's `@source_binlog_checksum` /
    /// `@master_binlog_checksum` names an algorithm it knows (`Binlog_sender::fake_rotate_event`
    /// with `event_checksum_on()`; mysql_async sends `'ALL'`, which it does not know), MariaDB
    /// whenever the replica announced checksum support, even with `binlog_checksum=NONE`
    /// (`sql_repl.cc`, `fake_rotate_event`). Any other size falls back to what was negotiated.
    fn first_rotate_trailer(&self, size: u64) -> usize {
        let bare = (HEADER_LEN + 8 + self.file.len()) as u64;
        match size.checked_sub(bare) {
            Some(0) => 0,
            Some(4) => checksum::CHECKSUM_LEN,
            _ => self.checksum_len(),
        }
    }

    fn checksum_len(&self) -> usize {
        match (&self.format, self.negotiated) {
            (Some(format), _) => format.checksum_len(),
            (None, ChecksumAlg::Crc32) => checksum::CHECKSUM_LEN,
            (None, ChecksumAlg::Off) => 0,
        }
    }
}

impl<I> EventSource for EventStreamSource<I>
where
    I: Iterator<Item = Result<Vec<u8>, BinlogError>>,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn file_name(&self) -> &str {
        &self.file
    }

    fn advance(&mut self) -> Result<bool, BinlogError> {
        self.current = None;
        self.trailer = None;
        if !self.next_event()? {
            return Ok(false);
        }
        let (header, offset) = self.place()?;
        if self.take_special(header, offset)? {
            return Ok(true);
        }
        if header.log_pos != 0 {
            self.last_end = offset + u64::from(header.event_size);
        }
        self.current = Some(EventRef { offset, header });
        Ok(true)
    }

    fn current(&self) -> Option<EventRef> {
        self.current
    }

    fn body(&mut self) -> Result<&[u8], BinlogError> {
        let event = self
            .current
            .ok_or_else(|| self.corrupt(self.last_end, "no current event to decode"))?;
        let trailer = self.trailer.unwrap_or_else(|| self.checksum_len());
        if !self.verified && trailer > 0 {
            self.verify(event.offset, false)?;
            self.verified = true;
        }
        let end = self.bytes.len().saturating_sub(trailer).max(HEADER_LEN);
        Ok(&self.bytes[HEADER_LEN..end])
    }

    fn format(&self) -> Option<&FormatDescription> {
        self.format.as_ref()
    }

    fn may_grow(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::header::FLAG_ARTIFICIAL;

    fn rotate(file: &str, crc: bool) -> Vec<u8> {
        let mut body = 4u64.to_le_bytes().to_vec();
        body.extend_from_slice(file.as_bytes());
        let header = EventHeader {
            timestamp: 0,
            type_code: EventType::Rotate as u8,
            server_id: 1,
            event_size: (HEADER_LEN + body.len() + if crc { 4 } else { 0 }) as u32,
            log_pos: 0,
            flags: FLAG_ARTIFICIAL,
        };
        let mut bytes = header.serialize().to_vec();
        bytes.extend_from_slice(&body);
        if crc {
            checksum::append(&mut bytes);
        }
        bytes
    }

    /// Stock MySQL sends the dump's first artificial ROTATE without a CRC32 when the replica's
    /// checksum variable names no algorithm it knows (mysql_async says `'ALL'`), while
    /// `binlog_checksum` is CRC32; MariaDB with `binlog_checksum=NONE` does the opposite. So the
    /// event's size says whether it has a CRC, whatever was negotiated, and a ROTATE without
    /// one is no "CRC32 mismatch in ROTATE_EVENT".
    #[test]
    fn the_first_rotate_says_by_its_size_whether_it_has_a_crc() {
        let file = "mysql-bin.000002";
        for (crc, negotiated) in [
            (false, ChecksumAlg::Crc32),
            (true, ChecksumAlg::Off),
            (true, ChecksumAlg::Crc32),
            (false, ChecksumAlg::Off),
        ] {
            let events = vec![Ok(rotate(file, crc))];
            let mut stream =
                EventStreamSource::new("db:3306", file, negotiated, events.into_iter());
            assert!(
                stream.advance().unwrap(),
                "crc {crc}, negotiated {negotiated:?}"
            );
            assert_eq!(
                stream.file_name(),
                file,
                "crc {crc}, negotiated {negotiated:?}"
            );
        }
        // A damaged CRC is still an error.
        let mut damaged = rotate(file, true);
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let mut stream = EventStreamSource::new(
            "db:3306",
            file,
            ChecksumAlg::Crc32,
            vec![Ok(damaged)].into_iter(),
        );
        assert!(stream.advance().is_err());
    }

    fn event(type_code: EventType, log_pos: u32, body: &[u8]) -> Vec<u8> {
        let header = EventHeader {
            timestamp: 0,
            type_code: type_code as u8,
            server_id: 1,
            event_size: (HEADER_LEN + body.len() + 4) as u32,
            log_pos,
            flags: 0,
        };
        let mut bytes = header.serialize().to_vec();
        bytes.extend_from_slice(body);
        checksum::append(&mut bytes);
        bytes
    }

    /// MySQL (and binlog servers) send heartbeats whose log_pos is the position the stream
    /// stands at; read as an event, one would end before the event that came before it and make
    /// the stream look "damaged". They are passed over.
    #[test]
    fn heartbeats_are_no_part_of_the_binlog() {
        let file = "mysql-bin.000002";
        let query = event(EventType::Query, 4 + 19 + 30 + 4, &[0u8; 30]);
        let events = vec![
            Ok(rotate(file, true)),
            Ok(event(EventType::Heartbeat, 57, file.as_bytes())),
            Ok(query.clone()),
            Ok(event(EventType::Heartbeat, 57, file.as_bytes())),
            Ok(event(EventType::HeartbeatV2, 57, &[1, 2, 3])),
        ];
        let mut stream =
            EventStreamSource::new("db:3306", file, ChecksumAlg::Crc32, events.into_iter());
        assert!(stream.advance().unwrap());
        assert!(stream.advance().unwrap());
        let current = stream.current().unwrap();
        assert_eq!(current.header.type_code, EventType::Query as u8);
        assert_eq!(current.offset, 4);
        assert!(!stream.advance().unwrap());
    }
}
