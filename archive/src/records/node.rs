//! A container found on a node's disk (the node route), as the summary's invocation
//! and `cairn-collector containers` give it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use cairn_protocol::runtime::Runtime;

/// A container found on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeContainer {
    pub runtime: Runtime,
    /// containerd namespace (`k8s.io` for Kubernetes, `moby`, `default`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub id: String,
    pub name: String,
    pub image: String,
    /// RFC 3339, when the runtime records it.
    pub created: Option<String>,
    /// `running`, `exited`, `paused`..., or `unknown` where the disk does not say.
    pub state: String,
    pub pod_namespace: Option<String>,
    pub pod_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    pub container_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The overlay layer directories, upper (the container's writable layer) first.
    pub layers: Vec<PathBuf>,
    /// Why the layers could not be found, when they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers_error: Option<String>,
}

impl NodeContainer {
    /// Fills the Kubernetes identity from the labels the kubelet sets.
    pub fn with_pod_labels(mut self) -> NodeContainer {
        let l = |k: &str| self.labels.get(k).cloned();
        self.pod_namespace = l("io.kubernetes.pod.namespace");
        self.pod_name = l("io.kubernetes.pod.name");
        self.pod_uid = l("io.kubernetes.pod.uid");
        self.container_name = l("io.kubernetes.container.name");
        self
    }
}
