//! Rules on what the pod's identity may do in the cluster: the powers its service
//! account's bindings grant that let an intruder go further.

use super::{k8s_ev, Finding, Severity};
use crate::examine::facts::Facts;
use cairn_archive::member::k8s::RBAC;
use cairn_archive::records::k8s::Rule;

/// The power a rule grants that matters to a responder, if any.
fn power(r: &Rule) -> Option<&'static str> {
    let any = |l: &[String], w: &[&str]| l.iter().any(|x| x == "*" || w.contains(&x.as_str()));
    let (verbs, resources) = (&r.verbs, &r.resources);
    if any(verbs, &[]) && any(resources, &[]) {
        Some("do anything")
    } else if any(resources, &["secrets"]) && any(verbs, &["get", "list", "watch"]) {
        Some("read secrets")
    } else if any(resources, &["pods/exec", "pods/attach"]) && any(verbs, &["create", "get"]) {
        Some("run commands in other pods")
    } else if any(
        resources,
        &["pods", "deployments", "daemonsets", "jobs", "cronjobs"],
    ) && any(verbs, &["create", "patch", "update"])
    {
        Some("start workloads")
    } else if any(
        resources,
        &[
            "roles",
            "rolebindings",
            "clusterroles",
            "clusterrolebindings",
        ],
    ) && any(verbs, &["create", "patch", "update", "bind", "escalate"])
    {
        Some("change RBAC")
    } else {
        None
    }
}

/// What the pod's service account may do that lets an intruder go further: everything
/// (`*`), reading secrets, exec into pods, creating pods or workloads, changing RBAC.
pub fn service_account_power(f: &Facts, out: &mut Vec<Finding>) {
    let Some(rbac) = &f.rbac else { return };
    let sa = &rbac.service_account;
    for b in &rbac.bindings {
        let rules = b.rules.as_deref().unwrap_or_default();
        let Some((r, power)) = rules.iter().find_map(|r| Some((r, power(r)?))) else {
            continue;
        };
        out.push(Finding {
            severity: Severity::Medium,
            rule: "service-account-power",
            sentence: format!(
                "the pod's service account {}/{} may {power}: {} {} ({} {})",
                sa.namespace,
                sa.name,
                r.verbs.join(","),
                r.resources.join(","),
                b.kind,
                b.name
            ),
            evidence: vec![k8s_ev(f, RBAC, b.name.clone())],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{all, facts, typed};
    use serde_json::json;

    #[test]
    fn preload_secrets_and_service_account_powers() {
        let mut f = facts();
        f.preload = Some("# none\n/usr/lib/libhide.so\n".into());
        f.processes = typed(vec![
            json!({"pid": 1, "comm": "app", "environ_redacted": ["DB_PASSWORD", "API_TOKEN"]}),
        ]);
        f.rbac = serde_json::from_value(json!({"service_account": {"namespace": "shop", "name": "web"},
            "bindings": [{"kind": "RoleBinding", "name": "reads", "rules": [{"verbs": ["get"], "resources": ["secrets"]}]},
                         {"kind": "RoleBinding", "name": "harmless", "rules": [{"verbs": ["get"], "resources": ["configmaps"]}]}]})).unwrap();
        let found = all(&f);
        let s: Vec<(&str, String)> = found.iter().map(|x| (x.rule, x.sentence.clone())).collect();
        assert_eq!(s.len(), 3, "{s:#?}");
        assert!(s[0].1.contains("/usr/lib/libhide.so") && !s[0].1.contains("none"));
        assert!(
            s.iter()
                .any(|(r, t)| *r == "service-account-power"
                    && t.contains("shop/web may read secrets"))
        );
        assert!(s
            .iter()
            .any(|(r, t)| *r == "secret-in-environment" && t.contains("DB_PASSWORD, API_TOKEN")));
    }
}
