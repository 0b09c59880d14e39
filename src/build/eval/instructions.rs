//! The metadata instructions (ARG ENV LABEL EXPOSE CMD ENTRYPOINT WORKDIR VOLUME STOPSIGNAL
//! SHELL ONBUILD) and the pure parsers of their arguments (ports, signals, HEALTHCHECK,
//! Go durations), as an `impl` block of the evaluator split off by verb.

use serde_json::{Value, json};

use super::{Evaluator, Result, StageState, join_path, locate};
use crate::build::plan::{BuildError, Location, is_proxy_arg, set_var, split_arg};
use crate::dockerfile::{Instruction, InstructionKind};

impl Evaluator<'_> {
    /// HEALTHCHECK: Docker's JSON shape into the config.
    pub(super) fn healthcheck(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let (value, text) = parse_healthcheck(ins).map_err(|m| BuildError::instruction(at, m))?;
        state.container().healthcheck = Some(value);
        self.metadata(state, at, format!("HEALTHCHECK {text}"))
    }

    /// ARG: build arg, else the default (expanded), else the global value.
    pub(super) fn arg(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let mut commit = Vec::new();
        for word in &ins.args {
            let (name, default) = split_arg(word);
            self.consumed.insert(name.to_owned());
            let value = match (self.options.build_arg(name), default) {
                (Some(given), _) => Some(given.to_owned()),
                (None, Some(default)) => Some(self.expand(state, default, at)?),
                (None, None) => self
                    .plan
                    .global_args
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone()),
            };
            if let Some(value) = &value {
                set_var(&mut state.vars, name, value.clone());
            }
            match state.args.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = value.clone(),
                None => state.args.push((name.to_owned(), value.clone())),
            }
            commit.push(match value {
                Some(value) if !is_proxy_arg(name) => format!("{name}={value}"),
                _ => name.to_owned(),
            });
        }
        self.metadata(state, at, format!("ARG {}", commit.join(" ")))
    }

    /// ENV/LABEL pairs, keys and values expanded against the variables before the
    /// instruction.
    fn expand_pairs(
        &mut self,
        state: &StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        for (key, value) in ins.key_values() {
            pairs.push((self.expand(state, key, at)?, self.expand(state, value, at)?));
        }
        Ok(pairs)
    }

    /// ENV: pairs into the config and the variables.
    pub(super) fn env(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let pairs = self.expand_pairs(state, ins, at)?;
        let mut text = String::from("ENV");
        for (key, value) in pairs {
            text.push_str(&format!(" {key}={value}"));
            let env = state.container().env.get_or_insert_with(Vec::new);
            let entry = format!("{key}={value}");
            match env
                .iter_mut()
                .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
            {
                Some(slot) => *slot = entry,
                None => env.push(entry),
            }
            set_var(&mut state.vars, &key, value);
        }
        self.metadata(state, at, text)
    }

    /// LABEL: pairs into the config labels.
    pub(super) fn label(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let pairs = self.expand_pairs(state, ins, at)?;
        let mut text = String::from("LABEL");
        let labels = state
            .container()
            .labels
            .get_or_insert_with(Default::default);
        for (key, value) in pairs {
            text.push_str(&format!(" {key}={value}"));
            labels.insert(key, value);
        }
        self.metadata(state, at, text)
    }

    /// EXPOSE: ports (variables expanded, ranges unrolled) into `ExposedPorts`.
    pub(super) fn expose(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let mut ports = Vec::new();
        for arg in &ins.args {
            let words = self
                .expansion(state, arg, at, self.file.directives.escape)?
                .words;
            for word in words {
                let (expanded, warning) =
                    parse_port(&word).map_err(|m| BuildError::instruction(at, m))?;
                if let Some(warning) = warning {
                    self.warnings.push(format!("{at}: {warning}"));
                }
                ports.extend(expanded);
            }
        }
        let exposed = state
            .container()
            .exposed_ports
            .get_or_insert_with(Default::default);
        for port in &ports {
            exposed.insert(port.clone(), json!({}));
        }
        self.metadata(state, at, format!("EXPOSE [{}]", ports.join(" ")))
    }

    /// CMD and ENTRYPOINT: exec form as written, shell form through the SHELL.
    pub(super) fn command(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let argv = if ins.json_form {
            ins.args.clone()
        } else {
            state.with_shell(ins.args.join(" "))
        };
        let text = go_quote_list(&argv);
        if ins.kind == InstructionKind::Cmd {
            state.cmd_set = true;
            let container = state.container();
            container.cmd = Some(argv);
            container.args_escaped = Some(true);
            return self.metadata(state, at, format!("CMD {text}"));
        }
        let cmd_set = state.cmd_set;
        let container = state.container();
        container.entrypoint = Some(argv);
        // An ENTRYPOINT drops the CMD inherited from the base, not one given in this stage.
        if !cmd_set {
            container.cmd = None;
        }
        self.metadata(state, at, format!("ENTRYPOINT {text}"))
    }

    /// WORKDIR: relative to the previous one; the executor creates it (a layer only then).
    pub(super) fn workdir(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let requested = self.expand(state, &ins.args.join(" "), at)?;
        if requested.is_empty() {
            return Err(BuildError::instruction(
                at,
                "WORKDIR requires exactly one argument",
            ));
        }
        let path = join_path(&state.workdir(), &requested);
        state.container().working_dir = Some(path.clone());
        let created_by = format!("WORKDIR {path}");
        if path == "/" {
            return self.metadata(state, at, created_by);
        }
        let user = state.user();
        let layer = self
            .executor
            .workdir(state.index, &path, &user)
            .map_err(|e| locate(at, &created_by, e))?;
        state.push_history(created_by, !layer);
        Ok(())
    }

    /// VOLUME: JSON or space-separated paths into `Volumes`.
    pub(super) fn volume(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let mut volumes = Vec::new();
        for arg in &ins.args {
            let volume = self.expand(state, arg, at)?.trim().to_owned();
            if volume.is_empty() {
                let message = "VOLUME specified can not be an empty string";
                return Err(BuildError::instruction(at, message));
            }
            volumes.push(volume);
        }
        if volumes.is_empty() {
            return Err(BuildError::instruction(
                at,
                "VOLUME requires at least one argument",
            ));
        }
        let map = state
            .container()
            .volumes
            .get_or_insert_with(Default::default);
        for volume in &volumes {
            map.insert(volume.clone(), json!({}));
        }
        self.metadata(state, at, format!("VOLUME [{}]", volumes.join(" ")))
    }

    /// STOPSIGNAL: a signal name or number.
    pub(super) fn stop_signal(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        if ins.args.len() != 1 {
            return Err(BuildError::instruction(
                at,
                "STOPSIGNAL requires exactly one argument",
            ));
        }
        let signal = self.expand(state, &ins.args[0], at)?;
        if !is_signal(&signal) {
            return Err(BuildError::instruction(
                at,
                format!("invalid signal: {signal}"),
            ));
        }
        state.container().stop_signal = Some(signal.clone());
        self.metadata(state, at, format!("STOPSIGNAL {signal}"))
    }

    /// SHELL: JSON form only; later shell forms use it.
    pub(super) fn shell(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        if !ins.json_form && !ins.args.is_empty() {
            let message = "SHELL requires the arguments to be in JSON form";
            return Err(BuildError::instruction(at, message));
        }
        if ins.args.is_empty() {
            return Err(BuildError::instruction(
                at,
                "SHELL requires at least one argument",
            ));
        }
        state.container().shell = Some(ins.args.clone());
        self.metadata(state, at, format!("SHELL [{}]", ins.args.join(" ")))
    }

    /// ONBUILD: the trigger text (unexpanded, heredocs re-attached) goes into the config.
    pub(super) fn onbuild(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        at: &Location,
    ) -> Result<()> {
        let Some(trigger) = &ins.onbuild else {
            return Err(BuildError::instruction(
                at,
                "ONBUILD requires at least one argument",
            ));
        };
        let mut text = trigger.original.clone();
        for heredoc in &trigger.heredocs {
            text.push('\n');
            text.push_str(&heredoc.content);
            text.push_str(&heredoc.name);
        }
        state
            .container()
            .on_build
            .get_or_insert_with(Vec::new)
            .push(text.clone());
        self.metadata(state, at, format!("ONBUILD {text}"))
    }
}

