//! Turns the (interpolated, key-checked) tree of one file into typed partial values, expanding
//! every short syntax and resolving host paths against the project directory. Each file is
//! converted on its own so that a bad value is reported with the file it is in; the partial
//! values of all files are then merged (`merge.rs`) and finished (`load.rs`).

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::error::{KeyPath, ValueError};
use super::model::{Condition, Dependency, MountKind, Network, Port, Volume, VolumeMount};
use super::syntax::{
    check_protocol, check_restart, check_target, parse_duration, parse_port, parse_port_range,
    parse_volume, split_shell_words,
};

type Result<T> = std::result::Result<T, ValueError>;

/// What relative and `~` paths resolve against.
pub(super) struct PathContext<'a> {
    /// The project directory (absolute).
    pub(super) directory: &'a Path,
    /// `HOME` from the environment given to `load`.
    pub(super) home: Option<&'a str>,
}

/// One `env_file` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EnvFileRef {
    pub(super) path: PathBuf,
    pub(super) required: bool,
}

/// `build:` as found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PartialBuild {
    pub(super) context: Option<PathBuf>,
    pub(super) dockerfile: Option<String>,
    pub(super) args: IndexMap<String, Option<String>>,
    pub(super) target: Option<String>,
}

/// `healthcheck:` as found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PartialHealthcheck {
    pub(super) test: Option<Vec<String>>,
    pub(super) interval: Option<Duration>,
    pub(super) timeout: Option<Duration>,
    pub(super) start_period: Option<Duration>,
    pub(super) start_interval: Option<Duration>,
    pub(super) retries: Option<u32>,
    pub(super) disable: Option<bool>,
}

/// A service as found in one file: everything optional, so an override file can set a single
/// key. `None` in `environment` and `build.args` means "take it from the environment".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PartialService {
    pub(super) image: Option<String>,
    pub(super) build: Option<PartialBuild>,
    pub(super) pull_policy: Option<String>,
    pub(super) command: Option<Vec<String>>,
    pub(super) entrypoint: Option<Vec<String>>,
    pub(super) env_files: Vec<EnvFileRef>,
    pub(super) environment: IndexMap<String, Option<String>>,
    pub(super) ports: Vec<Port>,
    pub(super) expose: Vec<String>,
    pub(super) volumes: Vec<VolumeMount>,
    pub(super) tmpfs: Vec<String>,
    pub(super) depends_on: IndexMap<String, Dependency>,
    pub(super) healthcheck: Option<PartialHealthcheck>,
    pub(super) restart: Option<String>,
    pub(super) working_dir: Option<String>,
    pub(super) user: Option<String>,
    pub(super) hostname: Option<String>,
    pub(super) labels: IndexMap<String, String>,
    pub(super) container_name: Option<String>,
    pub(super) init: Option<bool>,
    pub(super) stop_signal: Option<String>,
    pub(super) stop_grace_period: Option<Duration>,
    pub(super) profiles: Vec<String>,
    pub(super) extra_hosts: Vec<String>,
    pub(super) networks: Vec<String>,
    pub(super) dns: Vec<String>,
    pub(super) tty: Option<bool>,
    pub(super) stdin_open: Option<bool>,
    pub(super) privileged: Option<bool>,
    pub(super) read_only: Option<bool>,
    pub(super) cap_add: Vec<String>,
    pub(super) cap_drop: Vec<String>,
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

fn expected(path: &KeyPath, what: &str, value: &Value) -> ValueError {
    path.error(format!("expected {what}, found {}", describe(value)))
}

/// A scalar as text; numbers and booleans are written out, as Compose does after
/// interpolation.
pub(super) fn as_string(value: &Value, path: &KeyPath) -> Result<String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(expected(path, "a string", other)),
    }
}

/// A boolean; strings are accepted because interpolation (`tty: ${TTY:-false}`) makes them.
pub(super) fn as_bool(value: &Value, path: &KeyPath) -> Result<bool> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(true),
            "false" | "no" | "n" | "off" | "0" => Ok(false),
            _ => Err(path.error(format!("expected a boolean, found {text:?}"))),
        },
        other => Err(expected(path, "a boolean", other)),
    }
}

