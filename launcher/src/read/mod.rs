//! Reading cairn archives after the fact (`cairn timeline`): which archives the
//! arguments name ([`inputs`]), and one pass over each ([`stream`]). An archive holds
//! what a hostile target gave: every member and every line is read with a bound, and
//! nothing in it is trusted to be well formed.

pub mod inputs;
pub mod stream;
