//! The command line, as clap sees it: dmctl's global flags and names, plus `resolve-position` and
//! `list-units` for diagnostics. Nothing here decides anything; `cli::run` dispatches.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use startpoint::task::go_duration::GoDurationError;

const ABOUT: &str = "Find the binlog location to start MySQL/MariaDB replication from, so that \
                     nothing committed since a given time is missed; start DM tasks from it.";

const AFTER_HELP: &str = "Global flags are dmctl's. There is no DM-master: the work a master and its \
                          workers would do runs in this process.\n\
                          State (source configs, embedded checkpoints) lives in --state-dir, else \
                          $STARTPOINT_HOME, else $XDG_STATE_HOME/startpoint, else ~/.local/state/startpoint.\n\n\
                          Exit status: 0 success; 1 failure (stderr says why); 2 usage error; 3 the \
                          start time is after every transaction (resolve-position).";

#[derive(Debug, Parser)]
#[command(name = "startpoint", version = startpoint::build_info::version_text())]
#[command(about = ABOUT, after_help = AFTER_HELP)]
#[command(disable_version_flag = true)]
pub(super) struct Cli {
    #[command(flatten)]
    pub top: TopArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The flags before the subcommand: dmctl's global flags (same names, same defaults), plus
/// `--state-dir`. Each but `--config` and `--master-addr` (which are refused with a reason) is
/// also a flag of the subcommands that use it, and only of those: given here to a subcommand
/// that does not use it, it is a usage error.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(super) struct TopArgs {
    /// dmctl's config file: not supported (startpoint has no master to reach); give the
    /// flags instead.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// DM-master address. Not used: startpoint has no master and does its work locally.
    #[arg(long, value_name = "ADDR")]
    pub master_addr: Option<String>,

    /// As the subcommands' --rpc-timeout [default: 10m] (resolve-position, index, start-task,
    /// query-status, export-checkpoint).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub rpc_timeout: Option<Duration>,

    /// As the subcommands' -s (start-task, query-status, export-checkpoint, operate-source).
    #[arg(short = 's', long = "source", value_name = "ID", value_delimiter = ',')]
    pub sources: Vec<String>,

    /// As the subcommands' --ssl-ca (resolve-position, index, start-task, query-status,
    /// export-checkpoint).
    #[arg(long, value_name = "FILE")]
    pub ssl_ca: Option<PathBuf>,

    /// As the subcommands' --ssl-cert.
    #[arg(long, value_name = "FILE")]
    pub ssl_cert: Option<PathBuf>,

    /// As the subcommands' --ssl-key.
    #[arg(long, value_name = "FILE")]
    pub ssl_key: Option<PathBuf>,

    /// As the subcommands' --secret-key-path (all but list-units, completions, man).
    #[arg(long, value_name = "FILE")]
    pub secret_key_path: Option<PathBuf>,

    /// As the subcommands' --state-dir (start-task, query-status, export-checkpoint,
    /// operate-source).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// What to log on stderr besides errors, warnings and notes: connections, retries, dumps,
    /// cache decisions (never a password) [default: off, else RUST_LOG].
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,

    /// Print the version and exit.
    #[arg(short = 'V', long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
}

/// `--log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// How long a source's work may take, and TLS for MySQL connections: the subcommands that
/// connect to servers.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Servers")]
pub(super) struct NetArgs {
    /// Deadline for each source's work (connecting, prechecks, resolution), in Go duration
    /// syntax such as 10m, 90s, 1h30m [default: 10m].
    #[arg(id = "sub_rpc_timeout", long = "rpc-timeout", global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub rpc_timeout: Option<Duration>,

    /// File of trusted CA certificates (PEM) for MySQL connections whose config has no
    /// `security` section.
    #[arg(id = "sub_ssl_ca", long = "ssl-ca", global = true, value_name = "FILE")]
    pub ssl_ca: Option<PathBuf>,

