//! Build planning (pure): the stages of a Dockerfile, which of them `--target` needs, and the
//! global ARG scope that FROM lines are expanded with.
//!
//! Part of `build/`; uses `dockerfile` only. No I/O. [`plan`] is called by
//! [`super::eval::evaluate`], which walks [`BuildPlan::order`]; the errors of both live here
//! ([`BuildError`]) so that neither file depends on the other's internals.
//!
//! Semantics follow BuildKit's Dockerfile frontend:
//! - A stage is a FROM and the instructions up to the next FROM. Stages are found by index and
//!   by name, case-insensitively (BuildKit lower-cases `AS` names).
//! - `FROM <x>` names a stage when `x`, after expanding global ARGs, is the name of an *earlier*
//!   stage; otherwise it is an image reference (`scratch` is the empty image).
//! - `COPY --from=<x>` and `RUN --mount=...,from=<x>` name a stage when `x` is a stage name
//!   (any stage; a later one is an error at evaluation) or a stage index, else an image.
//! - Stages the target does not reach through these edges are skipped.
//! - Global ARGs: the automatic platform args, then every ARG before the first FROM in order,
//!   each `--build-arg` overriding the default. Proxy args are never part of this scope: they
//!   only reach RUN's environment (see `eval`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::dockerfile::{self, Dockerfile, ExpandError, InstructionKind, ParseError, Stage};

/// Proxy build args that every RUN receives without an ARG declaration. Docker keeps them out
/// of `docker history` and out of the cache key, and so does berth.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Platform args set in the global scope; inside a stage only after `ARG <name>`.
pub const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// Whether `name` is one of the [`PROXY_ARGS`].
pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.contains(&name)
}

/// An OS/architecture/variant triple, normalised as containerd does (`x86_64` → `amd64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ….
    pub architecture: String,
    /// `v7` for 32-bit arm; `None` where there is no variant.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this process runs on (berth builds only for it).
    pub fn native() -> Self {
        let (architecture, variant) = normalize_arch(std::env::consts::ARCH, None);
        Self {
            os: "linux".to_owned(),
            architecture,
            variant,
        }
    }

    /// Parses `os/arch[/variant]` (or just `os`), normalising the architecture; `None` when
    /// the text has more than three parts or an empty part.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let os = parts[0].to_ascii_lowercase();
        let arch = parts.get(1).map_or("", |a| a);
        let (architecture, variant) = normalize_arch(arch, parts.get(2).copied());
        Some(Self {
            os,
            architecture,
            variant,
        })
    }

    /// Whether `other` is this platform (a missing architecture in `other` matches any).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && (other.architecture.is_empty()
                || (self.architecture == other.architecture && self.variant == other.variant))
    }
}

/// `os/arch` or `os/arch/variant`, as BuildKit formats TARGETPLATFORM.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

/// containerd's architecture normalisation, reduced to the architectures Linux builds run on.
fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.map(str::to_ascii_lowercase);
    match (arch.as_str(), variant.as_deref()) {
        ("x86_64" | "x86-64" | "amd64", None | Some("v1")) => ("amd64".to_owned(), None),
        ("x86_64" | "x86-64", v) => ("amd64".to_owned(), v.map(str::to_owned)),
        ("aarch64" | "arm64", None | Some("v8" | "8")) => ("arm64".to_owned(), None),
        ("aarch64", v) => ("arm64".to_owned(), v.map(str::to_owned)),
        ("arm", None) => ("arm".to_owned(), Some("v7".to_owned())),
        ("armhf", _) => ("arm".to_owned(), Some("v7".to_owned())),
        ("armel", _) => ("arm".to_owned(), Some("v6".to_owned())),
        ("i386" | "i686" | "x86", v) => ("386".to_owned(), v.map(str::to_owned)),
        (a, v) => (a.to_owned(), v.map(str::to_owned)),
    }
}

