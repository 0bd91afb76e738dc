//! The one tar reader: every archive cairn reads back (`verify`, `report`, `timeline`,
//! the case check, the tests) is read through [`Reader`], entry by entry, as a stream.
//!
//! It parses headers and their extensions exactly as POSIX and GNU tar do, and refuses
//! what it cannot read rather than guessing: a checksum that does not hold, a number
//! that is not one, a malformed PAX record, a global header, a sparse or unknown entry
//! type, data where a link or directory has none, an archive that ends inside an entry
//! or without its end blocks. So a file's contents, whatever they look like, are data:
//! the reader, GNU tar and the writer agree on where every header is.
//!
//! Memory is bounded in bytes: an extension header (PAX records, a GNU long name) is
//! read into memory only up to [`MAX_EXTENSION`], a name or link up to [`MAX_NAME`];
//! entry data is never held, only passed through.
//!
//! Written by hand: the tar crate reads an extension header whole before any check,
//! ignores PAX records it cannot parse (so it and a guard in front of it could
//! disagree on where the next header is), and has no hook for either.

use crate::header::{self, HeaderError, BLOCK};
use crate::pax;
use std::io::{self, Read};

/// The longest entry name or link target read (and written: the writer refuses a
/// longer one). A path 2,000 directories deep is about 4 KiB.
pub const MAX_NAME: usize = 256 << 10;
/// The largest extension header read: PAX records, or a GNU long name or link.
pub const MAX_EXTENSION: u64 = 1 << 20;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    HardLink,
    Symlink,
    CharDevice,
    BlockDevice,
    Directory,
    Fifo,
}

impl Kind {
    fn of(flag: u8) -> Option<Kind> {
        Some(match flag {
            b'0' | 0 | b'7' => Kind::Regular,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'3' => Kind::CharDevice,
            b'4' => Kind::BlockDevice,
            b'5' => Kind::Directory,
            b'6' => Kind::Fifo,
            _ => return None,
        })
    }
}

/// An entry's header, its extensions applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Bytes of data.
    pub size: u64,
    pub mtime: i64,
    /// A link's target.
    pub link: Option<Vec<u8>>,
}

