//! RUN, COPY and ADD: the steps handed to the executor, with their flags (`--mount`,
//! `--network`, `--chmod`, heredocs …), as an `impl` block of the evaluator split off by verb.

use super::{
    CopyStep, DEFAULT_PATH, Evaluator, InlineFile, MountType, Result, RunMount, RunStep, Sharing,
    StageState, join_path, locate,
};
use crate::build::plan::{self, BuildError, CopySource, Location, is_proxy_arg};
use crate::dockerfile::{self, Instruction, InstructionKind};

impl Evaluator<'_> {
    /// RUN: the step with its argv, environment and mounts, then a layer.
    pub(super) fn run(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let network = run_network(ins).map_err(|m| BuildError::instruction(at, m))?;
        let mut mounts = Vec::new();
        for spec in ins.flags.get_all("mount") {
            mounts.push(self.run_mount(state, spec, at)?);
        }
        // BuildKit numbers the default ssh targets within the RUN (`llb.AddSSHSocket`).
        let ssh_mounts = mounts.iter_mut().filter(|m| m.kind == MountType::Ssh);
        for (index, mount) in ssh_mounts.enumerate() {
            mount
                .target
                .get_or_insert_with(|| format!("/run/buildkit/ssh_agent.{index}"));
        }
        let (argv, files) = run_argv(state, ins);
        let created_by = format!("RUN {} # buildkit", run_command_string(state, &argv));
        let mut step = RunStep {
            env: self.run_env(state, true),
            argv,
            user: state.user(),
            workdir: state.workdir(),
            mounts,
            network,
            files,
            created_by,
            cache_text: String::new(),
        };
        let cache_view = RunStep {
            env: self.run_env(state, false),
            ..step.clone()
        };
        step.cache_text = serde_json::to_string(&cache_view).unwrap_or_default();
        self.executor
            .run(state.index, &step)
            .map_err(|e| locate(at, &step.created_by, e))?;
        state.push_history(step.created_by, false);
        Ok(())
    }

    /// RUN's environment: the stage variables, a default PATH, and (for the real run only)
    /// the proxy build args that no ARG declared.
    fn run_env(&self, state: &StageState, with_proxies: bool) -> Vec<String> {
        let mut vars: Vec<(String, String)> = state
            .vars
            .iter()
            .filter(|(k, _)| with_proxies || !is_proxy_arg(k))
            .cloned()
            .collect();
        if state.var("PATH").is_none() {
            vars.push(("PATH".to_owned(), DEFAULT_PATH.to_owned()));
        }
        if with_proxies {
            for name in plan::PROXY_ARGS {
                if let (None, Some(value)) = (state.var(name), self.options.build_arg(name)) {
                    vars.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Parses one `--mount` value, expanding every value but `from`.
    fn run_mount(&mut self, state: &StageState, spec: &str, at: &Location) -> Result<RunMount> {
        let fields = plan::split_csv(spec);
        let mut expanded = Vec::new();
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                expanded.push((field.to_ascii_lowercase(), None));
                continue;
            };
            let key = key.to_ascii_lowercase();
            let value = if key == "from" {
                if value.find('$').is_some_and(|i| i + 1 != value.len()) {
                    let message =
                        "'from' doesn't support variable expansion, define alias stage instead";
                    return Err(BuildError::instruction(at, message));
                }
                value.to_owned()
            } else {
                self.expand(state, value, at)?
            };
            expanded.push((key, Some(value)));
        }
        let mut mount = parse_mount(&expanded).map_err(|m| BuildError::instruction(at, m))?;
        if let Some(from) = expanded
            .iter()
            .find(|(k, _)| k == "from")
            .and_then(|(_, v)| v.clone())
        {
            mount.from = self.plan.resolve_source(&from, state.index, at)?;
            if let CopySource::Stage(index) = mount.from {
                self.ensure_built(index)?;
            }
        }
        finish_mount(&mut mount, &state.workdir());
        Ok(mount)
    }

    /// COPY and ADD: sources, destination and flags resolved, then a layer.
    pub(super) fn copy(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let is_add = ins.kind == InstructionKind::Add;
        let keyword = if is_add { "ADD" } else { "COPY" };
        let Some((dest_word, source_words)) = ins.args.split_last().filter(|(_, s)| !s.is_empty())
        else {
            let message = format!(
                "{keyword} requires at least two arguments, but only one was provided. Destination could not be determined"
            );
            return Err(BuildError::instruction(at, message));
        };
        let from = self.copy_from(state, ins, at)?;
        let chown = self.flag_value(state, ins, "chown", at)?;
        let chmod_text = self.flag_value(state, ins, "chmod", at)?;
        let chmod = chmod_text
            .as_deref()
            .map(|text| parse_chmod(text).map_err(|m| BuildError::instruction(at, m)))
            .transpose()?;
        let checksum = self.flag_value(state, ins, "checksum", at)?;
        let (sources, heredocs) = self.copy_sources(state, ins, source_words, at)?;
        check_checksum(checksum.as_deref(), &sources, &heredocs)
            .map_err(|m| BuildError::instruction(at, m))?;
        let dest_text = self.expand(state, dest_word, at)?;
        let flag_bool = |name: &str| ins.flags.get_bool(name).unwrap_or(false);
        let mut step = CopyStep {
            is_add,
            dest: resolve_dest(&state.workdir(), &dest_text),
            from,
            chmod,
            link: flag_bool("link"),
            parents: flag_bool("parents"),
            excludes: ins
                .flags
                .get_all("exclude")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            checksum,
            keep_git_dir: flag_bool("keep-git-dir"),
            unpack: ins.flags.contains("unpack").then(|| flag_bool("unpack")),
            created_by: String::new(),
            cache_text: String::new(),
            sources,
            heredocs,
            chown,
        };
        step.created_by = copy_created_by(keyword, &step, chmod_text.as_deref(), &dest_text);
        step.cache_text = serde_json::to_string(&step).unwrap_or_default();
        self.executor
            .copy(state.index, &step)
            .map_err(|e| locate(at, &step.created_by, e))?;
        state.push_history(step.created_by, false);
        Ok(())
    }

    /// `--from`: no variables (BuildKit refuses them), a stage or an image.
    fn copy_from(
        &mut self,
        state: &StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<CopySource> {
        let Some(from) = ins.flags.get("from") else {
            return Ok(CopySource::Context);
        };
        let escape = self.file.directives.escape;
        let plain =
            dockerfile::expand_word(from, &dockerfile::EmptyEnv, escape).map_err(|source| {
                BuildError::Expand {
                    at: at.clone(),
                    source,
                }
            })?;
        if plain != from {
            let message = "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround";
            return Err(BuildError::instruction(at, message));
        }
        let source = self.plan.resolve_source(from, state.index, at)?;
        if let CopySource::Stage(index) = source {
            self.ensure_built(index)?;
        }
        Ok(source)
    }

    fn flag_value(
        &mut self,
        state: &StageState,
        ins: &Instruction,
        name: &str,
        at: &Location,
    ) -> Result<Option<String>> {
        match ins.flags.get(name) {
            Some(value) => Ok(Some(self.expand(state, value, at)?).filter(|v| !v.is_empty())),
            None => Ok(None),
        }
    }

    /// Sources expanded; `<<NAME` words that name a heredoc become inline files.
    fn copy_sources(
        &mut self,
        state: &StageState,
        ins: &Instruction,
        words: &[String],
        at: &Location,
    ) -> Result<(Vec<String>, Vec<InlineFile>)> {
        let mut sources = Vec::new();
        let mut files = Vec::new();
        for word in words {
            let heredoc = (!ins.json_form)
                .then(|| heredoc_for(word, &ins.heredocs))
                .flatten();
            let Some(heredoc) = heredoc else {
                sources.push(self.expand(state, word, at)?);
                continue;
            };
            let content = if heredoc.expand {
                self.expand_raw(state, &heredoc.content, at)?
            } else {
                heredoc.content.clone()
            };
            files.push(InlineFile {
                path: heredoc.name.clone(),
                content,
                mode: 0o644,
            });
        }
        Ok((sources, files))
    }

    /// Expands a heredoc body as BuildKit does: variables and `\` escapes processed, quotes
    /// kept as they are.
    fn expand_raw(&mut self, state: &StageState, text: &str, at: &Location) -> Result<String> {
        let mut protected = String::with_capacity(text.len());
        for c in text.chars() {
            if c == '\'' || c == '"' {
                protected.push('\\');
            }
            protected.push(c);
        }
        self.expansion(state, &protected, at, '\\').map(|e| e.value)
    }
}

/// COPY's destination: joined to WORKDIR, with the trailing `/` kept (also for `.`).
fn resolve_dest(workdir: &str, dest: &str) -> String {
    let directory = dest.is_empty() || dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let mut path = join_path(workdir, dest);
    if directory && path != "/" {
        path.push('/');
    }
    path
}

/// The heredoc a COPY source word (`<<EOF`, `<<-"EOF"`) refers to.
fn heredoc_for<'h>(
    word: &str,
    heredocs: &'h [dockerfile::Heredoc],
) -> Option<&'h dockerfile::Heredoc> {
    let name = heredoc_marker_name(word)?;
    heredocs.iter().find(|h| h.name == name)
}

