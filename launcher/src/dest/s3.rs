//! `--s3 s3://bucket/prefix`: the launcher presigns with the responder's own AWS
//! credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
//! region from `AWS_REGION` or `AWS_DEFAULT_REGION`; `AWS_ENDPOINT_URL_S3` or
//! `AWS_ENDPOINT_URL` for S3-compatible stores, addressed path-style). Per target it
//! starts a multipart upload itself and hands the collector an upload plan
//! (docs/upload-plan.md) of presigned UploadPart URLs for that upload only, expiring
//! with the collection: the collector never holds a credential, and cannot complete,
//! list, read or replace anything. The collector reports its parts' ETags; the launcher
//! completes the upload with them, checks the object's size by HeadObject, and aborts
//! the upload on any failure, timeout or Ctrl-C. Once completed, the upload ID is gone
//! and the part URLs the pod held write nothing.

use super::{Arrived, Delivered, Delivery, Destination, Opened, Setting, Verified};
use crate::targets::Target;
use anyhow::{bail, Context};
use cairn_protocol::{duration, flags, Done, PartReceipt, UploadReport};
use futures_util::future::BoxFuture;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::path::Path;
use std::time::Duration;
use url::Url;

pub const FLAG: &str = "--s3";

/// Part size of launcher plans: 8 MiB parts upload two at once in the collector.
pub const PART_SIZE: u64 = 8 << 20;

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Upload straight from each pod to s3://BUCKET/PREFIX/NAME, presigned with the
    /// AWS credentials in this environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL for S3-compatible stores).
    #[arg(long, value_name = "s3://BUCKET/PREFIX", help_heading = "Destination (one of)")]
    pub s3: Option<String>,
    /// Parts per S3 upload plan (8 MiB each): the largest archive it takes.
    #[arg(long, default_value_t = 1024, help_heading = "Destination (one of)")]
    pub s3_parts: u16,
    /// How long the presigned URLs a pod gets stay valid (default: --timeout and two
    /// minutes).
    #[arg(long, value_parser = duration::parse_arg, help_heading = "Destination (one of)")]
    pub url_expiry: Option<Duration>,
}

impl Flags {
    pub fn destination(&self, s: &Setting) -> Option<anyhow::Result<Box<dyn Destination>>> {
        let target = self.s3.as_deref()?;
        let expiry = self.url_expiry.unwrap_or(s.lifetime);
        Some(S3::from_env(target, self.s3_parts, expiry).map(|s| Box::new(s) as Box<dyn Destination>))
    }
}

#[derive(Clone)]
pub struct S3 {
    bucket: Bucket,
    creds: Credentials,
    prefix: String,
    /// Parts per plan; the archive may be at most PART_SIZE times this.
    pub parts: u16,
    pub expiry: Duration,
}

impl Destination for S3 {
    fn place(&self) -> String {
        format!("s3://{}/{}", self.bucket.name(), self.prefix)
    }

    /// A multipart upload the launcher opens, fills from the file and completes
    /// itself (aborted on failure), like a pod's.
    fn put<'a>(
        &'a self,
        _t: Option<&'a Target>,
        name: &'a str,
        file: &'a Path,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move {
            let key = super::key(&self.prefix, name);
            let (s3, k) = (self.clone(), key.clone());
            let upload_id = super::blocking("starting the upload", move || s3.create(&k)).await?;
            let mut commit = Commit {
                s3: self.clone(),
                key,
                upload_id: Some(upload_id),
            };
            let plan = cairn_upload::plan::Plan::parse(commit.plan().as_bytes())?;
            let dest = cairn_upload::destination::Destination::new(None, Some(plan), None, name)?;
            let (f, n, a) = (file.to_owned(), name.to_owned(), arrived.clone());
            let up =
                super::blocking("uploading", move || super::relay::upload(&f, dest, &n, &a))
                    .await?;
            Ok(commit.settle(&up, arrived.bytes).await?.location)
        })
    }

    fn open<'a>(&'a self, _t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move {
            let key = super::key(&self.prefix, name);
            let (s3, k) = (self.clone(), key.clone());
            let upload_id = super::blocking("starting the upload", move || s3.create(&k)).await?;
            // From here on, dropping the delivery aborts the upload.
            let delivery = Commit {
                s3: self.clone(),
                key,
                upload_id: Some(upload_id),
            };
            Ok(Opened {
                args: vec![flags::UPLOAD_PLAN.to_owned(), flags::STDIO.to_owned()],
                payload: Some(delivery.plan()),
                keep: None,
                delivery: Box::new(delivery),
            })
        })
    }
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

