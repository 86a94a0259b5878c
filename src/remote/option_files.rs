//! MySQL option files (`my.cnf`, `~/.my.cnf`): the client settings a DBA already keeps there,
//! read the way the `mysql` and `mariadb` clients read them.
//!
//! - **Which files, in which order** (later values override earlier ones): `/etc/my.cnf`,
//!   `/etc/mysql/my.cnf`, the `--defaults-extra-file`, then `~/.my.cnf`. `--defaults-file`
//!   reads that file alone; `--no-defaults` reads none. This is the order of MySQL's
//!   `mysys/my_default.cc` on Unix (its `$MYSQL_HOME/my.cnf` is for servers, and the
//!   obfuscated `~/.mylogin.cnf` needs `mysql_config_editor`: neither is read here).
//! - **Which groups**: `[client]`, MariaDB's `[client-server]` and `[client-mariadb]`, and
//!   `[startpoint]`, this program's own group, as `mysqlbinlog` reads `[mysqlbinlog]`. Group
//!   names are compared without regard to case.
//! - **Syntax**: `name = value` or a bare `name`; `-` and `_` are the same in names; a value may
//!   be quoted with `"` or `'`, and `\n \t \r \b \s \\ \" \'` are escapes in it; a `#` outside
//!   quotes starts a comment, as do lines starting with `#` or `;`. `!include FILE` and
//!   `!includedir DIR` (its `*.cnf` files, by name) nest up to ten deep.
//! - **Guards**: only regular files are read (never a FIFO or a device, see `crate::input`); a
//!   world-writable file is ignored with a warning, as MySQL ignores it (anyone could have put a
//!   `host` or `password` in it); a bare `password` asks for the password at the terminal, as it
//!   does for `mysql`.
//!
//! The settings read here are what the command line leaves unset: a flag always wins.

use std::path::{Path, PathBuf};

use super::settings::{ConnSettings, Secret, TlsFiles, TlsVerify};

/// How deep `!include` and `!includedir` may nest (MySQL's own limit).
const MAX_DEPTH: usize = 10;

/// The option groups read, lower case.
const GROUPS: &[&str] = &["client", "client-server", "client-mariadb", "startpoint"];

/// Which option files to read: the `--defaults-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Defaults {
    /// The standard files, with `extra` (`--defaults-extra-file`) read before the user's own,
    /// which is `home/.my.cnf`.
    Standard {
        /// `--defaults-extra-file`.
        extra: Option<PathBuf>,
        /// The user's home directory (`$HOME`), if known.
        home: Option<PathBuf>,
    },
    /// `--defaults-file`: this file alone.
    Only(PathBuf),
    /// `--no-defaults`.
    None,
}

/// A password as an option file gives it (`Debug` never shows it: [`Secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordOption {
    /// `password = …`.
    Given(Secret),
    /// A bare `password`: ask at the terminal.
    Prompt,
}

/// `ssl-mode`: how far a connection trusts the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS, even with certificates configured.
    Disabled,
    /// MySQL's default: TLS when the settings give certificates, else none (startpoint does
    /// not fall back from a failed TLS handshake to plain text).
    Preferred,
    /// TLS, the server's certificate not verified.
    Required,
    /// TLS, the certificate verified against the CA, not the host name.
    VerifyCa,
    /// TLS, the certificate and the host name verified.
    VerifyIdentity,
}

impl std::fmt::Display for SslMode {
    /// MySQL's name (`VERIFY_CA`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SslMode::Disabled => "DISABLED",
            SslMode::Preferred => "PREFERRED",
            SslMode::Required => "REQUIRED",
            SslMode::VerifyCa => "VERIFY_CA",
            SslMode::VerifyIdentity => "VERIFY_IDENTITY",
        })
    }
}

impl SslMode {
    /// Reads MySQL's names, in any case (`REQUIRED`, `verify_ca`…).
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text.to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" => SslMode::Disabled,
            "PREFERRED" => SslMode::Preferred,
            "REQUIRED" => SslMode::Required,
            "VERIFY_CA" => SslMode::VerifyCa,
            "VERIFY_IDENTITY" => SslMode::VerifyIdentity,
            _ => return None,
        })
    }
}

