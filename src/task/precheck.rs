//! Prechecks before a task starts (DM-COMPAT.md §3.1), reported the way DM's checker reports
//! them: each check has a name, a state and, when it fails, the error and the fix.
//!
//! Upstream: it can be reached with the source's credentials; binary logging is on, in ROW
//! format with full row images; `server_id` is set; the user holds REPLICATION SLAVE and
//! REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5 and later); `gtid_mode=ON` on MySQL when
//! the source has `enable-gtid: true`; the source file's `flavor` matches the server.
//! Downstream, when it is the meta store: it can be reached, and the user may create and write
//! the meta schema. Privileges are read from `SHOW GRANTS` (never printed: MariaDB shows
//! password hashes there), with the grants of the user's roles added as DM adds them; only
//! when a role's grants cannot be read is a privilege that may come from it a warning.
//!
//! `checkResult` is built byte for byte as DM builds it; checks are skipped by DM's
//! `ignore-checking-items` names.

use mysql_async::prelude::*;
use serde::Serialize;
use tokio::time::Instant;

use crate::binlog::Flavor;
use crate::remote::{self, ConnSettings, RemoteError};

use super::config::TaskMeta;
use super::dm::{CHECK_DETAIL_LIMIT, CHECK_FAILED, CHECK_WARNED, PRECHECK_PASSED};
use super::source::{SourceConfig, SourceFlavor};
use super::store::downstream::DownstreamStore;

/// The state of one check, as DM prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CheckState {
    Success,
    Warn,
    Fail,
}

/// One error of a check (DM's `checker.Error`, `dm/pkg/checker/real_checker.go`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CheckError {
    pub severity: CheckState,
    pub short_error: String,
}

/// One check's result, in DM's shape (`checker.Result`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CheckItem {
    pub id: usize,
    pub name: String,
    pub desc: String,
    pub state: CheckState,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<CheckError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instruction: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub extra: String,
}

/// DM's `checker.ResultSummary`: counts over every check, before the detail is trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct CheckSummary {
    passed: bool,
    total: usize,
    successful: usize,
    failed: usize,
    warning: usize,
}

/// DM's `checker.Results`.
#[derive(Serialize)]
struct CheckResults<'a> {
    results: Vec<CheckItem>,
    summary: &'a CheckSummary,
}

/// All checks of a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrecheckReport {
    pub items: Vec<CheckItem>,
    /// `ignore-checking-items: ["all"]`: no check ran.
    pub all_ignored: bool,
}

/// The DM checking item a check of ours belongs to, for `ignore-checking-items` (connections
/// and our own checks belong to none: only `all` skips them).
pub(crate) fn dm_item(check: &str) -> Option<&'static str> {
    Some(match check {
        "mysql_binlog_enable" => "binlog_enable",
        "mysql_binlog_format" => "binlog_format",
        "mysql_binlog_row_image" => "binlog_row_image",
        "mysql_server_id" => "server_id",
        "source_db_replication_privilege" => "replication_privilege",
        "meta_schema_privilege" => "target_privilege",
        "meta_position" => "meta_position",
        _ => return None,
    })
}

impl PrecheckReport {
    /// Adds checks; ids count from 0, as DM numbers its checkers.
    pub(crate) fn extend(&mut self, items: Vec<CheckItem>) {
        for mut item in items {
            item.id = self.items.len();
            self.items.push(item);
        }
    }

    /// The report of a task that ignores every check.
    pub(crate) fn ignored() -> PrecheckReport {
        PrecheckReport {
            items: Vec::new(),
            all_ignored: true,
        }
    }

    pub(crate) fn passed(&self) -> bool {
        self.items.iter().all(|i| i.state != CheckState::Fail)
    }

