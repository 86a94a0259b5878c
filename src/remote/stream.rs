//! The socket to a server: TCP (`host:port`) or a Unix socket (`--socket`, a local server's
//! `localhost`, as the mysql client connects to it). The relay (`throttle`) owns it while the
//! driver talks, and a walk reads it directly once the relay hands it over; both need the same
//! few operations of either kind, which this enum gives.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use tokio::net::{TcpSocket, TcpStream, UnixStream};

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `host:port`, resolved at connect time.
    Tcp(String),
    /// A Unix socket's path.
    Unix(PathBuf),
}

/// A connected socket to the server, for the relay's runtime.
#[derive(Debug)]
pub(super) enum Upstream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Upstream {
    /// Connects to `endpoint`; `receive_buffer` sets the socket's receive buffer first (for
    /// TCP before connecting, which also stops the kernel from growing it on its own).
    pub(super) async fn connect(
        endpoint: &Endpoint,
        receive_buffer: Option<u32>,
    ) -> io::Result<Upstream> {
        match endpoint {
            Endpoint::Tcp(address) => connect_tcp(address, receive_buffer)
                .await
                .map(Upstream::Tcp),
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("the socket {}: {e}", path.display()))
                })?;
                if let Some(size) = receive_buffer {
                    socket2::SockRef::from(&stream).set_recv_buffer_size(size as usize)?;
                }
                Ok(Upstream::Unix(stream))
            }
        }
    }

    pub(super) async fn readable(&self) -> io::Result<()> {
        match self {
            Upstream::Tcp(s) => s.readable().await,
            Upstream::Unix(s) => s.readable().await,
        }
    }

    pub(super) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Upstream::Tcp(s) => s.try_read(buf),
            Upstream::Unix(s) => s.try_read(buf),
        }
    }

    pub(super) async fn writable(&self) -> io::Result<()> {
        match self {
            Upstream::Tcp(s) => s.writable().await,
            Upstream::Unix(s) => s.writable().await,
        }
    }

    pub(super) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Upstream::Tcp(s) => s.try_write(buf),
            Upstream::Unix(s) => s.try_write(buf),
        }
    }

    /// The same socket, blocking, for a reader on its own thread.
    pub(super) fn into_blocking(self) -> io::Result<Blocking> {
        let blocking = match self {
            Upstream::Tcp(s) => Blocking::Tcp(s.into_std()?),
            Upstream::Unix(s) => Blocking::Unix(s.into_std()?),
        };
        match &blocking {
            Blocking::Tcp(s) => s.set_nonblocking(false)?,
            Blocking::Unix(s) => s.set_nonblocking(false)?,
        }
        Ok(blocking)
    }
}

impl AsFd for Upstream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Upstream::Tcp(s) => s.as_fd(),
            Upstream::Unix(s) => s.as_fd(),
        }
    }
}

/// The socket handed over to a walk's reader: blocking, with timeouts.
#[derive(Debug)]
pub(crate) enum Blocking {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Blocking {
    pub(super) fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Blocking::Tcp(s) => s.set_read_timeout(timeout),
            Blocking::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    pub(super) fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Blocking::Tcp(s) => s.set_write_timeout(timeout),
            Blocking::Unix(s) => s.set_write_timeout(timeout),
        }
    }
}

impl io::Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Blocking::Tcp(s) => s.read(buf),
            Blocking::Unix(s) => s.read(buf),
        }
    }
}

impl io::Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Blocking::Tcp(s) => s.write(buf),
            Blocking::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Blocking {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Blocking::Tcp(s) => s.as_fd(),
            Blocking::Unix(s) => s.as_fd(),
        }
    }
}

async fn connect_tcp(server: &str, receive_buffer: Option<u32>) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{server} did not resolve to an address"),
    );
    let addresses = tokio::net::lookup_host(server)
        .await
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))?;
    for address in addresses {
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        match socket.connect(address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(err) => last = err,
        }
    }
    Err(last)
}
