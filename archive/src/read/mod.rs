//! Reading an archive back: [`tar`] is the one tar reader (strict, bounded), [`lines`]
//! reads a member's lines and JSON records within byte budgets, and [`open`] and
//! [`members`] give one pass over a `.tar.zst` file, entry by entry, in the order they
//! were written, so that a large archive is read once and never held in memory.
//!
//! An archive holds what a hostile target gave: nothing in it is trusted to be well
//! formed, every read is bounded, and a name shown to a person is cut ([`shown`]).

pub mod lines;
pub mod tar;

pub use self::tar::{Entry, Header, Kind, ReadError, Reader, MAX_EXTENSION, MAX_NAME};

use std::io::{self, BufReader, Read};
use std::path::Path;

/// The first bytes of every zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The most bytes of a name quoted in a message.
pub const SHOWN: usize = 200;

/// A name as a message quotes it: lossy UTF-8, cut to [`SHOWN`] bytes with its length
/// said when longer (a hostile name can be 256 KiB; a list of them is not repeated
/// whole). Terminal escaping is the printer's (`cairn_protocol::escape::terminal`).
pub fn shown(name: &[u8]) -> String {
    if name.len() <= SHOWN {
        return String::from_utf8_lossy(name).into_owned();
    }
    let mut cut = SHOWN;
    while cut > 0 && (name[cut] & 0xc0) == 0x80 {
        cut -= 1;
    }
    format!(
        "{}… ({} bytes)",
        String::from_utf8_lossy(&name[..cut]),
        name.len()
    )
}

/// The decompressed tar stream of an archive file.
pub type Stream = zstd::stream::read::Decoder<'static, BufReader<std::fs::File>>;

/// Opens a `.tar.zst` file for reading entry by entry.
pub fn open(path: &Path) -> io::Result<Reader<Stream>> {
    let file = std::fs::File::open(path)?;
    let z = zstd::stream::read::Decoder::new(file)
        .map_err(|e| io::Error::new(e.kind(), format!("not zstd: {e}")))?;
    Ok(Reader::new(z))
}

/// Calls `f` with each entry of the archive at `path` (its header, and a reader of its
/// data: what `f` leaves unread is skipped), to the end blocks.
pub fn members<E>(
    path: &Path,
    mut f: impl FnMut(&mut Entry<'_, Stream>) -> Result<(), E>,
) -> Result<(), MembersError<E>> {
    let mut r = open(path).map_err(|e| MembersError::Read(e.into()))?;
    while let Some(mut e) = r.next_entry().map_err(MembersError::Read)? {
        f(&mut e).map_err(MembersError::Caller)?;
    }
    r.finish().map_err(MembersError::Read)?;
    Ok(())
}

/// Why [`members`] stopped: the archive, or the caller.
#[derive(Debug, thiserror::Error)]
pub enum MembersError<E> {
    #[error("{0}")]
    Read(ReadError),
    #[error("{0}")]
    Caller(E),
}

/// Reads what is left of `r` without keeping it.
pub fn drain(r: &mut dyn Read) -> io::Result<u64> {
    io::copy(r, &mut io::sink())
}