    /// `checkResult` of DM's JSON, exactly as DM builds it (`dm/checker/cmd.go`
    /// `CheckSyncConfig`, `dm/checker/checker.go` `Process` and `filterResults`, the class set by
    /// `dm/master/server.go`): nothing but `pre-check is passed. ` when every check succeeded;
    /// otherwise a head (failure, or "no errors but some warnings") and the detail: the checks
    /// that did not succeed, at most 10 errors and 10 warnings, with the summary of all, as Go's
    /// `json.MarshalIndent(v, "\t", "\t")` prints it.
    pub(crate) fn check_result(&self) -> String {
        if self.all_ignored {
            return String::new();
        }
        let count = |state: CheckState| self.items.iter().filter(|i| i.state == state).count();
        let summary = CheckSummary {
            passed: count(CheckState::Fail) == 0,
            total: self.items.len(),
            successful: count(CheckState::Success),
            failed: count(CheckState::Fail),
            warning: count(CheckState::Warn),
        };
        if summary.successful == summary.total {
            return PRECHECK_PASSED.to_owned();
        }
        let (mut errors_left, mut warnings_left) = (CHECK_DETAIL_LIMIT, CHECK_DETAIL_LIMIT);
        let mut take = |state: CheckState| {
            let left = match state {
                CheckState::Fail => &mut errors_left,
                CheckState::Warn => &mut warnings_left,
                CheckState::Success => return false,
            };
            let kept = *left > 0;
            *left = left.saturating_sub(1);
            kept
        };
        let mut results = Vec::new();
        for item in self.items.iter().filter(|i| i.state != CheckState::Success) {
            if item.errors.is_empty() {
                if take(item.state) {
                    results.push(item.clone());
                }
                continue;
            }
            let errors: Vec<CheckError> = item
                .errors
                .iter()
                .filter(|e| take(e.severity))
                .cloned()
                .collect();
            if !errors.is_empty() {
                results.push(CheckItem {
                    errors,
                    ..item.clone()
                });
            }
        }
        let detail = go_marshal_indent(&CheckResults {
            results,
            summary: &summary,
        });
        match summary.passed {
            false => format!("{CHECK_FAILED}\n detail: {detail}"),
            true => format!("{CHECK_WARNED}\n detail: {detail}"),
        }
    }
}

/// Go's `json.MarshalIndent(v, "\t", "\t")`: tab indentation, every line after the first
/// prefixed by a tab, and `<`, `>`, `&`, U+2028 and U+2029 escaped as `encoding/json` does.
fn go_marshal_indent<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    if value.serialize(&mut serializer).is_err() {
        return "{}".to_owned();
    }
    String::from_utf8_lossy(&out)
        .replace('\n', "\n\t")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn item(
    name: &str,
    desc: &str,
    address: &str,
    outcome: Result<(), (CheckState, String, String)>,
) -> CheckItem {
    let extra = format!("address of db instance - {address}");
    match outcome {
        Ok(()) => CheckItem {
            id: 0,
            name: name.to_owned(),
            desc: desc.to_owned(),
            state: CheckState::Success,
            errors: Vec::new(),
            instruction: String::new(),
            extra,
        },
        Err((state, error, fix)) => CheckItem {
            id: 0,
            name: name.to_owned(),
            desc: desc.to_owned(),
            state,
            errors: vec![CheckError {
                severity: state,
                short_error: error,
            }],
            instruction: fix,
            extra,
        },
    }
}

fn fail(error: String, fix: &str) -> Verdict {
    Err((CheckState::Fail, error, fix.to_owned()))
}

/// What a connection failure tells the user to do.
fn connection_fix(err: &RemoteError) -> &'static str {
    match err {
        RemoteError::Auth { .. } => {
            "check from.user and from.password in the source config (operate-source create it again)"
        }
        RemoteError::Tls { .. } => {
            "check the TLS files (from.security or --ssl-ca/--ssl-cert/--ssl-key)"
        }
        RemoteError::AuthPlugin { .. } => {
            "give the account a password with mysql_native_password, caching_sha2_password or \
             ed25519, or use another account in the source config"
        }
        RemoteError::ConnectionLimit { .. } => {
            "the account has reached its connection limit (max_user_connections): close other \
             sessions of it or raise the limit, then run start-task again"
        }
        RemoteError::TlsRequired { .. } => {
            "the server accepts only TLS: add from.security (ssl-ca, and ssl-cert/ssl-key if it \
             wants a client certificate) to the source config, or give --ssl-ca"
        }
        _ => {
            "check that the server is running and reachable at from.host:from.port, then run start-task again"
        }
    }
}

/// `VERSION()`, `log_bin`, `binlog_format`, `server_id`.
type ServerVariables = (String, Option<String>, Option<String>, Option<u64>);

/// A check's verdict: passed, or its state (fail or warn), the error and the fix.
type Verdict = Result<(), (CheckState, String, String)>;

/// What the upstream checks judge, read from the server once.
struct Upstream<'a> {
    source: &'a SourceConfig,
    user: &'a str,
    version: String,
    mariadb: bool,
    log_bin: Option<String>,
    format: String,
    /// Missing before MySQL 5.6 / MariaDB 10.1.6.
    row_image: Option<String>,
    server_id: Option<u64>,
    privileges: Grants,
    /// Read only for a MySQL source with `enable-gtid: true`.
    gtid_mode: Option<String>,
}

impl Upstream<'_> {
    /// `text` with the source named, as DM's check results name it.
    fn named(&self, text: String) -> String {
        format!("source {}: {text}", self.source.source_id)
    }
}

