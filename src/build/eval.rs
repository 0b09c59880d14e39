//! Instruction semantics (pure): walks the planned stages, keeps each stage's image config,
//! ENV/ARG scope and history, and hands the filesystem work (FROM, RUN, COPY/ADD, WORKDIR) to
//! a [`StepExecutor`]. No I/O of its own.
//!
//! Part of `build/`; uses `dockerfile`, `oci` and [`super::plan`]. The executor is the only
//! way out: it prepares filesystems, runs commands and commits layers; this module decides
//! what the config and the history say and which steps are layers.
//!
//! Behaviour is BuildKit's Dockerfile frontend (`dockerfile2llb`), with these choices:
//! - History text is BuildKit's: `RUN |1 V=2 /bin/sh -c make # buildkit`,
//!   `COPY --chown=a a.txt /x # buildkit` (sources and destination as expanded, no `--from`),
//!   `ENV A=b`, `LABEL a=b`, `ARG X=1` (value after build-arg override), `WORKDIR /app`,
//!   `USER app`, `CMD ["sh" "-c" "x"]` (Go `%q`), `ENTRYPOINT [...]`, `EXPOSE [80/tcp]`,
//!   `VOLUME [/data]`, `SHELL [/bin/bash -c]`, `STOPSIGNAL SIGTERM`, `MAINTAINER x`,
//!   `HEALTHCHECK {Test:[CMD-SHELL x] Interval:30s Timeout:0s StartPeriod:0s
//!   StartInterval:0s Retries:0}` (Go `%+v`). Each entry has BuildKit's comment
//!   `buildkit.dockerfile.v0`; timestamps are left to the commit.
//! - ONBUILD gets a history entry `ONBUILD RUN x` (BuildKit writes none; DESIGN §5 wants one
//!   per instruction).
//! - WORKDIR is a layer only when the executor had to create the directory (it reports
//!   that); BuildKit always makes a (often empty) mkdir layer for a path other than `/`.
//! - Proxy build args reach RUN's environment without an ARG, and never appear in history
//!   text or cache text, even when declared (`ARG HTTP_PROXY` is recorded without value).
//! - Variables are expanded, as in Docker, for ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER
//!   VOLUME WORKDIR, `RUN --mount` values and ARG defaults; RUN, CMD, ENTRYPOINT, SHELL and
//!   HEALTHCHECK are left to the shell. All pairs of one ENV/LABEL are expanded against the
//!   variables as they were before that instruction. Unset variables expand to nothing and
//!   produce BuildKit's `UndefinedVar` warning.
//! - ARG values live in the same ordered variable list as ENV (BuildKit's state env): a later
//!   ARG or ENV of the same name replaces the value that RUN and expansion see, while only
//!   ENV reaches the image config.
//! - RUN heredocs: `RUN <<EOF` alone runs the body through the shell as `-c` text; a body
//!   starting with `#!` is instead given to the executor as a file `/dev/pipes/EOF` (mode
//!   0755, to mount read-only) and the shell runs that path. Any other form
//!   (`RUN python3 <<EOF`, several heredocs) passes the command line with the bodies and
//!   terminators appended to the shell, which does the redirection.
//!
//! Left out (refused with an error where a Dockerfile could rely on it): other platforms than
//! the native one, symbolic `--chmod` modes (`u+x`), `RUN --device` and
//! `--security=insecure`, named build contexts, `SOURCE_DATE_EPOCH`, the args `TARGETSTAGE`
//! and `*OSVERSION`, and BuildKit's lint rules other than `UndefinedVar`,
//! `UndefinedArgInFrom` and `ExposeInvalidFormat`.
//!
//! The evaluator's `impl` is split by verb, as youki splits `Container`: `instructions.rs`
//! holds the metadata instructions, `steps.rs` RUN, COPY and ADD.

mod instructions;
mod steps;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests;

use std::collections::BTreeSet;

use serde::Serialize;

