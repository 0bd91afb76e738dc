//! Pods made of Docker containers: every running container that carries the labels the
//! kubelet itself puts on containers (`io.kubernetes.pod.namespace`,
//! `io.kubernetes.pod.name`, `io.kubernetes.container.name`) belongs to that pod; its
//! other labels become the pod's labels. `docker ps` runs at every request, so tests
//! see containers as soon as they start; `docker inspect` runs once per container (its
//! labels, image and user never change), which keeps a request cheap with many pods.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::process::Command;

pub const NS_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_LABEL: &str = "io.kubernetes.pod.name";
/// The image a created pod's spec names, when it runs a variant of it.
pub const ASKED_IMAGE_LABEL: &str = "cairn.test/image";
pub const CONTAINER_LABEL: &str = "io.kubernetes.container.name";
/// The ephemeral container's spec as the client sent it, to show it back.
pub const EPHEMERAL_SPEC_LABEL: &str = "cairn.test/ephemeral-spec";
/// Marks an ephemeral container, naming the container whose processes it shares.
pub const EPHEMERAL_TARGET_LABEL: &str = "cairn.test/ephemeral-target";
/// The pod's service account (default: `default`).
pub const SERVICE_ACCOUNT_LABEL: &str = "cairn.test/service-account";
/// The pod's controller, `KIND/NAME` (e.g. `ReplicaSet/web-5c9f`), for ownerReferences.
pub const OWNER_LABEL: &str = "cairn.test/owner";

#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub user: String,
    pub running: bool,
    pub started: String,
    pub created: String,
    /// For an ephemeral container: its targetContainerName.
    pub ephemeral_target: Option<String>,
    /// For an ephemeral container: the spec it was created from.
    pub ephemeral_spec: Option<Value>,
    /// The exit code once ended.
    pub exit_code: i64,
    /// How often Docker restarted it (its restart policy), as restartCount.
    pub restarts: i64,
}

#[derive(Debug, Clone)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub containers: Vec<Container>,
    pub node: String,
    pub service_account: String,
    /// `KIND/NAME` of the pod's controller.
    pub owner: Option<String>,
}

