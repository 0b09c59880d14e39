//! Hidden `__generate man|completions DIR`: man pages and shell completions from the clap
//! definitions, so they can never drift from the CLI (a test compares `man/`).

use anyhow::Context as _;
use clap::CommandFactory;
use fs_err as fs;

use super::super::{ExitStatus, Session};
use crate::cli::{Cli, GenerateArgs};

pub(crate) fn run(args: GenerateArgs, _session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    fs::create_dir_all(&args.dir)?;
    let command = Cli::command();
    match args.what.as_str() {
        "man" => write_man(&command, "berth", &args.dir)?,
        _ => {
            for shell in [
                clap_complete::Shell::Bash,
                clap_complete::Shell::Zsh,
                clap_complete::Shell::Fish,
            ] {
                let mut command = Cli::command();
                clap_complete::generate_to(shell, &mut command, "berth", &args.dir)
                    .with_context(|| format!("cannot write {shell} completions"))?;
            }
        }
    }
    Ok(ExitStatus::SUCCESS)
}

/// One page per command: berth.1, berth-image.1, berth-image-ls.1, …
fn write_man(command: &clap::Command, name: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let command = command
        .clone()
        .name(name.to_owned())
        .bin_name(name.replace('-', " "));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    fs::write(dir.join(format!("{name}.1")), page)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
