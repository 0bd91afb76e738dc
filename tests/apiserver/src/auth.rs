//! Bearer tokens mapped to users and what they may do, and the Status objects that say
//! no: 401 without a known token, 403 with the verb, resource and namespace named as a
//! real API server names them. Three users: `cairn-allowed` may do everything;
//! `cairn-denied` may get, list and watch pods but not exec, and nothing else;
//! `cairn-limited` may do everything but read RBAC (roles, bindings), as a responder
//! granted only the namespace's pods and logs is.

use serde_json::{json, Value};

pub const ALLOWED_USER: &str = "cairn-allowed";
pub const DENIED_USER: &str = "cairn-denied";
pub const LIMITED_USER: &str = "cairn-limited";

/// The resources `cairn-limited` may not read.
const RBAC: &[&str] = &[
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
];

#[derive(Clone)]
pub struct Tokens {
    pub allowed: String,
    pub denied: String,
    pub limited: String,
}

impl Tokens {
    pub fn random() -> Tokens {
        Tokens {
            allowed: format!("allowed-{}", random_hex()),
            denied: format!("denied-{}", random_hex()),
            limited: format!("limited-{}", random_hex()),
        }
    }

    /// The user a request's `Authorization: Bearer` header names.
    pub fn user(&self, authorization: Option<&str>) -> Option<&'static str> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        if token == self.allowed {
            Some(ALLOWED_USER)
        } else if token == self.denied {
            Some(DENIED_USER)
        } else if token == self.limited {
            Some(LIMITED_USER)
        } else {
            None
        }
    }
}

fn random_hex() -> String {
    use sha2::Digest;
    use std::hash::{BuildHasher, Hasher};
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let d = sha2::Sha256::digest(format!("{seed}{:?}", std::time::SystemTime::now()));
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether `user` may `verb` the `resource` (with `subresource`, e.g. `pods/exec`).
pub fn allowed(user: &str, verb: &str, resource: &str, subresource: &str) -> bool {
    match user {
        ALLOWED_USER => true,
        DENIED_USER => {
            resource == "pods" && subresource.is_empty() && matches!(verb, "get" | "list" | "watch")
        }
        LIMITED_USER => !RBAC.contains(&resource),
        _ => false,
    }
}

pub fn status(code: u16, reason: &str, message: &str, details: Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    })
}

pub fn unauthorized() -> Value {
    status(401, "Unauthorized", "Unauthorized", json!({}))
}

/// The 403 a real API server gives, naming user, verb, resource and namespace.
pub fn forbidden(
    user: &str,
    verb: &str,
    resource: &str,
    subresource: &str,
    name: &str,
    namespace: Option<&str>,
) -> Value {
    let full = if subresource.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}/{subresource}")
    };
    let what = if name.is_empty() {
        full.clone()
    } else {
        format!("{resource} \"{name}\"")
    };
    let scope = match namespace {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_owned(),
    };
    let message = format!(
        "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{full}\" in API group \"\"{scope}"
    );
    status(
        403,
        "Forbidden",
        &message,
        json!({"name": name, "kind": resource}),
    )
}
