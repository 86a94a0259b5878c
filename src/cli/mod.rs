//! The thin command layer: parse with clap, call the library, print, choose the exit status.

/// `eprintln!` for whatever a message may carry from outside (a server's words, a file name):
/// control characters but newline and tab escaped, so nothing reaches the terminal raw.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!(
            "{}",
            startpoint::input::escape_controls_but(&format!($($arg)*), &['\n', '\t'])
        )
    };
}

mod args;
mod export_checkpoint;
mod index;
mod list_units;
mod logging;
mod operate_source;
mod progress;
mod query_status;
mod resolve_position;
mod start_task;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, GlobalArgs};

/// Exit status of a command that failed; stderr says why and what to do.
const EXIT_FAILED: u8 = 1;
/// Exit status of `resolve-position` when the start time is after every transaction: not 2,
/// which clap gives usage errors, so a script can tell "too late" from a mistyped command.
const EXIT_TOO_LATE: u8 = 3;

pub(crate) fn run() -> ExitCode {
    if password_on_the_command_line(std::env::args_os().skip(1)) {
        say!(
            "error: a password is never taken on the command line, where `ps` shows it to every \
             user: give -p alone (it asks at the terminal), or put the password in the [client] \
             group of ~/.my.cnf or in MYSQL_PWD"
        );
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    logging::init(cli.top.log_level);
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        // A reader that went away (`… | head`) is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            say!("error: {err:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Whether the arguments give a password (`-pSECRET`, `--password=SECRET`, `-p SECRET`): refused
/// before clap reads them, because clap's error would repeat the value, and `-pSECRET` would be
/// read as `-p -S ECRET`. No subcommand that takes `-p` takes a bare word after it.
fn password_on_the_command_line(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    for (at, arg) in args.iter().enumerate() {
        if arg == "--" {
            break;
        }
        let asks = matches!(arg.as_str(), "-p" | "--password" | "--ask-pass");
        let given = arg.starts_with("--password=")
            || arg.starts_with("--ask-pass=")
            || (arg.starts_with("-p") && !arg.starts_with("--") && arg.len() > 2);
        let next_is_a_word = args.get(at + 1).is_some_and(|next| !next.starts_with('-'));
        if given || (asks && next_is_a_word) {
            return true;
        }
    }
    false
}

/// The flags given before the subcommand merged with the subcommand's own: a flag the
/// subcommand does not take is a usage error (exit 2), and so is one given on both sides.
fn merged(cli: &Cli) -> GlobalArgs {
    let top = &cli.top;
    let takes = cli.command.takes();
    let name = cli.command.name();
    let net = takes.net.cloned().unwrap_or_default();
    let secret = takes.secret.cloned().unwrap_or_default();
    let scope = takes.scope.cloned().unwrap_or_default();
    let (has_net, has_scope) = (takes.net.is_some(), takes.scope.is_some());
    let listed = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let state_env = std::env::var_os("STARTPOINT_HOME").filter(|v| !v.is_empty());
    GlobalArgs {
        rpc_timeout: one(
            name,
            "--rpc-timeout",
            has_net,
            top.rpc_timeout,
            net.rpc_timeout,
        )
        .unwrap_or(args::DEFAULT_RPC_TIMEOUT),
        sources: one(
            name,
            "-s/--source",
            has_scope,
            listed(&top.sources),
            listed(&scope.sources),
        )
        .unwrap_or_default(),
        ssl_ca: one(name, "--ssl-ca", has_net, top.ssl_ca.clone(), net.ssl_ca),
        ssl_cert: one(
            name,
            "--ssl-cert",
            has_net,
            top.ssl_cert.clone(),
            net.ssl_cert,
        ),
        ssl_key: one(name, "--ssl-key", has_net, top.ssl_key.clone(), net.ssl_key),
        secret_key_path: one(
            name,
            "--secret-key-path",
            takes.secret.is_some(),
            top.secret_key_path.clone(),
            secret.secret_key_path,
        ),
        state_dir: one(
            name,
            "--state-dir",
            has_scope,
            top.state_dir.clone(),
            scope.state_dir,
        )
        .or_else(|| has_scope.then(|| state_env.map(Into::into)).flatten()),
    }
}

/// One shared flag of subcommand `name`, given `before` the subcommand, `after` it, or
/// neither; `taken` says whether the subcommand has it at all. Exits with a usage error when
/// it means nothing there or was given twice.
fn one<T>(name: &str, flag: &str, taken: bool, before: Option<T>, after: Option<T>) -> Option<T> {
    use clap::CommandFactory;
    use clap::error::ErrorKind;
    let refuse =
        |kind, message: String| -> Option<T> { Cli::command().error(kind, message).exit() };
    match (before, after) {
        (Some(_), _) if !taken => refuse(
            ErrorKind::UnknownArgument,
            format!("{flag} means nothing to {name}; leave it out"),
        ),
        (Some(_), Some(_)) => refuse(
            ErrorKind::ArgumentConflict,
            format!("{flag} was given both before and after {name}; give it once"),
        ),
        (before, after) => before.or(after),
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let global = merged(&cli);
    if let Some(addr) = &cli.top.master_addr {
        anyhow::bail!(
            "--master-addr {addr}: startpoint has no DM-master to talk to; the work a master and \
             its workers would do runs in this process. Run the same command without --master-addr."
        );
    }
    if let Some(config) = &cli.top.config {
        anyhow::bail!(
            "--config {}: dmctl's config file is not read by startpoint (it only says how to \
             reach a DM-master, which startpoint does not need); give --rpc-timeout and --ssl-* \
             as flags instead.",
            config.display()
        );
    }
    if let Some(path) = &global.secret_key_path {
        startpoint::task::secret::load_dm_secret_key(path)?;
    }
    match &cli.command {
        Command::ListUnits(args) => list_units::run(args),
        Command::ResolvePosition(args) => resolve_position::run(args, &global),
        Command::StartTask(args) => start_task::run(args, &global),
        Command::OperateSource(command) => operate_source::run(&command.command, &global),
        Command::QueryStatus(args) => query_status::run(args, &global),
        Command::ExportCheckpoint(args) => export_checkpoint::run(args, &global),
        Command::Index(args) => index::run(args, &global),
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut command, "startpoint", &mut out);
            Ok(0)
        }
        Command::Man(args) => {
            use clap::CommandFactory;
            // The page's header takes the one-line version, not --version's lines.
            let mut command = Cli::command().version(startpoint::build_info::VERSION);
            command.build();
            let page = match &args.subcommand {
                None => command,
                Some(name) => {
                    let names: Vec<String> = command
                        .get_subcommands()
                        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                        .map(|s| s.get_name().to_owned())
                        .collect();
                    let found = command.find_subcommand(name).filter(|_| name != "help");
                    let Some(sub) = found else {
                        // A usage error (exit 2), in clap's words.
                        Cli::command()
                            .error(
                                clap::error::ErrorKind::InvalidValue,
                                format!("no subcommand {name:?}; one of: {}", names.join(", ")),
                            )
                            .exit();
                    };
                    // The page of `startpoint resolve-position` is startpoint-resolve-position(1),
                    // as git's and cargo's subcommands' pages are named.
                    // (Leaked: clap takes a name as &'static str without its `string` feature,
                    // and the process ends after this page.)
                    let page_name: &'static str = format!("startpoint-{name}").leak();
                    sub.clone()
                        .name(page_name)
                        .version(startpoint::build_info::VERSION)
                }
            };
            clap_mangen::Man::new(page).render(&mut std::io::stdout().lock())?;
            Ok(0)
        }
    }
}

/// stdout for what may carry outside words (file names an index or a server gave, a server's
/// version): as text, control characters but newline and tab are escaped (`\x1b`); as JSON,
/// those serde_json leaves as they are (DEL and C1 controls) become `\u00XX`, still valid JSON.
struct Screen<W: std::io::Write> {
    out: W,
    json: bool,
}

impl<W: std::io::Write> Screen<W> {
    fn new(out: W, json: bool) -> Screen<W> {
        Screen { out, json }
    }
}

impl<W: std::io::Write> std::io::Write for Screen<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // `write!` hands over whole `str` pieces; anything else passes as it is.
        let Ok(text) = std::str::from_utf8(buf) else {
            return self.out.write(buf);
        };
        if !text.chars().any(char::is_control) {
            self.out.write_all(buf)?;
        } else if self.json {
            let mut safe = String::with_capacity(text.len() + 16);
            for c in text.chars() {
                match c {
                    '\u{7f}'..='\u{9f}' => safe.push_str(&format!("\\u{:04x}", c as u32)),
                    c => safe.push(c),
                }
            }
            self.out.write_all(safe.as_bytes())?;
        } else {
            let safe = startpoint::input::escape_controls_but(text, &['\n', '\t']);
            self.out.write_all(safe.as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// `schema_version` of every JSON document startpoint shapes itself.
pub(crate) use startpoint::resolve::explain::SCHEMA_VERSION;

/// Prints `value` as pretty JSON on stdout, through [`Screen`].
fn json_line(value: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = Screen::new(stdout.lock(), true);
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    out.flush()?;
    Ok(())
}

/// Prints DM's JSON on stdout; the exit status is 0 iff `result` is true.
fn print_dm<T: serde::Serialize>(value: &T, result: bool) -> anyhow::Result<u8> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = Screen::new(stdout.lock(), true);
    writeln!(out, "{}", startpoint::task::dm::dm_json(value))?;
    out.flush()?;
    Ok(if result { 0 } else { EXIT_FAILED })
}

/// The network runtime of the commands that talk to servers.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the network runtime: {e}"))
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The summary cache the cache flags ask for (`--no-cache`: none).
fn summary_cache(
    args: &args::CacheArgs,
) -> std::sync::Arc<startpoint::resolve::cache::SummaryCache> {
    use startpoint::resolve::cache::SummaryCache;
    let cache = match (&args.cache_dir, args.no_cache) {
        (_, true) => SummaryCache::disabled(),
        (Some(dir), false) => SummaryCache::open(dir),
        (None, false) => match SummaryCache::default_dir() {
            Some(dir) => SummaryCache::open(&dir),
            None => SummaryCache::disabled(),
        },
    };
    std::sync::Arc::new(cache)
}

/// The assumption the flags turn on, if any.
fn assumption(args: &args::AssumeArgs) -> Option<startpoint::resolve::Assumption> {
    use startpoint::resolve::Assumption;
    match (&args.assume_max_statement, args.assume_mtime_bounds) {
        (Some(duration), _) => Some(Assumption::MaxStatement {
            us: i64::try_from(duration.as_micros()).unwrap_or(i64::MAX),
        }),
        (None, true) => Some(Assumption::FileMtime),
        (None, false) => None,
    }
}

/// The connection settings of a live source (`--source-config`, else `--url`, `--host` or
/// `-R` with the mysql client's conventions: flags, option files, `MYSQL_PWD`), with the
/// command's compression and server_id; `None` for a local source.
fn live_settings(
    source: &args::SourceArgs,
    client: &args::ClientArgs,
    global: &args::GlobalArgs,
    compress: bool,
    server_id: Option<u32>,
) -> Result<Option<startpoint::remote::ConnSettings>, LiveSourceError> {
    use startpoint::remote::option_files::{self, ClientEnv, ClientFlags, Defaults};
    use startpoint::task::source::SourceConfig;
    let mut settings = if let Some(path) = &source.source_config {
        let config = SourceConfig::load(path)?;
        for warning in &config.warnings {
            say!("warning: {warning}");
        }
        config
            .connection
            .with_default_tls(Some(&global.tls_files()))
    } else if source.url.is_some()
        || source.host.is_some()
        || source.remote
        || source.socket.is_some()
    {
        let defaults = match (&client.defaults_file, client.no_defaults) {
            (Some(only), _) => Defaults::Only(only.clone()),
            (None, true) => Defaults::None,
            (None, false) => Defaults::Standard {
                extra: client.defaults_extra_file.clone(),
                home: std::env::var_os("HOME").map(std::path::PathBuf::from),
            },
        };
        let options = option_files::load(&defaults)?;
        tracing::debug!(
            "option files read: {}",
            match options.read.is_empty() {
                true => "none".to_owned(),
                false => options
                    .read
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        );
        for warning in &options.warnings {
            say!("warning: {warning}");
        }
        let flags = ClientFlags {
            url: source.url.clone(),
            host: source.host.clone(),
            port: client.port,
            user: client.user.clone(),
            socket: source.socket.clone(),
            ask_password: client.ask_password,
            ssl_mode: client.ssl_mode,
            tls: global.tls_files(),
        };
        option_files::client_settings(&flags, &options, &ClientEnv::from_process(), &mut || {
            rpassword::prompt_password("Enter password: ")
        })?
    } else {
        return Ok(None);
    };
    settings.compress = compress;
    settings.server_id = server_id;
    Ok(Some(settings))
}

/// What to say when no source was chosen (clap's group requires one; this is the library
/// call's own check).
const NO_SOURCE: &str =
    "give --binlog-dir, --relay-dir, --host, --socket, -R, --url or --source-config";

/// The task a `query-status` or `export-checkpoint` argument names (a name or a task file, as
/// dmctl reads it), with a warning when a `.yaml` argument is not a task file.
fn task_arg(arg: &str) -> startpoint::task::status::TaskArg {
    let task = startpoint::task::status::task_arg(arg);
    if let Some(why) = &task.unread {
        say!("warning: {arg}: not read as a task file ({why}); taken as the task's name");
    }
    task
}

/// The local sequence of a `--binlog-dir` or `--relay-dir` source (`None` for a live one), with
/// what was left out of it noted on stderr.
fn local_sequence(
    source: &args::SourceArgs,
    explain: bool,
) -> Result<Option<startpoint::source::local::BinlogDir>, startpoint::source::local::LocalSourceError>
{
    let sequence = match (&source.binlog_dir, &source.relay_dir) {
        (Some(dir), _) => startpoint::source::local::BinlogDir::open(dir)?,
        (_, Some(dir)) => startpoint::source::relay::open_relay_dir(dir)?,
        _ => return Ok(None),
    };
    note_left_out(&sequence.left_out, explain);
    Ok(Some(sequence))
}

/// One note per entry left out of a local sequence, except the quiet ones (a datadir's own
/// files beside the index that names its binlogs), which only `--explain` (`explain`) mentions,
/// in one line.
fn note_left_out(left_out: &[startpoint::source::local::LeftOut], explain: bool) {
    let (quiet, loud): (Vec<_>, Vec<_>) = left_out.iter().partition(|l| l.quiet);
    for left in loud {
        say!("note: {} left out ({})", left.name, left.why);
    }
    if explain && !quiet.is_empty() {
        let names: Vec<&str> = quiet.iter().map(|l| l.name.as_str()).collect();
        say!(
            "note: {} other entries left out (not binlog files; the index names the binlogs): {}",
            quiet.len(),
            names.join(", ")
        );
    }
}

/// Why a live source's settings could not be made.
#[derive(Debug, thiserror::Error)]
enum LiveSourceError {
    #[error(transparent)]
    Client(#[from] startpoint::remote::option_files::ClientSettingsError),
    #[error(transparent)]
    OptionFile(#[from] startpoint::remote::option_files::OptionFileError),
    #[error(transparent)]
    SourceConfig(#[from] startpoint::task::source::SourceConfigError),
}
