//! `container create` / `create`, and the record-building that `run` shares: the image's
//! defaults overridden by the flags, with Docker's precedence.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use chrono::Utc;
use fs_err as fs;

use super::super::image::pull::{ensure_image, pull_policy};
use super::super::{ExitStatus, Session};
use crate::cli::ContainerCreateArgs;
use crate::image::ops;
use crate::oci::Digest;
use crate::runtime::{self, network};
use crate::storage::containers::{
    ContainerConfig, ContainerRecord, HealthConfig, HostConfig, MountSpec, Resources,
    RestartPolicy, SdNotify, State,
};
use crate::storage::{Store, WriteLock};
use crate::util::{self, names};

pub(crate) fn run(
    mut args: ContainerCreateArgs,
    session: &Session<'_>,
) -> anyhow::Result<ExitStatus> {
    args.command_line = std::env::args().skip(1).collect();
    let store = session.store()?;
    // Docker's `run` convention, which its `create` shares: 125 when berth itself fails.
    let record = match create(&store, &args) {
        Ok(record) => record,
        Err(error) => return Ok(super::run::fail(session, &error, 125)),
    };
    session.cx.printer.line(&record.id);
    Ok(ExitStatus::SUCCESS)
}

/// Builds and stores the record of a new container; returns it.
pub(crate) fn create(store: &Store, args: &ContainerCreateArgs) -> anyhow::Result<ContainerRecord> {
    let resolved = ensure_image(
        store,
        &args.image,
        pull_policy(args.pull),
        crate::storage::unpack::UnpackOptions::default(),
    )?;
    let details = ops::details(store, resolved.image)?;
    let image_config = details.config.config.clone().unwrap_or_default();
    let id = util::ids::random_hex(32);

    // Entrypoint and command: `--entrypoint` resets the image's CMD (Docker's rule).
    let (entrypoint, cmd) = match (&args.entrypoint_args, &args.entrypoint) {
        (Some(entrypoint), _) => (entrypoint.clone(), args.command.clone()),
        (None, Some(entrypoint)) => {
            let entrypoint = if entrypoint.is_empty() {
                Vec::new()
            } else {
                vec![entrypoint.clone()]
            };
            (entrypoint, args.command.clone())
        }
        (None, None) => {
            let cmd = if args.command.is_empty() {
                image_config.cmd.clone().unwrap_or_default()
            } else {
                args.command.clone()
            };
            (image_config.entrypoint.clone().unwrap_or_default(), cmd)
        }
    };
    let mut full = entrypoint.clone();
    full.extend(cmd.iter().cloned());
    if full.is_empty() {
        bail!("no command specified");
    }

    let mut env = environment(
        image_config.env.clone().unwrap_or_default(),
        &args.env_file,
        &args.env,
    )?;
    let mut labels: BTreeMap<String, String> = image_config.labels.clone().unwrap_or_default();
    for label in &args.label {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        labels.insert(key.to_owned(), value.to_owned());
    }
    if let Some(signal) = &args.stop_signal {
        runtime::parse_signal(signal)?;
    }
    let mut exposed_ports: Vec<String> = image_config
        .exposed_ports
        .iter()
        .flat_map(|p| p.keys().cloned())
        .collect();
    exposed_ports.sort();

    let mut network = network::Mode::parse(&args.network)?;
    if let Some(pod) = &args.pod {
        if !matches!(args.network.as_str(), "pasta" | "default" | "bridge") {
            bail!(
                "--pod and --network cannot be used together: a pod's containers share its network"
            );
        }
        if !args.publish.is_empty() || args.publish_all {
            bail!(
                "a container in a pod cannot publish ports: publish them on the pod (`pod create -p`)"
            );
        }
        network = network::Mode::Pod(crate::commands::pod::resolve(store, pod)?.id);
    }
    let network = match network {
        network::Mode::Container(name) => {
            network::Mode::Container(super::resolve(store, &name)?.id)
        }
        other => other,
    };
    let mut port_bindings = Vec::new();
    for text in &args.publish {
        port_bindings.extend(network::ports::parse_publish(text)?);
    }
    if args.publish_all {
        port_bindings.extend(network::ports::publish_all(&exposed_ports));
    }
    if !port_bindings.is_empty() && !network.can_publish() {
        bail!(
            "cannot publish ports with --network {}: ports are published by the rootless network (pasta or slirp4netns)",
            args.network
        );
    }
    let network_mode = network.as_text();
    for server in &args.dns {
        if server.parse::<std::net::IpAddr>().is_err() {
            bail!("invalid --dns `{server}`: not an IP address");
        }
    }
    for entry in &args.add_host {
        parse_extra_host(entry)?;
    }
    for alias in &args.network_alias {
        names::validate_name(alias)?;
    }
    if args.init && crate::util::process::CATATONIT.find().is_none() {
        bail!(
            "--init needs `catatonit`, a static init for containers: install the `catatonit` package"
        );
    }
    let mut mounts = parse_mounts(args)?;
    for volume in image_config.volumes.iter().flat_map(|v| v.keys()) {
        if !mounts.iter().any(|m| m.destination == *volume) {
            mounts.push(MountSpec {
                kind: "volume".to_owned(),
                source: util::ids::random_hex(32),
                destination: volume.clone(),
                read_only: false,
                options: Vec::new(),
                anonymous: true,
            });
        }
    }
    let sdnotify = sdnotify(args, &mut mounts, &mut env)?;
    let restart = parse_restart(&args.restart)?;
    let healthcheck = healthcheck(args, image_config.healthcheck.as_ref())?;
    if restart.name != "no" && args.rm {
        bail!("conflicting options: cannot specify both --restart and --rm");
    }
    let lock = store.lock()?;
    let name = choose_name(store, &lock, args.name.as_deref())?;
    let record = ContainerRecord {
        id: id.clone(),
        name,
        image: args.image.clone(),
        image_id: details.summary.id.clone(),
        layers: chain_ids(&details.config.rootfs.diff_ids),
        created: Utc::now(),
        config: ContainerConfig {
            args: full,
            entrypoint,
            cmd,
            env,
            working_dir: args
                .workdir
                .clone()
                .or(image_config.working_dir.clone())
                .unwrap_or_default(),
            user: args
                .user
                .clone()
                .or(image_config.user.clone())
                .unwrap_or_default(),
            // Docker: the short ID, or the host's name when sharing the host's network.
            hostname: args.hostname.clone().unwrap_or_else(|| {
                if network_mode == "host" {
                    nix::unistd::gethostname()
                        .ok()
                        .and_then(|h| h.into_string().ok())
                        .unwrap_or_else(|| id[..12].to_owned())
                } else {
                    id[..12].to_owned()
                }
            }),
            labels,
            stop_signal: args
                .stop_signal
                .clone()
                .or(image_config.stop_signal.clone())
                .unwrap_or_else(|| "SIGTERM".to_owned()),
            stop_timeout: args.stop_timeout,
            tty: args.tty,
            open_stdin: args.interactive,
            exposed_ports,
            healthcheck,
        },
        host_config: HostConfig {
            mounts,
            auto_remove: args.rm,
            restart,
            network_mode,
            read_only: args.read_only,
            privileged: args.privileged,
            cap_add: args.cap_add.clone(),
            cap_drop: args.cap_drop.clone(),
            security_opt: args.security_opt.clone(),
            init: args.init,
            resources: Resources {
                memory: args.memory.as_deref().map(parse_bytes).transpose()?,
                nano_cpus: args.cpus.map(|cpus| {
                    #[expect(clippy::cast_possible_truncation, reason = "CPU counts are small")]
                    let nano = (cpus * 1e9) as i64;
                    nano
                }),
                pids_limit: args.pids_limit,
            },
            port_bindings,
            dns: args.dns.clone(),
            dns_search: args.dns_search.clone(),
            dns_options: args.dns_option.clone(),
            extra_hosts: args.add_host.clone(),
            network_aliases: args.network_alias.clone(),
            sdnotify,
        },
        state: State::default(),
        create_command: args.command_line.clone(),
    };
    crate::runtime::security::capability_set(&args.cap_add, &args.cap_drop, args.privileged)?;
    for mount in record
        .host_config
        .mounts
        .iter()
        .filter(|m| m.kind == "volume")
    {
        store.ensure_volume(&lock, &mount.source, &BTreeMap::new(), mount.anonymous)?;
    }
    store.create_container(&lock, &record)?;
    Ok(record)
}