/// One of the upstream checks: DM's name and description, and its verdict on the facts read
/// (`None`: it does not apply to this source). The checks run in this order, as DM's checker
/// is a list of checkers, each with its name and result.
struct UpstreamCheck {
    name: &'static str,
    desc: &'static str,
    verdict: fn(&Upstream<'_>) -> Option<Verdict>,
}

const UPSTREAM_CHECKS: &[UpstreamCheck] = &[
    UpstreamCheck {
        name: "mysql_binlog_enable",
        desc: "check whether mysql binlog is enabled",
        verdict: binlog_enabled,
    },
    UpstreamCheck {
        name: "mysql_binlog_format",
        desc: "check whether mysql binlog_format is ROW",
        verdict: binlog_format_row,
    },
    UpstreamCheck {
        name: "mysql_binlog_row_image",
        desc: "check whether mysql binlog_row_image is FULL",
        verdict: binlog_row_image_full,
    },
    UpstreamCheck {
        name: "mysql_server_id",
        desc: "check whether mysql server_id has been greater than 0",
        verdict: server_id_set,
    },
    UpstreamCheck {
        name: "source_db_replication_privilege",
        desc: "check replication privileges of source DB",
        verdict: replication_privileges,
    },
    UpstreamCheck {
        name: "mysql_gtid_mode",
        desc: "check whether mysql gtid_mode is ON for enable-gtid: true",
        verdict: gtid_mode_on,
    },
    UpstreamCheck {
        name: "source_db_flavor",
        desc: "check whether the source config's flavor matches the server",
        verdict: flavor_matches,
    },
];

fn binlog_enabled(up: &Upstream<'_>) -> Option<Verdict> {
    Some(match up.log_bin.as_deref() {
        Some("1" | "ON" | "on") => Ok(()),
        other => fail(
            up.named(format!("log_bin is {}", other.unwrap_or("OFF"))),
            "start the server with binary logging on (log_bin = mysql-bin in its config) and a \
             server_id",
        ),
    })
}

fn binlog_format_row(up: &Upstream<'_>) -> Option<Verdict> {
    Some(match up.format.eq_ignore_ascii_case("ROW") {
        true => Ok(()),
        false => fail(
            up.named(format!("binlog_format is {}, not ROW", up.format)),
            "SET GLOBAL binlog_format = 'ROW' and set binlog_format = ROW in the server's config",
        ),
    })
}

fn binlog_row_image_full(up: &Upstream<'_>) -> Option<Verdict> {
    Some(match &up.row_image {
        Some(image) if !image.eq_ignore_ascii_case("FULL") => fail(
            up.named(format!("binlog_row_image is {image}, not FULL")),
            "SET GLOBAL binlog_row_image = 'FULL' and set binlog_row_image = FULL in the server's \
             config",
        ),
        _ => Ok(()),
    })
}

/// DM only warns (`dm/pkg/checker/mysql_server.go`, MySQLServerIDChecker).
fn server_id_set(up: &Upstream<'_>) -> Option<Verdict> {
    Some(match up.server_id.unwrap_or(0) > 0 {
        true => Ok(()),
        false => Err((
            CheckState::Warn,
            up.named("server_id is 0".to_owned()),
            "set a server_id greater than 0 in the server's config".to_owned(),
        )),
    })
}

/// REPLICATION SLAVE, and REPLICATION CLIENT (BINLOG MONITOR on MariaDB); SUPER grants what
/// REPLICATION CLIENT does, and DM counts it so (`dm/pkg/checker/privilege.go`). Privileges that
/// may come from a role that cannot be read only warn.
fn replication_privileges(up: &Upstream<'_>) -> Option<Verdict> {
    let client = match up.mariadb {
        true => ["BINLOG MONITOR", "REPLICATION CLIENT"],
        false => ["REPLICATION CLIENT", "REPLICATION CLIENT"],
    };
    let privileges = &up.privileges;
    let mut missing = Vec::new();
    if !privileges.has_global("REPLICATION SLAVE") {
        missing.push("REPLICATION SLAVE");
    }
    if !client.iter().any(|p| privileges.has_global(p)) && !privileges.has_global("SUPER") {
        missing.push(client[0]);
    }
    if missing.is_empty() {
        return Some(Ok(()));
    }
    let error = up.named(format!(
        "user {} lacks {} on *.*",
        up.user,
        missing.join(" and ")
    ));
    let fix = format!(
        "GRANT {} ON *.* TO the user {} connects as",
        missing.join(", "),
        up.user
    );
    let error = match privileges.roles {
        true => format!("{error} (it may come from a role, which cannot be checked)"),
        false => error,
    };
    Some(Err((privileges.shortfall(), error, fix)))
}

fn gtid_mode_on(up: &Upstream<'_>) -> Option<Verdict> {
    let mode = up.gtid_mode.as_deref()?;
    Some(match mode.eq_ignore_ascii_case("ON") {
        true => Ok(()),
        false => fail(
            up.named(format!("gtid_mode is {mode} but enable-gtid is true")),
            "turn gtid_mode ON on the server, or set enable-gtid: false in the source config",
        ),
    })
}

/// Not one of DM's checks: a warning at most.
fn flavor_matches(up: &Upstream<'_>) -> Option<Verdict> {
    let mismatch = match up.source.flavor {
        SourceFlavor::MySql => up.mariadb,
        SourceFlavor::MariaDb => !up.mariadb,
        SourceFlavor::Detect => false,
    };
    Some(match mismatch {
        false => Ok(()),
        true => Err((
            CheckState::Warn,
            up.named(format!(
                "flavor is {} but the server is {}",
                up.source.flavor.as_str(),
                up.version
            )),
            "set flavor to the server's (mysql or mariadb) or leave it empty, then operate-source \
             create the source again"
                .to_owned(),
        )),
    })
}

/// Reads what the upstream checks judge: the server's variables and the user's grants (with
/// the grants of its roles), and `gtid_mode` where it matters.
async fn read_upstream<'a>(
    conn: &mut mysql_async::Conn,
    source: &'a SourceConfig,
    settings: &'a ConnSettings,
    deadline: Instant,
) -> Result<Upstream<'a>, RemoteError> {
    let row: Option<ServerVariables> = remote::query(
        settings,
        deadline,
        "reading server variables",
        conn.query_first(
            "SELECT VERSION(), CAST(@@global.log_bin AS CHAR), @@global.binlog_format, \
             @@global.server_id",
        ),
    )
    .await?;
    let (version, log_bin, format, server_id) = row.unwrap_or_default();
    // binlog_row_image is missing before MySQL 5.6 / MariaDB 10.1.6.
    let row_image: Option<Option<String>> = conn
        .query_first("SELECT @@global.binlog_row_image")
        .await
        .unwrap_or(None);
    let grants: Vec<String> = remote::query(
        settings,
        deadline,
        "reading the user's grants (SHOW GRANTS)",
        conn.query("SHOW GRANTS FOR CURRENT_USER()"),
    )
    .await?;
    let mariadb = Flavor::of_version(&version) == Flavor::MariaDb;
    let grants = with_role_grants(conn, grants, deadline).await;
    let gtid_mode = match source.enable_gtid && !mariadb {
        true => {
            let mode: Option<Option<String>> = conn
                .query_first("SELECT @@global.gtid_mode")
                .await
                .unwrap_or(None);
            Some(mode.flatten().unwrap_or_else(|| "OFF".to_owned()))
        }
        false => None,
    };
    Ok(Upstream {
        source,
        user: &settings.user,
        version,
        mariadb,
        log_bin,
        format: format.unwrap_or_default(),
        row_image: row_image.flatten(),
        server_id,
        privileges: Grants::parse(&grants),
        gtid_mode,
    })
}

