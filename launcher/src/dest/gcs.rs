//! `--gcs gs://bucket/prefix` (also spelt `--gcs-signed`): per target the launcher
//! opens a resumable upload session with the responder's own Google credential and
//! hands the pod only the session URL. That URL is a capability for the one object,
//! like a signed URL; the pod streams the archive into it chunk by chunk and never
//! holds a Google credential. Google keeps a session a week and no request shortens
//! that: the launcher cancels it on any failure, timeout, Ctrl-C, SIGTERM or SIGHUP,
//! once the upload is final the session writes nothing more, and the run says how long
//! a session it could not cancel (the launcher was killed) stays usable. A V4 signed URL
//! would expire sooner, but it needs a service account's private key or the IAM
//! signBlob permission, and a signed PUT has to hold the whole archive before it is
//! sent; the session streams it. Afterwards the launcher reads the object's size with its own token.
//!
//! The credential is an OAuth access token: `GOOGLE_OAUTH_ACCESS_TOKEN` or
//! `CLOUDSDK_AUTH_ACCESS_TOKEN` when set, else what `gcloud auth print-access-token`
//! prints. `STORAGE_EMULATOR_HOST` points at a GCS emulator, as Google's own client
//! libraries honour it (no token is needed there).

use super::{Arrived, Delivered, Delivery, Destination, Opened, Setting, Verified};
use crate::targets::Target;
use anyhow::{bail, Context};
use cairn_protocol::Done;
use futures_util::future::BoxFuture;
use std::path::Path;
use url::Url;

/// How long Google keeps a resumable upload session usable after it opens.
const SESSION_DAYS: u32 = 7;

pub const FLAG: &str = "--gcs";

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Upload straight from each pod to gs://BUCKET/PREFIX/NAME: the launcher opens
    /// a resumable upload session per target with your Google access token
    /// (GOOGLE_OAUTH_ACCESS_TOKEN, else `gcloud auth print-access-token`) and the
    /// pod gets only the session URL. STORAGE_EMULATOR_HOST selects an emulator.
    #[arg(
        long,
        alias = "gcs-signed",
        value_name = "gs://BUCKET/PREFIX",
        help_heading = "Destination (one of)"
    )]
    pub gcs: Option<String>,
}

impl Flags {
    pub fn destination(&self, _: &Setting) -> Option<anyhow::Result<Box<dyn Destination>>> {
        let target = self.gcs.as_deref()?;
        Some(Gcs::from_env(target).map(|g| Box::new(g) as Box<dyn Destination>))
    }
}

#[derive(Clone)]
pub struct Gcs {
    endpoint: Url,
    bucket: String,
    prefix: String,
    token: Option<String>,
}

impl Destination for Gcs {
    fn outliving_credentials(&self) -> Option<String> {
        Some(format!(
            "each pod was given a GCS resumable upload session URL, which can write its one object until the upload is final; cairn cancelled every session whose upload did not finish (failure, timeout, Ctrl-C, SIGTERM, SIGHUP; a cancel that failed is said above). Google keeps a session usable for {SESSION_DAYS} days after it opens: one cairn could not cancel (it was killed) writes that object until then"
        ))
    }

    fn place(&self) -> String {
        format!("gs://{}/{}", self.bucket, self.prefix)
    }

