//! Start times (SEMANTICS.md §1): the forms a user may write, and the instant each means.
//!
//! Accepted: `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`, optionally with 1–6 fractional
//! digits, optionally followed by `Z`, `±hh:mm` or `±hhmm`. A value with an offset is absolute;
//! a bare value is wall-clock time in a zone ([`Zone`]): a non-existent local time (DST gap) is
//! an error, an ambiguous one (DST fold) is the earlier instant, with a note saying so.
//! Instants are microseconds since the Unix epoch.

use std::fmt;

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};

use crate::input::escape_controls;

/// The forms accepted, for error messages.
pub const ACCEPTED_FORMS: &str = "'2006-01-02 15:04:05', '2006-01-02T15:04:05', each optionally \
     with up to 6 fractional digits ('2006-01-02 15:04:05.123456') and an offset: 'Z', '+08:00' \
     or '+0800' ('-' too)";

/// Why a start time or a time zone was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text is not a date and time in an accepted form.
    #[error("start-time {input:?} is not a time startpoint understands; expected {ACCEPTED_FORMS}")]
    Format {
        /// The start time as written.
        input: String,
    },
    /// The local time falls in a daylight-saving gap of its zone.
    #[error(
        "start-time {input:?} does not exist in {zone}: the clocks skip it at a daylight-saving \
         change; write it with an explicit offset or pick a time outside the gap"
    )]
    NonExistent {
        /// The start time as written.
        input: String,
        /// The zone it was read in.
        zone: String,
    },
    /// The zone is neither a known IANA name nor an offset.
    #[error(
        "unknown time zone {zone:?}; use an IANA name such as Europe/Berlin or UTC, or an \
         offset such as +08:00"
    )]
    Zone {
        /// The zone as written.
        zone: String,
    },
}

/// A start time as written: wall-clock date and time, and the offset if one was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTime {
    /// Exactly as the user wrote it (DM's error texts quote it).
    pub input: String,
    /// The wall-clock date and time.
    pub local: NaiveDateTime,
    /// The offset written with it (`Z`, `+08:00`); `None`: the zone decides.
    pub offset: Option<FixedOffset>,
}

/// Where a start time is read: the one policy of every source and command (SEMANTICS.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading<'z> {
    /// Here: its own offset, else this zone.
    Here(&'z Zone),
    /// By the server that wrote the binlog, in its own default zone at that instant.
    OnServer,
}

