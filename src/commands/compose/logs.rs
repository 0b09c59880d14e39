//! `compose logs`, and the foreground `compose up`: the services' output interleaved, each
//! line prefixed with its container's name, as Docker Compose shows it.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::super::{ExitStatus, Session};
use super::project_containers;
use crate::cli::ComposeLogsArgs;
use crate::commands::steps::stop_all;
use crate::compose::Project;
use crate::runtime::logs::{self, LogRecord, ReadOptions};
use crate::runtime::{self as rt};
use crate::storage::Store;
use crate::storage::containers::ContainerRecord;

pub(super) fn logs(
    session: &Session<'_>,
    project: &Project,
    args: &ComposeLogsArgs,
) -> anyhow::Result<ExitStatus> {
    let selected = project.select(&args.services, false)?;
    let Some(store) = super::super::container::existing_store(session) else {
        return Ok(ExitStatus::SUCCESS);
    };
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| anyhow::anyhow!("invalid --tail `{n}`: a number or `all`"))?,
        ),
    };
    let records: Vec<ContainerRecord> = project_containers(&store, project)?
        .into_iter()
        .filter(|r| super::of_services(r, &selected))
        .collect();
    let options = ReadOptions {
        tail,
        follow: args.follow,
        ..ReadOptions::default()
    };
    let width = prefix_width(&records, args.no_log_prefix);
    let output = Output {
        width,
        timestamps: args.timestamps,
        lock: Mutex::new(()),
    };
    std::thread::scope(|scope| {
        for record in &records {
            let output = &output;
            let options = options.clone();
            let store = &store;
            scope.spawn(move || output.follow(store, record, &options));
        }
    });
    Ok(ExitStatus::SUCCESS)
}

/// Foreground `up`: follows the containers until all have stopped; Ctrl-C (or SIGTERM) stops
/// them all. With `abort`, the first container to stop stops the others.
pub(super) fn attach(
    session: &Session<'_>,
    store: &Store,
    containers: &[(ContainerRecord, Option<DateTime<Utc>>)],
    abort: bool,
    timeout: Option<u32>,
) -> anyhow::Result<ExitStatus> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))?;
    }
    let records: Vec<ContainerRecord> = containers.iter().map(|(r, _)| r.clone()).collect();
    let output = Output {
        width: prefix_width(&records, false),
        timestamps: false,
        lock: Mutex::new(()),
    };
    let ended = AtomicBool::new(false);
    let mut code = 0;
    std::thread::scope(|scope| {
        let mut followers = Vec::new();
        for (record, since) in containers {
            let options = ReadOptions {
                since: *since,
                follow: true,
                ..ReadOptions::default()
            };
            let output = &output;
            let ended = &ended;
            followers.push(scope.spawn(move || {
                output.follow(store, record, &options);
                let exit = store
                    .load_container(&record.id)
                    .ok()
                    .and_then(|r| r.state.exit_code)
                    .unwrap_or(0);
                output.line(&format!("{} exited with code {exit}", record.name));
                ended.store(true, Ordering::SeqCst);
            }));
        }
        loop {
            if interrupted.load(Ordering::SeqCst) {
                session
                    .cx
                    .printer
                    .info("Gracefully stopping... (press Ctrl+C again to force)");
                // A second Ctrl-C kills at once.
                interrupted.store(false, Ordering::SeqCst);
                let force = Arc::clone(&interrupted);
                let waited = timeout;
                let all = &records;
                scope.spawn(move || {
                    while !force.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(50));
                        if ended_all(store, all) {
                            return;
                        }
                    }
                    stop_all(store, all, Some(0));
                });
                stop_all(store, &records, waited);
                interrupted.store(true, Ordering::SeqCst);
                code = 130;
                break;
            }
            if abort && ended.load(Ordering::SeqCst) {
                session.cx.printer.info("Aborting on container exit...");
                stop_all(store, &records, timeout);
                break;
            }
            if followers
                .iter()
                .all(std::thread::ScopedJoinHandle::is_finished)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    Ok(ExitStatus(code))
}

fn ended_all(store: &Store, records: &[ContainerRecord]) -> bool {
    records.iter().all(|r| rt::has_ended(store, &r.id))
}

/// Width of the `name  | ` prefix column: the longest name.
fn prefix_width(records: &[ContainerRecord], none: bool) -> Option<usize> {
    (!none).then(|| records.iter().map(|r| r.name.len()).max().unwrap_or(0))
}

/// Writes prefixed lines from several threads, one whole line at a time.
struct Output {
    width: Option<usize>,
    timestamps: bool,
    lock: Mutex<()>,
}

impl Output {
    fn follow(&self, store: &Store, record: &ContainerRecord, options: &ReadOptions) {
        let path = store.container_dir(&record.id).join("log.json");
        let stop = || rt::has_ended(store, &record.id);
        // A container that has not written yet has no log file: wait for it while it runs.
        while !path.exists() {
            if stop() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut emit = |line: &LogRecord| -> std::io::Result<()> {
            self.record(&record.name, line);
            Ok(())
        };
        if let Err(error) = logs::read(&path, options, &stop, &mut emit) {
            tracing::warn!(%error, "cannot read the log of {}", record.name);
        }
    }

    fn record(&self, name: &str, line: &LogRecord) {
        let mut text = String::new();
        if let Some(width) = self.width {
            text.push_str(&format!("{name:<width$}  | "));
        }
        if self.timestamps {
            text.push_str(&logs::timestamp_prefix(&line.time));
        }
        text.push_str(&line.text);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _guard = self.lock.lock();
        // Both streams go to our stdout, as Docker Compose prints them.
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    fn line(&self, text: &str) {
        let _guard = self.lock.lock();
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }
}
