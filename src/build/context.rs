//! The build context: the directory sent to a Dockerfile build, its `.dockerignore`, the
//! resolution of `COPY`/`ADD` sources in it, and content digests for the build cache.
//!
//! Tree line (STYLE.md §2): `build/context.rs`, the build context dir, `.dockerignore`, content
//! digests for COPY. It uses only `super::copy` (which uses it back) and external crates; it
//! never writes anything.
//!
//! Semantics follow Docker (moby/patternmatcher for `.dockerignore`, BuildKit for sources):
//! - `.dockerignore` patterns are Go `filepath.Match` globs plus `**`; the last pattern that
//!   matches a path *or one of its parent directories* decides, so `dir` followed by
//!   `!dir/keep` excludes everything below `dir` except `keep` (and `dir` itself is still
//!   walked, and shows up as the parent of `keep`).
//! - Ignored paths are simply absent from the context: naming one as a source is "not found".
//! - Symlinks are resolved as if the context directory were `/` (BuildKit's `fs.RootPath`): a
//!   link to `../../x` or `/x` lands on `<context>/x`, never outside. Only a symlink *named* as a
//!   source (or matched by a wildcard) is followed; symlinks found while walking are entries.
//!
//! The context is the user's own directory and is read with ordinary path-based calls (without
//! ever following a symlink); the image root filesystem, which is not trusted, is only written
//! by `super::copy` through `openat2(RESOLVE_IN_ROOT)`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fs_err as fs;
use sha2::{Digest as _, Sha256};

/// Name of the context-wide ignore file.
const IGNORE_FILE: &str = ".dockerignore";
/// Most symlinks followed while resolving one source path (Linux's `MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;
/// Size of the buffer used to hash file contents.
const HASH_BUFFER_SIZE: usize = 128 * 1024;

/// Why the build context, its ignore file or a source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A `.dockerignore` line or `--exclude` value is not a valid pattern.
    #[error("{origin}: invalid pattern `{pattern}`: {reason}")]
    Pattern {
        /// Where the pattern comes from, e.g. "`.dockerignore` line 3" or "`--exclude`".
        origin: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The context directory cannot be opened.
    #[error("cannot open build context `{}`", .path.display())]
    OpenContext {
        /// The context directory as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The ignore file exists but cannot be read.
    #[error("cannot read ignore file `{}`", .path.display())]
    ReadIgnoreFile {
        /// The ignore file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A source path climbs out of the context with `..` (Docker's wording).
    #[error("forbidden path outside the build context: {0}")]
    OutsideContext(String),
    /// A source is missing, ignored, or a wildcard matched nothing (BuildKit's wording; the
    /// value is the cleaned path with a leading `/`).
    #[error("failed to compute cache key: failed to calculate checksum of ref: \"{0}\": not found")]
    NotFound(String),
    /// Reading the context failed (the `fs-err` cause names the path and the operation).
    #[error("cannot read the build context")]
    Read(#[source] io::Error),
    /// A source is a FIFO, socket or device, which a build context does not carry.
    #[error("cannot copy `{}`: not a regular file, directory or symlink", .0.display())]
    SpecialFile(PathBuf),
    /// A file changed size while it was being hashed.
    #[error("`{}` changed while it was being read", .0.display())]
    Changed(PathBuf),
}

type Result<T, E = ContextError> = std::result::Result<T, E>;

impl From<io::Error> for ContextError {
    fn from(error: io::Error) -> Self {
        ContextError::Read(error)
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

/// One element of a compiled glob.
#[derive(Debug, Clone)]
enum Token {
    /// A literal character (escapes already removed).
    Char(char),
    /// `*`: any run of characters except `/`.
    Star,
    /// `?`: one character except `/`.
    Question,
    /// `[...]`: one character (never `/`) in or, with `^`, not in the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**` (with an optional following `/` eaten) before more pattern: regexp `(.*/)?`.
    AnyDirs,
    /// `**` at the end of the pattern: regexp `.*`.
    AnyRest,
}

/// A compiled pattern with the matching rules of moby/patternmatcher.
#[derive(Debug, Clone)]
struct Glob {
    /// The compiled pattern.
    tokens: Vec<Token>,
    /// Docker's "suffix match" shortcut, taken for patterns that start with `**` and contain no
    /// other wildcard: the path must end with this text (or equal it minus a leading `/`). It
    /// makes `**foo` match `barfoo`, as in Docker.
    suffix: Option<String>,
}

impl Glob {
    /// Compiles `pattern` (already cleaned). With `double_star`, `**` has its `.dockerignore`
    /// meaning; without, it is two `*` as in Go's `filepath.Match` (used for COPY sources).
    fn compile(pattern: &str, double_star: bool) -> Result<Self, &'static str> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut other_wildcards = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let at_start = i == 0;
            i += 1;
            match c {
                '*' if double_star && chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if !at_start {
                        other_wildcards = true;
                    }
                    tokens.push(if i == chars.len() {
                        Token::AnyRest
                    } else {
                        Token::AnyDirs
                    });
                }
                '*' => {
                    other_wildcards = true;
                    tokens.push(Token::Star);
                }
                '?' => {
                    other_wildcards = true;
                    tokens.push(Token::Question);
                }
                '[' => {
                    other_wildcards = true;
                    let (token, next) = parse_class(&chars, i)?;
                    tokens.push(token);
                    i = next;
                }
                '\\' => match chars.get(i) {
                    Some(&escaped) => {
                        tokens.push(Token::Char(escaped));
                        i += 1;
                    }
                    None => return Err("trailing backslash"),
                },
                ']' => {
                    other_wildcards = true;
                    tokens.push(Token::Char(']'));
                }
                c => tokens.push(Token::Char(c)),
            }
        }
        let starts_with_double = double_star && pattern.starts_with("**");
        let suffix = (starts_with_double && !other_wildcards).then(|| {
            let mut suffix = String::new();
            if pattern[2..].starts_with('/') {
                suffix.push('/');
            }
            suffix.extend(tokens.iter().filter_map(|t| match t {
                Token::Char(c) => Some(*c),
                _ => None,
            }));
            suffix
        });
        Ok(Self { tokens, suffix })
    }

    /// Whether the whole of `path` matches.
    fn matches(&self, path: &str) -> bool {
        if let Some(suffix) = &self.suffix {
            return path.ends_with(suffix.as_str()) || suffix.strip_prefix('/') == Some(path);
        }
        let mut state = self.start();
        for c in path.chars() {
            state = self.step(&state, c);
            if !state.alive() {
                return false;
            }
        }
        state.at[self.tokens.len()]
    }

    /// Whether some path starting with `prefix` could match (exact up to the liveness of the
    /// pattern after the prefix: a live pattern may still fail on every continuation).
    fn may_match_below(&self, prefix: &str) -> bool {
        if self.suffix.is_some() {
            return true;
        }
        let mut state = self.start();
        for c in prefix.chars() {
            state = self.step(&state, c);
            if !state.alive() {
                return false;
            }
        }
        true
    }

    /// The state before any character.
    fn start(&self) -> State {
        let n = self.tokens.len();
        let mut state = State {
            at: vec![false; n + 1],
            inside: vec![false; n],
        };
        state.at[0] = true;
        self.close(&mut state);
        state
    }

    /// Follows the empty transitions (`*`, `**` may match nothing).
    fn close(&self, state: &mut State) {
        for (i, token) in self.tokens.iter().enumerate() {
            if state.at[i] && matches!(token, Token::Star | Token::AnyDirs | Token::AnyRest) {
                state.at[i + 1] = true;
            }
        }
    }

    /// Consumes one character.
    fn step(&self, state: &State, c: char) -> State {
        let n = self.tokens.len();
        let mut next = State {
            at: vec![false; n + 1],
            inside: vec![false; n],
        };
        for (i, token) in self.tokens.iter().enumerate() {
            let at = state.at[i];
            match token {
                Token::Char(l) if at && *l == c => next.at[i + 1] = true,
                Token::Question if at && c != '/' => next.at[i + 1] = true,
                Token::Class { negated, ranges } if at && c != '/' => {
                    let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    if hit != *negated {
                        next.at[i + 1] = true;
                    }
                }
                Token::Star if at && c != '/' => next.at[i] = true,
                Token::AnyRest if at => next.at[i] = true,
                Token::AnyDirs if at || state.inside[i] => {
                    next.inside[i] = true;
                    if c == '/' {
                        next.at[i + 1] = true;
                    }
                }
                _ => {}
            }
        }
        self.close(&mut next);
        next
    }
}

/// Position set of the matcher (an NFA simulation, linear in the path length).
struct State {
    /// `at[i]`: token `i` is next to match; `at[len]` accepts.
    at: Vec<bool>,
    /// `inside[i]`: in the middle of the `.*/` of an [`Token::AnyDirs`].
    inside: Vec<bool>,
}

impl State {
    /// Whether any position is still possible.
    fn alive(&self) -> bool {
        self.at.iter().chain(&self.inside).any(|&b| b)
    }
}

/// Parses a character class whose `[` is just before `start`, with Go's `filepath.Match`
/// syntax (`^` negates, `\` escapes, `a-z` ranges, must be non-empty). Returns the token and the
/// index after the closing `]`.
fn parse_class(chars: &[char], start: usize) -> Result<(Token, usize), &'static str> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        match chars.get(i) {
            None => return Err("unterminated character class"),
            Some(']') if !ranges.is_empty() => {
                return Ok((Token::Class { negated, ranges }, i + 1));
            }
            _ => {}
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, next) = class_char(chars, i + 1)?;
            hi = h;
            i = next;
        }
        if lo > hi {
            return Err("character range out of order");
        }
        ranges.push((lo, hi));
    }
}

