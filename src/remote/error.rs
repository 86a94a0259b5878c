//! What can go wrong with a live server, split the way an operator acts on it ([`Recovery`], the
//! split Materialize draws): *definite* errors (wrong password, missing privilege, binlog off,
//! TLS) stop at once and say what to do; *transient* ones (a dropped connection, a server
//! restarting, another replica taking our server_id) are retried with backoff until the
//! deadline; a file or position the server no longer has (error 1236) is worth one fresh
//! listing. The kind is decided once, where the driver's error is classified; every message
//! names the server; none contains a password.

use crate::input::escape_controls;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::binlog::BinlogError;

use super::settings::ConnSettings;

/// Why talking to a live server failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The server refused the user name or password (error 1045). MariaDB says the same to a
    /// plain connection where the server or the account requires TLS.
    #[error(
        "{server}: access denied for user {user}: check the user name and password (wherever \
         it came from: -p, the option files' [client] password, MYSQL_PWD, the URL, or the \
         source file's from.password){hint}; the server said: {message}"
    )]
    Auth {
        /// The server, as `host:port`.
        server: String,
        /// The user name the connection gave.
        user: String,
        /// The server's error message, control characters escaped.
        message: String,
        /// What else to check, given how the connection was made.
        hint: String,
    },

    /// The server accepts only TLS connections and this one was made without TLS (error 3159,
    /// `ER_SECURE_TRANSPORT_REQUIRED`).
    #[error(
        "{server}: the server accepts only TLS connections (require_secure_transport=ON): give \
         --ssl-ca (and --ssl-cert/--ssl-key if it wants a client certificate), or the source \
         file's from.security; the server said: {message}"
    )]
    TlsRequired {
        /// The server, as `host:port`.
        server: String,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// The account lacks a privilege what was being done needs (errors 1044, 1142, 1227 and
    /// 1370).
    #[error(
        "{server}: user {user} may not {what}: {message}; grant it REPLICATION SLAVE and \
         REPLICATION CLIENT (MariaDB 10.5 and later: REPLICATION SLAVE and BINLOG MONITOR)"
    )]
    Privilege {
        /// The server, as `host:port`.
        server: String,
        /// The user name the connection gave.
        user: String,
        /// What was being done, in words or as the statement run.
        what: String,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// Binary logging is off: the server says so (error 1381) or lists no binlog file.
    #[error("{server}: binary logging is off (log_bin=OFF), so there is no binlog to start from")]
    BinlogOff {
        /// The server, as `host:port`.
        server: String,
    },

    /// The server cannot send the file or position asked for (error 1236), most likely because
    /// it was purged: worth one fresh listing.
    #[error(
        "{server}: the server cannot send {what}: {message} (error 1236: the file or position \
         is not available; it may have been purged)"
    )]
    BinlogUnavailable {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words or as the statement run.
        what: String,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// The TLS handshake or the check of a certificate failed.
    #[error(
        "{server}: TLS failed: {message}; check --ssl-ca/--ssl-cert/--ssl-key or the source \
         file's from.security"
    )]
    Tls {
        /// The server, as `host:port`.
        server: String,
        /// The TLS library's or the driver's error text, control characters escaped.
        message: String,
    },

    /// `--server-id` names a replica the server has registered: dumping with it would disconnect
    /// that replica (and it us), over and over, until the deadline.
    #[error(
        "{server}: server_id {id} (--server-id) belongs to a replica registered with this server \
         ({host}); a dump with it would disconnect that replica: choose an unused --server-id, \
         or leave it out to draw one from a reserved range"
    )]
    ServerIdInUse {
        /// The server, as `host:port`.
        server: String,
        /// The server_id given with `--server-id`.
        id: u32,
        /// The registered replica, as `host NAME`, or `no report-host` when it gave none.
        host: String,
    },

    /// A dump asks for its position in 32 bits (COM_BINLOG_DUMP); a file that one huge
    /// transaction pushed past 4 GiB cannot be read from there over the wire.
    #[error(
        "{server}: {file} at {pos}: a replica asks for a binlog position in 32 bits \
         (COM_BINLOG_DUMP), and this one is past 4 GiB (a transaction made the file that \
         large); resolve from a copy of the binlog files with --binlog-dir"
    )]
    PositionBeyond4Gib {
        /// The server, as `host:port`.
        server: String,
        /// The binlog file's name.
        file: String,
        /// Byte offset in the file that the dump would start at, past `u32::MAX`.
        pos: u64,
    },

    /// The host name does not resolve. Definite before the server has answered in the run (a
    /// wrong address); after, a resolver's hiccup, and retried.
    #[error("{server}: {what}: the host name does not resolve ({message}); check the address")]
    Unresolved {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words.
        what: String,
        /// The operating system's error text.
        message: String,
    },

    /// Nothing listens at the address. Definite before the server has answered in the run (a
    /// wrong port, a server that is down); after, a restart, and retried.
    #[error(
        "{server}: {what}: nothing listens there ({message}); check the host and port, and that \
         the server is running"
    )]
    Refused {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words.
        what: String,
        /// The operating system's error text.
        message: String,
    },

    /// The account authenticates with a plugin the client does not speak (PAM's `dialog`, say).
    #[error(
        "{server}: user {user} authenticates with the {plugin} plugin, which startpoint cannot \
         use: give the account a password with mysql_native_password, caching_sha2_password or \
         ed25519, or use another account"
    )]
    AuthPlugin {
        /// The server, as `host:port`.
        server: String,
        /// The user name the connection gave.
        user: String,
        /// The plugin's name as the server gave it, control characters escaped.
        plugin: String,
    },

    /// A file the server lists is not on its disk (error 29, "File … not found"): deleted by
    /// hand rather than purged. A fresh listing shows it with size 0, and it becomes a gap.
    #[error("{server}: {what}: a binlog file the server lists is missing from its disk: {message}")]
    FileMissing {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words or as the statement run.
        what: String,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// MySQL refuses to send the transactions of a binlog written under the other GTID mode
    /// (`Binlog_sender::check_event_type`: anonymous ones under `gtid_mode=ON`, GTID ones under
    /// `OFF`; sent as error 1236 with ER_CANT_REPLICATE_ANONYMOUS_WITH_GTID_MODE_ON /
    /// ER_CANT_REPLICATE_GTID_WITH_GTID_MODE_OFF). The file is there; only another source can
    /// read it.
    #[error(
        "{server}: {what}: the server (gtid_mode={mode}) refuses to send the {refused} \
         transactions of binlog written before its GTID mode changed, which the answer needs \
         (server error 1236: {message}); resolve from a copy of the binlog files with \
         --binlog-dir, or choose a start time after the change"
    )]
    GtidModeRefuses {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words.
        what: String,
        /// The server's `gtid_mode`: `ON` or `OFF`.
        mode: &'static str,
        /// The transactions it will not send: `anonymous (GTID-less)` or `GTID`.
        refused: &'static str,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// The account may not open another connection now (max_user_connections: 1203 globally,
    /// 1226 for the account): the probes fall back to one at a time, and it is retried.
    #[error("{server}: {what}: server error {code}: {message}")]
    ConnectionLimit {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words or as the statement run.
        what: String,
        /// The MySQL error code the server sent: 1203 or 1226.
        code: u16,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// Another replica registered with the server_id this connection drew (the server says so
    /// in error 1236's text or with its own code): another is drawn.
    #[error("{server}: {what}: server error {code}: {message}")]
    ServerIdTaken {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words.
        what: String,
        /// The MySQL error code the server sent (1236, or its own code for this).
        code: u16,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// Any other error the server sent. The few that say to wait (too many connections, a
    /// server shutting down or starting, a lock wait) are retried; the rest are definite.
    #[error("{server}: {what}: server error {code}: {message}")]
    Server {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words or as the statement run.
        what: String,
        /// The MySQL error code the server sent.
        code: u16,
        /// The server's error message, control characters escaped.
        message: String,
    },

    /// The events the server sent could not be read as binlog.
    #[error("{server}: {what}: {source}")]
    Binlog {
        /// The server, as `host:port`.
        server: String,
        /// What was being read, in words (`reading the start of FILE`, say).
        what: String,
        /// What the binlog reader met.
        source: BinlogError,
    },

    /// The connection could not be made or was lost (reset, closed, no greeting from the
    /// server): retried.
    #[error("{server}: {what}: {message}")]
    Connection {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words or as the statement run.
        what: String,
        /// What went wrong, as the driver or the operating system said it.
        message: String,
    },

    /// The `--rpc-timeout` deadline passed before the work was done.
    #[error(
        "{server}: gave up {what} {} (the --rpc-timeout deadline); the last error was: {last}",
        after(*elapsed)
    )]
    Deadline {
        /// The server, as `host:port`.
        server: String,
        /// What was being done when the deadline passed, in words or as the statement run.
        what: String,
        /// How long was spent before giving up; zero when not known.
        elapsed: Duration,
        /// The last error met, as text (with the one of the attempt before it, if any).
        last: String,
    },

    /// The start time cannot be read in the server's zone.
    #[error("{server}: {error}")]
    StartTime {
        /// The server, as `host:port`.
        server: String,
        /// Why the start time cannot be read there (a local time the zone skips, say).
        error: crate::start_time::TimeError,
    },
    /// The server cannot turn the start time into a timestamp in its zone: `UNIX_TIMESTAMP`
    /// gives no instant after the epoch for it.
    #[error(
        "{server}: start-time {input:?} is outside what the server can represent as a timestamp \
         in {zone}"
    )]
    TimeOutOfRange {
        /// The server, as `host:port`.
        server: String,
        /// The start time exactly as the user wrote it.
        input: String,
        /// The server's time zone, in words (`the server's time zone (UTC)`, say).
        zone: String,
    },
    /// The replication stream sent an event too short to have a header.
    #[error("{server}: reading the binlog stream: an event of {len} bytes")]
    ShortEvent {
        /// The server, as `host:port`.
        server: String,
        /// The event's length in bytes, under the 19 of a header.
        len: usize,
    },
    /// `SHOW BINARY LOGS` named a file with control characters (escaped here).
    #[error("{server}: SHOW BINARY LOGS lists a file whose name holds control characters ({name})")]
    ControlCharacters {
        /// The server, as `host:port`.
        server: String,
        /// The file's name, control characters escaped.
        name: String,
    },
    /// The search failed outside the network (a corrupt or missing binlog on the server).
    #[error("{server}: {error}")]
    Search {
        /// The server, as `host:port`.
        server: String,
        /// What the search returned.
        error: Box<crate::resolve::ResolveError>,
    },
    /// The work for this server stopped with a panic (a driver's, say): this source's failure,
    /// not the run's.
    #[error("{server}: internal error ({panic}); please report it")]
    Panicked {
        /// The server, as `host:port`.
        server: String,
        /// The panic's message.
        panic: String,
    },
    /// The thread reading the stream stopped (`why`: cancelled, or a panic's text).
    #[error(
        "{server}: internal error: the replication stream could not be read ({why}); please report it"
    )]
    Stopped {
        /// The server, as `host:port`.
        server: String,
        /// Why it stopped: the join error's text, or that the connection's error was not kept.
        why: String,
    },
    /// The driver failed in a way none of the variants above names (its text, escaped).
    #[error("{server}: {what}: {message}")]
    Driver {
        /// The server, as `host:port`.
        server: String,
        /// What was being done, in words or as the statement run.
        what: String,
        /// The driver's error text, control characters escaped.
        message: String,
    },
}

