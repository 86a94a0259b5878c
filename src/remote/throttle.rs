//! A loopback throttle between mysql_async and the server, so that what crosses the network follows
//! what the resolution actually reads.
//!
//! Why: a binlog dump makes the server push events as fast as the connection takes them, and the
//! kernel takes as much as the receive window allows (megabytes on a fast link) whether or not
//! anyone reads it. A probe that needs a few hundred bytes, or a walk that has found its answer,
//! would still pull the rest of the binlog in. mysql_async does not expose its socket, so each
//! connection goes through this throttle: mysql_async talks to a one-shot listener on
//! 127.0.0.1, and the throttle owns the socket to the server. Once a dump is requested, the
//! throttle reads from the server only up to an allowance that grows with what the reader has
//! consumed (plus a slack
//! proportional to it, so long walks keep streaming at full speed), and keeps the socket's
//! receive buffer no larger than that slack. When the reader stops, the server is held back and
//! the connection closes with little in flight.
//!
//! It also counts the bytes that really arrive from the server (compressed, when compression is
//! on): `--explain` reports those.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::stream::{Blocking, Endpoint, Upstream};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::tap::{Batch, CLIENT_COMPRESS, CLIENT_SSL, Deframer, TapItem, frame_commands};

/// No limit: the throttle forwards freely until a dump starts.
const UNLIMITED: u64 = u64::MAX;
/// The least a starved reader is let through at once.
const MIN_GROWTH: u64 = 1024;
/// The most slack, and receive buffer, a long walk grows to.
pub(super) const MAX_SLACK: u64 = 2 << 20;
/// A reader that waits this long without consuming, while the throttle holds the server back, is
/// starved: its next event is larger than what is allowed.
const STARVED_AFTER: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Shared {
    /// Bytes received from the server.
    received: AtomicU64,
    /// Bytes the throttle may have received from the server in all.
    allowance: AtomicU64,
    /// Where the dump's allowance counts from.
    dump_start: AtomicU64,
    /// The least read-ahead the dump keeps.
    min_slack: AtomicU64,
    /// The reader waits for an event: if the throttle is at its allowance and nothing has been
    /// consumed for a while, the event is larger than the allowance left (or split over
    /// encrypted records), so more must come.
    reader_waiting: AtomicBool,
    /// What the reader has consumed of the dump, as it last said.
    consumed: AtomicU64,
    more: Notify,
    /// The capability flags of the client's handshake response, once it was relayed.
    client_caps: AtomicU32,
    caps_seen: AtomicBool,
}

/// Batches of events the relay may have handed over and the reader not yet taken.
const TAP_BATCHES: usize = 4;

/// The driver is done with the connection, and the dump is read without it.
enum TakeOver {
    /// The relay sends `wire` (the dump's commands) and reads the rest.
    Tap {
        wire: Vec<u8>,
        compressed: bool,
        events: mpsc::Sender<TapItem>,
    },
    /// The relay hands the socket to the server over, blocking, to a reader that sends the
    /// commands and reads the dump itself.
    Direct {
        reply: oneshot::Sender<std::io::Result<(Blocking, bool)>>,
    },
}

/// One relayed connection.
pub(super) struct Throttle {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    take_over: Mutex<Option<oneshot::Sender<TakeOver>>>,
}

