//! The node route, for containers that can be neither exec'd nor joined: a short-lived
//! pod on the target's node mounts the runtime's directories read-only (hostPath
//! `/var/lib/docker`, or `/var/lib/containerd` and `/run/containerd`, by the runtime
//! the container ID names) under `/node`, and the collection is exec'd into it: the
//! collector rebuilds the container's filesystem from its layers
//! (`collect --node-root /node --container ID`), drift included. The pod is deleted
//! afterwards.
//!
//! The pod runs as root with every capability dropped except DAC_READ_SEARCH (to read
//! files of any owner in the layers), on a read-only root, with no service-account token.

use crate::progress::TargetBar;
use crate::targets::Target;
use anyhow::{bail, Context};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use std::time::{Duration, Instant};

/// Where the node's directories are mounted in the collector pod.
pub const NODE_ROOT: &str = "/node";
/// The collector pod's container.
pub const CONTAINER: &str = "collector";
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The runtime and ID of a container ID as pod status gives it (`docker://ID`).
pub fn runtime_of(status_id: &str) -> Option<(&str, &str)> {
    let (runtime, id) = status_id.split_once("://")?;
    matches!(runtime, "docker" | "containerd").then_some((runtime, id))
}

/// The collector pod's manifest.
pub fn manifest(name: &str, t: &Target, runtime: &str, image: &str) -> serde_json::Value {
    let dirs: &[(&str, &str)] = match runtime {
        "docker" => &[("docker", "/var/lib/docker")],
        _ => &[
            ("containerd", "/var/lib/containerd"),
            ("run-containerd", "/run/containerd"),
        ],
    };
    let volumes: Vec<serde_json::Value> = dirs
        .iter()
        .map(|(n, p)| serde_json::json!({"name": n, "hostPath": {"path": p, "type": "Directory"}}))
        .collect();
    let mounts: Vec<serde_json::Value> = dirs
        .iter()
        .map(|(n, p)| serde_json::json!({"name": n, "mountPath": format!("{NODE_ROOT}{p}"), "readOnly": true}))
        .collect();
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": t.namespace,
            "labels": {"app.kubernetes.io/name": "cairn-node-collector"},
        },
        "spec": {
            "nodeName": t.node,
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": CONTAINER,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": [crate::ephemeral::COLLECTOR_PATH, "idle", "--for", "2h"],
                "securityContext": {
                    "runAsUser": 0,
                    "readOnlyRootFilesystem": true,
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"], "add": ["DAC_READ_SEARCH"]},
                },
                "volumeMounts": mounts,
            }],
            "volumes": volumes,
        },
    })
}

/// Creates the collector pod on the target's node and waits until it runs; returns
/// its name and the container ID to collect.
pub async fn start(
    client: &Client,
    t: &Target,
    image: &str,
    bar: &TargetBar,
) -> anyhow::Result<(String, String)> {
    let status_id = t.container_id.as_deref().with_context(|| {
        format!(
            "{} has no container ID in its status (not started?)",
            t.name()
        )
    })?;
    let (runtime, id) = runtime_of(status_id).with_context(|| {
        format!(
            "{}: runtime of {status_id} is not docker or containerd",
            t.name()
        )
    })?;
    if t.node.is_empty() {
        bail!("{} is not scheduled on a node", t.name());
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let name = format!("cairn-node-{:08x}", (stamp as u64) & 0xffff_ffff);
    let pod: Pod = serde_json::from_value(manifest(&name, t, runtime, image))?;
    api.create(&PostParams::default(), &pod)
        .await
        .with_context(|| format!("creating the collector pod on node {}", t.node))?;
    bar.phase(&format!("waiting for pod {name} on node {}", t.node));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let p = api.get(&name).await?;
        let state = p
            .status
            .and_then(|s| s.container_statuses)
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.name == CONTAINER)
            .and_then(|s| s.state);
        if let Some(s) = state {
            if s.running.is_some() {
                return Ok((name, id.to_owned()));
            }
            if let Some(w) = s.waiting {
                let reason = w.reason.unwrap_or_default();
                if reason.contains("Err") || reason.contains("BackOff") {
                    stop(client, t, &name).await;
                    bail!(
                        "the collector pod cannot start ({reason}: {}); the node must be able to pull {image} (scripts/build-image.sh, then --collector-image)",
                        w.message.unwrap_or_default()
                    );
                }
            }
        }
        if Instant::now() > deadline {
            stop(client, t, &name).await;
            bail!(
                "the collector pod {name} did not start within {} s",
                START_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Deletes the collector pod when dropped, also when the collection is cut off
/// (timeout, Ctrl-C): a pod with the node's runtime directories must not linger.
pub struct Guard {
    pub client: Client,
    pub namespace: String,
    pub name: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let name = self.name.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = api
                    .delete(&name, &DeleteParams::default().grace_period(0))
                    .await;
            });
        }
    }
}

/// Deletes the collector pod (best effort).
pub async fn stop(client: &Client, t: &Target, name: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        api.delete(name, &DeleteParams::default().grace_period(0)),
    )
    .await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_runtime_decides_what_is_mounted() {
        assert_eq!(super::runtime_of("docker://abc"), Some(("docker", "abc")));
        assert_eq!(
            super::runtime_of("containerd://abc"),
            Some(("containerd", "abc"))
        );
        assert_eq!(super::runtime_of("cri-o://abc"), None);
        let t = crate::targets::Target {
            namespace: "shop".into(),
            pod: "web".into(),
            container: "app".into(),
            image: String::new(),
            node: "node-1".into(),
            phase: String::new(),
            user: None,
            container_id: None,
            verdict: crate::targets::Verdict::Exec,
        };
        let m = super::manifest("cairn-node-1", &t, "containerd", "img:1");
        assert_eq!(m["spec"]["nodeName"], "node-1");
        let mounts = m["spec"]["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap();
        assert_eq!(mounts[0]["mountPath"], "/node/var/lib/containerd");
        assert!(mounts.iter().all(|m| m["readOnly"] == true));
        assert_eq!(m["spec"]["automountServiceAccountToken"], false);
    }
}