/// Where a network failure met inside the search waits for the layer that made the search.
///
/// The binlog reader and the search sit below the network: they carry only the fact that the
/// transport stopped and the failure's text ([`crate::binlog::BinlogError::Transport`], also
/// inside [`crate::resolve::ResolveError::Binlog`]), so they need not know this module's types.
/// The failure itself is kept here, typed, by the reader or sequence that met it
/// ([`Failures::transport`]), and taken back when the search returns: nothing is boxed as
/// `dyn Error` and nothing is downcast.
#[derive(Clone, Default)]
pub(super) struct Failures(Arc<Mutex<Option<RemoteError>>>);

impl Failures {
    /// Keeps `error` as the failure behind the transport error returned next. The latest one
    /// is kept: it is the one the search returns with.
    pub(super) fn keep(&self, error: RemoteError) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    /// Keeps `error` and gives the marker the layers below the network carry in its place,
    /// naming `origin` (a server, or a file of it).
    pub(super) fn transport(
        &self,
        origin: String,
        error: RemoteError,
    ) -> crate::binlog::BinlogError {
        let reason = error.to_string();
        self.keep(error);
        crate::binlog::BinlogError::Transport { origin, reason }
    }

    /// The failure kept last, if any.
    pub(super) fn take(&self) -> Option<RemoteError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// "after 3s 2ms", or "at the deadline" when the time taken is not known.
fn after(elapsed: Duration) -> String {
    if elapsed.is_zero() {
        return "at the deadline".to_owned();
    }
    let millis = Duration::from_millis(elapsed.as_millis() as u64);
    format!("after {}", humantime::format_duration(millis))
}

impl RemoteError {
    /// A deadline error that does not know how long was spent learns it.
    pub fn with_elapsed(self, spent: Duration) -> RemoteError {
        match self {
            RemoteError::Deadline {
                server,
                what,
                elapsed,
                last,
            } if elapsed.is_zero() => RemoteError::Deadline {
                server,
                what,
                elapsed: spent,
                last,
            },
            other => other,
        }
    }

