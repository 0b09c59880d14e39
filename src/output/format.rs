//! `--format` as Docker parses it: `table`, `json`, `table TEMPLATE`, or a Go template, with a
//! subset of Go's text/template evaluated against each row serialised as JSON (Docker's field
//! names). Go's printing rules are kept: `[a b]` for lists, `map[k:v]` with sorted keys,
//! `<no value>` for a missing field, `<nil>` for null.
//!
//! Leaf module: uses nothing else of the crate but `super::table`.

use std::fmt::Write as _;

use serde_json::Value;

/// A `--format` value that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The template does not parse.
    #[error("template parsing error: template: :{position}: {message}")]
    Parse {
        /// Byte offset (1-based) in the template.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// The template failed on a value.
    #[error("template: executing: {0}")]
    Execute(String),
}

/// What `--format` asked for.
#[derive(Debug, Clone)]
pub enum Format {
    /// The command's default table.
    Table,
    /// One JSON object per line.
    Json,
    /// One rendered line per item.
    Template(Template),
    /// A header line and aligned rows.
    TableTemplate(Template),
}

/// Parses a `--format` value.
pub fn parse_format(text: &str) -> Result<Format, FormatError> {
    match text.trim() {
        "" | "table" => Ok(Format::Table),
        "json" => Ok(Format::Json),
        _ => match text.strip_prefix("table ") {
            Some(rest) => Ok(Format::TableTemplate(Template::parse(rest)?)),
            None => Ok(Format::Template(Template::parse(text)?)),
        },
    }
}

/// Renders a listing in the chosen format (see the module docs).
pub fn render_list(
    format: &Format,
    default_template: &str,
    items: &[Value],
    header_for: &dyn Fn(&str) -> Option<String>,
) -> Result<String, FormatError> {
    match format {
        Format::Table => match parse_format(default_template)? {
            Format::TableTemplate(template) => render_table(&template, items, header_for),
            other => render_list(&other, "", items, header_for),
        },
        Format::Json => Ok(items
            .iter()
            .map(|item| format!("{}\n", go_json(item)))
            .collect()),
        Format::Template(template) => {
            let mut out = String::new();
            for item in items {
                out.push_str(&template.render(item)?);
                out.push('\n');
            }
            Ok(out)
        }
        Format::TableTemplate(template) => render_table(template, items, header_for),
    }
}

fn render_table(
    template: &Template,
    items: &[Value],
    header_for: &dyn Fn(&str) -> Option<String>,
) -> Result<String, FormatError> {
    let mut text = template.render_header(header_for);
    text.push('\n');
    for item in items {
        text.push_str(&template.render(item)?);
        text.push('\n');
    }
    Ok(super::table::render(&text))
}

