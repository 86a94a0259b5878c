//! Checkpoint stores: DM's checkpoint table (DM-COMPAT.md §5) in a SQLite file in the state
//! directory (`embedded`) or in the task's target database (`downstream`), where a DM
//! cluster started later reads it.
//!
//! A run's writes are one [`StorePlan`], applied in one transaction per store: the rows the
//! plan was decided against are read again inside the transaction (locked, downstream) and the
//! plan is refused if they changed, so a concurrent start-task or a running DM task cannot be
//! overwritten unseen; anything failing rolls back and leaves the old state. Beside DM's table,
//! `<task>_startpoint_log` records when and how each checkpoint was set (for `query-status`).
//!
//! The statements are built once here, for both SQL dialects, so `--dry-run` prints exactly
//! what would run.

pub(crate) mod downstream;
pub(crate) mod embedded;

use std::collections::BTreeMap;
use std::fmt;

use tokio::time::Instant;

use super::location::CheckpointLocation;
use super::safe_mode::StoredCheckpoint;
use downstream::DownstreamStore;
use embedded::EmbeddedStore;

/// DM's meta tables of a task besides the checkpoint table, dropped by `--remove-meta`
/// (as DM's master does).
const OTHER_DM_META_TABLES: &[&str] = &[
    "loader_checkpoint",
    "lightning_checkpoint_list",
    "syncer_sharding_meta",
    "onlineddl",
    "validator_checkpoint",
    "validator_pending_change",
    "validator_error_change",
    "validator_table_status",
];

/// MySQL's limit on table names.
const MAX_IDENTIFIER: usize = 64;

/// Where checkpoints are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaStoreKind {
    Embedded,
    Downstream,
}

impl MetaStoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetaStoreKind::Embedded => "embedded",
            MetaStoreKind::Downstream => "downstream",
        }
    }
}

/// The store a task's checkpoints are in, for every command that reads or writes them
/// (start-task, `--remove-meta`, query-status). The embedded store's SQLite calls block, so they
/// run on a blocking thread; the downstream store's are network calls under the deadline.
#[derive(Debug, Clone)]
pub(crate) enum CheckpointStore {
    Embedded(EmbeddedStore),
    Downstream(DownstreamStore),
}

impl CheckpointStore {
    /// The SQL its statements are written in.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            CheckpointStore::Embedded(_) => Dialect::Sqlite,
            CheckpointStore::Downstream(_) => Dialect::MySql,
        }
    }

    /// Where it is, for people: the embedded store's file, the downstream's server.
    pub(crate) fn describe(&self) -> String {
        match self {
            CheckpointStore::Embedded(store) => {
                format!("startpoint's embedded store {}", store.path().display())
            }
            CheckpointStore::Downstream(store) => format!(
                "the target database at {}:{}",
                store.settings.host, store.settings.port
            ),
        }
    }

    /// The target database, for the downstream store's prechecks.
    pub(crate) fn downstream(&self) -> Option<&DownstreamStore> {
        match self {
            CheckpointStore::Downstream(store) => Some(store),
            CheckpointStore::Embedded(_) => None,
        }
    }

    /// The global rows of `task` (none when there are no tables yet).
    pub(crate) async fn read(
        &self,
        meta_schema: &str,
        task: &str,
        deadline: Instant,
    ) -> Result<Vec<GlobalRow>, StoreError> {
        match self {
            CheckpointStore::Embedded(store) => {
                let (store, schema, task) =
                    (store.clone(), meta_schema.to_owned(), task.to_owned());
                blocking("reading", move || store.read(&schema, &task)).await
            }
            CheckpointStore::Downstream(store) => store.read(meta_schema, task, deadline).await,
        }
    }

    /// The log of `task`, newest first.
    pub(crate) async fn log(
        &self,
        meta_schema: &str,
        task: &str,
        deadline: Instant,
    ) -> Result<Vec<LogEntry>, StoreError> {
        match self {
            CheckpointStore::Embedded(store) => {
                let (store, schema, task) =
                    (store.clone(), meta_schema.to_owned(), task.to_owned());
                blocking("reading", move || store.log(&schema, &task)).await
            }
            CheckpointStore::Downstream(store) => store.log(meta_schema, task, deadline).await,
        }
    }

    /// Applies `plan` in one transaction (see the module documentation).
    pub(crate) async fn apply(
        &self,
        plan: &StorePlan,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        match self {
            CheckpointStore::Embedded(store) => {
                let (store, plan) = (store.clone(), plan.clone());
                blocking("writing", move || store.apply(&plan)).await
            }
            CheckpointStore::Downstream(store) => store.apply(plan, deadline).await,
        }
    }
}