    /// What to do about it.
    pub fn recovery(&self) -> Recovery {
        match self {
            RemoteError::Connection { .. }
            | RemoteError::ServerIdTaken { .. }
            | RemoteError::ConnectionLimit { .. }
            | RemoteError::Refused { .. }
            | RemoteError::Unresolved { .. } => Recovery::Transient,
            // Too many connections, server shutting down or starting, lock wait.
            RemoteError::Server {
                code: 1040 | 1053 | 1077 | 1205 | 1927,
                ..
            } => Recovery::Transient,
            RemoteError::BinlogUnavailable { .. } | RemoteError::FileMissing { .. } => {
                Recovery::Relist
            }
            _ => Recovery::Definite,
        }
    }
}

impl RemoteError {
    /// Shorthand for `recovery() == Recovery::Transient`.
    pub fn is_transient(&self) -> bool {
        self.recovery() == Recovery::Transient
    }
}

/// What an error calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Stop and tell the user: trying again cannot help.
    Definite,
    /// Try again after a backoff, until the deadline.
    Transient,
    /// The file or position is not on the server (any more): once more from a fresh listing.
    Relist,
}

/// Sorts a driver error into definite and transient, naming `server` and what was being done.
pub(crate) fn classify(
    err: mysql_async::Error,
    settings: &ConnSettings,
    what: &str,
) -> RemoteError {
    // The server's words reach the user's terminal and JSON: control characters escaped.
    let err = match err {
        mysql_async::Error::Server(mut e) => {
            e.message = escape_controls(&e.message).into_owned();
            mysql_async::Error::Server(e)
        }
        other => other,
    };
    let server = settings.address();
    let user = settings.user.as_str();
    let what = what.to_owned();
    if let mysql_async::Error::Server(e) = &err
        && e.code == 1236
        && let Some((mode, refused)) = gtid_mode_refusal(&e.message)
    {
        return RemoteError::GtidModeRefuses {
            server,
            what,
            mode,
            refused,
            message: e.message.clone(),
        };
    }
    match err {
        mysql_async::Error::Server(e) => server_error(e, settings, what),
        mysql_async::Error::Io(mysql_async::IoError::Tls(e)) => RemoteError::Tls {
            server,
            message: escape_controls(&e.to_string()).into_owned(),
        },
        mysql_async::Error::Io(mysql_async::IoError::Io(e))
            if e.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            unreachable(settings, &what, e)
        }
        // rustls reports certificate problems as I/O errors, mysql_async some as driver errors.
        mysql_async::Error::Io(mysql_async::IoError::Io(e)) => {
            tls_or_connection(escape_controls(&e.to_string()).into_owned(), server, what)
        }
        mysql_async::Error::Driver(mysql_async::DriverError::UnknownAuthPlugin { name }) => {
            RemoteError::AuthPlugin {
                server,
                user: user.to_owned(),
                plugin: escape_controls(&name).into_owned(),
            }
        }
        mysql_async::Error::Driver(e) => {
            tls_or_connection(escape_controls(&e.to_string()).into_owned(), server, what)
        }
        other => RemoteError::Driver {
            server,
            what: what.to_owned(),
            message: escape_controls(&other.to_string()).into_owned(),
        },
    }
}

