//! Seccomp filters compiled once, and loaded by berth itself as the last step before exec.
//!
//! libcontainer compiles a spec's `linux.seccomp` with libseccomp inside every container's
//! init: for the default profile that was ~6 ms of each start, more than any other step.
//! Berth instead compiles each profile once into classic BPF and keeps the program in the
//! store (`seccomp/<key>.bpf`, keyed by the profile, libseccomp's version and the
//! architecture). [`prepare`] takes the profile out of the spec and leaves the program beside
//! it in the bundle, where every process started in the container finds it (its init, `exec`);
//! [`FilterExecutor`] loads it into the process just before it execs the command.
//!
//! Without no_new_privs, loading a filter takes CAP_SYS_ADMIN. When the container is not granted
//! it, [`prepare`] puts it in the spec's effective and permitted sets only, never in the
//! bounding, inheritable or ambient sets, and the executor drops it right after loading; execve
//! could not carry it over anyway, as it is outside the bounding set.

#![allow(
    unsafe_code,
    reason = "installing a seccomp filter is a system call without a safe wrapper"
)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use caps::{CapSet, Capability as Cap};
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{
    Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError,
};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, Spec,
};
use sha2::{Digest as _, Sha256};

use super::RuntimeError;

/// The program's file beside a container's `config.json`.
pub const FILTER_FILE: &str = "seccomp.bpf";

/// Bumped when the way a profile becomes a program changes, to leave old programs unused.
const FORMAT: &str = "berth-seccomp-1";

/// One BPF instruction: `struct sock_filter`, as libseccomp exports it (native endian).
const INSTRUCTION: usize = 8;

/// Moves `spec`'s seccomp profile into a compiled program, taken from the store's cache
/// (`cache_dir`) or compiled there, and written to the bundle's [`FILTER_FILE`]. A spec without
/// a profile, or with one that only libcontainer can apply (a notify action, filter flags), is
/// left as it is.
pub fn prepare(spec: &mut Spec, cache_dir: &Path, bundle: &Path) -> Result<(), RuntimeError> {
    let filter_file = bundle.join(FILTER_FILE);
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let Some(profile) = profile.filter(compilable) else {
        return crate::util::fs::remove_all(&filter_file)
            .map_err(|e| RuntimeError::io("failed to remove", &filter_file, e));
    };
    let program = cached_program(&profile, cache_dir)?;
    link_atomically(&program, &filter_file)?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_seccomp(None);
    }
    let no_new_privileges = spec
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false);
    if !no_new_privileges {
        grant_for_loading(spec);
    }
    Ok(())
}

/// The executor for a new process in the container of `bundle`, which [`prepare`] has run for:
/// with its program, or without (a container without a profile).
pub fn executor_for(bundle: &Path) -> Result<FilterExecutor, RuntimeError> {
    let path = bundle.join(FILTER_FILE);
    match fs_err::read(&path) {
        Ok(program) => FilterExecutor::new(&program).ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "the seccomp program `{}` is damaged ({} bytes): remove it and start the container again",
                path.display(),
                program.len()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FilterExecutor::default()),
        Err(e) => Err(RuntimeError::io("failed to read", &path, e)),
    }
}

/// libcontainer's executor, with the container's seccomp program loaded just before exec.
#[derive(Clone, Default)]
pub struct FilterExecutor {
    program: Option<Arc<[libc::sock_filter]>>,
}

impl FilterExecutor {
    /// The executor for `program`, unless it is not whole instructions.
    fn new(program: &[u8]) -> Option<Self> {
        if program.is_empty() || program.len() % INSTRUCTION != 0 {
            return None;
        }
        let instructions = program
            .chunks_exact(INSTRUCTION)
            .map(|i| libc::sock_filter {
                code: u16::from_ne_bytes([i[0], i[1]]),
                jt: i[2],
                jf: i[3],
                k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
            })
            .collect();
        Some(Self {
            program: Some(instructions),
        })
    }
}

