//! Streams the archive to an object store through presigned URLs while it is being
//! produced: nothing is staged on the target's disk and memory stays bounded (for the
//! streaming kinds at most [`pipeline::PARTS_IN_MEMORY`] of parts, or two parts when
//! they are larger; the single-request kinds hold the whole archive, up to
//! [`SINGLE_LIMIT`]). [`pipeline`] sends several parts at once where the protocol allows. A preflight before collecting catches an expired or
//! wrong URL in a second. Each request is retried with backoff; when the upload finally
//! fails, what was not uploaded goes to `--fallback-output`, and what was uploaded is
//! committed, so no byte of evidence is lost.
//!
//! [`presigned`] recognises URL kinds, expiries and redacts them, [`destination`] decides where
//! an upload goes, [`plan`] reads upload plans,
//! [`http`] sends requests with retries, and [`s3`], [`azure`], [`gcs`], [`single`]
//! speak each service's protocol behind the [`Protocol`] trait.
//!
//! The collector uploads from the pod with it; the launcher uploads with it what came
//! back over exec when the credential must not enter the pod (the relay).

#![forbid(unsafe_code)]

pub mod azure;
pub mod destination;
mod events;
pub mod gcs;
pub mod http;
pub mod pipeline;
pub mod plan;
pub mod presigned;
pub mod s3;
pub mod single;

use cairn_protocol::{Level, LogEvent};
use destination::{redact, Destination, Kind};
pub use events::{random_u64, Events, EventsInner};
use pipeline::{Outcome, Part, Pipeline};
use std::io::{self, Write};
use std::sync::Arc;

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

/// What the destination gave back for one part that commits it later (an S3 ETag,
/// an Azure block id; empty where nothing is needed); `None` for a part that carried
/// no bytes (an empty last part).
pub type Receipt = Option<String>;

/// One object-store protocol. `index` counts parts from 0 and `offset` is where the
/// part starts in the archive. Parts may be sent from several threads at once when
/// [`Protocol::concurrent`] says so, hence `&self`.
pub trait Protocol: Send + Sync {
    /// Checks, before collecting, that the destination takes writes, without creating
    /// a visible object; `Ok(None)` when the protocol allows no such check.
    fn preflight(&self, _http: &http::Http) -> Result<Option<String>, UploadError> {
        Ok(None)
    }
    /// The most parts the destination takes, if limited.
    fn max_parts(&self) -> Option<u32> {
        None
    }
    /// Whether parts may be sent in any order, several at once.
    fn concurrent(&self) -> bool {
        false
    }
    /// Whether [`Protocol::finish`] commits the object; when not, the receipts are
    /// reported for whoever holds the power to commit.
    fn commits(&self) -> bool {
        true
    }
    fn part(
        &self,
        http: &http::Http,
        index: u32,
        offset: u64,
        data: &[u8],
        last: bool,
    ) -> Result<Receipt, UploadError>;
    /// Commits the object after the last part, from the receipts of all parts.
    fn finish(
        &self,
        _http: &http::Http,
        _receipts: &[Receipt],
        _total: u64,
        _sha256: &str,
    ) -> Result<(), UploadError> {
        Ok(())
    }
    /// After a failure, commits the first parts (`receipts`, `bytes` long) as the
    /// object, a prefix of the archive; false when there was nothing to commit or the
    /// protocol cannot.
    fn commit_prefix(
        &self,
        _http: &http::Http,
        _receipts: &[Receipt],
        _bytes: u64,
    ) -> Result<bool, UploadError> {
        Ok(false)
    }
}

