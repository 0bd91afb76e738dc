//! Byte-level parsers for the kernel's text files under /proc, and for utmp records.
//!
//! Written by hand rather than with `procfs-core` because that crate reads these files
//! as UTF-8 lines: a single non-UTF-8 byte (in a process name, a unix socket path or a
//! mount point, all of which an attacker inside the container controls) makes it reject
//! the whole file, and evidence must be kept exactly. Every parser here works on bytes,
//! skips a malformed line instead of failing, and never panics on any input.
//!
//! [`process`] reads a process's own files, [`net`] the network tables, [`login`]
//! the utmp family; mountinfo is [`crate::source::mounts`]'s.

pub mod login;
pub mod net;
pub mod process;

pub use crate::source::mounts::{mountinfo, unescape_octal, MountInfo};
pub use login::*;
pub use net::*;
pub use process::*;

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
