//! One presigned PUT of the whole archive: S3 SigV4 and GCS V4 signed URLs alike (the
//! request is the same; the URL carries the authorization).

use super::http::{Http, Request};
use super::{Protocol, Receipt, UploadError};
use url::Url;

pub struct SinglePut {
    pub url: Url,
}

impl Protocol for SinglePut {
    fn part(
        &self,
        http: &Http,
        _index: u32,
        _offset: u64,
        data: &[u8],
        _last: bool,
    ) -> Result<Receipt, UploadError> {
        let r = Request {
            what: "PUT of the archive".into(),
            method: "PUT",
            url: &self.url,
            headers: vec![],
            body: data,
        };
        http.call(&r, |s| s == 200 || s == 201)?;
        Ok(Some(String::new()))
    }
}
