//! A `path` value read the way UAC's shell reads it: UAC puts the value unquoted on a
//! `find` command line, so spaces separate several paths (`path: /a /b`), quotes keep
//! a space inside one (`%user_home%/Library/"Application Support"`), a backslash
//! keeps the next character, and unquoted `*`, `?` and `[...]` are globs the shell
//! expands ([`Word::pattern`]).
//!
//! Written by hand: the word splitters on crates.io (shlex, shell-words) drop the
//! quotes without saying which characters they protected, and a quoted `*` is a
//! literal star, not a glob.

/// One word of a `path` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as a glob pattern: quoted or backslashed `*?[]\` are escaped with `\`,
    /// everything else as written (quotes removed).
    pub pattern: String,
    /// True when the word has an unquoted `*`, `?` or `[`: the shell expands it.
    pub glob: bool,
}

impl Word {
    /// The word with its escapes removed: the path itself, for a word without globs.
    pub fn literal(&self) -> String {
        unescape_glob(&self.pattern)
    }
}

/// Removes the `\` escapes of a glob pattern.
pub fn unescape_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes `*?[]\` so that `text` matches only itself as a glob.
pub fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits a value into words as `sh` does (without expansions other than globs);
/// `Err` names an unclosed quote.
pub fn split(value: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut cur: Option<Word> = None;
    let mut chars = value.chars();
    let push = |cur: &mut Option<Word>, c: char, quoted: bool| {
        let w = cur.get_or_insert(Word {
            pattern: String::new(),
            glob: false,
        });
        if quoted && matches!(c, '*' | '?' | '[' | ']' | '\\') {
            w.pattern.push('\\');
        } else if !quoted && matches!(c, '*' | '?' | '[') {
            w.glob = true;
        }
        w.pattern.push(c);
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\\' => match chars.next() {
                Some(n) => push(&mut cur, n, true),
                None => push(&mut cur, '\\', true),
            },
            '\'' => {
                cur.get_or_insert(Word {
                    pattern: String::new(),
                    glob: false,
                });
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => push(&mut cur, n, true),
                        None => return Err(format!("unclosed ' in `{value}`")),
                    }
                }
            }
            '"' => {
                cur.get_or_insert(Word {
                    pattern: String::new(),
                    glob: false,
                });
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => push(&mut cur, n, true),
                            Some(n) => {
                                push(&mut cur, '\\', true);
                                push(&mut cur, n, true);
                            }
                            None => return Err(format!("unclosed \" in `{value}`")),
                        },
                        Some(n) => push(&mut cur, n, true),
                        None => return Err(format!("unclosed \" in `{value}`")),
                    }
                }
            }
            other => push(&mut cur, other, false),
        }
    }
    if let Some(w) = cur.take() {
        words.push(w);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_and_globs_as_sh_reads_them() {
        let w =
            split("/a /b/*.log  %user_home%/Library/\"Application Support\"/x* '/q/*'").unwrap();
        let pats: Vec<&str> = w.iter().map(|w| w.pattern.as_str()).collect();
        assert_eq!(
            pats,
            vec![
                "/a",
                "/b/*.log",
                "%user_home%/Library/Application Support/x*",
                "/q/\\*"
            ]
        );
        assert_eq!(
            w.iter().map(|w| w.glob).collect::<Vec<_>>(),
            vec![false, true, true, false]
        );
        assert_eq!(w[3].literal(), "/q/*");
        assert_eq!(split("/a\\ b").unwrap()[0].literal(), "/a b");
        assert!(split("/a \"b").is_err());
        assert_eq!(escape_glob("/h[1]*"), "/h\\[1\\]\\*");
    }
}
