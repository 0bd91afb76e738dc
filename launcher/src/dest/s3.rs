//! `--s3 s3://bucket/prefix`: the launcher presigns with the responder's own AWS
//! credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
//! region from `AWS_REGION` or `AWS_DEFAULT_REGION`; `AWS_ENDPOINT_URL_S3` or
//! `AWS_ENDPOINT_URL` for S3-compatible stores, addressed path-style). Per target it
//! starts a multipart upload itself and hands the collector an upload plan
//! (docs/upload-plan.md) of presigned UploadPart and CompleteMultipartUpload URLs: the
//! collector never holds a credential.

use super::{Destination, Opened, Uploaded};
use crate::targets::Target;
use anyhow::{bail, Context};
use cairn_protocol::{duration, flags};
use futures_util::future::BoxFuture;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
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
    /// How long presigned URLs stay valid (e.g. 6h).
    #[arg(long, default_value = "6h", value_parser = duration::parse_arg, help_heading = "Destination (one of)")]
    pub url_expiry: Duration,
}

impl Flags {
    pub fn destination(&self) -> Option<anyhow::Result<Box<dyn Destination>>> {
        let target = self.s3.as_deref()?;
        Some(
            S3::from_env(target, self.s3_parts, self.url_expiry)
                .map(|s| Box::new(s) as Box<dyn Destination>),
        )
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
    fn open<'a>(&'a self, _t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move {
            let (s3, key) = (self.clone(), super::key(&self.prefix, name));
            let plan = tokio::task::spawn_blocking(move || s3.plan(&key))
                .await
                .context("presigning")??;
            Ok(Opened {
                args: vec![flags::UPLOAD_PLAN.to_owned(), flags::STDIO.to_owned()],
                payload: Some(plan),
                keep: None,
                delivery: Box::new(Uploaded { object: None }),
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

    /// Starts a multipart upload for `key` and returns the collector's upload plan.
    pub fn plan(&self, key: &str) -> anyhow::Result<String> {
        let create = self
            .bucket
            .create_multipart_upload(Some(&self.creds), key)
            .sign(Duration::from_secs(300));
        let mut resp = ureq::post(create.as_str())
            .config()
            .http_status_as_error(false)
            .build()
            .send_empty()
            .map_err(|e| anyhow::anyhow!("CreateMultipartUpload for {key}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            bail!(
                "CreateMultipartUpload for s3://{}/{key}: HTTP {status}: {}",
                self.bucket.name(),
                body.chars().take(300).collect::<String>()
            );
        }
        let created = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|e| anyhow::anyhow!("CreateMultipartUpload answer: {e}"))?;
        let id = created.upload_id();
        let parts: Vec<String> = (1..=self.parts)
            .map(|n| {
                self.bucket
                    .upload_part(Some(&self.creds), key, n, id)
                    .sign(self.expiry)
                    .to_string()
            })
            .collect();
        let complete = self
            .bucket
            .complete_multipart_upload(Some(&self.creds), key, id, std::iter::empty::<&str>())
            .sign(self.expiry)
            .to_string();
        Ok(serde_json::json!({
            "version": 1,
            "kind": "s3-multipart",
            "part_size": PART_SIZE,
            "parts": parts,
            "complete_url": complete,
            "object": format!("s3://{}/{key}", self.bucket.name()),
        })
        .to_string())
    }
}
