//! One collection through `pods/exec`, the same for every route and destination: the
//! route's command runs with the destination's arguments, its stdin gets what the
//! route gives (the collector, a plan), the archive arriving on stdout is hashed and
//! kept or drained, and stderr is read line by line as the collector's progress
//! stream, through [`cairn_protocol::Line`], which validates what the pod says. The
//! exit status and the collector's `done` decide the outcome. Stdin stays open until
//! the command ends: under v4.channel.k8s.io closing it early loses stdout.
//!
//! The pod is not trusted to end: a collection is cut off when its archive passes
//! [`Limits::max_archive`], or when the pod says nothing on stdout or stderr for
//! [`Limits::idle`].

use crate::dest::{Arrived, Delivered, Destination};
use crate::progress::TargetBar;
use crate::route::{Env, Place, Route};
use crate::targets::Target;
use anyhow::Context as _;
use cairn_protocol::{exit, flags, Done, Event, Line};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt};

/// The longest line of a pod's stderr kept; the rest of a longer line is read and
/// dropped, so one endless line neither exhausts memory nor stalls the stream.
pub const MAX_LINE: usize = 64 << 10;
/// How many of the last plain-text lines are kept to explain a failure.
const LAST_WORDS: usize = 8;

/// What every collection of one run shares.
pub struct Context<'a> {
    pub env: Env<'a>,
    pub dest: &'a dyn Destination,
    /// Arguments for the collector given after `--`.
    pub extra: &'a [String],
    /// `--yara`: the rules' document, sent on the collector's stdin after the
    /// destination's payload.
    pub yara: Option<&'a str>,
    pub limits: Limits,
    /// `--timeout`: each target's whole collection, from its start.
    pub timeout: Duration,
    /// The Kubernetes evidence written beside each archive (`None`: `--no-k8s-evidence`).
    pub k8s: Option<crate::evidence::Options>,
    /// Where the files the launcher makes itself wait before they go to a store, and
    /// stay when the store refuses them (`--relay-dir`).
    pub relay_dir: &'a std::path::Path,
}

/// The collector's own `--timeout` for a target whose collection started at
/// `started`: what is left of `timeout`, less a reserve for delivering the collector
/// and for sealing and sending the archive, so that a slow target still ends with a
/// complete, valid archive that says it was cut short, instead of being cut off.
pub fn collector_deadline(timeout: Duration, started: Instant) -> Duration {
    let left = timeout.saturating_sub(started.elapsed());
    let reserve = (timeout / 5).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let d = left.saturating_sub(reserve).max(left / 3);
    // What the collector's --timeout reads back: whole seconds, or milliseconds when
    // it is short.
    if d >= Duration::from_secs(10) {
        Duration::from_secs(d.as_secs())
    } else {
        Duration::from_millis(d.as_millis() as u64)
    }
}

/// What a pod may make the launcher hold or wait for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most bytes of archive kept from one target's stdout.
    pub max_archive: u64,
    /// The longest silence (nothing on stdout or stderr) before a collection is cut off.
    pub idle: Duration,
}

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The container has no shell to run the bootstrap: a route that brings its own
    /// collector image can still reach it.
    #[error("{0} has no shell (sh not found): a distroless container; collect through an ephemeral container or the node instead (--via ephemeral, --via node)")]
    NoShell(String),
    /// Asked to write nothing to the container's disk, and no memory-backed place
    /// allows execution there: an ephemeral container writes nothing into the target.
    #[error("{0}")]
    NoMemoryPlace(String),
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// Where the time of one collection went, in milliseconds: opening the exec stream
/// (API round trip and upgrade), delivering and checking the binary (until the
/// bootstrap starts it), and the collection with the archive's transfer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    pub exec_open_ms: u64,
    pub delivery_ms: u64,
    pub collection_ms: u64,
}

/// A collection that ended well.
pub struct Collected {
    pub delivered: Delivered,
    /// What the collector says it made.
    pub claimed: Claimed,
    /// Where the collector's binary was in the target, as the collector reports it.
    pub binary: Option<cairn_protocol::Placed>,
    /// What cut the collection short, as the collector reports it; empty when complete.
    pub cut_short: Vec<String>,
    pub phases: Phases,
}

/// The archive as the collector describes it: a claim from the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub bytes: u64,
    pub sha256: String,
}

/// What the exec stream gave.
struct Ended {
    status: Option<Status>,
    stderr: Stderr,
    arrived: Arrived,
    phases: Phases,
}

/// What the pod said on stderr.
#[derive(Default)]
struct Stderr {
    done: Option<Done>,
    /// The last plain-text lines (the bootstrap's or the collector's own words).
    last: Vec<String>,
    /// When the bootstrap said it started the collector.
    running: Option<Duration>,
}

