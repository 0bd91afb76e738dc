//! The collector's progress stream (`--progress json`): one JSON object per line on
//! stderr, tagged by `event`, with the time it was written. The collector writes them
//! with [`Event::to_line`]; the launcher reads every line of a pod's stderr with
//! [`Line::parse`], which validates as it parses.

use crate::bounded;
pub use crate::log::Level;
use crate::log::LogEvent;
use serde::{Deserialize, Serialize};

/// Counters of one collection, as `summary.json` and the `done` event give them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    #[serde(deserialize_with = "bounded::count")]
    pub entries_run: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub files: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub symlinks: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub special: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub outputs: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub bytes_read: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub bytes_stored: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub complete: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub truncated: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub changed: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub skipped: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub denied: u64,
    /// Items the live response was refused (EACCES/EPERM), counted one by one although
    /// the log aggregates them per kind.
    #[serde(deserialize_with = "bounded::count")]
    pub live_denied: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub errors: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub atime_not_preserved: u64,
}

/// What became of an upload, as the collector saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    /// The destination's kind (`s3-put`, `s3-multipart`, `azure-blob`, `gcs-resumable`...).
    #[serde(deserialize_with = "bounded::text")]
    pub kind: String,
    /// The URL, redacted; or the plan's `object`.
    #[serde(deserialize_with = "bounded::text")]
    pub location: String,
    #[serde(default, deserialize_with = "bounded::opt_text")]
    pub object: Option<String>,
    pub complete: bool,
    /// Bytes the object holds (all of the archive when complete).
    #[serde(deserialize_with = "bounded::count")]
    pub uploaded_bytes: u64,
    pub parts: u32,
    #[serde(deserialize_with = "bounded::count")]
    pub retries: u64,
    #[serde(default, deserialize_with = "bounded::opt_text")]
    pub preflight: Option<String>,
    #[serde(default, deserialize_with = "bounded::opt_text")]
    pub error: Option<String>,
    /// Where the rest of the archive went after a failure, and from which byte.
    #[serde(default, deserialize_with = "bounded::opt_text")]
    pub fallback: Option<String>,
    #[serde(default, deserialize_with = "bounded::opt_count")]
    pub fallback_from: Option<u64>,
    /// Milliseconds the object's commit took (CompleteMultipartUpload, Put Block List),
    /// after the last part.
    #[serde(default, deserialize_with = "bounded::opt_count")]
    pub commit_ms: Option<u64>,
    /// Parts uploaded and left for the launcher to commit (an S3 multipart plan without
    /// a completion URL), in part order.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "part_receipts"
    )]
    pub uncommitted_parts: Option<Vec<PartReceipt>>,
}

/// One uploaded part: its number (from 1) and what the store answered for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartReceipt {
    pub number: u32,
    #[serde(deserialize_with = "bounded::text")]
    pub etag: String,
}

/// At most 10,000 receipts (S3's limit on parts).
fn part_receipts<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<PartReceipt>>, D::Error> {
    let v = Option::<Vec<PartReceipt>>::deserialize(d)?;
    if v.as_ref().is_some_and(|v| v.len() > 10_000) {
        return Err(serde::de::Error::custom("more than 10,000 part receipts"));
    }
    Ok(v)
}

/// The collection starts: its root and the artifacts it will run, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Start {
    #[serde(deserialize_with = "bounded::text")]
    pub root: String,
    #[serde(deserialize_with = "bounded::texts")]
    pub artifacts: Vec<String>,
}

/// The next artifact begins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactBegun {
    #[serde(deserialize_with = "bounded::text")]
    pub name: String,
}

/// Counters so far (throttled to a few per second).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(deserialize_with = "bounded::text")]
    pub artifact: String,
    #[serde(deserialize_with = "bounded::count")]
    pub files: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub bytes_read: u64,
    /// Compressed bytes written so far.
    #[serde(deserialize_with = "bounded::count")]
    pub bytes_out: u64,
}

/// A record of the uploader (also in the collection log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub level: Level,
    #[serde(deserialize_with = "bounded::text")]
    pub message: String,
}