/// An error the server sent, by its code: what it means for the user and what to do.
fn server_error(e: mysql_async::ServerError, settings: &ConnSettings, what: String) -> RemoteError {
    let server = settings.address();
    let user = settings.user.as_str();
    match e.code {
        // MariaDB refuses a plain connection to a server or account that requires TLS with
        // the same error as a wrong password (MDEV-30178).
        1045 => RemoteError::Auth {
            server,
            user: user.to_owned(),
            message: e.message,
            hint: if settings.tls.is_none() {
                ", and whether the server or the account requires TLS \
                 (require_secure_transport, REQUIRE SSL): the connection was made without it \
                 (give --ssl-ca or the source file's from.security)"
                    .to_owned()
            } else {
                String::new()
            },
        },
        // MySQL's ER_SECURE_TRANSPORT_REQUIRED.
        3159 => RemoteError::TlsRequired {
            server,
            message: e.message,
        },
        1044 | 1142 | 1227 | 1370 => RemoteError::Privilege {
            server,
            user: user.to_owned(),
            what,
            message: e.message,
        },
        1381 => RemoteError::BinlogOff { server },
        // EE_FILENOTFOUND.
        29 => RemoteError::FileMissing {
            server,
            what,
            message: e.message,
        },
        // 1226 names the resource; only the connection limit passes with fewer connections.
        code @ (1203 | 1226) if code == 1203 || e.message.contains("max_user_connections") => {
            RemoteError::ConnectionLimit {
                server,
                what,
                code,
                message: e.message,
            }
        }
        code if names_taken_server_id(&e.message) => RemoteError::ServerIdTaken {
            server,
            what,
            code,
            message: e.message,
        },
        1236 => RemoteError::BinlogUnavailable {
            server,
            what,
            message: e.message,
        },
        code => RemoteError::Server {
            server,
            what,
            code,
            message: e.message,
        },
    }
}

