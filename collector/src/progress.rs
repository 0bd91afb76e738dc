//! Progress on stderr: a status line for humans when stderr is a terminal, or the
//! progress stream of [`cairn_protocol::Event`] lines (`--progress json`) for the
//! launcher. Counter updates are throttled to a few per second.

use cairn_protocol::escape::terminal;
use cairn_protocol::event::{self, Event};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Human status line when stderr is a terminal, nothing otherwise.
    Auto,
    /// Human status line.
    Human,
    /// One JSON object per line.
    Json,
    /// Nothing.
    None,
}

/// Emits progress events.
pub struct Progress {
    mode: ProgressMode,
    last: Instant,
    every: Duration,
    line_open: bool,
    /// Human mode: artifacts begun, of how many.
    done: usize,
    total: usize,
    current: String,
}

impl Progress {
    pub fn new(mode: ProgressMode) -> Progress {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Human,
            ProgressMode::Auto => ProgressMode::None,
            m => m,
        };
        Progress {
            mode,
            last: Instant::now() - Duration::from_secs(1),
            every: Duration::from_millis(250),
            line_open: false,
            done: 0,
            total: 0,
            current: String::new(),
        }
    }

    /// An event that always goes out (start, artifact, uploader records, done). For
    /// people, the start and the end are lines, an artifact only updates the status
    /// line, and uploader records are lines of their own.
    pub fn emit(&mut self, e: &Event) {
        match self.mode {
            ProgressMode::Json => {
                let line = e.to_line(&cairn_archive::text::now_rfc3339());
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }
            ProgressMode::Human => self.human(e),
            _ => {}
        }
    }

    fn human(&mut self, e: &Event) {
        let line = match e {
            Event::Start(s) => {
                self.total = s.artifacts.len();
                format!(
                    "collecting {} ({} artifacts)",
                    terminal(&s.root),
                    s.artifacts.len()
                )
            }
            Event::Artifact(a) => {
                self.done += 1;
                self.current = terminal(&a.name).into_owned();
                self.status(&format!("{}: starting", self.current));
                return;
            }
            Event::Progress(_) | Event::Unknown => return,
            Event::Done(d) => format!(
                "archive sealed: {} bytes, {} files, sha256 {}{}",
                d.bytes,
                d.files,
                d.sha256,
                if d.cut_short.is_empty() {
                    ""
                } else {
                    " (CUT SHORT)"
                }
            ),
            other => format!("{}: {}", other.name(), terminal(&human(other))),
        };
        let mut err = std::io::stderr().lock();
        if self.line_open {
            let _ = write!(err, "\r\x1b[2K");
            self.line_open = false;
        }
        let _ = writeln!(err, "cairn-collector: {line}");
    }

    /// Rewrites the one status line: `[3/12] ARTIFACT: what`.
    fn status(&mut self, what: &str) {
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kcairn-collector: [{}/{}] {what}",
            self.done, self.total
        );
        let _ = err.flush();
        self.line_open = true;
    }

    /// A throttled counter update.
    pub fn tick(&mut self, artifact: &str, files: u64, bytes_read: u64, compressed: u64) {
        if self.mode == ProgressMode::None || self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        match self.mode {
            ProgressMode::Json => self.emit(&Event::Progress(event::Progress {
                artifact: artifact.to_owned(),
                files,
                bytes_read,
                bytes_out: compressed,
            })),
            ProgressMode::Human => self.status(&format!(
                "{}: {files} files, {} MiB read, {} MiB out",
                terminal(artifact),
                bytes_read >> 20,
                compressed >> 20
            )),
            _ => {}
        }
    }
}

/// The event's fields as `name=value` pairs.
fn human(e: &Event) -> String {
    match serde_json::to_value(e) {
        Ok(Value::Object(o)) => o
            .iter()
            .filter(|(k, _)| k.as_str() != "event")
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}
