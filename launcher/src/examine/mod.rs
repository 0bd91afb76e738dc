//! What cairn does with evidence once it is collected, needing no cluster: which
//! collections the arguments name ([`inputs`]), the facts of each read back in one
//! bounded pass through the archive's one reader ([`facts`]), the findings they
//! support ([`findings`]), the report's pages ([`page`]), the timeline ([`timeline`]),
//! and the check of a case record ([`verify_case`]). Everything read here was written
//! by a hostile target or passed through one: it is bounded as it is read, typed as it
//! is parsed, and escaped for where it goes.

pub mod facts;
pub mod findings;
pub mod inputs;
pub mod page;
pub mod timeline;
pub mod verify_case;