impl Throttle {
    /// Listens on 127.0.0.1 for the one connection mysql_async makes, and relays it to
    /// `server` (`host:port`, or a Unix socket). `receive_buffer` sets the server socket's receive buffer before
    /// connecting (which also stops the kernel from growing it on its own); `None` leaves the
    /// kernel's default, for connections that do not dump.
    pub(super) async fn start(
        server: Endpoint,
        receive_buffer: Option<u32>,
    ) -> std::io::Result<Throttle> {
        // The server first, so that why it cannot be reached (no such host, nothing listening)
        // reaches the caller, not a "connection closed" from the driver.
        let upstream = Upstream::connect(&server, receive_buffer).await?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            allowance: AtomicU64::new(UNLIMITED),
            ..Shared::default()
        });
        let task_shared = shared.clone();
        let (take_over, taken) = oneshot::channel();
        let task = tokio::spawn(async move {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            drop(listener);
            pump(
                client,
                upstream,
                task_shared,
                receive_buffer.map_or(0, u64::from),
                taken,
            )
            .await;
        });
        Ok(Throttle {
            port,
            shared,
            task,
            take_over: Mutex::new(Some(take_over)),
        })
    }

    /// The relay sends `commands` (payloads of new commands: `COM_REGISTER_SLAVE`,
    /// `COM_BINLOG_DUMP`) and reads the dump itself (see [`super::tap`]); the driver must be
    /// idle, its last reply read. `None` when the connection is TLS (opaque to the relay) or
    /// the relay is gone: the driver reads the dump then.
    pub(super) fn take_over(&self, commands: &[Vec<u8>]) -> Option<mpsc::Receiver<TapItem>> {
        let compressed = self.plain_dump()?;
        let sender = self.take_over.lock().ok()?.take()?;
        let (events, receiver) = mpsc::channel(TAP_BATCHES);
        sender
            .send(TakeOver::Tap {
                wire: frame_commands(commands, compressed),
                compressed,
                events,
            })
            .ok()?;
        Some(receiver)
    }

    /// The socket to the server, blocking, for a reader that sends the dump's commands and
    /// reads the dump itself on its own thread, as far as it needs (the kernel's receive
    /// buffer, which the reader sizes, is then all the read-ahead); and whether the
    /// connection is compressed. The driver must be idle, its last reply read. `None` when
    /// the connection is TLS or the relay is gone: the driver reads the dump then.
    /// Once [`Throttle::can_hand_over`] said yes, the relay is used up: an error here is the
    /// connection's.
    pub(super) async fn hand_over(&self) -> std::io::Result<(Blocking, bool)> {
        let gone = || std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "relay gone");
        self.plain_dump().ok_or_else(gone)?;
        let sender = self
            .take_over
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .ok_or_else(gone)?;
        let (reply, socket) = oneshot::channel();
        sender
            .send(TakeOver::Direct { reply })
            .map_err(|_| gone())?;
        socket.await.map_err(|_| gone())?
    }

    /// Whether [`Throttle::hand_over`] can give the socket: the relay can read the connection
    /// (not TLS) and has not been taken over.
    pub(super) fn can_hand_over(&self) -> bool {
        self.plain_dump().is_some() && self.take_over.lock().is_ok_and(|sender| sender.is_some())
    }

    /// Whether the connection is compressed, when the relay can read it (not TLS).
    fn plain_dump(&self) -> Option<bool> {
        if !self.shared.caps_seen.load(Ordering::SeqCst) {
            return None;
        }
        let caps = self.shared.client_caps.load(Ordering::SeqCst);
        if caps & CLIENT_SSL != 0 {
            return None;
        }
        Some(caps & CLIENT_COMPRESS != 0)
    }

    /// Counts `bytes` received from the server by a reader of a handed-over socket.
    pub(super) fn add_received(&self, bytes: u64) {
        self.shared.received.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The port mysql_async connects to.
    pub(super) fn port(&self) -> u16 {
        self.port
    }

    /// Bytes received from the server so far.
    pub(super) fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// From now on, read from the server only what the reader consumes plus a slack of a
    /// quarter of it, and at least `min_slack` bytes.
    pub(super) fn start_dump(&self, min_slack: u64) {
        let now = self.received();
        self.shared.dump_start.store(now, Ordering::SeqCst);
        self.shared.min_slack.store(min_slack, Ordering::SeqCst);
        self.shared
            .allowance
            .store(now + min_slack, Ordering::SeqCst);
        self.shared.more.notify_one();
    }

    /// The reader is about to wait for the next event (`true`), or has it (`false`).
    pub(super) fn waiting(&self, waiting: bool) {
        self.shared.reader_waiting.store(waiting, Ordering::SeqCst);
    }

    /// The reader has consumed `bytes` of the dump in all: allow that much more plus a slack
    /// of a quarter of it.
    pub(super) fn consumed(&self, bytes: u64) {
        self.shared.consumed.store(bytes, Ordering::SeqCst);
        let start = self.shared.dump_start.load(Ordering::SeqCst);
        let min_slack = self.shared.min_slack.load(Ordering::SeqCst);
        let slack = (bytes / 4).clamp(min_slack, MAX_SLACK.max(min_slack));
        let wanted = start + bytes + slack;
        if self.shared.allowance.fetch_max(wanted, Ordering::SeqCst) < wanted {
            self.shared.more.notify_one();
        }
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    client: TcpStream,
    server: Upstream,
    shared: Arc<Shared>,
    initial_buffer: u64,
    mut take_over: oneshot::Receiver<TakeOver>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let server = Arc::new(server);
    let server_for_writes = server.clone();
    let caps = shared.clone();
    let upstream = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // The client's first packet, its handshake response (or TLS request), starts with
            // its capability flags: whether the rest is compressed, or TLS. A first read too
            // short to hold them leaves them unknown, and the dump to the driver.
            if !caps.caps_seen.load(Ordering::SeqCst) {
                let flags = match n >= 8 {
                    true => u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]),
                    false => CLIENT_SSL,
                };
                caps.client_caps.store(flags, Ordering::SeqCst);
                caps.caps_seen.store(true, Ordering::SeqCst);
            }
            if write_all(&server_for_writes, &buf[..n]).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut buffer_size = initial_buffer;
    let mut starved: (u32, u64) = (0, u64::MAX);
    let mut may_take_over = true;
    loop {
        let Some(allowance) = allowed(&shared, &mut starved).await else {
            continue;
        };
        grow_buffer(&server, &mut buffer_size, allowance, &shared);
        let want = (allowance - shared.received.load(Ordering::SeqCst)).min(buf.len() as u64);
        if may_take_over {
            // Idle until the server sends or the reader hands the dump to the relay.
            tokio::select! {
                ready = server.readable() => if ready.is_err() { break },
                taken = &mut take_over => match taken {
                    Ok(TakeOver::Direct { reply }) => {
                        upstream.abort();
                        let _ = upstream.await;
                        let _ = client_write.shutdown().await;
                        // The only other owner was the upstream task, now gone.
                        let compressed =
                            shared.client_caps.load(Ordering::SeqCst) & CLIENT_COMPRESS != 0;
                        let handed = match Arc::try_unwrap(server) {
                            Ok(server) => server
                                .into_blocking()
                                .map(|server| (server, compressed)),
                            Err(_) => Err(std::io::Error::other("the socket is still shared")),
                        };
                        let _ = reply.send(handed);
                        return;
                    }
                    Ok(taken) => {
                        upstream.abort();
                        tap(&server, &shared, taken, &mut buf, buffer_size, &mut starved).await;
                        let _ = client_write.shutdown().await;
                        return;
                    }
                    Err(_) => {
                        may_take_over = false;
                        continue;
                    }
                },
            }
        } else if server.readable().await.is_err() {
            break;
        }
        let n = match server.try_read(&mut buf[..want as usize]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        };
        shared.received.fetch_add(n as u64, Ordering::SeqCst);
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = client_write.shutdown().await;
    upstream.abort();
}

