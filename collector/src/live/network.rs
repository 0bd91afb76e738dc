//! Network state: the kernel's socket tables (tcp, tcp6, udp, udp6, raw, raw6, unix)
//! for the collector's own network namespace and for every other one a visible process
//! lives in, each socket mapped to the processes holding it through their fd tables.
//! Also interfaces, addresses, routes and ARP. Written under `live_response/network/`:
//! `sockets.jsonl` (everything), `listening.txt` and `established.txt` (netstat-like
//! tables), `interfaces.json`, `routes.json`, `arp.json`, and the raw /proc files.

use super::parse::{self, InetSocket};
use super::processes::{Proc, Scan};
use super::Emit;
use crate::source::procfs::ProcFs;
use cairn_archive::member::live;
use cairn_archive::records::network::{ArpEntry, Holder, Interface, Interfaces, Route, Socket};
use cairn_archive::text::escape;
use cairn_protocol::{Level, LogEvent};
use std::collections::{BTreeMap, HashMap};

const INET_TABLES: &[(&str, &str)] = &[
    ("tcp", "tcp"),
    ("tcp6", "tcp6"),
    ("udp", "udp"),
    ("udp6", "udp6"),
    ("raw", "raw"),
    ("raw6", "raw6"),
];
const RAW_FILES: &[&str] = &[
    "tcp",
    "tcp6",
    "udp",
    "udp6",
    "raw",
    "raw6",
    "unix",
    "route",
    "ipv6_route",
    "arp",
    "dev",
    "if_inet6",
    "fib_trie",
];
const LIMIT: usize = 64 << 20;

