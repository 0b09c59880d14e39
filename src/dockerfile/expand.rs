//! Shell-word expansion with BuildKit's semantics (its `shell.Lex`), used by the builder for
//! ENV, ARG, LABEL, COPY, WORKDIR, ... arguments: quote removal, the escape character, `$VAR`,
//! `${VAR}` and the modifiers `:-` `-` `:+` `+` `:?` `?` `#` `##` `%` `%%` `/` `//`.
//!
//! This is not a shell: there is no command substitution, arithmetic or globbing of file
//! names, and unset variables expand to nothing (positional and special parameters such as
//! `$1` or `$@` are never set). It is checked against BuildKit's `envVarTest` and `wordsTest`
//! vectors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

use super::error::{ExpandError, ExpandErrorReason as Reason};

/// Where variable values come from.
pub trait Env {
    /// The value of `name`, or `None` when it is not set (set-but-empty is `Some("")`, which
    /// matters for `${VAR-x}` versus `${VAR:-x}`).
    fn get(&self, name: &str) -> Option<&str>;
}

/// An environment with no variables set.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

impl<S: BuildHasher> Env for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// Ordered pairs; a later pair overrides an earlier one, as in a Dockerfile's ENV sequence.
impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The result of [`expand`]: the single-word value, the split words, and which variables the
/// text referred to (the builder warns about or rejects undeclared build args).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// The text as one word: quotes removed, escapes processed, variables expanded.
    pub value: String,
    /// The text split into words: unquoted expansions split at whitespace.
    pub words: Vec<String>,
    /// Every variable name looked up, set or not.
    pub referenced: BTreeSet<String>,
    /// The referenced names that were not set.
    pub unset: BTreeSet<String>,
}

/// Expands `word` as one word (no splitting): `he"l l"o$X` with X=1 gives `hel lo1`.
pub fn expand_word(word: &str, env: &dyn Env, escape: char) -> Result<String, ExpandError> {
    expand(word, env, escape).map(|e| e.value)
}

/// Expands `text` and splits it into words the way BuildKit does for `wordsTest`: quoted
/// parts and escaped whitespace stay together, unquoted variable values split at whitespace.
pub fn expand_words(text: &str, env: &dyn Env, escape: char) -> Result<Vec<String>, ExpandError> {
    expand(text, env, escape).map(|e| e.words)
}

/// Expands `text` and reports both forms plus the variables referenced.
pub fn expand(text: &str, env: &dyn Env, escape: char) -> Result<Expansion, ExpandError> {
    run(text, env, escape, Mode::default())
}

/// Every variable name `text` refers to, in any branch (`${A:-$B}` names A and B), without
/// needing values. Fails only on syntax errors such as an unterminated quote or `${`.
pub fn referenced_vars(text: &str, escape: char) -> Result<BTreeSet<String>, ExpandError> {
    let mode = Mode {
        collect_only: true,
        ..Mode::default()
    };
    run(text, &EmptyEnv, escape, mode).map(|e| e.referenced)
}

/// Lexer switches BuildKit uses internally (heredoc detection keeps quotes and escapes).
#[derive(Debug, Clone, Copy, Default)]
struct Mode {
    raw_quotes: bool,
    raw_escapes: bool,
    skip_unset: bool,
    /// Never fail on `${VAR?}`: used to list references without an environment.
    collect_only: bool,
}

fn run(text: &str, env: &dyn Env, escape: char, mode: Mode) -> Result<Expansion, ExpandError> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        env,
        escape,
        mode,
        depth: 0,
        referenced: BTreeSet::new(),
        unset: BTreeSet::new(),
    };
    match lexer.process_until(None, mode.raw_escapes) {
        Ok((value, words)) => Ok(Expansion {
            value,
            words,
            referenced: lexer.referenced,
            unset: lexer.unset,
        }),
        Err(reason) => Err(ExpandError {
            input: text.to_owned(),
            reason,
        }),
    }
}