async fn docker(args: &[&str]) -> anyhow::Result<String> {
    let o = Command::new("docker")
        .args(args)
        .output()
        .await
        .context("running docker")?;
    if !o.status.success() {
        bail!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Every pod, sorted by namespace and name.
pub async fn all() -> anyhow::Result<Vec<Pod>> {
    // Simulated pods are served alone: Docker is not asked, so that what a benchmark
    // measures does not depend on what else runs in it.
    if crate::sim::on() {
        return Ok(crate::sim::pods());
    }
    // One `docker ps` per request: running pod containers, and ended ephemeral ones,
    // which stay in their pod, terminated, as on a cluster.
    let listed = docker(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &format!("label={POD_LABEL}"),
        "--format",
        &format!("{{{{.ID}}}}\t{{{{.State}}}}\t{{{{.Label \"{EPHEMERAL_TARGET_LABEL}\"}}}}"),
    ])
    .await;
    let listed = listed?;
    let (mut ids, mut ended) = (Vec::new(), Vec::new());
    for line in listed.lines() {
        let mut f = line.split('\t');
        let (Some(id), Some(state), ephemeral) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        match state {
            "running" => ids.push(id),
            "exited" if ephemeral.is_some_and(|t| !t.is_empty()) => ended.push(id),
            _ => {}
        }
    }
    let mut list = if ids.is_empty() {
        Vec::new()
    } else {
        inspect(&ids).await?
    };
    if !ended.is_empty() {
        let mut args = vec!["inspect"];
        args.extend(&ended);
        if let Ok(text) = docker(&args).await {
            list.extend(serde_json::from_str::<Vec<Value>>(&text).unwrap_or_default());
        }
    }
    let mut pods: BTreeMap<(String, String), Pod> = BTreeMap::new();
    for c in list {
        let labels: BTreeMap<String, String> =
            serde_json::from_value(c["Config"]["Labels"].clone()).unwrap_or_default();
        let (Some(ns), Some(pod), Some(cname)) = (
            labels.get(NS_LABEL),
            labels.get(POD_LABEL),
            labels.get(CONTAINER_LABEL),
        ) else {
            continue;
        };
        // A pod's node is the machine, or its arm64 twin for arm64 images (run through
        // qemu binfmt): the launcher picks each node's collector by its architecture.
        let node = node_for(&image_arch(c["Image"].as_str().unwrap_or_default()).await);
        let entry = pods
            .entry((ns.clone(), pod.clone()))
            .or_insert_with(|| Pod {
                namespace: ns.clone(),
                name: pod.clone(),
                labels: BTreeMap::new(),
                containers: Vec::new(),
                node,
                service_account: "default".into(),
                owner: None,
            });
        for (k, v) in &labels {
            if k == SERVICE_ACCOUNT_LABEL {
                entry.service_account = v.clone();
            } else if k == OWNER_LABEL {
                entry.owner = Some(v.clone());
            } else if !k.starts_with("io.kubernetes.") && !k.starts_with("cairn.test/") {
                entry.labels.insert(k.clone(), v.clone());
            }
        }
        entry.containers.push(Container {
            id: c["Id"].as_str().unwrap_or_default().to_owned(),
            name: cname.clone(),
            // The image the pod asked for, when its node ran another architecture's
            // variant of it (src/kubelet.rs).
            image: labels
                .get(ASKED_IMAGE_LABEL)
                .cloned()
                .unwrap_or_else(|| c["Config"]["Image"].as_str().unwrap_or_default().to_owned()),
            user: c["Config"]["User"].as_str().unwrap_or_default().to_owned(),
            running: c["State"]["Running"].as_bool().unwrap_or(false),
            started: c["State"]["StartedAt"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            created: c["Created"].as_str().unwrap_or_default().to_owned(),
            exit_code: c["State"]["ExitCode"].as_i64().unwrap_or(0),
            restarts: c["RestartCount"].as_i64().unwrap_or(0),
            ephemeral_target: labels.get(EPHEMERAL_TARGET_LABEL).cloned(),
            ephemeral_spec: labels
                .get(EPHEMERAL_SPEC_LABEL)
                .and_then(|s| serde_json::from_str(s).ok()),
        });
    }
    let mut out: Vec<Pod> = pods.into_values().collect();
    for p in &mut out {
        p.containers.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(out)
}

/// `docker inspect` of `ids`, from the cache where known. Only running containers are
/// listed by `docker ps`, so a cached entry is marked running.
async fn inspect(ids: &[&str]) -> anyhow::Result<Vec<Value>> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Value>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let unknown: Vec<&str> = {
        let c = cache.lock().unwrap_or_else(|p| p.into_inner());
        ids.iter()
            .copied()
            .filter(|i| !c.contains_key(*i))
            .collect()
    };
    if !unknown.is_empty() {
        let mut args = vec!["inspect"];
        args.extend(&unknown);
        // A container may go between `ps` and `inspect`: inspect the rest.
        let text = match docker(&args).await {
            Ok(t) => t,
            Err(_) => {
                let mut all = Vec::new();
                for id in &unknown {
                    if let Ok(t) = docker(&["inspect", id]).await {
                        let one: Vec<Value> = serde_json::from_str(&t)?;
                        all.extend(one);
                    }
                }
                serde_json::to_string(&all)?
            }
        };
        let list: Vec<Value> = serde_json::from_str(&text)?;
        let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
        for v in list {
            if let Some(id) = v["Id"].as_str() {
                c.insert(id.to_owned(), v.clone());
            }
        }
    }
    let c = cache.lock().unwrap_or_else(|p| p.into_inner());
    Ok(ids
        .iter()
        .filter_map(|i| c.get(*i).cloned())
        .map(|mut v| {
            v["State"]["Running"] = Value::Bool(true);
            v
        })
        .collect())
}

/// The Kubernetes architecture name of an image (`amd64`, `arm64`), cached.
async fn image_arch(image: &str) -> String {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(a) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(image) {
        return a.clone();
    }
    let arch = docker(&["image", "inspect", "-f", "{{.Architecture}}", image])
        .await
        .map(|a| a.trim().to_owned())
        .unwrap_or_else(|_| "amd64".into());
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(image.to_owned(), arch.clone());
    arch
}

/// The node of the pods of architecture `arch`.
pub fn node_for(arch: &str) -> String {
    match arch {
        "amd64" | "" => hostname(),
        other => format!("{}-{other}", hostname()),
    }
}

/// The nodes there are: this machine, and its arm64 twin.
pub fn node(name: &str) -> Option<serde_json::Value> {
    let arch = ["amd64", "arm64"]
        .into_iter()
        .find(|a| node_for(a) == name)
        .or_else(|| crate::sim::is_node(name).then_some("amd64"))?;
    let machine = if arch == "arm64" { "arm64" } else { "amd64" };
    Some(serde_json::json!({
        "kind": "Node", "apiVersion": "v1",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/arch": arch, "kubernetes.io/os": "linux", "kubernetes.io/hostname": name,
        }},
        "status": {"nodeInfo": {
            "architecture": machine, "operatingSystem": "linux",
            "containerRuntimeVersion": "docker://cairn-test", "kubeletVersion": "v1.31.0-cairn-test",
            "kernelVersion": "", "osImage": "", "machineID": "", "systemUUID": "", "bootID": "",
            "kubeProxyVersion": "",
        }},
    }))
}

