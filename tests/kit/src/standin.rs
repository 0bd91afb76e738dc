//! Stand-in collectors: what an attacker who controls a pod could run instead of the
//! collector, as a static x86_64 ELF (so the launcher, which refuses anything but a
//! static ELF of the node's architecture, sends it) that runs a shell script in the pod.
//! Built with `musl-gcc -static` from a few lines of C that exec `/bin/sh -c SCRIPT`
//! with the collector's arguments.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes a static executable at `path` that runs `/bin/sh -c script standin ARGS...`
/// where it is executed. Returns `None` (after [`crate::docker::require`]) when
/// `musl-gcc` is missing.
pub fn build(path: &Path, script: &str) -> Option<PathBuf> {
    let mut lit = String::new();
    // Octal escapes take at most three digits, so no following byte can join them.
    for b in script.bytes() {
        write!(lit, "\\{b:03o}").unwrap();
    }
    let c = format!(
        "#include <unistd.h>\n\
         static const char script[] = \"{lit}\";\n\
         int main(int argc, char **argv) {{\n\
           char *args[argc + 4];\n\
           args[0] = \"sh\"; args[1] = \"-c\"; args[2] = (char *)script; args[3] = \"standin\";\n\
           for (int i = 1; i < argc; i++) args[3 + i] = argv[i];\n\
           args[argc + 3] = 0;\n\
           execv(\"/bin/sh\", args);\n\
           return 127;\n\
         }}\n"
    );
    let src = path.with_extension("c");
    std::fs::write(&src, c).unwrap();
    let o = match Command::new("musl-gcc")
        .args(["-static", "-Os", "-s", "-o"])
        .arg(path)
        .arg(&src)
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            crate::docker::require("musl-gcc (Debian's musl-tools)");
            return None;
        }
    };
    assert!(
        o.status.success(),
        "musl-gcc: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(path.to_owned())
}