/// The upstream checks of one source: the connection, then [`UPSTREAM_CHECKS`] in order, then
/// DM's meta position check when the task starts from its meta.
pub(crate) async fn check_upstream(
    source: &SourceConfig,
    settings: &ConnSettings,
    meta: Option<&TaskMeta>,
    deadline: Instant,
) -> Vec<CheckItem> {
    let address = settings.address();
    let connection = (
        "source_db_connection",
        "check whether the source database can be connected",
    );
    let mut conn = match remote::query_connection(settings, deadline).await {
        Ok(conn) => conn,
        Err(err) => {
            let error = format!("source {}: {err}", source.source_id);
            let fix = connection_fix(&err);
            return vec![item(connection.0, connection.1, &address, fail(error, fix))];
        }
    };
    let mut items = vec![item(connection.0, connection.1, &address, Ok(()))];
    let upstream = match read_upstream(&mut conn, source, settings, deadline).await {
        Ok(upstream) => upstream,
        Err(err) => {
            let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
            items.push(item(
                "source_db_variables",
                "check the source database's variables and grants",
                &address,
                fail(
                    format!("source {}: {err}", source.source_id),
                    "check the server and the user's privileges, then run start-task again",
                ),
            ));
            return items;
        }
    };
    for check in UPSTREAM_CHECKS {
        if let Some(verdict) = (check.verdict)(&upstream) {
            items.push(item(check.name, check.desc, &address, verdict));
        }
    }
    if let Some(meta) = meta
        && let Some(verdict) = meta_position(&mut conn, &upstream, settings, meta, deadline).await
    {
        items.push(item(
            "meta_position",
            "check whether meta position is valid for db",
            &address,
            verdict,
        ));
    }
    let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
    items
}