/// What the user asked for, already validated by the command layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// `--build-arg K=V` (`Some`) or `--build-arg K` (`None` when the caller found no `K` in
    /// its environment: the Dockerfile default then applies).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--target`: the last stage to build; `None` builds the last stage of the file.
    pub target: Option<String>,
    /// The native platform: TARGETPLATFORM and BUILDPLATFORM both name it.
    pub platform: Platform,
    /// `--label`, applied to the final image after every LABEL instruction.
    pub labels: BTreeMap<String, String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            build_args: BTreeMap::new(),
            target: None,
            platform: Platform::native(),
            labels: BTreeMap::new(),
        }
    }
}

impl BuildOptions {
    /// The value of build arg `name`, when one was given with a value.
    pub fn build_arg(&self, name: &str) -> Option<&str> {
        self.build_args.get(name).and_then(|v| v.as_deref())
    }
}

/// Where in the Dockerfile something happened: `Dockerfile:7`, or `Dockerfile` alone (line 0)
/// for problems of the whole build such as an unknown `--target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name given to `dockerfile::parse`.
    pub file: String,
    /// 1-based line of the instruction, 0 for none.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// Errors of planning and evaluating a build. Every variant names its place in the
/// Dockerfile, so it prints as `Dockerfile:LINE: …` (parse errors keep the dockerfile
/// module's own block with the source line and a caret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The file did not parse or validate (unknown instruction or flag, bad ONBUILD, …).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// `--target` names no stage.
    #[error("{file}: target stage \"{target}\" could not be found")]
    UnknownTarget {
        /// The Dockerfile.
        file: String,
        /// The name given.
        target: String,
    },
    /// `FROM --platform` names a platform other than the native one.
    #[error(
        "{at}: berth builds only for the native platform ({native}); --platform {requested} is not supported"
    )]
    Platform {
        /// The FROM instruction.
        at: Location,
        /// The native platform.
        native: String,
        /// The value after expansion.
        requested: String,
    },
    /// An instruction berth refuses, with BuildKit's wording where BuildKit has one.
    #[error("{at}: {message}")]
    Instruction {
        /// The instruction.
        at: Location,
        /// What is wrong, lower case.
        message: String,
    },
    /// Variable expansion failed (unterminated quote, `${X?}` with X unset, …).
    #[error("{at}: failed to expand variables")]
    Expand {
        /// The instruction.
        at: Location,
        /// The expansion error, naming the text.
        #[source]
        source: ExpandError,
    },
    /// An ONBUILD trigger inherited from the base image is not a valid instruction.
    #[error("{at}: invalid ONBUILD trigger `{trigger}` in the base image")]
    Trigger {
        /// The FROM instruction of the stage running the trigger.
        at: Location,
        /// The trigger text.
        trigger: String,
        /// Why it does not parse.
        #[source]
        source: Box<ParseError>,
    },
    /// The executor failed (no location yet): what [`super::eval::StepExecutor`]
    /// implementations return; evaluation wraps it into [`BuildError::Step`].
    #[error("{message}")]
    Executor {
        /// What failed, lower case.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A step failed in the executor.
    #[error("{at}: `{step}` failed")]
    Step {
        /// The instruction.
        at: Location,
        /// The instruction's history text (`RUN /bin/sh -c make`).
        step: String,
        /// The executor's error.
        #[source]
        source: Box<BuildError>,
    },
}

impl BuildError {
    /// An [`BuildError::Instruction`] error.
    pub fn instruction(at: &Location, message: impl Into<String>) -> Self {
        Self::Instruction {
            at: at.clone(),
            message: message.into(),
        }
    }

    /// An executor error without a cause.
    pub fn executor(message: impl Into<String>) -> Self {
        Self::Executor {
            message: message.into(),
            source: None,
        }
    }
}

type Result<T> = std::result::Result<T, BuildError>;

/// Variables in order; setting one again replaces its value in place ([`set_var`]).
pub type Vars = Vec<(String, String)>;

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: an empty filesystem.
    Scratch,
    /// An image reference, global ARGs expanded (`alpine:3.20`).
    Image(String),
    /// The result of an earlier stage.
    Stage(usize),
}

/// Where COPY (or a RUN bind/cache mount) takes its files from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CopySource {
    /// The build context.
    Context,
    /// The result of an earlier stage.
    Stage(usize),
    /// An image, by reference (the executor pulls or resolves it).
    Image(String),
}

