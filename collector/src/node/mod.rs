//! Containers on a node's disk, found offline: one explorer per container runtime
//! ([`docker`] for `/var/lib/docker`, [`containerd`] for `/var/lib/containerd` through
//! its bbolt metadata, read by [`bolt`]). `--node-root` is a live node's `/` or a copy
//! of a node's disk mounted read-only anywhere; nothing under it is written, and a
//! container's filesystem is rebuilt from its layers in user space
//! ([`crate::source::layers`]).
//!
//! A node's disk is untrusted input: every metadata file is read with a size limit and
//! parsed without panicking; a broken container is reported and the others still listed.

pub mod bolt;
pub mod containerd;
pub mod docker;

use std::path::Path;

pub use cairn_archive::records::node::{NodeContainer, Runtime};

/// Where the kubelet keeps this container's stdout and stderr on the node, rotated
/// files included: `/var/log/pods/NAMESPACE_POD_UID/CONTAINER`, from the labels the
/// kubelet set. `None` without them, or when one is not a plain name (the labels come
/// from the node's disk: untrusted).
pub fn kubelet_log_dir(c: &NodeContainer) -> Option<String> {
    let plain = |s: &Option<String>| {
        s.clone()
            .filter(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\0']))
    };
    Some(format!(
        "/var/log/pods/{}_{}_{}/{}",
        plain(&c.pod_namespace)?,
        plain(&c.pod_name)?,
        plain(&c.pod_uid)?,
        plain(&c.container_name)?
    ))
}

/// The node's system logs where the kubelet and the container runtime write: the
/// journal (systemd units), or their own files in `/var/log` (nodes without journald,
/// or with the runtime logging to files): (directory, name globs, depth).
pub const SYSTEM_LOGS: &[(&str, &[&str], usize)] = &[
    (
        "/var/log/journal",
        &["system.journal", "system@*.journal", "system@*.journal~"],
        2,
    ),
    (
        "/var/log",
        &[
            "kubelet.log*",
            "kubelet.*.log*",
            "containerd.log*",
            "docker.log*",
            "crio.log*",
            "kube-proxy.log*",
        ],
        1,
    ),
];

/// What the node keeps about container `c` outside its filesystem, to collect beside
/// it: the kubelet's logs of it, and with `since` the kubelet's and the runtime's own
/// logs written since then.
pub fn beside(
    node_root: &Path,
    c: Option<&NodeContainer>,
    since: Option<i64>,
) -> Vec<crate::collect::Beside> {
    use crate::collect::Beside;
    let mut out = Vec::new();
    if let Some(dir) = c.and_then(kubelet_log_dir) {
        out.push(Beside {
            node_root: node_root.to_owned(),
            path: dir,
            artifact: "node/kubelet_logs".into(),
            ..Beside::default()
        });
    }
    if let Some(since) = since {
        for (dir, names, depth) in SYSTEM_LOGS {
            out.push(Beside {
                node_root: node_root.to_owned(),
                path: (*dir).to_owned(),
                names: names.iter().map(|n| (*n).to_owned()).collect(),
                max_depth: Some(*depth),
                since: Some(since),
                artifact: "node/system_logs".into(),
            });
        }
    }
    out
}

/// Why containers could not be listed or one could not be chosen.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{0}: neither /var/lib/docker nor /var/lib/containerd is there (give the node's root filesystem)")]
    NoRuntime(String),
    #[error("no container matches '{0}' (cairn-collector containers --node-root DIR lists them)")]
    NotFound(String),
    #[error("'{0}' matches {1} containers: give more of the ID")]
    Ambiguous(String, usize),
    #[error("container {0}: its layers were not found: {1}")]
    NoLayers(String, String),
}

/// Reads a metadata file of at most `limit` bytes (larger means corrupt or hostile).
pub(crate) fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > limit {
        return Err(std::io::Error::other(format!(
            "{} is {len} bytes, more than the {limit} a metadata file may have",
            path.display()
        )));
    }
    let mut out = Vec::with_capacity(len as usize);
    f.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

/// One container runtime's way of keeping containers on disk. Adding a runtime
/// (CRI-O's containers-storage, say) is a module implementing this and its line in
/// [`EXPLORERS`].
pub trait Explorer: Sync {
    /// The runtime it reads (whose state directory is `Runtime::state_dir`).
    fn runtime(&self) -> Runtime;
    /// Every container under `node_root`, with warnings for what could not be read.
    fn list(&self, node_root: &Path) -> (Vec<NodeContainer>, Vec<String>);
}

/// A runtime's state directory under a node's root (a live node's `/` or a copy).
pub fn state_dir(node_root: &Path, r: Runtime) -> std::path::PathBuf {
    node_root.join(r.state_dir().trim_start_matches('/'))
}

/// Every runtime cairn can read offline, in the order listings show them.
pub const EXPLORERS: &[&dyn Explorer] = &[&docker::Docker, &containerd::Containerd];

/// Every container under `node_root`, with warnings for what could not be read.
pub fn list(node_root: &Path) -> Result<(Vec<NodeContainer>, Vec<String>), NodeError> {
    let present: Vec<&&dyn Explorer> = EXPLORERS
        .iter()
        .filter(|e| state_dir(node_root, e.runtime()).is_dir())
        .collect();
    if present.is_empty() {
        return Err(NodeError::NoRuntime(node_root.display().to_string()));
    }
    let mut all = Vec::new();
    let mut warnings = Vec::new();
    for e in present {
        let (c, w) = e.list(node_root);
        all.extend(c);
        warnings.extend(w);
    }
    all.sort_by(|a, b| (a.runtime as u8, &a.id).cmp(&(b.runtime as u8, &b.id)));
    Ok((all, warnings))
}

/// The one container whose ID starts with `id` (or whose name is `id`).
pub fn find(node_root: &Path, id: &str) -> Result<(NodeContainer, Vec<String>), NodeError> {
    let (all, warnings) = list(node_root)?;
    let exact: Vec<&NodeContainer> = all.iter().filter(|c| c.id == id || c.name == id).collect();
    let chosen: Vec<&NodeContainer> = if exact.len() == 1 {
        exact
    } else {
        all.iter().filter(|c| c.id.starts_with(id)).collect()
    };
    match chosen.as_slice() {
        [one] => {
            let c = (*one).clone();
            if c.layers.is_empty() {
                return Err(NodeError::NoLayers(
                    c.id.clone(),
                    c.layers_error
                        .clone()
                        .unwrap_or_else(|| "none recorded".into()),
                ));
            }
            Ok((c, warnings))
        }
        [] => Err(NodeError::NotFound(id.to_owned())),
        many => Err(NodeError::Ambiguous(id.to_owned(), many.len())),
    }
}

/// A path component read from metadata, refused if it could leave its directory.
pub(crate) fn safe_component(s: &str) -> Option<&str> {
    let ok = !s.is_empty() && s != "." && s != ".." && !s.contains('/') && !s.contains('\0');
    ok.then_some(s)
}
