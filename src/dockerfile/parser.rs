//! Logical lines to [`Instruction`]s: keyword, leading `--flags`, and the per-instruction
//! argument rules of BuildKit's parser (exec/JSON form versus shell form, ENV/LABEL pairs,
//! ARG words, HEALTHCHECK type, ONBUILD nesting). Arguments keep their quotes and escapes;
//! expansion is a later step. Also the post-parse checks behind [`Dockerfile::validate`].

use super::ast::{Dockerfile, Flags, Instruction, InstructionKind, ParseWarning, Span};
use super::error::{ParseError, ParseErrorKind};
use super::lexer::{self, Lexer, LogicalLine};

/// BuildKit's message for a JSON array with a non-string element.
const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// Parses a whole source text.
pub(super) fn parse_source(source: &str, file: &str) -> Result<Dockerfile, ParseError> {
    let mut lexer = Lexer::new(source, file);
    let mut instructions = Vec::new();
    let mut warnings = Vec::new();
    while let Some(line) = lexer.next_line()? {
        let mut instruction = instruction_from_line(&line.text, lexer.escape(), 0)
            .map_err(|message| lexer.error(ParseErrorKind::Syntax, message, line.span.line))?;
        if line.empty_continuation {
            warnings.push(ParseWarning {
                line: line.span.line,
                message: format!("empty continuation line found in: {}", line.text.trim()),
            });
        }
        attach_heredocs(&mut lexer, &mut instruction, &line)?;
        let span = Span {
            line: line.span.line,
            end_line: lexer.current_line(),
        };
        instruction.span = span;
        if let Some(trigger) = instruction.onbuild.as_mut() {
            trigger.span = span;
        }
        instructions.push(instruction);
    }
    let (Some(first), Some(last)) = (instructions.first(), instructions.last()) else {
        let error = ParseError::new(ParseErrorKind::NoInstructions, "file with no instructions");
        return Err(error.located(lexer.file(), 0, None));
    };
    let span = Span {
        line: first.span.line,
        end_line: last.span.end_line,
    };
    let file_name = lexer.file().to_owned();
    let (directives, lines) = lexer.into_parts();
    Ok(Dockerfile {
        directives,
        instructions,
        span,
        warnings,
        file_name,
        lines,
    })
}

/// Reads the heredoc bodies of RUN/COPY/ADD in shell form (also as an ONBUILD trigger, where
/// they are attached to the trigger).
fn attach_heredocs(
    lexer: &mut Lexer<'_>,
    instruction: &mut Instruction,
    line: &LogicalLine,
) -> Result<(), ParseError> {
    let target = match instruction.onbuild.as_deref_mut() {
        Some(trigger) => trigger,
        None => instruction,
    };
    if !target.kind.accepts_heredocs() || target.json_form || !line.text.contains("<<") {
        return Ok(());
    }
    let markers = lexer::heredoc_markers(&line.text)
        .map_err(|message| lexer.error(ParseErrorKind::Syntax, message, line.span.line))?;
    for marker in markers {
        let heredoc = lexer.read_heredoc(marker, line.span.line)?;
        target.heredocs.push(heredoc);
    }
    Ok(())
}

/// Deepest ONBUILD nesting the parser builds. BuildKit's parser has no limit (its instruction
/// layer rejects any nesting); the cap keeps hostile input from exhausting the stack.
const MAX_ONBUILD_DEPTH: usize = 16;

/// One instruction from its logical line; errors are messages, located by the caller.
/// `depth` counts enclosing ONBUILDs.
fn instruction_from_line(line: &str, escape: char, depth: usize) -> Result<Instruction, String> {
    let (keyword, flags, rest) = split_command(line, escape);
    let kind = InstructionKind::from_keyword(&keyword);
    let mut instruction = Instruction {
        keyword,
        kind,
        original: line.to_owned(),
        flags: Flags::from_words(flags),
        args: Vec::new(),
        json_form: false,
        heredocs: Vec::new(),
        span: Span::default(),
        onbuild: None,
    };
    let (args, json_form) = match kind {
        InstructionKind::Add | InstructionKind::Copy | InstructionKind::Volume => {
            maybe_json_list(rest)?
        }
        InstructionKind::Run
        | InstructionKind::Cmd
        | InstructionKind::Entrypoint
        | InstructionKind::Shell => maybe_json(rest)?,
        InstructionKind::From | InstructionKind::Expose => (split_whitespace(rest), false),
        InstructionKind::Maintainer
        | InstructionKind::User
        | InstructionKind::Workdir
        | InstructionKind::Stopsignal => (whole(rest), false),
        InstructionKind::Arg => (parse_words(rest, escape), false),
        InstructionKind::Env => (name_values(rest, "ENV", escape)?, false),
        InstructionKind::Label => (name_values(rest, "LABEL", escape)?, false),
        InstructionKind::Healthcheck => healthcheck(rest)?,
        InstructionKind::Onbuild => {
            if depth >= MAX_ONBUILD_DEPTH {
                return Err("too many nested ONBUILD instructions".to_owned());
            }
            if !rest.is_empty() {
                let trigger = instruction_from_line(rest, escape, depth + 1)?;
                instruction.onbuild = Some(Box::new(trigger));
            }
            (Vec::new(), false)
        }
        InstructionKind::Unknown => (Vec::new(), false),
    };
    instruction.args = args;
    instruction.json_form = json_form;
    Ok(instruction)
}

