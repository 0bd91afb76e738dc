//! The relay: for a credential that cannot be narrowed to one object (an Azure
//! container SAS, a URL template), the pod never sees it. The archive comes back over
//! the exec's stdout into a private temporary file in `--relay-dir` (a random name,
//! mode 0600), is hashed on arrival and checked against the sha256 the collector
//! reports, and the launcher uploads it itself with the collector's own uploader
//! (cairn-upload: the same URL kinds, parts and retries). Whatever goes wrong, nothing
//! is lost: an archive whose upload failed stays in `--relay-dir` as NAME, one cut
//! off as NAME.part, one that arrived altered as NAME.corrupt, and the error says so.

use super::{Arrived, Delivered, Delivery, Opened, Verified};
use anyhow::Context;
use cairn_protocol::{flags, Done, UploadReport};
use cairn_upload::{destination::Destination, http::HttpConfig, UploadConfig, Uploader};
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Where the archive `name` waits, and the delivery that uploads it to `url` (a
/// credential: it stays in this process).
pub fn open(url: String, name: &str, dir: &Path) -> anyhow::Result<Opened> {
    let file = tempfile::Builder::new()
        .prefix(".cairn-relay-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in --relay-dir {}", dir.display()))?;
    let keep = file.reopen().context("opening the relay file")?;
    Ok(Opened {
        args: vec![flags::OUTPUT.to_owned(), flags::STDIO.to_owned()],
        payload: None,
        keep: Some(keep),
        delivery: Box::new(Relay {
            url,
            name: name.to_owned(),
            dir: dir.to_owned(),
            file: Some(file),
        }),
    })
}

/// Where a cut-off relay leaves the bytes that arrived.
pub fn partial(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.part"))
}

struct Relay {
    url: String,
    name: String,
    dir: PathBuf,
    /// `None` once the archive is uploaded or kept.
    file: Option<NamedTempFile>,
}

impl Relay {
    /// Keeps the archive as `dir/NAME{suffix}`; returns where.
    fn keep(&mut self, suffix: &str) -> Option<PathBuf> {
        let file = self.file.take()?;
        let to = self.dir.join(format!("{}{suffix}", self.name));
        match file.persist(&to) {
            Ok(_) => Some(to),
            Err(e) => {
                tracing::error!(
                    "keeping the relayed archive as {}: {}",
                    to.display(),
                    e.error
                );
                None
            }
        }
    }

    fn kept(&mut self, suffix: &str) -> String {
        match self.keep(suffix) {
            Some(p) => format!("the archive is kept in {}", p.display()),
            None => "and it could not be kept".into(),
        }
    }
}

impl Delivery for Relay {
    fn finish<'a>(
        mut self: Box<Self>,
        done: &'a Done,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<Delivered>> {
        Box::pin(async move {
            if done.sha256 != arrived.sha256 {
                let kept = self.kept(".corrupt");
                anyhow::bail!(
                    "the archive arrived altered: the collector reported sha256 {}, {} bytes arrived with sha256 {}; {kept}",
                    done.sha256,
                    arrived.bytes,
                    arrived.sha256
                );
            }
            let path = match &self.file {
                Some(f) => f.path().to_owned(),
                None => anyhow::bail!("the relayed archive is gone"),
            };
            match put(self.url.clone(), &self.name, &path, arrived).await {
                Ok(location) => {
                    self.file.take();
                    Ok(Delivered {
                        location,
                        verified: Verified {
                            sha256: Some(arrived.sha256.clone()),
                            bytes: Some(arrived.bytes),
                            how: "hashed on arrival, uploaded by the launcher".into(),
                        },
                    })
                }
                Err(e) => {
                    let kept = self.kept("");
                    Err(e.context(kept))
                }
            }
        })
    }
}

impl Drop for Relay {
    /// Cut off before the end: the bytes that arrived are a zstd stream up to the
    /// break, kept as NAME.part.
    fn drop(&mut self) {
        if self.file.is_some() {
            self.keep(".part");
        }
    }
}

/// Uploads a file the launcher made itself to `url` (a credential: it stays in this
/// process) as `name`; returns where it went, as the uploader names it (redacted).
pub async fn put(
    url: String,
    name: &str,
    path: &Path,
    arrived: &Arrived,
) -> anyhow::Result<String> {
    let (p, n, a) = (path.to_owned(), name.to_owned(), arrived.clone());
    let r = super::blocking("uploading", move || {
        upload(&p, Destination::new(Some(&url), None, None, &n)?, &n, &a)
    })
    .await?;
    Ok(r.object.unwrap_or(r.location))
}

/// Uploads the file at `path` to `destination` with the collector's uploader.
pub fn upload(
    path: &Path,
    destination: Destination,
    name: &str,
    arrived: &Arrived,
) -> anyhow::Result<UploadReport> {
    let events = cairn_upload::Events::default();
    let cfg = UploadConfig {
        destination,
        // Four retries (7.5 s of backoff): the archive is safe here, and a store that
        // stays down is reported soon, the archive kept.
        http: HttpConfig {
            retries: 4,
            ..HttpConfig::default()
        },
        fallback: None,
        name: name.to_owned(),
    };
    let mut up = Uploader::start(cfg, events.clone())?;
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let copied =
        std::io::copy(&mut f, &mut up).and_then(|_| up.finish(arrived.bytes, &arrived.sha256));
    for (level, _, message) in events.take() {
        match level {
            cairn_protocol::Level::Error | cairn_protocol::Level::Warn => {
                tracing::warn!("relay upload: {message}")
            }
            _ => tracing::info!("relay upload: {message}"),
        }
    }
    copied.context("the launcher's upload failed")?;
    let r = up.report().clone();
    if !r.complete {
        anyhow::bail!(
            "the launcher's upload did not complete: {}",
            r.error.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(r)
}

/// This run's own directory in `--relay-dir` (`cairn-RANDOM`, mode 0700, created
/// anew): whatever waits or is kept on the responder's side (relayed archives, the
/// Kubernetes evidence and the case record before they go to a store) is in it, so no
/// name in a shared `/tmp` is predictable and no other user can read or plant a file
/// there. Removed at the end of the run when nothing was kept in it.
pub struct RunDir(PathBuf);

impl RunDir {
    pub fn create(parent: &Path) -> anyhow::Result<RunDir> {
        let dir = tempfile::Builder::new()
            .prefix("cairn-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(
                cairn_archive::private::DIR_MODE,
            ))
            .tempdir_in(parent)
            .with_context(|| format!("creating a directory in --relay-dir {}", parent.display()))?;
        Ok(RunDir(dir.keep()))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RunDir {
    /// Removes the directory when it is empty; what was kept in it stays.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
