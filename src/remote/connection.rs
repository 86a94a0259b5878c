//! Connections and dumps: every connection to the server goes through its own throttle
//! (`throttle`), under the deadline; a dump is requested the way each server wants it and read
//! event by event, either on the runtime ([`dump_head`], for probes) or pulled from the search's
//! blocking thread ([`StreamEvents`]). The cost constants of a connection and a dump live here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::prelude::*;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn};
use mysql_common::binlog::events::Event;
use mysql_common::packets::{BinlogDumpFlags, ComBinlogDump, ComRegisterSlave};
use mysql_common::proto::MySerialize;
use tokio::runtime::Handle;
use tokio::time::Instant;

use crate::binlog::format::split_version;
use crate::binlog::header::FLAG_ARTIFICIAL;
use crate::binlog::{BinlogError, ChecksumAlg, EventType, Flavor};
use crate::resolve::{ReadProgress, SearchStats};

use super::error::{self, Failures, RemoteError};
use super::settings::ConnSettings;
use super::tap::{Batch, Deframer, TapItem, frame_commands};
use super::throttle::Throttle;

/// What the control connection learned.
#[derive(Debug, Clone)]
pub(super) struct ServerFacts {
    pub(super) version: String,
    pub(super) checksum: ChecksumAlg,
    /// Which server this is, for file summaries: `mysql:<server_uuid>`, or on MariaDB (which has
    /// no server_uuid) `mariadb:server_id=<id>` (each file's GTID_LIST is in its identity).
    pub(super) source: String,
}

/// What a probe's dump may read ahead of its reader (its first events are a few hundred bytes;
/// a larger PREVIOUS_GTIDS is let through when the reader starves).
const PROBE_BYTES: u64 = 1024;

/// What a walk's dump may read ahead to begin with; it grows with what is read.
const WALK_BYTES: u64 = 16 * 1024;
/// What a file probe reads at most (artificial ROTATE, FORMAT_DESCRIPTION, PREVIOUS_GTIDS /
/// GTID_LIST, the first transaction's first events) when nothing decided it sooner.
pub(super) const FILE_PROBE_EVENTS: usize = 16;
/// What a probe of one position reads at most (artificial ROTATE, FORMAT_DESCRIPTION, the event
/// there): a commit-time probe, or the closing event of a file's identity.
pub(super) const POSITION_PROBE_EVENTS: usize = 8;
/// The receive buffer of a probe's connection: its first events are a few hundred bytes.
const PROBE_RECEIVE_BUFFER: u32 = 2048;
/// What a packet costs on the wire beyond its event: the packet header (4 bytes) and the OK
/// byte before each event of a dump.
const PACKET_OVERHEAD: u64 = 5;
/// How long closing a dump may take before the connection is dropped instead.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// The host name a dump registers with (COM_REGISTER_SLAVE's report-host).
const REPORT_HOST: &str = "startpoint";
/// Round trips of opening a connection (TCP, greeting, authentication).
pub(super) const CONNECT_ROUND_TRIPS: u64 = 3;
/// Round trips of the control connection: connecting, three queries and the listing.
pub(super) const CONTROL_ROUND_TRIPS: u64 = CONNECT_ROUND_TRIPS + 4;
/// Round trips of a dump: connecting, then capabilities, checksum, register and the request.
pub(super) const DUMP_ROUND_TRIPS: u64 = CONNECT_ROUND_TRIPS + 4;

/// A plain query connection to the server (no throttle): for prechecks and the current position.
pub(crate) async fn query_connection(
    settings: &ConnSettings,
    deadline: Instant,
) -> Result<Conn, RemoteError> {
    let settings = &settings.with_tls_loaded()?;
    let once = || {
        within(
            settings,
            deadline,
            "connecting",
            Conn::new(settings.opts_direct()),
        )
    };
    match once().await {
        Err(RemoteError::Auth { .. }) => once().await,
        connected => connected,
    }
}

/// An `ed25519` account is refused about once in 256 connections although its password is
/// right: MariaDB's nonce is 32 random bytes, and the driver drops a last byte of 0 from the
/// auth switch data (it strips the NUL that ends a native-password scramble), so it signs 31
/// bytes. Measured here: 1 connection in 200 refused with the right password. A refused
/// connection is therefore asked once more, with a fresh nonce; a wrong password is still
/// reported, one round trip later.
pub(crate) const AUTH_TRIES: u32 = 2;

