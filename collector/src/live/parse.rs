//! Byte-level parsers for the kernel's text files under /proc, and for utmp records.
//!
//! Written by hand rather than with `procfs-core` because that crate reads these files
//! as UTF-8 lines: a single non-UTF-8 byte (in a process name, a unix socket path or a
//! mount point, all of which an attacker inside the container controls) makes it reject
//! the whole file, and evidence must be kept exactly. Every parser here works on bytes,
//! skips a malformed line instead of failing, and never panics on any input.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Fields of `/proc/PID/stat` that live response uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    pub pid: i32,
    /// The command name between the parentheses, exact bytes (may hold spaces and `)`).
    pub comm: Vec<u8>,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub utime: u64,
    pub stime: u64,
    pub num_threads: i64,
    /// Clock ticks after boot when the process started.
    pub starttime: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

/// Parses `/proc/PID/stat`. The name is found between the first `(` and the *last*
/// `)`, since a process may name itself `a) b (c`.
pub fn stat(content: &[u8]) -> Option<Stat> {
    let open = content.iter().position(|&b| b == b'(')?;
    let close = content.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = std::str::from_utf8(&content[..open])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = content[open + 1..close].to_vec();
    let rest = std::str::from_utf8(content.get(close + 1..)?).ok()?;
    // Fields after the name, numbered from 3 as in proc(5); f[0] is field 3 (state).
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let num = |i: usize| -> Option<i64> { f.get(i)?.parse().ok() };
    let unum = |i: usize| -> Option<u64> { f.get(i)?.parse().ok() };
    Some(Stat {
        pid,
        comm,
        state: f.first()?.chars().next()?,
        ppid: num(1)? as i32,
        pgrp: num(2)? as i32,
        session: num(3)? as i32,
        tty_nr: num(4)? as i32,
        utime: unum(11)?,
        stime: unum(12)?,
        num_threads: num(17)?,
        starttime: unum(19)?,
        vsize: unum(20)?,
        rss_pages: unum(21)?,
    })
}

/// `/proc/PID/status` as key → value (both trimmed). Values are kept as bytes are
/// mostly ASCII numbers; `Name` may not be UTF-8 and is converted lossily here (the
/// exact name comes from `stat`).
pub fn status(content: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in content.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_owned();
        if !key.is_empty() {
            out.insert(key, value);
        }
    }
    out
}

/// The numbers of a status line such as `Uid:\t0\t0\t0\t0`.
pub fn numbers(value: &str) -> Vec<u64> {
    value
        .split_ascii_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// NUL-separated strings (`cmdline`, `environ`), exact bytes. A trailing NUL does not
/// make an empty last item; an empty input gives no items.
pub fn nul_list(content: &[u8]) -> Vec<&[u8]> {
    let body = content.strip_suffix(b"\0").unwrap_or(content);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == 0).collect()
}

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

/// The first `n` space-separated fields of a line, and the rest after them (its
/// leading spaces kept). Lines whose last column is a path that may hold spaces
/// (/proc/net/unix, /proc/PID/maps) are split this way.
pub fn leading_fields(line: &[u8], n: usize) -> (Vec<&[u8]>, &[u8]) {
    let mut fields = Vec::with_capacity(n);
    let mut rest = line;
    for _ in 0..n {
        let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
        rest = &rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        fields.push(&rest[..end]);
        rest = &rest[end..];
    }
    (fields, rest)
}

/// One line of /proc/PID/maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: String,
    pub end: String,
    pub perms: String,
    pub offset: String,
    pub dev: String,
    pub inode: u64,
    /// The mapped file or pseudo-name (`[heap]`), exact bytes; `None` for anonymous.
    pub path: Option<Vec<u8>>,
}