/// The `--health-*` flags (or compose's test) merged over the image's `HEALTHCHECK`, field by
/// field as Docker merges them; None when neither sets anything.
fn healthcheck(
    args: &ContainerCreateArgs,
    image: Option<&serde_json::Value>,
) -> anyhow::Result<Option<HealthConfig>> {
    let durations = [
        ("--health-interval", &args.health_interval),
        ("--health-timeout", &args.health_timeout),
        ("--health-start-period", &args.health_start_period),
        ("--health-start-interval", &args.health_start_interval),
    ];
    let mut nanos = [0u64; 4];
    for ((flag, value), slot) in durations.iter().zip(&mut nanos) {
        let Some(text) = value else { continue };
        let parsed = util::human::parse_go_duration(text).ok_or_else(|| {
            anyhow::anyhow!(
                "invalid argument \"{text}\" for \"{flag}\" flag: time: invalid duration \"{text}\""
            )
        })?;
        let Ok(parsed) = u64::try_from(parsed) else {
            bail!("{flag} cannot be negative");
        };
        if parsed != 0 && parsed < 1_000_000 {
            bail!("{flag} cannot be less than 1ms");
        }
        *slot = parsed;
    }
    let flags_given = args.health_cmd.is_some()
        || durations.iter().any(|(_, value)| value.is_some())
        || args.health_retries.is_some();
    if args.no_healthcheck && flags_given {
        bail!("--no-healthcheck conflicts with --health-* options");
    }
    let test = match (&args.health_test, &args.health_cmd) {
        (Some(test), _) => {
            let kind = test.first().map(String::as_str);
            if kind != Some("NONE") && runtime::health::command(test).is_none() {
                bail!(
                    "invalid healthcheck test {test:?}: expected [\"CMD\", …], [\"CMD-SHELL\", command] or [\"NONE\"]"
                );
            }
            test.clone()
        }
        (None, _) if args.no_healthcheck => vec!["NONE".to_owned()],
        (None, Some(command)) => vec!["CMD-SHELL".to_owned(), command.clone()],
        (None, None) => Vec::new(),
    };
    let [interval, timeout, start_period, start_interval] = nanos;
    let own = HealthConfig {
        test,
        interval,
        timeout,
        start_period,
        start_interval,
        retries: args.health_retries.unwrap_or(0),
    };
    let inherited = image.map(runtime::health::parse_image_config);
    Ok(match inherited {
        Some(base) => Some(own.merged_over(&base)),
        None if own == HealthConfig::default() => None,
        None => Some(own),
    })
}