impl Executor for FilterExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(program) = &self.program {
            install(program).map_err(|errno| {
                ExecutorError::Other(format!("cannot load the seccomp filter: {errno}"))
            })?;
            drop_outside_bounding(spec)
                .map_err(|e| ExecutorError::Other(format!("cannot drop CAP_SYS_ADMIN: {e}")))?;
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }

    fn setup_envs(
        &self,
        envs: std::collections::HashMap<String, String>,
    ) -> Result<(), ExecutorSetEnvsError> {
        DefaultExecutor {}.setup_envs(envs)
    }
}

/// Whether berth can compile `profile` itself: libcontainer keeps the rest (a notify action
/// needs its listener protocol; filter flags are passed at load time).
fn compilable(profile: &LinuxSeccomp) -> bool {
    let notify = |action: LinuxSeccompAction| action == LinuxSeccompAction::ScmpActNotify;
    profile.flags().as_ref().is_none_or(Vec::is_empty)
        && !notify(profile.default_action())
        && profile
            .syscalls()
            .iter()
            .flatten()
            .all(|rule| !notify(rule.action()))
}

/// The cached program for `profile`, compiled into the cache first if it is not there whole.
/// (A program damaged some other way fails the kernel's check when loaded: never unconfined.)
fn cached_program(profile: &LinuxSeccomp, cache_dir: &Path) -> Result<PathBuf, RuntimeError> {
    let path = cache_dir.join(format!("{}.bpf", cache_key(profile)));
    match fs_err::metadata(&path) {
        Ok(meta) if meta.len() > 0 && meta.len() % INSTRUCTION as u64 == 0 => {
            return Ok(path);
        }
        Ok(_) => tracing::debug!(path = %path.display(), "replacing a damaged seccomp program"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RuntimeError::io("failed to read", &path, e)),
    }
    let program = compile(profile)?;
    fs_err::create_dir_all(cache_dir)
        .map_err(|e| RuntimeError::io("failed to create", cache_dir, e))?;
    crate::util::fs::atomic_write(&path, &program)
        .map_err(|e| RuntimeError::io("failed to write", &path, e))?;
    Ok(path)
}

/// Puts `program` at `path` as a hard link, replacing what was there in one step: a process
/// started meanwhile finds the old program or the new one, never none.
fn link_atomically(program: &Path, path: &Path) -> Result<(), RuntimeError> {
    let temporary = crate::util::fs::temp_sibling(path);
    fs_err::hard_link(program, &temporary)
        .and_then(|()| fs_err::rename(&temporary, path))
        .map_err(|e| {
            let _ = fs_err::remove_file(&temporary);
            RuntimeError::io("failed to write", path, e)
        })
}

