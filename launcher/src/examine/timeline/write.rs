//! The timeline's formats. `csv` and `jsonl` are what Timesketch imports: the three
//! columns it requires (`message`, `datetime` in ISO 8601 with microseconds and the
//! UTC offset, `timestamp_desc`), `timestamp` (microseconds since the epoch), and
//! cairn's own fields (`target`, `source`, `path`, `pid`, `user`, `sha256`, `macb`);
//! the CSV has one header row. `bodyfile` is the collections' bodyfile lines as The
//! Sleuth Kit's `mactime -b` reads them, each name prefixed with its collection when
//! there are several.
//!
//! Each goes to a terminal by default, and every value may be the target's: CSV cells
//! go through `escape::csv_cell` (control characters escaped, a formula defused), JSON
//! through `escape::json`, bodyfile lines through `text::escape_unsafe`; a sha256 that
//! is not 64 hex digits is dropped.

use super::Event;
use serde::Serialize;
use std::borrow::Cow;
use std::io::{self, Write};

/// The CSV's columns, in order.
pub const COLUMNS: [&str; 11] = [
    "datetime",
    "timestamp",
    "timestamp_desc",
    "message",
    "target",
    "source",
    "path",
    "pid",
    "user",
    "sha256",
    "macb",
];

/// `2026-11-30T10:00:00.000000+00:00`, or `None` outside what ISO 8601's four-digit
/// years hold (a hostile or damaged timestamp).
pub fn iso(micros: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    t.format(&f).ok()
}

/// The event's sha256 when it is one (64 hex digits); anything else is dropped.
fn sha256(e: &Event) -> Option<&str> {
    e.sha256
        .as_deref()
        .filter(|s| cairn_protocol::bounded::is_sha256(s))
}

fn cells(e: &Event, targets: &[String]) -> [String; 11] {
    [
        iso(e.micros).unwrap_or_default(),
        e.micros.to_string(),
        e.desc.clone(),
        e.message.clone(),
        targets.get(e.target as usize).cloned().unwrap_or_default(),
        e.source.name().to_owned(),
        e.path.clone().unwrap_or_default(),
        e.pid.map(|p| p.to_string()).unwrap_or_default(),
        e.user.clone().unwrap_or_default(),
        sha256(e).unwrap_or_default().to_owned(),
        e.macb.clone().unwrap_or_default(),
    ]
}

/// The columns cairn makes from numbers (the time, the timestamp, the pid); every
/// other cell may hold what the target wrote, and goes through `escape::csv_cell`.
const NUMBER_COLUMNS: [usize; 3] = [0, 1, 7];

/// The events as CSV with one header row; returns how many.
pub fn csv(
    targets: &[String],
    events: impl Iterator<Item = io::Result<Event>>,
    out: impl Write,
) -> io::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    let mut n = 0;
    for e in events {
        let c = cells(&e?, targets);
        let row: Vec<Cow<'_, str>> = c
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if NUMBER_COLUMNS.contains(&i) {
                    Cow::Borrowed(v.as_str())
                } else {
                    cairn_protocol::escape::csv_cell(v)
                }
            })
            .collect();
        w.write_record(row.iter().map(|c| c.as_bytes()))?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// One event as a JSON line: the fields it has.
#[derive(Serialize)]
struct JsonEvent<'a> {
    datetime: &'a str,
    timestamp: i64,
    timestamp_desc: &'a str,
    message: &'a str,
    target: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    macb: Option<&'a str>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The events as JSON lines; returns how many.
