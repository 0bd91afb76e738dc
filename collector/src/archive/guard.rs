//! A guard on a tar stream being read back (`verify`, `cairn report`, `cairn
//! timeline`): the tar crate reads a PAX extension header or a GNU long name or link
//! whole into memory before it yields the entry, and a hostile archive can claim one of
//! gigabytes in a few kilobytes of zstd. [`Guarded`] watches the headers as the bytes
//! pass and fails the read at once on such a header larger than [`MAX_EXTENSION`].
//!
//! Written by hand: no crate bounds these reads, and the tar crate has no hook for it.
//! It follows the stream as tar does: a header, then the entry's data rounded up to
//! 512 bytes, where a PAX header's `size` record overrides the next entry's size.

use std::io::{self, Read};

/// The largest extension header (PAX records, a long name or link) accepted.
pub const MAX_EXTENSION: u64 = 1 << 20;

/// Passes a tar stream through, refusing oversized extension headers.
pub struct Guarded<R> {
    inner: R,
    header: [u8; 512],
    /// Bytes of the current header gathered so far.
    have: usize,
    /// Data bytes (with padding) left before the next header.
    skip: u64,
    /// The PAX records being gathered (bounded by [`MAX_EXTENSION`]), and how many of
    /// their bytes are still to come.
    pax: Option<(Vec<u8>, u64)>,
    /// A size the last PAX header set for the next entry.
    next_size: Option<u64>,
}

impl<R> Guarded<R> {
    pub fn new(inner: R) -> Guarded<R> {
        Guarded {
            inner,
            header: [0; 512],
            have: 0,
            skip: 0,
            pax: None,
            next_size: None,
        }
    }
}

/// The size field of a ustar header: octal, or GNU base-256 when the high bit is set.
fn size_of(h: &[u8; 512]) -> u64 {
    let f = &h[124..136];
    if f[0] & 0x80 != 0 {
        return f[4..].iter().fold(0u64, |n, b| {
            n.saturating_mul(256).saturating_add(u64::from(*b))
        });
    }
    f.iter()
        .skip_while(|b| **b == b' ' || **b == 0)
        .take_while(|b| (b'0'..=b'7').contains(b))
        .fold(0u64, |n, b| {
            n.saturating_mul(8).saturating_add(u64::from(b - b'0'))
        })
}

/// The `size` record of PAX records (`LEN size=N\n`), if any.
fn pax_size(records: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(records);
    text.split('\n')
        .filter_map(|r| r.split_once(' ').map(|(_, kv)| kv))
        .find_map(|kv| kv.strip_prefix("size="))
        .and_then(|v| v.trim().parse().ok())
}

impl<R> Guarded<R> {
    fn observe(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.skip > 0 {
                let k = (self.skip.min(data.len() as u64)) as usize;
                if let Some((buf, left)) = &mut self.pax {
                    let take = (*left).min(k as u64) as usize;
                    buf.extend_from_slice(&data[..take]);
                    *left -= take as u64;
                    if *left == 0 {
                        self.next_size = pax_size(buf);
                        self.pax = None;
                    }
                }
                self.skip -= k as u64;
                data = &data[k..];
                continue;
            }
            let k = (512 - self.have).min(data.len());
            self.header[self.have..self.have + k].copy_from_slice(&data[..k]);
            self.have += k;
            data = &data[k..];
            if self.have < 512 {
                continue;
            }
            self.have = 0;
            if self.header.iter().all(|b| *b == 0) {
                continue;
            }
            let kind = self.header[156];
            let mut size = size_of(&self.header);
            let extension = matches!(kind, b'x' | b'g' | b'L' | b'K');
            if extension {
                if size > MAX_EXTENSION {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "an extension header (type {:?}) of {size} bytes, more than the {MAX_EXTENSION} a cairn archive has: refused (a hostile archive)",
                            kind as char
                        ),
                    ));
                }
                if kind == b'x' {
                    self.pax = (size > 0).then(|| (Vec::with_capacity(size as usize), size));
                }
            } else if let Some(s) = self.next_size.take() {
                size = s;
            }
            self.skip = size.div_ceil(512).saturating_mul(512);
        }
        Ok(())
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, kind: u8, size: u64) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    fn read_all(bytes: &[u8]) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut ar = tar::Archive::new(Guarded::new(bytes));
        for e in ar.entries()? {
            names.push(String::from_utf8_lossy(&e?.path_bytes()).into_owned());
        }
        Ok(names)
    }

    #[test]
    fn an_archive_as_cairn_writes_it_passes_whole() {
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("files/{}/x", "d".repeat(300));
        for (name, data) in [("a.txt", &b"hello"[..]), (long.as_str(), &[7u8; 3000][..])] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        assert_eq!(read_all(&bytes).unwrap(), ["a.txt".to_owned(), long]);
    }

    #[test]
    fn an_oversized_pax_header_or_long_name_is_refused_before_it_is_read() {
        for kind in [b'x', b'L', b'K', b'g'] {
            let mut bytes = header("././@x", kind, 8 << 30);
            bytes.extend(vec![0u8; 4096]);
            let e = read_all(&bytes).unwrap_err();
            assert!(e.to_string().contains("extension header"), "{e}");
        }
    }

    #[test]
    fn a_pax_size_that_would_hide_a_later_header_is_followed() {
        // The PAX record says the next entry holds nothing though its header says 1024
        // bytes: tar reads the next header right after it, and so must the guard, or
        // the oversized long name hidden there would pass as data.
        let records = b"10 size=0\n";
        let mut bytes = header("pax", b'x', records.len() as u64);
        let mut block = records.to_vec();
        block.resize(512, 0);
        bytes.extend(block);
        bytes.extend(header("big", b'0', 1024));
        bytes.extend(header("././@LongLink", b'L', 8 << 30));
        bytes.extend(vec![0u8; 4096]);
        let e = read_all(&bytes).unwrap_err();
        assert!(e.to_string().contains("extension header"), "{e}");
    }
}
