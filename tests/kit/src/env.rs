//! The environment the binaries under test see: none of the settings a developer's
//! shell may carry that cairn or its libraries read (cloud credentials, a kubeconfig,
//! in-cluster variables, HTTP proxies, cairn's own settings). Each test sets what it
//! means to give, so a run behaves the same on a laptop as on a fresh CI machine.

use std::ffi::OsStr;
use std::process::Command;

const PREFIXES: &[&str] = &[
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "CLOUDSDK_",
    "KUBERNETES_",
    "CAIRN_",
];
const NAMES: &[&str] = &[
    "KUBECONFIG",
    "STORAGE_EMULATOR_HOST",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

/// True for a variable [`hermetic`] removes.
pub fn inherited_setting(name: &OsStr) -> bool {
    let n = name.to_string_lossy().to_ascii_uppercase();
    NAMES.contains(&n.as_str()) || PREFIXES.iter().any(|p| n.starts_with(p))
}

/// Removes every inherited setting from `c`'s environment.
pub fn hermetic(c: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if inherited_setting(&k) {
            c.env_remove(k);
        }
    }
    c
}

/// `Command::new(program)` without the inherited settings.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    hermetic(&mut c);
    c
}

/// The last `max` bytes of a stream, as text.
fn tail(b: &[u8], max: usize) -> String {
    let cut = b.len().saturating_sub(max);
    let text = String::from_utf8_lossy(&b[cut..]);
    if cut > 0 {
        format!("[… {cut} bytes before]{text}")
    } else {
        text.into_owned()
    }
}

/// Asserts that a command succeeded; when it did not, the panic shows its exit status
/// and the end of both its streams, so a failing test says why.
#[track_caller]
pub fn succeeded(o: &std::process::Output) {
    if !o.status.success() {
        panic!(
            "the command failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            o.status,
            tail(&o.stdout, 8 << 10),
            tail(&o.stderr, 8 << 10)
        );
    }
}

/// The subcommands a `--help` lists under `Commands:` (clap's layout: two spaces, the
/// name, its summary), `help` left out, so that a check of every command's help cannot
/// fall behind the commands the binary has.
pub fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}