/// DM's meta position check (`dm/pkg/checker/binlog.go`, MetaPositionChecker), run when the task
/// starts from its meta; `None` when the meta names nothing this source reads. With
/// enable-gtid DM dumps from the GTID set, which the server refuses when it has purged
/// transactions the set lacks: asked with GTID_SUBSET on MySQL, and on MariaDB against the GTID
/// state at the start of its oldest binlog. Without it the file must be listed and the position
/// inside it.
async fn meta_position(
    conn: &mut mysql_async::Conn,
    up: &Upstream<'_>,
    settings: &ConnSettings,
    meta: &TaskMeta,
    deadline: Instant,
) -> Option<Verdict> {
    let instruction = "you should make sure your meta's binlog position is valid and not purged, \
                       and the user has REPLICATION SLAVE privilege";
    if up.source.enable_gtid {
        let gtid = meta.binlog_gtid.as_ref()?;
        return Some(
            match purged_beyond(conn, settings, up.mariadb, gtid, deadline).await {
                Ok(None) => Ok(()),
                Ok(Some(why)) => fail(up.named(why), instruction),
                Err(err) => fail(up.named(err.to_string()), instruction),
            },
        );
    }
    let name = meta.binlog_name.as_ref()?;
    let file = super::location::upstream_file_name(name);
    let pos = u64::from(meta.binlog_pos.unwrap_or(4));
    // Rows, not tuples: MySQL 8.0.14 and later add a third column (`Encrypted`).
    let listed: Result<Vec<(String, u64)>, _> = remote::query(
        settings,
        deadline,
        "listing the binary logs (SHOW BINARY LOGS)",
        conn.query::<mysql_async::Row, _>("SHOW BINARY LOGS"),
    )
    .await
    .map(|rows| {
        rows.into_iter()
            .filter_map(|row| {
                let name = row.get_opt::<String, _>(0)?.ok()?;
                let size = row.get_opt::<u64, _>(1)?.ok()?;
                Some((name, size))
            })
            .collect()
    });
    Some(match listed {
        Err(err) => fail(up.named(err.to_string()), instruction),
        Ok(files) => match files.iter().find(|(f, _)| *f == file) {
            None => fail(
                up.named(format!(
                    "meta binlog-name {name} is not on the upstream (its binary logs: {})",
                    files.first().map_or("none".to_owned(), |(first, _)| {
                        format!("{first} to {}", files.last().map_or("", |l| &l.0))
                    })
                )),
                instruction,
            ),
            Some((_, size)) if pos > *size => fail(
                up.named(format!(
                    "meta binlog-pos {pos} is past the end of {file} ({size} bytes)"
                )),
                instruction,
            ),
            Some(_) => Ok(()),
        },
    })
}

/// Why the upstream cannot serve a dump from the GTID set `gtid` (it purged transactions the
/// set lacks), or `None` when it can.
async fn purged_beyond(
    conn: &mut mysql_async::Conn,
    settings: &ConnSettings,
    mariadb: bool,
    gtid: &str,
    deadline: Instant,
) -> Result<Option<String>, RemoteError> {
    if !mariadb {
        let covered: Option<i64> = remote::query(
            settings,
            deadline,
            "comparing the meta's GTID set with @@gtid_purged",
            conn.exec_first("SELECT GTID_SUBSET(@@global.gtid_purged, ?)", (gtid,)),
        )
        .await?;
        return Ok((covered != Some(1)).then(|| {
            format!("meta binlog-gtid {gtid} lacks transactions the upstream has purged")
        }));
    }
    let files: Vec<mysql_async::Row> = remote::query(
        settings,
        deadline,
        "listing the binary logs (SHOW BINARY LOGS)",
        conn.query("SHOW BINARY LOGS"),
    )
    .await?;
    let Some(first) = files
        .first()
        .and_then(|row| row.get_opt::<String, _>(0))
        .and_then(Result::ok)
    else {
        return Ok(Some("the upstream has no binary logs".to_owned()));
    };
    let start: Option<Option<String>> = remote::query(
        settings,
        deadline,
        "reading the GTID state at the oldest binary log",
        conn.exec_first("SELECT BINLOG_GTID_POS(?, 4)", (first.as_str(),)),
    )
    .await?;
    let (Ok(start), Ok(meta)) = (
        start
            .flatten()
            .unwrap_or_default()
            .parse::<crate::gtid::MariaGtidSet>(),
        gtid.parse::<crate::gtid::MariaGtidSet>(),
    ) else {
        return Ok(None);
    };
    // Per domain, MariaDB serves a position from the oldest binlog on: the meta must not be
    // behind the state that binlog starts from.
    for oldest in start.iter() {
        let reached = meta
            .iter()
            .filter(|g| g.domain == oldest.domain)
            .map(|g| g.seq)
            .max();
        if reached.is_some_and(|seq| seq < oldest.seq) {
            return Ok(Some(format!(
                "meta binlog-gtid {gtid} is behind the oldest binary log {first}, which starts at \
                 {oldest} in domain {}: those transactions are purged",
                oldest.domain
            )));
        }
    }
    Ok(None)
}

