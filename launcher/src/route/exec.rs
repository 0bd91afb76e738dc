//! The exec route: `pods/exec` into the target container itself. The bootstrap
//! (`scripts/bootstrap.sh`) runs as the `sh -c` script and receives the collector on
//! stdin (or downloads it with `--collector-url`), checks its sha256, runs it and
//! removes it. Stdin stays open while the launcher is attached (`watch`): its end
//! (cancel, timeout, lost connection) stops the collector, which runtimes would
//! otherwise let run.

use super::{Env, Place, Route};
use crate::rbac::Need;
use crate::targets::{Target, Verdict};
use futures_util::future::BoxFuture;

pub const BOOTSTRAP: &str = include_str!("../../../scripts/bootstrap.sh");

pub struct Exec {
    /// Write nothing to the container's disk (`--no-disk-writes`): the bootstrap uses
    /// memory-backed places only, and stops when none allows execution.
    pub memory_only: bool,
}

impl Route for Exec {
    fn needs(&self) -> &'static [Need] {
        std::slice::from_ref(&crate::rbac::EXEC)
    }

    fn method(&self) -> &'static str {
        "exec"
    }

    fn binary_in_target(&self) -> bool {
        true
    }

    fn accepts(&self, t: &Target) -> Result<(), String> {
        match t.verdict {
            Verdict::Exec => Ok(()),
            Verdict::Distroless => Err(format!("{} runs a distroless image ({}): it has no shell to exec; collect through an ephemeral container or the node instead (--via ephemeral, --via node)", t.name(), t.image)),
            Verdict::NotRunning => Err(format!("{} is not running", t.name())),
        }
    }

    fn prepare<'a>(
        &'a self,
        env: &'a Env<'a>,
        t: &'a Target,
        payload: Option<&'a str>,
        _bar: &'a crate::progress::TargetBar,
    ) -> BoxFuture<'a, anyhow::Result<Place>> {
        Box::pin(async move {
            let c = env
                .collectors
                .for_arch(t.arch)
                .map_err(|e| anyhow::anyhow!("{} not collected: {e}", t.name()))?;
            let mut command: Vec<String> = vec![
                "sh".into(),
                "-c".into(),
                BOOTSTRAP.into(),
                "cairn-bootstrap".into(),
            ];
            let mut stdin = Vec::new();
            let phase = match env.collectors.url_for(c.arch) {
                Some(u) => {
                    command.extend(["url".into(), u]);
                    "the target downloads the collector".to_owned()
                }
                None => {
                    command.extend(["stdin".into(), c.bytes.len().to_string()]);
                    stdin.extend_from_slice(&c.bytes);
                    format!(
                        "delivering the collector ({:.1} MiB)",
                        c.bytes.len() as f64 / 1048576.0
                    )
                }
            };
            command.push(c.sha256.clone());
            // The bootstrap checks `uname -m` against it: the node's architecture may be
            // unknown (no right to read nodes).
            command.extend(["arch".into(), c.arch.name().into()]);
            if self.memory_only {
                command.push("memory".into());
            }
            // The bootstrap counts the payload's bytes and hands them to the collector
            // from memory (its shell variable drops a trailing newline, so none is
            // added here).
            if let Some(p) = payload {
                command.extend(["plan".into(), p.len().to_string()]);
                stdin.extend_from_slice(p.as_bytes());
            }
            command.extend([
                "watch".into(),
                "--".into(),
                cairn_protocol::flags::COLLECT.into(),
            ]);
            Ok(Place {
                namespace: t.namespace.clone(),
                pod: t.pod.clone(),
                container: t.container.clone(),
                command,
                stdin,
                phase,
                cleanup: None,
            })
        })
    }
}
