//! The permission preflight: before anything runs, SelfSubjectAccessReview asks the API
//! server whether the current user may do what the chosen routes need, in each
//! namespace where they need it (the targets' namespaces, and the collector namespace
//! for the node route), and a refusal names the verb, resource and namespace and points
//! to `deploy/rbac.yaml`, the minimal roles shipped with cairn, one per route. The
//! reads of the Kubernetes evidence are asked about too, and those refused are said
//! (each is recorded in the evidence as it is refused), never a reason to stop.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::Client;

/// One permission: verb on resource (with subresource) in a namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub verb: &'static str,
    pub resource: &'static str,
    pub subresource: &'static str,
}

/// What every collection needs in a target's namespace: finding its pod (each route
/// adds its own: [`crate::route::Route::needs`]).
pub const READ: &[Need] = &[
    Need {
        verb: "get",
        resource: "pods",
        subresource: "",
    },
    Need {
        verb: "list",
        resource: "pods",
        subresource: "",
    },
];

/// Running a command in a pod.
pub const EXEC: Need = Need {
    verb: "create",
    resource: "pods",
    subresource: "exec",
};

impl Need {
    pub fn describe(&self, namespace: &str) -> String {
        let r = if self.subresource.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        format!("'{}' on '{r}' in namespace '{namespace}'", self.verb)
    }
}

/// The permissions of `needs` the user lacks in `namespace`.
pub async fn missing(
    client: &Client,
    namespace: &str,
    needs: &[Need],
) -> anyhow::Result<Vec<Need>> {
    let mut out = Vec::new();
    for n in needs {
        let attributes = ResourceAttributes {
            namespace: Some(namespace.to_owned()),
            verb: Some(n.verb.to_owned()),
            resource: Some(n.resource.to_owned()),
            subresource: (!n.subresource.is_empty()).then(|| n.subresource.to_owned()),
            ..Default::default()
        };
        if !may(client, attributes).await? {
            out.push(n.clone());
        }
    }
    Ok(out)
}

/// Asks the API server whether the current user may do what `attributes` say.
async fn may(client: &Client, attributes: ResourceAttributes) -> anyhow::Result<bool> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(attributes),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| {
            anyhow::anyhow!(crate::kerror::say(
                "asking the API server what you may do (SelfSubjectAccessReview)",
                &e
            ))
        })?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// One read of the Kubernetes evidence ([`crate::evidence`]): `verb` on `resource` of
/// API `group`, in the target's namespace or (`cluster`) cluster-wide.
pub struct Read {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub cluster: bool,
}

const fn read(verb: &'static str, group: &'static str, resource: &'static str) -> Read {
    Read {
        verb,
        group,
        resource,
        cluster: false,
    }
}

const fn cluster_read(verb: &'static str, group: &'static str, resource: &'static str) -> Read {
    Read {
        verb,
        group,
        resource,
        cluster: true,
    }
}

/// Every read the Kubernetes evidence makes, as `deploy/rbac.yaml`'s
/// `cairn-k8s-evidence` role (and `cairn-nodes`) grants them.
pub const EVIDENCE_READS: &[Read] = &[
    read("get", "", "pods/log"),
    read("list", "", "events"),
    read("get", "", "serviceaccounts"),
    read("get", "apps", "replicasets"),
    read("get", "apps", "deployments"),
    read("get", "apps", "statefulsets"),
    read("get", "apps", "daemonsets"),
    read("get", "batch", "jobs"),
    read("get", "batch", "cronjobs"),
    read("get", "", "replicationcontrollers"),
    read("list", "networking.k8s.io", "networkpolicies"),
    read("list", "rbac.authorization.k8s.io", "rolebindings"),
    read("get", "rbac.authorization.k8s.io", "roles"),
    cluster_read("list", "rbac.authorization.k8s.io", "clusterrolebindings"),
    cluster_read("get", "rbac.authorization.k8s.io", "clusterroles"),
    cluster_read("get", "", "nodes"),
];

impl Read {
    /// `list rolebindings.rbac.authorization.k8s.io`, `get pods/log`.
    pub fn describe(&self) -> String {
        let scope = if self.cluster { " (cluster-wide)" } else { "" };
        match self.group {
            "" => format!("{} {}{scope}", self.verb, self.resource),
            g => format!("{} {}.{g}{scope}", self.verb, self.resource),
        }
    }
}

/// The reads of the Kubernetes evidence the current user may not make for targets in
/// `namespace`, described.
pub async fn refused_reads(client: &Client, namespace: &str) -> anyhow::Result<Vec<String>> {
    let asked = EVIDENCE_READS.iter().map(|r| async move {
        let (resource, subresource) = match r.resource.split_once('/') {
            Some((res, sub)) => (res, Some(sub.to_owned())),
            None => (r.resource, None),
        };
        let attributes = ResourceAttributes {
            namespace: (!r.cluster).then(|| namespace.to_owned()),
            verb: Some(r.verb.to_owned()),
            group: Some(r.group.to_owned()),
            resource: Some(resource.to_owned()),
            subresource,
            ..Default::default()
        };
        may(client, attributes)
            .await
            .map(|ok| (!ok).then(|| r.describe()))
    });
    let answers = futures_util::future::join_all(asked).await;
    let mut out = Vec::new();
    for a in answers {
        out.extend(a?);
    }
    Ok(out)
}

/// The error text for missing permissions: who lacks what, and the rules that grant
/// it, so that someone with only the binary can write the Role.
pub fn explain(who: &str, namespace: &str, missing: &[Need]) -> String {
    let list: Vec<String> = missing.iter().map(|n| n.describe(namespace)).collect();
    let rules: Vec<String> = missing
        .iter()
        .map(|n| {
            let r = if n.subresource.is_empty() {
                n.resource.to_owned()
            } else {
                format!("{}/{}", n.resource, n.subresource)
            };
            format!(
                "{{apiGroups: [\"\"], resources: [\"{r}\"], verbs: [\"{}\"]}}",
                n.verb
            )
        })
        .collect();
    format!(
        "permission denied: {who} lacks {}. A Role in namespace {namespace} with the rules [{}], bound to that user, grants it (deploy/rbac.yaml in cairn's repository has the least role per route)",
        list.join(", "),
        rules.join(", ")
    )
}
