//! A private MariaDB server for tests, benchmarks and the fixture generator.
//!
//! [`MariaDb::start`] creates a fresh data directory with `mariadb-install-db`, starts Debian's
//! `mariadbd` on a free port of 127.0.0.1 with its own socket, pid file and error log, and waits
//! until the server logs that it is ready. Dropping the value stops that server by its own PID
//! (SIGTERM, then SIGKILL after a grace period) and removes the directory.
//!
//! Guarantees:
//! - it never reads the machine's option files (`--no-defaults` everywhere), never listens on
//!   3306 or on anything but 127.0.0.1, and never signals a process it did not spawn, so it works
//!   beside any other MariaDB/MySQL on the machine;
//! - several servers may run at once (each has its own directory and port; a port taken between
//!   choosing and binding is detected in the error log and another one is tried);
//! - root is reachable over TCP with an empty password.
//!
//! Costs: about 0.7 s for `mariadb-install-db` plus under a second to start; about 100 MB RSS per
//! server with the small InnoDB settings used here.

use std::fmt;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// The binlog base name every harness server uses: files are `mysql-bin.000001`, ….
pub const BINLOG_BASENAME: &str = "mysql-bin";

/// How long a server may take to say it is ready, and to stop after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(30);
/// Attempts at finding a port nobody else binds first.
const PORT_ATTEMPTS: usize = 8;

/// What a harness server is started with. The defaults are the ones every test wants:
/// `log_bin`, `binlog_format=ROW`, `binlog_checksum=CRC32`, `server_id=1`,
/// `gtid_strict_mode=ON`, `max_binlog_size=1M`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `max_binlog_size` in bytes (the server's minimum is 4096).
    pub max_binlog_size: u64,
    /// `binlog_checksum`: `CRC32` or `NONE`.
    pub binlog_checksum: String,
    /// `server_id`.
    pub server_id: u32,
    /// More `mariadbd` options, e.g. `--require-secure-transport=ON`.
    pub extra_args: Vec<String>,
    /// Environment of the server process, e.g. `TZ` for its system time zone.
    pub env: Vec<(String, String)>,
    /// A directory of binlog files for the server to start with (`mysql-bin.000001`, … and
    /// `mysql-bin.index`, copied, as the server may mark the newest one): the server serves them
    /// as its own history and writes its own after them. MariaDB serves MySQL-format files
    /// too, which is how MySQL 8.0 files (from the project's writer) reach the live path.
    pub binlogs: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_binlog_size: 1 << 20,
            binlog_checksum: "CRC32".to_owned(),
            server_id: 1,
            extra_args: Vec::new(),
            env: Vec::new(),
            binlogs: None,
        }
    }
}

/// Why a harness server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "`{program}` was not found in PATH, /usr/sbin or /usr/bin; install the Debian packages \
         mariadb-server and mariadb-client (scripts/test.sh does that)"
    )]
    MissingProgram { program: &'static str },
    #[error("could not {action}: {source}")]
    Io { action: String, source: io::Error },
    #[error("`{command}` failed ({status}); its output:\n{output}")]
    CommandFailed {
        command: String,
        status: ExitStatus,
        output: String,
    },
    #[error("mariadbd (pid {pid}, port {port}) {what}; last lines of {}:\n{log_tail}", log.display())]
    ServerFailed {
        pid: u32,
        port: u16,
        what: String,
        log: PathBuf,
        log_tail: String,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> HarnessError {
    let action = action.into();
    move |source| HarnessError::Io { action, source }
}

/// A running private `mariadbd`, stopped and wiped on drop.
pub struct MariaDb {
    child: Child,
    port: u16,
    config: ServerConfig,
    /// Removes the directory when dropped; `None` when `STARTPOINT_KEEP_MARIADB` is set.
    _dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
}

impl fmt::Debug for MariaDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDb")
            .field("pid", &self.child.id())
            .field("port", &self.port)
            .field("dir", &self.dir_path)
            .finish()
    }
}

