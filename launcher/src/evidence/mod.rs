//! What the cluster knows about a target, beside what the collector found inside it:
//! the pod's object and its containers' logs (the previous run's too, where a container
//! restarted), its owner chain, its events, its node, its service account and what that
//! account may do (the RBAC bindings naming it and their rules, [`rbac`]), the network
//! policies that select it, and the names (never the values) of the Secrets and
//! ConfigMaps it uses with its token's audience and lifetime ([`pod`]). Read with the
//! responder's credentials and written into `NAME.k8s.tar.zst` beside the collection's
//! archive, in the archive format (`cairn_archive::write::Bundle`), so `verify` checks
//! it. A read the cluster refuses is recorded there (the manifest and the log), never a
//! silent gap.
//!
//! The API server's objects are stored as it sent them; what cairn reads of them is
//! read through the Kubernetes API's types.

mod pod;
mod rbac;

use crate::targets::Target;
use cairn_archive::member::k8s;
use cairn_archive::records::summary::CaseRef;
use cairn_archive::write::bundle::About;
use cairn_archive::write::Bundle;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use serde::de::DeserializeOwned;
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

    /// GET an object as `T`; stores the server's text at `name` when given. An answer
    /// that is not the object expected is recorded as a failed read.
    async fn object<T: DeserializeOwned>(&mut self, name: Option<&str>, path: &str) -> Option<T> {
        let text = self.get(name.unwrap_or(path), path).await?;
        let v: T = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                self.refuse(
                    path,
                    false,
                    &format!("the answer is not the object expected: {e}"),
                );
                return None;
            }
        };
        if let Some(n) = name {
            self.add(n, path, text.as_bytes());
        }
        Some(v)
    }

    /// Stores a document cairn made.
    fn store<T: serde::Serialize>(&mut self, name: &str, source: &str, doc: &T) {
        if let Err(e) = self.bundle.add_json(name, source, doc, "kubernetes") {
            tracing::warn!("adding {name}: {e}");
        }
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
    if let Some(pod) = r.object::<Pod>(Some(k8s::POD), &pod_path).await {
        pod::logs(&mut r, &pod, &pod_path, o.max_log).await;
        pod::owners(&mut r, &pod, ns).await;
        let sa = pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref())
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_owned();
        r.object::<serde::de::IgnoredAny>(
            Some(k8s::SERVICE_ACCOUNT),
            &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}"),
        )
        .await;
        rbac::bindings(&mut r, ns, &sa).await;
        pod::network_policies(&mut r, &pod, ns).await;
        r.store(k8s::REFERENCES, &pod_path, &pod::references(&pod));
    }
    let selector = format!("involvedObject.name%3D{name}");
    r.object::<serde::de::IgnoredAny>(
        Some(k8s::EVENTS),
        &format!("/api/v1/namespaces/{ns}/events?fieldSelector={selector}"),
    )
    .await;
    if !t.node.is_empty() {
        r.object::<serde::de::IgnoredAny>(Some(k8s::NODE), &format!("/api/v1/nodes/{}", t.node))
            .await;
    }
    let refused = r.refused;
    let sealed = r.bundle.finish(About {
        kind: "kubernetes evidence".into(),
        target: t.info(),
        case: CaseRef {
            id: o.case.clone(),
            examiner: o.examiner.clone(),
        },
    })?;
    Ok(Written {
        path: path.to_path_buf(),
        sha256: sealed.sha256,
        bytes: sealed.bytes,
        refused,
        stored: None,
        not_stored: None,
        ms: started.elapsed().as_millis() as u64,
    })
}