/// The archive is sealed and delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// sha256 of the whole archive as written.
    #[serde(deserialize_with = "bounded::sha256")]
    pub sha256: String,
    #[serde(deserialize_with = "bounded::count")]
    pub bytes: u64,
    #[serde(deserialize_with = "bounded::count")]
    pub files: u64,
    /// The collector's `--timeout` cut the collection short.
    pub timed_out: bool,
    /// Every limit that cut the collection short, one sentence each (`--timeout`,
    /// `--max-total-size`); empty when it is complete.
    #[serde(default, deserialize_with = "bounded::texts")]
    pub cut_short: Vec<String>,
    #[serde(default)]
    pub upload: Option<Box<UploadReport>>,
    /// Where the collector's own binary was while it ran, when that was inside the
    /// target (it collected the system it ran in): what was written there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<Placed>,
}

/// The collector's binary in the target: its path, size, and the filesystem it was on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    #[serde(deserialize_with = "bounded::text")]
    pub path: String,
    #[serde(deserialize_with = "bounded::count")]
    pub bytes: u64,
    /// The filesystem's type (`tmpfs`, `overlay`, ...).
    #[serde(deserialize_with = "bounded::text")]
    pub filesystem: String,
    /// Memory-backed (tmpfs, ramfs): nothing reached the container's disk.
    pub memory: bool,
}

impl Placed {
    /// One line for people: `6.3 MiB at PATH on tmpfs (memory)`.
    pub fn describe(&self) -> String {
        format!(
            "{:.1} MiB at {} on {} ({})",
            self.bytes as f64 / 1048576.0,
            self.path,
            self.filesystem,
            if self.memory {
                "memory, not the container's disk"
            } else {
                "the container's disk"
            }
        )
    }
}

/// One line of the progress stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Start(Start),
    Artifact(ArtifactBegun),
    Progress(Progress),
    /// The uploader's records, by kind: a preflight or commit note, a retried request,
    /// the failure, the object written, the fallback used.
    Upload(Notice),
    UploadRetry(Notice),
    UploadFailed(Notice),
    Uploaded(Notice),
    Fallback(Notice),
    Done(Done),
    /// An event this version does not know: kept, never acted on.
    #[serde(other)]
    Unknown,
}

impl Event {
    /// The line the collector writes: the event's JSON with `time` added, no newline.
    pub fn to_line(&self, time: &str) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("time".into(), time.into());
        }
        v.to_string()
    }

    /// The progress event of an uploader record, by its log event; `None` for log
    /// events that are not the uploader's.
    pub fn of_upload_record(event: LogEvent, level: Level, message: String) -> Option<Event> {
        let n = Notice { level, message };
        Some(match event {
            LogEvent::Upload => Event::Upload(n),
            LogEvent::UploadRetry => Event::UploadRetry(n),
            LogEvent::UploadFailed => Event::UploadFailed(n),
            LogEvent::Uploaded => Event::Uploaded(n),
            LogEvent::Fallback => Event::Fallback(n),
            _ => return None,
        })
    }

    /// The event's name as it appears on the stream.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start(_) => "start",
            Event::Artifact(_) => "artifact",
            Event::Progress(_) => "progress",
            Event::Upload(_) => "upload",
            Event::UploadRetry(_) => "upload_retry",
            Event::UploadFailed(_) => "upload_failed",
            Event::Uploaded(_) => "uploaded",
            Event::Fallback(_) => "fallback",
            Event::Done(_) => "done",
            Event::Unknown => "unknown",
        }
    }
}

/// What one line of a pod's stderr is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A progress event, validated (boxed: events are larger than the other kinds).
    Event(Box<Event>),
    /// Plain text: the bootstrap's or the collector's own words.
    Text(String),
    /// JSON that breaks the contract (a malformed event): what was wrong, never acted on.
    Invalid(String),
}