impl MariaDb {
    /// Starts a server with the default [`ServerConfig`].
    pub fn start() -> Result<MariaDb, HarnessError> {
        MariaDb::start_with(&ServerConfig::default())
    }

    /// Starts a server with `config`; returns once it accepts connections.
    pub fn start_with(config: &ServerConfig) -> Result<MariaDb, HarnessError> {
        let mariadbd = find_program("mariadbd")?;
        let install_db = find_program("mariadb-install-db")?;

        let dir = tempfile::Builder::new()
            .prefix("startpoint-mariadb-")
            .tempdir()
            .map_err(io_error("create a temporary directory for mariadbd"))?;
        let dir_path = dir.path().to_path_buf();
        install_datadir(&install_db, &dir_path)?;
        if let Some(binlogs) = &config.binlogs {
            seed_binlogs(binlogs, &dir_path.join("data"))?;
        }

        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            let mut child = spawn_server(&mariadbd, config, &dir_path, port)?;
            match wait_ready(&mut child, &dir_path, port) {
                Ok(()) => {
                    let keep = std::env::var_os("STARTPOINT_KEEP_MARIADB").is_some();
                    return Ok(MariaDb {
                        child,
                        port,
                        config: config.clone(),
                        _dir: if keep {
                            let _ = dir.keep();
                            None
                        } else {
                            Some(dir)
                        },
                        dir_path,
                    });
                }
                Err(err) => {
                    stop_child(&mut child);
                    let port_taken = matches!(&err, HarnessError::ServerFailed { log_tail, .. }
                        if log_tail.contains("Bind on TCP/IP port"));
                    if !port_taken || attempt == PORT_ATTEMPTS {
                        return Err(err);
                    }
                    // Someone bound the port between our probe and mariadbd: try another one,
                    // with a fresh error log so this attempt's failure is not read again.
                    let _ = fs::remove_file(error_log_path(&dir_path));
                }
            }
        }
    }

    /// Kills the server with SIGKILL, as a crash would; [`MariaDb::restart`] brings it back.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server if it runs (SIGTERM), then starts it again on the same data directory
    /// and port, as after a crash or a restart; returns once it is ready.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        stop_child(&mut self.child);
        let mariadbd = find_program("mariadbd")?;
        let _ = fs::remove_file(error_log_path(&self.dir_path));
        self.child = spawn_server(&mariadbd, &self.config, &self.dir_path, self.port)?;
        wait_ready(&mut self.child, &self.dir_path, self.port)
    }

    /// Suspends (SIGSTOP) or resumes (SIGCONT) the server process, as a hung server.
    pub fn pause(&self, paused: bool) {
        if let Some(pid) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) {
            let signal = if paused { Signal::STOP } else { Signal::CONT };
            let _ = rustix::process::kill_process(pid, signal);
        }
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `mysql://root@127.0.0.1:<port>` (empty password).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// The data directory; the binlog files and `mysql-bin.index` are in it.
    pub fn datadir(&self) -> PathBuf {
        self.dir_path.join("data")
    }

    /// Path of a binlog file by name, e.g. `mysql-bin.000002`.
    pub fn binlog_path(&self, name: &str) -> PathBuf {
        self.datadir().join(name)
    }

    /// The error log, for diagnostics.
    pub fn error_log(&self) -> String {
        fs::read_to_string(error_log_path(&self.dir_path)).unwrap_or_default()
    }

    /// Connection options for root over TCP (never the socket, so tests use the network path).
    pub fn opts(&self) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some("root"))
            .prefer_socket(false)
            .into()
    }

    /// A new connection as root.
    pub async fn connect(&self) -> Result<mysql_async::Conn, mysql_async::Error> {
        mysql_async::Conn::new(self.opts()).await
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        stop_child(&mut self.child);
        // `_dir` removes the directory after this, once the server is gone.
    }
}

