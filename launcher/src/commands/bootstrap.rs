//! `cairn bootstrap --print`: the one-line manual deployment, `sh -c "$(printf %s BASE64
//! | base64 -d)" cairn-bootstrap url URL SHA256 -- ARGS`, runnable anywhere a POSIX
//! shell and base64 exist (busybox has both). The bootstrap travels base64-encoded so
//! the line survives any quoting layer it is pasted through; every argument is
//! single-quoted. A credential never goes into that line: an upload URL is refused
//! among the collector's arguments, and read from the line's stdin instead
//! (`--upload-url -`: the bootstrap passes its stdin on to the collector).

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
    refuse_credentials(&a.collector_args)?;
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

/// Fails when an argument is an upload URL (`--upload-url URL` or `--upload-url=URL`
/// with anything but `-`): it would be in the collector's argument list, which anyone in
/// the target reads in /proc/PID/cmdline, and in the shell history of whoever pastes
/// the line. The message never repeats the URL.
fn refuse_credentials(args: &[String]) -> anyhow::Result<()> {
    let flag = "--upload-url";
    let given = args.iter().enumerate().any(|(i, a)| {
        let value = match a.strip_prefix(flag) {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        value.is_some_and(|v| v != flags::STDIO)
    });
    if given {
        anyhow::bail!(
            "a presigned URL in the collector's arguments is readable by the target (/proc/PID/cmdline) and stays in shell histories: \
             give `-- collect --upload-url -` and pipe the URL into the printed line: printf '%s' \"$URL\" | LINE"
        );
    }
    Ok(())
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

    #[test]
    fn an_upload_url_in_the_arguments_is_refused_and_not_repeated() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for bad in [
            args(&[
                "collect",
                "--upload-url",
                "https://b/o?X-Amz-Signature=secret",
            ]),
            args(&["collect", "--upload-url=https://b/o?sig=secret"]),
        ] {
            let e = super::refuse_credentials(&bad).unwrap_err().to_string();
            assert!(e.contains("--upload-url -") && !e.contains("secret"), "{e}");
        }
        for good in [
            args(&["collect", "--upload-url", "-"]),
            args(&["collect", "--upload-url=-"]),
            args(&["collect", "--output", "-"]),
            args(&[]),
        ] {
            assert!(super::refuse_credentials(&good).is_ok(), "{good:?}");
        }
    }
}
