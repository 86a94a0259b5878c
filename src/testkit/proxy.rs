//! A TCP proxy on 127.0.0.1 for tests of the live-server path: it counts the bytes that really
//! cross the wire in each direction (so compression and early stops can be measured), and can
//! run a hook when a new connection arrives or when one connection has carried a given number of
//! bytes to the client (to purge binlogs, kill or pause the server at a precise moment).
//!
//! It can also make a MariaDB dump look like a MySQL one where the two senders differ
//! ([`Proxy::like_mysql`]), so that MySQL's behaviour is tested without a MySQL server, and
//! play a hostile server ([`Proxy::hostile_dumps`]): the login and queries are the real
//! server's, and every dump is answered with crafted bytes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A hook; it runs on a blocking thread, so it may use the harness's synchronous calls.
pub type Hook = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct Hooks {
    /// Runs when connection `n` (0-based) arrives, before it is forwarded.
    on_connection: Option<(u64, Hook)>,
    /// Runs once a connection has carried this many bytes to the client.
    on_bytes: Option<(u64, Hook)>,
    /// Connections from this index on are cut after this many bytes to the client.
    cut: Option<(u64, u64)>,
    /// Rewrite dumps the way MySQL's sender differs from MariaDB's.
    like_mysql: bool,
    /// Answer a dump's first transaction as MySQL under the other gtid_mode does.
    refuse_gtid_mode: bool,
    /// Send a heartbeat after every event of a dump.
    heartbeats: bool,
    /// Answer every dump with these bytes instead of the server's.
    hostile: Option<HostileDump>,
}

/// What [`Proxy::hostile_dumps`] answers a dump with: after an OK for `COM_REGISTER_SLAVE`,
/// one of these instead of the server's events. Each is bounded (at most 1 GiB sent, or a
/// minute of silence) and stops when the client goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostileDump {
    /// Packets of 16 MiB - 1 bytes, each continuing the last, for an event whose header says
    /// 100 bytes: a payload that never ends.
    EndlessContinuations,
    /// Compressed packets, each inflating about a thousandfold to one 16 MiB event: 64 of them,
    /// 1 GiB inflated, in about 1 MiB. Only on connections that asked for compression; the
    /// others' dumps are forwarded.
    ZlibBomb,
    /// An ERR whose message holds an escape sequence, a bell, a carriage return and a NUL.
    ErrWithControls,
    /// 64 MiB of random bytes.
    Garbage,
    /// A packet header announcing 16 MiB, a few bytes of it, then silence.
    NeverEnds,
}

/// Byte counts since the proxy started (or since [`Proxy::reset`]).
#[derive(Default)]
struct Counters {
    to_client: AtomicU64,
    to_server: AtomicU64,
    connections: AtomicU64,
    /// Events rewritten by [`Proxy::like_mysql`].
    rewritten: AtomicU64,
    /// Heartbeats added by [`Proxy::heartbeats`].
    heartbeats: AtomicU64,
    /// The commands clients sent (packets with sequence id 0), their first bytes.
    commands: Mutex<Vec<Vec<u8>>>,
}

/// How many bytes of each command [`Proxy::commands`] keeps.
const COMMAND_BYTES: usize = 256;

