//! Quadlet files, as Podman users write them (podman-systemd.unit(5)): `NAME.container`,
//! `NAME.volume`, `NAME.pod` and `NAME.kube`, each turned into a service unit that runs berth
//! (`NAME.service`, `NAME-volume.service`, `NAME-pod.service`, `NAME.service`).
//!
//! A file is parsed whole before anything is rendered, and every error names `FILE:LINE`: a
//! systemd generator cannot ask, so it must say exactly what to fix.

use std::collections::BTreeMap;

use super::Unit;

/// A Quadlet file that cannot be turned into a unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct QuadletError {
    /// The file's name.
    pub file: String,
    /// 1-based line (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The kinds of Quadlet file berth reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.container`: one container.
    Container,
    /// `.volume`: a named volume.
    Volume,
    /// `.pod`: a pod.
    Pod,
    /// `.kube`: `kube play` of a YAML file.
    Kube,
}

impl Kind {
    /// The kind of a file name, from its extension.
    pub fn of(file_name: &str) -> Option<Self> {
        match file_name.rsplit_once('.')?.1 {
            "container" => Some(Kind::Container),
            "volume" => Some(Kind::Volume),
            "pod" => Some(Kind::Pod),
            "kube" => Some(Kind::Kube),
            _ => None,
        }
    }

    fn section(self) -> &'static str {
        match self {
            Kind::Container => "Container",
            Kind::Volume => "Volume",
            Kind::Pod => "Pod",
            Kind::Kube => "Kube",
        }
    }

    /// The keys of the kind's own section.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Container => &[
                "Image",
                "Exec",
                "PublishPort",
                "Volume",
                "Environment",
                "EnvironmentFile",
                "ContainerName",
                "Pod",
                "User",
                "WorkingDir",
                "Label",
                "Notify",
                "Entrypoint",
                "Network",
                "HealthCmd",
                "PodmanArgs",
            ],
            Kind::Volume => &["VolumeName", "Label"],
            Kind::Pod => &["PodName", "PublishPort", "Label"],
            Kind::Kube => &["Yaml"],
        }
    }
}

/// One `Key=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value, continuation lines joined with a space.
    pub value: String,
    /// Where it starts.
    pub line: usize,
}

/// A parsed Quadlet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quadlet {
    /// The file's name (`web.container`).
    pub file_name: String,
    /// Its kind.
    pub kind: Kind,
    /// Sections in order.
    pub sections: Vec<(String, Vec<Entry>)>,
}

impl Quadlet {
    /// The name without the extension (`web`).
    pub fn stem(&self) -> &str {
        self.file_name
            .rsplit_once('.')
            .map_or(self.file_name.as_str(), |(stem, _)| stem)
    }

    /// The name of the unit it becomes, without `.service`.
    pub fn unit_name(&self) -> String {
        match self.kind {
            Kind::Container | Kind::Kube => self.stem().to_owned(),
            Kind::Volume => format!("{}-volume", self.stem()),
            Kind::Pod => format!("{}-pod", self.stem()),
        }
    }

    fn entries(&self, section: &str) -> impl Iterator<Item = &Entry> {
        self.sections
            .iter()
            .filter(move |(name, _)| name == section)
            .flat_map(|(_, entries)| entries)
    }

    fn all(&self, key: &str) -> impl Iterator<Item = &Entry> {
        let section = self.kind.section();
        self.entries(section).filter(move |e| e.key == key)
    }

    /// The last value of `key` in the kind's section (systemd's rule: the last one wins).
    fn last(&self, key: &str) -> Option<&Entry> {
        self.all(key).last()
    }

    /// The name berth gives the object: the file's `*Name=`, else `systemd-STEM` (Podman's).
    pub fn object_name(&self) -> String {
        let key = match self.kind {
            Kind::Container => "ContainerName",
            Kind::Volume => "VolumeName",
            Kind::Pod => "PodName",
            Kind::Kube => "",
        };
        self.last(key)
            .map_or_else(|| format!("systemd-{}", self.stem()), |e| e.value.clone())
    }

    fn error(&self, line: usize, message: impl Into<String>) -> QuadletError {
        QuadletError {
            file: self.file_name.clone(),
            line,
            message: message.into(),
        }
    }
}

