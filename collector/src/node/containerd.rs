//! containerd's containers on disk (`/var/lib/containerd`), what EKS, AKS and GKE nodes
//! run. The metadata store `io.containerd.metadata.v1.bolt/meta.db` (bbolt) holds
//! `v1/<namespace>/containers/<id>` (`image`, `snapshotter`, `snapshotKey`, `labels`,
//! `createdat`) and `v1/<namespace>/snapshots/<snapshotter>/<key>` whose `name` is the
//! snapshotter's own key. The overlayfs snapshotter's `metadata.db` maps that key under
//! `v1/snapshots/<key>` to an `id` (uvarint) and a `parent` key; the layer's files are in
//! `snapshots/<id>/fs`. The container's snapshot is its writable upper layer and the
//! parent chain gives the image's layers, top to bottom.
//!
//! Docker's own containers also appear, under namespace `moby`, without a snapshot of
//! their own (Docker's overlay2 driver keeps the layers): they are listed from
//! `/var/lib/docker` instead and skipped here.

use super::bolt::{Bucket, Db, Value};
use super::{read_limited, safe_component, NodeContainer, Runtime};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// bbolt files larger than this are refused (real ones are a few MiB).
const DB_LIMIT: u64 = 1 << 30;
/// Parent chains longer than this are corrupt (images have at most 127 layers).
const MAX_LAYERS: usize = 512;

/// Every containerd container under `node_root`, and warnings.
/// The Containerd explorer.
pub struct Containerd;

impl super::Explorer for Containerd {
    fn runtime(&self) -> Runtime {
        Runtime::Containerd
    }

    fn list(&self, node_root: &Path) -> (Vec<NodeContainer>, Vec<String>) {
        list(node_root)
    }
}

pub fn list(node_root: &Path) -> (Vec<NodeContainer>, Vec<String>) {
    let base = super::state_dir(node_root, Runtime::Containerd);
    let meta_path = base.join("io.containerd.metadata.v1.bolt/meta.db");
    let mut warnings = Vec::new();
    let db = match read_limited(&meta_path, DB_LIMIT)
        .map_err(|e| e.to_string())
        .and_then(|b| Db::open(b).map_err(|e| e.to_string()))
    {
        Ok(db) => db,
        Err(e) => {
            warnings.push(format!("containerd: {}: {e}", meta_path.display()));
            return (Vec::new(), warnings);
        }
    };
    let mut snapshotters: BTreeMap<String, Result<Db, String>> = BTreeMap::new();
    let mut out = Vec::new();
    let namespaces = match db.root().bucket(b"v1") {
        Ok(Some(v1)) => match v1.entries() {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("containerd: {}: {e}", meta_path.display()));
                return (out, warnings);
            }
        },
        Ok(None) => return (out, warnings),
        Err(e) => {
            warnings.push(format!("containerd: {}: {e}", meta_path.display()));
            return (out, warnings);
        }
    };
    for (ns, v) in namespaces {
        let (Value::Bucket(nsb), ns) = (v, String::from_utf8_lossy(ns).into_owned()) else {
            continue;
        };
        if ns == "moby" {
            continue;
        }
        let containers = match nsb.bucket(b"containers") {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => {
                warnings.push(format!("containerd namespace {ns}: {e}"));
                continue;
            }
        };
        let entries = match containers.entries() {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("containerd namespace {ns}: {e}"));
                continue;
            }
        };
        for (id, v) in entries {
            let Value::Bucket(c) = v else { continue };
            let id = String::from_utf8_lossy(id).into_owned();
            match read_container(&base, node_root, &ns, &id, &c, &nsb, &mut snapshotters) {
                Ok(c) => out.push(c),
                Err(e) => warnings.push(format!("containerd container {ns}/{id}: {e}")),
            }
        }
    }
    (out, warnings)
}

fn text(b: &Bucket<'_>, key: &[u8]) -> Result<String, String> {
    Ok(b.get(key)
        .map_err(|e| e.to_string())?
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default())
}