/// The delimiter of a word that is a heredoc marker (`<<EOF`, `3<<-'EOF'`), quotes removed.
fn heredoc_marker_name(word: &str) -> Option<String> {
    let word = word.trim().trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = word.strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let name: String = rest.chars().filter(|c| *c != '"' && *c != '\'').collect();
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// The argv of RUN (and the heredoc scripts to mount); see the module docs.
fn run_argv(state: &StageState, ins: &Instruction) -> (Vec<String>, Vec<InlineFile>) {
    if ins.json_form {
        return (ins.args.clone(), Vec::new());
    }
    let text = ins.args.join(" ");
    let mut files = Vec::new();
    let script = match ins.heredocs.as_slice() {
        [] => text,
        [only] if heredoc_marker_name(&text).as_deref() == Some(only.name.as_str()) => {
            if only.content.starts_with("#!") {
                let path = format!("/dev/pipes/{}", only.name);
                files.push(InlineFile {
                    path: path.clone(),
                    content: only.content.clone(),
                    mode: 0o755,
                });
                path
            } else {
                only.content.clone()
            }
        }
        heredocs => {
            let mut script = text;
            for heredoc in heredocs {
                script.push('\n');
                script.push_str(&heredoc.content);
                script.push_str(&heredoc.name);
            }
            script
        }
    };
    (state.with_shell(script), files)
}

/// BuildKit's `runCommandString`: `|N K=V … argv…`, the declared ARGs (no proxies) with
/// their current values.
fn run_command_string(state: &StageState, argv: &[String]) -> String {
    let args: Vec<String> = state
        .args
        .iter()
        .filter(|(k, _)| !is_proxy_arg(k))
        .map(|(k, v)| {
            let value = state.var(k).or(v.as_deref()).unwrap_or_default();
            format!("{k}={value}")
        })
        .collect();
    let mut words = Vec::new();
    if !args.is_empty() {
        words.push(format!("|{}", args.len()));
        words.extend(args);
    }
    words.extend(argv.iter().cloned());
    words.join(" ")
}

/// `--network` and the RUN flags berth refuses.
fn run_network(ins: &Instruction) -> std::result::Result<Option<String>, String> {
    if let Some(security) = ins.flags.get("security") {
        match security {
            "sandbox" => {}
            "insecure" => {
                return Err("RUN --security=insecure needs the security.insecure entitlement, which berth does not grant".to_owned());
            }
            other => return Err(format!("unsupported security mode {other:?}")),
        }
    }
    if ins.flags.contains("device") {
        return Err("RUN --device is not supported".to_owned());
    }
    match ins.flags.get("network") {
        None => Ok(None),
        Some(mode @ ("default" | "none" | "host")) => Ok(Some(mode.to_owned())),
        Some(other) => Err(format!("unsupported network mode {other:?}")),
    }
}

/// A `--mount` from its expanded `key[=value]` fields, checked as BuildKit does.
fn parse_mount(fields: &[(String, Option<String>)]) -> std::result::Result<RunMount, String> {
    let kind = match fields.iter().find(|(k, _)| k == "type") {
        None => MountType::Bind,
        Some((_, value)) => match value.as_deref().unwrap_or("").to_ascii_lowercase().as_str() {
            "bind" => MountType::Bind,
            "cache" => MountType::Cache,
            "tmpfs" => MountType::Tmpfs,
            "secret" => MountType::Secret,
            "ssh" => MountType::Ssh,
            other => return Err(format!("unsupported mount type {other:?}")),
        },
    };
    let mut mount = RunMount {
        kind,
        target: None,
        source: None,
        from: CopySource::Context,
        id: None,
        sharing: Sharing::Shared,
        readonly: !matches!(kind, MountType::Cache | MountType::Tmpfs),
        required: false,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        env: None,
    };
    let mut sharing_given = false;
    for (key, value) in fields {
        apply_mount_field(&mut mount, key, value.as_deref(), &mut sharing_given)?;
    }
    check_mount(&mount, sharing_given)?;
    Ok(mount)
}

fn apply_mount_field(
    mount: &mut RunMount,
    key: &str,
    value: Option<&str>,
    sharing_given: &mut bool,
) -> std::result::Result<(), String> {
    let secretish = matches!(mount.kind, MountType::Secret | MountType::Ssh);
    let Some(value) = value else {
        match key {
            "readonly" | "ro" => mount.readonly = true,
            "readwrite" | "rw" => mount.readonly = false,
            "required" if secretish => mount.required = true,
            "required" => {
                let kind = kind_name(mount.kind);
                return Err(format!("unexpected key 'required' for mount type '{kind}'"));
            }
            _ => return Err(format!("invalid field '{key}' must be a key=value pair")),
        }
        return Ok(());
    };
    let bool_value =
        || parse_go_bool(value).ok_or_else(|| format!("invalid value for {key}: {value}"));
    let number = |radix| {
        u32::from_str_radix(value, radix).map_err(|_| format!("invalid value {value} for {key}"))
    };
    match key {
        "type" | "from" => {}
        "source" | "src" => mount.source = Some(value.to_owned()),
        "target" | "dst" | "destination" => mount.target = Some(value.to_owned()),
        "readonly" | "ro" => mount.readonly = bool_value()?,
        "readwrite" | "rw" => mount.readonly = !bool_value()?,
        "required" if secretish => mount.required = bool_value()?,
        "size" if mount.kind == MountType::Tmpfs => {
            mount.size =
                Some(parse_size(value).ok_or_else(|| format!("invalid value for size: {value}"))?);
        }
        "required" | "size" => {
            return Err(format!(
                "unexpected key '{key}' for mount type '{}'",
                kind_name(mount.kind)
            ));
        }
        "id" => mount.id = Some(value.to_owned()),
        "sharing" => {
            *sharing_given = true;
            mount.sharing = match value.to_ascii_lowercase().as_str() {
                "shared" => Sharing::Shared,
                "private" => Sharing::Private,
                "locked" => Sharing::Locked,
                _ => return Err(format!("unsupported sharing value {value:?}")),
            };
        }
        "mode" => mount.mode = Some(number(8)?),
        "uid" => mount.uid = Some(number(10)?),
        "gid" => mount.gid = Some(number(10)?),
        "env" => mount.env = Some(value.to_owned()),
        _ => return Err(format!("unexpected key '{key}' in '{key}={value}'")),
    }
    Ok(())
}

fn check_mount(mount: &RunMount, sharing_given: bool) -> std::result::Result<(), String> {
    let kind = kind_name(mount.kind);
    if !matches!(
        mount.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    ) {
        for (name, set) in [
            ("mode", mount.mode.is_some()),
            ("uid", mount.uid.is_some()),
            ("gid", mount.gid.is_some()),
        ] {
            if set {
                return Err(format!("{name} not allowed for \"{kind}\" type mounts"));
            }
        }
    }
    if sharing_given && mount.kind != MountType::Cache {
        return Err(format!("invalid cache sharing set for {kind} mount"));
    }
    if mount.kind == MountType::Ssh && mount.source.is_some() {
        return Err("ssh does not support source".to_owned());
    }
    if mount.kind == MountType::Secret {
        if mount.source.is_none() && mount.target.is_none() && mount.id.is_none() {
            return Err("invalid secret mount. one of source, target required".to_owned());
        }
        if mount.source.is_some() && mount.id.is_some() {
            return Err("both source and id can't be set".to_owned());
        }
    }
    let needs_target = !matches!(mount.kind, MountType::Secret | MountType::Ssh);
    if needs_target && mount.target.as_deref().unwrap_or("").is_empty() {
        return Err(format!("mount type '{kind}' requires a target"));
    }
    Ok(())
}

/// Defaults that depend on the stage: absolute targets, ids.
fn finish_mount(mount: &mut RunMount, workdir: &str) {
    if let Some(target) = &mount.target {
        mount.target = Some(join_path(workdir, target));
    }
    match mount.kind {
        MountType::Cache if mount.id.is_none() => mount.id = mount.target.clone(),
        MountType::Secret => {
            if mount.id.is_none() {
                let base = mount.target.as_deref().and_then(|t| t.rsplit('/').next());
                mount.id = mount.source.take().or_else(|| base.map(str::to_owned));
            }
            if mount.target.is_none() && mount.env.is_none() {
                let id = mount.id.clone().unwrap_or_default();
                mount.target = Some(format!("/run/secrets/{id}"));
            }
        }
        MountType::Ssh => {
            mount.id.get_or_insert_with(|| "default".to_owned());
        }
        _ => {}
    }
}

fn kind_name(kind: MountType) -> &'static str {
    match kind {
        MountType::Bind => "bind",
        MountType::Cache => "cache",
        MountType::Tmpfs => "tmpfs",
        MountType::Secret => "secret",
        MountType::Ssh => "ssh",
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A size like docker's `RAMInBytes`: `512`, `64k`, `1.5g`, `2mb` (binary units).
fn parse_size(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let number: f64 = lower[..digits_end].parse().ok()?;
    let unit = lower[digits_end..].trim_end_matches(['b', 'i']);
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a size is far below 2^53 and never negative (checked by the parse)"
    )]
    Some((number * factor as f64) as u64)
}

