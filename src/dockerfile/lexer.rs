//! Physical lines to logical lines, following BuildKit's scanner loop: parser directives at
//! the top, comments (also inside a continued instruction), continuation with the escape
//! character, blank continuation lines, and heredoc bodies (which the parser asks for once it
//! knows the instruction accepts them).

use super::ast::{Directives, Heredoc, Span};
use super::error::{ParseError, ParseErrorKind};
use super::expand;

/// One instruction's text with continuations joined.
#[derive(Debug)]
pub(super) struct LogicalLine {
    /// Joined text; leading whitespace of the first line removed, continuation lines kept
    /// verbatim apart from their trailing escape character.
    pub(super) text: String,
    /// Physical lines covered, comments and blank lines inside included.
    pub(super) span: Span,
    /// Whether a blank line occurred inside the continuation (BuildKit warns: deprecated).
    pub(super) empty_continuation: bool,
}

/// A heredoc marker found in an instruction line (`<<EOF`, `<<-"EOF"`, `3<<EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HeredocMarker {
    pub(super) name: String,
    pub(super) expand: bool,
    pub(super) chomp: bool,
    pub(super) file_descriptor: u32,
}

/// Line reader over the whole source; it owns the directive state because `# escape=`
/// changes how later lines continue.
pub(super) struct Lexer<'a> {
    file: &'a str,
    lines: Vec<&'a str>,
    /// Number of physical lines consumed so far (= 1-based number of the last one).
    consumed: usize,
    directives: Directives,
    directives_done: bool,
    seen_directives: Vec<String>,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(source: &'a str, file: &'a str) -> Self {
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        Self {
            file,
            lines: source.split_inclusive('\n').collect(),
            consumed: 0,
            directives: Directives::default(),
            directives_done: false,
            seen_directives: Vec::new(),
        }
    }

    pub(super) fn escape(&self) -> char {
        self.directives.escape
    }

    pub(super) fn file(&self) -> &'a str {
        self.file
    }

    /// Number of physical lines consumed so far.
    pub(super) fn current_line(&self) -> usize {
        self.consumed
    }

    /// Physical line `line` (1-based) without its line ending.
    pub(super) fn source_line(&self, line: usize) -> Option<&'a str> {
        line.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map(|l| trim_newline(l))
    }

    /// An error located at `line`, showing that line.
    pub(super) fn error(&self, kind: ParseErrorKind, message: String, line: usize) -> ParseError {
        ParseError::new(kind, message).located(self.file, line, self.source_line(line))
    }

    pub(super) fn into_parts(self) -> (Directives, Vec<String>) {
        let lines = self
            .lines
            .iter()
            .map(|l| trim_newline(l).to_owned())
            .collect();
        (self.directives, lines)
    }

    fn take(&mut self) -> Option<&'a str> {
        let line = self.lines.get(self.consumed).copied()?;
        self.consumed += 1;
        Some(line)
    }

    /// The next instruction line, or `None` at the end of the file.
    pub(super) fn next_line(&mut self) -> Result<Option<LogicalLine>, ParseError> {
        loop {
            let Some(raw) = self.take() else {
                return Ok(None);
            };
            let first = trim_newline(raw).trim_start();
            self.directive(first)?;
            let content = if first.starts_with('#') { "" } else { first };
            let (text, mut ended) = trim_continuation(content, self.escape());
            if ended && text.is_empty() {
                continue;
            }
            let start = self.consumed;
            let mut text = text.to_owned();
            let mut empty_continuation = false;
            while !ended {
                let Some(raw) = self.take() else { break };
                let line = trim_newline(raw);
                self.directive(line)?;
                let trimmed = line.trim_start();
                if trimmed.starts_with('#') {
                    continue;
                }
                if trimmed.is_empty() {
                    empty_continuation = true;
                    continue;
                }
                let (part, end) = trim_continuation(line, self.escape());
                text.push_str(part);
                ended = end;
            }
            let span = Span {
                line: start,
                end_line: self.consumed,
            };
            return Ok(Some(LogicalLine {
                text,
                span,
                empty_continuation,
            }));
        }
    }

    /// Reads one heredoc body after the current position, up to its terminator line.
    pub(super) fn read_heredoc(
        &mut self,
        marker: HeredocMarker,
        instruction_line: usize,
    ) -> Result<Heredoc, ParseError> {
        let mut content = String::new();
        loop {
            let Some(raw) = self.take() else {
                let message = format!("unterminated heredoc `{}`", marker.name);
                return Err(self.error(
                    ParseErrorKind::UnterminatedHeredoc,
                    message,
                    instruction_line,
                ));
            };
            let body = if marker.chomp {
                raw.trim_start_matches('\t')
            } else {
                raw
            };
            if trim_newline(body) == marker.name {
                break;
            }
            content.push_str(body);
        }
        Ok(Heredoc {
            name: marker.name,
            content,
            expand: marker.expand,
            chomp: marker.chomp,
            file_descriptor: marker.file_descriptor,
        })
    }

    /// Feeds a line to the directive parser; the first line that is not a known directive
    /// ends the directive section for good.
    fn directive(&mut self, line: &str) -> Result<(), ParseError> {
        if self.directives_done {
            return Ok(());
        }
        let Some((key, value)) = parse_directive(line) else {
            self.directives_done = true;
            return Ok(());
        };
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            self.directives_done = true;
            return Ok(());
        }
        let line_no = self.consumed;
        if self.seen_directives.contains(&key) {
            let message = format!("only one {key} parser directive can be used");
            return Err(self.error(ParseErrorKind::Directive, message, line_no));
        }
        match key.as_str() {
            "escape" => match value {
                "\\" => self.directives.escape = '\\',
                "`" => self.directives.escape = '`',
                _ => {
                    let message = format!("invalid escape token '{value}' does not match ` or \\");
                    return Err(self.error(ParseErrorKind::Directive, message, line_no));
                }
            },
            "syntax" => self.directives.syntax = Some(value.to_owned()),
            _ => self.directives.check = Some(value.to_owned()),
        }
        self.seen_directives.push(key);
        Ok(())
    }
}