/// Splits a Dockerfile line into words keeping quotes and escapes, as BuildKit does to find
/// heredoc markers (`<<EOF`, but not `"<<EOF"` or `\<<EOF`). Unparsable text has no words.
pub(super) fn split_raw_words(line: &str) -> Vec<String> {
    let mode = Mode {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        collect_only: true,
    };
    run(line, &EmptyEnv, '\\', mode)
        .map(|e| e.words)
        .unwrap_or_default()
}

/// The heredoc name in the text after `<<`/`<<-`: quotes removed, and whether the body may be
/// expanded (false when any part of the name was quoted). `None` when it is not one word.
pub(super) fn heredoc_name(rest: &str) -> Result<Option<(String, bool)>, ExpandError> {
    let plain = Mode {
        skip_unset: true,
        collect_only: true,
        ..Mode::default()
    };
    let words = run(rest, &EmptyEnv, '\\', plain)?.words;
    let [word] = words.as_slice() else {
        return Ok(None);
    };
    let raw = Mode {
        raw_quotes: true,
        ..plain
    };
    let raw_words = run(rest, &EmptyEnv, '\\', raw)?.words;
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();
    let raw_quotes = raw_words.first().map_or(0, |w| quotes(w));
    Ok(Some((word.clone(), quotes(word) == raw_quotes)))
}

/// Accumulates the word-split form next to the single-word form.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    /// An unquoted character: whitespace ends the current word.
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

struct Lexer<'e> {
    chars: Vec<char>,
    pos: usize,
    env: &'e dyn Env,
    escape: char,
    mode: Mode,
    /// Current `${` nesting, capped so hostile input cannot exhaust the stack.
    depth: usize,
    referenced: BTreeSet<String>,
    unset: BTreeSet<String>,
}

