//! The syntax tree: a [`Dockerfile`] is its parser directives plus a flat list of
//! [`Instruction`]s in file order, the shape BuildKit's parser produces. Arguments are kept
//! exactly as the parser leaves them (quotes and escapes not removed, variables not expanded),
//! because expansion depends on build state the builder owns; see [`super::expand`].

use super::error::{FlagError, ParseError};

/// Lines an instruction (or the whole file) covers, 1-based and inclusive. Comment, blank and
/// continuation lines inside count; heredoc bodies belong to their instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First line.
    pub line: usize,
    /// Last line.
    pub end_line: usize,
}

/// Parser directives from the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// Escape and line-continuation character: `\` (default) or `` ` ``.
    pub escape: char,
    /// `# syntax=` value (the frontend image); kept so the builder can warn or refuse.
    pub syntax: Option<String>,
    /// `# check=` value (BuildKit's build-check configuration).
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Self {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// One heredoc body attached to a RUN, COPY or ADD instruction (`<<EOF` ... `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word with its quotes removed (`EOF` for `<<"EOF"`).
    pub name: String,
    /// The body: every line up to the terminator, each with its line ending. With `<<-`
    /// leading tabs are already stripped from every line.
    pub content: String,
    /// False when the delimiter was quoted: the body must then not be expanded.
    pub expand: bool,
    /// True for `<<-` (leading tabs stripped, also on the terminator line).
    pub chomp: bool,
    /// File descriptor written before `<<` (`3<<EOF`), 0 when none was given.
    pub file_descriptor: u32,
}

/// Instruction keywords BuildKit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(
    missing_docs,
    reason = "each variant is the instruction of the same name"
)]
pub enum InstructionKind {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
    /// A keyword BuildKit does not know; [`Dockerfile::validate`] reports it.
    Unknown,
}

/// How a flag takes its value, for [`Flags::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagType {
    /// `--link` or `--link=true|false`.
    Bool,
    /// `--from=x`, at most once.
    Value,
    /// `--mount=...`, any number of times.
    Repeated,
}

use FlagType::{Bool, Repeated, Value};

const ALL_KINDS: [(InstructionKind, &str); 18] = [
    (InstructionKind::Add, "add"),
    (InstructionKind::Arg, "arg"),
    (InstructionKind::Cmd, "cmd"),
    (InstructionKind::Copy, "copy"),
    (InstructionKind::Entrypoint, "entrypoint"),
    (InstructionKind::Env, "env"),
    (InstructionKind::Expose, "expose"),
    (InstructionKind::From, "from"),
    (InstructionKind::Healthcheck, "healthcheck"),
    (InstructionKind::Label, "label"),
    (InstructionKind::Maintainer, "maintainer"),
    (InstructionKind::Onbuild, "onbuild"),
    (InstructionKind::Run, "run"),
    (InstructionKind::Shell, "shell"),
    (InstructionKind::Stopsignal, "stopsignal"),
    (InstructionKind::User, "user"),
    (InstructionKind::Volume, "volume"),
    (InstructionKind::Workdir, "workdir"),
];

impl InstructionKind {
    /// The kind for a lower-case keyword; [`InstructionKind::Unknown`] when not known.
    pub fn from_keyword(keyword: &str) -> Self {
        ALL_KINDS
            .iter()
            .find(|(_, name)| *name == keyword)
            .map_or(Self::Unknown, |(kind, _)| *kind)
    }

    /// Every known keyword, lower case (for did-you-mean suggestions).
    pub fn keywords() -> impl Iterator<Item = &'static str> {
        ALL_KINDS.iter().map(|(_, name)| *name)
    }

    /// Whether heredocs (`<<EOF`) are recognised in this instruction's shell form.
    pub fn accepts_heredocs(self) -> bool {
        matches!(self, Self::Run | Self::Copy | Self::Add)
    }

    /// Flags BuildKit accepts for this instruction; any other flag is "unknown flag".
    pub fn known_flags(self) -> &'static [(&'static str, FlagType)] {
        match self {
            Self::Run => &[
                ("mount", Repeated),
                ("network", Value),
                ("security", Value),
                ("device", Repeated),
            ],
            Self::Copy => &[
                ("from", Value),
                ("chown", Value),
                ("chmod", Value),
                ("link", Bool),
                ("parents", Bool),
                ("exclude", Repeated),
            ],
            Self::Add => &[
                ("chown", Value),
                ("chmod", Value),
                ("link", Bool),
                ("keep-git-dir", Bool),
                ("checksum", Value),
                ("exclude", Repeated),
                ("unpack", Bool),
            ],
            Self::From => &[("platform", Value)],
            Self::Healthcheck => &[
                ("interval", Value),
                ("timeout", Value),
                ("start-period", Value),
                ("start-interval", Value),
                ("retries", Value),
            ],
            _ => &[],
        }
    }
}

