//! Streams the archive to an object store through presigned URLs while it is being
//! produced: nothing is staged on the target's disk and memory stays bounded (at most
//! two parts in memory for the streaming kinds; the single-request kinds hold the whole
//! archive, up to [`SINGLE_LIMIT`]). A preflight before collecting catches an expired or
//! wrong URL in a second. Each request is retried with backoff; when the upload finally
//! fails, what was not uploaded goes to `--fallback-output`, and what was uploaded is
//! committed, so no byte of evidence is lost.
//!
//! [`destination`] recognises URL kinds and redacts them, [`plan`] reads upload plans,
//! [`http`] sends requests with retries, and [`s3`], [`azure`], [`gcs`], [`single`]
//! speak each service's protocol behind the [`Protocol`] trait.

pub mod azure;
pub mod destination;
pub mod gcs;
pub mod http;
pub mod plan;
pub mod s3;
pub mod single;

use super::Target;
use destination::{redact, Destination, Kind};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The most a single-request kind (S3 PUT, S3 POST, GCS PUT) holds in memory: the
/// length must be known before the request starts, and nothing is staged on disk.
pub const SINGLE_LIMIT: u64 = 32 << 20;
/// Part size of the streaming kinds without a plan (Azure blocks, GCS chunks; a
/// multiple of 256 KiB as GCS requires).
pub const PART_SIZE: u64 = 8 << 20;

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    Config(String),
    #[error(
        "the upload URL {location} expired at {at} (the clock here says {now}): ask for a new one"
    )]
    Expired {
        location: String,
        at: String,
        now: String,
    },
    #[error("{what} to {location} failed after {attempts} attempt(s): {cause}")]
    Request {
        what: String,
        location: String,
        attempts: u32,
        cause: String,
    },
    #[error("{kind} needs the archive's length before it starts, so it is held in memory, and the archive passed the {limit} MiB limit: give --upload-plan (S3 multipart), a GCS resumable session URL, or an Azure SAS URL, which stream in parts")]
    TooLargeForSingle { kind: &'static str, limit: u64 },
    #[error("the uploader stopped unexpectedly")]
    Worker,
}

/// Upload log records, drained by the engine into the collection log and progress,
/// and the count of retries (kept when the records are drained).
#[derive(Debug, Clone, Default)]
pub struct Events(Arc<EventsInner>);

#[derive(Debug, Default)]
pub struct EventsInner {
    list: Mutex<Vec<(&'static str, &'static str, String)>>,
    retries: std::sync::atomic::AtomicU64,
}

