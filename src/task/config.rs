//! A DM task file (`task.yaml`, DM-COMPAT.md §2), as far as starting replication needs it: the
//! task's name and mode, where its meta data lives, the target database, and per source the
//! `meta` to start from when there is neither a start time nor a checkpoint.
//!
//! DM task files carry many more keys (routes, filters, block-allow lists, loaders…): those DM
//! knows are accepted silently, keys nobody knows at a level we read come back as warnings with
//! their line (a typo of `meta-schema` should not pass unnoticed), and wrong types, missing
//! required keys and invalid values are errors naming the key and line.

use std::path::PathBuf;

use crate::remote::{ConnSettings, Secret, TlsFiles};

use super::yaml::{ConfigError, Node, YamlDoc};

/// Top-level keys of a DM task file that startpoint does not use (DM's task config).
const OTHER_TASK_KEYS: &[&str] = &[
    "is-sharding",
    "shard-mode",
    "strict-optimistic-shard-mode",
    "ignore-checking-items",
    "case-sensitive",
    "collation_compatible",
    "online-ddl",
    "online-ddl-scheme",
    "shadow-table-rules",
    "trash-table-rules",
    "clean-dump-file",
    "remove-meta",
    "enable-heartbeat",
    "heartbeat-update-interval",
    "heartbeat-report-interval",
    "routes",
    "filters",
    "column-mappings",
    "expression-filter",
    "block-allow-list",
    "black-white-list",
    "mydumpers",
    "loaders",
    "validators",
    "mysql-instances-defaults",
    "enable-ansi-quotes",
    "ansi-quotes",
    "tidb",
    "experimental",
    "binlog-filter",
    "sql-mode",
    "max-allowed-packet",
    "meta",
    "source-id",
    "task-id",
    "status-addr",
    "log-level",
    "log-file",
    "log-format",
    "log-rotate",
    "plugin-path",
    "disable-heartbeat",
    "enable-cache",
    "target",
    "ignore-tables",
    "do-tables",
    "do-dbs",
    "ignore-dbs",
];
const OTHER_TARGET_KEYS: &[&str] = &["max-allowed-packet", "session"];
const OTHER_SECURITY_KEYS: &[&str] = &[
    "cert-allowed-cn",
    "ssl-ca-content",
    "ssl-cert-content",
    "ssl-key-content",
];
const OTHER_INSTANCE_KEYS: &[&str] = &[
    "route-rules",
    "filter-rules",
    "column-mapping-rules",
    "expression-filters",
    "block-allow-list",
    "black-white-list",
    "mydumper",
    "mydumper-config-name",
    "loader",
    "loader-config-name",
    "syncer",
    "syncer-config-name",
    "validator-config-name",
    "mydumper-thread",
    "loader-thread",
    "syncer-thread",
    "continuous-validator-config-name",
];

/// `task-mode:` of a task file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskMode {
    /// Dump, load, then replicate (`all`).
    All,
    /// Dump and load only (`full`).
    Full,
    /// Replicate only (`incremental`).
    Incremental,
    Dump,
    Load,
    /// Load a dump, then replicate (`load&sync`).
    LoadSync,
}

impl TaskMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskMode::All => "all",
            TaskMode::Full => "full",
            TaskMode::Incremental => "incremental",
            TaskMode::Dump => "dump",
            TaskMode::Load => "load",
            TaskMode::LoadSync => "load&sync",
        }
    }

    /// Whether the task replicates binlog at all (has a sync unit).
    pub fn replicates(self) -> bool {
        matches!(
            self,
            TaskMode::All | TaskMode::Incremental | TaskMode::LoadSync
        )
    }
}

/// A binlog location a task file names under `mysql-instances[].meta`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskMeta {
    pub binlog_name: Option<String>,
    pub binlog_pos: Option<u32>,
    pub binlog_gtid: Option<String>,
}

/// One `mysql-instances` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInstance {
    pub source_id: String,
    pub meta: Option<TaskMeta>,
    /// The `safe-mode-duration` of this instance's syncer config, as DM finds it: the inline
    /// `syncer`, else the `syncers` entry `syncer-config-name` names (validated as a Go
    /// duration; `None`: DM's default).
    pub safe_mode_duration: Option<String>,
    /// The line of the entry, for messages.
    pub line: usize,
}

