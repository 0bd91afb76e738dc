//! Durations as kubectl takes them (Go's `time.ParseDuration`): one or more decimal
//! numbers, each with a unit, `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, as in `90s`,
//! `5m`, `1h30m`, `5m0s` or `1.5h`; and, as kubectl's `--request-timeout` does, a bare
//! whole number of seconds (`90`). Both binaries parse every duration flag with it.
//! Written by hand: humantime takes other forms (`1 hour`) and not bare numbers, and
//! the few lines here say exactly what is accepted.

use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{text}' is not a duration ({why}): use e.g. 90s, 5m, 1h30m or a number of seconds")]
pub struct DurationError {
    text: String,
    why: &'static str,
}

const UNITS: &[(&str, f64)] = &[
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

/// Parses `text` (see the module documentation).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let err = |why| DurationError {
        text: text.chars().take(64).collect(),
        why,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| err("too large"));
    }
    let mut rest = s;
    let mut seconds = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| err("a number without a unit"))?;
        if num_len == 0 {
            return Err(err("a unit without a number"));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| err("a malformed number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = UNITS
            .iter()
            .find(|(u, _)| *u == &rest[..unit_len])
            .map(|(_, f)| *f)
            .ok_or_else(|| err("an unknown unit: use ns, us, ms, s, m or h"))?;
        rest = &rest[unit_len..];
        seconds += n * factor;
    }
    if !seconds.is_finite() || seconds > u64::MAX as f64 {
        return Err(err("too large"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// For clap's `value_parser`.
pub fn parse_arg(text: &str) -> Result<Duration, String> {
    parse(text).map_err(|e| e.to_string())
}

/// The shortest form [`parse`] reads back: `1h30m`, `90s`, `500ms`, `0s`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_kubectl_takes_is_taken() {
        let s = |n| Duration::from_secs(n);
        assert_eq!(parse("90s"), Ok(s(90)));
        assert_eq!(parse("5m"), Ok(s(300)));
        assert_eq!(parse("1h30m"), Ok(s(5400)));
        assert_eq!(parse("5m0s"), Ok(s(300)));
        assert_eq!(parse("90m"), Ok(s(5400)));
        assert_eq!(parse("90"), Ok(s(90)));
        assert_eq!(parse("0"), Ok(s(0)));
        assert_eq!(parse("0s"), Ok(s(0)));
        assert_eq!(parse("1.5h"), Ok(s(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2h45m10s"), Ok(s(9910)));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for bad in ["", "m", "5x", "1 hour", "5m3", "-5s", "1..5s", "h5"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse("5x").unwrap_err().to_string();
        assert!(e.contains("unknown unit"), "{e}");
        assert!(parse("99999999999999999999999h").is_err());
    }

    #[test]
    fn formatted_durations_read_back() {
        for d in [0, 1, 59, 60, 90, 3600, 5400, 86_461] {
            let d = Duration::from_secs(d);
            assert_eq!(parse(&format(d)), Ok(d), "{}", format(d));
        }
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
    }
}
