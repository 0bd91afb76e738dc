//! Builds the list of collectors compiled into `cairn`: empty, unless
//! `CAIRN_EMBED_COLLECTORS` names a directory holding `cairn-collector-x86_64` and/or
//! `cairn-collector-aarch64` (`scripts/dist.sh` sets it), so that a release `cairn` is
//! one file that carries the static collector for every node.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=CAIRN_EMBED_COLLECTORS");
    let mut code = String::from("pub static COLLECTORS: &[(&str, &[u8])] = &[\n");
    if let Some(dir) = std::env::var_os("CAIRN_EMBED_COLLECTORS").map(PathBuf::from) {
        let mut found = 0;
        for name in ["cairn-collector-x86_64", "cairn-collector-aarch64"] {
            let f = dir.join(name);
            println!("cargo:rerun-if-changed={}", f.display());
            if f.is_file() {
                let abs = f
                    .canonicalize()
                    .expect("canonical path of an embedded collector");
                let _ = writeln!(
                    code,
                    "    ({name:?}, include_bytes!({:?})),",
                    abs.display().to_string()
                );
                found += 1;
            }
        }
        assert!(
            found > 0,
            "CAIRN_EMBED_COLLECTORS={} holds no cairn-collector-x86_64 or cairn-collector-aarch64",
            dir.display()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("embedded.rs");
    std::fs::write(out, code).expect("writing embedded.rs");
}
