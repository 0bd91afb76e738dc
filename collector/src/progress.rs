//! Progress on stderr: a status line for humans when stderr is a terminal, or the
//! progress stream of [`cairn_protocol::Event`] lines (`--progress json`) for the
//! launcher. Counter updates are throttled to a few per second.

use cairn_protocol::bounded::printable;
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
        }
    }

    /// An event that always goes out (start, artifact, uploader records, done).
    pub fn emit(&mut self, e: &Event) {
        match self.mode {
            ProgressMode::Json => {
                let line = e.to_line(&crate::units::now_rfc3339());
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }
            ProgressMode::Human => {
                let mut err = std::io::stderr().lock();
                if self.line_open {
                    let _ = write!(err, "\r\x1b[2K");
                    self.line_open = false;
                }
                if !matches!(e, Event::Progress(_)) {
                    let line = human(e);
                    let _ = writeln!(err, "cairn: {} {}", e.name(), printable(&line));
                }
            }
            _ => {}
        }
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
            ProgressMode::Human => {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2Kcairn: {}: {files} files, {} MiB read, {} MiB out",
                    printable(artifact),
                    bytes_read >> 20,
                    compressed >> 20
                );
                self.line_open = true;
            }
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
