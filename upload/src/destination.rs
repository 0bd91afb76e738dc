//! Where an upload goes: the URL kinds cairn speaks (S3 SigV4 presigned PUT, S3 multipart
//! and POST through an upload plan, Azure Blob SAS, GCS V4 signed PUT and resumable
//! sessions), recognised from the URL, shown only in redacted form (a presigned URL is a
//! credential), and checked locally for expiry before anything is collected.

use super::plan::Plan;
pub use super::presigned::{detect, expiry_of, iso_time, now, redact, redact_text, Kind};
use super::presigned::{names_container_only, query};
use super::UploadError;
use url::Url;

/// A parsed destination: the kind, the URL to use first, and the plan if any.
#[derive(Debug, Clone)]
pub struct Destination {
    pub kind: Kind,
    pub url: Url,
    pub plan: Option<Plan>,
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
                    at: crate::presigned::rfc3339(t),
                    now: crate::presigned::rfc3339(now),
                });
            }
        }
        Ok(expires)
    }
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
        assert_eq!(crate::presigned::rfc3339(t), "2026-11-23T11:15:00Z");
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
            crate::presigned::rfc3339(expiry_of(&az).unwrap()),
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
