//! The node route's collector pod: its manifest, starting it on a node and checking
//! that it is the pod cairn created, and the guard that deletes it on every exit path.

use super::{Node, CONTAINER, NODE_LOGS, NODE_ROOT};
use crate::kerror::Said;
use crate::progress::TargetBar;
use crate::route::Cleanup;
use anyhow::{bail, Context};
use cairn_protocol::flags;
use cairn_protocol::runtime::Runtime;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(120);
/// What one collection in the pod may use at most; a pod shared by several at once
/// gets this times their number (at most [`MAX_AT_ONCE`]).
const CPU_PER_COLLECTION: u32 = 1;
const MIB_PER_COLLECTION: u32 = 512;
const MAX_AT_ONCE: u32 = 8;

/// Where one collector pod runs and how many collections it serves.
pub struct Spot<'a> {
    pub node: &'a str,
    /// The runtime whose state directory it mounts (`docker`, `containerd`).
    pub runtime: &'a str,
    /// The targets it collects in all, and how many at once.
    pub targets: usize,
    pub at_once: usize,
}

/// A collector pod that runs: its name and UID, and the guard that deletes it.
pub struct Started {
    pub name: String,
    pub uid: String,
    pub guard: Guard,
}

/// The collector pod's manifest.
pub fn manifest(name: &str, spot: &Spot, n: &Node) -> serde_json::Value {
    let r = Runtime::ALL
        .iter()
        .find(|r| r.name() == spot.runtime)
        .copied()
        .unwrap_or(Runtime::Containerd);
    let dir = (r.name(), r.state_dir());
    let seccomp = match &n.seccomp {
        Some(p) => serde_json::json!({"type": "Localhost", "localhostProfile": p}),
        None => serde_json::json!({"type": "RuntimeDefault"}),
    };
    let deadline = n.deadline.as_secs().max(60);
    let at_once = (spot.at_once.min(spot.targets) as u32).clamp(1, MAX_AT_ONCE);
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": n.namespace,
            "labels": {
                "app.kubernetes.io/name": "cairn-node-collector",
                "app.kubernetes.io/managed-by": "cairn",
            },
            "annotations": {"cairn.io/targets": spot.targets.to_string()},
        },
        "spec": {
            "nodeName": spot.node,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": deadline,
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "tolerations": [{"operator": "Exists"}],
            "securityContext": {"seccompProfile": seccomp},
            "containers": [{
                "name": CONTAINER,
                "image": n.image,
                "imagePullPolicy": "IfNotPresent",
                "command": [
                    crate::route::ephemeral::COLLECTOR_PATH,
                    flags::IDLE,
                    flags::IDLE_FOR,
                    format!("{deadline}s"),
                ],
                "securityContext": {
                    "runAsUser": 0,
                    "privileged": false,
                    "readOnlyRootFilesystem": true,
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"], "add": ["DAC_READ_SEARCH"]},
                    "seccompProfile": seccomp,
                },
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {
                        "cpu": (CPU_PER_COLLECTION * at_once).to_string(),
                        "memory": format!("{}Mi", MIB_PER_COLLECTION * at_once),
                    },
                },
                "volumeMounts": [{
                    "name": dir.0,
                    "mountPath": format!("{NODE_ROOT}{}", dir.1),
                    "readOnly": true,
                    "recursiveReadOnly": "Enabled",
                }, {
                    "name": "node-logs",
                    "mountPath": format!("{NODE_ROOT}{NODE_LOGS}"),
                    "readOnly": true,
                    "recursiveReadOnly": "Enabled",
                }],
            }],
            "volumes": [
                {"name": dir.0, "hostPath": {"path": dir.1, "type": "Directory"}},
                {"name": "node-logs", "hostPath": {"path": NODE_LOGS, "type": "Directory"}},
            ],
        },
    })
}