/// One possibly escaped character of a class (Go's `getEsc`).
fn class_char(chars: &[char], i: usize) -> Result<(char, usize), &'static str> {
    match chars.get(i) {
        None => Err("unterminated character class"),
        Some('-' | ']') => Err("bad character class"),
        Some('\\') => chars
            .get(i + 1)
            .map(|&c| (c, i + 2))
            .ok_or("unterminated character class"),
        Some(&c) => Ok((c, i + 1)),
    }
}

/// Go's `filepath.Clean` for `/`-separated paths: `.` and empty components dropped, `..`
/// resolved lexically (kept at the start of a relative path, dropped at `/`), `"."` for empty.
#[must_use]
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|c| *c != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// Whether `text` has an unescaped `*`, `?` or `[` (Docker's `containsWildcards`).
fn has_wildcards(text: &str) -> bool {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// Removes glob escapes from a literal path component.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(next) = chars.next()
        {
            out.push(next);
            continue;
        }
        out.push(c);
    }
    out
}

/// One `.dockerignore` pattern.
#[derive(Debug, Clone)]
struct IgnorePattern {
    /// `!pattern`: re-includes what it matches.
    exclusion: bool,
    /// The compiled pattern.
    glob: Glob,
}

/// A parsed `.dockerignore` (or a set of `COPY --exclude` patterns), with Docker's semantics.
///
/// A path is excluded when the last pattern matching the path or one of its parent directories
/// is not a `!` pattern. Paths are relative to the context root, `/`-separated, without `./`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    /// Patterns in file order.
    patterns: Vec<IgnorePattern>,
}

