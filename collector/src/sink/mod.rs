//! Where the archive bytes go: a file or standard output. Every byte is hashed on its
//! way out, so the sha256 of the whole compressed archive is known when it ends, without
//! reading it back. A file output also gets `FILE.sha256` in `sha256sum -c` format.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The destination of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    File(PathBuf),
    Stdout,
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
}

enum Out {
    File(BufWriter<File>),
    Stdout(BufWriter<io::Stdout>),
}

/// A hashing, counting writer to a [`Target`].
pub struct Sink {
    out: Out,
    target: Target,
    hasher: Sha256,
    bytes: u64,
}

/// What a finished sink reports.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub target: Target,
    pub sha256: String,
    pub bytes: u64,
}

impl Sink {
    /// Opens the target. A file output is created (or truncated) with mode 0600: it
    /// holds evidence that may include secrets.
    pub fn open(target: Target) -> io::Result<Sink> {
        let out = match &target {
            Target::Stdout => Out::Stdout(BufWriter::with_capacity(256 << 10, io::stdout())),
            Target::File(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(p)?;
                Out::File(BufWriter::with_capacity(256 << 10, f))
            }
        };
        Ok(Sink {
            out,
            target,
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// The (device, inode) of a file output, so the collector never collects itself.
    pub fn file_identity(&self) -> Option<(u64, u64)> {
        match &self.out {
            Out::File(f) => {
                let st = rustix::fs::fstat(f.get_ref()).ok()?;
                let dev = (u64::from(rustix::fs::major(st.st_dev)) << 32)
                    | u64::from(rustix::fs::minor(st.st_dev));
                Some((dev, st.st_ino))
            }
            Out::Stdout(_) => None,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes, syncs a file output, writes `FILE.sha256` beside it, and reports.
    pub fn close(mut self) -> io::Result<Delivered> {
        self.flush()?;
        let sha256 = hex::encode(self.hasher.finalize_reset());
        if let (Out::File(f), Target::File(p)) = (&self.out, &self.target) {
            f.get_ref().sync_all()?;
            write_checksum_file(p, &sha256)?;
        }
        Ok(Delivered {
            target: self.target,
            sha256,
            bytes: self.bytes,
        })
    }
}

/// Writes `<sha256>  <file name>` to `PATH.sha256`, for `sha256sum -c` run beside it.
pub fn write_checksum_file(path: &Path, sha256: &str) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut side = path.as_os_str().to_owned();
    side.push(".sha256");
    std::fs::write(side, format!("{sha256}  {name}\n"))
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.out {
            Out::File(f) => f.write(buf)?,
            Out::Stdout(s) => s.write(buf)?,
        };
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Out::File(f) => f.flush(),
            Out::Stdout(s) => s.flush(),
        }
    }
}
