//! Byte sizes as people write them on a command line: `4096`, `512K`, `100M`, `1G`,
//! `2T` (powers of 1024), for the collector's limits and the launcher's caps alike.

/// Parses a byte size such as `1048576`, `512K`, `100M`, `1G`, `2T` (powers of 1024,
/// an optional trailing `B` or `iB` is accepted).
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, mult) = match t.chars().last() {
        Some('K') | Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') | Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('G') | Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('T') | Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size (examples: 4096, 512K, 100M, 1G)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// The shortest form [`parse`] reads back: `64G`, `512K`, `1000`.
pub fn format(bytes: u64) -> String {
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_powers_of_1024_and_print_back_the_same() {
        assert_eq!(parse("4096").unwrap(), 4096);
        assert_eq!(parse("512K").unwrap(), 512 * 1024);
        assert_eq!(parse("100MiB").unwrap(), 100 << 20);
        assert_eq!(parse("1G").unwrap(), 1 << 30);
        assert!(parse("lots").is_err());
        assert!(parse("99999999999T").is_err());
        for s in ["64G", "512K", "1000", "3T", "1536M"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