impl DockerIgnore {
    /// Parses `.dockerignore` text: a UTF-8 BOM is dropped, a line whose first character is `#`
    /// is a comment (as in Docker, `  # x` is a pattern), lines are trimmed, empty lines
    /// skipped, `!` marks an exception, and patterns are cleaned (`./x` = `x`, `/x` = `x`).
    ///
    /// # Errors
    ///
    /// [`ContextError::Pattern`] naming the line of a malformed pattern (bad `[...]` class,
    /// trailing `\`, or a lone `!`).
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_named(text, IGNORE_FILE)
    }

    /// [`Self::parse`] with the file name used in error messages.
    fn parse_named(text: &str, file: &str) -> Result<Self> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let origin = || format!("`{file}` line {}", index + 1);
            if let Some(pattern) = Self::compile_line(line, &origin)? {
                patterns.push(pattern);
            }
        }
        Ok(Self { patterns })
    }

    /// Builds a matcher from `COPY --exclude` values (same syntax, no comments).
    ///
    /// # Errors
    ///
    /// [`ContextError::Pattern`] for a malformed pattern.
    pub fn from_patterns<S: AsRef<str>>(patterns: &[S]) -> Result<Self> {
        let mut compiled = Vec::new();
        for pattern in patterns {
            if let Some(p) = Self::compile_line(pattern.as_ref(), &|| "`--exclude`".to_owned())? {
                compiled.push(p);
            }
        }
        Ok(Self { patterns: compiled })
    }

    /// Compiles one trimmed line; `None` for an empty one.
    fn compile_line(line: &str, origin: &dyn Fn() -> String) -> Result<Option<IgnorePattern>> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let error = |reason| ContextError::Pattern {
            origin: origin(),
            pattern: trimmed.to_owned(),
            reason,
        };
        let (exclusion, body) = match trimmed.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        if body.is_empty() {
            return Err(error("an exception `!` must be followed by a pattern"));
        }
        let mut cleaned = clean_path(body);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        let glob = Glob::compile(&cleaned, true).map_err(error)?;
        Ok(Some(IgnorePattern { exclusion, glob }))
    }

    /// Whether there are no patterns at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Index of the last pattern matching `rel` or one of its parent directories.
    fn last_match(&self, rel: &str) -> Option<usize> {
        self.patterns.iter().rposition(|p| {
            p.glob.matches(rel)
                || rel
                    .match_indices('/')
                    .any(|(i, _)| p.glob.matches(&rel[..i]))
        })
    }

    /// Whether `rel` (relative to the context, `/`-separated) is excluded.
    #[must_use]
    pub fn is_excluded(&self, rel: &str) -> bool {
        let rel = normalize_rel(rel);
        if rel.is_empty() {
            return false;
        }
        self.last_match(&rel)
            .is_some_and(|i| !self.patterns[i].exclusion)
    }

    /// Whether a walk must enter the directory `rel_dir`: it is not excluded, or a later `!`
    /// pattern may re-include something below it. Conservative: `true` may still find nothing.
    #[must_use]
    pub fn may_contain_included(&self, rel_dir: &str) -> bool {
        let rel = normalize_rel(rel_dir);
        if rel.is_empty() {
            return true;
        }
        let Some(last) = self.last_match(&rel) else {
            return true;
        };
        if self.patterns[last].exclusion {
            return true;
        }
        // Only a `!` pattern after the last match can re-include a descendant; one matching the
        // directory or a parent would itself be the last match, so it must match below it.
        let prefix = format!("{rel}/");
        self.patterns[last + 1..]
            .iter()
            .any(|p| p.exclusion && p.glob.may_match_below(&prefix))
    }
}

/// Cleans a relative path for matching: `./a//b/` → `a/b`, the root → "".
fn normalize_rel(rel: &str) -> String {
    let cleaned = clean_path(rel);
    let cleaned = cleaned.trim_start_matches('/');
    if cleaned == "." {
        String::new()
    } else {
        cleaned.to_owned()
    }
}

/// Joins two `/`-separated relative paths, either of which may be empty.
fn join_rel(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (_, true) => base.to_owned(),
        _ => format!("{base}/{rel}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

/// What a source or a walked entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (copied as a link, never followed).
    Symlink,
}

impl SourceKind {
    /// The kind of a non-followed file type; `None` for FIFOs, sockets and devices, which a
    /// build context does not carry.
    fn of(meta: &Metadata) -> Option<Self> {
        let t = meta.file_type();
        if t.is_dir() {
            Some(Self::Dir)
        } else if t.is_file() {
            Some(Self::File)
        } else if t.is_symlink() {
            Some(Self::Symlink)
        } else {
            debug_assert!(
                t.is_fifo() || t.is_socket() || t.is_block_device() || t.is_char_device()
            );
            None
        }
    }

    /// One letter for digests.
    fn letter(self) -> u8 {
        match self {
            Self::File => b'f',
            Self::Dir => b'd',
            Self::Symlink => b'l',
        }
    }
}

/// One resolved `COPY`/`ADD` source.
///
/// A source built by [`BuildContext::resolve`] carries the context's ignore rules, so that
/// `super::copy::copy_into` and [`BuildContext::digest`] skip ignored entries below it. For
/// sources outside a context (e.g. `COPY --from`), use [`Source::new`], which has none.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as named, relative to the context root, cleaned, without a leading `/`; `""` is
    /// the context root. For a wildcard, the matched path. Used for `--parents` and for the
    /// name of a file copied into a directory.
    pub rel: String,
    /// Absolute host path of the entry, after following a symlink named as the source.
    pub path: PathBuf,
    /// What `path` is.
    pub kind: SourceKind,
    /// The source argument it came from, cleaned with a leading `/` (all matches of one
    /// wildcard share it). `copy_into` counts distinct origins for Docker's "more than one
    /// source" rule.
    pub origin: String,
    /// Whether it came from a wildcard argument.
    pub wildcard: bool,
    /// Ignore rules applying below this source.
    pub ignore: Arc<DockerIgnore>,
    /// The real path of `path` relative to the context root, which `ignore` is matched with.
    pub ignore_rel: String,
    /// The leading part of `rel` that `COPY --parents` leaves out: the part before a `/./`
    /// pivot (see [`BuildContext::resolve_parents`]); empty otherwise.
    pub pivot: String,
}

impl Source {
    /// A source without ignore rules (for copies from another root, such as a build stage).
    /// `rel` is the path as named; `kind` must describe `path` (not followed).
    #[must_use]
    pub fn new(rel: impl Into<String>, path: impl Into<PathBuf>, kind: SourceKind) -> Self {
        let rel = rel.into();
        Self {
            origin: format!("/{rel}"),
            ignore_rel: rel.clone(),
            rel,
            path: path.into(),
            kind,
            wildcard: false,
            ignore: Arc::default(),
            pivot: String::new(),
        }
    }
}

/// An opened build context.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// Canonical absolute path of the context directory.
    root: PathBuf,
    /// Its ignore rules.
    ignore: Arc<DockerIgnore>,
}