/// Collects `t` by `route` into the destination, the archive named `name`; the
/// target's collection started at `started` (an earlier route may have been tried).
pub async fn collect(
    cx: &Context<'_>,
    t: &Target,
    route: &dyn Route,
    bar: Arc<TargetBar>,
    name: &str,
    started: Instant,
) -> Result<Collected, Failure> {
    let t0 = Instant::now();
    let opened = cx.dest.open(t, name).await?;
    let payload = stdin_payload(opened.payload.as_deref(), cx.yara);
    let mut place = route.prepare(&cx.env, t, payload.as_deref(), &bar).await?;
    place.command.extend(opened.args.iter().cloned());
    place
        .command
        .extend([flags::PROGRESS.to_owned(), flags::PROGRESS_JSON.to_owned()]);
    // The responder's own `-- --timeout` wins.
    let own = cx
        .extra
        .iter()
        .any(|a| a == flags::TIMEOUT || a.starts_with(&format!("{}=", flags::TIMEOUT)));
    if !own {
        let d = collector_deadline(cx.timeout, started);
        place.command.extend([
            flags::TIMEOUT.to_owned(),
            cairn_protocol::duration::format(d),
        ]);
    }
    place.command.extend(cx.extra.iter().cloned());
    let cleanup = place.cleanup.take();
    let ended = stream(cx, t, place, opened.keep, bar, t0).await;
    if let Some(c) = cleanup {
        c.run().await;
    }
    let ended = ended?;
    let done = judge(t, &ended)?;
    let delivered = opened.delivery.finish(&done, &ended.arrived).await?;
    Ok(Collected {
        delivered,
        claimed: Claimed {
            bytes: done.bytes,
            sha256: done.sha256,
        },
        binary: done.binary,
        cut_short: done.cut_short,
        phases: ended.phases,
    })
}

/// What the collector reads on stdin, in the order it reads it: the destination's
/// plan or URL (one line or one JSON document), then the YARA rules' document.
fn stdin_payload(dest: Option<&str>, yara: Option<&str>) -> Option<String> {
    match (dest, yara) {
        (Some(d), Some(y)) => Some(format!("{}\n{y}", d.trim_end())),
        (d, y) => d.or(y).map(str::to_owned),
    }
}

/// Runs the command and reads its streams to their end.
async fn stream(
    cx: &Context<'_>,
    t: &Target,
    place: Place,
    keep: Option<std::fs::File>,
    bar: Arc<TargetBar>,
    t0: Instant,
) -> anyhow::Result<Ended> {
    let api: Api<Pod> = Api::namespaced(cx.env.client.clone(), &place.namespace);
    let params = AttachParams::default()
        .container(place.container.clone())
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .max_stdout_buf_size(1 << 20)
        .max_stderr_buf_size(1 << 20);
    let mut proc = api
        .exec(&place.pod, place.command, &params)
        .await
        .with_context(|| format!("exec into {}", t.name()))?;
    let opened = t0.elapsed();
    bar.phase(&place.phase);
    let mut stdin = proc.stdin().context("no stdin on the exec stream")?;
    let stdout = proc.stdout().context("no stdout on the exec stream")?;
    let stderr = proc.stderr().context("no stderr on the exec stream")?;
    let status = proc.take_status();
    // stdout (the archive) and stderr (progress, bootstrap messages) are read
    // concurrently: kube-rs's pipes are bounded and one full pipe stalls the other.
    let input = place.stdin;
    let feed = tokio::spawn(async move {
        stdin.write_all(&input).await?;
        stdin.flush().await?;
        // Not closed: v4 would lose stdout. It closes with the stream.
        Ok::<_, std::io::Error>(stdin)
    });
    let heard = Activity::new();
    let errs = tokio::spawn(read_stderr(stderr, bar, t0, heard.clone()));
    let limits = cx.limits;
    let arrived = tokio::select! {
        a = receive(stdout, keep, limits.max_archive, &heard) => a,
        _ = heard.silence(limits.idle) => Err(anyhow::anyhow!(
            "the pod sent nothing for {} (--idle-timeout); the exec stream was closed",
            cairn_protocol::duration::format(limits.idle)
        )),
    };
    let arrived = match arrived {
        Ok(a) => a,
        Err(e) => {
            // Cut off: nothing more is read from this pod.
            errs.abort();
            feed.abort();
            return Err(e);
        }
    };
    let stderr = tokio::select! {
        s = errs => s.unwrap_or_default(),
        _ = heard.silence(limits.idle) => anyhow::bail!(
            "the pod closed its archive but sent nothing more for {} (--idle-timeout); the exec stream was closed",
            cairn_protocol::duration::format(limits.idle)
        ),
    };
    let total = t0.elapsed();
    let started = stderr.running.unwrap_or(opened);
    let phases = Phases {
        exec_open_ms: opened.as_millis() as u64,
        delivery_ms: started.saturating_sub(opened).as_millis() as u64,
        collection_ms: total.saturating_sub(started).as_millis() as u64,
    };
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    // The command has ended: a feed still blocked (the command never read all of
    // its stdin, e.g. no shell to start the bootstrap) must not hold us.
    feed.abort();
    let _ = proc.join().await;
    Ok(Ended {
        status,
        stderr,
        arrived,
        phases,
    })
}