/// One stage as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePlan {
    /// Position in the file, from 0.
    pub index: usize,
    /// The `AS` name, lower case.
    pub name: Option<String>,
    /// What it starts from.
    pub base: Base,
    /// The line of its FROM.
    pub line: usize,
    /// Stages it needs (FROM, `COPY --from`, `RUN --mount from=`, ONBUILD triggers of a base
    /// stage), all earlier than `index`.
    pub deps: BTreeSet<usize>,
}

/// The stages to build and the global ARG scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPlan {
    /// Every stage of the file.
    pub stages: Vec<StagePlan>,
    /// The stage whose result is the image.
    pub target: usize,
    /// Stages the target needs (itself included), in file order.
    pub order: Vec<usize>,
    /// Global ARG values (platform args first), for FROM lines and for `ARG NAME` inside a
    /// stage without a default.
    pub global_args: Vec<(String, String)>,
    /// ARG names declared before the first FROM (with or without a value).
    pub global_declared: BTreeSet<String>,
    /// Warnings found while planning, as `Dockerfile:LINE: Rule: text`.
    pub warnings: Vec<String>,
}

impl BuildPlan {
    /// The stage named `name` (case-insensitive).
    pub fn stage_by_name(&self, name: &str) -> Option<usize> {
        let name = name.to_lowercase();
        // A repeated name refers to the last stage that has it, as in BuildKit.
        self.stages
            .iter()
            .rev()
            .find(|s| s.name.as_deref() == Some(name.as_str()))
            .map(|s| s.index)
    }

    /// The name BuildKit uses in messages: the `AS` name or `stage-N`.
    pub fn stage_label(&self, index: usize) -> String {
        match self.stages.get(index).and_then(|s| s.name.clone()) {
            Some(name) => name,
            None => format!("stage-{index}"),
        }
    }

    /// Resolves a `--from` value used by stage `current`: a stage name, a stage index, or an
    /// image reference. Naming `current` itself or a later stage is an error.
    pub fn resolve_source(&self, from: &str, current: usize, at: &Location) -> Result<CopySource> {
        let Some(index) = self.source_stage(from) else {
            return Ok(CopySource::Image(from.to_owned()));
        };
        let index = index.map_err(|message| BuildError::instruction(at, message))?;
        if index == current {
            let message = format!(
                "circular dependency detected on stage: {}",
                self.stage_label(index)
            );
            return Err(BuildError::instruction(at, message));
        }
        if index > current {
            let message = format!(
                "cannot copy from stage \"{from}\", it needs to be defined before current stage \"{}\"",
                self.stage_label(current)
            );
            return Err(BuildError::instruction(at, message));
        }
        Ok(CopySource::Stage(index))
    }

    /// `None` for an image, `Some(Err)` for an index out of range.
    fn source_stage(&self, from: &str) -> Option<std::result::Result<usize, String>> {
        if let Ok(index) = from.parse::<i64>() {
            return Some(
                usize::try_from(index)
                    .ok()
                    .filter(|i| *i < self.stages.len())
                    .ok_or_else(|| format!("invalid stage index {index}")),
            );
        }
        self.stage_by_name(from).map(Ok)
    }
}

/// Plans the build of `file` with `options`.
pub fn plan(file: &Dockerfile, options: &BuildOptions) -> Result<BuildPlan> {
    let mut warnings = Vec::new();
    let (global_args, global_declared) = global_scope(file, options)?;
    let mut stages: Vec<StagePlan> = Vec::new();
    for (index, stage) in file.stages().iter().enumerate() {
        let at = Location {
            file: file.file_name.clone(),
            line: stage.from.span.line,
        };
        check_platform(file, stage, &global_args, options, &at, &mut warnings)?;
        let base_text = expand_from(file, stage.base().unwrap_or(""), &global_args, &at)?;
        warn_undeclared_from(&base_text.1, &global_declared, &at, &mut warnings);
        let base = resolve_base(&stages, &base_text.0, &at)?;
        stages.push(StagePlan {
            index,
            name: stage.name(),
            base,
            line: at.line,
            deps: BTreeSet::new(),
        });
    }
    let Some(last) = stages.len().checked_sub(1) else {
        let at = Location {
            file: file.file_name.clone(),
            line: 0,
        };
        return Err(BuildError::instruction(
            &at,
            "dockerfile contains no stages to build",
        ));
    };
    let mut plan = BuildPlan {
        stages,
        target: last,
        order: Vec::new(),
        global_args,
        global_declared,
        warnings,
    };
    plan.target = match &options.target {
        None => last,
        Some(target) => plan
            .stage_by_name(target)
            .ok_or_else(|| BuildError::UnknownTarget {
                file: file.file_name.clone(),
                target: target.clone(),
            })?,
    };
    add_dependencies(file, &mut plan);
    plan.order = needed_stages(&plan);
    Ok(plan)
}