/// `mariadb-install-db` into `<dir>/data`: root with an empty password, no test database.
fn install_datadir(install_db: &Path, dir: &Path) -> Result<(), HarnessError> {
    let log_path = dir.join("install.log");
    let log = fs::File::create(&log_path).map_err(io_error("create install.log"))?;
    let log_err = log.try_clone().map_err(io_error("duplicate install.log"))?;
    let mut command = Command::new(install_db);
    command
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--tmpdir={}", dir.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(SMALL_SERVER_ARGS)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    if rustix::process::geteuid().is_root() {
        command.arg("--user=root");
    }
    let status = command
        .status()
        .map_err(io_error(format!("run {}", install_db.display())))?;
    if !status.success() {
        return Err(HarnessError::CommandFailed {
            command: install_db.display().to_string(),
            status,
            output: fs::read_to_string(&log_path).unwrap_or_default(),
        });
    }
    Ok(())
}

/// Puts the binlog files of `from` into the data directory `data`.
fn seed_binlogs(from: &Path, data: &Path) -> Result<(), HarnessError> {
    let entries = fs::read_dir(from).map_err(io_error(format!("list {}", from.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("list {}", from.display())))?;
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(BINLOG_BASENAME) {
            continue;
        }
        fs::copy(entry.path(), data.join(&name)).map_err(io_error(format!(
            "copy {} into the data directory",
            name.display()
        )))?;
    }
    Ok(())
}

/// Settings that keep a test server small and quick; durability is not needed here.
const SMALL_SERVER_ARGS: [&str; 5] = [
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-flush-log-at-trx-commit=2",
    "--performance-schema=OFF",
    "--max-connections=64",
];

fn spawn_server(
    mariadbd: &Path,
    config: &ServerConfig,
    dir: &Path,
    port: u16,
) -> Result<Child, HarnessError> {
    let mut command = Command::new(mariadbd);
    command
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--tmpdir={}", dir.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", dir.join("mariadbd.sock").display()))
        .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
        .arg(format!("--log-error={}", error_log_path(dir).display()))
        .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
        .arg(format!("--server-id={}", config.server_id))
        .arg(format!("--log-bin={BINLOG_BASENAME}"))
        .arg("--binlog-format=ROW")
        .arg(format!("--max-binlog-size={}", config.max_binlog_size))
        .arg(format!("--binlog-checksum={}", config.binlog_checksum))
        .args(["--gtid-strict-mode=ON", "--sync-binlog=0"])
        .args(SMALL_SERVER_ARGS)
        .args(&config.extra_args)
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if rustix::process::geteuid().is_root() {
        command.arg("--user=root");
    }
    command
        .spawn()
        .map_err(io_error(format!("start {}", mariadbd.display())))
}

fn error_log_path(dir: &Path) -> PathBuf {
    dir.join("mariadbd.err")
}

/// Waits for "ready for connections" in the server's own error log. Reading the log rather than
/// probing the port means a foreign process that grabbed the port can never be mistaken for ours.
fn wait_ready(child: &mut Child, dir: &Path, port: u16) -> Result<(), HarnessError> {
    let log = error_log_path(dir);
    let failed = |child: &Child, what: String| HarnessError::ServerFailed {
        pid: child.id(),
        port,
        what,
        log_tail: tail(&fs::read_to_string(&log).unwrap_or_default(), 15),
        log: log.clone(),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(io_error("wait for mariadbd"))? {
            return Err(failed(child, format!("exited while starting ({status})")));
        }
        if fs::read_to_string(&log).is_ok_and(|text| text.contains("ready for connections")) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(failed(
                child,
                format!("was not ready after {} s", START_TIMEOUT.as_secs()),
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM to our own child, a grace period, then SIGKILL. Never any other process.
fn stop_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, Signal::TERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A port the kernel just handed out on 127.0.0.1 (never 3306, the port of a machine's own server).
fn free_port() -> Result<u16, HarnessError> {
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(io_error("bind a probe socket on 127.0.0.1"))?;
        let port = listener
            .local_addr()
            .map_err(io_error("read the probe socket's port"))?
            .port();
        if port != 3306 {
            return Ok(port);
        }
    }
}

/// Finds a MariaDB program in PATH or in Debian's directories (`/usr/sbin` is often not in PATH).
pub fn find_program(program: &'static str) -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or(HarnessError::MissingProgram { program })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
