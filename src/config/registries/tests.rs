//! Unit tests of registries.conf parsing, drop-ins and merging.

use super::*;

fn parse(text: &str) -> Registries {
    Registries::parse(text, Path::new("/test/registries.conf")).unwrap()
}

fn error(text: &str) -> String {
    Registries::parse(text, Path::new("/test/registries.conf"))
        .unwrap_err()
        .to_string()
}

#[test]
fn parses_podman_files() {
    let registries = parse(
        r#"
unqualified-search-registries = ["docker.io", "quay.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"

[[registry.mirror]]
location = "127.0.0.1:5000/hub/"
insecure = true

[[registry.mirror]]
location = "mirror.example.com"
pull-from-mirror = "digest-only"

[[registry]]
location = "internal.example.com:5000"
insecure = true

[[registry]]
prefix = "*.blocked.example"
blocked = true

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#,
    );
    assert_eq!(registries.search, ["docker.io", "quay.io"]);
    let hub = &registries.entries[0];
    assert_eq!(hub.prefix, Prefix::Name("docker.io".to_owned()));
    assert_eq!(hub.location.as_deref(), Some("registry-1.docker.io"));
    assert_eq!(
        hub.mirrors,
        [
            Mirror {
                location: "127.0.0.1:5000/hub".to_owned(),
                insecure: true,
                pull_from: PullFromMirror::All,
            },
            Mirror {
                location: "mirror.example.com".to_owned(),
                insecure: false,
                pull_from: PullFromMirror::DigestOnly,
            },
        ]
    );
    assert_eq!(hub.source, Path::new("/test/registries.conf"));
    let internal = &registries.entries[1];
    assert_eq!(
        internal.prefix,
        Prefix::Name("internal.example.com:5000".to_owned())
    );
    assert!(internal.insecure && !internal.blocked);
    let blocked = &registries.entries[2];
    assert_eq!(
        blocked.prefix,
        Prefix::Subdomains(".blocked.example".to_owned())
    );
    assert_eq!(blocked.location, None);
    assert!(blocked.blocked);
    assert!(parse("").entries.is_empty());
}

#[test]
fn mirror_by_digest_only_is_the_mirrors_default() {
    let registries = parse(
        "[[registry]]\nlocation = \"a.example\"\nmirror-by-digest-only = true\n\
         [[registry.mirror]]\nlocation = \"m.example\"\n\
         [[registry.mirror]]\nlocation = \"n.example\"\npull-from-mirror = \"tag-only\"\n",
    );
    let pulls: Vec<_> = registries.entries[0]
        .mirrors
        .iter()
        .map(|m| m.pull_from)
        .collect();
    assert_eq!(pulls, [PullFromMirror::DigestOnly, PullFromMirror::TagOnly]);
}

#[test]
fn bad_files_name_the_file_and_the_problem() {
    assert!(error("[[registry]\n").contains("/test/registries.conf"));
    assert!(error("[[registry]]\ninsecure = true\n").contains("needs a prefix or a location"));
    assert!(
        error("[[registry]]\nprefix = \"*.example.com\"\nlocation = \"x.example\"\n")
            .contains("cannot have a location")
    );
    assert!(error("[[registry]]\nprefix = \"a.*.example\"\n").contains("leading `*.`"));
    assert!(error("[[registry]]\nlocation = \"https://x.example\"\n").contains("URL scheme"));
    assert!(
        error("[[registry]]\nlocation = \"x.example\"\n[[registry]]\nprefix = \"x.example\"\n")
            .contains("defined twice")
    );
    assert!(
        error("[[registry]]\nlocation = \"x\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"some\"\n")
            .contains("expected all, digest-only or tag-only")
    );
    assert!(error("unqualified-search-registries = \"docker.io\"\n").contains("registries.conf"));
}

#[test]
fn the_longest_prefix_wins() {
    let registries = parse(
        r#"
[[registry]]
prefix = "example.com"
location = "a.example"
[[registry]]
prefix = "example.com/team"
location = "b.example"
[[registry]]
prefix = "*.example.com"
blocked = true
[[registry]]
prefix = "sub.example.com"
location = "c.example"
"#,
    );
    let location = |name: &str| {
        registries
            .find(name)
            .map(|(entry, len)| (entry.location.clone().unwrap_or_default(), len))
    };
    assert_eq!(
        location("example.com/team/app"),
        Some(("b.example".into(), 16))
    );
    assert_eq!(
        location("example.com/teams/app"),
        Some(("a.example".into(), 11))
    );
    assert_eq!(location("example.com/app"), Some(("a.example".into(), 11)));
    assert_eq!(location("example.community/app"), None);
    // A wildcard matches subdomains, not the domain, and loses a tie to a name.
    assert_eq!(
        location("deep.sub.example.com:5000/app"),
        Some((String::new(), 25))
    );
    assert_eq!(
        location("sub.example.com/app"),
        Some(("c.example".into(), 15))
    );
    assert_eq!(location("other.com/app"), None);
}

#[test]
fn prefixes_match_at_boundaries() {
    let name = Prefix::Name("docker.io/library".to_owned());
    assert_eq!(name.matches("docker.io/library/busybox"), Some(17));
    assert_eq!(name.matches("docker.io/library"), Some(17));
    assert_eq!(name.matches("docker.io/libraryx/busybox"), None);
    let repository = Prefix::Name("quay.io/app".to_owned());
    assert_eq!(repository.matches("quay.io/app:1"), Some(11));
    assert_eq!(repository.matches("quay.io/app@sha256:00"), Some(11));
    let wildcard = Prefix::Subdomains(".example.com".to_owned());
    assert_eq!(wildcard.matches("a.example.com/x"), Some(13));
    assert_eq!(wildcard.matches("a.example.com:5000/x"), Some(18));
    assert_eq!(wildcard.matches("example.com/x"), None);
    assert_eq!(wildcard.matches("aexample.com/x"), None);
}

#[test]
fn berth_toml_wins() {
    let mut registries = parse(
        "unqualified-search-registries = [\"quay.io\"]\n\
         [[registry]]\nprefix = \"docker.io\"\nblocked = true\n\
         [[registry]]\nlocation = \"keep.example\"\n",
    );
    let berth = Path::new("/test/berth.toml");
    registries.merge(
        Registries::parse_file(
            "[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n\
             [[registry.mirror]]\nlocation = \"127.0.0.1:5000\"\n",
            berth,
        )
        .unwrap(),
    );
    assert_eq!(registries.search, ["quay.io"]);
    assert_eq!(registries.entries.len(), 2);
    let (hub, _) = registries.find("docker.io/library/busybox").unwrap();
    assert!(!hub.blocked);
    assert_eq!(hub.source, berth);
    assert_eq!(hub.mirrors.len(), 1);
    registries
        .merge(Registries::parse_file("unqualified-search-registries = []\n", berth).unwrap());
    assert!(registries.search.is_empty());
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, text).unwrap();
    path
}

