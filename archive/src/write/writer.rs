//! The tar + zstd stream. Entries are written as they are read; the data of each
//! regular file is hashed on the way in (the compressed stream is hashed on the way
//! out, by the writer it goes to). Names longer than ustar's 100 bytes, or not UTF-8,
//! get a PAX `path` record holding the exact bytes, so standard `tar` restores them
//! byte-exactly and [`crate::read`] reads them back identically.

use super::hash_thread::{HashThread, THREAD_MIN};
use crate::header::{self, Fields, BLOCK};
use crate::pax;
use crate::read::MAX_NAME;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

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

/// True when `name` can be written, and so read back as it is: not empty, at most
/// [`MAX_NAME`] bytes, no NUL (a header's name field ends at one), not ending in `/`
/// (GNU tar takes such an entry for a directory, so the reader refuses it). Paths on a
/// filesystem are all of these; the collector records one that is not as skipped.
pub fn name_fits(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && !name.contains(&0) && !name.ends_with(b"/")
}

/// Fills `buf` from `src`, or with zeros once the source has ended, failed or been
/// stopped (each recorded in `outcome`); returns the bytes filled, 0 when the caller
/// should call again (the state changed, or a read was interrupted).
fn fill(
    outcome: &mut StreamOutcome,
    src: &mut dyn Read,
    stop: &dyn Fn() -> bool,
    buf: &mut [u8],
) -> usize {
    if outcome.short || outcome.stopped || outcome.error.is_some() {
        buf.fill(0);
        return buf.len();
    }
    if stop() {
        outcome.stopped = true;
        return 0;
    }
    match src.read(buf) {
        Ok(0) => {
            outcome.short = true;
            0
        }
        Ok(n) => {
            outcome.read += n as u64;
            n
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
        Err(e) => {
            outcome.error = Some(e.to_string());
            0
        }
    }
}

/// Writes tar entries into a zstd stream bound for `W`.
pub struct ArchiveWriter<W: Write> {
    out: zstd::stream::write::Encoder<'static, W>,
    buf: Vec<u8>,
    uncompressed: u64,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts the compressed stream, using `workers` compression threads (0: inline).
    pub fn new(sink: W, workers: u32) -> io::Result<ArchiveWriter<W>> {
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

    /// The writer the compressed stream goes to.
    pub fn sink(&self) -> &W {
        self.out.get_ref()
    }

    /// Bytes of tar written so far (before compression).
    pub fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    fn raw(&mut self, data: &[u8]) -> io::Result<()> {
        self.uncompressed += data.len() as u64;
        self.out.write_all(data)
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rem = crate::read::tar::pad(len) as usize;
        if rem > 0 {
            self.raw(&[0u8; BLOCK][..rem])?;
        }
        Ok(())
    }

    fn header(
        &mut self,
        path: &[u8],
        kind: u8,
        h: &EntryHeader,
        size: u64,
        link: Option<&[u8]>,
    ) -> io::Result<()> {
        if !name_fits(path) || link.is_some_and(|l| l.len() > MAX_NAME || l.contains(&0)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a name (or link) that is empty, longer than {MAX_NAME} bytes, holds a NUL or ends in '/' is not written"),
            ));
        }
        let mut records = Vec::new();
        let binary = std::str::from_utf8(path).is_err()
            || link.is_some_and(|l| std::str::from_utf8(l).is_err());
        if binary {
            pax::push(&mut records, "hdrcharset", b"BINARY");
        }
        if path.len() > 100 {
            pax::push(&mut records, "path", path);
        }
        if let Some(l) = link.filter(|l| l.len() > 100) {
            pax::push(&mut records, "linkpath", l);
        }
        if h.mtime < 0 {
            pax::push(&mut records, "mtime", h.mtime.to_string().as_bytes());
        }
        if !records.is_empty() {
            let ph = header::encode(&Fields {
                name: b"././@PaxHeader",
                kind: b'x',
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: records.len() as u64,
                mtime: 0,
                link: b"",
            });
            self.raw(&ph)?;
            self.raw(&records)?;
            self.pad(records.len() as u64)?;
        }
        // Permission bits only: setuid, setgid and sticky never reach a tar header, so
        // extracting an archive as root cannot create a setuid file with an attacker's
        // content. The manifest keeps the real mode.
        let th = header::encode(&Fields {
            name: path,
            kind,
            mode: h.mode & 0o777,
            uid: u64::from(h.uid),
            gid: u64::from(h.gid),
            size,
            mtime: h.mtime,
            link: link.unwrap_or_default(),
        });
        self.raw(&th)
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
        self.header(path, b'0', h, size, None)?;
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.copy(size, src, stop, &mut buf);
        self.buf = buf;
        let (outcome, hasher) = result?;
        self.pad(size)?;
        Ok(StreamOutcome {
            sha256: hex::encode(hasher.finalize()),
            ..outcome
        })
    }

    /// Copies `size` bytes of `src`, zeros once it ends, fails or is stopped. A big
    /// member is hashed on a second thread ([`HashThread`]).
    fn copy(
        &mut self,
        size: u64,
        src: &mut dyn Read,
        stop: &dyn Fn() -> bool,
        buf: &mut [u8],
    ) -> io::Result<(StreamOutcome, Sha256)> {
        if size >= THREAD_MIN {
            return std::thread::scope(|s| self.copy_threaded(s, size, src, stop));
        }
        let mut hasher = Sha256::new();
        let mut outcome = StreamOutcome::default();
        let mut done = 0u64;
        while done < size {
            let want = (size - done).min(buf.len() as u64) as usize;
            let n = fill(&mut outcome, src, stop, &mut buf[..want]);
            hasher.update(&buf[..n]);
            self.raw(&buf[..n])?;
            done += n as u64;
        }
        Ok((outcome, hasher))
    }

    fn copy_threaded<'scope>(
        &mut self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        size: u64,
        src: &mut dyn Read,
        stop: &dyn Fn() -> bool,
    ) -> io::Result<(StreamOutcome, Sha256)> {
        let mut hashing = HashThread::start(scope, CHUNK);
        let mut outcome = StreamOutcome::default();
        let mut done = 0u64;
        while done < size {
            let want = (size - done).min(CHUNK as u64) as usize;
            let mut buf = hashing.buffer();
            let n = fill(&mut outcome, src, stop, &mut buf[..want]);
            if n == 0 {
                hashing.keep(buf);
                continue;
            }
            let chunk = hashing.hash(buf, n);
            self.raw(&chunk)?;
            done += n as u64;
        }
        Ok((outcome, hashing.finish()?))
    }
    /// Appends an in-memory regular file; returns its sha256.
    pub fn append_bytes(
        &mut self,
        path: &[u8],
        h: &EntryHeader,
        data: &[u8],
    ) -> io::Result<String> {
        self.header(path, b'0', h, data.len() as u64, None)?;
        self.raw(data)?;
        self.pad(data.len() as u64)?;
        Ok(hex::encode(Sha256::digest(data)))
    }

    /// Appends the content of a spool as a regular file; returns its sha256.
    pub fn append_spool(
        &mut self,
        path: &[u8],
        h: &EntryHeader,
        spool: &mut super::Spool,
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
        self.header(path, b'2', h, 0, Some(target))
    }

    /// Ends the tar stream and the zstd frame; returns the writer, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.raw(&[0u8; 2 * BLOCK])?;
        let mut sink = self.out.finish()?;
        sink.flush()?;
        Ok(sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::hash_thread::THREAD_MIN;

    /// Reads `data` in uneven pieces, failing with `fail` once `fail_at` bytes are read.
    struct Uneven<'a> {
        data: &'a [u8],
        at: usize,
        step: usize,
        fail_at: Option<usize>,
    }

    impl Read for Uneven<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.fail_at.is_some_and(|f| self.at >= f) {
                return Err(io::Error::other("gone"));
            }
            self.step = self.step % 300_007 + 77_777;
            let n = buf.len().min(self.step).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// The member as stored: what the source gave, zeros to the declared size.
    fn stored(data: &[u8], size: usize) -> Vec<u8> {
        let mut v = data[..data.len().min(size)].to_vec();
        v.resize(size, 0);
        v
    }

    #[test]
    fn a_big_member_hashed_on_a_second_thread_has_the_hash_of_its_stored_bytes() {
        let big = THREAD_MIN as usize + 1_234_567;
        let data: Vec<u8> = (0..big).map(|i| (i * 7 + i / 4096) as u8).collect();
        // (bytes the source holds, declared size, fails after, stopped)
        let cases = [
            (big, big, None, false),
            (big - 999_999, big, None, false),
            (big, big, Some(3 << 20), false),
            (big, big, None, true),
            (1000, 1000, None, false),
        ];
        for (held, size, fail_at, stop) in cases {
            let mut w = ArchiveWriter::new(Vec::new(), 1).unwrap();
            let mut src = Uneven {
                data: &data[..held],
                at: 0,
                step: 1,
                fail_at,
            };
            let calls = std::cell::Cell::new(0);
            let stopper = || {
                calls.set(calls.get() + 1);
                stop && calls.get() > 20
            };
            let o = w
                .append_stream(
                    b"m",
                    &EntryHeader::default(),
                    size as u64,
                    &mut src,
                    &stopper,
                )
                .unwrap();
            let read = o.read as usize;
            let want = stored(&data[..read], size);
            assert_eq!(
                o.sha256,
                hex::encode(Sha256::digest(&want)),
                "{held} {fail_at:?} {stop}"
            );
            assert_eq!(o.short, held < size);
            assert_eq!(o.error.is_some(), fail_at.is_some());
            assert_eq!(o.stopped, stop);
            let z = w.finish().unwrap();
            let tar = zstd::decode_all(&z[..]).unwrap();
            assert_eq!(&tar[BLOCK..BLOCK + size], &want[..]);
        }
    }
}
