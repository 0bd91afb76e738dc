//! Rules on the network: TCP connections this side opened to another host, TCP
//! listeners (info when the pod spec declares the port, medium when it does not), and
//! a shell holding an internet socket (a reverse or bind shell), each with the
//! processes holding the socket.

use super::{ev, Finding, Severity};
use crate::examine::facts::Facts;
use cairn_archive::member::live::SOCKETS;
use cairn_archive::records::network::Socket;
use std::collections::HashSet;

/// `pid/comm` of the processes holding a socket.
fn holders(s: &Socket) -> String {
    let p: Vec<String> = s
        .processes
        .iter()
        .map(|p| format!("{}/{}", p.pid, p.comm.as_deref().unwrap_or("")))
        .collect();
    if p.is_empty() {
        "an unknown process".into()
    } else {
        p.join(", ")
    }
}

/// `ADDR:PORT`, with an IPv6 address in brackets.
fn endpoint(addr: &str, port: Option<u16>) -> String {
    let port = port.map(|p| p.to_string()).unwrap_or_default();
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

fn loopback(addr: &str) -> bool {
    addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.")
}

fn addr(a: &Option<String>) -> &str {
    a.as_deref().unwrap_or("")
}

/// TCP connections to another host that this side opened (its port is not one it
/// listens on).
pub fn outbound(f: &Facts, out: &mut Vec<Finding>) {
    let listening: HashSet<(&str, Option<u16>)> = f
        .sockets
        .iter()
        .filter(|s| s.is_tcp() && s.state == "LISTEN")
        .map(|s| (s.netns.as_str(), s.local_port))
        .collect();
    for s in f
        .sockets
        .iter()
        .filter(|s| s.is_tcp() && s.state == "ESTABLISHED")
    {
        let remote = addr(&s.remote_address);
        if loopback(remote) || listening.contains(&(s.netns.as_str(), s.local_port)) {
            continue;
        }
        out.push(Finding {
            severity: Severity::Medium,
            rule: "outbound-connection",
            sentence: format!(
                "{} is connected to {} (from {})",
                holders(s),
                endpoint(remote, s.remote_port),
                endpoint(addr(&s.local_address), s.local_port)
            ),
            evidence: vec![ev(f, SOCKETS, format!("inode {}", s.inode))],
        });
    }
}

/// The TCP ports the pod spec declares, from the Kubernetes evidence.
fn declared_ports(f: &Facts) -> HashSet<u16> {
    f.pod
        .iter()
        .filter_map(|p| p.spec.as_ref())
        .flat_map(|s| s.containers.items.iter())
        .flat_map(|c| c.ports.items.iter())
        .filter(|p| {
            p.protocol
                .as_deref()
                .is_none_or(|x| x.eq_ignore_ascii_case("tcp"))
        })
        .filter_map(|p| u16::try_from(p.container_port).ok())
        .collect()
}

/// Sockets waiting for connections (TCP listeners): medium, unless on loopback or on
/// a port the pod spec declares (the application's own), which are info.
pub fn listening(f: &Facts, out: &mut Vec<Finding>) {
    let declared = declared_ports(f);
    for s in f
        .sockets
        .iter()
        .filter(|s| s.is_tcp() && s.state == "LISTEN")
    {
        let local = addr(&s.local_address);
        let own = s.local_port.is_some_and(|p| declared.contains(&p));
        out.push(Finding {
            severity: if loopback(local) || own {
                Severity::Info
            } else {
                Severity::Medium
            },
            rule: "listening-socket",
            sentence: format!(
                "{} listens on {} ({}{})",
                holders(s),
                endpoint(local, s.local_port),
                s.proto,
                if own {
                    ", a port the pod spec declares"
                } else {
                    ""
                }
            ),
            evidence: vec![ev(f, SOCKETS, format!("inode {}", s.inode))],
        });
    }
}

/// The names a shell runs under (`comm`).
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish",
];

