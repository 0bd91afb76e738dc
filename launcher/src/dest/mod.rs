//! Where archives go: one file per destination behind [`Destination`]. A destination
//! says which collector arguments send the archive to it and what the collector reads
//! on stdin for them (a plan or URL, a credential that never enters an argument list),
//! whether the bytes arriving on the exec's stdout are kept, and what counts as
//! delivered once the collector reports its end.
//!
//! A credential that reaches a pod is for its own object only, create-only, and expires
//! with the collection ([`Setting::lifetime`]); where a store's credential cannot be
//! narrowed that far, the archive comes back over exec and the launcher uploads it
//! itself ([`relay`]). Once a collection ends, the delivery checks what it can itself
//! (the bytes it hashed, the object's size as the store reports it) and reports that
//! apart from what the collector claims ([`Verified`]).
//!
//! Adding a destination: a file here with its `Flags` (its command-line flags, as a
//! clap `Args`), `Flags::destination` and a [`Destination`]; then its name in the
//! `destinations!` list below, the one place destinations are listed.

pub mod relay;

use crate::targets::Target;
use cairn_protocol::{Done, UploadReport};
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What every destination is told when it is chosen.
#[derive(Debug, Clone)]
pub struct Setting {
    /// How long a credential handed to a pod may live: the collection's timeout and a
    /// margin.
    pub lifetime: Duration,
    /// Where archives the launcher uploads itself wait while they arrive.
    pub relay_dir: PathBuf,
}

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
            fn given(&self, s: &Setting) -> Vec<anyhow::Result<Box<dyn Destination>>> {
                let mut all = Vec::new();
                $(if let Some(d) = self.$name.destination(s) { all.push(d); })*
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
    pub fn choose(&self, s: &Setting) -> anyhow::Result<Box<dyn Destination>> {
        let mut given = self.given(s);
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
    /// The local directory archives go to, where the launcher writes what it makes
    /// itself beside them (the Kubernetes evidence, the case record); `None` for the
    /// stores, which get those files through [`Destination::put`].
    fn local_dir(&self) -> Option<&Path> {
        None
    }
    /// Where the archives go, for the case record: a directory, a bucket and prefix, a
    /// URL without its query. Never a credential.
    fn place(&self) -> String;
    /// What a pod is given here that stays usable after the run when the launcher
    /// cannot take it back (it was killed), and for how long; `None` when everything a
    /// pod gets expires with the collection. Said after the run and in the case record.
    fn outliving_credentials(&self) -> Option<String> {
        None
    }
    /// Why this destination has no place for a file of `t` besides its archive (`None`
    /// for the case record), or `None` when it has one. Such a file stays in
    /// `--relay-dir`, and the report says so.
    fn no_place_for(&self, _t: Option<&Target>) -> Option<String> {
        None
    }
    /// Puts a file the launcher made itself (the Kubernetes evidence, the case record,
    /// a signature) beside the archives as `name`, with the responder's own credential:
    /// neither the file nor the credential reaches a pod. `t` is the target the file
    /// belongs to, `None` for the case record. Returns where the file went.
    fn put<'a>(
        &'a self,
        _t: Option<&'a Target>,
        name: &'a str,
        _file: &'a Path,
        _arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move { anyhow::bail!("{name}: this destination takes the archives only") })
    }
}

/// A destination ready for one archive.
pub struct Opened {
    /// The collector's arguments that send the archive here.
    pub args: Vec<String>,
    /// What the collector reads on stdin for them (a plan, a URL).
    pub payload: Option<String>,
    /// The file the archive's bytes from the exec's stdout are written to while they
    /// arrive; `None`: the collector uploads, and whatever stdout carries is drained
    /// unkept.
    pub keep: Option<std::fs::File>,
    /// What counts as delivered.
    pub delivery: Box<dyn Delivery>,
}

/// What arrived on the exec's stdout, hashed by the launcher as it arrived.
#[derive(Debug, Clone, Default)]
pub struct Arrived {
    pub bytes: u64,
    pub sha256: String,
}

/// What the launcher itself checked of a delivered archive, apart from what the
/// collector claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The archive's sha256, computed by the launcher from the bytes it received.
    pub sha256: Option<String>,
    /// The archive's size: received by the launcher, or as the store reports the
    /// stored object to the launcher.
    pub bytes: Option<u64>,
    /// How, in a few words.
    pub how: String,
}

impl Verified {
    /// For the table: what was checked.
    pub fn short(&self) -> &'static str {
        match (&self.sha256, self.bytes) {
            (Some(_), _) => "sha256",
            (None, Some(_)) => "size",
            (None, None) => "-",
        }
    }
}

/// What a destination holds once a collection ended well.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The archive's path or object name.
    pub location: String,
    pub verified: Verified,
}

/// Decides, from the collector's `done` and what arrived, whether the archive is
/// delivered, and checks it. A delivery dropped unfinished (the collection failed,
/// timed out or was cancelled) undoes what its destination started: an open multipart
/// upload is aborted, an upload session cancelled, a relayed archive kept.
pub trait Delivery: Send {
    fn finish<'a>(
        self: Box<Self>,
        done: &'a Done,
        arrived: &'a Arrived,
    ) -> BoxFuture<'a, anyhow::Result<Delivered>>;
}

/// The collector's own report of an upload it made, when it says the upload is whole.
pub fn uploaded(done: &Done) -> anyhow::Result<&UploadReport> {
    let Some(up) = &done.upload else {
        anyhow::bail!("the upload did not complete: the collector reported no upload");
    };
    if !up.complete {
        anyhow::bail!(
            "the upload did not complete: {}",
            up.error.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(up)
}

/// Runs blocking I/O (ureq, files) off the runtime's threads.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?
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

/// The first characters of a store's answer, for an error message: printable and
/// short, since a store (or whatever answers in its place) is not trusted either.
pub fn excerpt(body: &str) -> String {
    cairn_protocol::escape::terminal(&body.chars().take(300).collect::<String>()).into_owned()
}