fn as_u32(value: &Value, path: &KeyPath) -> Result<u32> {
    let number = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse::<u64>().ok(),
        other => return Err(expected(path, "a non-negative integer", other)),
    };
    number
        .and_then(|number| u32::try_from(number).ok())
        .ok_or_else(|| path.error(format!("expected a non-negative integer, found {value}")))
}

fn as_duration(value: &Value, path: &KeyPath) -> Result<Duration> {
    match value {
        Value::String(text) => parse_duration(text).map_err(|message| path.error(message)),
        other => Err(expected(path, "a duration such as \"1m30s\"", other)),
    }
}

fn as_map<'a>(value: &'a Value, path: &KeyPath) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| expected(path, "a mapping", value))
}

/// A string or a sequence of scalars.
fn string_or_list(value: &Value, path: &KeyPath) -> Result<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| as_string(item, &path.index(index)))
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![as_string(other, path)?]),
    }
}

/// A sequence of scalars.
fn list(value: &Value, path: &KeyPath) -> Result<Vec<String>> {
    match value {
        Value::Array(_) | Value::Null => string_or_list(value, path),
        other => Err(expected(path, "a sequence", other)),
    }
}

/// `KEY: value` mapping or `KEY=value` list; a value of null (or a bare `KEY`) is `None`.
fn map_or_list(value: &Value, path: &KeyPath) -> Result<IndexMap<String, Option<String>>> {
    let mut out = IndexMap::new();
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let item = match item {
                    Value::Null => None,
                    other => Some(as_string(other, &path.key(key))?),
                };
                out.insert(key.clone(), item);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let text = as_string(item, &path.index(index))?;
                match text.split_once('=') {
                    Some((key, value)) => out.insert(key.to_owned(), Some(value.to_owned())),
                    None => out.insert(text, None),
                };
            }
        }
        Value::Null => {}
        other => return Err(expected(path, "a mapping or a sequence", other)),
    }
    if let Some(key) = out.keys().find(|key| key.is_empty()) {
        return Err(path.error(format!("empty variable name in {key:?}")));
    }
    Ok(out)
}

/// A command as a string (split like a shell) or a sequence of words.
fn command(value: &Value, path: &KeyPath) -> Result<Option<Vec<String>>> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => split_shell_words(text)
            .map(Some)
            .map_err(|message| path.error(message)),
        Value::Array(_) => list(value, path).map(Some),
        other => Err(expected(path, "a string or a sequence", other)),
    }
}