/// "A slave with the same server_uuid/server_id as this slave has connected to the master"
/// (MySQL, sent with error 1236) or MariaDB's wording of it: only the text tells it from a purged
/// file.
fn names_taken_server_id(message: &str) -> bool {
    message.contains("same server_uuid/server_id") || message.contains("same server_id")
}

/// Why the server's address could not be reached at all.
pub(super) fn unreachable(
    settings: &ConnSettings,
    what: &str,
    error: std::io::Error,
) -> RemoteError {
    let (server, what, message) = (settings.address(), what.to_owned(), error.to_string());
    match error.kind() {
        // A Unix socket that is not there: nothing listens, no name failed to resolve.
        std::io::ErrorKind::NotFound if settings.socket.is_some() => RemoteError::Refused {
            server,
            what,
            message: format!(
                "{message}; a local server is reached through its socket: give --socket PATH \
                 (`SELECT @@socket` on the server says it), or --host 127.0.0.1 -P PORT for TCP"
            ),
        },
        std::io::ErrorKind::NotFound => RemoteError::Unresolved {
            server,
            what,
            message,
        },
        std::io::ErrorKind::ConnectionRefused => RemoteError::Refused {
            server,
            what,
            message,
        },
        _ => RemoteError::Connection {
            server,
            what,
            message,
        },
    }
}

/// MySQL's texts for a dump that meets a transaction of the other GTID mode
/// (`share/messages_to_clients.txt`): the server's mode, and what it will not send.
fn gtid_mode_refusal(message: &str) -> Option<(&'static str, &'static str)> {
    if message.contains("Cannot replicate anonymous transaction when @@GLOBAL.GTID_MODE = ON") {
        Some(("ON", "anonymous (GTID-less)"))
    } else if message.contains("Cannot replicate GTID-transaction when @@GLOBAL.GTID_MODE = OFF") {
        Some(("OFF", "GTID"))
    } else {
        None
    }
}