/// Parses a Quadlet file (systemd's unit syntax: `[Section]`, `Key=value`, `#`/`;` comments,
/// a trailing `\` continues the line) and checks its sections and keys.
///
/// # Errors
/// Bad syntax, an unknown section or key, or a missing required key, naming `FILE:LINE`.
pub fn parse(file_name: &str, text: &str) -> Result<Quadlet, QuadletError> {
    let error = |line: usize, message: String| QuadletError {
        file: file_name.to_owned(),
        line,
        message,
    };
    let kind = Kind::of(file_name).ok_or_else(|| {
        error(
            0,
            "not a Quadlet file: use .container, .volume, .pod or .kube".to_owned(),
        )
    })?;
    let mut sections: Vec<(String, Vec<Entry>)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .filter(|n| !n.is_empty() && !n.contains(['[', ']']))
                .ok_or_else(|| error(number, format!("bad section header `{line}`")))?;
            let allowed = ["Unit", "Service", "Install", kind.section()];
            if !allowed.contains(&name) {
                return Err(error(
                    number,
                    format!(
                        "unknown section [{name}] in a .{} file: use [{}], [Unit], [Service] or [Install]",
                        kind.section().to_ascii_lowercase(),
                        kind.section()
                    ),
                ));
            }
            sections.push((name.to_owned(), Vec::new()));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(error(number, format!("expected KEY=VALUE, found `{line}`")));
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(error(number, format!("bad key in `{line}`")));
        }
        let mut value = value.trim().to_owned();
        while let Some(stripped) = value.strip_suffix('\\') {
            value = stripped.trim_end().to_owned();
            match lines.next() {
                Some((_, next)) => {
                    value.push(' ');
                    value.push_str(next.trim());
                }
                None => break,
            }
        }
        let Some((section, entries)) = sections.last_mut() else {
            return Err(error(
                number,
                format!(
                    "`{key}=` is outside any section: start with [{}]",
                    kind.section()
                ),
            ));
        };
        if section == kind.section() && !kind.keys().contains(&key) {
            return Err(error(
                number,
                format!(
                    "unsupported key `{key}` in [{section}]: berth knows {}",
                    kind.keys().join(", ")
                ),
            ));
        }
        entries.push(Entry {
            key: key.to_owned(),
            value,
            line: number,
        });
    }
    let quadlet = Quadlet {
        file_name: file_name.to_owned(),
        kind,
        sections,
    };
    let required = match kind {
        Kind::Container => Some("Image"),
        Kind::Kube => Some("Yaml"),
        Kind::Volume | Kind::Pod => None,
    };
    if let Some(key) = required {
        if quadlet.last(key).is_none() {
            return Err(quadlet.error(0, format!("[{}] needs `{key}=`", kind.section())));
        }
    }
    Ok(quadlet)
}

/// What rendering needs besides the file itself.
#[derive(Debug, Clone, Default)]
pub struct RenderContext {
    /// The berth program (its absolute path).
    pub berth: String,
    /// The file's absolute path (`SourcePath=`, and the base of a relative `Yaml=`).
    pub source_path: String,
    /// The other files' object names by file name (`app.pod` → `systemd-app`), for `Pod=`
    /// and `Volume=NAME.volume:…`.
    pub names: BTreeMap<String, String>,
}

/// Splits a value into words as systemd does (`Exec=`, `Environment=`): spaces separate,
/// double or single quotes group, a backslash escapes.
///
/// # Errors
/// An unterminated quote (the message only; the caller adds the place).
pub fn split_words(value: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' | '\'' => loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => {
                            if let Some(escaped) = chars.next() {
                                word.push(escaped);
                            }
                        }
                        Some(other) => word.push(other),
                        None => return Err(format!("unterminated {c} quote in `{value}`")),
                    }
                },
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        word.push(escaped);
                    }
                }
                _ => word.push(c),
            }
        }
        words.push(word);
    }
}