/// The `header_for` of a listing from its (field, column header) pairs: Docker's names.
pub fn headers(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |field| {
        pairs
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, header)| (*header).to_owned())
    }
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Vec<(Pipeline, Vec<Node>)>, Vec<Node>),
    Range {
        vars: Vec<String>,
        pipeline: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With(Pipeline, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Pipeline {
    declare: Option<String>,
    commands: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty path is `.`).
    Field(Vec<String>),
    /// `$x.A`.
    Variable(String, Vec<String>),
    Literal(Value),
    Function(String),
    Nested(Pipeline),
}

impl Template {
    /// Parses a Go template (after Docker's `\t`/`\n` escapes are expanded).
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let text = text.replace("\\t", "\t").replace("\\n", "\n");
        let tokens = lex(&text)?;
        let mut parser = Parser {
            tokens,
            position: 0,
            pending_else: None,
        };
        let (nodes, end) = parser.nodes()?;
        if let Some((keyword, at)) = end {
            return Err(FormatError::Parse {
                position: at,
                message: format!("unexpected {{{{{keyword}}}}}"),
            });
        }
        Ok(Self { nodes })
    }

    /// Renders the template for one item.
    pub fn render(&self, item: &Value) -> Result<String, FormatError> {
        let mut out = String::new();
        let mut scope = Scope {
            dot: item.clone(),
            vars: vec![("$".to_owned(), item.clone())],
        };
        execute(&self.nodes, &mut scope, &mut out)?;
        Ok(out)
    }

    /// The header line of a `table` template: `{{.Field}}` actions become the column names.
    pub fn render_header(&self, header_for: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Action(pipeline) => {
                    let field = pipeline
                        .commands
                        .iter()
                        .flatten()
                        .find_map(|arg| match arg {
                            Arg::Field(path) if !path.is_empty() => Some(path.join(".")),
                            _ => None,
                        });
                    if let Some(field) = field {
                        let last = field.rsplit('.').next().unwrap_or(&field).to_owned();
                        out.push_str(
                            &header_for(&field)
                                .or_else(|| header_for(&last))
                                .unwrap_or_else(|| last.to_uppercase()),
                        );
                    }
                }
                _ => {}
            }
        }
        out
    }
}

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    /// The inside of one `{{ … }}`, already split into words, with its position.
    Action(Vec<Word>, usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Word {
    Ident(String),
    Field(String),
    Variable(String),
    Str(String),
    Number(f64),
    Pipe,
    Open,
    Close,
    Comma,
    Declare,
}

fn lex(text: &str) -> Result<Vec<Token>, FormatError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        let mut literal = rest[..start].to_owned();
        let mut inner_start = start + 2;
        if rest[inner_start..].starts_with("- ") {
            literal.truncate(literal.trim_end().len());
            inner_start += 1;
        }
        let Some(end_rel) = rest[inner_start..].find("}}") else {
            return Err(FormatError::Parse {
                position: offset + start + 1,
                message: "unclosed action".to_owned(),
            });
        };
        let mut inner = &rest[inner_start..inner_start + end_rel];
        let mut after = inner_start + end_rel + 2;
        let trim_after = inner.ends_with(" -");
        if trim_after {
            inner = &inner[..inner.len() - 2];
        }
        if !literal.is_empty() {
            tokens.push(Token::Text(literal));
        }
        let inner_trimmed = inner.trim();
        if !(inner_trimmed.starts_with("/*") && inner_trimmed.ends_with("*/")) {
            tokens.push(Token::Action(
                words(inner, offset + inner_start + 1)?,
                offset + inner_start + 1,
            ));
        }
        if trim_after {
            let skipped = rest[after..].len() - rest[after..].trim_start().len();
            after += skipped;
        }
        offset += after;
        rest = &rest[after..];
    }
    if !rest.is_empty() {
        tokens.push(Token::Text(rest.to_owned()));
    }
    Ok(tokens)
}

fn words(text: &str, position: usize) -> Result<Vec<Word>, FormatError> {
    let error = |message: String| FormatError::Parse { position, message };
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '|' => {
                words.push(Word::Pipe);
                i += 1;
            }
            '(' => {
                words.push(Word::Open);
                i += 1;
            }
            ')' => {
                words.push(Word::Close);
                i += 1;
            }
            ',' => {
                words.push(Word::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                words.push(Word::Declare);
                i += 2;
            }
            '=' => {
                words.push(Word::Declare);
                i += 1;
            }
            '"' | '`' => {
                let quote = c;
                let mut value = String::new();
                i += 1;
                loop {
                    let Some(&next) = chars.get(i) else {
                        return Err(error("unterminated quoted string".to_owned()));
                    };
                    i += 1;
                    if next == quote {
                        break;
                    }
                    if next == '\\' && quote == '"' {
                        let escaped = chars.get(i).copied().unwrap_or('\\');
                        i += 1;
                        value.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    } else {
                        value.push(next);
                    }
                }
                words.push(Word::Str(value));
            }
            '.' | '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && (is_name(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                words.push(if c == '.' {
                    Word::Field(word)
                } else {
                    Word::Variable(word)
                });
            }
            _ if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                words.push(Word::Number(
                    word.parse()
                        .map_err(|_| error(format!("bad number syntax: {word:?}")))?,
                ));
            }
            _ if is_name(c) => {
                let start = i;
                while i < chars.len() && is_name(chars[i]) {
                    i += 1;
                }
                words.push(Word::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(error(format!("unexpected {other:?} in command"))),
        }
    }
    Ok(words)
}

// ---------------------------------------------------------------- parsing

