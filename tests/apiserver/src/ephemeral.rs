//! The `ephemeralcontainers` subresource: `PATCH .../pods/NAME/ephemeralcontainers` (a
//! strategic-merge or JSON merge patch of `spec.ephemeralContainers`, as `kubectl debug`
//! and cairn send) starts each new ephemeral container as a Docker container in the
//! target container's PID and network namespaces (`--pid container:ID`, `--network
//! container:ID`), with the capabilities and user its securityContext asks for. It then
//! belongs to the pod through the kubelet labels, shows under `spec.ephemeralContainers`
//! and `status.ephemeralContainerStatuses`, and takes `pods/exec` like any container.

use crate::pods::{self, Pod};
use crate::run_args;
use serde_json::{json, Value};
use tokio::process::Command;

/// Why a patch was refused: the HTTP code, the reason and the message of a Status.
pub type Refusal = (u16, &'static str, String);

/// Adds the ephemeral containers of `patch` that `pod` lacks.
pub async fn apply(pod: &Pod, patch: &Value) -> Result<(), Refusal> {
    let wanted = patch["spec"]["ephemeralContainers"].as_array().ok_or((
        422,
        "Invalid",
        "the patch has no spec.ephemeralContainers".to_owned(),
    ))?;
    for ec in wanted {
        let name = ec["name"].as_str().filter(|n| !n.is_empty()).ok_or((
            422,
            "Invalid",
            "spec.ephemeralContainers[].name: Required value".to_owned(),
        ))?;
        if pod.containers.iter().any(|c| c.name == name) {
            continue;
        }
        let image = ec["image"].as_str().filter(|i| !i.is_empty()).ok_or((
            422,
            "Invalid",
            format!("spec.ephemeralContainers[{name}].image: Required value"),
        ))?;
        let target_name = ec["targetContainerName"].as_str().unwrap_or_default();
        let target = pod
            .regular()
            .find(|c| c.name == target_name)
            .or_else(|| if target_name.is_empty() { pod.regular().next() } else { None })
            .ok_or((
                422,
                "Invalid",
                format!("Pod \"{}\" is invalid: spec.ephemeralContainers[0].targetContainerName: Not found: \"{target_name}\"", pod.name),
            ))?;
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--pid".into(),
            format!("container:{}", target.id),
            "--network".into(),
            format!("container:{}", target.id),
            "--label".into(),
            format!("{}={}", pods::NS_LABEL, pod.namespace),
            "--label".into(),
            format!("{}={}", pods::POD_LABEL, pod.name),
            "--label".into(),
            format!("{}={name}", pods::CONTAINER_LABEL),
            "--label".into(),
            format!("{}={}", pods::EPHEMERAL_TARGET_LABEL, target.name),
            "--label".into(),
            format!("{}={ec}", pods::EPHEMERAL_SPEC_LABEL),
        ];
        args.extend(run_args::security(&ec["securityContext"]).map_err(|m| (422, "Invalid", m))?);
        if ec["stdin"] == true {
            args.push("-i".into());
        }
        args.extend(run_args::image_and_command(ec, image));
        let o = Command::new("docker")
            .args(&args)
            .output()
            .await
            .map_err(|e| (500, "InternalError", format!("docker: {e}")))?;
        if !o.status.success() {
            return Err((
                500,
                "InternalError",
                format!(
                    "starting ephemeral container {name}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            ));
        }
        tracing::info!(pod = %pod.name, container = %name, target = %target.name, "ephemeral container started");
    }
    Ok(())
}

/// The body answered for a pod after the patch.
pub fn answer(pod: &Pod) -> Value {
    let mut v = pod.to_json();
    v["kind"] = json!("Pod");
    v
}