/// The whitespace BuildKit splits arguments on (`[\t\v\f\r ]`).
fn is_arg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0b' | '\x0c' | '\r')
}

/// Keyword (lower-cased), flag words and the trimmed rest of the line.
fn split_command(line: &str, escape: char) -> (String, Vec<String>, &str) {
    let trimmed = line.trim();
    let Some(split) = trimmed.find(is_arg_space) else {
        return (trimmed.to_lowercase(), Vec::new(), "");
    };
    let keyword = trimmed[..split].to_lowercase();
    let rest = trimmed[split..].trim_start_matches(is_arg_space);
    let (flags, rest) = extract_flags(rest, escape);
    (keyword, flags, rest.trim())
}

/// Leading words that start with `--`, with quotes removed and escapes applied; a lone `--`
/// ends them and is dropped. Returns the flags and the text after them.
fn extract_flags(line: &str, escape: char) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start();
        if !trimmed.starts_with("--") {
            return (flags, trimmed);
        }
        let (word, end) = read_flag_word(trimmed, escape);
        let after = &trimmed[end..];
        if word == "--" {
            return (flags, after);
        }
        flags.push(word);
        if after.is_empty() {
            return (flags, after);
        }
        rest = after;
    }
}

/// One flag word; returns it and the byte offset where it ends.
fn read_flag_word(text: &str, escape: char) -> (String, usize) {
    let mut word = String::new();
    let mut quote = None;
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match quote {
            None if c.is_whitespace() => return (word, index),
            None if c == '\'' || c == '"' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ if c == escape => match chars.next() {
                Some((_, escaped)) => word.push(escaped),
                None => quote = None,
            },
            _ => word.push(c),
        }
    }
    (word, text.len())
}

fn whole(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        vec![rest.to_owned()]
    }
}

fn split_whitespace(rest: &str) -> Vec<String> {
    rest.split(is_arg_space)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// RUN, CMD, ENTRYPOINT, SHELL: a JSON string array, or the whole rest as one argument.
fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    match parse_json_array(rest) {
        Json::Strings(args) => Ok((args, true)),
        Json::NotStrings => Err(NOT_STRING_ARRAY.to_owned()),
        Json::Invalid => Ok((vec![rest.to_owned()], false)),
    }
}

/// ADD, COPY, VOLUME: a JSON string array, or the rest split on whitespace.
fn maybe_json_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    match parse_json_array(rest) {
        Json::Strings(args) => Ok((args, true)),
        Json::NotStrings => Err(NOT_STRING_ARRAY.to_owned()),
        Json::Invalid => Ok((split_whitespace(rest), false)),
    }
}

/// HEALTHCHECK: the type word (`CMD`, `NONE`, as written), then the rest as for CMD.
fn healthcheck(rest: &str) -> Result<(Vec<String>, bool), String> {
    let is_space = |c: char| c.is_ascii_whitespace() || c == '\x0b';
    let split = rest.find(is_space).unwrap_or(rest.len());
    if split == 0 {
        return Ok((Vec::new(), false));
    }
    let (kind, command) = rest.split_at(split);
    let (mut args, json_form) = maybe_json(command.trim_start_matches(is_space))?;
    args.insert(0, kind.to_owned());
    Ok((args, json_form))
}

