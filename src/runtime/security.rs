//! `runtime/security.rs`: a container's default confinement, as Docker sets it up, in
//! `oci_spec::runtime` form: the seccomp profile, the capability set with its `--cap-add`,
//! `--cap-drop` and `--privileged` arithmetic, and the masked and read-only `/proc` and `/sys`
//! paths. `runtime::spec` puts the results into the container's `Spec`.
//!
//! Uses: nothing else of the crate (a leaf: no `use crate::`), only `oci_spec::runtime` types.
//! Pure data: no I/O, no kernel calls, so everything here is unit-tested.
//!
//! The seccomp profile is berth's own, written to have the effect of moby's
//! `profiles/seccomp/default.json`: everything a normal program needs is allowed, anything that
//! reaches beyond the container (kernel keyrings, BPF, perf, kexec, modules, mounts, new
//! namespaces, the clock, swap, reboot) fails with `EPERM`, and a syscall is unlocked again when
//! the capability that governs it is granted, as Docker does. Where it differs from Docker's:
//! - `adjtimex` and `clock_adjtime` need `CAP_SYS_TIME`, `name_to_handle_at` needs
//!   `CAP_DAC_READ_SEARCH` (Docker allows them to everyone, as their harmless uses need no
//!   capability);
//! - `socket` is allowed for every address family (Docker refuses `AF_VSOCK`);
//! - `ptrace` is allowed without a kernel version check (Docker wants Linux 4.8, which closed
//!   the seccomp bypass through `ptrace`);
//! - syscalls newer than Linux 6.7 (`mseal`, `statmount`, `listmount`, `lsm_*`, `*xattrat`) are
//!   left out, because libseccomp 2.5.4 (Debian 12) does not know them.
//!
//! Per Docker, a `--privileged` container runs with no seccomp profile, no masked and no
//! read-only paths: the caller leaves them out; only the capability set is computed here.

#![warn(missing_docs)]

use std::collections::HashSet;

use oci_spec::OciSpecError;
use oci_spec::runtime::{
    Arch, Capability, LinuxCapabilities, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder,
    LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A `--cap-add` or `--cap-drop` value names no Linux capability. Holds the name as given.
    #[error("unknown capability `{0}`")]
    UnknownCapability(String),
}

type Result<T> = std::result::Result<T, SecurityError>;

// ---------------------------------------------------------------------------------------------
// Seccomp
// ---------------------------------------------------------------------------------------------

/// `EPERM`: what a syscall outside the profile returns, as in Docker (`defaultErrnoRet: 1`).
const EPERM: u32 = 1;

/// `ENOSYS`: what `clone3` returns, so that glibc (2.34+) falls back to `clone`, whose flags a
/// BPF filter can inspect (`clone3` passes them in memory, out of the filter's reach).
const ENOSYS: u32 = 38;

/// The namespace flags of `clone(2)`: `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
/// CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET` (Docker's 2114060288).
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// Which argument of `clone` holds the flags: s390 swaps the first two.
const CLONE_FLAGS_ARG: usize = if cfg!(target_arch = "s390x") { 1 } else { 0 };

