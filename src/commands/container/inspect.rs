//! `container inspect`: Docker's JSON shape for containers.

use serde_json::{Value, json};

use super::resolve;
use crate::storage::Store;
use crate::storage::containers::{ContainerRecord, PortMapping, Status};

/// Docker-shaped JSON for one container.
pub(crate) fn inspect(store: &Store, record: &ContainerRecord) -> Value {
    let state = &record.state;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "0001-01-01T00:00:00Z".to_owned(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        )
    };
    let running = matches!(
        state.status,
        Status::Running | Status::Paused | Status::Restarting
    );
    let mounts: Vec<Value> = record
        .host_config
        .mounts
        .iter()
        .map(|m| {
            let source = match m.kind.as_str() {
                "volume" => store.paths().volumes().join(&m.source).join("_data").display().to_string(),
                _ => m.source.clone(),
            };
            json!({
                "Type": m.kind,
                "Name": if m.kind == "volume" { Value::String(m.source.clone()) } else { Value::Null },
                "Source": source,
                "Destination": m.destination,
                "Mode": if m.read_only { "ro" } else { "" },
                "RW": !m.read_only,
                "Propagation": if m.kind == "bind" { "rprivate" } else { "" },
            })
        })
        .collect();
    let binds: Vec<String> = record
        .host_config
        .mounts
        .iter()
        .filter(|m| m.kind != "tmpfs" && !m.anonymous)
        .map(|m| {
            format!(
                "{}:{}{}",
                m.source,
                m.destination,
                if m.read_only { ":ro" } else { "" }
            )
        })
        .collect();
    let exposed: serde_json::Map<String, Value> = record
        .config
        .exposed_ports
        .iter()
        .map(|p| (p.clone(), json!({})))
        .collect();
    let mut inspected = json!({
        "Id": record.id,
        "Created": record.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "Path": record.config.args.first().cloned().unwrap_or_default(),
        "Args": record.config.args.get(1..).unwrap_or_default(),
        "State": {
            "Status": state.status.as_str(),
            "Running": running && state.status != Status::Paused,
            "Paused": state.status == Status::Paused,
            "Restarting": state.status == Status::Restarting,
            "OOMKilled": state.oom_killed,
            "Dead": false,
            "Pid": if running { state.pid.unwrap_or(0) } else { 0 },
            "ExitCode": state.exit_code.unwrap_or(0),
            "Error": state.error.clone().unwrap_or_default(),
            "StartedAt": time(state.started_at),
            "FinishedAt": time(state.finished_at),
            "Health": state.health.as_ref().map(|health| json!({
                "Status": health.status.as_str(),
                "FailingStreak": health.failing_streak,
                "Log": health.log.iter().map(|result| json!({
                    "Start": result.start.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    "End": result.end.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    "ExitCode": result.exit_code,
                    "Output": result.output,
                })).collect::<Vec<_>>(),
            })),
        },
        "Image": record.image_id.to_string(),
        "ResolvConfPath": store.container_dir(&record.id).join("resolv.conf").display().to_string(),
        "HostnamePath": store.container_dir(&record.id).join("hostname").display().to_string(),
        "HostsPath": store.container_dir(&record.id).join("hosts").display().to_string(),
        "LogPath": store.container_dir(&record.id).join("log.json").display().to_string(),
        "Name": format!("/{}", record.name),
        "RestartCount": state.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "Binds": binds,
            "NetworkMode": record.host_config.network_mode,
            "RestartPolicy": { "Name": record.host_config.restart.name, "MaximumRetryCount": record.host_config.restart.maximum_retry_count },
            "AutoRemove": record.host_config.auto_remove,
            "CapAdd": record.host_config.cap_add,
            "CapDrop": record.host_config.cap_drop,
            "Privileged": record.host_config.privileged,
            "ReadonlyRootfs": record.host_config.read_only,
            "SecurityOpt": record.host_config.security_opt,
            "Init": record.host_config.init,
            "PortBindings": port_map(&record.host_config.port_bindings),
            "Dns": record.host_config.dns,
            "DnsSearch": record.host_config.dns_search,
            "DnsOptions": record.host_config.dns_options,
            "ExtraHosts": record.host_config.extra_hosts,
        },
        "Mounts": mounts,
        "Config": {
            "Hostname": record.config.hostname,
            "Domainname": "",
            "User": record.config.user,
            "AttachStdin": false,
            "AttachStdout": !record.config.open_stdin,
            "AttachStderr": !record.config.open_stdin,
            "ExposedPorts": if exposed.is_empty() { Value::Null } else { Value::Object(exposed) },
            "Tty": record.config.tty,
            "OpenStdin": record.config.open_stdin,
            "StdinOnce": false,
            "Env": record.config.env,
            "Cmd": record.config.cmd,
            "Healthcheck": record.config.healthcheck.as_ref().map(crate::runtime::health::docker_json),
            "Image": record.image,
            "Volumes": Value::Null,
            "WorkingDir": record.config.working_dir,
            "Entrypoint": if record.config.entrypoint.is_empty() { Value::Null } else { json!(record.config.entrypoint) },
            "Labels": record.config.labels,
            "StopSignal": record.config.stop_signal,
            "StopTimeout": record.config.stop_timeout,
        },
        "NetworkSettings": {
            "Ports": port_map(&crate::runtime::published_ports(store, record)),
            "IPAddress": "",
            "Networks": { record.host_config.network_mode.clone(): {} },
        },
    });
    // Docker leaves both out (omitempty) when the container has no healthcheck.
    for (section, key) in [("State", "Health"), ("Config", "Healthcheck")] {
        if let Some(object) = inspected[section].as_object_mut() {
            if object.get(key).is_some_and(Value::is_null) {
                object.remove(key);
            }
        }
    }
    inspected
}

/// Docker's port map: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8000"}]}`.
fn port_map(ports: &[PortMapping]) -> Value {
    let mut map = serde_json::Map::new();
    for port in ports {
        let entry = json!({
            "HostIp": if port.host_ip.is_empty() { "0.0.0.0" } else { &port.host_ip },
            "HostPort": if port.host_port == 0 { String::new() } else { port.host_port.to_string() },
        });
        match map.entry(port.container_key()) {
            serde_json::map::Entry::Occupied(mut list) => {
                if let Value::Array(list) = list.get_mut() {
                    list.push(entry);
                }
            }
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(json!([entry]));
            }
        }
    }
    Value::Object(map)
}

/// Resolves and inspects, for the `inspect` commands.
pub(crate) fn find(store: &Store, text: &str) -> Option<Value> {
    resolve(store, text)
        .ok()
        .map(|record| inspect(store, &record))
}
