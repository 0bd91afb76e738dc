//! The tar + zstd stream. Entries are written as they are read; the data of each
//! regular file is hashed on the way in, and the compressed stream is hashed on the way
//! out (in the sink). Names longer than ustar's 100 bytes, or not UTF-8, get a PAX
//! `path` record holding the exact bytes, so standard `tar` restores them byte-exactly.

use crate::sink::Sink;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use tar::{EntryType, Header};

/// zstd level: 3, the same default as the zstd command line.
pub const ZSTD_LEVEL: i32 = 3;
/// zstd job size for multi-threaded compression: small jobs keep memory low.
const ZSTD_JOB_SIZE: u32 = 1 << 20;
/// Read buffer for streaming file contents.
pub const CHUNK: usize = 256 << 10;

/// Ownership, permissions and time of a tar entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryHeader {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
}

/// What streaming one file into the archive found.
#[derive(Debug, Clone, Default)]
pub struct StreamOutcome {
    /// sha256 of the bytes stored in the archive.
    pub sha256: String,
    /// Bytes actually read from the source.
    pub read: u64,
    /// The source ended before the declared size (zeros fill the rest).
    pub short: bool,
    /// Reading stopped early on request (deadline); zeros fill the rest.
    pub stopped: bool,
    /// A read error, after which zeros fill the rest.
    pub error: Option<String>,
}

/// Writes tar entries into a zstd stream bound for a [`Sink`].
pub struct ArchiveWriter {
    out: zstd::stream::write::Encoder<'static, Sink>,
    buf: Vec<u8>,
    uncompressed: u64,
}

