//! How the collector reaches a target container: one file per route behind
//! [`Route`]. A route prepares a place to run the collector (the container itself, an
//! ephemeral container beside it, the pod's sidecar, a pod on the node), says the
//! command that starts it and what goes first on its stdin, and leaves a cleanup that
//! undoes what it made. [`crate::session`] runs the rest, the same for every route.
//!
//! Adding a route: a file here implementing [`Route`], a variant of [`Via`], and its
//! line in [`crate::plan`]'s choice.

#[cfg(test)]
mod admission_tests;
pub mod ephemeral;
pub mod exec;
pub mod node;
pub mod sidecar;

use crate::collector::Collectors;
use crate::progress::TargetBar;
use crate::rbac::Need;
use crate::targets::{Target, Verdict};
use futures_util::future::BoxFuture;
use kube::Client;

/// The `--via` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    Exec,
    Ephemeral,
    Sidecar,
    Node,
    // Exec where the container has a shell, ephemeral where it has none.
    Auto,
}

/// What a route needs from the launcher.
pub struct Env<'a> {
    pub client: &'a Client,
    pub collectors: &'a Collectors,
}

/// Where and how the collector runs for one target.
pub struct Place {
    /// The namespace of `pod` (the target's, or the collector namespace).
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The command up to the collector's own arguments, which the session appends.
    pub command: Vec<String>,
    /// Everything the command reads on stdin before the session's end of it: the
    /// collector binary for the exec route, then the destination's payload framed as
    /// the command expects it.
    pub stdin: Vec<u8>,
    /// What the responder's progress shows once the exec stream is open.
    pub phase: String,
    /// Undoes what the route made (stops an ephemeral container, deletes a pod).
    pub cleanup: Option<Box<dyn Cleanup>>,
}

/// Undoes a route's preparations once the collection has ended. Implementations also
/// act on drop where a cut-off collection (timeout, Ctrl-C) must not leave anything.
pub trait Cleanup: Send {
    fn run(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// One way of reaching a container.
pub trait Route: Send + Sync {
    /// The name in reports (`exec`, `ephemeral`, `sidecar`, `node`).
    fn method(&self) -> &'static str;
    /// Permissions this route needs in the target's namespace, besides
    /// [`crate::rbac::READ`].
    fn needs(&self) -> &'static [Need];
    /// A namespace of its own the route works in (the node route's collector pods), and
    /// what it needs there.
    fn own_namespace(&self) -> Option<(&str, &'static [Need])> {
        None
    }
    /// True when the collector's binary lands in the target's own filesystem (exec);
    /// the other routes run it from the collector image, in a container of its own.
    fn binary_in_target(&self) -> bool {
        false
    }
    /// Whether this route can collect `t`, or why not.
    fn accepts(&self, t: &Target) -> Result<(), String> {
        match t.verdict {
            Verdict::NotRunning => Err(format!("{} is not running", t.name())),
            _ => Ok(()),
        }
    }
    /// Makes the place to run the collector for `t`; `payload` is what the
    /// destination gives the collector on stdin (a plan or URL).
    fn prepare<'a>(
        &'a self,
        env: &'a Env<'a>,
        t: &'a Target,
        payload: Option<&'a str>,
        bar: &'a TargetBar,
    ) -> BoxFuture<'a, anyhow::Result<Place>>;
}

/// The collector's command in a container that holds it at [`ephemeral::COLLECTOR_PATH`]
/// (the collector image), up to its own arguments.
pub fn image_command(route_flags: Vec<String>) -> Vec<String> {
    let mut c = vec![
        ephemeral::COLLECTOR_PATH.to_owned(),
        cairn_protocol::flags::COLLECT.to_owned(),
    ];
    c.extend(route_flags);
    c
}

/// A payload straight to the collector must end its line: the collector reads one
/// line, or one JSON document, since stdin stays open.
pub fn line_payload(payload: Option<&str>) -> Vec<u8> {
    payload
        .map(|p| format!("{}\n", p.trim_end()).into_bytes())
        .unwrap_or_default()
}

/// `--target-pid auto --target-id ID`: the container's own processes, among the
/// pod's, by the runtime ID in their cgroups.
pub fn target_flags(t: &Target) -> Vec<String> {
    use cairn_protocol::flags;
    let mut f = vec![
        flags::TARGET_PID.to_owned(),
        flags::TARGET_PID_AUTO.to_owned(),
    ];
    if let Some(id) = &t.container_id {
        let bare = id.split_once("://").map_or(id.as_str(), |(_, i)| i);
        f.extend([flags::TARGET_ID.to_owned(), bare.to_owned()]);
    }
    f
}

/// The default collector image: what `cairn image` and scripts/build-image.sh name it.
pub fn default_image() -> String {
    format!("cairn-collector:{}", env!("CARGO_PKG_VERSION"))
}

/// A name for something cairn creates in the cluster: `PREFIX-` and eight hex digits
/// of the current time.
pub fn unique_name(prefix: &str) -> String {
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{prefix}-{:08x}", (stamp as u64) & 0xffff_ffff)
}
