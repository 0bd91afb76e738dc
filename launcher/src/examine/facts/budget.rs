//! How much of a collection is held in memory at once, in bytes: each list of records
//! has a share of [`HELD`], and a record is kept only while its list's share lasts (the
//! archive holds them all; a cut is said). A record's weight is measured on the line it
//! was parsed from (`cairn_archive::read::lines::weight`), an upper bound of what the
//! parsed record holds, so a target that fills a line with empty strings or tiny numbers
//! cannot make a small archive expand in memory.

/// All that a collection's lists may hold, in bytes.
pub const HELD: usize = 32 << 20;

/// A list's share of [`HELD`].
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    left: usize,
    /// Records not kept once it ran out.
    pub over: u64,
}

impl Budget {
    /// `share` sixteenths of [`HELD`].
    pub fn sixteenths(share: usize) -> Budget {
        Budget {
            left: HELD / 16 * share,
            over: 0,
        }
    }

    /// Takes `weight` bytes; false (and counted) when they are not there.
    pub fn take(&mut self, weight: usize) -> bool {
        if weight <= self.left {
            self.left -= weight;
            true
        } else {
            self.over += 1;
            false
        }
    }
}

pub use cairn_archive::read::lines::weight;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_of_empty_strings_weighs_more_than_it_holds() {
        let line = format!("[{}\"\"]", "\"\",".repeat(1000));
        let parsed: Vec<String> = serde_json::from_str(&line).unwrap();
        let held = parsed.len() * std::mem::size_of::<String>();
        assert!(weight(line.as_bytes(), 0) >= held);
        let mut b = Budget::sixteenths(1);
        assert!(b.take(HELD / 16));
        assert!(!b.take(1));
        assert_eq!(b.over, 1);
    }
}