/// The global ARG values and the names declared before the first FROM.
fn global_scope(file: &Dockerfile, options: &BuildOptions) -> Result<(Vars, BTreeSet<String>)> {
    let platform = options.platform.to_string();
    let variant = options.platform.variant.clone().unwrap_or_default();
    let defaults = [
        ("TARGETPLATFORM", platform.as_str()),
        ("TARGETOS", options.platform.os.as_str()),
        ("TARGETARCH", options.platform.architecture.as_str()),
        ("TARGETVARIANT", variant.as_str()),
        ("BUILDPLATFORM", platform.as_str()),
        ("BUILDOS", options.platform.os.as_str()),
        ("BUILDARCH", options.platform.architecture.as_str()),
        ("BUILDVARIANT", variant.as_str()),
    ];
    let mut values: Vec<(String, String)> = defaults
        .iter()
        .map(|(k, v)| {
            let value = options.build_arg(k).unwrap_or(v);
            ((*k).to_owned(), value.to_owned())
        })
        .collect();
    let mut declared = BTreeSet::new();
    for instruction in file.global_args() {
        let at = Location {
            file: file.file_name.clone(),
            line: instruction.span.line,
        };
        for word in &instruction.args {
            let (name, default) = split_arg(word);
            declared.insert(name.to_owned());
            let value = match (options.build_arg(name), default) {
                (Some(given), _) => Some(given.to_owned()),
                (None, Some(default)) => {
                    let escape = file.directives.escape;
                    let expanded =
                        dockerfile::expand_word(default, &values, escape).map_err(|source| {
                            BuildError::Expand {
                                at: at.clone(),
                                source,
                            }
                        })?;
                    Some(expanded)
                }
                (None, None) => None,
            };
            if let Some(value) = value {
                set_var(&mut values, name, value);
            }
        }
    }
    Ok((values, declared))
}

/// `NAME=default` → (`NAME`, `Some("default")`), `NAME` → (`NAME`, `None`). The default stays
/// unexpanded (quotes included).
pub fn split_arg(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((name, default)) => (name, Some(default)),
        None => (word, None),
    }
}

/// Sets `name` in an ordered variable list, replacing an earlier value in place.
pub fn set_var(vars: &mut Vec<(String, String)>, name: &str, value: String) {
    match vars.iter_mut().find(|(key, _)| key == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name.to_owned(), value)),
    }
}

/// Expands a FROM word with the global args: the value and the names that were unset.
fn expand_from(
    file: &Dockerfile,
    text: &str,
    global_args: &[(String, String)],
    at: &Location,
) -> Result<(String, BTreeSet<String>)> {
    let env: Vec<(String, String)> = global_args.to_vec();
    let expansion = dockerfile::expand(text, &env, file.directives.escape).map_err(|source| {
        BuildError::Expand {
            at: at.clone(),
            source,
        }
    })?;
    Ok((expansion.value, expansion.unset))
}

/// BuildKit's `UndefinedArgInFrom` check.
fn warn_undeclared_from(
    unset: &BTreeSet<String>,
    declared: &BTreeSet<String>,
    at: &Location,
    warnings: &mut Vec<String>,
) {
    for name in unset.iter().filter(|n| !declared.contains(*n)) {
        warnings.push(format!(
            "{at}: UndefinedArgInFrom: FROM argument '{name}' is not declared"
        ));
    }
}

