//! Reading a project: finding the compose files, the `.env` file, parsing YAML (the only place
//! that knows the YAML crate, so it can be swapped), interpolating, checking and converting each
//! file, merging them, and finishing the services (environment, profiles, order).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Number, Value};

use super::convert::{
    PartialService, PathContext, as_string, convert_network, convert_service, convert_volume,
};
use super::dotenv::parse_dotenv;
use super::error::{ComposeError, KeyPath, Result, ValueError};
use super::interpolate::{Lookup, interpolate_tree};
use super::locate::locate;
use super::merge::{merge_network, merge_service, merge_volume};
use super::model::{Build, Healthcheck, Network, Project, Service, Volume};
use super::plan::{apply_profiles, order_services};
use super::syntax::normalize_project_name;
use super::validate::{check_file_keys, check_project};

/// The names `compose` looks for when no `-f` is given, in Compose's order of preference.
pub const DEFAULT_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// What `berth compose` was told: the flags and the process environment, which is passed in
/// so tests need not touch the real one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `-f`, in order; empty means the first of [`DEFAULT_FILE_NAMES`] in `working_dir`.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--env-file`, in order (later files win); empty means `.env` in the project directory
    /// when there is one.
    pub env_files: Vec<PathBuf>,
    /// `--profile`; `COMPOSE_PROFILES` (comma-separated) is added to these.
    pub profiles: Vec<String>,
    /// The directory the command runs in; relative `-f` and `--env-file` paths resolve here.
    pub working_dir: PathBuf,
    /// The process environment.
    pub environ: BTreeMap<String, String>,
}

/// One compose file: where it is, how the user named it, and its text (kept to find the line
/// of a key for errors).
struct SourceFile {
    path: PathBuf,
    display: String,
    text: String,
}

impl SourceFile {
    fn invalid(&self, error: ValueError) -> ComposeError {
        ComposeError::Invalid {
            file: self.display.clone(),
            location: locate(&self.text, &error.path),
            path: error.path.to_string(),
            message: error.message,
        }
    }
}

/// Variables for interpolation: the process environment wins over the `.env` file.
struct Variables<'a> {
    environ: &'a BTreeMap<String, String>,
    dotenv: IndexMap<String, String>,
}

impl Lookup for Variables<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.environ
            .get(name)
            .or_else(|| self.dotenv.get(name))
            .cloned()
    }
}

/// Loads, merges and validates a compose project. Nothing is started and nothing is written;
/// the only files read are the compose files, the `.env`/`--env-file` files and the services'
/// `env_file`s.
///
/// # Errors
///
/// Any [`ComposeError`]: a file that cannot be read, bad YAML, an unknown key, a bad value, a
/// required variable without a value, or a project-wide problem (dependency cycle, undeclared
/// volume, conflicting host ports, ...). Errors about a value name the file and key path.
pub fn load(options: &LoadOptions) -> Result<Project> {
    let files = find_files(options)?;
    let directory = files[0]
        .path
        .parent()
        .map_or_else(|| options.working_dir.clone(), Path::to_path_buf);
    let variables = Variables {
        environ: &options.environ,
        dotenv: load_project_env(options, &directory)?,
    };
    let context = PathContext {
        directory: &directory,
        home: options.environ.get("HOME").map(String::as_str),
    };
    let mut unset = Vec::new();
    let mut top_name = None;
    let mut services: IndexMap<String, (PartialService, usize)> = IndexMap::new();
    let mut volumes: BTreeMap<String, Volume> = BTreeMap::new();
    let mut networks: BTreeMap<String, Network> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let mut document = parse_yaml(file)?;
        interpolate_tree(&mut document, &KeyPath::root(), &variables, &mut unset)
            .map_err(|(path, error)| file.invalid(path.error(error.message())))?;
        check_file_keys(&document).map_err(|error| file.invalid(error))?;
        let parts = convert_file(&document, &context).map_err(|error| file.invalid(error))?;
        if parts.name.is_some() {
            top_name = parts.name;
        }
        for (name, service) in parts.services {
            match services.get_mut(&name) {
                Some((base, _)) => merge_service(base, service),
                None => {
                    services.insert(name, (service, index));
                }
            }
        }
        for (name, volume) in parts.volumes {
            match volumes.get_mut(&name) {
                Some(base) => merge_volume(base, volume),
                None => {
                    volumes.insert(name, volume);
                }
            }
        }
        for (name, network) in parts.networks {
            match networks.get_mut(&name) {
                Some(base) => merge_network(base, network),
                None => {
                    networks.insert(name, network);
                }
            }
        }
    }
    let name = project_name(options, &variables, top_name, &directory)?;
    let file_of = |service: &str| {
        let index = services.get(service).map_or(0, |(_, index)| *index);
        files[index].display.clone()
    };
    let mut finished = Vec::new();
    for (service_name, (partial, _)) in &services {
        finished.push(finish_service(
            service_name,
            partial.clone(),
            &variables,
            &directory,
        )?);
    }
    let active = active_profiles(options, &variables);
    let enabled = apply_profiles(finished, &active, &file_of)?;
    let volume_names: BTreeSet<&str> = volumes.keys().map(String::as_str).collect();
    let network_names: BTreeSet<&str> = networks.keys().map(String::as_str).collect();
    check_project(&enabled, &volume_names, &network_names, &file_of)?;
    let services = order_services(enabled)?;
    Ok(Project {
        name,
        directory,
        files: files.into_iter().map(|file| file.path).collect(),
        services,
        volumes,
        networks,
        warnings: unset
            .iter()
            .map(|name| format!("the {name:?} variable is not set. Defaulting to a blank string."))
            .collect(),
    })
}

