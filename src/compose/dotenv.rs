//! The `.env` format, for the project's `.env` (or `--env-file`) and for a service's
//! `env_file`, following Compose's dotenv parser:
//!
//! - `KEY=VALUE`, optionally prefixed with `export `; blank lines and `#` comments are skipped;
//! - `'single quoted'` values are literal and may span lines;
//! - `"double quoted"` values understand `\n`, `\r`, `\t`, `\\`, `\"` and `\$`, may span lines,
//!   and expand `${X}`;
//! - unquoted values are trimmed, lose an inline comment that starts with ` #`, and expand
//!   `${X}`;
//! - expansions see the process environment first, then the variables defined earlier in the
//!   same file (Compose's order); an unset one is empty, without a warning;
//! - a line with a bare `KEY` takes KEY from the process environment, and is skipped when it is
//!   not set there.

use indexmap::IndexMap;

use super::interpolate::{Lookup, TemplateError, expand};

/// A bad entry: its 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DotenvError {
    pub(super) line: usize,
    pub(super) message: String,
}

/// Parses the text of a `.env` file. `environ` is the process environment.
pub(super) fn parse_dotenv(
    text: &str,
    environ: &dyn Lookup,
) -> Result<IndexMap<String, String>, DotenvError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut variables = IndexMap::new();
    let mut index = 0;
    while index < lines.len() {
        let line_number = index + 1;
        let error = |message: String| DotenvError {
            line: line_number,
            message,
        };
        let line = lines[index].trim_start();
        index += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, raw)) = line.split_once('=') else {
            let key = line.trim_end();
            check_key(key).map_err(error)?;
            if let Some(value) = environ.get(key) {
                variables.insert(key.to_owned(), value);
            }
            continue;
        };
        let key = key.trim_end();
        check_key(key).map_err(error)?;
        let raw = raw.trim_start();
        let value = if let Some(rest) = raw.strip_prefix('\'') {
            let (content, after) =
                take_quoted(rest, &lines, &mut index, find_single_quote).map_err(error)?;
            check_after_quote(after).map_err(error)?;
            content
        } else if let Some(rest) = raw.strip_prefix('"') {
            let (content, after) =
                take_quoted(rest, &lines, &mut index, find_double_quote).map_err(error)?;
            check_after_quote(after).map_err(error)?;
            expand_value(&unescape_double(&content), environ, &variables).map_err(error)?
        } else {
            expand_value(strip_inline_comment(raw).trim_end(), environ, &variables)
                .map_err(error)?
        };
        variables.insert(key.to_owned(), value);
    }
    Ok(variables)
}

fn check_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        Ok(())
    } else {
        Err(format!("invalid variable name {key:?}"))
    }
}

/// Collects a quoted value that may continue on the following lines. Returns the content and
/// what follows the closing quote on its line.
fn take_quoted<'a>(
    first: &'a str,
    lines: &[&'a str],
    index: &mut usize,
    find_end: fn(&str) -> Option<usize>,
) -> Result<(String, &'a str), String> {
    let mut content = String::new();
    let mut current = first;
    loop {
        if let Some(end) = find_end(current) {
            content.push_str(&current[..end]);
            return Ok((content, &current[end + 1..]));
        }
        content.push_str(current);
        let Some(next) = lines.get(*index) else {
            return Err("unterminated quoted value".to_owned());
        };
        content.push('\n');
        current = next;
        *index += 1;
    }
}

fn find_single_quote(text: &str) -> Option<usize> {
    text.find('\'')
}

fn find_double_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (position, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(position),
            _ => {}
        }
    }
    None
}

fn check_after_quote(after: &str) -> Result<(), String> {
    let after = after.trim_start();
    if after.is_empty() || after.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected text {after:?} after the closing quote"))
    }
}

/// Unescapes a double-quoted value; `\$` becomes `$$` so the expansion that follows keeps a
/// literal `$`.
fn unescape_double(content: &str) -> String {
    let mut out = String::new();
    let mut chars = content.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(c @ ('\\' | '"')) => out.push(c),
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Drops ` # comment` from an unquoted value (a `#` right after a non-space is kept).
fn strip_inline_comment(raw: &str) -> &str {
    let mut previous_space = true;
    for (position, c) in raw.char_indices() {
        if c == '#' && previous_space {
            return &raw[..position];
        }
        previous_space = c.is_whitespace();
    }
    raw
}

fn expand_value(
    value: &str,
    environ: &dyn Lookup,
    earlier: &IndexMap<String, String>,
) -> Result<String, String> {
    let lookup = |name: &str| environ.get(name).or_else(|| earlier.get(name).cloned());
    let mut unset = Vec::new();
    expand(value, &lookup, &mut unset).map_err(|error: TemplateError| error.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IndexMap<String, String> {
        let environ = |name: &str| (name == "FROM_ENV").then(|| "env".to_owned());
        parse_dotenv(text, &environ).unwrap()
    }

    #[test]
    fn syntax() {
        let variables = parse(
            "# comment\n\nA=1\nexport B=two words  \nC='lit $A \\n'\nD=\"x\\ny $A \\$A\"\nE=v # comment\nF=a#b\nG=\nH=${A}-${NOPE:-dflt}\nFROM_ENV\nNOT_IN_ENV\n  I = spaced\n",
        );
        let expected = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "lit $A \\n"),
            ("D", "x\ny 1 $A"),
            ("E", "v"),
            ("F", "a#b"),
            ("G", ""),
            ("H", "1-dflt"),
            ("FROM_ENV", "env"),
            ("I", "spaced"),
        ];
        let got: Vec<(&str, &str)> = variables
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn environment_wins_in_references() {
        assert_eq!(parse("FROM_ENV=file\nX=${FROM_ENV}")["X"], "env");
    }

    #[test]
    fn multi_line_quotes() {
        let variables = parse("K=\"line1\nline2\"\nL='a\nb' # c\nM=1\n");
        assert_eq!(variables["K"], "line1\nline2");
        assert_eq!(variables["L"], "a\nb");
        assert_eq!(variables["M"], "1");
    }

    #[test]
    fn errors_name_the_line() {
        let environ = |_: &str| None;
        let error = parse_dotenv("A=1\nBAD KEY=2\n", &environ).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("invalid variable name"));
        let error = parse_dotenv("A='open\n", &environ).unwrap_err();
        assert_eq!(error.message, "unterminated quoted value");
        let error = parse_dotenv("A=${B:?needed}\n", &environ).unwrap_err();
        assert_eq!(
            error.message,
            "required variable B is missing a value: needed"
        );
    }
}
