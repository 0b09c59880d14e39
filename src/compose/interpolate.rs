//! `${VAR}` interpolation, as Compose applies it to every string value of every file before
//! anything else looks at it (keys are left alone).
//!
//! Supported forms: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
//! `${VAR?message}`, `${VAR:+alternative}`, `${VAR+alternative}` and `$$` for a literal `$`.
//! The word after the operator is itself a template, so `${A:-${B:-x}}` nests; it is only
//! evaluated when it is used, so an unset `B` there neither warns nor fails while `A` is set.

use serde_json::Value;

use super::error::KeyPath;

/// Where variable values come from: the process environment first, then the `.env` file.
pub(super) trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Why a template could not be expanded; the caller adds the file and key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TemplateError {
    /// A `$` not followed by a name, `{` or `$`, or an unclosed or malformed `${...}`.
    Syntax(String),
    /// `${VAR:?message}` with VAR unset or empty, `${VAR?message}` with VAR unset.
    Required { name: String, message: String },
}

impl TemplateError {
    pub(super) fn message(&self) -> String {
        match self {
            Self::Syntax(text) => format!(
                "invalid interpolation format {text:?}: you may need to escape a `$` as `$$`"
            ),
            Self::Required { name, message } if message.is_empty() => {
                format!("required variable {name} is missing a value")
            }
            Self::Required { name, message } => {
                format!("required variable {name} is missing a value: {message}")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Default,
    Required,
    Alternative,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable {
        name: String,
        /// The operator, whether it had a `:` (which makes an empty value count as unset), and
        /// the word after it.
        modifier: Option<(Operator, bool, Vec<Part>)>,
    },
}

/// Expands `text`. Names of unset variables used without a default are added to `unset`
/// (once each) so the caller can warn about them.
pub(super) fn expand(
    text: &str,
    lookup: &dyn Lookup,
    unset: &mut Vec<String>,
) -> Result<String, TemplateError> {
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut position = 0;
    let parts = parse(&chars, &mut position, false)
        .ok_or_else(|| TemplateError::Syntax(text.to_owned()))?;
    let mut out = String::new();
    evaluate(&parts, lookup, unset, &mut out)?;
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses a template until the end of the text, or (inside a `${...}` word) until the closing
/// brace, which is left for the caller. `None` on a syntax error.
fn parse(chars: &[char], position: &mut usize, in_braces: bool) -> Option<Vec<Part>> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    while let Some(&c) = chars.get(*position) {
        if c == '}' && in_braces {
            break;
        }
        *position += 1;
        if c != '$' {
            literal.push(c);
            continue;
        }
        match chars.get(*position) {
            Some('$') => {
                *position += 1;
                literal.push('$');
            }
            Some('{') => {
                *position += 1;
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(parse_braced(chars, position)?);
            }
            Some(&next) if is_name_start(next) => {
                let start = *position;
                while chars.get(*position).is_some_and(|&c| is_name_char(c)) {
                    *position += 1;
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Variable {
                    name: chars[start..*position].iter().collect(),
                    modifier: None,
                });
            }
            _ => return None,
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Some(parts)
}

/// Parses what follows `${`, up to and including the closing `}`.
fn parse_braced(chars: &[char], position: &mut usize) -> Option<Part> {
    let start = *position;
    while chars.get(*position).is_some_and(|&c| is_name_char(c)) {
        *position += 1;
    }
    let name: String = chars[start..*position].iter().collect();
    if name.is_empty() || !name.starts_with(is_name_start) {
        return None;
    }
    let colon = chars.get(*position) == Some(&':');
    if colon {
        *position += 1;
    }
    let operator = match chars.get(*position)? {
        '}' if !colon => {
            *position += 1;
            return Some(Part::Variable {
                name,
                modifier: None,
            });
        }
        '-' => Operator::Default,
        '?' => Operator::Required,
        '+' => Operator::Alternative,
        _ => return None,
    };
    *position += 1;
    let word = parse(chars, position, true)?;
    if chars.get(*position) != Some(&'}') {
        return None;
    }
    *position += 1;
    Some(Part::Variable {
        name,
        modifier: Some((operator, colon, word)),
    })
}

fn evaluate(
    parts: &[Part],
    lookup: &dyn Lookup,
    unset: &mut Vec<String>,
    out: &mut String,
) -> Result<(), TemplateError> {
    for part in parts {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Variable { name, modifier } => {
                let value = lookup.get(name);
                let Some((operator, colon, word)) = modifier else {
                    match value {
                        Some(value) => out.push_str(&value),
                        None if !unset.contains(name) => unset.push(name.clone()),
                        None => {}
                    }
                    continue;
                };
                // With a colon an empty value counts as unset.
                let present = value
                    .as_ref()
                    .is_some_and(|value| !*colon || !value.is_empty());
                match (operator, present) {
                    (Operator::Default | Operator::Required, true) => {
                        out.push_str(value.as_deref().unwrap_or_default());
                    }
                    (Operator::Default, false) | (Operator::Alternative, true) => {
                        evaluate(word, lookup, unset, out)?;
                    }
                    (Operator::Alternative, false) => {}
                    (Operator::Required, false) => {
                        let mut message = String::new();
                        evaluate(word, lookup, unset, &mut message)?;
                        return Err(TemplateError::Required {
                            name: name.clone(),
                            message,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Interpolates every string value in `value`, in place. Errors carry the key path.
pub(super) fn interpolate_tree(
    value: &mut Value,
    path: &KeyPath,
    lookup: &dyn Lookup,
    unset: &mut Vec<String>,
) -> Result<(), (KeyPath, TemplateError)> {
    match value {
        Value::String(text) => {
            *text = expand(text, lookup, unset).map_err(|error| (path.clone(), error))?;
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &path.index(index), lookup, unset)?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                interpolate_tree(item, &path.key(key), lookup, unset)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<(String, Vec<String>), TemplateError> {
        let lookup = |name: &str| match name {
            "SET" => Some("value".to_owned()),
            "EMPTY" => Some(String::new()),
            "B" => Some("bee".to_owned()),
            _ => None,
        };
        let mut unset = Vec::new();
        let out = expand(text, &lookup, &mut unset)?;
        Ok((out, unset))
    }

    fn ok(text: &str) -> String {
        run(text).unwrap().0
    }

    #[test]
    fn plain_forms() {
        assert_eq!(ok("no vars"), "no vars");
        assert_eq!(ok("$SET"), "value");
        assert_eq!(ok("${SET}"), "value");
        assert_eq!(ok("a-$SET-b"), "a-value-b");
        assert_eq!(ok("$SET.x"), "value.x");
        assert_eq!(ok("$$SET"), "$SET");
        assert_eq!(ok("cost: $$5"), "cost: $5");
    }

    #[test]
    fn unset_warns_once() {
        let (out, unset) = run("${NOPE}$NOPE").unwrap();
        assert_eq!(out, "");
        assert_eq!(unset, ["NOPE"]);
    }

    #[test]
    fn defaults() {
        assert_eq!(ok("${NOPE:-dflt}"), "dflt");
        assert_eq!(ok("${EMPTY:-dflt}"), "dflt");
        assert_eq!(ok("${SET:-dflt}"), "value");
        assert_eq!(ok("${NOPE-dflt}"), "dflt");
        assert_eq!(ok("${EMPTY-dflt}"), "");
        assert_eq!(ok("${NOPE:-}"), "");
        assert_eq!(ok("${NOPE:-a b:c/d}"), "a b:c/d");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(ok("${NOPE:-${B}}"), "bee");
        assert_eq!(ok("${NOPE:-${ALSO:-x${B}y}}"), "xbeey");
        // The unused word is not evaluated: no warning, no error.
        assert_eq!(run("${SET:-${UNSET_TOO}}").unwrap().1, Vec::<String>::new());
        assert_eq!(ok("${SET:-${X:?boom}}"), "value");
    }

    #[test]
    fn alternatives() {
        assert_eq!(ok("${SET:+alt}"), "alt");
        assert_eq!(ok("${EMPTY:+alt}"), "");
        assert_eq!(ok("${EMPTY+alt}"), "alt");
        assert_eq!(ok("${NOPE+alt}"), "");
    }

    #[test]
    fn required() {
        assert_eq!(ok("${SET:?msg}"), "value");
        assert_eq!(ok("${EMPTY?msg}"), "");
        let error = run("${EMPTY:?need it}").unwrap_err();
        assert_eq!(
            error.message(),
            "required variable EMPTY is missing a value: need it"
        );
        let error = run("${NOPE?}").unwrap_err();
        assert_eq!(error.message(), "required variable NOPE is missing a value");
        let error = run("${NOPE:?set ${B}}").unwrap_err();
        assert_eq!(
            error.message(),
            "required variable NOPE is missing a value: set bee"
        );
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "$", "a $ b", "${", "${SET", "${}", "${1A}", "${A:x}", "${A:-x", "$-",
        ] {
            assert!(
                matches!(run(bad), Err(TemplateError::Syntax(_))),
                "{bad} should be a syntax error"
            );
        }
    }
}
