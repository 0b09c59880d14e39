//! `--change` for `image import`: the Dockerfile instructions that only set config (CMD,
//! ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR), applied to an
//! image config as Docker applies them.

use std::collections::BTreeMap;

use super::{ImageError, Result};
use crate::oci::image::ContainerConfig;

/// Applies one `--change` instruction to `config`.
pub fn apply(config: &mut ContainerConfig, change: &str) -> Result<()> {
    let fail = |reason: &str| ImageError::Change {
        change: change.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = change.trim();
    let (keyword, rest) = trimmed
        .split_once(char::is_whitespace)
        .unwrap_or((trimmed, ""));
    let rest = rest.trim();
    match keyword.to_ascii_uppercase().as_str() {
        "CMD" => config.cmd = Some(command_form(rest).map_err(|r| fail(&r))?),
        "ENTRYPOINT" => config.entrypoint = Some(command_form(rest).map_err(|r| fail(&r))?),
        "ENV" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (key, value) in key_values(rest).map_err(|r| fail(&r))? {
                env.retain(|entry| entry.split_once('=').map_or(entry.as_str(), |(k, _)| k) != key);
                env.push(format!("{key}={value}"));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(key_values(rest).map_err(|r| fail(&r))?);
        }
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for port in rest.split_whitespace() {
                let spec = if port.contains('/') {
                    port.to_owned()
                } else {
                    format!("{port}/tcp")
                };
                let number = spec.split('/').next().unwrap_or_default();
                if number.split('-').any(|p| p.parse::<u16>().is_err()) {
                    return Err(fail(&format!("invalid port `{port}`")));
                }
                ports.insert(spec, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            let paths = if rest.starts_with('[') {
                serde_json::from_str::<Vec<String>>(rest).map_err(|e| fail(&e.to_string()))?
            } else {
                rest.split_whitespace().map(str::to_owned).collect()
            };
            for path in paths {
                volumes.insert(path, serde_json::json!({}));
            }
        }
        "USER" => config.user = Some(single(rest).map_err(|r| fail(&r))?),
        "WORKDIR" => config.working_dir = Some(single(rest).map_err(|r| fail(&r))?),
        "STOPSIGNAL" => config.stop_signal = Some(single(rest).map_err(|r| fail(&r))?),
        "ONBUILD" => config
            .on_build
            .get_or_insert_with(Vec::new)
            .push(single(rest).map_err(|r| fail(&r))?),
        "" => return Err(fail("empty instruction")),
        other => {
            return Err(fail(&format!(
                "`{other}` is not supported: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR"
            )));
        }
    }
    Ok(())
}

fn single(rest: &str) -> std::result::Result<String, String> {
    if rest.is_empty() {
        Err("missing argument".to_owned())
    } else {
        Ok(rest.to_owned())
    }
}

/// Exec form (`["a","b"]`) as is; shell form wrapped in `/bin/sh -c`.
fn command_form(rest: &str) -> std::result::Result<Vec<String>, String> {
    if rest.starts_with('[') {
        if let Ok(args) = serde_json::from_str::<Vec<String>>(rest) {
            return Ok(args);
        }
    }
    if rest.is_empty() {
        return Err("missing argument".to_owned());
    }
    Ok(vec!["/bin/sh".to_owned(), "-c".to_owned(), rest.to_owned()])
}

/// `k=v k2="v 2"` pairs, or the legacy `KEY value with spaces` form.
fn key_values(rest: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let words = split_words(rest)?;
    if words.is_empty() {
        return Err("missing argument".to_owned());
    }
    if !words[0].contains('=') {
        let (key, value) = rest
            .split_once(char::is_whitespace)
            .ok_or("missing value")?;
        return Ok(vec![(key.to_owned(), value.trim().to_owned())]);
    }
    words
        .into_iter()
        .map(|word| {
            word.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("`{word}` is not KEY=VALUE"))
        })
        .collect()
}

/// Splits on blanks, honouring double and single quotes and backslash escapes.
fn split_words(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                in_word = true;
            }
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".to_owned());
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_docker_changes() {
        let mut config = ContainerConfig::default();
        apply(&mut config, r#"CMD ["/bin/sh","-c","echo hi"]"#).unwrap();
        apply(&mut config, "ENTRYPOINT echo a").unwrap();
        apply(&mut config, r#"ENV A=1 B="two words""#).unwrap();
        apply(&mut config, "ENV A 3").unwrap();
        apply(&mut config, "EXPOSE 80 53/udp").unwrap();
        apply(&mut config, "LABEL a=b").unwrap();
        apply(&mut config, "WORKDIR /srv").unwrap();
        assert_eq!(config.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(config.entrypoint.unwrap(), ["/bin/sh", "-c", "echo a"]);
        assert_eq!(config.env.unwrap(), ["B=two words", "A=3"]);
        assert!(config.exposed_ports.unwrap().contains_key("53/udp"));
        assert_eq!(config.labels.unwrap()["a"], "b");
        assert_eq!(config.working_dir.as_deref(), Some("/srv"));
        assert!(apply(&mut ContainerConfig::default(), "RUN true").is_err());
        assert!(apply(&mut ContainerConfig::default(), "EXPOSE http").is_err());
    }
}