    /// Client certificate (PEM) for MySQL connections.
    #[arg(
        id = "sub_ssl_cert",
        long = "ssl-cert",
        global = true,
        value_name = "FILE"
    )]
    pub ssl_cert: Option<PathBuf>,

    /// Client private key (PEM) for MySQL connections.
    #[arg(
        id = "sub_ssl_key",
        long = "ssl-key",
        global = true,
        value_name = "FILE"
    )]
    pub ssl_key: Option<PathBuf>,
}

/// DM's secret key: the subcommands that read DM files with encrypted passwords.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "DM")]
pub(super) struct SecretArgs {
    /// DM's secret key file (64 hexadecimal characters, as DM-master's `secret-key-path`):
    /// passwords encrypted with `dmctl encrypt` in source and task files are decrypted with it.
    #[arg(
        id = "sub_secret_key_path",
        long = "secret-key-path",
        global = true,
        value_name = "FILE"
    )]
    pub secret_key_path: Option<PathBuf>,
}

/// Which sources, and where startpoint keeps its state: the DM task commands.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "DM")]
pub(super) struct ScopeArgs {
    /// MySQL source ID (repeatable): restrict the command to these sources.
    /// `-s a,b` names two sources, as dmctl's string-slice flag does.
    #[arg(
        id = "sub_sources",
        short = 's',
        long = "source",
        global = true,
        value_name = "ID",
        value_delimiter = ','
    )]
    pub sources: Vec<String>,

    /// Directory for startpoint's state (source configs, embedded checkpoint store)
    /// [env: STARTPOINT_HOME].
    #[arg(
        id = "sub_state_dir",
        long = "state-dir",
        global = true,
        value_name = "DIR"
    )]
    pub state_dir: Option<PathBuf>,
}

/// The flags before and after the subcommand, merged: what the commands read.
#[derive(Debug, Clone)]
pub(super) struct GlobalArgs {
    pub rpc_timeout: Duration,
    pub sources: Vec<String>,
    pub ssl_ca: Option<PathBuf>,
    pub ssl_cert: Option<PathBuf>,
    pub ssl_key: Option<PathBuf>,
    pub secret_key_path: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

/// The default of `--rpc-timeout`, dmctl's.
pub(super) const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(600);

impl GlobalArgs {
    /// `--ssl-ca`, `--ssl-cert`, `--ssl-key`.
    pub(super) fn tls_files(&self) -> startpoint::remote::TlsFiles {
        startpoint::remote::TlsFiles {
            ca: self.ssl_ca.clone(),
            cert: self.ssl_cert.clone(),
            key: self.ssl_key.clone(),
            ..Default::default()
        }
    }

    /// The `--ssl-*` files for connections whose config has no `security`, when any is given.
    pub(super) fn default_tls(&self) -> Option<startpoint::remote::TlsFiles> {
        Some(self.tls_files()).filter(|tls| !tls.is_empty())
    }
}

/// Which of the shared flags a subcommand takes.
#[derive(Default)]
pub(super) struct Takes<'a> {
    pub net: Option<&'a NetArgs>,
    pub secret: Option<&'a SecretArgs>,
    pub scope: Option<&'a ScopeArgs>,
}

