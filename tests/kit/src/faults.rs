//! A small fault-injecting HTTP proxy for upload tests. It relays each request to the
//! upstream server with `Connection: close` (one request per connection, so requests
//! are easy to tell apart), except the requests the script names: those get their
//! connection dropped mid-body, a 500/503 answer, a 403, or no answer at all (a stall
//! past the client's read timeout). Presigned URLs are signed for the proxy's address,
//! and the Host header is relayed unchanged, so signatures still verify upstream.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Relay the head and this many body bytes, then drop both connections.
    DropAfter(usize),
    /// Answer with this status (500, 503, 403) without relaying.
    Status(u16),
    /// Read the request, answer nothing for this long, then close.
    Stall(Duration),
}

/// Which requests get a fault: the n-th (from 1) request whose method and query match.
pub struct Rule {
    pub method: &'static str,
    pub query_has: &'static str,
    pub nth: usize,
    pub fault: Fault,
}

pub struct Proxy {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<String>>>,
}

pub fn read_head(s: &mut impl Read) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return Some((buf, rest));
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

pub fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

fn drain_body(s: &mut TcpStream, mut have: usize, len: usize) {
    let mut chunk = vec![0u8; 1 << 16];
    while have < len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
    }
}

/// The rules, how often each has matched, and what the proxy saw.
struct Shared {
    rules: Vec<Rule>,
    counts: Mutex<std::collections::HashMap<usize, usize>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub fn start(upstream: u16, rules: Vec<Rule>) -> Proxy {
        let l = {
            let _guard = super::stores::PORTS
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            TcpListener::bind("127.0.0.1:0").unwrap()
        };
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            rules,
            counts: Mutex::new(Default::default()),
            seen: seen.clone(),
        });
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(c) = conn else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(c, upstream, &shared));
            }
        });
        Proxy { port, seen }
    }
}

/// The fault of the first rule whose `nth` match this request line is.
fn fault_for(shared: &Shared, line: &str) -> Option<Fault> {
    let mut fault = None;
    let mut counts = shared.counts.lock().unwrap();
    for (i, r) in shared.rules.iter().enumerate() {
        if line.starts_with(r.method) && line.contains(r.query_has) {
            let n = counts.entry(i).or_insert(0);
            *n += 1;
            if *n == r.nth {
                fault = Some(r.fault);
            }
        }
    }
    fault
}

/// One connection: a request answered with its fault, or passed on.
fn serve(mut c: TcpStream, upstream: u16, shared: &Shared) {
    let Some((head, rest)) = read_head(&mut c) else {
        return;
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let line = text.lines().next().unwrap_or("").to_owned();
    let fault = fault_for(shared, &line);
    shared
        .seen
        .lock()
        .unwrap()
        .push(format!("{line} -> {fault:?}"));
    let len = content_length(&text);
    match fault {
        Some(Fault::Status(code)) => {
            drain_body(&mut c, rest.len(), len);
            let body = format!("<?xml version=\"1.0\"?><Error><Code>Injected{code}</Code><Message>fault proxy</Message></Error>");
            let _ = write!(
                c,
                "HTTP/1.1 {code} Injected\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            return;
        }
        Some(Fault::Stall(d)) => {
            drain_body(&mut c, rest.len(), len);
            std::thread::sleep(d);
            return;
        }
        _ => {}
    }
    let limit = match fault {
        Some(Fault::DropAfter(n)) => n,
        _ => usize::MAX,
    };
    pass_on(c, upstream, &text, rest, len, limit);
}

/// Passes the request upstream (its first `limit` body bytes, then the connection
/// drops) and the answer back. One request per connection.
fn pass_on(mut c: TcpStream, upstream: u16, head: &str, rest: Vec<u8>, len: usize, limit: usize) {
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let mut new_head = String::new();
    for l in head.trim_end().lines() {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            new_head.push_str(l);
            new_head.push_str("\r\n");
        }
    }
    new_head.push_str("Connection: close\r\n\r\n");
    if up.write_all(new_head.as_bytes()).is_err() {
        return;
    }
    let mut sent = 0usize;
    let mut pending = rest;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        if !pending.is_empty() {
            let take = pending.len().min(limit - sent);
            if up.write_all(&pending[..take]).is_err() {
                return;
            }
            sent += take;
            if sent >= limit {
                let _ = up.shutdown(Shutdown::Both);
                let _ = c.shutdown(Shutdown::Both);
                return;
            }
        }
        if sent >= len {
            break;
        }
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending = chunk[..n].to_vec(),
        }
    }
    let mut back = up.try_clone().unwrap();
    let _ = std::io::copy(&mut back, &mut c);
    let _ = c.shutdown(Shutdown::Both);
}
