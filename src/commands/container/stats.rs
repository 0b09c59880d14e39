//! `container stats` / `stats`: CPU, memory, network, block I/O and pids of running
//! containers, read from /proc (rootless containers here have no cgroup of their own to read).

use std::time::Duration;

use serde_json::{Value, json};

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerStatsArgs;
use crate::output::format::{parse_format, render_list};
use crate::runtime;
use crate::storage::containers::ContainerRecord;
use crate::util::human;
use crate::util::process::ProcStat;

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

pub(crate) fn run(args: ContainerStatsArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    if !args.no_stream {
        anyhow::bail!("streaming stats are not available yet: use --no-stream");
    }
    let format = parse_format(args.format.format.as_deref().unwrap_or(""))?;
    let records: Vec<ContainerRecord> = match existing_store(session) {
        Some(store) if args.containers.is_empty() => store
            .list_containers()?
            .into_iter()
            .map(|r| runtime::reconcile(&store, r))
            .filter(|r| args.all || runtime::is_running(r))
            .collect(),
        Some(store) => args
            .containers
            .iter()
            .map(|c| resolve(&store, c))
            .collect::<anyhow::Result<_>>()?,
        None => Vec::new(),
    };
    let before: Vec<u64> = records.iter().map(cpu_ticks).collect();
    let started = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    let limit = mem_total();
    let rows: Vec<Value> = records
        .iter()
        .zip(before)
        .map(|(record, before)| {
            let pids = runtime::container_processes(record);
            let cpu = (cpu_ticks(record).saturating_sub(before)) as f64 / ticks / elapsed * 100.0;
            let memory: u64 = pids.iter().map(|pid| rss_pages(*pid) * page).sum();
            let (read, write) = pids.iter().map(|pid| block_io(*pid)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            let (received, sent) = record.state.pid.map_or((0, 0), net_io);
            json!({
                "ID": record.id[..12].to_owned(),
                "Container": record.id[..12].to_owned(),
                "Name": record.name,
                "CPUPerc": format!("{cpu:.2}%"),
                "MemUsage": format!("{} / {}", human::binary_size(memory), human::binary_size(limit)),
                "MemPerc": format!("{:.2}%", if limit == 0 { 0.0 } else { memory as f64 * 100.0 / limit as f64 }),
                "NetIO": format!("{} / {}", human::size(received), human::size(sent)),
                "BlockIO": format!("{} / {}", human::size(read), human::size(write)),
                "PIDs": pids.len().to_string(),
            })
        })
        .collect();
    let header = crate::output::format::headers(&[
        ("ID", "CONTAINER ID"),
        ("Container", "CONTAINER ID"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ]);
    session
        .cx
        .printer
        .out(&render_list(&format, DEFAULT_TABLE, &rows, &header)?);
    Ok(ExitStatus::SUCCESS)
}

fn cpu_ticks(record: &ContainerRecord) -> u64 {
    runtime::container_processes(record)
        .iter()
        .filter_map(|pid| {
            // utime and stime.
            let stat = ProcStat::read(pid)?;
            Some(stat.number(14)? + stat.number(15)?)
        })
        .sum()
}

fn rss_pages(pid: i32) -> u64 {
    fs_err::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn block_io(pid: i32) -> (u64, u64) {
    let text = fs_err::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    (field("read_bytes:"), field("write_bytes:"))
}

fn net_io(pid: i32) -> (u64, u64) {
    let text = fs_err::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (_, counters) = line.split_once(':')?;
            let fields: Vec<u64> = counters
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            Some((*fields.first()?, *fields.get(8)?))
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

fn mem_total() -> u64 {
    fs_err::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}