/// One flag word split into name and value: `--chown=a:b` is `chown` / `Some("a:b")`,
/// `--link` is `link` / `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The name without the leading `--`.
    pub name: String,
    /// The text after the first `=`, if there is one.
    pub value: Option<String>,
}

/// The flags of an instruction, as written (`raw`) and split into name/value pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flags {
    raw: Vec<String>,
    parsed: Vec<Flag>,
}

impl Flags {
    /// Flags from the words the parser extracted (quotes already removed, `--` kept).
    pub fn from_words(raw: Vec<String>) -> Self {
        let parsed = raw
            .iter()
            .map(|word| {
                let body = word.strip_prefix("--").unwrap_or(word);
                match body.split_once('=') {
                    Some((name, value)) => Flag {
                        name: name.to_owned(),
                        value: Some(value.to_owned()),
                    },
                    None => Flag {
                        name: body.to_owned(),
                        value: None,
                    },
                }
            })
            .collect();
        Self { raw, parsed }
    }

    /// The flag words as written, e.g. `["--from=build", "--link"]`; this is what the dump shows.
    pub fn raw(&self) -> &[String] {
        &self.raw
    }

    /// All flags in order.
    pub fn iter(&self) -> impl Iterator<Item = &Flag> {
        self.parsed.iter()
    }

    /// Whether there are no flags.
    pub fn is_empty(&self) -> bool {
        self.parsed.is_empty()
    }

    /// The value of the last `--name=value` (BuildKit rejects repeats of single-value flags in
    /// [`Flags::check`], so "last" only matters for unchecked input).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parsed
            .iter()
            .rev()
            .find(|f| f.name == name)
            .and_then(|f| f.value.as_deref())
    }

    /// Every value of a repeatable flag (`--mount`, `--exclude`), in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.parsed
            .iter()
            .filter(|f| f.name == name)
            .filter_map(|f| f.value.as_deref())
            .collect()
    }

    /// Whether the flag is present at all, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.parsed.iter().any(|f| f.name == name)
    }

    /// A boolean flag: absent is false, `--x` is true, `--x=true|false` (any case) as given;
    /// anything else (also `--x=`) is an error, as in BuildKit.
    pub fn get_bool(&self, name: &str) -> Result<bool, FlagError> {
        match self.parsed.iter().rev().find(|f| f.name == name) {
            None => Ok(false),
            Some(Flag { value: None, .. }) => Ok(true),
            Some(Flag { value: Some(v), .. }) => parse_bool(name, v),
        }
    }

    /// Checks the flags against the instruction's accepted set, with BuildKit's messages:
    /// unknown names, single-value flags given twice or without a value, bad booleans.
    pub fn check(&self, kind: InstructionKind) -> Result<(), FlagError> {
        let known = kind.known_flags();
        for (index, flag) in self.parsed.iter().enumerate() {
            let Some((_, flag_type)) = known.iter().find(|(name, _)| *name == flag.name) else {
                return Err(FlagError::Unknown(flag.name.clone()));
            };
            match (flag_type, &flag.value) {
                (Bool, Some(v)) => {
                    parse_bool(&flag.name, v)?;
                }
                (Value | Repeated, None) => return Err(FlagError::MissingValue(flag.name.clone())),
                _ => {}
            }
            let repeated = self.parsed[..index].iter().any(|f| f.name == flag.name);
            if repeated && *flag_type != Repeated {
                return Err(FlagError::Duplicate(flag.name.clone()));
            }
        }
        Ok(())
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, FlagError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(FlagError::NotBool {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
    }
}

/// One instruction (one logical line, plus its heredoc bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword as written, lower-cased (also for unknown keywords).
    pub keyword: String,
    /// The keyword's kind.
    pub kind: InstructionKind,
    /// The logical line as written: continuations joined, comments inside dropped, leading
    /// whitespace removed. For an ONBUILD trigger, the text after `ONBUILD`.
    pub original: String,
    /// Leading `--flags`.
    pub flags: Flags,
    /// Arguments as the parser produced them (per-instruction rules: see the README in
    /// `shared/conformance/dockerfile-parser`). ENV and LABEL hold key, value, separator
    /// triples; see [`Instruction::key_values`]. Empty for ONBUILD (see `onbuild`) and for
    /// unknown keywords.
    pub args: Vec<String>,
    /// True when the arguments came from a JSON array (exec form).
    pub json_form: bool,
    /// Heredoc bodies, in the order their `<<` markers appear.
    pub heredocs: Vec<Heredoc>,
    /// Source lines this instruction covers.
    pub span: Span,
    /// For ONBUILD: the trigger instruction.
    pub onbuild: Option<Box<Instruction>>,
}