/// Makes `path` absolute against the project directory, expanding `~` from `HOME`, and
/// removes `.` and `..` components without touching the disk.
pub(super) fn resolve_host_path(
    text: &str,
    context: &PathContext<'_>,
    path: &KeyPath,
) -> Result<PathBuf> {
    let expanded = if text == "~" || text.starts_with("~/") {
        let home = context
            .home
            .ok_or_else(|| path.error(format!("cannot expand {text:?}: HOME is not set")))?;
        PathBuf::from(format!("{home}{}", &text[1..]))
    } else {
        PathBuf::from(text)
    };
    let joined = context.directory.join(expanded);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Converts `services.<name>`.
pub(super) fn convert_service(
    value: &Value,
    path: &KeyPath,
    context: &PathContext<'_>,
) -> Result<PartialService> {
    let mut service = PartialService::default();
    let map = match value {
        Value::Null => return Ok(service),
        other => as_map(other, path)?,
    };
    for (key, value) in map {
        let path = &path.key(key);
        if value.is_null() {
            // `key:` with nothing after it sets nothing, as in Compose.
            continue;
        }
        let text = || as_string(value, path).map(Some);
        let flag = || as_bool(value, path).map(Some);
        match key.as_str() {
            "image" => service.image = text()?,
            "build" => service.build = Some(convert_build(value, path, context)?),
            "pull_policy" => {
                let policy = as_string(value, path)?;
                check_pull_policy(&policy).map_err(|message| path.error(message))?;
                service.pull_policy = Some(policy);
            }
            "command" => service.command = command(value, path)?,
            "entrypoint" => service.entrypoint = command(value, path)?,
            "env_file" => service.env_files = convert_env_files(value, path, context)?,
            "environment" => service.environment = map_or_list(value, path)?,
            "ports" => service.ports = convert_ports(value, path)?,
            "expose" => service.expose = convert_expose(value, path)?,
            "volumes" => service.volumes = convert_mounts(value, path, context)?,
            "tmpfs" => service.tmpfs = convert_tmpfs(value, path)?,
            "depends_on" => service.depends_on = convert_depends_on(value, path)?,
            "healthcheck" => service.healthcheck = Some(convert_healthcheck(value, path)?),
            "restart" => {
                let policy = match value {
                    // YAML 1.1 reads an unquoted `no` as false.
                    Value::Bool(false) => "no".to_owned(),
                    other => as_string(other, path)?,
                };
                check_restart(&policy).map_err(|message| path.error(message))?;
                service.restart = Some(policy);
            }
            "working_dir" => service.working_dir = text()?,
            "user" => service.user = text()?,
            "hostname" => service.hostname = text()?,
            "labels" => service.labels = labels(value, path)?,
            "container_name" => service.container_name = text()?,
            "init" => service.init = flag()?,
            "stop_signal" => service.stop_signal = text()?,
            "stop_grace_period" => service.stop_grace_period = Some(as_duration(value, path)?),
            "profiles" => service.profiles = list(value, path)?,
            "extra_hosts" => service.extra_hosts = convert_extra_hosts(value, path)?,
            "networks" => service.networks = convert_service_networks(value, path)?,
            "dns" => service.dns = string_or_list(value, path)?,
            "tty" => service.tty = flag()?,
            "stdin_open" => service.stdin_open = flag()?,
            "privileged" => service.privileged = flag()?,
            "read_only" => service.read_only = flag()?,
            "cap_add" => service.cap_add = list(value, path)?,
            "cap_drop" => service.cap_drop = list(value, path)?,
            // Ignored and extension keys were let through by the key check.
            _ => {}
        }
    }
    Ok(service)
}

fn check_pull_policy(policy: &str) -> std::result::Result<(), String> {
    match policy {
        "always" | "never" | "missing" | "if_not_present" | "build" | "daily" | "weekly" => Ok(()),
        other
            if other
                .strip_prefix("every_")
                .is_some_and(|every| parse_duration(every).is_ok()) =>
        {
            Ok(())
        }
        other => Err(format!(
            "invalid pull_policy {other:?} (expected always, never, missing, build, daily, weekly or every_<duration>)"
        )),
    }
}

fn labels(value: &Value, path: &KeyPath) -> Result<IndexMap<String, String>> {
    Ok(map_or_list(value, path)?
        .into_iter()
        .map(|(key, value)| (key, value.unwrap_or_default()))
        .collect())
}

fn convert_build(value: &Value, path: &KeyPath, context: &PathContext<'_>) -> Result<PartialBuild> {
    let resolve_context = |text: &str, path: &KeyPath| {
        if text.contains("://") || text.starts_with("git@") {
            return Err(path.error(format!(
                "remote build context {text:?} is not supported by berth"
            )));
        }
        resolve_host_path(text, context, path)
    };
    if let Value::String(text) = value {
        return Ok(PartialBuild {
            context: Some(resolve_context(text, path)?),
            ..PartialBuild::default()
        });
    }
    let mut build = PartialBuild::default();
    for (key, value) in as_map(value, path)? {
        let path = &path.key(key);
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "context" => build.context = Some(resolve_context(&as_string(value, path)?, path)?),
            "dockerfile" => build.dockerfile = Some(as_string(value, path)?),
            "args" => build.args = map_or_list(value, path)?,
            "target" => build.target = Some(as_string(value, path)?),
            _ => {}
        }
    }
    Ok(build)
}

