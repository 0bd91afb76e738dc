//! Parsers of the network tables under `/proc/PID/net`: TCP/UDP (v4 and v6), unix
//! sockets, routes, ARP, interfaces and their addresses.

use super::leading_fields;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One row of /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetSocket {
    pub local: std::net::IpAddr,
    pub local_port: u16,
    pub remote: std::net::IpAddr,
    pub remote_port: u16,
    /// The kernel's state number (TCP states; 7 is "close", used by unconnected UDP).
    pub state: u8,
    pub tx_queue: u64,
    pub rx_queue: u64,
    pub uid: u32,
    pub inode: u64,
}

/// Decodes the kernel's hex `ADDR:PORT`. Addresses are in host byte order, 32 bits at
/// a time, so on little-endian machines each 4-byte group is reversed.
fn inet_addr(text: &str) -> Option<(std::net::IpAddr, u16)> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let raw = hex::decode(addr).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w: [u8; 4] = raw.get(i * 4..i * 4 + 4)?.try_into().ok()?;
        Some(u32::from_ne_bytes(w).to_be_bytes())
    };
    let ip = match raw.len() {
        4 => std::net::IpAddr::V4(Ipv4Addr::from(word(0)?)),
        16 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            std::net::IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Parses a /proc/net inet table (the header line is skipped).
pub fn inet_table(content: &[u8]) -> Vec<InetSocket> {
    let text = String::from_utf8_lossy(content);
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some((local, local_port)), Some((remote, remote_port))) =
            (inet_addr(f[1]), inet_addr(f[2]))
        else {
            continue;
        };
        let Ok(state) = u8::from_str_radix(f[3], 16) else {
            continue;
        };
        let (tx, rx) = f[4].split_once(':').unwrap_or(("0", "0"));
        let (Ok(uid), Ok(inode)) = (f[7].parse(), f[9].parse()) else {
            continue;
        };
        out.push(InetSocket {
            local,
            local_port,
            remote,
            remote_port,
            state,
            tx_queue: u64::from_str_radix(tx, 16).unwrap_or(0),
            rx_queue: u64::from_str_radix(rx, 16).unwrap_or(0),
            uid,
            inode,
        });
    }
    out
}

/// Name of a TCP state number (include/net/tcp_states.h).
pub fn tcp_state(n: u8) -> &'static str {
    match n {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// One row of /proc/net/unix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    pub ref_count: u64,
    pub flags: u64,
    /// 1 stream, 2 datagram, 5 seqpacket.
    pub kind: u16,
    /// 1 unconnected, 2 connecting, 3 connected, 4 disconnecting.
    pub state: u8,
    pub inode: u64,
    /// The bound path, exact bytes (`@` starts an abstract name); `None` when unbound.
    pub path: Option<Vec<u8>>,
}

/// Parses /proc/net/unix. The path is everything after the seventh field, so names
/// with spaces survive.
pub fn unix_table(content: &[u8]) -> Vec<UnixSocket> {
    let mut out = Vec::new();
    for line in content.split(|&b| b == b'\n').skip(1) {
        let (fields, rest) = leading_fields(line, 7);
        let text = |i: usize| std::str::from_utf8(fields[i]).ok();
        let hexnum = |i: usize| text(i).and_then(|t| u64::from_str_radix(t, 16).ok());
        let (Some(ref_count), Some(flags), Some(kind), Some(state), Some(inode)) = (
            hexnum(1),
            hexnum(3),
            hexnum(4),
            hexnum(5),
            text(6).and_then(|t| t.parse().ok()),
        ) else {
            continue;
        };
        let path = rest.strip_prefix(b" ").filter(|p| !p.is_empty());
        out.push(UnixSocket {
            ref_count,
            flags,
            kind: kind as u16,
            state: state as u8,
            inode,
            path: path.map(<[u8]>::to_vec),
        });
    }
    out
}

/// One row of /proc/net/route (IPv4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub iface: String,
    pub destination: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub flags: u32,
    pub metric: u32,
}

fn hex_ipv4(text: &str) -> Option<Ipv4Addr> {
    let v = u32::from_str_radix(text, 16).ok()?;
    Some(Ipv4Addr::from(v.to_ne_bytes()))
}

pub fn routes(content: &[u8]) -> Vec<Route> {
    String::from_utf8_lossy(content)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            Some(Route {
                iface: f.first()?.to_string(),
                destination: hex_ipv4(f.get(1)?)?,
                gateway: hex_ipv4(f.get(2)?)?,
                flags: u32::from_str_radix(f.get(3)?, 16).ok()?,
                metric: f.get(6)?.parse().ok()?,
                mask: hex_ipv4(f.get(7)?)?,
            })
        })
        .collect()
}

/// Whitespace-separated rows after a header line, as field lists (/proc/net/arp and
/// similar tables whose columns are already plain text).
pub fn table(content: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8_lossy(content)
        .lines()
        .skip(1)
        .map(|l| l.split_ascii_whitespace().map(str::to_owned).collect())
        .filter(|f: &Vec<String>| !f.is_empty())
        .collect()
}

/// One interface of /proc/net/dev with its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

pub fn net_dev(content: &[u8]) -> Vec<Interface> {
    String::from_utf8_lossy(content)
        .lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let f: Vec<u64> = rest
                .split_ascii_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(Interface {
                name: name.trim().to_owned(),
                rx_bytes: *f.first()?,
                rx_packets: *f.get(1)?,
                tx_bytes: *f.get(8)?,
                tx_packets: *f.get(9)?,
            })
        })
        .collect()
}

/// IPv6 addresses per interface from /proc/net/if_inet6: (interface, address, prefix).
pub fn if_inet6(content: &[u8]) -> Vec<(String, Ipv6Addr, u8)> {
    String::from_utf8_lossy(content)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            let raw: [u8; 16] = hex::decode(f.first()?).ok()?.try_into().ok()?;
            let prefix = u8::from_str_radix(f.get(2)?, 16).ok()?;
            Some((f.get(5)?.to_string(), Ipv6Addr::from(raw), prefix))
        })
        .collect()
}

/// Local IPv4 addresses from /proc/net/fib_trie (`/32 host LOCAL` leaves), the only
/// place procfs lists them.
pub fn fib_trie_local(content: &[u8]) -> Vec<Ipv4Addr> {
    let text = String::from_utf8_lossy(content);
    let mut out: Vec<Ipv4Addr> = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("|-- ") {
            last = addr.trim().parse().ok();
        } else if t.contains("host LOCAL") {
            if let Some(a) = last {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    out
}
