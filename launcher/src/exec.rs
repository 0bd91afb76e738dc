//! Short commands through `pods/exec` and what their final Status means: the exit code
//! the runtime reports, and whether the command could not be started at all. Used by
//! the shell probe and by the routes' cleanup; a collection's own exec stream is
//! [`crate::session`]'s.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use kube::Client;
use std::time::Duration;

/// The exit code an exec's final Status carries: 0 on Success, the ExitCode cause
/// otherwise; `None` when the runtime failed to run the command at all.
pub fn exit_code(s: &Status) -> Option<i32> {
    if s.status.as_deref() == Some("Success") {
        return Some(0);
    }
    s.details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse::<i32>().ok())
}

/// True when the runtime says the command's executable does not exist.
pub fn not_found(s: &Status) -> bool {
    s.message.as_deref().is_some_and(|m| {
        m.contains("executable file not found") || m.contains("no such file or directory")
    })
}

/// Runs `command` in `pod`/`container` without stdin or stdout and waits at most
/// `limit` for its final Status. `Err` says why there is none.
pub async fn run_quiet(
    client: &Client,
    namespace: &str,
    pod: &str,
    container: &str,
    command: &[&str],
    limit: Duration,
) -> Result<Status, String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = AttachParams::default()
        .container(container.to_owned())
        .stdin(false)
        .stdout(false)
        .stderr(true);
    let run = async {
        let mut p = api
            .exec(pod, command.to_vec(), &params)
            .await
            .map_err(|e| crate::kerror::say("exec", &e))?;
        let status = p.take_status().ok_or("no status channel")?;
        let s = status.await;
        let _ = p.join().await;
        s.ok_or_else(|| "the exec ended without a status".to_owned())
    };
    match tokio::time::timeout(limit, run).await {
        Err(_) => Err(format!("no answer in {} s", limit.as_secs())),
        Ok(r) => r,
    }
}