/// The downstream checks when it holds the checkpoint.
pub(crate) async fn check_downstream(
    store: &DownstreamStore,
    meta_schema: &str,
    task: &str,
    remove_meta: bool,
    deadline: Instant,
) -> Vec<CheckItem> {
    let address = store.settings.address();
    let mut conn = match store.connect(deadline).await {
        Ok(conn) => conn,
        Err(err) => {
            return vec![item(
                "target_db_connection",
                "check whether the target database can be connected",
                &address,
                fail(
                    format!("target-database: {err}"),
                    "check target-database in the task file and that the server is reachable",
                ),
            )];
        }
    };
    let mut items = vec![item(
        "target_db_connection",
        "check whether the target database can be connected",
        &address,
        Ok(()),
    )];
    let grants: Result<Vec<String>, _> =
        tokio::time::timeout_at(deadline, conn.query("SHOW GRANTS FOR CURRENT_USER()"))
            .await
            .unwrap_or_else(|_| {
                Err(mysql_async::Error::Other(
                    "no answer before the deadline".into(),
                ))
            });
    let grants = match grants {
        Ok(lines) => Ok(with_role_grants(&mut conn, lines, deadline).await),
        Err(err) => Err(err),
    };
    let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
    let mut needed = vec!["CREATE", "SELECT", "INSERT", "UPDATE", "DELETE"];
    if remove_meta {
        needed.push("DROP");
    }
    let outcome = match grants {
        Err(err) => Err((
            CheckState::Warn,
            format!("target-database: cannot read the grants: {err}"),
            String::new(),
        )),
        Ok(grants) => meta_schema_verdict(
            &Grants::parse(&grants),
            &needed,
            meta_schema,
            task,
            remove_meta,
            &store.settings.user,
        ),
    };
    items.push(item(
        "meta_schema_privilege",
        "check whether the target database user can create and write the meta schema",
        &address,
        outcome,
    ));
    items
}

/// Whether the target user may create and write the meta schema (`needed` on it) and, for
/// `--remove-meta`, drop DM's Lightning error schema `<meta-schema>_<task>`, as DM's
/// removeMetaData does (the server checks the privilege even when the schema is absent).
/// Privileges that may come from a role that cannot be read only warn.
fn meta_schema_verdict(
    privileges: &Grants,
    needed: &[&str],
    meta_schema: &str,
    task: &str,
    remove_meta: bool,
    user: &str,
) -> Verdict {
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|p| !privileges.has_on_schema(p, meta_schema))
        .collect();
    let error_schema = format!("{meta_schema}_{task}");
    let drop_error_schema = remove_meta && !privileges.has_on_schema("DROP", &error_schema);
    if missing.is_empty() && drop_error_schema {
        Err((
            privileges.shortfall(),
            format!(
                "target-database: user {} lacks DROP on `{error_schema}`.*, which \
                 --remove-meta drops (DM's Lightning error schema of the task)",
                user
            ),
            format!("GRANT DROP ON `{error_schema}`.* TO the target-database user"),
        ))
    } else if missing.is_empty() {
        Ok(())
    } else {
        Err((
            privileges.shortfall(),
            format!(
                "target-database: user {} lacks {} on `{meta_schema}`.*",
                user,
                missing.join(", ")
            ),
            format!(
                "GRANT {} ON `{meta_schema}`.* TO the target-database user, or use \
                 --meta-store embedded",
                missing.join(", ")
            ),
        ))
    }
}

/// The user's grants with the privileges of its roles added, as DM's privilege checker expands
/// them (`dm/pkg/checker/privilege.go`, through `SHOW GRANTS … USING` on MySQL 8); MariaDB,
/// which has no `USING`, is asked for each role's grants. When neither answers, the lines stay
/// as they are (and a privilege that may come from a role is a warning).
async fn with_role_grants(
    conn: &mut mysql_async::Conn,
    lines: Vec<String>,
    deadline: Instant,
) -> Vec<String> {
    let roles = Grants::role_names(&lines);
    if roles.is_empty() {
        return lines;
    }
    let using = format!("SHOW GRANTS FOR CURRENT_USER() USING {}", roles.join(", "));
    let mysql = tokio::time::timeout_at(deadline, conn.query::<String, _>(using)).await;
    if let Ok(Ok(expanded)) = mysql {
        // MySQL still lists the role grants themselves; their privileges are listed, so they go.
        return expanded
            .into_iter()
            .filter(|line| !Grants::is_role_grant(line))
            .collect();
    }
    let mut all = lines.clone();
    for role in &roles {
        let query = format!("SHOW GRANTS FOR {role}");
        match tokio::time::timeout_at(deadline, conn.query::<String, _>(query)).await {
            Ok(Ok(role_lines)) => all.extend(role_lines),
            _ => return lines,
        }
    }
    // Expanded: each role's privileges are listed, so the role lines themselves go.
    all.into_iter()
        .filter(|line| !Grants::is_role_grant(line))
        .collect()
}

