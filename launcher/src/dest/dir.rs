//! `--output-dir DIR`: the archive comes back over the exec's stdout into DIR, hashed on
//! arrival and compared with the sha256 the collector reports; a `.sha256` file beside
//! it lets `sha256sum -c` check it later.

use super::{Arrived, Delivered, Delivery, Destination, Opened, Setting, Verified};
use crate::targets::Target;
use anyhow::Context;
use cairn_protocol::{flags, Done};
use futures_util::future::BoxFuture;
use std::path::PathBuf;

pub const FLAG: &str = "--output-dir";

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Directory for the archives (named namespace_pod_container_UTC.tar.zst).
    #[arg(long, value_name = "DIR", help_heading = "Destination (one of)")]
    pub output_dir: Option<PathBuf>,
}

impl Flags {
    pub fn destination(&self, _: &Setting) -> Option<anyhow::Result<Box<dyn Destination>>> {
        let d = self.output_dir.as_ref()?;
        let created = std::fs::symlink_metadata(d).is_err();
        Some(
            cairn_archive::private::dir_all(d)
                .with_context(|| format!("creating {}", d.display()))
                .map(|_| {
                    Box::new(Dir {
                        path: d.clone(),
                        created,
                    }) as Box<dyn Destination>
                }),
        )
    }
}

/// `--output-dir`, and whether this run made it.
pub struct Dir {
    path: PathBuf,
    created: bool,
}

/// A directory this run made and left empty (it failed before anything was written)
/// is removed, so that a mistyped pod leaves nothing behind.
impl Drop for Dir {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

impl Destination for Dir {
    fn open<'a>(&'a self, _t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>> {
        Box::pin(async move {
            let part = self.part(name);
            Ok(Opened {
                args: vec![flags::OUTPUT.to_owned(), flags::STDIO.to_owned()],
                payload: None,
                keep: Some(create_private(&part)?),
                delivery: Box::new(Local {
                    dir: self.path.clone(),
                    name: name.to_owned(),
                }),
            })
        })
    }

    fn partial(&self, name: &str) -> Option<PathBuf> {
        Some(self.part(name))
    }

    fn local_dir(&self) -> Option<&std::path::Path> {
        Some(&self.path)
    }

    fn place(&self) -> String {
        self.path.display().to_string()
    }
}

/// Creates `path` readable by its owner only (it holds evidence that may include
/// secrets), never over a file and never through a link.
pub fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    Ok(cairn_archive::private::create_new(path)?)
}

impl Dir {
    /// Where the archive is written while it arrives (kept on failure: the bytes that
    /// arrived are a valid zstd stream up to the break).
    fn part(&self, name: &str) -> PathBuf {
        self.path.join(format!("{name}.part"))
    }
}

struct Local {
    dir: PathBuf,
    name: String,
}

impl Delivery for Local {
    fn finish<'a>(
        self: Box<Self>,
        done: &'a Done,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<Delivered>> {
        Box::pin(async move { self.settle(done, arrived) })
    }
}

impl Local {
    fn settle(&self, done: &Done, arrived: &Arrived) -> anyhow::Result<Delivered> {
        let part = self.dir.join(format!("{}.part", self.name));
        if done.sha256 != arrived.sha256 {
            let _ = std::fs::rename(&part, self.dir.join(format!("{}.corrupt", self.name)));
            anyhow::bail!(
                "the archive arrived altered: the collector reported sha256 {}, {} bytes arrived with sha256 {}",
                done.sha256,
                arrived.bytes,
                arrived.sha256
            );
        }
        let final_path = self.dir.join(&self.name);
        std::fs::rename(&part, &final_path)
            .with_context(|| format!("renaming to {}", final_path.display()))?;
        cairn_archive::write::checksum_file(&final_path, &arrived.sha256)?;
        Ok(Delivered {
            location: final_path.display().to_string(),
            verified: Verified {
                sha256: Some(arrived.sha256.clone()),
                bytes: Some(arrived.bytes),
                how: "hashed on arrival".into(),
            },
        })
    }
}
