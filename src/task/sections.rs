//! The sections DM's task and source files share: a connection (`from:` of a source,
//! `target-database:` of a task) with its `security`, and the rule for keys nobody knows.

use std::path::PathBuf;

use crate::remote::{ConnSettings, InlineTls, Pem, Secret, TlsFiles};

use super::yaml::{ConfigError, Node};

/// Keys of a connection DM knows and startpoint has no use for.
const OTHER_TARGET_KEYS: &[&str] = &["max-allowed-packet", "session"];
const OTHER_SECURITY_KEYS: &[&str] = &[];

/// `host`, `port`, `user`, `password`, `security` of a `from:` or `target-database:` mapping.
pub(crate) fn connection(
    node: &Node<'_>,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<ConnSettings, ConfigError> {
    let host = node.require("host")?.string()?;
    let port = match node.get("port")? {
        Some(c) => c.integer(1..=65535)? as u16,
        None => 3306,
    };
    let user = node.require("user")?.string()?;
    // A password `dmctl encrypt` produced is decrypted with DM's secret key, as DM does.
    let password = match node.get("password")? {
        Some(c) => Secret::new(super::secret::dm_decrypt_or_plaintext(&c.string()?)),
        None => Secret::default(),
    };
    let tls = match node.get("security")? {
        Some(security) => Some(security_config(&security, file)?).filter(|t| !t.is_empty()),
        None => None,
    };
    warnings.extend(unknown(
        node.unknown_keys(
            &["host", "port", "user", "password", "security"],
            OTHER_TARGET_KEYS,
        )?,
        file,
    )?);
    Ok(ConnSettings {
        host,
        port,
        socket: None,
        user,
        password,
        tls,
        compress: false,
        server_id: None,
    })
}

/// A `security` mapping as DM's `Security` reads it (tiflow `dm/config/security/security.go`):
/// an empty string is no file (DM's own `tests/tls/conf/source-no-tls.yaml` has them), and
/// inline PEM (`ssl-*-bytes`, else `ssl-*-base64`) wins over a file (`LoadTLSContent`).
/// `cert-allowed-cn` makes DM check the server certificate's common name; startpoint cannot, so
/// rather than connect without that check it refuses the file.
fn security_config(security: &Node<'_>, file: &str) -> Result<TlsFiles, ConfigError> {
    let text = |key: &str| -> Result<Option<String>, ConfigError> {
        Ok(security
            .get(key)?
            .map(|n| n.string())
            .transpose()?
            .filter(|t| !t.trim().is_empty()))
    };
    let inline = |what: &str| -> Result<Option<Pem>, ConfigError> {
        // yaml.v2 decodes a []byte from a list of byte values, or from a string's bytes.
        if let Some(node) = security.get(&format!("ssl-{what}-bytes"))? {
            let bytes = match node.items() {
                Ok(items) => items
                    .iter()
                    .map(|item| item.integer(0..=255).map(|b| b as u8))
                    .collect::<Result<Vec<u8>, _>>()?,
                Err(_) => node.string()?.into_bytes(),
            };
            if !bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(Pem(bytes)));
            }
        }
        let key = format!("ssl-{what}-base64");
        match (text(&key)?, security.get(&key)?) {
            (Some(encoded), Some(node)) => {
                use base64::Engine;
                let compact: String = encoded.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map(|pem| Some(Pem(pem)))
                    .map_err(|e| ConfigError {
                        file: file.to_owned(),
                        key: node.path().to_owned(),
                        line: Some(node.line()),
                        message: format!("is not base64: {e}"),
                    })
            }
            _ => Ok(None),
        }
    };
    if let Some(cn) = security.get("cert-allowed-cn")? {
        let listed = match cn.items() {
            Ok(items) => !items.is_empty(),
            Err(_) => !cn.string()?.trim().is_empty(),
        };
        if listed {
            return Err(ConfigError {
                file: file.to_owned(),
                key: cn.path().to_owned(),
                line: Some(cn.line()),
                message: "DM checks the server certificate's common name against this list; \
                          startpoint cannot make that check and will not connect without it: \
                          remove the key if the CA check alone is enough"
                    .to_owned(),
            });
        }
    }
    unknown(
        security.unknown_keys(
            &[
                "ssl-ca",
                "ssl-cert",
                "ssl-key",
                "cert-allowed-cn",
                "ssl-ca-bytes",
                "ssl-cert-bytes",
                "ssl-key-bytes",
                "ssl-ca-base64",
                "ssl-cert-base64",
                "ssl-key-base64",
            ],
            OTHER_SECURITY_KEYS,
        )?,
        file,
    )?;
    Ok(TlsFiles {
        ca: text("ssl-ca")?.map(PathBuf::from),
        cert: text("ssl-cert")?.map(PathBuf::from),
        key: text("ssl-key")?.map(PathBuf::from),
        inline: Some(Box::new(InlineTls {
            ca: inline("ca")?,
            cert: inline("cert")?,
            key: inline("key")?,
        })),
        verify: crate::remote::TlsVerify::Identity,
    })
}

/// Keys nobody knows are an error, as in DM, which decodes its files strictly (yaml.v2
/// `UnmarshalStrict`): a misplaced key would otherwise mean something else than the user meant.
/// Keys DM knows and startpoint has no use for are listed by the callers and accepted.
pub(crate) fn unknown(keys: Vec<(String, usize)>, file: &str) -> Result<Vec<String>, ConfigError> {
    match keys.into_iter().next() {
        None => Ok(Vec::new()),
        Some((key, line)) => Err(ConfigError {
            file: file.to_owned(),
            key,
            line: Some(line),
            message: "unknown key: DM rejects a file with a key it does not know (a typo, or \
                      a key at the wrong level?)"
                .to_owned(),
        }),
    }
}
