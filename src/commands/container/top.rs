//! `container top` / `top`: the container's processes, as `ps -ef` shows them on the host.

use std::os::unix::fs::MetadataExt;

use anyhow::bail;
use fs_err as fs;

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerTopArgs;
use crate::output::table::Table;
use crate::runtime;
use crate::util::process::ProcStat;

pub(crate) fn run(args: ContainerTopArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        existing_store(session).ok_or_else(|| super::NoSuchContainer(args.container.clone()))?;
    let record = resolve(&store, &args.container)?;
    if !runtime::is_running(&record) {
        bail!("container {} is not running", record.id);
    }
    let ticks = u64::try_from(
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100),
    )
    .unwrap_or(100);
    let boot = boot_time();
    let mut table = Table::new(&["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    for pid in runtime::container_processes(&record) {
        let Some(stat) = ProcStat::read(pid) else {
            continue;
        };
        let field = |n: usize| stat.number(n).unwrap_or(0);
        let ppid = field(4);
        let cpu = (field(14) + field(15)) / ticks;
        let start = boot + field(22) / ticks;
        let uid = fs::metadata(format!("/proc/{pid}"))
            .map(|m| m.uid())
            .unwrap_or(0);
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or(uid.to_string(), |u| u.name);
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let command = String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .trim()
            .to_owned();
        let stime = chrono::DateTime::from_timestamp(i64::try_from(start).unwrap_or(0), 0)
            .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
            .unwrap_or_default();
        table.push(vec![
            user,
            pid.to_string(),
            ppid.to_string(),
            "0".into(),
            stime,
            "?".into(),
            format!("{:02}:{:02}:{:02}", cpu / 3600, cpu / 60 % 60, cpu % 60),
            command,
        ]);
    }
    session.cx.printer.out(&table.render());
    Ok(ExitStatus::SUCCESS)
}

fn boot_time() -> u64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}
