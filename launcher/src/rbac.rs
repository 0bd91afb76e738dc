//! The permission preflight: before anything runs, SelfSubjectAccessReview asks the API
//! server whether the current user may do what the chosen routes need, in each
//! namespace where they need it (the targets' namespaces, and the collector namespace
//! for the node route), and a refusal names the verb, resource and namespace and points
//! to `deploy/rbac.yaml`, the minimal roles shipped with cairn, one per route.

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
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut out = Vec::new();
    for n in needs {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.to_owned()),
                    verb: Some(n.verb.to_owned()),
                    resource: Some(n.resource.to_owned()),
                    subresource: (!n.subresource.is_empty()).then(|| n.subresource.to_owned()),
                    ..Default::default()
                }),
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
        if !answer.status.is_some_and(|s| s.allowed) {
            out.push(n.clone());
        }
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