fn read(path: &Path) -> Result<String> {
    fs_err::read_to_string(path).map_err(|source| ComposeError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn find_files(options: &LoadOptions) -> Result<Vec<SourceFile>> {
    let mut found = Vec::new();
    if options.files.is_empty() {
        let name = DEFAULT_FILE_NAMES
            .iter()
            .find(|name| options.working_dir.join(name).is_file())
            .ok_or_else(|| ComposeError::NoComposeFile {
                directory: options.working_dir.clone(),
            })?;
        found.push((options.working_dir.join(name), (*name).to_owned()));
    } else {
        for file in &options.files {
            found.push((options.working_dir.join(file), file.display().to_string()));
        }
    }
    found
        .into_iter()
        .map(|(path, display)| {
            let text = read(&path)?;
            Ok(SourceFile {
                path,
                display,
                text,
            })
        })
        .collect()
}

/// Reads `--env-file`s, or the project's `.env` when there is one.
fn load_project_env(options: &LoadOptions, directory: &Path) -> Result<IndexMap<String, String>> {
    let paths: Vec<PathBuf> = if options.env_files.is_empty() {
        let default = directory.join(".env");
        if default.is_file() {
            vec![default]
        } else {
            Vec::new()
        }
    } else {
        options
            .env_files
            .iter()
            .map(|path| options.working_dir.join(path))
            .collect()
    };
    let mut variables = IndexMap::new();
    for path in paths {
        variables.extend(load_env_file(&path, &options.environ)?);
    }
    Ok(variables)
}

fn load_env_file(path: &Path, environ: &dyn Lookup) -> Result<IndexMap<String, String>> {
    let text = read(path)?;
    parse_dotenv(&text, environ).map_err(|error| ComposeError::EnvFile {
        path: path.to_path_buf(),
        line: error.line,
        message: error.message,
    })
}

impl Lookup for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// Parses YAML into the neutral tree the rest of the module works on, applying `<<:` merge
/// keys (aliases are resolved by the parser).
fn parse_yaml(file: &SourceFile) -> Result<Value> {
    let syntax = |error: &serde_yaml_ng::Error| {
        let (line, column) = error
            .location()
            .map_or((1, 1), |location| (location.line(), location.column()));
        let message = strip_locations(&error.to_string());
        ComposeError::Syntax {
            file: file.display.clone(),
            line,
            column,
            message,
        }
    };
    let mut document: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&file.text).map_err(|error| syntax(&error))?;
    document.apply_merge().map_err(|error| syntax(&error))?;
    let document = yaml_to_tree(document, &KeyPath::root()).map_err(|error| file.invalid(error))?;
    match document {
        Value::Object(_) => Ok(document),
        Value::Null => Err(ComposeError::Project {
            file: file.display.clone(),
            message: "empty compose file".to_owned(),
        }),
        _ => Err(ComposeError::Project {
            file: file.display.clone(),
            message: "a compose file must be a mapping at the top level".to_owned(),
        }),
    }
}

/// Removes the " at line L column C" parts the YAML crate writes into its messages; the
/// location goes in front instead.
fn strip_locations(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(position) = rest.find(" at line ") {
        out.push_str(&rest[..position]);
        let after = &rest[position + " at line ".len()..];
        let digits =
            |text: &str| text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let line_digits = digits(after);
        let skipped = after[line_digits..]
            .strip_prefix(" column ")
            .filter(|_| line_digits > 0)
            .map(|column| &column[digits(column)..]);
        match skipped {
            Some(remaining) => rest = remaining,
            None => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn yaml_to_tree(value: serde_yaml_ng::Value, path: &KeyPath) -> Result<Value, ValueError> {
    use serde_yaml_ng::Value as Yaml;
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(flag) => Value::Bool(flag),
        Yaml::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Value::from(integer)
            } else if let Some(integer) = number.as_u64() {
                Value::from(integer)
            } else {
                number
                    .as_f64()
                    .and_then(Number::from_f64)
                    .map_or_else(|| Value::String(number.to_string()), Value::Number)
            }
        }
        Yaml::String(text) => Value::String(text),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| yaml_to_tree(item, &path.index(index)))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, item) in mapping {
                let key = match key {
                    Yaml::String(text) => text,
                    Yaml::Number(number) => number.to_string(),
                    Yaml::Bool(flag) => flag.to_string(),
                    _ => return Err(path.error("mapping keys must be strings")),
                };
                let item = yaml_to_tree(item, &path.key(&key))?;
                map.insert(key, item);
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => {
            return Err(path.error(format!("YAML tag {} is not supported by berth", tagged.tag)));
        }
    })
}

