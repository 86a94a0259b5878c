//! What DM says, in DM's words and shapes: the texts of its errors that startpoint repeats, and
//! the JSON replies of `start-task`, `query-status` and `operate-source` (field names and order
//! as dmctl prints them, 4-space indentation: [`dm_json`]). Every command builds its reply from
//! these types, so that a DM operator reads the same thing from either tool (DM-COMPAT.md §4).

use serde::Serialize;

use crate::resolve;

use super::location::CheckpointLocation;
use super::source::SourceConfig;

/// DM's prefix of a failed precheck (`checkResult`).
pub const CHECK_FAILED: &str = "[code=26005:class=dm-master:scope=internal:level=medium], \
                                Message: fail to check synchronization configuration with \
                                type: check was failed, please see detail";

/// DM's `checkResult` head when only warnings came (`dm/checker/cmd.go`, `CheckSyncConfig`).
pub const CHECK_WARNED: &str =
    "fail to check synchronization configuration with type: no errors but some warnings";

/// How many errors and how many warnings DM keeps in a check's detail (dmctl's
/// `DefaultErrorCnt` and `DefaultWarnCnt`).
pub const CHECK_DETAIL_LIMIT: usize = 10;

/// DM's `checkResult` when every precheck passed (details follow when some warned).
pub const PRECHECK_PASSED: &str = "pre-check is passed. ";

/// operate-source's `source not found` (`show` of a source that was never created).
pub const SOURCE_NOT_FOUND: &str = "source not found";

/// The forms DM takes for a start time (tiflow `dm/pkg/utils/time.go`,
/// `StartTimeFormatHint`); startpoint also takes fractions of a second.
pub const START_TIME_FORMAT_HINT: &str = "'2006-01-02 15:04:05', '2006-01-02T15:04:05', \
     '2006-01-02 15:04:05+08:00', '2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or \
     '2006-01-02T15:04:05+0800'";

/// DM's message for a start time it cannot parse, whole: `TaskCliArgs.Verify`'s annotation
/// (tiflow `dm/config/task_cli_args.go`) of `ParseStartTimeInLoc`'s error, joined by `": "`
/// as pingcap/errors' `Annotatef` joins them, with the input quoted as Go's `%q` quotes it.
pub fn start_time_format_error(input: &str) -> String {
    format!(
        "error while parse start-time, expected in the format like {START_TIME_FORMAT_HINT}: \
         unsupported start-time format {}, expected one of {START_TIME_FORMAT_HINT}",
        go_quote(input)
    )
}

/// Whether Go's `strconv.IsPrint` holds for `c`, for the characters a pasted time may carry:
/// controls, spaces other than U+0020, and the format (Cf) and private-use (Co) characters
/// (soft hyphen, zero-width and direction marks, byte-order mark…) are not printable.
fn go_printable(c: char) -> bool {
    let format_or_private = matches!(c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
        | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xe000..=0xf8ff | 0xfeff
        | 0xfff9..=0xfffb | 0xf0000..=0x10ffff);
    !(c.is_control() || (c.is_whitespace() && c != ' ') || format_or_private)
}

/// A string as Go's `strconv.Quote` writes it: `"`, `\\` and control characters escaped,
/// printable characters as they are.
pub fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !go_printable(c) => match c as u32 {
                n if n <= 0xffff => out.push_str(&format!("\\u{n:04x}")),
                n => out.push_str(&format!("\\U{n:08x}")),
            },
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// dmctl's refusal of `is-sharding` contradicting `shard-mode` (tiflow
/// `dm/ctl/master/start_task.go`).
pub const SHARDING_CONFLICT: &str = "The behaviour of `is-sharding` and `shard-mode` is \
     conflicting. `is-sharding` is deprecated, please use `shard-mode` only.";

/// dm-master's reply to a task file with `remove-meta: true` (tiflow `dm/master/server.go`,
/// `StartTask`): the key does nothing.
pub const REMOVE_META_DEPRECATED: &str = "`remove-meta` in task config is deprecated, please use \
     `start-task ... --remove-meta` instead";

