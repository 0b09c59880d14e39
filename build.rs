//! Link options for the `berth` binary.

fn main() {
    // Relative relocations packed as DT_RELR (glibc 2.36+; GNU ld ignores the flag with a
    // warning where the C library lacks it): the loader then no longer reads ~1 MB of
    // `.rela.dyn` at every start, which is most of a short command's start-up and of a
    // monitor's resident memory.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
