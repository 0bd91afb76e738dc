//! A registry, through the OCI distribution protocol (oci-client): pushing the
//! collector image under a name, and asking whether a registry holds an image (before
//! an ephemeral container that could not start would stay in a pod's spec for good).
//!
//! Credentials are the responder's own, as `docker login` keeps them
//! (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, credential helpers
//! included); none means anonymous. TLS is verified (rustls, ring); plain HTTP only
//! for a registry on this machine (`localhost`, `127.0.0.0/8`, `::1`), as Docker itself
//! allows.

use super::Image;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0:?} is not an image name (REGISTRY/NAME:TAG): {1}")]
    Name(String, String),
    #[error("reading your registry credentials for {registry}: {why}")]
    Credentials { registry: String, why: String },
    #[error("{step} at {registry}: {why}")]
    Registry {
        step: String,
        registry: String,
        why: String,
    },
}

/// An image name, parsed as Docker parses it (no registry: Docker Hub).
pub fn parse(name: &str) -> Result<Reference, RegistryError> {
    Reference::try_from(name).map_err(|e| RegistryError::Name(name.to_owned(), e.to_string()))
}

/// Whether `registry` (HOST[:PORT]) is this machine.
fn is_local(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn client(reference: &Reference) -> Client {
    // rustls' provider for reqwest: ring, as everywhere in cairn. Installing it twice
    // is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = reference.resolve_registry().to_owned();
    let protocol = if is_local(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(60)),
        ..ClientConfig::default()
    })
}

/// The responder's credentials for `reference`'s registry, as Docker keeps them.
pub fn credentials(reference: &Reference) -> Result<RegistryAuth, RegistryError> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    let registry = reference.resolve_registry();
    // Docker keys Docker Hub's credentials by its v1 URL.
    let key = if registry == "index.docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    match docker_credential::get_credential(key) {
        Ok(DockerCredential::UsernamePassword(u, p)) => Ok(RegistryAuth::Basic(u, p)),
        Ok(DockerCredential::IdentityToken(_)) => Err(RegistryError::Credentials {
            registry: registry.to_owned(),
            why: "Docker holds an identity token for it, which cairn cannot use: docker login with a user name and password or access token".into(),
        }),
        Err(E::NoCredentialConfigured | E::ConfigNotFound) => Ok(RegistryAuth::Anonymous),
        Err(e) => Err(RegistryError::Credentials {
            registry: registry.to_owned(),
            why: format!("{e:?}"),
        }),
    }
}

/// Pushes `image` as `reference` (NAME:TAG): every blob, each architecture's
/// manifest by digest, then the index under the tag. Returns the index's digest.
pub async fn push(image: &Image, reference: &Reference) -> Result<String, RegistryError> {
    let auth = credentials(reference)?;
    let c = client(reference);
    let fail = |step: &str| {
        let step = step.to_owned();
        let registry = reference.resolve_registry().to_owned();
        move |e: OciDistributionError| RegistryError::Registry {
            step,
            registry,
            why: said(&e),
        }
    };
    c.auth(reference, &auth, RegistryOperation::Push)
        .await
        .map_err(fail("signing in"))?;
    for p in &image.platforms {
        for blob in [&p.layer, &p.config] {
            c.push_blob(reference, blob.bytes.clone(), &blob.digest)
                .await
                .map_err(fail(&format!("uploading the {} image", p.arch.k8s())))?;
        }
        let by_digest = Reference::with_digest(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            p.manifest.digest.clone(),
        );
        c.push_manifest_raw(
            &by_digest,
            p.manifest.bytes.clone(),
            header(p.manifest.media_type),
        )
        .await
        .map_err(fail(&format!("storing the {} manifest", p.arch.k8s())))?;
    }
    c.push_manifest_raw(
        reference,
        image.index.bytes.clone(),
        header(image.index.media_type),
    )
    .await
    .map_err(fail("storing the image index"))?;
    Ok(image.index.digest.clone())
}

fn header(media_type: &'static str) -> http::HeaderValue {
    http::HeaderValue::from_static(media_type)
}

/// Whether the registry holds `reference`: `Some(true)` or `Some(false)` when it
/// answered, `None` when it could not be asked (unreachable from here, refused our
/// credentials: the cluster's nodes may well reach it with theirs).
pub async fn holds(reference: &Reference) -> Option<bool> {
    let auth = credentials(reference).ok()?;
    let c = client(reference);
    let ask = c.fetch_manifest_digest(reference, &auth);
    match tokio::time::timeout(Duration::from_secs(8), ask).await {
        Ok(Ok(_)) => Some(true),
        Ok(Err(e)) if absent(&e) => Some(false),
        Ok(Err(e)) => {
            tracing::debug!(
                "asking {} for {reference}: {e}",
                reference.resolve_registry()
            );
            None
        }
        Err(_) => None,
    }
}

fn absent(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|x| {
            matches!(
                x.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
            )
        }),
        OciDistributionError::ServerError { code: 404, .. } => true,
        _ => false,
    }
}

/// The registry's words, without the URL oci-client puts first.
fn said(e: &OciDistributionError) -> String {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .map(|x| x.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        OciDistributionError::UnauthorizedError { .. } => {
            "not authorized (docker login to it first: cairn uses Docker's credentials)".into()
        }
        OciDistributionError::ServerError { code: 401, .. } => {
            "not authorized (docker login to it first: cairn uses Docker's credentials)".into()
        }
        OciDistributionError::ServerError { code, message, .. } => {
            format!("HTTP {code}: {}", message.trim())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_registries_go_without_tls() {
        for local in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_local(local), "{local}");
        }
        for remote in [
            "registry.example:5000",
            "10.0.0.1:5000",
            "localhost.evil.example",
        ] {
            assert!(!is_local(remote), "{remote}");
        }
    }

    #[test]
    fn names_are_docker_hubs_unless_they_name_a_registry() {
        let r = parse("cairn-collector:0.1.0").unwrap();
        assert_eq!(r.whole(), "docker.io/library/cairn-collector:0.1.0");
        assert_eq!(r.resolve_registry(), "index.docker.io");
        let r = parse("127.0.0.1:5000/ir/cairn-collector:1").unwrap();
        assert_eq!(r.resolve_registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "ir/cairn-collector");
        for bad in ["", "a b:1", "ir/collector:tag with space", "x@sha256:short"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
