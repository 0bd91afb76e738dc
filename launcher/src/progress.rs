//! What the responder sees while a collection runs. On a terminal: one bar per target,
//! fed by the collector's JSON progress (artifacts done of the profile's, files, bytes
//! read and written), and a total bar of targets finished; a sweep of more targets than
//! [`BY_NODE_ABOVE`] gets one bar per node instead (its targets done of its own, how
//! many run, the last word of one of them), which a screen holds. Elsewhere (a pipe, a
//! CI log): one line when a target starts and one when it ends, so logs stay readable.

use cairn_protocol::escape::terminal;
use cairn_protocol::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Above this many targets, bars are drawn per node rather than per target.
pub const BY_NODE_ABOVE: usize = 8;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Bars when stderr is a terminal, lines otherwise.
    Auto,
    /// Bars.
    Bars,
    /// A line per target start and end.
    Lines,
    /// Nothing but errors.
    None,
}

/// All targets' bars and the total.
pub struct Board {
    mode: Mode,
    multi: MultiProgress,
    total: ProgressBar,
    /// The targets' bars not finished yet, to end those still running when the run
    /// ends (finished ones are let go as new ones come, so a run of many targets holds
    /// about as many as run at once).
    bars: std::sync::Mutex<Vec<ProgressBar>>,
    /// Set while bars are drawn on a terminal.
    quiet: std::sync::Mutex<Option<QuietControlKeys>>,
    /// The nodes' bars, in a sweep of many targets.
    nodes: BTreeMap<String, Arc<NodeBar>>,
}

/// One node's bar: its targets done of its own, and how many run.
struct NodeBar {
    bar: ProgressBar,
    running: AtomicU64,
    failed: AtomicU64,
}

impl Board {
    /// A board for targets on `nodes` (one entry per target: its node): bars per node
    /// when there are more than [`BY_NODE_ABOVE`] targets.
    pub fn for_targets(mode: Mode, nodes: &[String]) -> Board {
        let mut board = Board::new(mode, nodes.len() as u64);
        if nodes.len() > BY_NODE_ABOVE {
            let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
            for n in nodes {
                *counts.entry(n.as_str()).or_default() += 1;
            }
            for (node, n) in counts {
                let bar =
                    board.bar_above_total(n, "{prefix:>12.bold} [{bar:20}] {pos}/{len} {wide_msg}");
                let name = if node.is_empty() { "(no node)" } else { node };
                bar.set_prefix(terminal(name).into_owned());
                let nb = NodeBar {
                    bar,
                    running: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                };
                board.nodes.insert(node.to_owned(), Arc::new(nb));
            }
        }
        board
    }

    /// A bar of `len` above the total, drawn only on a terminal.
    fn bar_above_total(&self, len: u64, template: &str) -> ProgressBar {
        if self.mode != Mode::Bars {
            let b = ProgressBar::hidden();
            b.set_length(len);
            return b;
        }
        let b = self.multi.insert_before(&self.total, ProgressBar::new(len));
        b.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    }

