//! Pure parsers for the little string syntaxes inside a compose file: port specs, volume specs,
//! Go durations, restart policies and shell words. They return a lower-case message; the caller
//! adds the key path.

use std::time::Duration;

use super::model::{MountKind, Port};

/// A volume short syntax before paths are resolved: `SOURCE:TARGET[:MODE]` or `TARGET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VolumeSpec {
    pub(super) kind: MountKind,
    /// As written: a host path for a bind, the volume key for a named volume.
    pub(super) source: Option<String>,
    pub(super) target: String,
    pub(super) read_only: bool,
}

/// Parses the short port syntax: `[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]`, where the ports can
/// be ranges (`8000-8010`) and an IPv6 host address is written in brackets (`[::1]:80:80`).
pub(super) fn parse_port(spec: &str) -> Result<Port, String> {
    let invalid = || format!("invalid port {spec:?}");
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, protocol)) => (rest, protocol.to_owned()),
        None => (spec, "tcp".to_owned()),
    };
    check_protocol(&protocol).map_err(|message| format!("invalid port {spec:?}: {message}"))?;
    let (host_ip, rest) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']').ok_or_else(invalid)?;
        let after = after.strip_prefix(':').ok_or_else(invalid)?;
        (Some(ip.to_owned()), after)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (None, rest),
            3 => (
                Some(parts[0].to_owned()),
                rest.split_once(':').map_or("", |(_, after)| after),
            ),
            _ => return Err(invalid()),
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((published, target)) => (Some(published), target),
        None => (None, rest),
    };
    // `127.0.0.1::80` publishes on an ephemeral port of that address.
    let published = published.filter(|published| !published.is_empty());
    let target_range = parse_port_range(target).ok_or_else(invalid)?;
    if let Some(published) = published {
        let published_range = parse_port_range(published).ok_or_else(invalid)?;
        // A host range with a single container port means "any one of these"; two ranges must
        // pair up one to one.
        if target_range.0 != target_range.1
            && published_range.1 - published_range.0 != target_range.1 - target_range.0
        {
            return Err(format!("invalid port {spec:?}: port ranges do not match"));
        }
    }
    if host_ip.as_deref() == Some("") {
        return Err(invalid());
    }
    Ok(Port {
        host_ip,
        published: published.map(str::to_owned),
        target: target.to_owned(),
        protocol,
    })
}

/// Checks a protocol name; berth's port forwarders handle TCP and UDP only.
pub(super) fn check_protocol(protocol: &str) -> Result<(), String> {
    match protocol {
        "tcp" | "udp" => Ok(()),
        other => Err(format!(
            "unsupported protocol {other:?} (expected tcp or udp)"
        )),
    }
}

/// `80` or `80-90`, as an inclusive range of valid port numbers (1–65535).
pub(super) fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let number = |part: &str| -> Option<u16> {
        if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        part.parse::<u16>().ok().filter(|port| *port > 0)
    };
    match text.split_once('-') {
        Some((start, end)) => {
            let (start, end) = (number(start)?, number(end)?);
            (start <= end).then_some((start, end))
        }
        None => number(text).map(|port| (port, port)),
    }
}

/// Parses the short volume syntax. A source that starts with `/`, `.` or `~` is a host path
/// (a bind mount); anything else names a volume, as in Compose.
pub(super) fn parse_volume(spec: &str) -> Result<VolumeSpec, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return Err(format!("invalid volume {spec:?}: too many colons")),
    };
    check_target(target).map_err(|message| format!("invalid volume {spec:?}: {message}"))?;
    let mut read_only = false;
    for option in mode.into_iter().flat_map(|mode| mode.split(',')) {
        match option {
            "ro" => read_only = true,
            "rw" => read_only = false,
            // SELinux relabelling, propagation, consistency (macOS) and nocopy: accepted and
            // left to the runtime's defaults.
            "z" | "Z" | "nocopy" | "consistent" | "cached" | "delegated" | "shared" | "slave"
            | "private" | "rshared" | "rslave" | "rprivate" => {}
            other => return Err(format!("invalid volume {spec:?}: bad mode {other:?}")),
        }
    }
    let kind = match source {
        None => MountKind::Volume,
        Some("") => return Err(format!("invalid volume {spec:?}: empty source")),
        Some(source) if is_host_path(source) => MountKind::Bind,
        Some(source) => {
            check_volume_name(source)
                .map_err(|message| format!("invalid volume {spec:?}: {message}"))?;
            MountKind::Volume
        }
    };
    Ok(VolumeSpec {
        kind,
        source: source.map(str::to_owned),
        target: target.to_owned(),
        read_only,
    })
}

/// Whether a volume source is a host path rather than a volume name.
pub(super) fn is_host_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// A container path must be absolute.
pub(super) fn check_target(target: &str) -> Result<(), String> {
    if target.is_empty() {
        Err("empty target".to_owned())
    } else if !target.starts_with('/') {
        Err(format!("target {target:?} is not an absolute path"))
    } else {
        Ok(())
    }
}

/// Docker's rule for names of services and volumes: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub(super) fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_volume_name(name: &str) -> Result<(), String> {
    if is_plain_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is neither a volume name nor a path (use ./{name} for a relative path)"
        ))
    }
}

/// Parses a Go duration (`1m30s`, `500ms`, `1.5h`, `0`), as Compose does for `interval`,
/// `timeout`, `start_period`, `start_interval` and `stop_grace_period`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let nanos = (value * nanos_per_unit).round();
        if !nanos.is_finite() || nanos > 1e18 {
            return Err(invalid());
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "finite, non-negative and below 1e18 (checked above)"
        )]
        let nanos = nanos as u64;
        total += Duration::from_nanos(nanos);
        rest = after;
    }
    Ok(total)
}