/// A shell holding an internet socket: its input and output are a network connection
/// (a reverse shell) or it waits for one (a bind shell).
pub fn shell_socket(f: &Facts, out: &mut Vec<Finding>) {
    for s in f.sockets.iter().filter(|s| s.proto != "unix") {
        // One finding per shell process, with every descriptor it holds the socket on.
        let mut shells: Vec<(i32, &str, Vec<String>)> = Vec::new();
        for h in &s.processes {
            let comm = h.comm.as_deref().unwrap_or("");
            if !SHELLS.contains(&comm) {
                continue;
            }
            match shells.iter_mut().find(|(pid, _, _)| *pid == h.pid) {
                Some((_, _, fds)) => fds.push(h.fd.to_string()),
                None => shells.push((h.pid, comm, vec![h.fd.to_string()])),
            }
        }
        for (pid, comm, fds) in shells {
            let peer = match s.remote_address.as_deref() {
                Some(r) if s.state != "LISTEN" && s.remote_port.is_some_and(|p| p != 0) => {
                    format!("connected to {}", endpoint(r, s.remote_port))
                }
                _ => format!("on {}", endpoint(addr(&s.local_address), s.local_port)),
            };
            out.push(Finding {
                severity: Severity::High,
                rule: "shell-socket",
                sentence: format!(
                    "the shell {pid}/{comm} holds a {} socket (fd {}) {peer}: a reverse or bind shell",
                    s.proto,
                    fds.join(", ")
                ),
                evidence: vec![ev(f, SOCKETS, format!("inode {}", s.inode))],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{all, facts, typed};
    use serde_json::json;

    #[test]
    fn listeners_and_outbound_connections_carry_their_process_and_loopback_is_not_outbound() {
        let mut f = facts();
        let p = json!([{"pid": 5, "comm": "nc"}]);
        // The collector writes a namespace's inode as a string.
        f.sockets = typed(vec![
            json!({"netns": "1", "proto": "tcp", "state": "LISTEN", "local_address": "0.0.0.0", "local_port": 4444, "inode": 1, "processes": p}),
            json!({"netns": "1", "proto": "tcp", "state": "LISTEN", "local_address": "127.0.0.1", "local_port": 9000, "inode": 2, "processes": []}),
            json!({"netns": "1", "proto": "tcp", "state": "ESTABLISHED", "local_address": "10.1.0.5", "local_port": 4444, "remote_address": "10.1.0.9", "remote_port": 51000, "inode": 3, "processes": p}),
            json!({"netns": "1", "proto": "tcp", "state": "ESTABLISHED", "local_address": "10.1.0.5", "local_port": 40222, "remote_address": "203.0.113.9", "remote_port": 443, "inode": 4, "processes": [{"pid": 6, "comm": "curl"}]}),
            json!({"netns": "1", "proto": "tcp", "state": "ESTABLISHED", "local_address": "127.0.0.1", "local_port": 40223, "remote_address": "127.0.0.1", "remote_port": 9000, "inode": 5, "processes": []}),
        ]);
        let found = all(&f);
        let s: Vec<(&str, &str)> = found
            .iter()
            .map(|x| (x.rule, x.sentence.as_str()))
            .collect();
        assert_eq!(
            s,
            [
                (
                    "outbound-connection",
                    "6/curl is connected to 203.0.113.9:443 (from 10.1.0.5:40222)"
                ),
                ("listening-socket", "5/nc listens on 0.0.0.0:4444 (tcp)"),
                (
                    "listening-socket",
                    "an unknown process listens on 127.0.0.1:9000 (tcp)"
                ),
            ]
        );
    }

    #[test]
    fn a_shell_holding_a_socket_is_high_and_a_declared_port_is_the_applications_own() {
        let mut f = facts();
        f.sockets = typed(vec![
            json!({"netns": "1", "proto": "tcp", "state": "ESTABLISHED", "local_address": "10.1.0.5", "local_port": 40100, "remote_address": "203.0.113.9", "remote_port": 4444, "inode": 7, "processes": [{"pid": 31, "fd": 0, "comm": "sh"}, {"pid": 31, "fd": 1, "comm": "sh"}]}),
            json!({"netns": "1", "proto": "tcp", "state": "LISTEN", "local_address": "0.0.0.0", "local_port": 8080, "inode": 8, "processes": [{"pid": 1, "fd": 3, "comm": "web"}]}),
            json!({"netns": "1", "proto": "tcp", "state": "LISTEN", "local_address": "0.0.0.0", "local_port": 31337, "inode": 9, "processes": [{"pid": 40, "fd": 3, "comm": "bash"}]}),
            json!({"netns": "1", "proto": "unix", "state": "LISTEN", "inode": 10, "processes": [{"pid": 41, "fd": 3, "comm": "sh"}]}),
        ]);
        f.pod = Some(
            serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"containers": [
                {"name": "web", "ports": [{"containerPort": 8080}]}]}}))
            .unwrap(),
        );
        let found = all(&f);
        let s: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|x| (x.severity.name(), x.rule, x.sentence.as_str()))
            .collect();
        assert!(s.contains(&("high", "shell-socket", "the shell 31/sh holds a tcp socket (fd 0, 1) connected to 203.0.113.9:4444: a reverse or bind shell")), "{s:#?}");
        assert!(s.contains(&("high", "shell-socket", "the shell 40/bash holds a tcp socket (fd 3) on 0.0.0.0:31337: a reverse or bind shell")), "{s:#?}");
        assert!(
            s.contains(&(
                "info",
                "listening-socket",
                "1/web listens on 0.0.0.0:8080 (tcp, a port the pod spec declares)"
            )),
            "{s:#?}"
        );
        assert!(
            s.contains(&(
                "medium",
                "listening-socket",
                "40/bash listens on 0.0.0.0:31337 (tcp)"
            )),
            "{s:#?}"
        );
        assert!(
            !s.iter().any(|x| x.2.contains("41/sh")),
            "a unix socket is not a network shell: {s:#?}"
        );
    }
}