use super::plan::{
    self, Base, BuildError, BuildOptions, BuildPlan, CopySource, Location, PLATFORM_ARGS,
    is_proxy_arg,
};
use crate::dockerfile::{self, Dockerfile, Instruction, InstructionKind};
use crate::oci::image::{ContainerConfig, History, ImageConfig};

type Result<T> = std::result::Result<T, BuildError>;

/// The shell for shell-form RUN/CMD/ENTRYPOINT when no SHELL was given.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];
/// PATH of a scratch image, and of RUN when the image sets none (BuildKit's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The history comment BuildKit's Dockerfile frontend writes.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// The side effects of a build. One executor serves the whole build; every call names the
/// stage (its index in the file) it concerns. Calls for one stage come in instruction order,
/// but a stage may be interrupted by the build of an earlier stage it turns out to need
/// (an ONBUILD trigger's `COPY --from`).
pub trait StepExecutor {
    /// Prepares stage `stage`'s working filesystem from its base and returns the base image's
    /// config (`None` for scratch). For [`Base::Stage`] return `None`: evaluation continues
    /// from the config it computed for that stage.
    fn from(&mut self, stage: usize, base: &Base) -> Result<Option<ImageConfig>>;
    /// Runs a command in the stage's filesystem and commits the result as a layer.
    fn run(&mut self, stage: usize, step: &RunStep) -> Result<()>;
    /// Copies files into the stage's filesystem and commits them as a layer.
    fn copy(&mut self, stage: usize, step: &CopyStep) -> Result<()>;
    /// WORKDIR with a path other than `/`: makes sure the directory exists, owned by `user`
    /// when it creates it. Returns true when it created something, which then is a layer;
    /// false makes the step metadata-only ([`StepExecutor::metadata`] is not called for it).
    fn workdir(&mut self, stage: usize, path: &str, user: &str) -> Result<bool>;
    /// A metadata-only instruction finished: a history entry with `empty_layer`.
    fn metadata(&mut self, stage: usize, created_by: &str) -> Result<()>;
}

/// A file made from a heredoc body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineFile {
    /// For RUN, where to mount it (`/dev/pipes/EOF`); for COPY/ADD, the file name (the
    /// heredoc name) under the destination.
    pub path: String,
    /// The body, expanded when COPY/ADD's delimiter was unquoted.
    pub content: String,
    /// Permission bits (0o755 for RUN scripts, 0o644 for COPY before `--chmod`).
    pub mode: u32,
}

/// `RUN --mount=type=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// Files from the context, a stage or an image (read-only by default).
    Bind,
    /// A persistent cache directory.
    Cache,
    /// An empty tmpfs.
    Tmpfs,
    /// A build secret as a file (or env variable).
    Secret,
    /// The SSH agent socket.
    Ssh,
}

/// `sharing=` of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// Concurrent builds use it at the same time (default).
    Shared,
    /// A concurrent build gets a new empty cache.
    Private,
    /// A concurrent build waits.
    Locked,
}

/// One `--mount` of RUN, with BuildKit's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMount {
    /// `type=`, default bind.
    pub kind: MountType,
    /// Absolute target (relative ones joined to WORKDIR); for secrets without one,
    /// `/run/secrets/<id>` unless `env=` is given; for ssh `/run/buildkit/ssh_agent.N`.
    pub target: Option<String>,
    /// `source=`/`src=`: path inside `from` (bind, cache), or secret id.
    pub source: Option<String>,
    /// `from=`: where bind/cache content comes from (the context when not given).
    pub from: CopySource,
    /// `id=`; a cache defaults to its target, a secret to its source or target's file name,
    /// ssh to `default`.
    pub id: Option<String>,
    /// `sharing=` (cache).
    pub sharing: Sharing,
    /// `readonly`/`ro`/`rw`; default true for bind, secret and ssh.
    pub readonly: bool,
    /// `required` (secret, ssh).
    pub required: bool,
    /// `mode=` in octal (cache, secret, ssh).
    pub mode: Option<u32>,
    /// `uid=`.
    pub uid: Option<u32>,
    /// `gid=`.
    pub gid: Option<u32>,
    /// `size=` of a tmpfs, in bytes.
    pub size: Option<u64>,
    /// `env=` of a secret: expose it as this variable.
    pub env: Option<String>,
}