impl Line {
    /// Reads one line (without its newline), lossily as UTF-8, capped.
    pub fn parse(line: &[u8]) -> Line {
        let text = bounded::cap(String::from_utf8_lossy(line).into_owned());
        if !text.trim_start().starts_with('{') {
            return Line::Text(text);
        }
        // Parsed from the whole line, not the capped text: a long event stays whole.
        match serde_json::from_slice::<Event>(line) {
            Ok(e) => Line::Event(Box::new(e)),
            Err(e) => Line::Invalid(bounded::cap(format!("{e}: {text}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Line {
        Line::parse(s.as_bytes())
    }

    #[test]
    fn every_event_reads_back_what_was_written() {
        let sha = "ab".repeat(32);
        let events = [
            Event::Start(Start {
                root: "/".into(),
                artifacts: vec!["live/processes".into()],
            }),
            Event::Artifact(ArtifactBegun { name: "x".into() }),
            Event::Progress(Progress {
                artifact: "x".into(),
                files: 3,
                bytes_read: 4,
                bytes_out: 5,
            }),
            Event::UploadRetry(Notice {
                level: Level::Warn,
                message: "part 2: 503".into(),
            }),
            Event::Done(Done {
                sha256: sha.clone(),
                bytes: 10,
                files: 2,
                timed_out: true,
                cut_short: vec!["--timeout 1s reached".into()],
                upload: Some(Box::new(UploadReport {
                    kind: "s3-multipart".into(),
                    location: "https://h/b/k".into(),
                    complete: true,
                    uploaded_bytes: 10,
                    parts: 1,
                    uncommitted_parts: Some(vec![PartReceipt {
                        number: 1,
                        etag: "\"e1\"".into(),
                    }]),
                    ..UploadReport::default()
                })),
                binary: Some(Placed {
                    path: "/dev/.cairn.x/cairn-collector".into(),
                    bytes: 6 << 20,
                    filesystem: "tmpfs".into(),
                    memory: true,
                }),
            }),
        ];
        for e in events {
            let line = e.to_line("2026-11-30T00:00:00Z");
            assert!(
                line.contains(&format!("\"event\":\"{}\"", e.name())),
                "{line}"
            );
            assert!(line.contains("\"time\":"), "{line}");
            assert_eq!(parse(&line), Line::Event(Box::new(e)));
        }
    }

    #[test]
    fn a_pods_words_are_checked_before_they_are_believed() {
        assert_eq!(
            parse(r#"{"event":"quantum","x":1}"#),
            Line::Event(Box::new(Event::Unknown))
        );
        assert_eq!(
            parse("cairn-bootstrap: running /tmp/x"),
            Line::Text("cairn-bootstrap: running /tmp/x".into())
        );
        // A done event whose sha256 is not one, a count past 2^53, a missing field.
        for bad in [
            r#"{"event":"done","sha256":"nope","bytes":1,"files":1,"timed_out":false}"#,
            r#"{"event":"done","sha256":"AB","bytes":1,"files":1,"timed_out":false}"#,
            r#"{"event":"progress","artifact":"a","files":99999999999999999999,"bytes_read":0,"bytes_out":0}"#,
            r#"{"event":"progress","artifact":"a","files":9007199254740993,"bytes_read":0,"bytes_out":0}"#,
            r#"{"event":"done","bytes":1,"files":1,"timed_out":false}"#,
            r#"{"no_event":1}"#,
            "{not json",
        ] {
            assert!(matches!(parse(bad), Line::Invalid(_)), "{bad}");
        }
        // Text is capped, lists are bounded, invalid UTF-8 does not stop the reader.
        let long = format!(r#"{{"event":"artifact","name":"{}"}}"#, "x".repeat(100_000));
        match parse(&long) {
            Line::Event(e) => match *e {
                Event::Artifact(a) => assert!(a.name.len() <= bounded::MAX_TEXT),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        let many = format!(
            r#"{{"event":"start","root":"/","artifacts":[{}]}}"#,
            vec!["\"a\""; bounded::MAX_ITEMS + 1].join(",")
        );
        assert!(matches!(parse(&many), Line::Invalid(_)));
        assert!(matches!(Line::parse(b"\xff\xfe text"), Line::Text(_)));
    }
}
