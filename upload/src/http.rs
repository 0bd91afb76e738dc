//! One HTTP request to an object store, and the retry policy around it: connect and
//! read timeouts, exponential backoff with full jitter, and errors that say what failed
//! (HTTP status, the service's own error code and message, which part) without ever
//! showing the URL's query. TLS is rustls with the built-in web PKI roots, or the CAs of
//! `--ca-file`; `HTTPS_PROXY`/`NO_PROXY` are honoured (ureq reads them).

use super::destination::redact;
use super::{Events, UploadError};
use cairn_protocol::{Level, LogEvent};
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Timeouts and retries of every request.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// How long a response (or the next read of one) may take.
    pub read_timeout: Duration,
    /// Attempts after the first, per request.
    pub retries: u32,
    /// First backoff; doubles per attempt, capped at 30 s.
    pub backoff: Duration,
    /// PEM file of CAs to trust instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            retries: 6,
            backoff: Duration::from_millis(500),
            ca_file: None,
        }
    }
}

/// A request: what it is for (for errors), method, URL, headers, body.
pub struct Request<'a> {
    pub what: String,
    pub method: &'static str,
    pub url: &'a Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
}

/// A response of any status, with at most 64 KiB of its body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The service's error code and message: S3/GCS/Azure XML `<Code>`/`<Message>`,
    /// Azure's `x-ms-error-code` header, or GCS JSON `error.message`.
    pub fn service_error(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let tag = |t: &str| {
            let open = format!("<{t}>");
            let start = text.find(&open)? + open.len();
            let end = text[start..].find(&format!("</{t}>"))? + start;
            Some(text[start..end].trim().to_owned())
        };
        let code = tag("Code").or_else(|| self.header("x-ms-error-code").map(str::to_owned));
        let msg = tag("Message").or_else(|| {
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        });
        let mut s = match (code, msg) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c,
            (None, Some(m)) => m,
            (None, None) => text.chars().take(200).collect::<String>().trim().to_owned(),
        };
        // Some services echo the request (and its signature) in the message.
        if let Some(i) = s.find("?X-") {
            s.truncate(i);
        }
        s
    }
}

/// Whether a failure is worth another attempt.
fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// The HTTP client of one upload.
pub struct Http {
    agent: ureq::Agent,
    pub cfg: HttpConfig,
    events: Events,
}