/// The client settings the option files gave (each `None` when none did).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// `host`.
    pub host: Option<String>,
    /// `port`.
    pub port: Option<u16>,
    /// `user`.
    pub user: Option<String>,
    /// `password`.
    pub password: Option<PasswordOption>,
    /// `socket`.
    pub socket: Option<PathBuf>,
    /// `ssl-ca`.
    pub ssl_ca: Option<PathBuf>,
    /// `ssl-cert`.
    pub ssl_cert: Option<PathBuf>,
    /// `ssl-key`.
    pub ssl_key: Option<PathBuf>,
    /// `ssl-mode`.
    pub ssl_mode: Option<SslMode>,
    /// The files read, in order (for `--log-level` and errors).
    pub read: Vec<PathBuf>,
    /// What was skipped or ignored, one line each (a world-writable file, an unknown
    /// `ssl-mode`…), for stderr.
    pub warnings: Vec<String>,
}

/// Why the option files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OptionFileError {
    /// A file named on the command line (`--defaults-file`, `--defaults-extra-file`) or by
    /// `!include` could not be read.
    #[error("option file {}", .0)]
    Input(#[from] crate::input::InputError),
    /// A value that cannot be what it names.
    #[error("{}:{line}: {name} = {value:?} is not {expected}; correct it or leave it out", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The option.
        name: String,
        /// The value given (never a password's).
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A line MySQL's clients refuse the whole file for (`mysys/my_default.cc`): a group
    /// header without its `]`, an option before any group, a directive without its path, an
    /// `!includedir` that cannot be listed.
    #[error("{}:{line}: {what}; correct the file (the mysql client refuses it too)", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// `!include` nested deeper than ten files.
    #[error("{}: !include nests more than {MAX_DEPTH} deep (a file includes itself?)", .0.display())]
    TooDeep(PathBuf),
}

/// Reads the option files `defaults` names, in MySQL's order.
pub fn load(defaults: &Defaults) -> Result<ClientOptions, OptionFileError> {
    let mut options = ClientOptions::default();
    match defaults {
        Defaults::None => {}
        Defaults::Only(path) => read_named(path, &mut options)?,
        Defaults::Standard { extra, home } => {
            for path in ["/etc/my.cnf", "/etc/mysql/my.cnf"] {
                read_if_present(Path::new(path), &mut options, 0)?;
            }
            if let Some(extra) = extra {
                read_named(extra, &mut options)?;
            }
            if let Some(home) = home {
                read_if_present(&home.join(".my.cnf"), &mut options, 0)?;
            }
        }
    }
    Ok(options)
}

/// A file the user named: it must be there.
fn read_named(path: &Path, options: &mut ClientOptions) -> Result<(), OptionFileError> {
    let text = crate::input::read_text(path, "an option file")?;
    read_text(path, &text, options, 0)
}

/// A standard file: absent is normal; present but unreadable is a warning, as for MySQL.
fn read_if_present(
    path: &Path,
    options: &mut ClientOptions,
    depth: usize,
) -> Result<(), OptionFileError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    match crate::input::read_text(path, "an option file") {
        Ok(text) => read_text(path, &text, options, depth),
        Err(error) => {
            options
                .warnings
                .push(format!("option file {error}; skipped"));
            Ok(())
        }
    }
}

/// Whether anyone may write the file: MySQL ignores such a file.
fn world_writable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
}