impl StartTime {
    /// Where this time is read: with an offset, it is that instant; else in `zone`, the zone
    /// the user gave (`--timezone`, a task's `timezone`); else by the server when one can be
    /// asked (`server`: a live source, or the upstream of a relay directory); else in this
    /// machine's zone.
    pub fn reading<'z>(&self, zone: Option<&'z Zone>, server: bool) -> Reading<'z> {
        match (&self.offset, zone) {
            (None, None) if server => Reading::OnServer,
            (_, Some(zone)) => Reading::Here(zone),
            (_, None) => Reading::Here(&Zone::Local),
        }
    }

    /// Parses one of the accepted forms; anything else is [`TimeError::Format`].
    pub fn parse(input: &str) -> Result<StartTime, TimeError> {
        let format_error = || TimeError::Format {
            input: input.to_owned(),
        };
        let text = input.trim();
        let bytes = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = bytes.get(range)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| std::str::from_utf8(part).ok()?.parse().ok())
                .flatten()
        };
        let punct =
            |at: usize, expected: &[u8]| bytes.get(at).is_some_and(|b| expected.contains(b));
        if !(punct(4, b"-")
            && punct(7, b"-")
            && punct(10, b" T")
            && punct(13, b":")
            && punct(16, b":"))
        {
            return Err(format_error());
        }
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
            digits(0..4),
            digits(5..7),
            digits(8..10),
            digits(11..13),
            digits(14..16),
            digits(17..19),
        ) else {
            return Err(format_error());
        };
        let mut at = 19;
        let mut micros = 0;
        if punct(at, b".") {
            let count = bytes[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if !(1..=6).contains(&count) {
                return Err(format_error());
            }
            let fraction = digits(at + 1..at + 1 + count).ok_or_else(format_error)?;
            micros = fraction * 10u32.pow(6 - count as u32);
            at += 1 + count;
        }
        let offset = match &bytes[at..] {
            [] => None,
            [b'Z'] => Some(FixedOffset::east_opt(0).ok_or_else(format_error)?),
            [sign @ (b'+' | b'-'), rest @ ..] => {
                let (hours, minutes) = match rest {
                    [_, _, b':', _, _] => (digits(at + 1..at + 3), digits(at + 4..at + 6)),
                    [_, _, _, _] => (digits(at + 1..at + 3), digits(at + 3..at + 5)),
                    _ => return Err(format_error()),
                };
                let (Some(hours), Some(minutes)) = (hours, minutes) else {
                    return Err(format_error());
                };
                if hours > 23 || minutes > 59 {
                    return Err(format_error());
                }
                let seconds = (hours * 3600 + minutes * 60) as i32;
                let seconds = if *sign == b'-' { -seconds } else { seconds };
                Some(FixedOffset::east_opt(seconds).ok_or_else(format_error)?)
            }
            _ => return Err(format_error()),
        };
        let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(format_error)?;
        let time =
            NaiveTime::from_hms_micro_opt(hour, minute, second, micros).ok_or_else(format_error)?;
        Ok(StartTime {
            input: input.to_owned(),
            local: NaiveDateTime::new(date, time),
            offset,
        })
    }

    /// The instant this start time means; `zone` applies only when no offset was written.
    pub fn resolve(&self, zone: &Zone) -> Result<ResolvedTime, TimeError> {
        if let Some(offset) = self.offset {
            let instant = offset
                .from_local_datetime(&self.local)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| TimeError::Format {
                    input: self.input.clone(),
                })?;
            return Ok(ResolvedTime {
                instant_us: instant.timestamp_micros(),
                zone: format!("the offset written ({offset})"),
                note: None,
            });
        }
        let (result, name) = match zone {
            Zone::Local => (
                chrono::Local
                    .from_local_datetime(&self.local)
                    .map(|t| (t.with_timezone(&Utc), *t.offset())),
                zone.to_string(),
            ),
            Zone::Named(tz) => (
                tz.from_local_datetime(&self.local)
                    .map(|t| (t.with_timezone(&Utc), chrono::Offset::fix(t.offset()))),
                zone.to_string(),
            ),
            Zone::Fixed(offset) => (
                offset
                    .from_local_datetime(&self.local)
                    .map(|t| (t.with_timezone(&Utc), *offset)),
                zone.to_string(),
            ),
        };
        match result {
            LocalResult::Single((instant, offset)) => Ok(ResolvedTime {
                instant_us: instant.timestamp_micros(),
                zone: format!("{name} ({offset})"),
                note: None,
            }),
            LocalResult::Ambiguous((earlier, offset), (_, later_offset)) => Ok(ResolvedTime {
                instant_us: earlier.timestamp_micros(),
                zone: format!("{name} ({offset})"),
                note: Some(AmbiguousTime {
                    local: self.local.format("%Y-%m-%d %H:%M:%S").to_string(),
                    zone: name,
                    used: Some(offset.to_string()),
                    later: Some(later_offset.to_string()),
                }),
            }),
            LocalResult::None => Err(TimeError::NonExistent {
                input: self.input.clone(),
                zone: name,
            }),
        }
    }
}

/// The instant a start time means, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTime {
    /// The instant, in microseconds since the Unix epoch.
    pub instant_us: i64,
    /// The zone and offset used, e.g. `Europe/Berlin (+02:00)`.
    pub zone: String,
    /// Said to the user when the time was ambiguous.
    pub note: Option<AmbiguousTime>,
}

/// A local time that happens twice in its zone (daylight saving ends): the earlier instant is
/// used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AmbiguousTime {
    /// The local time as written.
    pub local: String,
    /// The zone it happens twice in.
    pub zone: String,
    /// The offset used (the earlier instant's), when known.
    pub used: Option<String>,
    /// The offset to write for the later instant, when known.
    pub later: Option<String>,
}

impl fmt::Display for AmbiguousTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} happens twice in {} (daylight saving ends); ",
            self.local, self.zone
        )?;
        match (&self.used, &self.later) {
            (Some(used), Some(later)) => write!(
                f,
                "the earlier one ({used}) was used; write {later} to mean the later one"
            ),
            _ => f.write_str("the earlier one was used; write an offset to choose"),
        }
    }
}

/// The time zone a bare start time is read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// This machine's zone (`TZ`, else `/etc/localtime`).
    Local,
    /// A zone of the IANA database, with its daylight-saving rules.
    Named(chrono_tz::Tz),
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

impl Zone {
    /// An IANA name (`Europe/Berlin`, `UTC`) or an offset (`+08:00`, `-0530`, `Z`).
    pub fn parse(text: &str) -> Result<Zone, TimeError> {
        let zone_error = || TimeError::Zone {
            zone: text.to_owned(),
        };
        let trimmed = text.trim();
        if trimmed.starts_with(['+', '-']) || trimmed == "Z" {
            // Reuse the start-time offset grammar on a dummy date.
            let probe = StartTime::parse(&format!("2000-01-01 00:00:00{trimmed}"))
                .map_err(|_| zone_error())?;
            return probe.offset.map(Zone::Fixed).ok_or_else(zone_error);
        }
        trimmed
            .parse::<chrono_tz::Tz>()
            .map(Zone::Named)
            .map_err(|_| zone_error())
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Local => match local_zone_name() {
                Some(name) => write!(f, "the local time zone {name}"),
                None => f.write_str("the local time zone"),
            },
            Zone::Named(tz) => f.write_str(tz.name()),
            Zone::Fixed(offset) => write!(f, "UTC{offset}"),
        }
    }
}

