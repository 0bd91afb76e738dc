//! The ephemeral-container route, for containers without a shell (distroless): an
//! ephemeral container of the collector image is added to the pod with
//! `targetContainerName`, so it shares the target's PID namespace, and waits (`idle`).
//! The collection is then exec'd into it: the collector finds the target's processes
//! and reads its filesystem through `/proc/PID/root` (`--target-pid auto`).
//!
//! It runs as root with every capability dropped but two, and no privilege escalation:
//! CAP_SYS_PTRACE, which reading another process's `/proc/PID/root`, `environ`, file
//! descriptors and maps needs, and CAP_DAC_READ_SEARCH, which reading the target's
//! files of any owner needs (read only: it grants no write). The runtime's default
//! seccomp profile applies (`RuntimeDefault`), and the collector adds its own filter
//! (`open_by_handle_at`, mounts, namespaces, ptrace, BPF and the like refused: see
//! `collector/src/sandbox.rs`).
//!
//! Kubernetes never removes an ephemeral container: it stays in the pod's spec,
//! terminated once its command ends. cairn ends it after the collection (`idle --stop`),
//! also when the collection is cut off (timeout, Ctrl-C); its idle command ends by
//! itself shortly after `--timeout` whatever happens.

use super::{Cleanup, Env, Place, Route};
use crate::kerror::Said;
use crate::progress::TargetBar;
use crate::rbac::Need;
use crate::targets::Target;
use anyhow::bail;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use std::time::{Duration, Instant};

/// Where the collector image holds the collector (`cairn image`, scripts/build-image.sh).
pub const COLLECTOR_PATH: &str = "/cairn-collector";
/// How long the ephemeral container may take to start (image pull included).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What this route needs in the target's namespace: adding the ephemeral container,
/// and exec into it.
pub const NEEDS: &[Need] = &[
    Need {
        verb: "patch",
        resource: "pods",
        subresource: "ephemeralcontainers",
    },
    crate::rbac::EXEC,
];

pub struct Ephemeral {
    pub image: String,
    /// Whether the target's node can start the image, asked before the container is
    /// added (it could never be removed).
    pub available: crate::image::on_node::Availability,
    /// How long the ephemeral container waits at most: the collection's timeout and a
    /// margin.
    pub idle: Duration,
}

impl Route for Ephemeral {
    fn method(&self) -> &'static str {
        "ephemeral"
    }

    fn needs(&self) -> &'static [Need] {
        NEEDS
    }

    fn prepare<'a>(
        &'a self,
        env: &'a Env<'a>,
        t: &'a Target,
        payload: Option<&'a str>,
        bar: &'a TargetBar,
    ) -> BoxFuture<'a, anyhow::Result<Place>> {
        Box::pin(async move {
            bar.phase("starting an ephemeral container");
            let container = start(env.client, t, self, bar).await?;
            Ok(Place {
                namespace: t.namespace.clone(),
                pod: t.pod.clone(),
                container: container.clone(),
                command: super::image_command(super::target_flags(t)),
                stdin: super::line_payload(payload),
                phase: "collector started".into(),
                cleanup: Some(Box::new(Stop {
                    client: Some(env.client.clone()),
                    namespace: t.namespace.clone(),
                    pod: t.pod.clone(),
                    container,
                })),
            })
        })
    }
}

/// The ephemeral container of `name` for target `t`.
pub fn container(name: &str, t: &Target, e: &Ephemeral) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "image": e.image,
        "imagePullPolicy": "IfNotPresent",
        "targetContainerName": t.container,
        "command": [
            COLLECTOR_PATH,
            cairn_protocol::flags::IDLE,
            cairn_protocol::flags::IDLE_FOR,
            cairn_protocol::duration::format(e.idle),
        ],
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"], "add": ["SYS_PTRACE", "DAC_READ_SEARCH"]},
            // The runtime's default filter at least; the collector adds its own.
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationMessagePolicy": "File",
    })
}

