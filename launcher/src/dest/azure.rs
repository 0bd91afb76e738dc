//! Azure Blob, two ways:
//! - `--azure https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]` with the
//!   account key in `AZURE_STORAGE_KEY`: per target the launcher mints a SAS for that
//!   one blob (`sr=b`, create and write only: no read, list or delete) that expires
//!   with the collection, and the pod uploads straight into it. Afterwards the launcher
//!   reads the blob's properties with a SAS of its own (the size the store holds) and
//!   snapshots it: the pod's SAS may still write the blob until it expires, a snapshot
//!   cannot be changed, and the pod's SAS cannot delete it.
//! - `--azure-sas CONTAINER_SAS_URL`: a container SAS is a credential for every blob
//!   in the container, so it never enters a pod: the archive comes back over exec and
//!   the launcher uploads it ([`super::relay`]).
//!
//! A user delegation key (an Entra ID token instead of the account key) is not
//! supported yet; `--azure-sas` covers responders without the account key.

use super::{relay, Arrived, Delivered, Delivery, Destination, Opened, Setting, Verified};
use crate::targets::Target;
use anyhow::{bail, Context};
use base64::Engine as _;
use cairn_protocol::Done;
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

pub const FLAG: &str = "--azure, --azure-sas";

/// The SAS version cairn signs.
const SV: &str = "2021-08-06";

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Upload straight from each pod into an Azure Blob container: per target cairn
    /// signs, with the account key in AZURE_STORAGE_KEY, a SAS for that one blob
    /// (create and write only, expiring with --timeout), then checks and snapshots
    /// the blob. The account is the host's first label, or AZURE_STORAGE_ACCOUNT, or
    /// the first path segment for an emulator's http://HOST:PORT/ACCOUNT/CONTAINER.
    #[arg(
        long,
        value_name = "https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]",
        help_heading = "Destination (one of)"
    )]
    pub azure: Option<String>,
    /// Upload into an Azure Blob container through its SAS URL (sr=c, with create and
    /// write permission), one blob per target. The SAS could write every blob, so it
    /// never enters a pod: the archive comes back over exec and cairn uploads it
    /// (see --relay-dir).
    #[arg(long, value_name = "CONTAINER_SAS_URL", help_heading = "Destination (one of)")]
    pub azure_sas: Option<String>,
}

impl Flags {
    pub fn destination(&self, s: &Setting) -> Option<anyhow::Result<Box<dyn Destination>>> {
        if let Some(sas) = self.azure_sas.as_deref() {
            return Some(container_sas(sas).map(|sas| {
                Box::new(AzureSas {
                    sas,
                    relay_dir: s.relay_dir.clone(),
                }) as Box<dyn Destination>
            }));
        }
        let target = self.azure.as_deref()?;
        let key = std::env::var("AZURE_STORAGE_KEY").ok().filter(|k| !k.is_empty());
        let account = std::env::var("AZURE_STORAGE_ACCOUNT")
            .ok()
            .filter(|a| !a.is_empty());
        Some(
            Container::parse(target, account, key.as_deref(), s.lifetime)
                .map(|c| Box::new(c) as Box<dyn Destination>),
        )
    }
}

/// `--azure-sas`: through the relay.
pub struct AzureSas {
    sas: String,
    relay_dir: PathBuf,
}

impl Destination for AzureSas {
    fn open<'a>(&'a self, _t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move { relay::open(self.sas.clone(), name, &self.relay_dir) })
    }

    fn partial(&self, name: &str) -> Option<PathBuf> {
        Some(relay::partial(&self.relay_dir, name))
    }

    fn place(&self) -> String {
        without_query(&self.sas)
    }

    fn put<'a>(
        &'a self,
        _t: Option<&'a Target>,
        name: &'a str,
        file: &'a Path,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(relay::put(self.sas.clone(), name, file, arrived))
    }
}

/// A URL without its query (where a SAS keeps its signature).
pub fn without_query(url: &str) -> String {
    url.split('?').next().unwrap_or_default().to_owned()
}

/// Checks `--azure-sas`: a SAS for a container (`sr=c`), since every target writes
/// its own blob in it.
pub fn container_sas(sas: &str) -> anyhow::Result<String> {
    let u: Url = sas
        .parse()
        .map_err(|_| anyhow::anyhow!("--azure-sas is not a URL"))?;
    let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let has = |k: &str, v: Option<&str>| q.iter().any(|(a, b)| a == k && v.is_none_or(|v| b == v));
    if !has("sig", None) {
        bail!("--azure-sas has no signature (sig=): give the container's SAS URL");
    }
    if !has("sr", Some("c")) {
        bail!("--azure-sas must be a container SAS (sr=c), so that every target writes its own blob in it");
    }
    Ok(sas.to_owned())
}