/// The cache's name for `profile`'s program under the running libseccomp.
fn cache_key(profile: &LinuxSeccomp) -> String {
    let mut hasher = Sha256::new();
    hasher.update(FORMAT);
    if let Ok(version) = libseccomp::ScmpVersion::current() {
        hasher.update(format!(
            "\0{}.{}.{}",
            version.major, version.minor, version.micro
        ));
    }
    hasher.update(format!("\0{:?}\0", ScmpArch::native()));
    hasher.update(serde_json::to_vec(profile).unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// Compiles `profile` as libcontainer would load it: names the running libseccomp does not
/// know are skipped (older releases lack `futex_waitv`, `fchmodat2`, …), rules with the
/// default's action are redundant, and conditions on one argument become separate rules
/// (libseccomp compares each argument once per rule).
fn compile(profile: &LinuxSeccomp) -> Result<Vec<u8>, RuntimeError> {
    let filter = filter_context(profile)?;
    let mut exported = tempfile_in_memory()?;
    filter
        .export_bpf(&exported)
        .map_err(|e| failed("export", e))?;
    let mut program = Vec::new();
    std::io::Seek::rewind(&mut exported)
        .and_then(|_| std::io::Read::read_to_end(&mut exported, &mut program))
        .map_err(|e| RuntimeError::io("failed to read", Path::new("the seccomp program"), e))?;
    Ok(program)
}

fn failed(what: &str, e: libseccomp::error::SeccompError) -> RuntimeError {
    RuntimeError::Invalid(format!("cannot compile the seccomp profile: {what}: {e}"))
}

/// libseccomp's filter for `profile`.
fn filter_context(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, RuntimeError> {
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut filter = ScmpFilterContext::new(default).map_err(|e| failed("new filter", e))?;
    filter
        .set_ctl_nnp(false)
        .map_err(|e| failed("no_new_privs", e))?;
    for arch in profile.architectures().iter().flatten() {
        filter
            .add_arch(scmp_arch(*arch))
            .map_err(|e| failed("architecture", e))?;
    }
    for rule in profile.syscalls().iter().flatten() {
        let action = action(rule.action(), rule.errno_ret())?;
        if action == default {
            continue;
        }
        let comparisons: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|arg| {
                let (operator, operand) = operator(arg);
                ScmpArgCompare::new(arg.index() as u32, operator, operand)
            })
            .collect();
        let mut indexes = HashSet::new();
        let separate = !rule
            .args()
            .iter()
            .flatten()
            .all(|arg| indexes.insert(arg.index()));
        for name in rule.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                tracing::debug!(name, "libseccomp does not know this system call; skipped");
                continue;
            };
            let added = if separate {
                comparisons.iter().try_for_each(|c| {
                    filter
                        .add_rule_conditional(action, syscall, std::slice::from_ref(c))
                        .map(drop)
                })
            } else {
                filter
                    .add_rule_conditional(action, syscall, &comparisons)
                    .map(drop)
            };
            added.map_err(|e| failed(name, e))?;
        }
    }
    Ok(filter)
}

/// An anonymous file for libseccomp to export into.
fn tempfile_in_memory() -> Result<std::fs::File, RuntimeError> {
    rustix::fs::memfd_create("berth-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map(std::fs::File::from)
        .map_err(|e| {
            RuntimeError::Sys(
                "memfd_create",
                nix::errno::Errno::from_raw(e.raw_os_error()),
            )
        })
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, RuntimeError> {
    let errno = errno.map_or(libc::EPERM, |e| e as i32);
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(u16::try_from(errno).map_err(|_| {
                RuntimeError::Invalid(format!("seccomp trace value {errno} is out of range"))
            })?)
        }
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

/// The comparison and the value it compares with.
fn operator(arg: &oci_spec::runtime::LinuxSeccompArg) -> (ScmpCompareOp, u64) {
    let operator = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // As in runc: `value` is the mask, `valueTwo` the bits expected under it.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return (
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            );
        }
    };
    (operator, arg.value())
}

fn scmp_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Puts CAP_SYS_ADMIN into the effective and permitted sets of `spec`'s process when its
/// bounding set lacks it, so that the executor may load the filter.
fn grant_for_loading(spec: &mut Spec) {
    let Some(process) = spec.process_mut() else {
        return;
    };
    let Some(mut capabilities) = process.capabilities().clone() else {
        return;
    };
    if capabilities
        .bounding()
        .as_ref()
        .is_some_and(|b| b.contains(&Capability::SysAdmin))
    {
        return;
    }
    let mut effective = capabilities.effective().clone().unwrap_or_default();
    effective.insert(Capability::SysAdmin);
    capabilities.set_effective(Some(effective));
    let mut permitted = capabilities.permitted().clone().unwrap_or_default();
    permitted.insert(Capability::SysAdmin);
    capabilities.set_permitted(Some(permitted));
    process.set_capabilities(Some(capabilities));
}