/// Privileges read from `SHOW GRANTS`: global ones and per schema (patterns allowed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Grants {
    global: Vec<String>,
    schemas: Vec<(String, Vec<String>)>,
    /// The user has roles granted, whose privileges are not listed.
    pub roles: bool,
}

impl Grants {
    /// What a missing privilege makes a check: a failure, or a warning when the user has roles
    /// whose privileges cannot be read (the privilege may come from one).
    fn shortfall(&self) -> CheckState {
        match self.roles {
            true => CheckState::Warn,
            false => CheckState::Fail,
        }
    }

    /// Whether a SHOW GRANTS line grants roles (`GRANT `r`@`%` TO …`, no `ON`).
    fn is_role_grant(line: &str) -> bool {
        line.trim()
            .strip_prefix("GRANT ")
            .and_then(|rest| rest.find(" TO ").map(|to| &rest[..to]))
            .is_some_and(|head| !head.contains(" ON "))
    }

    /// The roles a user's SHOW GRANTS lines grant it, as written there (quoted).
    fn role_names(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .filter(|line| Grants::is_role_grant(line))
            .filter_map(|line| {
                let rest = line.trim().strip_prefix("GRANT ")?;
                Some(rest[..rest.find(" TO ")?].to_owned())
            })
            .flat_map(|head| {
                head.split(',')
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub(crate) fn parse(lines: &[String]) -> Grants {
        let mut grants = Grants::default();
        for line in lines {
            let Some(rest) = line.trim().strip_prefix("GRANT ") else {
                continue;
            };
            let Some(to) = rest.find(" TO ") else {
                continue;
            };
            let head = &rest[..to];
            let Some(on) = head.find(" ON ") else {
                grants.roles = true;
                continue;
            };
            let privileges: Vec<String> = split_privileges(&head[..on]);
            let object = head[on + 4..].trim();
            if object.starts_with("FUNCTION ") || object.starts_with("PROCEDURE ") {
                continue;
            }
            let object = object.strip_prefix("TABLE ").unwrap_or(object);
            let Some((schema, table)) = split_object(object) else {
                continue;
            };
            if table != "*" {
                continue;
            }
            if schema == "*" {
                grants.global.extend(privileges);
            } else {
                grants.schemas.push((schema, privileges));
            }
        }
        grants
    }

    fn covers(list: &[String], privilege: &str) -> bool {
        list.iter()
            .any(|p| p == privilege || p == "ALL" || p == "ALL PRIVILEGES")
    }

    pub(crate) fn has_global(&self, privilege: &str) -> bool {
        Grants::covers(&self.global, privilege)
    }

    pub(crate) fn has_on_schema(&self, privilege: &str, schema: &str) -> bool {
        self.has_global(privilege)
            || self
                .schemas
                .iter()
                .any(|(pattern, list)| like(pattern, schema) && Grants::covers(list, privilege))
    }
}

/// Privilege names of a grant, upper-case, column lists dropped.
fn split_privileges(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(current.trim().to_ascii_uppercase());
                current.clear();
            }
            _ if depth == 0 => current.push(c),
            _ => {}
        }
    }
    out.push(current.trim().to_ascii_uppercase());
    out.retain(|p| !p.is_empty());
    out
}

/// `` `db`.`t` `` / `db.*` / `*.*` → (schema, table), unquoted.
fn split_object(object: &str) -> Option<(String, String)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = None;
    let mut chars = object.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (None, '`' | '"' | '\'') => quoted = Some(c),
            (Some(q), c) if c == q => {
                if chars.peek() == Some(&q) {
                    current.push(q);
                    chars.next();
                } else {
                    quoted = None;
                }
            }
            (None, '.') => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    match parts.as_slice() {
        [schema, table] => Some((schema.clone(), table.clone())),
        _ => None,
    }
}