impl BuildContext {
    /// Opens the context `dir` for `dockerfile`, reading `<dockerfile>.dockerignore` next to
    /// the Dockerfile if it exists (e.g. `build.Dockerfile.dockerignore`), else
    /// `<dir>/.dockerignore`, else no rules. `dockerfile` is used as given (the caller resolves
    /// a relative `-f` against the working directory).
    ///
    /// # Errors
    ///
    /// The context is not a readable directory, or the ignore file is unreadable or invalid.
    pub fn open(dir: &Path, dockerfile: &Path) -> Result<Self> {
        let root = fs::canonicalize(dir).map_err(|source| ContextError::OpenContext {
            path: dir.to_path_buf(),
            source,
        })?;
        let meta = fs::metadata(&root).map_err(|source| ContextError::OpenContext {
            path: dir.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(ContextError::OpenContext {
                path: dir.to_path_buf(),
                source: io::Error::from(io::ErrorKind::NotADirectory),
            });
        }
        let specific = dockerfile.file_name().map(|name| {
            let mut name = name.to_os_string();
            name.push(".dockerignore");
            dockerfile.with_file_name(name)
        });
        let candidates = specific.into_iter().chain([root.join(IGNORE_FILE)]);
        let mut ignore = DockerIgnore::default();
        for candidate in candidates {
            match fs::read_to_string(&candidate) {
                Ok(text) => {
                    let name = candidate
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    ignore = DockerIgnore::parse_named(&text, &name)?;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ContextError::ReadIgnoreFile {
                        path: candidate,
                        source,
                    });
                }
            }
        }
        Ok(Self {
            root,
            ignore: Arc::new(ignore),
        })
    }

    /// The canonical context directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore rules in force.
    #[must_use]
    pub fn ignore(&self) -> &DockerIgnore {
        &self.ignore
    }

