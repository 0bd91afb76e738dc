//! The binary's commands, one file each ([`cli`] defines their flags). Not part of the
//! library: they turn flags into calls of it and its results into lines and exit codes.

pub mod cli;
pub mod collect;
pub mod containers;
pub mod explain;
pub mod idle;
pub mod sandbox;
pub mod verify;