fn convert_env_files(
    value: &Value,
    path: &KeyPath,
    context: &PathContext<'_>,
) -> Result<Vec<EnvFileRef>> {
    let entry = |item: &Value, path: &KeyPath| -> Result<EnvFileRef> {
        let (file, required) = match item {
            Value::Object(map) => {
                let file_path = path.key("path");
                let file = map
                    .get("path")
                    .ok_or_else(|| path.error("missing `path`"))?;
                let required = match map.get("required") {
                    Some(required) => as_bool(required, &path.key("required"))?,
                    None => true,
                };
                (as_string(file, &file_path)?, required)
            }
            other => (as_string(other, path)?, true),
        };
        Ok(EnvFileRef {
            path: resolve_host_path(&file, context, path)?,
            required,
        })
    };
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| entry(item, &path.index(index)))
            .collect(),
        other => Ok(vec![entry(other, path)?]),
    }
}

fn convert_ports(value: &Value, path: &KeyPath) -> Result<Vec<Port>> {
    let Value::Array(items) = value else {
        return Err(expected(path, "a sequence", value));
    };
    let mut ports = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let path = &path.index(index);
        let port = match item {
            Value::Object(map) => convert_long_port(map, path)?,
            Value::String(_) | Value::Number(_) => {
                parse_port(&as_string(item, path)?).map_err(|message| path.error(message))?
            }
            other => return Err(expected(path, "a string or a mapping", other)),
        };
        ports.push(port);
    }
    Ok(ports)
}

fn convert_long_port(map: &Map<String, Value>, path: &KeyPath) -> Result<Port> {
    let field = |key: &str| -> Result<Option<String>> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => as_string(value, &path.key(key)).map(Some),
        }
    };
    let target = field("target")?.ok_or_else(|| path.error("missing `target`"))?;
    if parse_port_range(&target).is_none() {
        return Err(path.key("target").error(format!("invalid port {target:?}")));
    }
    let published = field("published")?.filter(|published| !published.is_empty());
    if let Some(published) = &published
        && parse_port_range(published).is_none()
    {
        return Err(path
            .key("published")
            .error(format!("invalid port {published:?}")));
    }
    let protocol = field("protocol")?.unwrap_or_else(|| "tcp".to_owned());
    check_protocol(&protocol).map_err(|message| path.key("protocol").error(message))?;
    Ok(Port {
        host_ip: field("host_ip")?.filter(|ip| !ip.is_empty()),
        published,
        target,
        protocol,
    })
}

fn convert_expose(value: &Value, path: &KeyPath) -> Result<Vec<String>> {
    let exposed = list(value, path)?;
    for (index, port) in exposed.iter().enumerate() {
        let (range, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
        if parse_port_range(range).is_none() || check_protocol(protocol).is_err() {
            return Err(path.index(index).error(format!("invalid port {port:?}")));
        }
    }
    Ok(exposed)
}

fn convert_mounts(
    value: &Value,
    path: &KeyPath,
    context: &PathContext<'_>,
) -> Result<Vec<VolumeMount>> {
    let Value::Array(items) = value else {
        return Err(expected(path, "a sequence", value));
    };
    let mut mounts = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let path = &path.index(index);
        let mount = match item {
            Value::String(spec) => {
                let spec = parse_volume(spec).map_err(|message| path.error(message))?;
                let source = match (spec.kind, spec.source) {
                    (MountKind::Bind, Some(source)) => Some(
                        resolve_host_path(&source, context, path)?
                            .to_string_lossy()
                            .into_owned(),
                    ),
                    (_, source) => source,
                };
                VolumeMount {
                    kind: spec.kind,
                    source,
                    target: spec.target,
                    read_only: spec.read_only,
                }
            }
            Value::Object(map) => convert_long_mount(map, path, context)?,
            other => return Err(expected(path, "a string or a mapping", other)),
        };
        mounts.push(mount);
    }
    Ok(mounts)
}

