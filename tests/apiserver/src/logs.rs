//! `GET .../pods/NAME/log`: a container's output from `docker logs`, as the kubelet
//! serves it: the current run, or with `previous=true` the runs before the container's
//! last restart (Docker restarts a container in place, so its earlier output is what it
//! logged up to its last exit, `FinishedAt`; not up to `StartedAt`, which Docker may
//! set after the new run's first line); `timestamps=true` prefixes each line with its
//! RFC 3339 time, `limitBytes` caps the answer, `tailLines` keeps the last lines.

use crate::pods::Pod;
use tokio::process::Command;

/// Why a log request was refused: the HTTP code, the reason and the message.
pub type Refusal = (u16, &'static str, String);

/// The options of a log request.
#[derive(Default)]
pub struct Options {
    pub container: Option<String>,
    pub previous: bool,
    pub timestamps: bool,
    pub limit_bytes: Option<usize>,
    pub tail_lines: Option<usize>,
}

impl Options {
    pub fn from_query(q: &[(String, String)]) -> Options {
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Options {
            container: get("container").filter(|c| !c.is_empty()),
            previous: get("previous").is_some_and(|v| v == "true"),
            timestamps: get("timestamps").is_some_and(|v| v == "true"),
            limit_bytes: get("limitBytes").and_then(|v| v.parse().ok()),
            tail_lines: get("tailLines").and_then(|v| v.parse().ok()),
        }
    }
}

async fn docker(args: &[&str]) -> Result<(Vec<u8>, Vec<u8>), Refusal> {
    let o = Command::new("docker")
        .args(args)
        .output()
        .await
        .map_err(|e| (500, "InternalError", format!("docker: {e}")))?;
    if !o.status.success() {
        return Err((
            500,
            "InternalError",
            format!(
                "docker {}: {}",
                args[0],
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        ));
    }
    Ok((o.stdout, o.stderr))
}

/// The log of one container of `pod`.
pub async fn log(pod: &Pod, o: &Options) -> Result<Vec<u8>, Refusal> {
    let regular: Vec<_> = pod.regular().collect();
    let c = match &o.container {
        Some(name) => pod.containers.iter().find(|c| &c.name == name).ok_or((
            400,
            "BadRequest",
            format!("container {name} is not valid for pod {}", pod.name),
        ))?,
        None if regular.len() == 1 => regular[0],
        None => {
            return Err((
                400,
                "BadRequest",
                format!(
                    "a container name must be specified for pod {}, choose one of: [{}]",
                    pod.name,
                    regular
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ))
        }
    };
    let (state, _) = docker(&[
        "inspect",
        "--format",
        "{{.RestartCount}} {{.State.FinishedAt}}",
        &c.id,
    ])
    .await?;
    let state = String::from_utf8_lossy(&state).trim().to_owned();
    let (restarts, last_exit) = state.split_once(' ').unwrap_or(("0", ""));
    if o.previous && restarts == "0" {
        return Err((
            400,
            "BadRequest",
            format!(
                "previous terminated container \"{}\" in pod \"{}\" not found",
                c.name, pod.name
            ),
        ));
    }
    let mut args = vec!["logs", "--timestamps"];
    if restarts != "0" {
        args.extend([if o.previous { "--until" } else { "--since" }, last_exit]);
    }
    args.push(&c.id);
    let (out, err) = docker(&args).await?;
    // stdout and stderr come apart from Docker; the kubelet interleaves them by time.
    let mut lines: Vec<&[u8]> = out
        .split_inclusive(|&b| b == b'\n')
        .chain(err.split_inclusive(|&b| b == b'\n'))
        .collect();
    lines.sort_by_key(|l| {
        let ts = l.split(|&b| b == b' ').next().unwrap_or_default();
        // RFC 3339 with up to nine fraction digits: compare as numbers, not text.
        parse_ts(ts)
    });
    if let Some(n) = o.tail_lines {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut body = Vec::new();
    for l in lines {
        let l = if o.timestamps {
            l
        } else {
            l.splitn(2, |&b| b == b' ').nth(1).unwrap_or(l)
        };
        body.extend_from_slice(l);
    }
    if let Some(max) = o.limit_bytes {
        body.truncate(max);
    }
    Ok(body)
}

/// `2026-11-30T15:40:00.1234Z` as (seconds-part text, nanoseconds), for ordering.
fn parse_ts(ts: &[u8]) -> (Vec<u8>, u32) {
    let s = String::from_utf8_lossy(ts);
    let s = s.trim_end_matches('Z');
    match s.split_once('.') {
        Some((secs, frac)) => {
            let digits: String = frac
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .take(9)
                .collect();
            let nanos = format!("{digits:0<9}").parse().unwrap_or(0);
            (secs.as_bytes().to_vec(), nanos)
        }
        None => (s.as_bytes().to_vec(), 0),
    }
}