/// `--chmod`: octal up to 07777, with BuildKit's message.
fn parse_chmod(text: &str) -> std::result::Result<u32, String> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| {
            format!("invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777")
        })
}

/// ADD `--checksum` applies to one remote source.
fn check_checksum(
    checksum: Option<&str>,
    sources: &[String],
    heredocs: &[InlineFile],
) -> std::result::Result<(), String> {
    if checksum.is_none() {
        return Ok(());
    }
    match sources {
        [source] if heredocs.is_empty() => {
            let remote = ["http://", "https://", "git@", "git://"]
                .iter()
                .any(|p| source.starts_with(p))
                || source.ends_with(".git");
            if remote {
                Ok(())
            } else {
                Err("checksum requires HTTP(S) or Git sources".to_owned())
            }
        }
        _ => Err("checksum can't be specified for multiple sources".to_owned()),
    }
}

/// BuildKit's COPY/ADD history text.
fn copy_created_by(keyword: &str, step: &CopyStep, chmod: Option<&str>, dest: &str) -> String {
    let mut words = vec![keyword.to_owned()];
    if step.parents {
        words.push("--parents".to_owned());
    }
    if let Some(chown) = &step.chown {
        words.push(format!("--chown={chown}"));
    }
    if let Some(chmod) = chmod {
        words.push(format!("--chmod={chmod}"));
    }
    words.extend(step.sources.iter().cloned());
    words.extend(step.heredocs.iter().map(|h| format!("<<{}", h.path)));
    words.push(dest.to_owned());
    format!("{} # buildkit", words.join(" "))
}
