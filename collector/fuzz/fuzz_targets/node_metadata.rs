//! The node explorers on a fake node root built from the input: containerd's meta.db
//! and the overlayfs snapshotter's metadata.db, or Docker's config.v2.json, mount-id
//! and lower file. `node::list` must answer (containers or warnings), never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ = std::fs::write(p, data);
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("cairn-fuzz-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Inputs are split in parts at 0xFF 0x00 0xFF.
    let parts: Vec<&[u8]> = split(rest);
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    if choice % 2 == 0 {
        put(&dir, "var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db", part(0));
        put(&dir, "var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db", part(1));
        let _ = std::fs::create_dir_all(dir.join("var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs"));
    } else {
        put(&dir, "var/lib/docker/containers/c1/config.v2.json", part(0));
        put(&dir, "var/lib/docker/image/overlay2/layerdb/mounts/c1/mount-id", part(1));
        let mount = String::from_utf8_lossy(part(1)).trim().to_owned();
        if cairn_collector::node::docker::plausible_id(&mount) {
            let _ = std::fs::create_dir_all(dir.join("var/lib/docker/overlay2").join(&mount).join("diff"));
            put(&dir, &format!("var/lib/docker/overlay2/{mount}/lower"), part(2));
        }
    }
    let _ = cairn_collector::node::list(&dir);
    let _ = std::fs::remove_dir_all(&dir);
});

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0xff, 0x00, 0xff] {
            out.push(&data[start..i]);
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&data[start..]);
    out
}