/// The `personality(2)` values allowed without `CAP_SYS_ADMIN`, as in Docker: `PER_LINUX`,
/// `PER_LINUX32`, `UNAME26`, `UNAME26 | PER_LINUX32`, and `0xffffffff` (query only). Other
/// personalities switch on address-space quirks such as `READ_IMPLIES_EXEC` or `ADDR_NO_RANDOMIZE`.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// Syscalls allowed to every container: Docker's default allow list, without the
/// capability-gated ones (see [`CAPABILITY_GATED`]) and without `io_uring_*` (Docker dropped them
/// in 2023: a large attack surface that seccomp cannot filter inside the ring). Names are
/// libseccomp's; 32-bit and time64 variants are listed so that i386 and arm32 binaries work too
/// (libseccomp maps each name onto every architecture of the filter, and skips it where that
/// architecture has no such syscall).
const ALLOWED: &[&str] = &[
    // files and descriptors
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "close",
    "close_range",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "ioctl",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pipe",
    "pipe2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "sendfile",
    "sendfile64",
    "setxattr",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vmsplice",
    "write",
    "writev",
    // polling, events, asynchronous I/O (the old `io_*` AIO, not io_uring)
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "_newselect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    // memory
    "brk",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
    // processes, threads, signals (`clone`, `clone3` and `personality` have rules of their own)
    "capget",
    "capset",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrlimit",
    "getrusage",
    "getsid",
    "gettid",
    "ioprio_get",
    "ioprio_set",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "prctl",
    "prlimit64",
    "process_mrelease",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "restart_syscall",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setpgid",
    "setpriority",
    "setrlimit",
    "setsid",
    "sigaltstack",
    "sigprocmask",
    "sigreturn",
    "tgkill",
    "tkill",
    "ugetrlimit",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
    // credentials
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getuid",
    "getuid32",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
    // time (reading it, sleeping, timers; setting the clock needs CAP_SYS_TIME)
    "alarm",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getitimer",
    "gettimeofday",
    "nanosleep",
    "setitimer",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "times",
    // sockets
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socket",
    "socketcall",
    "socketpair",
    // System V and POSIX IPC (inside the container's own IPC namespace)
    "ipc",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    // system information
    "getrandom",
    "sysinfo",
    "uname",
];

/// Architecture-specific syscalls allowed on the architecture berth was built for.
const ARCH_ALLOWED: &[&str] = if cfg!(target_arch = "x86_64") {
    &["arch_prctl", "modify_ldt"]
} else if cfg!(target_arch = "aarch64") {
    &[
        "arm_fadvise64_64",
        "arm_sync_file_range",
        "breakpoint",
        "cacheflush",
        "set_tls",
        "sync_file_range2",
    ]
} else if cfg!(target_arch = "riscv64") {
    &["riscv_flush_icache"]
} else {
    &[]
};

