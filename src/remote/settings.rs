//! How to reach a live server: host, port, user, password, TLS, compression, and the server_id a
//! probe registers with. Built from a `mysql://` URL or a DM source file; the password is kept
//! in a [`Secret`] that never prints.

use std::fmt;
use std::path::PathBuf;

use mysql_async::{ClientIdentity, Opts, OptsBuilder, SslOpts};

/// The largest packet a connection accepts (1 GiB, MySQL's and MariaDB's ceiling for
/// `max_allowed_packet`, and for events too), on the driver's path and the direct dump read.
pub(crate) const MAX_PACKET: usize = 1 << 30;

/// The lowest server_id probes use: high enough that no real replica is configured with it.
pub const PROBE_SERVER_ID_MIN: u32 = 0xF000_0000;

/// A password: usable, never shown (`Debug` and `Display` print `****`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Keeps `text` as a password.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The password itself, for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the password is empty (no password).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// TLS material (PEM): files, or the PEM itself where a DM config gives it inline
/// (`ssl-ca-base64`, `ssl-ca-bytes`…); inline material wins over a file, as in DM's
/// `LoadTLSContent`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// The CA certificate file the server's certificate is checked against.
    pub ca: Option<PathBuf>,
    /// The client certificate file, for servers that ask for one.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key file.
    pub key: Option<PathBuf>,
    /// PEM given inline, which wins over the files.
    pub inline: Option<Box<InlineTls>>,
    /// How far the server's certificate is checked (a MySQL client's `ssl-mode`).
    pub verify: TlsVerify,
}

/// How far a TLS connection checks the server's certificate: MySQL's `ssl-mode` values that
/// turn TLS on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVerify {
    /// The certificate chain and the host name (`VERIFY_IDENTITY`; DM's own choice whenever
    /// a CA is given, and the default here).
    #[default]
    Identity,
    /// The certificate chain only (`VERIFY_CA`).
    Ca,
    /// Nothing: encrypted, but to whoever answers (`REQUIRED`).
    Nothing,
}

/// TLS material a DM config gives inline (`ssl-ca-bytes`, `ssl-ca-base64`…).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InlineTls {
    /// The CA certificate.
    pub ca: Option<Pem>,
    /// The client certificate.
    pub cert: Option<Pem>,
    /// The client certificate's private key.
    pub key: Option<Pem>,
}

/// PEM bytes given inline; never shown (a private key may be among them).
#[derive(Clone, PartialEq, Eq)]
pub struct Pem(pub Vec<u8>);

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes of PEM>", self.0.len())
    }
}

/// The most a TLS file (a PEM certificate, chain or key) may hold.
const MAX_TLS_FILE: u64 = 1 << 20;

impl TlsFiles {
    /// These files' material read now, inline (PEM or DER, as the driver takes either): each
    /// file not given inline must be a regular file of at most 1 MiB (a FIFO would block the
    /// connection in `open`, a device would never end), and the driver opens no file at all.
    pub fn loaded(&self) -> Result<TlsFiles, crate::input::InputError> {
        let mut inline = self.inline.as_deref().cloned().unwrap_or_default();
        for (file, pem) in [
            (&self.ca, &mut inline.ca),
            (&self.cert, &mut inline.cert),
            (&self.key, &mut inline.key),
        ] {
            if let (Some(path), None) = (file, pem.as_ref()) {
                *pem = Some(Pem(crate::input::read_capped(
                    path,
                    "a TLS file",
                    MAX_TLS_FILE,
                )?));
            }
        }
        Ok(TlsFiles {
            inline: Some(Box::new(inline)),
            ..self.clone()
        })
    }

    /// Whether no material at all is given (TLS without a CA or client certificate).
    pub fn is_empty(&self) -> bool {
        self.ca.is_none()
            && self.cert.is_none()
            && self.key.is_none()
            && self
                .inline
                .as_ref()
                .is_none_or(|i| i.ca.is_none() && i.cert.is_none() && i.key.is_none())
    }
}

