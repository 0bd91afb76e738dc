//! The ephemeral-container route, for containers without a shell (distroless): an
//! ephemeral container of the collector image is added to the pod with
//! `targetContainerName`, so it shares the target's PID namespace, and waits (`idle`).
//! The collection is then exec'd into it: the collector finds the target's processes
//! and reads its filesystem through `/proc/PID/root` (`--target-pid auto`). It runs as
//! root with CAP_SYS_PTRACE, which reading another process's root needs.
//!
//! Kubernetes never removes an ephemeral container: it stays in the pod's spec,
//! terminated once its command ends. cairn ends it after the collection (`idle --stop`),
//! and it ends by itself after `--timeout` otherwise.

use super::{Cleanup, Env, Place, Route};
use crate::progress::TargetBar;
use crate::rbac::Need;
use crate::targets::Target;
use anyhow::{bail, Context};
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use std::time::{Duration, Instant};

/// Where the collector image holds the collector (scripts/build-image.sh).
pub const COLLECTOR_PATH: &str = "/cairn-collector";
/// How long the ephemeral container may take to start (image pull included).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What this route needs besides exec.
pub const NEEDS: &[Need] = &[Need {
    verb: "patch",
    resource: "pods",
    subresource: "ephemeralcontainers",
}];

pub struct Ephemeral {
    pub image: String,
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
            let container = start(env.client, t, &self.image, bar).await?;
            Ok(Place {
                pod: t.pod.clone(),
                container: container.clone(),
                command: super::image_command(super::target_flags(t)),
                stdin: super::line_payload(payload),
                phase: "collector started".into(),
                cleanup: Some(Box::new(Stop {
                    client: env.client.clone(),
                    namespace: t.namespace.clone(),
                    pod: t.pod.clone(),
                    container,
                })),
            })
        })
    }
}

/// Adds the ephemeral container and waits until it runs; returns its name.
async fn start(
    client: &Client,
    t: &Target,
    image: &str,
    bar: &TargetBar,
) -> anyhow::Result<String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let name = super::unique_name("cairn");
    let patch = serde_json::json!({
        "spec": {"ephemeralContainers": [{
            "name": name,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "targetContainerName": t.container,
            "command": [COLLECTOR_PATH, "idle", "--for", "2h"],
            "securityContext": {
                "runAsUser": 0,
                "capabilities": {"add": ["SYS_PTRACE"]},
            },
            "terminationMessagePolicy": "File",
        }]}
    });
    api.patch_subresource(
        "ephemeralcontainers",
        &t.pod,
        &PatchParams::default(),
        &Patch::Strategic(patch),
    )
    .await
    .with_context(|| format!("adding an ephemeral container to {}/{}", t.namespace, t.pod))?;
    bar.phase(&format!("waiting for ephemeral container {name}"));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let pod = api.get(&t.pod).await?;
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
                        "the ephemeral container cannot start ({reason}: {}); the node must be able to pull {image}: build it with scripts/build-image.sh and push it to a registry the cluster uses, then pass --collector-image",
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

/// Ends the ephemeral container's idle command; Kubernetes cannot remove it.
struct Stop {
    client: Client,
    namespace: String,
    pod: String,
    container: String,
}

impl Cleanup for Stop {
    /// Best effort, at most 10 s: the exec may end with the container it stops, and
    /// runtimes do not always say so.
    fn run(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let stop = [
                COLLECTOR_PATH,
                cairn_protocol::flags::IDLE,
                cairn_protocol::flags::IDLE_STOP,
            ];
            let r = crate::exec::run_quiet(
                &self.client,
                &self.namespace,
                &self.pod,
                &self.container,
                &stop,
                Duration::from_secs(10),
            )
            .await;
            if let Err(e) = r {
                tracing::debug!(
                    "idle --stop in {}: {e}; left to its own timeout",
                    self.container
                );
            }
        })
    }
}
