//! The generated /etc/hosts, /etc/hostname and /etc/resolv.conf of a container, written into
//! its directory and bind-mounted over the image's.

use std::path::{Path, PathBuf};

use fs_err as fs;

use super::RuntimeError;
use super::network::Addresses;

/// What the files say.
pub struct EtcInput<'a> {
    /// The container's hostname.
    pub hostname: &'a str,
    /// Its name, also resolvable in its /etc/hosts.
    pub name: &'a str,
    /// The network's addresses.
    pub addresses: &'a Addresses,
    /// It shares the host's network: the host's files, as Docker does.
    pub host_network: bool,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub dns: &'a [String],
    /// `--dns-search`.
    pub dns_search: &'a [String],
    /// `--dns-option`.
    pub dns_options: &'a [String],
    /// `--add-host NAME:IP` entries.
    pub extra_hosts: &'a [String],
}

/// Writes the three files into `dir`; returns (host path, container path) pairs. A container
/// sharing another's network shares its files.
pub fn write_files(
    dir: &Path,
    input: &EtcInput<'_>,
) -> Result<Vec<(PathBuf, &'static str)>, RuntimeError> {
    let names = [
        ("hosts", "/etc/hosts"),
        ("hostname", "/etc/hostname"),
        ("resolv.conf", "/etc/resolv.conf"),
    ];
    if let Some(shared) = &input.addresses.shared_files {
        let mut out = Vec::new();
        for (file, destination) in names {
            if file == "hostname" && !input.addresses.share_hostname {
                let path = dir.join(file);
                fs::write(&path, format!("{}\n", input.hostname))
                    .map_err(|e| RuntimeError::io("failed to write", &path, e))?;
                out.push((path, destination));
            } else {
                out.push((shared.join(file), destination));
            }
        }
        return Ok(out);
    }
    let texts = [
        hosts(input),
        format!("{}\n", input.hostname),
        resolv_conf(
            &fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            input,
        ),
    ];
    let mut out = Vec::new();
    for ((file, destination), text) in names.into_iter().zip(texts) {
        let path = dir.join(file);
        fs::write(&path, text).map_err(|e| RuntimeError::io("failed to write", &path, e))?;
        out.push((path, destination));
    }
    Ok(out)
}

/// Adds a pod member's names to the pod's shared /etc/hosts (in place: every member has the
/// file bind-mounted, so it must stay the same file).
pub fn add_to_shared_hosts(
    hosts: &Path,
    hostname: &str,
    name: &str,
    aliases: &[String],
) -> Result<(), RuntimeError> {
    use std::io::Write as _;
    let text = fs::read_to_string(hosts).unwrap_or_default();
    let mut names: Vec<&str> = vec![hostname];
    for other in std::iter::once(name).chain(aliases.iter().map(String::as_str)) {
        if !names.contains(&other) {
            names.push(other);
        }
    }
    let names = names.join(" ");
    let line = format!("127.0.0.1\t{names}\n");
    if text.contains(&line) {
        return Ok(());
    }
    fs::OpenOptions::new()
        .append(true)
        .open(hosts)
        .and_then(|mut file| file.write_all(line.as_bytes()))
        .map_err(|e| RuntimeError::io("failed to update", hosts, e))
}

fn hosts(input: &EtcInput<'_>) -> String {
    let mut text = if input.host_network {
        fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_owned()
    };
    if !input.host_network {
        let own = input.addresses.ip.as_deref().unwrap_or("127.0.1.1");
        let mut names = vec![input.hostname];
        if input.name != input.hostname {
            names.push(input.name);
        }
        text.push_str(&format!("{own}\t{}\n", names.join(" ")));
    }
    let gateway = input.addresses.host_gateway.as_deref();
    if let Some(gateway) = gateway {
        text.push_str(&format!(
            "{gateway}\thost.containers.internal host.docker.internal\n"
        ));
    }
    for entry in input.extra_hosts {
        let (name, ip) = entry
            .split_once('=')
            .or_else(|| entry.split_once(':'))
            .unwrap_or((entry, ""));
        let ip = if ip == "host-gateway" {
            gateway.unwrap_or("127.0.0.1")
        } else {
            ip
        };
        text.push_str(&format!("{ip}\t{name}\n"));
    }
    text
}

/// The container's resolv.conf: `--dns` servers, else the network's resolvers, else the
/// host's minus loopback ones (unreachable from a namespace of its own), else public ones, as
/// Docker does. The host's search and options lines are kept unless overridden.
fn resolv_conf(host: &str, input: &EtcInput<'_>) -> String {
    if input.host_network && input.dns.is_empty() && input.dns_search.is_empty() {
        return host.to_owned();
    }
    let mut servers: Vec<String> = input.dns.to_vec();
    if servers.is_empty() {
        servers.clone_from(&input.addresses.nameservers);
    }
    let mut out = String::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                let server = words.next().unwrap_or_default();
                let usable = input.host_network || !(server.starts_with("127.") || server == "::1");
                if input.dns.is_empty() && input.addresses.nameservers.is_empty() && usable {
                    servers.push(server.to_owned());
                }
            }
            Some("search") if !input.dns_search.is_empty() => {}
            Some("options") if !input.dns_options.is_empty() => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !input.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", input.dns_search.join(" ")));
    }
    if !input.dns_options.is_empty() {
        out.push_str(&format!("options {}\n", input.dns_options.join(" ")));
    }
    if servers.is_empty() {
        servers = vec!["8.8.8.8".to_owned(), "8.8.4.4".to_owned()];
    }
    for server in servers {
        out.push_str(&format!("nameserver {server}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(addresses: &'a Addresses, dns: &'a [String]) -> EtcInput<'a> {
        EtcInput {
            hostname: "abc",
            name: "web",
            addresses,
            host_network: false,
            dns,
            dns_search: &[],
            dns_options: &[],
            extra_hosts: &[],
        }
    }

    #[test]
    fn loopback_resolvers_are_replaced() {
        let none = Addresses::default();
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\nsearch lan\n", &input(&none, &[])),
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf("nameserver 10.0.0.1\n", &input(&none, &[])),
            "nameserver 10.0.0.1\n"
        );
        let mut host = input(&none, &[]);
        host.host_network = true;
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\n", &host),
            "nameserver 127.0.0.53\n"
        );
        let pasta = Addresses {
            nameservers: vec!["169.254.1.1".to_owned()],
            ..Addresses::default()
        };
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\n", &input(&pasta, &[])),
            "nameserver 169.254.1.1\n"
        );
        let dns = ["1.1.1.1".to_owned()];
        assert_eq!(
            resolv_conf("nameserver 10.0.0.1\n", &input(&pasta, &dns)),
            "nameserver 1.1.1.1\n"
        );
    }

    #[test]
    fn hosts_name_the_container_and_the_host() {
        let addresses = Addresses {
            ip: Some("192.0.2.2".to_owned()),
            host_gateway: Some("192.0.2.1".to_owned()),
            ..Addresses::default()
        };
        let extra = ["db:10.1.1.1".to_owned(), "me=host-gateway".to_owned()];
        let mut input = input(&addresses, &[]);
        input.extra_hosts = &extra;
        let text = hosts(&input);
        assert!(text.contains("192.0.2.2\tabc web\n"), "{text}");
        assert!(text.contains("192.0.2.1\thost.containers.internal host.docker.internal\n"));
        assert!(text.contains("10.1.1.1\tdb\n") && text.contains("192.0.2.1\tme\n"));
    }
}