/// A DM task file, as far as startpoint reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskConfig {
    pub name: String,
    pub task_mode: TaskMode,
    /// `meta-schema` (default `dm_meta`).
    pub meta_schema: String,
    /// `timezone`: reads a bare start time in this zone instead of the upstream's.
    pub timezone: Option<String>,
    pub target: Option<ConnSettings>,
    pub instances: Vec<TaskInstance>,
    /// `syncers.<name>.safe-mode: true` somewhere: DM runs in safe mode all the time anyway.
    pub always_safe_mode: bool,
    /// Keys nobody knows, with their lines: probably typos.
    pub warnings: Vec<String>,
}

impl TaskConfig {
    /// Parses a task file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<TaskConfig, ConfigError> {
        let doc = YamlDoc::parse(file, text)?;
        let root = doc.root();
        let invalid = |node: &Node<'_>, message: String| ConfigError {
            file: file.to_owned(),
            key: node.path().to_owned(),
            line: Some(node.line()),
            message,
        };

        let name_node = root.require("name")?;
        let name = name_node.string()?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                &name_node,
                format!(
                    "{name:?} is not a usable task name: use letters, digits, '_' and '-' (it \
                     becomes part of the checkpoint table's name)"
                ),
            ));
        }
        let task_mode = match root.get("task-mode")? {
            None => {
                return Err(ConfigError {
                    file: file.to_owned(),
                    key: "task-mode".to_owned(),
                    line: Some(root.line()),
                    message: "required, but missing (all, full, incremental, dump, load or \
                              load&sync)"
                        .to_owned(),
                });
            }
            Some(node) => match node.string()?.as_str() {
                "all" => TaskMode::All,
                "full" => TaskMode::Full,
                "incremental" => TaskMode::Incremental,
                "dump" => TaskMode::Dump,
                "load" => TaskMode::Load,
                "load&sync" => TaskMode::LoadSync,
                other => {
                    return Err(invalid(
                        &node,
                        format!(
                            "{other:?} is not a task mode; use all, full, incremental, dump, load \
                             or load&sync"
                        ),
                    ));
                }
            },
        };
        let meta_schema = match root.get("meta-schema")? {
            Some(node) => {
                let schema = node.string()?;
                if schema.is_empty() || schema.len() > 64 || schema.contains('`') {
                    return Err(invalid(
                        &node,
                        format!("{schema:?} is not a usable schema name"),
                    ));
                }
                schema
            }
            None => "dm_meta".to_owned(),
        };
        let timezone = root.get("timezone")?.map(|n| n.string()).transpose()?;
        let timezone = timezone.filter(|z| !z.is_empty());
        let mut warnings = Vec::new();
        let target = match root.get("target-database")? {
            Some(node) => Some(connection(&node, file, &mut warnings)?),
            None => None,
        };

        let mut instances: Vec<TaskInstance> = Vec::new();
        let list = root.require("mysql-instances")?;
        for item in list.items()? {
            let source_node = item.require("source-id")?;
            let source_id = source_node.string()?;
            if let Some(first) = instances.iter().find(|i| i.source_id == source_id) {
                return Err(invalid(
                    &source_node,
                    format!(
                        "source {source_id:?} is listed twice (also on line {})",
                        first.line
                    ),
                ));
            }
            let meta = match item.get("meta")? {
                Some(meta) => {
                    let binlog_name = meta.get("binlog-name")?.map(|n| n.string()).transpose()?;
                    let binlog_pos = meta
                        .get("binlog-pos")?
                        .map(|n| n.integer(0..=i64::from(u32::MAX)))
                        .transpose()?
                        .map(|p| p as u32);
                    // Written the way DM reads it back: validated, canonical, no spaces.
                    let binlog_gtid = match meta.get("binlog-gtid")? {
                        Some(node) => Some(
                            super::location::dm_gtid_text(&node.string()?).map_err(|why| {
                                invalid(&node, format!("is not a GTID set DM can read: {why}"))
                            })?,
                        ),
                        None => None,
                    };
                    if binlog_name.is_none() && binlog_gtid.is_none() {
                        return Err(invalid(
                            &meta,
                            "names neither binlog-name nor binlog-gtid; give one or remove meta"
                                .to_owned(),
                        ));
                    }
                    warnings.extend(unknown(
                        meta.unknown_keys(&["binlog-name", "binlog-pos", "binlog-gtid"], &[])?,
                        file,
                    ));
                    Some(TaskMeta {
                        binlog_name,
                        binlog_pos,
                        binlog_gtid,
                    })
                }
                None => None,
            };
            warnings.extend(unknown(
                item.unknown_keys(&["source-id", "meta"], OTHER_INSTANCE_KEYS)?,
                file,
            ));
            // The syncer config DM applies to this instance (`syncer` inline wins over
            // `syncer-config-name`, as DM's adjustment does).
            let inline = match item.get("syncer")? {
                Some(syncer) => syncer.get("safe-mode-duration")?,
                None => None,
            };
            let named = match (&inline, item.get("syncer-config-name")?) {
                (None, Some(name_node)) => {
                    let name = name_node.string()?;
                    let syncer = root
                        .get("syncers")?
                        .map(|syncers| syncers.get(&name))
                        .transpose()?
                        .flatten();
                    match syncer {
                        Some(syncer) => syncer.get("safe-mode-duration")?,
                        None => {
                            return Err(invalid(
                                &name_node,
                                format!(
                                    "names syncer config {name:?}, which syncers does not define"
                                ),
                            ));
                        }
                    }
                }
                _ => None,
            };
            let safe_mode_duration = match inline.or(named) {
                Some(node) => {
                    let text = node.string()?;
                    if !text.trim().is_empty() {
                        super::dm::go_duration_nanos(&text).map_err(|why| {
                            invalid(&node, format!("is not a Go duration DM accepts: {why}"))
                        })?;
                    }
                    Some(text).filter(|t| !t.trim().is_empty())
                }
                None => None,
            };
            instances.push(TaskInstance {
                source_id,
                meta,
                safe_mode_duration,
                line: item.line(),
            });
        }
        if instances.is_empty() {
            return Err(invalid(
                &list,
                "lists no source; add at least one `- source-id: …`".to_owned(),
            ));
        }

        let mut always_safe_mode = false;
        if let Some(syncers) = root.get("syncers")? {
            for (_, syncer) in syncers.children()? {
                if let Some(flag) = syncer.get("safe-mode")? {
                    always_safe_mode |= flag.bool()?;
                }
            }
        }

        warnings.extend(unknown(
            root.unknown_keys(
                &[
                    "name",
                    "task-mode",
                    "meta-schema",
                    "timezone",
                    "target-database",
                    "mysql-instances",
                    "syncers",
                ],
                OTHER_TASK_KEYS,
            )?,
            file,
        ));
        Ok(TaskConfig {
            name,
            task_mode,
            meta_schema,
            timezone,
            target,
            instances,
            always_safe_mode,
            warnings,
        })
    }

    /// The instance for `source_id`.
    pub fn instance(&self, source_id: &str) -> Option<&TaskInstance> {
        self.instances.iter().find(|i| i.source_id == source_id)
    }
}

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
    let password = match node.get("password")? {
        Some(c) => Secret::new(c.string()?),
        None => Secret::default(),
    };
    let tls = match node.get("security")? {
        Some(security) => {
            let path = |key: &str| -> Result<Option<PathBuf>, ConfigError> {
                security
                    .get(key)?
                    .map(|c| c.string().map(PathBuf::from))
                    .transpose()
            };
            let files = TlsFiles {
                ca: path("ssl-ca")?,
                cert: path("ssl-cert")?,
                key: path("ssl-key")?,
            };
            warnings.extend(unknown(
                security.unknown_keys(&["ssl-ca", "ssl-cert", "ssl-key"], OTHER_SECURITY_KEYS)?,
                file,
            ));
            (!files.is_empty()).then_some(files)
        }
        None => None,
    };
    warnings.extend(unknown(
        node.unknown_keys(
            &["host", "port", "user", "password", "security"],
            OTHER_TARGET_KEYS,
        )?,
        file,
    ));
    Ok(ConnSettings {
        host,
        port,
        user,
        password,
        tls,
        compress: false,
        server_id: None,
    })
}

