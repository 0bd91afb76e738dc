//! `pods/exec` over WebSocket, as the kubelet serves it through the API server: the
//! channel protocols `v5.channel.k8s.io` (with the CLOSE message `[255, channel]` that
//! half-closes stdin) and `v4.channel.k8s.io` (no CLOSE: stdin stays open until the
//! socket closes). Every binary message starts with its channel: 0 stdin, 1 stdout,
//! 2 stderr, 3 the final Status (exit code in `details.causes`), 4 resize. The command
//! runs through `docker exec` in the pod's container.

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const V5: &str = "v5.channel.k8s.io";
pub const V4: &str = "v4.channel.k8s.io";

/// The protocol to speak from what the client offers, the newest first.
pub fn choose(offered: &str, v4_only: bool) -> Option<&'static str> {
    let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
    if !v4_only && offered.contains(&V5) {
        Some(V5)
    } else if offered.contains(&V4) {
        Some(V4)
    } else {
        None
    }
}

pub struct ExecRequest {
    pub container_id: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub protocol: &'static str,
    /// Where every byte sent on stdin is also written.
    pub record: Option<std::path::PathBuf>,
}

/// The Status sent on channel 3 for a process's end.
fn final_status(code: Option<i32>, stderr_tail: &str) -> serde_json::Value {
    match code {
        Some(0) => json!({"metadata": {}, "status": "Success"}),
        // docker exec's own failures (126: cannot run, 127: not found) are the
        // runtime's error, as the kubelet reports them, not an exit code.
        Some(c @ (126 | 127)) if stderr_tail.contains("OCI runtime exec failed") => json!({
            "metadata": {},
            "status": "Failure",
            "message": stderr_tail.trim(),
            "reason": "InternalError",
            "details": {"causes": [{"message": stderr_tail.trim()}]},
            "code": 500,
            "exitCode": c,
        }),
        Some(c) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command, exit code {c}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": c.to_string()}]},
        }),
        None => json!({
            "metadata": {},
            "status": "Failure",
            "message": "command was killed by a signal",
            "reason": "InternalError",
        }),
    }
}

/// The stderr tail kept for the final Status (the runtime's own complaint).
type Tail = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

/// Runs the command and pumps the channels until it ends and the Status is sent.
pub async fn run<S>(ws: WebSocketStream<S>, req: ExecRequest)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // The command as run, a long argument (a script) shown by its size only.
    let shown: Vec<String> = req
        .command
        .iter()
        .map(|a| match a.len() {
            0..=80 => a.clone(),
            n => format!("<{n} bytes>"),
        })
        .collect();
    tracing::info!(protocol = req.protocol, container = %req.container_id, command = %shown.join(" "), "exec");
    let _simulated = crate::sim::started(&req.container_id);
    let (mut sink, stream) = ws.split();
    let mut child = match spawn(&req) {
        Ok(c) => c,
        Err(e) => {
            let st = json!({"metadata": {}, "status": "Failure", "message": format!("cannot run docker exec: {e}"), "reason": "InternalError"});
            let mut m = vec![3u8];
            m.extend_from_slice(st.to_string().as_bytes());
            let _ = sink.send(Message::Binary(m.into())).await;
            close(&mut sink).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let tail: Tail = Default::default();
    let pumps = pump_outputs(&mut child, tx, &tail);
    let (gone_tx, mut gone) = tokio::sync::oneshot::channel::<()>();
    let record = match &req.record {
        Some(p) => tokio::fs::File::create(p).await.ok(),
        None => None,
    };
    let reader = tokio::spawn(read_client(
        stream,
        child.stdin.take(),
        req.protocol == V5,
        gone_tx,
        record,
    ));
    // Until the command's output ends, or the client goes away: then, as when a
    // kubelet's stream is torn down, the exec's streams close (the command gets EPIPE
    // on its next write) and no Status is sent.
    let mut client_gone = false;
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => {
                    if sink.send(Message::Binary(m.into())).await.is_err() {
                        client_gone = true;
                        break;
                    }
                }
                None => break,
            },
            _ = &mut gone, if !client_gone => {
                client_gone = true;
                break;
            }
        }
    }
    if client_gone {
        tracing::info!(container = %req.container_id, "exec client went away; closing the exec's streams");
        let _ = child.start_kill();
        for p in pumps {
            p.abort();
        }
        let _ = child.wait().await;
        reader.abort();
        return;
    }
    for p in pumps {
        let _ = p.await;
    }
    let code = child.wait().await.ok().and_then(|s| s.code());
    let tail = tail
        .lock()
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .unwrap_or_default();
    let mut m = vec![3u8];
    m.extend_from_slice(final_status(code, &tail).to_string().as_bytes());
    let _ = sink.send(Message::Binary(m.into())).await;
    close(&mut sink).await;
    // Keep reading until the client answers the Close: closing a socket with unread
    // input resets it, and the Status still in flight would be lost (a client still
    // sending stdin when the command failed to start saw "connection reset by peer").
    let mut reader = reader;
    if tokio::time::timeout(std::time::Duration::from_secs(10), &mut reader)
        .await
        .is_err()
    {
        tracing::warn!("exec client did not close within 10 s");
        reader.abort();
    }
}

