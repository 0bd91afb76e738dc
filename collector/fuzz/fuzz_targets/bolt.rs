//! The bbolt reader on arbitrary bytes: open, then read every bucket and value reachable
//! (bounded), as the containerd explorer does. Any panic is a bug.
#![no_main]
use cairn_collector::node::bolt::{Bucket, Db, Value};
use libfuzzer_sys::fuzz_target;

fn read_all(b: &Bucket<'_>, depth: usize, budget: &mut usize) {
    if depth > 8 || *budget == 0 {
        return;
    }
    let Ok(entries) = b.entries() else { return };
    for (k, v) in entries {
        *budget = budget.saturating_sub(1);
        let _ = b.get(k);
        if let Value::Bucket(inner) = v {
            let _ = inner.strings();
            read_all(&inner, depth + 1, budget);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(db) = Db::open(data.to_vec()) {
        let mut budget = 10_000;
        read_all(&db.root(), 0, &mut budget);
        let _ = db.root().path(&[b"v1", b"k8s.io", b"containers"]);
    }
});
