//! Go's durations (`time.ParseDuration`), as DM reads `safe-mode-duration` and dmctl reads
//! `--rpc-timeout`: the one duration syntax of every duration startpoint takes.

/// A text Go's `time.ParseDuration` rejects (or, for a timeout, a duration that is not
/// positive), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: {why}")]
pub struct GoDurationError {
    pub text: String,
    pub why: Fault,
}

/// What is wrong with a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("a duration must be more than zero (examples: 10m, 90s, 1h30m)")]
    NotPositive,
    #[error("empty")]
    Empty,
    #[error("a number is missing")]
    NoNumber,
    #[error("a unit is missing (ns, us, ms, s, m, h; examples: 10m, 90s, 1h30m)")]
    NoUnit,
    #[error("unknown unit {0:?}")]
    UnknownUnit(String),
    #[error("out of range")]
    OutOfRange,
}

/// A Go duration (`time.ParseDuration`, as DM reads `safe-mode-duration`) in nanoseconds, or
/// why Go would reject it: an optional sign, then numbers (with an optional fraction, which Go
/// truncates to whole nanoseconds) each followed by a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`,
/// `h`); `0` alone is allowed. The magnitude is returned (DM rejects a negative duration).
pub fn go_duration_nanos(text: &str) -> Result<u128, GoDurationError> {
    let bad = |why: Fault| {
        Err(GoDurationError {
            text: text.to_owned(),
            why,
        })
    };
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if body == "0" {
        return Ok(0);
    }
    if body.is_empty() {
        return bad(Fault::Empty);
    }
    let mut rest = body;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return bad(Fault::NoNumber);
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return bad(Fault::NoUnit),
            _ => return bad(Fault::UnknownUnit(unit.to_owned())),
        };
        let int: u128 = match int {
            "" => 0,
            digits => match digits.parse() {
                Ok(n) => n,
                Err(_) => return bad(Fault::OutOfRange),
            },
        };
        // The fraction, truncated to whole nanoseconds as Go does.
        let frac = &frac[..frac.len().min(30)];
        let frac_ns = match frac {
            "" => 0,
            digits => digits.parse::<u128>().unwrap_or(0) * scale / 10u128.pow(digits.len() as u32),
        };
        total = match int.checked_mul(scale).and_then(|n| n.checked_add(frac_ns)) {
            Some(n) => total.saturating_add(n),
            None => return bad(Fault::OutOfRange),
        };
        if total > i64::MAX as u128 {
            return bad(Fault::OutOfRange);
        }
        rest = after;
    }
    Ok(total)
}

/// A duration flag (`--rpc-timeout`, `--assume-max-statement`) as dmctl reads its own: Go's
/// syntax, and more than zero (a negative or zero timeout would give up before starting).
pub fn positive_go_duration(text: &str) -> Result<std::time::Duration, GoDurationError> {
    let nanos = go_duration_nanos(text)?;
    if nanos == 0 || text.starts_with('-') {
        return Err(GoDurationError {
            text: text.to_owned(),
            why: Fault::NotPositive,
        });
    }
    // Below i64::MAX nanoseconds (checked by the parser), so it fits a u64.
    Ok(std::time::Duration::from_nanos(nanos as u64))
}

/// Whether `safe-mode-duration` is zero for DM (an empty text is DM's default, not zero).
pub(crate) fn is_zero_go_duration(text: &str) -> bool {
    !text.trim().is_empty() && go_duration_nanos(text) == Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `safe-mode-duration` as Go's `time.ParseDuration` reads it.
    #[test]
    fn go_durations_as_go_reads_them() {
        for (text, nanos) in [
            ("0", 0),
            ("0s", 0),
            ("00s", 0),
            ("-0s", 0),
            ("0m0s", 0),
            ("0.5ns", 0),
            ("1ns", 1),
            ("0.5s", 500_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5µs", 1_500),
            ("2us", 2_000),
            (".5m", 30_000_000_000),
        ] {
            assert_eq!(go_duration_nanos(text), Ok(nanos), "{text}");
        }
        for bad in ["", "00", "0 s", "--0s", "abc", "5", "1x", "s", "."] {
            assert!(go_duration_nanos(bad).is_err(), "{bad:?} accepted");
        }
        assert!(is_zero_go_duration("0s") && is_zero_go_duration("0.5ns"));
        assert!(!is_zero_go_duration("") && !is_zero_go_duration("1ns"));
    }
}
