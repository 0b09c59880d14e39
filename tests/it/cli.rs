//! The command tree: Docker's long and short forms, help, version, man pages.

use crate::support::{TestContext, User};

#[test]
fn version_and_help() {
    let cx = TestContext::new(User::Root);
    assert!(cx.ok(["--version"]).starts_with("berth "));
    assert!(cx.ok(["version"]).contains("Version:"));
    let help = cx.ok(["--help"]);
    for command in [
        "image", "system", "images", "rmi", "tag", "load", "save", "import", "history", "inspect",
        "info", "unshare",
    ] {
        assert!(
            help.contains(&format!("  {command} ")),
            "{command} missing from:\n{help}"
        );
    }
    for group in [
        &["image", "--help"][..],
        &["image", "ls", "--help"],
        &["system", "--help"],
        &["rmi", "--help"],
    ] {
        assert!(cx.ok(group).contains("Usage:"));
    }
}

#[test]
fn unknown_commands_and_flags_exit_125() {
    let cx = TestContext::new(User::Root);
    assert_eq!(cx.run(["frobnicate"]).code(), 125);
    assert_eq!(cx.run(["images", "--bogus"]).code(), 125);
}

#[test]
fn long_and_short_forms_agree() {
    let cx = TestContext::new(User::Root);
    cx.import_busybox("bb:1");
    assert_eq!(cx.ok(["images", "-q"]), cx.ok(["image", "ls", "-q"]));
    assert_eq!(cx.ok(["images", "-q"]), cx.ok(["image", "list", "-q"]));
    assert_eq!(
        cx.ok(["inspect", "bb:1"]),
        cx.ok(["image", "inspect", "bb:1"])
    );
}

/// `man/` is generated from the CLI; regenerate with `berth __generate man man/`.
#[test]
fn man_pages_match_the_cli() {
    let cx = TestContext::new(User::Root);
    let generated = cx.dir.path().join("man");
    cx.ok(["__generate".as_ref(), "man".as_ref(), generated.as_os_str()]);
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let list = |dir: &std::path::Path| {
        let mut names: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        list(&generated),
        list(&committed),
        "man/ drifted: run `berth __generate man man/`"
    );
    for name in list(&generated) {
        assert_eq!(
            fs_err::read(generated.join(&name)).unwrap(),
            fs_err::read(committed.join(&name)).unwrap(),
            "man/{name} drifted: run `berth __generate man man/`"
        );
    }
    let completions = cx.dir.path().join("completions");
    cx.ok([
        "__generate".as_ref(),
        "completions".as_ref(),
        completions.as_os_str(),
    ]);
    assert!(completions.join("berth.bash").exists() && completions.join("_berth").exists());
}

/// The man page names every system call the default seccomp profile refuses.
#[test]
fn run_help_documents_the_seccomp_profile() {
    let help = berth::cli::SECURITY_HELP
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for syscall in berth::runtime::security::blocked_syscalls() {
        assert!(
            help.split([' ', '.', ',']).any(|word| word == *syscall),
            "`{syscall}` is refused by the profile but missing from run's help"
        );
    }
    let cx = TestContext::new(User::Root);
    assert!(cx.ok(["run", "--help"]).contains("seccomp profile"));
}
