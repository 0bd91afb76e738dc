//! One pass over an archive (tar in zstd): each member's name and a bounded reader of
//! its bytes, in the order they were written, so that a large archive is read once and
//! never held in memory; and bounded lines of a member.

use anyhow::Context;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The longest line read from a member; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 1 << 20;

/// Calls `f` with each member's name (lossy UTF-8) and a reader of at most `limit`
/// bytes of it; what `f` leaves unread is skipped.
pub fn members(
    path: &Path,
    limit: u64,
    mut f: impl FnMut(&str, &mut dyn BufRead) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let z = zstd::Decoder::new(file).with_context(|| format!("{}: not zstd", path.display()))?;
    // Extension headers are bounded before the tar crate reads them whole.
    let mut tar = tar::Archive::new(cairn_collector::archive::guard::Guarded::new(z));
    let entries = tar
        .entries()
        .with_context(|| format!("reading {}", path.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("{}: damaged or cut off", path.display()))?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut r = BufReader::new(e.take(limit));
        f(&name, &mut r)?;
    }
    Ok(())
}

/// Calls `f` with each line of `r` (without its newline), each at most [`MAX_LINE`]
/// bytes; returns how many lines were longer and cut.
pub fn lines(r: &mut dyn BufRead, mut f: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut buf = Vec::new();
    let mut cut = 0;
    loop {
        buf.clear();
        let n = (&mut *r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(cut);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE {
            // Skip to the end of the long line.
            cut += 1;
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let m = (&mut *r).take(1 << 16).read_until(b'\n', &mut rest)?;
                if m == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            continue;
        }
        f(&buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_claiming_a_huge_extension_header_is_refused_not_read() {
        let mut h = tar::Header::new_ustar();
        h.set_path("././@PaxHeader").unwrap();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(8 << 30);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend(vec![0u8; 1 << 20]);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.tar.zst");
        std::fs::write(&p, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
        let e = members(&p, u64::MAX, |_, _| Ok(())).unwrap_err();
        assert!(format!("{e:#}").contains("extension header"), "{e:#}");
    }

    #[test]
    fn lines_longer_than_the_bound_are_skipped_whole_and_counted() {
        let mut text = b"one\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        text.extend(b"\ntwo\nthree");
        let mut seen = Vec::new();
        let cut = lines(&mut &text[..], |l| {
            seen.push(String::from_utf8_lossy(l).into_owned())
        })
        .unwrap();
        assert_eq!(seen, ["one", "two", "three"]);
        assert_eq!(cut, 1);
    }
}
