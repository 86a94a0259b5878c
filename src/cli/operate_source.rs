//! `startpoint operate-source create|show|stop`: DM source configs kept in the state directory
//! (where DM keeps them in its master's etcd). Output is DM's JSON; passwords never appear.

use std::path::Path;

use serde::Serialize;

use startpoint::task::source::{SourceConfig, SourceFlavor};
use startpoint::task::start::default_worker;
use startpoint::task::state::StateDir;

use super::args::{GlobalArgs, OperateSourceCommand};
use super::print_dm;

#[derive(Serialize)]
struct Response {
    result: bool,
    msg: String,
    sources: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    result: bool,
    msg: String,
    source: String,
    worker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<ShownConfig>,
}

/// A source config as `show` prints it.
#[derive(Serialize)]
struct ShownConfig {
    #[serde(rename = "source-id")]
    source_id: String,
    flavor: &'static str,
    #[serde(rename = "enable-gtid")]
    enable_gtid: bool,
    #[serde(rename = "enable-relay")]
    enable_relay: bool,
    #[serde(rename = "relay-dir")]
    relay_dir: String,
    #[serde(rename = "server-id", skip_serializing_if = "Option::is_none")]
    server_id: Option<u32>,
    from: ShownFrom,
}

#[derive(Serialize)]
struct ShownFrom {
    host: String,
    port: u16,
    user: String,
    password: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    security: Option<ShownSecurity>,
}

#[derive(Serialize)]
struct ShownSecurity {
    #[serde(rename = "ssl-ca", skip_serializing_if = "Option::is_none")]
    ssl_ca: Option<String>,
    #[serde(rename = "ssl-cert", skip_serializing_if = "Option::is_none")]
    ssl_cert: Option<String>,
    #[serde(rename = "ssl-key", skip_serializing_if = "Option::is_none")]
    ssl_key: Option<String>,
}

fn shown(config: &SourceConfig) -> ShownConfig {
    let c = &config.connection;
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    ShownConfig {
        source_id: config.source_id.clone(),
        flavor: match config.flavor {
            SourceFlavor::MySql => "mysql",
            SourceFlavor::MariaDb => "mariadb",
            SourceFlavor::Detect => "",
        },
        enable_gtid: config.enable_gtid,
        enable_relay: config.enable_relay,
        relay_dir: config.relay_dir.display().to_string(),
        server_id: config.server_id,
        from: ShownFrom {
            host: c.host.clone(),
            port: c.port,
            user: c.user.clone(),
            password: if c.password.is_empty() { "" } else { "******" },
            security: c.tls.as_ref().map(|t| ShownSecurity {
                ssl_ca: path(&t.ca),
                ssl_cert: path(&t.cert),
                ssl_key: path(&t.key),
            }),
        },
    }
}

pub fn run(command: &OperateSourceCommand, global: &GlobalArgs) -> anyhow::Result<u8> {
    let state = StateDir::locate(global.state_dir.clone())?;
    let worker = default_worker();
    let entry = |result: bool, msg: String, source: &str| Entry {
        result,
        msg,
        source: source.to_owned(),
        worker: if result {
            worker.clone()
        } else {
            String::new()
        },
        config: None,
    };
    let response = match command {
        OperateSourceCommand::Create { source_files } => {
            let mut parsed = Vec::new();
            for path in source_files {
                match read(path) {
                    Ok(found) => parsed.push(found),
                    Err(message) => return print(&failed(message)),
                }
            }
            let mut sources = Vec::new();
            for (config, text) in &parsed {
                for warning in &config.warnings {
                    eprintln!("warning: {warning}");
                }
                sources.push(match state.create_source(config, text) {
                    Ok(true) => entry(true, String::new(), &config.source_id),
                    Ok(false) => entry(
                        false,
                        format!(
                            "source {id} already exists; run `startpoint operate-source stop \
                             {id}` first to replace it",
                            id = config.source_id
                        ),
                        &config.source_id,
                    ),
                    Err(err) => entry(false, err.to_string(), &config.source_id),
                });
            }
            Response {
                result: sources.iter().all(|s| s.result),
                msg: String::new(),
                sources,
            }
        }
        OperateSourceCommand::Show => match state.sources() {
            Err(err) => failed(err.to_string()),
            Ok(all) => {
                let mut sources: Vec<Entry> = all
                    .iter()
                    .filter(|s| global.sources.is_empty() || global.sources.contains(&s.source_id))
                    .map(|s| Entry {
                        config: Some(shown(s)),
                        ..entry(true, String::new(), &s.source_id)
                    })
                    .collect();
                for id in &global.sources {
                    if !all.iter().any(|s| &s.source_id == id) {
                        sources.push(entry(false, "source not found".to_owned(), id));
                    }
                }
                Response {
                    result: sources.iter().all(|s| s.result),
                    msg: String::new(),
                    sources,
                }
            }
        },
        OperateSourceCommand::Stop { source_id } => {
            let sources = vec![match state.remove_source(source_id) {
                Ok(true) => entry(true, String::new(), source_id),
                Ok(false) => entry(
                    false,
                    format!("source {source_id} does not exist"),
                    source_id,
                ),
                Err(err) => entry(false, err.to_string(), source_id),
            }];
            Response {
                result: sources.iter().all(|s| s.result),
                msg: String::new(),
                sources,
            }
        }
    };
    print(&response)
}

fn read(path: &Path) -> Result<(SourceConfig, String), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the source file: {e}", path.display()))?;
    let config =
        SourceConfig::parse(&path.display().to_string(), &text).map_err(|e| e.to_string())?;
    Ok((config, text))
}

fn failed(msg: String) -> Response {
    Response {
        result: false,
        msg,
        sources: Vec::new(),
    }
}

fn print(response: &Response) -> anyhow::Result<u8> {
    print_dm(response, response.result)
}