impl Instruction {
    /// ENV/LABEL pairs, from the key, value, separator triples; values verbatim (quotes kept).
    pub fn key_values(&self) -> Vec<(&str, &str)> {
        self.args
            .chunks(3)
            .filter_map(|c| Some((c.first()?.as_str(), c.get(1)?.as_str())))
            .collect()
    }

    /// Whether this is ENV/LABEL in the legacy `KEY value with spaces` form.
    pub fn is_legacy_key_value(&self) -> bool {
        self.args.get(2).is_some_and(String::is_empty)
    }

    /// Checks the flags against what BuildKit accepts for this instruction.
    pub fn check_flags(&self) -> Result<(), FlagError> {
        self.flags.check(self.kind)
    }
}

/// A warning BuildKit's parser reports without failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// 1-based line of the instruction it concerns.
    pub line: usize,
    /// The text.
    pub message: String,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives from the top of the file.
    pub directives: Directives,
    /// Every instruction in file order.
    pub instructions: Vec<Instruction>,
    /// Lines from the first to the last instruction.
    pub span: Span,
    /// Non-fatal findings (empty continuation lines).
    pub warnings: Vec<ParseWarning>,
    /// The file name given to [`parse`](super::parse), used in errors.
    pub file_name: String,
    /// Physical source lines, kept so later errors can show the line.
    pub(super) lines: Vec<String>,
}

/// One build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, Copy)]
pub struct Stage<'a> {
    /// The FROM instruction.
    pub from: &'a Instruction,
    /// The instructions after FROM, up to the next FROM.
    pub instructions: &'a [Instruction],
}

impl Stage<'_> {
    /// The base image reference (unexpanded), the first FROM argument.
    pub fn base(&self) -> Option<&str> {
        self.from.args.first().map(String::as_str)
    }

    /// The stage name from `FROM image AS name`, lower-cased as BuildKit does.
    pub fn name(&self) -> Option<String> {
        match self.from.args.as_slice() {
            [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => Some(name.to_lowercase()),
            _ => None,
        }
    }

    /// The `--platform` value, unexpanded.
    pub fn platform(&self) -> Option<&str> {
        self.from.flags.get("platform")
    }
}

impl Dockerfile {
    /// The instructions grouped by FROM; instructions before the first FROM are in
    /// [`Dockerfile::global_args`].
    pub fn stages(&self) -> Vec<Stage<'_>> {
        let starts: Vec<usize> = self
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, i)| i.kind == InstructionKind::From)
            .map(|(index, _)| index)
            .collect();
        starts
            .iter()
            .enumerate()
            .filter_map(|(n, &start)| {
                let end = starts
                    .get(n + 1)
                    .copied()
                    .unwrap_or(self.instructions.len());
                Some(Stage {
                    from: self.instructions.get(start)?,
                    instructions: self.instructions.get(start + 1..end)?,
                })
            })
            .collect()
    }

    /// Instructions before the first FROM (only ARG is valid there).
    pub fn global_args(&self) -> &[Instruction] {
        let end = self
            .instructions
            .iter()
            .position(|i| i.kind == InstructionKind::From)
            .unwrap_or(self.instructions.len());
        &self.instructions[..end]
    }

    /// The physical source line `line` (1-based), without its line ending.
    pub fn source_line(&self, line: usize) -> Option<&str> {
        self.lines.get(line.checked_sub(1)?).map(String::as_str)
    }

    /// The checks BuildKit makes after parsing, before building: unknown instructions (with a
    /// did-you-mean suggestion), invalid ONBUILD triggers, unknown or malformed flags, and
    /// instructions other than ARG before the first FROM. [`parse`](super::parse) does not
    /// make them because BuildKit's parser keeps unknown keywords (the AST dump shows them).
    pub fn validate(&self) -> Result<(), ParseError> {
        super::parser::validate(self)
    }
}
