//! The `berth` binary: parse, enter the namespace if the command needs it, dispatch, exit.

use std::process::ExitCode;

use berth::cli::Cli;
use berth::commands;
use berth::context::Context;

fn main() -> ExitCode {
    let cli = match Cli::parse_args(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 125 } else { 0 });
        }
    };
    init_tracing(&cli.global.log_level);
    let cx = Context::new(cli.global.root.clone(), cli.global.runroot.clone());
    let status = commands::run(cli.command, &cx);
    ExitCode::from(status.0)
}

fn init_tracing(level: &str) {
    // libcontainer logs its view of every failure at error level; berth reports the failure
    // itself, so its logs only show when debugging.
    let inner = if matches!(level, "debug" | "trace") {
        level
    } else {
        "off"
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "{level},libcontainer={inner},libcgroups={inner}"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