struct Parser {
    tokens: Vec<Token>,
    position: usize,
    /// The words after `else` of the last `{{else …}}` seen (for `else if`).
    pending_else: Option<Vec<Word>>,
}

type End = Option<(String, usize)>;

impl Parser {
    /// Nodes up to an `end`/`else` (returned with its position) or the end of input.
    fn nodes(&mut self) -> Result<(Vec<Node>, End), FormatError> {
        let mut nodes = Vec::new();
        while let Some(token) = self.tokens.get(self.position).cloned() {
            self.position += 1;
            match token {
                Token::Text(text) => nodes.push(Node::Text(text)),
                Token::Action(words, at) => match words.first() {
                    Some(Word::Ident(keyword)) if keyword == "end" => {
                        return Ok((nodes, Some(("end".to_owned(), at))));
                    }
                    Some(Word::Ident(keyword)) if keyword == "else" => {
                        let rest: Vec<Word> = words[1..].to_vec();
                        let label = match rest.first() {
                            Some(Word::Ident(next)) if next == "if" => "else if",
                            _ => "else",
                        };
                        self.pending_else = Some(rest);
                        return Ok((nodes, Some((label.to_owned(), at))));
                    }
                    Some(Word::Ident(keyword)) if keyword == "if" => {
                        nodes.push(self.if_node(&words[1..], at)?)
                    }
                    Some(Word::Ident(keyword)) if keyword == "range" => {
                        nodes.push(self.range_node(&words[1..], at)?)
                    }
                    Some(Word::Ident(keyword)) if keyword == "with" => {
                        nodes.push(self.with_node(&words[1..], at)?)
                    }
                    _ => nodes.push(Node::Action(pipeline(&words, at)?)),
                },
            }
        }
        Ok((nodes, None))
    }

    fn if_node(&mut self, words: &[Word], at: usize) -> Result<Node, FormatError> {
        let mut branches = vec![(pipeline(words, at)?, Vec::new())];
        loop {
            let (body, end) = self.nodes()?;
            if let Some(last) = branches.last_mut() {
                last.1 = body;
            }
            match end {
                Some((keyword, _)) if keyword == "end" => {
                    return Ok(Node::If(branches, Vec::new()));
                }
                Some((keyword, else_at)) if keyword == "else if" => {
                    let rest = self.pending_else.take().unwrap_or_default();
                    branches.push((pipeline(&rest[1..], else_at)?, Vec::new()));
                }
                Some((_, else_at)) => {
                    self.pending_else = None;
                    let (otherwise, end) = self.nodes()?;
                    self.expect_end(end, else_at)?;
                    return Ok(Node::If(branches, otherwise));
                }
                None => return Err(unexpected_eof(at)),
            }
        }
    }

    fn range_node(&mut self, words: &[Word], at: usize) -> Result<Node, FormatError> {
        let (vars, words) = match words.iter().position(|w| *w == Word::Declare) {
            Some(split) => {
                let vars = words[..split]
                    .iter()
                    .filter_map(|w| match w {
                        Word::Variable(name) => Some(name.clone()),
                        _ => None,
                    })
                    .collect();
                (vars, &words[split + 1..])
            }
            None => (Vec::new(), words),
        };
        let pipeline = pipeline(words, at)?;
        let (body, otherwise) = self.body_and_else(at)?;
        Ok(Node::Range {
            vars,
            pipeline,
            body,
            otherwise,
        })
    }

    fn with_node(&mut self, words: &[Word], at: usize) -> Result<Node, FormatError> {
        let pipeline = pipeline(words, at)?;
        let (body, otherwise) = self.body_and_else(at)?;
        Ok(Node::With(pipeline, body, otherwise))
    }

    fn body_and_else(&mut self, at: usize) -> Result<(Vec<Node>, Vec<Node>), FormatError> {
        let (body, end) = self.nodes()?;
        match end {
            Some((keyword, _)) if keyword == "end" => Ok((body, Vec::new())),
            Some((_, else_at)) => {
                self.pending_else = None;
                let (otherwise, end) = self.nodes()?;
                self.expect_end(end, else_at)?;
                Ok((body, otherwise))
            }
            None => Err(unexpected_eof(at)),
        }
    }