/// A RUN instruction, evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunStep {
    /// The command: exec form as written, shell form wrapped with the SHELL.
    pub argv: Vec<String>,
    /// `KEY=value`: ENV and ARG values in scope, PATH, and undeclared proxy build args.
    pub env: Vec<String>,
    /// USER, empty for the default.
    pub user: String,
    /// WORKDIR (absolute).
    pub workdir: String,
    /// `--mount`s.
    pub mounts: Vec<RunMount>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// Heredoc scripts to mount (see the module docs).
    pub files: Vec<InlineFile>,
    /// History text.
    pub created_by: String,
    /// The step as evaluated (JSON, without proxy values), for the cache key.
    pub cache_text: String,
}

/// A COPY or ADD instruction, evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyStep {
    /// ADD rather than COPY.
    pub is_add: bool,
    /// Sources, expanded; heredoc sources are in `heredocs` instead.
    pub sources: Vec<String>,
    /// Destination, absolute (relative ones joined to WORKDIR); a trailing `/` is kept and
    /// means "into this directory".
    pub dest: String,
    /// `--from`.
    pub from: CopySource,
    /// `--chown=user[:group]`, expanded, resolved by the executor against the stage's
    /// `/etc/passwd` and `/etc/group`.
    pub chown: Option<String>,
    /// `--chmod`, octal.
    pub chmod: Option<u32>,
    /// `--link`.
    pub link: bool,
    /// `--parents` (COPY).
    pub parents: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// `--checksum` (ADD of a URL or git source).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD).
    pub keep_git_dir: bool,
    /// `--unpack` (ADD); `None` for the default (local archives unpacked, URLs not).
    pub unpack: Option<bool>,
    /// Heredoc sources, as files named after the delimiter.
    pub heredocs: Vec<InlineFile>,
    /// History text.
    pub created_by: String,
    /// The step as evaluated (JSON), for the cache key; the executor adds content digests.
    pub cache_text: String,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOutcome {
    /// The target stage's image config: `config` filled, history for every instruction
    /// (after the base image's); `rootfs` is the base's, the executor adds its layers.
    pub config: ImageConfig,
    /// Warnings as `Dockerfile:LINE: Rule: text`, plus unconsumed build args.
    pub warnings: Vec<String>,
    /// Stage indices in the order they were built.
    pub stages_built: Vec<usize>,
}

/// Evaluates `file`: plans it, builds the stages the target needs through `executor`, and
/// returns the target's config.
pub fn evaluate(
    file: &Dockerfile,
    options: &BuildOptions,
    executor: &mut dyn StepExecutor,
) -> Result<BuildOutcome> {
    file.validate()?;
    let plan = plan::plan(file, options)?;
    let mut evaluator = Evaluator {
        file,
        options,
        built: vec![None; plan.stages.len()],
        plan,
        executor,
        stages_built: Vec::new(),
        warnings: Vec::new(),
        consumed: BTreeSet::new(),
    };
    for index in evaluator.plan.order.clone() {
        evaluator.ensure_built(index)?;
    }
    evaluator.finish()
}

/// One stage's evolving state.
#[derive(Debug, Clone)]
struct StageState {
    index: usize,
    config: ImageConfig,
    /// Variables seen by expansion and RUN: the image's ENV, then ARG and ENV values in
    /// instruction order (BuildKit's state env).
    vars: Vec<(String, String)>,
    /// ARGs declared in this stage (or its base stage), in order, with their values.
    args: Vec<(String, Option<String>)>,
    /// Whether CMD was given in this stage (ENTRYPOINT then keeps it).
    cmd_set: bool,
}

