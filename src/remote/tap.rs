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
//! The packets are framed by mysql_common's `PacketCodec` (the driver's own): plain or
//! compressed, payloads of 0xFFFFFF bytes joined with the packets continuing them, sequence ids
//! checked, nothing past `MAX_EVENT`. What is ours is what a dump means: each payload is an OK
//! byte (0x00) and one event, an EOF (0xFE) at the end of a non-blocking dump, or an ERR (0xFF,
//! read by mysql_common's `ErrPacket`); a continued payload must stay within the size its event
//! header declares; and one push hands out a bounded amount, so a read of zlib bombs is
//! inflated a little at a time.
//!
//! The codec replaced a framing of our own, measured first, the same dump read by both builds
//! in turn against one server on loopback (the 1 GiB MariaDB file, 7–11 rounds, medians; the
//! method is in BENCHMARKS.md): both run at the floor, what merely receiving the bytes takes
//! (wall within the run-to-run spread), and the codec costs 11–16 % more CPU (18–25 %
//! compressed): one more copy of every byte, into its buffer, then each payload out of it.

use bytes::BytesMut;

use crate::binlog::HEADER_LEN;
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::ErrPacket;
use mysql_common::proto::codec::PacketCodec;

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
/// How much one call of [`Deframer::push`] produces at most (events handed out with their
/// bounds, and a continued payload grown), give or take one packet: what is past it waits in
/// `wire` (and in the one compressed packet given to the codec, up to 16 MiB once inflated)
/// for the next call, so a read of zlib bombs (1000:1) is inflated this much at a time, not a
/// thousand times the read at once.
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

/// Splits the server's bytes into the dump's events: mysql_common's packet codec frames them
/// (plain or compressed, continuations joined, sequence ids checked), and each payload is read
/// as a dump's: an OK byte and an event, the EOF, or the server's ERR.
pub(super) struct Deframer {
    codec: PacketCodec,
    compressed: bool,
    /// Received bytes the codec has not been given yet (all of them, plain).
    wire: BytesMut,
    /// Compressed: the one compressed packet the codec is given at a time, so that each
    /// inflates (at most 16 MiB) before the checks below run again.
    feed: BytesMut,
    /// The payload being decoded; across pushes, one continued over several packets.
    payload: Vec<u8>,
    /// The reply to `COM_REGISTER_SLAVE` comes before the events.
    registered: bool,
    done: bool,
    /// The last push stopped at its bound with bytes left to decode.
    bounded: bool,
    /// How the dump ended, held back until the events before it are handed out.
    replay: Option<TapItem>,
}

impl Deframer {
    pub(super) fn new(compressed: bool) -> Deframer {
        let mut codec = PacketCodec::default();
        // Past MAX_EVENT a payload cannot be an event: the codec refuses it.
        codec.max_allowed_packet = MAX_EVENT + 1;
        if compressed {
            // The level is for what the codec would send; it sends nothing here.
            codec.compress(flate2::Compression::none());
        }
        let mut deframer = Deframer {
            codec,
            compressed,
            wire: BytesMut::new(),
            feed: BytesMut::new(),
            payload: Vec::new(),
            registered: false,
            done: false,
            bounded: false,
            replay: None,
        };
        deframer.expect_reply();
        deframer
    }

    /// The next payload is the first of a reply: each command went out with sequence id 0
    /// ([`frame_commands`]), so the server answers from 1, plain and compressed alike. The
    /// codec counts what it sends itself; an empty packet sent into the void moves it to 1.
    fn expect_reply(&mut self) {
        self.codec.reset_seq_id();
        let mut void = BytesMut::new();
        let _ = self.codec.encode(&mut &[][..], &mut void);
    }

    /// Holds `ended` back until [`Deframer::take_replay`].
    pub(super) fn replay(&mut self, ended: Option<TapItem>) {
        self.replay = ended;
    }

    pub(super) fn take_replay(&mut self) -> Option<TapItem> {
        self.replay.take()
    }

