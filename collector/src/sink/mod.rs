//! Where the archive bytes go: a file, standard output, or an object store through a
//! presigned URL ([`upload`]). Every byte is hashed on its way out, so the sha256 of the
//! whole compressed archive is known when it ends, without reading it back. A file
//! output also gets `FILE.sha256` in `sha256sum -c` format.

/// Uploads live in their own crate, shared with the launcher's relay.
pub use cairn_upload as upload;

use cairn_archive::write::checksum_file as write_checksum_file;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The destination of the archive.
#[derive(Debug, Clone)]
pub enum Target {
    File(PathBuf),
    Stdout,
    Upload(Box<upload::UploadConfig>),
}

impl Target {
    /// `-` is standard output; anything else a file path.
    pub fn parse(text: &str) -> Target {
        if text == "-" {
            Target::Stdout
        } else {
            Target::File(PathBuf::from(text))
        }
    }

    /// How the target is shown: a path, `stdout`, or the redacted URL.
    pub fn describe(&self) -> String {
        match self {
            Target::File(p) => p.display().to_string(),
            Target::Stdout => "stdout".into(),
            Target::Upload(c) => upload::destination::redact(&c.destination.url),
        }
    }
}

/// The fallback of an upload: a local target.
impl upload::Fallback for Target {
    fn open(&self) -> io::Result<Box<dyn upload::FallbackOut>> {
        Ok(Box::new(Out::open(self)?))
    }
    fn describe(&self) -> String {
        Target::describe(self)
    }
    fn file(&self) -> Option<PathBuf> {
        match self {
            Target::File(p) => Some(p.clone()),
            _ => None,
        }
    }
}

impl upload::FallbackOut for Out {
    fn finish(&mut self) -> io::Result<()> {
        Out::finish(self)
    }
}

/// A local output: a file or standard output. A file that is not a regular one
/// (`/dev/null`, a FIFO) is written to but neither synced nor given a `.sha256`.
pub(crate) enum Out {
    File(BufWriter<File>, PathBuf, bool),
    Stdout(BufWriter<io::Stdout>),
}

impl Out {
    /// Opens a local target. A file is created (or truncated) with mode 0600: it holds
    /// evidence that may include secrets.
    pub(crate) fn open(target: &Target) -> io::Result<Out> {
        Ok(match target {
            Target::Stdout => Out::Stdout(BufWriter::with_capacity(256 << 10, io::stdout())),
            Target::File(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(p)?;
                let regular = f.metadata()?.is_file();
                Out::File(BufWriter::with_capacity(256 << 10, f), p.clone(), regular)
            }
            Target::Upload(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an upload is not a local output",
                ))
            }
        })
    }

    /// Flushes, and syncs a file to disk.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Out::File(f, _, true) = self {
            f.get_ref().sync_all()?;
        }
        Ok(())
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::File(f, _, _) => f.write(buf),
            Out::Stdout(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::File(f, _, _) => f.flush(),
            Out::Stdout(s) => s.flush(),
        }
    }
}

enum Dest {
    Local(Out),
    Upload(Box<upload::Uploader>),
}

/// A hashing, counting writer to a [`Target`].
pub struct Sink {
    dest: Dest,
    target: Target,
    hasher: Sha256,
    bytes: u64,
    events: upload::Events,
}

/// What a finished sink reports.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub target: Target,
    pub sha256: String,
    pub bytes: u64,
    /// What the upload did, for an upload target.
    pub upload: Option<upload::UploadReport>,
}

impl Sink {
    /// Opens the target. An upload is checked first (expiry, preflight), so a bad URL
    /// fails here, before anything is collected, unless a fallback takes the archive.
    pub fn open(target: Target) -> io::Result<Sink> {
        let events = upload::Events::default();
        let dest = match &target {
            Target::Upload(cfg) => Dest::Upload(Box::new(
                upload::Uploader::start((**cfg).clone(), events.clone())
                    .map_err(io::Error::other)?,
            )),
            t => Dest::Local(Out::open(t)?),
        };
        Ok(Sink {
            dest,
            target,
            hasher: Sha256::new(),
            bytes: 0,
            events,
        })
    }

