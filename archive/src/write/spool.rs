//! An append-only byte buffer kept zstd-compressed in memory, for outputs whose size
//! must be known before their tar header is written (manifest, log, find lists).
//! JSON lines compress about tenfold, which keeps the collector's memory small on huge trees.

use std::io::{Read, Write};

/// A compressed in-memory buffer.
pub struct Spool {
    enc: Option<zstd::stream::write::Encoder<'static, Vec<u8>>>,
    sealed: Vec<u8>,
    raw_len: u64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("raw_len", &self.raw_len)
            .finish()
    }
}

impl Default for Spool {
    fn default() -> Self {
        Spool::new()
    }
}

impl Spool {
    pub fn new() -> Spool {
        Spool {
            enc: zstd::stream::write::Encoder::new(Vec::new(), 1).ok(),
            sealed: Vec::new(),
            raw_len: 0,
        }
    }

    /// Appends bytes. Writes into a `Vec` cannot fail short of memory exhaustion.
    pub fn push(&mut self, data: &[u8]) {
        if self.enc.is_none() {
            self.unseal();
        }
        if let Some(enc) = self.enc.as_mut() {
            if enc.write_all(data).is_ok() {
                self.raw_len += data.len() as u64;
            }
        }
    }

    /// Uncompressed length so far.
    pub fn len(&self) -> u64 {
        self.raw_len
    }

    /// Approximate bytes held in memory (compressed, excluding the encoder's buffers).
    pub fn compressed_len(&self) -> usize {
        self.sealed.len() + self.enc.as_ref().map(|e| e.get_ref().len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.raw_len == 0
    }

    fn seal(&mut self) {
        if let Some(enc) = self.enc.take() {
            if let Ok(frame) = enc.finish() {
                self.sealed.extend_from_slice(&frame);
            }
        }
    }

    fn unseal(&mut self) {
        // Appending after reading starts a new zstd frame; frames concatenate.
        self.enc = zstd::stream::write::Encoder::new(Vec::new(), 1).ok();
    }

    /// A reader over everything pushed so far.
    pub fn reader(&mut self) -> std::io::Result<impl Read + '_> {
        self.seal();
        zstd::stream::read::Decoder::with_buffer(&self.sealed[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_append_after_read() {
        let mut s = Spool::new();
        s.push(b"hello ");
        let mut out = String::new();
        s.reader().unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello ");
        s.push(b"world");
        assert_eq!(s.len(), 11);
        let mut out = String::new();
        s.reader().unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
    }
}
