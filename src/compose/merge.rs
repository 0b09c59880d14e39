//! Merging a service from an override file (`-f a.yaml -f b.yaml`) into the one from earlier
//! files, with Compose's rules:
//!
//! - single values (`image`, `restart`, `user`, `tty`, ...) are replaced;
//! - `command`, `entrypoint` and `healthcheck.test` are replaced as a whole;
//! - `build` and `healthcheck` merge field by field; `build.args` by key;
//! - `environment`, `labels` and `depends_on` merge by key;
//! - `volumes` and `tmpfs` merge by container path;
//! - `ports`, `expose`, `dns`, `extra_hosts`, `cap_add`, `cap_drop`, `profiles`, `networks`
//!   and `env_file` are appended, leaving out entries already present.

use super::convert::{PartialBuild, PartialHealthcheck, PartialService};
use super::model::{Network, Volume};

fn replace<T>(base: &mut Option<T>, other: Option<T>) {
    if other.is_some() {
        *base = other;
    }
}

fn append_unique<T: PartialEq>(base: &mut Vec<T>, other: Vec<T>) {
    for item in other {
        if !base.contains(&item) {
            base.push(item);
        }
    }
}

/// Replaces the entries of `base` that `key` maps to the same value as an entry of `other`,
/// in place, and appends the rest.
fn merge_by<T, K: PartialEq>(base: &mut Vec<T>, other: Vec<T>, key: impl Fn(&T) -> K) {
    for item in other {
        match base.iter_mut().find(|existing| key(existing) == key(&item)) {
            Some(existing) => *existing = item,
            None => base.push(item),
        }
    }
}

/// Merges `other` (from a later file) into `base`.
pub(super) fn merge_service(base: &mut PartialService, other: PartialService) {
    replace(&mut base.image, other.image);
    match (&mut base.build, other.build) {
        (Some(build), Some(other)) => merge_build(build, other),
        (build, other) => replace(build, other),
    }
    replace(&mut base.pull_policy, other.pull_policy);
    replace(&mut base.command, other.command);
    replace(&mut base.entrypoint, other.entrypoint);
    append_unique(&mut base.env_files, other.env_files);
    base.environment.extend(other.environment);
    append_unique(&mut base.ports, other.ports);
    append_unique(&mut base.expose, other.expose);
    merge_by(&mut base.volumes, other.volumes, |mount| {
        mount.target.clone()
    });
    merge_by(&mut base.tmpfs, other.tmpfs, |entry| {
        entry.split(':').next().unwrap_or_default().to_owned()
    });
    base.depends_on.extend(other.depends_on);
    match (&mut base.healthcheck, other.healthcheck) {
        (Some(check), Some(other)) => merge_healthcheck(check, other),
        (check, other) => replace(check, other),
    }
    replace(&mut base.restart, other.restart);
    replace(&mut base.working_dir, other.working_dir);
    replace(&mut base.user, other.user);
    replace(&mut base.hostname, other.hostname);
    base.labels.extend(other.labels);
    replace(&mut base.container_name, other.container_name);
    replace(&mut base.init, other.init);
    replace(&mut base.stop_signal, other.stop_signal);
    replace(&mut base.stop_grace_period, other.stop_grace_period);
    append_unique(&mut base.profiles, other.profiles);
    append_unique(&mut base.extra_hosts, other.extra_hosts);
    append_unique(&mut base.networks, other.networks);
    append_unique(&mut base.dns, other.dns);
    replace(&mut base.tty, other.tty);
    replace(&mut base.stdin_open, other.stdin_open);
    replace(&mut base.privileged, other.privileged);
    replace(&mut base.read_only, other.read_only);
    append_unique(&mut base.cap_add, other.cap_add);
    append_unique(&mut base.cap_drop, other.cap_drop);
}

fn merge_build(base: &mut PartialBuild, other: PartialBuild) {
    replace(&mut base.context, other.context);
    replace(&mut base.dockerfile, other.dockerfile);
    base.args.extend(other.args);
    replace(&mut base.target, other.target);
}

fn merge_healthcheck(base: &mut PartialHealthcheck, other: PartialHealthcheck) {
    replace(&mut base.test, other.test);
    replace(&mut base.interval, other.interval);
    replace(&mut base.timeout, other.timeout);
    replace(&mut base.start_period, other.start_period);
    replace(&mut base.start_interval, other.start_interval);
    replace(&mut base.retries, other.retries);
    replace(&mut base.disable, other.disable);
}

/// A top-level volume declared again: set fields win, labels merge.
pub(super) fn merge_volume(base: &mut Volume, other: Volume) {
    replace(&mut base.name, other.name);
    base.external |= other.external;
    base.labels.extend(other.labels);
    replace(&mut base.driver, other.driver);
}

/// A top-level network declared again: set fields win, labels merge.
pub(super) fn merge_network(base: &mut Network, other: Network) {
    replace(&mut base.name, other.name);
    base.external |= other.external;
    base.labels.extend(other.labels);
    replace(&mut base.driver, other.driver);
}
