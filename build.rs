//! Link options for the `berth` binary.

fn main() {
    // Relative relocations packed as DT_RELR (glibc 2.36+; GNU ld ignores the flag with a
    // warning where the C library lacks it): the loader then no longer reads ~1 MB of
    // `.rela.dyn` at every start, which is most of a short command's start-up and of a
    // monitor's resident memory.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    if let Some(order) = symbol_order() {
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={order}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    println!("cargo:rerun-if-changed={SYMBOL_ORDER}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The functions everyday commands run, in the order they first run (contrib/layout/record.sh).
const SYMBOL_ORDER: &str = "contrib/layout/symbol-order.txt";

/// The ordering file for a release build linked by lld, which places those functions together
/// at the start of .text: the kernel maps code in 64 KB windows around each page touched, so
/// scattered they keep most of the binary resident. rustc links with lld by default on
/// x86_64-unknown-linux-gnu since 1.90; GNU ld does not know the option.
fn symbol_order() -> Option<String> {
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target = std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    let path = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").ok()?).join(SYMBOL_ORDER);
    (release && target && rustc_minor()? >= 90 && path.is_file())
        .then(|| path.display().to_string())
}

/// The minor version of the compiler building us (`rustc 1.95.0 (…)` gives 95).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    version
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}
