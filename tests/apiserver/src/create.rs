//! Creating and deleting pods, as much as cairn's node route needs: `POST .../pods` runs
//! the pod's containers with Docker, labelled as the kubelet labels them (so the pod is
//! listed like any other), with each `hostPath` volume bind-mounted where its
//! `volumeMount` says (read-only when asked; `--host-path-map` moves a node directory
//! the test bed lacks) and the securityContext's user and
//! capabilities, on Docker's bridge network as a kubelet puts pods on the pod network.
//! `nodeName` picks the image's variant for that node's architecture (the machine, or
//! its arm64 twin). `DELETE
//! .../pods/NAME` removes the pod's containers.

use crate::kubelet;
use crate::pods;
use crate::run_args;
use serde_json::Value;
use tokio::process::Command;

/// Why a pod was refused: HTTP code, reason, message.
pub type Refusal = (u16, &'static str, String);

fn invalid(m: String) -> Refusal {
    (422, "Invalid", m)
}

/// Starts the containers of `pod` (a Pod object) in namespace `ns`; returns its name.
pub async fn create(ns: &str, pod: &Value, state: &crate::State) -> Result<String, Refusal> {
    if let Some(simulated) = crate::sim::create(ns, pod) {
        return simulated;
    }
    let name = pod["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("metadata.name: Required value".into()))?
        .to_owned();
    if pods::all()
        .await
        .map_err(|e| (500, "InternalError", e.to_string()))?
        .iter()
        .any(|p| p.namespace == ns && p.name == name)
    {
        return Err((
            409,
            "AlreadyExists",
            format!("pods \"{name}\" already exists"),
        ));
    }
    let spec = &pod["spec"];
    let containers = spec["containers"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid("spec.containers: Required value".into()))?;
    for c in containers {
        let cname = c["name"]
            .as_str()
            .ok_or_else(|| invalid("spec.containers[].name: Required value".into()))?;
        let image = c["image"]
            .as_str()
            .ok_or_else(|| invalid(format!("spec.containers[{cname}].image: Required value")))?;
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            // The pod network a kubelet gives every pod: Docker's bridge, from which a
            // store on this host is reached at the bridge's gateway.
            "--label".into(),
            format!("{}={ns}", pods::NS_LABEL),
            "--label".into(),
            format!("{}={name}", pods::POD_LABEL),
            "--label".into(),
            format!("{}={cname}", pods::CONTAINER_LABEL),
        ];
        for (k, v) in pod["metadata"]["labels"].as_object().into_iter().flatten() {
            args.extend([
                "--label".into(),
                format!("{k}={}", v.as_str().unwrap_or_default()),
            ]);
        }
        args.extend(kubelet::run_args(state, ns, pod, c).map_err(invalid)?);
        let (image, platform) = kubelet::resolve(image, spec["nodeName"].as_str()).await;
        args.extend(platform);
        args.extend(run_args::image_and_command(c, &image));
        let o = Command::new("docker")
            .args(&args)
            .output()
            .await
            .map_err(|e| (500, "InternalError", format!("docker: {e}")))?;
        if !o.status.success() {
            delete(ns, &name, state).await;
            return Err((
                500,
                "InternalError",
                format!(
                    "starting {name}/{cname}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            ));
        }
    }
    // The spec as asked for, for tests that check what cairn asks of the cluster.
    tracing::info!(pod = %name, namespace = %ns, "pod created: spec {}", pod["spec"]);
    Ok(name)
}

/// Removes every container of pod `ns/name`; returns how many.
pub async fn delete(ns: &str, name: &str, state: &crate::State) -> usize {
    kubelet::forget(state.in_cluster.as_ref(), ns, name);
    if let Some(n) = crate::sim::delete(ns, name) {
        return n;
    }
    let Ok(o) = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label={}={ns}", pods::NS_LABEL),
            "--filter",
            &format!("label={}={name}", pods::POD_LABEL),
        ])
        .output()
        .await
    else {
        return 0;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !ids.is_empty() {
        let mut args = vec!["rm".to_owned(), "-f".to_owned()];
        args.extend(ids.iter().cloned());
        let _ = Command::new("docker").args(&args).output().await;
    }
    tracing::info!(pod = %name, namespace = %ns, containers = ids.len(), "pod deleted");
    ids.len()
}
