//! The collector binary the launcher delivers: found (flag, environment, or beside
//! `cairn`), read once, and hashed, so every target can check what it received.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The collector binary to deliver, read once.
pub struct Collector {
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// Where targets download it from (`--collector-url`) instead of receiving it on
    /// the exec stdin; the bootstrap still checks it against `sha256`.
    pub url: Option<String>,
}

impl Collector {
    pub fn load(path: &Path) -> anyhow::Result<Collector> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the collector {}", path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(Collector {
            bytes,
            sha256,
            url: None,
        })
    }

    /// The collector `given`, else `$CAIRN_COLLECTOR_BIN`, else `cairn-collector` beside
    /// this executable.
    pub fn find(given: Option<PathBuf>) -> anyhow::Result<Collector> {
        let path = match given
            .or_else(|| std::env::var_os("CAIRN_COLLECTOR_BIN").map(PathBuf::from))
        {
            Some(p) => p,
            None => {
                let exe = std::env::current_exe().context("locating cairn itself")?;
                let next = exe.with_file_name("cairn-collector");
                if !next.is_file() {
                    anyhow::bail!("no collector binary: pass --collector-bin PATH (the static cairn-collector) or set CAIRN_COLLECTOR_BIN");
                }
                next
            }
        };
        Collector::load(&path)
    }
}
