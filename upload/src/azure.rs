//! Azure Blob Storage through a SAS URL: the archive streams as blocks (`comp=block`)
//! committed at the end by `comp=blocklist`, which also attaches the archive's sha256 as
//! blob metadata (`x-ms-meta-*` headers are outside a service SAS signature).

use super::http::{Http, Request};
use super::{Protocol, Receipt, UploadError};
use base64::Engine as _;
use url::Url;

/// The REST version cairn speaks; the SAS's own `sv` governs authorization.
const VERSION: &str = "2021-12-02";
/// Azure's limit of committed blocks per blob.
const MAX_BLOCKS: u32 = 50_000;

pub struct AzureBlob {
    pub url: Url,
}

/// Block IDs must all have the same length within a blob: 16 bytes before base64.
fn block_id(index: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("block-{index:010}"))
}

impl AzureBlob {
    pub fn new(url: Url) -> AzureBlob {
        AzureBlob { url }
    }

    fn with(&self, pairs: &[(&str, &str)]) -> Url {
        let mut u = self.url.clone();
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
        }
        u
    }

    fn put_block(
        &self,
        http: &Http,
        what: String,
        id: &str,
        data: &[u8],
    ) -> Result<(), UploadError> {
        let url = self.with(&[("comp", "block"), ("blockid", id)]);
        let r = Request {
            what,
            method: "PUT",
            url: &url,
            headers: vec![("x-ms-version", VERSION.into())],
            body: data,
        };
        http.call(&r, |s| s == 201)?;
        Ok(())
    }

    fn commit(
        &self,
        http: &Http,
        what: &str,
        blocks: &[Receipt],
        meta: &[(&'static str, String)],
    ) -> Result<(), UploadError> {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for id in blocks.iter().flatten() {
            xml.push_str(&format!("<Latest>{id}</Latest>"));
        }
        xml.push_str("</BlockList>");
        let url = self.with(&[("comp", "blocklist")]);
        let mut headers = vec![
            ("x-ms-version", VERSION.to_owned()),
            ("content-type", "application/xml".to_owned()),
            ("x-ms-blob-content-type", "application/zstd".to_owned()),
        ];
        headers.extend(meta.iter().cloned());
        let r = Request {
            what: what.into(),
            method: "PUT",
            url: &url,
            headers,
            body: xml.as_bytes(),
        };
        http.call(&r, |s| s == 201)?;
        Ok(())
    }
}

impl Protocol for AzureBlob {
    fn preflight(&self, http: &Http) -> Result<Option<String>, UploadError> {
        // An uncommitted block is invisible, and discarded when the block list is
        // committed without it.
        let id = base64::engine::general_purpose::STANDARD.encode("preflight-000000");
        self.put_block(http, "preflight (uncommitted block)".into(), &id, b"\0")?;
        Ok(Some("Put Block of an uncommitted block accepted".into()))
    }

    fn max_parts(&self) -> Option<u32> {
        Some(MAX_BLOCKS)
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
        if data.is_empty() && last {
            return Ok(None);
        }
        let id = block_id(index);
        self.put_block(http, format!("block {}", index + 1), &id, data)?;
        Ok(Some(id))
    }

    fn finish(
        &self,
        http: &Http,
        receipts: &[Receipt],
        total: u64,
        sha256: &str,
    ) -> Result<(), UploadError> {
        self.commit(
            http,
            "Put Block List",
            receipts,
            &[
                ("x-ms-meta-cairn_sha256", sha256.to_owned()),
                ("x-ms-meta-cairn_bytes", total.to_string()),
            ],
        )
    }

    fn commit_prefix(
        &self,
        http: &Http,
        receipts: &[Receipt],
        _: u64,
    ) -> Result<bool, UploadError> {
        if receipts.iter().flatten().next().is_none() {
            return Ok(false);
        }
        self.commit(
            http,
            "Put Block List of the blocks sent before the failure",
            receipts,
            &[("x-ms-meta-cairn_partial", "true".to_owned())],
        )?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn block_ids_have_one_length() {
        let a = super::block_id(0);
        let b = super::block_id(49_999);
        let p = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "preflight-000000",
        );
        assert_eq!(a.len(), b.len());
        assert_eq!(a.len(), p.len());
    }
}