impl StageState {
    fn new(index: usize, mut config: ImageConfig) -> Self {
        let container = config.config.get_or_insert_with(ContainerConfig::default);
        let vars = container
            .env
            .iter()
            .flatten()
            .map(|entry| match entry.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (entry.clone(), String::new()),
            })
            .collect();
        Self {
            index,
            config,
            vars,
            args: Vec::new(),
            cmd_set: false,
        }
    }

    fn container(&mut self) -> &mut ContainerConfig {
        self.config
            .config
            .get_or_insert_with(ContainerConfig::default)
    }

    fn shell(&self) -> Vec<String> {
        match self.config.config.as_ref().and_then(|c| c.shell.clone()) {
            Some(shell) if !shell.is_empty() => shell,
            _ => DEFAULT_SHELL.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn user(&self) -> String {
        let user = self.config.config.as_ref().and_then(|c| c.user.clone());
        user.unwrap_or_default()
    }

    fn workdir(&self) -> String {
        let dir = self
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone());
        dir.filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/".to_owned())
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Shell form wrapped with the SHELL, as BuildKit's `withShell`.
    fn with_shell(&self, text: String) -> Vec<String> {
        let mut argv = self.shell();
        argv.push(text);
        argv
    }

    fn push_history(&mut self, created_by: String, empty_layer: bool) {
        self.config.history.push(History {
            created_by: Some(created_by),
            comment: Some(HISTORY_COMMENT.to_owned()),
            empty_layer,
            ..History::default()
        });
    }
}

struct Evaluator<'a> {
    file: &'a Dockerfile,
    options: &'a BuildOptions,
    plan: BuildPlan,
    executor: &'a mut dyn StepExecutor,
    built: Vec<Option<StageState>>,
    stages_built: Vec<usize>,
    warnings: Vec<String>,
    /// ARG names declared in the stages built (for the unconsumed build-arg warning).
    consumed: BTreeSet<String>,
}

/// Wraps an executor error with the instruction it failed on.
fn locate(at: &Location, step: &str, error: BuildError) -> BuildError {
    match error {
        BuildError::Executor { .. } => BuildError::Step {
            at: at.clone(),
            step: step.to_owned(),
            source: Box::new(error),
        },
        other => other,
    }
}

