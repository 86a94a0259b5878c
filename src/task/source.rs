//! A DM source file (`source.yaml`, DM-COMPAT.md §2): which upstream server to read, and how.

use std::path::{Path, PathBuf};

use crate::remote::ConnSettings;

use super::sections::{connection, unknown};
use super::yaml::{ConfigError, YamlDoc};

/// Top-level keys DM knows in a source file that startpoint does not use.
const OTHER_DM_KEYS: &[&str] = &[
    // tiflow c7b2588 `dm/config/source_config.go`, `SourceConfig`: every key DM decodes, less
    // the ones read here.
    "enable",
    "auto-fix-gtid",
    "meta-dir",
    "charset",
    "relay-binlog-name",
    "relay-binlog-gtid",
    "purge",
    "checker",
    "tracer",
    "case-sensitive",
    "filters",
];

/// `flavor:` of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFlavor {
    MySql,
    MariaDb,
    /// Empty: detected from the server.
    Detect,
}

impl SourceFlavor {
    /// The source file's `flavor` value (empty: detected).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFlavor::MySql => "mysql",
            SourceFlavor::MariaDb => "mariadb",
            SourceFlavor::Detect => "",
        }
    }
}

/// A DM source file, as far as startpoint reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub source_id: String,
    pub flavor: SourceFlavor,
    pub enable_gtid: bool,
    pub enable_relay: bool,
    pub relay_dir: PathBuf,
    pub connection: ConnSettings,
    /// DM's own replica server_id (never used by startpoint's probes, which must not collide
    /// with a running DM worker).
    pub server_id: Option<u32>,
    /// Keys nobody knows, with their lines: probably typos.
    pub warnings: Vec<String>,
}

