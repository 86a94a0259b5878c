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
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The password itself, for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }

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
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// PEM given inline, which wins over the files.
    pub inline: Option<Box<InlineTls>>,
}

/// TLS material a DM config gives inline (`ssl-ca-bytes`, `ssl-ca-base64`…).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InlineTls {
    pub ca: Option<Pem>,
    pub cert: Option<Pem>,
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

impl TlsFiles {
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
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    /// TLS with these files; `None` for a plain connection.
    pub tls: Option<TlsFiles>,
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
            let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            let names = if names.is_empty() {
                query.to_owned()
            } else {
                names.join(", ")
            };
            return Err(error(&format!(
                "URL parameters are not read here, and none is known (given: {}); use \
                 --ssl-ca, --ssl-cert and --ssl-key for TLS, --compress for compression, \
                 --server-id for the replica's server_id, or a source file (--source-config)",
                crate::input::escape_controls(&names)
            )));
        }
        if url.fragment().is_some() {
            return Err(error("a #fragment is not used here; leave it out"));
        }
        Ok(ConnSettings {
            host,
            port: url.port().unwrap_or(3306),
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

    /// `user@host:port`, for messages (never the password).
    pub fn display(&self) -> String {
        format!("{}@{}", self.user, self.address())
    }

    /// `host:port`.
    pub fn address(&self) -> String {
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
        self.opts_to(&self.host, self.port, false)
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
/// `u:pw@h`, `mysql://u:pw`): everything between the first `:` of what may be the user
/// information and its last `@` (or, without an `@`, after a `:` not followed by a port), and
/// the value of any query parameter named like a password. Control characters are escaped.
pub(crate) fn mask_url(text: &str) -> String {
    // The query and fragment, with password-like values hidden.
    let (main, tail) = match text.find(['?', '#']) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let tail = mask_query(tail);
    // What may be the scheme: a word and ':' followed by '/' (`mysql:/`, `mysql://`), or
    // `word//`.
    let scheme_end = main
        .find(':')
        .filter(|&c| {
            main[..c]
                .trim_start()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && main[c + 1..].starts_with('/')
        })
        .map(|c| c + 1)
        .or_else(|| main.find("//").filter(|&s| !main[..s].contains([':', '@'])));
    let mut start = scheme_end.unwrap_or(0);
    while main[start..].starts_with('/') {
        start += 1;
    }
    let authority_end = main[start..].find('/').map_or(main.len(), |e| start + e);
    let authority = &main[start..authority_end];
    let masked = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}:****{}", &userinfo[..colon], &authority[at..]),
                None => authority.to_owned(),
            }
        }
        // No '@': `host:port` is harmless; `user:password` without a host is not.
        None => match authority.rfind(':') {
            Some(colon)
                if !authority[colon + 1..].bytes().all(|b| b.is_ascii_digit())
                    && !authority.starts_with('[') =>
            {
                format!("{}:****", &authority[..colon])
            }
            _ => authority.to_owned(),
        },
    };
    let shown = format!("{}{masked}{}{tail}", &main[..start], &main[authority_end..]);
    crate::input::escape_controls(&shown).into_owned()
}

/// `?a=1&password=x#f` with the value of every password-like parameter replaced by `****`.
fn mask_query(tail: &str) -> String {
    let secret = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["pass", "pwd", "secret", "token", "key"]
            .iter()
            .any(|word| key.contains(word))
    };
    let (query, fragment) = match tail.find('#') {
        Some(at) => tail.split_at(at),
        None => (tail, ""),
    };
    let Some(query) = query.strip_prefix('?') else {
        return tail.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if secret(key) => format!("{key}=****"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("?{}{fragment}", pairs.join("&"))
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

    /// Issue 25: a malformed URL echoed its password (`invalid server URL
    /// mysql:/root:S3cr3t@127.0.0.1:3308: no host`).
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
        assert_eq!(mask_url("  mysql://u:pw@h"), "  mysql://u:****@h");
    }

    /// Issue 25: `?require_ssl=true` was dropped and the connection made in plain text.
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