/// Drops CAP_SYS_ADMIN from this process's effective and permitted sets when `spec`'s bounding
/// set lacks it: it was there only for loading the filter.
fn drop_outside_bounding(spec: &Spec) -> Result<(), caps::errors::CapsError> {
    let bounded = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .is_some_and(|b| b.contains(&Capability::SysAdmin));
    if !bounded {
        caps::drop(None, CapSet::Effective, Cap::CAP_SYS_ADMIN)?;
        caps::drop(None, CapSet::Permitted, Cap::CAP_SYS_ADMIN)?;
    }
    Ok(())
}

/// Installs `program` as this thread's seccomp filter.
fn install(program: &[libc::sock_filter]) -> Result<(), nix::errno::Errno> {
    let length = u16::try_from(program.len()).map_err(|_| nix::errno::Errno::E2BIG)?;
    let fprog = libc::sock_fprog {
        len: length,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `program`, `length` instructions long, both alive for the
    // duration of the call; the kernel copies the program and never writes through the pointer.
    let result = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &raw const fprog,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek};

    use super::*;
    use crate::runtime::security;

    /// libseccomp's readable form of the filter for `profile`.
    fn pseudo_code(profile: &LinuxSeccomp) -> String {
        let mut file = tempfile_in_memory().unwrap();
        filter_context(profile).unwrap().export_pfc(&file).unwrap();
        let mut text = String::new();
        file.rewind().unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn the_default_profile_compiles_to_whole_instructions() {
        let program = compile(&security::default_seccomp()).unwrap();
        assert!(program.len() > 100 * INSTRUCTION, "{}", program.len());
        assert_eq!(program.len() % INSTRUCTION, 0);
        assert!(FilterExecutor::new(&program).is_some());
        assert!(FilterExecutor::new(&program[..program.len() - 1]).is_none());
        assert!(FilterExecutor::new(&[]).is_none());
    }

    /// `value` is the mask of a masked comparison, as in runc: `clone` is allowed only when
    /// `flags & CLONE_NAMESPACE_FLAGS` is 0, not for any flags.
    #[test]
    fn clone_masks_the_namespace_flags() {
        let code = pseudo_code(&security::default_seccomp());
        assert!(code.contains("& 0x7e020000"), "{code}");
        let widened = pseudo_code(&security::seccomp_profile(&[Capability::SysAdmin]));
        assert!(!widened.contains("& 0x7e020000"));
    }

    #[test]
    fn the_key_follows_the_profile() {
        let default = security::default_seccomp();
        assert_eq!(cache_key(&default), cache_key(&security::default_seccomp()));
        let mut chown = default.clone();
        security::fake_chown(&mut chown);
        assert_ne!(cache_key(&default), cache_key(&chown));
    }

    #[test]
    fn sys_admin_is_granted_for_loading_only_outside_the_bounding_set() {
        let capabilities = security::linux_capabilities(&security::default_capabilities());
        let mut spec = Spec::default();
        spec.process_mut()
            .as_mut()
            .unwrap()
            .set_capabilities(Some(capabilities.clone()));
        grant_for_loading(&mut spec);
        let granted = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        for set in [granted.effective(), granted.permitted()] {
            assert!(set.as_ref().unwrap().contains(&Capability::SysAdmin));
        }
        for set in [granted.bounding(), granted.inheritable(), granted.ambient()] {
            assert!(
                !set.as_ref()
                    .is_some_and(|s| s.contains(&Capability::SysAdmin))
            );
        }
        assert_eq!(granted.bounding(), capabilities.bounding());
    }

    #[test]
    fn only_notify_and_flags_are_left_to_libcontainer() {
        let mut profile = security::default_seccomp();
        assert!(compilable(&profile));
        profile.set_flags(Some(vec![
            oci_spec::runtime::LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        ]));
        assert!(!compilable(&profile));
        let mut profile = security::default_seccomp();
        profile.set_default_action(LinuxSeccompAction::ScmpActNotify);
        assert!(!compilable(&profile));
    }
}
