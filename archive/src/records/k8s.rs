//! The documents cairn writes itself into the Kubernetes evidence archive: which target
//! it is about ([`TargetInfo`], in its summary), what the pod's service account may do
//! ([`Rbac`]), its owner chain ([`Owner`]), the Secrets and ConfigMaps it names
//! ([`References`]) and the network policies selecting it ([`NetworkPolicies`]). The
//! other members (`k8s/pod.json`, `k8s/events.json`, `k8s/node.json`,
//! `k8s/serviceaccount.json`) are the API server's own objects as it served them
//! (a `Pod`, an `EventList`...); what is read back of the pod and its events are the
//! few fields shown ([`PodView`], [`EventsView`]), their lists capped.

use super::capped::Capped;
use serde::{Deserialize, Serialize};

/// A target as the launcher found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub image: String,
    pub node: String,
    pub phase: String,
    /// runAsUser of the container, else of the pod.
    pub run_as_user: Option<i64>,
    /// `exec-able`, `distroless`, `not running`.
    pub verdict: String,
    /// The node's architecture as Kubernetes names it (`amd64`, `arm64`).
    pub arch: Option<String>,
}

/// A subject of a binding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subject {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The role a binding grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleRef {
    pub kind: String,
    pub name: String,
}

/// A rule of a role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default, rename = "apiGroups", skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(
        default,
        rename = "resourceNames",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_names: Vec<String>,
}

/// A RoleBinding or ClusterRoleBinding naming the service account, with its role's
/// rules (none when the role could not be read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Binding {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub subjects: Vec<Subject>,
    #[serde(rename = "roleRef")]
    pub role_ref: RoleRef,
    pub rules: Option<Vec<Rule>>,
}

/// A service account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceAccountRef {
    pub namespace: String,
    pub name: String,
}

/// What the pod's service account may do (`k8s/rbac.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rbac {
    pub service_account: ServiceAccountRef,
    pub bindings: Vec<Binding>,
    /// API paths that could not be read.
    pub unreadable: Vec<String>,
}

/// A reference to an owning object, as a pod's `ownerReferences` give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRef {
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
}

/// One link of the owner chain (`k8s/owners.json`): the controller object as the API
/// server gave it, or why the chain stops there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Owner {
    NotFollowed { not_followed: OwnerRef, why: String },
    Unreadable { unreadable: String },
    Object(serde_json::Value),
}

/// A projected service-account token the pod mounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    pub volume: String,
    pub audience: String,
    pub expiration_seconds: Option<i64>,
}

/// The Secrets and ConfigMaps the pod names (never their values), and its tokens
/// (`k8s/references.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct References {
    pub secrets: Vec<String>,
    pub config_maps: Vec<String>,
    pub service_account_tokens: Vec<TokenRef>,
    pub automount_service_account_token: Option<bool>,
}

/// The network policies of the namespace that select the pod
/// (`k8s/networkpolicies.json`), as the API server gave them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkPolicies {
    pub selecting: Vec<serde_json::Value>,
    pub none_selects_the_pod: bool,
}

/// What is read back of `k8s/pod.json` (the API server's `Pod`): the few fields the
/// report and the timeline show, each list capped, so a forged document of a million
/// empty objects costs nothing. The archive keeps the whole object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PodView {
    pub metadata: ObjectMetaView,
    pub spec: Option<PodSpecView>,
    pub status: Option<PodStatusView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ObjectMetaView {
    pub name: Option<String>,
    pub namespace: Option<String>,
    #[serde(rename = "creationTimestamp")]
    pub creation_timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PodSpecView {
    #[serde(rename = "nodeName")]
    pub node_name: Option<String>,
    #[serde(rename = "serviceAccountName")]
    pub service_account_name: Option<String>,
    pub containers: Capped<ContainerView, 256>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ContainerView {
    pub name: String,
    pub image: Option<String>,
    /// The ports the pod spec declares for it.
    pub ports: Capped<PortView, 64>,
}

/// A port a container declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PortView {
    #[serde(rename = "containerPort")]
    pub container_port: i32,
    /// `TCP` (the default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PodStatusView {
    #[serde(rename = "startTime")]
    pub start_time: Option<String>,
    #[serde(rename = "initContainerStatuses")]
    pub init_container_statuses: Capped<ContainerStatusView, 256>,
    #[serde(rename = "containerStatuses")]
    pub container_statuses: Capped<ContainerStatusView, 256>,
    #[serde(rename = "ephemeralContainerStatuses")]
    pub ephemeral_container_statuses: Capped<ContainerStatusView, 256>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ContainerStatusView {
    pub name: String,
    pub image: String,
    #[serde(rename = "restartCount")]
    pub restart_count: i64,
    pub state: Option<ContainerStateView>,
    #[serde(rename = "lastState")]
    pub last_state: Option<ContainerStateView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ContainerStateView {
    pub running: Option<RunningView>,
    pub terminated: Option<TerminatedView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RunningView {
    #[serde(rename = "startedAt")]
    pub started_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TerminatedView {
    #[serde(rename = "startedAt")]
    pub started_at: Option<String>,
    #[serde(rename = "finishedAt")]
    pub finished_at: Option<String>,
    #[serde(rename = "exitCode")]
    pub exit_code: i64,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// What is read back of `k8s/events.json` (an `EventList`): at most 5,000 events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EventsView {
    pub items: Capped<EventView, 5000>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EventView {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub count: Option<i64>,
    #[serde(rename = "eventTime")]
    pub event_time: Option<String>,
    #[serde(rename = "lastTimestamp")]
    pub last_timestamp: Option<String>,
    #[serde(rename = "firstTimestamp")]
    pub first_timestamp: Option<String>,
    pub metadata: ObjectMetaView,
    #[serde(rename = "involvedObject")]
    pub involved_object: InvolvedView,
}

impl EventView {
    /// When it happened, as the API server gives it: the first of its times.
    pub fn when(&self) -> Option<&str> {
        [
            &self.event_time,
            &self.last_timestamp,
            &self.first_timestamp,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|t| !t.is_empty())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct InvolvedView {
    pub kind: Option<String>,
    pub name: Option<String>,
}
