//! The node route, for containers that can be neither exec'd nor joined: a short-lived
//! pod on the target's node mounts the runtime's state directory read-only (hostPath
//! `/var/lib/docker` or `/var/lib/containerd`, by the runtime the container ID names)
//! under `/node`, and the collection is exec'd into it: the collector rebuilds the
//! container's filesystem from its layers (`collect --node-root /node --container ID`),
//! drift included, and what the kubelet kept of the container's output (`/var/log` is
//! mounted read-only too: the collector takes the target's `pods/NS_POD_UID/CONTAINER/`
//! directory, rotated files included, and with `--node-logs` the kubelet's and the
//! runtime's own logs since the pod started, nothing else). The pod is deleted
//! afterwards, also when the collection is cut off.
//!
//! The pod is a path to the node's disk, so it is kept from everyone but the responder:
//! - it runs in a namespace of its own (`--collector-namespace`, `cairn-system` by
//!   default), never the target's, where the target's users cannot exec into it, under
//!   an unpredictable name; before exec, cairn checks that the pod is the one it created
//!   (its UID) running the image it asked for (its digest, where one was given);
//! - no runtime socket is mounted (`/run/containerd` is not: a read-only mount does
//!   not stop `connect()`); mounts are `recursiveReadOnly: Enabled`, so the containers'
//!   own rootfs mounts below them are read-only too on API servers that support it
//!   (1.30 and later; elsewhere the field is dropped and submounts stay writable, which
//!   docs/threat-model.md says);
//! - root with every capability dropped but DAC_READ_SEARCH (reading files of any
//!   owner in the layers), no privilege escalation, a read-only root, no
//!   service-account token, a seccomp profile (RuntimeDefault, or `--seccomp-profile`
//!   naming a Localhost profile such as `deploy/seccomp/cairn-node.json`, which also
//!   refuses `open_by_handle_at`), CPU and memory limits, and `activeDeadlineSeconds`:
//!   the kubelet ends it shortly after `--timeout` whatever happens to cairn.

use super::{Cleanup, Env, Place, Route};
use crate::kerror::Said;
use crate::progress::TargetBar;
use crate::rbac::Need;
use crate::targets::Target;
use anyhow::{bail, Context};
use cairn_protocol::flags;
use cairn_protocol::runtime::Runtime;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use std::time::{Duration, Instant};

/// Where the node's directories are mounted in the collector pod.
pub const NODE_ROOT: &str = "/node";
/// The node's logs: the kubelet keeps every container's stdout and stderr in
/// `pods/NS_POD_UID/CONTAINER/` (rotated files beside), and with `--node-logs` the
/// collector takes the kubelet's and the runtime's own (`journal/`, `*.log`). The
/// collector takes the target's directory and those files only. `/var/log` rather
/// than `/var/log/pods`: a hostPath of type `Directory` that is missing keeps the pod
/// from starting, and every node has `/var/log`, whatever the kubelet's
/// `podLogsDir`.
const NODE_LOGS: &str = "/var/log";
/// The collector pod's container.
pub const CONTAINER: &str = "collector";
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What this route needs in the collector namespace: a short-lived pod, checked, exec'd
/// into, deleted.
pub const NEEDS: &[Need] = &[
    Need {
        verb: "create",
        resource: "pods",
        subresource: "",
    },
    Need {
        verb: "get",
        resource: "pods",
        subresource: "",
    },
    Need {
        verb: "delete",
        resource: "pods",
        subresource: "",
    },
    crate::rbac::EXEC,
];

/// The default collector namespace.
pub const DEFAULT_NAMESPACE: &str = "cairn-system";

pub struct Node {
    pub image: String,
    /// Where collector pods run.
    pub namespace: String,
    /// How long a collector pod may live: the collection's timeout and a margin.
    pub deadline: Duration,
    /// A Localhost seccomp profile (path relative to the kubelet's seccomp directory),
    /// else RuntimeDefault.
    pub seccomp: Option<String>,
    /// `--node-logs`: the kubelet's and the runtime's own logs since the pod started.
    pub node_logs: bool,
}