pub(crate) fn unknown(keys: Vec<(String, usize)>, file: &str) -> Vec<String> {
    keys.into_iter()
        .map(|(key, line)| format!("{file}:{line}: unknown key {key} (ignored; a typo?)"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = "\
name: test
task-mode: incremental
meta-schema: \"dm_meta\"
timezone: \"+08:00\"
target-database:
  host: \"127.0.0.1\"
  port: 4000
  user: \"root\"
  password: \"tidb-secret\"
mysql-instances:
  - source-id: \"mysql-replica-01\"
    block-allow-list: \"instance\"
    meta:
      binlog-name: mysql-bin.000003
      binlog-pos: 194
      binlog-gtid: \"0-1-100\"
  - source-id: \"mysql-replica-02\"
    syncer-config-name: \"global\"
block-allow-list:
  instance:
    do-dbs: [\"app\"]
syncers:
  global:
    worker-count: 16
    safe-mode: false
metaschema: typo
";

    #[test]
    fn reads_a_dm_task_file() {
        let task = TaskConfig::parse("task.yaml", TASK).unwrap();
        assert_eq!(task.name, "test");
        assert_eq!(task.task_mode, TaskMode::Incremental);
        assert_eq!(task.meta_schema, "dm_meta");
        assert_eq!(task.timezone.as_deref(), Some("+08:00"));
        let target = task.target.as_ref().unwrap();
        assert_eq!(target.display(), "root@127.0.0.1:4000");
        assert!(!format!("{task:?}").contains("tidb-secret"));
        assert_eq!(task.instances.len(), 2);
        assert_eq!(
            task.instances[0].meta,
            Some(TaskMeta {
                binlog_name: Some("mysql-bin.000003".into()),
                binlog_pos: Some(194),
                binlog_gtid: Some("0-1-100".into()),
            })
        );
        assert!(task.instances[1].meta.is_none());
        assert!(!task.always_safe_mode);
        assert_eq!(
            task.warnings,
            ["task.yaml:26: unknown key metaschema (ignored; a typo?)"]
        );
    }

    /// Issue 16 review: `safe-mode-duration` belongs to the syncer config an instance uses
    /// (its inline `syncer`, else the one `syncer-config-name` names), and is a Go duration.
    #[test]
    fn each_instance_has_its_own_safe_mode_duration() {
        let text = "name: t\ntask-mode: incremental\nmysql-instances:\n  - source-id: a\n    \
                    syncer-config-name: zero\n  - source-id: b\n    syncer-config-name: slow\n  \
                    - source-id: c\n  - source-id: d\n    syncer-config-name: zero\n    \
                    syncer:\n      safe-mode-duration: 30s\nsyncers:\n  zero:\n    \
                    safe-mode-duration: 0s\n  slow:\n    safe-mode-duration: 1m\n";
        let task = TaskConfig::parse("t.yaml", text).unwrap();
        let durations: Vec<Option<&str>> = task
            .instances
            .iter()
            .map(|i| i.safe_mode_duration.as_deref())
            .collect();
        assert_eq!(durations, [Some("0s"), Some("1m"), None, Some("30s")]);
        let bad = text.replace("1m", "1 minute");
        let err = TaskConfig::parse("t.yaml", &bad).unwrap_err().to_string();
        assert!(
            err.contains("safe-mode-duration") && err.contains("Go duration"),
            "{err}"
        );
        let missing = text.replace("syncer-config-name: slow", "syncer-config-name: nope");
        let err = TaskConfig::parse("t.yaml", &missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"nope\""), "{err}");
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let err = |text: &str| TaskConfig::parse("t.yaml", text).unwrap_err().to_string();
        assert_eq!(
            err("task-mode: all\nmysql-instances: [{source-id: a}]\n"),
            "t.yaml:1: name: required, but missing"
        );
        assert_eq!(
            err("name: t\ntask-mode: sometimes\nmysql-instances: [{source-id: a}]\n"),
            "t.yaml:2: task-mode: \"sometimes\" is not a task mode; use all, full, incremental, \
             dump, load or load&sync"
        );
        assert_eq!(
            err(
                "name: t\ntask-mode: all\nmysql-instances:\n  - source-id: a\n    meta:\n      binlog-pos: abc\n      binlog-name: x\n"
            ),
            "t.yaml:6: mysql-instances[0].meta.binlog-pos: expected an integer, found a string"
        );
        assert_eq!(
            err("name: t\ntask-mode: all\nmysql-instances: {source-id: a}\n"),
            "t.yaml:3: mysql-instances: expected a list, found a mapping"
        );
        assert!(
            err("name: t\ntask-mode: all\nmysql-instances:\n  - source-id: a\n  - source-id: a\n")
                .contains("listed twice")
        );
        assert!(err("name: t\ntask-mode: all\n").contains("mysql-instances: required"));
        assert!(
            err("name: \"a b\"\ntask-mode: all\nmysql-instances: [{source-id: a}]\n")
                .contains("not a usable task name")
        );
        assert!(
            err("name: t\ntask-mode: all\ntarget-database: {host: h, port: 99999, user: u}\nmysql-instances: [{source-id: a}]\n")
                .starts_with("t.yaml:3: target-database.port: 99999 is out of range")
        );
    }
}
