//! A TCP proxy on 127.0.0.1 for tests of the live-server path: it counts the bytes that really
//! cross the wire in each direction (so compression and early stops can be measured), and can
//! run a hook when a new connection arrives or when one connection has carried a given number of
//! bytes to the client (to purge binlogs, kill or pause the server at a precise moment).
//!
//! It can also make a MariaDB dump look like a MySQL one where the two senders differ
//! ([`Proxy::like_mysql`]), so that MySQL's behaviour is tested without a MySQL server.

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
}

/// Byte counts since the proxy started (or since [`Proxy::reset`]).
#[derive(Default)]
struct Counters {
    to_client: AtomicU64,
    to_server: AtomicU64,
    connections: AtomicU64,
    /// Events rewritten by [`Proxy::like_mysql`].
    rewritten: AtomicU64,
}

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
                let (cut, rewrite) = {
                    let hooks = task_hooks.lock().unwrap();
                    let cut = hooks
                        .cut
                        .filter(|(from, _)| index >= *from)
                        .map(|(_, bytes)| bytes);
                    let rewrite = (hooks.like_mysql || hooks.refuse_gtid_mode).then(|| Rewrite {
                        rotate_done: !hooks.like_mysql,
                        refuse: hooks.refuse_gtid_mode,
                        ..Rewrite::default()
                    });
                    (cut, rewrite)
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
                        forward(client, server, counters, hooks, cut, rewrite).await;
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
}

impl Rewrite {
    fn done(&self) -> bool {
        self.rotate_done && !self.refuse
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
            if !self.rotate_done && is_artificial_rotate(&packet[4..]) {
                // Payload: 0x00, then the event; its size and the packet's both lose 4 bytes.
                packet.truncate(packet.len() - 4);
                let len = (len - 4) as u32;
                packet[..3].copy_from_slice(&len.to_le_bytes()[..3]);
                let size = u32::from_le_bytes(packet[4 + 10..4 + 14].try_into().unwrap()) - 4;
                packet[4 + 10..4 + 14].copy_from_slice(&size.to_le_bytes());
                self.rotate_done = true;
            } else if self.refuse && starts_transaction(&packet[4..]) {
                packet = gtid_mode_error(packet[3]);
                self.refused = true;
            }
            out.extend_from_slice(&packet);
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

async fn forward(
    client: TcpStream,
    server: TcpStream,
    counters: Arc<Counters>,
    hooks: Arc<Mutex<Hooks>>,
    cut: Option<u64>,
    mut rewrite: Option<Rewrite>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream_counters = counters.clone();
    let upstream = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 || server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            upstream_counters
                .to_server
                .fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = server_write.shutdown().await;
    });
    let mut buf = vec![0u8; 4 * 1024];
    let mut carried = 0u64;
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let rewritten;
        let bytes = match rewrite.as_mut() {
            Some(rewrite) => {
                let before = (rewrite.rotate_done, rewrite.refused);
                rewritten = rewrite.feed(&buf[..n]);
                let changed = u64::from(rewrite.rotate_done && !before.0)
                    + u64::from(rewrite.refused && !before.1);
                counters.rewritten.fetch_add(changed, Ordering::SeqCst);
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
