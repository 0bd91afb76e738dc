//! Amazon S3 through presigned requests only: a multipart upload whose UploadPart and
//! CompleteMultipartUpload URLs come from the upload plan, and a POST policy (form
//! fields plus the file). A single presigned PUT is [`super::single::SinglePut`]. No
//! credential ever reaches the collector.

use super::http::{Http, Request};
use super::{Protocol, Receipt, UploadError};
use std::collections::BTreeMap;
use url::Url;

/// A presigned POST policy: multipart/form-data with the plan's fields, then the file.
pub struct S3Post {
    pub url: Url,
    pub fields: BTreeMap<String, String>,
    pub filename: String,
}

impl Protocol for S3Post {
    fn part(
        &self,
        http: &Http,
        _index: u32,
        _offset: u64,
        data: &[u8],
        _last: bool,
    ) -> Result<Receipt, UploadError> {
        let boundary = format!(
            "cairn-{:016x}{:016x}",
            super::random_u64(),
            super::random_u64()
        );
        let mut head = String::new();
        // `key` first and `file` last, as S3 requires.
        let mut fields: Vec<(&String, &String)> = self.fields.iter().collect();
        fields.sort_by_key(|(k, _)| *k != "key");
        for (k, v) in fields {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            self.filename.replace('"', "_")
        ));
        let tail = format!("\r\n--{boundary}--\r\n");
        let r = Request {
            what: "POST of the archive".into(),
            method: "POST",
            url: &self.url,
            headers: vec![(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )],
            // One contiguous body: s3s's form parser failed ("failed to read file
            // stream") about one time in three on the same bytes sent as a reader
            // chain. The copy is bounded by SINGLE_LIMIT.
            body: &[head.as_bytes(), data, tail.as_bytes()].concat(),
        };
        http.call(&r, |s| matches!(s, 200 | 201 | 204))?;
        Ok(Some(String::new()))
    }
}

/// A multipart upload through the plan's presigned URLs. Without a completion URL the
/// parts stay uncommitted and their receipts are reported: the launcher commits them
/// with its own credentials, so the pod never holds the power to complete (or to
/// replace) the object.
pub struct S3Multipart {
    pub parts: Vec<Url>,
    pub complete: Option<Url>,
}

impl S3Multipart {
    pub fn new(parts: Vec<Url>, complete: Option<Url>) -> S3Multipart {
        S3Multipart { parts, complete }
    }

    fn complete_with(&self, http: &Http, what: &str, etags: &[Receipt]) -> Result<(), UploadError> {
        let Some(complete) = &self.complete else {
            return Ok(());
        };
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, e) in etags.iter().enumerate() {
            let Some(e) = e else { continue };
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                e
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let r = Request {
            what: what.into(),
            method: "POST",
            url: complete,
            headers: vec![("content-type", "application/xml".into())],
            body: xml.as_bytes(),
        };
        let resp = http.call(&r, |s| s == 200)?;
        // S3 may answer 200 and still fail the completion, in the body.
        if String::from_utf8_lossy(&resp.body).contains("<Error>") {
            return Err(UploadError::Request {
                what: what.into(),
                location: super::destination::redact(complete),
                attempts: 1,
                cause: format!("HTTP 200 with an error: {}", resp.service_error()),
            });
        }
        Ok(())
    }
}

impl Protocol for S3Multipart {
    fn preflight(&self, http: &Http) -> Result<Option<String>, UploadError> {
        // An empty part 1: invisible (no object until completion) and overwritten by the
        // real part 1.
        let r = Request {
            what: "preflight (empty UploadPart 1)".into(),
            method: "PUT",
            url: &self.parts[0],
            headers: vec![],
            body: &[],
        };
        http.call(&r, |s| s == 200)?;
        Ok(Some("UploadPart 1 accepted an empty part".into()))
    }

    fn max_parts(&self) -> Option<u32> {
        Some(self.parts.len() as u32)
    }

    fn commits(&self) -> bool {
        self.complete.is_some()
    }

    fn concurrent(&self) -> bool {
        true
    }

    fn part(
        &self,
        http: &Http,
        index: u32,
        _offset: u64,
        data: &[u8],
        last: bool,
    ) -> Result<Receipt, UploadError> {
        if data.is_empty() && last && index > 0 {
            return Ok(None);
        }
        let url = self.parts.get(index as usize).ok_or_else(|| {
            UploadError::Config(format!(
                "the upload plan has {} parts; the archive needs more (ask the launcher for a plan with more or larger parts)",
                self.parts.len()
            ))
        })?;
        let r = Request {
            what: format!("part {}", index + 1),
            method: "PUT",
            url,
            headers: vec![],
            body: data,
        };
        let resp = http.call(&r, |s| s == 200)?;
        Ok(Some(resp.header("etag").unwrap_or("").to_owned()))
    }

    fn finish(
        &self,
        http: &Http,
        receipts: &[Receipt],
        _total: u64,
        _sha256: &str,
    ) -> Result<(), UploadError> {
        self.complete_with(http, "CompleteMultipartUpload", receipts)
    }

    fn commit_prefix(
        &self,
        http: &Http,
        receipts: &[Receipt],
        _: u64,
    ) -> Result<bool, UploadError> {
        // Nothing to commit, or not ours to commit (the launcher aborts the upload).
        if receipts.iter().flatten().next().is_none() || self.complete.is_none() {
            return Ok(false);
        }
        self.complete_with(
            http,
            "CompleteMultipartUpload of the parts sent before the failure",
            receipts,
        )?;
        Ok(true)
    }
}