    /// Resolves one `COPY`/`ADD` source argument (already variable-expanded). `/a`, `a` and
    /// `./a` are the same; wildcards (`*`, `?`, `[...]`, per path component) expand to the
    /// matching non-ignored entries in sorted order.
    ///
    /// # Errors
    ///
    /// [`ContextError::OutsideContext`] for `../x`; [`ContextError::NotFound`] for a missing or
    /// ignored path, a dangling symlink, or a wildcard without matches.
    pub fn resolve(&self, source: &str) -> Result<Vec<Source>> {
        let cleaned = clean_path(source);
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(ContextError::OutsideContext(source.to_owned()));
        }
        let rel = normalize_rel(&cleaned);
        let origin = format!("/{rel}");
        let not_found = || ContextError::NotFound(origin.clone());
        if !has_wildcards(&rel) {
            let rel = unescape(&rel);
            let (real, meta) = self.follow(&rel)?.ok_or_else(not_found)?;
            if !self.present(&real, &meta)? {
                return Err(not_found());
            }
            return Ok(vec![self.source(
                rel,
                real,
                &meta,
                origin.clone(),
                false,
            )?]);
        }
        // Expand one component at a time; `frontier` holds (named path, real path) of dirs.
        let components: Vec<&str> = if rel.is_empty() {
            Vec::new()
        } else {
            rel.split('/').collect()
        };
        let mut frontier: Vec<(String, String)> = vec![(String::new(), String::new())];
        let mut found: Vec<(String, String, Metadata)> = Vec::new();
        for (index, component) in components.iter().enumerate() {
            let last = index + 1 == components.len();
            let mut next = Vec::new();
            for (named, _) in &frontier {
                for child in self.expand_component(named, component)? {
                    if let Some((real, meta)) = self.follow(&child)? {
                        if last {
                            found.push((child, real, meta));
                        } else if meta.is_dir() {
                            next.push((child, real));
                        }
                    }
                }
            }
            frontier = next;
        }
        let mut sources = Vec::new();
        for (named, real, meta) in found {
            if self.present(&real, &meta)? {
                sources.push(self.source(named, real, &meta, origin.clone(), true)?);
            }
        }
        if sources.is_empty() {
            return Err(not_found());
        }
        Ok(sources)
    }

    /// Resolves one source of `COPY --parents` (BuildKit's `dockerfile2llb`): the text is cut
    /// at its first `/./`, the pivot. The part before it names the directories to copy from
    /// (per-component wildcards as in [`BuildContext::resolve`]); the part after it is matched
    /// below each of them as an include pattern with `.dockerignore` syntax, so `**` spans
    /// directories (`src/./**/*.go`). Each match keeps its path below the pivot directory
    /// ([`Source::pivot`] holds what is left out); without a pivot the whole path is kept.
    /// A matched directory brings everything below it.
    ///
    /// As in BuildKit, a source without wildcards must exist, while wildcards may match
    /// nothing (the result is then empty).
    ///
    /// # Errors
    ///
    /// As [`BuildContext::resolve`]; also an invalid pattern after the pivot.
    pub fn resolve_parents(&self, source: &str) -> Result<Vec<Source>> {
        let (parent, pattern) = source.split_once("/./").unwrap_or(("", source));
        let cleaned = clean_path(source);
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(ContextError::OutsideContext(source.to_owned()));
        }
        let origin = format!("/{}", normalize_rel(&cleaned));
        let pattern = normalize_rel(pattern);
        let parents = if parent.is_empty() || normalize_rel(parent).is_empty() {
            vec![self.resolve(".")?.remove(0)]
        } else {
            match self.resolve(parent) {
                Err(ContextError::NotFound(_)) if has_wildcards(parent) => Vec::new(),
                other => other?,
            }
        };
        let mut sources = Vec::new();
        for parent in parents {
            let found = if has_wildcards(&pattern) {
                self.include_matches(&parent, &pattern, &origin)?
            } else {
                let named = join_rel(&parent.rel, &unescape(&pattern));
                let not_found = || ContextError::NotFound(format!("/{named}"));
                let (real, meta) = self.follow(&named)?.ok_or_else(not_found)?;
                if !self.present(&real, &meta)? {
                    return Err(not_found());
                }
                vec![self.source(named, real, &meta, origin.clone(), false)?]
            };
            sources.extend(found.into_iter().map(|mut found| {
                found.pivot.clone_from(&parent.rel);
                found
            }));
        }
        Ok(sources)
    }

    /// The entries below the directory `parent` whose path relative to it matches `pattern`
    /// (`.dockerignore` syntax), each directory's matches before its subdirectories. Symlinks below `parent` are not followed, and a
    /// matched directory is not looked into (it is copied whole).
    fn include_matches(&self, parent: &Source, pattern: &str, origin: &str) -> Result<Vec<Source>> {
        let glob = Glob::compile(pattern, true).map_err(|reason| ContextError::Pattern {
            origin: "`COPY --parents` source".to_owned(),
            pattern: pattern.to_owned(),
            reason,
        })?;
        let mut found = Vec::new();
        if parent.kind != SourceKind::Dir {
            return Ok(found);
        }
        // Only directories on the pattern's literal leading components can hold a match.
        let literal: Vec<String> = pattern
            .split('/')
            .take_while(|c| !has_wildcards(c))
            .map(unescape)
            .collect();
        let may_hold_match = |below: &str| {
            below
                .split('/')
                .zip(&literal)
                .all(|(component, wanted)| component == wanted)
        };
        // (path below `parent`, named path, real path) of the directories still to read.
        let mut pending = vec![(String::new(), parent.rel.clone(), parent.ignore_rel.clone())];
        while let Some((below, named, real)) = pending.pop() {
            let mut children = Vec::new();
            for name in sorted_names(&self.root.join(&real))? {
                let name = name.to_string_lossy().into_owned();
                let child_real = join_rel(&real, &name);
                let meta = fs::symlink_metadata(self.root.join(&child_real))?;
                let child_below = join_rel(&below, &name);
                let child_named = join_rel(&named, &name);
                if glob.matches(&child_below) {
                    if SourceKind::of(&meta).is_some() && self.present(&child_real, &meta)? {
                        let source =
                            self.source(child_named, child_real, &meta, origin.to_owned(), true)?;
                        found.push(source);
                    }
                } else if meta.is_dir()
                    && may_hold_match(&child_below)
                    && (!self.ignore.is_excluded(&child_real)
                        || self.ignore.may_contain_included(&child_real))
                {
                    children.push((child_below, child_named, child_real));
                }
            }
            // Depth first, in name order.
            pending.extend(children.into_iter().rev());
        }
        Ok(found)
    }

    /// Named paths of the children of the directory `named` matching `component`.
    fn expand_component(&self, named: &str, component: &str) -> Result<Vec<String>> {
        if !has_wildcards(component) {
            return Ok(vec![join_rel(named, &unescape(component))]);
        }
        let glob = Glob::compile(component, false).map_err(|reason| ContextError::Pattern {
            origin: "`COPY` source".to_owned(),
            pattern: component.to_owned(),
            reason,
        })?;
        let Some((real, _)) = self.follow(named)? else {
            return Ok(Vec::new());
        };
        let dir = self.root.join(&real);
        let mut names = sorted_names(&dir)?;
        names.retain(|n| glob.matches(&n.to_string_lossy()));
        Ok(names
            .iter()
            .map(|n| join_rel(named, &n.to_string_lossy()))
            .collect())
    }

    /// Resolves the named relative path chroot-style, following every symlink (each must not
    /// be ignored). Returns the real relative path and its metadata, or `None` when missing.
    fn follow(&self, named: &str) -> Result<Option<(String, Metadata)>> {
        let mut pending: VecDeque<String> = named
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut links = 0;
        let mut meta = fs::metadata(&self.root)?;
        while let Some(component) = pending.pop_front() {
            if component == "." {
                continue;
            }
            if component == ".." {
                resolved.pop();
                continue;
            }
            resolved.push(component);
            let real = resolved.join("/");
            let path = self.root.join(&real);
            meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if is_missing(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_SYMLINKS || self.ignore.is_excluded(&real) {
                    return Ok(None);
                }
                let target = fs::read_link(&path)?;
                resolved.pop();
                let target = target.as_os_str().as_bytes();
                if target.starts_with(b"/") {
                    resolved.clear();
                }
                let target = String::from_utf8_lossy(target);
                for part in target.split('/').rev().filter(|c| !c.is_empty()) {
                    pending.push_front(part.to_owned());
                }
            } else if !pending.is_empty() && !meta.is_dir() {
                return Ok(None);
            }
        }
        Ok(Some((resolved.join("/"), meta)))
    }

    /// Whether the real path is in the context as sent: not ignored, or an ignored directory
    /// with something re-included below it.
    fn present(&self, real: &str, meta: &Metadata) -> Result<bool> {
        if !self.ignore.is_excluded(real) {
            return Ok(true);
        }
        if !meta.is_dir() || !self.ignore.may_contain_included(real) {
            return Ok(false);
        }
        let probe = Source {
            rel: real.to_owned(),
            path: self.root.join(real),
            kind: SourceKind::Dir,
            origin: String::new(),
            wildcard: false,
            ignore: Arc::clone(&self.ignore),
            ignore_rel: real.to_owned(),
            pivot: String::new(),
        };
        match walk(&probe, None).next() {
            None => Ok(false),
            Some(entry) => entry.map(|_| true),
        }
    }

    /// Builds a [`Source`] for a followed path.
    fn source(
        &self,
        named: String,
        real: String,
        meta: &Metadata,
        origin: String,
        wildcard: bool,
    ) -> Result<Source> {
        let path = self.root.join(&real);
        let kind = SourceKind::of(meta).ok_or_else(|| ContextError::SpecialFile(path.clone()))?;
        Ok(Source {
            rel: named,
            path,
            kind,
            origin,
            wildcard,
            ignore: Arc::clone(&self.ignore),
            ignore_rel: real,
            pivot: String::new(),
        })
    }

    /// The content digest of `sources` for the build cache: `sha256:<hex>` over each source's
    /// named path and kind, then, for every non-ignored entry below it in walk order, its
    /// relative path, type, permission bits, uid, gid, symlink target and content (streamed).
    /// Modification times are deliberately left out, so a fresh checkout hits the cache.
    ///
    /// # Errors
    ///
    /// An entry cannot be read, or a file changed size while being hashed.
    pub fn digest(&self, sources: &[Source]) -> Result<String> {
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; HASH_BUFFER_SIZE];
        for source in sources {
            hasher.update(b"source\0");
            field(&mut hasher, source.rel.as_bytes());
            hasher.update([source.kind.letter()]);
            for entry in walk(source, None) {
                let entry = entry?;
                hasher.update(b"entry\0");
                field(&mut hasher, entry.rel.as_os_str().as_bytes());
                hasher.update([entry.kind.letter()]);
                hasher.update((entry.metadata.mode() & 0o7777).to_le_bytes());
                hasher.update(entry.metadata.uid().to_le_bytes());
                hasher.update(entry.metadata.gid().to_le_bytes());
                match entry.kind {
                    SourceKind::Symlink => {
                        let target = entry.link_target.as_deref().unwrap_or(Path::new(""));
                        field(&mut hasher, target.as_os_str().as_bytes());
                    }
                    SourceKind::File => hash_file(&mut hasher, &entry, &mut buffer)?,
                    SourceKind::Dir => {}
                }
            }
        }
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    }
}

