//! systemd unit files: the small model both writers share, `generate` (units for existing
//! containers and pods, as `podman generate systemd` writes them) and `quadlet` (units from
//! Podman's `.container`/`.volume`/`.pod`/`.kube` files, for `berth systemd-generator`).
//!
//! Leaf module: uses nothing else of the crate; callers hand it plain values.

#![warn(missing_docs)]

pub mod generate;
pub mod quadlet;

/// A unit file: a comment header, then sections of `Key=value` lines in the order given
/// (systemd keeps repeated keys, e.g. several `ExecStartPre=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unit {
    /// `#` lines at the top.
    pub header: Vec<String>,
    /// Sections in order, each with its entries in order.
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

impl Unit {
    /// Appends `key=value` to `section` (created at the end when new).
    pub fn add(&mut self, section: &str, key: &str, value: impl Into<String>) {
        let entry = (key.to_owned(), value.into());
        match self.sections.iter_mut().find(|(name, _)| name == section) {
            Some((_, entries)) => entries.push(entry),
            None => self.sections.push((section.to_owned(), vec![entry])),
        }
    }

    /// Appends a command line (`ExecStart=` …), each word quoted for systemd.
    pub fn add_exec(&mut self, key: &str, words: &[String]) {
        self.add("Service", key, exec_line(words));
    }

    /// The unit file's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for line in &self.header {
            text.push_str("# ");
            text.push_str(line);
            text.push('\n');
        }
        for (index, (name, entries)) in self.sections.iter().enumerate() {
            if index > 0 || !self.header.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("[{name}]\n"));
            for (key, value) in entries {
                text.push_str(&format!("{key}={value}\n"));
            }
        }
        text
    }
}

/// A command line as systemd reads `ExecStart=` (systemd.service(5), "Command lines"): words
/// split at spaces, double quotes around words that need them, `%` specifiers and `$`
/// variables escaped as `%%` and `$$` so that every word reaches the program as written.
pub fn exec_line(words: &[String]) -> String {
    words
        .iter()
        .map(|word| quote_word(&word.replace('%', "%%")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`exec_line`] for words that come from a unit-like file (Quadlet), whose `%` specifiers
/// (`%h`, `%N`) are systemd's to expand, as they would be in the user's own unit.
pub fn exec_line_keeping_specifiers(words: &[String]) -> String {
    words
        .iter()
        .map(|word| quote_word(word))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote_word(word: &str) -> String {
    let escaped = word.replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped != ";"
        && !escaped
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'));
    if plain {
        return escaped;
    }
    let mut quoted = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_words_are_quoted_for_systemd() {
        let words: Vec<String> = [
            "/usr/bin/berth",
            "run",
            "sh",
            "-c",
            "echo \"$HOME\" 100%",
            "",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        assert_eq!(
            exec_line(&words),
            r#"/usr/bin/berth run sh -c "echo \"$$HOME\" 100%%" """#
        );
    }

    #[test]
    fn sections_render_in_order_with_repeated_keys() {
        let mut unit = Unit {
            header: vec!["web.service".to_owned()],
            ..Unit::default()
        };
        unit.add("Unit", "Description", "web");
        unit.add("Service", "ExecStartPre", "/bin/true");
        unit.add("Service", "ExecStartPre", "/bin/false");
        assert_eq!(
            unit.render(),
            "# web.service\n\n[Unit]\nDescription=web\n\n[Service]\nExecStartPre=/bin/true\nExecStartPre=/bin/false\n"
        );
    }
}
