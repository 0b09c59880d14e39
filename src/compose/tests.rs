//! End-to-end tests of `load`: fixtures written to temp dirs, one behaviour per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
    options: LoadOptions,
}

impl Fixture {
    /// A project directory `app/` holding `files`.
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("app");
        fs_err::create_dir_all(&root).unwrap();
        for (name, text) in files {
            let path = root.join(name);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, text).unwrap();
        }
        let options = LoadOptions {
            working_dir: root,
            environ: BTreeMap::from([("HOME".to_owned(), "/home/user".to_owned())]),
            ..LoadOptions::default()
        };
        Self { dir, options }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.options
            .environ
            .insert(key.to_owned(), value.to_owned());
        self
    }

    fn load(&self) -> Project {
        load(&self.options).unwrap_or_else(|error| panic!("load failed: {error}"))
    }

    fn error(&self) -> String {
        match load(&self.options) {
            Ok(project) => panic!("expected an error, got {project:#?}"),
            Err(error) => error.to_string(),
        }
    }
}

fn project(yaml: &str) -> Project {
    Fixture::new(&[("compose.yaml", yaml)]).load()
}

fn error(yaml: &str) -> String {
    Fixture::new(&[("compose.yaml", yaml)]).error()
}

fn service<'a>(project: &'a Project, name: &str) -> &'a Service {
    project
        .services
        .iter()
        .find(|service| service.name == name)
        .unwrap()
}

