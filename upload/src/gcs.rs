//! Google Cloud Storage: a resumable upload session (`upload_id` URL) fed chunk by
//! chunk, each retried whole on failure. A V4 signed PUT is
//! [`super::single::SinglePut`].
//!
//! GCS documents a status query (`PUT` with `Content-Range: bytes */*`, answered 308)
//! that could serve as a preflight and as the resume point after a partial chunk. It is
//! not used: fake-gcs-server, the only GCS server the tests can run, finalizes the
//! object on that request, so the code path could not be tested. A session URL carries
//! no expiry (sessions live a week), so a resumable upload gets no preflight.

use super::http::{Http, Request};
use super::{Protocol, Receipt, UploadError};
use url::Url;

/// A resumable session.
pub struct GcsResumable {
    pub url: Url,
}

impl GcsResumable {
    pub fn new(url: Url) -> GcsResumable {
        GcsResumable { url }
    }
}

impl Protocol for GcsResumable {
    fn part(
        &self,
        http: &Http,
        index: u32,
        offset: u64,
        data: &[u8],
        last: bool,
    ) -> Result<Receipt, UploadError> {
        let end = offset + data.len() as u64;
        let range = match (last, data.is_empty()) {
            (true, true) => format!("bytes */{end}"),
            (true, false) => format!("bytes {offset}-{}/{end}", end - 1),
            (false, _) => format!("bytes {offset}-{}/*", end - 1),
        };
        let r = Request {
            what: format!("chunk {}", index + 1),
            method: "PUT",
            url: &self.url,
            headers: vec![("content-range", range)],
            body: data,
        };
        http.call(&r, |s| if last { s == 200 || s == 201 } else { s == 308 })?;
        Ok((!data.is_empty()).then(String::new))
    }

    fn commit_prefix(&self, http: &Http, _: &[Receipt], bytes: u64) -> Result<bool, UploadError> {
        if bytes == 0 {
            return Ok(false);
        }
        let r = Request {
            what: "finalizing the session at the chunks sent before the failure".into(),
            method: "PUT",
            url: &self.url,
            headers: vec![("content-range", format!("bytes */{bytes}"))],
            body: &[],
        };
        http.call(&r, |s| s == 200 || s == 201)?;
        Ok(true)
    }
}
