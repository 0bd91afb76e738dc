//! `cairn-collector sandbox`: the confinement of `collect --node-root`, applied on its
//! own so a responder (and the tests) can see what this kernel enforces: the line the
//! collection log would get, each `--try` path read or refused, and a program run under
//! it (exec'd, so its exit status is the command's).

use super::cli::SandboxArgs;
use anyhow::Result;
use cairn_collector::sandbox::{apply, Allowed};
use cairn_protocol::escape::terminal;
use std::io::Read;

pub fn run(a: SandboxArgs) -> Result<i32> {
    let mut allowed = Allowed::node(&a.node_root);
    allowed.read.extend(a.allow_read.iter().cloned());
    let applied = apply(&allowed);
    println!("{}", terminal(&applied.line));
    for p in &a.tries {
        let shown = terminal(&p.display().to_string()).into_owned();
        match read_some(p) {
            Ok(n) => println!("read {shown}: allowed ({n} bytes)"),
            Err(e) => println!("read {shown}: refused ({e})"),
        }
    }
    let Some((program, args)) = a.program.split_first() else {
        return Ok(if applied.complete { 0 } else { 1 });
    };
    use std::os::unix::process::CommandExt;
    let e = std::process::Command::new(program).args(args).exec();
    anyhow::bail!("running {}: {e}", terminal(program))
}

/// Reads up to 64 KiB of `p`: enough to show the file is readable.
fn read_some(p: &std::path::Path) -> std::io::Result<usize> {
    let mut buf = Vec::new();
    std::fs::File::open(p)?.take(64 << 10).read_to_end(&mut buf)
}