/// Writes a tree as YAML, for `compose config`.
pub(super) fn render_yaml(value: &Value) -> String {
    // Serialising a tree of plain maps, sequences and scalars cannot fail; should the crate
    // ever refuse, the message is still shown to the user rather than lost.
    serde_yaml_ng::to_string(value).unwrap_or_else(|error| format!("# error: {error}\n"))
}

/// The parts of one file.
struct FileParts {
    name: Option<String>,
    services: Vec<(String, PartialService)>,
    volumes: Vec<(String, Volume)>,
    networks: Vec<(String, Network)>,
}

fn convert_file(document: &Value, context: &PathContext<'_>) -> Result<FileParts, ValueError> {
    let root = KeyPath::root();
    let mut parts = FileParts {
        name: None,
        services: Vec::new(),
        volumes: Vec::new(),
        networks: Vec::new(),
    };
    let entries = |key: &str| -> Result<Vec<(&String, &Value, KeyPath)>, ValueError> {
        let path = root.key(key);
        match document.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => Ok(map
                .iter()
                .map(|(name, value)| (name, value, path.key(name)))
                .collect()),
            Some(other) => Err(path.error(format!(
                "expected a mapping, found {}",
                if other.is_array() {
                    "a sequence"
                } else {
                    "a scalar"
                }
            ))),
        }
    };
    if let Some(name) = document.get("name").filter(|name| !name.is_null()) {
        parts.name = Some(as_string(name, &root.key("name"))?);
    }
    for (name, value, path) in entries("services")? {
        check_service_name(name).map_err(|message| path.error(message))?;
        parts
            .services
            .push((name.clone(), convert_service(value, &path, context)?));
    }
    for (name, value, path) in entries("volumes")? {
        parts
            .volumes
            .push((name.clone(), convert_volume(value, &path)?));
    }
    for (name, value, path) in entries("networks")? {
        parts
            .networks
            .push((name.clone(), convert_network(value, &path)?));
    }
    Ok(parts)
}

