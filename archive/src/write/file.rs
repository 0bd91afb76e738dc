//! A new file for an archive the launcher writes itself: created with mode 0600 (it
//! holds evidence, secrets included), never over an existing file (an archive may be
//! evidence), every byte hashed and counted on its way out; when finished it is synced
//! and `PATH.sha256` is written beside it in `sha256sum -c` format.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written.
pub struct SealedFile {
    out: BufWriter<File>,
    path: PathBuf,
    hasher: Sha256,
    bytes: u64,
}

/// A finished file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

impl SealedFile {
    /// Creates `path`; an existing file (or anything else there) is refused.
    pub fn create(path: &Path) -> io::Result<SealedFile> {
        let f = crate::private::create_new(path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} exists: an archive may be evidence and is not overwritten",
                        path.display()
                    ),
                )
            } else {
                e
            }
        })?;
        Ok(SealedFile {
            out: BufWriter::with_capacity(256 << 10, f),
            path: path.to_path_buf(),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Flushes and syncs the file, and writes `PATH.sha256`.
    pub fn finish(mut self) -> io::Result<Sealed> {
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        let sha256 = hex::encode(self.hasher.finalize());
        checksum_file(&self.path, &sha256)?;
        Ok(Sealed {
            path: self.path,
            sha256,
            bytes: self.bytes,
        })
    }
}

impl Write for SealedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes `<sha256>  <file name>` to `PATH.sha256`, for `sha256sum -c` run beside it
/// (owner-only; what was at that name is replaced, never written through).
pub fn checksum_file(path: &Path, sha256: &str) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut side = path.as_os_str().to_owned();
    side.push(".sha256");
    let mut f = crate::private::replace(Path::new(&side))?;
    f.write_all(format!("{sha256}  {name}\n").as_bytes())
}