/// The relay reads the dump itself: sends the commands, then splits what the server sends into
/// events for the reader, under the same allowance as a relayed dump.
async fn tap(
    server: &Upstream,
    shared: &Shared,
    taken: TakeOver,
    buf: &mut [u8],
    mut buffer_size: u64,
    starved: &mut (u32, u64),
) {
    let TakeOver::Tap {
        wire,
        compressed,
        events,
    } = taken
    else {
        return;
    };
    let lost = |what: String| {
        TapItem::Failed(mysql_async::Error::Io(mysql_async::IoError::Io(
            std::io::Error::new(std::io::ErrorKind::ConnectionAborted, what),
        )))
    };
    if let Err(e) = write_all(server, &wire).await {
        let _ = events
            .send(lost(format!("sending the dump request: {e}")))
            .await;
        return;
    }
    let mut deframer = Deframer::new(compressed);
    loop {
        // The reader is gone (it has its answer, or failed): nothing to read for.
        if events.is_closed() {
            return;
        }
        // Compressed packets left from the last read are unwrapped before reading more.
        if deframer.has_pending() {
            let mut batch = Batch::default();
            let ended = deframer.push(&[], &mut batch);
            if !batch.is_empty() && events.send(TapItem::Events(batch)).await.is_err() {
                return;
            }
            if let Some(ended) = ended {
                let _ = events.send(ended).await;
                return;
            }
            continue;
        }
        let Some(allowance) = allowed(shared, starved).await else {
            continue;
        };
        grow_buffer(server, &mut buffer_size, allowance, shared);
        let want = (allowance - shared.received.load(Ordering::SeqCst)).min(buf.len() as u64);
        tokio::select! {
            ready = server.readable() => if let Err(e) = ready {
                let _ = events.send(lost(e.to_string())).await;
                return;
            },
            // The reader is gone: nothing to read for.
            () = events.closed() => return,
        }
        let n = match server.try_read(&mut buf[..want as usize]) {
            Ok(0) => {
                let _ = events
                    .send(lost("the server closed the connection".to_owned()))
                    .await;
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                let _ = events.send(lost(e.to_string())).await;
                return;
            }
        };
        shared.received.fetch_add(n as u64, Ordering::SeqCst);
        let mut batch = Batch::default();
        let ended = deframer.push(&buf[..n], &mut batch);
        if !batch.is_empty() && events.send(TapItem::Events(batch)).await.is_err() {
            return;
        }
        if let Some(ended) = ended {
            let _ = events.send(ended).await;
            return;
        }
    }
}