/// A running proxy to one server; stops when dropped.
pub struct Proxy {
    port: u16,
    counters: Arc<Counters>,
    hooks: Arc<Mutex<Hooks>>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let counters = Arc::new(Counters::default());
        let hooks = Arc::new(Mutex::new(Hooks::default()));
        let (task_counters, task_hooks) = (counters.clone(), hooks.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let index = task_counters.connections.fetch_add(1, Ordering::SeqCst);
                let hook = {
                    let mut hooks = task_hooks.lock().unwrap();
                    match hooks.on_connection.take() {
                        Some((n, hook)) if n == index => Some(hook),
                        other => {
                            hooks.on_connection = other;
                            None
                        }
                    }
                };
                if let Some(hook) = hook {
                    let _ = tokio::task::spawn_blocking(hook).await;
                }
                let (cut, rewrite, hostile) = {
                    let hooks = task_hooks.lock().unwrap();
                    let cut = hooks
                        .cut
                        .filter(|(from, _)| index >= *from)
                        .map(|(_, bytes)| bytes);
                    let rewrite = (hooks.like_mysql || hooks.refuse_gtid_mode || hooks.heartbeats)
                        .then(|| Rewrite {
                            rotate_done: !hooks.like_mysql,
                            refuse: hooks.refuse_gtid_mode,
                            beats: hooks.heartbeats.then(Beats::default),
                            ..Rewrite::default()
                        });
                    (cut, rewrite, hooks.hostile)
                };
                let (counters, hooks) = (task_counters.clone(), task_hooks.clone());
                tokio::spawn(async move {
                    // Small buffers on both sides: the proxy must pass the client's flow control
                    // on to the server, as a network does, so its counts are what the client
                    // really took in.
                    let _ = socket2::SockRef::from(&client).set_send_buffer_size(4096);
                    let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
                        return;
                    };
                    let _ = socket.set_recv_buffer_size(4096);
                    if let Ok(server) = socket.connect(target).await {
                        forward(client, server, counters, hooks, cut, rewrite, hostile).await;
                    }
                });
            }
        });
        Ok(Proxy {
            port,
            counters,
            hooks,
            task,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mysql://USER@127.0.0.1:<proxy port>`.
    pub fn url(&self, user: &str) -> String {
        format!("mysql://{user}@127.0.0.1:{}", self.port)
    }

    pub fn bytes_to_client(&self) -> u64 {
        self.counters.to_client.load(Ordering::SeqCst)
    }

    pub fn bytes_to_server(&self) -> u64 {
        self.counters.to_server.load(Ordering::SeqCst)
    }

    /// How many events [`Proxy::like_mysql`] has rewritten.
    pub fn rewritten(&self) -> u64 {
        self.counters.rewritten.load(Ordering::SeqCst)
    }

    /// How many heartbeats [`Proxy::heartbeats`] has added.
    pub fn heartbeats_sent(&self) -> u64 {
        self.counters.heartbeats.load(Ordering::SeqCst)
    }

    /// The commands clients have sent through the proxy (each packet with sequence id 0: the
    /// command byte, then at most 255 bytes of its argument), in the order they were sent.
    pub fn commands(&self) -> Vec<Vec<u8>> {
        self.counters.commands.lock().unwrap().clone()
    }

    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// Zeroes the byte counts.
    pub fn reset(&self) {
        self.counters.to_client.store(0, Ordering::SeqCst);
        self.counters.to_server.store(0, Ordering::SeqCst);
    }

    /// Runs `hook` when connection `index` (counted from 0 since start) arrives.
    pub fn on_connection(&self, index: u64, hook: Hook) {
        self.hooks.lock().unwrap().on_connection = Some((index, hook));
    }

    /// Runs `hook` once, when some connection has carried `bytes` to the client.
    pub fn on_bytes_to_client(&self, bytes: u64, hook: Hook) {
        self.hooks.lock().unwrap().on_bytes = Some((bytes, hook));
    }

    /// Cuts every connection from index `from` on after `bytes` to the client (`None`: never).
    pub fn cut_after(&self, rule: Option<(u64, u64)>) {
        self.hooks.lock().unwrap().cut = rule;
    }

    /// From the next connection on, dumps arrive as MySQL's sender would send them: the first
    /// artificial ROTATE without a CRC32 when the replica's checksum variable names no
    /// algorithm MySQL knows (mysql_async sends `'ALL'`). MySQL sizes that event with
    /// `event_checksum_on()`, which is false for such a replica until the first
    /// FORMAT_DESCRIPTION is read (mysql/mysql-server `sql/rpl_binlog_sender.cc`,
    /// `Binlog_sender::init_checksum_alg` and `fake_rotate_event`); MariaDB always adds the CRC
    /// (`sql/sql_repl.cc`). Plain connections only (no TLS, no compression).
    pub fn like_mysql(&self, on: bool) {
        self.hooks.lock().unwrap().like_mysql = on;
    }

    /// From the next connection on, a dump's first transaction is answered as MySQL answers a
    /// replica when the binlog holds transactions of the other GTID mode: error 1236 with
    /// ER_CANT_REPLICATE_GTID_WITH_GTID_MODE_OFF's text, the dump ended (mysql/mysql-server
    /// `sql/rpl_binlog_sender.cc`, `Binlog_sender::check_event_type`).
    pub fn refuse_gtid_mode(&self, on: bool) {
        self.hooks.lock().unwrap().refuse_gtid_mode = on;
    }

    /// From the next connection on, a heartbeat follows every event of a dump (from its first
    /// artificial ROTATE on; an event longer than one packet is left whole), the dump's
    /// sequence ids renumbered around them; they alternate between HEARTBEAT_LOG_EVENT and
    /// HEARTBEAT_LOG_EVENT_V2. The first is built as MySQL builds it (mysql/mysql-server
    /// `sql/rpl_binlog_sender.cc`, `Binlog_sender::send_heartbeat_event`): timestamp 0, flags
    /// 0, log_pos where the stream stands (the end of the last event sent), the file's name as
    /// the body and a CRC32 when the file has them. MySQL sends one before the next event after
    /// a skipped group of events and while it waits; MariaDB also between a ROTATE and the next
    /// file's FORMAT_DESCRIPTION (MDEV-29981); binlog servers and proxies send them as they
    /// like. The V2 body is MySQL's tagged list in spirit only (nothing reads it).
    pub fn heartbeats(&self, on: bool) {
        self.hooks.lock().unwrap().heartbeats = on;
    }

    /// From the next connection on, every dump (`COM_BINLOG_DUMP`) is answered with `answer`
    /// instead of being sent to the server; `None` forwards dumps again.
    pub fn hostile_dumps(&self, answer: Option<HostileDump>) {
        self.hooks.lock().unwrap().hostile = answer;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The rewrites of [`Proxy::like_mysql`] and [`Proxy::refuse_gtid_mode`]: the server's bytes
/// are cut into protocol packets (3-byte length, sequence id, payload) until the rewrites are
/// done, then forwarded as they come.
#[derive(Default)]
struct Rewrite {
    pending: Vec<u8>,
    /// The first artificial ROTATE has passed (without its CRC).
    rotate_done: bool,
    /// Replace the first transaction's GTID event by MySQL's error.
    refuse: bool,
    /// The error was sent: nothing more reaches the client.
    refused: bool,
    /// Heartbeats to add ([`Proxy::heartbeats`]).
    beats: Option<Beats>,
}

/// Where a dump stands, for the heartbeats [`Proxy::heartbeats`] adds after each event.
#[derive(Default)]
struct Beats {
    /// Between the dump's first artificial ROTATE and its end (EOF or ERR).
    dumping: bool,
    /// Packets added in this dump: the server's sequence ids after them move up by this.
    added: u8,
    /// The file being sent, from the last ROTATE (it only labels the heartbeat).
    file: Vec<u8>,
    /// The end of the last event sent.
    position: u32,
    /// The file's events end with a CRC32 (from its FORMAT_DESCRIPTION).
    crc: bool,
    /// The last packet was a full 16 MiB - 1 bytes: the next one continues its event.
    continued: bool,
    sent: u64,
}

impl Beats {
    /// Forwards `packet` into `out`, renumbered, and a heartbeat after it if it is an event.
    /// `rotate_crc`: whether an artificial ROTATE in this packet ends with a CRC32.
    fn pass(&mut self, mut packet: Vec<u8>, rotate_crc: bool, out: &mut Vec<u8>) {
        use crate::binlog::EventType;
        use crate::binlog::header::{EventHeader, HEADER_LEN};
        packet[3] = packet[3].wrapping_add(self.added);
        let continues = self.continued;
        self.continued = packet.len() == 4 + 0xff_ffff;
        let payload = &packet[4..];
        let header = match payload.split_first() {
            Some((0, event)) if !continues => EventHeader::parse_prefix(event)
                .filter(|header| header.event_size as usize == event.len()),
            Some((0xfe | 0xff, _)) if !continues && payload.len() < 0xff_ffff => {
                // EOF or ERR: the dump is over; a later command numbers its packets afresh.
                self.dumping = false;
                self.added = 0;
                None
            }
            _ => None,
        };
        let seq = packet[3];
        out.extend_from_slice(&packet);
        // An event that fills its packet goes on in the next one: no heartbeat inside it.
        let Some(header) = header.filter(|_| !self.continued) else {
            return;
        };
        let event = &payload[1..];
        let body = &event[HEADER_LEN..];
        match header.event_type() {
            Ok(EventType::Rotate) if body.len() >= 8 => {
                // The dump's first ROTATE has a CRC32 unless `like_mysql` took it off; later
                // ones as the file before them.
                let crc = if self.dumping { self.crc } else { rotate_crc };
                let name = &body[8..];
                let trailer = if crc { name.len().min(4) } else { 0 };
                self.file = name[..name.len() - trailer].to_vec();
                if header.is_artificial() {
                    self.dumping = true;
                    self.position =
                        u32::try_from(u64::from_le_bytes(body[..8].try_into().unwrap()))
                            .unwrap_or(u32::MAX);
                }
            }
            Ok(EventType::FormatDescription) if body.len() >= 5 => {
                self.crc = body[body.len() - 5] == 1;
            }
            _ => {}
        }
        if header.log_pos != 0 && !header.is_artificial() {
            self.position = header.log_pos;
        }
        if !self.dumping {
            return;
        }
        let v2 = self.sent % 2 == 1;
        let mut beat = if v2 {
            let mut body = vec![0u8, self.file.len() as u8];
            body.extend_from_slice(&self.file);
            body.extend_from_slice(&[1, 8]);
            body.extend_from_slice(&u64::from(self.position).to_le_bytes());
            body
        } else {
            self.file.clone()
        };
        let size = HEADER_LEN + beat.len() + if self.crc { 4 } else { 0 };
        let header = EventHeader {
            timestamp: 0,
            type_code: if v2 {
                EventType::HeartbeatV2
            } else {
                EventType::Heartbeat
            } as u8,
            server_id: header.server_id,
            event_size: size as u32,
            log_pos: self.position,
            flags: 0,
        };
        let mut event = header.serialize().to_vec();
        event.append(&mut beat);
        if self.crc {
            crate::binlog::checksum::append(&mut event);
        }
        out.extend_from_slice(&((event.len() + 1) as u32).to_le_bytes()[..3]);
        out.push(seq.wrapping_add(1));
        out.push(0);
        out.extend_from_slice(&event);
        self.added = self.added.wrapping_add(1);
        self.sent += 1;
    }
}

impl Rewrite {
    fn done(&self) -> bool {
        self.rotate_done && !self.refuse && self.beats.is_none()
    }

    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.refused {
            return Vec::new();
        }
        if self.done() {
            return bytes.to_vec();
        }
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while !self.done() && !self.refused && self.pending.len() >= 4 {
            let len =
                u32::from_le_bytes([self.pending[0], self.pending[1], self.pending[2], 0]) as usize;
            if self.pending.len() < 4 + len {
                break;
            }
            let mut packet: Vec<u8> = self.pending.drain(..4 + len).collect();
            let mut rotate_crc = true;
            if !self.rotate_done && is_artificial_rotate(&packet[4..]) {
                // Payload: 0x00, then the event; its size and the packet's both lose 4 bytes.
                packet.truncate(packet.len() - 4);
                let len = (len - 4) as u32;
                packet[..3].copy_from_slice(&len.to_le_bytes()[..3]);
                let size = u32::from_le_bytes(packet[4 + 10..4 + 14].try_into().unwrap()) - 4;
                packet[4 + 10..4 + 14].copy_from_slice(&size.to_le_bytes());
                self.rotate_done = true;
                rotate_crc = false;
            } else if self.refuse && starts_transaction(&packet[4..]) {
                packet = gtid_mode_error(packet[3]);
                self.refused = true;
            }
            match self.beats.as_mut() {
                Some(beats) => beats.pass(packet, rotate_crc, &mut out),
                None => out.extend_from_slice(&packet),
            }
        }
        if self.done() {
            out.append(&mut self.pending);
        }
        if self.refused {
            self.pending.clear();
        }
        out
    }
}

/// An event packet holding a GTID-family event (MySQL's, or MariaDB's GTID).
fn starts_transaction(payload: &[u8]) -> bool {
    use crate::binlog::EventType;
    use crate::binlog::header::EventHeader;
    let Some((0, event)) = payload.split_first() else {
        return false;
    };
    EventHeader::parse_prefix(event).is_some_and(|header| {
        header.event_size as usize == event.len()
            && matches!(
                header.event_type(),
                Ok(EventType::Gtid | EventType::AnonymousGtid | EventType::MariaGtid)
            )
    })
}

/// MySQL's ERR packet for a GTID transaction under gtid_mode=OFF, with sequence id `seq`.
fn gtid_mode_error(seq: u8) -> Vec<u8> {
    let message = "Cannot replicate GTID-transaction when @@GLOBAL.GTID_MODE = OFF, at file \
                   ./mysql-bin.000002, position 256.; the first event 'mysql-bin.000002' at 4, \
                   the last event read from './mysql-bin.000002' at 256, the last byte read from \
                   './mysql-bin.000002' at 256.";
    let mut payload = vec![0xff];
    payload.extend_from_slice(&1236u16.to_le_bytes());
    payload.extend_from_slice(b"#HY000");
    payload.extend_from_slice(message.as_bytes());
    let mut packet = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(seq);
    packet.extend_from_slice(&payload);
    packet
}

/// An event packet (OK byte, then an event) holding an artificial ROTATE with a CRC.
fn is_artificial_rotate(payload: &[u8]) -> bool {
    use crate::binlog::EventType;
    use crate::binlog::header::EventHeader;
    let Some((0, event)) = payload.split_first() else {
        return false;
    };
    EventHeader::parse_prefix(event).is_some_and(|header| {
        header.type_code == EventType::Rotate as u8
            && header.is_artificial()
            && header.log_pos == 0
            && header.event_size as usize == event.len()
            && event.len() >= crate::binlog::HEADER_LEN + 8 + 4
    })
}

/// Cuts a byte stream into protocol packets (3-byte length, sequence id, payload) and shows each
/// one's sequence id and first [`COMMAND_BYTES`] bytes, keeping no more than that.
#[derive(Default)]
struct PacketCutter {
    /// Header bytes of the packet being read.
    header: Vec<u8>,
    /// Payload bytes still to come, and the head kept of them so far.
    left: usize,
    head: Vec<u8>,
}

impl PacketCutter {
    fn feed(&mut self, mut bytes: &[u8], mut packet: impl FnMut(u8, &[u8])) {
        while !bytes.is_empty() {
            if self.header.len() < 4 {
                let take = (4 - self.header.len()).min(bytes.len());
                self.header.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.header.len() == 4 {
                    self.left =
                        u32::from_le_bytes([self.header[0], self.header[1], self.header[2], 0])
                            as usize;
                    self.head.clear();
                }
            }
            if self.header.len() < 4 {
                break;
            }
            let take = self.left.min(bytes.len());
            let keep = take.min(COMMAND_BYTES.saturating_sub(self.head.len()));
            self.head.extend_from_slice(&bytes[..keep]);
            self.left -= take;
            bytes = &bytes[take..];
            if self.left == 0 {
                packet(self.header[3], &self.head);
                self.header.clear();
            }
        }
    }
}

/// Whether `bytes` (what a client sent in one read) hold a `COM_BINLOG_DUMP`: plain packets,
/// or compressed packets carrying them as they are (an uncompressed length of 0), as the
/// relay and the driver send short commands.
fn holds_dump(bytes: &[u8]) -> bool {
    fn plain(bytes: &[u8]) -> bool {
        let mut at = 0;
        while at + 5 <= bytes.len() {
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], 0]) as usize;
            if bytes[at + 3] == 0 && bytes[at + 4] == 0x12 {
                return true;
            }
            at += 4 + len;
        }
        false
    }
    let mut at = 0;
    let mut compressed = false;
    while at + 7 <= bytes.len() {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], 0]) as usize;
        let end = (at + 7 + len).min(bytes.len());
        compressed |= bytes[at + 4..at + 7] == [0, 0, 0] && plain(&bytes[at + 7..end]);
        at += 7 + len;
    }
    plain(bytes) || compressed
}