fn convert_long_mount(
    map: &Map<String, Value>,
    path: &KeyPath,
    context: &PathContext<'_>,
) -> Result<VolumeMount> {
    let field = |key: &str| -> Result<Option<String>> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => as_string(value, &path.key(key)).map(Some),
        }
    };
    let kind = match field("type")?.as_deref() {
        Some("bind") => MountKind::Bind,
        Some("volume") => MountKind::Volume,
        Some("tmpfs") => MountKind::Tmpfs,
        Some(other) => {
            return Err(path
                .key("type")
                .error(format!("mount type {other:?} is not supported by berth")));
        }
        None => return Err(path.error("missing `type` (bind, volume or tmpfs)")),
    };
    let target = field("target")?.ok_or_else(|| path.error("missing `target`"))?;
    check_target(&target).map_err(|message| path.key("target").error(message))?;
    let source = field("source")?.filter(|source| !source.is_empty());
    let source = match (kind, source) {
        (MountKind::Bind, None) => return Err(path.error("missing `source` for a bind mount")),
        (MountKind::Bind, Some(source)) => Some(
            resolve_host_path(&source, context, &path.key("source"))?
                .to_string_lossy()
                .into_owned(),
        ),
        (MountKind::Tmpfs, Some(_)) => {
            return Err(path.key("source").error("a tmpfs mount takes no source"));
        }
        (_, source) => source,
    };
    let read_only = match map.get("read_only") {
        None | Some(Value::Null) => false,
        Some(value) => as_bool(value, &path.key("read_only"))?,
    };
    Ok(VolumeMount {
        kind,
        source,
        target,
        read_only,
    })
}

fn convert_tmpfs(value: &Value, path: &KeyPath) -> Result<Vec<String>> {
    let entries = string_or_list(value, path)?;
    for (index, entry) in entries.iter().enumerate() {
        let target = entry.split(':').next().unwrap_or_default();
        check_target(target).map_err(|message| {
            let entry_path = if value.is_array() {
                path.index(index)
            } else {
                path.clone()
            };
            entry_path.error(format!("invalid tmpfs {entry:?}: {message}"))
        })?;
    }
    Ok(entries)
}

fn convert_depends_on(value: &Value, path: &KeyPath) -> Result<IndexMap<String, Dependency>> {
    let started = Dependency {
        condition: Condition::Started,
        restart: false,
        required: true,
    };
    let mut out = IndexMap::new();
    match value {
        Value::Array(_) => {
            for name in list(value, path)? {
                out.insert(name, started);
            }
        }
        Value::Object(map) => {
            for (name, item) in map {
                let path = &path.key(name);
                let mut dependency = started;
                if !item.is_null() {
                    for (key, value) in as_map(item, path)? {
                        let path = &path.key(key);
                        match key.as_str() {
                            "condition" => {
                                dependency.condition = match as_string(value, path)?.as_str() {
                                    "service_started" => Condition::Started,
                                    "service_healthy" => Condition::Healthy,
                                    "service_completed_successfully" => {
                                        Condition::CompletedSuccessfully
                                    }
                                    other => return Err(path.error(format!(
                                        "invalid condition {other:?} (expected service_started, service_healthy or service_completed_successfully)"
                                    ))),
                                };
                            }
                            "restart" => dependency.restart = as_bool(value, path)?,
                            "required" => dependency.required = as_bool(value, path)?,
                            _ => {}
                        }
                    }
                }
                out.insert(name.clone(), dependency);
            }
        }
        other => return Err(expected(path, "a sequence or a mapping", other)),
    }
    Ok(out)
}

fn convert_healthcheck(value: &Value, path: &KeyPath) -> Result<PartialHealthcheck> {
    let mut check = PartialHealthcheck::default();
    for (key, value) in as_map(value, path)? {
        let path = &path.key(key);
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "test" => check.test = Some(healthcheck_test(value, path)?),
            "interval" => check.interval = Some(as_duration(value, path)?),
            "timeout" => check.timeout = Some(as_duration(value, path)?),
            "start_period" => check.start_period = Some(as_duration(value, path)?),
            "start_interval" => check.start_interval = Some(as_duration(value, path)?),
            "retries" => check.retries = Some(as_u32(value, path)?),
            "disable" => check.disable = Some(as_bool(value, path)?),
            _ => {}
        }
    }
    Ok(check)
}

