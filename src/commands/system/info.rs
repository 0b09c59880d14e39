//! `system info` / `info`: what berth runs with here, and what is missing.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::super::{ExitStatus, Session};
use crate::cli::SystemInfoArgs;
use crate::output::format::Template;
use crate::storage::Store;
use crate::storage::driver::{self, Driver};
use crate::userns::{self, Plan};
use crate::util::process::{FUSE_OVERLAYFS, GIT, Helper, NEWGIDMAP, NEWUIDMAP, PASTA, SLIRP4NETNS};

pub(crate) fn run(args: SystemInfoArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let info = gather(&session.cx.root);
    let text = match args.format.as_deref() {
        Some("json") => format!("{info}\n"),
        Some(template) => format!("{}\n", Template::parse(template)?.render(&info)?),
        None => render(&info),
    };
    session.cx.printer.out(&text);
    Ok(ExitStatus::SUCCESS)
}

fn gather(root: &Path) -> Value {
    let plan = userns::plan();
    let (rootless, mode, uid_map, gid_map) = match &plan {
        Plan::Root => (
            false,
            "root (no user namespace)".to_owned(),
            "0 0 4294967295".to_owned(),
            "0 0 4294967295".to_owned(),
        ),
        Plan::Nested => {
            let (uid, gid) = userns::current_maps();
            (true, "inside a user namespace".to_owned(), uid, gid)
        }
        Plan::Subordinate {
            uid,
            gid,
            uids,
            gids,
        } => {
            let map = |own: u32, ranges: &[userns::IdRange]| {
                let mut parts = vec![format!("0 {own} 1")];
                let mut inside = 1u64;
                for range in ranges {
                    parts.push(format!("{inside} {} {}", range.start, range.count));
                    inside += u64::from(range.count);
                }
                parts.join(", ")
            };
            (
                true,
                "subordinate ID ranges (newuidmap)".to_owned(),
                map(*uid, uids),
                map(*gid, gids),
            )
        }
        Plan::Single { uid, gid, .. } => (
            true,
            "single ID (fallback)".to_owned(),
            format!("0 {uid} 1"),
            format!("0 {gid} 1"),
        ),
    };
    let probe_dir = existing_ancestor(root);
    let driver = match userns::probe_in_namespace(|| match driver::probe(&probe_dir) {
        Driver::Overlay => 0,
        Driver::FuseOverlayfs => 1,
        Driver::None => 2,
    }) {
        Some(0) => Driver::Overlay,
        Some(1) => Driver::FuseOverlayfs,
        _ => Driver::None,
    };
    let helper = |helper: Helper| json!({ "Name": helper.program, "Package": helper.package, "Path": helper.find().map(|p| p.display().to_string()) });
    let mut missing = Vec::new();
    for h in [NEWUIDMAP, NEWGIDMAP, PASTA, SLIRP4NETNS, GIT] {
        if h.find().is_none() {
            missing.push(format!(
                "`{}` is not installed: install the `{}` package",
                h.program, h.package
            ));
        }
    }
    if let Plan::Single { reason, .. } = &plan {
        missing.push(reason.clone());
    }
    if driver == Driver::None {
        missing.push(if FUSE_OVERLAYFS.find().is_none() {
            "native overlay is not usable and `fuse-overlayfs` is not installed: install the `fuse-overlayfs` package".to_owned()
        } else {
            "native overlay is not usable and /dev/fuse cannot be opened: `chmod 0666 /dev/fuse` as root".to_owned()
        });
    }
    if rootless
        && fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .is_err()
    {
        missing.push("/dev/net/tun cannot be opened, so pasta and slirp4netns cannot give containers a network: `chmod 0666 /dev/net/tun` as root".to_owned());
    }
    let uname = nix::sys::utsname::uname().ok();
    let kernel = uname
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let images = Store::open_existing(root)
        .and_then(|s| crate::image::list(&s).ok())
        .map_or(0, |l| l.len());
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Rootless": rootless,
        "IdMapping": { "Mode": mode, "UidMap": uid_map, "GidMap": gid_map },
        "Store": {
            "Root": root.display().to_string(),
            "RunRoot": crate::config::paths::runtime_root().display().to_string(),
            "Driver": driver.name(),
            "Images": images,
        },
        "NetworkHelpers": [helper(PASTA), helper(SLIRP4NETNS)],
        "Helpers": [helper(NEWUIDMAP), helper(NEWGIDMAP), helper(FUSE_OVERLAYFS), helper(GIT)],
        "Kernel": kernel,
        "CgroupVersion": cgroup_version(),
        "Missing": missing,
    })
}

fn render(info: &Value) -> String {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let mut out = String::new();
    out.push_str(&format!("Version:          {}\n", text(&info["Version"])));
    out.push_str(&format!("Rootless:         {}\n", info["Rootless"]));
    out.push_str(&format!(
        "ID mapping:       {}\n",
        text(&info["IdMapping"]["Mode"])
    ));
    out.push_str(&format!(
        " UID map:         {}\n",
        text(&info["IdMapping"]["UidMap"])
    ));
    out.push_str(&format!(
        " GID map:         {}\n",
        text(&info["IdMapping"]["GidMap"])
    ));
    out.push_str(&format!(
        "Storage root:     {}\n",
        text(&info["Store"]["Root"])
    ));
    out.push_str(&format!(
        "Storage driver:   {}\n",
        text(&info["Store"]["Driver"])
    ));
    out.push_str(&format!("Images:           {}\n", info["Store"]["Images"]));
    out.push_str(&format!(
        "Run root:         {}\n",
        text(&info["Store"]["RunRoot"])
    ));
    out.push_str("Network helpers:\n");
    for helper in info["NetworkHelpers"].as_array().into_iter().flatten() {
        let path = helper["Path"].as_str().unwrap_or("not found");
        out.push_str(&format!(" {:<16} {path}\n", text(&helper["Name"])));
    }
    out.push_str("Other helpers:\n");
    for helper in info["Helpers"].as_array().into_iter().flatten() {
        let path = helper["Path"].as_str().unwrap_or("not found");
        out.push_str(&format!(" {:<16} {path}\n", text(&helper["Name"])));
    }
    out.push_str(&format!("Kernel:           {}\n", text(&info["Kernel"])));
    out.push_str(&format!(
        "Cgroup version:   {}\n",
        text(&info["CgroupVersion"])
    ));
    let missing = info["Missing"].as_array().cloned().unwrap_or_default();
    if missing.is_empty() {
        out.push_str("Missing prerequisites: none\n");
    } else {
        out.push_str("Missing prerequisites:\n");
        for item in missing {
            out.push_str(&format!(" - {}\n", text(&item)));
        }
    }
    out
}

/// `2` on a unified hierarchy, `1 (hybrid)` or `1` on a v1 host.
fn cgroup_version() -> &'static str {
    use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};
    match statfs("/sys/fs/cgroup") {
        Ok(fs) if fs.filesystem_type() == CGROUP2_SUPER_MAGIC => "2",
        Ok(_)
            if statfs("/sys/fs/cgroup/unified")
                .is_ok_and(|u| u.filesystem_type() == CGROUP2_SUPER_MAGIC) =>
        {
            "1 (hybrid)"
        }
        Ok(_) => "1",
        Err(_) => "none",
    }
}

fn existing_ancestor(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    while !current.is_dir() {
        if !current.pop() {
            return std::env::temp_dir();
        }
    }
    current
}
