//! The case record of one `cairn collect` into a directory: `case.json` names the case
//! and the examiner, when the run started and ended, the launcher (version, sha256 of
//! its own executable) and the collectors it could deliver, the Kubernetes identity it
//! acted as (SelfSubjectReview), and every target with its route, status and files
//! (each archive's size and the sha256 the launcher computed as the bytes arrived).
//!
//! With `--sign-key KEY` (an unencrypted ed25519 OpenSSH key) `case.json` and each
//! archive's `.sha256` get an SSH signature beside them (`FILE.sig`, namespace
//! `cairn`), which stock `ssh-keygen -Y verify` checks. `cairn verify-case DIR` checks
//! the signatures and every file against the record.

use anyhow::{bail, Context};
use cairn_archive::records::case::{ActedAs, CaseFile, CaseRecord};
use ssh_key::{HashAlg, LineEnding, PrivateKey};
use std::path::{Path, PathBuf};

/// The signatures' namespace (`ssh-keygen -Y verify -n cairn`).
pub const NAMESPACE: &str = "cairn";
pub const CASE_FILE: &str = "case.json";

/// Signs files with the examiner's key.
pub struct Signer {
    key: PrivateKey,
}

impl Signer {
    /// Loads an OpenSSH private key; refuses encrypted and non-ed25519 keys with what to
    /// do instead.
    pub fn load(path: &Path) -> anyhow::Result<Signer> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--sign-key {}", path.display()))?;
        let key = PrivateKey::from_openssh(&text).map_err(|e| {
            anyhow::anyhow!(
                "--sign-key {}: not an OpenSSH private key ({e})",
                path.display()
            )
        })?;
        if key.is_encrypted() {
            bail!(
                "--sign-key {}: the key is encrypted; give an unencrypted copy (ssh-keygen -p) kept for this case",
                path.display()
            );
        }
        if key.algorithm() != ssh_key::Algorithm::Ed25519 {
            bail!(
                "--sign-key {}: a {} key; cairn signs with ed25519 keys (ssh-keygen -t ed25519)",
                path.display(),
                key.algorithm()
            );
        }
        Ok(Signer { key })
    }

    /// The public key, as an OpenSSH line.
    pub fn public(&self) -> String {
        self.key.public_key().to_openssh().unwrap_or_default()
    }

    /// Writes `PATH.sig` for `path`.
    pub fn sign_file(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let sig = self
            .key
            .sign(NAMESPACE, HashAlg::Sha512, &data)
            .map_err(|e| anyhow::anyhow!("signing {}: {e}", path.display()))?;
        let pem = sig
            .to_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("signing {}: {e}", path.display()))?;
        let out = sig_path(path);
        cairn_archive::private::write_new(&out, pem.as_bytes())?;
        Ok(out)
    }
}

fn sig_path(path: &Path) -> PathBuf {
    beside(path, ".sig")
}

/// The sha256 of a file and its size (the collector's hashing loop).
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let h = cairn_archive::hash::sha256_of(&mut f, u64::MAX, &mut buf)?;
    Ok((h.sha256, h.bytes))
}

/// Who the cluster says cairn acted as (SelfSubjectReview), or why it could not say.
pub async fn identity(client: &kube::Client, who: &str) -> ActedAs {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let review = SelfSubjectReview::default();
    let body = serde_json::to_vec(&review).unwrap_or_default();
    let req = http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("content-type", "application/json")
        .body(body);
    let acted = |user_info, unavailable| ActedAs {
        kubeconfig: who.to_owned(),
        user_info,
        unavailable,
    };
    let answer = match req {
        Ok(r) => client.request::<SelfSubjectReview>(r).await,
        Err(e) => return acted(None, Some(e.to_string())),
    };
    match answer {
        Ok(v) => acted(
            v.status
                .and_then(|s| s.user_info)
                .and_then(|u| serde_json::to_value(u).ok()),
            None,
        ),
        Err(e) => acted(None, Some(crate::kerror::say("SelfSubjectReview", &e))),
    }
}

/// A file of the case, as recorded: its name in the directory, size and sha256. Known
/// values (hashed as the bytes arrived) are taken as they are; a file is read again only
/// when they are not known.
pub fn file_entry(dir: &Path, path: &Path, known: Option<(&str, u64)>) -> CaseFile {
    let name = path
        .strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    let hashed = match known {
        Some((sha, bytes)) => Ok((sha.to_owned(), bytes)),
        None => sha256_file(path),
    };
    match hashed {
        Ok((sha, bytes)) => CaseFile {
            file: name,
            bytes: Some(bytes),
            sha256: Some(sha),
            ..CaseFile::default()
        },
        Err(e) => CaseFile {
            file: name,
            unreadable: Some(e.to_string()),
            ..CaseFile::default()
        },
    }
}

/// Writes `case.json` (and its signature, and those of the listed `.sha256` files).
pub fn write(
    dir: &Path,
    record: &CaseRecord,
    signer: Option<&Signer>,
    sha_files: &[PathBuf],
) -> anyhow::Result<PathBuf> {
    // Another run into the same directory keeps its own record beside the first.
    let mut path = dir.join(CASE_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        let stamp = record.stamp();
        path = dir.join(format!("case-{stamp}.json"));
        let mut n = 2;
        while std::fs::symlink_metadata(&path).is_ok() && n < 1000 {
            path = dir.join(format!("case-{stamp}-{n}.json"));
            n += 1;
        }
    }
    write_at(&path, record, signer, sha_files)?;
    Ok(path)
}

/// `path` with `suffix` added to its name (`A.tar.zst` → `A.tar.zst.sha256`).
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Writes the record at `path`, never over a file, and signs it and the listed
/// `.sha256` files.
pub fn write_at(
    path: &Path,
    record: &CaseRecord,
    signer: Option<&Signer>,
    sha_files: &[PathBuf],
) -> anyhow::Result<()> {
    // Read by people (`cat`, `jq`): C1 and bidi characters are written as `\u` escapes.
    let text = cairn_protocol::escape::json::to_vec_pretty(record)?;
    if std::fs::symlink_metadata(path).is_ok() {
        bail!(
            "{} exists: a case record is not overwritten",
            path.display()
        );
    }
    cairn_archive::private::write_new(path, &text)?;
    if let Some(s) = signer {
        s.sign_file(path)?;
        for f in sha_files.iter().filter(|f| f.exists()) {
            s.sign_file(f)?;
        }
    }
    Ok(())
}