fn read_text(
    path: &Path,
    text: &str,
    options: &mut ClientOptions,
    depth: usize,
) -> Result<(), OptionFileError> {
    if depth > MAX_DEPTH {
        return Err(OptionFileError::TooDeep(path.to_path_buf()));
    }
    if world_writable(path) {
        options.warnings.push(format!(
            "option file {}: anyone may write it, so it is ignored (as MySQL ignores it); \
             chmod o-w it",
            path.display()
        ));
        return Ok(());
    }
    options.read.push(path.to_path_buf());
    let malformed = |line: usize, what: String| OptionFileError::Malformed {
        path: path.to_path_buf(),
        line,
        what,
    };
    // A UTF-8 byte order mark (some editors write one) is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut in_group = false;
    let mut any_group = false;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(directive) = line.strip_prefix('!') {
            let (word, rest) = directive
                .split_once(char::is_whitespace)
                .unwrap_or((directive, ""));
            if matches!(word, "include" | "includedir") && rest.trim().is_empty() {
                return Err(malformed(number, format!("!{word} names no path")));
            }
            let target = relative_to(path, rest.trim());
            match word {
                "include" => {
                    // Named with the line that includes it: the user edits that file.
                    let text = crate::input::read_text(&target, "an option file")
                        .map_err(|e| malformed(number, format!("!include: {e}")))?;
                    read_text(&target, &text, options, depth + 1)?;
                }
                "includedir" => {
                    let mut files: Vec<PathBuf> = match std::fs::read_dir(&target) {
                        Ok(entries) => entries
                            .filter_map(Result::ok)
                            .map(|e| e.path())
                            .filter(|p| p.extension().is_some_and(|e| e == "cnf"))
                            .collect(),
                        Err(error) => {
                            return Err(malformed(
                                number,
                                format!("!includedir {}: {error}", target.display()),
                            ));
                        }
                    };
                    files.sort();
                    for file in files {
                        read_if_present(&file, options, depth + 1)?;
                    }
                }
                _ => options.warnings.push(format!(
                    "{}:{number}: unknown directive !{word}; skipped",
                    path.display()
                )),
            }
            continue;
        }
        if let Some(group) = line.strip_prefix('[') {
            let Some((name, _)) = group.split_once(']') else {
                return Err(malformed(
                    number,
                    "a group header without its `]`".to_owned(),
                ));
            };
            let name = name.trim().to_ascii_lowercase();
            in_group = GROUPS.contains(&name.as_str());
            any_group = true;
            continue;
        }
        if !any_group {
            return Err(malformed(number, "an option before any [group]".to_owned()));
        }
        if !in_group {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value_of(value))),
            None => (strip_comment(line).trim(), None),
        };
        // `loose-` only says "no error if unknown"; unknown options are passed over anyway.
        let name = name.replace('_', "-");
        let name = name.strip_prefix("loose-").unwrap_or(&name);
        set(options, path, number, name, value)?;
    }
    Ok(())
}

/// An `!include` path relative to the including file's directory (MySQL reads it relative to
/// the working directory; a path relative to the file is what every example means).
fn relative_to(file: &Path, target: &str) -> PathBuf {
    let target = Path::new(target);
    match file.parent() {
        Some(dir) if target.is_relative() => dir.join(target),
        _ => target.to_path_buf(),
    }
}

/// The text before a `#` that is outside quotes (MySQL's `remove_end_comment`: a quote opens
/// and the same quote closes, a backslash escapes the next character inside quotes).
fn strip_comment(text: &str) -> &str {
    let mut quote = None;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &text[..at],
            _ => {}
        }
    }
    text
}

/// A value as `mysys/my_default.cc` reads it: a trailing comment removed, trimmed, the quotes
/// around it removed when it starts and ends with the same one (`"a\"b"` is `a"b`; an
/// unterminated `"abc` stays as it is), then the escapes `\n \t \r \b \s \" \' \\` applied;
/// any other backslash is kept with the character after it.
fn value_of(raw: &str) -> String {
    let value = strip_comment(raw).trim();
    let mut chars = value.chars();
    let inner = match (chars.next(), chars.next_back()) {
        (Some(first @ ('"' | '\'')), Some(last)) if first == last => &value[1..value.len() - 1],
        _ => value,
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' || chars.peek().is_none() {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('s') => out.push(' '),
            Some(c @ ('"' | '\'' | '\\')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => {}
        }
    }
    out
}

fn set(
    options: &mut ClientOptions,
    path: &Path,
    line: usize,
    name: &str,
    value: Option<String>,
) -> Result<(), OptionFileError> {
    let bad = |value: &str, expected| OptionFileError::BadValue {
        path: path.to_path_buf(),
        line,
        name: name.to_owned(),
        value: value.to_owned(),
        expected,
    };
    match (name, value) {
        ("password", None) => options.password = Some(PasswordOption::Prompt),
        ("password", Some(v)) => options.password = Some(PasswordOption::Given(Secret::new(v))),
        ("host", Some(v)) => options.host = Some(v),
        ("user", Some(v)) => options.user = Some(v),
        ("socket", Some(v)) => options.socket = Some(PathBuf::from(v)),
        ("ssl-ca", Some(v)) => options.ssl_ca = Some(PathBuf::from(v)),
        ("ssl-cert", Some(v)) => options.ssl_cert = Some(PathBuf::from(v)),
        ("ssl-key", Some(v)) => options.ssl_key = Some(PathBuf::from(v)),
        ("port", Some(v)) => {
            options.port = Some(
                v.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad(&v, "a TCP port (1 to 65535)"))?,
            )
        }
        ("ssl-mode", Some(v)) => {
            options.ssl_mode = Some(SslMode::parse(&v).ok_or_else(|| {
                bad(
                    &v,
                    "DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY",
                )
            })?)
        }
        // Every other client option (default-character-set, compress…) is the client's own
        // business; like mysql with an option of another program's group, it is passed over.
        _ => {}
    }
    Ok(())
}

