//! `container logs` / `logs [-f] [--tail N] [-t] [--since] [--until]`.

use std::io::Write;

use chrono::Utc;

use super::super::{ExitStatus, Session};
use super::{existing_store, resolve};
use crate::cli::ContainerLogsArgs;
use crate::runtime::logs::{self, ReadOptions, Stream};
use crate::runtime::{self as rt};

pub(crate) fn run(args: ContainerLogsArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store =
        existing_store(session).ok_or_else(|| super::NoSuchContainer(args.container.clone()))?;
    let record = resolve(&store, &args.container)?;
    let now = Utc::now();
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| anyhow::anyhow!("invalid --tail `{n}`: a number or `all`"))?,
        ),
    };
    let options = ReadOptions {
        tail,
        since: args
            .since
            .as_deref()
            .map(|t| logs::parse_time(t, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| logs::parse_time(t, now))
            .transpose()?,
        follow: args.follow,
    };
    let path = store.container_dir(&record.id).join("log.json");
    if !path.exists() {
        return Ok(ExitStatus::SUCCESS);
    }
    let id = record.id.clone();
    let stop = || rt::has_ended(&store, &id);
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut emit = |record: &logs::LogRecord| -> std::io::Result<()> {
        let prefix = if args.timestamps {
            logs::timestamp_prefix(&record.time)
        } else {
            String::new()
        };
        match record.stream {
            Stream::Stdout => {
                write!(stdout, "{prefix}{}", record.text)?;
                stdout.flush()
            }
            Stream::Stderr => write!(stderr, "{prefix}{}", record.text),
        }
    };
    logs::read(&path, &options, &stop, &mut emit)?;
    Ok(ExitStatus::SUCCESS)
}