    pub fn new(mode: Mode, targets: u64) -> Board {
        let mode = match mode {
            Mode::Auto if std::io::stderr().is_terminal() => Mode::Bars,
            Mode::Auto => Mode::Lines,
            m => m,
        };
        let multi = MultiProgress::with_draw_target(if mode == Mode::Bars {
            ProgressDrawTarget::stderr_with_hz(8)
        } else {
            ProgressDrawTarget::hidden()
        });
        let total = multi.add(ProgressBar::new(targets));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:>12.bold} [{bar:30}] {pos}/{len} targets, {elapsed_precise} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        total.set_prefix("total");
        if mode == Mode::Bars {
            total.enable_steady_tick(Duration::from_millis(250));
        }
        let quiet = (mode == Mode::Bars).then(QuietControlKeys::new).flatten();
        Board {
            mode,
            multi,
            total,
            bars: std::sync::Mutex::new(Vec::new()),
            quiet: std::sync::Mutex::new(quiet),
            nodes: BTreeMap::new(),
        }
    }

    /// A bar for one target on `node`: its own above the total, or, with bars per
    /// node, a hidden one whose words its node's bar shows.
    pub fn target_on(&self, name: &str, node: &str) -> TargetBar {
        let node = self.nodes.get(node).cloned();
        if let Some(n) = &node {
            n.running.fetch_add(1, Ordering::Relaxed);
        }
        let bar = if self.mode == Mode::Bars && node.is_none() {
            let b = self
                .multi
                .insert_before(&self.total, ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix:.bold} [{bar:20}] {pos}/{len} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .progress_chars("=> "),
            );
            b.set_prefix(terminal(name).into_owned());
            b.enable_steady_tick(Duration::from_millis(250));
            b
        } else {
            ProgressBar::hidden()
        };
        if self.mode == Mode::Lines {
            eprintln!("cairn: collecting {}", terminal(name));
        }
        bar.set_message("opening the exec stream");
        if let Ok(mut bars) = self.bars.lock() {
            bars.retain(|b| !b.is_finished());
            bars.push(bar.clone());
        }
        TargetBar {
            name: name.to_owned(),
            bar,
            lines: self.mode == Mode::Lines,
            total: self.total.clone(),
            artifacts: AtomicU64::new(0),
            node,
        }
    }

    /// A line that does not tear the bars.
    pub fn say(&self, line: &str) {
        let line = terminal(line);
        let line = line.as_ref();
        match self.mode {
            Mode::Bars => {
                let _ = self.multi.println(line);
            }
            Mode::Lines => eprintln!("{line}"),
            _ => {}
        }
    }

    /// Ends the board before the report is printed: a bar still running (its target
    /// cancelled by Ctrl-C, `why`) stops where it was with `why`, the total is drawn
    /// once more, and nothing draws after that. Without the last step a bar still held
    /// by a task being torn down would redraw over the report below it.
    pub fn finish(&self, why: &str) {
        if let Ok(bars) = self.bars.lock() {
            let nodes = self.nodes.values().map(|n| &n.bar);
            for b in bars.iter().chain(nodes).filter(|b| !b.is_finished()) {
                b.abandon_with_message(why.to_owned());
            }
        }
        self.total.finish();
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
        if let Ok(mut q) = self.quiet.lock() {
            q.take();
        }
    }
}

/// While bars are drawn, the terminal does not echo control keys as `^C`: that echo
/// moves the cursor under the bars (indicatif leaves it at the right edge, so the two
/// characters start a new line), and every redraw after it would leave a stale copy of
/// each bar above. Ctrl-C still interrupts; the terminal's own setting comes back when
/// the board ends or is dropped (a panic included).
struct QuietControlKeys {
    saved: rustix::termios::Termios,
}

impl QuietControlKeys {
    /// `None` where stderr is not a terminal or its modes cannot be changed.
    fn new() -> Option<QuietControlKeys> {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let saved = tcgetattr(std::io::stderr()).ok()?;
        if !saved.local_modes.contains(LocalModes::ECHOCTL) {
            return None;
        }
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHOCTL);
        tcsetattr(std::io::stderr(), OptionalActions::Now, &quiet).ok()?;
        Some(QuietControlKeys { saved })
    }
}