impl Command {
    /// The shared flags this subcommand takes.
    pub(super) fn takes(&self) -> Takes<'_> {
        match self {
            Command::ResolvePosition(a) => Takes {
                net: Some(&a.net),
                secret: Some(&a.secret),
                scope: None,
            },
            Command::Index(a) => Takes {
                net: Some(&a.net),
                secret: Some(&a.secret),
                scope: None,
            },
            Command::StartTask(a) => Takes {
                net: Some(&a.net),
                secret: Some(&a.secret),
                scope: Some(&a.scope),
            },
            Command::QueryStatus(a) => Takes {
                net: Some(&a.net),
                secret: Some(&a.secret),
                scope: Some(&a.scope),
            },
            Command::ExportCheckpoint(a) => Takes {
                net: Some(&a.net),
                secret: Some(&a.secret),
                scope: Some(&a.scope),
            },
            Command::OperateSource(a) => Takes {
                net: None,
                secret: Some(&a.secret),
                scope: Some(&a.scope),
            },
            Command::ListUnits(_) | Command::Completions(_) | Command::Man(_) => Takes::default(),
        }
    }

    /// The subcommand's name, for messages.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Command::ResolvePosition(_) => "resolve-position",
            Command::ListUnits(_) => "list-units",
            Command::StartTask(_) => "start-task",
            Command::OperateSource(_) => "operate-source",
            Command::QueryStatus(_) => "query-status",
            Command::ExportCheckpoint(_) => "export-checkpoint",
            Command::Index(_) => "index",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Resolve a start time to a binlog file, position and GTID set (diagnostic).
    ResolvePosition(ResolvePositionArgs),
    /// List the transaction units of binlog files, one line each (diagnostic).
    ListUnits(ListUnitsArgs),
    /// Start a DM task from a start time, its checkpoint or its meta, writing DM's checkpoint.
    StartTask(StartTaskArgs),
    /// Create, show or stop DM source configs kept in the state directory.
    OperateSource(OperateSourceArgs),
    /// Write a task's checkpoint, as start-task stored it, into DM's tables in the target
    /// database (or another server with --to), with the downstream store's guards; or print
    /// the statements (--sql).
    ExportCheckpoint(ExportCheckpointArgs),
    /// Show a task's stored checkpoint and safe-mode exit point per source, in dmctl's shape;
    /// without a task, every task startpoint has started.
    QueryStatus(QueryStatusArgs),
    /// Summarise every binlog file not summarised yet (kept in the summary cache, so that
    /// later resolutions skip them) and print what history the source holds, per file. Costs
    /// one full read of every file not summarised yet (streamed, from a live server).
    Index(IndexArgs),
    /// Print a completion script for SHELL to stdout (e.g. `startpoint completions bash >
    /// /etc/bash_completion.d/startpoint`).
    Completions(CompletionsArgs),
    /// Print startpoint's man page (roff) to stdout (`startpoint man | man -l -`), or a
    /// subcommand's (`startpoint man resolve-position`, installed as
    /// startpoint-resolve-position(1)).
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub(super) struct ManArgs {
    /// The subcommand whose page to print; the main page without it.
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(super) struct IndexArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Use protocol compression with a live server.
    #[arg(long)]
    pub compress: bool,

    /// server_id the dumps register with on a live server.
    #[arg(long, value_name = "ID")]
    pub server_id: Option<u32>,

    /// Audit the summary cache: trust no summary, read every file again, and report (and
    /// replace) every cached summary that does not say what the file says; exit status 1 if
    /// any did not.
    #[arg(long, conflicts_with = "no_cache")]
    pub verify: bool,

    #[command(flatten)]
    pub cache: CacheArgs,

    // Last: their help headings hold for what follows them.
    #[command(flatten)]
    pub client: ClientArgs,

    #[command(flatten)]
    pub net: NetArgs,

    #[command(flatten)]
    pub secret: SecretArgs,
}

/// Consumers `resolve-position --emit` speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmitFormat {
    /// DM's task file `meta` block.
    Dm,
    /// Debezium's MySQL connector offset, Kafka Connect's offsets PATCH body and the
    /// set-binlog-position signal.
    Debezium,
    /// Only the body of Kafka Connect's PATCH /connectors/NAME/offsets, for curl -d @-.
    DebeziumPatch,
    /// Flink CDC's MySQL source WITH options.
    FlinkCdc,
    /// Canal's instance.properties start point.
    Canal,
    /// Statements that make a MySQL server a replica from the answer.
    Mysql,
    /// Statements that make a MariaDB server a replica from the answer.
    Mariadb,
    /// The mysqlbinlog / mariadb-binlog point-in-time recovery command.
    Mysqlbinlog,
}

