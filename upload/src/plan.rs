//! The upload plan (`--upload-plan FILE|-`): a small JSON document for the S3 upload
//! forms that need more than one URL. `s3-multipart` lists a presigned UploadPart URL
//! per part and the CompleteMultipartUpload URL, so an archive of any size streams in
//! parts; `s3-post` carries a presigned POST policy (URL plus form fields). The format
//! is specified in docs/upload-plan.md; the launcher writes it.

use super::presigned::{expiry_of, iso_time, redact_text, Kind};
use super::UploadError;
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use url::Url;

/// Smallest S3 part (every part but the last).
pub const MIN_PART: u64 = 5 << 20;
/// Largest part cairn accepts: two parts are held in memory at once.
pub const MAX_PART: u64 = 16 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    version: u32,
    kind: String,
    #[serde(default)]
    part_size: Option<u64>,
    #[serde(default)]
    parts: Vec<String>,
    #[serde(default)]
    complete_url: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    /// Where the object lands, for display (`s3://bucket/key`).
    #[serde(default)]
    object: Option<String>,
}

/// A validated plan.
#[derive(Debug, Clone)]
pub enum Plan {
    S3Multipart {
        part_size: u64,
        parts: Vec<Url>,
        /// The CompleteMultipartUpload URL; without one the parts are reported for the
        /// launcher to commit with its own credentials.
        complete: Option<Url>,
        object: Option<String>,
    },
    S3Post {
        url: Url,
        fields: BTreeMap<String, String>,
        object: Option<String>,
    },
}

impl Plan {
    /// Parses and checks a plan. Errors name the field and never echo a URL's query.
    pub fn parse(text: &[u8]) -> Result<Plan, UploadError> {
        let bad = |m: String| UploadError::Config(format!("upload plan: {m}"));
        let raw: Raw = serde_json::from_slice(text).map_err(|e| bad(e.to_string()))?;
        if raw.version != 1 {
            return Err(bad(format!(
                "version {} is not supported (this collector reads version 1)",
                raw.version
            )));
        }
        let url = |field: &str, s: &str| {
            Url::parse(s).map_err(|e| bad(format!("{field} {}: {e}", redact_text(s))))
        };
        match raw.kind.as_str() {
            "s3-multipart" => {
                let part_size = raw
                    .part_size
                    .ok_or_else(|| bad("`part_size` is required for s3-multipart".into()))?;
                if !(MIN_PART..=MAX_PART).contains(&part_size) {
                    return Err(bad(format!(
                        "`part_size` {part_size} is outside {MIN_PART}..={MAX_PART} bytes (S3's 5 MiB minimum; two parts are held in memory)"
                    )));
                }
                if raw.parts.is_empty() || raw.parts.len() > 10_000 {
                    return Err(bad(format!(
                        "`parts` has {} URLs; S3 allows 1 to 10,000",
                        raw.parts.len()
                    )));
                }
                let mut parts = Vec::with_capacity(raw.parts.len());
                for (i, p) in raw.parts.iter().enumerate() {
                    let u = url(&format!("parts[{i}]"), p)?;
                    let n = u
                        .query_pairs()
                        .find(|(k, _)| k == "partNumber")
                        .and_then(|(_, v)| v.parse::<usize>().ok());
                    if n != Some(i + 1) {
                        return Err(bad(format!(
                            "parts[{i}] must be the UploadPart URL of partNumber={} ({})",
                            i + 1,
                            redact_text(p)
                        )));
                    }
                    parts.push(u);
                }
                let complete = match raw.complete_url.as_deref() {
                    Some(c) => Some(url("complete_url", c)?),
                    None => None,
                };
                Ok(Plan::S3Multipart {
                    part_size,
                    parts,
                    complete,
                    object: raw.object,
                })
            }
            "s3-post" => {
                let u = raw
                    .url
                    .as_deref()
                    .ok_or_else(|| bad("`url` is required for s3-post".into()))?;
                if !raw.fields.contains_key("key") || !raw.fields.contains_key("policy") {
                    return Err(bad(
                        "s3-post `fields` must hold at least `key` and `policy`".into(),
                    ));
                }
                Ok(Plan::S3Post {
                    url: url("url", u)?,
                    fields: raw.fields,
                    object: raw.object,
                })
            }
            k => Err(bad(format!(
                "kind `{k}` is not one of s3-multipart, s3-post"
            ))),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Plan::S3Multipart { .. } => Kind::S3Multipart,
            Plan::S3Post { .. } => Kind::S3Post,
        }
    }