/// Runs a blocking SQLite call of the embedded store on a blocking thread.
async fn blocking<T: Send + 'static>(
    doing: &str,
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(call).await.unwrap_or_else(|e| {
        Err(StoreError::Invalid(format!(
            "{doing} the embedded store failed: {e}"
        )))
    })
}

/// What `--remove-meta` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveMeta {
    No,
    /// The whole task (DM's `--remove-meta` is per task, whatever `-s` names): every source's
    /// rows, DM's other meta tables of the task and its Lightning error schema.
    Task,
}

/// One source's new global checkpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointWrite {
    pub source_id: String,
    pub checkpoint: CheckpointLocation,
    pub exit_point: Option<CheckpointLocation>,
    /// A start-time start: the source's table checkpoints (`is_global = 0`) go.
    pub drop_table_rows: bool,
    /// How the start point was chosen, for the log.
    pub how: String,
    /// When (UTC, RFC 3339), and by whom.
    pub set_at: String,
    pub worker: String,
}

/// Everything one run writes to one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePlan {
    pub task: String,
    pub meta_schema: String,
    pub remove_meta: RemoveMeta,
    /// What the plan was decided against, per source written; checked again in the transaction.
    pub expected: BTreeMap<String, Option<StoredCheckpoint>>,
    pub writes: Vec<CheckpointWrite>,
}

/// Why a store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the embedded checkpoint store {path}: {message}")]
    Embedded { path: String, message: String },
    #[error("the downstream checkpoint store at {server}: {message}")]
    Downstream { server: String, message: String },
    #[error(
        "the checkpoint of task {task} for source {source_id} changed while start-task was \
         running (it was {before}, it is now {now}): another start-task or a running DM task \
         wrote it; nothing was written: run start-task again"
    )]
    Changed {
        task: String,
        source_id: String,
        before: String,
        now: String,
    },
    #[error("task {task}: --meta-store downstream needs target-database in the task file")]
    NoTarget { task: String },
    /// The checkpoint transaction committed; a statement after it (`--remove-meta`'s drops)
    /// failed. The message says exactly what is written and what is left.
    #[error(
        "the checkpoint is written (committed) in the downstream at {server}, but then \
         `{statement}` failed: {message}; not done: {left}. Run those statements by hand (or \
         start-task --remove-meta again) before the task resumes"
    )]
    AfterCommit {
        server: String,
        statement: String,
        message: String,
        left: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A statement parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
}

impl fmt::Display for SqlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlValue::Text(text) => write!(f, "'{}'", text.replace('\'', "''")),
            SqlValue::Int(i) => write!(f, "{i}"),
        }
    }
}

impl SqlValue {
    /// The value as a literal of `dialect`. A MySQL text with a backslash or NUL is written
    /// in hexadecimal (`X'…'`): a backslash escapes in MySQL's strings unless the session has
    /// `NO_BACKSLASH_ESCAPES`, so no quoted form means the same under both.
    fn literal(&self, dialect: Dialect) -> String {
        match (self, dialect) {
            (SqlValue::Text(text), Dialect::MySql) if text.contains(['\\', '\0']) => {
                let hex: String = text.bytes().map(|b| format!("{b:02X}")).collect();
                format!("X'{hex}'")
            }
            (value, _) => value.to_string(),
        }
    }
}