/// Checks a restart policy: `no`, `always`, `on-failure`, `on-failure:N` or `unless-stopped`.
pub(super) fn check_restart(policy: &str) -> Result<(), String> {
    match policy {
        "no" | "always" | "on-failure" | "unless-stopped" => Ok(()),
        other => match other.strip_prefix("on-failure:") {
            Some(count) if count.parse::<u32>().is_ok() => Ok(()),
            _ => Err(format!(
                "invalid restart policy {other:?} (expected no, always, on-failure[:N] or unless-stopped)"
            )),
        },
    }
}

/// Splits a command line into words like a POSIX shell, without expansions: whitespace
/// separates words, single quotes are literal, double quotes allow `\"`, `\\`, `\$` and `` \` ``,
/// and a backslash outside quotes escapes the next character. This is what Compose (through
/// `shellwords`) does to `command: echo "a b"`.
pub(super) fn split_shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in {text:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in {text:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in {text:?}")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(format!("trailing backslash in {text:?}")),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Normalises a project name as Compose does: lower case, only `[a-z0-9_-]` kept, leading `_`
/// and `-` dropped. `None` when nothing is left.
pub(super) fn normalize_project_name(name: &str) -> Option<String> {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        .collect();
    let trimmed = kept.trim_start_matches(['_', '-']);
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(host_ip: Option<&str>, published: Option<&str>, target: &str, protocol: &str) -> Port {
        Port {
            host_ip: host_ip.map(str::to_owned),
            published: published.map(str::to_owned),
            target: target.to_owned(),
            protocol: protocol.to_owned(),
        }
    }

    #[test]
    fn ports_short_syntax() {
        assert_eq!(parse_port("80").unwrap(), port(None, None, "80", "tcp"));
        assert_eq!(
            parse_port("8000:80").unwrap(),
            port(None, Some("8000"), "80", "tcp")
        );
        assert_eq!(
            parse_port("127.0.0.1:8000:80/udp").unwrap(),
            port(Some("127.0.0.1"), Some("8000"), "80", "udp")
        );
        assert_eq!(
            parse_port("8000-8010:80-90").unwrap(),
            port(None, Some("8000-8010"), "80-90", "tcp")
        );
        assert_eq!(
            parse_port("8000-8010:80").unwrap(),
            port(None, Some("8000-8010"), "80", "tcp")
        );
        assert_eq!(
            parse_port("127.0.0.1::80").unwrap(),
            port(Some("127.0.0.1"), None, "80", "tcp")
        );
        assert_eq!(
            parse_port("[::1]:8000:80").unwrap(),
            port(Some("::1"), Some("8000"), "80", "tcp")
        );
    }

    #[test]
    fn ports_rejected() {
        for bad in [
            "80:abc",
            "abc",
            "0",
            "70000",
            "1:2:3:4",
            "80/sctp",
            "90-80",
            "8000-8001:80-90",
            "",
        ] {
            assert!(parse_port(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(parse_port("80:abc").unwrap_err(), "invalid port \"80:abc\"");
    }

    #[test]
    fn volumes_short_syntax() {
        let volume = parse_volume("./data:/data:ro").unwrap();
        assert_eq!(volume.kind, MountKind::Bind);
        assert_eq!(volume.source.as_deref(), Some("./data"));
        assert!(volume.read_only);
        let volume = parse_volume("dbdata:/var/lib/x").unwrap();
        assert_eq!(volume.kind, MountKind::Volume);
        assert!(!volume.read_only);
        let volume = parse_volume("/anon").unwrap();
        assert_eq!((volume.kind, volume.source), (MountKind::Volume, None));
        assert_eq!(parse_volume("~/x:/x:rw,z").unwrap().kind, MountKind::Bind);
    }

    #[test]
    fn volumes_rejected() {
        assert!(
            parse_volume("data:relative")
                .unwrap_err()
                .contains("not an absolute path")
        );
        assert!(
            parse_volume("a:/b:ro:x")
                .unwrap_err()
                .contains("too many colons")
        );
        assert!(
            parse_volume("a:/b:rx")
                .unwrap_err()
                .contains("bad mode \"rx\"")
        );
        assert!(
            parse_volume("relative")
                .unwrap_err()
                .contains("not an absolute path")
        );
        assert!(parse_volume(":/b").unwrap_err().contains("empty source"));
        assert!(parse_volume("da ta:/b").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2us").unwrap(), Duration::from_micros(2));
        for bad in ["", "10", "abc", "10x", "-1s", "1..5s", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn duration_format_round_trips() {
        use super::super::model::format_duration;
        for text in ["1m30s", "10s", "500ms", "1h", "1h0m1s", "0s", "1.5s", "2us"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(
                parse_duration(&format_duration(parsed)).unwrap(),
                parsed,
                "{text}"
            );
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn restart_policies() {
        for good in [
            "no",
            "always",
            "on-failure",
            "on-failure:3",
            "unless-stopped",
        ] {
            assert!(check_restart(good).is_ok());
        }
        for bad in ["sometimes", "on-failure:x", "on-failure:"] {
            assert!(check_restart(bad).is_err());
        }
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split_shell_words(r#"echo "a b" 'c $d' e\ f "x\"y""#).unwrap(),
            ["echo", "a b", "c $d", "e f", "x\"y"]
        );
        assert_eq!(split_shell_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_shell_words("a ''").unwrap(), ["a", ""]);
        assert!(split_shell_words("echo 'oops").is_err());
        assert!(split_shell_words("echo \"oops").is_err());
    }

    #[test]
    fn project_names() {
        assert_eq!(normalize_project_name("My App!").unwrap(), "myapp");
        assert_eq!(normalize_project_name("_-x_y").unwrap(), "x_y");
        assert_eq!(normalize_project_name("..."), None);
    }
}
