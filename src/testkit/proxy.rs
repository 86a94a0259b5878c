//! A TCP proxy on 127.0.0.1 for tests of the live-server path: it counts the bytes that really
//! cross the wire in each direction (so compression and early stops can be measured), and can
//! run a hook when a new connection arrives or when one connection has carried a given number of
//! bytes to the client (to purge binlogs, kill or pause the server at a precise moment).

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
}

/// Byte counts since the proxy started (or since [`Proxy::reset`]).
#[derive(Default)]
struct Counters {
    to_client: AtomicU64,
    to_server: AtomicU64,
    connections: AtomicU64,
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
                let cut = task_hooks
                    .lock()
                    .unwrap()
                    .cut
                    .filter(|(from, _)| index >= *from)
                    .map(|(_, bytes)| bytes);
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
                        forward(client, server, counters, hooks, cut).await;
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
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    client: TcpStream,
    server: TcpStream,
    counters: Arc<Counters>,
    hooks: Arc<Mutex<Hooks>>,
    cut: Option<u64>,
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
        let n = match cut {
            Some(limit) if carried + n as u64 >= limit => (limit.saturating_sub(carried)) as usize,
            _ => n,
        };
        if client_write.write_all(&buf[..n]).await.is_err() {
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