fn tls_or_connection(message: String, server: String, what: String) -> RemoteError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") {
        RemoteError::Tls { server, message }
    } else {
        RemoteError::Connection {
            server,
            what,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ConnSettings {
        ConnSettings::from_url("mysql://repl@127.0.0.1:3307", None).unwrap()
    }

    fn server_error(code: u16, message: &str) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: message.to_owned(),
            state: "HY000".to_owned(),
        })
    }

    /// Each error says once, by its `recovery()`, whether to stop, retry or list the files
    /// again; the retry loop only reads it, so every decision is made in one place.
    #[test]
    fn each_error_says_once_whether_to_stop_retry_or_list_again() {
        let recovery = |code, message| classify(server_error(code, message), &settings(), "x");
        // MySQL's and MariaDB's words for another replica with our server_id (sent as 1236).
        for message in [
            "A slave with the same server_uuid/server_id as this slave has connected to the master",
            "A replica with the same server_uuid/server_id as this replica has connected",
        ] {
            let error = recovery(1236, message);
            assert!(
                matches!(error, RemoteError::ServerIdTaken { .. }),
                "{error}"
            );
            assert_eq!(error.recovery(), Recovery::Transient);
        }
        let purged = recovery(
            1236,
            "Could not find first log file name in binary log index file",
        );
        assert_eq!(purged.recovery(), Recovery::Relist);
        assert_eq!(
            recovery(1040, "Too many connections").recovery(),
            Recovery::Transient
        );
        assert_eq!(
            recovery(1045, "Access denied").recovery(),
            Recovery::Definite
        );
        assert_eq!(
            recovery(1227, "Access denied; you need").recovery(),
            Recovery::Definite
        );
        assert_eq!(recovery(1064, "syntax").recovery(), Recovery::Definite);
    }

    /// A host name that does not resolve, an address where nothing listens and an auth plugin
    /// the driver does not speak are each named as such, never as "connection closed" after
    /// retries until the deadline (10 minutes by default).
    #[test]
    fn an_unreachable_address_says_why() {
        let io = |kind, text: &str| std::io::Error::new(kind, text.to_owned());
        let unresolved = unreachable(
            &settings(),
            "connecting",
            io(
                std::io::ErrorKind::NotFound,
                "failed to lookup address information",
            ),
        );
        assert!(matches!(unresolved, RemoteError::Unresolved { .. }));
        // Retried only after the server has answered in the run (`resolve_remote`).
        assert_eq!(unresolved.recovery(), Recovery::Transient);
        assert!(unresolved.to_string().contains("does not resolve"));
        let refused = unreachable(
            &settings(),
            "connecting",
            io(std::io::ErrorKind::ConnectionRefused, "Connection refused"),
        );
        assert!(matches!(refused, RemoteError::Refused { .. }));
        assert!(refused.to_string().contains("127.0.0.1:3307"));
        let plugin = classify(
            mysql_async::Error::Driver(mysql_async::DriverError::UnknownAuthPlugin {
                name: "dialog".to_owned(),
            }),
            &settings(),
            "connecting",
        );
        assert!(matches!(plugin, RemoteError::AuthPlugin { .. }), "{plugin}");
        assert_eq!(plugin.recovery(), Recovery::Definite);
    }

    /// MySQL with gtid_mode=ON refuses the anonymous transactions of binlogs kept from before a
    /// GTID migration (and OFF refuses GTID ones) with error 1236; that refusal is named as
    /// such, with how to proceed, never as "the file or position is not available; it may have
    /// been purged".
    #[test]
    fn a_gtid_mode_refusal_says_what_it_is_and_how_to_proceed() {
        let classify = |message: &str| classify(server_error(1236, message), &settings(), "x");
        let on = classify(
            "Cannot replicate anonymous transaction when @@GLOBAL.GTID_MODE = ON, at file \
             ./mysql-bin.000120, position 367777777.; the first event 'mysql-bin.000120' at \
             367777777, the last event read from './mysql-bin.000120' at 367777778, the last \
             byte read from './mysql-bin.000120' at 367777778.",
        );
        assert!(
            matches!(on, RemoteError::GtidModeRefuses { mode: "ON", .. }),
            "{on}"
        );
        assert_eq!(on.recovery(), Recovery::Definite);
        let text = on.to_string();
        assert!(!text.contains("purged"), "{text}");
        assert!(
            text.contains("--binlog-dir") && text.contains("gtid_mode=ON"),
            "{text}"
        );
        let off = classify(
            "Cannot replicate GTID-transaction when @@GLOBAL.GTID_MODE = OFF, at file \
             ./binlog.000003, position 157.",
        );
        assert!(
            matches!(off, RemoteError::GtidModeRefuses { mode: "OFF", .. }),
            "{off}"
        );
    }
}