/// `--azure`: a container the launcher signs per-blob SAS for.
#[derive(Clone)]
pub struct Container {
    /// The container's URL, without a query.
    base: Url,
    account: String,
    container: String,
    prefix: String,
    key: Vec<u8>,
    lifetime: Duration,
}

impl Container {
    fn parse(
        target: &str,
        account: Option<String>,
        key: Option<&str>,
        lifetime: Duration,
    ) -> anyhow::Result<Container> {
        let u: Url = target
            .parse()
            .map_err(|e| anyhow::anyhow!("--azure {target}: not a URL ({e})"))?;
        if !matches!(u.scheme(), "https" | "http") || u.query().is_some() {
            bail!("--azure takes https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX] without a query (for a SAS, use --azure-sas)");
        }
        let host = u.host_str().unwrap_or_default().to_owned();
        let mut segments: Vec<String> = u
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        // An emulator (Azurite) names the account in the path; Azure in the host.
        let path_style = account.is_none() && !host.contains(".blob.");
        let account = match account {
            Some(a) => a,
            None if path_style => {
                if segments.is_empty() {
                    bail!("--azure {target}: no account in the path (http://HOST:PORT/ACCOUNT/CONTAINER) and AZURE_STORAGE_ACCOUNT is not set");
                }
                segments.remove(0)
            }
            None => host.split('.').next().unwrap_or_default().to_owned(),
        };
        if segments.is_empty() {
            bail!("--azure {target}: no container");
        }
        let container = segments.remove(0);
        let key = key.context("--azure needs the storage account's key in AZURE_STORAGE_KEY (or give a container SAS with --azure-sas)")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|_| anyhow::anyhow!("AZURE_STORAGE_KEY is not base64"))?;
        let mut base = u.clone();
        base.set_path(&if path_style {
            format!("/{account}/{container}")
        } else {
            format!("/{container}")
        });
        Ok(Container {
            base,
            account,
            container,
            prefix: segments.join("/"),
            key,
            lifetime,
        })
    }

    /// The blob's URL, without a query.
    fn blob_url(&self, blob: &str) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut s) = u.path_segments_mut() {
            s.extend(blob.split('/'));
        }
        u
    }

    /// A service SAS for one blob with `perms`, valid for `valid`.
    ///
    /// Signed by hand: a service SAS is an HMAC-SHA256 over a fixed list of fields, and
    /// the Azure SDK crates would bring a second HTTP stack for these few lines.
    fn blob_sas(&self, blob: &str, perms: &str, valid: Duration) -> anyhow::Result<Url> {
        use hmac::{Mac, SimpleHmac};
        let expiry = time::OffsetDateTime::now_utc() + valid;
        let se = expiry
            .replace_nanosecond(0)
            .unwrap_or(expiry)
            .format(&time::format_description::well_known::Rfc3339)
            .context("formatting the SAS expiry")?;
        let spr = if self.base.scheme() == "https" {
            "https"
        } else {
            ""
        };
        let resource = format!("/blob/{}/{}/{blob}", self.account, self.container);
        let to_sign = format!("{perms}\n\n{se}\n{resource}\n\n\n{spr}\n{SV}\nb\n\n\n\n\n\n\n");
        let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(&self.key)
            .map_err(|e| anyhow::anyhow!("the account key: {e}"))?;
        mac.update(to_sign.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let mut u = self.blob_url(blob);
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("sv", SV)
                .append_pair("sr", "b")
                .append_pair("sp", perms)
                .append_pair("se", &se);
            if !spr.is_empty() {
                q.append_pair("spr", spr);
            }
            q.append_pair("sig", &sig);
        }
        Ok(u)
    }
}

impl Destination for Container {
    fn place(&self) -> String {
        self.blob_url(&self.prefix).to_string()
    }

    /// Through a SAS of the launcher's own for that one blob.
    fn put<'a>(
        &'a self,
        _t: Option<&'a Target>,
        name: &'a str,
        file: &'a Path,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move {
            let blob = super::key(&self.prefix, name);
            let sas = self.blob_sas(&blob, "cw", Duration::from_secs(600))?;
            relay::put(sas.to_string(), name, file, arrived).await?;
            Ok(self.blob_url(&blob).to_string())
        })
    }

    fn open<'a>(&'a self, _t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move {
            let blob = super::key(&self.prefix, name);
            // Create and write this one blob, until the collection is over.
            let sas = self.blob_sas(&blob, "cw", self.lifetime)?;
            Ok(Opened {
                args: super::url_args(None),
                payload: Some(sas.to_string()),
                keep: None,
                delivery: Box::new(Check {
                    container: self.clone(),
                    blob,
                }),
            })
        })
    }
}