fn read_container(
    base: &Path,
    node_root: &Path,
    ns: &str,
    id: &str,
    c: &Bucket<'_>,
    nsb: &Bucket<'_>,
    snapshotters: &mut BTreeMap<String, Result<Db, String>>,
) -> Result<NodeContainer, String> {
    let labels = match c.bucket(b"labels").map_err(|e| e.to_string())? {
        Some(l) => l.strings().map_err(|e| e.to_string())?,
        None => BTreeMap::new(),
    };
    let created = c
        .get(b"createdat")
        .map_err(|e| e.to_string())?
        .and_then(go_time);
    let snapshotter = text(c, b"snapshotter")?;
    let key = text(c, b"snapshotKey")?;
    let (layers, layers_error) = match layers(base, nsb, &snapshotter, &key, snapshotters) {
        Ok(l) => (l, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    // The shim's state directory exists while the task runs (on a live node).
    let state = match (safe_component(ns), safe_component(id)) {
        (Some(ns), Some(id))
            if node_root
                .join("run/containerd/io.containerd.runtime.v2.task")
                .join(ns)
                .join(id)
                .is_dir() =>
        {
            "running"
        }
        _ => "unknown",
    };
    let c = NodeContainer {
        runtime: Runtime::Containerd,
        namespace: Some(ns.to_owned()),
        id: id.to_owned(),
        name: labels
            .get("io.kubernetes.container.name")
            .cloned()
            .unwrap_or_else(|| id.to_owned()),
        image: text(c, b"image")?,
        created,
        state: state.to_owned(),
        pod_namespace: None,
        pod_name: None,
        pod_uid: None,
        container_name: None,
        labels,
        layers,
        layers_error,
    };
    Ok(c.with_pod_labels())
}

/// The layer directories of the snapshot `key`, upper first.
fn layers(
    base: &Path,
    nsb: &Bucket<'_>,
    snapshotter: &str,
    key: &str,
    snapshotters: &mut BTreeMap<String, Result<Db, String>>,
) -> Result<Vec<PathBuf>, String> {
    if key.is_empty() {
        return Err("no snapshot key".into());
    }
    if snapshotter != "overlayfs" {
        return Err(format!(
            "snapshotter {snapshotter:?} is not supported (overlayfs is)"
        ));
    }
    let snap = nsb
        .path(&[b"snapshots", snapshotter.as_bytes(), key.as_bytes()])
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("snapshot {key} is not in meta.db"))?;
    let mut name = text(&snap, b"name")?;
    let dir = base.join(format!("io.containerd.snapshotter.v1.{snapshotter}"));
    let db = snapshotters
        .entry(snapshotter.to_owned())
        .or_insert_with(|| {
            let p = dir.join("metadata.db");
            read_limited(&p, DB_LIMIT)
                .map_err(|e| format!("{}: {e}", p.display()))
                .and_then(|b| Db::open(b).map_err(|e| format!("{}: {e}", p.display())))
        })
        .as_ref()
        .map_err(Clone::clone)?;
    let all = db
        .root()
        .path(&[b"v1", b"snapshots"])
        .map_err(|e| e.to_string())?
        .ok_or("the snapshotter's metadata.db has no v1/snapshots")?;
    let mut out = Vec::new();
    while !name.is_empty() {
        if out.len() >= MAX_LAYERS {
            return Err(format!(
                "parent chain longer than {MAX_LAYERS} layers (a loop?)"
            ));
        }
        let s = all
            .bucket(name.as_bytes())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("snapshot {name} is not in the snapshotter's metadata.db"))?;
        let id = s
            .get(b"id")
            .map_err(|e| e.to_string())?
            .and_then(uvarint)
            .ok_or_else(|| format!("snapshot {name} has no id"))?;
        out.push(dir.join("snapshots").join(id.to_string()).join("fs"));
        name = text(&s, b"parent")?;
    }
    Ok(out)
}

/// Go's `binary.Uvarint`.
pub fn uvarint(b: &[u8]) -> Option<u64> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        let v = u64::from(byte & 0x7f);
        x |= v.checked_shl(7 * i as u32)?;
        if byte < 0x80 {
            return Some(x);
        }
    }
    None
}

/// Go's `time.Time.MarshalBinary` (versions 1 and 2) as RFC 3339 UTC.
pub fn go_time(b: &[u8]) -> Option<String> {
    let version = *b.first()?;
    if version != 1 && version != 2 {
        return None;
    }
    let sec = i64::from_be_bytes(b.get(1..9)?.try_into().ok()?);
    let nsec = u32::from_be_bytes(b.get(9..13)?.try_into().ok()?);
    // Seconds since January 1, year 1 → since 1970.
    let unix = sec.checked_sub(62_135_596_800)?;
    if nsec >= 1_000_000_000 {
        return None;
    }
    Some(cairn_archive::text::rfc3339(unix, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_encodings_decode() {
        assert_eq!(uvarint(&[0x2a]), Some(42));
        assert_eq!(uvarint(&[0xac, 0x02]), Some(300));
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[0xff; 11]), None);
        // 2026-11-23T18:30:05.5Z, as Go marshals it (version 1, UTC offset -1).
        let unix: i64 = 1_795_458_605;
        let mut b = vec![1u8];
        b.extend((unix + 62_135_596_800).to_be_bytes());
        b.extend(500_000_000u32.to_be_bytes());
        b.extend((-1i16).to_be_bytes());
        let t = go_time(&b).unwrap();
        assert!(t.starts_with("2026-11-23T"), "{t}");
        assert_eq!(go_time(&b[..5]), None);
        assert_eq!(go_time(&[9u8; 15]), None);
    }
}