/// The images a node holds, as a kubelet reports them in `status.images` (each with
/// its names, tag and digest forms): Docker's images here, at most 50 as the kubelet's
/// default `nodeStatusMaxImages` allows, newest first.
pub async fn node_images() -> Vec<Value> {
    let Ok(o) = Command::new("docker")
        .args([
            "image",
            "ls",
            "--digests",
            "--format",
            "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}",
        ])
        .output()
        .await
    else {
        return Vec::new();
    };
    let mut images: Vec<(String, Vec<String>)> = Vec::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let [repo, tag, digest, id] = f[..] else {
            continue;
        };
        if repo == "<none>" {
            continue;
        }
        let mut names = Vec::new();
        if digest != "<none>" {
            names.push(format!("{repo}@{digest}"));
        }
        if tag != "<none>" {
            names.push(format!("{repo}:{tag}"));
        }
        match images.iter_mut().find(|(i, _)| i == id) {
            Some((_, n)) => n.extend(names),
            None => images.push((id.to_owned(), names)),
        }
    }
    images
        .into_iter()
        .take(50)
        .map(|(_, names)| json!({"names": names, "sizeBytes": 0}))
        .collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "node".into())
}

/// Kubernetes timestamps have whole seconds.
fn k8s_time(docker_time: &str) -> String {
    match docker_time.split_once('.') {
        Some((secs, _)) => format!("{secs}Z"),
        None => docker_time.to_owned(),
    }
}

/// A `matchLabels`-style selector: `k=v,k2=v2`, `k!=v`, or `k` (exists).
pub fn matches(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                labels.get(k.trim()).map(String::as_str) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once('=') {
                let v = v.trim_start_matches('=');
                labels.get(k.trim()).map(String::as_str) == Some(v.trim())
            } else {
                labels.contains_key(term)
            }
        })
}

