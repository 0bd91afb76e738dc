//! `--azure-sas CONTAINER_SAS_URL`: straight from each pod into an Azure Blob
//! container; every target writes its own blob, named after it.

use super::{Destination, Opened, Uploaded};
use crate::targets::Target;
use anyhow::bail;
use futures_util::future::BoxFuture;

pub const FLAG: &str = "--azure-sas";

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Upload straight from each pod into an Azure Blob container, through its SAS
    /// URL (sr=c, with write and create permission); one blob per target, named as
    /// the archives of --output-dir.
    #[arg(long, value_name = "CONTAINER_SAS_URL", help_heading = "Destination (one of)")]
    pub azure_sas: Option<String>,
}

impl Flags {
    pub fn destination(&self) -> Option<anyhow::Result<Box<dyn Destination>>> {
        let sas = self.azure_sas.as_deref()?;
        Some(container_sas(sas).map(|s| Box::new(AzureSas(s)) as Box<dyn Destination>))
    }
}

pub struct AzureSas(String);

impl Destination for AzureSas {
    fn open<'a>(&'a self, _t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move {
            Ok(Opened {
                args: super::url_args(Some(name)),
                payload: Some(self.0.clone()),
                keep: None,
                delivery: Box::new(Uploaded { object: None }),
            })
        })
    }
}

/// Checks `--azure-sas`: a SAS for a container (`sr=c`), since every target writes
/// its own blob in it.
pub fn container_sas(sas: &str) -> anyhow::Result<String> {
    let u: url::Url = sas
        .parse()
        .map_err(|_| anyhow::anyhow!("--azure-sas is not a URL"))?;
    let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let has = |k: &str, v: Option<&str>| q.iter().any(|(a, b)| a == k && v.is_none_or(|v| b == v));
    if !has("sig", None) {
        bail!("--azure-sas has no signature (sig=): give the container's SAS URL");
    }
    if !has("sr", Some("c")) {
        bail!("--azure-sas must be a container SAS (sr=c), so that every target writes its own blob in the container");
    }
    Ok(sas.to_owned())
}