/// Adds the ephemeral container and waits until it runs; returns its name.
async fn start(
    client: &Client,
    t: &Target,
    e: &Ephemeral,
    bar: &TargetBar,
) -> anyhow::Result<String> {
    let image = &e.image;
    let api: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    if !t.node.is_empty() {
        bar.phase("checking the node can start the collector image");
        e.available
            .check(client, &t.node, image)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    let name = super::unique_name("cairn");
    let patch = serde_json::json!({
        "spec": {"ephemeralContainers": [container(&name, t, e)]}
    });
    api.patch_subresource(
        "ephemeralcontainers",
        &t.pod,
        &PatchParams::default(),
        &Patch::Strategic(patch),
    )
    .await
    .said(|| format!("adding an ephemeral container to {}/{}", t.namespace, t.pod))?;
    bar.phase(&format!("waiting for ephemeral container {name}"));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let pod = api
            .get(&t.pod)
            .await
            .said(|| format!("reading pod {}/{}", t.namespace, t.pod))?;
        let status = pod
            .status
            .and_then(|s| s.ephemeral_container_statuses)
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.name == name);
        if let Some(state) = status.and_then(|s| s.state) {
            if state.running.is_some() {
                return Ok(name);
            }
            if let Some(w) = state.waiting {
                let reason = w.reason.unwrap_or_default();
                if matches!(
                    reason.as_str(),
                    "ErrImagePull"
                        | "ImagePullBackOff"
                        | "InvalidImageName"
                        | "CreateContainerError"
                ) {
                    bail!(
                        "the ephemeral container cannot start ({reason}: {}); the node must be able to pull {image}: `cairn image --push REGISTRY/NAME:TAG` puts it in a registry the cluster uses, then pass that name as --collector-image",
                        w.message.unwrap_or_default()
                    );
                }
            }
            if let Some(end) = state.terminated {
                bail!(
                    "the ephemeral container ended at once (exit {}, {})",
                    end.exit_code,
                    end.reason.unwrap_or_default()
                );
            }
        }
        if Instant::now() > deadline {
            bail!(
                "ephemeral container {name} did not start within {} s",
                START_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Ends the ephemeral container's idle command; Kubernetes cannot remove it. When
/// dropped without being run (a collection cut off), it still ends it.
struct Stop {
    /// `None` once the stop has been started.
    client: Option<Client>,
    namespace: String,
    pod: String,
    container: String,
}

impl Stop {
    /// Best effort, at most 10 s: the exec may end with the container it stops, and
    /// runtimes do not always say so.
    fn stop(
        client: Client,
        namespace: String,
        pod: String,
        container: String,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let stop = [
                COLLECTOR_PATH,
                cairn_protocol::flags::IDLE,
                cairn_protocol::flags::IDLE_STOP,
            ];
            let r = crate::exec::run_quiet(
                &client,
                &namespace,
                &pod,
                &container,
                &stop,
                Duration::from_secs(10),
            )
            .await;
            if let Err(e) = r {
                tracing::debug!("idle --stop in {container}: {e}; left to its own timeout");
            }
        })
    }
}

impl Cleanup for Stop {
    fn run(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        match self.client.take() {
            Some(c) => Stop::stop(
                c,
                self.namespace.clone(),
                self.pod.clone(),
                self.container.clone(),
            ),
            None => Box::pin(async {}),
        }
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            crate::janitor::spawn(Stop::stop(
                c,
                self.namespace.clone(),
                self.pod.clone(),
                self.container.clone(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ephemeral_container_has_two_capabilities_and_waits_no_longer_than_the_collection() {
        let t = Target {
            namespace: "shop".into(),
            pod: "web".into(),
            container: "app".into(),
            image: String::new(),
            node: "n1".into(),
            phase: String::new(),
            user: None,
            container_id: None,
            arch: None,
            started: None,
            verdict: crate::targets::Verdict::Distroless,
        };
        let e = Ephemeral {
            image: "img:1".into(),
            available: Default::default(),
            idle: Duration::from_secs(31 * 60),
        };
        let c = container("cairn-1", &t, &e);
        let sc = &c["securityContext"];
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(
            sc["capabilities"]["add"],
            serde_json::json!(["SYS_PTRACE", "DAC_READ_SEARCH"])
        );
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(c["targetContainerName"], "app");
        assert_eq!(c["command"][3], "31m");
    }
}
