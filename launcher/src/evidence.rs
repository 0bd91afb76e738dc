//! What the cluster knows about a target, beside what the collector found inside it:
//! the pod's object and its containers' logs (the previous run's too, where a container
//! restarted), its owner chain, its events, its node, its service account and what that
//! account may do (the RBAC bindings naming it and their rules), the network policies
//! that select it, and the names (never the values) of the Secrets and ConfigMaps it
//! uses with its token's audience and lifetime. Read with the responder's credentials
//! and written into `NAME.k8s.tar.zst` beside the collection's archive, in the
//! collector's format, so `cairn-collector verify` checks it. A read the cluster
//! refuses is recorded there (the manifest and the log), never a silent gap.

use crate::targets::Target;
use cairn_collector::archive::bundle::Bundle;
use kube::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What is read, and how much.
#[derive(Debug, Clone)]
pub struct Options {
    /// The most bytes kept of one container log.
    pub max_log: u64,
    /// `--case` and `--examiner`, for its summary.
    pub case: Option<String>,
    pub examiner: Option<String>,
}

/// The written archive.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    /// Reads the cluster refused or failed.
    pub refused: u64,
    /// Where a store holds it, once uploaded (the local file is then removed).
    pub stored: Option<String>,
    /// Why the store did not take it (the file stays at `path`).
    pub not_stored: Option<String>,
    /// How long reading and writing it took, in milliseconds.
    pub ms: u64,
}

impl Written {
    /// Where the archive is: the store's object, or the local file.
    pub fn location(&self) -> String {
        self.stored
            .clone()
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// Reads, and records what could not be read.
struct Reader<'a> {
    client: &'a Client,
    bundle: Bundle,
    refused: u64,
}

impl Reader<'_> {
    /// GET `path`; the text, or `None` once the refusal is recorded under `name`.
    async fn get(&mut self, name: &str, path: &str) -> Option<String> {
        let req = match http::Request::get(path).body(Vec::new()) {
            Ok(r) => r,
            Err(e) => {
                self.refuse(path, false, &format!("{name}: {e}"));
                return None;
            }
        };
        match self.client.request_text(req).await {
            Ok(t) => Some(t),
            Err(e) => {
                let denied = matches!(&e, kube::Error::Api(r) if r.code == 403);
                let why = crate::kerror::say(&format!("reading {path}"), &e);
                self.refuse(path, denied, &why);
                None
            }
        }
    }

    fn refuse(&mut self, source: &str, denied: bool, why: &str) {
        self.refused += 1;
        if let Err(e) = self.bundle.refused(source, denied, why, "kubernetes") {
            tracing::warn!("recording a refusal: {e}");
        }
    }

    /// GET a JSON document; stores it at `name` (pretty) when `name` is given.
    async fn json(&mut self, name: Option<&str>, path: &str) -> Option<Value> {
        let text = self.get(name.unwrap_or(path), path).await?;
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                self.refuse(path, false, &format!("the answer is not JSON: {e}"));
                return None;
            }
        };
        if let Some(n) = name {
            self.store(n, path, &v);
        }
        Some(v)
    }

    fn store(&mut self, name: &str, source: &str, v: &Value) {
        let mut text = serde_json::to_vec_pretty(v).unwrap_or_default();
        text.push(b'\n');
        self.add(name, source, &text);
    }

    fn add(&mut self, name: &str, source: &str, data: &[u8]) {
        if let Err(e) = self.bundle.add(name, source, data, "kubernetes") {
            tracing::warn!("adding {name}: {e}");
        }
    }
}

