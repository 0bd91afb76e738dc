//! A list read back from an archive of which at most `N` items are kept: the rest are
//! skipped as they are parsed, never held, and counted. A document's byte limit bounds
//! its text, not what its text becomes: `[{},{},…]` of 16 MiB is millions of structs.

use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Serialize, Serializer};
use std::marker::PhantomData;

/// At most `N` items of a list, and how many more there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped<T, const N: usize> {
    pub items: Vec<T>,
    pub left_out: u64,
}

impl<T, const N: usize> Default for Capped<T, N> {
    fn default() -> Self {
        Capped {
            items: Vec::new(),
            left_out: 0,
        }
    }
}

impl<T: Serialize, const N: usize> Serialize for Capped<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

struct CappedVisitor<T, const N: usize>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for CappedVisitor<T, N> {
    type Value = Capped<T, N>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Capped::default();
        while out.items.len() < N {
            match seq.next_element::<T>()? {
                Some(x) => out.items.push(x),
                None => return Ok(out),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            out.left_out += 1;
        }
        Ok(out)
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Capped<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(CappedVisitor::<T, N>(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_keeps_its_first_items_and_counts_the_rest() {
        let text = format!("[{}{{}}]", "{},".repeat(100_000));
        let c: Capped<std::collections::BTreeMap<String, String>, 3> =
            serde_json::from_str(&text).unwrap();
        assert_eq!((c.items.len(), c.left_out), (3, 99_998));
        let short: Capped<u8, 3> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!((short.items, short.left_out), (vec![1, 2], 0));
    }
}