/// Renders a parsed file into its unit.
///
/// # Errors
/// A value that cannot be used (bad quoting, `Pod=` naming no known `.pod` file, a bad
/// `Notify=`), naming `FILE:LINE`.
pub fn render(quadlet: &Quadlet, cx: &RenderContext) -> Result<Unit, QuadletError> {
    let mut unit = Unit {
        header: vec![format!(
            "Automatically generated by {} systemd-generator",
            cx.berth
        )],
        ..Unit::default()
    };
    unit.add("Unit", "SourcePath", &cx.source_path);
    let mut service: Vec<(String, String)> = Vec::new();
    match quadlet.kind {
        Kind::Container => render_container(quadlet, cx, &mut unit, &mut service)?,
        Kind::Volume => {
            let mut create = vec![cx.berth.clone(), "volume".into(), "create".into()];
            for entry in quadlet.all("Label") {
                for label in words(quadlet, entry)? {
                    create.extend(["--label".to_owned(), label]);
                }
            }
            create.push(quadlet.object_name());
            service.push((
                "ExecStart".into(),
                super::exec_line_keeping_specifiers(&create),
            ));
            service.push(("Type".into(), "oneshot".into()));
            service.push(("RemainAfterExit".into(), "yes".into()));
        }
        Kind::Pod => {
            let name = quadlet.object_name();
            let berth = |words: &[&str]| {
                let mut line = vec![cx.berth.clone()];
                line.extend(words.iter().map(|w| (*w).to_owned()));
                line
            };
            let mut remove =
                super::exec_line_keeping_specifiers(&berth(&["pod", "rm", "-f", &name]));
            remove.insert(0, '-');
            let mut create = berth(&["pod", "create", "--name", &name]);
            for entry in quadlet.all("PublishPort") {
                create.extend(["--publish".to_owned(), entry.value.clone()]);
            }
            for entry in quadlet.all("Label") {
                for label in words(quadlet, entry)? {
                    create.extend(["--label".to_owned(), label]);
                }
            }
            service.push(("ExecStartPre".into(), remove.clone()));
            service.push((
                "ExecStartPre".into(),
                super::exec_line_keeping_specifiers(&create),
            ));
            service.push((
                "ExecStart".into(),
                super::exec_line_keeping_specifiers(&berth(&["pod", "start", &name])),
            ));
            service.push((
                "ExecStop".into(),
                super::exec_line_keeping_specifiers(&berth(&["pod", "stop", &name])),
            ));
            service.push(("ExecStopPost".into(), remove));
            service.push(("Type".into(), "oneshot".into()));
            service.push(("RemainAfterExit".into(), "yes".into()));
        }
        Kind::Kube => {
            let entry = quadlet
                .last("Yaml")
                .ok_or_else(|| quadlet.error(0, "[Kube] needs `Yaml=`"))?;
            let yaml = if entry.value.starts_with('/') {
                entry.value.clone()
            } else {
                let dir = cx.source_path.rsplit_once('/').map_or("", |(dir, _)| dir);
                format!("{dir}/{}", entry.value)
            };
            let play = [cx.berth.clone(), "kube".into(), "play".into(), yaml.clone()];
            let down = [
                cx.berth.clone(),
                "kube".into(),
                "play".into(),
                "--down".into(),
                yaml,
            ];
            service.push((
                "ExecStart".into(),
                super::exec_line_keeping_specifiers(&play),
            ));
            service.push((
                "ExecStop".into(),
                super::exec_line_keeping_specifiers(&down),
            ));
            service.push(("Type".into(), "oneshot".into()));
            service.push(("RemainAfterExit".into(), "yes".into()));
        }
    }
    for (key, value) in service {
        unit.add("Service", &key, value);
    }
    // The user's own [Unit], [Service] and [Install] lines come after ours: for a key that
    // takes one value, systemd keeps the last, so theirs win (Restart=, TimeoutStopSec=).
    for section in ["Unit", "Service", "Install"] {
        for entry in quadlet.entries(section) {
            unit.add(section, &entry.key, entry.value.clone());
        }
    }
    Ok(unit)
}

fn words(quadlet: &Quadlet, entry: &Entry) -> Result<Vec<String>, QuadletError> {
    split_words(&entry.value).map_err(|message| quadlet.error(entry.line, message))
}