/// Syscalls unlocked by a capability, as in Docker: with the capability the kernel permits them
/// anyway, without it they are attack surface only. `CAP_SYS_ADMIN` also lifts the `clone`
/// restriction and the `clone3` refusal.
const CAPABILITY_GATED: &[(Capability, &[&str])] = &[
    (
        Capability::SysAdmin,
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    (Capability::SysBoot, &["reboot"]),
    (Capability::SysChroot, &["chroot"]),
    (
        Capability::SysModule,
        &["delete_module", "finit_module", "init_module"],
    ),
    (Capability::SysPacct, &["acct"]),
    (
        Capability::SysPtrace,
        &["kcmp", "pidfd_getfd", "process_madvise"],
    ),
    (Capability::SysRawio, &["ioperm", "iopl"]),
    (
        Capability::SysTime,
        &[
            "adjtimex",
            "clock_adjtime",
            "clock_adjtime64",
            "clock_settime",
            "clock_settime64",
            "settimeofday",
            "stime",
        ],
    ),
    (Capability::SysTtyConfig, &["vhangup"]),
    (
        Capability::SysNice,
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    (Capability::Syslog, &["syslog"]),
    (Capability::Bpf, &["bpf"]),
    (Capability::Perfmon, &["perf_event_open"]),
    (
        Capability::DacReadSearch,
        &["name_to_handle_at", "open_by_handle_at"],
    ),
];

/// Notable syscalls that [`default_seccomp`] refuses with `EPERM`, for the man page and tests.
/// Not exhaustive: every syscall not in the profile is refused. Some come back when a
/// capability is added (see [`seccomp_profile`]); `clone3` is not listed because it fails with
/// `ENOSYS` instead, and `clone` and `personality` because only some of their arguments are
/// refused.
pub fn blocked_syscalls() -> &'static [&'static str] {
    &[
        // kernel keyrings: not namespaced
        "add_key",
        "keyctl",
        "request_key",
        // kernel programs, tracing and memory tricks used in exploits
        "bpf",
        "io_uring_enter",
        "io_uring_register",
        "io_uring_setup",
        "perf_event_open",
        "userfaultfd",
        // the kernel itself
        "create_module",
        "delete_module",
        "finit_module",
        "get_kernel_syms",
        "init_module",
        "kexec_file_load",
        "kexec_load",
        "query_module",
        "reboot",
        // mounts and namespaces
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "mount",
        "mount_setattr",
        "move_mount",
        "open_tree",
        "pivot_root",
        "setns",
        "umount",
        "umount2",
        "unshare",
        // host-wide state: clock, swap, accounting, quotas, host names, kernel log
        "acct",
        "adjtimex",
        "clock_adjtime",
        "clock_settime",
        "quotactl",
        "quotactl_fd",
        "setdomainname",
        "sethostname",
        "settimeofday",
        "stime",
        "swapoff",
        "swapon",
        "syslog",
        // file handles bypass the container's root
        "name_to_handle_at",
        "open_by_handle_at",
        // other processes, devices, NUMA policy
        "get_mempolicy",
        "ioperm",
        "iopl",
        "kcmp",
        "mbind",
        "migrate_pages",
        "move_pages",
        "pidfd_getfd",
        "process_madvise",
        "set_mempolicy",
        "vhangup",
        // obsolete
        "lookup_dcookie",
        "nfsservctl",
        "_sysctl",
        "sysfs",
        "uselib",
        "ustat",
        "vm86",
        "vm86old",
    ]
}

/// Berth's default seccomp profile: [`seccomp_profile`] for [`default_capabilities`], to the
/// effect of Docker's default profile (see the module docs for the few differences).
pub fn default_seccomp() -> LinuxSeccomp {
    seccomp_profile(&default_capabilities())
}

/// The default profile widened for a container granted `capabilities`, as Docker widens it for
/// `--cap-add`: e.g. `CAP_SYS_ADMIN` allows `mount`, `unshare`, `setns`, any `clone` and
/// `clone3`; `CAP_SYS_PTRACE` allows `kcmp` and `pidfd_getfd`; `CAP_SYS_TIME` allows setting the
/// clock.
///
/// Refused syscalls fail with `EPERM` (`clone3` without `CAP_SYS_ADMIN` with `ENOSYS`). The filter
/// covers the native architecture and its 32-bit companion (x86-64: x86; aarch64: arm).
/// Names that the running libseccomp does not know are skipped when the profile is compiled
/// (`runtime::seccomp`).
pub fn seccomp_profile(capabilities: &[Capability]) -> LinuxSeccomp {
    // The builders fail only when a required field is missing, and these types have none.
    // Should that ever change, refuse every syscall rather than run unconfined.
    build_profile(capabilities).unwrap_or_else(|_| {
        let mut refuse_all = LinuxSeccomp::default();
        refuse_all.set_default_action(LinuxSeccompAction::ScmpActErrno);
        refuse_all.set_default_errno_ret(Some(EPERM));
        refuse_all.set_architectures(architectures());
        refuse_all
    })
}

/// The chown family: under a single-ID map only our own ID exists, and chown to any other
/// fails with EINVAL, which breaks dpkg and tar. [`fake_chown`] makes them succeed without
/// effect, so files stay root's (what DESIGN.md §2 promises for the fallback).
const CHOWN_SYSCALLS: [&str; 7] = [
    "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
];

/// Turns `profile` into one where the chown family returns success without doing anything.
pub fn fake_chown(profile: &mut LinuxSeccomp) {
    let mut rules = profile.syscalls().clone().unwrap_or_default();
    for rule in &mut rules {
        let mut names = rule.names().clone();
        names.retain(|name| !CHOWN_SYSCALLS.contains(&name.as_str()));
        rule.set_names(names);
    }
    rules.retain(|rule| !rule.names().is_empty());
    if let Ok(rule) = LinuxSyscallBuilder::default()
        .names(owned(&CHOWN_SYSCALLS))
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(0u32)
        .build()
    {
        rules.push(rule);
    }
    profile.set_syscalls(Some(rules));
}

fn build_profile(capabilities: &[Capability]) -> std::result::Result<LinuxSeccomp, OciSpecError> {
    let mut rules = Vec::new();
    let mut allowed: HashSet<&str> = HashSet::new();
    let mut names = Vec::new();
    // Each name once, in one rule (`bpf`, `syslog` and `perf_event_open` are gated by two
    // capabilities each): a duplicate only costs filter size and compile time.
    let mut allow = |group: &[&'static str]| {
        names.extend(group.iter().copied().filter(|name| allowed.insert(name)));
    };
    allow(ALLOWED);
    allow(ARCH_ALLOWED);
    for (capability, group) in CAPABILITY_GATED {
        if capabilities.contains(capability) {
            allow(group);
        }
    }
    rules.push(
        LinuxSyscallBuilder::default()
            .names(owned(&names))
            .action(LinuxSeccompAction::ScmpActAllow)
            .build()?,
    );

    // One rule per value: the conditions of one rule must all hold.
    for personality in PERSONALITIES {
        let arg = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(personality)
            .op(LinuxSeccompOperator::ScmpCmpEq)
            .build()?;
        rules.push(
            LinuxSyscallBuilder::default()
                .names(owned(&["personality"]))
                .action(LinuxSeccompAction::ScmpActAllow)
                .args(vec![arg])
                .build()?,
        );
    }

    if !capabilities.contains(&Capability::SysAdmin) {
        rules.push(clone_without_namespaces()?);
        rules.push(
            LinuxSyscallBuilder::default()
                .names(owned(&["clone3"]))
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(ENOSYS)
                .build()?,
        );
    }

    let mut profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(EPERM)
        .syscalls(rules)
        .build()?;
    profile.set_architectures(architectures());
    Ok(profile)
}

/// The filter's architectures: the native one and the 32-bit ABI its kernel also runs (i386
/// programs on x86-64, arm on aarch64). Elsewhere `None`: libseccomp then filters the native
/// architecture only.
///
/// Unlike Docker, not x32: its syscalls reach an x86-64 filter as x86-64 numbers with bit 30
/// set, which no rule allows, so they fail with EPERM. Debian and Ubuntu kernels leave x32 off
/// anyway, and a third architecture lengthens the program that every system call runs through.
fn architectures() -> Option<Vec<Arch>> {
    if cfg!(target_arch = "x86_64") {
        Some(vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86])
    } else if cfg!(target_arch = "aarch64") {
        Some(vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm])
    } else {
        None
    }
}

