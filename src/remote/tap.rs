//! Dumps read without mysql_async. Every connection goes through the relay
//! ([`super::throttle`]), which owns the socket to the server. On a connection without TLS, once
//! mysql_async has logged in and set up the session, the dump's `COM_REGISTER_SLAVE` and
//! `COM_BINLOG_DUMP` are sent without it and what comes back is split into events here: by the
//! relay itself for a probe (handed over in batches, under its allowance), or by a walk on the
//! search's own thread from the socket the relay handed over (blocking reads, no hand-over
//! between threads). The events then skip the second loopback hop to mysql_async, its
//! per-packet futures, and the decoding into `Event`s that are serialized back into bytes:
//! profiled on a 1 GiB dump, those cost about three times what receiving the bytes does. With
//! TLS the bytes are opaque to the relay, and mysql_async reads the dump.
//!
//! Framing (MySQL client/server protocol): packets of a 3-byte length, a sequence id and the
//! payload, a payload of 0xFFFFFF bytes continued by the next packet. With `CLIENT_COMPRESS`
//! these are carried in compressed packets: a 3-byte compressed length, a sequence id, a 3-byte
//! uncompressed length (0: the payload is not compressed) and a zlib stream. In a dump each
//! payload is an OK byte (0x00) and one event, an EOF (0xFE) at the end of a non-blocking
//! dump, or an ERR (0xFF).

use flate2::{Decompress, FlushDecompress, Status};

/// Events as the server sent them (checksums included), in order, in one buffer: one
/// allocation per read from the socket rather than one per event, and the reader's copies of
/// single events are made (and freed) on its own thread.
#[derive(Default)]
pub(super) struct Batch {
    data: Vec<u8>,
    bounds: Vec<(usize, usize)>,
}

impl Batch {
    fn push(&mut self, event: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(event);
        self.bounds.push((start, self.data.len()));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.bounds.len()
    }

    /// Event `i`.
    pub(super) fn get(&self, i: usize) -> Option<&[u8]> {
        let &(start, end) = self.bounds.get(i)?;
        self.data.get(start..end)
    }
}

/// What the relay hands the reader.
pub(super) enum TapItem {
    Events(Batch),
    /// The non-blocking dump reached the end of the binlog.
    End,
    /// The server refused the dump, or the bytes were not a dump.
    Failed(mysql_async::Error),
}

/// `CLIENT_COMPRESS` in the capability flags.
pub(super) const CLIENT_COMPRESS: u32 = 0x20;
/// `CLIENT_SSL`: the rest of the connection is TLS.
pub(super) const CLIENT_SSL: u32 = 0x800;

/// The largest payload of one packet.
const MAX_PAYLOAD: usize = 0xFF_FFFF;
/// The largest event a dump may carry: the driver's packet limit on the other path
/// (`settings::MAX_PACKET`, 1 GiB, MySQL's and MariaDB's ceiling for `max_allowed_packet`).
pub(super) const MAX_EVENT: usize = super::settings::MAX_PACKET;
/// How much inflated data one call of [`Deframer::push`] hands out at most: compressed packets
/// past it wait in `wire` for the next call, so a read of zlib bombs (1000:1) holds at most
/// this much, not a thousand times the read.
const MAX_INFLATED_PER_PUSH: usize = 16 << 20;

/// Frames command payloads (each a new command: sequence id 0) for the wire.
pub(super) fn frame_commands(payloads: &[Vec<u8>], compressed: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for payload in payloads {
        let mut packet = Vec::with_capacity(payload.len() + 4);
        // Commands here are far below MAX_PAYLOAD (a file name and a few integers).
        packet.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
        packet.push(0);
        packet.extend_from_slice(payload);
        if compressed {
            // Sent as is: an uncompressed length of 0 says the payload is not compressed.
            out.extend_from_slice(&(packet.len() as u32).to_le_bytes()[..3]);
            out.extend_from_slice(&[0, 0, 0, 0]);
        }
        out.extend_from_slice(&packet);
    }
    out
}