/// Where the rest of the archive goes when an upload fails (the collector's
/// `--fallback-output`).
pub trait Fallback: Send + Sync + std::fmt::Debug {
    /// Opens it for writing.
    fn open(&self) -> io::Result<Box<dyn FallbackOut>>;
    /// How it is shown in the report.
    fn describe(&self) -> String;
    /// The file it writes, if it is one (notes are written beside it).
    fn file(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// An open fallback output.
pub trait FallbackOut: Write + Send {
    /// Flushes and syncs it.
    fn finish(&mut self) -> io::Result<()>;
}

/// Everything an upload needs.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub destination: Destination,
    pub http: http::HttpConfig,
    /// Where the archive (or what was not uploaded of it) goes if the upload fails.
    pub fallback: Option<Arc<dyn Fallback>>,
    /// Object name: the POST `${filename}` and the blob inserted into a container SAS.
    pub name: String,
}

/// What an upload did, for the final line, the `done` event and the exit status.
pub use cairn_protocol::UploadReport;

enum Mode {
    /// Streaming: parts go to the upload threads as they fill.
    Streaming {
        proto: Arc<dyn Protocol>,
        pipeline: Option<Pipeline>,
    },
    /// Single request: everything is held until the end.
    Single { proto: Arc<dyn Protocol> },
    /// The upload failed: everything from `from` on goes to the fallback.
    Diverted { out: Box<dyn FallbackOut> },
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
    fallback: Option<Arc<dyn Fallback>>,
    report: UploadReport,
    events: Events,
}

/// The receipts of the parts that carried bytes, numbered from 1.
fn part_receipts(receipts: &[Receipt]) -> Vec<cairn_protocol::PartReceipt> {
    receipts
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.as_ref().map(|etag| cairn_protocol::PartReceipt {
                number: i as u32 + 1,
                etag: etag.clone(),
            })
        })
        .collect()
}