/// `clone` is allowed only when it creates no namespace: `(flags & CLONE_NAMESPACE_FLAGS) == 0`.
/// As in runc and Docker's JSON, `value` is the mask and `valueTwo` the operand (berth compiles
/// the profile itself: `runtime::seccomp`; libcontainer 0.7 would read them the other way).
fn clone_without_namespaces() -> std::result::Result<LinuxSyscall, OciSpecError> {
    let arg = LinuxSeccompArgBuilder::default()
        .index(CLONE_FLAGS_ARG)
        .value(CLONE_NAMESPACE_FLAGS)
        .value_two(0u64)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .build()?;
    LinuxSyscallBuilder::default()
        .names(owned(&["clone"]))
        .action(LinuxSeccompAction::ScmpActAllow)
        .args(vec![arg])
        .build()
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------

/// Every capability `oci-spec` knows, with its name without `CAP_`, sorted by name: the order
/// of every list returned here.
const CAPABILITIES: [(Capability, &str); 41] = [
    (Capability::AuditControl, "AUDIT_CONTROL"),
    (Capability::AuditRead, "AUDIT_READ"),
    (Capability::AuditWrite, "AUDIT_WRITE"),
    (Capability::BlockSuspend, "BLOCK_SUSPEND"),
    (Capability::Bpf, "BPF"),
    (Capability::CheckpointRestore, "CHECKPOINT_RESTORE"),
    (Capability::Chown, "CHOWN"),
    (Capability::DacOverride, "DAC_OVERRIDE"),
    (Capability::DacReadSearch, "DAC_READ_SEARCH"),
    (Capability::Fowner, "FOWNER"),
    (Capability::Fsetid, "FSETID"),
    (Capability::IpcLock, "IPC_LOCK"),
    (Capability::IpcOwner, "IPC_OWNER"),
    (Capability::Kill, "KILL"),
    (Capability::Lease, "LEASE"),
    (Capability::LinuxImmutable, "LINUX_IMMUTABLE"),
    (Capability::MacAdmin, "MAC_ADMIN"),
    (Capability::MacOverride, "MAC_OVERRIDE"),
    (Capability::Mknod, "MKNOD"),
    (Capability::NetAdmin, "NET_ADMIN"),
    (Capability::NetBindService, "NET_BIND_SERVICE"),
    (Capability::NetBroadcast, "NET_BROADCAST"),
    (Capability::NetRaw, "NET_RAW"),
    (Capability::Perfmon, "PERFMON"),
    (Capability::Setfcap, "SETFCAP"),
    (Capability::Setgid, "SETGID"),
    (Capability::Setpcap, "SETPCAP"),
    (Capability::Setuid, "SETUID"),
    (Capability::Syslog, "SYSLOG"),
    (Capability::SysAdmin, "SYS_ADMIN"),
    (Capability::SysBoot, "SYS_BOOT"),
    (Capability::SysChroot, "SYS_CHROOT"),
    (Capability::SysModule, "SYS_MODULE"),
    (Capability::SysNice, "SYS_NICE"),
    (Capability::SysPacct, "SYS_PACCT"),
    (Capability::SysPtrace, "SYS_PTRACE"),
    (Capability::SysRawio, "SYS_RAWIO"),
    (Capability::SysResource, "SYS_RESOURCE"),
    (Capability::SysTime, "SYS_TIME"),
    (Capability::SysTtyConfig, "SYS_TTY_CONFIG"),
    (Capability::WakeAlarm, "WAKE_ALARM"),
];

/// Docker's default capability set (moby `oci/caps/defaults.go`), sorted by name.
pub fn default_capabilities() -> Vec<Capability> {
    sorted(vec![
        Capability::AuditWrite,
        Capability::Chown,
        Capability::DacOverride,
        Capability::Fowner,
        Capability::Fsetid,
        Capability::Kill,
        Capability::Mknod,
        Capability::NetBindService,
        Capability::NetRaw,
        Capability::Setfcap,
        Capability::Setgid,
        Capability::Setpcap,
        Capability::Setuid,
        Capability::SysChroot,
    ])
}

/// Every capability, sorted by name: the set of `--privileged` and `--cap-add ALL`. (Docker
/// keeps only those the running kernel knows, up to `/proc/sys/kernel/cap_last_cap`; all of
/// these exist since Linux 5.9.)
pub fn all_capabilities() -> Vec<Capability> {
    CAPABILITIES
        .iter()
        .map(|(capability, _)| *capability)
        .collect()
}

/// The kernel's name of `capability`, e.g. `CAP_NET_ADMIN` (as in `docker inspect`).
pub fn capability_name(capability: Capability) -> String {
    format!("CAP_{}", CAPABILITIES[rank(capability)].1)
}

/// Parses a `--cap-add`/`--cap-drop` value as Docker does: case-insensitive, with or without
/// the `CAP_` prefix (`NET_ADMIN`, `CAP_NET_ADMIN`, `net_admin`). `ALL` gives `Ok(None)`,
/// meaning every capability.
///
/// # Errors
/// [`SecurityError::UnknownCapability`] when `name` names no capability.
pub fn parse_capability(name: &str) -> Result<Option<Capability>> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(None);
    }
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    CAPABILITIES
        .iter()
        .find(|(_, known)| *known == bare)
        .map(|(capability, _)| Some(*capability))
        .ok_or_else(|| SecurityError::UnknownCapability(name.to_owned()))
}

