//! Validating deserializers for what arrives from a pod: the collector's words are
//! checked here before the launcher acts on them or shows them.

use serde::{Deserialize, Deserializer};

/// The most bytes of one text field kept; longer text is cut (at a character boundary)
/// and marked with `…`.
pub const MAX_TEXT: usize = 4096;
/// The most items of one list kept.
pub const MAX_ITEMS: usize = 4096;
/// The largest count accepted: 2^53, the largest integer every JSON reader keeps exactly.
pub const MAX_COUNT: u64 = 1 << 53;

/// Cuts `s` to at most [`MAX_TEXT`] bytes at a character boundary, marking the cut.
pub fn cap(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT - '…'.len_utf8();
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// True for 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A text field, capped.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(cap)
}

/// An optional text field, capped.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.map(cap))
}

/// A list of texts, each capped, at most [`MAX_ITEMS`] of them.
pub fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    if v.len() > MAX_ITEMS {
        return Err(serde::de::Error::custom(format!(
            "{} items, more than the {MAX_ITEMS} accepted",
            v.len()
        )));
    }
    Ok(v.into_iter().map(cap).collect())
}

/// A sha256: exactly 64 lowercase hex digits.
pub fn sha256<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if is_sha256(&s) {
        Ok(s)
    } else {
        Err(serde::de::Error::custom(format!(
            "not a sha256 (64 lowercase hex digits): {:?}",
            s.chars().take(80).collect::<String>()
        )))
    }
}

/// A count: at most [`MAX_COUNT`].
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n > MAX_COUNT {
        return Err(serde::de::Error::custom(format!(
            "{n} is larger than any count this field can hold"
        )));
    }
    Ok(n)
}

/// An optional count.
pub fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<u64>::deserialize(d)? {
        Some(n) if n > MAX_COUNT => Err(serde::de::Error::custom(format!(
            "{n} is larger than any count this field can hold"
        ))),
        o => Ok(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_a_character_boundary_and_marked() {
        let long = "é".repeat(MAX_TEXT);
        let c = cap(long);
        assert!(c.len() <= MAX_TEXT, "{}", c.len());
        assert!(c.ends_with('…'));
        assert_eq!(cap("short".into()), "short");
    }

    #[test]
    fn a_sha256_is_64_lowercase_hex_digits() {
        assert!(is_sha256(&"a".repeat(64)));
        assert!(!is_sha256(&"A".repeat(64)));
        assert!(!is_sha256(&"a".repeat(63)));
        assert!(!is_sha256(&format!("{}g", "a".repeat(63))));
    }
}
