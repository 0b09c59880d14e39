//! Published ports: Docker's `-p [ip:][hostPort:]containerPort[/proto]` grammar, ranges, the
//! checks made before a container starts (port in use, privileged ports), random host ports,
//! and the `0.0.0.0:8000->8000/tcp` text of `ps` and `port`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use super::super::RuntimeError;
pub use crate::storage::containers::PortMapping;

/// Parses one `-p` value into its mappings (several for a range).
pub fn parse_publish(text: &str) -> Result<Vec<PortMapping>, RuntimeError> {
    let invalid = |why: &str| RuntimeError::Invalid(format!("invalid publish `{text}`: {why}"));
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, proto)) => (spec, proto.to_ascii_lowercase()),
        None => (text, "tcp".to_owned()),
    };
    if protocol != "tcp" && protocol != "udp" {
        return Err(invalid("the protocol must be tcp or udp"));
    }
    // An IPv6 host address is written in brackets: [::1]:8080:80.
    let (host_ip, rest) = match spec.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, rest) = bracketed
                .split_once("]:")
                .ok_or_else(|| invalid("an IPv6 address must be followed by `:`"))?;
            (Some(ip.to_owned()), rest)
        }
        None => (None, spec),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (host_ip, parts.as_slice()) {
        (Some(ip), [host, container]) => (ip, *host, *container),
        (None, [container]) => (String::new(), "", *container),
        (None, [host, container]) => (String::new(), *host, *container),
        (None, [ip, host, container]) => ((*ip).to_owned(), *host, *container),
        _ => return Err(invalid("use [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]")),
    };
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(invalid(&format!("`{ip}` is not an IP address")));
    }
    if container.is_empty() {
        return Err(invalid("the container port is missing"));
    }
    let container = parse_range(container).map_err(|why| invalid(&why))?;
    let host = if host.is_empty() {
        None
    } else {
        Some(parse_range(host).map_err(|why| invalid(&why))?)
    };
    if let Some(host) = host {
        if host.1 - host.0 != container.1 - container.0 {
            return Err(invalid(
                "the host and container port ranges must be the same size",
            ));
        }
    }
    Ok((container.0..=container.1)
        .enumerate()
        .map(|(offset, container_port)| PortMapping {
            host_ip: ip.clone(),
            // `offset` is below 65536: both ranges lie within u16.
            host_port: host.map_or(0, |h| h.0 + u16::try_from(offset).unwrap_or(0)),
            container_port,
            protocol: protocol.clone(),
        })
        .collect())
}

/// `8000` or `8000-8010`, as an inclusive range of non-zero ports.
fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(u16::try_from(n).unwrap_or(0)),
        Ok(_) => Err(format!("port {p} is out of range (1-65535)")),
        Err(_) => Err(format!("`{p}` is not a port number")),
    };
    match text.split_once('-') {
        Some((start, end)) => {
            let (start, end) = (port(start)?, port(end)?);
            if end < start {
                return Err(format!("the range {text} ends before it starts"));
            }
            Ok((start, end))
        }
        None => port(text).map(|p| (p, p)),
    }
}

/// `-P`: every port the image exposes (`80/tcp`), on a random host port.
pub fn publish_all(exposed: &[String]) -> Vec<PortMapping> {
    exposed
        .iter()
        .filter_map(|key| {
            let (port, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
            Some(PortMapping {
                host_ip: String::new(),
                host_port: 0,
                container_port: port.parse().ok()?,
                protocol: protocol.to_owned(),
            })
        })
        .collect()
}

/// Chooses random host ports where none was given, and checks every host port: free, and
/// bindable by this user. Done just before the network helper starts, so that a port in use
/// is refused before the container starts, naming the port.
pub fn resolve(mappings: &[PortMapping], rootless: bool) -> Result<Vec<PortMapping>, RuntimeError> {
    let unprivileged_start =
        fs_err::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse::<u16>().ok())
            .unwrap_or(1024);
    let mut out = Vec::with_capacity(mappings.len());
    for mapping in mappings {
        let mut mapping = mapping.clone();
        if mapping.host_port != 0 && rootless && mapping.host_port < unprivileged_start {
            return Err(RuntimeError::Invalid(format!(
                "cannot publish port {}: rootless containers may only bind ports from {unprivileged_start} up (net.ipv4.ip_unprivileged_port_start; lower it with `sysctl net.ipv4.ip_unprivileged_port_start={}` as root, or publish a higher port)",
                mapping.host_port, mapping.host_port
            )));
        }
        let port = probe(&mapping).map_err(|error| {
            RuntimeError::Invalid(if error.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "cannot publish port {}: address {} is already in use",
                    mapping.container_key(),
                    mapping.host_text()
                )
            } else {
                format!("cannot publish {}: {error}", mapping.host_text())
            })
        })?;
        mapping.host_port = port;
        if out
            .iter()
            .any(|o: &PortMapping| o.host_port == port && o.protocol == mapping.protocol)
        {
            return Err(RuntimeError::Invalid(format!(
                "cannot publish port {}: host port {port}/{} is given twice",
                mapping.container_key(),
                mapping.protocol
            )));
        }
        out.push(mapping);
    }
    Ok(out)
}