/// `--sdnotify`. For `container`, the host's `NOTIFY_SOCKET` is bound into the container at
/// Podman's path and named there, so the application reports readiness itself; otherwise
/// the container never sees the socket (systemd would take its messages for the unit's).
fn sdnotify(
    args: &ContainerCreateArgs,
    mounts: &mut Vec<MountSpec>,
    env: &mut Vec<String>,
) -> anyhow::Result<SdNotify> {
    const INSIDE: &str = "/run/notify/notify.sock";
    env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
    let mode = match args.sdnotify.as_str() {
        "container" => SdNotify::Container,
        "ignore" => SdNotify::Ignore,
        _ => SdNotify::Conmon,
    };
    if mode != SdNotify::Container {
        return Ok(mode);
    }
    let Some(socket) = std::env::var_os(crate::env::NOTIFY_SOCKET) else {
        return Ok(mode);
    };
    let socket = socket.to_string_lossy().into_owned();
    if socket.starts_with('@') {
        bail!(
            "--sdnotify=container needs a NOTIFY_SOCKET path: the abstract socket `{socket}` cannot be passed into a container"
        );
    }
    mounts.push(MountSpec {
        kind: "bind".to_owned(),
        source: socket,
        destination: INSIDE.to_owned(),
        read_only: false,
        options: Vec::new(),
        anonymous: false,
    });
    env.push(format!("NOTIFY_SOCKET={INSIDE}"));
    Ok(mode)
}

/// `512m`, `1g`, `1024k`, `100000` (bytes), as Docker reads `--memory`.
fn parse_bytes(text: &str) -> anyhow::Result<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches('b');
    let (number, factor) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        _ => (lower, 1),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size: '{text}'"))?;
    #[expect(clippy::cast_possible_truncation, reason = "sizes fit in i64")]
    let bytes = (value * factor as f64) as i64;
    if bytes < 6 * 1024 * 1024 {
        bail!("Minimum memory limit allowed is 6MB");
    }
    Ok(bytes)
}

fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut parent: Option<Digest> = None;
    diff_ids
        .iter()
        .map(|diff_id| {
            let chain = Digest::chain(parent.as_ref(), diff_id);
            parent = Some(chain.clone());
            chain
        })
        .collect()
}

/// A given name must be valid and free; otherwise Docker's generated `adjective_surname`.
fn choose_name(store: &Store, _lock: &WriteLock, wanted: Option<&str>) -> anyhow::Result<String> {
    let records = store.list_containers()?;
    match wanted {
        Some(name) => {
            names::validate_name(name)?;
            let name = name.strip_prefix('/').unwrap_or(name);
            if let Some(other) = records.iter().find(|r| r.name == name) {
                bail!(
                    "the container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                );
            }
            Ok(name.to_owned())
        }
        None => Ok(names::unique_name(&|candidate| {
            records.iter().any(|r| r.name == candidate)
        })),
    }
}

/// Image env, then `--env-file`s, then `-e`; `-e KEY` takes the value from our environment.
fn environment(
    mut env: Vec<String>,
    files: &[std::path::PathBuf],
    flags: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut set = |entry: String| {
        let key = entry
            .split_once('=')
            .map_or(entry.as_str(), |(k, _)| k)
            .to_owned();
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        env.push(entry);
    };
    for file in files {
        let text = fs::read_to_string(file).context("cannot read the env file")?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, _) = line.split_once('=').unwrap_or((line, ""));
            if key.is_empty() || key.contains(char::is_whitespace) {
                bail!(
                    "{}:{}: invalid environment variable `{line}`",
                    file.display(),
                    number + 1
                );
            }
            match line.split_once('=') {
                Some(_) => set(line.to_owned()),
                None => {
                    if let Ok(value) = std::env::var(line) {
                        set(format!("{line}={value}"));
                    }
                }
            }
        }
    }
    for flag in flags {
        match flag.split_once('=') {
            Some(("", _)) => bail!("invalid environment variable `{flag}`: the name is empty"),
            Some(_) => set(flag.clone()),
            None => {
                if let Ok(value) = std::env::var(flag) {
                    set(format!("{flag}={value}"));
                }
            }
        }
    }
    Ok(env)
}

/// `--add-host NAME:IP` (or `NAME=IP`); the IP may be `host-gateway`.
pub(crate) fn parse_extra_host(entry: &str) -> anyhow::Result<(&str, &str)> {
    let (name, ip) = entry
        .split_once('=')
        .or_else(|| entry.split_once(':'))
        .ok_or_else(|| anyhow::anyhow!("invalid --add-host `{entry}`: use NAME:IP"))?;
    if name.is_empty() || (ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err()) {
        bail!("invalid --add-host `{entry}`: use NAME:IP, where IP is an address or host-gateway");
    }
    Ok((name, ip))
}

fn parse_restart(text: &str) -> anyhow::Result<RestartPolicy> {
    let (name, count) = match text.split_once(':') {
        Some((name, count)) => (name, Some(count)),
        None => (text, None),
    };
    let maximum_retry_count = match (name, count) {
        ("on-failure", Some(count)) => count.parse().with_context(|| {
            format!("invalid restart policy `{text}`: the count must be a number")
        })?,
        (_, Some(_)) => bail!("invalid restart policy `{text}`: only on-failure takes a count"),
        _ => 0,
    };
    match name {
        "no" | "always" | "on-failure" | "unless-stopped" => Ok(RestartPolicy {
            name: name.to_owned(),
            maximum_retry_count,
        }),
        _ => bail!(
            "invalid restart policy `{text}`: use no, on-failure[:N], always or unless-stopped"
        ),
    }
}

