//! What an upload says as it goes (preflight, retries, failures), gathered for the
//! collection log and the progress stream; and the random numbers it needs.

use cairn_protocol::{Level, LogEvent};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

/// Upload log records, drained by the engine into the collection log and progress,
/// and the count of retries (kept when the records are drained).
#[derive(Debug, Clone, Default)]
pub struct Events(Arc<EventsInner>);

#[derive(Debug, Default)]
pub struct EventsInner {
    list: Mutex<Vec<(Level, LogEvent, String)>>,
    retries: std::sync::atomic::AtomicU64,
}

impl Events {
    pub fn note(&self, level: Level, event: LogEvent, message: String) {
        if event == LogEvent::UploadRetry {
            self.0
                .retries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Ok(mut v) = self.0.list.lock() {
            v.push((level, event, message));
        }
    }

    /// Retries noted so far.
    pub fn retries(&self) -> u64 {
        self.0.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn take(&self) -> Vec<(Level, LogEvent, String)> {
        self.0
            .list
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// A random u64 from std's OS-seeded hasher keys (jitter, multipart boundaries).
pub fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