/// SQL `LIKE` as grants use it for schema names: `%`, `_`, and `\` escapes.
fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                t.first() == Some(&rest[0]) && go(&rest[1..], &t[1..])
            }
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_grants_of_both_servers() {
        let maria = Grants::parse(&lines(&[
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `repl`@`%` IDENTIFIED BY PASSWORD '*ABC'",
            "GRANT SELECT, INSERT, UPDATE (a, b) ON `app`.`t` TO `repl`@`%`",
        ]));
        assert!(maria.has_global("REPLICATION SLAVE"));
        assert!(maria.has_global("BINLOG MONITOR"));
        assert!(!maria.has_global("REPLICATION CLIENT"));
        assert!(!maria.roles);

        let root = Grants::parse(&lines(&[
            "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION",
            "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
        ]));
        assert!(root.has_global("REPLICATION CLIENT"));
        assert!(root.has_on_schema("DROP", "dm_meta"));

        let meta = Grants::parse(&lines(&[
            "GRANT USAGE ON *.* TO `dm`@`%`",
            "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `dm\\_%`.* TO `dm`@`%`",
            "GRANT `dm_role`@`%` TO `dm`@`%`",
        ]));
        assert!(meta.has_on_schema("CREATE", "dm_meta"));
        assert!(!meta.has_on_schema("CREATE", "dmXmeta"));
        assert!(!meta.has_on_schema("DROP", "dm_meta"));
        assert!(!meta.has_on_schema("CREATE", "other"));
        assert!(meta.roles);
    }

    /// The role grants of SHOW GRANTS are found, and the expansion drops them once it has read
    /// them: MySQL's `USING` output still lists them, and left in, they would keep a missing
    /// privilege a warning "it may come from a role" though every role's privileges are known.
    #[test]
    fn role_grants_are_found_and_then_known() {
        let lines = lines(&[
            "GRANT USAGE ON *.* TO `dm`@`%`",
            "GRANT `r1`@`%`,`r2`@`%` TO `dm`@`%`",
            "GRANT PROXY ON ''@'%' TO 'dm'@'%'",
        ]);
        assert_eq!(Grants::role_names(&lines), ["`r1`@`%`", "`r2`@`%`"]);
        assert!(Grants::is_role_grant(&lines[1]) && !Grants::is_role_grant(&lines[2]));
        let known: Vec<String> = lines
            .into_iter()
            .filter(|l| !Grants::is_role_grant(l))
            .collect();
        assert!(!Grants::parse(&known).roles);
    }

    /// `checkResult` is byte for byte as DM builds it: the error class and headline, the
    /// results indented as Go's `json.MarshalIndent` prints them, with ids from 0, the summary
    /// of all checks, and at most 10 errors and 10 warnings.
    #[test]
    fn check_result_in_dm_words() {
        let mut report = PrecheckReport::default();
        report.extend(vec![item("a", "check a", "h:1", Ok(()))]);
        assert_eq!(report.check_result(), "pre-check is passed. ");
        report.extend(vec![item(
            "mysql_server_id",
            "check whether mysql server_id has been greater than 0",
            "h:1",
            Err((
                CheckState::Warn,
                "server_id is 0".into(),
                "set server_id".into(),
            )),
        )]);
        assert!(report.passed());
        assert_eq!(
            report.check_result(),
            "fail to check synchronization configuration with type: no errors but some warnings\n \
             detail: {\n\t\t\"results\": [\n\t\t\t{\n\t\t\t\t\"id\": 1,\n\t\t\t\t\"name\": \
             \"mysql_server_id\",\n\t\t\t\t\"desc\": \"check whether mysql server_id has been \
             greater than 0\",\n\t\t\t\t\"state\": \"warn\",\n\t\t\t\t\"errors\": [\n\t\t\t\t\t{\n\
             \t\t\t\t\t\t\"severity\": \"warn\",\n\t\t\t\t\t\t\"short_error\": \"server_id is 0\"\n\
             \t\t\t\t\t}\n\t\t\t\t],\n\t\t\t\t\"instruction\": \"set server_id\",\n\t\t\t\t\
             \"extra\": \"address of db instance - h:1\"\n\t\t\t}\n\t\t],\n\t\t\"summary\": {\n\t\t\t\
             \"passed\": true,\n\t\t\t\"total\": 2,\n\t\t\t\"successful\": 1,\n\t\t\t\"failed\": 0,\n\
             \t\t\t\"warning\": 1\n\t\t}\n\t}"
        );
        for n in 0..12 {
            report.extend(vec![item(
                "mysql_binlog_format",
                "check whether mysql binlog_format is ROW",
                "h:1",
                fail(
                    format!("source s{n}: binlog_format is STATEMENT & <not> ROW"),
                    "fix it",
                ),
            )]);
        }
        assert!(!report.passed());
        let text = report.check_result();
        assert!(
            text.starts_with(
                "[code=26005:class=dm-master:scope=internal:level=medium], Message: fail to check \
                 synchronization configuration with type: check was failed, please see detail\n \
                 detail: {\n\t\t\"results\": ["
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("\"severity\": \"fail\"").count(),
            10,
            "at most 10 errors"
        );
        assert!(
            text.contains("\"total\": 14") && text.contains("\"failed\": 12"),
            "{text}"
        );
        assert!(
            text.contains("STATEMENT \\u0026 \\u003cnot\\u003e ROW"),
            "Go escapes: {text}"
        );
        // With every check ignored DM runs none and says nothing: an empty checkResult.
        assert_eq!(PrecheckReport::ignored().check_result(), "");
        assert_eq!(dm_item("mysql_server_id"), Some("server_id"));
    }
}