async fn write_all(server: &Upstream, bytes: &[u8]) -> std::io::Result<()> {
    let mut written = 0;
    while written < bytes.len() {
        server.writable().await?;
        match server.try_write(&bytes[written..]) {
            Ok(m) => written += m,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The allowance, once the relay may read from the server (`None`: not yet; ask again). While
/// the server is held back, a reader that waits without consuming may be waiting for an event
/// larger than the allowance left: more is let through, doubling round after round, so any
/// event completes in a few rounds.
async fn allowed(shared: &Shared, starved: &mut (u32, u64)) -> Option<u64> {
    let received = shared.received.load(Ordering::SeqCst);
    let allowance = shared.allowance.load(Ordering::SeqCst);
    if received < allowance {
        return Some(allowance);
    }
    let consumed = shared.consumed.load(Ordering::SeqCst);
    let notified = shared.more.notified();
    if shared.allowance.load(Ordering::SeqCst) <= received {
        let _ = tokio::time::timeout(STARVED_AFTER, notified).await;
    }
    if shared.reader_waiting.load(Ordering::SeqCst)
        && shared.consumed.load(Ordering::SeqCst) == consumed
        && shared.allowance.load(Ordering::SeqCst) <= received
    {
        let so_far = received - shared.dump_start.load(Ordering::SeqCst);
        *starved = match *starved {
            (rounds, at) if at == consumed => (rounds + 1, at),
            _ => (0, consumed),
        };
        let min_slack = shared.min_slack.load(Ordering::SeqCst);
        shared.allowance.fetch_max(
            received + starved_growth(so_far, min_slack, starved.0),
            Ordering::SeqCst,
        );
    }
    None
}

/// Lets the kernel buffer grow with the allowance (a long walk streams at full speed), never
/// far beyond it.
fn grow_buffer(server: &Upstream, buffer_size: &mut u64, allowance: u64, shared: &Shared) {
    let slack = (allowance - shared.received.load(Ordering::SeqCst)).min(MAX_SLACK);
    if *buffer_size > 0 && allowance != UNLIMITED && slack > *buffer_size * 2 {
        *buffer_size = slack;
        let _ = socket2::SockRef::from(server).set_recv_buffer_size(*buffer_size as usize);
    }
}

/// What a reader that looks starved is let through, in its `rounds`-th round in a row without
/// consuming: the dump's slack, doubling each round, never more than the dump so far. A
/// reader that only waits because its machine is busy (mysql_async has not parsed what was
/// forwarded yet) then costs a slack per stall, not the whole dump again; an event larger than
/// the allowance still completes in a few rounds.
fn starved_growth(so_far: u64, min_slack: u64, rounds: u32) -> u64 {
    let step = min_slack
        .max(MIN_GROWTH)
        .saturating_mul(1 << rounds.min(32));
    step.min(so_far.max(MIN_GROWTH))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader stalled by its machine, not by the server (a live walk beside CPU-bound tests
    /// in one test binary, say), widens a long walk's allowance by its slack, doubling each
    /// round, never by the whole dump so far, so the bytes on the wire keep to their budget.
    #[test]
    fn a_stalled_reader_widens_a_long_walk_by_its_slack_not_by_the_whole_dump() {
        let walk = 16 * 1024;
        assert_eq!(starved_growth(200_000, walk, 0), walk);
        assert_eq!(starved_growth(200_000, walk, 1), 2 * walk);
        assert_eq!(starved_growth(200_000, walk, 10), 200_000);
        // A probe's small allowance still doubles towards a large PREVIOUS_GTIDS.
        let probe = 1024;
        let grown: Vec<u64> = (0..4).map(|r| starved_growth(1 << 20, probe, r)).collect();
        assert_eq!(grown, [1024, 2048, 4096, 8192]);
        // Early in a dump, never more than before.
        assert_eq!(starved_growth(0, probe, 0), MIN_GROWTH);
        assert_eq!(starved_growth(3000, walk, 5), 3000);
    }
}
