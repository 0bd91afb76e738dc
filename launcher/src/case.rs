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
use serde_json::{json, Value};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
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
        std::fs::write(&out, pem).with_context(|| format!("writing {}", out.display()))?;
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
    let h = cairn_collector::hash::sha256_of(&mut f, u64::MAX, &mut buf)?;
    Ok((h.sha256, h.bytes))
}

/// Who the cluster says cairn acted as (SelfSubjectReview), or why it could not say.
pub async fn identity(client: &kube::Client, who: &str) -> Value {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let req = http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes());
    let answer = match req {
        Ok(r) => client.request::<Value>(r).await,
        Err(e) => return json!({"kubeconfig": who, "unavailable": e.to_string()}),
    };
    match answer {
        Ok(v) => json!({"kubeconfig": who, "user_info": v["status"]["userInfo"]}),
        Err(e) => json!({
            "kubeconfig": who,
            "unavailable": crate::kerror::say("SelfSubjectReview", &e),
        }),
    }
}

/// A file of the case, as recorded: its name in the directory, size and sha256. Known
/// values (hashed as the bytes arrived) are taken as they are; a file is read again only
/// when they are not known.
pub fn file_entry(dir: &Path, path: &Path, known: Option<(&str, u64)>) -> Value {
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
        Ok((sha, bytes)) => json!({"file": name, "bytes": bytes, "sha256": sha}),
        Err(e) => json!({"file": name, "unreadable": e.to_string()}),
    }
}

/// Writes `case.json` (and its signature, and those of the listed `.sha256` files).
pub fn write(
    dir: &Path,
    record: &Value,
    signer: Option<&Signer>,
    sha_files: &[PathBuf],
) -> anyhow::Result<PathBuf> {
    // Another run into the same directory keeps its own record beside the first.
    let mut path = dir.join(CASE_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        let stamp = stamp(record);
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

/// The run's start, as it goes into a record's file name: `20261130T174327Z`.
pub fn stamp(record: &Value) -> String {
    record["started"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
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
    record: &Value,
    signer: Option<&Signer>,
    sha_files: &[PathBuf],
) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(record)?;
    text.push(b'\n');
    if std::fs::symlink_metadata(path).is_ok() {
        bail!(
            "{} exists: a case record is not overwritten",
            path.display()
        );
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    if let Some(s) = signer {
        s.sign_file(path)?;
        for f in sha_files.iter().filter(|f| f.exists()) {
            s.sign_file(f)?;
        }
    }
    Ok(())
}

/// `cairn verify-case DIR`: every file the record lists is there with its size and
/// sha256, its `.sha256` says the same, and every signature is good (by `signer`, an
/// OpenSSH public key file, or else by the key the record names). Prints a line per
/// check; returns the exit status.
pub fn verify(dir: &Path, signer: Option<&Path>) -> anyhow::Result<i32> {
    let mut records: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            n == CASE_FILE || (n.starts_with("case-") && n.ends_with(".json"))
        })
        .collect();
    records.sort();
    if records.is_empty() {
        bail!("no {CASE_FILE} in {}", dir.display());
    }
    let mut status = cairn_protocol::exit::OK;
    for r in records {
        if verify_one(dir, &r, signer)? != cairn_protocol::exit::OK {
            status = cairn_protocol::exit::FAILED;
        }
    }
    Ok(status)
}

/// Checks one case record (see [`verify`]).
fn verify_one(dir: &Path, path: &Path, signer: Option<&Path>) -> anyhow::Result<i32> {
    let record_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let record: Value = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a case record", path.display()))?;
    let key = match signer {
        Some(p) => Some(
            PublicKey::from_openssh(std::fs::read_to_string(p)?.trim())
                .map_err(|e| anyhow::anyhow!("--signer {}: {e}", p.display()))?,
        ),
        None => record["signed_by"]
            .as_str()
            .and_then(|k| PublicKey::from_openssh(k).ok()),
    };
    let mut failed = 0;
    let mut say = |ok: bool, what: String| {
        let line = cairn_protocol::bounded::printable(&what).into_owned();
        if ok {
            println!("OK     {line}");
        } else {
            failed += 1;
            println!("FAILED {line}");
        }
    };
    let check_sig = |file: &Path, data: &[u8]| -> Option<Result<(), String>> {
        let sig_file = sig_path(file);
        let pem = std::fs::read_to_string(&sig_file).ok()?;
        let Some(key) = &key else {
            return Some(Err(
                "signed, but no key to check it with (--signer PUBKEY)".into()
            ));
        };
        Some(
            SshSig::from_pem(pem)
                .map_err(|e| e.to_string())
                .and_then(|sig| key.verify(NAMESPACE, data, &sig).map_err(|e| e.to_string())),
        )
    };
    match check_sig(path, &text) {
        Some(Ok(())) => say(
            true,
            format!(
                "{record_name}: signature good ({})",
                fingerprint(key.as_ref())
            ),
        ),
        Some(Err(e)) => say(false, format!("{record_name}: signature: {e}")),
        None if record["signed_by"].is_string() => say(
            false,
            format!(
                "{record_name}: the record says it was signed, and {record_name}.sig is missing"
            ),
        ),
        None => {}
    }
    for t in record["targets"].as_array().cloned().unwrap_or_default() {
        for f in t["files"].as_array().cloned().unwrap_or_default() {
            let Some(name) = f["file"].as_str() else {
                continue;
            };
            if name.contains("..") || name.starts_with('/') {
                say(
                    false,
                    format!("{name}: not a name inside the case directory"),
                );
                continue;
            }
            let p = dir.join(name);
            match sha256_file(&p) {
                Ok((sha, bytes)) => {
                    let (want_sha, want_bytes) =
                        (f["sha256"].as_str().unwrap_or(""), f["bytes"].as_u64());
                    if sha == want_sha && Some(bytes) == want_bytes {
                        say(true, format!("{name}: {bytes} bytes, sha256 {sha}"));
                    } else {
                        say(false, format!(
                            "{name}: sha256 {sha} ({bytes} bytes), the case record says {want_sha} ({} bytes): changed since it was recorded",
                            want_bytes.unwrap_or(0)
                        ));
                    }
                }
                Err(e) => say(false, format!("{name}: {e}")),
            }
            let sha_file = PathBuf::from(format!("{}.sha256", p.display()));
            if let Ok(side) = std::fs::read(&sha_file) {
                let said = String::from_utf8_lossy(&side);
                let ok = said.split_whitespace().next() == f["sha256"].as_str();
                say(
                    ok,
                    format!(
                        "{name}.sha256: {}",
                        if ok {
                            "matches the record"
                        } else {
                            "differs from the record"
                        }
                    ),
                );
                match check_sig(&sha_file, &side) {
                    Some(Ok(())) => say(true, format!("{name}.sha256: signature good")),
                    Some(Err(e)) => say(false, format!("{name}.sha256: signature: {e}")),
                    None => {}
                }
            }
        }
    }
    if failed == 0 {
        println!(
            "case {} ({record_name}): every file as recorded",
            record["case"].as_str().unwrap_or("-")
        );
        Ok(cairn_protocol::exit::OK)
    } else {
        println!(
            "case {} ({record_name}): {failed} check(s) FAILED",
            record["case"].as_str().unwrap_or("-")
        );
        Ok(cairn_protocol::exit::FAILED)
    }
}

fn fingerprint(key: Option<&PublicKey>) -> String {
    key.map(|k| k.fingerprint(HashAlg::Sha256).to_string())
        .unwrap_or_else(|| "no key".into())
}