    fn expect_end(&self, end: End, at: usize) -> Result<(), FormatError> {
        match end {
            Some((keyword, _)) if keyword == "end" => Ok(()),
            Some((keyword, position)) => Err(FormatError::Parse {
                position,
                message: format!("expected end; found {{{{{keyword}}}}}"),
            }),
            None => Err(unexpected_eof(at)),
        }
    }
}

fn unexpected_eof(at: usize) -> FormatError {
    FormatError::Parse {
        position: at,
        message: "unexpected EOF: missing {{end}}".to_owned(),
    }
}

fn pipeline(words: &[Word], at: usize) -> Result<Pipeline, FormatError> {
    let error = |message: &str| FormatError::Parse {
        position: at,
        message: message.to_owned(),
    };
    let (declare, words) = match (words.first(), words.get(1)) {
        (Some(Word::Variable(name)), Some(Word::Declare)) => (Some(name.clone()), &words[2..]),
        _ => (None, words),
    };
    let mut commands = Vec::new();
    let mut current = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match &words[i] {
            Word::Pipe => {
                if current.is_empty() {
                    return Err(error("missing command before |"));
                }
                commands.push(std::mem::take(&mut current));
            }
            Word::Open => {
                let mut depth = 1;
                let start = i + 1;
                while depth > 0 {
                    i += 1;
                    match words.get(i) {
                        Some(Word::Open) => depth += 1,
                        Some(Word::Close) => depth -= 1,
                        Some(_) => {}
                        None => return Err(error("unclosed left paren")),
                    }
                }
                current.push(Arg::Nested(pipeline(&words[start..i], at)?));
            }
            Word::Close => return Err(error("unexpected right paren")),
            Word::Comma | Word::Declare => return Err(error("unexpected token in command")),
            Word::Field(text) => current.push(Arg::Field(split_path(text))),
            Word::Variable(text) => {
                let mut parts = text.splitn(2, '.');
                let name = parts.next().unwrap_or("$").to_owned();
                current.push(Arg::Variable(
                    name,
                    parts.next().map(split_path).unwrap_or_default(),
                ));
            }
            Word::Str(text) => current.push(Arg::Literal(Value::String(text.clone()))),
            Word::Number(number) => current.push(Arg::Literal(number_value(*number))),
            Word::Ident(name) => current.push(match name.as_str() {
                "true" => Arg::Literal(Value::Bool(true)),
                "false" => Arg::Literal(Value::Bool(false)),
                "nil" => Arg::Literal(Value::Null),
                _ if FUNCTIONS.contains(&name.as_str()) => Arg::Function(name.clone()),
                _ => return Err(error(&format!("function {name:?} not defined"))),
            }),
        }
        i += 1;
    }
    if current.is_empty() {
        return Err(error("missing value for command"));
    }
    commands.push(current);
    Ok(Pipeline { declare, commands })
}

