//! Reaching the cluster: the standard kubeconfig (`--kubeconfig`, `$KUBECONFIG`,
//! `~/.kube/config`) with `--context`, or the in-cluster service account when the
//! launcher runs as a pod. Exec credential plugins in the kubeconfig (EKS, AKS, GKE)
//! work unchanged: kube-rs runs them.

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::Path;

pub struct Cluster {
    pub client: Client,
    /// The namespace of the context (or of the pod when in-cluster).
    pub default_namespace: String,
    /// Who cairn acts as, for messages: `user U (context C)`, or the pod's service
    /// account.
    pub who: String,
}

pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<Cluster> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    // Which kubeconfig, said once: an error names the file and the cause, not the
    // same path twice, and a bad $KUBECONFIG is not taken for "not in a cluster".
    let (kc, source) = match kubeconfig {
        Some(path) => (Some(read(path)?), path.display().to_string()),
        None => match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(v) => {
                let kc = Kubeconfig::from_env().map_err(|e| {
                    anyhow::anyhow!(
                        "cannot read $KUBECONFIG ({}): {}",
                        v.to_string_lossy(),
                        cause(&e)
                    )
                })?;
                (kc, "$KUBECONFIG".to_owned())
            }
            None => (Kubeconfig::read().ok(), "~/.kube/config".to_owned()),
        },
    };
    let mut who = "this pod's service account".to_owned();
    let config = match kc {
        Some(kc) => {
            let ctx = context.map(str::to_owned).or(kc.current_context.clone());
            if let Some(c) = &ctx {
                let user = kc
                    .contexts
                    .iter()
                    .find(|n| &n.name == c)
                    .and_then(|n| n.context.as_ref())
                    .and_then(|x| x.user.clone())
                    .unwrap_or_else(|| "?".into());
                who = format!("user {user} (context {c})");
            }
            if let Some(c) = context {
                if !kc.contexts.iter().any(|n| n.name == c) {
                    let names: Vec<&str> = kc.contexts.iter().map(|n| n.name.as_str()).collect();
                    anyhow::bail!(
                        "context {c} is not in {source} (its contexts: {})",
                        if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                    );
                }
            }
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| anyhow::anyhow!("cannot use {source}: {}", cause(&e)))?
        }
        None if context.is_some() => anyhow::bail!(
            "--context given, but there is no kubeconfig (--kubeconfig FILE, $KUBECONFIG or ~/.kube/config)"
        ),
        None => Config::incluster().map_err(|_| {
            anyhow::anyhow!(
                "no kubeconfig (--kubeconfig FILE, $KUBECONFIG or ~/.kube/config), and not running in a pod"
            )
        })?,
    };
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config).context("building the Kubernetes client")?;
    Ok(Cluster {
        client,
        default_namespace,
        who,
    })
}

/// A kubeconfig file, or an error naming it once.
fn read(path: &Path) -> anyhow::Result<Kubeconfig> {
    if !path.exists() {
        anyhow::bail!("kubeconfig {} does not exist", path.display());
    }
    Kubeconfig::read_from(path)
        .map_err(|e| anyhow::anyhow!("cannot read kubeconfig {}: {}", path.display(), cause(&e)))
}

/// The innermost cause of a kubeconfig error: kube-rs's outer messages repeat the
/// path.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(s) = inner.source() {
        inner = s;
    }
    inner.to_string()
}
