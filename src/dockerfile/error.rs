//! Errors of this module: [`ParseError`] for Dockerfile text (it keeps the file name, the line
//! and the source line so it can be printed with a caret, as uv's `Pep508Error` does), and
//! [`ExpandError`] for shell-word expansion.

use std::fmt;

/// What went wrong while parsing or validating a Dockerfile, for callers that want to match
/// on the cause instead of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The file holds no instruction (empty, or only comments and blank lines).
    NoInstructions,
    /// A bad parser directive: an invalid `# escape=` value or a directive given twice.
    Directive,
    /// An instruction whose arguments BuildKit's parser rejects (`ENV PATH` without a value,
    /// a JSON array with a non-string element).
    Syntax,
    /// An instruction keyword BuildKit does not know; `suggestion` is the closest known one.
    UnknownInstruction {
        /// The known keyword (upper case) that is closest to the unknown one, if any is close.
        suggestion: Option<String>,
    },
    /// A heredoc body that reaches the end of the file without its terminator line.
    UnterminatedHeredoc,
    /// A flag the instruction does not accept, or a flag with a bad value.
    Flag,
    /// An instruction that may not be an `ONBUILD` trigger (`ONBUILD`, `FROM`, `MAINTAINER`).
    Onbuild,
    /// An instruction other than `ARG` before the first `FROM`.
    NoStage,
}

/// A Dockerfile error with its location.
///
/// `Display` prints one block in BuildKit's layout, with a caret under the column when it is
/// known:
///
/// ```text
/// Dockerfile:3
/// --------------------
///    3 | RUNN echo hi
///      | ^
/// --------------------
/// error: unknown instruction: RUNN (did you mean RUN?)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(self))]
pub struct ParseError {
    /// The cause, for matching.
    pub kind: ParseErrorKind,
    /// The file name given to [`parse`](super::parse), e.g. `Dockerfile`.
    pub file: String,
    /// 1-based line of the error; 0 when it concerns the whole file (e.g. an empty file).
    pub line: usize,
    /// 1-based column (in characters) when the error points at one spot in `source_line`.
    pub column: Option<usize>,
    /// The message, lower case, without the location.
    pub message: String,
    /// The physical source line `line`, without its line ending.
    pub source_line: Option<String>,
}

impl ParseError {
    /// An error without location; [`ParseError::located`] fills it in.
    pub(super) fn new(kind: ParseErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            file: String::new(),
            line: 0,
            column: None,
            message: message.into(),
            source_line: None,
        }
    }

    /// Sets the location: the file name, the line and the text of that line.
    pub(super) fn located(mut self, file: &str, line: usize, source_line: Option<&str>) -> Self {
        self.file = file.to_owned();
        self.line = line;
        self.source_line = source_line.map(str::to_owned);
        self
    }

    /// Sets the 1-based column the caret points at.
    pub(super) fn with_column(mut self, column: usize) -> Self {
        self.column = Some(column);
        self
    }
}

const RULE: &str = "--------------------";

fn render(error: &ParseError) -> String {
    let mut out = String::new();
    if error.line == 0 {
        out.push_str(&error.file);
    } else {
        out.push_str(&format!("{}:{}", error.file, error.line));
    }
    if let Some(source) = &error.source_line {
        out.push('\n');
        out.push_str(RULE);
        out.push_str(&format!("\n{:>4} | {source}", error.line));
        if let Some(column) = error.column {
            out.push_str(&format!("\n{:>4} | {}^", "", caret_padding(source, column)));
        }
        out.push('\n');
        out.push_str(RULE);
    }
    out.push_str("\nerror: ");
    out.push_str(&error.message);
    out
}

/// Padding that lines the caret up with `column`, copying tabs so it stays aligned in a
/// terminal whatever the tab width.
fn caret_padding(source: &str, column: usize) -> String {
    source
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect()
}

/// A failed shell-word expansion: the text that was being processed and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process `{input}`: {reason}")]
pub struct ExpandError {
    /// The whole text given to the expansion function.
    pub input: String,
    /// What was wrong with it.
    pub reason: ExpandErrorReason,
}

/// Why an expansion failed; the texts follow BuildKit's shell lexer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandErrorReason {
    /// `'...` without the closing quote.
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    /// `"...` without the closing quote.
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    /// `${...` without the closing brace.
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    /// `${VAR/pattern` without the second slash.
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    /// `${}`, `${:}`, `${{x}` and similar.
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    /// A modifier BuildKit does not support, e.g. `${VAR:=x}` or `${VAR:#x}`.
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    /// `${...}` nested deeper than this implementation accepts (64 levels).
    #[error("substitutions nested too deeply")]
    TooDeep,
    /// `${VAR?msg}` / `${VAR:?msg}` with VAR unset (or empty).
    #[error("{name}: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The word after `?`, or BuildKit's default text.
        message: String,
    },
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::NoInstructions => "no instructions",
            Self::Directive => "parser directive",
            Self::Syntax => "syntax",
            Self::UnknownInstruction { .. } => "unknown instruction",
            Self::UnterminatedHeredoc => "unterminated heredoc",
            Self::Flag => "flag",
            Self::Onbuild => "onbuild trigger",
            Self::NoStage => "no build stage",
        };
        f.write_str(text)
    }
}

/// A flag an instruction does not accept, with BuildKit's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlagError {
    /// The instruction has no flag of that name.
    #[error("unknown flag: {0}")]
    Unknown(String),
    /// A flag that needs `=value` was given without one.
    #[error("missing a value on flag: {0}")]
    MissingValue(String),
    /// A single-value flag given twice.
    #[error("duplicate flag specified: {0}")]
    Duplicate(String),
    /// A boolean flag with a value other than true or false.
    #[error("expecting boolean value for flag {name}, not: {value}")]
    NotBool {
        /// The flag name.
        name: String,
        /// The value given.
        value: String,
    },
}

impl FlagError {
    /// The flag name the error is about (without `--`).
    pub fn name(&self) -> &str {
        match self {
            Self::Unknown(name) | Self::MissingValue(name) | Self::Duplicate(name) => name,
            Self::NotBool { name, .. } => name,
        }
    }
}
