//! How the server reads a start time: a bare one in the server's own default zone at that
//! instant, as the server computes it (`UNIX_TIMESTAMP('…')`, checked by converting back, so a
//! DST gap is an error and a DST fold means the earlier instant); one with an offset as it is.
//! Costs one connection and three queries.

use mysql_async::Conn;
use mysql_async::prelude::*;
use tokio::time::Instant;

use crate::start_time::{Reading, ResolvedTime, StartTime, TimeError, Zone};

use super::connection::{query_connection, within};

/// One hour: how far back a DST fold repeats the wall clock.
const HOUR_US: i64 = 3_600_000_000;
use super::error::RemoteError;
use super::settings::ConnSettings;

/// The instant a start time means to the server (a bare one read in the server's own zone at
/// that instant; one with an offset as it is), on a connection of its own when one is needed.
pub async fn read_start_time(
    settings: &ConnSettings,
    start: &StartTime,
    deadline: Instant,
) -> Result<ResolvedTime, RemoteError> {
    match start.reading(None, true) {
        Reading::Here(zone) => read_here(settings, start, zone),
        Reading::OnServer => {
            let mut conn = query_connection(settings, deadline).await?;
            let answer = server_time(settings, &mut conn, start, deadline).await;
            let _ = tokio::time::timeout_at(deadline, conn.disconnect()).await;
            answer
        }
    }
}

/// The instant `start` means on a live source, read where [`StartTime::reading`] says
/// (`zone`: the one the user gave), the server's part on `conn`.
pub(super) async fn instant_on(
    settings: &ConnSettings,
    conn: &mut Conn,
    start: &StartTime,
    zone: Option<&Zone>,
    deadline: Instant,
) -> Result<ResolvedTime, RemoteError> {
    match start.reading(zone, true) {
        Reading::OnServer => server_time(settings, conn, start, deadline).await,
        Reading::Here(zone) => read_here(settings, start, zone),
    }
}

fn read_here(
    settings: &ConnSettings,
    start: &StartTime,
    zone: &Zone,
) -> Result<ResolvedTime, RemoteError> {
    start.resolve(zone).map_err(|error| RemoteError::StartTime {
        server: settings.address(),
        error,
    })
}

/// The instant a bare start time means in the server's default time zone, as the server itself
/// computes it. A local time the zone skips is an error; one it has twice is the earlier.
async fn server_time(
    settings: &ConnSettings,
    conn: &mut Conn,
    start: &StartTime,
    deadline: Instant,
) -> Result<ResolvedTime, RemoteError> {
    // The text is digits and separators only (StartTime's grammar), safe to inline.
    let local = start.local.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let query = format!(
        "SELECT CAST(UNIX_TIMESTAMP('{local}') AS CHAR), @@session.time_zone, @@global.system_time_zone"
    );
    let row: Option<(Option<String>, String, String)> = within(
        settings,
        deadline,
        "asking the server to read the start time",
        conn.query_first(query),
    )
    .await?;
    let (seconds, zone, system) = row.unwrap_or_default();
    let zone = if zone.eq_ignore_ascii_case("SYSTEM") {
        format!("the server's time zone (SYSTEM = {system})")
    } else {
        format!("the server's time zone ({zone})")
    };
    let out_of_range = || RemoteError::TimeOutOfRange {
        server: settings.address(),
        input: start.input.clone(),
        zone: zone.clone(),
    };
    let us = seconds
        .as_deref()
        .and_then(parse_decimal_us)
        .filter(|&us| us > 0)
        .ok_or_else(out_of_range)?;
    // Converting back tells a skipped local time (DST gap) and a repeated one (DST fold).
    let back = |us: i64| {
        format!(
            "SELECT CAST(FROM_UNIXTIME({}.{:06}) AS CHAR)",
            us / 1_000_000,
            us % 1_000_000
        )
    };
    let same: Option<Option<String>> = within(
        settings,
        deadline,
        "checking the start time",
        conn.query_first(back(us)),
    )
    .await?;
    if same.flatten().as_deref() != Some(local.as_str()) {
        return Err(RemoteError::StartTime {
            server: settings.address(),
            error: TimeError::NonExistent {
                input: start.input.clone(),
                zone,
            },
        });
    }
    let hour_earlier: Option<Option<String>> = within(
        settings,
        deadline,
        "checking the start time",
        conn.query_first(back(us - HOUR_US)),
    )
    .await?;
    let (instant_us, note) = if hour_earlier.flatten().as_deref() == Some(local.as_str()) {
        (
            us - HOUR_US,
            Some(crate::start_time::AmbiguousTime {
                local: start.input.trim().to_owned(),
                zone: zone.clone(),
                used: None,
                later: None,
            }),
        )
    } else {
        (us, None)
    };
    Ok(ResolvedTime {
        instant_us,
        zone,
        note,
    })
}

/// `1901149200.500000` → µs.
fn parse_decimal_us(text: &str) -> Option<i64> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let whole: i64 = whole.parse().ok()?;
    let mut digits: String = fraction.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    Some(whole * 1_000_000 + digits.parse::<i64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_microseconds() {
        assert_eq!(
            parse_decimal_us("1901149200.500000"),
            Some(1_901_149_200_500_000)
        );
        assert_eq!(parse_decimal_us("1901149200"), Some(1_901_149_200_000_000));
        assert_eq!(
            parse_decimal_us("1901149200.5"),
            Some(1_901_149_200_500_000)
        );
        assert_eq!(parse_decimal_us("x"), None);
    }
}