/// Removes trailing `\r` and `\n`.
fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// The characters `\s` matches in Go's regexp package.
fn is_regex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// `# key = value` with a key of letters and digits starting with a letter; key lower-cased.
fn parse_directive(line: &str) -> Option<(String, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_regex_space);
    let key_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let (key, rest) = rest.split_at(key_len);
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest.trim_start_matches(is_regex_space).strip_prefix('=')?;
    let value = value.trim_matches(is_regex_space);
    (!value.is_empty()).then(|| (key.to_ascii_lowercase(), value))
}

/// Strips a trailing continuation (the escape char, optionally followed by spaces or tabs).
/// Returns the remaining text and whether the instruction ends on this line. An escape char
/// right after another escape char is an escaped escape, not a continuation
/// (`ENV C trailing\\` ends the instruction).
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    match body.strip_suffix(escape) {
        Some(before) if !before.ends_with(escape) => (before, false),
        _ => (line, true),
    }
}

/// Heredoc markers in an instruction line, in order; words are split as a shell would, so
/// quoted or escaped `<<` is not a marker.
pub(super) fn heredoc_markers(line: &str) -> Result<Vec<HeredocMarker>, String> {
    let mut markers = Vec::new();
    for word in expand::split_raw_words(line) {
        let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (fd, rest) = word.split_at(digits);
        let Some(rest) = rest.strip_prefix("<<") else {
            continue;
        };
        let (chomp, rest) = match rest.strip_prefix('-') {
            Some(after) => (true, after),
            None => (false, rest),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        let Some((name, expand)) = expand::heredoc_name(rest).map_err(|e| e.to_string())? else {
            continue;
        };
        let file_descriptor = fd.parse().unwrap_or(0);
        markers.push(HeredocMarker {
            name,
            expand,
            chomp,
            file_descriptor,
        });
    }
    Ok(markers)
}