/// Parses one maps line; the path is everything after the fifth field.
pub fn maps_line(line: &[u8]) -> Mapping {
    let (f, rest) = leading_fields(line, 5);
    let s = |x: &[u8]| String::from_utf8_lossy(x).into_owned();
    let range = s(f[0]);
    let (start, end) = range.split_once('-').unwrap_or((&range, ""));
    let path = {
        let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
        &rest[start..]
    };
    Mapping {
        start: start.to_owned(),
        end: end.to_owned(),
        perms: s(f[1]),
        offset: s(f[2]),
        dev: s(f[3]),
        inode: s(f[4]).parse().unwrap_or(0),
        path: (!path.is_empty()).then(|| path.to_vec()),
    }
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

pub use crate::source::mounts::{mountinfo, unescape_octal, MountInfo};

/// The value of `key=` in a comma-separated option list (overlay's `upperdir=` etc.).
/// Overlay escapes commas inside paths as `\,`, which is honoured.
pub fn option_value(options: &[u8], key: &str) -> Option<Vec<u8>> {
    let mut items = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            b'\\' if options.get(i + 1) == Some(&b',') => {
                cur.push(b',');
                i += 2;
                continue;
            }
            b',' => items.push(std::mem::take(&mut cur)),
            b => cur.push(b),
        }
        i += 1;
    }
    items.push(cur);
    let prefix = format!("{key}=");
    items
        .into_iter()
        .find(|it| it.starts_with(prefix.as_bytes()))
        .map(|it| it[prefix.len()..].to_vec())
}

/// One line of /proc/modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    pub size: u64,
    pub refcount: i64,
    pub used_by: Vec<String>,
    pub state: String,
}

pub fn modules(content: &[u8]) -> Vec<Module> {
    String::from_utf8_lossy(content)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            Some(Module {
                name: f.first()?.to_string(),
                size: f.get(1)?.parse().ok()?,
                refcount: f.get(2)?.parse().unwrap_or(-1),
                used_by: f
                    .get(3)
                    .map(|u| {
                        u.split(',')
                            .filter(|x| !x.is_empty() && *x != "-")
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                state: f.get(4).unwrap_or(&"").to_string(),
            })
        })
        .collect()
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

/// Size of one utmp/wtmp/btmp record on Linux (glibc and musl, 64-bit and 32-bit).
pub const UTMP_SIZE: usize = 384;

/// One decoded utmp record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utmp {
    pub kind: i16,
    pub pid: i32,
    pub line: Vec<u8>,
    pub id: Vec<u8>,
    pub user: Vec<u8>,
    pub host: Vec<u8>,
    pub session: i32,
    pub time: i64,
    pub micros: i32,
    pub addr: Option<std::net::IpAddr>,
}

fn cstr_field(b: &[u8]) -> Vec<u8> {
    b.split(|&c| c == 0).next().unwrap_or(b).to_vec()
}

fn le_i32(b: &[u8], at: usize) -> i32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(i32::from_le_bytes)
        .unwrap_or(0)
}

/// Name of a utmp `ut_type`.
pub fn utmp_kind(kind: i16) -> &'static str {
    match kind {
        0 => "EMPTY",
        1 => "RUN_LVL",
        2 => "BOOT_TIME",
        3 => "NEW_TIME",
        4 => "OLD_TIME",
        5 => "INIT_PROCESS",
        6 => "LOGIN_PROCESS",
        7 => "USER_PROCESS",
        8 => "DEAD_PROCESS",
        9 => "ACCOUNTING",
        _ => "UNKNOWN",
    }
}

/// Decodes one 384-byte utmp record (x86_64/aarch64 layout: `ut_tv` as two int32).
pub fn utmp(rec: &[u8]) -> Option<Utmp> {
    if rec.len() < UTMP_SIZE {
        return None;
    }
    let kind = i16::from_le_bytes([rec[0], rec[1]]);
    let a = [
        le_i32(rec, 348),
        le_i32(rec, 352),
        le_i32(rec, 356),
        le_i32(rec, 360),
    ];
    let addr = if a == [0, 0, 0, 0] {
        None
    } else if a[1..] == [0, 0, 0] {
        Some(std::net::IpAddr::V4(Ipv4Addr::from(a[0].to_le_bytes())))
    } else {
        let mut b = [0u8; 16];
        for (i, w) in a.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        Some(std::net::IpAddr::V6(Ipv6Addr::from(b)))
    };
    Some(Utmp {
        kind,
        pid: le_i32(rec, 4),
        line: cstr_field(&rec[8..40]),
        id: cstr_field(&rec[40..44]),
        user: cstr_field(&rec[44..76]),
        host: cstr_field(&rec[76..332]),
        session: le_i32(rec, 336),
        time: i64::from(le_i32(rec, 340)),
        micros: le_i32(rec, 344),
        addr,
    })
}

