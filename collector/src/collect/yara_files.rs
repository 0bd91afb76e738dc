//! The responder's YARA rules over the collected files, on a thread of their own: the
//! bytes a file streamed into the archive (kept by a tee, no second read) are handed
//! over and the writer goes on with the next file while they are scanned, so the rules
//! cost the collection little more than the scan itself on the other core. What waits
//! to be scanned is bounded in bytes ([`MAX_QUEUED`]): past it, the writer waits.

use crate::live::memory::yara::Rules;
use crate::live::push_line;
use cairn_archive::text::escape;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The most bytes of files waiting to be scanned (one bigger file waits alone).
pub const MAX_QUEUED: u64 = 32 << 20;
/// Buffers the scanner gives back are kept for the next files, up to this many and
/// this size each: a fresh buffer of a megabyte is fresh pages from the kernel (a page
/// fault each), which cost more system time than the scan.
const SPARES: usize = 4;
const SPARE_MAX: usize = 8 << 20;

/// One collected file to scan.
struct Job {
    path: Vec<u8>,
    sha256: String,
    bytes: Vec<u8>,
}

/// Bytes queued, and the signal that some were scanned.
#[derive(Default)]
struct Gate {
    queued: Mutex<u64>,
    freed: Condvar,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, u64> {
        // The counter stays meaningful even if a holder panicked.
        self.queued.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The scanning thread, as the engine holds it.
pub struct FileScanner {
    rules: Arc<Rules>,
    tx: Option<Sender<Job>>,
    back: Receiver<Vec<u8>>,
    spares: Vec<Vec<u8>>,
    handle: Option<JoinHandle<Vec<u8>>>,
    gate: Arc<Gate>,
    /// Hits of files scanned on the writer's thread (the scanning thread could not
    /// start or has ended).
    inline: Vec<u8>,
}

impl FileScanner {
    /// Starts the thread; without one, files are scanned on the caller's thread.
    pub fn start(rules: Arc<Rules>) -> FileScanner {
        let (tx, rx) = mpsc::channel::<Job>();
        let (back_tx, back) = mpsc::channel::<Vec<u8>>();
        let gate = Arc::new(Gate::default());
        let (r, g) = (Arc::clone(&rules), Arc::clone(&gate));
        let handle = std::thread::Builder::new()
            .name("yara-files".into())
            .spawn(move || {
                let mut hits = Vec::new();
                for job in rx {
                    let len = job.bytes.len() as u64;
                    scan(&r, &job, &mut hits);
                    // The writer may have ended: the buffer is then freed here.
                    let _ = back_tx.send(job.bytes);
                    let mut q = g.lock();
                    *q = q.saturating_sub(len);
                    g.freed.notify_all();
                }
                hits
            })
            .ok();
        FileScanner {
            rules,
            tx: handle.as_ref().map(|_| tx),
            back,
            spares: Vec::new(),
            handle,
            gate,
            inline: Vec::new(),
        }
    }

    /// An empty buffer for a file of `size` bytes: one the scanner gave back when one
    /// is big enough.
    pub fn buffer(&mut self, size: usize) -> Vec<u8> {
        while let Ok(b) = self.back.try_recv() {
            if self.spares.len() < SPARES && b.capacity() <= SPARE_MAX {
                self.spares.push(b);
            }
        }
        match self.spares.iter().position(|b| b.capacity() >= size) {
            Some(i) => {
                let mut b = self.spares.swap_remove(i);
                b.clear();
                b
            }
            None => Vec::with_capacity(size),
        }
    }

    /// Scans a collected file's bytes, on the thread when it runs; waits while
    /// [`MAX_QUEUED`] bytes are already waiting.
    pub fn scan(&mut self, path: &[u8], sha256: &str, bytes: Vec<u8>) {
        let job = Job {
            path: path.to_vec(),
            sha256: sha256.to_owned(),
            bytes,
        };
        let Some(tx) = &self.tx else {
            scan(&self.rules, &job, &mut self.inline);
            return;
        };
        let len = job.bytes.len() as u64;
        let mut q = self.gate.lock();
        while *q > 0 && *q + len > MAX_QUEUED {
            q = self.gate.freed.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        *q += len;
        drop(q);
        if let Err(mpsc::SendError(job)) = tx.send(job) {
            self.tx = None;
            scan(&self.rules, &job, &mut self.inline);
        }
    }

    /// Waits for every queued file to be scanned; returns the hits' lines.
    pub fn finish(mut self) -> Vec<u8> {
        self.tx = None;
        let mut hits = self
            .handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        hits.append(&mut self.inline);
        hits
    }
}

fn scan(rules: &Rules, job: &Job, hits: &mut Vec<u8>) {
    for (mut hit, _) in rules.scan(&job.bytes).0 {
        hit.scanned = "file".into();
        hit.path = Some(escape(&job.path));
        hit.sha256 = Some(job.sha256.clone());
        push_line(hits, &hit);
    }
}