/// Splits the server's bytes into the dump's events.
pub(super) struct Deframer {
    compressed: bool,
    /// Received bytes not yet unwrapped (compressed packets).
    wire: Vec<u8>,
    inflate: Decompress,
    /// The start of a plain packet not yet complete.
    plain: Vec<u8>,
    /// A payload continued over several packets.
    joined: Vec<u8>,
    /// The reply to `COM_REGISTER_SLAVE` comes before the events.
    registered: bool,
    done: bool,
    /// How the dump ended, held back until the events before it are handed out.
    replay: Option<TapItem>,
}

impl Deframer {
    pub(super) fn new(compressed: bool) -> Deframer {
        Deframer {
            compressed,
            wire: Vec::new(),
            inflate: Decompress::new(true),
            plain: Vec::new(),
            joined: Vec::new(),
            registered: false,
            done: false,
            replay: None,
        }
    }

    /// Holds `ended` back until [`Deframer::take_replay`].
    pub(super) fn replay(&mut self, ended: Option<TapItem>) {
        self.replay = ended;
    }

    pub(super) fn take_replay(&mut self) -> Option<TapItem> {
        self.replay.take()
    }

    /// Whether complete compressed packets wait to be unwrapped: call [`Deframer::push`] with
    /// no bytes before reading more.
    pub(super) fn has_pending(&self) -> bool {
        !self.done
            && self.wire.len() >= 7
            && self.wire.len() - 7
                >= u32::from_le_bytes([self.wire[0], self.wire[1], self.wire[2], 0]) as usize
    }

    /// Takes `bytes` from the server; complete events go to `events` (compressed packets
    /// inflating to more than `MAX_INFLATED_PER_PUSH` wait for the next call: see
    /// [`Deframer::has_pending`]). Returns how the dump ended, once it has.
    pub(super) fn push(&mut self, bytes: &[u8], events: &mut Batch) -> Option<TapItem> {
        if self.done {
            return None;
        }
        let ended = match self.compressed {
            true => self.unwrap(bytes, events),
            false => self.take_plain(bytes, events),
        };
        self.done = ended.is_some();
        ended
    }

    /// Unwraps the complete compressed packets received so far into plain bytes.
    fn unwrap(&mut self, bytes: &[u8], events: &mut Batch) -> Option<TapItem> {
        let mut wire = std::mem::take(&mut self.wire);
        wire.extend_from_slice(bytes);
        let mut inflated = Vec::new();
        let mut at = 0;
        let mut ended = None;
        let start = events.data.len();
        while ended.is_none()
            && wire.len() - at >= 7
            && events.data.len() - start < MAX_INFLATED_PER_PUSH
        {
            let head = &wire[at..at + 7];
            let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
            let plain_len = u32::from_le_bytes([head[4], head[5], head[6], 0]) as usize;
            if wire.len() - at - 7 < len {
                break;
            }
            let body = &wire[at + 7..at + 7 + len];
            at += 7 + len;
            ended = if plain_len == 0 {
                self.take_plain(body, events)
            } else {
                inflated.clear();
                match inflate(&mut self.inflate, body, plain_len, &mut inflated) {
                    Ok(()) => self.take_plain(&inflated, events),
                    Err(why) => Some(failed(why)),
                }
            };
        }
        wire.drain(..at);
        self.wire = wire;
        ended
    }

    /// Takes plain packet bytes: completes the packet left unfinished by earlier bytes, then
    /// splits the rest where it lies, keeping only its own unfinished tail.
    fn take_plain(&mut self, mut bytes: &[u8], events: &mut Batch) -> Option<TapItem> {
        while !self.plain.is_empty() && !bytes.is_empty() {
            let need = match self.plain[..] {
                [a, b, c, _, ..] => 4 + u32::from_le_bytes([a, b, c, 0]) as usize,
                _ => 4,
            } - self.plain.len();
            let take = need.min(bytes.len());
            self.plain.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            let (used, ended) = split(&self.plain, &mut self.joined, &mut self.registered, events);
            self.plain.drain(..used);
            if ended.is_some() {
                return ended;
            }
        }
        if !self.plain.is_empty() {
            return None;
        }
        let (used, ended) = split(bytes, &mut self.joined, &mut self.registered, events);
        if ended.is_none() {
            self.plain.extend_from_slice(&bytes[used..]);
        }
        ended
    }
}