/// Deepest `${...${...}}` nesting accepted; real Dockerfiles use two or three levels.
const MAX_DEPTH: usize = 64;

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        self.referenced.insert(name.to_owned());
        let value = self.env.get(name).map(str::to_owned);
        if value.is_none() {
            self.unset.insert(name.to_owned());
        }
        value
    }

    /// Processes up to `stop` (consumed) or the end of the text. Returns the single-word
    /// form and the split words.
    fn process_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), Reason> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match c {
                '\'' | '"' => {
                    let quoted = if c == '\'' {
                        self.single_quoted()?
                    } else {
                        self.double_quoted()?
                    };
                    result.push_str(&quoted);
                    words.add_raw_string(&quoted);
                }
                '$' => {
                    let value = self.dollar()?;
                    result.push_str(&value);
                    words.add_string(&value);
                }
                _ => {
                    self.pos += 1;
                    if c != self.escape {
                        words.add_char(c);
                        result.push(c);
                        continue;
                    }
                    if raw_escapes {
                        words.add_raw_char(c);
                        result.push(c);
                    }
                    // A trailing escape is dropped (`hello\` gives `hello`).
                    let Some(escaped) = self.next() else { break };
                    words.add_raw_char(escaped);
                    result.push(escaped);
                }
            }
        }
        match stop {
            Some('/') => Err(Reason::MissingSlash),
            Some(_) => Err(Reason::MissingBrace),
            None => Ok((result, words.finish())),
        }
    }

    /// `'...'`: everything literal, the quote itself cannot be escaped.
    fn single_quoted(&mut self) -> Result<String, Reason> {
        let mut result = String::new();
        let open = self.next();
        if self.mode.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => return Err(Reason::UnterminatedSingleQuote),
                Some('\'') => {
                    if self.mode.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    /// `"..."`: `$` expands; the escape char escapes only `"`, `$` and itself, and stays
    /// literal before anything else (`"a\tb"` keeps the backslash).
    fn double_quoted(&mut self) -> Result<String, Reason> {
        let mut result = String::new();
        let open = self.next();
        if self.mode.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => return Err(Reason::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    if self.mode.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.dollar()?;
                    result.push_str(&value);
                }
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        if self.mode.raw_escapes {
                            result.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                self.pos += 1;
                                result.push(next);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(c);
                }
            }
        }
    }

    /// A variable name after `$`: letters, digits and `_`; or a run of digits (positional);
    /// or one special parameter character. Empty when none of these follows.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
                self.pos += 1;
                return c.to_string();
            }
            if !c.is_alphanumeric() && c != '_' {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// `$NAME` or `${...}`; the `$` is the current character.
    fn dollar(&mut self) -> Result<String, Reason> {
        self.pos += 1;
        if self.peek() != Some('{') {
            return Ok(self.plain_variable());
        }
        if self.depth >= MAX_DEPTH {
            return Err(Reason::TooDeep);
        }
        self.depth += 1;
        let result = self.braced();
        self.depth -= 1;
        result
    }

    /// `$NAME` after the `$`.
    fn plain_variable(&mut self) -> String {
        let name = self.name();
        if name.is_empty() {
            return "$".to_owned();
        }
        match self.lookup(&name) {
            Some(value) => value,
            None if self.mode.skip_unset => format!("${name}"),
            None => String::new(),
        }
    }

    /// `${...}`; the `{` is the current character.
    fn braced(&mut self) -> Result<String, Reason> {
        self.pos += 1;
        match self.peek() {
            None => return Err(Reason::MissingBrace),
            Some('{' | '}' | ':') => return Err(Reason::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        match self.next() {
            None => Err(Reason::MissingBrace),
            Some('}') => Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.mode.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some('/') => self.replace(&name),
            Some(':') => {
                let modifier = self.next();
                let mut text = String::from(":");
                text.extend(modifier);
                self.modifier(&name, modifier, true, text)
            }
            Some(c @ ('+' | '-' | '?' | '#' | '%')) => {
                self.modifier(&name, Some(c), false, c.to_string())
            }
            Some(c) => Err(Reason::UnsupportedModifier(c.to_string())),
        }
    }

    /// Processes the word of `${name<modifier>word}` up to the closing brace.
    fn braced_word(&mut self, raw_escapes: bool, stop: char) -> Result<String, Reason> {
        match self.process_until(Some(stop), raw_escapes) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() && stop == '}' => Err(Reason::MissingBrace),
            Err(_) if self.peek().is_none() => Err(Reason::MissingSlash),
            Err(reason) => Err(reason),
        }
    }

    /// `${name-word}` and friends; `null_is_unset` for the `:` forms.
    fn modifier(
        &mut self,
        name: &str,
        modifier: Option<char>,
        null_is_unset: bool,
        text: String,
    ) -> Result<String, Reason> {
        let pattern_op = matches!(modifier, Some('#' | '%'));
        if null_is_unset && pattern_op {
            return Err(Reason::UnsupportedModifier(text));
        }
        let word = self.braced_word(pattern_op, '}')?;
        let value = self.lookup(name);
        if self.mode.skip_unset && value.is_none() {
            return Ok(format!("${{{name}{text}{word}}}"));
        }
        let empty = match &value {
            None => true,
            Some(v) => null_is_unset && v.is_empty(),
        };
        match modifier {
            Some('-') => Ok(if empty {
                word
            } else {
                value.unwrap_or_default()
            }),
            Some('+') => Ok(if empty { String::new() } else { word }),
            Some('?') => {
                if empty && !self.mode.collect_only {
                    let default = match value {
                        None => "is not allowed to be unset",
                        Some(_) => "is not allowed to be empty",
                    };
                    let message = if word.is_empty() {
                        default.to_owned()
                    } else {
                        word
                    };
                    return Err(Reason::Required {
                        name: name.to_owned(),
                        message,
                    });
                }
                Ok(value.unwrap_or_default())
            }
            Some(op @ ('#' | '%')) => {
                let value = value.unwrap_or_default();
                let (longest, pattern) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let pattern = Pattern::new(pattern, self.escape);
                Ok(if op == '#' {
                    pattern.trim_prefix(&value, longest)
                } else {
                    pattern.trim_suffix(&value, longest)
                })
            }
            _ => Err(Reason::UnsupportedModifier(text)),
        }
    }

    /// `${name/pattern/replacement}` (first match) and `${name//pattern/replacement}` (all).
    fn replace(&mut self, name: &str) -> Result<String, Reason> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let pattern = self.braced_word(true, '/')?;
        let replacement = self.braced_word(false, '}')?;
        let value = self.lookup(name);
        let Some(value) = value else {
            if self.mode.skip_unset {
                let slashes = if all { "//" } else { "/" };
                return Ok(format!("${{{name}{slashes}{pattern}/{replacement}}}"));
            }
            return Ok(String::new());
        };
        Ok(Pattern::new(&pattern, self.escape).replace(&value, &replacement, all))
    }
}

