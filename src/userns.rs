//! Rootless plumbing (DESIGN.md §2): read /etc/subuid and /etc/subgid, and move this process
//! into a new user and mount namespace in which the calling user is root.
//!
//! How: a helper child is forked while we are still in the host namespace; we `unshare`
//! ourselves, the helper runs `newuidmap`/`newgidmap` on our pid, and we carry on as uid 0
//! with no second long-lived process, no signal forwarding and our own exit code. (The map
//! helpers must run outside the new namespace: a child forked after `unshare` would be inside
//! it, unmapped, and the setuid bit would grant it nothing.)
//!
//! With no subordinate range or no `newuidmap`, we map only our own IDs (allowed without
//! privilege) and say once how to fix it. As real root there is no user namespace, only a
//! private mount namespace.
//!
//! Uses: `util`. Must run before any thread exists (`unshare(CLONE_NEWUSER)` refuses
//! multi-threaded callers, and `fork` would copy locks held by other threads).

// `fork` is unsafe: we call it only while single-threaded, and the helper child only execs
// programs and exits.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use fs_err as fs;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{ForkResult, Gid, Pid, Uid, User, fork, getgid, getpid, getuid, pipe};

use crate::util::process::{NEWGIDMAP, NEWUIDMAP};

/// One `start:count` range of /etc/subuid or /etc/subgid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First host ID.
    pub start: u32,
    /// How many.
    pub count: u32,
}

/// How berth's namespace is, or would be, set up for this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Real root: no user namespace.
    Root,
    /// Already inside a user namespace as root (`berth unshare`, or a nested call).
    Nested,
    /// A full mapping: our ID to 0, the subordinate ranges from 1.
    Subordinate {
        /// Our uid.
        uid: u32,
        /// Our gid.
        gid: u32,
        /// /etc/subuid ranges.
        uids: Vec<IdRange>,
        /// /etc/subgid ranges.
        gids: Vec<IdRange>,
    },
    /// Only our own IDs, mapped to 0.
    Single {
        /// Our uid.
        uid: u32,
        /// Our gid.
        gid: u32,
        /// Why the full mapping is not possible, and how to fix it.
        reason: String,
    },
}

