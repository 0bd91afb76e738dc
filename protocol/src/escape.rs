//! One escaping rule per sink, used by every command of both binaries. Whatever a pod
//! or an archive says goes through one of these before it reaches:
//! - a terminal, or a log line for people: [`terminal`];
//! - a CSV cell: [`csv_cell`];
//! - JSON: [`json`];
//! - HTML: the report's `esc` (`launcher/src/examine/page/mod.rs`), which escapes markup
//!   and the same characters.
//!
//! The characters no sink shows as they are: [`is_unsafe_char`]. Each rule escapes
//! them in its sink's own way and keeps the text recoverable: the terminal and CSV
//! rules double the backslash so an escape cannot be forged, and JSON's `\u` escapes
//! are undone by every JSON reader.
//!
//! The JSON formatter is written here because serde_json escapes only C0 controls,
//! and no kept crate adds C1 and bidi characters to that.

use std::borrow::Cow;

/// True for characters that must never reach a terminal or a page as they are: C0
/// controls (newline and tab included: a line is one line), DEL, C1 controls, and the
/// bidirectional formatting characters that reorder what is shown (Trojan Source).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `text` as a terminal may show it: every unsafe character escaped (`\x1b`,
/// `\u{202e}`), and the backslash itself doubled, so the escape cannot be forged.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_unsafe_char(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x80 && is_unsafe_char(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The first characters with which a spreadsheet runs a cell as a formula (OWASP's
/// list, and their full-width forms, which some spreadsheets fold to them).
const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// `text` as a CSV cell that can hold the target's text: escaped as for a terminal
/// (CSV goes to a terminal by default, and a control character in a cell is never
/// data a spreadsheet needs), and prefixed with `'` when a spreadsheet would run it as
/// a formula. CSV quoting is the CSV writer's.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let t = terminal(text);
    if t.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{t}"))
    } else {
        t
    }
}

/// JSON for people and their tools: serde_json's output with DEL, C1 and bidi
/// characters also written as `\uXXXX` (serde_json escapes C0 itself), so `cat`,
/// `less -R` or a terminal showing `jq`'s input never sees them raw.
pub mod json {
    use super::is_unsafe_char;
    use serde::Serialize;
    use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
    use std::io::{self, Write};

    /// One line of JSON (no newline), to `w`.
    pub fn to_writer<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> io::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(w, Escaping(CompactFormatter));
        value.serialize(&mut ser).map_err(io::Error::other)
    }

    /// Indented JSON.
    pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> io::Result<String> {
        let mut out = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, Escaping(PrettyFormatter::new()));
        value.serialize(&mut ser).map_err(io::Error::other)?;
        String::from_utf8(out).map_err(io::Error::other)
    }

    /// Indented JSON as bytes, with a final newline (a file's content).
    pub fn to_vec_pretty<T: Serialize + ?Sized>(value: &T) -> io::Result<Vec<u8>> {
        let mut s = to_string_pretty(value)?;
        s.push('\n');
        Ok(s.into_bytes())
    }

    /// A formatter that writes unsafe characters in strings as `\uXXXX` and leaves
    /// everything else to the one it wraps (the layout methods are those
    /// `PrettyFormatter` overrides; the rest are the trait's defaults in both).
    struct Escaping<F>(F);

    impl<F: Formatter> Formatter for Escaping<F> {
        fn write_string_fragment<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> io::Result<()> {
            let mut start = 0;
            for (i, c) in fragment.char_indices() {
                if is_unsafe_char(c) {
                    self.0.write_string_fragment(w, &fragment[start..i])?;
                    // Every unsafe character is in the Basic Multilingual Plane.
                    write!(w, "\\u{:04x}", c as u32)?;
                    start = i + c.len_utf8();
                }
            }
            self.0.write_string_fragment(w, &fragment[start..])
        }
        fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_array(w)
        }
        fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array(w)
        }
        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_array_value(w, first)
        }
        fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array_value(w)
        }
        fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object(w)
        }
        fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object(w)
        }
        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_object_key(w, first)
        }
        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object_value(w)
        }
        fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object_value(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "ok\x1b]0;owned\x07\x1b[2J\r\nfake line\u{9b}31m\u{202e}txt.exe\x7f\\x1b";

    #[test]
    fn nothing_a_terminal_shows_can_move_the_cursor_retitle_it_or_reorder_text() {
        let p = terminal(HOSTILE);
        assert!(!p.chars().any(is_unsafe_char), "{p}");
        assert_eq!(
            p,
            "ok\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0afake line\\u{009b}31m\\u{202e}txt.exe\\x7f\\\\x1b"
        );
        assert_eq!(terminal("plain text é"), "plain text é");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_csv_cell_never_starts_a_formula_nor_carries_a_control_character() {
        for f in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-1+1",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "＝1",
        ] {
            let c = csv_cell(f);
            assert!(!c.starts_with(FORMULA_STARTS), "{f:?} -> {c:?}");
            assert!(!c.chars().any(is_unsafe_char), "{c:?}");
        }
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("\t=1"), "\\x09=1");
        assert_eq!(csv_cell("/usr/bin/id"), "/usr/bin/id");
        assert_eq!(csv_cell("a\nb"), "a\\x0ab");
    }

    #[test]
    fn json_escapes_c1_and_bidi_and_reads_back_as_it_was() {
        let value = vec![HOSTILE.to_owned(), "\u{2066}é\u{85}".to_owned()];
        let mut line = Vec::new();
        json::to_writer(&mut line, &value).unwrap();
        let pretty = json::to_string_pretty(&value).unwrap();
        for out in [String::from_utf8(line).unwrap(), pretty] {
            assert!(
                !out.chars()
                    .any(|c| is_unsafe_char(c) && c != '\n' && c != ' '),
                "{out:?}"
            );
            assert!(out.contains("\\u009b") && out.contains("\\u202e") && out.contains("\\u007f"));
            assert!(out.contains("é"), "{out}");
            let back: Vec<String> = serde_json::from_str(&out).unwrap();
            assert_eq!(back, value);
        }
    }
}