/// Creates a collector pod at `spot` and waits until it runs, is the pod created and
/// runs the image asked for.
pub async fn start(
    client: &Client,
    spot: &Spot<'_>,
    n: &Node,
    bar: &TargetBar,
) -> anyhow::Result<Started> {
    if spot.node.is_empty() {
        bail!("the target is not scheduled on a node");
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &n.namespace);
    let name = crate::route::unique_name("cairn-node");
    let pod: Pod = serde_json::from_value(manifest(&name, spot, n))?;
    let created = match api.create(&PostParams::default(), &pod).await {
        Ok(p) => p,
        Err(e) if crate::kerror::not_found(&e) => bail!(
            "namespace {0} does not exist, and --via node creates its collector pods there: kubectl create namespace {0} (deploy/rbac.yaml creates it with the rights cairn needs in it)",
            n.namespace
        ),
        Err(e) => {
            return Err(e).said(|| {
                format!(
                    "creating the collector pod on node {} in namespace {}",
                    spot.node, n.namespace
                )
            })
        }
    };
    let uid = created.metadata.uid.clone().unwrap_or_default();
    // From here on the pod is deleted whatever happens.
    let guard = Guard {
        client: Some(client.clone()),
        namespace: n.namespace.clone(),
        name: name.clone(),
    };
    bar.phase(&format!("waiting for pod {name} on node {}", spot.node));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match running(client, n, &name, &uid).await {
            Ok(true) => return Ok(Started { name, uid, guard }),
            Ok(false) => {}
            Err(e) => {
                Box::new(guard).run().await;
                return Err(e);
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

/// Whether the collector pod `name` runs (`false`: not yet); an error when it is not
/// the pod cairn created (`uid`, the image asked for) or cannot start, or has ended.
pub async fn running(client: &Client, n: &Node, name: &str, uid: &str) -> anyhow::Result<bool> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &n.namespace);
    let p = api
        .get(name)
        .await
        .said(|| format!("reading the collector pod {}/{name}", n.namespace))?;
    if let Err(why) = is_ours(&p, uid, &n.image) {
        bail!(
            "the collector pod {}/{name} is not the one cairn created: {why}; not exec'ing into it",
            n.namespace
        );
    }
    let state = p
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.name == CONTAINER)
        .and_then(|s| s.state);
    let Some(s) = state else {
        return Ok(false);
    };
    if s.running.is_some() {
        return Ok(true);
    }
    if let Some(t) = s.terminated {
        bail!(
            "the collector pod {}/{name} has ended ({}: {})",
            n.namespace,
            t.reason.unwrap_or_default(),
            t.message.unwrap_or_default()
        );
    }
    if let Some(w) = s.waiting {
        let reason = w.reason.unwrap_or_default();
        if reason.contains("Err") || reason.contains("BackOff") {
            bail!(
                "the collector pod cannot start ({reason}: {}); the node must be able to pull {} (`cairn image --push REGISTRY/NAME:TAG` puts it in a registry the cluster uses; then pass that name as --collector-image)",
                w.message.unwrap_or_default(),
                n.image
            );
        }
    }
    Ok(false)
}

/// Whether `p` is the pod cairn created (same UID) running the image it asked for (its
/// digest, when the image reference gives one); why not otherwise.
pub fn is_ours(p: &Pod, uid: &str, image: &str) -> Result<(), String> {
    let have = p.metadata.uid.as_deref().unwrap_or_default();
    if uid.is_empty() || have != uid {
        return Err(format!("its UID is {have:?}, cairn created {uid:?}"));
    }
    let spec_image = p
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    if spec_image != image {
        return Err(format!("it runs {spec_image:?}, cairn asked for {image:?}"));
    }
    if let Some((_, digest)) = image.split_once('@') {
        let running = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.iter().find(|c| c.name == CONTAINER))
            .map(|c| c.image_id.clone());
        if let Some(id) = running.filter(|i| !i.is_empty()) {
            if !id.ends_with(digest) {
                return Err(format!("its image is {id}, not {digest}"));
            }
        }
    }
    Ok(())
}

/// Deletes the collector pod: when run, and when dropped unrun, also when the
/// collection is cut off (timeout, Ctrl-C): a pod with the node's runtime directories
/// must not linger.
pub struct Guard {
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
            crate::janitor::spawn(Guard::delete(c, self.namespace.clone(), self.name.clone()));
        }
    }
}

/// The runtime of a container ID as pod status gives it (`docker://ID`), and the ID;
/// a sentence naming the runtimes cairn reads offline otherwise.
pub fn runtime_and_id(status_id: &str) -> anyhow::Result<(&'static str, &str)> {
    Runtime::of_container_id(status_id)
        .map(|(r, id)| (r.name(), id))
        .with_context(|| {
            format!(
                "runtime of {status_id} is not one cairn reads offline ({})",
                Runtime::ALL
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

#[cfg(test)]
impl Guard {
    /// A guard with nothing to delete, for tests of what holds one.
    pub fn inert(name: &str) -> Guard {
        Guard {
            client: None,
            namespace: String::new(),
            name: name.to_owned(),
        }
    }
}