impl Http {
    pub fn new(cfg: HttpConfig, events: Events) -> Result<Http, UploadError> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let mut tls = TlsConfig::builder();
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| UploadError::Config(format!("--ca-file {}: {e}", path.display())))?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(UploadError::Config(format!(
                    "--ca-file {}: no PEM certificate in it",
                    path.display()
                )));
            }
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(cfg.connect_timeout))
            .timeout_recv_response(Some(cfg.read_timeout))
            .timeout_recv_body(Some(cfg.read_timeout))
            .timeout_send_body(Some(cfg.read_timeout.max(Duration::from_secs(30)) * 10))
            .user_agent(concat!("cairn-collector/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Http { agent, cfg, events })
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    /// One attempt. Any HTTP status is a response; only transport failures are errors.
    fn once(&self, r: &Request<'_>) -> Result<Response, ureq::Error> {
        let mut b = ureq::http::Request::builder()
            .method(r.method)
            .uri(r.url.as_str());
        for (k, v) in &r.headers {
            b = b.header(*k, v.as_str());
        }
        b = b.header("content-length", r.body.len().to_string());
        if !r.body.is_empty() {
            // A server refusing the request (bad signature, expired URL) answers before
            // the body; without this it closes mid-body and the answer is never read.
            b = b.header("expect", "100-continue");
        }
        let req = b.body(r.body).map_err(ureq::Error::Http)?;
        let resp = self.agent.run(req)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let _ = resp
            .into_body()
            .into_reader()
            .take(64 << 10)
            .read_to_end(&mut body);
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// One attempt, classified: a response with an ok status, or why not and whether
    /// another attempt may help.
    pub fn attempt(
        &self,
        r: &Request<'_>,
        ok: &dyn Fn(u16) -> bool,
    ) -> Result<Response, (String, bool)> {
        match self.once(r) {
            Ok(resp) if ok(resp.status) => Ok(resp),
            Ok(resp) => Err((
                format!("HTTP {} {}", resp.status, resp.service_error()),
                retryable_status(resp.status),
            )),
            Err(e) => {
                let fatal = matches!(
                    e,
                    ureq::Error::Tls(_)
                        | ureq::Error::Rustls(_)
                        | ureq::Error::Pem(_)
                        | ureq::Error::BadUri(_)
                        | ureq::Error::InvalidProxyUrl
                        | ureq::Error::Http(_)
                ) || certificate_refused(&e);
                Err((transport_text(&e), !fatal))
            }
        }
    }

    /// After failed attempt number `attempt`: logs the retry and sleeps the backoff, or
    /// returns the final error when the failure is not retryable or retries are spent.
    pub fn pause(
        &self,
        attempt: u32,
        what: &str,
        url: &Url,
        why: String,
        retry: bool,
    ) -> Result<(), UploadError> {
        if !retry || attempt > self.cfg.retries {
            return Err(UploadError::Request {
                what: what.to_owned(),
                location: redact(url),
                attempts: attempt,
                cause: why,
            });
        }
        let delay = self.backoff(attempt);
        self.events.note(
            Level::Warn,
            LogEvent::UploadRetry,
            format!(
                "{what} to {}: attempt {attempt} failed ({why}); retrying in {:.1}s",
                redact(url),
                delay.as_secs_f64()
            ),
        );
        std::thread::sleep(delay);
        Ok(())
    }

    /// Notes that `what` succeeded after retries.
    pub fn recovered(&self, what: &str, attempt: u32) {
        if attempt > 1 {
            self.events.note(
                Level::Info,
                LogEvent::UploadRetry,
                format!("{what} succeeded on attempt {attempt}"),
            );
        }
    }

    /// Sends with retries until `ok(status)`; a status that is neither ok nor
    /// retryable fails at once, with the service's error.
    pub fn call(&self, r: &Request<'_>, ok: impl Fn(u16) -> bool) -> Result<Response, UploadError> {
        let mut attempt = 0u32;
        let started = std::time::Instant::now();
        loop {
            attempt += 1;
            match self.attempt(r, &ok) {
                Ok(resp) => {
                    tracing::debug!(
                        what = %r.what,
                        status = resp.status,
                        bytes = r.body.len(),
                        attempts = attempt,
                        ms = started.elapsed().as_millis() as u64,
                        "request done"
                    );
                    self.recovered(&r.what, attempt);
                    return Ok(resp);
                }
                Err((why, retry)) => self.pause(attempt, &r.what, r.url, why, retry)?,
            }
        }
    }

    /// Full jitter over an exponential ceiling: a random wait in [ceiling/2, ceiling].
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .cfg
            .backoff
            .saturating_mul(1u32 << (attempt - 1).min(10))
            .min(Duration::from_secs(30));
        // std's RandomState is seeded from the OS: enough randomness for jitter.
        let r = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let frac = 0.5 + (r % 1000) as f64 / 2000.0;
        ceiling.mul_f64(frac)
    }
}

/// Whether the server's certificate was refused: rustls reports it inside an I/O
/// error. Another attempt cannot help; the error says to pass `--ca-file`.
fn certificate_refused(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::InvalidData && io.to_string().contains("certificate")
        }
        _ => false,
    }
}

/// A transport error in words, with no URL in it (ureq's texts can name the URI).
fn transport_text(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) if certificate_refused(e) => format!(
            "TLS: the server's certificate was refused ({io}); for a private CA pass --ca-file"
        ),
        // rustls and the OS describe I/O errors without the URL.
        ureq::Error::Io(io) => format!("connection error: {io}"),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Rustls(t) => format!("TLS: {t}"),
        ureq::Error::Tls(t) => format!("TLS: {t}"),
        ureq::Error::Protocol(p) => format!("HTTP protocol error: {p}"),
        other => {
            let s = other.to_string();
            match s.find("http") {
                Some(i) => s[..i].trim().to_owned(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_read_from_xml_headers_and_json() {
        let r = Response {
            status: 403,
            headers: vec![],
            body: b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>".to_vec(),
        };
        assert_eq!(
            r.service_error(),
            "SignatureDoesNotMatch: The request signature we calculated does not match"
        );
        let r = Response {
            status: 403,
            headers: vec![("x-ms-error-code".into(), "AuthenticationFailed".into())],
            body: vec![],
        };
        assert_eq!(r.service_error(), "AuthenticationFailed");
        let r = Response {
            status: 401,
            headers: vec![],
            body: br#"{"error":{"code":401,"message":"Invalid signature"}}"#.to_vec(),
        };
        assert_eq!(r.service_error(), "Invalid signature");
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let h = Http::new(HttpConfig::default(), Events::default()).unwrap();
        for a in 1..20 {
            let d = h.backoff(a);
            let ceiling = Duration::from_millis(500)
                .saturating_mul(1 << (a - 1).min(10))
                .min(Duration::from_secs(30));
            assert!(d >= ceiling / 2 && d <= ceiling, "{a}: {d:?}");
        }
        assert!(retryable_status(503) && retryable_status(429) && !retryable_status(403));
    }
}
