//! One collector pod per node, shared by every target collected on that node: the
//! first target to need it starts it, each target holds a lease while its collection
//! runs (one exec each, beside the others), and the last lease out deletes the pod.
//! The plan says beforehand how many targets will come to each pod ([`Pool::expect`]),
//! so a pod is not deleted while a target of its node still waits for a slot; a pod
//! that could not start fails every target of its node with the same sentence, once.
//! Whatever is left when the pool goes (a run cut off) is deleted then.

use super::pod::{Guard, Started};
use crate::route::Cleanup;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// A pod once started, or why it could not be.
type Cell = Arc<OnceCell<Result<Arc<Pod>, String>>>;

/// A started pod as the leases share it; the guard is taken by the last one out.
pub struct Pod {
    pub name: String,
    pub uid: String,
    guard: Mutex<Option<Guard>>,
}

struct Slot {
    cell: Cell,
    /// Targets still to come to this pod or in it.
    users: usize,
    /// Targets it serves in all.
    targets: usize,
}

type Slots = Arc<Mutex<HashMap<String, Slot>>>;

/// The collector pods of one run, by key (node and runtime, or a target of its own).
#[derive(Default)]
pub struct Pool {
    slots: Slots,
}

fn lock(slots: &Slots) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
    slots.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    /// One more target will come to the pod `key`.
    pub fn expect(&self, key: &str) {
        let mut s = lock(&self.slots);
        let slot = s.entry(key.to_owned()).or_insert_with(Slot::new);
        slot.users += 1;
        slot.targets += 1;
    }

    /// A lease on the pod `key`, which `start` starts (given how many targets it
    /// serves) unless it runs already; the lease ends, and the last one deletes the
    /// pod, when run as a cleanup or dropped.
    pub async fn lease<F, Fut>(&self, key: &str, start: F) -> Result<Lease, String>
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Started, String>>,
    {
        let (cell, targets) = {
            let mut s = lock(&self.slots);
            // A target the plan did not announce (or one after its pod was deleted)
            // gets a pod for itself.
            let slot = s.entry(key.to_owned()).or_insert_with(|| {
                let mut slot = Slot::new();
                slot.users = 1;
                slot.targets = 1;
                slot
            });
            (slot.cell.clone(), slot.targets)
        };
        // Taken before waiting, so that a target cut off while the pod starts still
        // leaves, and the pod goes with the last one.
        let mut lease = Lease {
            slots: self.slots.clone(),
            key: key.to_owned(),
            pod: None,
            left: false,
        };
        let got = cell
            .get_or_init(|| async move {
                start(targets).await.map(|s| {
                    Arc::new(Pod {
                        name: s.name,
                        uid: s.uid,
                        guard: Mutex::new(Some(s.guard)),
                    })
                })
            })
            .await
            .clone()?;
        lease.pod = Some(got);
        Ok(lease)
    }
}

impl Slot {
    fn new() -> Slot {
        Slot {
            cell: Arc::new(OnceCell::new()),
            users: 0,
            targets: 0,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let left: Vec<Slot> = lock(&self.slots).drain().map(|(_, s)| s).collect();
        for s in left {
            // Dropping the guard deletes the pod (crate::janitor).
            drop(take_guard(&s.cell));
        }
    }
}

fn take_guard(cell: &Cell) -> Option<Guard> {
    let pod = cell.get()?.as_ref().ok()?;
    pod.guard.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// One target's use of a pod.
pub struct Lease {
    slots: Slots,
    key: String,
    pod: Option<Arc<Pod>>,
    left: bool,
}

impl Lease {
    pub fn pod(&self) -> Option<&Pod> {
        self.pod.as_deref()
    }

    /// Leaves; the pod's guard when this was the last lease on it.
    fn leave(&mut self) -> Option<Guard> {
        if std::mem::replace(&mut self.left, true) {
            return None;
        }
        let mut s = lock(&self.slots);
        let slot = s.get_mut(&self.key)?;
        slot.users = slot.users.saturating_sub(1);
        if slot.users > 0 {
            return None;
        }
        let slot = s.remove(&self.key)?;
        take_guard(&slot.cell)
    }
}

impl Cleanup for Lease {
    fn run(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        match self.leave() {
            Some(g) => Box::new(g).run(),
            None => Box::pin(async {}),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.leave());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn started(n: usize) -> Started {
        Started {
            name: format!("pod-{n}"),
            uid: format!("uid-{n}"),
            guard: Guard::inert("pod"),
        }
    }

    #[tokio::test]
    async fn the_targets_of_a_node_share_one_pod_until_the_last_leaves() {
        let pool = Pool::default();
        for _ in 0..3 {
            pool.expect("n1");
        }
        pool.expect("n2");
        let starts = AtomicUsize::new(0);
        let start = |targets: usize| {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            async move {
                assert_eq!(targets, 3, "the pod is told how many targets it serves");
                Ok(started(n))
            }
        };
        let a = pool.lease("n1", start).await.unwrap();
        let b = pool.lease("n1", start).await.unwrap();
        assert_eq!(starts.load(Ordering::SeqCst), 1, "one pod for the node");
        assert_eq!(a.pod().unwrap().name, b.pod().unwrap().name);
        drop(a);
        Box::new(b).run().await;
        // The third target of n1 is still to come: the pod stays.
        let c = pool.lease("n1", start).await.unwrap();
        assert_eq!(c.pod().unwrap().name, "pod-0");
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        drop(c);
        assert!(
            !lock(&pool.slots).contains_key("n1"),
            "the last one out deletes it"
        );
        // A target nobody announced gets a pod for itself.
        let d = pool
            .lease("n1", |targets| async move {
                assert_eq!(targets, 1);
                Ok(started(9))
            })
            .await
            .unwrap();
        assert_eq!(d.pod().unwrap().name, "pod-9");
        assert!(
            lock(&pool.slots).contains_key("n2"),
            "n2's target has not come yet"
        );
    }

    #[tokio::test]
    async fn a_pod_that_cannot_start_fails_every_target_of_its_node_once() {
        let pool = Pool::default();
        pool.expect("n1");
        pool.expect("n1");
        let starts = AtomicUsize::new(0);
        let start = |_| {
            starts.fetch_add(1, Ordering::SeqCst);
            async { Err::<Started, _>("ErrImagePull".to_owned()) }
        };
        assert_eq!(pool.lease("n1", start).await.err().unwrap(), "ErrImagePull");
        assert_eq!(pool.lease("n1", start).await.err().unwrap(), "ErrImagePull");
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        assert!(!lock(&pool.slots).contains_key("n1"));
    }

    #[tokio::test]
    async fn a_start_cut_off_is_tried_again_by_the_next_target() {
        let pool = Pool::default();
        pool.expect("n1");
        pool.expect("n1");
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            pool.lease("n1", |_| async {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                Ok(started(0))
            }),
        )
        .await;
        assert!(cut.is_err());
        let next = pool
            .lease("n1", |_| async { Ok(started(1)) })
            .await
            .unwrap();
        assert_eq!(next.pod().unwrap().name, "pod-1");
    }
}
