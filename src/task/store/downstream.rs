//! The downstream store: DM's checkpoint table in the task's `target-database`, written the way
//! DM's syncer writes it (`INSERT … ON DUPLICATE KEY UPDATE`), so a DM cluster started later
//! resumes from it.
//!
//! The schema and tables are created first (`CREATE … IF NOT EXISTS`, as DM does; MySQL commits
//! DDL at once, and empty tables change no task state); then one transaction locks the task's
//! global rows (`SELECT … FOR UPDATE`), checks them against what the plan was decided on, and
//! writes. `--remove-meta` of a whole task empties the checkpoint table inside that transaction
//! and drops DM's other meta tables of the task only after it committed, so a failure never
//! leaves a task without its checkpoint.

use mysql_async::prelude::*;
use mysql_async::{Conn, Params, TxOpts, Value};
use tokio::time::Instant;

use crate::remote::{self, ConnSettings, RemoteError};

use super::{
    Dialect, GlobalRow, LogEntry, RemoveMeta, SqlValue, StoreError, StorePlan, TaskTables,
    check_unchanged, global_row,
};

/// Server errors that mean "nothing stored yet": unknown database, unknown table.
const NOT_THERE: [u16; 2] = [1049, 1146];

/// The target database as a checkpoint store.
#[derive(Debug, Clone)]
pub(crate) struct DownstreamStore {
    pub settings: ConnSettings,
}