impl Evaluator<'_> {
    fn at(&self, line: usize) -> Location {
        Location {
            file: self.file.file_name.clone(),
            line,
        }
    }

    /// Builds stage `index` unless it is built already. Stages only refer to earlier
    /// stages, so the recursion ends.
    fn ensure_built(&mut self, index: usize) -> Result<()> {
        if self.built.get(index).is_some_and(Option::is_some) {
            return Ok(());
        }
        let state = self.build_stage(index)?;
        self.built[index] = Some(state);
        self.stages_built.push(index);
        Ok(())
    }

    fn build_stage(&mut self, index: usize) -> Result<StageState> {
        let stages = self.file.stages();
        let stage = stages[index];
        let at = self.at(stage.from.span.line);
        let base = self.plan.stages[index].base.clone();
        if let Base::Stage(parent) = base {
            self.ensure_built(parent)?;
        }
        let from_text = stage.from.original.clone();
        let returned = self
            .executor
            .from(index, &base)
            .map_err(|e| locate(&at, &from_text, e))?;
        let mut state = match (&base, returned) {
            (Base::Stage(parent), _) => {
                let mut state = self.built[*parent]
                    .clone()
                    .unwrap_or_else(|| StageState::new(*parent, scratch_config(self.options)));
                state.index = index;
                state.cmd_set = false;
                state
            }
            (Base::Image(_), Some(config)) => {
                StageState::new(index, image_config(config, self.options))
            }
            _ => StageState::new(index, scratch_config(self.options)),
        };
        // ONBUILD triggers run in the child and do not carry over to it.
        let triggers = state.container().on_build.take().unwrap_or_default();
        for trigger in triggers {
            self.run_trigger(&mut state, &trigger, stage.from)?;
        }
        for instruction in stage.instructions {
            self.dispatch(&mut state, instruction)?;
        }
        Ok(state)
    }

    /// Parses an ONBUILD trigger of the base and evaluates it as if written after FROM (at
    /// the FROM's line, as BuildKit reports it).
    fn run_trigger(
        &mut self,
        state: &mut StageState,
        trigger: &str,
        from: &Instruction,
    ) -> Result<()> {
        let at = self.at(from.span.line);
        let invalid = |message: &str| {
            BuildError::instruction(
                &at,
                format!("invalid ONBUILD trigger `{trigger}`: {message}"),
            )
        };
        let parsed = dockerfile::parse(trigger, &self.file.file_name).map_err(|source| {
            BuildError::Trigger {
                at: at.clone(),
                trigger: trigger.to_owned(),
                source: Box::new(source),
            }
        })?;
        let [instruction] = parsed.instructions.as_slice() else {
            return Err(invalid("onbuild trigger should be a single expression"));
        };
        match instruction.kind {
            InstructionKind::Unknown => return Err(invalid("unknown instruction")),
            InstructionKind::From | InstructionKind::Onbuild | InstructionKind::Maintainer => {
                let keyword = instruction.keyword.to_uppercase();
                return Err(invalid(&format!(
                    "{keyword} isn't allowed as an ONBUILD trigger"
                )));
            }
            _ => {}
        }
        instruction
            .check_flags()
            .map_err(|e| invalid(&e.to_string()))?;
        let mut instruction = instruction.clone();
        instruction.span = from.span;
        self.dispatch(state, &instruction)
    }

    fn dispatch(&mut self, state: &mut StageState, ins: &Instruction) -> Result<()> {
        let at = self.at(ins.span.line);
        match ins.kind {
            InstructionKind::Arg => self.arg(state, ins, &at),
            InstructionKind::Env => self.env(state, ins, &at),
            InstructionKind::Label => self.label(state, ins, &at),
            InstructionKind::Maintainer => {
                let author = ins.args.join(" ");
                state.config.author = Some(author.clone());
                self.metadata(state, &at, format!("MAINTAINER {author}"))
            }
            InstructionKind::Expose => self.expose(state, ins, &at),
            InstructionKind::Cmd | InstructionKind::Entrypoint => self.command(state, ins, &at),
            InstructionKind::User => {
                let user = self.expand(state, &ins.args.join(" "), &at)?;
                if user.is_empty() {
                    let message = "USER requires exactly one argument";
                    return Err(BuildError::instruction(&at, message));
                }
                state.container().user = Some(user.clone());
                self.metadata(state, &at, format!("USER {user}"))
            }
            InstructionKind::Workdir => self.workdir(state, ins, &at),
            InstructionKind::Volume => self.volume(state, ins, &at),
            InstructionKind::Stopsignal => self.stop_signal(state, ins, &at),
            InstructionKind::Shell => self.shell(state, ins, &at),
            InstructionKind::Healthcheck => self.healthcheck(state, ins, &at),
            InstructionKind::Onbuild => self.onbuild(state, ins, &at),
            InstructionKind::Run => self.run(state, ins, &at),
            InstructionKind::Copy | InstructionKind::Add => self.copy(state, ins, &at),
            InstructionKind::From | InstructionKind::Unknown => {
                let keyword = ins.keyword.to_uppercase();
                Err(BuildError::instruction(
                    &at,
                    format!("unexpected {keyword} instruction"),
                ))
            }
        }
    }

    /// Records a metadata-only step.
    fn metadata(
        &mut self,
        state: &mut StageState,
        at: &Location,
        created_by: String,
    ) -> Result<()> {
        self.executor
            .metadata(state.index, &created_by)
            .map_err(|e| locate(at, &created_by, e))?;
        state.push_history(created_by, true);
        Ok(())
    }

    /// Expands one word with the stage's variables, warning about unset ones.
    fn expand(&mut self, state: &StageState, text: &str, at: &Location) -> Result<String> {
        self.expansion(state, text, at, self.file.directives.escape)
            .map(|e| e.value)
    }

    fn expansion(
        &mut self,
        state: &StageState,
        text: &str,
        at: &Location,
        escape: char,
    ) -> Result<dockerfile::Expansion> {
        let expansion =
            dockerfile::expand(text, &state.vars, escape).map_err(|source| BuildError::Expand {
                at: at.clone(),
                source,
            })?;
        for name in &expansion.unset {
            // BuildKit does not warn about ARGs declared without a value.
            if state.args.iter().any(|(k, _)| k == name) {
                continue;
            }
            let warning = format!("{at}: UndefinedVar: Usage of undefined variable '${name}'");
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
        Ok(expansion)
    }

    /// Warnings collected everywhere, then the unconsumed build args.
    fn finish(mut self) -> Result<BuildOutcome> {
        let target = self.plan.target;
        let Some(mut state) = self.built.get_mut(target).and_then(Option::take) else {
            let at = self.at(0);
            return Err(BuildError::instruction(&at, "target stage was not built"));
        };
        if !self.options.labels.is_empty() {
            let labels = state
                .container()
                .labels
                .get_or_insert_with(Default::default);
            labels.extend(self.options.labels.clone());
        }
        let mut warnings: Vec<String> = self
            .file
            .warnings
            .iter()
            .map(|w| format!("{}: {}", self.at(w.line), w.message))
            .collect();
        warnings.extend(self.plan.warnings.iter().cloned());
        warnings.append(&mut self.warnings);
        let unconsumed: Vec<&str> = self
            .options
            .build_args
            .keys()
            .map(String::as_str)
            .filter(|k| !self.consumed.contains(*k) && !self.plan.global_declared.contains(*k))
            .filter(|k| !is_proxy_arg(k) && !PLATFORM_ARGS.contains(k))
            .collect();
        if !unconsumed.is_empty() {
            warnings.push(format!(
                "[Warning] One or more build-args [{}] were not consumed",
                unconsumed.join(" ")
            ));
        }
        Ok(BuildOutcome {
            config: state.config,
            warnings,
            stages_built: self.stages_built,
        })
    }
}

