//! Line-oriented outputs (find lists, hash lists, bodyfiles) must survive names with
//! newlines, pipes and non-UTF-8 bytes, and must be safe to read in a terminal: such
//! bytes, every control character, DEL, C1 controls and bidirectional formatting
//! characters (each by its UTF-8 bytes) are escaped as `\xHH`, and `\` as `\\`, so
//! the escaping reverses exactly ([`unescape`]).

/// Escapes a path for a one-line-per-entry text output.
pub fn escape(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    let text = String::from_utf8_lossy(path);
    if matches!(text, std::borrow::Cow::Borrowed(_)) {
        let mut utf8 = [0u8; 4];
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '|' => out.push_str("\\x7c"),
                c if cairn_protocol::bounded::is_unsafe_char(c) => {
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
    } else {
        for &b in path {
            match b {
                b'\\' => out.push_str("\\\\"),
                b'|' | 0x00..=0x1f | 0x7f..=0xff => out.push_str(&format!("\\x{b:02x}")),
                b => out.push(b as char),
            }
        }
    }
    out
}

/// Reverses [`escape`].
pub fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1] == b'\\' {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b[i + 1] == b'x' && i + 3 < b.len() {
                if let Ok(v) = u8::from_str_radix(&text[i + 2..i + 4], 16) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for p in [
            &b"/a b/c"[..],
            b"/new\nline",
            b"/pi|pe",
            b"/bad\xff\xfe",
            b"/back\\slash",
            "/term\x1b]0;owned\x07\ttab\u{202e}gpj.exe\u{85}".as_bytes(),
        ] {
            let e = escape(p);
            assert!(!e.contains('\n'));
            assert!(
                !e.chars().any(cairn_protocol::bounded::is_unsafe_char),
                "{e}"
            );
            assert_eq!(unescape(&e), p);
        }
    }
}