fn owners(scan: &Scan, by_pid: &HashMap<i32, &Proc>, inode: u64) -> Vec<Holder> {
    scan.socket_owners
        .get(&inode)
        .map(|v| {
            v.iter()
                .map(|(pid, fd)| {
                    let p = by_pid.get(pid);
                    Holder {
                        pid: *pid,
                        fd: *fd,
                        comm: p.map(|p| p.comm.clone()),
                        cmdline: p.map(|p| p.cmdline.clone()),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn inet_record(proto: &str, netns: &str, s: &InetSocket, owners: Vec<Holder>) -> Socket {
    let state = if proto.starts_with("tcp") {
        parse::tcp_state(s.state).to_owned()
    } else {
        match s.state {
            1 => "ESTABLISHED".into(),
            7 => "UNCONN".into(),
            n => format!("{n}"),
        }
    };
    Socket {
        netns: netns.to_owned(),
        proto: proto.to_owned(),
        local_address: Some(s.local.to_string()),
        local_port: Some(s.local_port),
        remote_address: Some(s.remote.to_string()),
        remote_port: Some(s.remote_port),
        state,
        uid: Some(s.uid),
        inode: s.inode,
        tx_queue: Some(s.tx_queue),
        rx_queue: Some(s.rx_queue),
        processes: owners,
        ..Socket::default()
    }
}

fn owner_text(list: &[Holder]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|o| format!("{}/{}", o.pid, o.comm.as_deref().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(",")
}

/// What the network state is written into, accumulated over namespaces.
struct Tables<'s> {
    scan: &'s Scan,
    by_pid: HashMap<i32, &'s Proc>,
    sockets: Vec<u8>,
    listening: String,
    established: String,
    counts: BTreeMap<&'static str, u64>,
    routes: Vec<Route>,
    arp: Vec<ArpEntry>,
    interfaces: Vec<Interfaces>,
}

/// Collects the network state.
pub fn run(proc: &ProcFs, scan: &Scan, artifact: &str, emit: &mut dyn Emit) {
    let spaces = namespaces(proc, scan);
    let header = String::from("NETNS\tPROTO\tLOCAL\tREMOTE\tSTATE\tUID\tINODE\tPROCESSES\n");
    let mut t = Tables {
        scan,
        by_pid: scan.procs.iter().map(|p| (p.pid, p)).collect(),
        sockets: Vec::new(),
        listening: header.clone(),
        established: header,
        counts: BTreeMap::new(),
        routes: Vec::new(),
        arp: Vec::new(),
        interfaces: Vec::new(),
    };
    let mut denials = super::Denials::default();
    for (label, dir) in &spaces {
        let raw = read_raw(proc, dir, &mut denials);
        t.inet(label, &raw);
        t.unix(label, &raw);
        t.routing(label, &raw);
        t.interfaces(label, &raw);
        for (name, content) in &raw {
            emit.output(
                artifact,
                &format!("{}{label}/{name}", live::NET_PROC),
                content,
            );
        }
    }
    let summary = format!(
        "sockets in {} network namespace(s): {}",
        spaces.len(),
        t.counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    t.write(artifact, emit);
    denials.flush(emit, artifact);
    emit.log(Level::Info, LogEvent::Live, artifact, None, summary);
}

/// Network namespaces, by label (their inode), each with the procfs directory that
/// shows it: our own (`self/net`), then one process per other namespace of the scan.
fn namespaces(proc: &ProcFs, scan: &Scan) -> BTreeMap<String, String> {
    let own_ns = proc
        .process(std::process::id() as i32)
        .ok()
        .and_then(|d| d.namespaces().ok())
        .and_then(|n| n.into_iter().find(|(k, _)| k == "net").map(|(_, v)| v));
    let mut spaces: BTreeMap<String, String> = BTreeMap::new();
    spaces.insert(
        own_ns
            .map(|n| n.to_string())
            .unwrap_or_else(|| "self".into()),
        "self/net".into(),
    );
    let mut pid_per_ns: BTreeMap<u64, i32> = BTreeMap::new();
    for p in &scan.procs {
        if let Some(ns) = p.netns {
            if Some(ns) != own_ns {
                pid_per_ns.entry(ns).or_insert(p.pid);
            }
        }
    }
    for (ns, pid) in &pid_per_ns {
        spaces.insert(ns.to_string(), format!("{pid}/net"));
    }
    spaces
}

/// The kernel's network tables of one namespace, as read.
fn read_raw(
    proc: &ProcFs,
    dir: &str,
    denials: &mut super::Denials,
) -> BTreeMap<&'static str, Vec<u8>> {
    let mut raw = BTreeMap::new();
    for name in RAW_FILES {
        let rel = format!("{dir}/{name}");
        match proc.read(&rel, LIMIT) {
            Ok(v) => {
                raw.insert(*name, v);
            }
            Err(e) => {
                if !crate::source::procfs::vanished(&e) {
                    denials.note("net table", &format!("{}/{rel}", proc.base().display()), &e);
                }
            }
        }
    }
    raw
}

impl Tables<'_> {
    fn socket(&mut self, s: &Socket) {
        super::push_line(&mut self.sockets, s);
    }

    /// TCP and UDP sockets, v4 and v6, with their processes.
    fn inet(&mut self, label: &str, raw: &BTreeMap<&'static str, Vec<u8>>) {
        for (proto, file) in INET_TABLES {
            let Some(content) = raw.get(file) else {
                continue;
            };
            for s in parse::inet_table(content) {
                let o = owners(self.scan, &self.by_pid, s.inode);
                let text = owner_text(&o);
                let v = inet_record(proto, label, &s, o);
                *self.counts.entry(proto).or_default() += 1;
                let row = format!(
                    "{label}\t{proto}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    fmt_addr(&s.local, s.local_port),
                    fmt_addr(&s.remote, s.remote_port),
                    v.state,
                    s.uid,
                    s.inode,
                    text
                );
                let is_listen = (proto.starts_with("tcp") && s.state == 10)
                    || (!proto.starts_with("tcp") && s.state == 7 && s.remote_port == 0);
                if is_listen {
                    self.listening.push_str(&row);
                } else if s.state == 1 {
                    self.established.push_str(&row);
                }
                self.socket(&v);
            }
        }
    }

    /// Unix sockets, with their processes.
    fn unix(&mut self, label: &str, raw: &BTreeMap<&'static str, Vec<u8>>) {
        let Some(content) = raw.get("unix") else {
            return;
        };
        for u in parse::unix_table(content) {
            let o = owners(self.scan, &self.by_pid, u.inode);
            let kind = match u.kind {
                1 => "stream",
                2 => "dgram",
                5 => "seqpacket",
                _ => "other",
            };
            // __SO_ACCEPTCON marks a listening stream socket.
            let listen = u.flags & 0x10000 != 0;
            let state = if listen {
                "LISTEN"
            } else {
                match u.state {
                    1 => "UNCONNECTED",
                    2 => "CONNECTING",
                    3 => "CONNECTED",
                    4 => "DISCONNECTING",
                    _ => "UNKNOWN",
                }
            };
            *self.counts.entry("unix").or_default() += 1;
            let path = u.path.as_deref().map(escape);
            if listen {
                self.listening.push_str(&format!(
                    "{label}\tunix\t{}\t-\tLISTEN\t-\t{}\t{}\n",
                    path.clone().unwrap_or_default(),
                    u.inode,
                    owner_text(&o)
                ));
            }
            let v = Socket {
                netns: label.to_owned(),
                proto: "unix".into(),
                state: state.into(),
                inode: u.inode,
                kind: Some(kind.into()),
                path,
                ref_count: Some(u.ref_count),
                processes: o,
                ..Socket::default()
            };
            self.socket(&v);
        }
    }

    /// Routes and the ARP cache.
    fn routing(&mut self, label: &str, raw: &BTreeMap<&'static str, Vec<u8>>) {
        if let Some(c) = raw.get("route") {
            for r in parse::routes(c) {
                self.routes.push(Route {
                    netns: label.to_owned(),
                    interface: r.iface,
                    destination: r.destination.to_string(),
                    gateway: r.gateway.to_string(),
                    mask: r.mask.to_string(),
                    flags: r.flags,
                    metric: r.metric,
                });
            }
        }
        if let Some(c) = raw.get("arp") {
            for f in parse::table(c) {
                if f.len() >= 6 {
                    let f: Vec<String> = f.iter().take(6).map(|x| x.to_string()).collect();
                    self.arp.push(ArpEntry {
                        netns: label.to_owned(),
                        ip: f[0].clone(),
                        hw_type: f[1].clone(),
                        flags: f[2].clone(),
                        mac: f[3].clone(),
                        mask: f[4].clone(),
                        interface: f[5].clone(),
                    });
                }
            }
        }
    }

    /// Interfaces with their counters and addresses.
    fn interfaces(&mut self, label: &str, raw: &BTreeMap<&'static str, Vec<u8>>) {
        let v6 = raw
            .get("if_inet6")
            .map(|c| parse::if_inet6(c))
            .unwrap_or_default();
        let v4 = raw
            .get("fib_trie")
            .map(|c| parse::fib_trie_local(c))
            .unwrap_or_default();
        let devs: Vec<Interface> = raw
            .get("dev")
            .map(|c| parse::net_dev(c))
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                let addrs: Vec<String> = v6
                    .iter()
                    .filter(|(n, _, _)| *n == d.name)
                    .map(|(_, a, p)| format!("{a}/{p}"))
                    .collect();
                Interface {
                    name: d.name,
                    ipv6: addrs,
                    rx_bytes: d.rx_bytes,
                    rx_packets: d.rx_packets,
                    tx_bytes: d.tx_bytes,
                    tx_packets: d.tx_packets,
                }
            })
            .collect();
        self.interfaces.push(Interfaces {
            netns: label.to_owned(),
            interfaces: devs,
            ipv4_local_addresses: v4.iter().map(|a| a.to_string()).collect(),
        });
    }

    fn write(self, artifact: &str, emit: &mut dyn Emit) {
        emit.output(artifact, live::SOCKETS, &self.sockets);
        emit.output(artifact, live::LISTENING, self.listening.as_bytes());
        emit.output(artifact, live::ESTABLISHED, self.established.as_bytes());
        emit.output(artifact, live::INTERFACES, &super::pretty(&self.interfaces));
        emit.output(artifact, live::ROUTES, &super::pretty(&self.routes));
        emit.output(artifact, live::ARP, &super::pretty(&self.arp));
    }
}

fn fmt_addr(ip: &std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
    }
}

/// The `network` native collector.
pub fn native(r: &mut super::Run<'_>) {
    let (artifact, proc) = (r.artifact, r.proc);
    if let (Some(proc), Some((scan, emit))) = (proc, r.scan()) {
        run(proc, scan, artifact, emit);
    }
}