/// One EXPOSE word (`80`, `80/udp`, `8000-8002`, also `[ip:]host:container`) as `port/proto`
/// keys, plus BuildKit's warning when a host part is given.
fn parse_port(raw: &str) -> std::result::Result<(Vec<String>, Option<String>), String> {
    let container = raw.rsplit(':').next().unwrap_or(raw);
    let warning = (container.len() != raw.len()).then(|| {
        format!("ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '{raw}'")
    });
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    let proto = match proto.to_ascii_lowercase().as_str() {
        "" => "tcp".to_owned(),
        p @ ("tcp" | "udp" | "sctp") => p.to_owned(),
        _ => return Err(format!("invalid port: {raw:?}: invalid proto: {proto}")),
    };
    let number = |text: &str| {
        text.parse::<u16>()
            .map_err(|_| format!("invalid containerPort: {port}"))
    };
    let (start, end) = match port.split_once('-') {
        Some((start, end)) => (number(start)?, number(end)?),
        None => (number(port)?, number(port)?),
    };
    if end < start {
        return Err(format!("invalid containerPort: {port}"));
    }
    let ports = (start..=end).map(|p| format!("{p}/{proto}")).collect();
    Ok((ports, warning))
}

/// Linux signal names (without `SIG`) accepted by Docker's `ParseSignal`.
const SIGNALS: [&str; 34] = [
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

fn is_signal(text: &str) -> bool {
    if let Ok(number) = text.parse::<u32>() {
        return (1..=64).contains(&number);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = |prefix: &str| {
        name.strip_prefix(prefix).is_some_and(|offset| {
            offset.is_empty() || offset.parse::<u32>().is_ok_and(|n| (1..=15).contains(&n))
        })
    };
    SIGNALS.contains(&name)
        || realtime("RTMIN+")
        || realtime("RTMAX-")
        || name == "RTMIN"
        || name == "RTMAX"
}

/// HEALTHCHECK → Docker's config JSON and BuildKit's history text (Go `%+v`).
fn parse_healthcheck(ins: &Instruction) -> std::result::Result<(Value, String), String> {
    let Some(kind) = ins.args.first() else {
        return Err("HEALTHCHECK requires at least one argument".to_owned());
    };
    let kind = kind.to_uppercase();
    let rest = &ins.args[1..];
    let test: Vec<String> = match kind.as_str() {
        "NONE" if !rest.is_empty() => return Err("HEALTHCHECK NONE takes no arguments".to_owned()),
        "NONE" => vec![kind.clone()],
        "CMD" if rest.is_empty() || rest.iter().all(String::is_empty) => {
            return Err("Missing command after HEALTHCHECK CMD".to_owned());
        }
        "CMD" if ins.json_form => std::iter::once(kind.clone())
            .chain(rest.iter().cloned())
            .collect(),
        "CMD" => vec!["CMD-SHELL".to_owned(), rest.join(" ")],
        _ => return Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)")),
    };
    let mut object = serde_json::Map::new();
    object.insert("Test".to_owned(), json!(test));
    let mut text = format!("{{Test:[{}]", test.join(" "));
    let durations = [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ];
    for (flag, key) in durations {
        let nanos = match (kind.as_str(), ins.flags.get(flag)) {
            ("CMD", Some(value)) => parse_interval(flag, value)?,
            _ => 0,
        };
        if nanos != 0 {
            object.insert(key.to_owned(), json!(nanos));
        }
        text.push_str(&format!(" {key}:{}", go_duration(nanos)));
    }
    let retries = match (kind.as_str(), ins.flags.get("retries")) {
        ("CMD", Some(value)) if !value.is_empty() => parse_retries(value)?,
        _ => 0,
    };
    if retries != 0 {
        object.insert("Retries".to_owned(), json!(retries));
    }
    text.push_str(&format!(" Retries:{retries}}}"));
    Ok((Value::Object(object), text))
}

fn parse_retries(value: &str) -> std::result::Result<i32, String> {
    let retries: i32 = value
        .parse()
        .map_err(|_| format!("invalid value for --retries: {value:?}"))?;
    if retries < 0 {
        return Err(format!("--retries cannot be negative ({retries})"));
    }
    Ok(retries)
}

/// A HEALTHCHECK duration flag: a Go duration, 0 or at least 1ms.
fn parse_interval(flag: &str, value: &str) -> std::result::Result<i64, String> {
    if value.is_empty() {
        return Ok(0);
    }
    let nanos = parse_go_duration(value)
        .ok_or_else(|| format!("invalid duration {value:?} for --{flag}"))?;
    if nanos != 0 && nanos < 1_000_000 {
        return Err(format!("Interval {flag:?} cannot be less than 1ms"));
    }
    Ok(nanos)
}

pub(super) use crate::util::human::{go_duration, parse_go_duration};

/// Go's `%q` of a string slice: `["a" "b c"]`.
fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `strconv.Quote` for the characters Dockerfiles contain.
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
