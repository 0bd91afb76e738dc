//! `--upload-url-template URL`: to a URL made per target, with `{namespace}`,
//! `{pod}`, `{container}` and `{name}` filled in: for stores whose URLs allow any
//! object name under one credential, e.g. an Azure container SAS with the blob path in
//! it. Such a URL is a credential for every target's object, so it never enters a pod:
//! the archive comes back over exec and the launcher uploads it ([`super::relay`]).

use super::{relay, Arrived, Destination, Opened, Setting};
use crate::targets::Target;
use anyhow::bail;
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};

pub const FLAG: &str = "--upload-url-template";

/// The placeholders of `--upload-url-template`.
pub const PLACEHOLDERS: [&str; 4] = ["{namespace}", "{pod}", "{container}", "{name}"];

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Upload each archive to this URL with {namespace}, {pod}, {container} and
    /// {name} (the archive's file name) filled in per target: for stores whose URLs
    /// allow any object name under one credential, e.g. an Azure container SAS with
    /// the blob path in it. The URL never enters a pod: the archive comes back over
    /// exec and cairn uploads it (see --relay-dir).
    #[arg(long, value_name = "URL", help_heading = "Destination (one of)")]
    pub upload_url_template: Option<String>,
}

impl Flags {
    pub fn destination(&self, s: &Setting) -> Option<anyhow::Result<Box<dyn Destination>>> {
        let t = self.upload_url_template.clone()?;
        Some(Ok(Box::new(Template(t, s.relay_dir.clone()))))
    }
}

/// The template, and the relay directory.
pub struct Template(String, PathBuf);

impl Destination for Template {
    fn check(&self, targets: usize) -> anyhow::Result<()> {
        check(&self.0, targets)
    }

    fn open<'a>(&'a self, t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move { relay::open(expand(&self.0, t, name), name, &self.1) })
    }

    fn partial(&self, name: &str) -> Option<PathBuf> {
        Some(relay::partial(&self.1, name))
    }

    fn place(&self) -> String {
        super::azure::without_query(&self.0)
    }

    /// Without `{name}` the file would take the archive's place; a record of no target
    /// cannot fill per-target placeholders.
    fn no_place_for(&self, t: Option<&Target>) -> Option<String> {
        if !self.0.contains("{name}") {
            return Some("--upload-url-template has no {name}: it would overwrite the archive".into());
        }
        if t.is_none() && PLACEHOLDERS.iter().any(|p| *p != "{name}" && self.0.contains(p)) {
            return Some("--upload-url-template names objects per target".into());
        }
        None
    }

    /// Where the template says `{name}` goes.
    fn put<'a>(
        &'a self,
        t: Option<&'a Target>,
        name: &'a str,
        file: &'a Path,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move {
            if let Some(why) = self.no_place_for(t) {
                bail!("{name}: {why}");
            }
            let url = match t {
                Some(t) => expand(&self.0, t, name),
                None => self.0.replace("{name}", &encode(name)),
            };
            relay::put(url, name, file, arrived).await
        })
    }
}

/// A value percent-encoded as one path segment.
fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Fills the template for one target: `{namespace}`, `{pod}`, `{container}` and
/// `{name}` (the archive's file name), each percent-encoded as a path segment.
pub fn expand(template: &str, t: &Target, name: &str) -> String {
    template
        .replace("{namespace}", &encode(&t.namespace))
        .replace("{pod}", &encode(&t.pod))
        .replace("{container}", &encode(&t.container))
        .replace("{name}", &encode(name))
}

/// Checks the template before anything runs: a URL once filled, and with a
/// placeholder when several targets would otherwise overwrite one object.
pub fn check(template: &str, targets: usize) -> anyhow::Result<()> {
    let sample = template
        .replace("{namespace}", "ns")
        .replace("{pod}", "pod")
        .replace("{container}", "c")
        .replace("{name}", "a.tar.zst");
    let u: url::Url = sample
        .parse()
        .map_err(|e| anyhow::anyhow!("--upload-url-template is not a URL once filled ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        bail!("--upload-url-template must be an http(s) URL");
    }
    if targets > 1 && !PLACEHOLDERS.iter().any(|p| template.contains(p)) {
        bail!("--upload-url-template has no placeholder ({}): the {targets} targets would overwrite one object", PLACEHOLDERS.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_every_placeholder_encoded_and_refuse_one_object_for_many() {
        let t = Target::running("shop", "web 1", "app");
        assert_eq!(
            expand(
                "https://h/c/{namespace}/{pod}/{container}/{name}?sig=a%2Bb",
                &t,
                "x.tar.zst"
            ),
            "https://h/c/shop/web%201/app/x.tar.zst?sig=a%2Bb"
        );
        assert!(check("https://h/c/{pod}?sig=x", 3).is_ok());
        assert!(check("https://h/c/one.tar.zst?sig=x", 1).is_ok());
        let e = check("https://h/c/one.tar.zst?sig=x", 2).unwrap_err();
        assert!(e.to_string().contains("would overwrite one object"), "{e}");
        assert!(check("ftp://h/{name}", 1).is_err());
        assert!(check("not a url {name}", 1).is_err());
    }
}