fn names(project: &Project) -> Vec<&str> {
    project
        .services
        .iter()
        .map(|service| service.name.as_str())
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

const REALISTIC: &str = r#"
services:
  web:
    build: .
    ports:
      - "8000:8000"
    depends_on:
      db:
        condition: service_healthy
    environment:
      - DATABASE_URL=${DB_URL:-postgresql://db/app}
  db:
    image: postgres:16
    healthcheck:
      test: ["CMD", "pg_isready"]
      interval: 5s
      retries: 5
    volumes:
      - dbdata:/var/lib/postgresql/data
volumes:
  dbdata:
"#;

#[test]
fn realistic_project() {
    let fixture = Fixture::new(&[("compose.yaml", REALISTIC)]);
    let project = fixture.load();
    assert_eq!(project.name, "app");
    assert_eq!(project.directory, fixture.root());
    assert_eq!(project.files, [fixture.root().join("compose.yaml")]);
    assert_eq!(names(&project), ["db", "web"]);
    let web = service(&project, "web");
    assert_eq!(web.build.as_ref().unwrap().context, fixture.root());
    assert_eq!(
        web.ports,
        [Port {
            host_ip: None,
            published: Some("8000".to_owned()),
            target: "8000".to_owned(),
            protocol: "tcp".to_owned(),
        }]
    );
    assert_eq!(web.depends_on["db"].condition, Condition::Healthy);
    assert!(web.depends_on["db"].required);
    assert_eq!(web.environment["DATABASE_URL"], "postgresql://db/app");
    let db = service(&project, "db");
    assert_eq!(db.image.as_deref(), Some("postgres:16"));
    let check = db.healthcheck.as_ref().unwrap();
    assert_eq!(check.test, ["CMD", "pg_isready"]);
    assert_eq!(check.interval, Some(Duration::from_secs(5)));
    assert_eq!(check.retries, Some(5));
    assert_eq!(
        db.volumes,
        [VolumeMount {
            kind: MountKind::Volume,
            source: Some("dbdata".to_owned()),
            target: "/var/lib/postgresql/data".to_owned(),
            read_only: false,
        }]
    );
    assert!(project.volumes.contains_key("dbdata"));
    assert!(project.warnings.is_empty());

    let overridden = Fixture::new(&[("compose.yaml", REALISTIC)]).env("DB_URL", "postgresql://x/y");
    let project = overridden.load();
    assert_eq!(
        service(&project, "web").environment["DATABASE_URL"],
        "postgresql://x/y"
    );
}

#[test]
fn to_yaml_round_trips() {
    let fixture = Fixture::new(&[("compose.yaml", &format!("{REALISTIC}\nx-extra: 1\n"))]);
    let project = fixture.load();
    let yaml = project.to_yaml();
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(parsed["name"].as_str(), Some("app"));
    assert_eq!(
        parsed["services"]["web"]["environment"]["DATABASE_URL"].as_str(),
        Some("postgresql://db/app")
    );
    assert_eq!(
        parsed["services"]["web"]["build"]["context"].as_str(),
        Some(fixture.root().to_str().unwrap())
    );
    assert_eq!(
        parsed["services"]["db"]["healthcheck"]["interval"].as_str(),
        Some("5s")
    );
    assert_eq!(
        parsed["services"]["web"]["depends_on"]["db"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert!(parsed["volumes"]["dbdata"].is_mapping());
    // Fields keep the model's order, as `docker compose config` does.
    let db = yaml.find("  db:").unwrap();
    assert!(yaml[db..].find("image:").unwrap() < yaml[db..].find("healthcheck:").unwrap());
    // It loads back to the same services.
    let again = Fixture::new(&[("compose.yaml", &yaml)]);
    let reloaded = again.load();
    assert_eq!(reloaded.services, project.services);
}

#[test]
fn to_yaml_escapes_dollars() {
    let project = project("services:\n  a:\n    image: x\n    command: echo $$HOME\n");
    assert_eq!(
        service(&project, "a").command.as_ref().unwrap(),
        &strings(&["echo", "$HOME"])
    );
    let yaml = project.to_yaml();
    assert!(yaml.contains("$$HOME"), "{yaml}");
    let reloaded = Fixture::new(&[("compose.yaml", &yaml)]).load();
    assert_eq!(reloaded.services, project.services);
}

#[test]
fn default_file_names_in_order() {
    let fixture = Fixture::new(&[
        ("docker-compose.yml", "services:\n  old:\n    image: x\n"),
        ("compose.yml", "services:\n  new:\n    image: x\n"),
    ]);
    assert_eq!(names(&fixture.load()), ["new"]);
    let empty = Fixture::new(&[]);
    let message = empty.error();
    assert!(message.contains("no compose file found"), "{message}");
    for name in DEFAULT_FILE_NAMES {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn project_name_precedence() {
    let yaml = "name: From-File\nservices:\n  a:\n    image: x\n";
    let fixture = Fixture::new(&[("compose.yaml", yaml)]);
    assert_eq!(fixture.load().name, "from-file");
    let fixture = Fixture::new(&[
        ("compose.yaml", yaml),
        (".env", "COMPOSE_PROJECT_NAME=dotenv\n"),
    ]);
    assert_eq!(fixture.load().name, "dotenv");
    let fixture = fixture.env("COMPOSE_PROJECT_NAME", "Environ");
    assert_eq!(fixture.load().name, "environ");
    let mut fixture = fixture;
    fixture.options.project_name = Some("Flag.Name".to_owned());
    assert_eq!(fixture.load().name, "flagname");
    fixture.options.project_name = Some("!!!".to_owned());
    assert!(fixture.error().contains("invalid project name `!!!`"));
}

#[test]
fn short_and_long_ports() {
    let project = project(
        r#"
services:
  a:
    image: x
    ports:
      - 80
      - "127.0.0.1:8001:81/udp"
      - "9000-9002:90-92"
      - target: 82
        published: 8002
        host_ip: 127.0.0.1
        protocol: udp
        mode: host
      - target: 83
        published: "8003-8005"
"#,
    );
    let ports = &service(&project, "a").ports;
    let port =
        |host_ip: Option<&str>, published: Option<&str>, target: &str, protocol: &str| Port {
            host_ip: host_ip.map(str::to_owned),
            published: published.map(str::to_owned),
            target: target.to_owned(),
            protocol: protocol.to_owned(),
        };
    assert_eq!(
        ports,
        &[
            port(None, None, "80", "tcp"),
            port(Some("127.0.0.1"), Some("8001"), "81", "udp"),
            port(None, Some("9000-9002"), "90-92", "tcp"),
            port(Some("127.0.0.1"), Some("8002"), "82", "udp"),
            port(None, Some("8003-8005"), "83", "tcp"),
        ]
    );
}

#[test]
fn bad_ports_name_the_path() {
    let message =
        error("services:\n  web:\n    image: x\n    ports:\n      - \"80\"\n      - \"80:abc\"\n");
    assert_eq!(
        message,
        "compose.yaml:6:7: services.web.ports[1]: invalid port \"80:abc\""
    );
    let message = error("services:\n  web:\n    image: x\n    ports:\n      - published: 80\n");
    assert!(
        message.contains("services.web.ports[0]: missing `target`"),
        "{message}"
    );
    let message = error("services:\n  web:\n    image: x\n    ports: \"80\"\n");
    assert!(
        message.contains("services.web.ports: expected a sequence, found a string"),
        "{message}"
    );
}

#[test]
fn short_and_long_volumes() {
    let fixture = Fixture::new(&[(
        "compose.yaml",
        r"
services:
  a:
    image: x
    volumes:
      - ./data:/data:ro
      - ../shared:/shared
      - ~/cache:/cache
      - named:/named
      - /anonymous
      - type: bind
        source: ./src
        target: /src
        read_only: true
        bind:
          create_host_path: true
      - type: volume
        source: named
        target: /other
        volume:
          nocopy: true
      - type: tmpfs
        target: /tmp
        tmpfs:
          size: 1000
volumes:
  named:
",
    )]);
    let project = fixture.load();
    let root = fixture.root();
    let parent = root.parent().unwrap();
    let mount = |kind, source: Option<&Path>, target: &str, read_only| VolumeMount {
        kind,
        source: source.map(|source| source.to_string_lossy().into_owned()),
        target: target.to_owned(),
        read_only,
    };
    assert_eq!(
        service(&project, "a").volumes,
        [
            mount(MountKind::Bind, Some(&root.join("data")), "/data", true),
            mount(
                MountKind::Bind,
                Some(&parent.join("shared")),
                "/shared",
                false
            ),
            mount(
                MountKind::Bind,
                Some(Path::new("/home/user/cache")),
                "/cache",
                false
            ),
            mount(MountKind::Volume, Some(Path::new("named")), "/named", false),
            mount(MountKind::Volume, None, "/anonymous", false),
            mount(MountKind::Bind, Some(&root.join("src")), "/src", true),
            mount(MountKind::Volume, Some(Path::new("named")), "/other", false),
            mount(MountKind::Tmpfs, None, "/tmp", false),
        ]
    );
}

#[test]
fn bad_volumes() {
    let base = "services:\n  a:\n    image: x\n    volumes:\n      - ";
    let cases = [
        (
            "data:relative",
            "services.a.volumes[0]: invalid volume \"data:relative\": target \"relative\" is not an absolute path",
        ),
        ("./a:/b:ro:x", "too many colons"),
        ("./a:/b:rx", "bad mode \"rx\""),
        (
            "undeclared:/x",
            "service \"a\" refers to undefined volume \"undeclared\"",
        ),
        (
            "{type: npipe, target: /x}",
            "services.a.volumes[0].type: mount type \"npipe\" is not supported by berth",
        ),
        (
            "{type: bind, target: /x}",
            "missing `source` for a bind mount",
        ),
    ];
    for (spec, expected) in cases {
        let message = error(&format!("{base}{spec}\n"));
        assert!(message.contains(expected), "{spec}: {message}");
    }
}

#[test]
fn command_and_entrypoint() {
    let project = project(
        "services:\n  a:\n    image: x\n    command: sh -c 'echo \"hi there\"'\n    entrypoint: [\"/bin/tini\", \"--\"]\n  b:\n    image: x\n    command: []\n",
    );
    let a = service(&project, "a");
    assert_eq!(
        a.command.as_ref().unwrap(),
        &strings(&["sh", "-c", "echo \"hi there\""])
    );
    assert_eq!(
        a.entrypoint.as_ref().unwrap(),
        &strings(&["/bin/tini", "--"])
    );
    assert_eq!(
        service(&project, "b").command.as_ref().unwrap(),
        &Vec::<String>::new()
    );
}

#[test]
fn environment_forms_and_env_file() {
    let fixture = Fixture::new(&[
        (
            "compose.yaml",
            "services:\n  a:\n    image: x\n    env_file:\n      - common.env\n      - path: missing.env\n        required: false\n    environment:\n      FROM_MAP: 1\n      OVERRIDE: compose\n      PASSED:\n      NOT_SET:\n  b:\n    image: x\n    env_file: common.env\n    environment:\n      - LIST=a=b\n      - PASSED\n      - EMPTY=\n",
        ),
        ("common.env", "OVERRIDE=file\nLITERAL=$$x\nCOMMON=yes\n"),
    ])
    .env("PASSED", "from-env");
    let project = fixture.load();
    let a = &service(&project, "a").environment;
    assert_eq!(a["FROM_MAP"], "1");
    assert_eq!(a["OVERRIDE"], "compose");
    assert_eq!(a["PASSED"], "from-env");
    assert_eq!(a["COMMON"], "yes");
    // env_file values are not interpolated again: `$$` stays as the dotenv parser left it.
    assert_eq!(a["LITERAL"], "$x");
    assert!(!a.contains_key("NOT_SET"));
    let b = &service(&project, "b").environment;
    assert_eq!(b["LIST"], "a=b");
    assert_eq!(b["PASSED"], "from-env");
    assert_eq!(b["EMPTY"], "");
    assert_eq!(b["OVERRIDE"], "file");

    let missing = Fixture::new(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    env_file: nope.env\n",
    )]);
    assert!(missing.error().contains("failed to read"));
}

#[test]
fn interpolation_forms() {
    let fixture = Fixture::new(&[(
        "compose.yaml",
        r#"
services:
  a:
    image: "${REGISTRY:-docker.io}/app:${TAG-latest}"
    labels:
      plain: $SET
      braced: ${SET}
      default-colon: ${EMPTY:-fallback}
      default-dash: ${EMPTY-fallback}
      alt-colon: ${SET:+alt}
      alt-dash: ${EMPTY+alt}
      required: ${SET:?must be set}
      required-dash: ${EMPTY?must exist}
      nested: ${UNSET_A:-${UNSET_B:-${SET}}}
      dollar: $$SET
      unset: x${NOT_SET_ANYWHERE}y
"#,
    )])
    .env("SET", "value")
    .env("EMPTY", "");
    let project = fixture.load();
    let a = service(&project, "a");
    assert_eq!(a.image.as_deref(), Some("docker.io/app:latest"));
    let labels = &a.labels;
    assert_eq!(labels["plain"], "value");
    assert_eq!(labels["braced"], "value");
    assert_eq!(labels["default-colon"], "fallback");
    assert_eq!(labels["default-dash"], "");
    assert_eq!(labels["alt-colon"], "alt");
    assert_eq!(labels["alt-dash"], "alt");
    assert_eq!(labels["required"], "value");
    assert_eq!(labels["required-dash"], "");
    assert_eq!(labels["nested"], "value");
    assert_eq!(labels["dollar"], "$SET");
    assert_eq!(labels["unset"], "xy");
    assert_eq!(
        project.warnings,
        ["the \"NOT_SET_ANYWHERE\" variable is not set. Defaulting to a blank string."]
    );
}

#[test]
fn required_variable_error() {
    let message = error("services:\n  web:\n    image: ${VAR:?err}\n");
    assert_eq!(
        message,
        "compose.yaml:3:5: services.web.image: required variable VAR is missing a value: err"
    );
    let message = error("services:\n  web:\n    image: \"cost $5\"\n");
    assert!(
        message.starts_with("compose.yaml:3:5: services.web.image: invalid interpolation format"),
        "{message}"
    );
}

#[test]
fn interpolation_applies_to_types() {
    let project = Fixture::new(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    tty: ${TTY:-true}\n    ports: [\"${PORT:-8080}:80\"]\n    healthcheck:\n      retries: ${RETRIES:-3}\n",
    )])
    .env("RETRIES", "7")
    .load();
    let a = service(&project, "a");
    assert!(a.tty);
    assert_eq!(a.ports[0].published.as_deref(), Some("8080"));
    assert_eq!(a.healthcheck.as_ref().unwrap().retries, Some(7));
}

#[test]
fn dotenv_precedence_and_env_files() {
    let yaml = "services:\n  a:\n    image: \"${IMAGE}:${TAG}\"\n";
    let fixture = Fixture::new(&[
        ("compose.yaml", yaml),
        (
            ".env",
            "# defaults\nexport IMAGE=from-dotenv\nTAG='1.0' # pinned\n",
        ),
        ("other.env", "TAG=2.0\n"),
    ]);
    assert_eq!(
        service(&fixture.load(), "a").image.as_deref(),
        Some("from-dotenv:1.0")
    );
    let fixture = fixture.env("IMAGE", "from-environ");
    assert_eq!(
        service(&fixture.load(), "a").image.as_deref(),
        Some("from-environ:1.0")
    );
    // --env-file replaces the default `.env`.
    let mut fixture = fixture;
    fixture.options.env_files = vec![PathBuf::from("other.env")];
    assert_eq!(
        service(&fixture.load(), "a").image.as_deref(),
        Some("from-environ:2.0")
    );
    // Bare `KEY` in `environment` also sees the `.env` variables, as in Compose.
    let fixture = Fixture::new(&[
        (
            "compose.yaml",
            "services:\n  a:\n    image: x\n    environment: [FROM_DOTENV]\n",
        ),
        (".env", "FROM_DOTENV=yes\n"),
    ]);
    assert_eq!(
        service(&fixture.load(), "a").environment["FROM_DOTENV"],
        "yes"
    );
    let bad = Fixture::new(&[("compose.yaml", yaml), (".env", "OK=1\nNOT OK=2\n")]);
    let message = bad.error();
    assert!(
        message.ends_with(".env:2: invalid variable name \"NOT OK\""),
        "{message}"
    );
}

#[test]
fn merging_override_files() {
    let mut fixture = Fixture::new(&[
        (
            "compose.yaml",
            r#"
services:
  web:
    image: web:1
    build:
      context: ./web
      args: [A=1, B=2]
    command: ["serve"]
    environment:
      A: "1"
      B: "2"
    labels: [one=1]
    ports: ["8000:80"]
    dns: 1.1.1.1
    volumes:
      - ./data:/data
      - cache:/cache
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
    tty: true
volumes:
  cache:
"#,
        ),
        (
            "override/compose.override.yaml",
            r#"
services:
  web:
    image: web:2
    build:
      args:
        B: "3"
    command: serve --debug
    environment:
      - B=override
      - C=3
    labels:
      two: "2"
    ports: ["8000:80", "9000:90"]
    dns: [8.8.8.8]
    volumes:
      - ./other:/data:ro
    healthcheck:
      test: ["CMD", "false"]
    tty: false
  extra:
    image: extra
"#,
        ),
    ]);
    fixture.options.files = vec![
        PathBuf::from("compose.yaml"),
        PathBuf::from("override/compose.override.yaml"),
    ];
    let project = fixture.load();
    let root = fixture.root();
    assert_eq!(names(&project), ["web", "extra"]);
    let web = service(&project, "web");
    assert_eq!(web.image.as_deref(), Some("web:2"));
    let build = web.build.as_ref().unwrap();
    assert_eq!(build.context, root.join("web"));
    assert_eq!(build.args["A"], "1");
    assert_eq!(build.args["B"], "3");
    assert_eq!(
        web.command.as_ref().unwrap(),
        &strings(&["serve", "--debug"])
    );
    assert_eq!(web.environment["A"], "1");
    assert_eq!(web.environment["B"], "override");
    assert_eq!(web.environment["C"], "3");
    assert_eq!(web.labels["one"], "1");
    assert_eq!(web.labels["two"], "2");
    let published: Vec<_> = web
        .ports
        .iter()
        .map(|port| port.published.as_deref())
        .collect();
    assert_eq!(published, [Some("8000"), Some("9000")]);
    assert_eq!(web.dns, strings(&["1.1.1.1", "8.8.8.8"]));
    // Merged by target; the override's relative path resolves against the project
    // directory, not against `override/`.
    assert_eq!(web.volumes.len(), 2);
    assert_eq!(web.volumes[0].target, "/data");
    assert_eq!(
        web.volumes[0].source.as_deref(),
        Some(root.join("other").to_str().unwrap())
    );
    assert!(web.volumes[0].read_only);
    let check = web.healthcheck.as_ref().unwrap();
    assert_eq!(check.test, ["CMD", "false"]);
    assert_eq!(check.interval, Some(Duration::from_secs(10)));
    assert!(!web.tty);
    assert_eq!(project.files.len(), 2);
}

#[test]
fn errors_in_override_files_name_that_file() {
    let mut fixture = Fixture::new(&[
        ("compose.yaml", "services:\n  web:\n    image: x\n"),
        (
            "override.yaml",
            "services:\n  web:\n    restart: sometimes\n",
        ),
    ]);
    fixture.options.files = vec![
        PathBuf::from("compose.yaml"),
        PathBuf::from("override.yaml"),
    ];
    assert_eq!(
        fixture.error(),
        "override.yaml:3:5: services.web.restart: invalid restart policy \"sometimes\" (expected no, always, on-failure[:N] or unless-stopped)"
    );
}

#[test]
fn unknown_ignored_and_unsupported_keys() {
    assert_eq!(
        error("services:\n  web:\n    image: x\n    portz: [80]\n"),
        "compose.yaml:4:5: services.web.portz: unknown key"
    );
    assert_eq!(
        error(
            "services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        publishd: 80\n"
        ),
        "compose.yaml:6:9: services.web.ports[0].publishd: unknown key"
    );
    assert_eq!(
        error("servics: {}\n"),
        "compose.yaml:1:1: servics: unknown key"
    );
    assert_eq!(
        error("services:\n  web:\n    image: x\n    secrets: [a]\n"),
        "compose.yaml:4:5: services.web.secrets: not supported by berth"
    );
    assert!(
        error("services:\n  web:\n    image: x\n    healthcheck:\n      tset: [CMD, x]\n")
            .contains("services.web.healthcheck.tset: unknown key")
    );
    // Accepted and ignored.
    let project = project(
        "version: \"3.8\"\nx-common: &common\n  restart: always\nservices:\n  web:\n    image: x\n    x-note: hi\n    deploy: {replicas: 2}\n    logging: {driver: json-file}\n    platform: linux/amd64\n    ulimits: {nofile: 1024}\n    sysctls: [a=b]\n    security_opt: [no-new-privileges]\n    mem_limit: 1g\n    cpus: 0.5\n    shm_size: 64m\n    domainname: example.com\n    stdin_open: true\n    build:\n      context: .\n      cache_from: [x]\n    networks:\n      default:\n        aliases: [w]\nvolumes:\n  v:\n    driver: local\n    driver_opts: {type: none}\n",
    );
    let web = service(&project, "web");
    assert!(web.stdin_open);
    assert_eq!(web.networks, ["default"]);
}

#[test]
fn type_errors_name_the_path() {
    assert_eq!(
        error("services:\n  web:\n    image: [x]\n"),
        "compose.yaml:3:5: services.web.image: expected a string, found a sequence"
    );
    assert!(
        error("services:\n  web:\n    image: x\n    tty: maybe\n")
            .contains("services.web.tty: expected a boolean, found \"maybe\"")
    );
    assert!(
        error("services:\n  web:\n    image: x\n    healthcheck:\n      interval: 10\n")
            .contains("services.web.healthcheck.interval: expected a duration")
    );
    assert!(
        error("services:\n  web:\n    image: x\n    stop_grace_period: 1x\n")
            .contains("services.web.stop_grace_period: invalid duration \"1x\"")
    );
    assert!(error("services: []\n").contains("services: expected a mapping, found a sequence"));
}

#[test]
fn service_without_image_or_build() {
    assert_eq!(
        error("services:\n  web:\n    command: x\n"),
        "compose.yaml: service \"web\" has neither an image nor a build context"
    );
}

#[test]
fn yaml_syntax_errors_have_a_location() {
    let message = error("services:\n  web:\n    image: x\n   bad: [\n");
    assert!(message.starts_with("compose.yaml:"), "{message}");
    let location: Vec<&str> = message.splitn(4, ':').collect();
    assert!(
        location[1].parse::<usize>().is_ok() && location[2].parse::<usize>().is_ok(),
        "{message}"
    );
    assert_eq!(
        message,
        "compose.yaml:4:4: did not find expected key, while parsing a block mapping"
    );
    let message = error("services:\n  web:\n    image: x\n    image: y\n");
    assert!(message.contains("duplicate"), "{message}");
    assert_eq!(
        error("services:\n  web:\n    image: !reset x\n"),
        "compose.yaml:3:5: services.web.image: YAML tag !reset is not supported by berth"
    );
    assert_eq!(error(""), "compose.yaml: empty compose file");
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let project = project(
        r"
x-base: &base
  image: base:1
  restart: always
  environment: &env
    SHARED: yes
services:
  a:
    <<: *base
  b:
    <<: *base
    image: b:1
    environment: *env
",
    );
    assert_eq!(service(&project, "a").image.as_deref(), Some("base:1"));
    assert_eq!(service(&project, "a").restart.as_deref(), Some("always"));
    assert_eq!(service(&project, "b").image.as_deref(), Some("b:1"));
    assert_eq!(service(&project, "b").environment["SHARED"], "yes");
}

#[test]
fn depends_on_forms_and_order() {
    let project = project(
        r"
services:
  web:
    image: x
    depends_on: [api, cache]
  api:
    image: x
    depends_on:
      db:
        condition: service_completed_successfully
        restart: true
  db:
    image: x
  cache:
    image: x
  lone:
    image: x
",
    );
    assert_eq!(names(&project), ["db", "api", "cache", "web", "lone"]);
    let dependency = service(&project, "api").depends_on["db"];
    assert_eq!(dependency.condition, Condition::CompletedSuccessfully);
    assert!(dependency.restart);
    assert_eq!(
        service(&project, "web").depends_on["api"].condition,
        Condition::Started
    );
}

#[test]
fn dependency_errors() {
    assert_eq!(
        error(
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n"
        ),
        "dependency cycle: a -> b -> a"
    );
    assert_eq!(
        error("services:\n  a:\n    image: x\n    depends_on: [a]\n"),
        "dependency cycle: a -> a"
    );
    assert_eq!(
        error("services:\n  a:\n    image: x\n    depends_on: [nope]\n"),
        "compose.yaml: service \"a\" depends on undefined service \"nope\""
    );
    let project = project(
        "services:\n  a:\n    image: x\n    depends_on:\n      nope:\n        required: false\n",
    );
    assert!(service(&project, "a").depends_on.is_empty());
    assert!(error("services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: service_ready}\n  b:\n    image: x\n")
        .contains("services.a.depends_on.b.condition: invalid condition \"service_ready\""));
}

#[test]
fn profiles() {
    let yaml = "services:\n  web:\n    image: x\n  debug:\n    image: x\n    profiles: [debug]\n  tools:\n    image: x\n    profiles: [tools, debug]\n";
    let fixture = Fixture::new(&[("compose.yaml", yaml)]);
    assert_eq!(names(&fixture.load()), ["web"]);
    let mut fixture = fixture;
    fixture.options.profiles = vec!["debug".to_owned()];
    assert_eq!(names(&fixture.load()), ["web", "debug", "tools"]);
    fixture.options.profiles.clear();
    let fixture = fixture.env("COMPOSE_PROFILES", "tools");
    assert_eq!(names(&fixture.load()), ["web", "tools"]);
    let message = error(
        "services:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: x\n    profiles: [db]\n",
    );
    assert!(
        message.contains(
            "service \"db\" was pulled in as a dependency of service \"web\" but is not enabled"
        ),
        "{message}"
    );
}

#[test]
fn port_conflicts() {
    let message = error(
        "services:\n  a:\n    image: x\n    ports: [\"8000:80\"]\n  b:\n    image: x\n    ports: [\"8000:81\"]\n",
    );
    assert_eq!(
        message,
        "compose.yaml: services \"a\" and \"b\" both publish host port 8000/tcp"
    );
    let message = error(
        "services:\n  a:\n    image: x\n    ports: [\"7990-8010:80\"]\n  b:\n    image: x\n    ports: [\"127.0.0.1:8000:81\"]\n",
    );
    assert!(
        message.contains("both publish host port 8000/tcp"),
        "{message}"
    );
    let message = error("services:\n  a:\n    image: x\n    ports: [\"8000:80\", \"8000:81\"]\n");
    assert!(
        message.contains("service \"a\" publishes host port 8000/tcp twice"),
        "{message}"
    );
    // Different protocol or address: no conflict.
    project(
        "services:\n  a:\n    image: x\n    ports: [\"8000:80\", \"8000:80/udp\"]\n  b:\n    image: x\n    ports: [\"127.0.0.1:9000:80\", \"127.0.0.2:9000:80\", \"80\"]\n  c:\n    image: x\n    ports: [\"80\"]\n",
    );
}

#[test]
fn networks_and_extra_hosts() {
    let project = project(
        "services:\n  a:\n    image: x\n    networks: [front, default]\n    extra_hosts:\n      - \"db:10.0.0.2\"\n      - \"cache=10.0.0.3\"\n      - \"v6:::1\"\n  b:\n    image: x\n    extra_hosts:\n      db: 10.0.0.2\n    dns: [1.1.1.1]\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    tmpfs: /run\nnetworks:\n  front:\n    driver: bridge\n",
    );
    let a = service(&project, "a");
    assert_eq!(a.networks, ["front", "default"]);
    assert_eq!(a.extra_hosts, ["db:10.0.0.2", "cache:10.0.0.3", "v6:::1"]);
    let b = service(&project, "b");
    assert_eq!(b.extra_hosts, ["db:10.0.0.2"]);
    assert_eq!(b.tmpfs, ["/run"]);
    assert_eq!(b.cap_add, ["NET_ADMIN"]);
    assert_eq!(project.networks["front"].driver.as_deref(), Some("bridge"));
    assert!(
        error("services:\n  a:\n    image: x\n    networks: [back]\n")
            .contains("service \"a\" refers to undefined network \"back\"")
    );
}

#[test]
fn healthcheck_forms() {
    let project = project(
        "services:\n  a:\n    image: x\n    healthcheck:\n      test: curl -f http://localhost\n      interval: 1m30s\n      timeout: 500ms\n      start_period: 10s\n      start_interval: 1s\n  b:\n    image: x\n    healthcheck:\n      disable: true\n",
    );
    let check = service(&project, "a").healthcheck.as_ref().unwrap();
    assert_eq!(check.test, ["CMD-SHELL", "curl -f http://localhost"]);
    assert_eq!(check.interval, Some(Duration::from_secs(90)));
    assert_eq!(check.timeout, Some(Duration::from_millis(500)));
    assert_eq!(check.start_period, Some(Duration::from_secs(10)));
    assert_eq!(check.start_interval, Some(Duration::from_secs(1)));
    assert_eq!(
        service(&project, "b").healthcheck.as_ref().unwrap().test,
        ["NONE"]
    );
    assert!(
        error("services:\n  a:\n    image: x\n    healthcheck:\n      test: [curl, x]\n")
            .contains("services.a.healthcheck.test: a test list must start with")
    );
}

#[test]
fn scalars_and_flags() {
    let project = project(
        "services:\n  a:\n    image: x\n    pull_policy: always\n    restart: on-failure:3\n    working_dir: /app\n    user: 1000:1000\n    hostname: h\n    container_name: c\n    init: true\n    stop_signal: SIGINT\n    stop_grace_period: 1m\n    tty: true\n    privileged: true\n    read_only: true\n    expose: [\"3000\", 4000]\n",
    );
    let a = service(&project, "a");
    assert_eq!(a.pull_policy.as_deref(), Some("always"));
    assert_eq!(a.restart.as_deref(), Some("on-failure:3"));
    assert_eq!(a.working_dir.as_deref(), Some("/app"));
    assert_eq!(a.user.as_deref(), Some("1000:1000"));
    assert_eq!(a.container_name.as_deref(), Some("c"));
    assert_eq!(a.init, Some(true));
    assert_eq!(a.stop_grace_period, Some(Duration::from_secs(60)));
    assert!(a.tty && a.privileged && a.read_only && !a.stdin_open);
    assert_eq!(a.expose, ["3000", "4000"]);
}

#[test]
fn select_services() {
    let project = project(
        "services:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: x\n  other:\n    image: x\n",
    );
    let selected = |names: &[&str], deps: bool| -> Vec<String> {
        project
            .select(&strings(names), deps)
            .unwrap()
            .iter()
            .map(|service| service.name.clone())
            .collect()
    };
    assert_eq!(selected(&["web"], true), ["db", "web"]);
    assert_eq!(selected(&["web"], false), ["web"]);
    assert_eq!(selected(&[], false), ["db", "web", "other"]);
    assert_eq!(
        project
            .select(&strings(&["nope"]), true)
            .unwrap_err()
            .to_string(),
        "no such service: nope"
    );
}

#[test]
fn build_forms() {
    let fixture = Fixture::new(&[(
        "compose.yaml",
        "services:\n  a:\n    build:\n      context: ./ctx\n      dockerfile: Dockerfile.dev\n      target: dev\n      args:\n        GIVEN: 1\n        FROM_ENV:\n        MISSING:\n  b:\n    build:\n      dockerfile: Other\n",
    )])
    .env("FROM_ENV", "e");
    let project = fixture.load();
    let build = service(&project, "a").build.clone().unwrap();
    assert_eq!(build.context, fixture.root().join("ctx"));
    assert_eq!(build.dockerfile.as_deref(), Some("Dockerfile.dev"));
    assert_eq!(build.target.as_deref(), Some("dev"));
    assert_eq!(
        build.args,
        BTreeMap::from([
            ("GIVEN".to_owned(), "1".to_owned()),
            ("FROM_ENV".to_owned(), "e".to_owned()),
        ])
    );
    assert_eq!(
        service(&project, "b").build.as_ref().unwrap().context,
        fixture.root()
    );
    assert!(
        error("services:\n  a:\n    build: https://github.com/x/y.git\n")
            .contains("not supported by berth")
    );
}