    /// Through an upload session of the launcher's own; the object's size checked.
    fn put<'a>(
        &'a self,
        _t: Option<&'a Target>,
        name: &'a str,
        file: &'a Path,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move {
            let key = super::key(&self.prefix, name);
            let (gcs, k) = (self.clone(), key.clone());
            let session =
                super::blocking("opening the upload session", move || gcs.session(&k)).await?;
            super::relay::put(session, name, file, arrived).await?;
            let (gcs, k) = (self.clone(), key.clone());
            let size = super::blocking("checking the object", move || gcs.size(&k)).await?;
            if size != arrived.bytes {
                bail!("{} holds {size} bytes, {} were sent", self.object(&key), arrived.bytes);
            }
            Ok(self.object(&key))
        })
    }

    fn open<'a>(&'a self, _t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move {
            let key = super::key(&self.prefix, name);
            let (gcs, k) = (self.clone(), key.clone());
            let session =
                super::blocking("opening the upload session", move || gcs.session(&k)).await?;
            Ok(Opened {
                args: super::url_args(None),
                payload: Some(session.clone()),
                keep: None,
                delivery: Box::new(Check {
                    gcs: self.clone(),
                    key,
                    session: Some(session),
                }),
            })
        })
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Gcs {
    pub fn from_env(target: &str) -> anyhow::Result<Gcs> {
        let token = env("GOOGLE_OAUTH_ACCESS_TOKEN").or_else(|| env("CLOUDSDK_AUTH_ACCESS_TOKEN"));
        Gcs::new(target, env("STORAGE_EMULATOR_HOST"), token, gcloud_token)
    }

    /// `emulator`: STORAGE_EMULATOR_HOST; `token`: a given token; `fetch`: how to get
    /// one when none is given and the store is Google's.
    fn new(
        target: &str,
        emulator: Option<String>,
        token: Option<String>,
        fetch: fn() -> anyhow::Result<String>,
    ) -> anyhow::Result<Gcs> {
        let Some(rest) = target.strip_prefix("gs://") else {
            bail!("--gcs takes gs://BUCKET[/PREFIX], not {target}");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("--gcs {target}: no bucket");
        }
        let endpoint = match &emulator {
            Some(h) if h.contains("://") => h.clone(),
            Some(h) => format!("http://{h}"),
            None => "https://storage.googleapis.com".into(),
        };
        let endpoint: Url = endpoint
            .parse()
            .with_context(|| format!("GCS endpoint {endpoint}"))?;
        let token = match token {
            Some(t) => Some(t),
            None if emulator.is_some() => None,
            None => Some(fetch()?),
        };
        Ok(Gcs {
            endpoint,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            token,
        })
    }

    /// Opens a resumable session for `key` and returns its URL, for the pod only.
    pub fn session(&self, key: &str) -> anyhow::Result<String> {
        let mut u = self.endpoint.clone();
        u.set_path(&format!("/upload/storage/v1/b/{}/o", self.bucket));
        u.query_pairs_mut()
            .append_pair("uploadType", "resumable")
            .append_pair("name", key);
        let mut req = ureq::post(u.as_str())
            .header("content-type", "application/json; charset=UTF-8")
            .header("x-upload-content-type", "application/zstd");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut resp = req
            .config()
            .http_status_as_error(false)
            .build()
            .send(r#"{"contentType":"application/zstd"}"#)
            .map_err(|e| {
                anyhow::anyhow!(
                    "opening an upload session for gs://{}/{key}: {e}",
                    self.bucket
                )
            })?;
        let status = resp.status().as_u16();
        if status != 200 && status != 201 {
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            bail!(
                "opening an upload session for gs://{}/{key}: HTTP {status}{}: {}",
                self.bucket,
                if status == 401 || status == 403 {
                    " (the token is missing, expired or lacks storage.objects.create on the bucket)"
                } else {
                    ""
                },
                body.chars().take(300).collect::<String>()
            );
        }
        let session = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("the upload session answer has no Location")?;
        Ok(session.to_owned())
    }

    /// What the report names the object by.
    pub fn object(&self, key: &str) -> String {
        format!("gs://{}/{key}", self.bucket)
    }
}

impl Gcs {
    fn with_token(&self, req: ureq::RequestBuilder<ureq::typestate::WithoutBody>) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        match &self.token {
            Some(t) => req.header("authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    /// The object's size, from its metadata (JSON API).
    fn size(&self, key: &str) -> anyhow::Result<u64> {
        let mut u = self.endpoint.clone();
        u.path_segments_mut()
            .map_err(|_| anyhow::anyhow!("GCS endpoint {} cannot take a path", self.endpoint))?
            .clear()
            .extend(["storage", "v1", "b", &self.bucket, "o", key]);
        let mut resp = self
            .with_token(ureq::get(u.as_str()))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .map_err(|e| anyhow::anyhow!("reading the metadata of {}: {e}", self.object(key)))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        if status != 200 {
            bail!(
                "reading the metadata of {}: HTTP {status}: {}",
                self.object(key),
                super::excerpt(&body)
            );
        }
        let meta: serde_json::Value =
            serde_json::from_str(&body).context("the object's metadata is not JSON")?;
        // The JSON API gives sizes as decimal strings.
        meta["size"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| meta["size"].as_u64())
            .context("the object's metadata has no size")
    }
}

/// Cancels a resumable session: what was uploaded into it is discarded and the
/// session URL writes nothing more. Google answers 499.
fn cancel(session: &str) -> anyhow::Result<()> {
    let resp = ureq::delete(session)
        .header("content-length", "0")
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match resp.status().as_u16() {
        499 | 200 | 204 | 404 | 410 => Ok(()),
        s => bail!("HTTP {s}"),
    }
}

/// One target's session, from its opening to the check of the object; cancelled when
/// dropped before the object is final.
struct Check {
    gcs: Gcs,
    key: String,
    /// `None` once the object is final.
    session: Option<String>,
}

impl Delivery for Check {
    fn finish<'a>(
        mut self: Box<Self>,
        done: &'a Done,
        _arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<Delivered>> {
        Box::pin(async move {
            let up = super::uploaded(done)?;
            let (gcs, key) = (self.gcs.clone(), self.key.clone());
            let size = super::blocking("checking the object", move || gcs.size(&key)).await?;
            // The object exists: the session is spent.
            self.session = None;
            if size != done.bytes || size != up.uploaded_bytes {
                bail!(
                    "the object holds {size} bytes, the collector reported {} (uploaded {})",
                    done.bytes,
                    up.uploaded_bytes
                );
            }
            Ok(Delivered {
                location: self.gcs.object(&self.key),
                verified: Verified {
                    sha256: None,
                    bytes: Some(size),
                    how: "size by the object's metadata".into(),
                },
            })
        })
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let object = self.gcs.object(&self.key);
        crate::janitor::spawn(async move {
            match super::blocking("cancelling", move || cancel(&session)).await {
                Ok(()) => tracing::info!("cancelled the upload session of {object}"),
                Err(e) => tracing::warn!("cancelling the upload session of {object}: {e:#}"),
            }
        });
    }
}

fn gcloud_token() -> anyhow::Result<String> {
    let o = std::process::Command::new("gcloud")
        .args(["auth", "print-access-token"])
        .output()
        .map_err(|e| {
            anyhow::anyhow!("--gcs needs a Google access token: set GOOGLE_OAUTH_ACCESS_TOKEN=$(gcloud auth print-access-token), or install gcloud ({e})")
        })?;
    let token = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    if !o.status.success() || token.is_empty() {
        bail!(
            "gcloud auth print-access-token failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bucket_and_prefix_come_from_the_gs_url_and_the_token_from_gcloud_when_not_given() {
        fn fetched() -> anyhow::Result<String> {
            Ok("from-gcloud".into())
        }
        fn no_gcloud() -> anyhow::Result<String> {
            anyhow::bail!("no gcloud")
        }
        let g = super::Gcs::new(
            "gs://evidence/ir/2026/",
            Some("localhost:4443".into()),
            None,
            no_gcloud,
        )
        .unwrap();
        assert_eq!(g.endpoint.as_str(), "http://localhost:4443/");
        assert_eq!(super::super::key(&g.prefix, "a.tar.zst"), "ir/2026/a.tar.zst");
        assert_eq!(g.object("ir/x"), "gs://evidence/ir/x");
        assert!(g.token.is_none(), "an emulator needs no token");
        let g = super::Gcs::new("gs://evidence", None, None, fetched).unwrap();
        assert_eq!(g.endpoint.as_str(), "https://storage.googleapis.com/");
        assert_eq!(g.token.as_deref(), Some("from-gcloud"));
        assert_eq!(super::super::key(&g.prefix, "a"), "a");
        let g = super::Gcs::new("gs://evidence", None, Some("given".into()), no_gcloud).unwrap();
        assert_eq!(g.token.as_deref(), Some("given"));
        assert!(super::Gcs::new("gs://evidence", None, None, no_gcloud).is_err());
        assert!(super::Gcs::new("s3://evidence", None, None, fetched).is_err());
        assert!(super::Gcs::new("gs:///x", None, None, fetched).is_err());
    }
}
