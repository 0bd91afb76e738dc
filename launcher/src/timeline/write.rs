//! The timeline's formats. `csv` and `jsonl` are what Timesketch imports: the three
//! columns it requires (`message`, `datetime` in ISO 8601 with microseconds and the
//! UTC offset, `timestamp_desc`), `timestamp` (microseconds since the epoch), and
//! cairn's own fields (`target`, `source`, `path`, `pid`, `user`, `sha256`, `macb`);
//! the CSV has one header row. `bodyfile` is the collections' bodyfile lines as The
//! Sleuth Kit's `mactime -b` reads them, each name prefixed with its collection when
//! there are several.

use super::{Event, Timeline};
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

/// A text cell a spreadsheet would run as a formula, prefixed with `'`.
fn defused(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn cells(e: &Event) -> [String; 11] {
    [
        iso(e.micros).unwrap_or_default(),
        e.micros.to_string(),
        e.desc.clone(),
        e.message.clone(),
        e.target.to_string(),
        e.source.to_owned(),
        e.path.as_deref().unwrap_or_default().to_owned(),
        e.pid.map(|p| p.to_string()).unwrap_or_default(),
        e.user.clone().unwrap_or_default(),
        e.sha256.as_deref().unwrap_or_default().to_owned(),
        e.macb.clone().unwrap_or_default(),
    ]
}

/// The columns that hold text from the target (the others are numbers, times, hashes
/// and cairn's own words).
const TEXT_COLUMNS: [usize; 5] = [3, 4, 6, 8, 10];

pub fn csv(t: &Timeline, out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for e in &t.events {
        let c = cells(e);
        let row: Vec<Cow<'_, str>> = c
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if TEXT_COLUMNS.contains(&i) {
                    defused(v)
                } else {
                    Cow::Borrowed(v.as_str())
                }
            })
            .collect();
        w.write_record(row.iter().map(|c| c.as_bytes()))?;
    }
    w.flush()
}

pub fn jsonl(t: &Timeline, mut out: impl Write) -> io::Result<()> {
    for e in &t.events {
        let c = cells(e);
        let mut o = serde_json::Map::new();
        for (k, v) in COLUMNS.iter().zip(c) {
            let value = match *k {
                "timestamp" => serde_json::json!(e.micros),
                "pid" => match e.pid {
                    Some(p) => serde_json::json!(p),
                    None => continue,
                },
                _ if v.is_empty() => continue,
                _ => serde_json::Value::String(v),
            };
            o.insert((*k).to_owned(), value);
        }
        serde_json::to_writer(&mut out, &o)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// The bodyfile lines; with `prefix`, each name becomes `COLLECTION:NAME`.
pub fn bodyfile(t: &Timeline, mut out: impl Write, prefix: bool) -> io::Result<()> {
    for (target, lines) in &t.bodyfiles {
        for l in lines {
            if prefix {
                let mut f: Vec<&str> = l.splitn(3, '|').collect();
                if f.len() == 3 {
                    let name = format!("{target}:{}", f[1]);
                    f[1] = &name;
                    writeln!(out, "{}", f.join("|"))?;
                    continue;
                }
            }
            writeln!(out, "{l}")?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn event(micros: i64, message: &str) -> Event {
        Event {
            micros,
            desc: "Content Modification Time".into(),
            message: message.into(),
            target: Rc::from("shop_web_main_20261130T100000Z"),
            source: "file",
            path: Some(Rc::from("=cmd|' /C calc'!A0")),
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
        let t = Timeline {
            events: vec![event(1_000_000, "a \"quoted\", name\nwith a newline")],
            ..Timeline::default()
        };
        let mut out = Vec::new();
        csv(&t, &mut out).unwrap();
        let mut r = ::csv::Reader::from_reader(&out[..]);
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), COLUMNS);
        let rows: Vec<::csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][0], "1970-01-01T00:00:01.000000+00:00");
        assert_eq!(&rows[0][3], "a \"quoted\", name\nwith a newline");
        assert_eq!(&rows[0][6], "'=cmd|' /C calc'!A0");
        let mut j = Vec::new();
        jsonl(&t, &mut j).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(v["path"], "=cmd|' /C calc'!A0", "JSON keeps it exact");
        assert_eq!(v["timestamp"], 1_000_000);
    }
}
