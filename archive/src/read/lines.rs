//! A member's content within byte budgets: its lines ([`lines`], each at most
//! [`MAX_LINE`] bytes; a longer one is skipped whole and counted), its JSON lines as
//! typed records ([`records`]), and a JSON document ([`document`], at most a given
//! size). A record that does not parse as its type is counted, not fatal: the target
//! wrote it.

use serde::de::DeserializeOwned;
use std::io::{self, BufRead, Read};

/// The longest line read from a member; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 1 << 20;
/// The longest manifest or log line: one names an object twice (its path in the archive
/// and on the root), each up to `MAX_NAME` (256 KiB) and, in the worst case, six bytes of
/// JSON per byte of name (`\u0001`) or five (lossy text and hex); a longer line was
/// not written by the collector.
pub const MAX_RECORD_LINE: usize = 8 << 20;

/// What reading lines met besides the lines themselves.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub lines: u64,
    /// Lines longer than [`MAX_LINE`], skipped.
    pub long: u64,
    /// Lines that did not parse as the record type.
    pub malformed: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.lines += o.lines;
        self.long += o.long;
        self.malformed += o.malformed;
    }
}

/// Calls `f` with each line of `r` (without its newline), each at most [`MAX_LINE`]
/// bytes, in one reused buffer.
pub fn lines(r: &mut dyn BufRead, f: impl FnMut(&[u8])) -> io::Result<Tally> {
    lines_within(r, MAX_LINE, f)
}

/// [`lines`], each at most `max` bytes.
pub fn lines_within(
    r: &mut dyn BufRead,
    max: usize,
    mut f: impl FnMut(&[u8]),
) -> io::Result<Tally> {
    let mut buf = Vec::new();
    let mut t = Tally::default();
    loop {
        buf.clear();
        let n = (&mut *r).take(max as u64 + 1).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(t);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > max {
            t.long += 1;
            skip_line(r)?;
            continue;
        }
        t.lines += 1;
        f(&buf);
    }
}

/// Skips to the end of the current line.
fn skip_line(r: &mut dyn BufRead) -> io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

/// Calls `f` with each JSON line of `r` that parses as `T`, and the line it was parsed
/// from (for [`weight`]); blank lines are skipped, the rest counted as malformed.
pub fn records<T: DeserializeOwned>(
    r: &mut dyn BufRead,
    f: impl FnMut(T, &[u8]),
) -> io::Result<Tally> {
    records_within(r, MAX_LINE, f)
}

/// [`records`] of lines at most `max` bytes ([`MAX_RECORD_LINE`] for the manifest).
pub fn records_within<T: DeserializeOwned>(
    r: &mut dyn BufRead,
    max: usize,
    mut f: impl FnMut(T, &[u8]),
) -> io::Result<Tally> {
    let mut malformed = 0;
    let mut t = lines_within(r, max, |l| {
        if l.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match serde_json::from_slice::<T>(l) {
            Ok(v) => f(v, l),
            Err(_) => malformed += 1,
        }
    })?;
    t.malformed = malformed;
    Ok(t)
}

/// An upper bound of the memory a record of `size_of_record` bytes parsed from `line`
/// holds: the line's bytes, plus a `String`'s or a number's cost per quote and comma (an
/// empty string is three bytes of JSON and 24 of memory). A reader that holds records
/// counts this against its budget, so a line of empty strings or tiny numbers cannot
/// make a small archive expand in memory.
pub fn weight(line: &[u8], size_of_record: usize) -> usize {
    let marks = line.iter().filter(|b| matches!(b, b'"' | b',')).count();
    size_of_record + line.len() + 16 * marks
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("more than {0} bytes")]
    TooLarge(u64),
    #[error("not the document expected: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A JSON document of at most `limit` bytes, as `T`.
pub fn document<T: DeserializeOwned>(r: &mut dyn Read, limit: u64) -> Result<T, DocumentError> {
    let mut text = Vec::new();
    r.take(limit + 1).read_to_end(&mut text)?;
    if text.len() as u64 > limit {
        return Err(DocumentError::TooLarge(limit));
    }
    Ok(serde_json::from_slice(&text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_longer_than_the_bound_are_skipped_whole_and_counted() {
        let mut text = b"one\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        text.extend(b"\ntwo\nthree");
        let mut seen = Vec::new();
        let t = lines(&mut &text[..], |l| {
            seen.push(String::from_utf8_lossy(l).into_owned())
        })
        .unwrap();
        assert_eq!(seen, ["one", "two", "three"]);
        assert_eq!((t.lines, t.long), (3, 1));
    }

    #[test]
    fn records_that_are_not_their_type_are_counted_and_cost_nothing() {
        #[derive(serde::Deserialize)]
        struct P {
            pid: i64,
        }
        let mut text = b"{\"pid\": 4}\n\n".to_vec();
        text.push(b'[');
        text.extend(std::iter::repeat_n(&b"0,"[..], 400_000).flatten());
        text.extend(b"0]\n{\"pid\": \"x\"}\n{\"pid\": 5, \"other\": [1]}\n");
        let mut pids = Vec::new();
        let t = records::<P>(&mut &text[..], |p, _| pids.push(p.pid)).unwrap();
        let line = format!("[{}\"\"]", "\"\",".repeat(1000));
        let parsed: Vec<String> = serde_json::from_str(&line).unwrap();
        assert!(weight(line.as_bytes(), 0) >= parsed.len() * std::mem::size_of::<String>());
        assert_eq!(pids, [4, 5]);
        assert_eq!(t.malformed, 2);
        let big = [b' '; 100];
        assert!(matches!(
            document::<serde_json::Value>(&mut &big[..], 10),
            Err(DocumentError::TooLarge(10))
        ));
    }
}