impl Route for Node {
    fn method(&self) -> &'static str {
        "node"
    }

    fn needs(&self) -> &'static [Need] {
        &[]
    }

    fn own_namespace(&self) -> Option<(&str, &'static [Need])> {
        Some((&self.namespace, NEEDS))
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
            let (guard, id) = start(env.client, t, self, bar).await?;
            let mut route_flags = vec![
                flags::NODE_ROOT.to_owned(),
                NODE_ROOT.to_owned(),
                flags::CONTAINER.to_owned(),
                id,
            ];
            if self.node_logs {
                route_flags.extend([flags::NODE_LOGS_SINCE.to_owned(), logs_since(t)]);
            }
            Ok(Place {
                namespace: self.namespace.clone(),
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

/// Where `--node-logs` starts: when the kubelet took the pod, else a day ago.
fn logs_since(t: &Target) -> String {
    let now = time::OffsetDateTime::now_utc();
    let at = t
        .started
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .filter(|s| *s <= now)
        .unwrap_or(now - time::Duration::days(1));
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The runtime and ID of a container ID as pod status gives it (`docker://ID`).
pub fn runtime_of(status_id: &str) -> Option<(&str, &str)> {
    Runtime::of_container_id(status_id).map(|(r, id)| (r.name(), id))
}

/// The collector pod's manifest.
pub fn manifest(name: &str, t: &Target, runtime: &str, n: &Node) -> serde_json::Value {
    let r = Runtime::ALL
        .iter()
        .find(|r| r.name() == runtime)
        .copied()
        .unwrap_or(Runtime::Containerd);
    let dir = (r.name(), r.state_dir());
    let seccomp = match &n.seccomp {
        Some(p) => serde_json::json!({"type": "Localhost", "localhostProfile": p}),
        None => serde_json::json!({"type": "RuntimeDefault"}),
    };
    let deadline = n.deadline.as_secs().max(60);
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
            "annotations": {"cairn.io/target": t.name()},
        },
        "spec": {
            "nodeName": t.node,
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
                    super::ephemeral::COLLECTOR_PATH,
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
                    "limits": {"cpu": "1", "memory": "512Mi"},
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

/// Creates the collector pod on the target's node and waits until it runs, is the pod
/// created and runs the image asked for; returns the guard that deletes it and the
/// container ID to collect.
async fn start(
    client: &Client,
    t: &Target,
    n: &Node,
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
            "{}: runtime of {status_id} is not one cairn reads offline ({})",
            t.name(),
            Runtime::ALL
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    if t.node.is_empty() {
        bail!("{} is not scheduled on a node", t.name());
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &n.namespace);
    let name = super::unique_name("cairn-node");
    let pod: Pod = serde_json::from_value(manifest(&name, t, runtime, n))?;
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
                    t.node, n.namespace
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
    bar.phase(&format!("waiting for pod {name} on node {}", t.node));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let p = api
            .get(&name)
            .await
            .said(|| format!("reading the collector pod {}/{name}", n.namespace))?;
        if let Err(why) = is_ours(&p, &uid, &n.image) {
            Box::new(guard).run().await;
            bail!("the collector pod {}/{name} is not the one cairn created: {why}; not exec'ing into it", n.namespace);
        }
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
                        "the collector pod cannot start ({reason}: {}); the node must be able to pull {} (`cairn image --push REGISTRY/NAME:TAG` puts it in a registry the cluster uses; then pass that name as --collector-image)",
                        w.message.unwrap_or_default(),
                        n.image
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
            crate::janitor::spawn(Guard::delete(c, self.namespace.clone(), self.name.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn the_runtime_decides_what_is_mounted() {
        assert_eq!(super::runtime_of("docker://abc"), Some(("docker", "abc")));
        assert_eq!(
            super::runtime_of("containerd://abc"),
            Some(("containerd", "abc"))
        );
        assert_eq!(super::runtime_of("cri-o://abc"), None);
        let t = crate::targets::Target {
            node: "node-1".into(),
            ..crate::targets::Target::running("shop", "web", "app")
        };
        let n = super::Node {
            image: "img:1".into(),
            namespace: "cairn-system".into(),
            deadline: std::time::Duration::from_secs(1860),
            seccomp: None,
            node_logs: false,
        };
        let m = super::manifest("cairn-node-1", &t, "containerd", &n);
        assert_eq!(m["metadata"]["namespace"], "cairn-system");
        assert_eq!(m["spec"]["nodeName"], "node-1");
        assert_eq!(m["spec"]["activeDeadlineSeconds"], 1860);
        let c = &m["spec"]["containers"][0];
        let mounts = c["volumeMounts"].as_array().unwrap();
        assert_eq!(mounts.len(), 2, "no runtime socket directory: {mounts:?}");
        assert_eq!(mounts[0]["mountPath"], "/node/var/lib/containerd");
        assert_eq!(mounts[1]["mountPath"], "/node/var/log");
        assert!(mounts
            .iter()
            .all(|m| m["readOnly"] == true && m["recursiveReadOnly"] == "Enabled"));
        assert_eq!(m["spec"]["automountServiceAccountToken"], false);
        assert_eq!(
            m["spec"]["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(c["resources"]["limits"]["memory"], "512Mi");
        assert_eq!(
            c["securityContext"]["capabilities"]["add"],
            serde_json::json!(["DAC_READ_SEARCH"])
        );
        assert_eq!(c["command"][3], "1860s");
        let n = super::Node {
            seccomp: Some("profiles/cairn-node.json".into()),
            ..n
        };
        let m = super::manifest("x", &t, "docker", &n);
        assert_eq!(
            m["spec"]["securityContext"]["seccompProfile"],
            serde_json::json!({"type": "Localhost", "localhostProfile": "profiles/cairn-node.json"})
        );
        assert_eq!(
            m["spec"]["volumes"][0]["hostPath"]["path"],
            "/var/lib/docker"
        );
        // --node-logs starts when the kubelet took the pod; a time to come or none
        // falls back to a day ago.
        let t = crate::targets::Target {
            started: Some(1_764_500_000),
            ..t
        };
        assert_eq!(super::logs_since(&t), "2025-11-30T10:53:20Z");
        let t = crate::targets::Target {
            started: Some(i64::MAX / 2),
            ..t
        };
        let since = time::OffsetDateTime::parse(
            &super::logs_since(&t),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let ago = time::OffsetDateTime::now_utc() - since;
        assert!(ago > time::Duration::hours(23) && ago < time::Duration::hours(25));
        // The pod must be the one created, with the image asked for.
        let mut pod: Pod = serde_json::from_value(super::manifest("x", &t, "docker", &n)).unwrap();
        pod.metadata.uid = Some("u1".into());
        assert!(super::is_ours(&pod, "u1", "img:1").is_ok());
        assert!(super::is_ours(&pod, "u2", "img:1").is_err());
        assert!(super::is_ours(&pod, "u1", "other:1").is_err());
    }
}
