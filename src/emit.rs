//! A start point in the form each consumer takes (`resolve-position --emit FORMAT`): DM's task
//! `meta`, Debezium's offset, Flink CDC's `WITH` options, Canal's instance properties, the
//! statements that make a MySQL or MariaDB server a replica from there, and the
//! `mysqlbinlog`/`mariadb-binlog` command line of a point-in-time recovery.
//!
//! Every value is quoted for its format (SQL string literals, JSON, Java properties, YAML,
//! shell words). No password is ever written: where a consumer needs one, the placeholder
//! [`PASSWORD_PLACEHOLDER`] stands in its place, and a source without a password gets none.

use std::fmt::Write as _;

use crate::binlog::Flavor;
use crate::gtid::ExecutedGtids;

/// What stands where a consumer needs the source's password.
pub const PASSWORD_PLACEHOLDER: &str = "<password>";

/// A consumer's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dm,
    Debezium,
    DebeziumPatch,
    FlinkCdc,
    Canal,
    Mysql,
    Mariadb,
    Mysqlbinlog,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Dm => "dm",
            Format::Debezium => "debezium",
            Format::DebeziumPatch => "debezium-patch",
            Format::FlinkCdc => "flink-cdc",
            Format::Canal => "canal",
            Format::Mysql => "mysql",
            Format::Mariadb => "mariadb",
            Format::Mysqlbinlog => "mysqlbinlog",
        }
    }
}

/// Where the binlog is read from, for the formats that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Local files: the paths of the answer's file and those after it, in order (a relay
    /// directory's may lie in several sub-directories).
    Files { paths: Vec<String> },
    /// A live server (no password here: only whether it has one).
    Server {
        host: String,
        port: u16,
        user: String,
        has_password: bool,
        /// The source is reached over TLS.
        tls: bool,
        version: String,
    },
}

/// The answer, as every format needs it.
#[derive(Debug, Clone)]
pub struct StartPoint {
    pub file: String,
    pub pos: u64,
    /// The GTIDs executed before the point (its flavour decides the GTID forms).
    pub gtids: ExecutedGtids,
    /// The commit time of the transaction at the point, in microseconds (UTC).
    pub commit_us: Option<i64>,
    /// The header time of its first event, in microseconds (UTC).
    pub begin_us: Option<i64>,
    /// The `server_id` that originated the transaction at the point.
    pub server_id: Option<u32>,
    /// Whether the source writes GTIDs (so a consumer reading them ignores a file and
    /// position), even where the set before the point is empty or not computed (`--gtid off`):
    /// known from the transaction at the point, or the flavour (MariaDB always does); `None`
    /// when no transaction follows the point in what was read.
    pub writes_gtids: Option<bool>,
    /// The flavour of the binlog (for the recovery tool's name).
    pub flavor: Flavor,
    pub origin: Origin,
    /// MySQL replica statements for a server before 8.0.23 (`CHANGE MASTER`), when known.
    /// e.g. `5.7.44`.
    pub replica_version: Option<String>,
    /// Debezium's connector name and topic prefix.
    pub debezium: (String, String),
}