impl From<EmitFormat> for startpoint::emit::Format {
    fn from(f: EmitFormat) -> Self {
        use startpoint::emit::Format;
        match f {
            EmitFormat::Dm => Format::Dm,
            EmitFormat::Debezium => Format::Debezium,
            EmitFormat::DebeziumPatch => Format::DebeziumPatch,
            EmitFormat::FlinkCdc => Format::FlinkCdc,
            EmitFormat::Canal => Format::Canal,
            EmitFormat::Mysql => Format::Mysql,
            EmitFormat::Mariadb => Format::Mariadb,
            EmitFormat::Mysqlbinlog => Format::Mysqlbinlog,
        }
    }
}

/// Output formats of the diagnostic commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OutputFormat {
    /// For people: one screen, the answer first.
    Text,
    /// Stable JSON for scripts.
    Json,
}

/// Which clock a transaction unit is dated by (SEMANTICS.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimeBasis {
    /// The commit time: MySQL 8's immediate_commit_timestamp, else the last event's header time.
    Commit,
    /// The header time of the unit's first event, as TiDB DM uses.
    Begin,
}

/// Whether to compute the GTID set at the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GtidMode {
    /// Compute it when the binlog carries GTIDs.
    Auto,
    /// Compute it; fail when the binlog has none.
    On,
    /// Leave it empty and skip the work.
    Off,
}

/// Where the binlog comes from: one of these (`--host` and `-R` may go together, as for
/// mysqlbinlog).
#[derive(Debug, Clone, Args)]
#[group(id = "source", required = true, multiple = true)]
pub(super) struct SourceArgs {
    /// Directory of binlog files (ordered by its .index when present).
    #[arg(long, value_name = "DIR",
          conflicts_with_all = ["relay_dir", "url", "source_config", "host", "remote", "socket"])]
    pub binlog_dir: Option<PathBuf>,

    /// DM relay directory (server-uuid.index and its <uuid>.<seq> sub-directories).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["url", "source_config", "host", "remote", "socket"])]
    pub relay_dir: Option<PathBuf>,

    /// Live server, mysql://USER[:PASSWORD]@HOST[:PORT]; the password better in ~/.my.cnf,
    /// -p or MYSQL_PWD.
    #[arg(long, value_name = "URL", conflicts_with_all = ["source_config", "host", "remote", "socket"])]
    pub url: Option<String>,

    /// DM source file describing the live server.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["host", "remote", "socket"])]
    pub source_config: Option<PathBuf>,

    /// Live server's host name or IP address, as the mysql client's --host (over TCP).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Read from the live server the option files name (their `host`, else localhost), as
    /// mysqlbinlog's -R.
    #[arg(short = 'R', long = "read-from-remote-server")]
    pub remote: bool,

    /// Unix socket of a local live server (for host localhost, the default host), as the
    /// mysql client's --socket [default: the option files, MYSQL_UNIX_PORT,
    /// /run/mysqld/mysqld.sock].
    #[arg(short = 'S', long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// How to log in to a live server, as the mysql client takes it: flags first, then the
