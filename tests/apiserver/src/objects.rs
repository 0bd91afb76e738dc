//! Objects a test places in a directory (`--objects DIR`, one JSON object per `*.json`
//! file, read at every request): service accounts, roles and bindings, network
//! policies, the owners of pods, events. Each is served at its API path (get and list,
//! namespaced or cluster-wide), with `fieldSelector` equality tests on dotted paths
//! (`involvedObject.name=web`) and the user's rights checked as RBAC would.

use serde_json::{json, Value};
use std::path::Path;

/// A kind the store serves.
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
}

pub const KINDS: &[Kind] = &[
    Kind {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        kind: "ServiceAccount",
        namespaced: true,
    },
    Kind {
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        kind: "Role",
        namespaced: true,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        kind: "RoleBinding",
        namespaced: true,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterroles",
        kind: "ClusterRole",
        namespaced: false,
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterrolebindings",
        kind: "ClusterRoleBinding",
        namespaced: false,
    },
    Kind {
        group: "networking.k8s.io",
        version: "v1",
        plural: "networkpolicies",
        kind: "NetworkPolicy",
        namespaced: true,
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        kind: "ReplicaSet",
        namespaced: true,
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "deployments",
        kind: "Deployment",
        namespaced: true,
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        kind: "StatefulSet",
        namespaced: true,
    },
    Kind {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        kind: "DaemonSet",
        namespaced: true,
    },
    Kind {
        group: "batch",
        version: "v1",
        plural: "jobs",
        kind: "Job",
        namespaced: true,
    },
    Kind {
        group: "batch",
        version: "v1",
        plural: "cronjobs",
        kind: "CronJob",
        namespaced: true,
    },
];

/// What a request path asks the store for.
pub struct Wanted<'a> {
    pub kind: &'static Kind,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Parses `/api/v1/[namespaces/NS/]PLURAL[/NAME]` and
/// `/apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME]`.
pub fn wanted<'a>(parts: &[&'a str]) -> Option<Wanted<'a>> {
    let (group, version, rest) = match parts {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
        _ => (None, rest),
    };
    let (plural, name) = match rest {
        [p] => (*p, None),
        [p, n] => (*p, Some(*n)),
        _ => return None,
    };
    let kind = KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)?;
    if namespace.is_some() && !kind.namespaced {
        return None;
    }
    Some(Wanted {
        kind,
        namespace,
        name,
    })
}

/// Every object of `kind` in `dir`.
fn load(dir: &Path, kind: &Kind) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Value> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(|o| o["kind"] == kind.kind)
        .collect();
    out.sort_by(|a, b| {
        let key = |o: &Value| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        };
        key(a).cmp(&key(b))
    });
    out
}

/// `a.b.c` of `v`, as text.
fn field<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, k| &v[k])
}

/// True when `o` passes every `key=value` (or `key==value`, `key!=value`) of a field
/// selector.
fn selected(o: &Value, selector: &str) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|t| {
        let (key, want, negate) = if let Some((k, v)) = t.split_once("!=") {
            (k, v, true)
        } else if let Some((k, v)) = t.split_once("==") {
            (k, v, false)
        } else if let Some((k, v)) = t.split_once('=') {
            (k, v, false)
        } else {
            return true;
        };
        let have = match field(o, key) {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        (have == want) != negate
    })
}

/// The answer for `w`: the object, or the list (filtered by namespace and
/// `field_selector`); `Err` is (code, reason, message).
pub fn answer(
    dir: Option<&Path>,
    w: &Wanted<'_>,
    field_selector: &str,
) -> Result<Value, (u16, &'static str, String)> {
    let all = dir.map(|d| load(d, w.kind)).unwrap_or_default();
    let in_scope = all.into_iter().filter(|o| {
        w.namespace
            .is_none_or(|ns| o["metadata"]["namespace"] == ns)
    });
    let api_version = if w.kind.group.is_empty() {
        w.kind.version.to_owned()
    } else {
        format!("{}/{}", w.kind.group, w.kind.version)
    };
    match w.name {
        Some(name) => in_scope
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
            .ok_or_else(|| {
                let what = match w.kind.group {
                    "" => w.kind.plural.to_owned(),
                    g => format!("{}.{g}", w.kind.plural),
                };
                (404, "NotFound", format!("{what} \"{name}\" not found"))
            }),
        None => {
            let items: Vec<Value> = in_scope.filter(|o| selected(o, field_selector)).collect();
            Ok(json!({
                "kind": format!("{}List", w.kind.kind),
                "apiVersion": api_version,
                "metadata": {"resourceVersion": "1"},
                "items": items,
            }))
        }
    }
}

/// The discovery entries of the store's kinds in `group_version` (`v1`, `apps/v1`).
pub fn resources(group_version: &str) -> Vec<Value> {
    KINDS
        .iter()
        .filter(|k| {
            let gv = if k.group.is_empty() {
                k.version.to_owned()
            } else {
                format!("{}/{}", k.group, k.version)
            };
            gv == group_version
        })
        .map(|k| {
            json!({"name": k.plural, "singularName": k.kind.to_lowercase(), "namespaced": k.namespaced,
                   "kind": k.kind, "verbs": ["get", "list"]})
        })
        .collect()
}

/// The groups (other than the core one) the store serves, for `/apis`.
pub fn groups() -> Vec<Value> {
    let mut names: Vec<&str> = KINDS
        .iter()
        .map(|k| k.group)
        .filter(|g| !g.is_empty())
        .collect();
    names.dedup();
    names
        .into_iter()
        .map(|g| {
            json!({
                "name": g,
                "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
                "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"},
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_field_selectors() {
        let w = wanted(&[
            "apis",
            "rbac.authorization.k8s.io",
            "v1",
            "namespaces",
            "shop",
            "rolebindings",
        ])
        .unwrap();
        assert_eq!(w.kind.kind, "RoleBinding");
        assert_eq!(w.namespace, Some("shop"));
        assert!(wanted(&[
            "apis",
            "rbac.authorization.k8s.io",
            "v1",
            "namespaces",
            "shop",
            "clusterroles"
        ])
        .is_none());
        let w = wanted(&["api", "v1", "namespaces", "shop", "serviceaccounts", "web"]).unwrap();
        assert_eq!(w.name, Some("web"));
        let e = json!({"involvedObject": {"name": "web", "kind": "Pod"}});
        assert!(selected(
            &e,
            "involvedObject.name=web,involvedObject.kind=Pod"
        ));
        assert!(!selected(&e, "involvedObject.name=db"));
        assert!(selected(&e, "involvedObject.name!=db"));
    }
}