/// The config of an empty image, as BuildKit makes it for scratch.
fn scratch_config(options: &BuildOptions) -> ImageConfig {
    ImageConfig {
        architecture: options.platform.architecture.clone(),
        os: options.platform.os.clone(),
        variant: options.platform.variant.clone(),
        config: Some(ContainerConfig {
            env: Some(vec![format!("PATH={DEFAULT_PATH}")]),
            working_dir: Some("/".to_owned()),
            ..ContainerConfig::default()
        }),
        ..ImageConfig::default()
    }
}

/// A base image's config as the start of a stage: creation time and fields berth does not
/// model (`container_config`, `docker_version`, …) are dropped, as BuildKit does; a missing
/// platform is the build's.
fn image_config(mut config: ImageConfig, options: &BuildOptions) -> ImageConfig {
    config.created = None;
    config.extra = serde_json::Map::new();
    // A base without PATH gets the default one in the config, as BuildKit and buildah do.
    let container = config.config.get_or_insert_with(ContainerConfig::default);
    let env = container.env.get_or_insert_with(Vec::new);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if config.architecture.is_empty() || config.os.is_empty() {
        config
            .architecture
            .clone_from(&options.platform.architecture);
        config.os.clone_from(&options.platform.os);
        config.variant.clone_from(&options.platform.variant);
    }
    config
}

/// Lexically joins `path` to `dir` (when relative) and cleans the result (Go's
/// `path.Clean` on an absolute path).
fn join_path(dir: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{dir}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}