fn split_path(text: &str) -> Vec<String> {
    text.split('.')
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number_value(number: f64) -> Value {
    if number.fract() == 0.0 && number.abs() < 9.0e15 {
        #[expect(clippy::cast_possible_truncation, reason = "integral and in range")]
        Value::from(number as i64)
    } else {
        Value::from(number)
    }
}

const FUNCTIONS: &[&str] = &[
    "json", "join", "index", "lower", "upper", "title", "split", "truncate", "pad", "println",
    "print", "printf", "eq", "ne", "lt", "le", "gt", "ge", "not", "and", "or", "len", "slice",
];

// ---------------------------------------------------------------- execution

struct Scope {
    dot: Value,
    vars: Vec<(String, Value)>,
}

fn execute(nodes: &[Node], scope: &mut Scope, out: &mut String) -> Result<(), FormatError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Action(pipeline) => {
                let value = evaluate(pipeline, scope)?;
                if pipeline.declare.is_none() {
                    out.push_str(&go_print(&value));
                }
            }
            Node::If(branches, otherwise) => {
                let mut taken = false;
                for (condition, body) in branches {
                    if truthy(&evaluate(condition, scope)?) {
                        execute(body, scope, out)?;
                        taken = true;
                        break;
                    }
                }
                if !taken {
                    execute(otherwise, scope, out)?;
                }
            }
            Node::With(pipeline, body, otherwise) => {
                let value = evaluate(pipeline, scope)?;
                if truthy(&value) {
                    let saved = std::mem::replace(&mut scope.dot, value);
                    let result = execute(body, scope, out);
                    scope.dot = saved;
                    result?;
                } else {
                    execute(otherwise, scope, out)?;
                }
            }
            Node::Range {
                vars,
                pipeline,
                body,
                otherwise,
            } => {
                let value = evaluate(pipeline, scope)?;
                let pairs: Vec<(Value, Value)> = match &value {
                    Value::Array(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (Value::from(i), v.clone()))
                        .collect(),
                    Value::Object(map) => {
                        let mut keys: Vec<&String> = map.keys().collect();
                        keys.sort();
                        keys.into_iter()
                            .map(|k| (Value::String(k.clone()), map[k].clone()))
                            .collect()
                    }
                    Value::Null => Vec::new(),
                    other => {
                        return Err(FormatError::Execute(format!(
                            "range can't iterate over {}",
                            go_print(other)
                        )));
                    }
                };
                if pairs.is_empty() {
                    execute(otherwise, scope, out)?;
                    continue;
                }
                for (key, element) in pairs {
                    let depth = scope.vars.len();
                    match vars.as_slice() {
                        [one] => scope.vars.push((one.clone(), element.clone())),
                        [first, second, ..] => {
                            scope.vars.push((first.clone(), key));
                            scope.vars.push((second.clone(), element.clone()));
                        }
                        [] => {}
                    }
                    let saved = std::mem::replace(&mut scope.dot, element);
                    let result = execute(body, scope, out);
                    scope.dot = saved;
                    scope.vars.truncate(depth);
                    result?;
                }
            }
        }
    }
    Ok(())
}

fn evaluate(pipeline: &Pipeline, scope: &mut Scope) -> Result<Value, FormatError> {
    let mut previous: Option<Value> = None;
    for command in &pipeline.commands {
        previous = Some(command_value(command, previous, scope)?);
    }
    let value = previous.unwrap_or(Value::Null);
    if let Some(name) = &pipeline.declare {
        scope.vars.push((name.clone(), value.clone()));
    }
    Ok(value)
}

fn command_value(
    command: &[Arg],
    piped: Option<Value>,
    scope: &mut Scope,
) -> Result<Value, FormatError> {
    let Some(first) = command.first() else {
        return Ok(Value::Null);
    };
    if let Arg::Function(name) = first {
        let mut args = Vec::new();
        for arg in &command[1..] {
            args.push(arg_value(arg, scope)?);
        }
        args.extend(piped);
        return call(name, &args);
    }
    // Docker's `{{.Label "key"}}` (ps, volume ls): the one method its list rows have.
    if let (Arg::Field(path), [key], None) = (first, &command[1..], &piped) {
        if let Some((_, owner)) = path.split_last().filter(|(last, _)| *last == "Label") {
            let key = text_of(&arg_value(key, scope)?);
            return Ok(Value::String(label(&lookup(&scope.dot, owner), &key)));
        }
    }
    if command.len() > 1 || piped.is_some() {
        return Err(FormatError::Execute(
            "can't give argument to non-function".to_owned(),
        ));
    }
    arg_value(first, scope)
}