/// Checks the blob the pod uploaded, and snapshots it.
struct Check {
    container: Container,
    blob: String,
}

impl Delivery for Check {
    fn finish<'a>(
        self: Box<Self>,
        done: &'a Done,
        _arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<Delivered>> {
        Box::pin(async move {
            let up = super::uploaded(done)?;
            let claimed = up.uploaded_bytes;
            let sas = self
                .container
                .blob_sas(&self.blob, "rcw", Duration::from_secs(600))?;
            let location = self.container.blob_url(&self.blob);
            let (size, snapshot) = super::blocking("checking the blob", move || {
                let size = properties(&sas)?;
                Ok((size, snapshot(&sas)?))
            })
            .await?;
            if size != claimed || size != done.bytes {
                bail!(
                    "the blob holds {size} bytes, the collector reported {} (uploaded {claimed})",
                    done.bytes
                );
            }
            Ok(Delivered {
                location: format!("{location}?snapshot={snapshot}"),
                verified: Verified {
                    sha256: None,
                    bytes: Some(size),
                    how: "size by Get Blob Properties, snapshot taken".into(),
                },
            })
        })
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The blob's size, by Get Blob Properties.
fn properties(sas: &Url) -> anyhow::Result<u64> {
    let mut r = agent()
        .head(sas.as_str())
        .header("x-ms-version", SV)
        .call()
        .map_err(|e| anyhow::anyhow!("Get Blob Properties: {e}"))?;
    if r.status() != 200 {
        let body = r.body_mut().read_to_string().unwrap_or_default();
        bail!(
            "Get Blob Properties: HTTP {}: {}",
            r.status(),
            super::excerpt(&body)
        );
    }
    r.headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .context("Get Blob Properties: no Content-Length")
}

/// Snapshots the blob; returns the snapshot's time stamp.
fn snapshot(sas: &Url) -> anyhow::Result<String> {
    let mut u = sas.clone();
    u.query_pairs_mut().append_pair("comp", "snapshot");
    let mut r = agent()
        .put(u.as_str())
        .header("x-ms-version", SV)
        .send_empty()
        .map_err(|e| anyhow::anyhow!("Snapshot Blob: {e}"))?;
    if r.status() != 201 {
        let body = r.body_mut().read_to_string().unwrap_or_default();
        bail!("Snapshot Blob: HTTP {}: {}", r.status(), super::excerpt(&body));
    }
    r.headers()
        .get("x-ms-snapshot")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .context("Snapshot Blob: no x-ms-snapshot")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn the_account_comes_from_the_host_or_the_emulators_path_and_the_pods_sas_is_for_one_blob() {
        let hour = Duration::from_secs(3600);
        let c = Container::parse(
            "https://acme.blob.core.windows.net/evidence/ir/2026",
            None,
            Some(KEY),
            hour,
        )
        .unwrap();
        assert_eq!((c.account.as_str(), c.container.as_str()), ("acme", "evidence"));
        assert_eq!(c.prefix, "ir/2026");
        let sas = c.blob_sas("ir/2026/a.tar.zst", "cw", hour).unwrap();
        assert_eq!(
            sas.path(),
            "/evidence/ir/2026/a.tar.zst",
            "the SAS names one blob"
        );
        let q: std::collections::HashMap<_, _> = sas.query_pairs().into_owned().collect();
        assert_eq!(q["sr"], "b");
        assert_eq!(q["sp"], "cw", "no read, list or delete");
        assert_eq!(q["spr"], "https");
        let se = time::OffsetDateTime::parse(&q["se"], &time::format_description::well_known::Rfc3339).unwrap();
        let left = se - time::OffsetDateTime::now_utc();
        assert!(left <= time::Duration::seconds(3600) && left > time::Duration::seconds(3500), "{left}");

        let c = Container::parse("http://10.0.0.1:10000/devstoreaccount1/evidence", None, Some(KEY), hour)
            .unwrap();
        assert_eq!(c.account, "devstoreaccount1");
        assert_eq!(c.blob_url("x.tar.zst").as_str(), "http://10.0.0.1:10000/devstoreaccount1/evidence/x.tar.zst");
        assert!(Container::parse("https://acme.blob.core.windows.net/evidence", None, None, hour).is_err());
        assert!(Container::parse("https://acme.blob.core.windows.net/", None, Some(KEY), hour).is_err());
        assert!(Container::parse("https://acme.blob.core.windows.net/c?sig=x", None, Some(KEY), hour).is_err());
    }
}
