//! The sidecar route, and `cairn sidecar --for WORKLOAD`: for clusters where ephemeral
//! containers are not allowed, the patch that gives a workload's pods a collector
//! sidecar ahead of an incident: `shareProcessNamespace: true` and a container of the
//! collector image that waits (`idle`). `cairn collect POD --via sidecar` then execs the
//! collection into it; the collector finds the application's processes in the shared
//! PID namespace and reads its filesystem through `/proc/PID/root`.

use super::{Env, Place, Route};
use crate::rbac::Need;
use crate::targets::Target;
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

/// The sidecar container's name.
pub const CONTAINER: &str = "cairn-collector";

pub struct Sidecar;

impl Route for Sidecar {
    fn needs(&self) -> &'static [Need] {
        std::slice::from_ref(&crate::rbac::EXEC)
    }

    fn method(&self) -> &'static str {
        "sidecar"
    }

    fn prepare<'a>(
        &'a self,
        _env: &'a Env<'a>,
        t: &'a Target,
        payload: Option<&'a str>,
        _bar: &'a crate::progress::TargetBar,
    ) -> BoxFuture<'a, anyhow::Result<Place>> {
        Box::pin(async move {
            Ok(Place {
                namespace: t.namespace.clone(),
                pod: t.pod.clone(),
                container: CONTAINER.to_owned(),
                command: super::image_command(super::target_flags(t)),
                stdin: super::line_payload(payload),
                phase: "collector started".into(),
                cleanup: None,
            })
        })
    }
}

/// The strategic-merge patch for a pod-template workload.
pub fn patch(image: &str) -> Value {
    json!({
        "spec": {"template": {"spec": {
            "shareProcessNamespace": true,
            "containers": [{
                "name": CONTAINER,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": [super::ephemeral::COLLECTOR_PATH, "idle", "--for", "87600h"],
                "securityContext": {
                    "runAsUser": 0,
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"], "add": ["SYS_PTRACE", "DAC_READ_SEARCH"]},
                },
                "resources": {
                    "requests": {"cpu": "1m", "memory": "8Mi"},
                    "limits": {"memory": "256Mi"},
                },
            }],
        }}}
    })
}

/// `KIND/NAME` (deployment by default) as kubectl names it.
pub fn workload(arg: &str) -> anyhow::Result<(String, String)> {
    let (kind, name) = match arg.split_once('/') {
        Some((k, n)) => (k.to_lowercase(), n.to_owned()),
        None => ("deployment".to_owned(), arg.to_owned()),
    };
    let kind = match kind.as_str() {
        "deployment" | "deploy" | "deployments" => "deployment",
        "statefulset" | "sts" | "statefulsets" => "statefulset",
        "daemonset" | "ds" | "daemonsets" => "daemonset",
        "replicaset" | "rs" | "replicasets" => "replicaset",
        other => anyhow::bail!(
            "--for {arg}: {other} has no pod template to patch (deployment, statefulset, daemonset or replicaset)"
        ),
    };
    if name.is_empty() {
        anyhow::bail!("--for {arg}: no name");
    }
    Ok((kind.to_owned(), name))
}

/// What `cairn sidecar` prints: the patch, with how to apply and use it as comments
/// kubectl ignores (`--patch-file` takes YAML, and JSON is YAML).
pub fn render(kind: &str, name: &str, namespace: &str, image: &str) -> String {
    let body = serde_json::to_string_pretty(&patch(image)).unwrap_or_default();
    format!(
        "# cairn collector sidecar for {kind}/{name} in namespace {namespace}.
# Apply (the pods restart once with the sidecar):
#   kubectl -n {namespace} patch {kind} {name} --patch-file cairn-sidecar.yaml
# Collect from a pod of it when needed (no shell needed in the application):
#   cairn -n {namespace} collect POD/CONTAINER --via sidecar --output-dir evidence/
# The sidecar waits doing nothing (cairn-collector idle); it shares the pod's PID
# namespace (shareProcessNamespace), and reads the application's files through
# /proc/PID/root, which needs CAP_SYS_PTRACE. Remove it with a patch deleting the
# container, or by reverting the {kind}.
{body}
"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn workloads_are_named_as_kubectl_names_them() {
        assert_eq!(
            super::workload("web").unwrap(),
            ("deployment".into(), "web".into())
        );
        assert_eq!(
            super::workload("sts/db").unwrap(),
            ("statefulset".into(), "db".into())
        );
        assert!(super::workload("service/web").is_err());
        assert!(super::workload("deployment/").is_err());
        let p = super::patch("r/cairn-collector:1");
        let spec = &p["spec"]["template"]["spec"];
        assert_eq!(spec["shareProcessNamespace"], true);
        assert_eq!(spec["containers"][0]["name"], super::CONTAINER);
        assert_eq!(spec["containers"][0]["command"][1], "idle");
    }
}