/// Reads what the cluster knows about `t` and writes it to `path`.
pub async fn write(
    client: &Client,
    t: &Target,
    path: &Path,
    o: &Options,
) -> anyhow::Result<Written> {
    let started = std::time::Instant::now();
    let bundle = Bundle::create(path)?;
    let mut r = Reader {
        client,
        bundle,
        refused: 0,
    };
    let (ns, name) = (t.namespace.as_str(), t.pod.as_str());
    let pod_path = format!("/api/v1/namespaces/{ns}/pods/{name}");
    if let Some(pod) = r.json(Some("k8s/pod.json"), &pod_path).await {
        logs(&mut r, &pod, &pod_path, o.max_log).await;
        owners(&mut r, &pod, ns).await;
        let sa = pod["spec"]["serviceAccountName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_owned();
        r.json(
            Some("k8s/serviceaccount.json"),
            &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}"),
        )
        .await;
        rbac(&mut r, ns, &sa).await;
        network_policies(&mut r, &pod, ns).await;
        r.store("k8s/references.json", &pod_path, &references(&pod));
    }
    let selector = format!("involvedObject.name%3D{name}");
    r.json(
        Some("k8s/events.json"),
        &format!("/api/v1/namespaces/{ns}/events?fieldSelector={selector}"),
    )
    .await;
    if !t.node.is_empty() {
        r.json(Some("k8s/node.json"), &format!("/api/v1/nodes/{}", t.node))
            .await;
    }
    let refused = r.refused;
    let delivered = r.bundle.finish(json!({
        "kind": "kubernetes evidence",
        "target": t.to_json(),
        "case": {"id": o.case, "examiner": o.examiner},
    }))?;
    Ok(Written {
        path: path.to_path_buf(),
        sha256: delivered.sha256,
        bytes: delivered.bytes,
        refused,
        stored: None,
        not_stored: None,
        ms: started.elapsed().as_millis() as u64,
    })
}

/// Every container's log, and the previous run's where it restarted, each kept up to
/// `max_log` bytes (the cut is recorded).
async fn logs(r: &mut Reader<'_>, pod: &Value, pod_path: &str, max_log: u64) {
    let restarts = |c: &str| {
        ["containerStatuses", "initContainerStatuses"]
            .iter()
            .flat_map(|k| pod["status"][k].as_array().cloned().unwrap_or_default())
            .find(|s| s["name"] == c)
            .and_then(|s| s["restartCount"].as_i64())
            .unwrap_or(0)
    };
    let names: Vec<String> = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod["spec"][k].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    for c in names {
        let mut runs = vec![false];
        if restarts(&c) > 0 {
            runs.push(true);
        }
        for previous in runs {
            let file = if previous {
                format!("logs/{}.previous.log", safe(&c))
            } else {
                format!("logs/{}.log", safe(&c))
            };
            let path = format!(
                "{pod_path}/log?container={c}&timestamps=true&limitBytes={}{}",
                max_log + 1,
                if previous { "&previous=true" } else { "" }
            );
            let Some(text) = r.get(&file, &path).await else {
                continue;
            };
            let mut bytes = text.into_bytes();
            if bytes.len() as u64 > max_log {
                bytes.truncate(max_log as usize);
                r.bundle.cut(
                    "kubernetes",
                    &format!("{file} kept up to --max-log-size ({max_log} bytes)"),
                );
            }
            r.add(&file, &path, &bytes);
        }
    }
}

/// A container name as a file name.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The API path of an owner reference (`apps/v1` ReplicaSet `web` → `.../replicasets/web`).
/// The controllers followed up an owner chain: (apiVersion, kind, resource). A pod's
/// ownerReferences are written by whoever made the pod, so following any kind would
/// read with the responder's credentials whatever they name (a Secret, with its
/// values) into the evidence.
const OWNER_KINDS: &[(&str, &str, &str)] = &[
    ("apps/v1", "ReplicaSet", "replicasets"),
    ("apps/v1", "Deployment", "deployments"),
    ("apps/v1", "StatefulSet", "statefulsets"),
    ("apps/v1", "DaemonSet", "daemonsets"),
    ("batch/v1", "Job", "jobs"),
    ("batch/v1", "CronJob", "cronjobs"),
    ("v1", "ReplicationController", "replicationcontrollers"),
];

