//! Which containers to collect from: pods listed by namespace and label selector, system
//! namespaces hidden unless asked for, `POD[/CONTAINER]` arguments resolved, and a
//! verdict per container: exec-able, distroless (by image name) or not running.

use crate::collector::Arch;
use cairn_archive::records::k8s::TargetInfo;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use kube::Client;
use serde_json::Value;

/// Namespaces that hold the cluster's own machinery, hidden by default.
pub const SYSTEM_NAMESPACES: &[&str] = &[
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "gke-gmp-system",
    "aks-command",
    "gmp-system",
    "calico-system",
    "tigera-operator",
];

/// Image name prefixes of images without a shell.
const DISTROLESS: &[&str] = &[
    "gcr.io/distroless/",
    "cgr.dev/chainguard/",
    "registry.k8s.io/pause",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Exec,
    Distroless,
    NotRunning,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Exec => "exec-able",
            Verdict::Distroless => "distroless",
            Verdict::NotRunning => "not running",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub image: String,
    pub node: String,
    pub phase: String,
    /// runAsUser of the container, else of the pod, when set.
    pub user: Option<i64>,
    /// The runtime's container ID as containerStatuses give it (`docker://ID`).
    pub container_id: Option<String>,
    pub verdict: Verdict,
    /// Its node's CPU architecture, when the node could be read.
    pub arch: Option<Arch>,
    /// When the kubelet took the pod (`status.startTime`, epoch seconds).
    pub started: Option<i64>,
}

impl Target {
    /// The target as the Kubernetes evidence's summary names it.
    pub fn info(&self) -> TargetInfo {
        TargetInfo {
            namespace: self.namespace.clone(),
            pod: self.pod.clone(),
            container: self.container.clone(),
            image: self.image.clone(),
            node: self.node.clone(),
            phase: self.phase.clone(),
            run_as_user: self.user,
            verdict: self.verdict.name().to_owned(),
            arch: self.arch.map(|a| a.k8s().to_owned()),
        }
    }

    /// The target as `cairn pods -o json` lists it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.info()).unwrap_or_default()
    }

    pub fn name(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.pod, self.container)
    }
}

fn distroless_image(image: &str) -> bool {
    let i = image.trim_start_matches("docker.io/");
    DISTROLESS.iter().any(|p| i.starts_with(p)) || i.contains("/distroless")
}

/// Every container of a pod, with its verdict.
pub fn containers(pod: &Pod) -> Vec<Target> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_default();
    let pod_user = spec.security_context.as_ref().and_then(|s| s.run_as_user);
    let status_start = status.start_time.as_ref().map(|t| t.0.as_second());
    let statuses = status.container_statuses.unwrap_or_default();
    spec.containers
        .iter()
        .map(|c| {
            let status = statuses.iter().find(|s| s.name == c.name);
            let running = status
                .and_then(|s| s.state.as_ref())
                .is_some_and(|s| s.running.is_some());
            let container_id = status.and_then(|s| s.container_id.clone());
            let image = c.image.clone().unwrap_or_default();
            let verdict = if !running {
                Verdict::NotRunning
            } else if distroless_image(&image) {
                Verdict::Distroless
            } else {
                Verdict::Exec
            };
            Target {
                namespace: ns.clone(),
                pod: name.clone(),
                container: c.name.clone(),
                image,
                node: spec.node_name.clone().unwrap_or_default(),
                phase: phase.clone(),
                user: c
                    .security_context
                    .as_ref()
                    .and_then(|s| s.run_as_user)
                    .or(pod_user),
                container_id,
                verdict,
                arch: None,
                started: status_start,
            }
        })
        .collect()
}

/// A node's CPU architecture: its `kubernetes.io/arch` label, else what its kubelet
/// reports.
fn arch_of(node: &Node) -> Option<Arch> {
    let label = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/arch"));
    let reported = node
        .status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| &i.architecture);
    label.or(reported).and_then(|a| Arch::parse(a))
}

/// Sets each target's `arch` from its node, reading each node once. Without the right
/// to read nodes (a cluster-scoped `get`), the architectures stay unknown: the
/// collector chosen is then the x86_64 one, and the bootstrap refuses it on another
/// architecture with a message that says so.
pub async fn attach_arch(client: &Client, targets: &mut [Target]) {
    let api: Api<Node> = Api::all(client.clone());
    let mut known: std::collections::BTreeMap<String, Option<Arch>> = Default::default();
    let mut warned = false;
    for t in targets.iter_mut() {
        if t.node.is_empty() {
            continue;
        }
        if !known.contains_key(&t.node) {
            let arch = match api.get(&t.node).await {
                Ok(n) => arch_of(&n),
                Err(e) => {
                    if !warned {
                        tracing::warn!("cannot read node {} ({e}): the collector for its targets is chosen without knowing their architecture", t.node);
                        warned = true;
                    }
                    None
                }
            };
            known.insert(t.node.clone(), arch);
        }
        t.arch = known.get(&t.node).copied().flatten();
    }
}

/// Pods asked of the API server at once: a list of many thousand pods is read a page at
/// a time, each page turned into targets and let go, so memory does not grow with the
/// cluster's pods (10,000 pods listed whole took 170 MiB).
const LIST_PAGE: u32 = 500;

