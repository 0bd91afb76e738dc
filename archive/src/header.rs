//! The 512-byte tar header, both ways: [`encode`] writes the POSIX ustar header the
//! writer produces, [`decode`] reads a ustar (POSIX `ustar\0` `00`, or GNU `ustar  \0`)
//! header strictly: its checksum must hold, its numbers must be octal (or GNU base-256)
//! and nothing else, its magic must be one of the two. Written by hand, beside the
//! reader, so that what the writer can put in a header is exactly what the reader
//! takes out (see `read`).

/// The size of a header, and of the blocks entries are padded to.
pub const BLOCK: usize = 512;

const NAME: (usize, usize) = (0, 100);
const MODE: (usize, usize) = (100, 8);
const UID: (usize, usize) = (108, 8);
const GID: (usize, usize) = (116, 8);
const SIZE: (usize, usize) = (124, 12);
const MTIME: (usize, usize) = (136, 12);
const CHKSUM: (usize, usize) = (148, 8);
const TYPEFLAG: usize = 156;
const LINKNAME: (usize, usize) = (157, 100);
const MAGIC: (usize, usize) = (257, 8);
const PREFIX: (usize, usize) = (345, 155);

/// POSIX ustar: magic `ustar\0` and version `00`.
const USTAR: &[u8; 8] = b"ustar\x0000";
/// GNU tar's own: `ustar  \0` (no prefix field).
const GNU: &[u8; 8] = b"ustar  \x00";

/// What a header says, before extension headers are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// The name field (with the ustar prefix, when there is one), up to its first NUL.
    pub name: Vec<u8>,
    pub kind: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    /// The linkname field, up to its first NUL.
    pub link: Vec<u8>,
}

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the header's checksum is {stored:?}, its bytes sum to {computed}")]
    Checksum { stored: String, computed: u32 },
    #[error("not a ustar header (magic {0:?})")]
    Magic(String),
    #[error("the {field} field is not a number ({text:?})")]
    Number { field: &'static str, text: String },
}

fn field(h: &[u8; BLOCK], (at, len): (usize, usize)) -> &[u8] {
    &h[at..at + len]
}

/// A text field up to its first NUL.
fn text(h: &[u8; BLOCK], f: (usize, usize)) -> &[u8] {
    let b = field(h, f);
    &b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())]
}

/// A numeric field: octal digits, with leading spaces or zeros and ending at a space or
/// NUL (all of which tar writers produce), or GNU's base-256 when the high bit of the
/// first byte is set (its sign in the next bit). An empty field is zero, as in GNU tar.
fn number(h: &[u8; BLOCK], f: (usize, usize), name: &'static str) -> Result<i128, HeaderError> {
    let b = field(h, f);
    if b[0] & 0x80 != 0 {
        let negative = b[0] & 0x40 != 0;
        let mut n: i128 = i128::from(b[0] & 0x3f);
        if negative {
            n -= 0x40;
        }
        for byte in &b[1..] {
            n = n
                .checked_mul(256)
                .and_then(|n| n.checked_add(i128::from(*byte)))
                .ok_or_else(|| bad(name, b))?;
        }
        return Ok(n);
    }
    let start = b.iter().position(|c| *c != b' ').unwrap_or(b.len());
    let digits = &b[start..];
    let end = digits
        .iter()
        .position(|c| *c == b' ' || *c == 0)
        .unwrap_or(digits.len());
    if digits[end..].iter().any(|c| *c != b' ' && *c != 0) {
        return Err(bad(name, b));
    }
    let mut n: i128 = 0;
    for c in &digits[..end] {
        if !(b'0'..=b'7').contains(c) {
            return Err(bad(name, b));
        }
        n = n * 8 + i128::from(c - b'0');
    }
    Ok(n)
}

fn bad(field: &'static str, b: &[u8]) -> HeaderError {
    HeaderError::Number {
        field,
        text: String::from_utf8_lossy(b).into_owned(),
    }
}

fn unsigned(
    n: i128,
    field: &'static str,
    h: &[u8; BLOCK],
    f: (usize, usize),
) -> Result<u64, HeaderError> {
    u64::try_from(n).map_err(|_| bad(field, self::field(h, f)))
}

