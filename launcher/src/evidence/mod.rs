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
    /// Reads the cluster refused or failed (a 404 is not one: what is not there is
    /// recorded as absent).
    pub refused: u64,
    /// The first of those reads, by API path, for the run's status line.
    pub refused_reads: Vec<String>,
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
    refused: Vec<String>,
}

/// How many refused reads the status line names.
const NAMED_REFUSALS: usize = 3;

/// The most bytes of one object cairn holds from the API server (a Pod, a list of
/// RoleBindings): far above any real one, and a bound on what a broken or hostile
/// answer can make the launcher hold.
const MAX_OBJECT: u64 = 64 << 20;

/// An answer as it arrived: its bytes, at most the bound asked for.
struct Answer {
    bytes: Vec<u8>,
    /// There was more than the bound.
    more: bool,
}

impl Reader<'_> {
    /// GET `path`, read as bytes (a log is the container's bytes, UTF-8 or not, and
    /// may be cut inside a character), at most `max` of them; `None` once the refusal
    /// is recorded under `name`. An answer that breaks off keeps what arrived, and the
    /// break is recorded.
    async fn get(&mut self, name: &str, path: &str, max: u64) -> Option<Answer> {
        use futures_util::AsyncReadExt;
        let req = match http::Request::get(path).body(Vec::new()) {
            Ok(r) => r,
            Err(e) => {
                self.refuse(path, false, &format!("{name}: {e}"));
                return None;
            }
        };
        let body = match self.client.request_stream(req).await {
            Ok(b) => b,
            Err(e) if matches!(&e, kube::Error::Api(r) if r.code == 404) => {
                let what = format!("{path}: not in the cluster (404), so nothing of it is here");
                self.bundle
                    .note(cairn_protocol::Level::Info, "kubernetes", &what);
                return None;
            }
            Err(e) => {
                let denied = matches!(&e, kube::Error::Api(r) if r.code == 403);
                let why = crate::kerror::say(&format!("reading {path}"), &e);
                self.refuse(path, denied, &why);
                return None;
            }
        };
        let mut bytes = Vec::new();
        let mut body = Box::pin(body).take(max.saturating_add(1));
        if let Err(e) = body.read_to_end(&mut bytes).await {
            let n = bytes.len();
            let why = format!("{name}: the answer broke off after {n} bytes: {e}");
            self.bundle.cut("kubernetes", &why);
        }
        let more = bytes.len() as u64 > max;
        bytes.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        Some(Answer { bytes, more })
    }

    fn refuse(&mut self, source: &str, denied: bool, why: &str) {
        self.refused.push(source.to_owned());
        if let Err(e) = self.bundle.refused(source, denied, why, "kubernetes") {
            tracing::warn!("recording a refusal: {e}");
        }
    }

    /// GET an object as `T`; stores the server's text at `name` when given. An answer
    /// that is not the object expected is recorded as a failed read.
    async fn object<T: DeserializeOwned>(&mut self, name: Option<&str>, path: &str) -> Option<T> {
        let answer = self.get(name.unwrap_or(path), path, MAX_OBJECT).await?;
        if answer.more {
            let why = format!(
                "the answer is larger than {MAX_OBJECT} bytes, more than cairn holds of one object"
            );
            self.refuse(path, false, &why);
            return None;
        }
        let v: T = match serde_json::from_slice(&answer.bytes) {
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
            self.add(n, path, &answer.bytes);
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
        refused: Vec::new(),
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
    let refused = r.refused.len() as u64;
    let refused_reads: Vec<String> = r.refused.iter().take(NAMED_REFUSALS).cloned().collect();
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
        refused_reads,
        stored: None,
        not_stored: None,
        ms: started.elapsed().as_millis() as u64,
    })
}
