//! `--log-level` and `RUST_LOG`: what the library traces (connections, retries, dumps, cache
//! decisions) as stderr lines in the same style as every other (`debug: …`, `warning: …`),
//! control characters escaped. Nothing secret is ever traced: connections are named
//! `user@host:port`, never with a password.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use super::args::LogLevel;

/// Turns tracing on: `level` when given, else `RUST_LOG` (`debug`, or per module:
/// `startpoint::remote=trace,info`), else nothing beyond startpoint's own lines.
pub(super) fn init(level: Option<LogLevel>) {
    let filter = match level {
        Some(LogLevel::Off) => return,
        Some(level) => Targets::new().with_default(LevelFilter::from(level)),
        None => match std::env::var("RUST_LOG") {
            Ok(text) if !text.trim().is_empty() => match text.parse::<Targets>() {
                Ok(filter) => filter,
                Err(err) => {
                    say!("warning: RUST_LOG={text:?} is not a filter ({err}); ignored");
                    return;
                }
            },
            _ => return,
        },
    };
    let layer = tracing_subscriber::fmt::layer()
        .event_format(Lines)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    // A second subscriber cannot be set; there is never one before this.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

impl From<LogLevel> for LevelFilter {
    fn from(level: LogLevel) -> LevelFilter {
        match level {
            LogLevel::Off => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

/// `level: message field=value…`, one line per event.
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let mut fields = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut fields), event)?;
        writeln!(
            writer,
            "{level}: {}",
            startpoint::input::escape_controls(&fields)
        )
    }
}