    /// Upload records to drain into the collection log.
    pub fn events(&self) -> upload::Events {
        self.events.clone()
    }

    /// The upload's state so far (preflight, failure), for the summary.
    pub fn upload_report(&self) -> Option<&upload::UploadReport> {
        match &self.dest {
            Dest::Upload(u) => Some(u.report()),
            Dest::Local(_) => None,
        }
    }

    /// The (device, inode) of a file output, so the collector never collects itself.
    pub fn file_identity(&self) -> Option<(u64, u64)> {
        match &self.dest {
            Dest::Local(Out::File(f, _, _)) => {
                let st = rustix::fs::fstat(f.get_ref()).ok()?;
                Some((crate::source::meta::dev_of(st.st_dev), st.st_ino))
            }
            _ => None,
        }
    }

    /// The regular file the archive is written to, and its path as given.
    pub fn local_file(&self) -> Option<(&File, &Path)> {
        match &self.dest {
            Dest::Local(Out::File(f, p, true)) => Some((f.get_ref(), p.as_path())),
            _ => None,
        }
    }

    /// The target as shown in the summary (a redacted URL for uploads).
    pub fn describe_target(&self) -> String {
        self.target.describe()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes, syncs a file output and writes `FILE.sha256` beside it, or completes
    /// the upload; reports.
    pub fn close(mut self) -> io::Result<Delivered> {
        self.flush()?;
        let sha256 = hex::encode(self.hasher.finalize_reset());
        let upload = match &mut self.dest {
            Dest::Local(out) => {
                out.finish()?;
                if let Out::File(_, p, true) = out {
                    write_checksum_file(p, &sha256)?;
                }
                None
            }
            Dest::Upload(u) => {
                u.finish(self.bytes, &sha256)?;
                let r = u.report().clone();
                if let (Some(from), Some(upload::UploadReport { .. })) = (r.fallback_from, Some(&r))
                {
                    fallback_notes(&self.target, &r, from, &sha256)?;
                }
                Some(r)
            }
        };
        Ok(Delivered {
            target: self.target,
            sha256,
            bytes: self.bytes,
            upload,
        })
    }
}

/// Beside a fallback file: `FILE.sha256` when it holds the whole archive, or
/// `FILE.upload.json` saying which bytes are where when it holds the rest after a
/// committed prefix.
fn fallback_notes(
    target: &Target,
    r: &upload::UploadReport,
    from: u64,
    sha256: &str,
) -> io::Result<()> {
    let Target::Upload(cfg) = target else {
        return Ok(());
    };
    let Some(p) = cfg.fallback.as_ref().and_then(|f| f.file()) else {
        return Ok(());
    };
    let p = p.as_path();
    if from == 0 {
        return write_checksum_file(p, sha256);
    }
    let mut side = p.as_os_str().to_owned();
    side.push(".upload.json");
    /// `FILE.upload.json`: which bytes of the archive are where.
    #[derive(serde::Serialize)]
    struct SplitNote<'a> {
        archive_sha256: &'a str,
        fallback_holds_from_byte: u64,
        upload: &'a upload::UploadReport,
        reassemble: String,
    }
    let doc = SplitNote {
        archive_sha256: sha256,
        fallback_holds_from_byte: from,
        upload: r,
        reassemble: format!(
            "{{ head -c {from} OBJECT; cat {}; }} > archive.tar.zst",
            p.display()
        ),
    };
    std::fs::write(side, serde_json::to_vec_pretty(&doc).unwrap_or_default())
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.dest {
            Dest::Local(o) => o.write(buf)?,
            Dest::Upload(u) => u.write(buf)?,
        };
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.dest {
            Dest::Local(o) => o.flush(),
            Dest::Upload(u) => u.flush(),
        }
    }
}