/// Splits whole packets off the front of `rest`: events into `events`, a payload continued
/// over several packets joined in `joined`. Returns the bytes used, and how the dump ended.
fn split(
    rest: &[u8],
    joined: &mut Vec<u8>,
    registered: &mut bool,
    events: &mut Batch,
) -> (usize, Option<TapItem>) {
    let mut used = 0;
    loop {
        let rest = &rest[used..];
        if rest.len() < 4 {
            return (used, None);
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], 0]) as usize;
        if rest.len() < 4 + len {
            return (used, None);
        }
        let payload = &rest[4..4 + len];
        used += 4 + len;
        if len == MAX_PAYLOAD {
            joined.extend_from_slice(payload);
            if let Some(why) = overlong(joined) {
                return (used, Some(failed(why)));
            }
            continue;
        }
        let whole;
        let payload = if joined.is_empty() {
            payload
        } else {
            joined.extend_from_slice(payload);
            whole = std::mem::take(joined);
            &whole[..]
        };
        match payload.first() {
            Some(0) if !*registered => *registered = true,
            Some(0) => events.push(&payload[1..]),
            // Every event comes after an OK byte: 0xFE is the end of the dump (an EOF, or an
            // OK packet in its place, which may carry session state).
            Some(0xFE) => return (used, Some(TapItem::End)),
            Some(0xFF) => return (used, Some(TapItem::Failed(server_error(payload)))),
            _ => {
                let first = payload.first().copied().unwrap_or(0);
                return (used, Some(failed(NotADump::Packet { len, first })));
            }
        }
    }
}

/// Why a payload continued over several packets cannot be an event of the dump: one that
/// does not start as an event does, grows past the size its event header declares, or past
/// [`MAX_EVENT`]. Checked as each continuation arrives, so a sender of endless continuations is
/// refused after one, never held in memory byte for byte.
fn overlong(joined: &[u8]) -> Option<NotADump> {
    if joined.first() != Some(&0) {
        let first = joined.first().copied().unwrap_or(0);
        return Some(NotADump::ContinuedNotEvent { first });
    }
    // The OK byte, then the event header: its size is at bytes 9..13.
    let declared = joined
        .get(10..14)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    if joined.len() - 1 > MAX_EVENT {
        return Some(NotADump::ContinuedTooLong {
            mib: MAX_EVENT >> 20,
        });
    }
    match declared {
        Some(size) if joined.len() - 1 > size => Some(NotADump::ContinuedPastEvent {
            len: joined.len() - 1,
            size,
        }),
        Some(size) if size > MAX_EVENT => Some(NotADump::EventTooLong {
            size,
            mib: MAX_EVENT >> 20,
        }),
        _ => None,
    }
}

/// Bytes that are not a binlog dump, and what shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum NotADump {
    #[error("a packet of {len} bytes starting with 0x{first:02x} in a binlog dump")]
    Packet { len: usize, first: u8 },
    #[error(
        "a continued packet starting with 0x{first:02x} in a binlog dump (only events, after an \
         OK byte, are that long)"
    )]
    ContinuedNotEvent { first: u8 },
    #[error("a continued packet of more than {mib} MiB, the most an event may take")]
    ContinuedTooLong { mib: usize },
    #[error("a continued packet of {len} bytes so far for an event whose header says {size} bytes")]
    ContinuedPastEvent { len: usize, size: usize },
    #[error("an event whose header says {size} bytes, more than the {mib} MiB an event may take")]
    EventTooLong { size: usize, mib: usize },
    #[error("a compressed packet does not inflate: {zlib}")]
    Inflate { zlib: String },
    #[error("a compressed packet inflates to {got} bytes, not the {declared} its header says")]
    InflatedSize { got: usize, declared: usize },
}