/// Runs `future` on a query connection under the deadline, naming what it does in errors.
pub(crate) async fn query<T>(
    settings: &ConnSettings,
    deadline: Instant,
    what: &str,
    future: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, RemoteError> {
    within(settings, deadline, what, future).await
}

/// Runs `future` under the deadline, naming what was being done when it passes.
pub(super) async fn within<T>(
    settings: &ConnSettings,
    deadline: Instant,
    what: &str,
    future: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, RemoteError> {
    match tokio::time::timeout_at(deadline, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(error::classify(err, settings, what)),
        Err(_) => Err(RemoteError::Deadline {
            server: settings.address(),
            what: what.to_owned(),
            elapsed: Duration::ZERO,
            last: "no answer before the deadline".to_owned(),
        }),
    }
}

/// How a connection is used, which decides its buffers and compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Queries only.
    Control,
    /// A dump read for its first events: compression would only make the server send a
    /// whole compressed frame where a few hundred bytes do.
    Probe,
    /// A dump read up to the answer: compressed when asked.
    Walk,
}

/// A connection through its own throttle (kept alive as long as the connection is used). An
/// account at its connection limit (max_user_connections) is asked again after a short wait, a
/// few times: the server may not have let go of the connection closed just before.
pub(super) async fn connect(
    settings: &ConnSettings,
    role: Role,
    deadline: Instant,
) -> Result<(Conn, Throttle), RemoteError> {
    let settings = &settings.with_tls_loaded()?;
    let mut tries = 0;
    loop {
        tries += 1;
        match connect_once(settings, role, deadline).await {
            Err(error @ RemoteError::ConnectionLimit { .. })
                if tries < CONNECTION_LIMIT_TRIES
                    && Instant::now() + CONNECTION_LIMIT_WAIT < deadline =>
            {
                tracing::info!(
                    "{error}; asking again in {} ms",
                    CONNECTION_LIMIT_WAIT.as_millis()
                );
                tokio::time::sleep(CONNECTION_LIMIT_WAIT).await;
            }
            Err(error @ RemoteError::Auth { .. }) if tries < AUTH_TRIES => {
                tracing::info!("{error}; asking again");
            }
            connected => return connected,
        }
    }
}

/// How often, and how far apart, a connection refused by the account's limit is asked again.
const CONNECTION_LIMIT_TRIES: u32 = 4;
const CONNECTION_LIMIT_WAIT: Duration = Duration::from_millis(200);

async fn connect_once(
    settings: &ConnSettings,
    role: Role,
    deadline: Instant,
) -> Result<(Conn, Throttle), RemoteError> {
    let receive_buffer = match role {
        Role::Control => None,
        Role::Probe => Some(PROBE_RECEIVE_BUFFER),
        Role::Walk => Some(WALK_BYTES as u32),
    };
    let opening = Throttle::start(settings.endpoint(), receive_buffer);
    let throttle = match tokio::time::timeout_at(deadline.min(handshake_deadline()), opening).await
    {
        Ok(opened) => opened.map_err(|e| error::unreachable(settings, "connecting", e))?,
        Err(_) if Instant::now() >= deadline => return Err(at_deadline(settings, "connecting")),
        Err(_) => {
            return Err(RemoteError::Connection {
                server: settings.address(),
                what: "connecting".to_owned(),
                message: format!(
                    "the TCP connection did not complete within {}s",
                    HANDSHAKE_WAIT.as_secs()
                ),
            });
        }
    };
    let handshake = within(
        settings,
        deadline,
        "connecting",
        Conn::new(settings.opts_via(throttle.port(), role == Role::Walk)),
    );
    tokio::pin!(handshake);
    let conn = tokio::select! {
        connected = &mut handshake => connected?,
        () = tokio::time::sleep_until(deadline.min(handshake_deadline())) => {
            // Not a byte in all that time: no MySQL server is there (or it is hung). A server
            // that greeted is busy, not absent: its handshake goes on under the deadline.
            if throttle.received() == 0 && Instant::now() < deadline {
                return Err(no_greeting(settings, "connecting"));
            }
            handshake.await?
        }
    };
    let (major, minor, patch) = conn.server_version();
    tracing::debug!(
        "connected to {} ({role:?} connection, {}, server {major}.{minor}.{patch})",
        settings.display(),
        match &settings.tls {
            Some(tls) => format!("TLS, verifying {:?}", tls.verify),
            None => "no TLS".to_owned(),
        },
    );
    Ok((conn, throttle))
}

fn at_deadline(settings: &ConnSettings, what: &str) -> RemoteError {
    RemoteError::Deadline {
        server: settings.address(),
        what: what.to_owned(),
        elapsed: Duration::ZERO,
        last: "no answer before the deadline".to_owned(),
    }
}

/// How long the TCP connection, and then the server's first byte, may take whatever the
/// deadline: a listener that never greets (not a MySQL server, or a hung one) is reported as
/// such on each attempt rather than waited on for the whole `--rpc-timeout`.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(10);

fn handshake_deadline() -> Instant {
    Instant::now() + HANDSHAKE_WAIT
}

fn no_greeting(settings: &ConnSettings, what: &str) -> RemoteError {
    RemoteError::Connection {
        server: settings.address(),
        what: what.to_owned(),
        message: format!(
            "no MySQL greeting within {}s (is this a MySQL or MariaDB server, and is it \
             responsive?)",
            HANDSHAKE_WAIT.as_secs()
        ),
    }
}

pub(super) async fn server_facts(
    settings: &ConnSettings,
    conn: &mut Conn,
    deadline: Instant,
) -> Result<ServerFacts, RemoteError> {
    let row: Option<(String, Option<String>, Option<u64>)> = within(
        settings,
        deadline,
        "reading the server version, binlog_checksum and server_id",
        conn.query_first("SELECT VERSION(), @@global.binlog_checksum, @@global.server_id"),
    )
    .await?;
    let (version, checksum, server_id) = row.unwrap_or_default();
    if let Some(id) = settings.server_id {
        check_server_id_free(settings, conn, &version, id, deadline).await?;
    }
    let flavor = Flavor::of_version(&version);
    let uuid = match flavor {
        Flavor::MySql => conn
            .query_first::<Option<String>, _>("SELECT @@global.server_uuid")
            .await
            .ok()
            .flatten()
            .flatten(),
        Flavor::MariaDb => None,
    };
    let source = match uuid {
        Some(uuid) => format!("mysql:{uuid}"),
        None => format!("{}:server_id={}", flavor.as_str(), server_id.unwrap_or(0)),
    };
    Ok(ServerFacts {
        checksum: match checksum.as_deref() {
            Some(alg) if alg.eq_ignore_ascii_case("CRC32") => ChecksumAlg::Crc32,
            _ => ChecksumAlg::Off,
        },
        version,
        source,
    })
}

/// Fails when a replica registered with the server uses `id` (what DM checks before it dumps):
/// the server keeps one dump per server_id and disconnects the older one.
async fn check_server_id_free(
    settings: &ConnSettings,
    conn: &mut Conn,
    version: &str,
    id: u32,
    deadline: Instant,
) -> Result<(), RemoteError> {
    let query = match Flavor::of_version(version) {
        Flavor::MySql if split_version(version) >= (8, 0, 22) => "SHOW REPLICAS",
        _ => "SHOW SLAVE HOSTS",
    };
    let rows: Vec<mysql_async::Row> =
        match within(settings, deadline, query, conn.query(query)).await {
            Ok(rows) => rows,
            // MariaDB ≥ 10.5.2 wants REPLICATION MASTER ADMIN for the list, which a replication
            // account need not have: then the check is skipped, as DM does without the grant.
            Err(RemoteError::Privilege { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
    for row in rows {
        let host = row
            .get_opt::<String, _>(1)
            .and_then(Result::ok)
            .unwrap_or_default();
        // Our own dump of a moment ago, not yet unregistered, is no other replica.
        if host == REPORT_HOST {
            continue;
        }
        if row.get_opt::<u32, _>(0).and_then(Result::ok) == Some(id) {
            return Err(RemoteError::ServerIdInUse {
                server: settings.address(),
                id,
                host: if host.is_empty() {
                    "no report-host".to_owned()
                } else {
                    format!("host {host}")
                },
            });
        }
    }
    Ok(())
}

/// A heartbeat: it keeps a dump alive and is no part of the binlog. Its log_pos is where the
/// stream stands and its flags are 0 (MySQL's `Binlog_sender::send_heartbeat_event`, sent after
/// a skipped group of events and while waiting; MariaDB's `send_heartbeat_event`, which may
/// send one between a ROTATE and the next file's FDE, MDEV-29981; binlog servers and proxies).
/// Read as an event, it could end a probe early or pose as the event at a position, so the
/// transport drops it before anything counts or reads it.
fn is_heartbeat(raw: &[u8]) -> bool {
    let code = raw.get(4).copied().unwrap_or(0);
    code == EventType::Heartbeat as u8 || code == EventType::HeartbeatV2 as u8
}

/// The bytes of an event as the server sent them (mysql_common splits off the checksum and the
/// FDE's checksum-algorithm byte; they are put back so the reader can verify them).
fn raw_event(event: &Event) -> Vec<u8> {
    let header = event.header();
    let mut raw = Vec::with_capacity(header.event_size() as usize);
    header.serialize(&mut raw);
    raw.extend_from_slice(event.data());
    if header.event_type_raw() == EventType::FormatDescription as u8 {
        match event.footer().get_checksum_alg() {
            Ok(Some(alg)) => raw.push(alg as u8),
            Err(mysql_common::binlog::consts::UnknownChecksumAlg(raw_alg)) => raw.push(raw_alg),
            Ok(None) => {}
        }
    }
    if let Some(checksum) = event.checksum() {
        raw.extend_from_slice(&checksum);
    }
    raw
}

/// `pos` as COM_BINLOG_DUMP carries it: in 32 bits (the driver would cut a larger one short).
fn dump_position(settings: &ConnSettings, file: &str, pos: u64) -> Result<u32, RemoteError> {
    u32::try_from(pos).map_err(|_| RemoteError::PositionBeyond4Gib {
        server: settings.address(),
        file: file.to_owned(),
        pos,
    })
}

/// A dump's events: read by the relay itself ([`super::tap`]), or by mysql_async when the
/// connection is TLS.
pub(super) struct Dump {
    read: DumpRead,
    /// Events received, handed out up to `at`.
    pending: Batch,
    at: usize,
}

enum DumpRead {
    /// Read by the search's own thread from the socket to the server (walks).
    Direct(Box<Direct>),
    Tap {
        events: tokio::sync::mpsc::Receiver<TapItem>,
        /// The driver's side of the connection, idle, closed with the dump.
        _conn: Conn,
        ended: bool,
    },
    Driver(Option<BinlogStream>),
}

/// A dump read from the socket to the server on the reader's thread: only as far as the reader
/// needs, with the kernel's receive buffer (grown with what was read, as the relay's
/// read-ahead grows) as all the read-ahead.
struct Direct {
    socket: super::stream::Blocking,
    deframer: Deframer,
    buf: Vec<u8>,
    /// The receive buffer asked for so far.
    receive_buffer: u64,
    ended: bool,
    /// The driver's side of the connection, idle, closed with the dump.
    _conn: Option<Conn>,
}

/// What a blocking read of the next event came to.
enum Next {
    Event(Vec<u8>),
    End,
    Failed(mysql_async::Error),
    Deadline,
}

impl Direct {
    /// Reads until a batch of events (or the end) arrives.
    fn fill(
        &mut self,
        pending: &mut Batch,
        deadline: Instant,
        throttle: &Throttle,
        consumed: u64,
    ) -> Option<Next> {
        use std::io::Read;
        // Read ahead what the relay would: a quarter of what was read, at most MAX_SLACK.
        let wanted = (consumed / 4).clamp(WALK_BYTES, super::throttle::MAX_SLACK);
        if wanted > self.receive_buffer * 2 {
            self.receive_buffer = wanted;
            let _ = socket2::SockRef::from(&self.socket).set_recv_buffer_size(wanted as usize);
        }
        let mut batch = Batch::default();
        loop {
            // Compressed packets left from the last read are unwrapped before reading more.
            if self.deframer.has_pending() {
                let ended = self.deframer.push(&[], &mut batch);
                if let Some(next) = self.hand_out(batch, ended, pending) {
                    return next;
                }
                batch = Batch::default();
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.socket.set_read_timeout(Some(left)).is_err() {
                return Some(Next::Deadline);
            }
            let n = match self.socket.read(&mut self.buf) {
                Ok(0) => {
                    self.ended = true;
                    return Some(Next::Failed(mysql_async::Error::Driver(
                        mysql_async::DriverError::ConnectionClosed,
                    )));
                }
                Ok(n) => n,
                // The read timeout (EAGAIN): the deadline, once it has passed.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.ended = true;
                    return Some(Next::Failed(mysql_async::Error::Io(
                        mysql_async::IoError::Io(e),
                    )));
                }
            };
            throttle.add_received(n as u64);
            let ended = self.deframer.push(&self.buf[..n], &mut batch);
            if let Some(next) = self.hand_out(batch, ended, pending) {
                return next;
            }
            batch = Batch::default();
        }
    }

    /// What [`Direct::fill`] returns after a push that gave `batch` and `ended`: `None` to read
    /// on (nothing came of it yet).
    fn hand_out(
        &mut self,
        batch: Batch,
        ended: Option<TapItem>,
        pending: &mut Batch,
    ) -> Option<Option<Next>> {
        if !batch.is_empty() {
            *pending = batch;
            // The end (or a failure) after these events is read again next time.
            if ended.is_some() {
                self.deframer.replay(ended);
            }
            return Some(None);
        }
        match ended {
            Some(TapItem::End) => {
                self.ended = true;
                Some(Some(Next::End))
            }
            Some(TapItem::Failed(error)) => {
                self.ended = true;
                Some(Some(Next::Failed(error)))
            }
            _ => None,
        }
    }
}

impl Dump {
    /// The next event, blocking this (non-runtime) thread: read from the socket for a direct
    /// dump, else waited for on the runtime.
    fn next_blocking(
        &mut self,
        handle: &Handle,
        deadline: Instant,
        throttle: &Throttle,
        consumed: u64,
    ) -> Next {
        if let Some(raw) = self.ready() {
            return Next::Event(raw);
        }
        if let DumpRead::Direct(direct) = &mut self.read {
            if let Some(end) = direct.deframer.take_replay() {
                direct.ended = true;
                return match end {
                    TapItem::Failed(error) => Next::Failed(error),
                    _ => Next::End,
                };
            }
            if direct.ended {
                return Next::End;
            }
            return match direct.fill(&mut self.pending, deadline, throttle, consumed) {
                Some(next) => next,
                None => {
                    self.at = 0;
                    match self.ready() {
                        Some(raw) => Next::Event(raw),
                        None => Next::End,
                    }
                }
            };
        }
        throttle.waiting(true);
        let next = handle.block_on(tokio::time::timeout_at(deadline, self.next()));
        throttle.waiting(false);
        match next {
            Err(_) => Next::Deadline,
            Ok(None) => Next::End,
            Ok(Some(Err(error))) => Next::Failed(error),
            Ok(Some(Ok(raw))) => Next::Event(raw),
        }
    }

    /// The next event as the server sent it, when one was received and not handed out yet.
    pub(super) fn ready(&mut self) -> Option<Vec<u8>> {
        let raw = self.pending.get(self.at)?.to_vec();
        self.at += 1;
        Some(raw)
    }

    /// The next event as the server sent it; `None` at the end of the dump.
    pub(super) async fn next(&mut self) -> Option<Result<Vec<u8>, mysql_async::Error>> {
        if let Some(raw) = self.ready() {
            return Some(Ok(raw));
        }
        match &mut self.read {
            // Read on the reader's thread only (next_blocking): never a silent end here.
            DumpRead::Direct(_) => Some(Err(mysql_async::Error::Other(
                "a walk's dump is read on the search's thread".into(),
            ))),
            DumpRead::Tap { ended: true, .. } => None,
            DumpRead::Tap { events, ended, .. } => loop {
                match events.recv().await {
                    Some(TapItem::Events(batch)) => {
                        if let Some(raw) = batch.get(0) {
                            let raw = raw.to_vec();
                            self.pending = batch;
                            self.at = 1;
                            return Some(Ok(raw));
                        }
                    }
                    Some(TapItem::End) => {
                        *ended = true;
                        return None;
                    }
                    Some(TapItem::Failed(error)) => {
                        *ended = true;
                        return Some(Err(error));
                    }
                    None => {
                        *ended = true;
                        return Some(Err(mysql_async::Error::Driver(
                            mysql_async::DriverError::ConnectionClosed,
                        )));
                    }
                }
            },
            DumpRead::Driver(stream) => {
                let next = stream.as_mut()?.next().await;
                Some(next?.map(|event| raw_event(&event)))
            }
        }
    }

    /// Stops the dump.
    pub(super) async fn close(mut self) {
        if let DumpRead::Driver(stream) = &mut self.read
            && let Some(stream) = stream.take()
        {
            let _ = tokio::time::timeout(CLOSE_WAIT, stream.close()).await;
        }
        // The relay's side closes with the throttle.
    }
}

/// Requests a non-blocking dump of `file` from `pos` (an event start) on a new connection.
pub(super) async fn dump(
    settings: &ConnSettings,
    file: &str,
    pos: u64,
    role: Role,
    deadline: Instant,
) -> Result<(Dump, Throttle), RemoteError> {
    let pos = dump_position(settings, file, pos)?;
    let (mut conn, throttle) = connect(settings, role, deadline).await?;
    within(
        settings,
        deadline,
        "announcing what kind of replica this is",
        conn.query_drop(REPLICA_SESSION),
    )
    .await?;
    throttle.start_dump(if role == Role::Probe {
        PROBE_BYTES
    } else {
        WALK_BYTES
    });
    let server_id = settings.probe_server_id();
    // The name replicas list us under (SHOW SLAVE HOSTS, SHOW REPLICAS).
    let mut register = Vec::new();
    ComRegisterSlave::new(server_id)
        .with_hostname(REPORT_HOST.as_bytes())
        .serialize(&mut register);
    let mut request = Vec::new();
    ComBinlogDump::new(server_id)
        .with_pos(pos)
        .with_flags(BinlogDumpFlags::BINLOG_DUMP_NON_BLOCK)
        .with_filename(file.as_bytes())
        .serialize(&mut request);
    let what = format!("requesting a binlog dump of {file} from {pos}");
    tracing::debug!(
        "binlog dump of {file} from {pos} on {} ({role:?}, server_id {server_id})",
        settings.display()
    );
    if role == Role::Walk && throttle.can_hand_over() {
        use std::io::Write;
        let handed = tokio::time::timeout_at(deadline, throttle.hand_over()).await;
        let lost = |e: std::io::Error| {
            error::classify(
                mysql_async::Error::Io(mysql_async::IoError::Io(e)),
                settings,
                &what,
            )
        };
        let (socket, compressed) = match handed {
            Err(_) => return Err(at_deadline(settings, &what)),
            Ok(handed) => handed.map_err(lost)?,
        };
        let wire = frame_commands(&[register, request], compressed);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(at_deadline(settings, &what));
        }
        socket.set_write_timeout(Some(left)).map_err(lost)?;
        let mut socket = socket;
        socket.write_all(&wire).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => at_deadline(settings, &what),
            _ => lost(e),
        })?;
        let direct = Direct {
            socket,
            deframer: Deframer::new(compressed),
            buf: vec![0; 256 * 1024],
            receive_buffer: WALK_BYTES,
            ended: false,
            _conn: Some(conn),
        };
        let dump = Dump {
            read: DumpRead::Direct(Box::new(direct)),
            pending: Batch::default(),
            at: 0,
        };
        return Ok((dump, throttle));
    }
    if let Some(events) = throttle.take_over(&[register, request]) {
        let read = DumpRead::Tap {
            events,
            _conn: conn,
            ended: false,
        };
        let dump = Dump {
            read,
            pending: Batch::default(),
            at: 0,
        };
        return Ok((dump, throttle));
    }
    let request = BinlogStreamRequest::new(server_id)
        .with_hostname(REPORT_HOST.as_bytes())
        .with_filename(file.as_bytes())
        .with_pos(u64::from(pos))
        .with_non_blocking();
    let stream = within(settings, deadline, &what, conn.get_binlog_stream(request)).await?;
    let dump = Dump {
        read: DumpRead::Driver(Some(stream)),
        pending: Batch::default(),
        at: 0,
    };
    Ok((dump, throttle))
}

/// Set on every dump's connection, whatever the server (user variables the other one ignores):
/// - MariaDB sends GTID events and the binlog as MariaDB writes it only to a replica that
///   announces capability 4 (`MARIA_SLAVE_CAPABILITY_GTID`, `sql/sql_repl.cc`).
/// - MySQL, when a replica dumps *without* a UUID, kills an older dump of the same server_id
///   that has none either; with a UUID, only a dump of the same UUID (`kill_zombie_dump_threads`
///   and `Find_zombie_dump_thread` in `sql/rpl_source.cc`; newer versions read `@replica_uuid`,
///   falling back to `@slave_uuid` only when that variable does not exist). A fresh UUID per
///   connection, as go-mysql sets, so that with `--server-id` our dumps do not kill each other,
///   nor other UUID-less clients of that id. Each variable gets its own `UUID()`: a `SET`
///   evaluates every value before it assigns any, so `@replica_uuid=@slave_uuid` would be NULL.
/// - Both send checksums only to a replica that says it checks them (`@master_binlog_checksum`,
///   as mysql_async also sets it before a dump).
const REPLICA_SESSION: &str = "SET @mariadb_slave_capability=4, @replica_uuid=UUID(), \
     @slave_uuid=UUID(), @master_binlog_checksum='ALL'";

/// Dumps `file` from `pos` (an event start) and reads its first events, at most `limit`, until
/// `enough` holds for the last one read, then closes the dump. Returns the events as the server
/// sent them and the bytes received.
pub(super) async fn dump_head(
    settings: &ConnSettings,
    file: &str,
    pos: u64,
    deadline: Instant,
    limit: usize,
    mut enough: impl FnMut(&[u8]) -> bool,
) -> Result<(Vec<Vec<u8>>, u64), RemoteError> {
    let (mut stream, throttle) = dump(settings, file, pos, Role::Probe, deadline).await?;
    let what = format!("reading {file} from {pos}");
    let mut events = Vec::new();
    let mut consumed = 0u64;
    let pulled = loop {
        if events.len() >= limit {
            break Ok(());
        }
        throttle.waiting(true);
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        throttle.waiting(false);
        let raw = match next {
            Err(_) => {
                break Err(RemoteError::Deadline {
                    server: settings.address(),
                    what,
                    elapsed: Duration::ZERO,
                    last: "no answer before the deadline".to_owned(),
                });
            }
            Ok(None) => break Ok(()),
            Ok(Some(Err(err))) => break Err(error::classify(err, settings, &what)),
            Ok(Some(Ok(raw))) => raw,
        };
        consumed += raw.len() as u64 + PACKET_OVERHEAD;
        throttle.consumed(consumed);
        if is_heartbeat(&raw) {
            continue;
        }
        let done = enough(&raw);
        events.push(raw);
        if done {
            break Ok(());
        }
    };
    stream.close().await;
    pulled.map(|()| (events, throttle.received()))
}

/// How much reading a walk may do before it tells the throttle: a sixteenth of what it read,
/// at least a quarter of WALK_BYTES, at most a quarter of the throttle's largest read-ahead
/// (a quarter of what was read, at most 2 MiB), so the server is never held back while the
/// reader has events in hand.
const CONSUMED_STEP: u64 = 4 * 1024;
const CONSUMED_STEP_MAX: u64 = 512 * 1024;

/// A dump's events, pulled one at a time on the blocking thread.
pub(super) struct StreamEvents {
    pub(super) stream: Option<Dump>,
    /// Holds the server back to what has been consumed.
    pub(super) throttle: Throttle,
    pub(super) consumed: u64,
    /// What the throttle was last told of `consumed`.
    pub(super) said: u64,
    pub(super) handle: Handle,
    pub(super) deadline: Instant,
    pub(super) settings: ConnSettings,
    /// After a TRANSACTION_PAYLOAD ending here, mysql_async hands out the events inside it.
    pub(super) payload_end: Option<u32>,
    pub(super) counters: Arc<Mutex<SearchStats>>,
    pub(super) progress: Option<Arc<ReadProgress>>,
    /// Where a failure of the stream is kept for the layer that made the search.
    pub(super) failures: Failures,
}

impl StreamEvents {
    /// Ends the stream with `error`, for the search to return as it is.
    fn fail(&mut self, error: RemoteError) -> Option<Result<Vec<u8>, BinlogError>> {
        if let Some(stream) = self.stream.take() {
            self.handle.block_on(stream.close());
        }
        Some(Err(self.failures.transport(self.settings.address(), error)))
    }
}

impl Iterator for StreamEvents {
    type Item = Result<Vec<u8>, BinlogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let stream = self.stream.as_mut()?;
            let raw = match stream.ready() {
                Some(raw) => raw,
                None => {
                    // What was read lets the relay read on (said at least every CONSUMED_STEP
                    // bytes, and always before waiting).
                    self.throttle.consumed(self.consumed);
                    self.said = self.consumed;
                    let next = stream.next_blocking(
                        &self.handle,
                        self.deadline,
                        &self.throttle,
                        self.consumed,
                    );
                    match next {
                        Next::Deadline => {
                            return self.fail(RemoteError::Deadline {
                                server: self.settings.address(),
                                what: "reading the binlog stream".to_owned(),
                                elapsed: Duration::ZERO,
                                last: "no event before the deadline".to_owned(),
                            });
                        }
                        Next::End => {
                            if let Some(stream) = self.stream.take() {
                                self.handle.block_on(stream.close());
                            }
                            return None;
                        }
                        Next::Failed(err) => {
                            let error =
                                error::classify(err, &self.settings, "reading the binlog stream");
                            return self.fail(error);
                        }
                        Next::Event(raw) => raw,
                    }
                }
            };
            self.consumed += raw.len() as u64 + PACKET_OVERHEAD;
            let step = (self.said / 16).clamp(CONSUMED_STEP, CONSUMED_STEP_MAX);
            if self.consumed >= self.said + step {
                self.throttle.consumed(self.consumed);
                self.said = self.consumed;
            }
            if is_heartbeat(&raw) {
                continue;
            }
            // Header: type at 4, log_pos at 13, flags at 17.
            if raw.len() < 19 {
                return self.fail(RemoteError::ShortEvent {
                    server: self.settings.address(),
                    len: raw.len(),
                });
            }
            let log_pos = u32::from_le_bytes([raw[13], raw[14], raw[15], raw[16]]);
            let flags = u16::from_le_bytes([raw[17], raw[18]]);
            if let Some(end) = self.payload_end {
                if log_pos <= end && flags & FLAG_ARTIFICIAL == 0 {
                    continue; // an event from inside the payload (mysql_async hands them out)
                }
                self.payload_end = None;
            }
            if raw[4] == EventType::TransactionPayload as u8 {
                self.payload_end = Some(log_pos);
            }
            if let Some(progress) = &self.progress {
                progress.read(raw.len() as u64);
            }
            if let Ok(mut counters) = self.counters.lock() {
                counters.bytes_read = self.throttle.received();
                counters.events_read += 1;
            }
            return Some(Ok(raw));
        }
    }
}

