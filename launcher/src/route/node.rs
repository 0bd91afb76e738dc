//! The node route, for containers that can be neither exec'd nor joined: a short-lived
//! pod on the target's node mounts the runtime's directories read-only (hostPath
//! `/var/lib/docker`, or `/var/lib/containerd` and `/run/containerd`, by the runtime
//! the container ID names) under `/node`, and the collection is exec'd into it: the
//! collector rebuilds the container's filesystem from its layers
//! (`collect --node-root /node --container ID`), drift included. The pod is deleted
//! afterwards, also when the collection is cut off.
//!
//! The pod runs as root with every capability dropped except DAC_READ_SEARCH (to read
//! files of any owner in the layers), on a read-only root, with no service-account token.

use super::{Cleanup, Env, Place, Route};
use crate::progress::TargetBar;
use crate::rbac::Need;
use crate::targets::Target;
use anyhow::{bail, Context};
use cairn_protocol::flags;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use std::time::{Duration, Instant};

/// Where the node's directories are mounted in the collector pod.
pub const NODE_ROOT: &str = "/node";
/// The collector pod's container.
pub const CONTAINER: &str = "collector";
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What this route needs besides exec: a short-lived pod on the node.
pub const NEEDS: &[Need] = &[
    Need {
        verb: "create",
        resource: "pods",
        subresource: "",
    },
    Need {
        verb: "delete",
        resource: "pods",
        subresource: "",
    },
];

pub struct Node {
    pub image: String,
}

impl Route for Node {
    fn method(&self) -> &'static str {
        "node"
    }

    fn needs(&self) -> &'static [Need] {
        NEEDS
    }

    /// Offline from the node's disk: a stopped container too.
    fn accepts(&self, _t: &Target) -> Result<(), String> {
        Ok(())
    }

    fn prepare<'a>(
        &'a self,
        env: &'a Env<'a>,
        t: &'a Target,
        payload: Option<&'a str>,
        bar: &'a TargetBar,
    ) -> BoxFuture<'a, anyhow::Result<Place>> {
        Box::pin(async move {
            bar.phase("starting a collector pod on the node");
            let (guard, id) = start(env.client, t, &self.image, bar).await?;
            let route_flags = vec![
                flags::NODE_ROOT.to_owned(),
                NODE_ROOT.to_owned(),
                flags::CONTAINER.to_owned(),
                id,
            ];
            Ok(Place {
                pod: guard.name.clone(),
                container: CONTAINER.to_owned(),
                command: super::image_command(route_flags),
                stdin: super::line_payload(payload),
                phase: "collector started".into(),
                cleanup: Some(Box::new(guard)),
            })
        })
    }
}

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
                "command": [super::ephemeral::COLLECTOR_PATH, flags::IDLE, flags::IDLE_FOR, "2h"],
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
/// the guard that deletes it and the container ID to collect.
async fn start(
    client: &Client,
    t: &Target,
    image: &str,
    bar: &TargetBar,
) -> anyhow::Result<(Guard, String)> {
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
    let name = super::unique_name("cairn-node");
    let pod: Pod = serde_json::from_value(manifest(&name, t, runtime, image))?;
    api.create(&PostParams::default(), &pod)
        .await
        .with_context(|| format!("creating the collector pod on node {}", t.node))?;
    // From here on the pod is deleted whatever happens.
    let guard = Guard {
        client: Some(client.clone()),
        namespace: t.namespace.clone(),
        name: name.clone(),
    };
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
                return Ok((guard, id.to_owned()));
            }
            if let Some(w) = s.waiting {
                let reason = w.reason.unwrap_or_default();
                if reason.contains("Err") || reason.contains("BackOff") {
                    Box::new(guard).run().await;
                    bail!(
                        "the collector pod cannot start ({reason}: {}); the node must be able to pull {image} (scripts/build-image.sh, then --collector-image)",
                        w.message.unwrap_or_default()
                    );
                }
            }
        }
        if Instant::now() > deadline {
            Box::new(guard).run().await;
            bail!(
                "the collector pod {name} did not start within {} s",
                START_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Deletes the collector pod: when run, and when dropped unrun, also when the
/// collection is cut off (timeout, Ctrl-C): a pod with the node's runtime directories
/// must not linger.
struct Guard {
    /// `None` once the deletion has been started.
    client: Option<Client>,
    namespace: String,
    name: String,
}

impl Guard {
    fn delete(client: Client, namespace: String, name: String) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let api: Api<Pod> = Api::namespaced(client, &namespace);
            let _ = tokio::time::timeout(
                Duration::from_secs(30),
                api.delete(&name, &DeleteParams::default().grace_period(0)),
            )
            .await;
        })
    }
}

impl Cleanup for Guard {
    fn run(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        match self.client.take() {
            Some(c) => Guard::delete(c, self.namespace.clone(), self.name.clone()),
            None => Box::pin(async {}),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(Guard::delete(c, self.namespace.clone(), self.name.clone()));
            }
        }
    }
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