/// One element of a shell pattern (`*`, `?`, `[...]`, literal).
#[derive(Debug, Clone)]
enum Token {
    Star,
    Any,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    Literal(char),
}

/// A shell glob pattern for `#`, `%` and `/` (matching text, not file names).
struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    fn new(pattern: &str, escape: char) -> Self {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            i += 1;
            let token = match c {
                '*' => Token::Star,
                '?' => Token::Any,
                '[' => match parse_class(&chars, i) {
                    Some((token, next)) => {
                        i = next;
                        token
                    }
                    None => Token::Literal('['),
                },
                c if c == escape => match chars.get(i) {
                    Some(&next) => {
                        i += 1;
                        Token::Literal(next)
                    }
                    None => Token::Literal(c),
                },
                c => Token::Literal(c),
            };
            tokens.push(token);
        }
        Self { tokens }
    }

    /// Whether the whole of `text` matches (wildcard matching with one backtrack point).
    fn matches(&self, text: &[char]) -> bool {
        let (mut t, mut p) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::Star) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(token) if token_matches(token, text[t]) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        p = star_p + 1;
                        t = star_t + 1;
                        star = Some((star_p, star_t + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p.min(self.tokens.len())..]
            .iter()
            .all(|token| matches!(token, Token::Star))
    }

    fn trim_prefix(&self, value: &str, longest: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut lengths: Box<dyn Iterator<Item = usize>> = if longest {
            Box::new((0..=chars.len()).rev())
        } else {
            Box::new(0..=chars.len())
        };
        match lengths.find(|&n| self.matches(&chars[..n])) {
            Some(n) => chars[n..].iter().collect(),
            None => value.to_owned(),
        }
    }

    fn trim_suffix(&self, value: &str, longest: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut starts: Box<dyn Iterator<Item = usize>> = if longest {
            Box::new(0..=chars.len())
        } else {
            Box::new((0..=chars.len()).rev())
        };
        match starts.find(|&n| self.matches(&chars[n..])) {
            Some(n) => chars[..n].iter().collect(),
            None => value.to_owned(),
        }
    }

    /// Replaces the leftmost-longest match (or every non-overlapping one with `all`).
    fn replace(&self, value: &str, replacement: &str, all: bool) -> String {
        if self.tokens.is_empty() {
            return value.to_owned();
        }
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut start = 0;
        let mut replaced = false;
        while start < chars.len() {
            let end = (!replaced || all)
                .then(|| {
                    (start..=chars.len())
                        .rev()
                        .find(|&end| self.matches(&chars[start..end]))
                })
                .flatten();
            match end {
                Some(end) if end > start => {
                    out.push_str(replacement);
                    replaced = true;
                    start = end;
                }
                _ => {
                    out.push(chars[start]);
                    start += 1;
                }
            }
        }
        out
    }
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Star | Token::Any => true,
        Token::Literal(l) => *l == c,
        Token::Class { negated, items } => {
            items.iter().any(|&(low, high)| low <= c && c <= high) != *negated
        }
    }
}

/// Parses `[...]` starting after the `[`; `None` when there is no closing `]`.
fn parse_class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let first = i;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && i > first {
            return Some((Token::Class { negated, items }, i + 1));
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&h| h != ']') {
            let high = *chars.get(i + 2)?;
            items.push((c, high));
            i += 3;
        } else {
            items.push((c, c));
            i += 1;
        }
    }
}