type Row8 = (
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

impl DownstreamStore {
    pub(crate) fn new(settings: ConnSettings) -> DownstreamStore {
        DownstreamStore { settings }
    }

    fn error(&self, err: RemoteError) -> StoreError {
        let server = self.settings.address();
        let message = match err {
            RemoteError::Privilege { what, message, .. } => format!(
                "user {} may not {what}: {message}; grant it CREATE, SELECT, INSERT, UPDATE and \
                 DELETE (DROP too for --remove-meta) on the meta schema",
                self.settings.user
            ),
            other => {
                let text = other.to_string();
                text.strip_prefix(&format!("{server}: "))
                    .map(str::to_owned)
                    .unwrap_or(text)
            }
        };
        StoreError::Downstream { server, message }
    }

    async fn within<T>(
        &self,
        deadline: Instant,
        what: &str,
        future: impl Future<Output = Result<T, mysql_async::Error>>,
    ) -> Result<T, StoreError> {
        remote::query(&self.settings, deadline, what, future)
            .await
            .map_err(|e| self.error(e))
    }

    /// Like `within`, but "no such schema or table" is `None`: nothing stored yet.
    async fn maybe<T>(
        &self,
        deadline: Instant,
        what: &str,
        future: impl Future<Output = Result<T, mysql_async::Error>>,
    ) -> Result<Option<T>, StoreError> {
        match remote::query(&self.settings, deadline, what, future).await {
            Ok(value) => Ok(Some(value)),
            Err(RemoteError::Server { code, .. }) if NOT_THERE.contains(&code) => Ok(None),
            Err(err) => Err(self.error(err)),
        }
    }

    /// A connection to the target database. A refused authentication is asked once more
    /// (remote::AUTH_TRIES: the driver signs a 31-byte ed25519 nonce about once in 256).
    pub(crate) async fn connect(&self, deadline: Instant) -> Result<Conn, StoreError> {
        let settings = self.settings.with_tls_loaded().map_err(|e| self.error(e))?;
        let mut tries = 0;
        loop {
            tries += 1;
            let connecting = Conn::new(settings.opts_direct());
            match remote::query(&self.settings, deadline, "connecting", connecting).await {
                Err(RemoteError::Auth { .. }) if tries < remote::AUTH_TRIES => {}
                connected => return connected.map_err(|e| self.error(e)),
            }
        }
    }

    /// The global rows of `task` (none when the schema or table does not exist).
    pub(crate) async fn read(
        &self,
        meta_schema: &str,
        task: &str,
        deadline: Instant,
    ) -> Result<Vec<GlobalRow>, StoreError> {
        let tables = TaskTables::new(Dialect::MySql, meta_schema, task)?;
        let mut conn = self.connect(deadline).await?;
        let rows: Result<Option<Vec<Row8>>, _> = self
            .maybe(
                deadline,
                "reading the checkpoint",
                conn.query(tables.select_global(false)),
            )
            .await;
        let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
        Ok(rows?
            .unwrap_or_default()
            .into_iter()
            .map(into_global)
            .collect())
    }

    /// How many rows DM's sharding meta table of `task` holds (0 when there is none).
    pub(crate) async fn sharding_meta_rows(
        &self,
        meta_schema: &str,
        task: &str,
        deadline: Instant,
    ) -> Result<u64, StoreError> {
        let tables = TaskTables::new(Dialect::MySql, meta_schema, task)?;
        let mut conn = self.connect(deadline).await?;
        let count: Result<Option<Option<u64>>, _> = self
            .maybe(
                deadline,
                "counting the sharding meta rows",
                conn.query_first(tables.count_sharding_meta()),
            )
            .await;
        let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
        Ok(count?.flatten().unwrap_or(0))
    }

    /// The log of `task`, newest first.
    pub(crate) async fn log(
        &self,
        meta_schema: &str,
        task: &str,
        deadline: Instant,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let tables = TaskTables::new(Dialect::MySql, meta_schema, task)?;
        let mut conn = self.connect(deadline).await?;
        type LogRow = (
            String,
            String,
            String,
            Option<String>,
            Option<u32>,
            Option<String>,
            Option<String>,
            Option<u32>,
            Option<String>,
            String,
            String,
        );
        let rows: Result<Option<Vec<LogRow>>, _> = self
            .maybe(
                deadline,
                "reading the startpoint log",
                conn.query(tables.select_log()),
            )
            .await;
        let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
        let rows = rows?.unwrap_or_default();
        Ok(rows
            .into_iter()
            .map(|r| LogEntry {
                source_id: r.0,
                set_at: r.1,
                how: r.2,
                binlog_name: r.3.unwrap_or_default(),
                binlog_pos: r.4.unwrap_or(0),
                binlog_gtid: r.5.unwrap_or_default(),
                exit_safe_binlog_name: r.6.unwrap_or_default(),
                exit_safe_binlog_pos: r.7.unwrap_or(0),
                exit_safe_binlog_gtid: r.8.unwrap_or_default(),
                worker: r.9,
                tool: r.10,
            })
            .collect())
    }

    /// Applies `plan`: DDL, then one checked transaction, then (whole-task `--remove-meta`)
    /// DM's other meta tables dropped.
    pub(crate) async fn apply(
        &self,
        plan: &StorePlan,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let tables = TaskTables::new(Dialect::MySql, &plan.meta_schema, &plan.task)?;
        let mut conn = self.connect(deadline).await?;
        let result = self.apply_on(&mut conn, &tables, plan, deadline).await;
        let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
        result
    }

    async fn apply_on(
        &self,
        conn: &mut Conn,
        tables: &TaskTables,
        plan: &StorePlan,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        for statement in tables.create_statements() {
            self.within(
                deadline,
                "creating the checkpoint tables",
                conn.query_drop(&statement.sql),
            )
            .await?;
        }
        crate::crashpoint::hit("store-after-tables");
        let mut tx = self
            .within(
                deadline,
                "starting a transaction",
                conn.start_transaction(TxOpts::default()),
            )
            .await?;
        let rows: Vec<Row8> = self
            .within(
                deadline,
                "reading the checkpoint",
                tx.query(tables.select_global(true)),
            )
            .await?;
        let rows: Vec<GlobalRow> = rows.into_iter().map(into_global).collect();
        // Dropping the transaction without commit rolls it back.
        check_unchanged(plan, &rows)?;
        for statement in tables.transaction_statements(plan) {
            let params: Vec<Value> = statement
                .params
                .iter()
                .map(|p| match p {
                    SqlValue::Text(t) => Value::Bytes(t.clone().into_bytes()),
                    SqlValue::Int(i) => Value::Int(*i),
                })
                .collect();
            let params = if params.is_empty() {
                Params::Empty
            } else {
                Params::Positional(params)
            };
            self.within(
                deadline,
                "writing the checkpoint",
                tx.exec_drop(statement.sql.as_str(), params),
            )
            .await?;
            crate::crashpoint::hit("store-mid-write");
        }
        crate::crashpoint::hit("store-before-commit");
        self.within(deadline, "committing the checkpoint", tx.commit())
            .await?;
        crate::crashpoint::hit("store-after-commit");
        if plan.remove_meta == RemoveMeta::Task {
            let drops = tables.drop_other_tables();
            for (i, statement) in drops.iter().enumerate() {
                let dropped = self
                    .within(
                        deadline,
                        "dropping the task's other meta tables",
                        conn.query_drop(&statement.sql),
                    )
                    .await;
                if let Err(err) = dropped {
                    let message = match err {
                        StoreError::Downstream { message, .. } => message,
                        other => other.to_string(),
                    };
                    let left: Vec<String> = drops[i..].iter().map(|s| s.sql.clone()).collect();
                    return Err(StoreError::AfterCommit {
                        server: self.settings.address(),
                        statement: statement.sql.clone(),
                        message,
                        left: left.join("; "),
                    });
                }
            }
        }
        Ok(())
    }
}

fn into_global(r: Row8) -> GlobalRow {
    global_row(r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7)
}
