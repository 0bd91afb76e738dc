//! Progress on stderr: a status line for humans when stderr is a terminal, or JSON lines
//! (`--progress json`) for the launcher. Updates are throttled to a few per second.

use serde_json::{json, Value};
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

    /// An event that always goes out (start, artifact, done).
    pub fn event(&mut self, event: &str, fields: Value) {
        match self.mode {
            ProgressMode::Json => {
                let mut v = json!({"event": event, "time": crate::units::now_rfc3339()});
                if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
                    o.extend(f);
                }
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{v}");
            }
            ProgressMode::Human => {
                let mut err = std::io::stderr().lock();
                if self.line_open {
                    let _ = write!(err, "\r\x1b[2K");
                    self.line_open = false;
                }
                if event != "progress" {
                    let _ = writeln!(err, "cairn: {event} {}", human(&fields));
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
            ProgressMode::Json => self.event(
                "progress",
                json!({"artifact": artifact, "files": files, "bytes_read": bytes_read, "bytes_out": compressed}),
            ),
            ProgressMode::Human => {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2Kcairn: {artifact}: {files} files, {} MiB read, {} MiB out",
                    bytes_read >> 20,
                    compressed >> 20
                );
                self.line_open = true;
            }
            _ => {}
        }
    }
}

fn human(v: &Value) -> String {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}
