//! The signals that end a collection early and cleanly: Ctrl-C (SIGINT), SIGTERM (a
//! `kill`, a CI job's cancel, a container's stop) and SIGHUP (the terminal closed). Each
//! cancels what runs and lets the cleanups finish (pods and ephemeral containers removed,
//! open uploads aborted, upload sessions cancelled) before cairn exits 130. Only what
//! cannot be caught (SIGKILL, a lost machine) leaves them to their own expiry.

use tokio::signal::unix::{signal, SignalKind};

/// Waits for the first of SIGINT, SIGTERM and SIGHUP; returns how to name it. A signal
/// that cannot be watched is waited for as Ctrl-C only.
pub async fn signalled() -> &'static str {
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "Ctrl-C";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}