    /// The URL shown (redacted) as the destination.
    pub fn first_url(&self) -> &Url {
        match self {
            Plan::S3Multipart {
                complete, parts, ..
            } => complete.as_ref().unwrap_or(&parts[0]),
            Plan::S3Post { url, .. } => url,
        }
    }

    pub fn object(&self) -> Option<&str> {
        match self {
            Plan::S3Multipart { object, .. } | Plan::S3Post { object, .. } => object.as_deref(),
        }
    }

    /// The earliest expiry of any URL in the plan, or the POST policy's `expiration`.
    pub fn expires(&self) -> Option<i64> {
        match self {
            Plan::S3Multipart {
                parts, complete, ..
            } => parts
                .iter()
                .chain(complete.iter())
                .filter_map(expiry_of)
                .min(),
            Plan::S3Post { fields, .. } => {
                let policy = fields.get("policy")?;
                let json = base64::engine::general_purpose::STANDARD
                    .decode(policy.trim())
                    .ok()?;
                let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
                iso_time(v.get("expiration")?.as_str()?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: usize) -> String {
        format!("https://b.s3.amazonaws.com/k?partNumber={n}&uploadId=U&X-Amz-Date=20261123T100000Z&X-Amz-Expires={}&X-Amz-Signature=s{n}", 3600 + n)
    }

    #[test]
    fn a_plan_without_a_completion_url_leaves_the_commit_to_the_launcher() {
        let doc = serde_json::json!({
            "version": 1, "kind": "s3-multipart", "part_size": 8 << 20,
            "parts": [part(1), part(2)], "object": "s3://b/k",
        });
        match Plan::parse(doc.to_string().as_bytes()).unwrap() {
            Plan::S3Multipart { complete, .. } => assert!(complete.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_multipart_plan_is_read_and_checked() {
        let doc = serde_json::json!({
            "version": 1, "kind": "s3-multipart", "part_size": 8 << 20,
            "parts": [part(1), part(2)],
            "complete_url": "https://b.s3.amazonaws.com/k?uploadId=U&X-Amz-Date=20261123T100000Z&X-Amz-Expires=7200&X-Amz-Signature=c",
            "object": "s3://b/k",
        });
        let p = Plan::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(p.kind(), Kind::S3Multipart);
        assert_eq!(p.object(), Some("s3://b/k"));
        // The earliest URL expiry: part 1's.
        assert_eq!(
            crate::presigned::rfc3339(p.expires().unwrap()),
            "2026-11-23T11:00:01Z"
        );
    }

    #[test]
    fn bad_plans_say_which_field_and_never_echo_a_query() {
        let err = |v: serde_json::Value| {
            Plan::parse(v.to_string().as_bytes())
                .unwrap_err()
                .to_string()
        };
        let e = err(
            serde_json::json!({"version": 1, "kind": "s3-multipart", "part_size": 1024, "parts": [part(1)], "complete_url": part(1)}),
        );
        assert!(e.contains("part_size"), "{e}");
        let e = err(
            serde_json::json!({"version": 1, "kind": "s3-multipart", "part_size": 8 << 20, "parts": [part(2)], "complete_url": part(1)}),
        );
        assert!(
            e.contains("parts[0]") && e.contains("partNumber=1") && !e.contains("s2"),
            "{e}"
        );
        let e = err(serde_json::json!({"version": 2, "kind": "s3-post"}));
        assert!(e.contains("version 2"), "{e}");
        let e = err(
            serde_json::json!({"version": 1, "kind": "s3-post", "url": "https://b/", "fields": {"key": "k"}}),
        );
        assert!(e.contains("policy"), "{e}");
        let e = err(serde_json::json!({"version": 1, "kind": "ftp"}));
        assert!(e.contains("`ftp`"), "{e}");
    }

    #[test]
    fn a_post_plan_expires_with_its_policy() {
        let policy = base64::engine::general_purpose::STANDARD
            .encode(r#"{"expiration":"2026-11-23T12:00:00.000Z","conditions":[]}"#);
        let doc = serde_json::json!({"version": 1, "kind": "s3-post", "url": "https://b.s3.amazonaws.com/",
            "fields": {"key": "case/x.tar.zst", "policy": policy, "x-amz-signature": "s"}});
        let p = Plan::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(p.kind(), Kind::S3Post);
        assert_eq!(
            crate::presigned::rfc3339(p.expires().unwrap()),
            "2026-11-23T12:00:00Z"
        );
    }
}