/// Hashes a length-prefixed field.
fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// Hashes a file's size and content, streaming, and checks the size did not change.
fn hash_file(hasher: &mut Sha256, entry: &WalkEntry, buffer: &mut [u8]) -> Result<()> {
    let size = entry.metadata.len();
    hasher.update(size.to_le_bytes());
    let mut file = fs::File::open(&entry.path)?;
    let mut total: u64 = 0;
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        total += n as u64;
        if total > size {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    if total != size {
        return Err(ContextError::Changed(entry.path.clone()));
    }
    Ok(())
}

/// Whether an error means "not there" (`ENOENT`, or `ENOTDIR` for a file used as a directory).
fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// The entry names of a directory, sorted bytewise.
fn sorted_names(dir: &Path) -> Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        names.push(entry.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

// ---------------------------------------------------------------------------------------------
// Walking
// ---------------------------------------------------------------------------------------------

/// An extra exclusion for [`walk`]: entry paths are matched as `prefix/<entry rel>` (the entry
/// for the source itself as `prefix`, and never excluded when `prefix` is empty).
#[derive(Debug, Clone, Copy)]
pub struct ExtraFilter<'a> {
    /// The patterns (e.g. `COPY --exclude`).
    pub patterns: &'a DockerIgnore,
    /// What entry paths are relative to.
    pub prefix: &'a str,
}

/// One entry produced by [`walk`].
#[derive(Debug)]
pub struct WalkEntry {
    /// Path relative to the source; empty for the source itself.
    pub rel: PathBuf,
    /// Host path.
    pub path: PathBuf,
    /// Kind (never followed).
    pub kind: SourceKind,
    /// `lstat` metadata.
    pub metadata: Metadata,
    /// For symlinks, the target as stored.
    pub link_target: Option<PathBuf>,
}

/// Walks `source` depth-first (pre-order, each directory's entries sorted bytewise), without
/// following symlinks, skipping FIFOs, sockets and devices, entries excluded by the source's
/// ignore rules or `extra`, and pruning excluded directories unless a `!` pattern may
/// re-include something below them. An excluded directory is produced, just before its first
/// included descendant, only when it has one. Memory: one directory listing per level.
#[must_use]
pub fn walk<'a>(source: &'a Source, extra: Option<ExtraFilter<'a>>) -> Walk<'a> {
    Walk {
        source,
        extra,
        stack: Vec::new(),
        queue: VecDeque::new(),
        started: false,
    }
}

/// Iterator returned by [`walk`].
#[derive(Debug)]
pub struct Walk<'a> {
    /// What is walked.
    source: &'a Source,
    /// Extra exclusions.
    extra: Option<ExtraFilter<'a>>,
    /// Open directories, outermost first.
    stack: Vec<Frame>,
    /// Entries ready to be returned.
    queue: VecDeque<WalkEntry>,
    /// Whether the source itself was looked at.
    started: bool,
}

/// A directory being walked.
#[derive(Debug)]
struct Frame {
    /// Its path relative to the source.
    rel: PathBuf,
    /// Remaining names, in reverse order (popped from the end).
    names: Vec<OsString>,
    /// The directory's own entry while it is excluded and not yet produced.
    pending: Option<WalkEntry>,
}