/// `-v`, `--mount` and `--tmpfs`, as Docker parses them. Host paths are checked (`--mount`)
/// or created (`-v`) here, on the host side.
fn parse_mounts(args: &ContainerCreateArgs) -> anyhow::Result<Vec<MountSpec>> {
    let mut mounts = Vec::new();
    for volume in &args.volume {
        mounts.push(parse_volume(volume)?);
    }
    for mount in &args.mount {
        mounts.push(parse_mount(mount)?);
    }
    for tmpfs in &args.tmpfs {
        let (destination, options) = tmpfs.split_once(':').unwrap_or((tmpfs, ""));
        if !destination.starts_with('/') {
            bail!("invalid --tmpfs `{tmpfs}`: the path must be absolute");
        }
        mounts.push(MountSpec {
            kind: "tmpfs".to_owned(),
            source: String::new(),
            destination: destination.to_owned(),
            read_only: false,
            options: options
                .split(',')
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
            anonymous: false,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for mount in &mounts {
        if !seen.insert(mount.destination.clone()) {
            bail!("Duplicate mount point: {}", mount.destination);
        }
    }
    Ok(mounts)
}

fn parse_volume(text: &str) -> anyhow::Result<MountSpec> {
    let parts: Vec<&str> = text.split(':').collect();
    let invalid = || anyhow::anyhow!("invalid volume specification: '{text}'");
    let (source, destination, options) = match parts.as_slice() {
        [destination] => ("", *destination, ""),
        [source, destination] => (*source, *destination, ""),
        [source, destination, options] => (*source, *destination, *options),
        _ => return Err(invalid()),
    };
    if !destination.starts_with('/') {
        return Err(invalid());
    }
    let mut read_only = false;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => read_only = true,
            "rw" | "z" | "Z" | "private" | "rprivate" | "shared" | "rshared" | "slave"
            | "rslave" | "nocopy" => {}
            _ => return Err(invalid()),
        }
    }
    if source.is_empty() {
        return Ok(MountSpec {
            kind: "volume".to_owned(),
            source: util::ids::random_hex(32),
            destination: destination.to_owned(),
            read_only,
            options: Vec::new(),
            anonymous: true,
        });
    }
    if source.starts_with('/') || source.starts_with('.') {
        let path = std::path::absolute(source)
            .with_context(|| format!("invalid volume source `{source}`"))?;
        // Docker's -v creates a missing host directory.
        if !path.exists() {
            fs::create_dir_all(&path)
                .with_context(|| format!("cannot create the bind source `{}`", path.display()))?;
        }
        return Ok(MountSpec {
            kind: "bind".to_owned(),
            source: path.display().to_string(),
            destination: destination.to_owned(),
            read_only,
            options: Vec::new(),
            anonymous: false,
        });
    }
    validate_volume_name(source)?;
    Ok(MountSpec {
        kind: "volume".to_owned(),
        source: source.to_owned(),
        destination: destination.to_owned(),
        read_only,
        options: Vec::new(),
        anonymous: false,
    })
}

fn parse_mount(text: &str) -> anyhow::Result<MountSpec> {
    let mut kind = "volume".to_owned();
    let mut source = String::new();
    let mut destination = String::new();
    let mut read_only = false;
    let mut options = Vec::new();
    for field in text.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => kind = value.to_owned(),
            "source" | "src" => source = value.to_owned(),
            "target" | "destination" | "dst" => destination = value.to_owned(),
            "readonly" | "ro" => read_only = value.is_empty() || value == "true" || value == "1",
            "tmpfs-size" => options.push(format!("size={value}")),
            "tmpfs-mode" => options.push(format!("mode={value}")),
            "bind-propagation" | "volume-nocopy" | "consistency" => {}
            _ => bail!("invalid field '{key}' in --mount `{text}`"),
        }
    }
    if destination.is_empty() || !destination.starts_with('/') {
        bail!("invalid --mount `{text}`: target must be an absolute path");
    }
    match kind.as_str() {
        "bind" => {
            let path = std::path::absolute(&source)?;
            if source.is_empty() || !path.exists() {
                bail!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    path.display()
                );
            }
            source = path.display().to_string();
        }
        "volume" => {
            if source.is_empty() {
                return Ok(MountSpec {
                    kind,
                    source: util::ids::random_hex(32),
                    destination,
                    read_only,
                    options,
                    anonymous: true,
                });
            }
            validate_volume_name(&source)?;
        }
        "tmpfs" => {
            if !source.is_empty() {
                bail!("invalid --mount `{text}`: tmpfs takes no source");
            }
        }
        other => bail!("invalid --mount `{text}`: unknown type `{other}` (bind, volume or tmpfs)"),
    }
    Ok(MountSpec {
        kind,
        source,
        destination,
        read_only,
        options,
        anonymous: false,
    })
}

fn validate_volume_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) && name.len() > 1 {
        Ok(())
    } else {
        bail!(
            "invalid volume name `{name}`: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed; host paths must be absolute"
        )
    }
}