/// The checksum field as GNU tar reads it: octal digits only (no base-256), at least
/// one, after optional blanks and before a blank or NUL.
fn checksum(h: &[u8; BLOCK]) -> Option<i128> {
    let b = field(h, CHKSUM);
    let digits: &[u8] = {
        let start = b.iter().position(|c| *c != b' ')?;
        let rest = &b[start..];
        let end = rest
            .iter()
            .position(|c| *c == b' ' || *c == 0)
            .unwrap_or(rest.len());
        if rest[end..].iter().any(|c| *c != b' ' && *c != 0) {
            return None;
        }
        &rest[..end]
    };
    if digits.is_empty() || !digits.iter().all(|c| (b'0'..=b'7').contains(c)) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0i128, |n, c| n * 8 + i128::from(c - b'0')),
    )
}

/// The checksum as tar computes it: the header's bytes summed with the checksum field
/// counted as spaces (GNU tar also accepts the sum of signed bytes; so does this).
fn sums(h: &[u8; BLOCK]) -> (u32, i32) {
    let (at, len) = CHKSUM;
    let mut unsigned = 0u32;
    let mut signed = 0i32;
    for (i, b) in h.iter().enumerate() {
        let b = if (at..at + len).contains(&i) {
            b' '
        } else {
            *b
        };
        unsigned += u32::from(b);
        signed += i32::from(b as i8);
    }
    (unsigned, signed)
}

/// True for a block of zeros (the end of an archive).
pub fn is_zero(h: &[u8; BLOCK]) -> bool {
    h.iter().all(|b| *b == 0)
}

/// Reads a header block strictly.
pub fn decode(h: &[u8; BLOCK]) -> Result<Raw, HeaderError> {
    let stored = checksum(h);
    let (computed, signed) = sums(h);
    if stored != Some(i128::from(computed)) && stored != Some(i128::from(signed)) {
        return Err(HeaderError::Checksum {
            stored: String::from_utf8_lossy(field(h, CHKSUM)).into_owned(),
            computed,
        });
    }
    let magic = field(h, MAGIC);
    let posix = magic == USTAR;
    if !posix && magic != GNU {
        return Err(HeaderError::Magic(
            String::from_utf8_lossy(magic).into_owned(),
        ));
    }
    let mut name = Vec::new();
    let prefix = if posix { text(h, PREFIX) } else { &[][..] };
    if !prefix.is_empty() {
        name.extend_from_slice(prefix);
        name.push(b'/');
    }
    name.extend_from_slice(text(h, NAME));
    let mode = number(h, MODE, "mode")?;
    Ok(Raw {
        name,
        kind: h[TYPEFLAG],
        mode: u32::try_from(mode).map_err(|_| bad("mode", field(h, MODE)))?,
        uid: unsigned(number(h, UID, "uid")?, "uid", h, UID)?,
        gid: unsigned(number(h, GID, "gid")?, "gid", h, GID)?,
        size: unsigned(number(h, SIZE, "size")?, "size", h, SIZE)
            .ok()
            .filter(|s| i64::try_from(*s).is_ok())
            .ok_or_else(|| bad("size", field(h, SIZE)))?,
        mtime: i64::try_from(number(h, MTIME, "mtime")?)
            .map_err(|_| bad("mtime", field(h, MTIME)))?,
        link: text(h, LINKNAME).to_vec(),
    })
}

/// Writes `n` as octal digits, zero-padded, with a NUL in the last byte; or, when it
/// does not fit, in GNU's base-256 (high bit set, big-endian).
fn put_number(h: &mut [u8; BLOCK], (at, len): (usize, usize), n: u64) {
    let dst = &mut h[at..at + len];
    let octal_digits = len - 1;
    if octal_digits >= 22 || n < 1u64 << (3 * octal_digits) {
        let text = format!("{n:0width$o}", width = octal_digits);
        dst[..octal_digits].copy_from_slice(text.as_bytes());
        dst[octal_digits] = 0;
    } else {
        dst.fill(0);
        let bytes = n.to_be_bytes();
        let from = len.saturating_sub(8);
        dst[from..].copy_from_slice(&bytes[8 - (len - from)..]);
        dst[0] |= 0x80;
    }
}

/// What the writer puts in a header.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// The name: its first 100 bytes go in the name field (a longer one is in a PAX
    /// `path` record before the header).
    pub name: &'a [u8],
    pub kind: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Seconds; a negative time is written as 0 (a PAX `mtime` record holds it).
    pub mtime: i64,
    /// A link's target: its first 100 bytes (a PAX `linkpath` record holds a longer one).
    pub link: &'a [u8],
}

