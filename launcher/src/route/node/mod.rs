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
//! One pod per node serves every target collected on that node (a sweep: `-A` or a
//! selector over many pods), each target's collection a separate exec into it with
//! its own destination payload on its own stdin, as many at once as `--per-node` and
//! `--concurrency` allow, the pod's CPU and memory limits scaled to that number
//! ([`pool`]); `--pod-per-target` gives each target a pod of its own instead, so that
//! no collection shares a pod's limits with another.
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

mod pod;
pub mod pool;

pub use pod::Spot;
#[cfg(test)]
pub use pod::{is_ours, manifest};

use super::{Env, Place, Route};
use crate::progress::TargetBar;
use crate::rbac::Need;
use crate::targets::Target;
use cairn_protocol::flags;
use futures_util::future::BoxFuture;
use std::time::Duration;

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
    /// How long a collector pod may live: the time its targets may take in all, and a
    /// margin (the kubelet ends it then whatever happens to cairn).
    pub deadline: Duration,
    /// A Localhost seccomp profile (path relative to the kubelet's seccomp directory),
    /// else RuntimeDefault.
    pub seccomp: Option<String>,
    /// `--node-logs`: the kubelet's and the runtime's own logs since the pod started.
    pub node_logs: bool,
    /// Collections at once in one pod (the smaller of `--per-node` and `--concurrency`).
    pub at_once: usize,
    /// `--pod-per-target`: a pod for each target rather than one per node.
    pub pod_per_target: bool,
    /// The run's collector pods.
    pub pool: pool::Pool,
}

impl Node {
    /// The pod that collects `t`: its node and runtime (and the target itself with
    /// `--pod-per-target`).
    pub fn key(&self, t: &Target) -> String {
        let runtime = t
            .container_id
            .as_deref()
            .and_then(|id| pod::runtime_and_id(id).ok())
            .map_or("", |(r, _)| r);
        if self.pod_per_target {
            format!("{}\0{runtime}\0{}", t.node, t.name())
        } else {
            format!("{}\0{runtime}", t.node)
        }
    }
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
            let status_id = t.container_id.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "{} has no container ID in its status (not started?)",
                    t.name()
                )
            })?;
            let (runtime, id) =
                pod::runtime_and_id(status_id).map_err(|e| anyhow::anyhow!("{}: {e}", t.name()))?;
            bar.phase(&format!("joining the collector pod on node {}", t.node));
            let lease = self
                .pool
                .lease(&self.key(t), |targets| async move {
                    bar.phase("starting a collector pod on the node");
                    let spot = Spot {
                        node: &t.node,
                        runtime,
                        targets,
                        at_once: if self.pod_per_target { 1 } else { self.at_once },
                    };
                    pod::start(env.client, &spot, self, bar)
                        .await
                        .map_err(|e| format!("{e:#}"))
                })
                .await
                .map_err(anyhow::Error::msg)?;
            let Some(p) = lease.pod() else {
                anyhow::bail!("no collector pod on node {}", t.node);
            };
            // Another target's collection may have ended it: checked again before exec.
            if !pod::running(env.client, self, &p.name, &p.uid).await? {
                anyhow::bail!(
                    "the collector pod {} on node {} no longer runs",
                    p.name,
                    t.node
                );
            }
            let name = p.name.clone();
            let mut route_flags = vec![
                flags::NODE_ROOT.to_owned(),
                NODE_ROOT.to_owned(),
                flags::CONTAINER.to_owned(),
                id.to_owned(),
            ];
            if self.node_logs {
                route_flags.extend([flags::NODE_LOGS_SINCE.to_owned(), logs_since(t)]);
            }
            Ok(Place {
                namespace: self.namespace.clone(),
                pod: name,
                container: CONTAINER.to_owned(),
                command: super::image_command(route_flags),
                stdin: super::line_payload(payload),
                phase: "collector started".into(),
                cleanup: Some(Box::new(lease)),
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

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn the_runtime_decides_what_is_mounted() {
        let of = |id| super::pod::runtime_and_id(id).ok();
        assert_eq!(of("docker://abc"), Some(("docker", "abc")));
        assert_eq!(of("containerd://abc"), Some(("containerd", "abc")));
        assert_eq!(of("cri-o://abc"), None);
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
            at_once: 4,
            pod_per_target: false,
            pool: Default::default(),
        };
        let spot = |runtime, targets| super::Spot {
            node: "node-1",
            runtime,
            targets,
            at_once: 4,
        };
        let m = super::manifest("cairn-node-1", &spot("containerd", 1), &n);
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
        assert_eq!(c["resources"]["limits"]["cpu"], "1");
        // A pod for 10 targets, 4 at once: limits for 4 collections.
        let shared = super::manifest("x", &spot("containerd", 10), &n);
        let limits = &shared["spec"]["containers"][0]["resources"]["limits"];
        assert_eq!(
            (&limits["cpu"], &limits["memory"]),
            (&"4".into(), &"2048Mi".into())
        );
        assert_eq!(shared["metadata"]["annotations"]["cairn.io/targets"], "10");
        assert_eq!(
            c["securityContext"]["capabilities"]["add"],
            serde_json::json!(["DAC_READ_SEARCH"])
        );
        assert_eq!(c["command"][3], "1860s");
        let n = super::Node {
            seccomp: Some("profiles/cairn-node.json".into()),
            ..n
        };
        let m = super::manifest("x", &spot("docker", 1), &n);
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
        let mut pod: Pod =
            serde_json::from_value(super::manifest("x", &spot("docker", 1), &n)).unwrap();
        pod.metadata.uid = Some("u1".into());
        assert!(super::is_ours(&pod, "u1", "img:1").is_ok());
        assert!(super::is_ours(&pod, "u2", "img:1").is_err());
        assert!(super::is_ours(&pod, "u1", "other:1").is_err());
    }
}