impl Events {
    pub fn note(&self, level: &'static str, event: &'static str, message: String) {
        if level == "warn" && event == "upload_retry" {
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

    pub fn take(&self) -> Vec<(&'static str, &'static str, String)> {
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

/// One object-store protocol. Parts come in order; `index` counts from 0 and `offset`
/// is where the part starts in the archive.
pub trait Protocol: Send {
    /// Checks, before collecting, that the destination takes writes, without creating
    /// a visible object; `Ok(None)` when the protocol allows no such check.
    fn preflight(&mut self, _http: &http::Http) -> Result<Option<String>, UploadError> {
        Ok(None)
    }
    /// The most parts the destination takes, if limited.
    fn max_parts(&self) -> Option<u32> {
        None
    }
    fn part(
        &mut self,
        http: &http::Http,
        index: u32,
        offset: u64,
        data: &[u8],
        last: bool,
    ) -> Result<(), UploadError>;
    /// Commits the object after the last part.
    fn finish(
        &mut self,
        _http: &http::Http,
        _total: u64,
        _sha256: &str,
    ) -> Result<(), UploadError> {
        Ok(())
    }
    /// After a failure, commits the parts sent so far as the object (a prefix of the
    /// archive); false when there was nothing to commit or the protocol cannot.
    fn commit_prefix(&mut self, _http: &http::Http) -> Result<bool, UploadError> {
        Ok(false)
    }
    /// Bytes the committed prefix holds, when the protocol knows better than the
    /// sum of whole parts.
    fn committed_bytes(&self) -> Option<u64> {
        None
    }
}

/// Everything an upload needs.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub destination: Destination,
    pub http: http::HttpConfig,
    /// Where the archive (or what was not uploaded of it) goes if the upload fails.
    pub fallback: Option<Target>,
    /// Object name: the POST `${filename}` and the blob inserted into a container SAS.
    pub name: String,
}

/// What an upload did, for the final line, the `done` event and the exit status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadReport {
    pub kind: &'static str,
    /// The URL, redacted; or the plan's `object`.
    pub location: String,
    pub object: Option<String>,
    pub complete: bool,
    /// Bytes the object holds (all of the archive when complete).
    pub uploaded_bytes: u64,
    pub parts: u32,
    pub retries: u64,
    pub preflight: Option<String>,
    pub error: Option<String>,
    /// Where the rest of the archive went after a failure, and from which byte.
    pub fallback: Option<String>,
    pub fallback_from: Option<u64>,
}

struct Part {
    index: u32,
    offset: u64,
    data: Vec<u8>,
    last: bool,
    sha256: Option<String>,
}

/// The worker's account when it stops early.
struct Failure {
    error: UploadError,
    /// The part that failed (its bytes go to the fallback).
    part: Option<Part>,
    /// Bytes the object holds after committing the prefix.
    committed: u64,
    parts: u32,
}

enum Mode {
    /// Streaming: parts go to the worker thread as they fill.
    Streaming {
        tx: Option<SyncSender<Part>>,
        worker: Option<JoinHandle<Result<u32, Box<Failure>>>>,
    },
    /// Single request: everything is held until the end.
    Single { proto: Box<dyn Protocol> },
    /// The upload failed: everything from `from` on goes to the fallback.
    Diverted { out: super::Out },
    /// The upload failed and there is no fallback.
    Failed,
}

/// A `Write` that uploads.
pub struct Uploader {
    kind: Kind,
    http: Arc<http::Http>,
    mode: Mode,
    buf: Vec<u8>,
    part_size: u64,
    index: u32,
    /// Bytes handed off before `buf`.
    offset: u64,
    fallback: Option<Target>,
    report: UploadReport,
    events: Events,
}

fn protocol_for(d: &Destination, name: &str) -> Box<dyn Protocol> {
    match (&d.plan, d.kind) {
        (
            Some(plan::Plan::S3Multipart {
                parts, complete, ..
            }),
            _,
        ) => Box::new(s3::S3Multipart::new(parts.clone(), complete.clone())),
        (Some(plan::Plan::S3Post { url, fields, .. }), _) => Box::new(s3::S3Post {
            url: url.clone(),
            fields: fields.clone(),
            filename: name.to_owned(),
        }),
        (None, Kind::AzureBlob) => Box::new(azure::AzureBlob::new(d.url.clone())),
        (None, Kind::GcsResumable) => Box::new(gcs::GcsResumable::new(d.url.clone())),
        (None, _) => Box::new(single::SinglePut { url: d.url.clone() }),
    }
}

impl Uploader {
    /// Checks the destination (expiry, then a preflight request where the kind allows
    /// one) and starts the upload. A failed check diverts everything to the fallback
    /// when there is one, and is an error otherwise: nothing has been collected yet.
    pub fn start(cfg: UploadConfig, events: Events) -> Result<Uploader, UploadError> {
        let d = &cfg.destination;
        let http = Arc::new(http::Http::new(cfg.http.clone(), events.clone())?);
        let kind = d.kind;
        let part_size = match &d.plan {
            Some(plan::Plan::S3Multipart { part_size, .. }) => *part_size,
            _ if kind.streams() => PART_SIZE,
            _ => SINGLE_LIMIT,
        };
        let report = UploadReport {
            kind: kind.name(),
            location: redact(&d.url),
            object: d.plan.as_ref().and_then(|p| p.object().map(str::to_owned)),
            complete: false,
            uploaded_bytes: 0,
            parts: 0,
            retries: 0,
            preflight: None,
            error: None,
            fallback: None,
            fallback_from: None,
        };
        let mut proto = protocol_for(d, &cfg.name);
        let checked = d
            .check_expiry(destination::now())
            .and_then(|_| proto.preflight(&http));
        let mut up = Uploader {
            kind,
            http: http.clone(),
            mode: Mode::Failed,
            buf: Vec::new(),
            part_size,
            index: 0,
            offset: 0,
            fallback: cfg.fallback.clone(),
            report,
            events: events.clone(),
        };
        match checked {
            Ok(Some(what)) => {
                events.note(
                    "info",
                    "upload",
                    format!("preflight of {}: {what}", up.report.location),
                );
                up.report.preflight = Some(what);
            }
            Ok(None) => {}
            Err(e) => {
                up.fail(e, 0)?;
                return Ok(up);
            }
        }
        up.mode = if kind.streams() {
            let (tx, rx) = sync_channel::<Part>(0);
            let h = http.clone();
            let worker = std::thread::Builder::new()
                .name("cairn-upload".into())
                .spawn(move || work(proto, &h, rx))
                .map_err(|e| UploadError::Config(format!("cannot start the upload thread: {e}")))?;
            Mode::Streaming {
                tx: Some(tx),
                worker: Some(worker),
            }
        } else {
            Mode::Single { proto }
        };
        up.buf.reserve(part_size.min(PART_SIZE) as usize);
        Ok(up)
    }

    pub fn report(&self) -> &UploadReport {
        &self.report
    }

    /// Records the failure and opens the fallback; everything from byte `from` of the
    /// archive on goes there. Without a fallback the error is returned.
    fn fail(&mut self, e: UploadError, from: u64) -> Result<(), UploadError> {
        let msg = e.to_string();
        self.events.note("error", "upload_failed", msg.clone());
        self.report.error = Some(msg);
        self.report.complete = false;
        match self.fallback.clone() {
            Some(t) => {
                let out = super::Out::open(&t).map_err(|io| {
                    UploadError::Config(format!("{e}; and the fallback output failed too: {io}"))
                })?;
                self.events.note(
                    "warn",
                    "fallback",
                    format!(
                        "the archive from byte {from} on goes to the fallback output {}",
                        t.describe()
                    ),
                );
                self.report.fallback = Some(t.describe());
                self.report.fallback_from = Some(from);
                self.mode = Mode::Diverted { out };
                Ok(())
            }
            None => {
                self.mode = Mode::Failed;
                Err(e)
            }
        }
    }

    /// Hands `buf` to the worker as the next part. When the worker has stopped on a
    /// failure, diverts: the failed part, this one, and all that follows go to the
    /// fallback.
    fn send_part(&mut self, last: bool, sha256: Option<String>) -> io::Result<()> {
        let Mode::Streaming { tx, worker } = &mut self.mode else {
            return Ok(());
        };
        let data = std::mem::take(&mut self.buf);
        let len = data.len() as u64;
        let part = Part {
            index: self.index,
            offset: self.offset,
            data,
            last,
            sha256,
        };
        let sent = match tx.as_ref() {
            Some(t) => t.send(part).map_err(|e| e.0),
            None => Err(part),
        };
        match sent {
            Ok(()) => {
                self.offset += len;
                self.index += 1;
                if last {
                    tx.take();
                }
                Ok(())
            }
            Err(unsent) => {
                tx.take();
                let failure = join(worker.take());
                self.divert(failure, Some(unsent))
            }
        }
    }

    /// Records a worker failure and writes the bytes it had not uploaded to the fallback.
    fn divert(&mut self, f: Failure, unsent: Option<Part>) -> io::Result<()> {
        self.report.uploaded_bytes = f.committed;
        self.report.parts = f.parts;
        let from = f
            .part
            .as_ref()
            .or(unsent.as_ref())
            .map(|p| p.offset)
            .unwrap_or(self.offset);
        let mut error = f.error;
        if f.committed > 0 {
            error = UploadError::Config(format!(
                "{error}; the object holds the first {} bytes of the archive (committed)",
                f.committed
            ));
        }
        self.fail(error, from).map_err(io::Error::other)?;
        if let Mode::Diverted { out } = &mut self.mode {
            for p in f.part.iter().chain(unsent.iter()) {
                out.write_all(&p.data)?;
            }
        }
        Ok(())
    }

    /// Ends the upload: the last part, the commit (with the archive's sha256 where the
    /// protocol carries metadata), or the rest into the fallback.
    pub fn finish(&mut self, total: u64, sha256: &str) -> io::Result<()> {
        if matches!(self.mode, Mode::Streaming { .. }) {
            self.send_part(true, Some(sha256.to_owned()))?;
            if let Mode::Streaming { worker, .. } = &mut self.mode {
                let w = worker.take();
                match w.map(|w| w.join()) {
                    Some(Ok(Ok(parts))) => {
                        self.report.parts = parts;
                        self.report.uploaded_bytes = total;
                        self.report.complete = true;
                    }
                    other => {
                        let f = match other {
                            Some(Ok(Err(f))) => *f,
                            _ => worker_failure(),
                        };
                        self.divert(f, None)?;
                    }
                }
            }
        }
        if let Mode::Single { proto } = &mut self.mode {
            let data = std::mem::take(&mut self.buf);
            let http = self.http.clone();
            let sent = proto
                .part(&http, 0, 0, &data, true)
                .and_then(|_| proto.finish(&http, total, sha256));
            match sent {
                Ok(()) => {
                    self.report.parts = 1;
                    self.report.uploaded_bytes = total;
                    self.report.complete = true;
                }
                Err(e) => {
                    self.fail(e, 0).map_err(io::Error::other)?;
                    if let Mode::Diverted { out } = &mut self.mode {
                        out.write_all(&data)?;
                    }
                }
            }
        }
        self.report.retries = self.events.retries();
        match &mut self.mode {
            Mode::Diverted { out } => out.finish(),
            Mode::Failed => Err(io::Error::other(
                self.report.error.clone().unwrap_or_default(),
            )),
            _ => {
                let r = &self.report;
                let what = r.object.clone().unwrap_or_else(|| r.location.clone());
                self.events.note(
                    "info",
                    "uploaded",
                    format!(
                        "{} bytes in {} part(s) to {what} ({})",
                        total,
                        self.report.parts,
                        self.kind.name()
                    ),
                );
                Ok(())
            }
        }
    }
}

fn worker_failure() -> Failure {
    Failure {
        error: UploadError::Worker,
        part: None,
        committed: 0,
        parts: 0,
    }
}

fn join(worker: Option<JoinHandle<Result<u32, Box<Failure>>>>) -> Failure {
    match worker.map(|w| w.join()) {
        Some(Ok(Err(f))) => *f,
        _ => worker_failure(),
    }
}

/// The upload thread: sends parts in order; on a failure, commits what it sent before
/// (so the object holds a prefix of the archive) and hands back the failed part.
fn work(
    mut proto: Box<dyn Protocol>,
    http: &http::Http,
    rx: Receiver<Part>,
) -> Result<u32, Box<Failure>> {
    let mut sent = 0u64;
    let mut parts = 0u32;
    while let Ok(p) = rx.recv() {
        let len = p.data.len() as u64;
        let too_many = proto
            .max_parts()
            .is_some_and(|max| p.index >= max && !(p.last && p.data.is_empty()));
        let res = if too_many {
            Err(UploadError::Config(format!(
                "the destination takes at most {} parts; the archive needs more",
                proto.max_parts().unwrap_or(0)
            )))
        } else {
            proto.part(http, p.index, p.offset, &p.data, p.last)
        };
        if let Err(error) = res {
            let committed = match proto.commit_prefix(http) {
                Ok(true) => proto.committed_bytes().unwrap_or(sent),
                Ok(false) => 0,
                Err(e) => {
                    http.events().note(
                        "error",
                        "upload_failed",
                        format!("committing the parts sent before the failure also failed: {e}"),
                    );
                    0
                }
            };
            return Err(Box::new(Failure {
                error,
                part: Some(p),
                committed,
                parts,
            }));
        }
        sent += len;
        if len > 0 || parts == 0 {
            parts += 1;
        }
        if p.last {
            let sha = p.sha256.clone().unwrap_or_default();
            return match proto.finish(http, p.offset + len, &sha) {
                Ok(()) => Ok(parts),
                Err(e) => Err(Box::new(Failure {
                    error: UploadError::Config(format!(
                        "{e}; every part was uploaded but the object was not committed: the fallback holds the last part only"
                    )),
                    part: Some(p),
                    committed: 0,
                    parts,
                })),
            };
        }
    }
    // The archive ended without a last part: the collection failed and said why.
    Err(Box::new(worker_failure()))
}

impl Write for Uploader {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.mode {
            Mode::Diverted { out } => out.write(data),
            Mode::Failed => Err(io::Error::other(
                self.report.error.clone().unwrap_or_default(),
            )),
            Mode::Single { .. } => {
                if (self.buf.len() + data.len()) as u64 > SINGLE_LIMIT {
                    let held = std::mem::take(&mut self.buf);
                    let e = UploadError::TooLargeForSingle {
                        kind: self.kind.name(),
                        limit: SINGLE_LIMIT >> 20,
                    };
                    self.fail(e, 0).map_err(io::Error::other)?;
                    if let Mode::Diverted { out } = &mut self.mode {
                        out.write_all(&held)?;
                        out.write_all(data)?;
                    }
                    return Ok(data.len());
                }
                self.buf.extend_from_slice(data);
                Ok(data.len())
            }
            Mode::Streaming { .. } => {
                let room = self.part_size as usize - self.buf.len();
                let n = room.min(data.len());
                self.buf.extend_from_slice(&data[..n]);
                if self.buf.len() as u64 == self.part_size {
                    self.send_part(false, None)?;
                    self.buf.reserve(self.part_size as usize);
                }
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.mode {
            Mode::Diverted { out } => out.flush(),
            _ => Ok(()),
        }
    }
}