impl Pod {
    /// A UID that changes when a pod of the same name is created anew, as a real API
    /// server's does: from the name and the Docker IDs of its containers.
    pub fn uid(&self) -> String {
        use sha2::Digest;
        let first = self.regular().map(|c| c.id.as_str()).min().unwrap_or("");
        let d = sha2::Sha256::digest(format!("{}/{}/{first}", self.namespace, self.name));
        let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    pub fn running(&self) -> bool {
        self.regular().all(|c| c.running)
    }

    /// The pod's own containers (spec.containers), ephemeral ones left out.
    pub fn regular(&self) -> impl Iterator<Item = &Container> {
        self.containers
            .iter()
            .filter(|c| c.ephemeral_target.is_none())
    }

    pub fn to_json(&self) -> Value {
        let created = self
            .containers
            .iter()
            .map(|c| k8s_time(&c.created))
            .min()
            .unwrap_or_default();
        let containers: Vec<Value> = self
            .regular()
            .map(|c| {
                let mut v = json!({"name": c.name, "image": c.image});
                if let Some(uid) = c.user.split(':').next().and_then(|u| u.parse::<i64>().ok()) {
                    v["securityContext"] = json!({"runAsUser": uid});
                }
                v
            })
            .collect();
        let status_of = |c: &Container| {
            json!({
                "name": c.name,
                "image": c.image,
                "imageID": "",
                "containerID": format!("docker://{}", c.id),
                "ready": c.running,
                "started": c.running,
                "restartCount": c.restarts,
                "lastState": if c.restarts > 0 {
                    json!({"terminated": {"exitCode": 1, "reason": "Error"}})
                } else {
                    json!({})
                },
                "state": if c.running {
                    json!({"running": {"startedAt": k8s_time(&c.started)}})
                } else {
                    json!({"terminated": {
                        "exitCode": c.exit_code,
                        "reason": if c.exit_code == 0 { "Completed" } else { "Error" },
                    }})
                },
            })
        };
        let statuses: Vec<Value> = self.regular().map(status_of).collect();
        let ephemeral: Vec<&Container> = self
            .containers
            .iter()
            .filter(|c| c.ephemeral_target.is_some())
            .collect();
        let ephemeral_specs: Vec<Value> = ephemeral
            .iter()
            .map(|c| {
                let mut v = c.ephemeral_spec.clone().unwrap_or_else(|| json!({}));
                v["name"] = json!(c.name);
                v["image"] = json!(c.image);
                v["targetContainerName"] = json!(c.ephemeral_target);
                v
            })
            .collect();
        let ephemeral_statuses: Vec<Value> = ephemeral.iter().map(|c| status_of(c)).collect();
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "uid": self.uid(),
                "resourceVersion": "1",
                "creationTimestamp": created,
                "labels": self.labels,
                "ownerReferences": self.owner.as_deref().and_then(|o| o.split_once('/')).map(|(kind, name)| {
                    let api_version = match kind {
                        "Job" | "CronJob" => "batch/v1",
                        // A pod's creator may name any object as its owner.
                        "Secret" | "ConfigMap" | "ReplicationController" => "v1",
                        _ => "apps/v1",
                    };
                    json!([{"apiVersion": api_version, "kind": kind, "name": name,
                            "uid": format!("uid-{name}"), "controller": true, "blockOwnerDeletion": true}])
                }).unwrap_or_else(|| json!([])),
            },
            "spec": {
                "containers": containers,
                "ephemeralContainers": ephemeral_specs,
                "nodeName": self.node,
                "serviceAccountName": self.service_account,
                // What the API server's admission adds to every pod: the projected token.
                "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                ]}}],
                "restartPolicy": "Always",
                // Always present on a real API server (defaulted); kubectl debug
                // dereferences it.
                "securityContext": {},
            },
            "status": {
                "phase": if self.running() { "Running" } else { "Pending" },
                "podIP": "",
                "startTime": created,
                "containerStatuses": statuses,
                "ephemeralContainerStatuses": ephemeral_statuses,
            },
        })
    }

    /// The row `kubectl get pods` prints, for the server-side Table.
    pub fn table_row(&self) -> Value {
        let ready = self.regular().filter(|c| c.running).count();
        let mut partial = self.to_json();
        partial["kind"] = json!("PartialObjectMetadata");
        partial["apiVersion"] = json!("meta.k8s.io/v1");
        let metadata = partial["metadata"].clone();
        json!({
            "cells": [
                self.name,
                format!("{ready}/{}", self.regular().count()),
                if self.running() { "Running" } else { "Pending" },
                self.regular().map(|c| c.restarts).sum::<i64>(),
                "<unknown>",
            ],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata},
        })
    }
}

pub fn table(pods: &[Pod]) -> Value {
    let col = |name: &str, ty: &str, format: &str| json!({"name": name, "type": ty, "format": format, "description": "", "priority": 0});
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": [
            col("Name", "string", "name"),
            col("Ready", "string", ""),
            col("Status", "string", ""),
            col("Restarts", "integer", ""),
            col("Age", "string", ""),
        ],
        "rows": pods.iter().map(Pod::table_row).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_like_kubernetes_equality_selectors() {
        let l: BTreeMap<String, String> = [("app", "web"), ("tier", "front")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(matches("app=web", &l));
        assert!(matches("app==web,tier=front", &l));
        assert!(matches("app", &l));
        assert!(matches("app!=db", &l));
        assert!(!matches("app=db", &l));
        assert!(!matches("missing", &l));
        assert!(matches("", &l));
    }
}