/// Why a source file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceConfigError {
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl SourceConfig {
    pub fn load(path: &Path) -> Result<SourceConfig, SourceConfigError> {
        let text = crate::input::read_text(path, "a source file")?;
        Ok(SourceConfig::parse(&path.display().to_string(), &text)?)
    }

    /// Parses a source file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<SourceConfig, ConfigError> {
        let doc = YamlDoc::parse(file, text)?;
        let root = doc.root();
        let id_node = root.require("source-id")?;
        let source_id = id_node.string()?;
        if source_id.is_empty() || source_id.len() > 32 || source_id.chars().any(char::is_control) {
            return Err(ConfigError {
                file: file.to_owned(),
                key: "source-id".to_owned(),
                line: Some(id_node.line()),
                message: format!(
                    "{source_id:?} is not a usable source ID: 1 to 32 characters (DM's checkpoint \
                     table keeps it in a VARCHAR(32))"
                ),
            });
        }
        let flavor = match root.get("flavor")? {
            None => SourceFlavor::Detect,
            Some(child) => match child.string()?.to_ascii_lowercase().as_str() {
                "" => SourceFlavor::Detect,
                "mysql" => SourceFlavor::MySql,
                "mariadb" => SourceFlavor::MariaDb,
                other => {
                    return Err(ConfigError {
                        file: file.to_owned(),
                        key: "flavor".to_owned(),
                        line: Some(child.line()),
                        message: format!(
                            "{other:?} is not a flavor; use mysql, mariadb or leave it empty"
                        ),
                    });
                }
            },
        };
        let flag = |key: &str| -> Result<bool, ConfigError> {
            root.get(key)?.map_or(Ok(false), |c| c.bool())
        };
        let enable_gtid = flag("enable-gtid")?;
        let enable_relay = flag("enable-relay")?;
        let relay_dir = match root.get("relay-dir")? {
            Some(c) => PathBuf::from(c.string()?),
            None => PathBuf::from("relay-dir"),
        };
        // 0, as in DM, means "pick one" (its adjust gives the source a random server_id).
        let server_id = match root.get("server-id")? {
            Some(c) => Some(c.integer(0..=u32::MAX as i64)? as u32).filter(|&id| id != 0),
            None => None,
        };
        let from = root.require("from")?;
        let mut warnings = Vec::new();
        let connection = connection(&from, file, &mut warnings)?;
        warnings.extend(unknown(
            root.unknown_keys(
                &[
                    "source-id",
                    "flavor",
                    "enable-gtid",
                    "enable-relay",
                    "relay-dir",
                    "server-id",
                    "from",
                ],
                OTHER_DM_KEYS,
            )?,
            file,
        )?);
        Ok(SourceConfig {
            source_id,
            flavor,
            enable_gtid,
            enable_relay,
            relay_dir,
            connection,
            server_id,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
source-id: \"mysql-replica-01\"
flavor: mariadb
enable-gtid: true
enable-relay: false
server-id: 101
purge:
  interval: 3600
from:
  host: \"127.0.0.1\"
  user: \"root\"
  password: \"s3cret\"
  port: 3307
  security:
    ssl-ca: /etc/ca.pem
";

    /// `security` is read as DM reads it, and the connection is never weaker than it asks:
    /// inline TLS material (`ssl-ca-base64`, `ssl-*-bytes`) is used, never dropped for plain
    /// text; `cert-allowed-cn`, whose common-name check is not made here, is refused, not
    /// ignored; and empty strings (DM's own `source-no-tls.yaml`) mean no TLS, as in DM.
    #[test]
    fn security_is_read_as_dm_reads_it_and_never_downgraded() {
        use base64::Engine;
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(pem);
        let with = |security: &str| {
            format!("source-id: s\nfrom:\n  host: h\n  user: u\n  security:\n{security}")
        };
        let inline =
            SourceConfig::parse("s.yaml", &with(&format!("    ssl-ca-base64: {encoded}\n")))
                .unwrap();
        let tls = inline.connection.tls.expect("TLS from inline material");
        let ca = tls.inline.as_ref().unwrap().ca.as_ref().unwrap();
        assert_eq!(ca.0, pem.as_bytes());
        assert!(!format!("{tls:?}").contains("MIIB"), "PEM is never shown");
        let empty = SourceConfig::parse(
            "s.yaml",
            &with("    ssl-ca: \"\"\n    ssl-cert: \"\"\n    ssl-key: \"\"\n"),
        )
        .unwrap();
        assert!(empty.connection.tls.is_none(), "empty strings are no TLS");
        let err = SourceConfig::parse(
            "s.yaml",
            &with(&format!(
                "    ssl-ca-base64: {encoded}\n    cert-allowed-cn: [db1]\n"
            )),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cert-allowed-cn") && err.contains("common name"),
            "{err}"
        );
        let err = SourceConfig::parse("s.yaml", &with("    ssl-ca-base64: \"%%%\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not base64"), "{err}");
    }

    #[test]
    fn reads_a_dm_source_file() {
        let source = SourceConfig::parse("source.yaml", SOURCE).unwrap();
        assert_eq!(source.source_id, "mysql-replica-01");
        assert_eq!(source.flavor, SourceFlavor::MariaDb);
        assert!(source.enable_gtid && !source.enable_relay);
        assert_eq!(source.server_id, Some(101));
        assert_eq!(source.connection.display(), "root@127.0.0.1:3307");
        assert_eq!(source.connection.password.expose(), "s3cret");
        assert_eq!(
            source.connection.tls.as_ref().unwrap().ca.as_deref(),
            Some(Path::new("/etc/ca.pem"))
        );
        assert!(source.warnings.is_empty(), "{:?}", source.warnings);
        assert!(!format!("{source:?}").contains("s3cret"));
        // A key DM does not know is refused, as DM refuses it.
        let err = SourceConfig::parse("source.yaml", &format!("{SOURCE}enabel-gtid: false\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("source.yaml:15: enabel-gtid: unknown key"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let err = SourceConfig::parse("s.yaml", "source-id: x\nfrom:\n  host: h\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.yaml:2: from.user: required, but missing"
        );
        let err = SourceConfig::parse(
            "s.yaml",
            "source-id: x\nenable-gtid: maybe\nfrom: {host: h, user: u}\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.yaml:2: enable-gtid: expected true or false, found a string"
        );
        let err = SourceConfig::parse(
            "s.yaml",
            "source-id: x\nflavor: oracle\nfrom: {host: h, user: u}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("flavor"), "{err}");
        let err = SourceConfig::parse("s.yaml", "from: {host: h, user: u}\n").unwrap_err();
        assert_eq!(err.key, "source-id");
    }
}
