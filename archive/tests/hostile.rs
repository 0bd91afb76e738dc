//! Archives made to mislead a reader: a planted name and content that look like
//! headers, malformed or oversized extension headers, global and sparse headers, bad
//! checksums, data appended after the end, an archive cut short. The reader agrees with
//! the writer and GNU tar on honest archives and refuses the rest with a sentence,
//! never guessing and never holding what it was told to.

mod common;

use cairn_archive::read::{self, ReadError};
use common::{temp, write_collection, zstd_file, Item};

fn header(name: &[u8], kind: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn block(data: &[u8]) -> Vec<u8> {
    let mut b = data.to_vec();
    b.resize(data.len().div_ceil(512) * 512, 0);
    b
}

/// The error reading `bytes` (a raw tar stream) gives.
fn read_error(bytes: &[u8]) -> ReadError {
    let (_d, p) = temp();
    zstd_file(&p, bytes);
    match read::members(&p, |_| Ok::<(), std::io::Error>(())) {
        Err(read::MembersError::Read(e)) => e,
        other => panic!("read: {other:?}"),
    }
}

/// The file a target plants in its /tmp: a name whose PAX record holds a newline and
/// `size=0`, and content shaped like a GNU long-name header of 2 GiB. The genuine
/// collector's archive of it verifies, and reads back as written.
#[test]
fn a_planted_name_and_header_shaped_content_are_data() {
    let mut name = b"files/tmp/".to_vec();
    name.extend(vec![b'a'; 120]);
    name.extend(b"\n10 size=0");
    let mut fake = tar::Header::new_gnu();
    fake.set_path("././@LongLink").unwrap();
    fake.set_entry_type(tar::EntryType::GNULongName);
    fake.set_size(2 << 30);
    fake.set_cksum();
    let content = fake.as_bytes().to_vec();
    let (_d, p) = temp();
    write_collection(
        &p,
        &[
            Item::File(name.clone(), content.clone()),
            Item::File(b"files/etc/hostname".to_vec(), b"web-1\n".to_vec()),
        ],
    );
    let v = cairn_archive::verify::verify(p.to_str().unwrap()).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    let back = common::read_back(&p);
    assert_eq!(back[0].0, name);
    assert_eq!(back[0].3, content);
    assert_eq!(back[1].3, b"web-1\n");
    // GNU tar lists the same names.
    let raw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        raw.path(),
        zstd::decode_all(&std::fs::read(&p).unwrap()[..]).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("tar")
        .args(["--quoting-style=escape", "-tf"])
        .arg(raw.path())
        .output()
        .expect("GNU tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("aaaa\\n10 size=0"), "{listed}");
    assert!(listed.contains("files/etc/hostname"), "{listed}");
}

/// A PAX `size` record with a blank before its digits, and a fake 8 GiB header after
/// it: a malformed record is an error at once, so nothing after it is misread.
#[test]
fn a_malformed_pax_record_is_an_error_not_skipped() {
    let records = b"11 size= 0\n";
    let mut bytes = header(b"././@PaxHeader", b'x', records.len() as u64);
    bytes.extend(block(records));
    bytes.extend(header(b"big", b'0', 1024));
    bytes.extend(header(b"././@LongLink", b'L', 8 << 30));
    bytes.extend(vec![0u8; 4096]);
    let e = read_error(&bytes);
    assert!(
        e.to_string().contains("PAX size record that is not one"),
        "{e}"
    );
    for bad in [
        &b"10 size=0"[..],
        b"x path=a\n",
        b"99 path=a\n",
        b"8 pathA\n",
    ] {
        let mut bytes = header(b"././@PaxHeader", b'x', bad.len() as u64);
        bytes.extend(block(bad));
        bytes.extend(header(b"f", b'0', 0));
        bytes.extend(vec![0u8; 1024]);
        let e = read_error(&bytes);
        assert!(e.to_string().contains("malformed PAX record"), "{e}");
    }
}

#[test]
fn oversized_extension_headers_are_refused_before_they_are_read() {
    for kind in [b'x', b'L', b'K'] {
        let mut bytes = header(b"././@x", kind, 8 << 30);
        bytes.extend(vec![0u8; 4096]);
        let e = read_error(&bytes);
        assert!(e.to_string().contains("extension header"), "{e}");
    }
    // Several small ones add up to the same bound.
    let mut bytes = Vec::new();
    for _ in 0..6 {
        let name = vec![b'n'; 200 << 10];
        bytes.extend(header(b"././@LongLink", b'L', name.len() as u64));
        bytes.extend(block(&name));
    }
    bytes.extend(header(b"f", b'0', 0));
    let e = read_error(&bytes);
    assert!(e.to_string().contains("extension header"), "{e}");
}

#[test]
fn what_cairn_never_writes_is_refused_with_a_sentence() {
    let global = {
        let r = b"13 comment=x\n";
        let mut b = header(b"g", b'g', r.len() as u64);
        b.extend(block(r));
        b
    };
    let sparse = {
        let r = b"22 GNU.sparse.major=1\n";
        let mut b = header(b"././@PaxHeader", b'x', r.len() as u64);
        b.extend(block(r));
        b.extend(header(b"s", b'0', 0));
        b
    };
    let link_with_data = [header(b"l", b'2', 10), block(&[1u8; 10])].concat();
    let unknown = header(b"v", b'V', 0);
    for (bytes, says) in [
        (global, "global"),
        (sparse, "sparse"),
        (link_with_data, "bytes of data"),
        (unknown, "type 'V'"),
    ] {
        let e = read_error(&[bytes, vec![0u8; 1024]].concat());
        assert!(e.to_string().contains(says), "{says}: {e}");
    }
    let mut bad_sum = header(b"f", b'0', 0);
    bad_sum[0] = b'g';
    let e = read_error(&[bad_sum, vec![0u8; 1024]].concat());
    assert!(e.to_string().contains("checksum"), "{e}");
}

#[test]
fn an_archive_cut_short_is_truncated_and_appended_bytes_are_found() {
    let (_d, p) = temp();
    write_collection(&p, &[Item::File(b"files/a".to_vec(), vec![7u8; 5000])]);
    let tar = zstd::decode_all(&std::fs::read(&p).unwrap()[..]).unwrap();
    for cut in [700, 2000, tar.len() - 1024] {
        let e = read_error(&tar[..cut]);
        assert!(e.is_truncated(), "cut at {cut}: {e}");
    }
    let mut appended = tar.clone();
    appended.extend(b"hidden payload");
    zstd_file(&p, &appended);
    let v = cairn_archive::verify::verify(p.to_str().unwrap()).unwrap();
    assert!(
        v.problems
            .iter()
            .any(|x| x.contains("after the archive's end blocks")),
        "{:?}",
        v.problems
    );
}

/// A problem quotes a name cut to a few hundred bytes, however long the name.
#[test]
fn problems_quote_long_names_cut() {
    let (_d, p) = temp();
    let long = [b"files/".to_vec(), vec![b'z'; 200_000]].concat();
    write_collection(&p, &[Item::File(long, b"x".to_vec())]);
    // Tamper: rewrite the archive with one more entry the manifest does not list.
    let mut tar = zstd::decode_all(&std::fs::read(&p).unwrap()[..]).unwrap();
    tar.truncate(tar.len() - 1024);
    let extra = [b"files/".to_vec(), vec![b'q'; 100_000]].concat();
    let mut pax = Vec::new();
    cairn_archive::pax::push(&mut pax, "path", &extra);
    tar.extend(header(b"././@PaxHeader", b'x', pax.len() as u64));
    tar.extend(block(&pax));
    tar.extend(header(b"q", b'0', 1));
    tar.extend(block(b"1"));
    tar.extend(vec![0u8; 1024]);
    zstd_file(&p, &tar);
    let v = cairn_archive::verify::verify(p.to_str().unwrap()).unwrap();
    assert!(!v.ok());
    assert!(
        v.problems.iter().all(|x| x.len() < 1000),
        "{:?}",
        v.problems.iter().map(|x| x.len()).collect::<Vec<_>>()
    );
    assert!(
        v.problems.iter().any(|x| x.contains("(100006 bytes)")),
        "{:?}",
        v.problems
    );
}

/// Where GNU tar and the tar crate would read different entries, the reader reads
/// none: two PAX headers before one entry (GNU keeps the last, the tar crate merges),
/// a regular entry named like a directory (GNU reads no data for it), a blank checksum.
#[test]
fn what_readers_disagree_on_is_refused() {
    let pax = |records: &[u8]| {
        let mut b = header(b"././@PaxHeader", b'x', records.len() as u64);
        b.extend(block(records));
        b
    };
    let mut two = pax(b"13 size=1024\n");
    two.extend(pax(b"10 path=a\n"));
    two.extend(header(b"f", b'0', 0));
    let e = read_error(&[two, vec![0u8; 2048]].concat());
    assert!(e.to_string().contains("second extension header"), "{e}");
    let dir_like = [header(b"x/", b'0', 10), block(&[1u8; 10]), vec![0u8; 1024]].concat();
    let e = read_error(&dir_like);
    assert!(e.to_string().contains("ends in '/'"), "{e}");
    let mut blank = header(b"f", b'0', 0);
    blank[148..156].copy_from_slice(b"        ");
    let e = read_error(&[blank, vec![0u8; 1024]].concat());
    assert!(e.to_string().contains("checksum"), "{e}");
}

/// verify: an entry met again after the manifest listed it, and a record of the
/// collector's own met twice, are problems (a second log once hid an unlisted entry).
#[test]
fn verify_refuses_what_would_hide_an_entry() {
    let (_d, p) = temp();
    write_collection(&p, &[Item::File(b"files/a".to_vec(), b"one".to_vec())]);
    let tar = zstd::decode_all(&std::fs::read(&p).unwrap()[..]).unwrap();
    // The same archive with files/a again at its end, and a second collection.log.
    let mut twice = tar[..tar.len() - 1024].to_vec();
    twice.extend(header(b"files/a", b'0', 3));
    twice.extend(block(b"two"));
    twice.extend(header(b"collection.log", b'0', 0));
    twice.extend(vec![0u8; 1024]);
    zstd_file(&p, &twice);
    let v = cairn_archive::verify::verify(p.to_str().unwrap()).unwrap();
    let all = v.problems.join("\n");
    // The later copy (which GNU tar would extract) is one no record names.
    assert_eq!(
        all.matches("files/a: in the archive, not in the manifest")
            .count(),
        1,
        "{all}"
    );
    assert!(
        all.contains("collection.log: in the archive twice"),
        "{all}"
    );
}

/// The longest manifest line an honest archive holds: a name of ~200 KiB of bytes that
/// are not UTF-8 (lossy text and hex, in `path` and in `source`) and one of control
/// characters (`\u0001` each): both verify.
#[test]
fn the_longest_names_the_writer_writes_verify() {
    let mut items = Vec::new();
    for b in [0xffu8, 0x01] {
        let mut name = b"files/".to_vec();
        for _ in 0..800 {
            name.extend(vec![b; 250]);
            name.push(b'/');
        }
        name.extend(b"f");
        assert!(cairn_archive::write::name_fits(&name));
        items.push(Item::File(name, b"x".to_vec()));
    }
    let (_d, p) = temp();
    write_collection(&p, &items);
    let v = cairn_archive::verify::verify(p.to_str().unwrap()).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.manifest_records, 2);
}