/// Expands `FROM --platform` and refuses anything but the native platform.
fn check_platform(
    file: &Dockerfile,
    stage: &Stage<'_>,
    global_args: &[(String, String)],
    options: &BuildOptions,
    at: &Location,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let Some(text) = stage.platform() else {
        return Ok(());
    };
    let (value, unset) = expand_from(file, text, global_args, at)?;
    warn_undeclared_from(&unset, &BTreeSet::new(), at, warnings);
    let supported = Platform::parse(&value).is_some_and(|p| options.platform.matches(&p));
    if supported {
        return Ok(());
    }
    Err(BuildError::Platform {
        at: at.clone(),
        native: options.platform.to_string(),
        requested: value,
    })
}

/// `scratch`, an earlier stage's name, or an image reference.
fn resolve_base(earlier: &[StagePlan], name: &str, at: &Location) -> Result<Base> {
    if name.is_empty() {
        return Err(BuildError::instruction(at, "base name should not be blank"));
    }
    let lower = name.to_lowercase();
    if let Some(stage) = earlier
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Ok(Base::Stage(stage.index));
    }
    if lower == "scratch" {
        return Ok(Base::Scratch);
    }
    Ok(Base::Image(name.to_owned()))
}

/// Fills every stage's `deps`. Invalid references are left out here; evaluation reports them
/// with their line when (and only when) the stage is built.
fn add_dependencies(file: &Dockerfile, plan: &mut BuildPlan) {
    let stages = file.stages();
    for index in 0..plan.stages.len() {
        let mut deps = BTreeSet::new();
        if let Base::Stage(base) = plan.stages[index].base {
            deps.insert(base);
            // ONBUILD triggers written in a base stage run in this stage.
            let triggers = stages[base]
                .instructions
                .iter()
                .filter_map(|i| i.onbuild.as_deref());
            for trigger in triggers {
                deps.extend(instruction_sources(trigger, plan, index));
            }
        }
        for instruction in stages[index].instructions {
            deps.extend(instruction_sources(instruction, plan, index));
        }
        plan.stages[index].deps = deps;
    }
}

/// Earlier stages one instruction reads from.
fn instruction_sources(
    instruction: &dockerfile::Instruction,
    plan: &BuildPlan,
    current: usize,
) -> Vec<usize> {
    let names: Vec<String> = match instruction.kind {
        InstructionKind::Copy => instruction
            .flags
            .get("from")
            .map(str::to_owned)
            .into_iter()
            .collect(),
        InstructionKind::Run => instruction
            .flags
            .get_all("mount")
            .into_iter()
            .filter_map(mount_from)
            .collect(),
        _ => Vec::new(),
    };
    names
        .iter()
        .filter_map(|name| plan.source_stage(name)?.ok())
        .filter(|index| *index < current)
        .collect()
}

/// The `from=` field of a `--mount` value.
fn mount_from(spec: &str) -> Option<String> {
    split_csv(spec).into_iter().find_map(|field| {
        let (key, value) = field.split_once('=')?;
        key.eq_ignore_ascii_case("from").then(|| value.to_owned())
    })
}