/// Splits into words at unquoted whitespace, keeping quotes and escapes in the words (the
/// escape char also protects a quote or a space). Used for ARG, ENV and LABEL.
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == escape && q != '\'' {
                match chars.next() {
                    Some(next) => {
                        word.push(c);
                        word.push(next);
                    }
                    None => quote = None,
                }
                continue;
            }
            word.push(c);
            continue;
        }
        if c.is_whitespace() {
            if in_word && (blank_ok || !word.is_empty()) {
                words.push(std::mem::take(&mut word));
            }
            in_word = false;
            blank_ok = false;
            continue;
        }
        in_word = true;
        if c == '\'' || c == '"' {
            quote = Some(c);
            blank_ok = true;
        } else if c == escape {
            if let Some(next) = chars.next() {
                word.push(c);
                word.push(next);
            }
            continue;
        }
        word.push(c);
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// ENV and LABEL: `key value with spaces` (legacy, separator "") or `k=v k2="v 2"`
/// (separator "="), as key, value, separator triples.
fn name_values(rest: &str, instruction: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let Some(split) = rest.find(is_arg_space) else {
            return Err(format!("{instruction} must have two arguments"));
        };
        let value = rest[split..].trim_start_matches(is_arg_space);
        return Ok(vec![
            rest[..split].to_owned(),
            value.to_owned(),
            String::new(),
        ]);
    }
    let mut args = Vec::with_capacity(words.len() * 3);
    for word in &words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "syntax error - can't find = in {}. Must be of the form: name=value",
                super::go_quote(word)
            ));
        };
        args.extend([key.to_owned(), value.to_owned(), "=".to_owned()]);
    }
    Ok(args)
}

/// Outcome of reading the arguments as JSON.
enum Json {
    /// A JSON array of strings.
    Strings(Vec<String>),
    /// Valid JSON array, but an element is not a string: an error in BuildKit.
    NotStrings,
    /// Not JSON (or not starting with `[`): the shell form applies.
    Invalid,
}

fn parse_json_array(text: &str) -> Json {
    let text = text.trim_start();
    if !text.starts_with('[') {
        return Json::Invalid;
    }
    let mut reader = JsonReader {
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let Some(JsonValue::Array(items)) = reader.value() else {
        return Json::Invalid;
    };
    reader.skip_space();
    if reader.pos != reader.bytes.len() {
        return Json::Invalid;
    }
    let mut strings = Vec::with_capacity(items.len());
    for item in items {
        match item {
            JsonValue::String(s) => strings.push(s),
            _ => return Json::NotStrings,
        }
    }
    Json::Strings(strings)
}

/// A JSON value as far as the parser cares: only top-level strings are kept.
enum JsonValue {
    String(String),
    Array(Vec<JsonValue>),
    Other,
}

/// A strict JSON reader (RFC 8259, as Go's encoding/json accepts it), enough to tell exec
/// form from shell form. Nesting is capped so hostile input cannot exhaust the stack.
struct JsonReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

const MAX_JSON_DEPTH: usize = 512;

impl JsonReader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        if matched {
            self.pos += 1;
        }
        matched
    }

    fn value(&mut self) -> Option<JsonValue> {
        self.skip_space();
        match self.peek()? {
            b'"' => self.string().map(JsonValue::String),
            b'[' => self
                .nested(b'[', b']', |r| r.value().map(Some))
                .map(JsonValue::Array),
            b'{' => self
                .nested(b'{', b'}', JsonReader::member)
                .map(|_| JsonValue::Other),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.number(),
        }
    }

    /// An object member `"key": value`; nothing is kept.
    fn member(&mut self) -> Option<Option<JsonValue>> {
        self.skip_space();
        self.string()?;
        self.skip_space();
        self.eat(b':').then_some(())?;
        self.value()?;
        Some(None)
    }

    /// `[a, b]` or `{m, n}` with `item` reading one element.
    fn nested(
        &mut self,
        open: u8,
        close: u8,
        item: impl Fn(&mut Self) -> Option<Option<JsonValue>>,
    ) -> Option<Vec<JsonValue>> {
        self.depth += 1;
        if self.depth > MAX_JSON_DEPTH || !self.eat(open) {
            return None;
        }
        let mut items = Vec::new();
        self.skip_space();
        if !self.eat(close) {
            loop {
                items.extend(item(self)?);
                self.skip_space();
                if self.eat(close) {
                    break;
                }
                self.eat(b',').then_some(())?;
            }
        }
        self.depth -= 1;
        Some(items)
    }

    fn literal(&mut self, word: &str) -> Option<JsonValue> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word.as_bytes()).then_some(())?;
        self.pos = end;
        Some(JsonValue::Other)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Option<JsonValue> {
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return None;
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            (self.digits() > 0).then_some(())?;
        }
        Some(JsonValue::Other)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = std::str::from_utf8(self.bytes.get(self.pos..self.pos + 4)?).ok()?;
        let value = u32::from_str_radix(digits, 16).ok()?;
        digits
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then_some(())?;
        self.pos += 4;
        Some(value)
    }

    /// A `\u` escape after the `\u` itself, pairing surrogates; lone surrogates become
    /// U+FFFD as in Go.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first)
            && self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u")
        {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Some(char::from_u32(combined).unwrap_or('\u{fffd}'));
            }
            self.pos = save;
        }
        Some(char::from_u32(first).unwrap_or('\u{fffd}'))
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"').then_some(())?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let byte = self.peek()?;
            self.pos += 1;
            match byte {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                0..0x20 => return None,
                b'\\' => {
                    let escaped = self.peek()?;
                    self.pos += 1;
                    let c = match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(byte),
            }
        }
    }
}