/// When the pod last said something, in milliseconds since [`Activity::new`].
#[derive(Clone)]
struct Activity {
    since: Instant,
    last: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            since: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    fn heard(&self) {
        self.last
            .store(self.since.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Returns once nothing was heard for `idle`.
    async fn silence(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            let quiet = self.since.elapsed().saturating_sub(last);
            if quiet >= idle {
                return;
            }
            tokio::time::sleep((idle - quiet).max(Duration::from_millis(100))).await;
        }
    }
}

/// Reads the archive from stdout, hashing it, into `keep` or nowhere, and at most
/// `max` bytes of it.
async fn receive(
    mut stdout: impl AsyncRead + Unpin,
    keep: Option<std::fs::File>,
    max: u64,
    heard: &Activity,
) -> anyhow::Result<Arrived> {
    let mut file = keep.map(tokio::fs::File::from_std);
    let mut h = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = stdout.read(&mut buf).await.context("reading the archive")?;
        if n == 0 {
            break;
        }
        heard.heard();
        if bytes + n as u64 > max {
            anyhow::bail!(
                "the archive passed --max-archive-size {} and was cut off; the exec stream was closed",
                cairn_protocol::size::format(max)
            );
        }
        h.update(&buf[..n]);
        if let Some(f) = file.as_mut() {
            f.write_all(&buf[..n])
                .await
                .context("writing the archive")?;
        }
        bytes += n as u64;
    }
    if let Some(mut f) = file {
        f.flush().await?;
        f.sync_all().await.ok();
    }
    Ok(Arrived {
        bytes,
        sha256: hex::encode(h.finalize()),
    })
}

/// Reads the pod's stderr to its end, line by line, each line at most [`MAX_LINE`].
async fn read_stderr(
    stderr: impl AsyncRead + Unpin,
    bar: Arc<TargetBar>,
    t0: Instant,
    activity: Activity,
) -> Stderr {
    let mut out = Stderr::default();
    let mut reader = tokio::io::BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        let filled = reader.fill_buf().await;
        activity.heard();
        let (found, used) = match filled {
            Ok([]) | Err(_) => break,
            Ok(buf) => match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    take_capped(&mut line, &buf[..i]);
                    (true, i + 1)
                }
                None => {
                    take_capped(&mut line, buf);
                    (false, buf.len())
                }
            },
        };
        reader.consume(used);
        if found {
            heard(&mut out, &line, &bar, t0);
            line.clear();
        }
    }
    if !line.is_empty() {
        heard(&mut out, &line, &bar, t0);
    }
    out
}