#[test]
fn drop_ins_follow_the_main_file_in_lexical_order() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "registries.conf",
        "unqualified-search-registries = [\"quay.io\"]\n\
         [aliases]\n\"python\" = \"docker.io/library/python\"\n\"gone\" = \"quay.io/x/gone\"\n\
         [[registry]]\nprefix = \"docker.io\"\nblocked = true\n\
         [[registry]]\nlocation = \"keep.example\"\n",
    );
    let system = dir.path().join("system.d");
    let user = dir.path().join("user.d");
    // Lexical order: 10 before 20, whatever order they were written in.
    let second = write(
        &system,
        "20-second.conf",
        "unqualified-search-registries = [\"b.example:5000\", \"docker.io\"]\n\
         [aliases]\n\"gone\" = \"\"\n",
    );
    write(
        &system,
        "10-first.conf",
        "unqualified-search-registries = [\"a.example\"]\nshort-name-mode = \"enforcing\"\n\
         [[registry]]\nprefix = \"docker.io\"\nlocation = \"mirror.example/hub\"\n",
    );
    // Not `*.conf`: ignored, even when invalid.
    write(&system, "README", "not toml [");
    write(&system, "30-dir.conf/inner.conf", "not toml [");
    let user_file = write(
        &user,
        "50-user.conf",
        "[aliases]\n\"app\" = \"quay.io/team/app\"\n",
    );
    let registries = Registries::load_files(
        &main,
        &[system, user, dir.path().join("missing.d")],
        &dir.path().join("berth.toml"),
    )
    .unwrap();
    assert_eq!(registries.search, ["b.example:5000", "docker.io"]);
    assert_eq!(registries.search_source.as_deref(), Some(second.as_path()));
    assert_eq!(registries.short_name_mode, ShortNameMode::Enforcing);
    assert_eq!(
        registries.aliases.keys().collect::<Vec<_>>(),
        ["app", "python"]
    );
    assert_eq!(registries.aliases["app"].source, user_file);
    assert_eq!(registries.aliases["python"].source, main);
    // The drop-in's docker.io entry replaced the main file's; the other entry stays.
    assert_eq!(registries.entries.len(), 2);
    let (hub, _) = registries.find("docker.io/library/busybox").unwrap();
    assert!(!hub.blocked);
    assert_eq!(hub.location.as_deref(), Some("mirror.example/hub"));
    assert!(registries.find("keep.example/app").is_some());
}