/// option files ([client], [client-server], [client-mariadb], [startpoint] of /etc/my.cnf,
/// /etc/mysql/my.cnf, --defaults-extra-file, ~/.my.cnf), then MYSQL_PWD and MYSQL_TCP_PORT.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection (mysql client conventions)")]
pub(super) struct ClientArgs {
    /// TCP port of the live server (default: the option files, MYSQL_TCP_PORT, 3306).
    #[arg(short = 'P', long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..),
          conflicts_with_all = ["binlog_dir", "relay_dir", "source_config", "url"])]
    pub port: Option<u16>,

    /// User to log in as (default: the option files, then the login name).
    #[arg(short = 'u', long, value_name = "USER",
          conflicts_with_all = ["binlog_dir", "relay_dir", "source_config", "url"])]
    pub user: Option<String>,

    /// Ask for the password at the terminal (never echoed). A password is never taken on the
    /// command line, where `ps` shows it: use this, ~/.my.cnf or MYSQL_PWD.
    #[arg(short = 'p', long = "password", visible_alias = "ask-pass",
          conflicts_with_all = ["binlog_dir", "relay_dir", "source_config"])]
    pub ask_password: bool,

    /// DISABLED, PREFERRED, REQUIRED (encrypt, no check), VERIFY_CA or VERIFY_IDENTITY, as
    /// the mysql client's --ssl-mode; default: TLS when --ssl-ca/--ssl-cert/--ssl-key (or the
    /// option files) give material, verifying the server's name.
    #[arg(long, value_name = "MODE", value_parser = parse_ssl_mode,
          conflicts_with_all = ["binlog_dir", "relay_dir", "source_config"])]
    pub ssl_mode: Option<startpoint::remote::option_files::SslMode>,

    /// Read only this option file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["defaults_extra_file", "no_defaults",
          "binlog_dir", "relay_dir", "source_config"])]
    pub defaults_file: Option<PathBuf>,

    /// Read this option file after the global ones and before ~/.my.cnf.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["no_defaults",
          "binlog_dir", "relay_dir", "source_config"])]
    pub defaults_extra_file: Option<PathBuf>,

    /// Read no option file.
    #[arg(long, conflicts_with_all = ["binlog_dir", "relay_dir", "source_config"])]
    pub no_defaults: bool,
}

#[derive(Debug, Args)]
pub(super) struct ResolvePositionArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The start time: '2006-01-02 15:04:05', optionally with up to 6 fractional digits and
    /// Z, +hh:mm or +hhmm; 'T' may replace the space.
    #[arg(long, value_name = "TIME")]
    pub start_time: String,

    /// Time zone of a start time without offset (IANA name or ±hh:mm); default: the server's own
    /// zone for a live server (it reads the time itself), else this machine's.
    #[arg(long, value_name = "TZ", allow_hyphen_values = true)]
    pub timezone: Option<String>,

    /// The clock transactions are dated by.
    #[arg(long, value_enum, default_value_t = TimeBasis::Commit)]
    pub time_basis: TimeBasis,

    /// Whether to compute the GTID set at the answer.
    #[arg(long, value_enum, default_value_t = GtidMode::Auto)]
    pub gtid: GtidMode,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Print the answer in a consumer's own form (repeatable); with one, stdout holds only it,
    /// ready to pipe into the consumer. Its own form is the output: not with --output.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "output")]
    pub emit: Vec<EmitFormat>,

    /// The MySQL replica's version for `--emit mysql` (e.g. 5.7.44: CHANGE MASTER before
    /// 8.0.23); default: the live source's, else 8.4's statements.
    #[arg(long, value_name = "VERSION")]
    pub replica_version: Option<String>,

    /// Debezium's connector name for `--emit debezium`.
    #[arg(long, value_name = "NAME", default_value = "mysql-connector")]
    pub debezium_connector: String,

    /// Debezium's topic.prefix (the offset's "server") for `--emit debezium`.
    #[arg(long, value_name = "PREFIX", default_value = "mysql")]
    pub debezium_topic_prefix: String,

    /// Also say how the answer was reached (files opened, bytes read, probes).
    #[arg(long)]
    pub explain: bool,

    /// Use protocol compression with a live server.
    #[arg(long)]
    pub compress: bool,

    /// server_id the probes register with on a live server (default: a random one from
    /// 4026531840 up, where no real replica lives).
    #[arg(long, value_name = "ID")]
    pub server_id: Option<u32>,

    #[command(flatten)]
    pub cache: CacheArgs,

    #[command(flatten)]
    pub assume: AssumeArgs,

    // Last: their help headings hold for what follows them.
    #[command(flatten)]
    pub client: ClientArgs,

    #[command(flatten)]
    pub net: NetArgs,

    #[command(flatten)]
    pub secret: SecretArgs,
}

