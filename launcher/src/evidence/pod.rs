//! The pod's own evidence: its containers' logs, its owner chain, the network policies
//! selecting it, and the Secrets, ConfigMaps and tokens it names.

use super::Reader;
use cairn_archive::member::k8s;
use cairn_archive::records::k8s::{NetworkPolicies, Owner, OwnerRef, References, TokenRef};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::{BTreeMap, BTreeSet};

/// Every container's log, and the previous run's where it restarted, each kept up to
/// `max_log` bytes (the cut is recorded).
pub(super) async fn logs(r: &mut Reader<'_>, pod: &Pod, pod_path: &str, max_log: u64) {
    let status = pod.status.as_ref();
    let statuses = status
        .into_iter()
        .flat_map(|s| [&s.container_statuses, &s.init_container_statuses])
        .flatten()
        .flatten();
    let restarted: BTreeSet<&str> = statuses
        .filter(|s| s.restart_count > 0)
        .map(|s| s.name.as_str())
        .collect();
    let spec = pod.spec.as_ref();
    let names: Vec<&str> = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
        .map(|c| c.name.as_str())
        .collect();
    for c in names {
        let mut runs = vec![false];
        if restarted.contains(c) {
            runs.push(true);
        }
        for previous in runs {
            let file = k8s::log(c, previous);
            let path = format!(
                "{pod_path}/log?container={c}&timestamps=true&limitBytes={}{}",
                max_log + 1,
                if previous { "&previous=true" } else { "" }
            );
            // The bytes as the container wrote them: one byte that is not UTF-8, or a
            // character cut by limitBytes, never costs the log.
            let Some(answer) = r.get(&file, &path, max_log).await else {
                continue;
            };
            if answer.more {
                r.bundle.cut(
                    "kubernetes",
                    &format!("{file} kept up to --max-log-size ({max_log} bytes)"),
                );
            }
            r.add(&file, &path, &answer.bytes);
        }
    }
}

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
pub(super) fn owner_path(ns: &str, owner: &OwnerRef) -> Result<String, String> {
    let Some((_, _, resource)) = OWNER_KINDS
        .iter()
        .find(|(a, k, _)| *a == owner.api_version && *k == owner.kind)
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
    if !object_name(&owner.name) {
        return Err("the name is not a Kubernetes object name".into());
    }
    let prefix = if owner.api_version.contains('/') {
        format!("/apis/{}", owner.api_version)
    } else {
        format!("/api/{}", owner.api_version)
    };
    Ok(format!(
        "{prefix}/namespaces/{ns}/{resource}/{}",
        owner.name
    ))
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

/// What is read of a controller object to follow the chain further.
#[derive(serde::Deserialize, Default)]
struct Owned {
    #[serde(default)]
    metadata: OwnedMeta,
}

#[derive(serde::Deserialize, Default)]
struct OwnedMeta {
    #[serde(default, rename = "ownerReferences")]
    owner_references: Vec<OwnerRef>,
}

/// The controller among owner references, else the first.
fn controller(refs: &[OwnerRef]) -> Option<OwnerRef> {
    refs.iter()
        .find(|o| o.controller == Some(true))
        .or(refs.first())
        .cloned()
}

/// The chain of controllers: ReplicaSet → Deployment, Job → CronJob, StatefulSet,
/// DaemonSet (four levels at most).
pub(super) async fn owners(r: &mut Reader<'_>, pod: &Pod, ns: &str) {
    let mut chain = Vec::new();
    let mut refs: Vec<OwnerRef> = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .map(|o| OwnerRef {
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            name: o.name.clone(),
            controller: o.controller,
        })
        .collect();
    for _ in 0..4 {
        let Some(owner) = controller(&refs) else {
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
                chain.push(Owner::NotFollowed {
                    not_followed: owner,
                    why,
                });
                break;
            }
        };
        match r.object::<serde_json::Value>(None, &path).await {
            Some(obj) => {
                refs = serde_json::from_value::<Owned>(obj.clone())
                    .unwrap_or_default()
                    .metadata
                    .owner_references;
                chain.push(Owner::Object(obj));
            }
            None => {
                chain.push(Owner::Unreadable { unreadable: path });
                break;
            }
        }
    }
    r.store(k8s::OWNERS, "ownerReferences", &chain);
}

/// True when a label selector selects `labels` (matchLabels and matchExpressions).
pub(super) fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let label = |k: &str| labels.get(k).map(String::as_str);
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| label(k) == Some(v.as_str()));
    let by_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values: Vec<&str> = e.values.iter().flatten().map(String::as_str).collect();
        let l = label(&e.key);
        match e.operator.as_str() {
            "In" => l.is_some_and(|l| values.contains(&l)),
            "NotIn" => l.is_none_or(|l| !values.contains(&l)),
            "Exists" => l.is_some(),
            "DoesNotExist" => l.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

/// A list of objects, of which only the items are read.
#[derive(serde::Deserialize)]
struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

/// The network policies of the namespace that select the pod.
pub(super) async fn network_policies(r: &mut Reader<'_>, pod: &Pod, ns: &str) {
    let path = format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies");
    let Some(list) = r.object::<Items<NetworkPolicy>>(None, &path).await else {
        return;
    };
    let no_labels = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&no_labels);
    let selecting: Vec<serde_json::Value> = list
        .items
        .into_iter()
        .filter(|p| {
            p.spec.as_ref().is_some_and(|s| {
                s.pod_selector
                    .as_ref()
                    .is_none_or(|sel| selects(sel, labels))
            })
        })
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect();
    let doc = NetworkPolicies {
        none_selects_the_pod: selecting.is_empty(),
        selecting,
    };
    r.store(k8s::NETWORK_POLICIES, &path, &doc);
}

