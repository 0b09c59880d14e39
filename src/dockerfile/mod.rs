//! Dockerfile text to syntax tree, and shell-word expansion.
//!
//! LEAF: text → AST; it uses nothing else of the crate (only std and thiserror) and does no
//! I/O. The `build` module is its only user. Behaviour follows BuildKit's parser
//! (`frontend/dockerfile/parser`) and shell lexer (`frontend/dockerfile/shell`) and is checked
//! against BuildKit's own test data in `shared/conformance/dockerfile-parser`: [`dump`] must
//! reproduce its AST dumps byte for byte.
//!
//! The work is split in two steps, like BuildKit's:
//! 1. [`parse`] does what BuildKit's parser does: directives, continuations, comments,
//!    heredocs, flags and per-instruction argument rules. It keeps unknown keywords.
//! 2. [`Dockerfile::validate`] makes the checks BuildKit makes when it turns the AST into
//!    instructions (unknown instructions with a did-you-mean hint, ONBUILD triggers, flags).
//!
//! Arguments stay unexpanded; the builder calls [`expand_word`] / [`expand_words`] with its
//! ENV and ARG values and the file's escape character.

#![warn(missing_docs)]

mod ast;
mod error;
mod expand;
mod lexer;
mod parser;

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests;

pub use ast::{
    Directives, Dockerfile, Flag, FlagType, Flags, Heredoc, Instruction, InstructionKind,
    ParseWarning, Span, Stage,
};
pub use error::{ExpandError, ExpandErrorReason, FlagError, ParseError, ParseErrorKind};
pub use expand::{EmptyEnv, Env, Expansion, expand, expand_word, expand_words, referenced_vars};

/// Parses Dockerfile `source`; `file_name` is used in error messages (`Dockerfile:3`).
///
/// Fails where BuildKit's parser fails: no instruction at all, a bad parser directive, `ENV`
/// or `LABEL` without a value, a JSON array with non-string elements, an unterminated heredoc.
/// Call [`Dockerfile::validate`] afterwards for the checks BuildKit makes before building.
pub fn parse(source: &str, file_name: &str) -> Result<Dockerfile, ParseError> {
    parser::parse_source(source, file_name)
}

/// BuildKit's AST dump (`Node.Dump`): one `(keyword ["flags"] "arg" ...)` line per
/// instruction, Go-quoted, trimmed. The conformance results are this plus a newline.
pub fn dump(file: &Dockerfile) -> String {
    let lines: Vec<String> = file
        .instructions
        .iter()
        .map(|i| format!("({})", dump_instruction(i)))
        .collect();
    lines.join("\n").trim().to_owned()
}

fn dump_instruction(instruction: &Instruction) -> String {
    let mut out = instruction.keyword.clone();
    if !instruction.flags.is_empty() {
        let flags: Vec<String> = instruction
            .flags
            .raw()
            .iter()
            .map(|f| go_quote(f))
            .collect();
        out.push_str(&format!(" [{}]", flags.join(" ")));
    }
    if let Some(trigger) = &instruction.onbuild {
        out.push_str(&format!(" ({})", dump_instruction(trigger)));
    } else if instruction.kind == InstructionKind::Unknown {
        // BuildKit's parser drops the arguments of unknown instructions and keeps one empty
        // node in their place.
        out.push_str(" \"\"");
    } else {
        for arg in &instruction.args {
            out.push(' ');
            out.push_str(&go_quote(arg));
        }
    }
    out.trim().to_owned()
}

/// Quotes like Go's `strconv.Quote`: C-style escapes, `\xNN` for other ASCII controls,
/// `\uNNNN` for non-printable Unicode, printable characters as they are.
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if !is_go_printable(c) && (c as u32) < 0x10000 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if !is_go_printable(c) => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `unicode.IsPrint` (letters, marks, numbers, punctuation, symbols and
/// the ASCII space) without Unicode tables: control, space, format and private-use
/// characters are not printable.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let code = c as u32;
    let format = matches!(
        code,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
            | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb
            | 0xe0001 | 0xe0020..=0xe007f
    );
    let private = matches!(code, 0xe000..=0xf8ff | 0xf0000..=0x10ffff);
    let noncharacter = matches!(code, 0xfdd0..=0xfdef) || code & 0xfffe == 0xfffe;
    !(c.is_control() || c.is_whitespace() || format || private || noncharacter)
}