/// The API path of an owner reference in `ns`, or why it is not followed.
fn owner_path(ns: &str, owner: &Value) -> Result<String, String> {
    let api_version = owner["apiVersion"].as_str().unwrap_or_default();
    let kind = owner["kind"].as_str().unwrap_or_default();
    let name = owner["name"].as_str().unwrap_or_default();
    let Some((_, _, resource)) = OWNER_KINDS
        .iter()
        .find(|(a, k, _)| *a == api_version && *k == kind)
    else {
        return Err(format!(
            "not a controller cairn follows (only {})",
            OWNER_KINDS
                .iter()
                .map(|(_, k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if !object_name(name) {
        return Err("the name is not a Kubernetes object name".into());
    }
    let prefix = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    Ok(format!("{prefix}/namespaces/{ns}/{resource}/{name}"))
}

/// A DNS subdomain (RFC 1123), as Kubernetes object names are: nothing that could
/// change the path it goes into.
fn object_name(name: &str) -> bool {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b.iter().all(|&c| ok(c) || c == b'-' || c == b'.')
        && b.first().copied().is_some_and(ok)
        && b.last().copied().is_some_and(ok)
}

/// The chain of controllers: ReplicaSet → Deployment, Job → CronJob, StatefulSet,
/// DaemonSet (four levels at most).
async fn owners(r: &mut Reader<'_>, pod: &Value, ns: &str) {
    let mut chain = Vec::new();
    let mut refs = pod["metadata"]["ownerReferences"].clone();
    for _ in 0..4 {
        let Some(owner) = refs
            .as_array()
            .and_then(|a| a.iter().find(|o| o["controller"] == true).or(a.first()))
            .cloned()
        else {
            break;
        };
        let path = match owner_path(ns, &owner) {
            Ok(p) => p,
            Err(why) => {
                r.bundle.note(
                    cairn_protocol::Level::Warn,
                    "kubernetes",
                    &format!("owner reference not followed: {why}"),
                );
                chain.push(json!({"not_followed": owner, "why": why}));
                break;
            }
        };
        match r.json(None, &path).await {
            Some(obj) => {
                refs = obj["metadata"]["ownerReferences"].clone();
                chain.push(obj);
            }
            None => {
                chain.push(json!({"unreadable": path}));
                break;
            }
        }
    }
    r.store("k8s/owners.json", "ownerReferences", &Value::Array(chain));
}

/// The bindings that name the service account (directly, or through the groups every
/// service account is in) and the rules of the roles they grant.
async fn rbac(r: &mut Reader<'_>, ns: &str, sa: &str) {
    let groups = [
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated".to_owned(),
    ];
    let names_sa = |b: &Value, binding_ns: Option<&str>| {
        b["subjects"].as_array().is_some_and(|subjects| {
            subjects.iter().any(|s| match s["kind"].as_str() {
                Some("ServiceAccount") => {
                    s["name"] == sa && s["namespace"].as_str().or(binding_ns) == Some(ns)
                }
                Some("Group") => groups.iter().any(|g| s["name"] == g.as_str()),
                _ => false,
            })
        })
    };
    let mut bindings = Vec::new();
    let mut unreadable = Vec::new();
    let lists = [
        (
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"),
            Some(ns),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings".to_owned(),
            None,
        ),
    ];
    for (path, binding_ns) in lists {
        let Some(list) = r.json(None, &path).await else {
            unreadable.push(path);
            continue;
        };
        for b in list["items"].as_array().cloned().unwrap_or_default() {
            if !names_sa(&b, binding_ns) {
                continue;
            }
            let role = &b["roleRef"];
            let role_name = role["name"].as_str().unwrap_or_default();
            let role_path = match role["kind"].as_str() {
                Some("Role") => {
                    format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{role_name}")
                }
                _ => format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/{role_name}"),
            };
            let rules = match r.json(None, &role_path).await {
                Some(role) => role["rules"].clone(),
                None => {
                    unreadable.push(role_path);
                    Value::Null
                }
            };
            bindings.push(json!({
                "kind": b["kind"], "name": b["metadata"]["name"], "namespace": b["metadata"]["namespace"],
                "subjects": b["subjects"], "roleRef": role, "rules": rules,
            }));
        }
    }
    r.store(
        "k8s/rbac.json",
        "rolebindings, clusterrolebindings",
        &json!({
            "service_account": {"namespace": ns, "name": sa},
            "bindings": bindings,
            "unreadable": unreadable,
        }),
    );
}

/// True when a label selector selects `labels` (matchLabels and matchExpressions).
fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels[k].as_str();
    let by_labels = selector["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| label(k) == v.as_str()));
    let by_expressions = selector["matchExpressions"].as_array().is_none_or(|es| {
        es.iter().all(|e| {
            let key = e["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = e["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e["operator"].as_str() {
                Some("In") => label(key).is_some_and(|l| values.contains(&l)),
                Some("NotIn") => label(key).is_none_or(|l| !values.contains(&l)),
                Some("Exists") => label(key).is_some(),
                Some("DoesNotExist") => label(key).is_none(),
                _ => false,
            }
        })
    });
    by_labels && by_expressions
}

/// The network policies of the namespace that select the pod.
async fn network_policies(r: &mut Reader<'_>, pod: &Value, ns: &str) {
    let path = format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies");
    let Some(list) = r.json(None, &path).await else {
        return;
    };
    let labels = &pod["metadata"]["labels"];
    let selecting: Vec<Value> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| selects(&p["spec"]["podSelector"], labels))
        .collect();
    r.store(
        "k8s/networkpolicies.json",
        &path,
        &json!({"selecting": selecting, "none_selects_the_pod": selecting.is_empty()}),
    );
}

/// The names (never the values) of the Secrets and ConfigMaps the pod mounts or reads
/// into its environment, and its service account token's audience and lifetime.
fn references(pod: &Value) -> Value {
    let mut secrets = std::collections::BTreeSet::new();
    let mut config_maps = std::collections::BTreeSet::new();
    let mut tokens = Vec::new();
    let add = |set: &mut std::collections::BTreeSet<String>, v: &Value| {
        if let Some(n) = v.as_str() {
            set.insert(n.to_owned());
        }
    };
    for v in pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        add(&mut secrets, &v["secret"]["secretName"]);
        add(&mut config_maps, &v["configMap"]["name"]);
        for s in v["projected"]["sources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            add(&mut secrets, &s["secret"]["name"]);
            add(&mut config_maps, &s["configMap"]["name"]);
            let t = &s["serviceAccountToken"];
            if !t.is_null() {
                tokens.push(json!({
                    "volume": v["name"],
                    "audience": t["audience"].as_str().unwrap_or("the API server (default)"),
                    "expiration_seconds": t["expirationSeconds"],
                }));
            }
        }
    }
    for c in ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| pod["spec"][k].as_array().cloned().unwrap_or_default())
    {
        for e in c["env"].as_array().cloned().unwrap_or_default() {
            add(&mut secrets, &e["valueFrom"]["secretKeyRef"]["name"]);
            add(&mut config_maps, &e["valueFrom"]["configMapKeyRef"]["name"]);
        }
        for e in c["envFrom"].as_array().cloned().unwrap_or_default() {
            add(&mut secrets, &e["secretRef"]["name"]);
            add(&mut config_maps, &e["configMapRef"]["name"]);
        }
    }
    for s in pod["spec"]["imagePullSecrets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        add(&mut secrets, &s["name"]);
    }
    json!({
        "secrets": secrets,
        "config_maps": config_maps,
        "service_account_tokens": tokens,
        "automount_service_account_token": pod["spec"]["automountServiceAccountToken"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_references() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(selects(&json!({}), &labels));
        assert!(selects(&json!({"matchLabels": {"app": "web"}}), &labels));
        assert!(!selects(&json!({"matchLabels": {"app": "db"}}), &labels));
        assert!(selects(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}),
            &labels
        ));
        assert!(!selects(
            &json!({"matchExpressions": [{"key": "env", "operator": "Exists"}]}),
            &labels
        ));
        let pod = json!({"spec": {
            "volumes": [{"name": "v", "secret": {"secretName": "db-pass"}},
                        {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600}}]}}],
            "containers": [{"env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}],
                            "envFrom": [{"secretRef": {"name": "api-keys"}}]}],
        }});
        let r = references(&pod);
        assert_eq!(r["secrets"], json!(["api-keys", "db-pass"]));
        assert_eq!(r["config_maps"], json!(["cfg"]));
        assert_eq!(r["service_account_tokens"][0]["audience"], "vault");
        assert_eq!(
            owner_path(
                "shop",
                &json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1"})
            )
            .as_deref(),
            Ok("/apis/apps/v1/namespaces/shop/replicasets/web-1")
        );
    }

    #[test]
    fn only_controllers_with_object_names_are_followed_up_an_owner_chain() {
        let path = |v: Value| owner_path("shop", &v);
        assert_eq!(
            path(json!({"apiVersion": "batch/v1", "kind": "CronJob", "name": "backup"})).as_deref(),
            Ok("/apis/batch/v1/namespaces/shop/cronjobs/backup")
        );
        assert_eq!(
            path(json!({"apiVersion": "v1", "kind": "ReplicationController", "name": "rc.1"}))
                .as_deref(),
            Ok("/api/v1/namespaces/shop/replicationcontrollers/rc.1")
        );
        // What a pod's creator may write there: any kind, any name.
        for hostile in [
            json!({"apiVersion": "v1", "kind": "Secret", "name": "db-pass"}),
            json!({"apiVersion": "v1", "kind": "Job", "name": "x"}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "../../secrets/db"}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a?watch=true"}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "Web"}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": ""}),
            json!({"kind": "ReplicaSet", "name": "web"}),
        ] {
            assert!(path(hostile.clone()).is_err(), "{hostile}");
        }
    }
}
