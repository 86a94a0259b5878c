//! The embedded store: DM's checkpoint table in a SQLite file, one file per meta schema
//! (`<state>/meta/<meta-schema>.sqlite3`), written in one `BEGIN IMMEDIATE` transaction.
//! rusqlite with its bundled SQLite: no system library to match. `--remove-meta` empties the
//! task's tables inside the same transaction, so it too is all or nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params_from_iter};

use super::{
    Dialect, GlobalRow, LogEntry, SqlValue, StoreError, StorePlan, TaskTables, check_unchanged,
    global_row,
};

/// A SQLite file holding one meta schema.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    path: PathBuf,
}

impl EmbeddedStore {
    /// The store in the SQLite file at `path` (the state directory names it after the meta
    /// schema, encoded as every name that becomes a file name is).
    pub fn at(path: PathBuf) -> EmbeddedStore {
        EmbeddedStore { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: impl std::fmt::Display) -> StoreError {
        StoreError::Embedded {
            path: self.path.display().to_string(),
            message: message.to_string(),
        }
    }

    fn open(&self, create: bool) -> Result<Option<Connection>, StoreError> {
        if !create && !self.path.exists() {
            return Ok(None);
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.error(e))?;
        }
        let flags = if create {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| self.error(e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| self.error(e))?;
        Ok(Some(conn))
    }

    fn tables(&self, plan_schema: &str, task: &str) -> Result<TaskTables, StoreError> {
        TaskTables::new(Dialect::Sqlite, plan_schema, task)
    }

    /// The global rows of `task` (none when the store or the table does not exist).
    pub fn read(&self, meta_schema: &str, task: &str) -> Result<Vec<GlobalRow>, StoreError> {
        let tables = self.tables(meta_schema, task)?;
        let Some(conn) = self.open(false)? else {
            return Ok(Vec::new());
        };
        read_rows(&conn, &tables, &format!("{task}_syncer_checkpoint")).map_err(|e| self.error(e))
    }

    /// The log of `task`, newest first.
    pub fn log(&self, meta_schema: &str, task: &str) -> Result<Vec<LogEntry>, StoreError> {
        let tables = self.tables(meta_schema, task)?;
        let Some(conn) = self.open(false)? else {
            return Ok(Vec::new());
        };
        if !table_exists(&conn, &format!("{task}_startpoint_log")).map_err(|e| self.error(e))? {
            return Ok(Vec::new());
        }
        let mut statement = conn
            .prepare(&tables.select_log())
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok(LogEntry {
                    source_id: row.get(0)?,
                    set_at: row.get(1)?,
                    how: row.get(2)?,
                    binlog_name: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    binlog_pos: row.get::<_, Option<u32>>(4)?.unwrap_or(0),
                    binlog_gtid: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    exit_safe_binlog_name: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    exit_safe_binlog_pos: row.get::<_, Option<u32>>(7)?.unwrap_or(0),
                    exit_safe_binlog_gtid: row.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    worker: row.get(9)?,
                    tool: row.get(10)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }

    /// Applies `plan` in one transaction; on any error nothing changes.
    pub fn apply(&self, plan: &StorePlan) -> Result<(), StoreError> {
        let tables = self.tables(&plan.meta_schema, &plan.task)?;
        let Some(mut conn) = self.open(true)? else {
            return Err(self.error("cannot be opened"));
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(e))?;
        for statement in tables.create_statements() {
            tx.execute_batch(&statement.sql)
                .map_err(|e| self.error(e))?;
        }
        crate::crashpoint::hit("store-after-tables");
        let rows = read_rows(&tx, &tables, &format!("{}_syncer_checkpoint", plan.task))
            .map_err(|e| self.error(e))?;
        check_unchanged(plan, &rows)?;
        for statement in tables.transaction_statements(plan) {
            let params = statement.params.iter().map(|p| match p {
                SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
                SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
            });
            tx.execute(&statement.sql, params_from_iter(params))
                .map_err(|e| self.error(e))?;
            crate::crashpoint::hit("store-mid-write");
        }
        crate::crashpoint::hit("store-before-commit");
        tx.commit().map_err(|e| self.error(e))?;
        crate::crashpoint::hit("store-after-commit");
        Ok(())
    }
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        [name],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn read_rows(
    conn: &Connection,
    tables: &TaskTables,
    table_name: &str,
) -> rusqlite::Result<Vec<GlobalRow>> {
    if !table_exists(conn, table_name)? {
        return Ok(Vec::new());
    }
    let mut statement = conn.prepare(&tables.select_global(false))?;
    let rows = statement.query_map([], |row| {
        Ok(global_row(
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
        ))
    })?;
    rows.collect()
}