/// Splits one CSV record (as Go's `encoding/csv` reads a `--mount` value): fields separated
/// by commas, a field may be double-quoted with `""` standing for a quote.
pub fn split_csv(record: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The target and every stage it reaches, in file order.
fn needed_stages(plan: &BuildPlan) -> Vec<usize> {
    let mut needed = BTreeSet::new();
    let mut pending = vec![plan.target];
    while let Some(index) = pending.pop() {
        if needed.insert(index) {
            pending.extend(plan.stages[index].deps.iter().copied());
        }
    }
    needed.into_iter().collect()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    fn amd64() -> BuildOptions {
        BuildOptions {
            platform: Platform::parse("linux/amd64").unwrap(),
            ..BuildOptions::default()
        }
    }

    fn plan_of(source: &str, options: &BuildOptions) -> Result<BuildPlan> {
        let file = dockerfile::parse(source, "Dockerfile").unwrap();
        plan(&file, options)
    }

    #[test]
    fn target_skips_unused_stages() {
        let source = "FROM alpine AS base\nFROM base AS build\nRUN make\n\
                      FROM busybox AS unused\nFROM scratch AS out\nCOPY --from=build /a /a\n";
        let plan = plan_of(source, &amd64()).unwrap();
        assert_eq!(plan.target, 3);
        assert_eq!(plan.order, [0, 1, 3]);
        assert_eq!(plan.stages[1].base, Base::Stage(0));
        assert_eq!(plan.stages[3].base, Base::Scratch);

        let options = BuildOptions {
            target: Some("BUILD".to_owned()),
            ..amd64()
        };
        assert_eq!(plan_of(source, &options).unwrap().order, [0, 1]);
    }

    #[test]
    fn unknown_target() {
        let options = BuildOptions {
            target: Some("nope".to_owned()),
            ..amd64()
        };
        let error = plan_of("FROM alpine AS a\n", &options).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Dockerfile: target stage \"nope\" could not be found"
        );
    }

    #[test]
    fn global_args_expand_from_with_build_arg_override() {
        let source = "ARG TAG=3.19\nARG IMG=alpine:${TAG}\nFROM $IMG\nFROM ${OTHER:-busybox}\n";
        let plan = plan_of(source, &amd64()).unwrap();
        assert_eq!(plan.stages[0].base, Base::Image("alpine:3.19".to_owned()));
        assert_eq!(plan.stages[1].base, Base::Image("busybox".to_owned()));
        assert_eq!(
            plan.warnings,
            ["Dockerfile:4: UndefinedArgInFrom: FROM argument 'OTHER' is not declared"]
        );
        let mut options = amd64();
        options
            .build_args
            .insert("TAG".to_owned(), Some("3.20".to_owned()));
        let plan = plan_of(source, &options).unwrap();
        assert_eq!(plan.stages[0].base, Base::Image("alpine:3.20".to_owned()));
    }

    #[test]
    fn platform_args_and_native_platform_only() {
        let source = "FROM --platform=$BUILDPLATFORM alpine\nRUN true\n";
        assert!(plan_of(source, &amd64()).is_ok());
        let error = plan_of("\n\nFROM --platform=linux/arm64 alpine\n", &amd64()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Dockerfile:3: berth builds only for the native platform (linux/amd64); \
             --platform linux/arm64 is not supported"
        );
        let plan = plan_of("FROM alpine\n", &amd64()).unwrap();
        let get = |k: &str| {
            plan.global_args
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("TARGETPLATFORM").as_deref(), Some("linux/amd64"));
        assert_eq!(get("BUILDARCH").as_deref(), Some("amd64"));
        assert_eq!(get("TARGETVARIANT").as_deref(), Some(""));
    }

    #[test]
    fn sources_by_name_index_or_image() {
        let source = "FROM alpine AS a\nFROM alpine\nCOPY --from=0 /x /x\n\
                      RUN --mount=type=bind,from=A,target=/a true\nCOPY --from=nginx /y /y\n";
        let plan = plan_of(source, &amd64()).unwrap();
        assert_eq!(plan.stages[1].deps, BTreeSet::from([0]));
        let at = Location {
            file: "Dockerfile".to_owned(),
            line: 3,
        };
        assert_eq!(
            plan.resolve_source("nginx", 1, &at).unwrap(),
            CopySource::Image("nginx".to_owned())
        );
        assert_eq!(
            plan.resolve_source("1", 1, &at).unwrap_err().to_string(),
            "Dockerfile:3: circular dependency detected on stage: stage-1"
        );
        assert_eq!(
            plan.resolve_source("7", 1, &at).unwrap_err().to_string(),
            "Dockerfile:3: invalid stage index 7"
        );
    }

    #[test]
    fn csv_fields() {
        assert_eq!(
            split_csv(r#"type=bind,"source=a,b",target=/x"#),
            ["type=bind", "source=a,b", "target=/x"]
        );
        assert_eq!(
            mount_from("type=cache,FROM=build").as_deref(),
            Some("build")
        );
    }

    #[test]
    fn platform_normalisation() {
        let p = Platform::parse("linux/x86_64").unwrap();
        assert_eq!(p.to_string(), "linux/amd64");
        assert_eq!(
            Platform::parse("linux/aarch64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert!(Platform::parse("linux/").is_none());
    }
}
