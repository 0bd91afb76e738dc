//! TLS and proxies for upload tests: a private CA and a TLS front for a local object
//! store (made with the `openssl` command), so `--ca-file` is tested against a real
//! handshake; and an HTTP CONNECT proxy that counts its tunnels, so `HTTPS_PROXY` and
//! `NO_PROXY` are tested by what went through it.

use super::faults::{content_length, read_head};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn listen() -> TcpListener {
    let _guard = super::stores::PORTS
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    TcpListener::bind("127.0.0.1:0").unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA (`ca.pem`) and a server certificate it signed for 127.0.0.1 and localhost.
pub fn make_ca(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=cairn test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    dir.join("ca.pem")
}

/// Terminates TLS on its port and relays each request in plain HTTP to `upstream`, one
/// request per connection, the Host header unchanged (so SigV4 signatures made for the
/// front's address verify upstream).
pub struct TlsFront {
    pub port: u16,
    pub ca: PathBuf,
}

impl TlsFront {
    pub fn start(upstream: u16, dir: &Path) -> TlsFront {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let ca = make_ca(dir);
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("server.pem"))
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let l = listen();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(tcp) = conn else { continue };
                let cfg = cfg.clone();
                std::thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                        return;
                    };
                    relay_one(rustls::StreamOwned::new(conn, tcp), upstream);
                });
            }
        });
        TlsFront { port, ca }
    }
}

/// Reads one request (answering `Expect: 100-continue` itself), sends it upstream with
/// `Connection: close`, and relays the whole answer.
fn relay_one(mut c: impl Read + Write, upstream: u16) {
    let Some((head, mut body)) = read_head(&mut c) else {
        return;
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut new_head = String::new();
    let mut expect = false;
    for l in text.trim_end().lines() {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("expect:") {
            expect = true;
        } else if !lower.starts_with("connection:") {
            new_head.push_str(l);
            new_head.push_str("\r\n");
        }
    }
    new_head.push_str("Connection: close\r\n\r\n");
    if expect && c.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
        return;
    }
    let len = content_length(&text);
    let mut chunk = vec![0u8; 1 << 16];
    while body.len() < len {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    if up.write_all(new_head.as_bytes()).is_err() || up.write_all(&body).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let _ = c.write_all(&answer);
    let _ = c.flush();
}

/// An HTTP proxy that only tunnels (CONNECT host:port), as ureq uses proxies.
pub struct ConnectProxy {
    pub port: u16,
    /// Tunnels opened so far.
    pub tunnels: Arc<AtomicUsize>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let l = listen();
        let port = l.local_addr().unwrap().port();
        let tunnels = Arc::new(AtomicUsize::new(0));
        let count = tunnels.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let count = count.clone();
                std::thread::spawn(move || {
                    let Some((head, rest)) = read_head(&mut c) else {
                        return;
                    };
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let mut words = text.split_whitespace();
                    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                        let _ =
                            c.write_all(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n");
                        return;
                    };
                    let Ok(mut up) = TcpStream::connect(target) else {
                        let _ =
                            c.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
                        return;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    if c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .is_err()
                        || up.write_all(&rest).is_err()
                    {
                        return;
                    }
                    let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
                    let t = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut up2, &mut c2);
                        let _ = c2.shutdown(Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut c, &mut up);
                    let _ = up.shutdown(Shutdown::Write);
                    let _ = t.join();
                });
            }
        });
        ConnectProxy { port, tunnels }
    }
}
