//! Where an upload goes: the URL kinds cairn speaks (S3 SigV4 presigned PUT, S3 multipart
//! and POST through an upload plan, Azure Blob SAS, GCS V4 signed PUT and resumable
//! sessions), recognised from the URL, shown only in redacted form (a presigned URL is a
//! credential), and checked locally for expiry before anything is collected.

use super::plan::Plan;
use super::UploadError;
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

/// A parsed destination: the kind, the URL to use first, and the plan if any.
#[derive(Debug, Clone)]
pub struct Destination {
    pub kind: Kind,
    pub url: Url,
    pub plan: Option<Plan>,
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

fn query(url: &Url, name: &str) -> Option<String> {
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

impl Destination {
    /// Builds the destination from `--upload-url`, `--upload-plan` and `--upload-kind`;
    /// `blob_name` is inserted into an Azure container SAS URL.
    pub fn new(
        url: Option<&str>,
        plan: Option<Plan>,
        kind: Option<Kind>,
        blob_name: &str,
    ) -> Result<Destination, UploadError> {
        let bad = |m: String| UploadError::Config(m);
        let (kind, url) = match (&plan, url) {
            (Some(p), None) => (p.kind(), p.first_url().clone()),
            (Some(_), Some(_)) => {
                return Err(bad(
                    "give either --upload-url or --upload-plan, not both".into()
                ))
            }
            (None, Some(u)) => {
                let url = Url::parse(u)
                    .map_err(|e| bad(format!("--upload-url {}: {e}", redact_text(u))))?;
                let k = match kind.or_else(|| detect(&url)) {
                    Some(k) => k,
                    None => return Err(bad(format!(
                        "cannot tell what kind of upload URL {} is (no X-Amz-Signature, X-Goog-Signature, upload_id or SAS sig): give --upload-kind",
                        redact(&url)
                    ))),
                };
                if matches!(k, Kind::S3Multipart | Kind::S3Post) {
                    return Err(bad(format!(
                        "{} needs an upload plan (--upload-plan FILE|-), not a single URL; see docs/upload-plan.md",
                        k.name()
                    )));
                }
                (k, url)
            }
            (None, None) => return Err(bad("no upload destination".into())),
        };
        if !matches!(url.scheme(), "https" | "http") {
            return Err(bad(format!(
                "upload URL scheme `{}` is not http(s)",
                url.scheme()
            )));
        }
        let mut url = url;
        if kind == Kind::AzureBlob
            && query(&url, "sr").as_deref() == Some("c")
            && names_container_only(&url)
        {
            // A container SAS: the blob name goes into the path, before the query.
            let path = format!("{}/{}", url.path().trim_end_matches('/'), blob_name);
            url.set_path(&path);
        }
        Ok(Destination { kind, url, plan })
    }

    /// Refuses a URL (or plan) whose signature has already expired, by the clock of the
    /// target; returns when it expires, if the URL says.
    pub fn check_expiry(&self, now: i64) -> Result<Option<i64>, UploadError> {
        let expires = match &self.plan {
            Some(p) => p.expires(),
            None => expiry_of(&self.url),
        };
        if let Some(t) = expires {
            if t <= now {
                return Err(UploadError::Expired {
                    location: redact(&self.url),
                    at: crate::units::rfc3339(t, 0),
                    now: crate::units::rfc3339(now, 0),
                });
            }
        }
        Ok(expires)
    }
}

/// True when an Azure URL's path names a container and no blob: one segment, or two
/// where the account is in the path (an IP address or localhost, as Azurite and the
/// Azure SDKs' path-style URLs have it). A container SAS URL that already names a blob
/// (e.g. from the launcher's `--upload-url-template`) is used as it is.
fn names_container_only(url: &Url) -> bool {
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
fn basic_time(s: &str) -> Option<i64> {
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

/// Seconds since the epoch now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3: &str = "https://bucket.s3.eu-west-1.amazonaws.com/case-7/pod.tar.zst?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261123%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20261123T101500Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeef";

    #[test]
    fn kinds_are_recognised_from_the_query() {
        let k = |u: &str| detect(&Url::parse(u).unwrap());
        assert_eq!(k(S3), Some(Kind::S3Put));
        assert_eq!(
            k("https://b.s3.amazonaws.com/k?partNumber=1&uploadId=abc&X-Amz-Signature=1&X-Amz-Credential=x"),
            Some(Kind::S3Multipart)
        );
        assert_eq!(
            k("https://acct.blob.core.windows.net/evidence/x.tar.zst?sv=2022-11-02&sr=b&sp=cw&se=2026-11-23T12:00:00Z&sig=abc%3D"),
            Some(Kind::AzureBlob)
        );
        assert_eq!(
            k("https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=a&X-Goog-Date=20261123T101500Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=ab"),
            Some(Kind::GcsPut)
        );
        assert_eq!(
            k("https://storage.googleapis.com/upload/storage/v1/b/b/o?uploadType=resumable&name=x&upload_id=ADPycd"),
            Some(Kind::GcsResumable)
        );
        assert_eq!(k("https://example.com/x?a=b"), None);
    }

    #[test]
    fn redaction_keeps_scheme_host_and_path_only() {
        let r = redact_text(S3);
        assert_eq!(
            r,
            "https://bucket.s3.eu-west-1.amazonaws.com/case-7/pod.tar.zst?[query redacted]"
        );
        assert!(!r.contains("deadbeef") && !r.contains("AKIA"));
        assert_eq!(
            redact_text("not a url?sig=secret"),
            "not a url?[query redacted]"
        );
    }

    #[test]
    fn expiry_comes_from_the_url_itself() {
        let u = Url::parse(S3).unwrap();
        let t = expiry_of(&u).unwrap();
        assert_eq!(crate::units::rfc3339(t, 0), "2026-11-23T11:15:00Z");
        let d = Destination::new(Some(S3), None, None, "x").unwrap();
        assert!(d.check_expiry(t - 1).is_ok());
        let e = d.check_expiry(t).unwrap_err().to_string();
        assert!(e.contains("expired at 2026-11-23T11:15:00Z"), "{e}");
        assert!(!e.contains("deadbeef"));
        let az = Url::parse(
            "https://a.blob.core.windows.net/c?sv=1&sr=c&se=2026-11-23T12%3A00%3A00Z&sig=x",
        )
        .unwrap();
        assert_eq!(
            crate::units::rfc3339(expiry_of(&az).unwrap(), 0),
            "2026-11-23T12:00:00Z"
        );
    }

    #[test]
    fn a_container_sas_gets_the_blob_name_in_its_path() {
        let d = Destination::new(
            Some("http://127.0.0.1:10000/devstoreaccount1/evidence?sv=2022-11-02&sr=c&sp=cw&se=2099-01-01&sig=abc"),
            None,
            None,
            "ns_pod_ct.tar.zst",
        )
        .unwrap();
        assert_eq!(d.kind, Kind::AzureBlob);
        assert_eq!(d.url.path(), "/devstoreaccount1/evidence/ns_pod_ct.tar.zst");
        assert!(d.url.query().unwrap().contains("sig=abc"));
        // A blob SAS is used as is.
        let d = Destination::new(
            Some("http://127.0.0.1:10000/devstoreaccount1/evidence/b.tar.zst?sv=1&sr=b&sig=abc"),
            None,
            None,
            "other",
        )
        .unwrap();
        assert_eq!(d.url.path(), "/devstoreaccount1/evidence/b.tar.zst");
        // A container SAS whose path already names a blob is used as is too.
        for u in [
            "http://127.0.0.1:10000/devstoreaccount1/evidence/ns/pod.tar.zst?sv=1&sr=c&sig=abc",
            "https://a.blob.core.windows.net/evidence/ns/pod.tar.zst?sv=1&sr=c&sig=abc",
        ] {
            let d = Destination::new(Some(u), None, None, "other").unwrap();
            assert!(d.url.path().ends_with("/evidence/ns/pod.tar.zst"), "{u}");
        }
        let d = Destination::new(
            Some("https://a.blob.core.windows.net/evidence?sv=1&sr=c&sig=abc"),
            None,
            None,
            "x.tar.zst",
        )
        .unwrap();
        assert_eq!(d.url.path(), "/evidence/x.tar.zst");
    }

    #[test]
    fn unknown_and_plan_only_kinds_are_refused_with_what_to_do() {
        let e = Destination::new(Some("https://example.com/x?token=secret"), None, None, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--upload-kind") && !e.contains("secret"), "{e}");
        let e = Destination::new(Some(S3), None, Some(Kind::S3Multipart), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--upload-plan"), "{e}");
    }
}