/// The containers of the pods in `namespace` (all when `None`) matching `selector`,
/// system namespaces dropped unless `include_system` or named explicitly.
pub async fn list(
    client: &Client,
    namespace: Option<&str>,
    selector: Option<&str>,
    include_system: bool,
) -> anyhow::Result<Vec<Target>> {
    let api: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut lp = ListParams::default().limit(LIST_PAGE);
    if let Some(s) = selector {
        lp = lp.labels(s);
    }
    let where_ = namespace.map_or("all namespaces".to_owned(), |n| format!("namespace {n}"));
    let mut found = Vec::new();
    loop {
        let page = api.list(&lp).await.map_err(|e| {
            anyhow::anyhow!(crate::kerror::say(&format!("listing pods in {where_}"), &e))
        })?;
        found.extend(
            page.items
                .iter()
                .filter(|p| {
                    include_system
                        || namespace.is_some()
                        || !SYSTEM_NAMESPACES
                            .contains(&p.metadata.namespace.as_deref().unwrap_or(""))
                })
                .flat_map(containers),
        );
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => return Ok(found),
        }
    }
}

/// Resolves `POD[/CONTAINER]` (also kubectl's `pod/POD`, and `-c CONTAINER` as
/// `default_container`) in `namespace`, or in every namespace (`None`, `-A`), where the
/// name must then be in exactly one: without a container, the pod's only container, or
/// an error listing them. A name that is not there is answered with the closest ones.
pub async fn resolve(
    client: &Client,
    namespace: Option<&str>,
    arg: &str,
    default_container: Option<&str>,
) -> anyhow::Result<Target> {
    let arg = ["pod/", "pods/", "po/"]
        .iter()
        .find_map(|p| arg.strip_prefix(p))
        .unwrap_or(arg);
    let (pod, container) = match arg.split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (arg, default_container),
    };
    let p = match namespace {
        Some(ns) => {
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            match api.get(pod).await {
                Ok(p) => p,
                Err(e) if crate::kerror::not_found(&e) => {
                    let names: Vec<String> = api
                        .list(&ListParams::default())
                        .await
                        .map(|l| {
                            l.items
                                .into_iter()
                                .filter_map(|p| p.metadata.name)
                                .collect()
                        })
                        .unwrap_or_default();
                    anyhow::bail!("pod {ns}/{pod} not found{} (`cairn -n {ns} pods` lists the pods there; -A looks in every namespace)", mean(pod, &names))
                }
                Err(e) => anyhow::bail!(crate::kerror::say(&format!("getting pod {ns}/{pod}"), &e)),
            }
        }
        None => anywhere(client, pod).await?,
    };
    let namespace = p.metadata.namespace.clone().unwrap_or_default();
    let all = containers(&p);
    let names: Vec<String> = all.iter().map(|t| t.container.clone()).collect();
    match container {
        Some(c) => all.into_iter().find(|t| t.container == c).ok_or_else(|| {
            anyhow::anyhow!(
                "pod {namespace}/{pod} has no container '{c}'{}: its containers are {}",
                mean(c, &names),
                names.join(", ")
            )
        }),
        None if all.len() == 1 => all
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("pod {namespace}/{pod} has no container")),
        None => {
            anyhow::bail!(
                "pod {namespace}/{pod} has {} containers ({}): name one as {pod}/CONTAINER",
                names.len(),
                names.join(", ")
            )
        }
    }
}

/// `; did you mean X?` for the closest of `known` to `name`: fewest edits, a swap of
/// two neighbours counting one (`wbe` is `web`), at most one per four characters plus
/// one; or nothing when none is that close.
fn mean(name: &str, known: &[String]) -> String {
    let most = 1 + name.chars().count() / 4;
    known
        .iter()
        .map(|k| (strsim::osa_distance(name, k), k))
        .filter(|(d, _)| *d <= most)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!("; did you mean {k}?"))
        .unwrap_or_default()
}

/// The one pod called `name` in any namespace.
async fn anywhere(client: &Client, name: &str) -> anyhow::Result<Pod> {
    let api: Api<Pod> = Api::all(client.clone());
    let lp = ListParams::default().fields(&format!("metadata.name={name}"));
    let found: Vec<Pod> = api
        .list(&lp)
        .await
        .map_err(|e| anyhow::anyhow!(crate::kerror::say("listing pods in all namespaces", &e)))?
        .items
        .into_iter()
        .filter(|p| p.metadata.name.as_deref() == Some(name))
        .collect();
    match found.len() {
        0 => anyhow::bail!("no pod named {name} in any namespace"),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        n => {
            let namespaces: Vec<&str> = found
                .iter()
                .filter_map(|p| p.metadata.namespace.as_deref())
                .collect();
            anyhow::bail!(
                "{n} pods are named {name} ({}): choose one with -n NAMESPACE",
                namespaces.join(", ")
            )
        }
    }
}

/// A running container, for tests: nothing known of it beyond its names.
#[cfg(test)]
impl Target {
    pub fn running(namespace: &str, pod: &str, container: &str) -> Target {
        Target {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
            image: String::new(),
            node: String::new(),
            phase: String::new(),
            user: None,
            container_id: None,
            arch: None,
            started: None,
            verdict: Verdict::Exec,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn distroless_images_are_known_by_name() {
        for i in [
            "gcr.io/distroless/static-debian12:nonroot",
            "cgr.dev/chainguard/nginx:latest",
            "docker.io/myorg/distroless-app:1",
        ] {
            assert!(super::distroless_image(i), "{i}");
        }
        for i in ["debian:12", "busybox", "nginx:1.27"] {
            assert!(!super::distroless_image(i), "{i}");
        }
    }

    #[test]
    fn a_close_name_is_suggested_and_a_far_one_is_not() {
        let known = ["web".to_owned(), "api-7d9f".to_owned(), "main".to_owned()];
        assert_eq!(super::mean("wbe", &known), "; did you mean web?");
        assert_eq!(super::mean("mian", &known), "; did you mean main?");
        assert_eq!(super::mean("api-7d9", &known), "; did you mean api-7d9f?");
        assert_eq!(super::mean("db", &known), "");
        assert_eq!(super::mean("x", &[]), "");
    }
}
