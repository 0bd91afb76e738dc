//! Rules on the network: TCP connections this side opened to another host, and TCP
//! listeners, each with the processes holding the socket.

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

/// Sockets waiting for connections (TCP listeners).
pub fn listening(f: &Facts, out: &mut Vec<Finding>) {
    for s in f
        .sockets
        .iter()
        .filter(|s| s.is_tcp() && s.state == "LISTEN")
    {
        let local = addr(&s.local_address);
        out.push(Finding {
            severity: if loopback(local) {
                Severity::Info
            } else {
                Severity::Medium
            },
            rule: "listening-socket",
            sentence: format!(
                "{} listens on {} ({})",
                holders(s),
                endpoint(local, s.local_port),
                s.proto
            ),
            evidence: vec![ev(f, SOCKETS, format!("inode {}", s.inode))],
        });
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
}
