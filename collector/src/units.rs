//! Parsing and printing of human-facing quantities (byte sizes) and timestamps.

use std::fmt::Write as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Byte sizes (`512K`, `100M`, `1G`) are read as the launcher reads them.
pub use cairn_protocol::size::parse as parse_size;

/// Formats seconds + nanoseconds since the epoch as RFC 3339 UTC. Timestamps that a
/// hostile filesystem makes unrepresentable are printed as raw epoch numbers instead.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    match OffsetDateTime::from_unix_timestamp_nanos(total)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
    {
        Some(s) => s,
        None => format!("@{secs}.{nanos:09}"),
    }
}

/// The current time as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// Renders bytes for JSON: the UTF-8 string when the bytes are UTF-8, otherwise a lossy
/// string (for humans) with the exact bytes in hex beside it (for machines).
pub fn lossless(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), None),
        Err(_) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(hex::encode(bytes)),
        ),
    }
}

/// `ls -l` style mode string (`-rw-r--r--`), as The Sleuth Kit's bodyfile expects.
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o010000 => 'p',
        0o140000 => 's',
        0o020000 => 'c',
        0o060000 => 'b',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, ch)) in bits.iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        let c = match (set, special, i) {
            (true, true, 8) => 't',
            (false, true, 8) => 'T',
            (true, true, _) => 's',
            (false, true, _) => 'S',
            (true, false, _) => *ch,
            (false, false, _) => '-',
        };
        s.push(c);
    }
    s
}

/// Octal permission string such as `0644` (file type bits excluded).
pub fn octal_mode(mode: u32) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:04o}", mode & 0o7777);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_string(0o100644), "-rw-r--r--");
        assert_eq!(mode_string(0o041777), "drwxrwxrwt");
        assert_eq!(mode_string(0o104755), "-rwsr-xr-x");
        assert_eq!(octal_mode(0o100644), "0644");
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1, 500_000_000), "1969-12-31T23:59:59.5Z");
        assert!(rfc3339(i64::MAX, 0).starts_with('@'));
    }
}