impl S3 {
    pub fn from_env(target: &str, parts: u16, expiry: Duration) -> anyhow::Result<S3> {
        let Some(rest) = target.strip_prefix("s3://") else {
            bail!("--s3 takes s3://BUCKET[/PREFIX], not {target}");
        };
        let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if name.is_empty() {
            bail!("--s3 {target}: no bucket");
        }
        let key = env(&["AWS_ACCESS_KEY_ID"]).context(
            "--s3 needs AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY) in the environment",
        )?;
        let secret = env(&["AWS_SECRET_ACCESS_KEY"]).context("--s3 needs AWS_SECRET_ACCESS_KEY")?;
        let creds = match env(&["AWS_SESSION_TOKEN"]) {
            Some(t) => Credentials::new_with_token(key, secret, t),
            None => Credentials::new(key, secret),
        };
        let region =
            env(&["AWS_REGION", "AWS_DEFAULT_REGION"]).unwrap_or_else(|| "us-east-1".into());
        let (endpoint, style) = match env(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
            Some(e) => (e, UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let endpoint: Url = endpoint
            .parse()
            .with_context(|| format!("endpoint {endpoint}"))?;
        let bucket = Bucket::new(endpoint, style, name.to_owned(), region)
            .map_err(|e| anyhow::anyhow!("bucket {name}: {e}"))?;
        Ok(S3 {
            bucket,
            creds,
            prefix: prefix.trim_matches('/').to_owned(),
            parts,
            expiry,
        })
    }

    /// Starts a multipart upload for `key`; returns its ID.
    pub fn create(&self, key: &str) -> anyhow::Result<String> {
        let create = self
            .bucket
            .create_multipart_upload(Some(&self.creds), key)
            .sign(SIGNED_FOR);
        let (status, body) = call("POST", &create, None)?;
        if status != 200 {
            bail!(
                "CreateMultipartUpload for s3://{}/{key}: HTTP {status}: {}",
                self.bucket.name(),
                super::excerpt(&body)
            );
        }
        let created = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|e| anyhow::anyhow!("CreateMultipartUpload answer: {e}"))?;
        Ok(created.upload_id().to_owned())
    }

    /// The collector's upload plan for `key`: presigned UploadPart URLs only.
    pub fn plan(&self, key: &str, upload_id: &str) -> String {
        let parts: Vec<String> = (1..=self.parts)
            .map(|n| {
                self.bucket
                    .upload_part(Some(&self.creds), key, n, upload_id)
                    .sign(self.expiry)
                    .to_string()
            })
            .collect();
        serde_json::json!({
            "version": 1,
            "kind": "s3-multipart",
            "part_size": PART_SIZE,
            "parts": parts,
            "object": format!("s3://{}/{key}", self.bucket.name()),
        })
        .to_string()
    }

    /// Completes the upload with the parts the collector reports.
    fn complete(&self, key: &str, upload_id: &str, parts: &[PartReceipt]) -> anyhow::Result<()> {
        let etags: Vec<&str> = parts.iter().map(|p| p.etag.as_str()).collect();
        let action = self.bucket.complete_multipart_upload(
            Some(&self.creds),
            key,
            upload_id,
            etags.iter().copied(),
        );
        let url = action.sign(SIGNED_FOR);
        let (status, body) = call("POST", &url, Some(action.body()))?;
        // S3 may answer 200 and put the error in the body.
        if status != 200 || body.contains("<Error>") {
            bail!("CompleteMultipartUpload: HTTP {status}: {}", super::excerpt(&body));
        }
        Ok(())
    }

    /// The object's size, by HeadObject.
    fn size(&self, key: &str) -> anyhow::Result<u64> {
        let url = self.bucket.head_object(Some(&self.creds), key).sign(SIGNED_FOR);
        let resp = agent()
            .head(url.as_str())
            .call()
            .map_err(|e| anyhow::anyhow!("HeadObject: {e}"))?;
        if resp.status() != 200 {
            bail!("HeadObject: HTTP {}", resp.status());
        }
        resp.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .context("HeadObject: no Content-Length")
    }

    /// Aborts the upload: the parts uploaded so far are deleted.
    fn abort(&self, key: &str, upload_id: &str) -> anyhow::Result<()> {
        let url = self
            .bucket
            .abort_multipart_upload(Some(&self.creds), key, upload_id)
            .sign(SIGNED_FOR);
        let (status, body) = call("DELETE", &url, None)?;
        if status != 204 && status != 200 && status != 404 {
            bail!("AbortMultipartUpload: HTTP {status}: {}", super::excerpt(&body));
        }
        Ok(())
    }
}

/// How long the launcher's own requests are signed for.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// The one HTTP agent of the launcher's own S3 requests: its connections are kept and
/// reused across targets (a sweep makes three requests per target; an agent per request
/// opened a connection for each and cost 10 ms of CPU per target in bench/fleet.sh).
fn agent() -> &'static ureq::Agent {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into()
    })
}

