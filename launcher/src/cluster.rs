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
}

pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<Cluster> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| format!("using kubeconfig {}", path.display()))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .context("reading the kubeconfig")?,
        None => Config::infer()
            .await
            .context("no kubeconfig found and not running in a cluster")?,
    };
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config).context("building the Kubernetes client")?;
    Ok(Cluster {
        client,
        default_namespace,
    })
}
