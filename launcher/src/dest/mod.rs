//! Where archives go: one file per destination behind [`Destination`]. A destination
//! says which collector arguments send the archive to it and what the collector reads
//! on stdin for them (a plan or URL, a credential that never enters an argument list),
//! whether the bytes arriving on the exec's stdout are kept, and what counts as
//! delivered once the collector reports its end.
//!
//! Adding a destination: a file here with its `Flags` (its command-line flags, as a
//! clap `Args`), `Flags::destination` and a [`Destination`]; then its name in the
//! `destinations!` list below, the one place destinations are listed.

use crate::targets::Target;
use cairn_protocol::Done;
use futures_util::future::BoxFuture;
use std::path::PathBuf;

/// Declares the destination modules and the flags of all of them, in this order.
macro_rules! destinations {
    ($($name:ident),* $(,)?) => {
        $(pub mod $name;)*

        /// Every destination's flags on `cairn collect`.
        #[derive(clap::Args, Debug)]
        #[group(skip)]
        pub struct Flags {
            $(#[command(flatten)] pub $name: $name::Flags,)*
        }

        impl Flags {
            /// The destinations given, each built from its flags.
            fn given(&self) -> Vec<anyhow::Result<Box<dyn Destination>>> {
                let mut all = Vec::new();
                $(if let Some(d) = self.$name.destination() { all.push(d); })*
                all
            }

            /// Each destination's flag, for messages.
            fn names() -> Vec<&'static str> {
                vec![$($name::FLAG),*]
            }
        }
    };
}

destinations!(dir, s3, azure, gcs, template);

impl Flags {
    /// The one destination given.
    pub fn choose(&self) -> anyhow::Result<Box<dyn Destination>> {
        let mut given = self.given();
        match given.len() {
            1 => given.remove(0),
            0 => anyhow::bail!("give a destination: {}", Flags::names().join(", ")),
            _ => anyhow::bail!(
                "give one destination, not several: {}",
                Flags::names().join(", ")
            ),
        }
    }
}

/// Where one archive goes.
pub trait Destination: Send + Sync {
    /// Checked once before anything runs, knowing how many targets there are.
    fn check(&self, _targets: usize) -> anyhow::Result<()> {
        Ok(())
    }
    /// Gets ready for the archive `name` of `t`.
    fn open<'a>(&'a self, t: &'a Target, name: &'a str) -> BoxFuture<'a, anyhow::Result<Opened>>;
    /// Where the part of `name` that arrived stays when a collection is cut off.
    fn partial(&self, _name: &str) -> Option<PathBuf> {
        None
    }
}

/// A destination ready for one archive.
pub struct Opened {
    /// The collector's arguments that send the archive here.
    pub args: Vec<String>,
    /// What the collector reads on stdin for them (a plan, a URL).
    pub payload: Option<String>,
    /// Where the archive's bytes from the exec's stdout are written while they arrive;
    /// `None`: the collector uploads, and whatever stdout carries is drained unkept.
    pub keep: Option<PathBuf>,
    /// What counts as delivered.
    pub delivery: Box<dyn Delivery>,
}

/// What arrived on the exec's stdout.
#[derive(Debug, Clone, Default)]
pub struct Arrived {
    pub bytes: u64,
    pub sha256: String,
}

/// What a destination holds once a collection ended well.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The archive's path or object name.
    pub location: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Decides, from the collector's `done` and what arrived, whether the archive is
/// delivered.
pub trait Delivery: Send {
    fn finish(self: Box<Self>, done: &Done, arrived: &Arrived) -> anyhow::Result<Delivered>;
}

/// The delivery of the upload destinations: the collector's own report says whether
/// the object is whole; `object` names it where the report cannot.
pub struct Uploaded {
    pub object: Option<String>,
}

impl Delivery for Uploaded {
    fn finish(self: Box<Self>, done: &Done, _arrived: &Arrived) -> anyhow::Result<Delivered> {
        let Some(up) = &done.upload else {
            anyhow::bail!("the upload did not complete: no reason given");
        };
        if !up.complete {
            anyhow::bail!(
                "the upload did not complete: {}",
                up.error.as_deref().unwrap_or("no reason given")
            );
        }
        let location = self
            .object
            .or_else(|| up.object.clone())
            .unwrap_or_else(|| up.location.clone());
        Ok(Delivered {
            location,
            bytes: up.uploaded_bytes,
            sha256: done.sha256.clone(),
        })
    }
}

/// The collector's arguments that read a URL from stdin, and name the object where
/// the URL leaves it open (an Azure container SAS).
pub fn url_args(name: Option<&str>) -> Vec<String> {
    use cairn_protocol::flags;
    let mut a = vec![flags::UPLOAD_URL.to_owned(), flags::STDIO.to_owned()];
    if let Some(n) = name {
        a.extend([flags::UPLOAD_NAME.to_owned(), n.to_owned()]);
    }
    a
}

/// `PREFIX/NAME`, or `NAME` without a prefix.
pub fn key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}
