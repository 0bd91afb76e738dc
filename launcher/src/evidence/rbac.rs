//! What the pod's service account may do: the RoleBindings and ClusterRoleBindings
//! that name it (directly, or through the groups every service account is in), each
//! with its role's rules, written as `k8s/rbac.json` ([`Rbac`]).

use super::Reader;
use cairn_archive::member::k8s;
use cairn_archive::records::k8s::{Binding, Rbac, RoleRef, Rule, ServiceAccountRef, Subject};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};

/// A list of objects, of which only the items are read.
#[derive(serde::Deserialize)]
struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

/// True when `subjects` name the service account `sa` of `ns`, or a group it is in.
fn names(
    subjects: &[k8s_openapi::api::rbac::v1::Subject],
    binding_ns: Option<&str>,
    ns: &str,
    sa: &str,
) -> bool {
    let groups = [
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated".to_owned(),
    ];
    subjects.iter().any(|s| match s.kind.as_str() {
        "ServiceAccount" => s.name == sa && s.namespace.as_deref().or(binding_ns) == Some(ns),
        "Group" => groups.contains(&s.name),
        _ => false,
    })
}

fn rules(r: &[PolicyRule]) -> Vec<Rule> {
    r.iter()
        .map(|r| Rule {
            verbs: r.verbs.clone(),
            resources: r.resources.clone().unwrap_or_default(),
            api_groups: r.api_groups.clone().unwrap_or_default(),
            resource_names: r.resource_names.clone().unwrap_or_default(),
        })
        .collect()
}

/// A binding as `rbac.json` holds it, its role's rules read (`None` when the role is
/// not readable: its path goes to `unreadable`).
async fn binding(
    r: &mut Reader<'_>,
    kind: &str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    subjects: &[k8s_openapi::api::rbac::v1::Subject],
    role: &k8s_openapi::api::rbac::v1::RoleRef,
    ns: &str,
    unreadable: &mut Vec<String>,
) -> Binding {
    let role_rules = if role.kind == "Role" {
        let path = format!(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{}",
            role.name
        );
        let got = r.object::<Role>(None, &path).await;
        if got.is_none() {
            unreadable.push(path);
        }
        got.map(|x| rules(x.rules.as_deref().unwrap_or_default()))
    } else {
        let path = format!(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/{}",
            role.name
        );
        let got = r.object::<ClusterRole>(None, &path).await;
        if got.is_none() {
            unreadable.push(path);
        }
        got.map(|x| rules(x.rules.as_deref().unwrap_or_default()))
    };
    Binding {
        kind: kind.to_owned(),
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone(),
        subjects: subjects
            .iter()
            .map(|s| Subject {
                kind: s.kind.clone(),
                name: s.name.clone(),
                namespace: s.namespace.clone(),
            })
            .collect(),
        role_ref: RoleRef {
            kind: role.kind.clone(),
            name: role.name.clone(),
        },
        rules: role_rules,
    }
}

/// The bindings that name the service account and the rules of the roles they grant.
pub(super) async fn bindings(r: &mut Reader<'_>, ns: &str, sa: &str) {
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    let path = format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings");
    match r.object::<Items<RoleBinding>>(None, &path).await {
        Some(list) => {
            for b in &list.items {
                let subjects = b.subjects.as_deref().unwrap_or_default();
                if names(subjects, Some(ns), ns, sa) {
                    out.push(
                        binding(
                            r,
                            "RoleBinding",
                            &b.metadata,
                            subjects,
                            &b.role_ref,
                            ns,
                            &mut unreadable,
                        )
                        .await,
                    );
                }
            }
        }
        None => unreadable.push(path),
    }
    let path = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings".to_owned();
    match r.object::<Items<ClusterRoleBinding>>(None, &path).await {
        Some(list) => {
            for b in &list.items {
                let subjects = b.subjects.as_deref().unwrap_or_default();
                if names(subjects, None, ns, sa) {
                    out.push(
                        binding(
                            r,
                            "ClusterRoleBinding",
                            &b.metadata,
                            subjects,
                            &b.role_ref,
                            ns,
                            &mut unreadable,
                        )
                        .await,
                    );
                }
            }
        }
        None => unreadable.push(path),
    }
    let doc = Rbac {
        service_account: ServiceAccountRef {
            namespace: ns.to_owned(),
            name: sa.to_owned(),
        },
        bindings: out,
        unreadable,
    };
    r.store(k8s::RBAC, "rolebindings, clusterrolebindings", &doc);
}