/// DM's checking items (`dm/config/checking_item.go`), which `ignore-checking-items` names.
pub const DM_CHECKING_ITEMS: &[&str] = &[
    "all",
    "dump_privilege",
    "replication_privilege",
    "version",
    "server_id",
    "binlog_enable",
    "binlog_format",
    "binlog_row_image",
    "table_schema",
    "schema_of_shard_tables",
    "auto_increment_ID",
    "online_ddl",
    "binlog_db",
    "meta_position",
    "conn_number",
    "target_privilege",
    "empty_region",
    "region_distribution",
    "downstream_version",
    "free_space",
    "downstream_mutex_features",
    "downstream_table_empty",
    "primary_key",
];

/// DM's `source not found in task's config`.
pub const SOURCE_NOT_IN_TASK: &str = "source not found in task's config";

/// DM's error for a start time after every transaction (code 20057).
pub fn too_late_error(input: &str) -> String {
    format!(
        "[code=20057:class=config:scope=internal:level=high], Message: {}, Workaround: Please \
         check the `--start-time` is expected or try again later.",
        resolve::too_late_message(input)
    )
}

/// DM's refusal to resume a task whose safe-mode exit point differs from its checkpoint when
/// `safe-mode-duration` is 0s (code 36071, `ErrSyncerReprocessWithSafeModeFail`, raised in tiflow
/// `dm/syncer/safe_mode.go`, `enableSafeModeInitializationPhase`).
pub const SAFE_MODE_DURATION_ZERO: &str = "[code=36071:class=sync-unit:scope=internal:level=medium], \
     Message: your `safe-mode-duration` in task.yaml is set to 0s, the task can't be re-processed \
     without safe mode currently, Workaround: Please stop and re-start this task. If you want to \
     start task successfully, you need set `safe-mode-duration` greater than `0s`.";

/// One source's entry of DM's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceResponse {
    pub result: bool,
    pub msg: String,
    pub source: String,
    pub worker: String,
}

/// DM's standard JSON (field order as DM prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartTaskResponse {
    pub result: bool,
    pub msg: String,
    pub sources: Vec<SourceResponse>,
    #[serde(rename = "checkResult")]
    pub check_result: String,
}

impl StartTaskResponse {
    pub fn failed(msg: impl Into<String>) -> StartTaskResponse {
        StartTaskResponse {
            result: false,
            msg: msg.into(),
            sources: Vec::new(),
            check_result: String::new(),
        }
    }
}

/// The worker name of DM's JSON: this machine's host name.
pub fn default_worker() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if name.is_empty() {
        "localhost".to_owned()
    } else {
        name
    }
}

/// DM's JSON text: 4-space indentation.
pub fn dm_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if value.serialize(&mut serializer).is_err() {
        return "{}".to_owned();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A location in DM's column names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationJson {
    pub binlog_name: String,
    pub binlog_pos: u32,
    pub binlog_gtid: String,
}

impl From<&CheckpointLocation> for LocationJson {
    fn from(l: &CheckpointLocation) -> LocationJson {
        LocationJson {
            binlog_name: l.binlog_name.clone(),
            binlog_pos: l.binlog_pos,
            binlog_gtid: l.binlog_gtid.clone(),
        }
    }
}

/// When and how a checkpoint was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetBy {
    #[serde(rename = "setAt")]
    pub set_at: String,
    pub how: String,
    pub worker: String,
    pub tool: String,
}

/// What startpoint adds to a subtask's status: where the checkpoint is kept, what it and the
/// safe-mode exit point are, and when and how startpoint set them. DM has no such fields; they
/// sit in one object of their own, `startpoint`, beside DM's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartpointStatus {
    #[serde(rename = "metaStore")]
    pub meta_store: String,
    #[serde(rename = "metaSchema")]
    pub meta_schema: String,
    pub checkpoint: Option<LocationJson>,
    #[serde(rename = "safeModeExitPoint")]
    pub safe_mode_exit_point: Option<LocationJson>,
    #[serde(rename = "updateTime")]
    pub update_time: Option<String>,
    /// The latest entry of the log for this source, if startpoint set it.
    #[serde(rename = "setBy")]
    pub set_by: Option<SetBy>,
}

