//! The container runtimes whose disk layout cairn reads offline, and where each keeps
//! its state on a node: the one table the launcher's node route (which mounts that
//! directory read-only into its collector pod) and the collector's explorers (which
//! read it) both use. Adding a runtime is a variant and its row here, and an explorer
//! in the collector.

use serde::{Deserialize, Serialize};

/// Which runtime keeps a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Containerd,
}

impl Runtime {
    /// Every runtime, in the order listings show them.
    pub const ALL: &'static [Runtime] = &[Runtime::Docker, Runtime::Containerd];

    /// Its name, as a pod's `containerID` scheme (`docker://ID`) and the summary give it.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
        }
    }

    /// Its state directory on a node, from the node's root (`/var/lib/docker`).
    pub fn state_dir(self) -> &'static str {
        match self {
            Runtime::Docker => "/var/lib/docker",
            Runtime::Containerd => "/var/lib/containerd",
        }
    }

    /// The runtime and ID of a container ID as a pod's status gives it
    /// (`containerd://ID`), when cairn reads that runtime.
    pub fn of_container_id(status_id: &str) -> Option<(Runtime, &str)> {
        let (scheme, id) = status_id.split_once("://")?;
        let r = Runtime::ALL.iter().find(|r| r.name() == scheme)?;
        Some((*r, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_name_their_runtime() {
        assert_eq!(
            Runtime::of_container_id("containerd://abc"),
            Some((Runtime::Containerd, "abc"))
        );
        assert_eq!(Runtime::of_container_id("cri-o://abc"), None);
        assert_eq!(Runtime::Docker.state_dir(), "/var/lib/docker");
        assert_eq!(
            serde_json::to_string(&Runtime::Containerd).unwrap(),
            "\"containerd\""
        );
    }
}
