//! What the writer can write, the reader reads identically: any name a file can have
//! (any bytes but NUL, newlines, `size=`, up to 4 KiB and past ustar's 100 bytes), any
//! content (headers and PAX records included), symlinks with any target. Each archive
//! verifies, reads back byte for byte, and reads the same through the tar crate, an
//! independent implementation.

mod common;

use cairn_archive::read::Kind;
use common::{read_back, temp, write_collection, Item};
use proptest::prelude::*;
use std::io::Read;

/// Name bytes: anything a path can hold, with the shapes that once confused a reader
/// (newlines, PAX-record text, long runs).
fn name() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::collection::vec(1u8..=255, 1..40),
        Just(b"\n10 size=0\n".to_vec()),
        Just(b"11 size= 0\n".to_vec()),
        Just(b"././@LongLink".to_vec()),
        Just(vec![b'a'; 150]),
        Just(vec![b'd'; 1000]),
        Just("caf\u{e9}/\u{202e}gpj.exe".as_bytes().to_vec()),
    ];
    proptest::collection::vec(piece, 1..5)
        .prop_map(|parts| {
            let mut n = b"files/".to_vec();
            for p in parts {
                n.extend(p);
            }
            n.truncate(4096);
            n
        })
        // What the writer writes (a path: no trailing '/'); the rest it refuses.
        .prop_filter("a name the writer writes", |n| {
            cairn_archive::write::name_fits(n)
        })
}

/// Content: random bytes, or what looks like a tar header (a GNU long name claiming
/// 2 GiB, a PAX header) followed by more.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..3000),
        Just(fake_header(b'L', 2 << 30)),
        Just(fake_header(b'x', 8 << 30)),
        Just([fake_header(b'0', 1024), vec![0u8; 1024]].concat()),
    ]
}

fn fake_header(kind: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_path("././@LongLink").unwrap();
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(size);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    let item = prop_oneof![
        4 => (name(), content()).prop_map(|(n, c)| Item::File(n, c)),
        1 => (name(), name()).prop_map(|(n, t)| Item::Link(n, t)),
    ];
    proptest::collection::vec(item, 1..6).prop_map(|mut v| {
        // One entry per name, as the collector writes them.
        let mut seen = std::collections::HashSet::new();
        v.retain(|i| match i {
            Item::File(n, _) | Item::Link(n, _) => seen.insert(n.clone()),
        });
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn whatever_the_writer_writes_verifies_and_reads_back_identically(items in items()) {
        let (_d, p) = temp();
        write_collection(&p, &items);
        let v = cairn_archive::verify::verify(p.to_str().unwrap()).unwrap();
        prop_assert!(v.ok(), "{:?}", v.problems);
        prop_assert_eq!(v.manifest_records, items.len() as u64);
        let back = read_back(&p);
        for (item, got) in items.iter().zip(&back) {
            match item {
                Item::File(n, c) => {
                    prop_assert_eq!(&got.0, n);
                    prop_assert_eq!(got.1, Kind::Regular);
                    prop_assert_eq!(&got.3, c);
                }
                Item::Link(n, t) => {
                    prop_assert_eq!(&got.0, n);
                    prop_assert_eq!(got.1, Kind::Symlink);
                    prop_assert_eq!(got.2.as_ref(), Some(t));
                }
            }
        }
        // The tar crate, another reader, sees the same entries, except that it splits
        // PAX records on newlines (a name holding one it drops for the 100-byte ustar
        // name): GNU tar, which does not, is checked on such a name in hostile.rs.
        let z = zstd::stream::read::Decoder::new(std::fs::File::open(&p).unwrap()).unwrap();
        let mut ar = tar::Archive::new(z);
        let theirs: Vec<(Vec<u8>, Vec<u8>)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path_bytes().into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data)
            })
            .collect();
        let ours: Vec<(Vec<u8>, Vec<u8>)> = back.into_iter().map(|(n, _, _, d)| (n, d)).collect();
        prop_assert_eq!(ours.len(), theirs.len());
        for (o, t) in ours.iter().zip(&theirs) {
            if !o.0.contains(&b'\n') {
                prop_assert_eq!(o, t);
            }
        }
    }
}