/// The capability set of a container, by Docker's rules (moby `oci/caps.TweakCapabilities`):
/// - `--privileged`: every capability (drops are ignored, as in Docker);
/// - `--cap-add ALL`: every capability except those dropped by name;
/// - `--cap-drop ALL`: exactly the capabilities added;
/// - otherwise the default set, minus the drops, plus the adds (an add beats a drop of the same
///   capability).
///
/// Returns the set sorted by name and without duplicates.
///
/// # Errors
/// [`SecurityError::UnknownCapability`] for the first name, in `add` then `drop`, that is no
/// capability (checked even under `--privileged`, where Docker would ignore it).
pub fn capability_set(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<Vec<Capability>> {
    let (add_all, add) = parse_capabilities(add)?;
    let (drop_all, drop) = parse_capabilities(drop)?;
    let set = if privileged {
        all_capabilities()
    } else if add_all {
        all_capabilities()
            .into_iter()
            .filter(|capability| !drop.contains(capability))
            .collect()
    } else if drop_all {
        add
    } else {
        default_capabilities()
            .into_iter()
            .filter(|capability| !drop.contains(capability))
            .chain(add)
            .collect()
    };
    Ok(sorted(set))
}

/// The process capabilities for `set`, as runc and Docker fill them: bounding, effective and
/// permitted hold `set`; inheritable and ambient are empty (Docker stopped filling inheritable
/// after CVE-2022-24769, so `execve` of a file with inheritable file capabilities gains nothing).
pub fn linux_capabilities(set: &[Capability]) -> LinuxCapabilities {
    let set: oci_spec::runtime::Capabilities = set.iter().copied().collect();
    let mut capabilities = LinuxCapabilities::default();
    capabilities.set_bounding(Some(set.clone()));
    capabilities.set_effective(Some(set.clone()));
    capabilities.set_permitted(Some(set));
    capabilities.set_inheritable(Some(Default::default()));
    capabilities.set_ambient(Some(Default::default()));
    capabilities
}

/// Parses a list of capability names: whether it holds `ALL`, and the named capabilities.
fn parse_capabilities(names: &[String]) -> Result<(bool, Vec<Capability>)> {
    let mut all = false;
    let mut capabilities = Vec::with_capacity(names.len());
    for name in names {
        match parse_capability(name)? {
            Some(capability) => capabilities.push(capability),
            None => all = true,
        }
    }
    Ok((all, capabilities))
}

/// Position of `capability` in [`CAPABILITIES`]; every variant is there (a test checks it).
fn rank(capability: Capability) -> usize {
    CAPABILITIES
        .iter()
        .position(|(known, _)| *known == capability)
        .unwrap_or(CAPABILITIES.len())
}

/// Sorts by name and removes duplicates (`Capability` has no `Ord`).
fn sorted(mut capabilities: Vec<Capability>) -> Vec<Capability> {
    capabilities.sort_by_key(|capability| rank(*capability));
    capabilities.dedup();
    capabilities
}

// ---------------------------------------------------------------------------------------------
// Masked and read-only paths
// ---------------------------------------------------------------------------------------------

/// Docker's masked paths: hidden from the container (a file under `/dev/null`, a directory
/// under an empty read-only tmpfs) because they leak host details or reach host hardware.
pub fn masked_paths() -> Vec<String> {
    [
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// Docker's read-only paths: kernel settings that stay visible but cannot be changed.
pub fn readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names of the rules of `profile` that allow unconditionally, or with arguments.
    fn allowed(profile: &LinuxSeccomp, with_args: bool) -> HashSet<String> {
        profile
            .syscalls()
            .iter()
            .flatten()
            .filter(|rule| rule.action() == LinuxSeccompAction::ScmpActAllow)
            .filter(|rule| rule.args().is_some() == with_args)
            .flat_map(|rule| rule.names().iter().cloned())
            .collect()
    }

    fn rules_for<'a>(profile: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        profile
            .syscalls()
            .iter()
            .flatten()
            .filter(|rule| rule.names().iter().any(|n| n == name))
            .collect()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn profile_serialises_with_errno_default() {
        let json = serde_json::to_value(default_seccomp()).expect("serialise");
        assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(json["defaultErrnoRet"], 1);
        assert!(
            json["syscalls"]
                .as_array()
                .is_some_and(|rules| rules.len() > 5)
        );
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                json["architectures"],
                serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
            );
        }
        let back: LinuxSeccomp = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, default_seccomp());
    }

    #[test]
    fn dangerous_syscalls_are_not_allowed() {
        let profile = default_seccomp();
        let any_allow: HashSet<String> = allowed(&profile, false)
            .union(&allowed(&profile, true))
            .cloned()
            .collect();
        for name in [
            "keyctl",
            "add_key",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "kexec_load",
            "mount",
            "unshare",
        ] {
            assert!(!any_allow.contains(name), "`{name}` is allowed");
            assert!(blocked_syscalls().contains(&name), "`{name}` is not listed");
        }
        for name in blocked_syscalls() {
            assert!(!any_allow.contains(*name), "blocked `{name}` is allowed");
        }
    }

    #[test]
    fn ordinary_syscalls_are_allowed() {
        let allowed = allowed(&default_seccomp(), false);
        for name in [
            "read",
            "write",
            "execve",
            "openat",
            "openat2",
            "statx",
            "futex",
            "getrandom",
            "rseq",
            "membarrier",
            "ptrace",
            "chroot",
            "socket",
            "close_range",
            "faccessat2",
        ] {
            assert!(allowed.contains(name), "`{name}` is not allowed");
        }
        assert!(!allowed.iter().any(|name| name.starts_with("io_uring")));
    }

    #[test]
    fn clone_is_allowed_without_namespace_flags() {
        let profile = default_seccomp();
        let rules = rules_for(&profile, "clone");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].action(), LinuxSeccompAction::ScmpActAllow);
        let args = rules[0].args().as_deref().expect("clone has conditions");
        assert_eq!(args.len(), 1);
        assert_eq!(args[0].index(), CLONE_FLAGS_ARG);
        assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        // As in runc: `value` is the mask, `valueTwo` the operand.
        assert_eq!(args[0].value(), 0x7E02_0000);
        assert_eq!(args[0].value_two(), Some(0));
    }

    #[test]
    fn clone3_fails_with_enosys() {
        let profile = default_seccomp();
        let rules = rules_for(&profile, "clone3");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(rules[0].errno_ret(), Some(38));
        assert!(rules[0].args().is_none());
    }

    #[test]
    fn personality_is_allowed_for_safe_values_only() {
        let profile = default_seccomp();
        let rules = rules_for(&profile, "personality");
        let values: Vec<u64> = rules
            .iter()
            .map(|rule| {
                let args = rule.args().as_deref().expect("personality has conditions");
                assert_eq!(args.len(), 1);
                assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpEq);
                args[0].value()
            })
            .collect();
        assert_eq!(values, [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff]);
    }

    #[test]
    fn capabilities_widen_the_profile() {
        let profile = seccomp_profile(&all_capabilities());
        let allowed = allowed(&profile, false);
        for name in [
            "mount", "unshare", "setns", "clone", "clone3", "bpf", "reboot", "kcmp",
        ] {
            assert!(
                allowed.contains(name),
                "`{name}` is not allowed with every capability"
            );
        }
        assert_eq!(rules_for(&profile, "clone").len(), 1);
        assert_eq!(rules_for(&profile, "clone3").len(), 1);
        // No name appears in two rules (bpf is gated by both CAP_SYS_ADMIN and CAP_BPF).
        let names: Vec<&String> = profile
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|rule| rule.names())
            .collect();
        let unique: HashSet<&String> = names.iter().copied().collect();
        assert_eq!(names.len() - PERSONALITIES.len() + 1, unique.len());
    }

    #[test]
    fn profile_has_no_duplicate_or_conflicting_names() {
        let profile = default_seccomp();
        let mut seen = HashSet::new();
        for rule in profile.syscalls().iter().flatten() {
            if rule.names() == &["personality"] {
                continue;
            }
            for name in rule.names() {
                assert!(seen.insert(name.clone()), "`{name}` is in two rules");
            }
        }
    }

    #[test]
    fn capability_table_matches_oci_spec() {
        assert!(CAPABILITIES.is_sorted_by_key(|(_, name)| *name));
        for (capability, name) in CAPABILITIES {
            let json = serde_json::to_value(capability).expect("serialise");
            assert_eq!(json, format!("CAP_{name}"));
            assert_eq!(capability_name(capability), format!("CAP_{name}"));
            let back: Capability = serde_json::from_value(json).expect("deserialise");
            assert_eq!(back, capability);
        }
        let distinct: HashSet<Capability> = all_capabilities().into_iter().collect();
        assert_eq!(distinct.len(), CAPABILITIES.len());
    }

    #[test]
    fn default_capabilities_are_dockers() {
        let names: Vec<String> = default_capabilities()
            .into_iter()
            .map(capability_name)
            .collect();
        assert_eq!(
            names,
            [
                "CAP_AUDIT_WRITE",
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_FSETID",
                "CAP_KILL",
                "CAP_MKNOD",
                "CAP_NET_BIND_SERVICE",
                "CAP_NET_RAW",
                "CAP_SETFCAP",
                "CAP_SETGID",
                "CAP_SETPCAP",
                "CAP_SETUID",
                "CAP_SYS_CHROOT",
            ]
        );
    }

    #[test]
    fn parse_capability_accepts_docker_spellings() {
        for name in [
            "NET_ADMIN",
            "CAP_NET_ADMIN",
            "net_admin",
            "cap_net_admin",
            "Net_Admin",
        ] {
            assert_eq!(
                parse_capability(name).ok(),
                Some(Some(Capability::NetAdmin)),
                "{name}"
            );
        }
        assert_eq!(parse_capability("ALL").ok(), Some(None));
        assert_eq!(parse_capability("all").ok(), Some(None));
        let error = parse_capability("NET_ADMINS").expect_err("unknown");
        assert_eq!(error.to_string(), "unknown capability `NET_ADMINS`");
        assert!(parse_capability("CAP_ALL").is_err());
        assert!(parse_capability("CAP_CAP_CHOWN").is_err());
        assert!(parse_capability("").is_err());
    }

    #[test]
    #[expect(clippy::unwrap_used, reason = "test inputs are valid")]
    fn capability_set_follows_docker() {
        let set = |add: &[&str], drop: &[&str], privileged| {
            capability_set(&strings(add), &strings(drop), privileged).unwrap()
        };
        assert_eq!(set(&[], &[], false), default_capabilities());
        assert_eq!(set(&["NET_ADMIN"], &["ALL"], false), [Capability::NetAdmin]);
        assert_eq!(set(&["ALL"], &[], false), all_capabilities());
        assert_eq!(set(&["ALL"], &["ALL"], false), all_capabilities());
        assert!(set(&[], &["ALL"], false).is_empty());

        let dropped = set(&[], &["CHOWN"], false);
        assert!(!dropped.contains(&Capability::Chown));
        assert_eq!(dropped.len(), default_capabilities().len() - 1);

        let all_but = set(&["ALL"], &["cap_sys_admin"], false);
        assert!(!all_but.contains(&Capability::SysAdmin));
        assert_eq!(all_but.len(), CAPABILITIES.len() - 1);

        // An add beats a drop of the same capability; duplicates collapse; order is by name.
        assert!(set(&["CHOWN"], &["CHOWN"], false).contains(&Capability::Chown));
        assert_eq!(
            set(&["sys_admin", "CAP_SYS_ADMIN", "BPF"], &["ALL"], false),
            [Capability::Bpf, Capability::SysAdmin]
        );
        assert_eq!(set(&[], &["CHOWN"], true), all_capabilities());
    }

    #[test]
    fn capability_set_rejects_unknown_names() {
        let error = capability_set(&strings(&["NET_ADMIN"]), &strings(&["BOGUS"]), false)
            .expect_err("unknown");
        assert!(matches!(&error, SecurityError::UnknownCapability(name) if name == "BOGUS"));
        assert!(capability_set(&strings(&["nope"]), &[], true).is_err());
    }

    #[test]
    fn linux_capabilities_fill_bounding_effective_permitted() {
        let set = [Capability::Chown, Capability::Kill];
        let caps = linux_capabilities(&set);
        let expected: oci_spec::runtime::Capabilities = set.into_iter().collect();
        assert_eq!(caps.bounding().as_ref(), Some(&expected));
        assert_eq!(caps.effective().as_ref(), Some(&expected));
        assert_eq!(caps.permitted().as_ref(), Some(&expected));
        assert_eq!(caps.inheritable().as_ref().map(|s| s.len()), Some(0));
        assert_eq!(caps.ambient().as_ref().map(|s| s.len()), Some(0));
    }

    #[test]
    fn paths_are_dockers() {
        let masked = masked_paths();
        assert_eq!(masked.len(), 11);
        assert!(masked.iter().any(|path| path == "/proc/kcore"));
        assert!(
            masked
                .iter()
                .any(|path| path == "/sys/devices/virtual/powercap")
        );
        assert_eq!(
            readonly_paths(),
            [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        );
    }
}