/// SQL string literal.
fn sql(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Whether Debezium's `set-binlog-position` signal takes `name` (`^[a-zA-Z0-9_-]+\.\d{6}$`).
fn debezium_file_name(name: &str) -> bool {
    name.split_once('.').is_some_and(|(base, number)| {
        !base.is_empty()
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && number.len() == 6
            && number.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Java properties value (`\`, line breaks, leading blanks escaped; `:`/`=` are fine in values).
fn prop(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ' ' if i == 0 => out.push_str("\\ "),
            // `Properties.load` reads ISO-8859-1: anything else as \uXXXX (UTF-16 units).
            c if !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Flink SQL string literal (a quote doubled; a backslash is an ordinary character).
fn flink(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// YAML double-quoted scalar.
fn yaml(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// A POSIX shell word.
fn shell(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

impl StartPoint {
    /// Whether a GTID set precedes the point: an empty set and none are one case for every
    /// consumer.
    fn has_gtids(&self) -> bool {
        match &self.gtids {
            ExecutedGtids::MySql(set) => !set.is_empty(),
            ExecutedGtids::MariaDb(pos) => !pos.is_empty(),
            ExecutedGtids::None => false,
        }
    }

    fn gtid_text(&self) -> String {
        self.gtids.to_string()
    }

    /// The GTID set for consumers that read only MySQL's `uuid:intervals` (Debezium's MySQL
    /// connector, Flink CDC, Canal): a MariaDB GTID position is no such set.
    fn mysql_gtid_text(&self) -> Option<String> {
        match &self.gtids {
            ExecutedGtids::MySql(set) if !set.is_empty() => Some(set.to_string()),
            _ => None,
        }
    }

    /// Whether the set holds tagged GTIDs (MySQL 8.4's `uuid:tag:n`).
    fn tagged(&self) -> bool {
        matches!(&self.gtids, ExecutedGtids::MySql(set)
            if set.sources().any(|(tsid, _)| tsid.tag.is_some()))
    }

    /// [`StartPoint::mysql_gtid_text`] for consumers whose parser knows no tags: Flink CDC
    /// (Debezium 1.9.8's `GtidSet` reads `…:mytag:1-2` with `Long.parseLong("mytag")`) and
    /// Canal (`UUIDSet.parse` the same). A tagged set is left out: the file and position alone.
    fn untagged_gtid_text(&self) -> Option<String> {
        self.mysql_gtid_text().filter(|_| !self.tagged())
    }

    /// What the user must know about the output of `format` (for stderr).
    pub fn notes(&self, format: Format) -> Vec<String> {
        let mut notes = Vec::new();
        match format {
            Format::Debezium => notes.push(self.debezium_signal_note()),
            Format::DebeziumPatch => notes.push(
                "debezium-patch: stop the connector first (PUT /connectors/NAME/stop), send this \
                 body with PATCH /connectors/NAME/offsets (Kafka Connect 3.6 or later, KIP-875), \
                 then resume it (PUT /connectors/NAME/resume)"
                    .to_owned(),
            ),
            Format::FlinkCdc | Format::Canal if self.tagged() => notes.push(format!(
                "{}: the GTID set has tags (MySQL 8.4), which {}'s GTID parser cannot read: \
                 only the file and position are given",
                format.as_str(),
                match format {
                    Format::FlinkCdc => "Flink CDC (through Debezium 1.9)",
                    _ => "Canal",
                }
            )),
            Format::Mysql if self.replica_version.is_none() => match &self.origin {
                Origin::Server { version, .. } => notes.push(format!(
                    "mysql: statements for MySQL {version}, the source's version; give \
                     --replica-version for the replica's"
                )),
                Origin::Files { .. } => notes.push(
                    "mysql: statements for MySQL 8.4; give --replica-version for an older \
                     replica"
                        .to_owned(),
                ),
            },
            _ => {}
        }
        // Tagged GTIDs came with MySQL 8.3: an older replica reads neither the set nor the
        // source's GTID_TAGGED events.
        if format == Format::Mysql
            && self.tagged()
            && self.mysql_replica_version().is_some_and(|v| v < (8, 3, 0))
        {
            notes.push(
                "mysql: the GTID set has tags, which a MySQL replica before 8.3 cannot take \
                 (gtid_purged refuses it, and the source's tagged GTID events are unknown to \
                 it): use a replica of 8.4 or later"
                    .to_owned(),
            );
        }
        // Replication between the two flavours is not supported by either server.
        match (format, self.flavor) {
            (Format::Mysql, Flavor::MariaDb) => notes.push(
                "mysql: the source is MariaDB, and MySQL does not replicate from MariaDB: these \
                 statements serve only a MySQL replica of a MySQL source; use --emit mariadb"
                    .to_owned(),
            ),
            (Format::Mariadb, Flavor::MySql) => notes.push(
                "mariadb: the source is MySQL, and MariaDB replicates from MySQL only within \
                 the limits its documentation names (no MySQL GTIDs, MySQL 8's newer events \
                 and defaults): check them, or use --emit mysql"
                    .to_owned(),
            ),
            _ => {}
        }
        // The placeholder is taken for the password itself by a server it is piped into.
        if let Origin::Server {
            has_password: true, ..
        } = self.origin
            && matches!(format, Format::Mysql | Format::Mariadb)
        {
            notes.push(format!(
                "{}: {PASSWORD_PLACEHOLDER} stands for the replication user's password: replace \
                 it before running the statements (a server takes it as the password itself), \
                 doubling any ' and \\ in it as inside an SQL string",
                format.as_str()
            ));
        }
        if matches!(format, Format::Debezium | Format::DebeziumPatch) && self.debezium.1 == "mysql"
        {
            notes.push(format!(
                "{}: the offset's partition is topic.prefix \"mysql\" (the default); if \
                 the connector's topic.prefix is another, give it with --debezium-topic-prefix, \
                 or the offset lands in a partition the connector never reads",
                format.as_str()
            ));
        }
        if let Origin::Server { tls: true, .. } = self.origin
            && matches!(
                format,
                Format::Mysql | Format::Mariadb | Format::Mysqlbinlog
            )
        {
            notes.push(format!(
                "{}: the source is reached over TLS: TLS is required, add its CA (and client \
                 certificate) options",
                format.as_str()
            ));
        }
        notes
    }

    /// What stderr says of Debezium's `set-binlog-position` signal: why it is `null`, or,
    /// when it is given, that the offsets PATCH comes first and what the signal needs.
    fn debezium_signal_note(&self) -> String {
        let set_given = self.has_gtids();
        if self.debezium_signal().is_null() && set_given {
            "debezium: the GTID set has gaps or tags, which the MySQL connector's \
             set-binlog-position signal does not take, and a file and position would not move a \
             connector that reads GTIDs: no signal is given; use the offsets PATCH"
                .to_owned()
        } else if self.debezium_signal().is_null() {
            let why = match (self.writes_gtids, &self.gtids) {
                (None, _) => {
                    "no transaction follows the point in what was read, so \
                              whether the source writes GTIDs is not known"
                }
                (_, ExecutedGtids::None) => {
                    "the source writes GTIDs, and the set at \
                                             the point was not computed (--gtid off)"
                }
                _ => "the source writes GTIDs but none precedes the point",
            };
            format!(
                "debezium: {why}; the set-binlog-position signal could only take a \
                 file and position, which a connector that reads GTIDs ignores (it \
                 keeps its offset's GTIDs): no signal is given; use the offsets PATCH"
            )
        } else if !debezium_file_name(&self.file) && !set_given {
            format!(
                "debezium: the set-binlog-position signal refuses the file name {} \
                 (it takes NAME.NNNNNN); use the offsets PATCH",
                self.file
            )
        } else {
            // SetBinlogPositionSignal came with 3.5.0 (MySQL) and 3.6.0 (MariaDB).
            let (connector, since) = match self.flavor {
                Flavor::MySql => ("MySQL", "3.5.0"),
                Flavor::MariaDb => ("MariaDB", "3.6.0"),
            };
            let mut caveat = format!(
                "debezium: use connect_offsets_patch first (PATCH \
                 /connectors/NAME/offsets with the connector stopped): it sets the \
                 whole offset. The set-binlog-position signal is for a running \
                 connector of Debezium {since} or later ({connector} connector), and \
                 takes effect only after a restart"
            );
            if set_given {
                // setCompletedGtidSet keeps restartEventsToSkip/RowsToSkip, and a
                // signal from the signalling table is taken inside its row's event.
                caveat.push_str(
                    "; its GTID form keeps the offset's event and row counts, so sent \
                     through the signalling table (taken inside that row's own \
                     transaction) it can make the restarted connector skip the first \
                     events of the transaction at the point",
                );
            }
            caveat
        }
    }

    /// The output of `format`.
    pub fn emit(&self, format: Format) -> String {
        match format {
            Format::Dm => self.dm(),
            Format::Debezium => self.debezium(),
            Format::DebeziumPatch => self.debezium_patch(),
            Format::FlinkCdc => self.flink_cdc(),
            Format::Canal => self.canal(),
            Format::Mysql => self.mysql(),
            Format::Mariadb => self.mariadb(),
            Format::Mysqlbinlog => self.mysqlbinlog(),
        }
    }

    /// DM's task file, `mysql-instances[].meta` (DM-COMPAT.md §2).
    fn dm(&self) -> String {
        let mut out = format!(
            "meta:\n  binlog-name: {}\n  binlog-pos: {}\n",
            yaml(&self.file),
            self.pos
        );
        let gtid = self.gtid_text();
        if !gtid.is_empty() {
            let _ = writeln!(out, "  binlog-gtid: {}", yaml(&gtid));
        }
        out
    }

    /// Debezium's offset, as Kafka Connect's `PATCH /connectors/<name>/offsets` body, and the
    /// data of the `set-binlog-position` signal. Debezium's MySQL and MariaDB connectors share
    /// the offset (`BinlogOffsetContext`): partition `{"server": <topic.prefix>}`, value
    /// `file`, `pos`, `gtids`, `ts_sec`, `server_id`, `event`, `row`. On a restart the loader
    /// reads `file`, `pos`, `gtids`, `event` and `row`; `ts_sec` and `server_id` are what the
    /// connector writes beside them (`MySqlOffsetContext.offsetUsingPosition`, `.Loader.load`).
    /// `gtids` is MySQL's executed set for the MySQL connector, MariaDB's GTID position
    /// (`0-1-100,1-2-7`) for the MariaDB connector (`MariaDbGtidSet`).
    fn debezium(&self) -> String {
        let (connector, _) = &self.debezium;
        let (partition, value) = self.debezium_offset();
        let signal = match self.debezium_signal() {
            serde_json::Value::Null => serde_json::Value::Null,
            data => serde_json::json!({ "type": "set-binlog-position", "data": data }),
        };
        let doc = serde_json::json!({
            "offset": {
                "key": [connector, partition],
                "value": value,
            },
            "connect_offsets_patch": {
                "offsets": [{ "partition": partition, "offset": value }],
            },
            "set_binlog_position_signal": signal,
        });
        format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
    }

    /// Only the body Kafka Connect's `PATCH /connectors/NAME/offsets` takes (KIP-875), for
    /// `curl -X PATCH … -H 'Content-Type: application/json' -d @-`.
    fn debezium_patch(&self) -> String {
        let (partition, value) = self.debezium_offset();
        let body = serde_json::json!({
            "offsets": [{ "partition": partition, "offset": value }],
        });
        format!(
            "{}\n",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        )
    }

    /// Debezium's offset at the point: its partition (`{"server": topic.prefix}`) and value.
    fn debezium_offset(&self) -> (serde_json::Value, serde_json::Value) {
        let (_, prefix) = &self.debezium;
        let mut value = serde_json::Map::new();
        value.insert("file".into(), self.file.clone().into());
        value.insert("pos".into(), self.pos.into());
        let gtid = match &self.gtids {
            ExecutedGtids::MariaDb(pos) if !pos.is_empty() => Some(pos.to_string()),
            _ => self.mysql_gtid_text(),
        };
        if let Some(gtid) = &gtid {
            value.insert("gtids".into(), gtid.clone().into());
        }
        if let Some(us) = self.commit_us {
            value.insert("ts_sec".into(), us.div_euclid(1_000_000).into());
        }
        // Debezium writes server_id only when it is not 0.
        if let Some(id) = self.server_id.filter(|id| *id != 0) {
            value.insert("server_id".into(), id.into());
        }
        // A transaction boundary: nothing of the transaction to skip.
        value.insert("event".into(), 0.into());
        value.insert("row".into(), 0.into());
        (serde_json::json!({ "server": prefix }), value.into())
    }

    /// The data of Debezium's `set-binlog-position` signal, or null when no signal moves the
    /// connector to the point. The signal takes a GTID set or a file and position, never both
    /// (`SetBinlogPositionSignal.validateSignalData`, MySQL and MariaDB connectors). The MySQL
    /// connector's takes only `uuid:N[-M]` blocks, one interval each; the MariaDB connector's
    /// any GTIDs. A file and position only set the start point and keep the offset's GTIDs
    /// (`setBinlogStartPoint`), which a connector on a GTID server reads first: they do for a
    /// binlog without GTIDs only.
    fn debezium_signal(&self) -> serde_json::Value {
        match &self.gtids {
            ExecutedGtids::MySql(set) if !set.is_empty() => {
                let simple = set
                    .sources()
                    .all(|(tsid, ivs)| tsid.tag.is_none() && ivs.intervals().len() == 1);
                match simple {
                    true => serde_json::json!({ "gtid_set": set.to_string() }),
                    false => serde_json::Value::Null,
                }
            }
            ExecutedGtids::MariaDb(pos) if !pos.is_empty() => {
                serde_json::json!({ "gtid_set": pos.to_string() })
            }
            // A connector on a GTID server reads the GTIDs its offset keeps, not the file: the
            // file form only where the source is known to write none.
            _ if self.writes_gtids == Some(false) => serde_json::json!({
                "binlog_filename": self.file,
                "binlog_position": self.pos,
            }),
            _ => serde_json::Value::Null,
        }
    }

    /// Flink CDC's MySQL source `WITH` options for a specific offset.
    fn flink_cdc(&self) -> String {
        let mut options = vec![
            ("scan.startup.mode", "specific-offset".to_owned()),
            ("scan.startup.specific-offset.file", self.file.clone()),
            ("scan.startup.specific-offset.pos", self.pos.to_string()),
        ];
        if let Some(gtid) = self.untagged_gtid_text() {
            options.push(("scan.startup.specific-offset.gtid-set", gtid));
        }
        let lines: Vec<String> = options
            .iter()
            .map(|(k, v)| format!("  {} = {}", flink(k), flink(v)))
            .collect();
        format!("{}\n", lines.join(",\n"))
    }

    /// Canal's `instance.properties` start point (the timestamp in milliseconds).
    fn canal(&self) -> String {
        let mut out = format!(
            "canal.instance.master.journal.name={}\ncanal.instance.master.position={}\n",
            prop(&self.file),
            self.pos
        );
        // Canal compares it with the second of each transaction's first event
        // (`findAsPerTimestampInSpecificLogFile`): the second the transaction at the point
        // began, never a later millisecond that would skip it.
        if let Some(us) = self.begin_us {
            let _ = writeln!(
                out,
                "canal.instance.master.timestamp={}",
                us.div_euclid(1_000_000) * 1000
            );
        }
        // Canal reads the GTID only with canal.instance.gtidon=true (default false).
        if let Some(gtid) = self.untagged_gtid_text() {
            let _ = writeln!(out, "canal.instance.gtidon=true");
            let _ = writeln!(out, "canal.instance.master.gtid={}", prop(&gtid));
        }
        out
    }

    /// The connection part of a `CHANGE … TO`, with `prefix` (`MASTER` or `SOURCE`).
    fn connection(&self, prefix: &str) -> Vec<String> {
        match &self.origin {
            Origin::Server {
                host,
                port,
                user,
                has_password,
                ..
            } => {
                let mut parts = vec![
                    format!("{prefix}_HOST = {}", sql(host)),
                    format!("{prefix}_PORT = {port}"),
                    format!("{prefix}_USER = {}", sql(user)),
                ];
                if *has_password {
                    parts.push(format!("{prefix}_PASSWORD = {}", sql(PASSWORD_PLACEHOLDER)));
                }
                if let Origin::Server { tls: true, .. } = self.origin {
                    parts.push(format!("{prefix}_SSL = 1"));
                }
                parts
            }
            Origin::Files { .. } => Vec::new(),
        }
    }

    /// The replica's MySQL version: `--replica-version`, else the source's when known.
    fn mysql_replica_version(&self) -> Option<(u16, u16, u16)> {
        let given = self
            .replica_version
            .as_deref()
            .map(crate::binlog::format::split_version);
        given.or(match &self.origin {
            Origin::Server { version, .. } => Some(crate::binlog::format::split_version(version)),
            Origin::Files { .. } => None,
        })
    }

    /// Statements that make a MariaDB server a replica from the point.
    fn mariadb(&self) -> String {
        // A known source replaces the replica's connection; from local files only the
        // position changes, and the replica keeps the connection it has.
        let mut out = match self.origin {
            Origin::Server { .. } => String::from("STOP SLAVE;\nRESET SLAVE ALL;\n"),
            Origin::Files { .. } => String::from("STOP SLAVE;\n"),
        };
        let mut change = self.connection("MASTER");
        match &self.gtids {
            ExecutedGtids::MariaDb(pos) => {
                let _ = writeln!(
                    out,
                    "SET GLOBAL gtid_slave_pos = {};",
                    sql(&pos.to_string())
                );
                change.push("MASTER_USE_GTID = slave_pos".to_owned());
            }
            _ => {
                change.push(format!("MASTER_LOG_FILE = {}", sql(&self.file)));
                change.push(format!("MASTER_LOG_POS = {}", self.pos));
                change.push("MASTER_USE_GTID = no".to_owned());
            }
        }
        let _ = writeln!(out, "CHANGE MASTER TO {};", change.join(", "));
        out.push_str("START SLAVE;\n");
        out
    }

    /// Statements that make a MySQL server a replica from the point: GTID auto-positioning
    /// when the answer has a non-empty MySQL GTID set, else the file and position. Every MySQL
    /// 5.7+ binlog has a PREVIOUS_GTIDS event, empty when GTIDs are off, so an empty set is
    /// the usual answer for a source without GTIDs: auto-positioning there is refused by a
    /// replica with `gtid_mode=OFF` (error 1777), fails at `START REPLICA` on a GTID replica,
    /// and its RESET would wipe the replica's binlogs for nothing.
    fn mysql(&self) -> String {
        let version = self.mysql_replica_version();
        // CHANGE REPLICATION SOURCE TO and START REPLICA came with 8.0.23 (older: MASTER).
        let modern = version.is_none_or(|v| v >= (8, 0, 23));
        let (prefix, stop, start, reset_replica, change) = match modern {
            true => (
                "SOURCE",
                "STOP REPLICA;",
                "START REPLICA;",
                "RESET REPLICA ALL;",
                "CHANGE REPLICATION SOURCE TO",
            ),
            false => (
                "MASTER",
                "STOP SLAVE;",
                "START SLAVE;",
                "RESET SLAVE ALL;",
                "CHANGE MASTER TO",
            ),
        };
        let mut out = match self.origin {
            Origin::Server { .. } => format!("{stop}\n{reset_replica}\n"),
            Origin::Files { .. } => format!("{stop}\n"),
        };
        let mut parts = self.connection(prefix);
        // caching_sha2_password (MySQL 8's default) over a connection without TLS needs the
        // source's RSA key (GET_MASTER_PUBLIC_KEY from 8.0.4, GET_SOURCE_PUBLIC_KEY from 8.0.23).
        if let Origin::Server {
            has_password: true,
            tls: false,
            ..
        } = self.origin
            && version.is_none_or(|v| v >= (8, 0, 4))
        {
            parts.push(format!("GET_{prefix}_PUBLIC_KEY = 1"));
        }
        match &self.gtids {
            ExecutedGtids::MySql(set) if !set.is_empty() => {
                // gtid_purged can only be set on an empty gtid_executed: reset it first
                // (RESET BINARY LOGS AND GTIDS from 8.4, RESET MASTER before).
                let reset = match version.is_none_or(|v| v >= (8, 4, 0)) {
                    true => "RESET BINARY LOGS AND GTIDS;",
                    false => "RESET MASTER;",
                };
                let _ = writeln!(out, "{reset}");
                let _ = writeln!(out, "SET GLOBAL gtid_purged = {};", sql(&set.to_string()));
                parts.push(format!("{prefix}_AUTO_POSITION = 1"));
            }
            _ => {
                parts.push(format!("{prefix}_LOG_FILE = {}", sql(&self.file)));
                parts.push(format!("{prefix}_LOG_POS = {}", self.pos));
                // A replica on auto-positioning refuses a file and position otherwise.
                parts.push(format!("{prefix}_AUTO_POSITION = 0"));
            }
        }
        let _ = writeln!(out, "{change} {};", parts.join(", "));
        let _ = writeln!(out, "{start}");
        out
    }

    /// The point-in-time recovery command: the binlog from the point on, as SQL.
    fn mysqlbinlog(&self) -> String {
        let tool = match self.flavor {
            Flavor::MariaDb => "mariadb-binlog",
            Flavor::MySql => "mysqlbinlog",
        };
        let position = format!("--start-position={}", self.pos);
        match &self.origin {
            Origin::Files { paths } => {
                let files: Vec<String> = paths.iter().map(|p| shell(p)).collect();
                format!("{tool} {position} {}\n", files.join(" "))
            }
            Origin::Server {
                host,
                port,
                user,
                has_password,
                tls,
                ..
            } => {
                // A bare --password makes the tool ask for it.
                let mut password = match has_password {
                    true => " --password".to_owned(),
                    false => String::new(),
                };
                match (self.flavor, tls) {
                    (Flavor::MariaDb, true) => password.push_str(" --ssl"),
                    (Flavor::MySql, true) => password.push_str(" --ssl-mode=REQUIRED"),
                    (Flavor::MySql, false) if *has_password => {
                        password.push_str(" --get-server-public-key")
                    }
                    _ => {}
                }
                format!(
                    "{tool} --read-from-remote-server --host={} --port={port} --user={}{password} \
                     --to-last-log {position} {}\n",
                    shell(host),
                    shell(user),
                    shell(&self.file)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(gtids: ExecutedGtids, origin: Origin) -> StartPoint {
        StartPoint {
            file: "mysql-bin.000012".into(),
            pos: 4321,
            gtids,
            commit_us: Some(1_634_774_460_250_000),
            begin_us: Some(1_634_774_459_000_000),
            server_id: Some(223344),
            writes_gtids: Some(true),
            flavor: Flavor::MySql,
            origin,
            replica_version: None,
            debezium: ("inventory-connector".into(), "dbserver1".into()),
        }
    }

    fn server(has_password: bool) -> Origin {
        Origin::Server {
            host: "db1".into(),
            port: 3306,
            user: "repl".into(),
            has_password,
            tls: false,
            version: "8.0.36".into(),
        }
    }

    const SET: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77";

    fn mysql_gtids() -> ExecutedGtids {
        ExecutedGtids::MySql(SET.parse().unwrap())
    }

    /// What each consumer cannot take is said on stderr, never handed over silently.
    /// - A tagged set (MySQL 8.4): Flink CDC (Debezium 1.9.8's `GtidSet`) and Canal
    ///   (`UUIDSet.parse`) parse a tag as a number and fail: file and position only, with a note.
    /// - Cross-flavour statements: a note names the limit.
    /// - The password placeholder: a note says to replace it.
    /// - Debezium's default topic prefix: a note says how to set it.
    #[test]
    fn what_a_consumer_cannot_take_is_said_not_handed_over() {
        let tagged: ExecutedGtids = ExecutedGtids::MySql(
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:tag_a:1-2"
                .parse()
                .unwrap(),
        );
        let p = point(tagged, server(false));
        let flink = p.emit(Format::FlinkCdc);
        assert!(
            !flink.contains("gtid-set") && flink.contains("4321"),
            "{flink}"
        );
        let canal = p.emit(Format::Canal);
        assert!(!canal.contains("gtid") && canal.contains("4321"), "{canal}");
        for format in [Format::FlinkCdc, Format::Canal] {
            assert!(
                p.notes(format).iter().any(|n| n.contains("has tags")),
                "{:?}",
                p.notes(format)
            );
        }
        // Debezium 3.6 reads tags: its offset keeps them.
        assert!(p.emit(Format::Debezium).contains("tag_a"));
        let untagged = point(mysql_gtids(), server(false));
        assert!(untagged.emit(Format::FlinkCdc).contains(SET));
        assert!(untagged.notes(Format::FlinkCdc).is_empty());

        let mut maria = point(ExecutedGtids::None, server(false));
        maria.flavor = Flavor::MariaDb;
        assert!(
            maria
                .notes(Format::Mysql)
                .iter()
                .any(|n| n.contains("MySQL does not replicate from MariaDB"))
        );
        assert!(
            !maria
                .notes(Format::Mariadb)
                .iter()
                .any(|n| n.contains("the source is"))
        );
        let mysql = point(ExecutedGtids::None, server(false));
        assert!(
            mysql
                .notes(Format::Mariadb)
                .iter()
                .any(|n| n.contains("the source is MySQL"))
        );

        let with_password = point(ExecutedGtids::None, server(true));
        for format in [Format::Mysql, Format::Mariadb] {
            assert!(
                with_password
                    .notes(format)
                    .iter()
                    .any(|n| n.contains("<password> stands for")),
                "{format:?}"
            );
        }
        assert!(
            !mysql
                .notes(Format::Mariadb)
                .iter()
                .any(|n| n.contains("<password>"))
        );

        let mut default_prefix = point(mysql_gtids(), server(false));
        default_prefix.debezium.1 = "mysql".into();
        assert!(
            default_prefix
                .notes(Format::Debezium)
                .iter()
                .any(|n| n.contains("--debezium-topic-prefix"))
        );
    }

    /// Debezium's `set-binlog-position` signal where it cannot work (debezium/debezium,
    /// `SetBinlogPositionSignal.arrived` and `BinlogOffsetContext`):
    /// - its file form calls `setBinlogStartPoint`, which keeps the offset's GTIDs, and a
    ///   connector on a GTID server reads those first: on such a server with an empty set
    ///   before the point, no signal, and a note pointing at the PATCH;
    /// - it exists from 3.5.0 (MySQL connector) and 3.6.0 (MariaDB connector);
    /// - its GTID form (`setCompletedGtidSet`) keeps `restartEventsToSkip`/`RowsToSkip`.
    #[test]
    fn debezium_signal_where_it_cannot_work_is_not_given_silently() {
        let empty = ExecutedGtids::MySql("".parse().unwrap());
        let first = point(empty.clone(), server(false));
        let dbz: serde_json::Value = serde_json::from_str(&first.emit(Format::Debezium)).unwrap();
        assert!(dbz["set_binlog_position_signal"].is_null());
        assert!(dbz["offset"]["value"]["gtids"].is_null());
        let notes = first.notes(Format::Debezium);
        assert!(notes[0].contains("none precedes the point"), "{notes:?}");

        // --gtid off on a GTID source: the set was not computed.
        let off = point(ExecutedGtids::None, server(false));
        assert!(off.notes(Format::Debezium)[0].contains("not computed"));
        // Nothing read after the point: unknown, so no file form either.
        let mut unknown = point(ExecutedGtids::MySql("".parse().unwrap()), server(false));
        unknown.writes_gtids = None;
        assert!(unknown.debezium_signal().is_null());
        assert!(unknown.notes(Format::Debezium)[0].contains("not known"));

        // A source without GTIDs: the file form works, with the version caveat.
        let mut plain = point(empty, server(false));
        plain.writes_gtids = Some(false);
        let dbz: serde_json::Value = serde_json::from_str(&plain.emit(Format::Debezium)).unwrap();
        assert_eq!(
            dbz["set_binlog_position_signal"]["data"]["binlog_filename"],
            "mysql-bin.000012"
        );
        let notes = plain.notes(Format::Debezium);
        assert!(
            notes[0].contains("connect_offsets_patch first"),
            "{notes:?}"
        );
        assert!(notes[0].contains("Debezium 3.5.0"), "{notes:?}");
        assert!(!notes[0].contains("event and row"), "{notes:?}");

        // The GTID form: the skip counts are kept.
        let notes = point(mysql_gtids(), server(false)).notes(Format::Debezium);
        assert!(notes[0].contains("event and row counts"), "{notes:?}");
        let mut maria = point(
            ExecutedGtids::MariaDb("0-1-213".parse().unwrap()),
            server(false),
        );
        maria.flavor = Flavor::MariaDb;
        assert!(maria.notes(Format::Debezium)[0].contains("Debezium 3.6.0 or later (MariaDB"));
    }

    /// Each format is in its consumer's documented shape, units included:
    /// - DM: task file `mysql-instances[].meta` (`binlog-name`, `binlog-pos`, `binlog-gtid`;
    ///   DM documentation, "Task Configuration File Full Introduction").
    /// - Canal: `canal.instance.master.journal.name`, `.position`, `.timestamp` in
    ///   milliseconds, `.gtid` (Canal wiki, "AdminGuide", instance.properties).
    /// - Flink CDC: `scan.startup.mode = 'specific-offset'` with
    ///   `scan.startup.specific-offset.file`, `.pos`, `.gtid-set` (Flink CDC docs, MySQL
    ///   connector, "Startup Reading Position").
    /// - Debezium: the MySQL connector's offset, partition `{"server": topic.prefix}`, value
    ///   `file`, `pos`, `gtids`, `ts_sec` in seconds, `server_id`, `event`, `row` (Debezium
    ///   docs, MySQL connector; Kafka Connect KIP-875 `PATCH /connectors/{name}/offsets`; the
    ///   `set-binlog-position` signal's `binlog_filename`, `binlog_position`, `gtid_set`).
    /// - MySQL: `CHANGE REPLICATION SOURCE TO` from 8.0.23, `CHANGE MASTER TO` before; setting
    ///   `gtid_purged` needs an empty `gtid_executed` (`RESET BINARY LOGS AND GTIDS` from 8.4,
    ///   `RESET MASTER` before) (MySQL Reference Manual, replication SQL statements).
    #[test]
    fn every_format_in_its_consumers_shape() {
        let p = point(mysql_gtids(), server(true));
        assert_eq!(
            p.emit(Format::Dm),
            format!(
                "meta:\n  binlog-name: \"mysql-bin.000012\"\n  binlog-pos: 4321\n  binlog-gtid: \"{SET}\"\n"
            )
        );
        // Canal: milliseconds (Canal's `canal.instance.master.timestamp`), of the second the
        // transaction began: Canal compares it with each BEGIN's header second.
        let canal = p.emit(Format::Canal);
        assert!(
            canal.contains("canal.instance.master.timestamp=1634774459000\n"),
            "{canal}"
        );
        assert!(
            canal.contains(&format!("canal.instance.master.gtid={SET}\n")),
            "{canal}"
        );
        assert!(canal.contains("canal.instance.gtidon=true\n"), "{canal}");
        // Flink CDC: the whole executed set, never a single GTID.
        let flink = p.emit(Format::FlinkCdc);
        assert!(
            flink.contains("'scan.startup.mode' = 'specific-offset'"),
            "{flink}"
        );
        assert!(
            flink.contains(&format!(
                "'scan.startup.specific-offset.gtid-set' = '{SET}'"
            )),
            "{flink}"
        );
        // Debezium: seconds, and the offset key Kafka Connect stores.
        let dbz: serde_json::Value = serde_json::from_str(&p.emit(Format::Debezium)).unwrap();
        assert_eq!(dbz["offset"]["key"][0], "inventory-connector");
        assert_eq!(dbz["offset"]["key"][1]["server"], "dbserver1");
        assert_eq!(dbz["offset"]["value"]["ts_sec"], 1_634_774_460);
        assert_eq!(dbz["offset"]["value"]["gtids"], SET);
        assert_eq!(dbz["offset"]["value"]["server_id"], 223344);
        assert_eq!(dbz["offset"]["value"]["pos"], 4321);
        assert_eq!(dbz["offset"]["value"]["event"], 0);
        assert_eq!(dbz["offset"]["value"]["row"], 0);
        assert_eq!(
            dbz["connect_offsets_patch"]["offsets"][0]["partition"]["server"],
            "dbserver1"
        );
        assert_eq!(
            dbz["connect_offsets_patch"]["offsets"][0]["offset"],
            dbz["offset"]["value"]
        );
        // The signal takes a simple GTID set alone, never with a file and position.
        assert_eq!(dbz["set_binlog_position_signal"]["data"]["gtid_set"], SET);
        assert!(dbz["set_binlog_position_signal"]["data"]["binlog_position"].is_null());
        let gaps = point(
            ExecutedGtids::MySql(format!("{SET}:80-90").parse().unwrap()),
            server(true),
        );
        // A set with gaps: the MySQL connector's signal takes no such set, and a file and
        // position would not move a connector that reads GTIDs: no signal, and a note.
        let dbz: serde_json::Value = serde_json::from_str(&gaps.emit(Format::Debezium)).unwrap();
        assert!(dbz["set_binlog_position_signal"].is_null());
        assert_eq!(dbz["offset"]["value"]["gtids"], format!("{SET}:80-90"));
        assert!(gaps.notes(Format::Debezium)[0].contains("offsets PATCH"));
        // Without GTIDs, the signal's file and position.
        let mut plain = point(ExecutedGtids::None, server(false));
        plain.writes_gtids = Some(false);
        let dbz: serde_json::Value = serde_json::from_str(&plain.emit(Format::Debezium)).unwrap();
        assert_eq!(
            dbz["set_binlog_position_signal"]["data"]["binlog_position"],
            4321
        );
        assert_eq!(plain.notes(Format::Debezium).len(), 1);
        // MariaDB: Debezium's MariaDB connector takes MariaDB's GTIDs (`MariaDbGtidSet`, and
        // its SetBinlogPositionSignal's `{"gtid_set": "0-1-100,0-2-200"}`); Flink CDC and
        // Canal read only MySQL's sets, so they get the file and position alone.
        let maria = point(
            ExecutedGtids::MariaDb("0-1-213,1-2-7".parse().unwrap()),
            server(false),
        );
        let dbz: serde_json::Value = serde_json::from_str(&maria.emit(Format::Debezium)).unwrap();
        assert_eq!(dbz["offset"]["value"]["gtids"], "0-1-213,1-2-7");
        assert_eq!(
            dbz["set_binlog_position_signal"]["data"]["gtid_set"],
            "0-1-213,1-2-7"
        );
        assert!(!maria.emit(Format::FlinkCdc).contains("gtid"));
        assert!(!maria.emit(Format::Canal).contains("gtid"));
        // MySQL 8.0.36 (the source's version, said on stderr): auto-position from the
        // executed set; the password a placeholder; caching_sha2_password without TLS needs
        // the source's RSA key.
        let mysql = p.emit(Format::Mysql);
        assert!(mysql.contains("GET_SOURCE_PUBLIC_KEY = 1"), "{mysql}");
        assert!(p.notes(Format::Mysql)[0].contains("8.0.36"));
        assert!(
            mysql.contains(&format!("SET GLOBAL gtid_purged = '{SET}';")),
            "{mysql}"
        );
        assert!(mysql.contains("RESET MASTER;"), "{mysql}");
        assert!(mysql.contains("SOURCE_AUTO_POSITION = 1"), "{mysql}");
        assert!(mysql.contains("SOURCE_PASSWORD = '<password>'"), "{mysql}");
        // Before 8.0.23: CHANGE MASTER; without GTIDs: file and position.
        let mut old = point(ExecutedGtids::None, server(false));
        old.replica_version = Some("5.7.44".into());
        let mysql = old.emit(Format::Mysql);
        assert!(
            mysql.contains("CHANGE MASTER TO MASTER_HOST = 'db1', MASTER_PORT = 3306, MASTER_USER = 'repl', MASTER_LOG_FILE = 'mysql-bin.000012', MASTER_LOG_POS = 4321, MASTER_AUTO_POSITION = 0;"),
            "{mysql}"
        );
        assert!(!mysql.contains("PASSWORD"), "{mysql}");
        assert!(mysql.contains("MASTER_AUTO_POSITION = 0"), "{mysql}");
        assert!(old.notes(Format::Mysql).is_empty());
        // Binlogs without GTIDs (MySQL 5.7+ with gtid_mode=OFF) carry an empty PREVIOUS_GTIDS,
        // so the answer's set is empty, not absent. The form is the file and position, as for
        // no set at all: auto-position with `gtid_purged = ''` is refused by a GTID-less
        // replica (error 1777).
        let mut empty = point(
            ExecutedGtids::MySql(crate::gtid::GtidSet::new()),
            server(false),
        );
        empty.replica_version = Some("5.7.44".into());
        assert_eq!(empty.emit(Format::Mysql), old.emit(Format::Mysql));
        let empty84 = point(
            ExecutedGtids::MySql(crate::gtid::GtidSet::new()),
            server(false),
        );
        let mysql = empty84.emit(Format::Mysql);
        assert!(
            mysql.contains("SOURCE_LOG_FILE = 'mysql-bin.000012', SOURCE_LOG_POS = 4321, SOURCE_AUTO_POSITION = 0;")
                && !mysql.contains("RESET BINARY LOGS")
                && !mysql.contains("gtid_purged"),
            "{mysql}"
        );
        // From local files, no version known: MySQL 8.4's statements.
        let files84 = point(mysql_gtids(), Origin::Files { paths: Vec::new() });
        assert_eq!(
            files84.emit(Format::Mysql),
            format!(
                "STOP REPLICA;\nRESET BINARY LOGS AND GTIDS;\nSET GLOBAL gtid_purged = '{SET}';\n\
                 CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION = 1;\nSTART REPLICA;\n"
            )
        );
        // Over TLS: the replica and the recovery tool require it too.
        let mut tls = point(mysql_gtids(), server(true));
        if let Origin::Server { tls, .. } = &mut tls.origin {
            *tls = true;
        }
        assert!(tls.emit(Format::Mysql).contains("SOURCE_SSL = 1"));
        assert!(!tls.emit(Format::Mysql).contains("PUBLIC_KEY"));
        assert!(
            tls.emit(Format::Mysqlbinlog)
                .contains("--password --ssl-mode=REQUIRED")
        );
        // Recovery from local files: the files from the answer on, quoted for the shell.
        let files = point(
            ExecutedGtids::None,
            Origin::Files {
                paths: vec![
                    "/var/lib/my sql/mysql-bin.000012".into(),
                    "/var/lib/my sql/mysql-bin.000013".into(),
                ],
            },
        );
        assert_eq!(
            files.emit(Format::Mysqlbinlog),
            "mysqlbinlog --start-position=4321 '/var/lib/my sql/mysql-bin.000012' '/var/lib/my sql/mysql-bin.000013'\n"
        );
    }

    #[test]
    fn values_are_quoted_for_their_format() {
        assert_eq!(sql("it's"), "'it''s'");
        assert_eq!(sql("a\\b"), "'a\\\\b'");
        assert_eq!(prop(" a\\b\n"), "\\ a\\\\b\\n");
        assert_eq!(prop("é"), "\\u00e9");
        assert_eq!(flink("a\\b'c"), "'a\\b''c'");
        assert_eq!(shell("a b"), "'a b'");
        assert_eq!(shell("it's"), "'it'\\''s'");
        assert!(debezium_file_name("mysql-bin.000012"));
        assert!(!debezium_file_name("db.example-bin.000001"));
        assert!(!debezium_file_name("mysql-bin.1000000"));
    }
}
