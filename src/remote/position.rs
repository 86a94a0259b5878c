//! Where the server is writing now (`SHOW BINARY LOG STATUS` on MySQL 8.4 and later,
//! `SHOW MASTER STATUS` before and on MariaDB) and the GTIDs it has executed: for start-task's
//! "too late" check and its prechecks. One connection, three queries.

use mysql_async::prelude::*;
use tokio::time::Instant;

use crate::binlog::Flavor;
use crate::binlog::format::split_version;

use super::connection::{query_connection, within};
use super::error::RemoteError;
use super::settings::ConnSettings;

/// Where the server is writing now: the newest binlog file, its size, and the GTIDs executed
/// (`@@gtid_executed` on MySQL, `@@gtid_binlog_pos` on MariaDB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPosition {
    /// The newest binlog file.
    pub file: String,
    /// Its size: where the next transaction will be written.
    pub pos: u64,
    /// The GTIDs executed, as the server prints them (`""` without GTIDs).
    pub gtid: String,
}

/// The server's current binlog position (`SHOW MASTER STATUS`, `SHOW BINARY LOG STATUS` on
/// MySQL 8.4 and later).
pub async fn current_position(
    settings: &ConnSettings,
    deadline: Instant,
) -> Result<ServerPosition, RemoteError> {
    let mut conn = query_connection(settings, deadline).await?;
    let answer = async {
        let version: Option<String> = within(
            settings,
            deadline,
            "reading VERSION()",
            conn.query_first("SELECT VERSION()"),
        )
        .await?;
        let version = version.unwrap_or_default();
        let mariadb = Flavor::of_version(&version) == Flavor::MariaDb;
        let status = if !mariadb && split_version(&version) >= (8, 4, 0) {
            "SHOW BINARY LOG STATUS"
        } else {
            "SHOW MASTER STATUS"
        };
        let row: Option<mysql_async::Row> =
            within(settings, deadline, status, conn.query_first(status)).await?;
        let Some(row) = row else {
            return Err(RemoteError::BinlogOff {
                server: settings.address(),
            });
        };
        let file: String = row.get(0).unwrap_or_default();
        let pos: u64 = row.get(1).unwrap_or_default();
        let gtid_query = if mariadb {
            "SELECT @@global.gtid_binlog_pos"
        } else {
            "SELECT @@global.gtid_executed"
        };
        let gtid: Option<Option<String>> = within(
            settings,
            deadline,
            "reading the executed GTIDs",
            conn.query_first(gtid_query),
        )
        .await?;
        let gtid = gtid.flatten().unwrap_or_default();
        // MySQL prints gtid_executed over several lines; the set is the same without them.
        let gtid: String = gtid.chars().filter(|c| !c.is_whitespace()).collect();
        Ok(ServerPosition { file, pos, gtid })
    }
    .await;
    let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
    answer
}

/// The GTIDs executed before `file:pos` as the server itself computes them, where it can:
/// MariaDB's `BINLOG_GTID_POS(file, pos)` (the position must be an event boundary of a binlog
/// it still has); `None` on MySQL, which has no such function.
pub async fn gtid_pos_at(
    settings: &ConnSettings,
    file: &str,
    pos: u64,
    deadline: Instant,
) -> Result<Option<String>, RemoteError> {
    let mut conn = query_connection(settings, deadline).await?;
    let answer = async {
        let version: Option<String> = within(
            settings,
            deadline,
            "reading VERSION()",
            conn.query_first("SELECT VERSION()"),
        )
        .await?;
        if Flavor::of_version(&version.unwrap_or_default()) != Flavor::MariaDb {
            return Ok(None);
        }
        let gtid: Option<Option<String>> = within(
            settings,
            deadline,
            &format!("reading BINLOG_GTID_POS({file}, {pos})"),
            conn.exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file, pos)),
        )
        .await?;
        Ok(gtid.flatten())
    }
    .await;
    let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
    answer
}