/// Inline PEM, else the file.
fn material<T: From<Vec<u8>> + From<PathBuf>>(
    pem: &Option<Pem>,
    file: &Option<PathBuf>,
) -> Option<T> {
    match (pem, file) {
        (Some(pem), _) => Some(pem.0.clone().into()),
        (None, Some(file)) => Some(file.clone().into()),
        (None, None) => None,
    }
}

/// Everything needed to connect to one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSettings {
    /// The host name or IP address.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// A Unix socket to connect through instead of `host:port` (a local server's
    /// `localhost`, as the mysql client reaches it).
    pub socket: Option<PathBuf>,
    /// The user to log in as (needs REPLICATION SLAVE and REPLICATION CLIENT).
    pub user: String,
    /// The password; never printed.
    pub password: Secret,
    /// TLS with these files; `None` for a plain connection.
    pub tls: Option<TlsFiles>,
    /// Whether to ask for the compressed protocol.
    pub compress: bool,
    /// A fixed server_id for probes; `None` draws one from the reserved range per connection.
    pub server_id: Option<u32>,
}

/// Why connection settings were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid server URL {shown}: {why} (expected mysql://USER@HOST:PORT)")]
pub struct SettingsError {
    /// The URL with any password masked.
    pub shown: String,
    /// What is wrong with it.
    pub why: String,
}