fn check_service_name(name: &str) -> std::result::Result<(), String> {
    if super::syntax::is_plain_name(name) {
        Ok(())
    } else {
        Err(format!(
            "invalid service name {name:?}: use letters, digits, `_`, `.` and `-`, starting with a letter or digit"
        ))
    }
}

fn project_name(
    options: &LoadOptions,
    variables: &Variables<'_>,
    top_name: Option<String>,
    directory: &Path,
) -> Result<String> {
    let raw = options
        .project_name
        .clone()
        .or_else(|| {
            variables
                .get("COMPOSE_PROJECT_NAME")
                .filter(|name| !name.is_empty())
        })
        .or(top_name)
        .unwrap_or_else(|| {
            directory
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    normalize_project_name(&raw).ok_or(ComposeError::ProjectName { name: raw })
}

fn active_profiles(options: &LoadOptions, variables: &Variables<'_>) -> Vec<String> {
    let mut active = options.profiles.clone();
    if let Some(list) = variables.get("COMPOSE_PROFILES") {
        active.extend(
            list.split(',')
                .map(str::trim)
                .filter(|profile| !profile.is_empty())
                .map(str::to_owned),
        );
    }
    active
}

/// Turns a merged partial service into the final one: reads `env_file`s, resolves `KEY`-only
/// environment entries and build args from the variables (environment, then `.env`, as
/// Compose does), and applies the healthcheck's `disable`.
fn finish_service(
    name: &str,
    partial: PartialService,
    variables: &Variables<'_>,
    directory: &Path,
) -> Result<Service> {
    let mut environment = BTreeMap::new();
    for env_file in &partial.env_files {
        if !env_file.required && !env_file.path.is_file() {
            continue;
        }
        environment.extend(load_env_file(&env_file.path, variables.environ)?);
    }
    for (key, value) in partial.environment {
        match value.or_else(|| variables.get(&key)) {
            Some(value) => {
                environment.insert(key, value);
            }
            None => {
                environment.remove(&key);
            }
        }
    }
    let build = partial.build.map(|build| Build {
        // Compose's default context is the project directory.
        context: build.context.unwrap_or_else(|| directory.to_path_buf()),
        dockerfile: build.dockerfile,
        args: build
            .args
            .into_iter()
            .filter_map(|(key, value)| Some((key.clone(), value.or_else(|| variables.get(&key))?)))
            .collect(),
        target: build.target,
    });
    let healthcheck = partial.healthcheck.map(|check| {
        if check.disable == Some(true) {
            Healthcheck {
                test: vec!["NONE".to_owned()],
                interval: None,
                timeout: None,
                start_period: None,
                start_interval: None,
                retries: None,
            }
        } else {
            Healthcheck {
                test: check.test.unwrap_or_default(),
                interval: check.interval,
                timeout: check.timeout,
                start_period: check.start_period,
                start_interval: check.start_interval,
                retries: check.retries,
            }
        }
    });
    Ok(Service {
        name: name.to_owned(),
        image: partial.image,
        build,
        pull_policy: partial.pull_policy,
        command: partial.command,
        entrypoint: partial.entrypoint,
        environment,
        ports: partial.ports,
        expose: partial.expose,
        volumes: partial.volumes,
        tmpfs: partial.tmpfs,
        depends_on: partial.depends_on.into_iter().collect(),
        healthcheck,
        restart: partial.restart,
        working_dir: partial.working_dir,
        user: partial.user,
        hostname: partial.hostname,
        labels: partial.labels.into_iter().collect(),
        container_name: partial.container_name,
        init: partial.init,
        stop_signal: partial.stop_signal,
        stop_grace_period: partial.stop_grace_period,
        profiles: partial.profiles,
        extra_hosts: partial.extra_hosts,
        networks: partial.networks,
        dns: partial.dns,
        tty: partial.tty.unwrap_or(false),
        stdin_open: partial.stdin_open.unwrap_or(false),
        privileged: partial.privileged.unwrap_or(false),
        read_only: partial.read_only.unwrap_or(false),
        cap_add: partial.cap_add,
        cap_drop: partial.cap_drop,
    })
}