impl Drop for QuietControlKeys {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stderr(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// One target's bar.
pub struct TargetBar {
    name: String,
    bar: ProgressBar,
    lines: bool,
    total: ProgressBar,
    /// Artifacts begun so far.
    artifacts: AtomicU64,
    /// The bar of the target's node, when bars are per node.
    node: Option<Arc<NodeBar>>,
}

impl TargetBar {
    /// A phase of the launcher's own work (delivery, waiting for the archive).
    pub fn phase(&self, what: &str) {
        self.bar.set_message(terminal(what).into_owned());
        self.tell_node();
    }

    /// The node's bar shows how many of its targets run and this one's last word.
    fn tell_node(&self) {
        if let Some(n) = &self.node {
            n.bar.set_message(format!(
                "{} running{}; {}: {}",
                n.running.load(Ordering::Relaxed),
                failed(n.failed.load(Ordering::Relaxed)),
                terminal(&self.name),
                self.bar.message()
            ));
        }
    }

    /// One of the collector's progress events.
    pub fn event(&self, e: &Event) {
        match e {
            Event::Start(s) => {
                self.bar.set_length(s.artifacts.len() as u64);
                self.bar.set_position(0);
                self.bar.set_message("collecting");
            }
            Event::Artifact(a) => {
                // The artifact before this one, if any, has ended.
                let before = self.artifacts.fetch_add(1, Ordering::Relaxed);
                self.bar.set_position(before);
                self.bar.set_message(terminal(&a.name).into_owned());
            }
            Event::Progress(p) => self.bar.set_message(format!(
                "{}: {} files, {} read, {} out",
                terminal(&p.artifact),
                p.files,
                mib(p.bytes_read),
                mib(p.bytes_out),
            )),
            Event::Done(d) => {
                if let Some(n) = self.bar.length() {
                    self.bar.set_position(n);
                }
                self.bar.set_message(format!(
                    "sealed: {} files, {}; checking",
                    d.files,
                    mib(d.bytes)
                ));
            }
            _ => {}
        }
        self.tell_node();
    }

    /// The target has ended, well or not.
    pub fn finish(&self, bytes: u64, seconds: f64, error: Option<&str>) {
        let end = match error {
            None => format!("ok: {} in {seconds:.1} s", mib(bytes)),
            Some(e) => format!("failed: {}", terminal(first_line(e))),
        };
        self.bar.finish_with_message(end.clone());
        self.total.inc(1);
        if error.is_some() {
            self.total.set_message("(some failed)");
        }
        if self.lines {
            eprintln!("cairn: {} {end}", terminal(&self.name));
        }
        if let Some(n) = &self.node {
            let running = n.running.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
            let failures = n.failed.load(Ordering::Relaxed) + u64::from(error.is_some());
            n.failed.store(failures, Ordering::Relaxed);
            n.bar.inc(1);
            if n.bar.length().is_some_and(|l| n.bar.position() >= l) {
                n.bar
                    .finish_with_message(format!("done{}", failed(failures)));
            } else {
                n.bar
                    .set_message(format!("{running} running{}", failed(failures)));
            }
        }
    }
}

/// ", N failed" when some did.
fn failed(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} failed")
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// A size for people: KiB below a MiB, MiB above.
fn mib(b: u64) -> String {
    if b < 1 << 20 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_collectors_events_move_the_bar_through_the_profile() {
        let board = Board::new(Mode::None, 1);
        // A hidden bar still keeps its state, which is what the terminal shows.
        let t = TargetBar {
            name: "ns/p/c".into(),
            bar: ProgressBar::hidden(),
            lines: false,
            total: board.total.clone(),
            artifacts: AtomicU64::new(0),
            node: None,
        };
        let ev = |v: serde_json::Value| match cairn_protocol::Line::parse(v.to_string().as_bytes())
        {
            cairn_protocol::Line::Event(e) => *e,
            other => panic!("{other:?}"),
        };
        t.event(&ev(
            json!({"event": "start", "root": "/", "artifacts": ["live", "logs", "shell"]}),
        ));
        assert_eq!(t.bar.length(), Some(3));
        t.event(&ev(json!({"event": "artifact", "name": "live"})));
        assert_eq!(t.bar.position(), 0);
        t.event(&ev(json!({"event": "progress", "artifact": "live", "files": 12, "bytes_read": 3145728, "bytes_out": 524288})));
        assert_eq!(
            t.bar.message(),
            "live: 12 files, 3.0 MiB read, 512.0 KiB out"
        );
        t.event(&ev(json!({"event": "artifact", "name": "logs"})));
        assert_eq!(t.bar.position(), 1);
        t.event(&ev(json!({"event": "artifact", "name": "shell"})));
        assert_eq!(t.bar.position(), 2);
        t.event(&ev(json!({"event": "done", "sha256": "a".repeat(64), "files": 40, "bytes": 2097152, "timed_out": false})));
        assert_eq!(t.bar.position(), 3);
        t.finish(2097152, 1.25, None);
        assert_eq!(t.bar.message(), "ok: 2.0 MiB in 1.2 s");
        assert_eq!(board.total.position(), 1);
        t.finish(0, 0.0, Some("no shell\nmore"));
        assert_eq!(t.bar.message(), "failed: no shell");
    }

    #[test]
    fn a_sweep_of_many_targets_has_a_bar_per_node() {
        let nodes: Vec<String> = (0..10).map(|i| format!("n{}", i % 2)).collect();
        let board = Board::for_targets(Mode::None, &nodes);
        assert_eq!(board.nodes.len(), 2);
        let n0 = board.nodes["n0"].clone();
        assert_eq!(n0.bar.length(), Some(5));
        let a = board.target_on("ns/a/c", "n0");
        let b = board.target_on("ns/b/c", "n0");
        a.phase("starting a collector pod on the node");
        assert_eq!(
            n0.bar.message(),
            "2 running; ns/a/c: starting a collector pod on the node"
        );
        a.finish(10, 1.0, None);
        b.finish(0, 1.0, Some("exec refused"));
        assert_eq!(
            (n0.bar.position(), n0.bar.message()),
            (2, "0 running, 1 failed".into())
        );
        for p in ["c", "d", "e"] {
            board
                .target_on(&format!("ns/{p}/c"), "n0")
                .finish(1, 1.0, None);
        }
        assert!(n0.bar.is_finished());
        assert_eq!(n0.bar.message(), "done, 1 failed");
        assert_eq!(board.total.position(), 5);
        // Few targets keep a bar each.
        let few = Board::for_targets(Mode::None, &nodes[..BY_NODE_ABOVE]);
        assert!(few.nodes.is_empty());
    }
}
