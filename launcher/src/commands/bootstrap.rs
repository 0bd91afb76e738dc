//! `cairn bootstrap --print`: the one-line manual deployment, `sh -c "$(printf %s BASE64
//! | base64 -d)" cairn-bootstrap url URL SHA256 -- ARGS`, runnable anywhere a POSIX
//! shell and base64 exist (busybox has both). The bootstrap travels base64-encoded so
//! the line survives any quoting layer it is pasted through; every argument is
//! single-quoted.

use crate::cli::BootstrapArgs;
use crate::collector::{Arch, Collectors};
use base64::Engine as _;
use cairn_protocol::{exit, flags};

pub fn run(a: BootstrapArgs) -> anyhow::Result<i32> {
    let arch = Arch::parse(&a.arch)
        .ok_or_else(|| anyhow::anyhow!("--arch takes x86_64 or aarch64, not {}", a.arch))?;
    let given: Vec<_> = a.collector_bin.into_iter().collect();
    let collectors = Collectors::find(&given)?;
    let collector = collectors
        .for_arch(Some(arch))
        .map_err(|e| anyhow::anyhow!("no collector for {}: {e}", arch.name()))?;
    let args = if a.collector_args.is_empty() {
        vec![
            flags::COLLECT.to_owned(),
            flags::OUTPUT.to_owned(),
            flags::STDIO.to_owned(),
        ]
    } else {
        a.collector_args
    };
    println!(
        "{}",
        one_line(&a.collector_url, &collector.sha256, arch.name(), &args)
    );
    Ok(exit::OK)
}

/// POSIX single-quoting: `'` becomes `'\''`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn one_line(url: &str, sha256: &str, arch: &str, args: &[String]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(crate::route::exec::BOOTSTRAP);
    let mut line = format!(
        "sh -c \"$(printf %s {b64} | base64 -d)\" cairn-bootstrap url {} {sha256} arch {arch} --",
        quote(url)
    );
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_survive_any_quote_in_them() {
        assert_eq!(super::quote("a'b c"), "'a'\\''b c'");
        let l = super::one_line(
            "http://h/x?a=1&b='2'",
            "ab",
            "x86_64",
            &["--upload-url".into(), "u&v".into()],
        );
        assert!(l.ends_with("-- '--upload-url' 'u&v'"), "{l}");
        assert!(!l.contains('\n'));
    }
}