/// Bytes that are not a dump: definite (asking again gets the same bytes), not a lost
/// connection.
fn failed(why: NotADump) -> TapItem {
    TapItem::Failed(mysql_async::Error::Other(Box::new(why)))
}

/// Inflates one compressed packet's zlib stream into `out`: exactly `plain_len` bytes.
fn inflate(
    inflate: &mut Decompress,
    body: &[u8],
    plain_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), NotADump> {
    inflate.reset(true);
    let start = out.len();
    out.reserve(plain_len);
    let status = inflate
        .decompress_vec(body, out, FlushDecompress::Finish)
        .map_err(|e| NotADump::Inflate {
            zlib: e.to_string(),
        })?;
    if status != Status::StreamEnd || out.len() - start != plain_len {
        return Err(NotADump::InflatedSize {
            got: out.len() - start,
            declared: plain_len,
        });
    }
    Ok(())
}

/// An ERR packet: 0xFF, the code, `#` and the SQL state (protocol 4.1), the message.
fn server_error(payload: &[u8]) -> mysql_async::Error {
    let code = match payload {
        [_, a, b, ..] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    };
    let rest = payload.get(3..).unwrap_or_default();
    let (state, message) = match rest {
        [b'#', state @ ..] if state.len() >= 5 => (&state[..5], &state[5..]),
        _ => (&b"HY000"[..], rest),
    };
    mysql_async::Error::Server(mysql_async::ServerError {
        code,
        message: String::from_utf8_lossy(message).into_owned(),
        state: String::from_utf8_lossy(state).into_owned(),
    })
}