/// The checks behind [`Dockerfile::validate`].
pub(super) fn validate(file: &Dockerfile) -> Result<(), ParseError> {
    for instruction in &file.instructions {
        check_instruction(file, instruction, false)?;
    }
    let mut seen_from = false;
    for instruction in &file.instructions {
        match instruction.kind {
            InstructionKind::From => seen_from = true,
            InstructionKind::Arg => {}
            _ if !seen_from => {
                let message = "no build stage in current context".to_owned();
                return Err(located(
                    file,
                    instruction,
                    0,
                    ParseErrorKind::NoStage,
                    message,
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_instruction(
    file: &Dockerfile,
    instruction: &Instruction,
    trigger: bool,
) -> Result<(), ParseError> {
    let word = usize::from(trigger);
    let written = instruction
        .original
        .split_whitespace()
        .next()
        .unwrap_or_default();
    if instruction.kind == InstructionKind::Unknown {
        let suggestion = suggest(&instruction.keyword);
        let mut message = format!("unknown instruction: {written}");
        if let Some(known) = &suggestion {
            message.push_str(&format!(" (did you mean {known}?)"));
        }
        let kind = ParseErrorKind::UnknownInstruction { suggestion };
        return Err(located(file, instruction, word, kind, message));
    }
    if trigger {
        let message = match instruction.kind {
            InstructionKind::Onbuild => {
                Some("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            }
            InstructionKind::From => Some("FROM isn't allowed as an ONBUILD trigger"),
            InstructionKind::Maintainer => Some("MAINTAINER isn't allowed as an ONBUILD trigger"),
            _ => None,
        };
        if let Some(message) = message {
            let kind = ParseErrorKind::Onbuild;
            return Err(located(file, instruction, word, kind, message.to_owned()));
        }
    }
    if let Err(error) = instruction.check_flags() {
        let mut located = located(
            file,
            instruction,
            0,
            ParseErrorKind::Flag,
            error.to_string(),
        );
        if let Some(line) = &located.source_line {
            if let Some(byte) = line.find(&format!("--{}", error.name())) {
                located.column = Some(line[..byte].chars().count() + 1);
            }
        }
        return Err(located);
    }
    match &instruction.onbuild {
        Some(inner) => check_instruction(file, inner, true),
        None => Ok(()),
    }
}

/// An error at the instruction's first line, with the caret under whitespace-separated word
/// number `word` of that line (0 = the keyword).
fn located(
    file: &Dockerfile,
    instruction: &Instruction,
    word: usize,
    kind: ParseErrorKind,
    message: String,
) -> ParseError {
    let line = instruction.span.line;
    let source = file.source_line(line);
    let error = ParseError::new(kind, message).located(&file.file_name, line, source);
    match source.and_then(|text| word_column(text, word)) {
        Some(column) => error.with_column(column),
        None => error,
    }
}

/// 1-based character column of the `index`-th whitespace-separated word.
fn word_column(line: &str, index: usize) -> Option<usize> {
    let mut seen = 0;
    let mut previous_space = true;
    for (column, c) in line.chars().enumerate() {
        if !c.is_whitespace() && previous_space {
            if seen == index {
                return Some(column + 1);
            }
            seen += 1;
        }
        previous_space = c.is_whitespace();
    }
    None
}

/// The closest known keyword (upper case) within edit distance 2, if any.
fn suggest(keyword: &str) -> Option<String> {
    let length = keyword.chars().count();
    InstructionKind::keywords()
        .map(|known| (edit_distance(keyword, known), known))
        .filter(|&(distance, _)| distance <= 2 && distance < length)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, known)| known.to_uppercase())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
