//! Decoders of login records: utmp/wtmp/btmp entries and lastlog.

use std::net::{Ipv4Addr, Ipv6Addr};

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
