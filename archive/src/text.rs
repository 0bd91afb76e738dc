//! How bytes and times become text in records: [`lossless`] (UTF-8, or lossy text with
//! the exact bytes in hex beside it), [`escape`] and [`unescape`] for one-line-per-entry
//! outputs (find lists, bodyfiles: names with newlines, pipes, control and bidirectional
//! characters, non-UTF-8 bytes survive, escaped as `\xHH`, and nothing in them can reach
//! a terminal raw), RFC 3339 times, and `ls -l` and octal modes.

use std::fmt::Write as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

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

/// Escapes a path for a one-line-per-entry text output.
pub fn escape(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    let text = String::from_utf8_lossy(path);
    if matches!(text, std::borrow::Cow::Borrowed(_)) {
        let mut utf8 = [0u8; 4];
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '|' => out.push_str("\\x7c"),
                c if cairn_protocol::escape::is_unsafe_char(c) => {
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
    } else {
        for &b in path {
            match b {
                b'\\' => out.push_str("\\\\"),
                b'|' | 0x00..=0x1f | 0x7f..=0xff => out.push_str(&format!("\\x{b:02x}")),
                b => out.push(b as char),
            }
        }
    }
    out
}

/// A line already in an escaped format (a bodyfile line an archive holds) made safe
/// for a text output: only unsafe characters and bytes that are not UTF-8 are written
/// as `\xHH`; backslashes and separators stay as they are, so an honest line passes
/// unchanged and a forged one cannot reach a terminal raw.
pub fn escape_unsafe(line: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(line) {
        if !s.chars().any(cairn_protocol::escape::is_unsafe_char) {
            return std::borrow::Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(line.len() + 8);
    let mut utf8 = [0u8; 4];
    for chunk in line.utf8_chunks() {
        for c in chunk.valid().chars() {
            if cairn_protocol::escape::is_unsafe_char(c) {
                for b in c.encode_utf8(&mut utf8).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Reverses [`escape`].
pub fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1] == b'\\' {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b[i + 1] == b'x' && i + 3 < b.len() {
                if let Ok(v) = u8::from_str_radix(&text[i + 2..i + 4], 16) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_line_passes_and_a_forged_one_is_made_safe() {
        let honest = "0|/tmp/a\\x0ab\\x7c|1|-rw-r--r--|0|0|3|1|2|3|4";
        assert!(matches!(
            escape_unsafe(honest.as_bytes()),
            std::borrow::Cow::Borrowed(_)
        ));
        let forged = b"0|/x\x1b]2;owned\x07\xe2\x80\xae\xff|1";
        assert_eq!(
            escape_unsafe(forged),
            "0|/x\\x1b]2;owned\\x07\\xe2\\x80\\xae\\xff|1"
        );
    }

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

    #[test]
    fn round_trip() {
        for p in [
            &b"/a b/c"[..],
            b"/new\nline",
            b"/pi|pe",
            b"/bad\xff\xfe",
            b"/back\\slash",
            "/term\x1b]0;owned\x07\ttab\u{202e}gpj.exe\u{85}".as_bytes(),
        ] {
            let e = escape(p);
            assert!(!e.contains('\n'));
            assert!(
                !e.chars().any(cairn_protocol::escape::is_unsafe_char),
                "{e}"
            );
            assert_eq!(unescape(&e), p);
        }
    }
}
