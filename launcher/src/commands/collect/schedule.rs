//! Which targets run when: at most `total` at once (`--concurrency`) and at most
//! `per_node` on one node (`--per-node`), so that one node's kubelet, which every exec
//! and ephemeral container of its pods goes through, is not flooded while another's is
//! idle. Nodes take turns: the next target comes from the next node that has room, so
//! a node with many targets does not take every slot, and a slot never waits for a
//! busy node while another node has a target waiting.

use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;

/// Runs `run` over `items` within the caps (`per_node` `None`: only `total`), in
/// turns across the nodes `node_of` gives (`None`: a node of its own); `done` gets each
/// result as it ends.
pub async fn run_capped<T, O, Fut>(
    items: Vec<T>,
    node_of: impl Fn(&T) -> Option<String>,
    total: usize,
    per_node: Option<usize>,
    run: impl Fn(T) -> Fut,
    mut done: impl FnMut(O),
) where
    Fut: Future<Output = O>,
{
    let cap = per_node.unwrap_or(usize::MAX).max(1);
    let mut queues = Queues::default();
    for (i, item) in items.into_iter().enumerate() {
        // A target whose node is unknown is capped by `total` only.
        let node = node_of(&item).unwrap_or_else(|| format!("\0{i}"));
        queues.waiting.entry(node).or_default().push_back(item);
    }
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < total.max(1) {
            let Some((node, item)) = queues.next(cap) else {
                break;
            };
            let fut = run(item);
            running.push(async move { (node, fut.await) });
        }
        match running.next().await {
            Some((node, o)) => {
                queues.ended(&node);
                done(o);
            }
            None => break,
        }
    }
}

/// The targets waiting, by node, and how many run on each.
struct Queues<T> {
    waiting: BTreeMap<String, VecDeque<T>>,
    running: BTreeMap<String, usize>,
    /// The node the last target came from: the next comes from a later one.
    last: Option<String>,
}

impl<T> Default for Queues<T> {
    fn default() -> Self {
        Queues {
            waiting: BTreeMap::new(),
            running: BTreeMap::new(),
            last: None,
        }
    }
}

impl<T> Queues<T> {
    /// The next target to start: from the first node after the last one that has one
    /// waiting and fewer than `cap` running.
    fn next(&mut self, cap: usize) -> Option<(String, T)> {
        let nodes: Vec<&String> = self.waiting.keys().collect();
        let from = self
            .last
            .as_ref()
            .and_then(|l| nodes.iter().position(|n| *n > l))
            .unwrap_or(0);
        let node = (0..nodes.len())
            .map(|i| nodes[(from + i) % nodes.len()])
            .find(|n| self.running.get(*n).copied().unwrap_or(0) < cap)?
            .clone();
        let queue = self.waiting.get_mut(&node)?;
        let item = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(&node);
        }
        *self.running.entry(node.clone()).or_default() += 1;
        self.last = Some(node.clone());
        Some((node, item))
    }

    fn ended(&mut self, node: &str) {
        if let Some(n) = self.running.get_mut(node) {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Runs `items` (node, milliseconds) under the caps; the most that ran at once in
    /// all and on each node, and the order they started in.
    async fn trace(
        items: Vec<(Option<&'static str>, u64)>,
        total: usize,
        per_node: Option<usize>,
    ) -> (usize, BTreeMap<String, usize>, Vec<usize>, usize) {
        #[derive(Default)]
        struct Seen {
            now: usize,
            most: usize,
            on: BTreeMap<String, usize>,
            most_on: BTreeMap<String, usize>,
            order: Vec<usize>,
        }
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut ended = 0;
        let indexed: Vec<(usize, Option<&str>, u64)> = items
            .into_iter()
            .enumerate()
            .map(|(i, (n, ms))| (i, n, ms))
            .collect();
        run_capped(
            indexed,
            |(_, n, _)| n.map(str::to_owned),
            total,
            per_node,
            |(i, n, ms)| {
                let seen = Arc::clone(&seen);
                async move {
                    let key = n.unwrap_or("?").to_owned();
                    {
                        let mut s = seen.lock().unwrap();
                        s.now += 1;
                        s.most = s.most.max(s.now);
                        let on = {
                            let e = s.on.entry(key.clone()).or_default();
                            *e += 1;
                            *e
                        };
                        let m = s.most_on.entry(key.clone()).or_default();
                        *m = (*m).max(on);
                        s.order.push(i);
                    }
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let mut s = seen.lock().unwrap();
                    s.now -= 1;
                    *s.on.get_mut(&key).unwrap() -= 1;
                }
            },
            |()| ended += 1,
        )
        .await;
        let s = seen.lock().unwrap();
        (s.most, s.most_on.clone(), s.order.clone(), ended)
    }

    #[tokio::test]
    async fn the_caps_hold_nodes_take_turns_and_no_slot_waits_for_a_busy_node() {
        // Six targets on a, three on b, three on c; four at once, two per node.
        let mut items = vec![(Some("a"), 40); 6];
        items.extend(vec![(Some("b"), 40); 3]);
        items.extend(vec![(Some("c"), 40); 3]);
        let (most, most_on, order, ended) = trace(items, 4, Some(2)).await;
        assert_eq!(ended, 12);
        assert_eq!(most, 4, "the slots were not all used");
        assert!(most_on.values().all(|&m| m <= 2), "{most_on:?}");
        // The first four: a, b, c, then a again (turns), not a's first four.
        assert_eq!(&order[..4], &[0, 6, 9, 1]);
        // Without a per-node cap, only the total holds; in their order.
        let (most, most_on, order, _) = trace(vec![(Some("a"), 20); 6], 3, None).await;
        assert_eq!((most, most_on["a"]), (3, 3));
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
        // Targets whose node is unknown are each their own.
        let (most, _, _, ended) = trace(vec![(None, 20); 5], 5, Some(1)).await;
        assert_eq!((most, ended), (5, 5));
        // One node only, per node 1: one at a time, though four slots are free.
        let (most, _, _, _) = trace(vec![(Some("a"), 10); 3], 4, Some(1)).await;
        assert_eq!(most, 1);
    }
}