/// A statement and its parameters (`?` placeholders in both dialects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl Statement {
    fn plain(sql: String) -> Statement {
        Statement {
            sql,
            params: Vec::new(),
        }
    }

    /// The statement with its parameters written in, for people.
    pub fn display(&self) -> String {
        self.with_literals(None)
    }

    /// The statement with its parameters written in as literals of `dialect`, runnable as it
    /// is. A `?` inside a backquoted name (a task named `a?b`) is the name's, not a placeholder.
    pub fn runnable(&self, dialect: Dialect) -> String {
        self.with_literals(Some(dialect))
    }

    fn with_literals(&self, dialect: Option<Dialect>) -> String {
        let mut out = String::new();
        let mut params = self.params.iter();
        // A doubled backquote inside a name toggles twice: the state stays right.
        let mut in_name = false;
        for c in self.sql.chars() {
            match c {
                '`' => {
                    in_name = !in_name;
                    out.push(c);
                }
                '?' if !in_name => match (params.next(), dialect) {
                    (Some(value), Some(dialect)) => out.push_str(&value.literal(dialect)),
                    (Some(value), None) => out.push_str(&value.to_string()),
                    (None, _) => out.push('?'),
                },
                c => out.push(c),
            }
        }
        out
    }
}

/// The SQL flavour of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    MySql,
    Sqlite,
}

