//! `cairn-collector idle`: the command of a collector sidecar or ephemeral container,
//! which waits doing nothing until collections are exec'd into it; `idle --stop` ends
//! the other idle collectors of the container.
//!
//! An idle collector told to stop (SIGTERM, from `idle --stop` or the runtime) ends
//! [`GRACE`] later, not at once: when it is the last process of an ephemeral
//! container, the container ends with it, and the `idle --stop` exec that asked would
//! otherwise be killed before its exit status reached the launcher, which then waited
//! out its own timeout for an answer.

use anyhow::{Context, Result};
use cairn_collector::source::procfs::ProcFs;
use cairn_protocol::exit;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an idle collector lives on once told to stop.
const GRACE: Duration = Duration::from_millis(500);

pub fn run(duration: Duration, stop: bool, proc: &Path) -> Result<i32> {
    if stop {
        let proc =
            ProcFs::open(proc).with_context(|| format!("opening procfs at {}", proc.display()))?;
        let n = stop_idle(&proc);
        eprintln!("cairn-collector: stopped {n} idle collector(s)");
        return Ok(exit::OK);
    }
    let stopped = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stopped))
        .context("registering for SIGTERM")?;
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if stopped.load(Ordering::Relaxed) {
            std::thread::sleep(GRACE);
            break;
        }
        std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
    }
    Ok(exit::OK)
}

/// Sends SIGTERM to the other `cairn-collector idle` processes running this same
/// executable; returns how many.
fn stop_idle(proc: &ProcFs) -> usize {
    let Ok(me) = proc.identity("self/exe") else {
        return 0;
    };
    let own = std::process::id() as i32;
    let mut n = 0;
    for pid in proc.pids().unwrap_or_default() {
        if pid == own {
            continue;
        }
        let Ok(dir) = proc.process(pid) else {
            continue;
        };
        let same_exe = dir.identity("exe").is_ok_and(|e| e == me);
        let cmdline = dir.read("cmdline", 1 << 16).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if same_exe && args.get(1) == Some(&&b"idle"[..]) && !args.contains(&&b"--stop"[..]) {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                if rustix::process::kill_process(p, rustix::process::Signal::TERM).is_ok() {
                    n += 1;
                }
            }
        }
    }
    n
}