/// Size of one lastlog record (`ll_time` int32, `ll_line[32]`, `ll_host[256]`).
pub const LASTLOG_SIZE: usize = 292;

/// Decodes a lastlog record: (time, line, host), or `None` for a never-logged-in slot.
pub fn lastlog(rec: &[u8]) -> Option<(i64, Vec<u8>, Vec<u8>)> {
    if rec.len() < LASTLOG_SIZE {
        return None;
    }
    let time = i64::from(le_i32(rec, 0));
    if time == 0 {
        return None;
    }
    Some((time, cstr_field(&rec[4..36]), cstr_field(&rec[36..292])))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on a Debian 12 host (kernel 6.x), then edited only where marked.
    const STAT: &[u8] = b"4242 (a) b (c) S 1 4242 4242 0 -1 4194560 150 0 0 0 3 1 0 0 20 0 1 0 123456 8740864 512 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn stat_with_parentheses_and_spaces_in_the_name() {
        let s = stat(STAT).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, b"a) b (c");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.starttime, 123456);
        assert_eq!(s.vsize, 8740864);
        assert_eq!(s.rss_pages, 512);
        assert_eq!(s.utime, 3);
    }

    #[test]
    fn stat_with_non_utf8_name_and_garbage() {
        let mut raw =
            b"7 (\xff\xfe x) R 0 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 100 2 0\n".to_vec();
        let s = stat(&raw).unwrap();
        assert_eq!(s.comm, b"\xff\xfe x");
        raw.truncate(10);
        assert!(stat(&raw).is_none());
        assert!(stat(b"").is_none());
        assert!(stat(b")(").is_none());
        assert!(stat(b"(x)").is_none());
    }

    #[test]
    fn status_fields() {
        let text = b"Name:\tnginx: worker\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t31\nPid:\t31\nPPid:\t1\nTracerPid:\t0\nUid:\t101\t101\t101\t101\nGid:\t101\t101\t101\t101\nThreads:\t1\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n";
        let s = status(text);
        assert_eq!(s["Name"], "nginx: worker");
        assert_eq!(numbers(&s["Uid"]), vec![101, 101, 101, 101]);
        assert_eq!(s["CapEff"], "00000000a80425fb");
        assert_eq!(s["Seccomp"], "2");
    }

    #[test]
    fn nul_lists() {
        assert_eq!(nul_list(b"sleep\x00100\x00"), vec![&b"sleep"[..], b"100"]);
        assert_eq!(nul_list(b"a\x00\x00b\x00"), vec![&b"a"[..], b"", b"b"]);
        assert!(nul_list(b"").is_empty());
        // A process that rewrote its argv without NULs.
        assert_eq!(
            nul_list(b"nginx: master process"),
            vec![&b"nginx: master process"[..]]
        );
    }

    // Captured from /proc/net/tcp and tcp6 on x86_64 (little-endian).
    const TCP: &[u8] = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:A2C4 0100007F:1F90 01 00000000:00000002 00:00000000 00000000  1000        0 51299 1 0000000000000000 20 4 30 10 -1\n";
    const TCP6: &[u8] = b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20871 1 0000000000000000 100 0 0 10 0\n   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D3A2 01 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 20 4 0 10 -1\n   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   33        0 78 1 0000000000000000 100 0 0 10 0\n";

    #[test]
    #[cfg(target_endian = "little")]
    fn tcp_tables_ipv4_and_ipv6() {
        let t = inet_table(TCP);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].local.to_string(), "0.0.0.0");
        assert_eq!(t[0].local_port, 8080);
        assert_eq!(tcp_state(t[0].state), "LISTEN");
        assert_eq!(t[0].inode, 51234);
        assert_eq!(t[1].local.to_string(), "127.0.0.1");
        assert_eq!(t[1].remote_port, 8080);
        assert_eq!(t[1].uid, 1000);
        assert_eq!(t[1].rx_queue, 2);
        assert_eq!(tcp_state(t[1].state), "ESTABLISHED");
        let t6 = inet_table(TCP6);
        assert_eq!(t6.len(), 3);
        assert_eq!(t6[0].local.to_string(), "::");
        assert_eq!(t6[0].local_port, 22);
        assert_eq!(t6[1].local.to_string(), "::ffff:127.0.0.1");
        assert_eq!(t6[1].remote_port, 0xD3A2);
        assert_eq!(t6[2].local.to_string(), "2001:db8::1");
        assert_eq!(t6[2].uid, 33);
    }

    #[test]
    fn malformed_inet_rows_are_skipped() {
        let bad = b"header\n 0: zz:1 00:0 0A 0:0 0:0 0 0 0 1\n 1: 0100007F:0050\n\n";
        assert!(inet_table(bad).is_empty());
        assert!(inet_table(b"").is_empty());
    }

    const UNIX: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/my app.sock\n0000000000000000: 00000003 00000000 00000000 0001 03 23457\n0000000000000000: 00000002 00000000 00010000 0001 01 23458 @/tmp/.X11-unix/X0\n0000000000000000: 00000002 00000000 00010000 0005 01 23459 /tmp/\xff.sock\n";

    #[test]
    fn maps_lines_keep_paths_with_spaces() {
        let m =
            maps_line(b"7f00a000-7f00b000 r-xp 00001000 08:01 1234    /tmp/my lib.so (deleted)");
        assert_eq!((m.start.as_str(), m.end.as_str()), ("7f00a000", "7f00b000"));
        assert_eq!(m.perms, "r-xp");
        assert_eq!(m.inode, 1234);
        assert_eq!(m.path.as_deref(), Some(&b"/tmp/my lib.so (deleted)"[..]));
        assert_eq!(maps_line(b"55d0-55d1 rw-p 00000000 00:00 0 ").path, None);
        assert_eq!(maps_line(b"").inode, 0);
    }

    #[test]
    fn unix_table_keeps_paths_exactly() {
        let u = unix_table(UNIX);
        assert_eq!(u.len(), 4);
        assert_eq!(u[0].path.as_deref(), Some(&b"/run/my app.sock"[..]));
        assert_eq!(u[0].inode, 23456);
        assert_eq!(u[0].flags, 0x10000);
        assert_eq!(u[1].path, None);
        assert_eq!(u[1].state, 3);
        assert_eq!(u[2].path.as_deref(), Some(&b"@/tmp/.X11-unix/X0"[..]));
        assert_eq!(u[3].path.as_deref(), Some(&b"/tmp/\xff.sock"[..]));
        assert_eq!(u[3].kind, 5);
    }

    // From a Docker 20.10 container on containerd 1.6 (overlay2), shortened.
    const MOUNTINFO: &[u8] = b"600 500 0:52 / / rw,relatime master:300 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,upperdir=/var/lib/docker/overlay2/0123abcd/diff,workdir=/var/lib/docker/overlay2/0123abcd/work\n601 600 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n610 600 8:1 /var/lib/docker/containers/1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n611 600 8:1 /data/my\\040dir /mnt/with\\040space rw - ext4 /dev/sda1 rw\nbroken line\n";

    #[test]
    fn mountinfo_overlay_and_escapes() {
        let m = mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].mount_point, b"/");
        assert_eq!(m[0].fstype, "overlay");
        assert_eq!(m[0].optional, vec!["master:300"]);
        assert_eq!(
            option_value(&m[0].super_options, "upperdir").unwrap(),
            b"/var/lib/docker/overlay2/0123abcd/diff"
        );
        assert_eq!(
            option_value(&m[0].super_options, "lowerdir").unwrap(),
            b"/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF"
        );
        assert_eq!(m[1].fstype, "proc");
        assert_eq!(m[3].mount_point, b"/mnt/with space");
        assert_eq!(m[3].root, b"/data/my dir");
        assert_eq!((m[2].major, m[2].minor), (8, 1));
        assert_eq!(option_value(b"a=1,b=x\\,y,c", "b").unwrap(), b"x,y");
        assert_eq!(option_value(b"a=1", "z"), None);
        assert_eq!(unescape_octal(b"a\\134b\\0"), b"a\\b\\0");
    }

    #[test]
    fn modules_routes_dev() {
        let m = modules(b"overlay 151552 3 - Live 0x0000000000000000\nnf_nat 57344 2 xt_MASQUERADE,nft_chain_nat, Live 0x0\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].used_by, vec!["xt_MASQUERADE", "nft_chain_nat"]);
        assert_eq!(m[0].state, "Live");
        let r = routes(b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n");
        #[cfg(target_endian = "little")]
        {
            assert_eq!(r[0].gateway.to_string(), "172.17.0.1");
            assert_eq!(r[1].destination.to_string(), "172.17.0.0");
            assert_eq!(r[1].mask.to_string(), "255.255.0.0");
        }
        let d = net_dev(b"Inter-|   Receive    |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n  eth0: 5000 40 0 0 0 0 0 0 700 9 0 0 0 0 0 0\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].name, "eth0");
        assert_eq!(d[1].tx_bytes, 700);
        let v6 = if_inet6(b"fe800000000000000042acfffe110002 02 40 20 80     eth0\n");
        assert_eq!(v6[0].0, "eth0");
        assert_eq!(v6[0].1.to_string(), "fe80::42:acff:fe11:2");
        assert_eq!(v6[0].2, 64);
        let trie = b"Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 172.17.0.0/16 2 0 2\n        |-- 172.17.0.2\n           /32 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\nLocal:\n        |-- 172.17.0.2\n           /32 host LOCAL\n";
        let local: Vec<String> = fib_trie_local(trie).iter().map(|a| a.to_string()).collect();
        assert_eq!(local, vec!["172.17.0.2", "127.0.0.1"]);
    }

    #[test]
    fn utmp_and_lastlog_records() {
        let mut rec = vec![0u8; UTMP_SIZE];
        rec[0] = 7;
        rec[4..8].copy_from_slice(&1234i32.to_le_bytes());
        rec[8..13].copy_from_slice(b"pts/0");
        rec[44..48].copy_from_slice(b"root");
        rec[76..86].copy_from_slice(b"10.0.0.250");
        rec[340..344].copy_from_slice(&1_700_000_000i32.to_le_bytes());
        rec[348..352].copy_from_slice(&[10, 0, 0, 250]);
        let u = utmp(&rec).unwrap();
        assert_eq!(utmp_kind(u.kind), "USER_PROCESS");
        assert_eq!(u.pid, 1234);
        assert_eq!(u.line, b"pts/0");
        assert_eq!(u.user, b"root");
        assert_eq!(u.host, b"10.0.0.250");
        assert_eq!(u.time, 1_700_000_000);
        assert_eq!(u.addr.unwrap().to_string(), "10.0.0.250");
        assert!(utmp(&rec[..100]).is_none());
        let mut ll = vec![0u8; LASTLOG_SIZE];
        assert!(lastlog(&ll).is_none());
        ll[0..4].copy_from_slice(&1_600_000_000i32.to_le_bytes());
        ll[4..8].copy_from_slice(b"tty1");
        let (t, line, host) = lastlog(&ll).unwrap();
        assert_eq!(
            (t, line.as_slice(), host.as_slice()),
            (1_600_000_000, &b"tty1"[..], &b""[..])
        );
    }
}