fn healthcheck_test(value: &Value, path: &KeyPath) -> Result<Vec<String>> {
    match value {
        Value::String(text) => Ok(vec!["CMD-SHELL".to_owned(), text.clone()]),
        Value::Array(_) => {
            let test = list(value, path)?;
            match test.first().map(String::as_str) {
                Some("CMD" | "CMD-SHELL" | "NONE") => Ok(test),
                _ => {
                    Err(path
                        .error("a test list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\""))
                }
            }
        }
        other => Err(expected(path, "a string or a sequence", other)),
    }
}

fn convert_extra_hosts(value: &Value, path: &KeyPath) -> Result<Vec<String>> {
    let entry = |name: &str, address: &str, path: &KeyPath| -> Result<String> {
        if name.is_empty() || address.is_empty() {
            return Err(path.error(format!(
                "invalid extra host {:?} (expected name:ip)",
                format!("{name}:{address}")
            )));
        }
        Ok(format!("{name}:{address}"))
    };
    let mut hosts = Vec::new();
    match value {
        Value::Object(map) => {
            for (name, addresses) in map {
                let path = &path.key(name);
                for address in string_or_list(addresses, path)? {
                    hosts.push(entry(name, &address, path)?);
                }
            }
        }
        _ => {
            for (index, text) in list(value, path)?.iter().enumerate() {
                let path = &path.index(index);
                // `name=ip` is the newer form; `name:ip` the older (an IPv6 address keeps its
                // colons since only the first one separates).
                let (name, address) = text
                    .split_once('=')
                    .or_else(|| text.split_once(':'))
                    .ok_or_else(|| {
                        path.error(format!("invalid extra host {text:?} (expected name:ip)"))
                    })?;
                hosts.push(entry(name, address, path)?);
            }
        }
    }
    Ok(hosts)
}

fn convert_service_networks(value: &Value, path: &KeyPath) -> Result<Vec<String>> {
    match value {
        Value::Object(map) => {
            for (name, item) in map {
                if !item.is_null() {
                    as_map(item, &path.key(name))?;
                }
            }
            Ok(map.keys().cloned().collect())
        }
        _ => list(value, path),
    }
}

/// `external:` is a boolean, or (in old files) a mapping with the real `name`.
fn external(value: &Value, path: &KeyPath) -> Result<(bool, Option<String>)> {
    match value {
        Value::Object(map) => {
            let name = match map.get("name") {
                Some(name) => Some(as_string(name, &path.key("name"))?),
                None => None,
            };
            Ok((true, name))
        }
        other => Ok((as_bool(other, path)?, None)),
    }
}

/// Converts one top-level `volumes.<name>` entry.
pub(super) fn convert_volume(value: &Value, path: &KeyPath) -> Result<Volume> {
    let mut volume = Volume::default();
    if value.is_null() {
        return Ok(volume);
    }
    for (key, value) in as_map(value, path)? {
        let path = &path.key(key);
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "name" => volume.name = Some(as_string(value, path)?),
            "external" => {
                let (external, name) = external(value, path)?;
                volume.external = external;
                volume.name = name.or(volume.name.take());
            }
            "labels" => volume.labels = labels(value, path)?.into_iter().collect(),
            "driver" => volume.driver = Some(as_string(value, path)?),
            _ => {}
        }
    }
    Ok(volume)
}

/// Converts one top-level `networks.<name>` entry.
pub(super) fn convert_network(value: &Value, path: &KeyPath) -> Result<Network> {
    let mut network = Network::default();
    if value.is_null() {
        return Ok(network);
    }
    for (key, value) in as_map(value, path)? {
        let path = &path.key(key);
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "name" => network.name = Some(as_string(value, path)?),
            "external" => {
                let (external, name) = external(value, path)?;
                network.external = external;
                network.name = name.or(network.name.take());
            }
            "labels" => network.labels = labels(value, path)?.into_iter().collect(),
            "driver" => network.driver = Some(as_string(value, path)?),
            _ => {}
        }
    }
    Ok(network)
}