pub fn jsonl(
    targets: &[String],
    events: impl Iterator<Item = io::Result<Event>>,
    mut out: impl Write,
) -> io::Result<u64> {
    let mut n = 0;
    for e in events {
        let e = e?;
        let datetime = iso(e.micros).unwrap_or_default();
        let j = JsonEvent {
            datetime: &datetime,
            timestamp: e.micros,
            timestamp_desc: &e.desc,
            message: &e.message,
            target: targets.get(e.target as usize).map_or("", String::as_str),
            source: e.source.name(),
            path: non_empty(&e.path),
            pid: e.pid,
            user: non_empty(&e.user),
            sha256: sha256(&e),
            macb: non_empty(&e.macb),
        };
        cairn_protocol::escape::json::to_writer(&mut out, &j)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// The bodyfile lines of each collection, streamed from its archive as they are read;
/// with `prefix`, each name becomes `COLLECTION:NAME`. Returns how many lines, and what
/// could not be read.
pub fn bodyfile(
    collections: &[crate::examine::inputs::Collection],
    mut out: impl Write,
    prefix: bool,
) -> io::Result<(u64, Vec<String>)> {
    let mut n = 0;
    let mut problems = Vec::new();
    for c in collections {
        let Some(a) = &c.archive else { continue };
        let read = cairn_archive::read::members(a, |e| {
            if e.header.name != cairn_archive::member::files::BODYFILE.as_bytes() {
                return Ok(());
            }
            let mut r = io::BufReader::new(e);
            let mut written = Ok(());
            cairn_archive::read::lines::lines(&mut r, |l| {
                if written.is_err() {
                    return;
                }
                let l = cairn_archive::text::escape_unsafe(l);
                let name = cairn_protocol::escape::terminal(&c.name).replace('|', "\\x7c");
                written = line(&mut out, &l, prefix.then_some(name.as_str()));
                n += 1;
            })?;
            written
        });
        if let Err(e) = read {
            crate::examine::problem(&mut problems, format!("{}: {e}", a.display()));
        }
    }
    out.flush()?;
    Ok((n, problems))
}

/// One bodyfile line, its name prefixed with `target:` when given.
fn line(out: &mut impl Write, l: &str, target: Option<&str>) -> io::Result<()> {
    if let Some(target) = target {
        let mut f: Vec<&str> = l.splitn(3, '|').collect();
        if f.len() == 3 {
            let name = format!("{target}:{}", f[1]);
            f[1] = &name;
            return writeln!(out, "{}", f.join("|"));
        }
    }
    writeln!(out, "{l}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examine::timeline::Source;

    fn event(micros: i64, message: &str) -> Event {
        Event {
            micros,
            desc: "Content Modification Time".into(),
            message: message.into(),
            target: 0,
            source: Source::File,
            path: Some("=cmd|' /C calc'!A0".into()),
            pid: None,
            user: None,
            sha256: None,
            macb: Some("m...".into()),
        }
    }

    #[test]
    fn times_are_iso_8601_utc_with_microseconds_and_unrepresentable_ones_are_none() {
        assert_eq!(
            iso(1_764_496_800_123_456).as_deref(),
            Some("2025-11-30T10:00:00.123456+00:00")
        );
        assert_eq!(iso(0).as_deref(), Some("1970-01-01T00:00:00.000000+00:00"));
        assert_eq!(iso(i64::MAX), None);
        assert_eq!(iso(-70_000_000_000_000_000), None);
    }

    #[test]
    fn the_csv_has_one_header_and_quotes_and_defuses_what_the_target_wrote() {
        let targets = vec!["shop_web_main_20261130T100000Z".to_owned()];
        let events =
            || vec![Ok(event(1_000_000, "a \"quoted\", name\nwith a newline"))].into_iter();
        let mut out = Vec::new();
        csv(&targets, events(), &mut out).unwrap();
        let mut r = ::csv::Reader::from_reader(&out[..]);
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), COLUMNS);
        let rows: Vec<::csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][0], "1970-01-01T00:00:01.000000+00:00");
        assert_eq!(&rows[0][3], "a \"quoted\", name\\x0awith a newline");
        assert_eq!(&rows[0][6], "'=cmd|' /C calc'!A0");
        let mut j = Vec::new();
        jsonl(&targets, events(), &mut j).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(v["path"], "=cmd|' /C calc'!A0", "JSON keeps it exact");
        assert_eq!(v["timestamp"], 1_000_000);
    }
}