impl Walk<'_> {
    /// (excluded, may have included descendants) for an entry path relative to the source.
    fn check(&self, rel: &str) -> (bool, bool) {
        let mut excluded = false;
        let mut descend = true;
        let filters = [
            Some((&*self.source.ignore, self.source.ignore_rel.as_str())),
            self.extra.map(|e| (e.patterns, e.prefix)),
        ];
        for (patterns, prefix) in filters.into_iter().flatten() {
            if prefix.is_empty() && rel.is_empty() {
                continue;
            }
            let path = join_rel(prefix, rel);
            if patterns.is_excluded(&path) {
                excluded = true;
                descend &= patterns.may_contain_included(&path);
            }
        }
        (excluded, descend)
    }

    /// Looks at one path and queues or stacks it.
    fn visit(&mut self, rel: PathBuf, path: PathBuf) -> Result<()> {
        let metadata = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Removed while walking.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !rel.as_os_str().is_empty() => {
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let Some(kind) = SourceKind::of(&metadata) else {
            return Ok(());
        };
        let (excluded, descend) = self.check(&rel.to_string_lossy());
        let link_target = if kind == SourceKind::Symlink {
            Some(fs::read_link(&path)?)
        } else {
            None
        };
        let entry = WalkEntry {
            rel,
            path,
            kind,
            metadata,
            link_target,
        };
        if kind == SourceKind::Dir && (!excluded || descend) {
            let mut names = sorted_names(&entry.path)?;
            names.reverse();
            let rel = entry.rel.clone();
            let pending = if excluded {
                Some(entry)
            } else {
                self.flush_pending();
                self.queue.push_back(entry);
                None
            };
            self.stack.push(Frame {
                rel,
                names,
                pending,
            });
        } else if !excluded {
            self.flush_pending();
            self.queue.push_back(entry);
        }
        Ok(())
    }

    /// Produces the excluded parent directories of an entry about to be produced.
    fn flush_pending(&mut self) {
        for frame in &mut self.stack {
            if let Some(entry) = frame.pending.take() {
                self.queue.push_back(entry);
            }
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<WalkEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.queue.pop_front() {
                return Some(Ok(entry));
            }
            if !self.started {
                self.started = true;
                let path = self.source.path.clone();
                if let Err(e) = self.visit(PathBuf::new(), path) {
                    return Some(Err(e));
                }
                continue;
            }
            let frame = self.stack.last_mut()?;
            let Some(name) = frame.names.pop() else {
                self.stack.pop();
                continue;
            };
            let rel = frame.rel.join(&name);
            let path = self.source.path.join(&rel);
            if let Err(e) = self.visit(rel, path) {
                self.stack.clear();
                return Some(Err(e));
            }
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    /// A context directory with the given files (paths ending in `/` are directories).
    fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let full = dir.path().join(path);
            if path.ends_with('/') {
                fs::create_dir_all(&full).unwrap();
            } else {
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                fs::write(&full, content).unwrap();
            }
        }
        dir
    }

    fn open(dir: &Path) -> BuildContext {
        BuildContext::open(dir, &dir.join("Dockerfile")).unwrap()
    }

    fn rels(sources: &[Source]) -> Vec<&str> {
        sources.iter().map(|s| s.rel.as_str()).collect()
    }

    #[test]
    fn clean_path_is_go_filepath_clean() {
        assert_eq!(clean_path("./a//b/"), "a/b");
        assert_eq!(clean_path("a/../../b"), "../b");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("a/./b/.."), "a");
    }

    /// The examples of Docker's `.dockerignore` documentation.
    #[test]
    fn documented_examples() {
        let rules = ignore("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
        assert!(rules.is_excluded("somedir/temporary.txt"));
        assert!(rules.is_excluded("somedir/temp"));
        assert!(rules.is_excluded("somedir/temp/inside"));
        assert!(!rules.is_excluded("temporary.txt"));
        assert!(rules.is_excluded("somedir/subdir/temporary.txt"));
        assert!(!rules.is_excluded("a/b/c/temporary.txt"));
        assert!(rules.is_excluded("tempa"));
        assert!(rules.is_excluded("tempb"));
        assert!(!rules.is_excluded("temp"));
        assert!(!rules.is_excluded("tempab"));
        assert!(!rules.is_excluded("# comment"));

        let rules = ignore("**/*.go\n");
        assert!(rules.is_excluded("main.go"));
        assert!(rules.is_excluded("a/b/c/x.go"));
        assert!(!rules.is_excluded("a/b/x.gox"));

        let rules = ignore("*.md\n!README.md\n");
        assert!(rules.is_excluded("CHANGES.md"));
        assert!(!rules.is_excluded("README.md"));
        assert!(!rules.is_excluded("docs/x.md"), "`*` does not cross `/`");

        let rules = ignore("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(rules.is_excluded("README-secret.md"));
        assert!(!rules.is_excluded("README-public.md"));
        let rules = ignore("*.md\nREADME-secret.md\n!README*.md\n");
        assert!(!rules.is_excluded("README-secret.md"));
    }

    #[test]
    fn directories_and_reinclusion() {
        let rules = ignore("dir\n!dir/keep\nother\n");
        assert!(rules.is_excluded("dir"));
        assert!(rules.is_excluded("dir/drop"));
        assert!(rules.is_excluded("dir/sub/drop"));
        assert!(!rules.is_excluded("dir/keep"));
        assert!(!rules.is_excluded("dir/keep/deep"));
        assert!(rules.may_contain_included("dir"));
        assert!(!rules.may_contain_included("dir/sub"));
        assert!(!rules.may_contain_included("other"));
        assert!(rules.may_contain_included("elsewhere"));

        // Everything excluded, then a few things re-included.
        let rules = ignore("*\n!src\n!**/*.rs\n");
        assert!(!rules.is_excluded("src/a/b"));
        assert!(rules.is_excluded("target"));
        assert!(!rules.is_excluded("target/x.rs"));
        assert!(rules.may_contain_included("target"));
        let rules = ignore("*\n!src/**\n");
        assert!(rules.may_contain_included("src"));
        assert!(!rules.may_contain_included("target"));
    }

    #[test]
    fn leading_slash_dot_and_cleaning() {
        let rules = ignore("/foo\n./bar/\n  baz//qux  \n!/foo/keep\n");
        assert!(rules.is_excluded("foo"));
        assert!(rules.is_excluded("foo/x"));
        assert!(!rules.is_excluded("foo/keep"));
        assert!(rules.is_excluded("bar"));
        assert!(rules.is_excluded("baz/qux"));
        assert!(!rules.is_excluded("a/foo"));
        assert!(rules.is_excluded("./foo"));
        let rules = ignore("a/../b\n");
        assert!(rules.is_excluded("b"));
        assert!(!rules.is_excluded("a"));
    }

    #[test]
    fn glob_syntax() {
        let rules = ignore("[ab].txt\n[^x-z]?.log\nlit\\*\n**foo\n");
        assert!(rules.is_excluded("a.txt"));
        assert!(!rules.is_excluded("c.txt"));
        assert!(rules.is_excluded("a1.log"));
        assert!(!rules.is_excluded("y1.log"));
        assert!(rules.is_excluded("lit*"));
        assert!(!rules.is_excluded("litx"));
        // Docker's suffix shortcut: `**foo` matches `barfoo`.
        assert!(rules.is_excluded("x/barfoo"));
        let all = ignore("**\n");
        assert!(all.is_excluded("a/b/c"));
        let middle = ignore("a/**/z\n");
        assert!(middle.is_excluded("a/z"));
        assert!(middle.is_excluded("a/b/c/z"));
        assert!(!middle.is_excluded("a/bz"));
    }

    #[test]
    fn bad_patterns_name_the_line() {
        for (text, line) in [
            ("ok\n\n[abc\n", 3),
            ("!\n", 1),
            ("a\\\n", 1),
            ("x\n[]\n", 2),
        ] {
            let err = DockerIgnore::parse(text).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&format!("line {line}")),
                "{text:?}: {message}"
            );
            assert!(matches!(err, ContextError::Pattern { .. }));
        }
        assert!(DockerIgnore::from_patterns(&["[z-a]"]).is_err());
    }

    #[test]
    fn dockerfile_specific_ignore_file_wins() {
        let dir = context(&[
            (".dockerignore", "a.txt\n"),
            ("build.Dockerfile.dockerignore", "b.txt\n"),
            ("a.txt", "a"),
            ("b.txt", "b"),
        ]);
        let ctx = BuildContext::open(dir.path(), &dir.path().join("build.Dockerfile")).unwrap();
        assert!(ctx.resolve("a.txt").is_ok());
        assert!(ctx.resolve("b.txt").is_err());
        let ctx = open(dir.path());
        assert!(ctx.resolve("a.txt").is_err());
        assert!(ctx.resolve("b.txt").is_ok());
        // The ignore file itself can be excluded from COPY.
        fs::write(
            dir.path().join(".dockerignore"),
            ".dockerignore\nDockerfile\n",
        )
        .unwrap();
        assert!(open(dir.path()).resolve(".dockerignore").is_err());
    }

    #[test]
    fn sources_resolve_and_escape_is_refused() {
        let dir = context(&[("a.txt", "a"), ("d/sub/x", "x")]);
        let ctx = open(dir.path());
        for written in ["a.txt", "/a.txt", "./a.txt", "d/../a.txt"] {
            let sources = ctx.resolve(written).unwrap();
            assert_eq!(rels(&sources), ["a.txt"]);
            assert_eq!(sources[0].kind, SourceKind::File);
            assert_eq!(sources[0].path, ctx.root().join("a.txt"));
        }
        let root = ctx.resolve(".").unwrap();
        assert_eq!((root[0].rel.as_str(), root[0].kind), ("", SourceKind::Dir));
        for escape in ["../x", "d/../../x", ".."] {
            let err = ctx.resolve(escape).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("forbidden path outside the build context: {escape}")
            );
        }
        let err = ctx.resolve("./nope/x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to compute cache key: failed to calculate checksum of ref: \"/nope/x\": not found"
        );
        assert!(matches!(
            ctx.resolve("a.txt/x"),
            Err(ContextError::NotFound(_))
        ));
    }

    #[test]
    fn wildcards_match_sorted_non_ignored_entries() {
        let dir = context(&[
            (".dockerignore", "skip.txt\n"),
            ("b.txt", ""),
            ("a.txt", ""),
            ("skip.txt", ""),
            ("c.md", ""),
            ("dir/one/x", ""),
            ("dir/two/x", ""),
            ("dir/three/y", ""),
        ]);
        let ctx = open(dir.path());
        let sources = ctx.resolve("*.txt").unwrap();
        assert_eq!(rels(&sources), ["a.txt", "b.txt"]);
        assert!(sources.iter().all(|s| s.wildcard && s.origin == "/*.txt"));
        assert_eq!(
            rels(&ctx.resolve("dir/*/x").unwrap()),
            ["dir/one/x", "dir/two/x"]
        );
        assert_eq!(rels(&ctx.resolve("[ab].txt").unwrap()), ["a.txt", "b.txt"]);
        assert_eq!(rels(&ctx.resolve("?.md").unwrap()), ["c.md"]);
        assert_eq!(rels(&ctx.resolve("di?").unwrap()), ["dir"]);
        let err = ctx.resolve("*.nomatch").unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to compute cache key: failed to calculate checksum of ref: \"/*.nomatch\": not found"
        );
        assert!(ctx.resolve("skip.txt").is_err());
        assert!(ctx.resolve("skip.*").is_err());
    }

    #[test]
    fn ignored_directory_with_reinclusion_is_walked() {
        let dir = context(&[
            (".dockerignore", "dir\n!dir/keep\nempty\n"),
            ("dir/drop", ""),
            ("dir/keep", "k"),
            ("dir/sub/drop", ""),
            ("empty/x", ""),
        ]);
        let ctx = open(dir.path());
        let root = ctx.resolve(".").unwrap();
        let seen: Vec<String> = walk(&root[0], None)
            .map(|e| e.unwrap().rel.to_string_lossy().into_owned())
            .collect();
        assert_eq!(seen, ["", ".dockerignore", "dir", "dir/keep"]);
        assert_eq!(rels(&ctx.resolve("dir").unwrap()), ["dir"]);
        assert!(ctx.resolve("dir/drop").is_err());
        assert!(ctx.resolve("empty").is_err());
    }

    #[test]
    fn symlink_sources_are_followed_inside_the_context() {
        let dir = context(&[("real/f", "f"), ("a.txt", "a")]);
        let root = dir.path();
        std::os::unix::fs::symlink("real", root.join("link")).unwrap();
        std::os::unix::fs::symlink("/a.txt", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", root.join("up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let ctx = open(root);
        let link = ctx.resolve("link").unwrap();
        assert_eq!(
            (
                link[0].rel.as_str(),
                link[0].kind,
                link[0].ignore_rel.as_str()
            ),
            ("link", SourceKind::Dir, "real")
        );
        assert_eq!(
            ctx.resolve("link/f").unwrap()[0].path,
            ctx.root().join("real/f")
        );
        // Absolute targets are resolved against the context root, as in BuildKit.
        assert_eq!(
            ctx.resolve("abs").unwrap()[0].path,
            ctx.root().join("a.txt")
        );
        assert!(matches!(ctx.resolve("up"), Err(ContextError::NotFound(_))));
        assert!(matches!(
            ctx.resolve("loop"),
            Err(ContextError::NotFound(_))
        ));
        // A symlink inside a walked directory is an entry, not followed.
        std::os::unix::fs::symlink("/etc", root.join("real/etc")).unwrap();
        let kinds: Vec<SourceKind> = walk(&link[0], None).map(|e| e.unwrap().kind).collect();
        assert_eq!(
            kinds,
            [SourceKind::Dir, SourceKind::Symlink, SourceKind::File]
        );
        // An ignored symlink cannot be used even if its target is not ignored.
        fs::write(root.join(".dockerignore"), "link\n").unwrap();
        assert!(open(root).resolve("link/f").is_err());
    }

    #[test]
    fn digest_covers_content_mode_and_names_not_mtime() {
        let dir = context(&[("d/a", "hello"), ("d/b/c", "world"), ("ignored", "x")]);
        let root = dir.path();
        fs::write(root.join(".dockerignore"), "d/b/ignored\n").unwrap();
        let digest = || {
            let ctx = open(root);
            let sources = ctx.resolve("d").unwrap();
            ctx.digest(&sources).unwrap()
        };
        let first = digest();
        assert!(first.starts_with("sha256:") && first.len() == 71);
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for path in ["d/a", "d/b/c", "d/b", "d"] {
            fs::File::options()
                .read(true)
                .open(root.join(path))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        assert_eq!(digest(), first, "mtime must not matter");
        fs::write(root.join("d/b/ignored"), "not hashed").unwrap();
        assert_eq!(digest(), first, "ignored files must not matter");
        fs::write(root.join("d/a"), "hellO").unwrap();
        let changed = digest();
        assert_ne!(changed, first);
        fs::write(root.join("d/a"), "hello").unwrap();
        assert_eq!(digest(), first);
        fs::set_permissions(root.join("d/a"), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_ne!(digest(), first, "mode must matter");
        fs::set_permissions(root.join("d/a"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let restored = digest();
        fs::rename(root.join("d/a"), root.join("d/a2")).unwrap();
        assert_ne!(digest(), restored, "names must matter");
        // Two sources are not the same as one.
        let ctx = open(root);
        let mut both = ctx.resolve("d").unwrap();
        both.extend(ctx.resolve("ignored").unwrap());
        assert_ne!(ctx.digest(&both).unwrap(), digest());
    }
}
