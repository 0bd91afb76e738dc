//! `cairn-collector idle`, the command of an ephemeral container or sidecar: `idle
//! --stop` ends it, and it outlives the stop command by a moment, so that the exec of
//! the stop (whose container ends with the idle collector) can report its exit status.

mod common;
use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn idle_stop_ends_the_idle_collector_after_the_stop_command_has_exited() {
    let mut idle = env::command(bin())
        .args(["idle", "--for", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn idle");
    // Let it start and register for SIGTERM.
    std::thread::sleep(Duration::from_millis(300));
    let o = run(&["idle", "--stop"]);
    let stopped = Instant::now();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("stopped 1 idle collector(s)"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        idle.try_wait().unwrap().is_none(),
        "the idle collector ended before the stop command could report"
    );
    let status = loop {
        if let Some(s) = idle.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "the idle collector did not end within 5 s of idle --stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert!(stopped.elapsed() >= Duration::from_millis(300));
}