    /// Whether bytes already received wait to be decoded (the last push stopped at its
    /// bound): call [`Deframer::push`] with no bytes before reading more.
    pub(super) fn has_pending(&self) -> bool {
        !self.done && self.bounded
    }

    /// Takes `bytes` from the server; complete events go to `events`, at most
    /// `MAX_INFLATED_PER_PUSH` (and one payload) a call, the rest waiting for the next (see
    /// [`Deframer::has_pending`]). Returns how the dump ended, once it has.
    pub(super) fn push(&mut self, bytes: &[u8], events: &mut Batch) -> Option<TapItem> {
        if self.done {
            return None;
        }
        self.wire.extend_from_slice(bytes);
        self.bounded = false;
        let (start, counted) = (events.data.len(), events.bounds.len());
        // A continued payload's bytes from earlier pushes, not produced by this one.
        let mut joined = self.payload.len();
        let ended = loop {
            // What this push has produced: events handed out (with their bounds), and a
            // continued payload grown.
            let produced = events.data.len() - start
                + (events.bounds.len() - counted) * std::mem::size_of::<(usize, usize)>()
                + self.payload.len().saturating_sub(joined);
            if produced >= MAX_INFLATED_PER_PUSH {
                self.bounded = true;
                break None;
            }
            let decoded = match self.compressed {
                true => {
                    if self.feed.is_empty()
                        && let Some(len) = whole_compressed_packet(&self.wire)
                    {
                        self.feed = self.wire.split_to(len);
                    }
                    self.codec.decode(&mut self.feed, &mut self.payload)
                }
                false => self.codec.decode(&mut self.wire, &mut self.payload),
            };
            let whole = match decoded {
                Ok(whole) => whole,
                Err(e) => break Some(failed(NotADump::Framing { why: e.to_string() })),
            };
            // A payload of MAX_PAYLOAD bytes or more was continued: checked as it grows, so a
            // sender of endless continuations is refused after what one read brought.
            if self.payload.len() >= MAX_PAYLOAD
                && let Some(why) = overlong(&self.payload)
            {
                break Some(failed(why));
            }
            if !whole {
                // Compressed: the packet given was used up; go on while another is whole.
                if self.compressed && whole_compressed_packet(&self.wire).is_some() {
                    continue;
                }
                break None;
            }
            match self.payload.first() {
                Some(0) if !self.registered => {
                    self.registered = true;
                    self.expect_reply();
                }
                // An event has at least its 19-byte header.
                Some(0) if self.payload.len() > HEADER_LEN => events.push(&self.payload[1..]),
                // Every event comes after an OK byte: 0xFE is the end of the dump (an EOF, or
                // an OK packet in its place, which may carry session state).
                Some(0xFE) => break Some(TapItem::End),
                Some(0xFF) => break Some(server_error(&self.payload)),
                _ => {
                    let first = self.payload.first().copied().unwrap_or(0);
                    let len = self.payload.len();
                    break Some(failed(NotADump::Packet { len, first }));
                }
            }
            self.payload.clear();
            joined = 0;
        };
        self.done = ended.is_some();
        ended
    }
}

/// The length of the compressed packet at the start of `wire` (its 7-byte header and body),
/// when all of it has arrived.
fn whole_compressed_packet(wire: &[u8]) -> Option<usize> {
    let head = wire.get(..7)?;
    let len = 7 + u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    (wire.len() >= len).then_some(len)
}