/// DM's `SyncStatus` (dmworker.proto), as dmctl prints it (jsonpb: 64-bit integers are
/// strings). Only the syncer's own location means something here; the rest is what DM
/// prints for a sync unit that has not run (DM-COMPAT.md §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    #[serde(rename = "totalEvents")]
    pub total_events: String,
    #[serde(rename = "totalTps")]
    pub total_tps: String,
    #[serde(rename = "recentTps")]
    pub recent_tps: String,
    #[serde(rename = "masterBinlog")]
    pub master_binlog: String,
    #[serde(rename = "masterBinlogGtid")]
    pub master_binlog_gtid: String,
    /// `(name, pos)`, go-mysql's `Position.String()`.
    #[serde(rename = "syncerBinlog")]
    pub syncer_binlog: String,
    #[serde(rename = "syncerBinlogGtid")]
    pub syncer_binlog_gtid: String,
    #[serde(rename = "blockingDDLs")]
    pub blocking_ddls: Vec<String>,
    #[serde(rename = "unresolvedGroups")]
    pub unresolved_groups: Vec<String>,
    pub synced: bool,
    #[serde(rename = "binlogType")]
    pub binlog_type: String,
    #[serde(rename = "secondsBehindMaster")]
    pub seconds_behind_master: String,
    #[serde(rename = "blockDDLOwner")]
    pub block_ddl_owner: String,
    #[serde(rename = "conflictMsg")]
    pub conflict_msg: String,
    #[serde(rename = "totalRows")]
    pub total_rows: String,
    #[serde(rename = "totalRps")]
    pub total_rps: String,
    #[serde(rename = "recentRps")]
    pub recent_rps: String,
    #[serde(rename = "ioTotalBytes")]
    pub io_total_bytes: String,
    #[serde(rename = "dumpIOTotalBytes")]
    pub dump_io_total_bytes: String,
}

impl SyncStatus {
    /// A sync unit that has not run, its checkpoint at `at`.
    pub fn at(at: &CheckpointLocation) -> SyncStatus {
        let zero = || "0".to_owned();
        SyncStatus {
            total_events: zero(),
            total_tps: zero(),
            recent_tps: zero(),
            master_binlog: String::new(),
            master_binlog_gtid: String::new(),
            syncer_binlog: format!("({}, {})", at.binlog_name, at.binlog_pos),
            syncer_binlog_gtid: at.binlog_gtid.clone(),
            blocking_ddls: Vec::new(),
            unresolved_groups: Vec::new(),
            synced: false,
            // What DM's syncer says before it has a binlog streamer (dm/syncer/status.go).
            binlog_type: "unknown".to_owned(),
            seconds_behind_master: zero(),
            block_ddl_owner: String::new(),
            conflict_msg: String::new(),
            total_rows: zero(),
            total_rps: zero(),
            recent_rps: zero(),
            io_total_bytes: zero(),
            dump_io_total_bytes: zero(),
        }
    }
}

/// DM's `SubTaskStatus`: one task on one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubTaskStatus {
    pub name: String,
    /// `Stopped`: startpoint runs no replication; DM runs the task from the checkpoint.
    pub stage: String,
    pub unit: String,
    pub result: Option<()>,
    #[serde(rename = "unresolvedDDLLockID")]
    pub unresolved_ddl_lock_id: String,
    /// The oneof `status`: `sync` when a checkpoint is stored, else `msg` says why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    pub validation: Option<()>,
    pub startpoint: StartpointStatus,
}

/// DM's `SourceStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    pub source: String,
    pub worker: String,
    pub result: Option<()>,
    #[serde(rename = "relayStatus")]
    pub relay_status: Option<()>,
}

/// DM's `QueryStatusResponse`: one source, with every task's subtask on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceQueryStatus {
    pub result: bool,
    pub msg: String,
    #[serde(rename = "sourceStatus")]
    pub source_status: SourceStatus,
    #[serde(rename = "subTaskStatus")]
    pub sub_task_status: Vec<SubTaskStatus>,
}

/// DM's `QueryStatusListResponse`: `query-status TASK` (or with `-s` or `--more`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryStatusResponse {
    pub result: bool,
    pub msg: String,
    pub sources: Vec<SourceQueryStatus>,
}