/// The value of label `key` of a row whose `Labels` is a map, or Docker's `k=v,k2=v2` text
/// (a piece without `=` belongs to the value before it); empty when it has none.
fn label(row: &Value, key: &str) -> String {
    match row.get("Labels") {
        Some(Value::Object(map)) => map.get(key).map(text_of).unwrap_or_default(),
        Some(Value::String(text)) => {
            let mut pairs: Vec<(String, String)> = Vec::new();
            for piece in text.split(',') {
                match (piece.split_once('='), pairs.last_mut()) {
                    (None, Some((_, value))) => {
                        value.push(',');
                        value.push_str(piece);
                    }
                    (Some((k, v)), _) => pairs.push((k.to_owned(), v.to_owned())),
                    (None, None) => pairs.push((piece.to_owned(), String::new())),
                }
            }
            pairs
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

fn arg_value(arg: &Arg, scope: &mut Scope) -> Result<Value, FormatError> {
    Ok(match arg {
        Arg::Field(path) => lookup(&scope.dot, path),
        Arg::Variable(name, path) => {
            let value = scope
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| FormatError::Execute(format!("undefined variable: {name}")))?;
            lookup(value, path)
        }
        Arg::Literal(value) => value.clone(),
        Arg::Function(name) => call(name, &[])?,
        Arg::Nested(pipeline) => evaluate(pipeline, scope)?,
    })
}

/// A missing key is Go's `<no value>`; we carry it as a marker string.
const NO_VALUE: &str = "\u{0}<no value>";

fn lookup(value: &Value, path: &[String]) -> Value {
    // Walks by reference: only the value found is copied, not the whole row per field.
    let mut current = value;
    for key in path {
        match current.as_object().and_then(|map| map.get(key)) {
            Some(next) => current = next,
            None => return Value::String(NO_VALUE.to_owned()),
        }
    }
    current.clone()
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => go_print(other),
    }
}

fn int_of(value: &Value, function: &str) -> Result<i64, FormatError> {
    value.as_i64().ok_or_else(|| {
        FormatError::Execute(format!(
            "{function}: expected an integer, got {}",
            go_print(value)
        ))
    })
}

fn arity(name: &str, args: &[Value], wanted: usize) -> Result<(), FormatError> {
    if args.len() == wanted {
        Ok(())
    } else {
        Err(FormatError::Execute(format!(
            "wrong number of args for {name}: want {wanted} got {}",
            args.len()
        )))
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, FormatError> {
    let text = |i: usize| args.get(i).map(text_of).unwrap_or_default();
    Ok(match name {
        "json" => {
            arity(name, args, 1)?;
            Value::String(go_json(&args[0]))
        }
        "join" => {
            arity(name, args, 2)?;
            let items: Vec<String> = args[0]
                .as_array()
                .map(|a| a.iter().map(text_of).collect())
                .unwrap_or_default();
            Value::String(items.join(&text(1)))
        }
        "index" => {
            let mut current = args.first().cloned().unwrap_or(Value::Null);
            for key in &args[1..] {
                current = match (&current, key) {
                    (Value::Array(items), Value::Number(n)) => {
                        let i = n
                            .as_u64()
                            .and_then(|i| usize::try_from(i).ok())
                            .unwrap_or(usize::MAX);
                        items.get(i).cloned().ok_or_else(|| {
                            FormatError::Execute(format!("index out of range: {n}"))
                        })?
                    }
                    (Value::Object(map), key) => {
                        map.get(&text_of(key)).cloned().unwrap_or(Value::Null)
                    }
                    (Value::Null, _) => {
                        return Err(FormatError::Execute("index of untyped nil".to_owned()));
                    }
                    _ => {
                        return Err(FormatError::Execute(format!(
                            "can't index item of type {}",
                            go_print(&current)
                        )));
                    }
                };
            }
            current
        }
        "lower" => Value::String(text(0).to_lowercase()),
        "upper" => Value::String(text(0).to_uppercase()),
        "title" => {
            let mut out = String::new();
            let mut start = true;
            for c in text(0).chars() {
                if start && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric();
            }
            Value::String(out)
        }
        "split" => {
            arity(name, args, 2)?;
            Value::Array(
                text(0)
                    .split(&text(1))
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            )
        }
        "truncate" => {
            arity(name, args, 2)?;
            let length = usize::try_from(int_of(&args[1], name)?).unwrap_or(0);
            Value::String(text(0).chars().take(length).collect())
        }
        "pad" => {
            arity(name, args, 3)?;
            let before = usize::try_from(int_of(&args[1], name)?).unwrap_or(0);
            let after = usize::try_from(int_of(&args[2], name)?).unwrap_or(0);
            Value::String(format!(
                "{}{}{}",
                " ".repeat(before),
                text(0),
                " ".repeat(after)
            ))
        }
        "print" => Value::String(args.iter().map(go_print).collect::<Vec<_>>().join("")),
        "println" => Value::String(format!(
            "{}\n",
            args.iter().map(go_print).collect::<Vec<_>>().join(" ")
        )),
        "printf" => Value::String(printf(&text(0), args.get(1..).unwrap_or_default())),
        "len" => {
            arity(name, args, 1)?;
            Value::from(match &args[0] {
                Value::Array(items) => items.len(),
                Value::Object(map) => map.len(),
                Value::String(text) => text.len(),
                other => return Err(FormatError::Execute(format!("len of {}", go_print(other)))),
            })
        }
        "not" => {
            arity(name, args, 1)?;
            Value::Bool(!truthy(&args[0]))
        }
        "and" => args
            .iter()
            .find(|v| !truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        "or" => args
            .iter()
            .find(|v| truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        "eq" => Value::Bool(args.len() >= 2 && args[1..].iter().any(|other| same(&args[0], other))),
        "ne" => {
            arity(name, args, 2)?;
            Value::Bool(!same(&args[0], &args[1]))
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(name, args, 2)?;
            let ordering = compare(&args[0], &args[1]).ok_or_else(|| {
                FormatError::Execute(format!("incompatible types for comparison in {name}"))
            })?;
            Value::Bool(match name {
                "lt" => ordering.is_lt(),
                "le" => ordering.is_le(),
                "gt" => ordering.is_gt(),
                _ => ordering.is_ge(),
            })
        }
        "slice" => {
            let value = text(0);
            let start = args
                .get(1)
                .map(|v| int_of(v, name))
                .transpose()?
                .unwrap_or(0);
            let end = args.get(2).map(|v| int_of(v, name)).transpose()?;
            let start = usize::try_from(start).unwrap_or(0).min(value.len());
            let end = end.map_or(value.len(), |e| {
                usize::try_from(e).unwrap_or(0).min(value.len())
            });
            Value::String(
                value
                    .get(start..end.max(start))
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
        other => {
            return Err(FormatError::Execute(format!(
                "function {other:?} not defined"
            )));
        }
    })
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Go's `fmt.Sprintf` for the verbs Docker templates use: %s %d %v %q %%.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'd' | 'v' | 'q')) => match args.next() {
                Some(value) if verb == 'q' => {
                    let _ = write!(out, "{}", serde_json::Value::String(text_of(value)));
                }
                Some(value) => out.push_str(&go_print(value)),
                None => {
                    let _ = write!(out, "%!{verb}(MISSING)");
                }
            },
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}

/// Go's truthiness.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != NO_VALUE,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Go's `fmt.Print` of a value.
fn go_print(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s == NO_VALUE => "<no value>".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_print).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_print(&map[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Compact JSON as Go's `json.Marshal` writes it (HTML characters escaped).
fn go_json(value: &Value) -> String {
    let value = match value {
        Value::String(s) if s == NO_VALUE => &Value::Null,
        other => other,
    };
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(template: &str, item: &Value) -> String {
        Template::parse(template).unwrap().render(item).unwrap()
    }

    #[test]
    fn fields_and_docker_examples() {
        let item = json!({"Repository": "alpine", "Tag": "latest", "Config": {"Cmd": ["/bin/sh", "-c", "echo hi"], "Labels": {"b": "2", "a": "1"}}, "N": 3, "Null": null});
        assert_eq!(render("{{.Repository}}:{{.Tag}}", &item), "alpine:latest");
        assert_eq!(render("{{.Config.Cmd}}", &item), "[/bin/sh -c echo hi]");
        assert_eq!(
            render("{{json .Config.Cmd}}", &item),
            r#"["/bin/sh","-c","echo hi"]"#
        );
        assert_eq!(render("{{.Config.Labels}}", &item), "map[a:1 b:2]");
        assert_eq!(render("{{.Missing}}", &item), "<no value>");
        assert_eq!(render("{{.Null}}", &item), "<nil>");
        assert_eq!(render("{{.N}}", &item), "3");
        assert_eq!(render("{{index .Config.Labels \"a\"}}", &item), "1");
        assert_eq!(render("{{.Config.Label \"b\"}}", &item), "2");
        let row = json!({"Names": "web", "Labels": "app=x,list=a,b,solo="});
        assert_eq!(render("{{.Label \"app\"}}", &row), "x");
        assert_eq!(
            render(
                "{{.Label \"list\"}}|{{.Label \"solo\"}}|{{.Label \"none\"}}",
                &row
            ),
            "a,b||"
        );
        assert_eq!(
            render("{{.Names}} {{.Label \"app\" | upper}}", &row),
            "web X"
        );
        assert_eq!(render("{{index .Config.Cmd 1}}", &item), "-c");
        assert_eq!(
            render("{{join .Config.Cmd \",\"}}", &item),
            "/bin/sh,-c,echo hi"
        );
        assert_eq!(render("{{.Repository | upper}}", &item), "ALPINE");
        assert_eq!(render("{{printf \"%s=%d\" .Tag .N}}", &item), "latest=3");
        assert_eq!(render("{{len .Config.Cmd}}", &item), "3");
        assert_eq!(
            render("{{json .}}", &json!({"a": "<&>"})),
            r#"{"a":"\u003c\u0026\u003e"}"#
        );
        assert_eq!(render("a\\tb", &item), "a\tb");
    }

    #[test]
    fn control_structures() {
        let item = json!({"Tags": ["a", "b"], "Dangling": false, "Status": "running", "Map": {"k": "v"}, "Empty": []});
        assert_eq!(render("{{range .Tags}}{{.}} {{end}}", &item), "a b ");
        assert_eq!(
            render("{{range $i, $t := .Tags}}{{$i}}={{$t}};{{end}}", &item),
            "0=a;1=b;"
        );
        assert_eq!(
            render("{{range $k, $v := .Map}}{{$k}}:{{$v}}{{end}}", &item),
            "k:v"
        );
        assert_eq!(
            render("{{range .Empty}}x{{else}}none{{end}}", &item),
            "none"
        );
        assert_eq!(render("{{if .Dangling}}yes{{else}}no{{end}}", &item), "no");
        assert_eq!(
            render("{{if eq .Status \"running\"}}up{{end}}", &item),
            "up"
        );
        assert_eq!(
            render("{{if .Dangling}}1{{else if .Tags}}2{{else}}3{{end}}", &item),
            "2"
        );
        assert_eq!(
            render("{{with .Missing}}x{{else}}none{{end}}", &item),
            "none"
        );
        assert_eq!(render("{{with .Map}}{{.k}}{{end}}", &item), "v");
        assert_eq!(render("a  {{- .Status -}}  b", &item), "arunningb");
        assert_eq!(render("{{$x := .Status}}{{$x}}", &item), "running");
        assert_eq!(render("{{if not .Dangling}}ok{{end}}", &item), "ok");
    }

    #[test]
    fn errors() {
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{foo .A}}").is_err());
        assert!(Template::parse("{{end}}").is_err());
        assert!(Template::parse("{{if .A}}x").is_err());
        assert!(Template::parse("{{.A | }}").is_err());
        assert!(
            Template::parse("{{join .A}}")
                .unwrap()
                .render(&json!({"A": []}))
                .is_err()
        );
    }

    #[test]
    fn formats_and_tables() {
        let items = vec![
            json!({"ID": "abc", "Repository": "hello_world"}),
            json!({"ID": "def", "Repository": "x"}),
        ];
        let header = |field: &str| (field == "ID").then(|| "IMAGE ID".to_owned());
        let table = render_list(
            &Format::Table,
            "table {{.Repository}}\t{{.ID}}",
            &items,
            &header,
        )
        .unwrap();
        assert_eq!(
            table,
            "REPOSITORY    IMAGE ID\nhello_world   abc\nx             def\n"
        );
        let json = render_list(&parse_format("json").unwrap(), "", &items, &header).unwrap();
        assert_eq!(json.lines().count(), 2);
        let plain = render_list(&parse_format("{{.ID}}").unwrap(), "", &items, &header).unwrap();
        assert_eq!(plain, "abc\ndef\n");
        let empty = render_list(
            &Format::Table,
            "table {{.Repository}}\t{{.ID}}",
            &[],
            &header,
        )
        .unwrap();
        assert_eq!(empty, "REPOSITORY   IMAGE ID\n");
    }
}