fn take_capped(line: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_LINE.saturating_sub(line.len());
    line.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// One line of the pod's stderr.
fn heard(out: &mut Stderr, line: &[u8], bar: &TargetBar, t0: Instant) {
    if out.running.is_none() && line.starts_with(b"cairn-bootstrap: running ") {
        out.running = Some(t0.elapsed());
        bar.phase("collector started");
    }
    let said = match Line::parse(line) {
        Line::Event(e) => {
            bar.event(&e);
            if let Event::Done(d) = *e {
                out.done = Some(d);
            }
            return;
        }
        Line::Text(t) => t,
        Line::Invalid(why) => format!("(a malformed progress line: {why})"),
    };
    out.last.push(said);
    if out.last.len() > LAST_WORDS {
        out.last.remove(0);
    }
}

/// The outcome the exit status and the collector's own report give.
fn judge(t: &Target, ended: &Ended) -> Result<Done, Failure> {
    let code = ended.status.as_ref().and_then(crate::exec::exit_code);
    let words = ended.stderr.last.join("\n");
    let words = words.trim();
    // No shell: the runtime says so in the Status, or the command ended 126/127 before
    // the bootstrap said a word (it always speaks before failing).
    let silent_start_failure = matches!(code, Some(exit::CANNOT_EXECUTE | exit::NOT_FOUND))
        && ended.stderr.running.is_none()
        && !words.contains("cairn-bootstrap:");
    let runtime_not_found =
        code.is_none() && ended.status.as_ref().is_some_and(crate::exec::not_found);
    if runtime_not_found || silent_start_failure {
        return Err(Failure::NoShell(t.name()));
    }
    match code {
        Some(exit::OK | exit::UPLOAD_FELL_BACK | exit::CUT_SHORT) => {}
        Some(exit::NO_PLACE_TO_RUN | exit::CANNOT_RUN_HERE) => {
            return Err(anyhow::anyhow!("{words}").into())
        }
        Some(exit::NO_MEMORY_PLACE) => return Err(Failure::NoMemoryPlace(words.to_owned())),
        Some(exit::CHECKSUM_MISMATCH) => {
            return Err(anyhow::anyhow!(
                "the collector that reached the target is not the one given (refused, not run): {words}"
            )
            .into())
        }
        Some(c) => {
            return Err(anyhow::anyhow!("the collection exited with status {c}: {words}").into())
        }
        None => {
            let message = ended
                .status
                .as_ref()
                .and_then(|s| s.message.clone())
                .unwrap_or_default();
            return Err(anyhow::anyhow!(
                "the exec ended without an exit status ({message}): {words}"
            )
            .into());
        }
    }
    ended
        .stderr
        .done
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the collector did not report its end: {words}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collectors_deadline_leaves_a_reserve_within_the_launchers() {
        let now = Instant::now();
        let s = Duration::from_secs;
        // A fifth in reserve, at most a minute.
        let d = collector_deadline(s(600), now);
        assert!(d == s(539) || d == s(540), "{d:?}");
        let d = collector_deadline(s(60), now);
        assert!(d == s(47) || d == s(48), "{d:?}");
        // At least a second, but never less than a third of what is left.
        let d = collector_deadline(s(2), now);
        assert!(d > Duration::from_millis(900) && d <= s(1), "{d:?}");
        let d = collector_deadline(s(1), now);
        assert!(
            d > Duration::from_millis(300) && d < Duration::from_millis(340),
            "{d:?}"
        );
        // Time already spent (an earlier route) counts.
        let d = collector_deadline(s(600), now - s(100));
        assert!(d == s(439) || d == s(440), "{d:?}");
    }

    #[tokio::test]
    async fn an_archive_past_the_cap_is_cut_off_and_one_within_it_arrives_whole() {
        let data = vec![7u8; 3 << 20];
        let e = receive(&data[..], None, 1 << 20, &Activity::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("--max-archive-size 1M"), "{e}");
        let a = receive(&data[..], None, 3 << 20, &Activity::new())
            .await
            .unwrap();
        assert_eq!(a.bytes, 3 << 20);
        assert_eq!(a.sha256, hex::encode(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn a_silent_pod_is_noticed_and_a_talking_one_is_not() {
        let idle = Duration::from_millis(300);
        // Silent: the writer stays open and writes nothing.
        let (_w, r) = tokio::io::duplex(64);
        let heard = Activity::new();
        let t0 = Instant::now();
        tokio::select! {
            _ = receive(r, None, u64::MAX, &heard) => panic!("an open, silent stream ended"),
            _ = heard.silence(idle) => {}
        }
        assert!(t0.elapsed() >= idle && t0.elapsed() < idle * 5);
        // Talking every 100 ms for a second, then done: never idle.
        let (mut w, r) = tokio::io::duplex(64);
        let talk = tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                w.write_all(b"x").await.unwrap();
            }
        });
        let heard = Activity::new();
        tokio::select! {
            a = receive(r, None, u64::MAX, &heard) => assert_eq!(a.unwrap().bytes, 10),
            _ = heard.silence(idle) => panic!("a talking pod was taken for silent"),
        }
        talk.await.unwrap();
    }

    #[tokio::test]
    async fn one_endless_line_is_capped_and_the_lines_after_it_still_count() {
        let board = crate::progress::Board::new(crate::progress::Mode::None, 1);
        let bar = Arc::new(board.target_on("ns/p/c", ""));
        let mut input = vec![b'x'; 3 * MAX_LINE];
        input.extend_from_slice(b"\n\xff\xfe not utf-8\n");
        input.extend_from_slice(
            format!(
                "{{\"event\":\"done\",\"sha256\":\"{}\",\"bytes\":1,\"files\":1,\"timed_out\":false}}\n",
                "a".repeat(64)
            )
            .as_bytes(),
        );
        input.extend_from_slice(b"last words without a newline");
        let out = read_stderr(&input[..], bar, Instant::now(), Activity::new()).await;
        assert!(out.done.is_some());
        assert_eq!(out.last.len(), 3, "{:?}", out.last);
        assert!(out.last[0].len() <= MAX_LINE);
        assert!(out.last[1].contains("not utf-8"));
        assert_eq!(out.last[2], "last words without a newline");
    }
}