impl Drop for StreamEvents {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            // The answer is known: stop the dump now. Dropped on the blocking thread.
            self.handle.block_on(stream.close());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One protocol packet: 3-byte length, sequence id, payload.
    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(seq);
        out.extend_from_slice(payload);
        out
    }

    /// A walk reads its dump itself from the socket the relay hands over. The server side here
    /// sends the REGISTER reply, three events and the EOF in one write: each event comes out
    /// once, in order, then the end, once and for good; a server that goes quiet ends at the
    /// deadline; one that closes mid-dump is a lost connection.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_walk_reads_its_events_then_the_end_exactly_once() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        async fn direct() -> (Dump, Throttle, tokio::net::TcpStream) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap().to_string();
            let throttle = Throttle::start(
                super::super::stream::Endpoint::Tcp(address),
                Some(16 * 1024),
            )
            .await
            .unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            // The driver's side: a handshake response without TLS or compression.
            let mut client = tokio::net::TcpStream::connect(("127.0.0.1", throttle.port()))
                .await
                .unwrap();
            client
                .write_all(&packet(1, &[0x0D, 0xA2, 0, 0, 0, 0, 0, 1]))
                .await
                .unwrap();
            let mut seen = [0u8; 12];
            server.read_exact(&mut seen).await.unwrap();
            assert!(throttle.can_hand_over());
            let (socket, compressed) = throttle.hand_over().await.unwrap();
            assert!(!compressed);
            drop(client);
            let direct = Direct {
                socket,
                deframer: Deframer::new(false),
                buf: vec![0; 1024],
                receive_buffer: WALK_BYTES,
                ended: false,
                _conn: None,
            };
            let dump = Dump {
                read: DumpRead::Direct(Box::new(direct)),
                pending: Batch::default(),
                at: 0,
            };
            (dump, throttle, server)
        }
        let event = |kind: u8| {
            let mut payload = vec![0u8; 20];
            payload[5] = kind; // after the OK byte: the event's type
            payload
        };
        let (mut dump, throttle, mut server) = direct().await;
        // Each reply numbered from 1, as a server numbers it.
        let mut wire = packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        for (seq, kind) in [(1, 15), (2, 2), (3, 16)] {
            wire.extend(packet(seq, &event(kind)));
        }
        wire.extend(packet(4, &[0xFE, 0, 0, 2, 0]));
        server.write_all(&wire).await.unwrap();
        let handle = Handle::current();
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = tokio::task::spawn_blocking(move || {
            let mut got = Vec::new();
            for _ in 0..6 {
                got.push(match dump.next_blocking(&handle, deadline, &throttle, 0) {
                    Next::Event(raw) => format!("event {}", raw[4]),
                    Next::End => "end".to_owned(),
                    Next::Failed(e) => format!("failed {e}"),
                    Next::Deadline => "deadline".to_owned(),
                });
            }
            (got, throttle.received())
        })
        .await
        .unwrap();
        assert_eq!(
            got.0,
            ["event 15", "event 2", "event 16", "end", "end", "end"]
        );
        assert_eq!(got.1, wire.len() as u64);

        // Quiet: the deadline; closed mid-dump: a lost connection, not an end.
        let (mut dump, throttle, server) = direct().await;
        let handle = Handle::current();
        let deadline = Instant::now() + Duration::from_millis(300);
        let quiet = tokio::task::spawn_blocking(move || {
            matches!(
                dump.next_blocking(&handle, deadline, &throttle, 0),
                Next::Deadline
            )
        });
        assert!(quiet.await.unwrap());
        drop(server);
        let (mut dump, throttle, server) = direct().await;
        drop(server);
        let handle = Handle::current();
        let deadline = Instant::now() + Duration::from_secs(5);
        let closed = tokio::task::spawn_blocking(move || {
            match dump.next_blocking(&handle, deadline, &throttle, 0) {
                Next::Failed(e) => error::classify(
                    e,
                    &ConnSettings::from_url("mysql://root@127.0.0.1:3307", None).unwrap(),
                    "reading",
                )
                .is_transient(),
                _ => false,
            }
        });
        assert!(closed.await.unwrap());
    }

    async fn read_packet(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.unwrap();
        let mut payload =
            vec![0u8; u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize];
        stream.read_exact(&mut payload).await.unwrap();
        payload
    }

    /// An account of MariaDB's `parsec` plugin (≥ 11.6) goes through the plugin's exchange and
    /// gets the server's answer, never a driver panic that takes the process down (mysql_common's
    /// `create_response_for_parsec` panics without `client_parsec`, so the feature is on). No
    /// server here has the plugin, so a listener plays MariaDB's side of the exchange as the
    /// driver expects it (mysql_async `continue_parsec_auth`): an auth switch to `parsec` with a
    /// 32-byte nonce, the ext-salt (`P`, the iteration factor, 18 bytes of salt), then the
    /// client's nonce and signature (96 bytes), answered with error 1045 here.
    #[tokio::test]
    async fn a_parsec_account_is_answered_not_a_panic() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        // A refused authentication is asked once more (AUTH_TRIES): answer each attempt.
        let server = tokio::spawn(async move {
            let mut seen = (0, 0);
            for _ in 0..AUTH_TRIES {
                seen = parsec_exchange(&listener).await;
            }
            seen
        });
        async fn parsec_exchange(listener: &tokio::net::TcpListener) -> (usize, usize) {
            use tokio::io::AsyncWriteExt;
            let (mut stream, _) = listener.accept().await.unwrap();
            // Protocol 10, version, connection id, scramble part 1, capabilities (PROTOCOL_41,
            // SECURE_CONNECTION, PLUGIN_AUTH, LONG_PASSWORD, TRANSACTIONS), charset, status,
            // scramble length, reserved, scramble part 2, plugin name.
            let capabilities: u32 =
                0x0000_0001 | 0x0000_0200 | 0x0000_2000 | 0x0000_8000 | 0x0008_0000;
            let mut greeting = vec![10];
            greeting.extend_from_slice(b"11.6.2-MariaDB\0");
            greeting.extend_from_slice(&7u32.to_le_bytes());
            greeting.extend_from_slice(b"abcdefgh\0");
            greeting.extend_from_slice(&(capabilities as u16).to_le_bytes());
            greeting.push(45);
            greeting.extend_from_slice(&2u16.to_le_bytes());
            greeting.extend_from_slice(&((capabilities >> 16) as u16).to_le_bytes());
            greeting.push(21);
            greeting.extend_from_slice(&[0; 10]);
            greeting.extend_from_slice(b"ijklmnopqrst\0");
            greeting.extend_from_slice(b"mysql_native_password\0");
            stream.write_all(&packet(0, &greeting)).await.unwrap();
            let _response = read_packet(&mut stream).await;
            let mut switch = vec![0xfe];
            switch.extend_from_slice(b"parsec\0");
            switch.extend_from_slice(&[7u8; 32]);
            stream.write_all(&packet(2, &switch)).await.unwrap();
            let empty = read_packet(&mut stream).await;
            let mut salt = vec![0x01, b'P', 0];
            salt.extend_from_slice(&[9u8; 18]);
            stream.write_all(&packet(4, &salt)).await.unwrap();
            let signed = read_packet(&mut stream).await;
            let mut denied = vec![0xff];
            denied.extend_from_slice(&1045u16.to_le_bytes());
            denied.extend_from_slice(b"#28000Access denied for user 'repl'@'localhost'");
            stream.write_all(&packet(6, &denied)).await.unwrap();
            (empty.len(), signed.len())
        }
        let settings =
            ConnSettings::from_url(&format!("mysql://repl:secret@127.0.0.1:{port}"), None).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let Err(err) = connect(&settings, Role::Control, deadline).await else {
            panic!("a denied account connected");
        };
        assert!(matches!(err, RemoteError::Auth { .. }), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(
            server.await.unwrap(),
            (0, 96),
            "an empty packet, then nonce and signature"
        );
    }

    /// COM_BINLOG_DUMP's position is 32-bit and the driver would cut a larger one short,
    /// starting a dump from past 4 GiB somewhere else in the file: such a position is refused,
    /// and the error points to `--binlog-dir`.
    #[test]
    fn a_position_past_4_gib_is_refused_not_cut_short() {
        let settings = ConnSettings::from_url("mysql://repl@127.0.0.1:3307", None).unwrap();
        assert_eq!(dump_position(&settings, "mysql-bin.000001", 4).unwrap(), 4);
        let max = u64::from(u32::MAX);
        assert_eq!(
            dump_position(&settings, "mysql-bin.000001", max).unwrap(),
            u32::MAX
        );
        let err = dump_position(&settings, "mysql-bin.000001", max + 5).unwrap_err();
        assert!(
            matches!(err, RemoteError::PositionBeyond4Gib { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--binlog-dir"), "{err}");
    }
}