/// One request of the launcher's own; its status and body.
fn call(method: &str, url: &Url, body: Option<String>) -> anyhow::Result<(u16, String)> {
    let what = |e: ureq::Error| anyhow::anyhow!("{method} to the S3 endpoint: {e}");
    let mut resp = match (method, body) {
        ("POST", Some(b)) => agent()
            .post(url.as_str())
            .header("content-type", "application/xml")
            .send(b.as_bytes())
            .map_err(what)?,
        ("POST", None) => agent().post(url.as_str()).send_empty().map_err(what)?,
        _ => agent().delete(url.as_str()).call().map_err(what)?,
    };
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    Ok((status, body))
}

/// One target's multipart upload, from its creation to its completion by the launcher;
/// aborted when dropped before that.
struct Commit {
    s3: S3,
    key: String,
    /// `None` once completed or aborted.
    upload_id: Option<String>,
}

impl Commit {
    fn plan(&self) -> String {
        self.s3.plan(&self.key, self.upload_id.as_deref().unwrap_or_default())
    }

    fn object(&self) -> String {
        format!("s3://{}/{}", self.s3.bucket.name(), self.key)
    }
}

/// The parts as the collector reports them: numbered 1, 2, 3... in order, no more than
/// the plan had.
fn check_parts(parts: &[PartReceipt], planned: u16) -> anyhow::Result<()> {
    if parts.is_empty() {
        bail!("the collector reported no parts");
    }
    if parts.len() > usize::from(planned) {
        bail!("the collector reported {} parts; the plan had {planned}", parts.len());
    }
    if let Some((i, p)) = parts.iter().enumerate().find(|(i, p)| p.number as usize != i + 1) {
        bail!("the collector reported part {} in place {}", p.number, i + 1);
    }
    Ok(())
}

impl Delivery for Commit {
    fn finish<'a>(
        mut self: Box<Self>,
        done: &'a Done,
        _arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<Delivered>> {
        Box::pin(async move {
            let up = super::uploaded(done)?;
            self.settle(up, done.bytes).await
        })
    }
}

impl Commit {
    /// Completes the upload with the parts `up` reports and checks the object holds
    /// `bytes`.
    async fn settle(&mut self, up: &UploadReport, bytes: u64) -> anyhow::Result<Delivered> {
        {
            let parts = up
                .uncommitted_parts
                .clone()
                .context("the uploader reported no parts to commit")?;
            check_parts(&parts, self.s3.parts)?;
            let Some(id) = self.upload_id.clone() else {
                bail!("the upload is no longer open");
            };
            let (s3, key) = (self.s3.clone(), self.key.clone());
            let size = super::blocking("completing the upload", move || {
                s3.complete(&key, &id, &parts)?;
                s3.size(&key)
            })
            .await;
            let size = match size {
                Ok(n) => {
                    // Completed: nothing to abort.
                    self.upload_id = None;
                    n
                }
                Err(e) => return Err(e),
            };
            if size != bytes || size != up.uploaded_bytes {
                bail!(
                    "the object holds {size} bytes, the uploader reported {bytes} (uploaded {})",
                    up.uploaded_bytes
                );
            }
            Ok(Delivered {
                location: self.object(),
                verified: Verified {
                    sha256: None,
                    bytes: Some(size),
                    how: "completed by the launcher, size by HeadObject".into(),
                },
            })
        }
    }
}

impl Drop for Commit {
    fn drop(&mut self) {
        let Some(id) = self.upload_id.take() else {
            return;
        };
        let (s3, key) = (self.s3.clone(), self.key.clone());
        crate::janitor::spawn(async move {
            let object = format!("s3://{}/{key}", s3.bucket.name());
            match super::blocking("aborting", move || s3.abort(&key, &id)).await {
                Ok(()) => tracing::info!("aborted the multipart upload to {object}"),
                Err(e) => tracing::warn!("aborting the multipart upload to {object}: {e:#}"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipts(numbers: &[u32]) -> Vec<PartReceipt> {
        numbers
            .iter()
            .map(|&number| PartReceipt {
                number,
                etag: format!("\"e{number}\""),
            })
            .collect()
    }

    #[test]
    fn only_parts_numbered_in_order_within_the_plan_are_committed() {
        assert!(check_parts(&receipts(&[1, 2, 3]), 3).is_ok());
        assert!(check_parts(&receipts(&[]), 3).is_err());
        assert!(check_parts(&receipts(&[1, 2, 3, 4]), 3).is_err());
        assert!(check_parts(&receipts(&[1, 3]), 3).is_err());
        assert!(check_parts(&receipts(&[2, 1]), 3).is_err());
    }
}
