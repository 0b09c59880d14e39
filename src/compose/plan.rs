//! From the merged services to what `up` acts on: profiles, dependency checks, start order
//! (dependencies first, ties in file order), selection of named services, and the
//! `compose config` rendering.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::error::{ComposeError, Result};
use super::load::render_yaml;
use super::model::{Project, Service};

/// Keeps the services enabled by the active profiles (a service without `profiles` always is;
/// the profile `*` enables all), and checks that every dependency exists and is enabled. A
/// dependency marked `required: false` that is missing or disabled is dropped instead.
pub(super) fn apply_profiles(
    services: Vec<Service>,
    active: &[String],
    file_of: &dyn Fn(&str) -> String,
) -> Result<Vec<Service>> {
    let is_enabled = |service: &Service| {
        service.profiles.is_empty()
            || active
                .iter()
                .any(|profile| profile == "*" || service.profiles.contains(profile))
    };
    let all: BTreeSet<String> = services
        .iter()
        .map(|service| service.name.clone())
        .collect();
    let enabled_names: BTreeSet<String> = services
        .iter()
        .filter(|service| is_enabled(service))
        .map(|service| service.name.clone())
        .collect();
    let mut enabled = Vec::new();
    for mut service in services.into_iter().filter(|service| is_enabled(service)) {
        let mut problem = None;
        service.depends_on.retain(|dependency, details| {
            if enabled_names.contains(dependency) {
                return true;
            }
            if details.required && problem.is_none() {
                problem = Some(if all.contains(dependency) {
                    format!(
                        "service {dependency:?} was pulled in as a dependency of service {:?} but is not enabled by the active profiles",
                        service.name
                    )
                } else {
                    format!(
                        "service {:?} depends on undefined service {dependency:?}",
                        service.name
                    )
                });
            }
            false
        });
        if let Some(message) = problem {
            return Err(ComposeError::Project {
                file: file_of(&service.name),
                message,
            });
        }
        enabled.push(service);
    }
    Ok(enabled)
}

/// Sorts services so every service comes after its dependencies; among services that are
/// ready at the same time, the one earlier in the file comes first. Fails on a cycle.
pub(super) fn order_services(services: Vec<Service>) -> Result<Vec<Service>> {
    if let Some(cycle) = find_cycle(&services) {
        return Err(ComposeError::Cycle { cycle });
    }
    let mut remaining = services;
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        // No cycle, and every dependency is among the services (checked by `apply_profiles`),
        // so some service is always ready; the fallback only guards against a broken invariant.
        let ready = remaining
            .iter()
            .position(|service| service.depends_on.keys().all(|name| placed.contains(name)))
            .unwrap_or(0);
        let service = remaining.remove(ready);
        placed.insert(service.name.clone());
        ordered.push(service);
    }
    Ok(ordered)
}

/// A dependency loop, as the services on it with the first repeated at the end.
fn find_cycle(services: &[Service]) -> Option<Vec<String>> {
    let by_name: BTreeMap<&str, &Service> = services
        .iter()
        .map(|service| (service.name.as_str(), service))
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for service in services {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(&service.name, &by_name, &mut stack, &mut done) {
            return Some(cycle);
        }
    }
    None
}

fn visit<'a>(
    name: &'a str,
    by_name: &BTreeMap<&'a str, &'a Service>,
    stack: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(start) = stack.iter().position(|on_stack| *on_stack == name) {
        let mut cycle: Vec<String> = stack[start..]
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        cycle.push(name.to_owned());
        return Some(cycle);
    }
    if done.contains(name) {
        return None;
    }
    let service = by_name.get(name)?;
    stack.push(name);
    for dependency in service.depends_on.keys() {
        if let Some(cycle) = visit(dependency, by_name, stack, done) {
            return Some(cycle);
        }
    }
    stack.pop();
    done.insert(name);
    None
}

impl Project {
    /// The services to act on: the named ones plus (when `with_dependencies`) everything they
    /// depend on, in start order. No names means every service. An unknown name is an error
    /// "no such service: x".
    ///
    /// # Errors
    ///
    /// [`ComposeError::NoSuchService`] for a name that is not an enabled service.
    pub fn select(&self, names: &[String], with_dependencies: bool) -> Result<Vec<&Service>> {
        if names.is_empty() {
            return Ok(self.services.iter().collect());
        }
        let mut wanted: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<&str> = Vec::new();
        for name in names {
            if !self.services.iter().any(|service| &service.name == name) {
                return Err(ComposeError::NoSuchService { name: name.clone() });
            }
            queue.push(name);
        }
        while let Some(name) = queue.pop() {
            if !wanted.insert(name) || !with_dependencies {
                continue;
            }
            if let Some(service) = self.services.iter().find(|service| service.name == name) {
                queue.extend(service.depends_on.keys().map(String::as_str));
            }
        }
        Ok(self
            .services
            .iter()
            .filter(|service| wanted.contains(service.name.as_str()))
            .collect())
    }

    /// `compose config`: the normalised model as YAML, like `docker compose config`: `name`,
    /// then `services` keyed by name (in start order), `networks` and `volumes`. Values are
    /// interpolated and paths resolved; a literal `$` is written as `$$` so the output loads
    /// back to the same project.
    #[must_use]
    pub fn to_yaml(&self) -> String {
        let mut root = serde_json::Map::new();
        root.insert("name".to_owned(), Value::String(self.name.clone()));
        let mut services = serde_json::Map::new();
        for service in &self.services {
            let mut value = serde_json::to_value(service).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                // `shift_remove` keeps the field order (`remove` would swap the last field in).
                map.shift_remove("name");
            }
            services.insert(service.name.clone(), value);
        }
        root.insert("services".to_owned(), Value::Object(services));
        if !self.networks.is_empty() {
            root.insert(
                "networks".to_owned(),
                serde_json::to_value(&self.networks).unwrap_or(Value::Null),
            );
        }
        if !self.volumes.is_empty() {
            root.insert(
                "volumes".to_owned(),
                serde_json::to_value(&self.volumes).unwrap_or(Value::Null),
            );
        }
        let mut root = Value::Object(root);
        escape_dollars(&mut root);
        render_yaml(&root)
    }
}

fn escape_dollars(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('$') => *text = text.replace('$', "$$"),
        Value::Array(items) => items.iter_mut().for_each(escape_dollars),
        Value::Object(map) => map.values_mut().for_each(escape_dollars),
        _ => {}
    }
}
