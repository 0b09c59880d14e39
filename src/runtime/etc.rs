//! The generated /etc/hosts, /etc/hostname and /etc/resolv.conf of a container, written into
//! its directory and bind-mounted over the image's.

use std::path::{Path, PathBuf};

use fs_err as fs;

use super::RuntimeError;

/// Writes the three files into `dir`; returns (host path, container path) pairs.
pub fn write_files(
    dir: &Path,
    hostname: &str,
    host_network: bool,
) -> Result<Vec<(PathBuf, &'static str)>, RuntimeError> {
    let hosts = if host_network {
        fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
        )
    };
    let resolv = resolv_conf(
        &fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        host_network,
    );
    let files = [
        (dir.join("hosts"), "/etc/hosts", hosts),
        (
            dir.join("hostname"),
            "/etc/hostname",
            format!("{hostname}\n"),
        ),
        (dir.join("resolv.conf"), "/etc/resolv.conf", resolv),
    ];
    let mut out = Vec::new();
    for (path, destination, text) in files {
        fs::write(&path, text).map_err(|e| RuntimeError::io("failed to write", &path, e))?;
        out.push((path, destination));
    }
    Ok(out)
}

/// The host's resolv.conf, minus loopback name servers (unreachable from a container's own
/// network namespace), with public resolvers when nothing is left, as Docker does.
fn resolv_conf(host: &str, host_network: bool) -> String {
    if host_network {
        return host.to_owned();
    }
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let server = words.next().unwrap_or_default();
            if server.starts_with("127.") || server == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::resolv_conf;

    #[test]
    fn loopback_resolvers_are_replaced() {
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\nsearch lan\n", false),
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf("nameserver 10.0.0.1\n", false),
            "nameserver 10.0.0.1\n"
        );
        assert_eq!(
            resolv_conf("nameserver 127.0.0.53\n", true),
            "nameserver 127.0.0.53\n"
        );
    }
}
