//! The collector binaries the launcher delivers, one per CPU architecture: found
//! (`--collector-bin`, `$CAIRN_COLLECTOR_BIN`, built into a release `cairn`, or beside
//! it), read once, hashed, and checked before anything runs: a Linux ELF executable,
//! statically linked (a container may have no loader and no libc, or another one), of
//! an architecture cairn delivers. Each target then gets the one of its node's
//! architecture.

use anyhow::Context;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The collectors compiled into this `cairn` (`scripts/dist.sh`): file name and bytes.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// A CPU architecture cairn delivers a collector for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The kernel's name (`uname -m`), used in file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Kubernetes' name (`kubernetes.io/arch`).
    pub fn k8s(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// From Kubernetes' name or the kernel's.
    pub fn parse(name: &str) -> Option<Arch> {
        match name {
            "amd64" | "x86_64" => Some(Arch::X86_64),
            "arm64" | "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// Where `scripts/build-collectors.sh` puts this architecture's collector.
    pub fn build_path(self) -> String {
        format!("target/{}/release/cairn-collector", self.rust_target())
    }
}

/// What is wrong with a file given as the collector.
#[derive(Debug, thiserror::Error)]
pub enum Unfit {
    #[error("{0} is not a Linux executable (no 64-bit ELF header)")]
    NotElf(String),
    #[error("{path} is dynamically linked (it needs the loader {loader}), so it cannot run in containers without that loader and its libc (busybox, distroless, Alpine); it is probably what `cargo build` builds for this machine. Give the static collector: scripts/build-collectors.sh builds {x86} and {arm}")]
    Dynamic {
        path: String,
        loader: String,
        x86: String,
        arm: String,
    },
    #[error("{path} is built for {machine}; cairn delivers x86_64 and aarch64 collectors (scripts/build-collectors.sh builds both)")]
    Machine { path: String, machine: String },
}

/// Checks that `bytes` are a static Linux ELF executable of an architecture cairn
/// delivers; returns the architecture.
pub fn check(bytes: &[u8], path: &str) -> Result<Arch, Unfit> {
    let elf = ElfFile64::<object::Endianness>::parse(bytes)
        .map_err(|_| Unfit::NotElf(path.to_owned()))?;
    let e = elf.endian();
    for ph in elf.elf_program_headers() {
        if let Ok(Some(loader)) = ph.interpreter(e, bytes) {
            return Err(Unfit::Dynamic {
                path: path.to_owned(),
                loader: String::from_utf8_lossy(loader).into_owned(),
                x86: Arch::X86_64.build_path(),
                arm: Arch::Aarch64.build_path(),
            });
        }
    }
    match elf.elf_header().e_machine(e) {
        object::elf::EM_X86_64 => Ok(Arch::X86_64),
        object::elf::EM_AARCH64 => Ok(Arch::Aarch64),
        m => Err(Unfit::Machine {
            path: path.to_owned(),
            machine: format!("ELF machine {m}"),
        }),
    }
}

/// One collector binary, read once.
pub struct Collector {
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub arch: Arch,
    /// Where it came from, for messages.
    pub source: String,
}

impl Collector {
    fn from_bytes(bytes: Vec<u8>, source: String) -> anyhow::Result<Collector> {
        let arch = check(&bytes, &source)?;
        Ok(Collector {
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
            arch,
            source,
        })
    }

    pub fn load(path: &Path) -> anyhow::Result<Collector> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the collector {}", path.display()))?;
        Collector::from_bytes(bytes, path.display().to_string())
    }
}

/// The file names looked for in a directory of collectors, and beside `cairn`.
fn names() -> Vec<String> {
    let mut n: Vec<String> = Arch::ALL
        .iter()
        .map(|a| format!("cairn-collector-{}", a.name()))
        .collect();
    n.push("cairn-collector".into());
    n
}

/// The collectors to deliver, at most one per architecture.
pub struct Collectors {
    list: Vec<Collector>,
    /// Where targets download the collector from (`--collector-url`, `{arch}` filled
    /// in) instead of receiving it on the exec stdin; the bootstrap still checks it.
    pub url: Option<String>,
}

impl Collectors {
    /// The collectors `given` (files, or directories holding `cairn-collector-x86_64`,
    /// `cairn-collector-aarch64` or `cairn-collector`), else `$CAIRN_COLLECTOR_BIN`
    /// (the same), else those built into this `cairn`, else those beside it.
    pub fn find(given: &[PathBuf]) -> anyhow::Result<Collectors> {
        let env: Vec<PathBuf> = std::env::var_os("CAIRN_COLLECTOR_BIN")
            .map(PathBuf::from)
            .into_iter()
            .collect();
        let paths = if !given.is_empty() { given } else { &env[..] };
        let mut list = Vec::new();
        for p in paths {
            if p.is_dir() {
                let found: Vec<PathBuf> = names()
                    .iter()
                    .map(|n| p.join(n))
                    .filter(|f| f.is_file())
                    .collect();
                if found.is_empty() {
                    anyhow::bail!(
                        "{} holds no collector ({})",
                        p.display(),
                        names().join(", ")
                    );
                }
                for f in found {
                    list.push(Collector::load(&f)?);
                }
            } else {
                list.push(Collector::load(p)?);
            }
        }
        if paths.is_empty() {
            for (name, bytes) in embedded::COLLECTORS {
                list.push(Collector::from_bytes(
                    bytes.to_vec(),
                    format!("{name} (built into cairn)"),
                )?);
            }
        }
        if paths.is_empty() && list.is_empty() {
            let exe = std::env::current_exe().context("locating cairn itself")?;
            for n in names() {
                let f = exe.with_file_name(&n);
                if f.is_file() {
                    list.push(Collector::load(&f)?);
                }
            }
        }
        if list.is_empty() {
            anyhow::bail!("no collector binary: pass --collector-bin PATH (the static cairn-collector; scripts/build-collectors.sh builds {} and {}) or set CAIRN_COLLECTOR_BIN", Arch::X86_64.build_path(), Arch::Aarch64.build_path());
        }
        Collectors::new(list)
    }

    fn new(list: Vec<Collector>) -> anyhow::Result<Collectors> {
        for (i, a) in list.iter().enumerate() {
            if let Some(b) = list[i + 1..].iter().find(|b| b.arch == a.arch) {
                anyhow::bail!(
                    "two {} collectors given ({} and {}): give one per architecture",
                    a.arch.name(),
                    a.source,
                    b.source
                );
            }
        }
        Ok(Collectors { list, url: None })
    }

    /// The collector for `arch`, or, when the node's architecture is not known, the
    /// x86_64 one (else the only one): the bootstrap then checks `uname -m` itself.
    pub fn for_arch(&self, arch: Option<Arch>) -> Result<&Collector, String> {
        let want = arch.unwrap_or(Arch::X86_64);
        if let Some(c) = self.list.iter().find(|c| c.arch == want) {
            return Ok(c);
        }
        match arch {
            None => self.list.first().ok_or_else(|| "no collector".to_owned()),
            Some(a) => Err(format!(
                "its node is {} and no {} collector was given (have: {}): build it with scripts/build-collectors.sh ({}) and pass it with --collector-bin, or use a cairn from scripts/dist.sh, which carries both",
                a.k8s(),
                a.name(),
                self.list.iter().map(|c| c.arch.name()).collect::<Vec<_>>().join(", "),
                a.build_path()
            )),
        }
    }

    /// Every collector, x86_64 first.
    pub fn all(&self) -> impl Iterator<Item = &Collector> {
        let mut v: Vec<&Collector> = self.list.iter().collect();
        v.sort_by_key(|c| c.arch);
        v.into_iter()
    }

    /// The URL targets of `arch` download from, if any.
    pub fn url_for(&self, arch: Arch) -> Option<String> {
        self.url.as_ref().map(|u| u.replace("{arch}", arch.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_static_elf_executables_of_known_machines_pass() {
        // The test binary itself is dynamically linked (glibc).
        let me = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&me).unwrap();
        let e = check(&bytes, "cairn-collector").unwrap_err();
        assert!(matches!(e, Unfit::Dynamic { .. }), "{e}");
        let m = e.to_string();
        assert!(
            m.contains("dynamically linked") && m.contains("ld-linux"),
            "{m}"
        );
        assert!(m.contains("scripts/build-collectors.sh"), "{m}");
        assert!(matches!(check(b"#!/bin/sh\n", "x"), Err(Unfit::NotElf(_))));
        // A static aarch64 header: made from the x86_64 one's fields would need a
        // whole file; the static musl builds are checked end to end instead.
    }

    #[test]
    fn one_collector_per_architecture_and_the_right_one_per_node() {
        let c = |arch| Collector {
            bytes: vec![],
            sha256: String::new(),
            arch,
            source: format!("{arch:?}"),
        };
        let both = Collectors::new(vec![c(Arch::Aarch64), c(Arch::X86_64)]).unwrap();
        assert_eq!(
            both.for_arch(Some(Arch::Aarch64)).unwrap().arch,
            Arch::Aarch64
        );
        assert_eq!(both.for_arch(None).unwrap().arch, Arch::X86_64);
        let arm = Collectors::new(vec![c(Arch::Aarch64)]).unwrap();
        assert_eq!(arm.for_arch(None).unwrap().arch, Arch::Aarch64);
        let e = arm
            .for_arch(Some(Arch::X86_64))
            .map(|c| c.arch)
            .unwrap_err();
        assert!(
            e.contains("node is amd64") && e.contains("have: aarch64"),
            "{e}"
        );
        assert!(Collectors::new(vec![c(Arch::X86_64), c(Arch::X86_64)]).is_err());
        assert_eq!(Arch::parse("arm64"), Some(Arch::Aarch64));
        assert_eq!(Arch::parse("s390x"), None);
    }
}