#[test]
fn a_missing_main_file_still_reads_the_drop_ins() {
    let dir = tempfile::tempdir().unwrap();
    let drop_ins = dir.path().join("registries.conf.d");
    write(
        &drop_ins,
        "search.conf",
        "unqualified-search-registries = [\"127.0.0.1:5000/\"]\n",
    );
    let registries = Registries::load_files(
        &dir.path().join("registries.conf"),
        &[drop_ins],
        &dir.path().join("berth.toml"),
    )
    .unwrap();
    assert_eq!(registries.search, ["127.0.0.1:5000"]);
    let none = Registries::load_files(
        &dir.path().join("none.conf"),
        &[dir.path().join("none.d")],
        &dir.path().join("none.toml"),
    )
    .unwrap();
    assert!(none.search.is_empty() && none.aliases.is_empty() && none.entries.is_empty());
}

#[test]
fn a_bad_drop_in_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let drop_ins = dir.path().join("registries.conf.d");
    write(&drop_ins, "ok.conf", "");
    let bad = write(
        &drop_ins,
        "bad.conf",
        "# a comment\nunqualified-search-registries = [\"a\"\n",
    );
    let error = Registries::load_files(
        &dir.path().join("registries.conf"),
        &[drop_ins],
        &dir.path().join("berth.toml"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("invalid configuration file `{}`", bad.display())
    );
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("line 2"), "{cause}");
}

#[test]
fn short_name_settings_are_checked() {
    assert!(error("short-name-mode = \"ask\"\n").contains("expected enforcing, permissive"));
    assert!(error("unqualified-search-registries = [\"quay.io/ns\"]\n").contains("host[:port]"));
    assert!(error("unqualified-search-registries = [\"\"]\n").contains("host[:port]"));
    assert!(error("[aliases]\n\"python:3\" = \"docker.io/library/python\"\n").contains("alias"));
    let registries =
        parse("short-name-mode = \"disabled\"\n[aliases]\n\"a/b\" = \" quay.io/a/b \"\n");
    assert_eq!(registries.short_name_mode, ShortNameMode::Disabled);
    assert_eq!(registries.aliases["a/b"].target, "quay.io/a/b");
    assert_eq!(parse("").short_name_mode, ShortNameMode::Permissive);
}
