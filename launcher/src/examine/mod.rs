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

/// The most problems a collection's reading lists, and the longest one in bytes.
pub const MAX_PROBLEMS: usize = 100;
pub const MAX_PROBLEM: usize = 500;

/// Adds a sentence to a list of what could not be read: at most [`MAX_PROBLEMS`] of
/// them, each cut to [`MAX_PROBLEM`] bytes (a parser's message may quote what the
/// archive holds, and a forged archive can repeat a member without end).
pub fn problem(list: &mut Vec<String>, mut text: String) {
    if list.len() + 1 == MAX_PROBLEMS {
        list.push(format!(
            "more problems, not listed (at most {MAX_PROBLEMS})"
        ));
    }
    if list.len() >= MAX_PROBLEMS {
        return;
    }
    if text.len() > MAX_PROBLEM {
        let mut cut = MAX_PROBLEM;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    list.push(text);
}