/// Opt-in assumptions that skip files without reading them (SEMANTICS.md §6, last paragraph).
#[derive(Debug, Clone, clap::Args)]
pub(super) struct AssumeArgs {
    /// Assume no statement (nor a replica's applying of a transaction) ran longer than
    /// DURATION (e.g. 10m): a file then holds nothing later than the next file's creation
    /// second + 1 s + DURATION, so older files can be skipped without reading them. On a
    /// replica, count its replication lag in DURATION (its files carry the source's times).
    /// Not proven by the binlog: the answer names it, and a transaction read that contradicts
    /// it turns it off for the rest of the run.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub assume_max_statement: Option<std::time::Duration>,

    /// Assume a local binlog file's modification time bounds its transactions (the server's
    /// clock never ran behind the times it wrote, and the file was not touched to an earlier
    /// time): files last modified before the start time are skipped. Local files only; named
    /// in the answer; turned off by any transaction read that contradicts it.
    #[arg(long, conflicts_with = "assume_max_statement")]
    pub assume_mtime_bounds: bool,
}

/// The file-summary cache (SEMANTICS.md §6.2).
#[derive(Debug, Clone, clap::Args)]
pub(super) struct CacheArgs {
    /// Where file summaries are kept between runs, so that files read once are skipped
    /// without reading them again (default: $XDG_CACHE_HOME/startpoint, else
    /// ~/.cache/startpoint). A summary is used only for the very same file (same source,
    /// name, size, first events and end, and locally the same inode and change time); a
    /// damaged or foreign cache, or one another user could have written, is ignored with a note.
    /// Costs: a few hundred bytes per file stored; per skipped file, two 4 KiB reads locally or
    /// two short binlog dumps from a server.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Neither read nor write the summary cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub(super) struct ListUnitsArgs {
    /// Binlog files or directories of them.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,

    /// Output format (json: one object per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Where start-task keeps checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetaStore {
    /// DM's checkpoint table in a SQLite file in the state directory.
    Embedded,
    /// DM's checkpoint table in the task's target-database.
    Downstream,
}

#[derive(Debug, Args)]
pub(super) struct StartTaskArgs {
    /// The DM task file.
    #[arg(value_name = "TASK.yaml")]
    pub task_file: PathBuf,

    /// Remove the task's previous meta data (checkpoints, exit point) first.
    #[arg(long)]
    pub remove_meta: bool,

    /// Start replication from this time, e.g. '2021-10-21 00:01:00' or 2021-10-21T00:01:00+08:00.
    #[arg(long, value_name = "TIME")]
    pub start_time: Option<String>,

    /// Where the checkpoint is kept.
    #[arg(long, value_enum, default_value_t = MetaStore::Embedded)]
    pub meta_store: MetaStore,

    /// The DM task is stopped (`dmctl stop-task`): write over checkpoint rows DM wrote since
    /// startpoint last set them.
    #[arg(long)]
    pub task_stopped: bool,

    /// Do everything but the write; print what would be written.
    #[arg(long)]
    pub dry_run: bool,

    /// The clock transactions are dated by when resolving --start-time (DM uses begin).
    #[arg(long, value_enum, default_value_t = TimeBasis::Commit)]
    pub time_basis: TimeBasis,

    #[command(flatten)]
    pub cache: CacheArgs,

    #[command(flatten)]
    pub assume: AssumeArgs,

    // Last: their help headings hold for what follows them.
    #[command(flatten)]
    pub scope: ScopeArgs,

    #[command(flatten)]
    pub net: NetArgs,

    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub(super) struct OperateSourceArgs {
    #[command(subcommand)]
    pub command: OperateSourceCommand,

    #[command(flatten)]
    pub scope: ScopeArgs,

    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Subcommand)]