/// Writes `answer`'s bytes to the client, in bounded pieces, until done or the client goes.
async fn play_hostile(client: &mut tokio::net::tcp::OwnedWriteHalf, answer: HostileDump) {
    const MAX_PAYLOAD: usize = 0xff_ffff;
    let packet = |seq: u8, payload: &[u8]| {
        let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(seq);
        out.extend_from_slice(payload);
        out
    };
    let registered = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
    match answer {
        HostileDump::EndlessContinuations => {
            if client.write_all(&registered).await.is_err() {
                return;
            }
            let mut piece = packet(2, &vec![0u8; MAX_PAYLOAD]);
            // The OK byte, then an event header that says 100 bytes.
            piece[4 + 1 + 4] = 2;
            piece[4 + 1 + 9..4 + 1 + 13].copy_from_slice(&100u32.to_le_bytes());
            // The dump's reply numbered from 1, as a server numbers it.
            for seq in 0..64u8 {
                piece[3] = seq.wrapping_add(1);
                if client.write_all(&piece).await.is_err() {
                    return;
                }
            }
        }
        HostileDump::ZlibBomb => {
            let size = MAX_PAYLOAD - 100;
            let mut event = vec![0u8; size];
            event[4] = 2;
            event[9..13].copy_from_slice(&(size as u32).to_le_bytes());
            let mut payload = vec![0u8];
            payload.extend_from_slice(&event);
            // Numbered as a server numbers a reply: from 1, each plain packet as the
            // compressed one that carries it (what its flush does). The payload is deflated
            // once; each packet's own 4-byte header goes before it in a stored block.
            let body = Deflated::new(&payload);
            // A compressed packet: its length, sequence id, inflated length (0: sent as is).
            let compressed = |seq: u8, body: &[u8], inflated: usize| {
                let mut out = (body.len() as u32).to_le_bytes()[..3].to_vec();
                out.push(seq);
                out.extend_from_slice(&(inflated as u32).to_le_bytes()[..3]);
                out.extend_from_slice(body);
                out
            };
            let mut wire = compressed(1, &registered, 0);
            for seq in 1..=64u8 {
                // The plain packet's header: 3-byte length, sequence id.
                let mut head = (payload.len() as u32).to_le_bytes();
                head[3] = seq;
                wire.extend(compressed(
                    seq,
                    &body.after(&head),
                    head.len() + payload.len(),
                ));
            }
            let _ = client.write_all(&wire).await;
        }
        HostileDump::ErrWithControls => {
            let mut err = vec![0xff];
            err.extend_from_slice(&1105u16.to_le_bytes());
            err.extend_from_slice(b"#HY000");
            err.extend_from_slice(b"bad \x1b[31mred\x1b[0m \x07bell \rreturn \0nul \xc2\x9bcsi");
            let mut wire = registered;
            wire.extend(packet(1, &err));
            let _ = client.write_all(&wire).await;
        }
        HostileDump::Garbage => {
            if client.write_all(&registered).await.is_err() {
                return;
            }
            let mut rng = fastrand::Rng::with_seed(25);
            let mut chunk = vec![0u8; 64 * 1024];
            for i in 0..1024 {
                rng.fill(&mut chunk);
                if i == 0 {
                    // A first packet of 1 000 bytes that is no OK, EOF or ERR.
                    chunk[..5].copy_from_slice(&[0xe8, 0x03, 0x00, 1, 0x41]);
                }
                if client.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        HostileDump::NeverEnds => {
            let mut wire = registered;
            wire.extend_from_slice(&[0xff, 0xff, 0xff, 1, 0, 1, 2, 3, 4, 5]);
            if client.write_all(&wire).await.is_err() {
                return;
            }
        }
    }
    let _ = client.flush().await;
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
}

/// A body deflated once (raw deflate), to be sent after different short heads as zlib
/// streams: the head in a stored block, then the body's blocks, then the Adler-32 of both,
/// combined from the body's own.
struct Deflated {
    raw: Vec<u8>,
    len: u64,
    adler: (u64, u64),
}

impl Deflated {
    const MOD: u64 = 65_521;

    fn new(body: &[u8]) -> Deflated {
        let mut z = flate2::Compress::new(flate2::Compression::best(), false);
        let mut raw = Vec::with_capacity(body.len() / 500 + 1024);
        let status = z.compress_vec(body, &mut raw, flate2::FlushCompress::Finish);
        assert!(
            matches!(status, Ok(flate2::Status::StreamEnd)),
            "{status:?}"
        );
        Deflated {
            raw,
            len: body.len() as u64,
            adler: Deflated::adler(body),
        }
    }

    fn adler(data: &[u8]) -> (u64, u64) {
        let (mut a, mut b) = (1u64, 0u64);
        for chunk in data.chunks(5552) {
            for &byte in chunk {
                a += u64::from(byte);
                b += a;
            }
            a %= Deflated::MOD;
            b %= Deflated::MOD;
        }
        (a, b)
    }

    /// The zlib stream of `head` (at most 65 535 bytes) followed by the body.
    fn after(&self, head: &[u8]) -> Vec<u8> {
        let (ha, hb) = Deflated::adler(head);
        let (ba, bb) = self.adler;
        let m = Deflated::MOD;
        let a = (ha + ba + m - 1) % m;
        let b = (hb + (self.len % m) * ha + bb + m - self.len % m) % m;
        let len = head.len() as u16;
        let mut out = vec![0x78, 0x01, 0x00];
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(head);
        out.extend_from_slice(&self.raw);
        out.extend_from_slice(&(((b << 16) | a) as u32).to_be_bytes());
        out
    }
}

async fn forward(
    client: TcpStream,
    server: TcpStream,
    counters: Arc<Counters>,
    hooks: Arc<Mutex<Hooks>>,
    cut: Option<u64>,
    mut rewrite: Option<Rewrite>,
    hostile: Option<HostileDump>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream_counters = counters.clone();
    let (dumped, mut dump_asked) = tokio::sync::oneshot::channel::<()>();
    let mut dumped = Some(dumped);
    let upstream = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut packets = PacketCutter::default();
        // CLIENT_COMPRESS in the client's handshake response (its first packet).
        let mut compressed = None;
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if compressed.is_none() && n >= 8 {
                compressed = Some(buf[4] & 0x20 != 0);
            }
            let answered = match hostile {
                Some(HostileDump::ZlibBomb) => compressed == Some(true),
                other => other.is_some(),
            };
            if answered && holds_dump(&buf[..n]) {
                // The server never hears of the dump: the proxy answers it.
                if let Some(dumped) = dumped.take() {
                    let _ = dumped.send(());
                }
                continue;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            packets.feed(&buf[..n], |seq, head| {
                if seq == 0 {
                    upstream_counters
                        .commands
                        .lock()
                        .unwrap()
                        .push(head.to_vec());
                }
            });
            upstream_counters
                .to_server
                .fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = server_write.shutdown().await;
    });
    let mut buf = vec![0u8; 4 * 1024];
    let mut carried = 0u64;
    let mut dump_pending = hostile.is_some();
    loop {
        let n = tokio::select! {
            read = server_read.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            asked = &mut dump_asked, if dump_pending => {
                dump_pending = false;
                if let (Ok(()), Some(answer)) = (asked, hostile) {
                    play_hostile(&mut client_write, answer).await;
                    break;
                }
                continue;
            }
        };
        let rewritten;
        let bytes = match rewrite.as_mut() {
            Some(rewrite) => {
                let sent = |rewrite: &Rewrite| rewrite.beats.as_ref().map_or(0, |b| b.sent);
                let before = (rewrite.rotate_done, rewrite.refused, sent(rewrite));
                rewritten = rewrite.feed(&buf[..n]);
                let changed = u64::from(rewrite.rotate_done && !before.0)
                    + u64::from(rewrite.refused && !before.1);
                counters.rewritten.fetch_add(changed, Ordering::SeqCst);
                counters
                    .heartbeats
                    .fetch_add(sent(rewrite) - before.2, Ordering::SeqCst);
                &rewritten[..]
            }
            None => &buf[..n],
        };
        let n = match cut {
            Some(limit) if carried + bytes.len() as u64 >= limit => {
                (limit.saturating_sub(carried)) as usize
            }
            _ => bytes.len(),
        };
        if client_write.write_all(&bytes[..n]).await.is_err() {
            break;
        }
        carried += n as u64;
        counters.to_client.fetch_add(n as u64, Ordering::SeqCst);
        let hook = {
            let mut hooks = hooks.lock().unwrap();
            match hooks.on_bytes.take() {
                Some((threshold, hook)) if carried >= threshold => Some(hook),
                other => {
                    hooks.on_bytes = other;
                    None
                }
            }
        };
        if let Some(hook) = hook {
            let _ = tokio::task::spawn_blocking(hook).await;
        }
        if cut.is_some_and(|limit| carried >= limit) {
            break;
        }
    }
    let _ = client_write.shutdown().await;
    upstream.abort();
}