/// The socket of Debian's MariaDB and MySQL servers, where the mysql client looks for
/// `localhost` when nothing names another.
pub const DEFAULT_SOCKET: &str = "/run/mysqld/mysqld.sock";

/// What the command line says about a live server; each `None` (or `false`) where it is silent.
/// (`Debug` masks a password in the URL.)
#[derive(Clone, Default)]
pub struct ClientFlags {
    /// `--url mysql://USER[:PASSWORD]@HOST[:PORT]`: host, port and user (and a password).
    pub url: Option<String>,
    /// `--host`.
    pub host: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--user`.
    pub user: Option<String>,
    /// `--socket`.
    pub socket: Option<PathBuf>,
    /// `-p` / `--password` / `--ask-pass`: ask at the terminal.
    pub ask_password: bool,
    /// `--ssl-mode`.
    pub ssl_mode: Option<SslMode>,
    /// `--ssl-ca`, `--ssl-cert`, `--ssl-key`.
    pub tls: TlsFiles,
}

impl std::fmt::Debug for ClientFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientFlags")
            .field("url", &self.url.as_deref().map(super::settings::mask_url))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("socket", &self.socket)
            .field("ask_password", &self.ask_password)
            .field("ssl_mode", &self.ssl_mode)
            .field("tls", &self.tls)
            .finish()
    }
}

/// What the environment gives: `MYSQL_PWD`, `MYSQL_TCP_PORT`, the login name (`USER`).
#[derive(Debug, Clone, Default)]
pub struct ClientEnv {
    /// `MYSQL_PWD` (deprecated in MySQL 8, still read by its clients).
    pub password: Option<Secret>,
    /// `MYSQL_TCP_PORT`.
    pub tcp_port: Option<String>,
    /// `MYSQL_UNIX_PORT`: the socket's path.
    pub unix_port: Option<PathBuf>,
    /// `USER` (or `LOGNAME`): the mysql client's default user.
    pub login: Option<String>,
}

impl ClientEnv {
    /// The process's own environment.
    pub fn from_process() -> ClientEnv {
        ClientEnv {
            password: std::env::var("MYSQL_PWD").ok().map(Secret::new),
            tcp_port: std::env::var("MYSQL_TCP_PORT").ok(),
            unix_port: std::env::var_os("MYSQL_UNIX_PORT").map(PathBuf::from),
            login: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok()
                .filter(|name| !name.is_empty())
                .or_else(passwd_name),
        }
    }
}

/// The name of this process's user in `/etc/passwd`, as the mysql client falls back to
/// (`getpwuid`) when `USER` and `LOGNAME` are unset: a service or a container often has
/// neither.
fn passwd_name() -> Option<String> {
    let uid = rustix::process::getuid().as_raw().to_string();
    let passwd = crate::input::read_text(Path::new("/etc/passwd"), "the passwd file").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// Why a live server's settings could not be made from the flags, files and environment.
#[derive(Debug, thiserror::Error)]
pub enum ClientSettingsError {
    /// The `--url` is wrong.
    #[error(transparent)]
    Url(#[from] super::settings::SettingsError),
    /// No user anywhere.
    #[error(
        "no user to log in as: give --user, or put `user = …` in the [client] group of \
         ~/.my.cnf"
    )]
    NoUser,
    /// `MYSQL_TCP_PORT` is not a port.
    #[error("MYSQL_TCP_PORT={0:?} is not a TCP port (1 to 65535); correct or unset it")]
    BadEnvPort(String),
    /// `ssl-mode` asks for a check that needs a CA.
    #[error(
        "ssl-mode {0} checks the server's certificate against a CA: give --ssl-ca (or ssl-ca in an option file)"
    )]
    NoCa(SslMode),
    /// Asking for the password failed (no terminal, or reading it failed).
    #[error(
        "cannot ask for the password: {0}; give it in an option file (~/.my.cnf) or MYSQL_PWD instead"
    )]
    Prompt(std::io::Error),
}

/// The settings of a live server from the command line (first), the option files (next),
/// then the environment, as the mysql client merges them. `ask` reads a password at the
/// terminal when `-p` or a bare `password` asks for one.
///
/// - Host: `--url`, `--host`, the files' `host`, else `localhost`.
/// - `localhost` is reached through a Unix socket, as the mysql client reaches it: `--socket`,
///   the files' `socket`, `MYSQL_UNIX_PORT`, else [`DEFAULT_SOCKET`]; unless `--port` is given
///   without `--socket`, which means TCP (MariaDB's client since 10.6). Any other host, and a
///   `--url`, is TCP.
/// - Port: `--url` (3306 when it names none), `--port`, the files, `MYSQL_TCP_PORT`, 3306.
/// - User: `--url`, `--user`, the files, the login name.
/// - Password: `--url`'s, a prompt (`-p`), the files' (a bare `password` prompts too), then
///   `MYSQL_PWD`: an option file wins over the environment, as for MySQL's clients.
/// - TLS: the `--ssl-*` files, else the files' `ssl-ca`/`ssl-cert`/`ssl-key`; `ssl-mode`
///   from the flag, else the files. Without a mode, TLS is on when material is given.
pub fn client_settings(
    flags: &ClientFlags,
    options: &ClientOptions,
    env: &ClientEnv,
    ask: &mut dyn FnMut() -> std::io::Result<String>,
) -> Result<ConnSettings, ClientSettingsError> {
    let (mut conn, has_password) = match &flags.url {
        Some(url) => {
            let settings = ConnSettings::from_url(url, None)?;
            let has_password = url::Url::parse(url).is_ok_and(|u| u.password().is_some());
            (settings, has_password)
        }
        None => {
            let port = match (flags.port, options.port, &env.tcp_port) {
                (Some(port), _, _) | (None, Some(port), _) => port,
                (None, None, Some(text)) => text
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| ClientSettingsError::BadEnvPort(text.clone()))?,
                (None, None, None) => 3306,
            };
            let user = flags
                .user
                .clone()
                .or_else(|| options.user.clone())
                .or_else(|| env.login.clone())
                .filter(|u| !u.is_empty())
                .ok_or(ClientSettingsError::NoUser)?;
            let host = flags
                .host
                .clone()
                .or_else(|| options.host.clone())
                .unwrap_or_else(|| "localhost".to_owned());
            let tcp_asked = flags.port.is_some() && flags.socket.is_none();
            let socket = (host == "localhost" && !tcp_asked).then(|| {
                flags
                    .socket
                    .clone()
                    .or_else(|| options.socket.clone())
                    .or_else(|| env.unix_port.clone())
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
            });
            let settings = ConnSettings {
                host,
                port,
                socket,
                user,
                password: Secret::default(),
                tls: None,
                compress: false,
                server_id: None,
            };
            (settings, false)
        }
    };
    if !has_password {
        let prompt = ClientSettingsError::Prompt;
        conn.password = match (&options.password, flags.ask_password) {
            (_, true) | (Some(PasswordOption::Prompt), false) => {
                Secret::new(ask().map_err(prompt)?)
            }
            (Some(PasswordOption::Given(password)), false) => password.clone(),
            (None, false) => env.password.clone().unwrap_or_default(),
        };
    }
    conn.tls = tls_of(flags, options)?;
    Ok(conn)
}

/// TLS from the `--ssl-*` flags, else the files' `ssl-*`, as `ssl-mode` (the flag's, else the
/// files') asks; without a mode, TLS when material is given.
fn tls_of(
    flags: &ClientFlags,
    options: &ClientOptions,
) -> Result<Option<TlsFiles>, ClientSettingsError> {
    let files = TlsFiles {
        ca: flags.tls.ca.clone().or_else(|| options.ssl_ca.clone()),
        cert: flags.tls.cert.clone().or_else(|| options.ssl_cert.clone()),
        key: flags.tls.key.clone().or_else(|| options.ssl_key.clone()),
        ..TlsFiles::default()
    };
    Ok(match flags.ssl_mode.or(options.ssl_mode) {
        Some(SslMode::Disabled) => None,
        Some(SslMode::Required) => Some(TlsFiles {
            verify: TlsVerify::Nothing,
            ..files
        }),
        Some(mode @ (SslMode::VerifyCa | SslMode::VerifyIdentity)) => {
            if files.ca.is_none() {
                return Err(ClientSettingsError::NoCa(mode));
            }
            Some(TlsFiles {
                verify: match mode {
                    SslMode::VerifyCa => TlsVerify::Ca,
                    _ => TlsVerify::Identity,
                },
                ..files
            })
        }
        Some(SslMode::Preferred) | None => (!files.is_empty()).then_some(files),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> ClientOptions {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, text).unwrap();
        load(&Defaults::Only(path)).unwrap()
    }

    /// The syntax of MySQL's option files (mysys/my_default.cc `search_default_file_with_ext`):
    /// groups, bare options, quotes, escapes, comments, `_` for `-`.
    #[test]
    fn reads_client_groups_as_mysql_does() {
        let options = parsed(
            "# a comment\n\
             [mysqld]\nport = 1\nuser = mysql\n\
             [Client]\n; another comment\nhost = db1.example # the primary\n\
             port=3307\nuser = \"repl user\"\npassword = 'p#ss\\sword'\n\
             ssl_mode = verify_ca\nssl-ca = /etc/ca.pem\n\
             default-character-set = utf8mb4\n\
             [mysqldump]\nuser = dumper\n\
             [startpoint]\nport = 3308\n",
        );
        assert_eq!(options.host.as_deref(), Some("db1.example"));
        assert_eq!(options.port, Some(3308), "a later group overrides");
        assert_eq!(options.user.as_deref(), Some("repl user"));
        assert_eq!(
            options.password,
            Some(PasswordOption::Given(Secret::new("p#ss word")))
        );
        assert_eq!(options.ssl_mode, Some(SslMode::VerifyCa));
        assert_eq!(options.ssl_ca, Some(PathBuf::from("/etc/ca.pem")));
        assert!(options.warnings.is_empty(), "{:?}", options.warnings);
    }

    /// Quotes and escapes as `mysys/my_default.cc` reads them (checked against the mariadb
    /// client's `--print-defaults` of the same lines).
    #[test]
    fn quotes_and_escapes_read_as_the_mysql_client_reads_them() {
        for (line, want) in [
            (r#"password = "a\"b""#, r#"a"b"#),
            (r#"password = 'a\'b'"#, "a'b"),
            (r#"password = "abc"#, r#""abc"#),
            (r#"password = "ab"cd""#, r#"ab"cd"#),
            (r#"password = p\xw"#, r#"p\xw"#),
            (r#"password = a\\b"#, r#"a\b"#),
            (r#"password = "x # y" # a comment"#, "x # y"),
            (r#"password = x#y"#, "x"),
        ] {
            let options = parsed(&format!("[client]\n{line}\n"));
            assert_eq!(
                options.password,
                Some(PasswordOption::Given(Secret::new(want))),
                "{line}"
            );
        }
        let loose = parsed("\u{feff}[client]\nloose-port = 3309\nloose_user = u\n");
        assert_eq!((loose.port, loose.user.as_deref()), (Some(3309), Some("u")));
    }

    /// What the mysql client refuses the whole file for is an error naming the line.
    #[test]
    fn a_malformed_file_is_refused_naming_the_line() {
        for (text, said) in [
            ("[client\nport = 2\n", ":1: a group header without its `]`"),
            ("port = 2\n[client]\n", ":1: an option before any [group]"),
            ("[client]\n!include\n", ":2: !include names no path"),
            (
                "[client]\n!includedir /no/such/dir\n",
                ":2: !includedir /no/such/dir",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("my.cnf");
            std::fs::write(&path, text).unwrap();
            let error = load(&Defaults::Only(path)).unwrap_err().to_string();
            assert!(error.contains(said), "{text:?}: {error}");
        }
    }

    #[test]
    fn a_bare_password_asks_at_the_terminal() {
        let options = parsed("[client]\npassword\n");
        assert_eq!(options.password, Some(PasswordOption::Prompt));
    }

    #[test]
    fn a_bad_port_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, "[client]\nport = 99999\n").unwrap();
        let error = load(&Defaults::Only(path)).unwrap_err().to_string();
        assert!(error.contains("my.cnf:2: port = \"99999\""), "{error}");
    }

    /// The standard order: global files, the extra file, then `~/.my.cnf`, each overriding
    /// the one before; `--no-defaults` reads nothing.
    #[test]
    fn the_users_file_overrides_the_extra_file() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".my.cnf"), "[client]\nuser = from-home\n").unwrap();
        let extra = home.path().join("extra.cnf");
        std::fs::write(&extra, "[client]\nuser = from-extra\nport = 3399\n").unwrap();
        let options = load(&Defaults::Standard {
            extra: Some(extra.clone()),
            home: Some(home.path().to_path_buf()),
        })
        .unwrap();
        assert_eq!(options.user.as_deref(), Some("from-home"));
        assert_eq!(options.port, Some(3399));
        assert_eq!(options.read.last(), Some(&home.path().join(".my.cnf")));
        assert_eq!(load(&Defaults::None).unwrap(), ClientOptions::default());
        let missing = load(&Defaults::Standard {
            extra: Some(home.path().join("absent.cnf")),
            home: None,
        })
        .unwrap_err()
        .to_string();
        assert!(missing.contains("absent.cnf"), "{missing}");
    }

    #[test]
    fn includes_nest_and_a_loop_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(dir.path().join("conf.d/b.cnf"), "[client]\nuser = b\n").unwrap();
        std::fs::write(dir.path().join("conf.d/a.cnf"), "[client]\nuser = a\n").unwrap();
        std::fs::write(dir.path().join("conf.d/c.txt"), "[client]\nuser = c\n").unwrap();
        let main = dir.path().join("my.cnf");
        std::fs::write(&main, "!includedir conf.d\n[client]\nhost = h\n").unwrap();
        let options = load(&Defaults::Only(main.clone())).unwrap();
        assert_eq!(options.user.as_deref(), Some("b"), "by name, .cnf only");
        assert_eq!(options.host.as_deref(), Some("h"));
        std::fs::write(&main, "!include my.cnf\n").unwrap();
        let error = load(&Defaults::Only(main)).unwrap_err().to_string();
        assert!(error.contains("nests more than 10 deep"), "{error}");
    }

    /// MySQL ignores a world-writable option file ("World-writable config file … is ignored").
    #[test]
    fn a_world_writable_file_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, "[client]\nhost = evil\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let options = load(&Defaults::Only(path)).unwrap();
        assert_eq!(options.host, None);
        assert!(options.warnings[0].contains("anyone may write it"));
    }

    /// A FIFO named as the defaults file is refused at once, never opened.
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo.cnf");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let error = load(&Defaults::Only(path)).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
    }

    fn no_prompt() -> std::io::Result<String> {
        panic!("asked for a password")
    }

    /// The command line wins over the files, the files over the environment (MySQL's
    /// precedence: libmysql reads `MYSQL_PWD` only when no password was given).
    #[test]
    fn flags_then_files_then_environment() {
        let options = parsed(
            "[client]\nhost = file-host\nport = 3310\nuser = file-user\npassword = file-pw\n",
        );
        let env = ClientEnv {
            password: Some(Secret::new("env-pw")),
            tcp_port: Some("3311".into()),
            unix_port: Some(PathBuf::from("/env.sock")),
            login: Some("login".into()),
        };
        let flags = ClientFlags {
            user: Some("flag-user".into()),
            ..ClientFlags::default()
        };
        let conn = client_settings(&flags, &options, &env, &mut no_prompt).unwrap();
        assert_eq!(
            (
                conn.host.as_str(),
                conn.port,
                conn.user.as_str(),
                conn.password.expose()
            ),
            ("file-host", 3310, "flag-user", "file-pw")
        );
        assert_eq!(conn.tls, None);
        let bare = client_settings(
            &ClientFlags::default(),
            &ClientOptions::default(),
            &env,
            &mut no_prompt,
        )
        .unwrap();
        assert_eq!(
            (
                bare.host.as_str(),
                bare.port,
                bare.user.as_str(),
                bare.password.expose()
            ),
            ("localhost", 3311, "login", "env-pw")
        );
        assert_eq!(bare.socket, Some(PathBuf::from("/env.sock")));
    }

    /// `localhost` goes through a socket, as for the mysql client: `--socket`, the files',
    /// `MYSQL_UNIX_PORT`, the default; `--port` without `--socket` means TCP (MariaDB's client
    /// since 10.6); any other host is TCP.
    #[test]
    fn localhost_is_a_socket_unless_a_port_is_asked_for() {
        let options = parsed("[client]\nuser = u\nsocket = /file.sock\n");
        let env = ClientEnv::default();
        let with = |flags: ClientFlags| {
            client_settings(&flags, &options, &env, &mut no_prompt)
                .unwrap()
                .socket
        };
        assert_eq!(
            with(ClientFlags::default()),
            Some(PathBuf::from("/file.sock"))
        );
        let flag = ClientFlags {
            socket: Some(PathBuf::from("/flag.sock")),
            port: Some(3307),
            ..ClientFlags::default()
        };
        assert_eq!(with(flag), Some(PathBuf::from("/flag.sock")));
        let port = ClientFlags {
            port: Some(3307),
            ..ClientFlags::default()
        };
        assert_eq!(with(port), None);
        let host = ClientFlags {
            host: Some("127.0.0.1".into()),
            ..ClientFlags::default()
        };
        assert_eq!(with(host), None);
        let bare = client_settings(
            &ClientFlags::default(),
            &parsed("[client]\nuser = u\n"),
            &env,
            &mut no_prompt,
        )
        .unwrap();
        assert_eq!(bare.socket, Some(PathBuf::from(DEFAULT_SOCKET)));
    }

    /// `-p` asks even when a file has a password, as `mysql -p` does; a URL's password is
    /// never overridden.
    #[test]
    fn dash_p_prompts_and_a_url_password_stands() {
        let options = parsed("[client]\npassword = file-pw\nssl-mode = REQUIRED\n");
        let flags = ClientFlags {
            host: Some("h".into()),
            user: Some("u".into()),
            ask_password: true,
            ..ClientFlags::default()
        };
        let mut asked = 0;
        let mut ask = || {
            asked += 1;
            Ok("typed".to_owned())
        };
        let conn = client_settings(&flags, &options, &ClientEnv::default(), &mut ask).unwrap();
        assert_eq!(conn.password.expose(), "typed");
        assert_eq!(conn.tls.map(|t| t.verify), Some(TlsVerify::Nothing));
        let flags = ClientFlags {
            url: Some("mysql://u:in-url@h:3399".into()),
            ..ClientFlags::default()
        };
        let conn =
            client_settings(&flags, &options, &ClientEnv::default(), &mut no_prompt).unwrap();
        assert_eq!((conn.port, conn.password.expose()), (3399, "in-url"));
        assert_eq!(asked, 1);
    }

    #[test]
    fn verify_modes_need_a_ca_and_disabled_turns_tls_off() {
        let options = parsed("[client]\nuser = u\nssl-cert = /c.pem\nssl-key = /k.pem\n");
        let with = |mode| ClientFlags {
            ssl_mode: Some(mode),
            ..ClientFlags::default()
        };
        let env = ClientEnv::default();
        let error = client_settings(&with(SslMode::VerifyCa), &options, &env, &mut no_prompt)
            .unwrap_err()
            .to_string();
        assert!(error.contains("give --ssl-ca"), "{error}");
        let off =
            client_settings(&with(SslMode::Disabled), &options, &env, &mut no_prompt).unwrap();
        assert_eq!(off.tls, None);
        let on = client_settings(&ClientFlags::default(), &options, &env, &mut no_prompt).unwrap();
        assert_eq!(on.tls.map(|t| t.verify), Some(TlsVerify::Identity));
    }

    /// With neither `USER` nor `LOGNAME`, the user is this process's passwd entry's name.
    #[test]
    fn the_login_name_falls_back_to_the_passwd_entry() {
        let name = passwd_name().expect("this process's user is in /etc/passwd");
        assert!(!name.is_empty() && !name.contains(':'));
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let options = parsed("[client]\npassword = hunter2\n");
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
