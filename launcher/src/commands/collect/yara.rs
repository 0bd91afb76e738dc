//! `cairn collect --yara FILE|DIR`: the responder's rules read and compiled here once,
//! before any target is touched (a rule that does not compile stops the run naming its
//! file and line, instead of failing every target), then sent to each collector as one
//! document on its stdin (`cairn_protocol::yara`), never as a file or an argument in
//! the pod.

use boreal::compiler::{generate_description, CompilerParams};
use cairn_protocol::yara::RuleSet;
use std::path::Path;

/// The document of the rules at `path`, checked to compile as the collector will
/// compile them (includes disabled: the files they name are not in the pod).
pub fn document(path: &Path) -> anyhow::Result<String> {
    let set = RuleSet::read(path)?;
    let mut compiler = boreal::Compiler::new();
    compiler.set_params(CompilerParams::default().disable_includes(true));
    for f in &set.files {
        if let Err(e) = compiler.add_rules_str_in_namespace(&f.source, &f.name) {
            let at = generate_description(&e.to_diagnostic(), &f.name, &f.source);
            anyhow::bail!(
                "--yara {}: {at} (includes are not sent into pods: give the included files themselves)",
                path.display()
            );
        }
    }
    Ok(set.to_document()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_that_compile_become_a_document_and_a_broken_one_or_an_include_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("ir.yar"),
            "rule planted { strings: $a = \"MARKER\" condition: $a }\n",
        )
        .unwrap();
        // The modules the collector has, the launcher's check has too.
        std::fs::write(
            d.path().join("mods.yar"),
            "import \"pe\"\nimport \"elf\"\nimport \"hash\"\nrule w { condition: pe.is_pe and hash.md5(0, 1) == \"\" }\n",
        )
        .unwrap();
        let doc = document(d.path()).unwrap();
        let back = RuleSet::from_reader(&mut doc.as_bytes()).unwrap();
        assert_eq!(back.files[0].name, "ir");
        assert!(back.files[0].source.contains("MARKER"));
        assert_eq!(back.files[1].name, "mods");
        std::fs::write(d.path().join("bad.yar"), "rule x {\n condition: nope }\n").unwrap();
        let e = document(d.path()).unwrap_err().to_string();
        assert!(e.contains("bad:2:"), "{e}");
        std::fs::remove_file(d.path().join("bad.yar")).unwrap();
        std::fs::write(d.path().join("inc.yar"), "include \"ir.yar\"\n").unwrap();
        let e = document(d.path()).unwrap_err().to_string();
        assert!(e.contains("includes are not sent"), "{e}");
    }
}
