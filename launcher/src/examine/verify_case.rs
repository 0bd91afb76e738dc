//! `cairn verify-case DIR`: every file a case record lists is there with its size and
//! sha256, its `.sha256` says the same, and every signature is good (by `--signer`, an
//! OpenSSH public key file, or else by the key the record names). Prints a line per
//! check; the exit status says whether all held.
//!
//! Signatures are required, not optional, once they are asked for: with `--signer`, or
//! when the record says it was signed, `case.json.sig`, every `.sha256` the record
//! names (`sha256_file`) and its `.sig` must be there and good, and a missing one fails
//! by name; a `.sha256` there that the record does not name is checked all the same.
//! (Otherwise whoever could change an archive could also rewrite the record and delete
//! its signature.) The record's signature covers all it says: its own fields and every
//! file's size and sha256.

use crate::case::{beside, sha256_file, CASE_FILE, NAMESPACE};
use anyhow::{bail, Context};
use cairn_archive::records::case::{CaseFile, CaseRecord};
use cairn_protocol::escape::terminal;
use ssh_key::{HashAlg, PublicKey, SshSig};
use std::path::{Path, PathBuf};

/// Checks every case record in `dir`; returns the exit status.
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

/// The checks of one record, printed as they are made.
struct Checks {
    key: Option<PublicKey>,
    /// Every signature must be there: `--signer` was given or the record says it was
    /// signed.
    required: bool,
    failed: u64,
}

impl Checks {
    fn say(&mut self, ok: bool, what: String) {
        let line = terminal(&what).into_owned();
        if ok {
            println!("OK     {line}");
        } else {
            self.failed += 1;
            println!("FAILED {line}");
        }
    }

    /// The signature of `file` (`FILE.sig`) over `data`: `None` when there is none and
    /// none is required.
    fn signature(&self, file: &Path, data: &[u8]) -> Option<Result<(), String>> {
        let sig = beside(file, ".sig");
        let pem = match std::fs::read_to_string(&sig) {
            Ok(pem) => pem,
            Err(_) if !self.required => return None,
            Err(e) => {
                let name = sig.file_name().unwrap_or_default().to_string_lossy();
                return Some(Err(format!("{name}: {e}: a signature is required")));
            }
        };
        let Some(key) = &self.key else {
            return Some(Err(
                "signed, but no key to check it with (--signer PUBKEY)".into()
            ));
        };
        Some(
            SshSig::from_pem(pem)
                .map_err(|e| e.to_string())
                .and_then(|sig| key.verify(NAMESPACE, data, &sig).map_err(|e| e.to_string())),
        )
    }

    /// One file of a target: its bytes, its `.sha256` and that file's signature.
    fn file(&mut self, dir: &Path, f: &CaseFile) {
        let name = &f.file;
        if name.contains("..") || name.starts_with('/') {
            self.say(
                false,
                format!("{name}: not a name inside the case directory"),
            );
            return;
        }
        let p = dir.join(name);
        let want_sha = f.sha256.as_deref().unwrap_or("");
        match sha256_file(&p) {
            Ok((sha, bytes)) if sha == want_sha && Some(bytes) == f.bytes => {
                self.say(true, format!("{name}: {bytes} bytes, sha256 {sha}"));
            }
            Ok((sha, bytes)) => self.say(false, format!(
                "{name}: sha256 {sha} ({bytes} bytes), the case record says {want_sha} ({} bytes): changed since it was recorded",
                f.bytes.unwrap_or(0)
            )),
            Err(e) => self.say(false, format!("{name}: {e}")),
        }
        let sha_file = beside(&p, ".sha256");
        let side = match std::fs::read(&sha_file) {
            Ok(side) => side,
            Err(e) if self.required && f.sha256_file.is_some() => {
                let why = format!("{e}: its signature is required");
                return self.say(false, format!("{name}.sha256: {why}"));
            }
            Err(_) => return,
        };
        let said = String::from_utf8_lossy(&side);
        let ok = said.split_whitespace().next() == f.sha256.as_deref();
        let how = if ok {
            "matches the record"
        } else {
            "differs from the record"
        };
        self.say(ok, format!("{name}.sha256: {how}"));
        match self.signature(&sha_file, &side) {
            Some(Ok(())) => self.say(true, format!("{name}.sha256: signature good")),
            Some(Err(e)) => self.say(false, format!("{name}.sha256: signature: {e}")),
            None => {}
        }
    }
}

/// Checks one case record (see [`verify`]).
fn verify_one(dir: &Path, path: &Path, signer: Option<&Path>) -> anyhow::Result<i32> {
    let record_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let record: CaseRecord = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a case record", path.display()))?;
    let key = match signer {
        Some(p) => Some(
            PublicKey::from_openssh(std::fs::read_to_string(p)?.trim())
                .map_err(|e| anyhow::anyhow!("--signer {}: {e}", p.display()))?,
        ),
        None => record
            .signed_by
            .as_deref()
            .and_then(|k| PublicKey::from_openssh(k).ok()),
    };
    let required = signer.is_some() || record.signed_by.is_some();
    let mut c = Checks {
        key,
        required,
        failed: 0,
    };
    match c.signature(path, &text) {
        Some(Ok(())) => {
            let fp = fingerprint(c.key.as_ref());
            let whose = if signer.is_some() {
                "--signer"
            } else {
                "the key the record names: only --signer says who signed"
            };
            c.say(
                true,
                format!("{record_name}: signature good ({fp}, {whose})"),
            );
        }
        Some(Err(e)) => c.say(false, format!("{record_name}: signature: {e}")),
        None => println!("NOTE   {record_name}: not signed; nothing checks who wrote it"),
    }
    for t in &record.targets {
        for f in &t.files {
            c.file(dir, f);
        }
    }
    let case = record.case.as_deref().unwrap_or("-");
    if c.failed == 0 {
        println!(
            "case {} ({}): every file as recorded",
            terminal(case),
            terminal(&record_name)
        );
        Ok(cairn_protocol::exit::OK)
    } else {
        println!(
            "case {} ({}): {} check(s) FAILED",
            terminal(case),
            terminal(&record_name),
            c.failed
        );
        Ok(cairn_protocol::exit::FAILED)
    }
}

fn fingerprint(key: Option<&PublicKey>) -> String {
    key.map(|k| k.fingerprint(HashAlg::Sha256).to_string())
        .unwrap_or_else(|| "no key".into())
}