fn protocol_for(d: &Destination, name: &str) -> Arc<dyn Protocol> {
    match (&d.plan, d.kind) {
        (
            Some(plan::Plan::S3Multipart {
                parts, complete, ..
            }),
            _,
        ) => Arc::new(s3::S3Multipart::new(parts.clone(), complete.clone())),
        (Some(plan::Plan::S3Post { url, fields, .. }), _) => Arc::new(s3::S3Post {
            url: url.clone(),
            fields: fields.clone(),
            filename: name.to_owned(),
        }),
        (None, Kind::AzureBlob) => Arc::new(azure::AzureBlob::new(d.url.clone())),
        (None, Kind::GcsResumable) => Arc::new(gcs::GcsResumable::new(d.url.clone())),
        (None, _) => Arc::new(single::SinglePut { url: d.url.clone() }),
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
            kind: kind.name().to_owned(),
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
            commit_ms: None,
            uncommitted_parts: None,
        };
        let proto = protocol_for(d, &cfg.name);
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
                    Level::Info,
                    LogEvent::Upload,
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
            let pipeline = Pipeline::start(proto.clone(), http.clone(), part_size)?;
            events.note(
                Level::Info,
                LogEvent::Upload,
                format!(
                    "parts of {} MiB, up to {} uploading at once",
                    part_size >> 20,
                    pipeline.window()
                ),
            );
            Mode::Streaming {
                proto,
                pipeline: Some(pipeline),
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
        self.events
            .note(Level::Error, LogEvent::UploadFailed, msg.clone());
        self.report.error = Some(msg);
        self.report.complete = false;
        match self.fallback.clone() {
            Some(t) => {
                let out = t.open().map_err(|io| {
                    UploadError::Config(format!("{e}; and the fallback output failed too: {io}"))
                })?;
                self.events.note(
                    Level::Warn,
                    LogEvent::Fallback,
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

    /// Hands `buf` to the upload threads as the next part. When a part has failed,
    /// diverts: every byte past the uploaded prefix, this part, and all that follows
    /// go to the fallback.
    fn send_part(&mut self, last: bool) -> io::Result<()> {
        let Mode::Streaming { pipeline, .. } = &mut self.mode else {
            return Ok(());
        };
        let data = std::mem::take(&mut self.buf);
        let len = data.len() as u64;
        let part = Part {
            index: self.index,
            offset: self.offset,
            data,
            last,
        };
        let sent = match pipeline.as_ref() {
            Some(p) => p.push(part),
            None => Err(part),
        };
        match sent {
            Ok(()) => {
                self.offset += len;
                self.index += 1;
                Ok(())
            }
            Err(unsent) => self.divert(Some(unsent)),
        }
    }

    /// Stops the upload threads after a failure: commits the uploaded prefix as the
    /// object, records the failure and writes every byte after the prefix to the
    /// fallback.
    fn divert(&mut self, unsent: Option<Part>) -> io::Result<()> {
        let outcome = match &mut self.mode {
            Mode::Streaming { pipeline, .. } => pipeline.take().map(Pipeline::close),
            _ => None,
        };
        self.divert_outcome(outcome, unsent)
    }

    fn divert_outcome(&mut self, outcome: Option<Outcome>, unsent: Option<Part>) -> io::Result<()> {
        let Mode::Streaming { proto, .. } = &self.mode else {
            return Ok(());
        };
        let proto = proto.clone();
        let (error, prefix, prefix_bytes, rest) = match outcome {
            Some(Outcome::Failed {
                error,
                prefix,
                prefix_bytes,
                rest,
            }) => (error, prefix, prefix_bytes, rest),
            _ => (UploadError::Worker, Vec::new(), 0, Vec::new()),
        };
        let committed = match proto.commit_prefix(&self.http, &prefix, prefix_bytes) {
            Ok(true) => prefix_bytes,
            Ok(false) => 0,
            Err(e) => {
                self.events.note(
                    Level::Error,
                    LogEvent::UploadFailed,
                    format!("committing the parts sent before the failure also failed: {e}"),
                );
                0
            }
        };
        self.report.uploaded_bytes = committed;
        self.report.parts = prefix.iter().flatten().count() as u32;
        let from = rest
            .first()
            .or(unsent.as_ref())
            .map(|p| p.offset)
            .unwrap_or(self.offset);
        let mut error = error;
        if committed > 0 {
            error = UploadError::Config(format!(
                "{error}; the object holds the first {committed} bytes of the archive (committed)"
            ));
        }
        self.fail(error, from).map_err(io::Error::other)?;
        if let Mode::Diverted { out } = &mut self.mode {
            for p in rest.iter().chain(unsent.iter()) {
                out.write_all(&p.data)?;
            }
        }
        Ok(())
    }

    /// Ends the upload: the last part, the commit (with the archive's sha256 where the
    /// protocol carries metadata), or the rest into the fallback.
    pub fn finish(&mut self, total: u64, sha256: &str) -> io::Result<()> {
        if matches!(self.mode, Mode::Streaming { .. }) {
            self.send_part(true)?;
        }
        if let Mode::Streaming { proto, pipeline } = &mut self.mode {
            let proto = proto.clone();
            match pipeline.take().map(Pipeline::close) {
                Some(Outcome::Done { receipts, last }) => {
                    let started = std::time::Instant::now();
                    let committed = proto.finish(&self.http, &receipts, total, sha256);
                    self.report.commit_ms = Some(started.elapsed().as_millis() as u64);
                    match committed {
                        Ok(()) => {
                            self.report.parts = receipts.iter().flatten().count() as u32;
                            self.report.uploaded_bytes = total;
                            self.report.complete = true;
                            if !proto.commits() {
                                self.report.uncommitted_parts = Some(part_receipts(&receipts));
                            }
                        }
                        Err(e) => {
                            let e = UploadError::Config(format!(
                                "{e}; every part was uploaded but the object was not committed: the fallback holds the last part only"
                            ));
                            let from = last.as_ref().map_or(total, |p| p.offset);
                            self.fail(e, from).map_err(io::Error::other)?;
                            if let (Mode::Diverted { out }, Some(p)) = (&mut self.mode, last) {
                                out.write_all(&p.data)?;
                            }
                        }
                    }
                }
                Some(failed @ Outcome::Failed { .. }) => {
                    self.mode = Mode::Streaming {
                        proto,
                        pipeline: None,
                    };
                    self.divert_outcome(Some(failed), None)?;
                }
                _ => {
                    self.fail(UploadError::Worker, self.offset)
                        .map_err(io::Error::other)?;
                }
            }
        }
        if let Mode::Single { proto } = &mut self.mode {
            let data = std::mem::take(&mut self.buf);
            let http = self.http.clone();
            let sent = proto
                .part(&http, 0, 0, &data, true)
                .and_then(|r| proto.finish(&http, &[r], total, sha256));
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
                    Level::Info,
                    LogEvent::Uploaded,
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
                    self.send_part(false)?;
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