/// dmctl's own summary of every task (`query-status` alone; `taskResult` in
/// dm/ctl/master/query_status.go).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskListResponse {
    pub result: bool,
    pub msg: String,
    pub tasks: Vec<TaskInfo>,
}

/// One task of [`TaskListResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskInfo {
    #[serde(rename = "taskName")]
    pub task_name: String,
    #[serde(rename = "taskStatus")]
    pub task_status: String,
    pub sources: Vec<String>,
}

/// DM-master's answer for a task it does not know (`extractSources`, dm/master/server.go).
pub fn task_not_found(task: &str) -> String {
    format!("task {task} has no source or not exist")
}

#[derive(Serialize)]
pub struct OperateSourceResponse {
    pub result: bool,
    pub msg: String,
    pub sources: Vec<OperateSourceEntry>,
}

#[derive(Serialize)]
pub struct OperateSourceEntry {
    pub result: bool,
    pub msg: String,
    pub source: String,
    pub worker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ShownConfig>,
}

/// A source config as `show` prints it.
#[derive(Serialize)]
pub struct ShownConfig {
    #[serde(rename = "source-id")]
    pub source_id: String,
    pub flavor: &'static str,
    #[serde(rename = "enable-gtid")]
    pub enable_gtid: bool,
    #[serde(rename = "enable-relay")]
    pub enable_relay: bool,
    #[serde(rename = "relay-dir")]
    pub relay_dir: String,
    #[serde(rename = "server-id", skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u32>,
    pub from: ShownFrom,
}

#[derive(Serialize)]
pub struct ShownFrom {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<ShownSecurity>,
}

#[derive(Serialize)]
pub struct ShownSecurity {
    #[serde(rename = "ssl-ca", skip_serializing_if = "Option::is_none")]
    pub ssl_ca: Option<String>,
    #[serde(rename = "ssl-cert", skip_serializing_if = "Option::is_none")]
    pub ssl_cert: Option<String>,
    #[serde(rename = "ssl-key", skip_serializing_if = "Option::is_none")]
    pub ssl_key: Option<String>,
}

pub fn shown(config: &SourceConfig) -> ShownConfig {
    let c = &config.connection;
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    ShownConfig {
        source_id: config.source_id.clone(),
        flavor: config.flavor.as_str(),
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

#[cfg(test)]
mod tests {

    /// Go's `strconv.Quote`, as DM's `%q` prints the input in its start-time error.
    #[test]
    fn go_quote_escapes_as_go_does() {
        assert_eq!(go_quote("2021-10-21 00:01:00"), "\"2021-10-21 00:01:00\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("\t\n\u{1}\u{7f}"), "\"\\t\\n\\x01\\x7f\"");
        assert_eq!(go_quote("\u{85}\u{a0}é"), "\"\\u0085\\u00a0é\"");
        assert_eq!(
            go_quote("\u{feff}\u{200b}\u{ad}1"),
            "\"\\ufeff\\u200b\\u00ad1\""
        );
    }

    use super::*;

    #[test]
    fn dm_json_uses_four_spaces_and_dm_field_order() {
        let response = StartTaskResponse {
            result: true,
            msg: String::new(),
            sources: vec![SourceResponse {
                result: true,
                msg: String::new(),
                source: "mysql-replica-01".into(),
                worker: "worker1".into(),
            }],
            check_result: "pre-check is passed. ".into(),
        };
        assert_eq!(
            dm_json(&response),
            r#"{
    "result": true,
    "msg": "",
    "sources": [
        {
            "result": true,
            "msg": "",
            "source": "mysql-replica-01",
            "worker": "worker1"
        }
    ],
    "checkResult": "pre-check is passed. "
}"#
        );
    }

    #[test]
    fn too_late_is_dms_text() {
        assert_eq!(
            too_late_error("2031-01-01 00:00:00"),
            "[code=20057:class=config:scope=internal:level=high], Message: start-time \
             2031-01-01 00:00:00 is too late, no binlog location matches it, Workaround: Please \
             check the `--start-time` is expected or try again later."
        );
    }
}
