//! Undoing what a collection made even when the collection was cut off: a timeout or
//! Ctrl-C drops the collection's future, and what it held (a node pod, an ephemeral
//! container, an open multipart upload or upload session) is undone from `Drop`. Those
//! undo steps are spawned here, and [`drain`] waits for them, within a bound, before
//! `cairn` exits, so that a Ctrl-C does not kill them half way.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;

static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Runs `undo` in the background; [`drain`] waits for it. Outside a runtime (a
/// destructor running after the runtime ended) nothing can run, and nothing is
/// spawned.
pub fn spawn(undo: impl Future<Output = ()> + Send + 'static) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("a cleanup could not run: no runtime left");
        return;
    };
    let handle = rt.spawn(undo);
    if let Ok(mut p) = PENDING.lock() {
        p.retain(|h| !h.is_finished());
        p.push(handle);
    }
}

/// Waits up to `limit` for every cleanup spawned so far; returns how many had not
/// finished by then (they are left to the cluster's own deadlines: a node pod's
/// `activeDeadlineSeconds`, an ephemeral container's bounded idle time, presigned
/// URLs' expiry).
pub async fn drain(limit: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + limit;
    let mut left = 0;
    loop {
        let batch: Vec<JoinHandle<()>> = match PENDING.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return left,
        };
        if batch.is_empty() {
            return left;
        }
        for h in batch {
            if tokio::time::timeout_at(deadline, h).await.is_err() {
                left += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            let n = self.0.clone();
            spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                n.fetch_add(1, Ordering::SeqCst);
            });
        }
    }

    #[tokio::test]
    async fn cleanups_of_dropped_work_finish_before_drain_returns_and_a_stuck_one_is_counted() {
        let n = Arc::new(AtomicUsize::new(0));
        let held = Guard(n.clone());
        let cut_off = tokio::time::timeout(Duration::from_millis(10), async move {
            let _g = held;
            std::future::pending::<()>().await
        });
        assert!(cut_off.await.is_err());
        assert_eq!(drain(Duration::from_secs(5)).await, 0);
        assert_eq!(n.load(Ordering::SeqCst), 1);
        spawn(std::future::pending());
        assert_eq!(drain(Duration::from_millis(20)).await, 1);
    }
}