/// Table names of one task in one store.
#[derive(Debug, Clone)]
pub struct TaskTables {
    dialect: Dialect,
    schema: String,
    task: String,
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl TaskTables {
    pub fn new(dialect: Dialect, schema: &str, task: &str) -> Result<TaskTables, StoreError> {
        let longest = format!("{task}_syncer_checkpoint");
        if longest.len() > MAX_IDENTIFIER {
            return Err(StoreError::Invalid(format!(
                "task name {task:?} is too long: its checkpoint table {longest} would pass \
                 MySQL's {MAX_IDENTIFIER}-character limit"
            )));
        }
        Ok(TaskTables {
            dialect,
            schema: schema.to_owned(),
            task: task.to_owned(),
        })
    }

    fn table(&self, suffix: &str) -> String {
        let name = format!("{}_{suffix}", self.task);
        match self.dialect {
            Dialect::MySql => format!("{}.{}", quote(&self.schema), quote(&name)),
            // One SQLite file per meta schema: the table name alone.
            Dialect::Sqlite => quote(&name),
        }
    }

    /// `<schema>.<task>_syncer_checkpoint`, quoted.
    pub fn checkpoint_table(&self) -> String {
        self.table("syncer_checkpoint")
    }

    pub fn log_table(&self) -> String {
        self.table("startpoint_log")
    }

    /// DM's DDL (DM-COMPAT.md §5), and the log table's; SQLite gets the same tables in its
    /// dialect (no `ON UPDATE`, so the upsert sets `update_time` itself).
    pub fn create_statements(&self) -> Vec<Statement> {
        let checkpoint = format!(
            "CREATE TABLE IF NOT EXISTS {} (
    id VARCHAR(32) NOT NULL,
    cp_schema VARCHAR(128) NOT NULL,
    cp_table VARCHAR(128) NOT NULL,
    binlog_name VARCHAR(128),
    binlog_pos INT UNSIGNED,
    binlog_gtid TEXT,
    exit_safe_binlog_name VARCHAR(128) DEFAULT '',
    exit_safe_binlog_pos INT UNSIGNED DEFAULT 0,
    exit_safe_binlog_gtid TEXT,
    table_info JSON NOT NULL,
    is_global BOOLEAN,
    create_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    update_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    UNIQUE KEY uk_id_schema_table (id, cp_schema, cp_table)
)",
            self.checkpoint_table()
        );
        let log = format!(
            "CREATE TABLE IF NOT EXISTS {} (
    id VARCHAR(32) NOT NULL,
    set_at VARCHAR(40) NOT NULL,
    how TEXT NOT NULL,
    binlog_name VARCHAR(128),
    binlog_pos INT UNSIGNED,
    binlog_gtid TEXT,
    exit_safe_binlog_name VARCHAR(128) DEFAULT '',
    exit_safe_binlog_pos INT UNSIGNED DEFAULT 0,
    exit_safe_binlog_gtid TEXT,
    worker VARCHAR(128) NOT NULL DEFAULT '',
    tool VARCHAR(64) NOT NULL DEFAULT '',
    KEY idx_id (id)
)",
            self.log_table()
        );
        match self.dialect {
            Dialect::MySql => vec![
                Statement::plain(format!(
                    "CREATE DATABASE IF NOT EXISTS {}",
                    quote(&self.schema)
                )),
                Statement::plain(checkpoint),
                Statement::plain(log),
            ],
            Dialect::Sqlite => vec![
                Statement::plain(sqlite_ddl(&checkpoint)),
                Statement::plain(sqlite_ddl(&log)),
            ],
        }
    }

    /// The global rows (`id`, checkpoint, exit point), for reading.
    pub fn select_global(&self, lock: bool) -> String {
        format!(
            "SELECT id, binlog_name, binlog_pos, binlog_gtid, exit_safe_binlog_name, \
             exit_safe_binlog_pos, exit_safe_binlog_gtid, CAST(update_time AS CHAR) FROM {} \
             WHERE is_global = 1 ORDER BY id{}",
            self.checkpoint_table(),
            if lock && self.dialect == Dialect::MySql {
                " FOR UPDATE"
            } else {
                ""
            }
        )
    }

    /// The log, newest first.
    pub fn select_log(&self) -> String {
        format!(
            "SELECT id, set_at, how, binlog_name, binlog_pos, binlog_gtid, \
             exit_safe_binlog_name, exit_safe_binlog_pos, exit_safe_binlog_gtid, worker, tool \
             FROM {} ORDER BY set_at DESC",
            self.log_table()
        )
    }

    /// The statements of `plan` that run inside the transaction, after the check.
    pub fn transaction_statements(&self, plan: &StorePlan) -> Vec<Statement> {
        let mut out = Vec::new();
        let checkpoint = self.checkpoint_table();
        let log = self.log_table();
        match &plan.remove_meta {
            RemoveMeta::No => {}
            RemoveMeta::Task => {
                out.push(Statement::plain(format!("DELETE FROM {checkpoint}")));
                out.push(Statement::plain(format!("DELETE FROM {log}")));
            }
        }
        for write in &plan.writes {
            if write.drop_table_rows {
                out.push(Statement {
                    sql: format!("DELETE FROM {checkpoint} WHERE id = ? AND is_global = 0"),
                    params: vec![SqlValue::Text(write.source_id.clone())],
                });
            }
            let exit = write.exit_point.clone().unwrap_or_default();
            let location_values = |c: &CheckpointLocation, e: &CheckpointLocation| {
                vec![
                    SqlValue::Text(c.binlog_name.clone()),
                    SqlValue::Int(i64::from(c.binlog_pos)),
                    SqlValue::Text(c.binlog_gtid.clone()),
                    SqlValue::Text(e.binlog_name.clone()),
                    SqlValue::Int(i64::from(e.binlog_pos)),
                    SqlValue::Text(e.binlog_gtid.clone()),
                ]
            };
            let mut params = vec![
                SqlValue::Text(write.source_id.clone()),
                SqlValue::Text(String::new()),
                SqlValue::Text(String::new()),
            ];
            params.extend(location_values(&write.checkpoint, &exit));
            params.push(SqlValue::Text("null".to_owned()));
            params.push(SqlValue::Int(1));
            let columns = "(id, cp_schema, cp_table, binlog_name, binlog_pos, binlog_gtid, \
                           exit_safe_binlog_name, exit_safe_binlog_pos, exit_safe_binlog_gtid, \
                           table_info, is_global) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            let sql = match self.dialect {
                // DM's own write (syncer checkpoint flush): create_time stays.
                Dialect::MySql => format!(
                    "INSERT INTO {checkpoint} {columns} ON DUPLICATE KEY UPDATE \
                     binlog_name = VALUES(binlog_name), binlog_pos = VALUES(binlog_pos), \
                     binlog_gtid = VALUES(binlog_gtid), \
                     exit_safe_binlog_name = VALUES(exit_safe_binlog_name), \
                     exit_safe_binlog_pos = VALUES(exit_safe_binlog_pos), \
                     exit_safe_binlog_gtid = VALUES(exit_safe_binlog_gtid), \
                     table_info = VALUES(table_info), is_global = VALUES(is_global)"
                ),
                Dialect::Sqlite => format!(
                    "INSERT INTO {checkpoint} {columns} ON CONFLICT (id, cp_schema, cp_table) DO \
                     UPDATE SET binlog_name = excluded.binlog_name, \
                     binlog_pos = excluded.binlog_pos, binlog_gtid = excluded.binlog_gtid, \
                     exit_safe_binlog_name = excluded.exit_safe_binlog_name, \
                     exit_safe_binlog_pos = excluded.exit_safe_binlog_pos, \
                     exit_safe_binlog_gtid = excluded.exit_safe_binlog_gtid, \
                     table_info = excluded.table_info, is_global = excluded.is_global, \
                     update_time = CURRENT_TIMESTAMP"
                ),
            };
            out.push(Statement { sql, params });
            let mut params = vec![
                SqlValue::Text(write.source_id.clone()),
                SqlValue::Text(write.set_at.clone()),
                SqlValue::Text(write.how.clone()),
            ];
            params.extend(location_values(&write.checkpoint, &exit));
            params.push(SqlValue::Text(write.worker.clone()));
            params.push(SqlValue::Text(tool_version()));
            out.push(Statement {
                sql: format!(
                    "INSERT INTO {log} (id, set_at, how, binlog_name, binlog_pos, binlog_gtid, \
                     exit_safe_binlog_name, exit_safe_binlog_pos, exit_safe_binlog_gtid, worker, \
                     tool) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                params,
            });
        }
        out
    }

    /// What `--remove-meta` of the whole task drops after the transaction, as DM's
    /// `removeDownstreamMetaData` does (tiflow `dm/master/server.go`): DM's other meta tables,
    /// then the task's Lightning error schema `<meta-schema>_<task>`
    /// (`loader.GetTaskInfoSchemaName`). In the downstream only: the embedded store has none.
    pub fn drop_other_tables(&self) -> Vec<Statement> {
        if self.dialect == Dialect::Sqlite {
            return Vec::new();
        }
        let mut out: Vec<Statement> = OTHER_DM_META_TABLES
            .iter()
            .filter(|suffix| self.task.len() + 1 + suffix.len() <= MAX_IDENTIFIER)
            .map(|suffix| Statement::plain(format!("DROP TABLE IF EXISTS {}", self.table(suffix))))
            .collect();
        let error_schema = format!("{}_{}", self.schema, self.task);
        if error_schema.len() <= MAX_IDENTIFIER {
            out.push(Statement::plain(format!(
                "DROP DATABASE IF EXISTS {}",
                quote(&error_schema)
            )));
        }
        out
    }

    /// The rows of DM's sharding meta table of the task, when it has one: a task that ran
    /// sharded under a DM cluster, whose etcd state `--remove-meta` cannot reach.
    pub fn count_sharding_meta(&self) -> String {
        format!(
            "SELECT COUNT(*) FROM {}",
            self.table("syncer_sharding_meta")
        )
    }

    /// Every statement of `plan`, in order and in full, for `--dry-run`: what the store would
    /// run, its parameters written in as the store's literals; the read under lock is marked
    /// with what is checked of it.
    pub fn describe(&self, plan: &StorePlan) -> Vec<String> {
        self.in_order(
            plan,
            format!(
                "{} -- checked: unchanged since read",
                self.select_global(true)
            ),
        )
    }

    /// `plan` as a MySQL script to run by hand (`export-checkpoint --sql`): the tables made
    /// if missing, then one transaction with DM's upserts and startpoint's log rows. The
    /// check that the rows did not change since they were read needs a program; the script
    /// says so in a comment, and DM's rows are best looked at (query-status) before it runs.
    pub fn script(&self, plan: &StorePlan) -> Vec<String> {
        let read = format!(
            "-- What the rows hold now, before they are replaced (export-checkpoint without \
             --sql refuses rows DM wrote since startpoint did):\n{}",
            self.select_global(true)
        );
        self.in_order(plan, read)
            .into_iter()
            .map(|statement| format!("{statement};"))
            .collect()
    }

    /// Every statement the store runs for `plan`, in order, its values written in; `read`
    /// stands for the read under lock inside the transaction.
    fn in_order(&self, plan: &StorePlan, read: String) -> Vec<String> {
        let runnable = |s: &Statement| s.runnable(self.dialect);
        let mut out: Vec<String> = self.create_statements().iter().map(runnable).collect();
        out.push(match self.dialect {
            Dialect::MySql => "BEGIN".to_owned(),
            Dialect::Sqlite => "BEGIN IMMEDIATE".to_owned(),
        });
        out.push(read);
        out.extend(self.transaction_statements(plan).iter().map(runnable));
        out.push("COMMIT".to_owned());
        if plan.remove_meta == RemoveMeta::Task {
            out.extend(self.drop_other_tables().iter().map(runnable));
        }
        out
    }
}