/// The names (never the values) of the Secrets and ConfigMaps the pod mounts or reads
/// into its environment, and its service account token's audience and lifetime.
pub(super) fn references(pod: &Pod) -> References {
    let mut secrets = BTreeSet::new();
    let mut config_maps = BTreeSet::new();
    let mut tokens = Vec::new();
    let Some(spec) = &pod.spec else {
        return References::default();
    };
    for v in spec.volumes.iter().flatten() {
        secrets.extend(v.secret.as_ref().and_then(|s| s.secret_name.clone()));
        config_maps.extend(v.config_map.as_ref().map(|c| c.name.clone()));
        for s in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            secrets.extend(s.secret.as_ref().map(|x| x.name.clone()));
            config_maps.extend(s.config_map.as_ref().map(|x| x.name.clone()));
            if let Some(t) = &s.service_account_token {
                tokens.push(TokenRef {
                    volume: v.name.clone(),
                    audience: t
                        .audience
                        .clone()
                        .unwrap_or_else(|| "the API server (default)".into()),
                    expiration_seconds: t.expiration_seconds,
                });
            }
        }
    }
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers);
    for c in containers {
        for e in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            secrets.extend(e.secret_key_ref.as_ref().map(|r| r.name.clone()));
            config_maps.extend(e.config_map_key_ref.as_ref().map(|r| r.name.clone()));
        }
        for e in c.env_from.iter().flatten() {
            secrets.extend(e.secret_ref.as_ref().map(|r| r.name.clone()));
            config_maps.extend(e.config_map_ref.as_ref().map(|r| r.name.clone()));
        }
    }
    for e in spec.ephemeral_containers.iter().flatten() {
        for v in e.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            secrets.extend(v.secret_key_ref.as_ref().map(|r| r.name.clone()));
            config_maps.extend(v.config_map_key_ref.as_ref().map(|r| r.name.clone()));
        }
        for v in e.env_from.iter().flatten() {
            secrets.extend(v.secret_ref.as_ref().map(|r| r.name.clone()));
            config_maps.extend(v.config_map_ref.as_ref().map(|r| r.name.clone()));
        }
    }
    secrets.extend(
        spec.image_pull_secrets
            .iter()
            .flatten()
            .map(|s| s.name.clone()),
    );
    References {
        secrets: secrets.into_iter().collect(),
        config_maps: config_maps.into_iter().collect(),
        service_account_tokens: tokens,
        automount_service_account_token: spec.automount_service_account_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn owner(v: serde_json::Value) -> OwnerRef {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn selectors_and_references() {
        let labels: BTreeMap<String, String> =
            serde_json::from_value(json!({"app": "web", "tier": "front"})).unwrap();
        let sel = |v: serde_json::Value| serde_json::from_value::<LabelSelector>(v).unwrap();
        assert!(selects(&sel(json!({})), &labels));
        assert!(selects(
            &sel(json!({"matchLabels": {"app": "web"}})),
            &labels
        ));
        assert!(!selects(
            &sel(json!({"matchLabels": {"app": "db"}})),
            &labels
        ));
        assert!(selects(
            &sel(
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]})
            ),
            &labels
        ));
        assert!(!selects(
            &sel(json!({"matchExpressions": [{"key": "env", "operator": "Exists"}]})),
            &labels
        ));
        let pod: Pod = serde_json::from_value(json!({"spec": {
            "volumes": [{"name": "v", "secret": {"secretName": "db-pass"}},
                        {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "token"}}]}}],
            "containers": [{"name": "app", "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}],
                            "envFrom": [{"secretRef": {"name": "api-keys"}}]}],
        }}))
        .unwrap();
        let r = serde_json::to_value(references(&pod)).unwrap();
        assert_eq!(r["secrets"], json!(["api-keys", "db-pass"]));
        assert_eq!(r["config_maps"], json!(["cfg"]));
        assert_eq!(r["service_account_tokens"][0]["audience"], "vault");
        assert_eq!(
            owner_path(
                "shop",
                &owner(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1"}))
            )
            .as_deref(),
            Ok("/apis/apps/v1/namespaces/shop/replicasets/web-1")
        );
    }

    #[test]
    fn only_controllers_with_object_names_are_followed_up_an_owner_chain() {
        let path = |v: serde_json::Value| owner_path("shop", &owner(v));
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
