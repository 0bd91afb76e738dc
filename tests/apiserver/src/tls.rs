//! The server's TLS: a CA generated at start (rcgen), a serving certificate it signs for
//! 127.0.0.1, localhost and any `--tls-san`, and the rustls acceptor. HTTP/1.1 only in
//! ALPN: exec needs the HTTP/1.1 Upgrade, and kubectl falls back to it when h2 is not
//! offered.

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

pub struct Tls {
    /// PEM of the CA, for kubeconfig's certificate-authority-data.
    pub ca_pem: String,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

/// `extra_sans`: more DNS names or IP addresses the serving certificate must carry.
pub fn generate(extra_sans: &[String]) -> anyhow::Result<Tls> {
    let ca_key = KeyPair::generate().context("CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).context("CA params")?;
    ca.distinguished_name
        .push(DnType::CommonName, "cairn-test-apiserver CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).context("CA certificate")?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let key = KeyPair::generate().context("server key")?;
    let mut p = CertificateParams::new(vec!["localhost".to_owned()]).context("server params")?;
    p.subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    for san in extra_sans {
        p.subject_alt_names.push(match san.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                san.as_str()
                    .try_into()
                    .with_context(|| format!("--tls-san {san}: not an IP address or DNS name"))?,
            ),
        });
    }
    p.distinguished_name
        .push(DnType::CommonName, "cairn-test-apiserver");
    let cert = p.signed_by(&key, &issuer).context("server certificate")?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        ca_pem: ca_cert.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
    })
}