pub(super) enum OperateSourceCommand {
    /// Store DM source configs in the state directory.
    Create {
        #[arg(value_name = "SOURCE.yaml", required = true)]
        source_files: Vec<PathBuf>,
    },
    /// Show stored source configs (passwords are never shown); -s selects some.
    Show,
    /// Remove a stored source config.
    Stop {
        #[arg(value_name = "ID")]
        source_id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct ExportCheckpointArgs {
    /// The task's name, or its task file (its `name` is read).
    #[arg(value_name = "TASK | TASK.yaml")]
    pub task: String,

    /// Write to this server instead of the task's target-database:
    /// mysql://USER[:PASSWORD]@HOST[:PORT] (the password better in MYSQL_PWD).
    #[arg(long, value_name = "URL", conflicts_with = "sql")]
    pub to: Option<String>,

    /// Print the statements (MySQL, runnable as they are) instead of running them.
    #[arg(long)]
    pub sql: bool,

    /// The DM task is stopped (`dmctl stop-task`): write over checkpoint rows DM wrote since
    /// startpoint last set them.
    #[arg(long, conflicts_with = "sql")]
    pub task_stopped: bool,

    // Last: their help headings hold for what follows them.
    #[command(flatten)]
    pub scope: ScopeArgs,

    #[command(flatten)]
    pub net: NetArgs,

    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub(super) struct QueryStatusArgs {
    /// The task's name, or its task file (its `name` is read, as dmctl reads it); without
    /// one, every task startpoint has started, summarised.
    #[arg(value_name = "TASK | TASK.yaml")]
    pub task: Option<String>,

    /// The full reply even without a task (dmctl's --more).
    #[arg(long)]
    pub more: bool,

    // Last: their help headings hold for what follows them.
    #[command(flatten)]
    pub scope: ScopeArgs,

    #[command(flatten)]
    pub net: NetArgs,

    #[command(flatten)]
    pub secret: SecretArgs,
}

/// `--ssl-mode`, by MySQL's names in any case.
fn parse_ssl_mode(text: &str) -> Result<startpoint::remote::option_files::SslMode, String> {
    startpoint::remote::option_files::SslMode::parse(text).ok_or_else(|| {
        "expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY".to_owned()
    })
}

/// A duration flag in the Go syntax dmctl reads (`10m`, `90s`, `1h30m`), more than zero.
fn parse_duration(text: &str) -> Result<Duration, GoDurationError> {
    startpoint::task::go_duration::positive_go_duration(text)
}

// The library's own types behind the command line's value names (their text is the library's).

impl From<TimeBasis> for startpoint::unit::TimeBasis {
    fn from(basis: TimeBasis) -> Self {
        match basis {
            TimeBasis::Commit => startpoint::unit::TimeBasis::Commit,
            TimeBasis::Begin => startpoint::unit::TimeBasis::Begin,
        }
    }
}

impl From<GtidMode> for startpoint::resolve::GtidMode {
    fn from(mode: GtidMode) -> Self {
        match mode {
            GtidMode::Auto => startpoint::resolve::GtidMode::Auto,
            GtidMode::On => startpoint::resolve::GtidMode::On,
            GtidMode::Off => startpoint::resolve::GtidMode::Off,
        }
    }
}

impl From<MetaStore> for startpoint::task::store::MetaStoreKind {
    fn from(store: MetaStore) -> Self {
        match store {
            MetaStore::Embedded => startpoint::task::store::MetaStoreKind::Embedded,
            MetaStore::Downstream => startpoint::task::store::MetaStoreKind::Downstream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Duration flags read Go's syntax, as dmctl reads `--rpc-timeout` (`time.ParseDuration`):
    /// a bare number has no unit, and days or spaces are not Go's.
    #[test]
    fn duration_flags_read_go_durations_as_dmctl_does() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["10", "1d", "1h 30m", "ten minutes", "0", "-5m", ""] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let unitless = parse_duration("10").unwrap_err().to_string();
        assert!(unitless.contains("a unit is missing"), "{unitless}");
    }
}