/// Binds the host side once (port 0: the kernel picks a free one) and returns the port.
/// SO_REUSEADDR for TCP, so that connections of an earlier run in TIME_WAIT do not count.
fn probe(mapping: &PortMapping) -> std::io::Result<u16> {
    let ip = mapping
        .host_ip
        .parse()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let address = SocketAddr::new(ip, mapping.host_port);
    if mapping.protocol == "udp" {
        return Ok(UdpSocket::bind(address)?.local_addr()?.port());
    }
    let domain = if address.is_ipv4() {
        rustix::net::AddressFamily::INET
    } else {
        rustix::net::AddressFamily::INET6
    };
    let socket = rustix::net::socket_with(
        domain,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::sockopt::set_socket_reuseaddr(&socket, true)?;
    rustix::net::bind(&socket, &address)?;
    rustix::net::listen(&socket, 1)?;
    let listener = TcpListener::from(socket);
    Ok(listener.local_addr()?.port())
}

/// Docker's PORTS column: `0.0.0.0:8000->8000/tcp, 0.0.0.0:8001-8003->8001-8003/tcp`, with
/// consecutive ports folded into ranges.
pub fn summary(mappings: &[PortMapping]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < mappings.len() {
        let first = &mappings[index];
        let mut last = index;
        while let Some(next) = mappings.get(last + 1) {
            let previous = &mappings[last];
            if next.host_ip == first.host_ip
                && next.protocol == first.protocol
                && u32::from(next.host_port) == u32::from(previous.host_port) + 1
                && u32::from(next.container_port) == u32::from(previous.container_port) + 1
            {
                last += 1;
            } else {
                break;
            }
        }
        let end = &mappings[last];
        if last == index {
            parts.push(first.to_string());
        } else {
            let host = PortMapping {
                host_port: first.host_port,
                ..first.clone()
            };
            parts.push(format!(
                "{}-{}->{}-{}/{}",
                host.host_text(),
                end.host_port,
                first.container_port,
                end.container_port,
                first.protocol
            ));
        }
        index = last + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> PortMapping {
        let mut all = parse_publish(text).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn docker_forms_parse() {
        assert_eq!(one("8000:80").to_string(), "0.0.0.0:8000->80/tcp");
        assert_eq!(
            one("127.0.0.1:8080:80").to_string(),
            "127.0.0.1:8080->80/tcp"
        );
        assert_eq!(one("127.0.0.1::80/udp").host_port, 0);
        assert_eq!(one("80").host_port, 0);
        assert_eq!(one("[::1]:8080:80").to_string(), "[::1]:8080->80/tcp");
        assert_eq!(one("53:53/UDP").protocol, "udp");
        let range = parse_publish("8000-8002:9000-9002").unwrap();
        assert_eq!(range.len(), 3);
        assert_eq!((range[2].host_port, range[2].container_port), (8002, 9002));
    }

    #[test]
    fn malformed_values_name_the_problem() {
        for (text, why) in [
            ("80:", "container port is missing"),
            ("99999:80", "out of range"),
            ("a:b", "not a port number"),
            ("8000-8001:80", "same size"),
            ("80/sctp", "tcp or udp"),
            ("1.2.3:80:80", "not an IP address"),
            ("0:80", "out of range"),
        ] {
            let error = parse_publish(text).unwrap_err().to_string();
            assert!(
                error.contains(why) && error.contains(text),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn summary_folds_ranges() {
        let mut all = parse_publish("8000-8002:8000-8002").unwrap();
        all.extend(parse_publish("127.0.0.1:9000:90/udp").unwrap());
        assert_eq!(
            summary(&all),
            "0.0.0.0:8000-8002->8000-8002/tcp, 127.0.0.1:9000->90/udp"
        );
    }

    #[test]
    fn a_port_in_use_is_refused_and_random_ports_are_chosen() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let busy = parse_publish(&format!("127.0.0.1:{port}:80")).unwrap();
        let error = resolve(&busy, false).unwrap_err().to_string();
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
        assert!(error.contains("already in use"), "{error}");
        let random = resolve(&parse_publish("127.0.0.1::80").unwrap(), false).unwrap();
        assert_ne!(random[0].host_port, 0);
    }
}
