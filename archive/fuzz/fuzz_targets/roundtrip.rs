//! What the writer writes, the reader reads identically: arbitrary names (any bytes but
//! NUL, up to the writer's bound), contents and link targets, written as an archive and
//! read back entry by entry.
#![no_main]
use arbitrary::Arbitrary;
use cairn_archive::read::{Kind, Reader};
use cairn_archive::write::{name_fits, ArchiveWriter, EntryHeader};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

#[derive(Arbitrary, Debug)]
enum Item {
    File(Vec<u8>, Vec<u8>, i64),
    Link(Vec<u8>, Vec<u8>),
}

fn clean(mut n: Vec<u8>) -> Vec<u8> {
    n.retain(|b| *b != 0);
    if n.is_empty() {
        n.push(b'x');
    }
    n
}

fuzz_target!(|items: Vec<Item>| {
    let mut w = ArchiveWriter::new(Vec::new(), 0).unwrap();
    let mut want = Vec::new();
    for item in items.into_iter().take(32) {
        match item {
            Item::File(name, data, mtime) => {
                let name = clean(name);
                if !name_fits(&name) {
                    continue;
                }
                let h = EntryHeader { mode: 0o644, uid: 0, gid: 0, mtime };
                w.append_bytes(&name, &h, &data).unwrap();
                want.push((name, Kind::Regular, None, data, mtime));
            }
            Item::Link(name, target) => {
                let (name, target) = (clean(name), clean(target));
                if !name_fits(&name) || !name_fits(&target) {
                    continue;
                }
                w.append_symlink(&name, &EntryHeader::default(), &target).unwrap();
                want.push((name, Kind::Symlink, Some(target), Vec::new(), 0));
            }
        }
    }
    let compressed = w.finish().unwrap();
    let tar = zstd::decode_all(&compressed[..]).unwrap();
    let mut r = Reader::new(&tar[..]);
    for (name, kind, link, data, mtime) in want {
        let mut e = r.next_entry().unwrap().expect("an entry for each written");
        assert_eq!(e.header.name, name);
        assert_eq!(e.header.kind, kind);
        assert_eq!(e.header.link, link);
        assert_eq!(e.header.mtime, mtime);
        let mut got = Vec::new();
        e.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
    }
    assert!(r.next_entry().unwrap().is_none());
    assert_eq!(r.finish().unwrap().1, 0);
});