/// The POSIX ustar header of `f`, with its checksum.
pub fn encode(f: &Fields<'_>) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let n = f.name.len().min(NAME.1);
    h[..n].copy_from_slice(&f.name[..n]);
    put_number(&mut h, MODE, u64::from(f.mode));
    put_number(&mut h, UID, f.uid);
    put_number(&mut h, GID, f.gid);
    put_number(&mut h, SIZE, f.size);
    put_number(&mut h, MTIME, f.mtime.max(0) as u64);
    h[TYPEFLAG] = f.kind;
    let l = f.link.len().min(LINKNAME.1);
    h[LINKNAME.0..LINKNAME.0 + l].copy_from_slice(&f.link[..l]);
    h[MAGIC.0..MAGIC.0 + MAGIC.1].copy_from_slice(USTAR);
    let (sum, _) = sums(&h);
    let text = format!("{sum:07o}");
    h[CHKSUM.0..CHKSUM.0 + 7].copy_from_slice(text.as_bytes());
    h[CHKSUM.0 + 7] = 0;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(name: &'a [u8], size: u64, uid: u64, mtime: i64) -> Fields<'a> {
        Fields {
            name,
            kind: b'0',
            mode: 0o644,
            uid,
            gid: 7,
            size,
            mtime,
            link: b"",
        }
    }

    #[test]
    fn what_is_encoded_is_what_the_tar_crate_writes_and_decodes_back() {
        for (size, uid, mtime) in [
            (5u64, 0u64, 1_700_000_000i64),
            (8 << 30, 4_294_967_295, 0),
            (0, 2_097_151, -5),
            (8_589_934_591, 1000, 77),
        ] {
            let mine = encode(&fields(b"files/etc/passwd", size, uid, mtime));
            let mut theirs = tar::Header::new_ustar();
            theirs.as_old_mut().name[..16].copy_from_slice(b"files/etc/passwd");
            theirs.set_mode(0o644);
            theirs.set_uid(uid);
            theirs.set_gid(7);
            theirs.set_size(size);
            theirs.set_mtime(mtime.max(0) as u64);
            theirs.set_entry_type(tar::EntryType::Regular);
            theirs.set_cksum();
            assert_eq!(&mine[..], theirs.as_bytes(), "size {size} uid {uid}");
            let raw = decode(&mine).unwrap();
            assert_eq!(
                (raw.size, raw.uid, raw.mtime, raw.mode),
                (size, uid, mtime.max(0), 0o644)
            );
            assert_eq!(raw.name, b"files/etc/passwd");
        }
    }

    #[test]
    fn gnu_headers_and_ustar_prefixes_are_read() {
        let mut h = tar::Header::new_gnu();
        h.set_path("files/x").unwrap();
        h.set_size(3);
        h.set_cksum();
        let raw = decode(h.as_bytes()).unwrap();
        assert_eq!((raw.name.as_slice(), raw.size), (&b"files/x"[..], 3));
        let mut u = tar::Header::new_ustar();
        let long = format!("{}/name", "d".repeat(120));
        u.set_path(&long).unwrap();
        u.set_cksum();
        assert_eq!(decode(u.as_bytes()).unwrap().name, long.as_bytes());
    }

    #[test]
    fn a_bad_checksum_magic_or_number_is_an_error_never_a_guess() {
        let good = encode(&fields(b"a", 1, 0, 0));
        let mut sum = good;
        sum[0] = b'b';
        assert!(matches!(decode(&sum), Err(HeaderError::Checksum { .. })));
        let mut magic = good;
        magic[257] = b'x';
        let fix = |h: &mut [u8; BLOCK]| {
            let (s, _) = sums(h);
            h[148..155].copy_from_slice(format!("{s:07o}").as_bytes());
        };
        fix(&mut magic);
        assert!(matches!(decode(&magic), Err(HeaderError::Magic(_))));
        let mut size = good;
        size[124..136].copy_from_slice(b"0000000001x\0");
        fix(&mut size);
        assert!(matches!(
            decode(&size),
            Err(HeaderError::Number { field: "size", .. })
        ));
        let mut blank_sum = good;
        blank_sum[148..156].copy_from_slice(b"        ");
        assert!(matches!(
            decode(&blank_sum),
            Err(HeaderError::Checksum { .. })
        ));
        let mut huge = good;
        huge[124..136].copy_from_slice(&[
            0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        fix(&mut huge);
        assert!(matches!(
            decode(&huge),
            Err(HeaderError::Number { field: "size", .. })
        ));
        let mut spaced = good;
        spaced[124..136].copy_from_slice(b"   17 \0\0\0\0\0\0");
        fix(&mut spaced);
        assert_eq!(decode(&spaced).unwrap().size, 0o17);
    }
}
