//! Parts in flight: upload threads take the archive's parts as they fill, several at
//! once where the protocol allows parts in any order (S3 multipart, Azure blocks), one
//! at a time where it does not (a GCS resumable session). Memory stays bounded: a part's
//! bytes are dropped only once every part before it is uploaded too, and the producer
//! waits while `window` parts are held, so after a failure every byte past the uploaded
//! prefix is still here for the fallback.

use super::http::Http;
use super::{Protocol, Receipt, UploadError};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Bytes of parts held in memory at once, the one being filled included, when the
/// protocol takes parts in any order. With 8 MiB parts that is two uploading while the
/// third fills, with 5 MiB parts three (and a fourth filling); 16 MiB parts go one at
/// a time. Peak RSS stays under 64 MiB (measured by `bench/upload.sh`).
pub const PARTS_IN_MEMORY: u64 = 24 << 20;
/// Most upload threads.
pub const MAX_THREADS: usize = 4;

/// One part of the archive.
pub struct Part {
    pub index: u32,
    /// Where the part starts in the archive.
    pub offset: u64,
    pub data: Vec<u8>,
    pub last: bool,
}

/// How the parts went, once all threads have stopped.
pub enum Outcome {
    /// Every part was uploaded; receipts in part order.
    Done {
        receipts: Vec<Receipt>,
        /// The last part, kept in case committing the object fails.
        last: Option<Part>,
    },
    /// A part failed (or the destination refused more parts). Parts before `rest`
    /// were uploaded: `prefix` holds their receipts and `prefix_bytes` their length;
    /// `rest` holds, in order, the bytes of every part after them.
    Failed {
        error: UploadError,
        prefix: Vec<Receipt>,
        prefix_bytes: u64,
        rest: Vec<Part>,
    },
    /// The threads stopped without the last part and without an error: the archive
    /// was abandoned (the collection itself failed).
    Abandoned,
}

#[derive(Default)]
struct State {
    /// Parts waiting for a thread.
    queue: VecDeque<Part>,
    in_flight: usize,
    /// Receipts of parts 0..prefix.len(), all uploaded; their bytes are dropped.
    prefix: Vec<Receipt>,
    prefix_bytes: u64,
    /// Parts uploaded after a part that is not (yet): kept until the gap closes.
    done: BTreeMap<u32, (Receipt, Part)>,
    /// Parts that failed; the first error.
    failed: BTreeMap<u32, Part>,
    error: Option<UploadError>,
    last: Option<Part>,
    finished: bool,
    closed: bool,
}

impl State {
    fn held(&self) -> usize {
        self.queue.len() + self.in_flight + self.done.len()
    }

