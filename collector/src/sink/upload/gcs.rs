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
use super::{Protocol, UploadError};
use url::Url;

/// A resumable session.
pub struct GcsResumable {
    pub url: Url,
    /// Bytes the session has persisted (whole chunks acknowledged).
    persisted: u64,
}

impl GcsResumable {
    pub fn new(url: Url) -> GcsResumable {
        GcsResumable { url, persisted: 0 }
    }
}

impl Protocol for GcsResumable {
    fn part(
        &mut self,
        http: &Http,
        index: u32,
        offset: u64,
        data: &[u8],
        last: bool,
    ) -> Result<(), UploadError> {
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
        self.persisted = end;
        Ok(())
    }

    fn commit_prefix(&mut self, http: &Http) -> Result<bool, UploadError> {
        if self.persisted == 0 {
            return Ok(false);
        }
        let r = Request {
            what: "finalizing the session at the chunks sent before the failure".into(),
            method: "PUT",
            url: &self.url,
            headers: vec![("content-range", format!("bytes */{}", self.persisted))],
            body: &[],
        };
        http.call(&r, |s| s == 200 || s == 201)?;
        Ok(true)
    }
}
