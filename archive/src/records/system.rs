//! The system and its identity (`system.json`): hostname, os-release, kernel, boot
//! time, the container's identity, its Kubernetes context (the service-account
//! token's *claims* only: the token and its signature are never stored), and the
//! collector's own privileges; and the loaded kernel modules ([`Module`],
//! `modules.jsonl`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// uname, and the kernel's command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    pub sysname: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub cmdline: Option<String>,
}

/// A recognised container identity and what it was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerId {
    pub runtime: Option<String>,
    pub id: Option<String>,
    pub pod_uid: Option<String>,
    pub evidence: Vec<String>,
}

/// The collector's own credentials and capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privileges {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub cap_eff: Option<String>,
    pub cap_prm: Option<String>,
    pub cap_bnd: Option<String>,
    pub no_new_privs: Option<bool>,
    /// The raw `Seccomp:` value of `/proc/self/status` (`0`, `1`, `2`).
    pub seccomp: Option<String>,
}

/// How many kernel modules are loaded, or why that is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModulesLoaded {
    Count(u64),
    Error { error: String },
}

/// Files container runtimes leave in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Markers {
    pub dockerenv: bool,
    pub containerenv: bool,
}

/// A JWT's claims: the subject, and whatever else its issuer put there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The service-account token: its header's algorithm and key ID and its claims, or
/// why it could not be decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Token {
    Decoded {
        alg: Option<serde_json::Value>,
        kid: Option<serde_json::Value>,
        claims: Claims,
    },
    Undecodable {
        error: String,
        bytes: u64,
    },
}

impl Token {
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Token::Decoded { claims, .. } => Some(claims),
            Token::Undecodable { .. } => None,
        }
    }
}

/// The Kubernetes context the collector met.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Kubernetes {
    pub in_pod: bool,
    /// From the service-account mount.
    pub namespace: Option<String>,
    pub pod_name_from_hostname: Option<String>,
    /// `KUBERNETES_*` variables.
    pub env: BTreeMap<String, String>,
    pub service_account_token: Option<Token>,
}

/// `system.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct System {
    pub hostname: Option<String>,
    pub os_release: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules_loaded: Option<ModulesLoaded>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_privileges: Option<Privileges>,
    pub container_markers: Markers,
    pub kubernetes: Kubernetes,
}

/// A loaded kernel module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    pub name: String,
    pub size: u64,
    /// -1 where the kernel says `-`.
    pub refcount: i64,
    pub used_by: Vec<String>,
    pub state: String,
}
