//! PAX extended header records (POSIX.1-2001, `pax` "ustar Interchange Format"), both
//! ways. A record is `LEN KEY=VALUE\n` where LEN, in decimal, counts the whole record,
//! its own digits included; records follow each other with nothing between them, so
//! the only way to find the next one is LEN. [`parse`] follows exactly that and refuses
//! anything else (no digits, no blank, no `=`, no newline where LEN ends, a LEN past
//! the data), as GNU tar's `decode_record` does; a value may hold any byte, newlines
//! and `size=` included, and is never split on them.

/// One record, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// Why records could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a malformed PAX record at byte {at} of its header: {what}")]
pub struct PaxError {
    pub at: usize,
    pub what: &'static str,
}

/// Every record of `data`, in order; an error at the first malformed one.
pub fn parse(data: &[u8]) -> Result<Vec<Record<'_>>, PaxError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let rest = &data[at..];
        let err = |what| PaxError { at, what };
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 20 {
            return Err(err("no length"));
        }
        let len: usize = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| err("a length out of range"))?;
        if rest.get(digits) != Some(&b' ') {
            return Err(err("no blank after the length"));
        }
        if len > rest.len() || len < digits + 4 {
            return Err(err("a length past the end of the header or too short"));
        }
        let record = &rest[..len];
        if record[len - 1] != b'\n' {
            return Err(err("no newline where the length ends"));
        }
        let body = &record[digits + 1..len - 1];
        let eq = body
            .iter()
            .position(|c| *c == b'=')
            .ok_or_else(|| err("no '='"))?;
        if eq == 0 {
            return Err(err("an empty keyword"));
        }
        out.push(Record {
            key: &body[..eq],
            value: &body[eq + 1..],
        });
        at += len;
    }
    Ok(out)
}

/// Appends one record for `key` and `value`.
pub fn push(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    // LEN counts its own digits: the smallest that holds the whole.
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len += 1;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// A decimal size: digits only, as the writer writes it, at most `i64::MAX` (GNU tar's
/// `off_t`).
pub fn size(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: i64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    u64::try_from(n).ok()
}

/// A time in seconds: `-?DIGITS(.DIGITS)?`, rounded down as GNU tar does (`-0.5` is
/// the second before 0).
pub fn seconds(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    let ok = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if digits.is_empty() || !ok(digits) || !ok(fraction) {
        return None;
    }
    let n: i64 = whole.parse().ok()?;
    let below = whole.starts_with('-') && fraction.bytes().any(|c| c != b'0');
    if below {
        n.checked_sub(1)
    } else {
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_found_by_their_length_and_values_keep_every_byte() {
        let mut data = Vec::new();
        let name = b"files/tmp/aaaa\n10 size=0\nmore";
        push(&mut data, "path", name);
        push(&mut data, "mtime", b"-5");
        for body_len in 0..2000 {
            let mut one = Vec::new();
            push(&mut one, "x", &vec![b'v'; body_len]);
            let r = parse(&one).unwrap();
            assert_eq!(r[0].value.len(), body_len);
        }
        let r = parse(&data).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].key, r[0].value), (&b"path"[..], &name[..]));
        assert_eq!(seconds(r[1].value), Some(-5));
    }

    #[test]
    fn malformed_records_are_errors_not_skipped() {
        for bad in [
            &b"11 size= 0\n"[..],
            b"10 size=0",
            b"x size=0\n",
            b"9 size=0\n\n",
            b"99 size=0\n",
            b"6 =0\n\n",
            b"10 sizeA0\n",
            b"3 \n",
        ] {
            let records = parse(bad);
            let bad_size = records
                .as_ref()
                .map(|r| {
                    r.iter()
                        .any(|x| x.key == b"size" && size(x.value).is_none())
                })
                .unwrap_or(true);
            assert!(bad_size, "{:?} was taken", String::from_utf8_lossy(bad));
        }
        assert_eq!(size(b"0"), Some(0));
        assert_eq!(size(b" 0"), None);
        assert_eq!(seconds(b"1700000000.123456789"), Some(1_700_000_000));
        assert_eq!(seconds(b"1e9"), None);
        assert_eq!(seconds(b"-0.5"), Some(-1));
        assert_eq!(seconds(b"-3.0"), Some(-3));
        assert_eq!(size(b"18446744073709551615"), None);
    }
}