/// `[Container]` → `berth run --name … --replace --rm --sdnotify=… IMAGE EXEC…`, in the
/// foreground: berth supervises and tells systemd when the container runs.
fn render_container(
    quadlet: &Quadlet,
    cx: &RenderContext,
    unit: &mut Unit,
    service: &mut Vec<(String, String)>,
) -> Result<(), QuadletError> {
    let name = quadlet.object_name();
    let mut run = vec![
        cx.berth.clone(),
        "run".to_owned(),
        "--name".to_owned(),
        name.clone(),
        "--replace".to_owned(),
        "--rm".to_owned(),
    ];
    let notify = match quadlet.last("Notify") {
        None => "conmon",
        Some(entry) => match entry.value.as_str() {
            "true" | "yes" | "1" | "on" => "container",
            "false" | "no" | "0" | "off" => "conmon",
            other => {
                return Err(quadlet.error(
                    entry.line,
                    format!("bad Notify=`{other}`: use true or false"),
                ));
            }
        },
    };
    run.push(format!("--sdnotify={notify}"));
    let single = |key: &str, flag: &str, run: &mut Vec<String>| {
        if let Some(entry) = quadlet.last(key) {
            run.extend([flag.to_owned(), entry.value.clone()]);
        }
    };
    single("User", "--user", &mut run);
    single("WorkingDir", "--workdir", &mut run);
    single("Entrypoint", "--entrypoint", &mut run);
    single("Network", "--network", &mut run);
    single("HealthCmd", "--health-cmd", &mut run);
    if let Some(entry) = quadlet.last("Pod") {
        let pod = cx
            .names
            .get(&entry.value)
            .filter(|_| entry.value.ends_with(".pod"));
        let Some(pod) = pod else {
            return Err(quadlet.error(
                entry.line,
                format!("Pod=`{}` names no .pod file beside this one", entry.value),
            ));
        };
        let pod_unit = format!("{}-pod.service", entry.value.trim_end_matches(".pod"));
        unit.add("Unit", "BindsTo", &pod_unit);
        unit.add("Unit", "After", &pod_unit);
        run.extend(["--pod".to_owned(), pod.clone()]);
    }
    for entry in quadlet.all("PublishPort") {
        run.extend(["--publish".to_owned(), entry.value.clone()]);
    }
    for entry in quadlet.all("Volume") {
        let mut value = entry.value.clone();
        if let Some((source, rest)) = value.split_once(':') {
            if let Some(stem) = source.strip_suffix(".volume") {
                let Some(volume) = cx.names.get(source) else {
                    return Err(quadlet.error(
                        entry.line,
                        format!(
                            "Volume=`{}` names no .volume file beside this one",
                            entry.value
                        ),
                    ));
                };
                let volume_unit = format!("{stem}-volume.service");
                unit.add("Unit", "Requires", &volume_unit);
                unit.add("Unit", "After", &volume_unit);
                value = format!("{volume}:{rest}");
            }
        }
        run.extend(["--volume".to_owned(), value]);
    }
    for entry in quadlet.all("Environment") {
        for pair in words(quadlet, entry)? {
            run.extend(["--env".to_owned(), pair]);
        }
    }
    for entry in quadlet.all("EnvironmentFile") {
        run.extend(["--env-file".to_owned(), entry.value.clone()]);
    }
    for entry in quadlet.all("Label") {
        for label in words(quadlet, entry)? {
            run.extend(["--label".to_owned(), label]);
        }
    }
    for entry in quadlet.all("PodmanArgs") {
        run.extend(words(quadlet, entry)?);
    }
    let image = quadlet
        .last("Image")
        .ok_or_else(|| quadlet.error(0, "[Container] needs `Image=`"))?;
    run.push(image.value.clone());
    if let Some(entry) = quadlet.last("Exec") {
        run.extend(words(quadlet, entry)?);
    }
    let remove = vec![
        cx.berth.clone(),
        "rm".to_owned(),
        "-f".to_owned(),
        "--ignore".to_owned(),
        name,
    ];
    let remove = super::exec_line_keeping_specifiers(&remove);
    service.push(("Environment".into(), "BERTH_SYSTEMD_UNIT=%n".into()));
    service.push(("KillMode".into(), "mixed".into()));
    service.push(("ExecStop".into(), remove.clone()));
    service.push(("ExecStopPost".into(), format!("-{remove}")));
    service.push(("Type".into(), "notify".into()));
    service.push(("NotifyAccess".into(), "all".into()));
    service.push(("SyslogIdentifier".into(), "%N".into()));
    service.push((
        "ExecStart".into(),
        super::exec_line_keeping_specifiers(&run),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(names: &[(&str, &str)]) -> RenderContext {
        RenderContext {
            berth: "/usr/bin/berth".to_owned(),
            source_path: "/etc/containers/systemd/x".to_owned(),
            names: names
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn container_file_becomes_a_foreground_run() {
        let text = "\
# A web server
[Unit]
Description=The web server

[Container]
Image=docker.io/library/nginx:latest
ContainerName=web
Exec=sh -c \"echo 'hi there'; sleep 1000\"
PublishPort=8080:80
Volume=data.volume:/data
Volume=/srv/www:/www:ro
Environment=A=1 \"B=two words\"
EnvironmentFile=/etc/web.env
Label=app=web tier=front
User=1000
WorkingDir=/www
Pod=app.pod
Notify=true

[Service]
Restart=always
TimeoutStartSec=900

[Install]
WantedBy=default.target
";
        let quadlet = parse("web.container", text).unwrap();
        assert_eq!(quadlet.unit_name(), "web");
        let unit = render(
            &quadlet,
            &cx(&[("app.pod", "systemd-app"), ("data.volume", "data")]),
        )
        .unwrap()
        .render();
        assert_eq!(
            unit,
            r#"# Automatically generated by /usr/bin/berth systemd-generator

[Unit]
SourcePath=/etc/containers/systemd/x
BindsTo=app-pod.service
After=app-pod.service
Requires=data-volume.service
After=data-volume.service
Description=The web server

[Service]
Environment=BERTH_SYSTEMD_UNIT=%n
KillMode=mixed
ExecStop=/usr/bin/berth rm -f --ignore web
ExecStopPost=-/usr/bin/berth rm -f --ignore web
Type=notify
NotifyAccess=all
SyslogIdentifier=%N
ExecStart=/usr/bin/berth run --name web --replace --rm --sdnotify=container --user 1000 --workdir /www --pod systemd-app --publish 8080:80 --volume data:/data --volume /srv/www:/www:ro --env A=1 --env "B=two words" --env-file /etc/web.env --label app=web --label tier=front docker.io/library/nginx:latest sh -c "echo 'hi there'; sleep 1000"
Restart=always
TimeoutStartSec=900

[Install]
WantedBy=default.target
"#
        );
    }

    #[test]
    fn volume_pod_and_kube_files() {
        let volume = parse("data.volume", "[Volume]\nVolumeName=data\nLabel=keep=yes\n").unwrap();
        assert_eq!(volume.unit_name(), "data-volume");
        let text = render(&volume, &cx(&[])).unwrap().render();
        assert!(
            text.contains("ExecStart=/usr/bin/berth volume create --label keep=yes data\nType=oneshot\nRemainAfterExit=yes\n"),
            "{text}"
        );
        let pod = parse("app.pod", "[Pod]\nPublishPort=8080:80\n").unwrap();
        assert_eq!(
            (pod.unit_name(), pod.object_name()),
            ("app-pod".to_owned(), "systemd-app".to_owned())
        );
        let text = render(&pod, &cx(&[])).unwrap().render();
        assert!(
            text.contains("ExecStartPre=-/usr/bin/berth pod rm -f systemd-app\nExecStartPre=/usr/bin/berth pod create --name systemd-app --publish 8080:80\nExecStart=/usr/bin/berth pod start systemd-app\n"),
            "{text}"
        );
        let kube = parse("app.kube", "[Kube]\nYaml=app.yaml\n").unwrap();
        let text = render(&kube, &cx(&[])).unwrap().render();
        assert!(
            text.contains("ExecStart=/usr/bin/berth kube play /etc/containers/systemd/app.yaml\nExecStop=/usr/bin/berth kube play --down /etc/containers/systemd/app.yaml\n"),
            "{text}"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let error = |name: &str, text: &str| parse(name, text).unwrap_err().to_string();
        assert_eq!(
            error(
                "web.container",
                "[Container]\nImage=busybox\nImagePullPolicy=always\n"
            ),
            "web.container:3: unsupported key `ImagePullPolicy` in [Container]: berth knows Image, Exec, PublishPort, Volume, Environment, EnvironmentFile, ContainerName, Pod, User, WorkingDir, Label, Notify, Entrypoint, Network, HealthCmd, PodmanArgs"
        );
        assert_eq!(
            error("web.container", "[Container]\nImage busybox\n"),
            "web.container:2: expected KEY=VALUE, found `Image busybox`"
        );
        assert_eq!(
            error("web.container", "Image=busybox\n"),
            "web.container:1: `Image=` is outside any section: start with [Container]"
        );
        assert_eq!(
            error("web.container", "[Container\n"),
            "web.container:1: bad section header `[Container`"
        );
        assert_eq!(
            error("web.container", "[Volume]\n"),
            "web.container:1: unknown section [Volume] in a .container file: use [Container], [Unit], [Service] or [Install]"
        );
        assert_eq!(
            error("web.container", "[Container]\nExec=true\n"),
            "web.container:0: [Container] needs `Image=`"
        );
        let quadlet = parse("web.container", "[Container]\nImage=b\nPod=nope.pod\n").unwrap();
        assert_eq!(
            render(&quadlet, &cx(&[])).unwrap_err().to_string(),
            "web.container:3: Pod=`nope.pod` names no .pod file beside this one"
        );
        let quadlet = parse("web.container", "[Container]\nImage=b\nExec=sh -c \"x\n").unwrap();
        assert_eq!(
            render(&quadlet, &cx(&[])).unwrap_err().to_string(),
            "web.container:3: unterminated \" quote in `sh -c \"x`"
        );
    }

    #[test]
    fn continuation_lines_join() {
        let quadlet = parse(
            "web.container",
            "[Container]\nImage=busybox\nExec=sleep \\\n  1000\n",
        )
        .unwrap();
        assert_eq!(quadlet.last("Exec").unwrap().value, "sleep 1000");
    }
}