/// The fuzz target's property (`testkit::fuzzing::dump_deframer`): any bytes, plain or
/// compressed, split anywhere, never panic; the events and the end are the same whatever the
/// split; no push hands out more than its bound; nothing comes after the end.
#[cfg(feature = "testkit")]
pub(crate) fn deframer_property(data: &[u8]) {
    let Some((&control, wire)) = data.split_first() else {
        return;
    };
    let compressed = control & 1 == 1;
    // (events, how it ended) of `wire` fed in pieces of the lengths `steps` cycles through.
    let run = |steps: &[usize]| {
        let mut deframer = Deframer::new(compressed);
        let mut events = Vec::new();
        let mut end = None;
        let mut rest = wire;
        let mut step = steps.iter().cycle();
        let take = |batch: &Batch, events: &mut Vec<Vec<u8>>| {
            assert!(batch.data.len() <= MAX_INFLATED_PER_PUSH + 2 * MAX_PAYLOAD);
            events.extend((0..batch.bounds.len()).filter_map(|i| batch.get(i).map(<[u8]>::to_vec)));
        };
        while !rest.is_empty() || deframer.has_pending() {
            let n = if deframer.has_pending() {
                0
            } else {
                (*step.next().unwrap_or(&1)).clamp(1, rest.len())
            };
            let mut batch = Batch::default();
            let ended = deframer.push(&rest[..n], &mut batch);
            rest = &rest[n..];
            take(&batch, &mut events);
            if ended.is_some() {
                assert!(end.is_none(), "the dump ended twice");
                end = ended.map(|e| match e {
                    TapItem::End => "end".to_owned(),
                    TapItem::Failed(e) => format!("failed: {e}"),
                    TapItem::Events(_) => "events".to_owned(),
                });
            }
            if end.is_some() {
                let mut after = Batch::default();
                assert!(deframer.push(rest, &mut after).is_none() && after.is_empty());
                break;
            }
        }
        (events, end)
    };
    let whole = run(&[wire.len().max(1)]);
    let steps: Vec<usize> = std::iter::once(usize::from(control >> 1) + 1)
        .chain(wire.iter().take(8).map(|&b| usize::from(b) + 1))
        .collect();
    assert_eq!(run(&steps), whole, "the split changed what came out");
    assert_eq!(run(&[1]), whole, "byte by byte changed what came out");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(seq);
        out.extend_from_slice(payload);
        out
    }

    fn event(kind: u8, body: usize) -> Vec<u8> {
        let mut event = vec![0u8; 19 + body];
        event[4] = kind;
        event[9..13].copy_from_slice(&((19 + body) as u32).to_le_bytes());
        event
    }

    /// `plain` (whole packets) in one compressed packet.
    fn deflated(seq: u8, plain: &[u8]) -> Vec<u8> {
        let mut z = flate2::Compress::new(flate2::Compression::best(), true);
        let mut body = Vec::with_capacity(plain.len() / 100 + 1024);
        z.compress_vec(plain, &mut body, flate2::FlushCompress::Finish)
            .unwrap();
        let mut out = (body.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(seq);
        out.extend_from_slice(&(plain.len() as u32).to_le_bytes()[..3]);
        out.extend_from_slice(&body);
        out
    }

    /// The direct read joins continuation packets only while they fit the event whose header
    /// they carry, and never past `MAX_EVENT`, so a sender of endless continuations ends the
    /// dump after the first one instead of growing memory byte for byte until the deadline.
    #[test]
    fn endless_continuations_end_the_dump_after_the_first() {
        for declared in [100u32, u32::MAX] {
            let mut payload = vec![0u8; MAX_PAYLOAD];
            payload[5] = 2;
            payload[10..14].copy_from_slice(&declared.to_le_bytes());
            let mut wire = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
            wire.extend(packet(2, &payload));
            let mut deframer = Deframer::new(false);
            let mut batch = Batch::default();
            match deframer.push(&wire, &mut batch) {
                Some(TapItem::Failed(mysql_async::Error::Other(why))) => {
                    let why = why.to_string();
                    assert!(
                        why.contains("continued packet") || why.contains("header says"),
                        "{why}"
                    );
                }
                _ => panic!("declared {declared}: not refused"),
            }
            assert!(batch.is_empty());
        }
        // A continued packet that is not an event.
        let mut wire = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        wire.extend(packet(2, &vec![0x41; MAX_PAYLOAD]));
        let mut batch = Batch::default();
        assert!(matches!(
            Deframer::new(false).push(&wire, &mut batch),
            Some(TapItem::Failed(_))
        ));
    }

    /// Inflated data per read is bounded. Compressed packets of zeros inflate a thousandfold;
    /// one read of many of them hands out at most `MAX_INFLATED_PER_PUSH` (and one packet) per
    /// push, the rest on later pushes, every event in order.
    #[test]
    fn a_read_of_zlib_bombs_is_inflated_a_bounded_amount_at_a_time() {
        let big = event(2, MAX_PAYLOAD - 100);
        let mut register = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        let mut wire = deflated(0, &register.split_off(0));
        for i in 0..6u8 {
            let mut payload = vec![0];
            payload.extend_from_slice(&big);
            wire.extend(deflated(i + 1, &packet(i + 2, &payload)));
        }
        wire.extend(deflated(9, &packet(9, &[0xFE, 0, 0, 2, 0])));
        assert!(wire.len() < 1 << 20, "{} bytes", wire.len());
        let mut deframer = Deframer::new(true);
        let (mut events, mut pushes, mut end) = (0, 0, None);
        let mut bytes: &[u8] = &wire;
        loop {
            let mut batch = Batch::default();
            end = deframer.push(bytes, &mut batch).or(end);
            bytes = &[];
            pushes += 1;
            assert!(batch.data.len() <= MAX_INFLATED_PER_PUSH + MAX_PAYLOAD);
            events += batch.len();
            if !deframer.has_pending() {
                break;
            }
        }
        assert_eq!(events, 6);
        assert!(pushes >= 3, "{pushes} pushes");
        assert!(matches!(end, Some(TapItem::End)));
    }

    /// The wire bytes of a dump of `events`, plain and compressed (the plain bytes in
    /// packets of 50 000, alternately deflated and not).
    fn wire(events: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let mut plain = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        for (i, e) in events.iter().enumerate() {
            let mut payload = vec![0];
            payload.extend_from_slice(e);
            if payload.len() >= MAX_PAYLOAD {
                plain.extend(packet(2, &payload[..MAX_PAYLOAD]));
                plain.extend(packet(3, &payload[MAX_PAYLOAD..]));
            } else {
                plain.extend(packet(i as u8 + 2, &payload));
            }
        }
        plain.extend(packet(9, &[0xFE, 0, 0, 2, 0]));
        let mut compressed = Vec::new();
        for (i, chunk) in plain.chunks(50_000).enumerate() {
            let (body, plain_len) = match i % 2 {
                0 => {
                    let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
                    let mut body = Vec::with_capacity(chunk.len() + 64);
                    z.compress_vec(chunk, &mut body, flate2::FlushCompress::Finish)
                        .unwrap();
                    (body, chunk.len())
                }
                _ => (chunk.to_vec(), 0),
            };
            compressed.extend_from_slice(&(body.len() as u32).to_le_bytes()[..3]);
            compressed.push(i as u8);
            compressed.extend_from_slice(&(plain_len as u32).to_le_bytes()[..3]);
            compressed.extend_from_slice(&body);
        }
        (plain, compressed)
    }

    /// A dump as the server frames it: the REGISTER reply, events (one longer than a packet,
    /// so continued), the EOF; read in pieces that end anywhere, plain and compressed.
    #[test]
    fn a_dump_is_split_into_its_events_wherever_the_reads_end() {
        let small = vec![event(15, 100), event(2, 30), event(16, 8)];
        let big = vec![event(15, 100), event(2, MAX_PAYLOAD + 10), event(16, 8)];
        for (events, steps) in [
            (small, &[1, 2, 3, 5, 7, 11][..]),
            (big, &[4093, 65_536][..]),
        ] {
            let (plain, compressed) = wire(&events);
            for (wire, is_compressed) in [(&plain, false), (&compressed, true)] {
                for &step in steps.iter().chain([&wire.len()]) {
                    let mut deframer = Deframer::new(is_compressed);
                    let mut batch = Batch::default();
                    let mut end = None;
                    for chunk in wire.chunks(step) {
                        if let Some(e) = deframer.push(chunk, &mut batch) {
                            end = Some(e);
                        }
                        while deframer.has_pending() {
                            if let Some(e) = deframer.push(&[], &mut batch) {
                                end = Some(e);
                            }
                        }
                    }
                    let got: Vec<Vec<u8>> = (0..batch.len())
                        .map(|i| batch.get(i).unwrap().to_vec())
                        .collect();
                    assert!(matches!(end, Some(TapItem::End)), "step {step}");
                    assert!(got == events, "step {step}, compressed {is_compressed}");
                }
            }
        }
    }

    #[test]
    fn a_refusal_is_the_servers_error() {
        let mut deframer = Deframer::new(false);
        let mut got = Batch::default();
        let mut err = vec![0xFF, 0xD4, 0x04];
        err.extend_from_slice(b"#HY000Could not find first log file name in binary log index file");
        let mut wire = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        wire.extend(packet(1, &err));
        match deframer.push(&wire, &mut got) {
            Some(TapItem::Failed(mysql_async::Error::Server(e))) => {
                assert_eq!(e.code, 1236);
                assert_eq!(e.state, "HY000");
                assert!(e.message.starts_with("Could not find first log"));
            }
            _ => panic!("not the server's error"),
        }
        // The REGISTER refused.
        let mut deframer = Deframer::new(false);
        let wire = packet(
            1,
            &[
                0xFF, 0x15, 0x04, b'#', b'4', b'2', b'0', b'0', b'0', b'n', b'o',
            ],
        );
        assert!(matches!(
            deframer.push(&wire, &mut got),
            Some(TapItem::Failed(mysql_async::Error::Server(_)))
        ));
        assert!(got.is_empty());
    }

    #[test]
    fn commands_are_framed_for_the_connection() {
        let plain = frame_commands(&[vec![0x15, 1], vec![0x12, 2, 3]], false);
        assert_eq!(plain, [2, 0, 0, 0, 0x15, 1, 3, 0, 0, 0, 0x12, 2, 3]);
        let compressed = frame_commands(&[vec![0x12, 2, 3]], true);
        assert_eq!(compressed, [7, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x12, 2, 3]);
    }
}