/// Why the archive could not be read further.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input ended before the archive did.
    #[error("the archive ends at byte {at} of its tar stream, inside {what}")]
    Truncated { at: u64, what: &'static str },
    /// A header or extension that cannot be read.
    #[error("at byte {at} of its tar stream: {what}")]
    Malformed { at: u64, what: String },
    /// The input could not be read (zstd's own checks included).
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl ReadError {
    /// True when the input ended early (as opposed to holding something wrong).
    pub fn is_truncated(&self) -> bool {
        match self {
            ReadError::Truncated { .. } => true,
            ReadError::Io(e) => e.kind() == io::ErrorKind::UnexpectedEof,
            ReadError::Malformed { .. } => false,
        }
    }
}

/// What extension headers set for the next entry.
#[derive(Default)]
struct Pending {
    name: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<i64>,
    /// Bytes of the current run of extension headers, bounded by [`MAX_EXTENSION`] in all.
    bytes: u64,
    /// The kinds of extension header already met before this entry.
    seen: Vec<u8>,
}

/// Reads a tar stream entry by entry.
pub struct Reader<R> {
    inner: R,
    /// Bytes of the tar stream consumed so far.
    at: u64,
    /// Data bytes of the current entry not yet read, and the padding after them.
    left: u64,
    padding: u64,
    /// The end blocks were read.
    ended: bool,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Reader<R> {
        Reader {
            inner,
            at: 0,
            left: 0,
            padding: 0,
            ended: false,
        }
    }

    /// Bytes of the tar stream read so far.
    pub fn position(&self) -> u64 {
        self.at
    }

    /// Reads exactly `buf.len()` bytes, or says what it was reading when the input ended.
    fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), ReadError> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(ReadError::Truncated {
                        at: self.at + got as u64,
                        what,
                    })
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.at += buf.len() as u64;
        Ok(())
    }

    /// Skips `n` bytes.
    fn skip(&mut self, mut n: u64, what: &'static str) -> Result<(), ReadError> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..k], what)?;
            n -= k as u64;
        }
        Ok(())
    }

    fn malformed(&self, at: u64, what: impl Into<String>) -> ReadError {
        ReadError::Malformed {
            at,
            what: what.into(),
        }
    }

    /// The next entry, or `None` after the end blocks. What was left unread of the
    /// previous entry is skipped first.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_, R>>, ReadError> {
        if self.ended {
            return Ok(None);
        }
        let rest = self.left + self.padding;
        self.left = 0;
        self.padding = 0;
        self.skip(rest, "an entry's data")?;
        let mut pending = Pending::default();
        loop {
            let start = self.at;
            let mut block = [0u8; BLOCK];
            self.fill(&mut block, "a header")?;
            if header::is_zero(&block) {
                if pending.bytes > 0 {
                    return Err(self.malformed(
                        start,
                        "an extension header followed by the end of the archive",
                    ));
                }
                self.fill(&mut block, "the end blocks")?;
                if !header::is_zero(&block) {
                    return Err(self.malformed(
                        start,
                        "a zero block followed by a header: one end block, not two",
                    ));
                }
                self.ended = true;
                return Ok(None);
            }
            let raw = header::decode(&block)
                .map_err(|e: HeaderError| self.malformed(start, e.to_string()))?;
            match raw.kind {
                b'x' | b'L' | b'K' => self.extension(&raw, start, &mut pending)?,
                b'g' => {
                    return Err(
                        self.malformed(start, "a PAX global header, which cairn never writes")
                    )
                }
                _ => return self.entry(raw, start, pending).map(Some),
            }
        }
    }

    /// Reads one extension header into `pending`.
    fn extension(
        &mut self,
        raw: &header::Raw,
        start: u64,
        pending: &mut Pending,
    ) -> Result<(), ReadError> {
        // GNU tar keeps only the last of two such headers and the tar crate merges
        // them: they would disagree on the entry, so neither is guessed at.
        if pending.seen.contains(&raw.kind) {
            return Err(self.malformed(
                start,
                format!(
                    "a second extension header of type {:?} before one entry",
                    raw.kind as char
                ),
            ));
        }
        pending.seen.push(raw.kind);
        pending.bytes = pending.bytes.saturating_add(raw.size);
        if pending.bytes > MAX_EXTENSION {
            return Err(self.malformed(
                start,
                format!(
                    "an extension header (type {:?}) of {} bytes, more than the {MAX_EXTENSION} a cairn archive has: refused (a hostile archive)",
                    raw.kind as char, raw.size
                ),
            ));
        }
        let mut data = vec![0u8; raw.size as usize];
        self.fill(&mut data, "an extension header")?;
        self.skip(pad(raw.size), "an extension header's padding")?;
        match raw.kind {
            b'L' | b'K' => {
                let end = data.iter().position(|c| *c == 0).unwrap_or(data.len());
                data.truncate(end);
                if data.len() > MAX_NAME {
                    return Err(self.malformed(
                        start,
                        format!(
                            "a GNU long name of {} bytes, more than {MAX_NAME}",
                            data.len()
                        ),
                    ));
                }
                if raw.kind == b'L' {
                    pending.name = Some(data);
                } else {
                    pending.link = Some(data);
                }
            }
            _ => self.pax(&data, start, pending)?,
        }
        Ok(())
    }

    /// Applies PAX records to `pending`.
    fn pax(&self, data: &[u8], start: u64, pending: &mut Pending) -> Result<(), ReadError> {
        let records = pax::parse(data).map_err(|e| self.malformed(start, e.to_string()))?;
        for r in records {
            let bad = |what: &str| {
                self.malformed(
                    start,
                    format!(
                        "a PAX {what} record that is not one: {:?}",
                        String::from_utf8_lossy(&r.value[..r.value.len().min(64)])
                    ),
                )
            };
            let number = |v: &[u8]| {
                pax::size(v).ok_or_else(|| bad(std::str::from_utf8(r.key).unwrap_or("?")))
            };
            match r.key {
                b"path" | b"linkpath" if r.value.len() > MAX_NAME => {
                    return Err(self.malformed(
                        start,
                        format!(
                            "a PAX name of {} bytes, more than {MAX_NAME}",
                            r.value.len()
                        ),
                    ))
                }
                b"path" => pending.name = Some(r.value.to_vec()),
                b"linkpath" => pending.link = Some(r.value.to_vec()),
                b"size" => pending.size = Some(number(r.value)?),
                b"uid" => pending.uid = Some(number(r.value)?),
                b"gid" => pending.gid = Some(number(r.value)?),
                b"mtime" => {
                    pending.mtime = Some(pax::seconds(r.value).ok_or_else(|| bad("mtime"))?)
                }
                k if k.starts_with(b"GNU.sparse.") => {
                    return Err(self.malformed(
                        start,
                        "a sparse entry (GNU.sparse records), which cairn never writes",
                    ))
                }
                // atime, ctime, uname, gname, hdrcharset, comment, vendor keys: they
                // change nothing about where the data is, and are not used.
                _ => {}
            }
        }
        Ok(())
    }

    /// The entry a header begins, its extensions applied.
    fn entry(
        &mut self,
        raw: header::Raw,
        start: u64,
        p: Pending,
    ) -> Result<Entry<'_, R>, ReadError> {
        let Some(kind) = Kind::of(raw.kind) else {
            return Err(self.malformed(
                start,
                format!("an entry of type {:?}, which cairn never writes and this reader does not guess at", raw.kind as char),
            ));
        };
        let size = p.size.unwrap_or(raw.size);
        if kind != Kind::Regular && size != 0 {
            return Err(
                self.malformed(start, format!("a {kind:?} entry with {size} bytes of data"))
            );
        }
        let link =
            matches!(kind, Kind::Symlink | Kind::HardLink).then(|| p.link.unwrap_or(raw.link));
        let h = Header {
            name: p.name.unwrap_or(raw.name),
            kind,
            mode: raw.mode,
            uid: p.uid.unwrap_or(raw.uid),
            gid: p.gid.unwrap_or(raw.gid),
            size,
            mtime: p.mtime.unwrap_or(raw.mtime),
            link,
        };
        if h.name.is_empty() {
            return Err(self.malformed(start, "an entry without a name"));
        }
        // GNU tar takes a regular entry named `x/` for a directory and reads no data
        // for it: where the next header is would then be in doubt.
        if kind == Kind::Regular && h.name.ends_with(b"/") {
            return Err(self.malformed(start, "a regular entry whose name ends in '/'"));
        }
        self.left = size;
        self.padding = pad(size);
        Ok(Entry {
            reader: self,
            header: h,
        })
    }

    /// After the end blocks: reads the rest of the input (so that a checksum of it, or
    /// zstd's own, is checked) and returns how many of its bytes were not zero. The
    /// writer writes nothing after the end blocks; GNU tar pads with zeros.
    pub fn finish(mut self) -> Result<(R, u64), ReadError> {
        let mut buf = [0u8; 8192];
        let mut nonzero = 0u64;
        loop {
            match self.inner.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    nonzero += buf[..n].iter().filter(|b| **b != 0).count() as u64;
                    self.at += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok((self.inner, nonzero))
    }
}

/// Zeros after `size` bytes of data, to the next block.
pub fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// One entry: its header, and a reader of its data (what is left unread is skipped
/// when the next entry is asked for).
pub struct Entry<'r, R> {
    reader: &'r mut Reader<R>,
    pub header: Header,
}

impl<R: Read> Entry<'_, R> {
    /// Data bytes not read yet.
    pub fn left(&self) -> u64 {
        self.reader.left
    }
}

impl<R: Read> Read for Entry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.reader.left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.reader.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the archive ends at byte {} of its tar stream, inside an entry's data",
                    self.reader.at
                ),
            ));
        }
        self.reader.left -= n as u64;
        self.reader.at += n as u64;
        Ok(n)
    }
}