/// `docker exec` of the command in the container.
fn spawn(req: &ExecRequest) -> std::io::Result<tokio::process::Child> {
    let mut cmd = match crate::sim::for_container(&req.container_id) {
        Some(sim) => crate::sim::replay_command(sim, &req.command),
        None => {
            let mut cmd = Command::new("docker");
            cmd.arg("exec");
            if req.stdin {
                cmd.arg("-i");
            }
            cmd.arg(&req.container_id).args(&req.command);
            cmd
        }
    };
    cmd.stdin(if req.stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    cmd.spawn()
}

/// Pumps stdout (channel 1) and stderr (channel 2) into `tx`, keeping stderr's tail.
fn pump_outputs(
    child: &mut tokio::process::Child,
    tx: mpsc::Sender<Vec<u8>>,
    tail: &Tail,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut pumps = Vec::new();
    let outs: [(u8, Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>); 2] = [
        (
            1,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
        (
            2,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
    ];
    for (channel, out) in outs {
        let Some(mut out) = out else { continue };
        let tx = tx.clone();
        let tail = tail.clone();
        pumps.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32 << 10];
            loop {
                match out.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if channel == 2 {
                            if let Ok(mut t) = tail.lock() {
                                t.extend_from_slice(&buf[..n]);
                                let drop_n = t.len().saturating_sub(4096);
                                t.drain(..drop_n);
                            }
                        }
                        let mut m = Vec::with_capacity(n + 1);
                        m.push(channel);
                        m.extend_from_slice(&buf[..n]);
                        if tx.send(m).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }));
    }
    pumps
}

/// The client's messages: stdin data, CLOSE of stdin (v5), resize (ignored); `gone`
/// fires when the client goes away or closes.
async fn read_client<St>(
    mut stream: St,
    mut stdin: Option<tokio::process::ChildStdin>,
    v5: bool,
    gone: tokio::sync::oneshot::Sender<()>,
    mut record: Option<tokio::fs::File>,
) where
    St: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(Ok(msg)) = stream.next().await {
        match msg {
            Message::Binary(b) if b.first() == Some(&0) => {
                if let Some(r) = record.as_mut() {
                    // tokio's File writes in the background: flushed, so that the
                    // record is whole when the exec is.
                    let _ = r.write_all(&b[1..]).await;
                    let _ = r.flush().await;
                }
                if let Some(s) = stdin.as_mut() {
                    if s.write_all(&b[1..]).await.is_err() {
                        stdin = None;
                    }
                }
            }
            Message::Binary(b) if v5 && b.as_ref() == [255, 0] => {
                if let Some(mut s) = stdin.take() {
                    let _ = s.shutdown().await;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    // The client went away (or closed): no more input.
    drop(stdin);
    let _ = gone.send(());
}

/// A normal closure (1000). Without a status code (1005) kubectl's client reports
/// "error reading from error stream" instead of the exit status.
async fn close<S>(sink: &mut S)
where
    S: futures_util::Sink<Message> + Unpin,
{
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_offered_protocol_wins_unless_v4_only() {
        assert_eq!(
            choose("v5.channel.k8s.io, v4.channel.k8s.io", false),
            Some(V5)
        );
        assert_eq!(
            choose("v5.channel.k8s.io, v4.channel.k8s.io", true),
            Some(V4)
        );
        assert_eq!(choose("v5.channel.k8s.io", true), None);
        assert_eq!(choose("channel.k8s.io", false), None);
    }

    #[test]
    fn exit_codes_travel_in_the_status_causes() {
        let s = final_status(Some(7), "");
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0]["message"], "7");
        assert_eq!(final_status(Some(0), "")["status"], "Success");
        let s = final_status(
            Some(126),
            "OCI runtime exec failed: exec: \"sh\": executable file not found in $PATH",
        );
        assert_eq!(s["reason"], "InternalError");
    }
}
