//! cairn's archive format: one tar + zstd stream per collection, with a sha256 per
//! entry, a manifest, a collection log and a summary that seals both.
//!
//! Both binaries stand on this crate: the collector writes with [`write`], the launcher
//! writes its Kubernetes evidence with [`write::Bundle`], and everything that reads an
//! archive back (`verify`, `cairn report`, `cairn timeline`, the tests) reads it with
//! [`read`], the one strict and bounded reader, into the typed [`records`]. Where each
//! record lives is [`member`]; the tar header and PAX records, both ways, are
//! [`header`] and [`pax`]; [`verify`] checks an archive whole.
#![forbid(unsafe_code)]

pub mod hash;
pub mod header;
pub mod member;
pub mod pax;
pub mod private;
pub mod read;
pub mod records;
pub mod text;
pub mod verify;
pub mod write;
