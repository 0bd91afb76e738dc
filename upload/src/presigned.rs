//! What a presigned upload URL says about itself: its kind (S3 SigV4 presigned PUT
//! or part, Azure Blob SAS, GCS V4 signed PUT or resumable session), when it expires,
//! and its redacted form (a presigned URL is a credential: only scheme, host and path
//! are ever shown).

use std::time::{SystemTime, UNIX_EPOCH};
use url::Url;

/// The protocol an upload speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One presigned S3 PUT (the length must be known: the archive is held in memory).
    S3Put,
    /// S3 multipart upload through presigned UploadPart URLs (`--upload-plan`).
    S3Multipart,
    /// S3 presigned POST policy (`--upload-plan` with URL and form fields).
    S3Post,
    /// Azure Blob Storage SAS (blob or container): Put Block + Put Block List.
    AzureBlob,
    /// GCS V4 signed PUT (one request, like S3 PUT).
    GcsPut,
    /// GCS resumable upload session URL: chunks of 256 KiB multiples.
    GcsResumable,
}

impl Kind {
    /// True when the protocol takes the archive in parts as it is produced.
    pub fn streams(self) -> bool {
        matches!(
            self,
            Kind::S3Multipart | Kind::AzureBlob | Kind::GcsResumable
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::S3Put => "s3-put",
            Kind::S3Multipart => "s3-multipart",
            Kind::S3Post => "s3-post",
            Kind::AzureBlob => "azure-blob",
            Kind::GcsPut => "gcs-put",
            Kind::GcsResumable => "gcs-resumable",
        }
    }
}

/// `scheme://host[:port]/path?[redacted]`: what logs, errors and the summary may show.
pub fn redact(url: &Url) -> String {
    let mut s = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(p) = url.port() {
        s.push_str(&format!(":{p}"));
    }
    s.push_str(url.path());
    if url.query().is_some() {
        s.push_str("?[query redacted]");
    }
    s
}

/// Redacts a URL given as text (also when it does not parse).
pub fn redact_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(u) => redact(&u),
        Err(_) => match text.split_once('?') {
            Some((head, _)) => format!("{head}?[query redacted]"),
            None => text.to_owned(),
        },
    }
}

pub(crate) fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// Recognises the kind of a presigned URL.
pub fn detect(url: &Url) -> Option<Kind> {
    let has = |n: &str| query(url, n).is_some();
    if has("X-Amz-Signature") || has("X-Amz-Credential") {
        Some(if has("uploadId") {
            Kind::S3Multipart
        } else {
            Kind::S3Put
        })
    } else if has("upload_id") || has("upload_id".to_uppercase().as_str()) {
        Some(Kind::GcsResumable)
    } else if has("X-Goog-Signature") || has("X-Goog-Credential") {
        Some(Kind::GcsPut)
    } else if has("sig") && (has("sv") || has("sr")) {
        Some(Kind::AzureBlob)
    } else {
        None
    }
}

/// True when an Azure URL's path names a container and no blob: one segment, or two
/// where the account is in the path (an IP address or localhost, as Azurite and the
/// Azure SDKs' path-style URLs have it). A container SAS URL that already names a blob
/// (e.g. from the launcher's `--upload-url-template`) is used as it is.
pub(crate) fn names_container_only(url: &Url) -> bool {
    let segments = url
        .path_segments()
        .map_or(0, |s| s.filter(|p| !p.is_empty()).count());
    let account_in_path = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
        || url.host_str() == Some("localhost");
    segments <= if account_in_path { 2 } else { 1 }
}

/// When a presigned URL expires (Unix seconds), from its own query: S3
/// `X-Amz-Date`+`X-Amz-Expires`, GCS `X-Goog-Date`+`X-Goog-Expires`, Azure `se`.
pub fn expiry_of(url: &Url) -> Option<i64> {
    if let (Some(d), Some(e)) = (query(url, "X-Amz-Date"), query(url, "X-Amz-Expires")) {
        return Some(basic_time(&d)? + e.parse::<i64>().ok()?);
    }
    if let (Some(d), Some(e)) = (query(url, "X-Goog-Date"), query(url, "X-Goog-Expires")) {
        return Some(basic_time(&d)? + e.parse::<i64>().ok()?);
    }
    if let (Some(se), Some(_)) = (query(url, "se"), query(url, "sig")) {
        return iso_time(&se);
    }
    None
}

/// `20261123T101500Z` (SigV4 and GCS V4 basic format).
pub(crate) fn basic_time(s: &str) -> Option<i64> {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, f)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// `2026-11-23T10:15:00Z` or with fractional seconds / offset (Azure `se`, POST policy
/// `expiration`); a bare date means its midnight UTC.
pub fn iso_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let f = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, f)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp())
}

/// Seconds since the epoch as RFC 3339 UTC, for expiry messages (`@SECS` when out
/// of range).
pub fn rfc3339(secs: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