/// Errors entering the namespace.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    /// `unshare` was refused.
    #[error(
        "cannot create a user namespace: {0} (unprivileged user namespaces may be disabled: check \
         `sysctl user.max_user_namespaces` and, on Ubuntu, `kernel.apparmor_restrict_unprivileged_userns`)"
    )]
    Unshare(nix::Error),
    /// A system call failed.
    #[error("{action}: {source}")]
    Sys {
        /// What was being done.
        action: &'static str,
        /// The cause.
        source: nix::Error,
    },
    /// Writing our own ID maps failed.
    #[error("failed to write `{path}`")]
    Map {
        /// The /proc file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, UsernsError>;

/// Whether this process is in the initial user namespace.
pub fn in_initial_namespace() -> bool {
    fs::read_to_string("/proc/self/uid_map")
        .map(|map| {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields == ["0", "0", "4294967295"]
        })
        .unwrap_or(true)
}

/// This process's uid and gid maps, as the kernel shows them.
pub fn current_maps() -> (String, String) {
    let read = |path: &str| {
        fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    (read("/proc/self/uid_map"), read("/proc/self/gid_map"))
}

/// Works out the plan for the calling user, without changing anything.
pub fn plan() -> Plan {
    let (uid, gid) = (getuid(), getgid());
    if !in_initial_namespace() {
        return Plan::Nested;
    }
    if uid.is_root() {
        return Plan::Root;
    }
    let user = User::from_uid(uid).ok().flatten();
    let name = user
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_else(|| uid.to_string());
    let uids = load_ranges("/etc/subuid", &name, uid.as_raw());
    let gids = load_ranges("/etc/subgid", &name, uid.as_raw());
    let fix = format!("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}");
    let reason = if NEWUIDMAP.find().is_none() || NEWGIDMAP.find().is_none() {
        Some(format!(
            "`newuidmap`/`newgidmap` not found: install the `uidmap` package, and run `{fix}` as root"
        ))
    } else if uids.is_empty() || gids.is_empty() {
        Some(format!(
            "no range for `{name}` in /etc/subuid or /etc/subgid: run `{fix}` as root"
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Plan::Single {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            reason,
        },
        None => Plan::Subordinate {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            uids,
            gids,
        },
    }
}

/// Parses the ranges of `user` (by name or uid) from a subordinate ID file.
pub fn load_ranges(path: &str, user: &str, uid: u32) -> Vec<IdRange> {
    let text = fs::read_to_string(path).unwrap_or_default();
    parse_ranges(&text, user, uid)
}

fn parse_ranges(text: &str, user: &str, uid: u32) -> Vec<IdRange> {
    let uid_text = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            (owner == user || owner == uid_text).then_some(())?;
            Some(IdRange {
                start: start.trim().parse().ok()?,
                count: count.trim().parse().ok()?,
            })
        })
        .filter(|range| range.count > 0)
        .collect()
}

/// What `enter` did, for the caller to act on (unpacking rules, warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entered {
    /// Real root, private mount namespace.
    Root,
    /// Was already in a user namespace.
    Nested,
    /// Full subordinate mapping.
    Subordinate,
    /// Single-ID mapping; the text says why and how to fix it.
    Single(String),
}

/// Moves this process into a new user and mount namespace (or only a mount namespace as
/// real root), following [`plan`]. Call only while single-threaded.
pub fn enter() -> Result<Entered> {
    match plan() {
        Plan::Root => {
            private_mount_namespace()?;
            Ok(Entered::Root)
        }
        Plan::Nested => Ok(Entered::Nested),
        Plan::Subordinate {
            uid,
            gid,
            uids,
            gids,
        } => {
            let outcome = enter_with_helper(uid, gid, &uids, &gids)?;
            finish_entry()?;
            Ok(match outcome {
                None => Entered::Subordinate,
                Some(reason) => Entered::Single(reason),
            })
        }
        Plan::Single { uid, gid, reason } => {
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
                .map_err(UsernsError::Unshare)?;
            write_own_maps(uid, gid)?;
            finish_entry()?;
            Ok(Entered::Single(reason))
        }
    }
}

/// Enters the user namespace of the running process `pid` (a container whose network
/// namespace the caller will join: only a process of the same user namespace may), with a
/// private mount namespace of our own. As real root, only the mount namespace.
pub fn enter_alongside(pid: i32) -> Result<Entered> {
    if matches!(plan(), Plan::Root) {
        private_mount_namespace()?;
        return Ok(Entered::Root);
    }
    join(pid)?;
    private_mount_namespace()?;
    Ok(if is_single_id() {
        Entered::Single("the namespace joined maps only one ID".to_owned())
    } else {
        Entered::Subordinate
    })
}

/// Forks the map helper, unshares, waits for the maps. If the helpers fail (e.g. a range
/// that /etc/subuid does not really grant), falls back to our own single-ID map and returns
/// the reason.
fn enter_with_helper(
    uid: u32,
    gid: u32,
    uids: &[IdRange],
    gids: &[IdRange],
) -> Result<Option<String>> {
    let sys = |action| move |source| UsernsError::Sys { action, source };
    let (go_read, go_write): (OwnedFd, OwnedFd) = pipe().map_err(sys("pipe"))?;
    let (done_read, done_write): (OwnedFd, OwnedFd) = pipe().map_err(sys("pipe"))?;
    let target = getpid();
    // SAFETY: berth is single-threaded here (enter() runs before anything spawns threads),
    // so the child can run ordinary code; it only spawns the helpers and exits with _exit.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            drop((go_write, done_read));
            let mut byte = [0u8; 1];
            let go = std::fs::File::from(go_read).read(&mut byte);
            let message = match go {
                Ok(1) if byte[0] == b'1' => run_map_helpers(target, uid, gid, uids, gids).err(),
                _ => Some(String::new()),
            };
            let mut done = std::fs::File::from(done_write);
            let _ = done.write_all(message.unwrap_or_default().as_bytes());
            drop(done);
            // SAFETY: _exit ends the forked child without running the parent's atexit
            // handlers or destructors, which belong to the parent.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop((go_read, done_write));
            let mut go = std::fs::File::from(go_write);
            let unshared = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS);
            let _ = go.write_all(if unshared.is_ok() { b"1" } else { b"0" });
            drop(go);
            let mut message = String::new();
            let _ = std::fs::File::from(done_read).read_to_string(&mut message);
            let _ = nix::sys::wait::waitpid(child, None);
            unshared.map_err(UsernsError::Unshare)?;
            if message.is_empty() {
                return Ok(None);
            }
            // The helpers refused: map ourselves alone so the command still works.
            write_own_maps(uid, gid)?;
            Ok(Some(format!("{message}; using a single-ID mapping")))
        }
    }
}

fn run_map_helpers(
    pid: Pid,
    uid: u32,
    gid: u32,
    uids: &[IdRange],
    gids: &[IdRange],
) -> std::result::Result<(), String> {
    // The two maps are independent: both setuid helpers run at once.
    let mut started = Vec::new();
    for (helper, own, ranges) in [(NEWUIDMAP, uid, uids), (NEWGIDMAP, gid, gids)] {
        let mut args = vec![pid.to_string(), "0".into(), own.to_string(), "1".into()];
        let mut inside = 1u64;
        for range in ranges {
            args.extend([
                inside.to_string(),
                range.start.to_string(),
                range.count.to_string(),
            ]);
            inside += u64::from(range.count);
        }
        started.push((helper, helper.start(&args)));
    }
    let mut failure = None;
    for (helper, child) in started {
        if let Err(error) = child.and_then(|child| helper.finish(child)) {
            failure.get_or_insert(error.to_string());
        }
    }
    failure.map_or(Ok(()), Err)
}