/// MySQL DDL → SQLite's: the same columns, SQLite's types and keys.
fn sqlite_ddl(mysql: &str) -> String {
    mysql
        .replace("INT UNSIGNED", "INTEGER")
        .replace("JSON NOT NULL", "TEXT NOT NULL")
        .replace(" ON UPDATE CURRENT_TIMESTAMP", "")
        .replace("UNIQUE KEY uk_id_schema_table (", "UNIQUE (")
        .replace(",\n    KEY idx_id (id)", "")
}

/// `startpoint <version> (<commit>)`, recorded in the log.
pub fn tool_version() -> String {
    crate::build_info::tool_version()
}

/// A global row as read: the source and its checkpoint, and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalRow {
    pub source_id: String,
    pub stored: StoredCheckpoint,
    pub update_time: Option<String>,
}

/// The columns of [`TaskTables::select_global`] → a row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn global_row(
    source_id: String,
    name: Option<String>,
    pos: Option<i64>,
    gtid: Option<String>,
    exit_name: Option<String>,
    exit_pos: Option<i64>,
    exit_gtid: Option<String>,
    update_time: Option<String>,
) -> GlobalRow {
    let location =
        |name: Option<String>, pos: Option<i64>, gtid: Option<String>| CheckpointLocation {
            binlog_name: name.unwrap_or_default(),
            binlog_pos: pos.and_then(|p| u32::try_from(p).ok()).unwrap_or(0),
            binlog_gtid: gtid.unwrap_or_default(),
        };
    let exit = location(exit_name, exit_pos, exit_gtid);
    let has_exit = !exit.binlog_name.is_empty() || !exit.binlog_gtid.is_empty();
    GlobalRow {
        source_id,
        stored: StoredCheckpoint {
            checkpoint: location(name, pos, gtid),
            exit_point: has_exit.then_some(exit),
        },
        update_time,
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogEntry {
    pub source_id: String,
    pub set_at: String,
    pub how: String,
    pub binlog_name: String,
    pub binlog_pos: u32,
    pub binlog_gtid: String,
    pub exit_safe_binlog_name: String,
    pub exit_safe_binlog_pos: u32,
    pub exit_safe_binlog_gtid: String,
    pub worker: String,
    pub tool: String,
}

impl LogEntry {
    /// The checkpoint and exit point this entry set, as the global row holds them.
    pub fn stored(&self) -> StoredCheckpoint {
        global_row(
            self.source_id.clone(),
            Some(self.binlog_name.clone()),
            Some(i64::from(self.binlog_pos)),
            Some(self.binlog_gtid.clone()),
            Some(self.exit_safe_binlog_name.clone()),
            Some(i64::from(self.exit_safe_binlog_pos)),
            Some(self.exit_safe_binlog_gtid.clone()),
            None,
        )
        .stored
    }
}

/// Checks the rows read inside the transaction against what the plan was decided on.
pub(crate) fn check_unchanged(plan: &StorePlan, rows: &[GlobalRow]) -> Result<(), StoreError> {
    for (source_id, expected) in &plan.expected {
        let now = rows
            .iter()
            .find(|r| &r.source_id == source_id)
            .map(|r| &r.stored);
        if now != expected.as_ref() {
            let show = |s: Option<&StoredCheckpoint>| match s {
                None => "absent".to_owned(),
                Some(s) => match &s.exit_point {
                    None => s.checkpoint.to_string(),
                    Some(e) => format!("{} with safe mode until {e}", s.checkpoint),
                },
            };
            return Err(StoreError::Changed {
                task: plan.task.clone(),
                source_id: source_id.clone(),
                before: show(expected.as_ref()),
                now: show(now),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> StorePlan {
        StorePlan {
            task: "test".into(),
            meta_schema: "dm_meta".into(),
            remove_meta: RemoveMeta::No,
            expected: BTreeMap::new(),
            writes: vec![CheckpointWrite {
                source_id: "mysql-replica-01".into(),
                checkpoint: CheckpointLocation {
                    binlog_name: "mysql-bin.000003".into(),
                    binlog_pos: 194,
                    binlog_gtid: "0-1-100".into(),
                },
                exit_point: None,
                drop_table_rows: true,
                how: "start-time".into(),
                set_at: "2026-11-23T00:00:00Z".into(),
                worker: "w".into(),
            }],
        }
    }

    #[test]
    fn dm_statements_for_mysql() {
        let tables = TaskTables::new(Dialect::MySql, "dm_meta", "test").unwrap();
        assert_eq!(
            tables.checkpoint_table(),
            "`dm_meta`.`test_syncer_checkpoint`"
        );
        let statements = tables.transaction_statements(&plan());
        assert_eq!(
            statements[0].display(),
            "DELETE FROM `dm_meta`.`test_syncer_checkpoint` WHERE id = 'mysql-replica-01' AND \
             is_global = 0"
        );
        let upsert = statements[1].display();
        assert!(
            upsert.starts_with(
                "INSERT INTO `dm_meta`.`test_syncer_checkpoint` (id, cp_schema, cp_table, \
                 binlog_name, binlog_pos, binlog_gtid, exit_safe_binlog_name, \
                 exit_safe_binlog_pos, exit_safe_binlog_gtid, table_info, is_global) VALUES \
                 ('mysql-replica-01', '', '', 'mysql-bin.000003', 194, '0-1-100', '', 0, '', \
                 'null', 1) ON DUPLICATE KEY UPDATE binlog_name = VALUES(binlog_name)"
            ),
            "{upsert}"
        );
        let ddl = &tables.create_statements()[1].sql;
        assert!(ddl.contains("UNIQUE KEY uk_id_schema_table (id, cp_schema, cp_table)"));
        let sqlite = TaskTables::new(Dialect::Sqlite, "dm_meta", "test")
            .unwrap()
            .create_statements();
        assert!(sqlite[0].sql.contains("    binlog_pos INTEGER,\n"));
        assert!(sqlite[0].sql.contains("UNIQUE (id, cp_schema, cp_table)"));
        assert!(!sqlite[0].sql.contains("ON UPDATE"));
        assert!(
            sqlite[1].sql.ends_with("DEFAULT ''\n)"),
            "{}",
            sqlite[1].sql
        );
        assert!(TaskTables::new(Dialect::MySql, "dm_meta", &"x".repeat(50)).is_err());
    }

    #[test]
    fn values_are_quoted_for_display() {
        let s = Statement {
            sql: "SELECT ?, ?".into(),
            params: vec![SqlValue::Text("it's".into()), SqlValue::Int(4)],
        };
        assert_eq!(s.display(), "SELECT 'it''s', 4");
    }

    /// Runnable literals: a `?` in a backquoted name stays the name's, and a MySQL text with a
    /// backslash or NUL is hexadecimal, the same under `NO_BACKSLASH_ESCAPES` or not.
    #[test]
    fn runnable_statements_keep_names_and_mean_one_value_in_every_sql_mode() {
        let s = Statement {
            sql: "INSERT INTO `dm_meta`.`a?b_log` (x, y) VALUES (?, ?)".into(),
            params: vec![
                SqlValue::Text("C:\\dir\0".into()),
                SqlValue::Text("it's".into()),
            ],
        };
        assert_eq!(
            s.runnable(Dialect::MySql),
            "INSERT INTO `dm_meta`.`a?b_log` (x, y) VALUES (X'433A5C64697200', 'it''s')"
        );
        assert_eq!(
            s.runnable(Dialect::Sqlite),
            "INSERT INTO `dm_meta`.`a?b_log` (x, y) VALUES ('C:\\dir\0', 'it''s')"
        );
    }
}
