//! sha256 of what is read from a file or any reader, in bounded chunks: the one loop
//! that hashes files in place (the `hash` collector, executables, drift, the
//! collector's own binary).

use sha2::{Digest, Sha256};
use std::io::{self, Read};

/// What [`sha256_of`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// Lowercase hex; of the bytes read, which stop at `limit`.
    pub sha256: String,
    pub bytes: u64,
    /// More than `limit` bytes were there: the hash is of the first `limit` only.
    pub over_limit: bool,
}

/// Hashes `r` to its end or to `limit` bytes, whichever comes first, with `buf` as the
/// read buffer. Interrupted reads are retried.
pub fn sha256_of(r: &mut dyn Read, limit: u64, buf: &mut [u8]) -> io::Result<Hashed> {
    let mut h = Sha256::new();
    let mut bytes = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let take = (n as u64).min(limit - bytes) as usize;
        h.update(&buf[..take]);
        bytes += take as u64;
        if take < n || (bytes == limit && probe_more(r)?) {
            return Ok(Hashed {
                sha256: hex::encode(h.finalize()),
                bytes,
                over_limit: true,
            });
        }
    }
    Ok(Hashed {
        sha256: hex::encode(h.finalize()),
        bytes,
        over_limit: false,
    })
}

/// True when `r` has at least one more byte.
fn probe_more(r: &mut dyn Read) -> io::Result<bool> {
    let mut one = [0u8; 1];
    loop {
        match r.read(&mut one) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// sha256 of everything `r` holds.
pub fn sha256_all(r: &mut dyn Read) -> io::Result<String> {
    let mut buf = vec![0u8; 64 << 10];
    sha256_of(r, u64::MAX, &mut buf).map(|h| h.sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_whole_or_up_to_a_limit_and_says_which() {
        let data = b"hello world";
        let mut buf = [0u8; 4];
        let all = sha256_of(&mut &data[..], 100, &mut buf).unwrap();
        assert_eq!(
            all.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!((all.bytes, all.over_limit), (11, false));
        let exact = sha256_of(&mut &data[..], 11, &mut buf).unwrap();
        assert_eq!((exact.bytes, exact.over_limit), (11, false));
        assert_eq!(exact.sha256, all.sha256);
        let cut = sha256_of(&mut &data[..], 5, &mut buf).unwrap();
        assert_eq!((cut.bytes, cut.over_limit), (5, true));
        assert_eq!(sha256_all(&mut &data[..]).unwrap(), all.sha256);
    }
}