impl ConnSettings {
    /// Parses `mysql://USER[:PASSWORD]@HOST[:PORT]`; without a password in the URL, `MYSQL_PWD`
    /// (given as `env_password`) is used.
    pub fn from_url(
        text: &str,
        env_password: Option<String>,
    ) -> Result<ConnSettings, SettingsError> {
        let error = |why: &str| SettingsError {
            shown: mask_url(text),
            why: why.to_owned(),
        };
        let url = url::Url::parse(text).map_err(|e| error(&e.to_string()))?;
        if url.scheme() != "mysql" {
            return Err(error("the scheme must be mysql://"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| error("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| error("bad percent-encoding in the user or password"))
        };
        let user = decode(url.username())?;
        if user.is_empty() {
            return Err(error("no user"));
        }
        let password = match url.password() {
            Some(p) => Secret::new(decode(p)?),
            None => Secret::new(env_password.unwrap_or_default()),
        };
        if !matches!(url.path(), "" | "/") {
            return Err(error("a database path is not used here; leave it out"));
        }
        // A parameter dropped in silence could be one the user believes turns on TLS.
        if let Some(query) = url.query() {
            // A '?' in an unencoded password starts a "query" too: its text is never echoed.
            if query.contains('@') {
                return Err(error(
                    "a '?', '#' or '/' in the user or password must be percent-encoded \
                     (%3F, %23, %2F)",
                ));
            }
            let plain = |name: &str| {
                !name.is_empty()
                    && name.len() <= 64
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            };
            let names: Vec<String> = url
                .query_pairs()
                .map(|(k, _)| {
                    if plain(&k) {
                        k.into_owned()
                    } else {
                        "…".to_owned()
                    }
                })
                .collect();
            return Err(error(&format!(
                "URL parameters are not read here, and none is known (given: {}); use \
                 --ssl-ca, --ssl-cert and --ssl-key for TLS, --compress for compression, \
                 --server-id for the replica's server_id, or a source file (--source-config)",
                names.join(", ")
            )));
        }
        if url.fragment().is_some() {
            return Err(error("a #fragment is not used here; leave it out"));
        }
        Ok(ConnSettings {
            host,
            port: url.port().unwrap_or(3306),
            socket: None,
            user,
            password,
            tls: None,
            compress: false,
            server_id: None,
        })
    }

    /// These settings with `tls` (the `--ssl-*` flags) where they have no TLS of their own.
    pub fn with_default_tls(mut self, tls: Option<&TlsFiles>) -> ConnSettings {
        if self.tls.is_none() {
            self.tls = tls.filter(|t| !t.is_empty()).cloned();
        }
        self
    }

    /// These settings with their TLS files read ([`TlsFiles::loaded`]), for one connection;
    /// a file that cannot be read is the error a connection gives.
    pub(crate) fn with_tls_loaded(&self) -> Result<ConnSettings, super::RemoteError> {
        let mut loaded = self.clone();
        if let Some(tls) = &self.tls {
            loaded.tls = Some(tls.loaded().map_err(|e| super::RemoteError::Tls {
                server: self.address(),
                message: e.to_string(),
            })?);
        }
        Ok(loaded)
    }

    /// `user@host:port`, for messages (never the password).
    pub fn display(&self) -> String {
        format!("{}@{}", self.user, self.address())
    }

    /// `host:port`, or the Unix socket's path.
    pub fn address(&self) -> String {
        if let Some(socket) = &self.socket {
            return format!("{}:{}", self.host, socket.display());
        }
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// mysql_async options for a connection to this server, made through a local throttle
    /// listening on `throttle_port` (see `remote::throttle`); TLS still verifies the server's name.
    /// `compress` asks for protocol compression when the settings allow it.
    pub(crate) fn opts_via(&self, throttle_port: u16, compress: bool) -> Opts {
        self.opts_to("127.0.0.1", throttle_port, compress)
    }

    /// mysql_async options for a direct connection (no throttle), for plain queries.
    pub(crate) fn opts_direct(&self) -> Opts {
        let opts = self.opts_to(&self.host, self.port, false);
        match &self.socket {
            Some(socket) => OptsBuilder::from_opts(opts)
                .socket(Some(socket.display().to_string()))
                .into(),
            None => opts,
        }
    }

    /// Where the relay connects: `host:port`, or the Unix socket.
    pub(crate) fn endpoint(&self) -> super::stream::Endpoint {
        match &self.socket {
            Some(socket) => super::stream::Endpoint::Unix(socket.clone()),
            None => super::stream::Endpoint::Tcp(self.address()),
        }
    }

    fn opts_to(&self, host: &str, port: u16, compress: bool) -> Opts {
        let mut builder = OptsBuilder::default()
            .ip_or_hostname(host)
            .tcp_port(port)
            .user(Some(self.user.clone()))
            .pass((!self.password.is_empty()).then(|| self.password.expose().to_owned()))
            .prefer_socket(false)
            .stmt_cache_size(0)
            // Left unset, mysql_async refuses packets larger than the server's
            // max_allowed_packet, which a binlog dump does not respect: an event can be larger.
            .max_allowed_packet(Some(MAX_PACKET));
        if self.compress && compress {
            builder = builder.compression(mysql_async::Compression::default());
        }
        if let Some(tls) = &self.tls {
            let mut ssl = SslOpts::default();
            let inline = tls.inline.as_deref().cloned().unwrap_or_default();
            if let Some(ca) = material(&inline.ca, &tls.ca) {
                ssl = ssl
                    .with_root_certs(vec![ca])
                    .with_disable_built_in_roots(true);
            }
            if let (Some(cert), Some(key)) = (
                material(&inline.cert, &tls.cert),
                material(&inline.key, &tls.key),
            ) {
                ssl = ssl.with_client_identity(Some(ClientIdentity::new(cert, key)));
            }
            ssl = match tls.verify {
                TlsVerify::Identity => ssl,
                TlsVerify::Ca => ssl.with_danger_skip_domain_validation(true),
                TlsVerify::Nothing => ssl.with_danger_accept_invalid_certs(true),
            };
            builder =
                builder.ssl_opts(ssl.with_danger_tls_hostname_override(Some(self.host.clone())));
        }
        builder.into()
    }

    /// The server_id for the next probe connection.
    pub(crate) fn probe_server_id(&self) -> u32 {
        self.server_id
            .unwrap_or_else(|| fastrand::u32(PROBE_SERVER_ID_MIN..=u32::MAX))
    }
}

/// The URL as given, for an error message, with anything that may be a password replaced by
/// `****`, whatever shape the URL has (`mysql:/u:pw@h`, `mysql:u:pw@h`, `mysql//u:pw@h`,
/// `u:pw@h`, `mysql://u:pw`, a password holding `#`, `?` or `/`): everything from the first `:`
/// of what may be the user information to the last `@` of the URL (or, without an `@`, to the
/// end, unless only a port follows the `:`), and the value of every query parameter (all are
/// refused). Control characters are escaped.
pub(crate) fn mask_url(text: &str) -> String {
    // Where the user information may start: after a scheme (`word:` then `/`s, or `word//`)
    // and its slashes.
    // Only a scheme this URL may have: `root:/pw@h` is a user and a password.
    let scheme_end = text
        .find(':')
        .filter(|&c| {
            ["mysql", "mariadb"].contains(&text[..c].trim_start().to_ascii_lowercase().as_str())
                && text[c + 1..].starts_with('/')
        })
        .map(|c| c + 1)
        .or_else(|| text.find("//").filter(|&s| !text[..s].contains([':', '@'])));
    let mut start = scheme_end.unwrap_or(0);
    while text[start..].starts_with('/') {
        start += 1;
    }
    let shown = match text[start..].rfind('@').map(|at| start + at) {
        Some(at) => {
            let userinfo = &text[start..at];
            let user = match userinfo.find(':') {
                Some(colon) => format!("{}:****", &userinfo[..colon]),
                None => userinfo.to_owned(),
            };
            let (host, query) = split_query(&text[at..]);
            format!("{}{user}{host}{}", &text[..start], mask_query(query))
        }
        None => {
            let (main, query) = split_query(&text[start..]);
            let authority_end = main.find('/').unwrap_or(main.len());
            let masked = match main[..authority_end].rfind(':') {
                // `host:port` is harmless; `user:password` without a host is not.
                Some(colon)
                    if main[colon + 1..authority_end].parse::<u16>().is_err()
                        && !main.starts_with('[') =>
                {
                    return crate::input::escape_controls(&format!(
                        "{}{}:****",
                        &text[..start],
                        &main[..colon]
                    ))
                    .into_owned();
                }
                _ => main.to_owned(),
            };
            format!("{}{masked}{}", &text[..start], mask_query(query))
        }
    };
    crate::input::escape_controls(&shown).into_owned()
}

/// `text` cut before its `?` or `#`.
fn split_query(text: &str) -> (&str, &str) {
    match text.find(['?', '#']) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    }
}

/// `?a=1&b=x#f` with every value replaced by `****` (parameters are refused, and one may be a
/// password), and any fragment dropped.
fn mask_query(tail: &str) -> String {
    let Some(query) = tail.strip_prefix('?') else {
        return if tail.is_empty() {
            String::new()
        } else {
            "#****".to_owned()
        };
    };
    let query = query.split('#').next().unwrap_or_default();
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) => format!("{key}=****"),
            None => pair.to_owned(),
        })
        .collect();
    format!("?{}", pairs.join("&"))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_never_shows_the_password() {
        let s = ConnSettings::from_url("mysql://repl:s%40cret@db1.example:3307", None).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_str()),
            ("db1.example", 3307, "repl")
        );
        assert_eq!(s.password.expose(), "s@cret");
        assert_eq!(s.display(), "repl@db1.example:3307");
        assert!(!format!("{s:?}").contains("s@cret"));

        let env = ConnSettings::from_url("mysql://root@127.0.0.1", Some("pw".into())).unwrap();
        assert_eq!((env.port, env.password.expose()), (3306, "pw"));

        for bad in ["http://u@h", "mysql://h:3306", "mysql://u@h/db", "nonsense"] {
            assert!(ConnSettings::from_url(bad, None).is_err(), "{bad}");
        }
        let err = ConnSettings::from_url("mysql://u:hunter2@h/db", None)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!mask_url("mysql://u:hunter2@@h").contains("hunter2"));
    }

    /// The error for a malformed URL never echoes its password, nor any part of it, and still
    /// names the host.
    #[test]
    fn a_malformed_url_never_echoes_its_password() {
        for url in [
            "mysql:/root:S3cr3t@127.0.0.1:3308",
            "mysql:root:S3cr3t@127.0.0.1:3308",
            "mysql//root:S3cr3t@127.0.0.1:3308",
            "root:S3cr3t@127.0.0.1:3308",
            "mysql://root:S3cr3t@127.0.0.1:3308/db",
            "mysql://root:S3cr3t@127.0.0.1:33o8",
            "mysql://root:S3cr3t",
            "mysql:///root:S3cr3t@",
            "http://root:S3cr3t@127.0.0.1:3308",
            "mysql://root@127.0.0.1:3308?password=S3cr3t",
            "mysql://root:S3cr3t@127.0.0.1:3308?require_ssl=true",
            "mysql://root@127.0.0.1:3308?pw=S3cr3t",
            "mysql://root:p#S3cr3t@127.0.0.1:3308",
            "mysql://root:pa?S3cr3t@127.0.0.1:3308",
            "mysql://root:pa/S3cr3t@127.0.0.1:3308",
            "mysql:/root:ab/S3cr3t@127.0.0.1:3308",
            "mysql://root:S3cr3t#x",
            "mysql://root:S3c@r?S3cr3t@127.0.0.1:3308",
            "mysql://root:S3c@r?S3cr3t=zz@127.0.0.1:3308",
            "root:/S3cr3t@127.0.0.1:3308",
            "ROOT:/S3cr3t@127.0.0.1:3308",
        ] {
            let Err(err) = ConnSettings::from_url(url, None) else {
                panic!("{url} was taken");
            };
            let err = err.to_string();
            assert!(
                !err.contains("S3cr3t") && !err.contains("cr3t"),
                "{url}: {err}"
            );
            assert!(
                err.contains("127.0.0.1") || !url.contains("127.0.0.1"),
                "{url}: {err}"
            );
        }
        assert_eq!(mask_url("mysql://root@h:3308"), "mysql://root@h:3308");
        assert_eq!(mask_url("mysql:/root:pw@h:3308"), "mysql:/root:****@h:3308");
        assert_eq!(mask_url("root:pw@h"), "root:****@h");
        assert_eq!(mask_url("mysql://u:p@w@h/x"), "mysql://u:****@h/x");
        assert_eq!(mask_url("mysql://u@h:1?a=b&c"), "mysql://u@h:1?a=****&c");
        assert_eq!(mask_url("mysql://h:3306/x"), "mysql://h:3306/x");
        assert_eq!(mask_url("  mysql://u:pw@h"), "  mysql://u:****@h");
        // A password of digits and no host: no port is that large.
        assert_eq!(mask_url("mysql://root:123456"), "mysql://root:****");
        assert_eq!(mask_url("MySQL://u:pw@h"), "MySQL://u:****@h");
    }

    /// URL parameters such as `?require_ssl=true` are refused, pointing to `--ssl-ca`, never
    /// dropped to make the connection in plain text.
    #[test]
    fn url_parameters_are_refused_never_dropped() {
        let err = ConnSettings::from_url("mysql://root@127.0.0.1:3308?require_ssl=true", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("require_ssl") && err.contains("--ssl-ca"),
            "{err}"
        );
        assert!(ConnSettings::from_url("mysql://root@127.0.0.1:3308#x", None).is_err());
        assert!(ConnSettings::from_url("mysql://root@127.0.0.1:3308/", None).is_ok());
    }

    #[test]
    fn probe_ids_come_from_the_reserved_range() {
        let s = ConnSettings::from_url("mysql://u@h", None).unwrap();
        for _ in 0..100 {
            assert!(s.probe_server_id() >= PROBE_SERVER_ID_MIN);
        }
    }
}
