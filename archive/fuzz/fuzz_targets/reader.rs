//! The one reader on arbitrary bytes: every entry's header and data read, the end and
//! what follows it read, and the same bytes verified as an archive. A panic, a hang or
//! memory past the reader's bounds (libFuzzer's -rss_limit_mb) is a bug.
#![no_main]
use cairn_archive::read::Reader;
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mut buf = [0u8; 4096];
    loop {
        match r.next_entry() {
            Ok(Some(mut e)) => {
                assert!(e.header.name.len() <= cairn_archive::read::MAX_NAME);
                while let Ok(n) = e.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            }
            Ok(None) => {
                let _ = r.finish();
                break;
            }
            Err(_) => break,
        }
    }
    // The same bytes as a whole archive, compressed, through verify.
    let dir = std::env::temp_dir().join(format!("cairn-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join("a.tar.zst");
    if let Ok(z) = zstd::encode_all(data, 1) {
        if std::fs::write(&p, z).is_ok() {
            let _ = cairn_archive::verify::verify(p.to_str().unwrap_or_default());
        }
    }
});
