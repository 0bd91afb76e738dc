//! sha256 on a second thread, for big members: the writer's thread reads the source and
//! feeds the compressor while this thread hashes the same chunks, so a member of a
//! gigabyte (a core file, a big log) costs the longer of the two rather than their sum.
//! sha256 runs at about 1.8 GB/s per core with SHA-NI, which on its own is the
//! writer's bound; small members are hashed inline, where a thread would cost more than
//! it saves.
//!
//! Chunks travel as `Arc<Vec<u8>>`: the writer keeps one reference while it writes the
//! chunk into the archive, the hasher the other while it hashes, and the hasher sends
//! it back so that a small pool of buffers ([`POOL`]) is reused for the whole member.

use sha2::{Digest, Sha256};
use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};

/// Members of at least this many bytes are hashed on a second thread.
pub const THREAD_MIN: u64 = 4 << 20;
/// Chunks in flight (each of the writer's chunk size): bounds the memory to
/// `POOL` x the chunk size.
const POOL: usize = 4;

/// The writer's side of the hashing thread.
pub struct HashThread<'scope> {
    to: Option<SyncSender<Arc<Vec<u8>>>>,
    back: Receiver<Arc<Vec<u8>>>,
    made: usize,
    spare: Option<Vec<u8>>,
    chunk: usize,
    handle: ScopedJoinHandle<'scope, Sha256>,
}

impl<'scope> HashThread<'scope> {
    /// Starts the hasher in `scope`; chunks are `chunk` bytes.
    pub fn start<'env>(scope: &'scope Scope<'scope, 'env>, chunk: usize) -> HashThread<'scope> {
        let (to, rx) = mpsc::sync_channel::<Arc<Vec<u8>>>(POOL);
        let (back_tx, back) = mpsc::sync_channel::<Arc<Vec<u8>>>(POOL);
        let handle = scope.spawn(move || {
            let mut h = Sha256::new();
            for c in rx {
                h.update(&c[..]);
                // The writer may have stopped listening (an error): the hash goes on.
                let _ = back_tx.send(c);
            }
            h
        });
        HashThread {
            to: Some(to),
            back,
            made: 0,
            spare: None,
            chunk,
            handle,
        }
    }

    /// A buffer to fill: a new one while the pool grows, then one the hasher is done
    /// with.
    pub fn buffer(&mut self) -> Vec<u8> {
        if let Some(b) = self.spare.take() {
            return b;
        }
        if self.made < POOL {
            self.made += 1;
            return vec![0u8; self.chunk];
        }
        match self.back.recv().map(Arc::try_unwrap) {
            Ok(Ok(mut v)) => {
                v.resize(self.chunk, 0);
                v
            }
            // The hasher ended (it cannot, while `to` is open) or still shares the
            // chunk: a fresh buffer keeps the writer going.
            _ => vec![0u8; self.chunk],
        }
    }

    /// Hands the first `len` bytes of `buf` to the hasher; returns the shared chunk
    /// for the writer to write.
    pub fn hash(&mut self, mut buf: Vec<u8>, len: usize) -> Arc<Vec<u8>> {
        buf.truncate(len);
        let chunk = Arc::new(buf);
        if let Some(to) = &self.to {
            // The hasher only ends when `to` is dropped, so a send cannot fail.
            let _ = to.send(Arc::clone(&chunk));
        }
        chunk
    }

    /// Keeps a buffer that was not filled, for the next [`HashThread::buffer`].
    pub fn keep(&mut self, buf: Vec<u8>) {
        self.spare = Some(buf);
    }

    /// Waits for the hasher to hash every chunk; returns the digest.
    pub fn finish(mut self) -> io::Result<Sha256> {
        self.to = None;
        // The returned buffers are drained until the hasher ends and drops its sender.
        while self.back.recv().is_ok() {}
        self.handle
            .join()
            .map_err(|_| io::Error::other("the hashing thread failed"))
    }
}