/// This machine's zone's name: `TZ`'s when set (the zone `chrono::Local` reads, so the name
/// goes with the offset used; a path into the zone database names the zone after
/// `zoneinfo/`), else the system's (`/etc/localtime`).
fn local_zone_name() -> Option<String> {
    match std::env::var("TZ") {
        Ok(tz) if !tz.trim_start_matches(':').is_empty() => {
            let tz = tz.trim_start_matches(':');
            let name = tz.rsplit_once("zoneinfo/").map_or(tz, |(_, name)| name);
            Some(escape_controls(name).into_owned())
        }
        _ => iana_time_zone::get_timezone().ok(),
    }
}

/// `2030-03-31 00:59:59.000000` (UTC), for columns of a table (`list-units`), where the
/// instant's `T…Z` form would only widen them.
pub fn format_utc_column(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_else(|| format!("{us} µs"))
}

/// `2030-03-31T00:59:59.000000Z`, the form every output uses for instants.
pub fn format_instant(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| format!("{us} µs since the epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str, zone: &str) -> Result<i64, TimeError> {
        StartTime::parse(text)?
            .resolve(&Zone::parse(zone)?)
            .map(|r| r.instant_us)
    }

    const T: i64 = 1_901_149_200_000_000; // 2030-03-31T01:00:00Z

    #[test]
    fn accepts_every_documented_form() {
        for (text, zone, expected) in [
            ("2030-03-31 01:00:00", "UTC", T),
            ("2030-03-31T01:00:00", "UTC", T),
            ("2030-03-31 01:00:00Z", "Asia/Tokyo", T),
            ("2030-03-31 09:00:00+08:00", "UTC", T),
            ("2030-03-31T09:00:00+0800", "UTC", T),
            ("2030-03-30 20:30:00-04:30", "UTC", T),
            ("2030-03-31 01:00:00.5", "UTC", T + 500_000),
            ("2030-03-31 01:00:00.000001Z", "UTC", T + 1),
            ("2030-03-31 01:00:00.123456+00:00", "UTC", T + 123_456),
            ("  2030-03-31 01:00:00  ", "UTC", T),
            ("2030-03-31 03:00:00", "Europe/Berlin", T),
            ("2030-03-31 04:00:00", "+03:00", T),
        ] {
            assert_eq!(instant(text, zone), Ok(expected), "{text} in {zone}");
        }
    }

    #[test]
    fn rejects_everything_else_with_the_accepted_forms() {
        for text in [
            "2021/10/21 00:01:00",
            "2021-10-21",
            "15:04:05",
            "20211021 000100",
            "2021-10-21 00:01",
            "2021-13-01 00:00:00",
            "2021-02-30 00:00:00",
            "2021-10-21 24:00:00",
            "2021-10-21 00:60:00",
            "2021-10-21 00:00:60",
            "2021-10-21 00:00:00.1234567",
            "2021-10-21 00:00:00.",
            "2021-10-21 00:00:00+8",
            "2021-10-21 00:00:00+24:00",
            "2021-10-21 00:00:00 UTC",
            "2021-10-21  00:00:00",
            "garbage",
            "",
        ] {
            let err = StartTime::parse(text).unwrap_err();
            assert!(
                err.to_string().contains("'2006-01-02 15:04:05'"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn dst_gaps_are_errors_and_folds_take_the_earlier_instant() {
        let gap = instant("2030-03-31 02:30:00", "Europe/Berlin").unwrap_err();
        assert!(matches!(gap, TimeError::NonExistent { .. }), "{gap}");
        let fold = StartTime::parse("2030-10-27 02:30:00")
            .unwrap()
            .resolve(&Zone::parse("Europe/Berlin").unwrap())
            .unwrap();
        assert_eq!(
            format_instant(fold.instant_us),
            "2030-10-27T00:30:00.000000Z"
        );
        assert_eq!(fold.note.unwrap().local, "2030-10-27 02:30:00");
    }

    #[test]
    fn zones_parse_by_name_or_offset() {
        assert!(Zone::parse("Europe/Berlin").is_ok());
        assert!(Zone::parse("UTC").is_ok());
        assert_eq!(Zone::parse("-0530").unwrap().to_string(), "UTC-05:30");
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(Zone::parse("+25:00").is_err());
    }
}