impl ArchiveWriter {
    /// Starts the compressed stream, using `workers` compression threads (0: inline).
    pub fn new(sink: Sink, workers: u32) -> io::Result<ArchiveWriter> {
        let mut out = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL)?;
        out.include_checksum(true)?;
        if workers > 0 {
            out.multithread(workers)?;
            out.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))?;
        }
        Ok(ArchiveWriter {
            out,
            buf: vec![0u8; CHUNK],
            uncompressed: 0,
        })
    }

    /// Bytes of tar written so far (before compression).
    /// The sink the compressed stream goes to.
    pub fn sink(&self) -> &Sink {
        self.out.get_ref()
    }

    pub fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    /// Bytes of compressed output written so far.
    pub fn compressed_bytes(&self) -> u64 {
        self.out.get_ref().bytes()
    }

    fn raw(&mut self, data: &[u8]) -> io::Result<()> {
        self.uncompressed += data.len() as u64;
        self.out.write_all(data)
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rem = (512 - (len % 512)) % 512;
        if rem > 0 {
            self.raw(&[0u8; 512][..rem as usize])?;
        }
        Ok(())
    }

    fn header(
        &mut self,
        path: &[u8],
        kind: EntryType,
        h: &EntryHeader,
        size: u64,
        link: Option<&[u8]>,
    ) -> io::Result<()> {
        let mut pax: Vec<(&str, &[u8])> = Vec::new();
        let binary = std::str::from_utf8(path).is_err()
            || link.is_some_and(|l| std::str::from_utf8(l).is_err());
        if binary {
            pax.push(("hdrcharset", b"BINARY"));
        }
        if path.len() > 100 {
            pax.push(("path", path));
        }
        if let Some(l) = link.filter(|l| l.len() > 100) {
            pax.push(("linkpath", l));
        }
        let mtime_text;
        if h.mtime < 0 {
            mtime_text = h.mtime.to_string();
            pax.push(("mtime", mtime_text.as_bytes()));
        }
        if !pax.is_empty() {
            let mut data = Vec::new();
            for (k, v) in &pax {
                // Each record is "LEN KEY=VALUE\n", LEN counting its own digits.
                let body = k.len() + v.len() + 3;
                let mut len = body + body.to_string().len();
                if len.to_string().len() + body != len {
                    len += 1;
                }
                data.extend_from_slice(len.to_string().as_bytes());
                data.push(b' ');
                data.extend_from_slice(k.as_bytes());
                data.push(b'=');
                data.extend_from_slice(v);
                data.push(b'\n');
            }
            let mut ph = Header::new_ustar();
            set_name(&mut ph, b"././@PaxHeader");
            ph.set_entry_type(EntryType::XHeader);
            ph.set_mode(0o644);
            ph.set_size(data.len() as u64);
            ph.set_mtime(0);
            ph.set_cksum();
            self.raw(ph.as_bytes())?;
            self.raw(&data)?;
            self.pad(data.len() as u64)?;
        }
        let mut th = Header::new_ustar();
        set_name(&mut th, path);
        th.set_entry_type(kind);
        // Permission bits only: setuid, setgid and sticky never reach a tar header, so
        // extracting an archive as root cannot create a setuid file with an attacker's
        // content. The manifest keeps the real mode.
        th.set_mode(h.mode & 0o777);
        th.set_uid(u64::from(h.uid));
        th.set_gid(u64::from(h.gid));
        th.set_mtime(h.mtime.max(0) as u64);
        th.set_size(size);
        if let Some(l) = link {
            let n = l.len().min(100);
            if let Some(ustar) = th.as_ustar_mut() {
                ustar.linkname[..n].copy_from_slice(&l[..n]);
            }
        }
        th.set_cksum();
        self.raw(th.as_bytes())
    }

    /// Streams exactly `size` bytes of `src` as a regular-file entry. A source that ends
    /// early, fails, or is stopped by `stop` is padded with zeros so the archive stays
    /// valid; the outcome says what happened.
    pub fn append_stream(
        &mut self,
        path: &[u8],
        h: &EntryHeader,
        size: u64,
        src: &mut dyn Read,
        stop: &dyn Fn() -> bool,
    ) -> io::Result<StreamOutcome> {
        self.header(path, EntryType::Regular, h, size, None)?;
        let mut hasher = Sha256::new();
        let mut outcome = StreamOutcome::default();
        let mut done = 0u64;
        let mut buf = std::mem::take(&mut self.buf);
        let result = (|| {
            while done < size {
                let want = (size - done).min(buf.len() as u64) as usize;
                if outcome.short || outcome.stopped || outcome.error.is_some() {
                    buf[..want].fill(0);
                } else if stop() {
                    outcome.stopped = true;
                    continue;
                } else {
                    match src.read(&mut buf[..want]) {
                        Ok(0) => {
                            outcome.short = true;
                            continue;
                        }
                        Ok(n) => {
                            outcome.read += n as u64;
                            hasher.update(&buf[..n]);
                            self.raw(&buf[..n])?;
                            done += n as u64;
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            outcome.error = Some(e.to_string());
                            continue;
                        }
                    }
                }
                hasher.update(&buf[..want]);
                self.raw(&buf[..want])?;
                done += want as u64;
            }
            Ok::<(), io::Error>(())
        })();
        self.buf = buf;
        result?;
        self.pad(size)?;
        outcome.sha256 = hex::encode(hasher.finalize());
        Ok(outcome)
    }

    /// Appends an in-memory regular file; returns its sha256.
    pub fn append_bytes(
        &mut self,
        path: &[u8],
        h: &EntryHeader,
        data: &[u8],
    ) -> io::Result<String> {
        self.header(path, EntryType::Regular, h, data.len() as u64, None)?;
        self.raw(data)?;
        self.pad(data.len() as u64)?;
        Ok(hex::encode(Sha256::digest(data)))
    }

    /// Appends the content of a spool as a regular file; returns its sha256.
    pub fn append_spool(
        &mut self,
        path: &[u8],
        h: &EntryHeader,
        spool: &mut crate::archive::Spool,
    ) -> io::Result<String> {
        let size = spool.len();
        let mut reader = spool.reader()?;
        let outcome = self.append_stream(path, h, size, &mut reader, &|| false)?;
        if outcome.short || outcome.error.is_some() {
            return Err(io::Error::other("in-memory spool ended early"));
        }
        Ok(outcome.sha256)
    }

    /// Appends a symbolic link entry.
    pub fn append_symlink(
        &mut self,
        path: &[u8],
        h: &EntryHeader,
        target: &[u8],
    ) -> io::Result<()> {
        self.header(path, EntryType::Symlink, h, 0, Some(target))
    }

    /// Ends the tar stream and the zstd frame; returns the sink.
    pub fn finish(mut self) -> io::Result<Sink> {
        self.raw(&[0u8; 1024])?;
        let mut sink = self.out.finish()?;
        sink.flush()?;
        Ok(sink)
    }
}

/// Writes up to 100 bytes of the name into the ustar name field (the PAX record, when
/// present, carries the full name).
fn set_name(h: &mut Header, name: &[u8]) {
    let n = name.len().min(100);
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..n].copy_from_slice(&name[..n]);
}