fn write_own_maps(uid: u32, gid: u32) -> Result<()> {
    let write = |path: &str, text: String| {
        fs::write(path, text).map_err(|source| UsernsError::Map {
            path: path.to_owned(),
            source,
        })
    };
    write("/proc/self/setgroups", "deny".to_owned())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

fn finish_entry() -> Result<()> {
    // Supplementary groups are unmapped in the namespace; drop them (refused under a
    // single-ID map, where setgroups is denied: harmless).
    let _ = nix::unistd::setgroups(&[]);
    let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
    let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    make_mounts_private()
}

/// Runs `probe` in a forked child that has entered berth's namespace, and returns its result
/// (`None` if the child could not enter or died). Lets read-only commands such as `system
/// info` find out what works in the namespace without entering it themselves.
pub fn probe_in_namespace(probe: impl FnOnce() -> u8) -> Option<u8> {
    // SAFETY: called while single-threaded (read-only commands start no threads); the child
    // runs the probe and leaves with _exit, never returning into the caller's code.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = match enter() {
                Ok(_) => probe(),
                Err(_) => 255,
            };
            // SAFETY: as above, the child must not run the parent's exit path.
            unsafe { libc::_exit(i32::from(code)) }
        }
        Ok(ForkResult::Parent { child }) => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 255)) | Err(_) => None,
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => u8::try_from(code).ok(),
            Ok(_) => None,
        },
        Err(_) => None,
    }
}

/// Moves this process into a mount namespace of its own whose mounts never propagate to the
/// host (or the host's into it).
pub fn private_mount_namespace() -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|source| UsernsError::Sys {
        action: "unshare(CLONE_NEWNS)",
        source,
    })?;
    make_mounts_private()
}

/// Stops our mounts from propagating to the host (and the host's into us).
fn make_mounts_private() -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|source| UsernsError::Sys {
        action: "making / private in our mount namespace",
        source,
    })
}

/// Whether this process is in a user namespace that maps only one ID (the fallback).
pub fn is_single_id() -> bool {
    let map = fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let lines: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    lines.len() == 1 && lines[0].get(2) == Some(&"1")
}

/// Runs `work` in a forked child that has entered berth's namespace, and returns its exit
/// code. For commands that act from outside the namespace (signalling containers, which only
/// the namespace's owner may do) but must also touch files of subordinate IDs.
pub fn run_in_namespace(work: impl FnOnce() -> u8) -> Result<u8> {
    run_in_child(None, |_| work())
}

/// Runs `work` in a forked child that has entered berth's namespace — a new one, or with
/// `alongside`, the user namespace of that running process (see [`enter_alongside`]) — and
/// returns its exit code. `work` learns how the namespace was entered. Lets one command act
/// in several namespaces one after the other (compose: a pod's infra, then its members).
pub fn run_in_child(alongside: Option<i32>, work: impl FnOnce(Entered) -> u8) -> Result<u8> {
    // SAFETY: called while single-threaded; the child runs `work` and leaves with _exit.
    match unsafe { fork() }.map_err(|source| UsernsError::Sys {
        action: "fork",
        source,
    })? {
        ForkResult::Child => {
            let entered = match alongside {
                Some(pid) => enter_alongside(pid),
                None => enter(),
            };
            let code = match entered {
                Ok(entered) => work(entered),
                Err(error) => {
                    let _ = writeln!(std::io::stderr(), "Error: {error}");
                    125
                }
            };
            let _ = std::io::stdout().flush();
            // SAFETY: the child must not run the parent's exit path.
            unsafe { libc::_exit(i32::from(code)) }
        }
        ForkResult::Parent { child } => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => {
                Ok(u8::try_from(code).unwrap_or(125))
            }
            Ok(_) => Ok(125),
            Err(source) => Err(UsernsError::Sys {
                action: "waitpid",
                source,
            }),
        },
    }
}

/// Joins the user namespace of a running process (a container's init), which we own, and
/// becomes root in it. Call only while single-threaded.
pub fn join(pid: i32) -> Result<()> {
    let path = format!("/proc/{pid}/ns/user");
    let file = fs::File::open(&path).map_err(|source| UsernsError::Map {
        path: path.clone(),
        source,
    })?;
    let current = fs::metadata("/proc/self/ns/user")
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let target = file
        .metadata()
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    if current.is_some() && current == target {
        return Ok(());
    }
    nix::sched::setns(file, CloneFlags::CLONE_NEWUSER).map_err(|source| UsernsError::Sys {
        action: "joining the container's user namespace",
        source,
    })?;
    let _ = nix::unistd::setgroups(&[]);
    let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
    let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subordinate_ranges() {
        let text = "alice:100000:65536\n1001:200000:10\nbob:300000:65536\nbad line\nalice:1:0\n";
        assert_eq!(
            parse_ranges(text, "alice", 1001),
            vec![
                IdRange {
                    start: 100000,
                    count: 65536
                },
                IdRange {
                    start: 200000,
                    count: 10
                },
            ]
        );
        assert!(parse_ranges(text, "carol", 5).is_empty());
    }
}