    /// Moves uploaded parts that now follow the prefix into it.
    fn advance(&mut self) {
        while let Some((receipt, part)) = self.done.remove(&(self.prefix.len() as u32)) {
            self.prefix.push(receipt);
            self.prefix_bytes += part.data.len() as u64;
            if part.last {
                self.finished = true;
                self.last = Some(part);
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A thread that panicked holding the lock leaves consistent-enough state: the
        // worst case is a failed upload, which the fallback covers.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The upload threads and the parts they share.
pub struct Pipeline {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    window: usize,
}

/// How many parts may be held besides the one being filled.
pub fn window(proto: &dyn Protocol, part_size: u64) -> usize {
    if !proto.concurrent() {
        return 1;
    }
    let parts = (PARTS_IN_MEMORY / part_size.max(1)) as usize;
    parts.saturating_sub(1).clamp(1, MAX_THREADS)
}

impl Pipeline {
    pub fn start(
        proto: Arc<dyn Protocol>,
        http: Arc<Http>,
        part_size: u64,
    ) -> Result<Pipeline, UploadError> {
        let window = window(proto.as_ref(), part_size);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        });
        let mut threads = Vec::new();
        for i in 0..window {
            let (s, p, h) = (shared.clone(), proto.clone(), http.clone());
            let t = std::thread::Builder::new()
                .name(format!("cairn-upload-{i}"))
                .spawn(move || work(&s, p.as_ref(), &h))
                .map_err(|e| UploadError::Config(format!("cannot start an upload thread: {e}")))?;
            threads.push(t);
        }
        Ok(Pipeline {
            shared,
            threads,
            window,
        })
    }

    /// Parts held at most besides the one being filled.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Queues a part, waiting while `window` parts are held. After a failure the part
    /// comes back: it goes to the fallback with the rest.
    pub fn push(&self, part: Part) -> Result<(), Part> {
        let mut s = self.shared.lock();
        while s.error.is_none() && s.held() >= self.window {
            s = self.shared.cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if s.error.is_some() {
            return Err(part);
        }
        s.queue.push_back(part);
        self.shared.cv.notify_all();
        Ok(())
    }

    /// Waits for the threads to stop and says how the parts went.
    pub fn close(mut self) -> Outcome {
        self.stop()
    }

    fn stop(&mut self) -> Outcome {
        {
            let mut s = self.shared.lock();
            s.closed = true;
            self.shared.cv.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let mut s = self.shared.lock();
        let s = &mut *s;
        if let Some(error) = s.error.take() {
            let mut rest: BTreeMap<u32, Part> = std::mem::take(&mut s.failed);
            rest.extend(
                std::mem::take(&mut s.done)
                    .into_iter()
                    .map(|(i, (_, p))| (i, p)),
            );
            rest.extend(s.queue.drain(..).map(|p| (p.index, p)));
            return Outcome::Failed {
                error,
                prefix: std::mem::take(&mut s.prefix),
                prefix_bytes: s.prefix_bytes,
                rest: rest.into_values().collect(),
            };
        }
        if s.finished {
            return Outcome::Done {
                receipts: std::mem::take(&mut s.prefix),
                last: s.last.take(),
            };
        }
        Outcome::Abandoned
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            {
                let mut s = self.shared.lock();
                s.queue.clear();
            }
            self.stop();
        }
    }
}

/// One upload thread: takes parts until the last one is queued and the queue is empty,
/// or until any part fails.
fn work(shared: &Shared, proto: &dyn Protocol, http: &Http) {
    let mut s = shared.lock();
    loop {
        if s.error.is_some() {
            return;
        }
        let Some(p) = s.queue.pop_front() else {
            if s.closed {
                return;
            }
            s = shared.cv.wait(s).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        s.in_flight += 1;
        drop(s);
        let too_many = proto
            .max_parts()
            .is_some_and(|max| p.index >= max && !(p.last && p.data.is_empty()));
        let res = if too_many {
            Err(UploadError::Config(format!(
                "the destination takes at most {} parts; the archive needs more",
                proto.max_parts().unwrap_or(0)
            )))
        } else {
            proto.part(http, p.index, p.offset, &p.data, p.last)
        };
        s = shared.lock();
        s.in_flight -= 1;
        match res {
            Ok(receipt) => {
                s.done.insert(p.index, (receipt, p));
                s.advance();
            }
            Err(e) => {
                if s.error.is_none() {
                    s.error = Some(e);
                }
                s.failed.insert(p.index, p);
            }
        }
        shared.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{http::HttpConfig, Events};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Takes parts in any order, slowly, failing the part numbered `fail`.
    struct Slow {
        fail: Option<u32>,
        running: AtomicUsize,
        most: AtomicUsize,
    }

    impl Protocol for Slow {
        fn concurrent(&self) -> bool {
            true
        }
        fn part(
            &self,
            _http: &Http,
            index: u32,
            _offset: u64,
            _data: &[u8],
            _last: bool,
        ) -> Result<Receipt, UploadError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            // Later parts finish first, so completions come out of order.
            std::thread::sleep(Duration::from_millis(40 - (index as u64 % 4) * 10));
            self.running.fetch_sub(1, Ordering::SeqCst);
            if Some(index) == self.fail {
                return Err(UploadError::Config(format!("part {index} refused")));
            }
            Ok(Some(format!("etag-{index}")))
        }
    }

    fn run(fail: Option<u32>, n: u32) -> (Outcome, usize, Vec<u32>) {
        let proto = Arc::new(Slow {
            fail,
            running: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        });
        let http = Arc::new(Http::new(HttpConfig::default(), Events::default()).unwrap());
        let p = Pipeline::start(proto.clone(), http, 8 << 20).unwrap();
        assert_eq!(p.window(), 2);
        let mut returned = Vec::new();
        for i in 0..n {
            let part = Part {
                index: i,
                offset: i as u64 * 10,
                data: vec![i as u8; 10],
                last: i == n - 1,
            };
            if let Err(back) = p.push(part) {
                returned.push(back.index);
            }
        }
        (p.close(), proto.most.load(Ordering::SeqCst), returned)
    }

    #[test]
    fn parts_upload_in_parallel_and_receipts_come_back_in_order() {
        let (out, most, returned) = run(None, 12);
        assert!(returned.is_empty());
        assert!(most == 2, "{most} parts at once");
        let Outcome::Done { receipts, last } = out else {
            panic!("not done")
        };
        let want: Vec<Receipt> = (0..12).map(|i| Some(format!("etag-{i}"))).collect();
        assert_eq!(receipts, want);
        assert_eq!(last.map(|p| p.index), Some(11));
    }

    #[test]
    fn after_a_failure_every_byte_past_the_prefix_is_handed_back_in_order() {
        let (out, _, returned) = run(Some(5), 12);
        let Outcome::Failed {
            error,
            prefix,
            prefix_bytes,
            rest,
        } = out
        else {
            panic!("not failed")
        };
        assert!(error.to_string().contains("part 5 refused"));
        assert_eq!(prefix.len(), 5);
        assert_eq!(prefix_bytes, 50);
        // The fallback gets parts 5.. without a gap: those the pipeline held plus
        // those pushed after the failure.
        let mut all: Vec<u32> = rest.iter().map(|p| p.index).collect();
        all.extend(returned);
        assert_eq!(all, (5..12).collect::<Vec<_>>());
        assert!(rest.iter().all(|p| p.data == vec![p.index as u8; 10]));
    }
}