/// Why a payload continued over several packets cannot be an event of the dump: one that
/// does not start as an event does, grows past the size its event header declares, or
/// declares more than [`MAX_EVENT`]. Checked as the payload grows, so a sender of endless
/// continuations is refused early, never held in memory byte for byte.
fn overlong(joined: &[u8]) -> Option<NotADump> {
    if joined.first() != Some(&0) {
        let first = joined.first().copied().unwrap_or(0);
        return Some(NotADump::ContinuedNotEvent { first });
    }
    // The OK byte, then the event header: its size is at bytes 9..13.
    let declared = joined
        .get(10..14)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    match declared {
        Some(size) if size > MAX_EVENT => Some(NotADump::EventTooLong {
            size,
            mib: MAX_EVENT >> 20,
        }),
        Some(size) if joined.len() - 1 > size => Some(NotADump::ContinuedPastEvent { size }),
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
    #[error("a continued packet longer than the {size} bytes its event header says")]
    ContinuedPastEvent { size: usize },
    #[error("an event whose header says {size} bytes, more than the {mib} MiB an event may take")]
    EventTooLong { size: usize, mib: usize },
    /// The packet codec refused the bytes: out of sequence, too large, a compressed packet
    /// that does not inflate.
    #[error("the packets are not a binlog dump: {why}")]
    Framing { why: String },
}

/// Bytes that are not a dump: definite (asking again gets the same bytes), not a lost
/// connection.
fn failed(why: NotADump) -> TapItem {
    TapItem::Failed(mysql_async::Error::Other(Box::new(why)))
}

/// The server's ERR packet (protocol 4.1: the code, `#` and the SQL state, the message), read
/// by mysql_common; one that does not parse is not a dump.
fn server_error(payload: &[u8]) -> TapItem {
    match ParseBuf(payload).parse::<ErrPacket<'_>>(CapabilityFlags::CLIENT_PROTOCOL_41) {
        Ok(ErrPacket::Error(error)) => TapItem::Failed(error.into()),
        _ => failed(NotADump::Packet {
            len: payload.len(),
            first: 0xFF,
        }),
    }
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
            wire.extend(packet(1, &payload));
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
        wire.extend(packet(1, &vec![0x41; MAX_PAYLOAD]));
        let mut batch = Batch::default();
        assert!(matches!(
            Deframer::new(false).push(&wire, &mut batch),
            Some(TapItem::Failed(_))
        ));
    }

    /// Compressed, the codec is given one compressed packet at a time and the checks run after
    /// each: continuations of an event whose header says 100 bytes are refused after the first
    /// one, however many of them one read brought.
    #[test]
    fn compressed_continuations_are_refused_one_packet_in() {
        let mut payload = vec![0u8; MAX_PAYLOAD];
        payload[5] = 2;
        payload[10..14].copy_from_slice(&100u32.to_le_bytes());
        let mut wire = deflated(1, &packet(1, &[0, 0, 0, 2, 0, 0, 0]));
        // A plain packet of 16 MiB spans compressed packets (whose plain length has 3 bytes).
        let plain: Vec<u8> = (1..=4u8).flat_map(|seq| packet(seq, &payload)).collect();
        for (i, piece) in plain.chunks(8 << 20).enumerate() {
            wire.extend(deflated(i as u8 + 1, piece));
        }
        let mut deframer = Deframer::new(true);
        let mut batch = Batch::default();
        match deframer.push(&wire, &mut batch) {
            Some(TapItem::Failed(mysql_async::Error::Other(why))) => {
                assert!(why.to_string().contains("header says"), "{why}");
            }
            _ => panic!("continuations past the event's size were taken"),
        }
        assert!(
            deframer.payload.len() <= MAX_PAYLOAD,
            "{}",
            deframer.payload.len()
        );
        assert!(batch.is_empty());
    }

    /// Inflated data per read is bounded. Compressed packets of zeros inflate a thousandfold;
    /// one read of many of them hands out at most `MAX_INFLATED_PER_PUSH` (and one packet) per
    /// push, the rest on later pushes, every event in order.
    #[test]
    fn a_read_of_zlib_bombs_is_inflated_a_bounded_amount_at_a_time() {
        let big = event(2, MAX_PAYLOAD - 100);
        // Each reply from sequence id 1; each compressed packet's plain packet numbered as the
        // server numbers it when it flushes (the compressed packet's own id).
        let mut wire = deflated(1, &packet(1, &[0, 0, 0, 2, 0, 0, 0]));
        for i in 1..=6u8 {
            let mut payload = vec![0];
            payload.extend_from_slice(&big);
            wire.extend(deflated(i, &packet(i, &payload)));
        }
        wire.extend(deflated(7, &packet(7, &[0xFE, 0, 0, 2, 0])));
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

    /// The wire bytes of a dump of `events`, plain and compressed: the REGISTER reply, then
    /// the dump's, each numbered from 1 as the server numbers a reply (the compressed form
    /// carries the plain bytes in packets of 50 000, alternately deflated and not).
    fn wire(events: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let register = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        let mut dump = Vec::new();
        let mut seq = 1u8;
        let mut send = |payload: &[u8], dump: &mut Vec<u8>| {
            dump.extend(packet(seq, payload));
            seq = seq.wrapping_add(1);
        };
        for e in events {
            let mut payload = vec![0];
            payload.extend_from_slice(e);
            if payload.len() >= MAX_PAYLOAD {
                send(&payload[..MAX_PAYLOAD], &mut dump);
                send(&payload[MAX_PAYLOAD..], &mut dump);
            } else {
                send(&payload, &mut dump);
            }
        }
        send(&[0xFE, 0, 0, 2, 0], &mut dump);
        let mut plain = register.clone();
        plain.extend_from_slice(&dump);
        let mut compressed = compressed_reply(&register);
        compressed.extend(compressed_reply(&dump));
        (plain, compressed)
    }

    /// One reply's plain bytes in compressed packets numbered from 1.
    fn compressed_reply(plain: &[u8]) -> Vec<u8> {
        let mut compressed = Vec::new();
        for (i, chunk) in plain.chunks(50_000).enumerate() {
            let i = i + 1;
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
        compressed
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

    /// The codec checks every packet's sequence id: a reply that skips one (bytes lost, or
    /// not the server's) ends the dump as not a dump, plain and compressed.
    #[test]
    fn a_packet_out_of_sequence_ends_the_dump() {
        let mut wire = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        let mut ok = vec![0];
        ok.extend_from_slice(&event(15, 100));
        wire.extend(packet(1, &ok));
        wire.extend(packet(3, &ok));
        let mut batch = Batch::default();
        match Deframer::new(false).push(&wire, &mut batch) {
            Some(TapItem::Failed(mysql_async::Error::Other(why))) => {
                assert!(why.to_string().contains("out of sync"), "{why}");
            }
            _ => panic!("a skipped sequence id was taken"),
        }
        assert_eq!(batch.len(), 1);
        let mut compressed = deflated(1, &packet(1, &[0, 0, 0, 2, 0, 0, 0]));
        compressed.extend(deflated(2, &packet(1, &ok)));
        let mut batch = Batch::default();
        assert!(matches!(
            Deframer::new(true).push(&compressed, &mut batch),
            Some(TapItem::Failed(_))
        ));
        assert!(batch.is_empty());
    }

    /// Every event has its 19-byte header: an OK byte with less after it is not a dump. So a
    /// read of packets that are an OK byte alone (16 MiB of them compress to some 24 KB)
    /// cannot hand out millions of empty events, each with its bounds, in one push.
    #[test]
    fn an_ok_byte_without_an_event_is_not_a_dump() {
        let mut wire = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        for seq in 1..=3u8 {
            wire.extend(packet(seq, &[0]));
        }
        let mut batch = Batch::default();
        match Deframer::new(false).push(&wire, &mut batch) {
            Some(TapItem::Failed(mysql_async::Error::Other(why))) => {
                assert!(why.to_string().contains("a packet of 1 bytes"), "{why}");
            }
            _ => panic!("an empty event was taken"),
        }
        assert!(batch.is_empty());
    }

    #[test]
    fn commands_are_framed_for_the_connection() {
        let plain = frame_commands(&[vec![0x15, 1], vec![0x12, 2, 3]], false);
        assert_eq!(plain, [2, 0, 0, 0, 0x15, 1, 3, 0, 0, 0, 0x12, 2, 3]);
        let compressed = frame_commands(&[vec![0x12, 2, 3]], true);
        assert_eq!(compressed, [7, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x12, 2, 3]);
    }
}
