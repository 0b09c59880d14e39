//! One file per verb: `fn run(args, &Context) -> anyhow::Result<ExitStatus>`. Each turns the
//! typed-in arguments into engine options, makes one engine call and prints the report.
//!
//! Uses: `cli`, `context`, `output`, `image`, `registry`, `storage`, `userns`, `oci`, `util`.

mod compose;
mod container;
mod generate;
mod image;
mod internal;
mod kube;
mod login;
pub(crate) mod pod;
mod progress;
mod steps;
mod system;
mod version;
mod volume;

use anyhow::Context as _;

use crate::cli::{
    BuilderCommand, Command, ContainerCommand, GenerateCommand, HealthcheckCommand, ImageCommand,
    PodCommand, SystemCommand, VolumeCommand,
};
use crate::context::Context;
use crate::storage::Store;
use crate::storage::unpack::UnpackOptions;
use crate::userns::{self, Entered};

/// The process exit code (Docker's convention: 0, 1 for a failed command, 125 when berth
/// itself fails around a container, 126/127 for a command that cannot run / is not found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(pub u8);

impl ExitStatus {
    /// Success.
    pub const SUCCESS: Self = Self(0);
    /// A command failed.
    pub const FAILURE: Self = Self(1);
    /// berth itself failed (usage errors, and errors around containers).
    pub const TOOL_ERROR: Self = Self(125);
}

/// Runs one command: enters berth's namespace when the command changes the store, then
/// dispatches. Errors are printed here, once.
pub fn run(command: Command, cx: &Context) -> ExitStatus {
    if let Err(error) = replace_first(&command, cx) {
        cx.printer.error(&format!("{error:#}"));
        return ExitStatus::TOOL_ERROR;
    }
    let entered = if needs_namespace(&command) {
        let alongside = match container::network_owner(&command, cx) {
            Ok(owner) => owner,
            Err(error) => {
                cx.printer.error(&format!("{error:#}"));
                return ExitStatus::TOOL_ERROR;
            }
        };
        let entry = match alongside {
            Some(pid) => userns::enter_alongside(pid),
            None => userns::enter(),
        };
        match entry {
            Ok(entered) => {
                if let Entered::Single(reason) = &entered {
                    cx.printer.warn(&format!(
                        "running with a single-ID user namespace: {reason}. Files owned by other users in images will belong to root."
                    ));
                }
                Some(entered)
            }
            Err(error) => {
                cx.printer
                    .error(&format!("{:#}", anyhow::Error::from(error)));
                return ExitStatus::TOOL_ERROR;
            }
        }
    } else {
        None
    };
    let session = Session { cx, entered };
    match dispatch(command, &session) {
        Ok(status) => status,
        Err(error) => {
            cx.printer.error(&format!("{error:#}"));
            ExitStatus::FAILURE
        }
    }
}

/// `run --replace` / `create --replace`: the old container goes before berth enters its
/// namespace (stopping it is the namespace owner's job, as for `rm -f`).
fn replace_first(command: &Command, cx: &Context) -> anyhow::Result<()> {
    let args = match command {
        Command::Run(args) | Command::Container(ContainerCommand::Run(args)) => &args.create,
        Command::Create(args) | Command::Container(ContainerCommand::Create(args)) => args,
        _ => return Ok(()),
    };
    if !args.replace {
        return Ok(());
    }
    let Some(name) = &args.name else {
        anyhow::bail!("cannot replace a container without --name: --replace needs --name");
    };
    container::rm::replace(&Session { cx, entered: None }, name)
}

/// Commands that write layers or remove them run as root of berth's user namespace (layer
/// files belong to subordinate IDs). Read-only commands stay outside: they must be fast.
fn needs_namespace(command: &Command) -> bool {
    match command {
        Command::Image(sub) => !matches!(
            sub,
            ImageCommand::Ls(_)
                | ImageCommand::Inspect(_)
                | ImageCommand::History(_)
                | ImageCommand::Save(_)
                | ImageCommand::Push(_)
        ),
        // stop, kill, rm and restart act from outside: only the namespace's owner may signal
        // every process in it. rm and restart enter a namespace in a child for the files.
        Command::Container(sub) => matches!(
            sub,
            ContainerCommand::Run(_)
                | ContainerCommand::Create(_)
                | ContainerCommand::Start(_)
                | ContainerCommand::Prune(_)
        ),
        // reset kills what runs from outside, then removes the files in a namespace child.
        Command::System(sub) => matches!(sub, SystemCommand::Check(_)),
        Command::Volume(sub) => !matches!(sub, VolumeCommand::Ls(_) | VolumeCommand::Inspect(_)),
        // pod stop and rm act from outside, as stop and rm do.
        Command::Pod(sub) => matches!(sub, PodCommand::Create(_) | PodCommand::Start(_)),
        Command::PodInfra(_) => true,
        // Started by a build inside its namespace already.
        Command::SshProxy(_) => false,
        // compose enters namespaces itself, in children, one per step (see `compose`).
        Command::Compose(_) => false,
        // kube generate only reads; kube play enters namespaces in children, as compose does.
        Command::Kube(_) => false,
        Command::Rmi(_)
        | Command::Tag(_)
        | Command::Load(_)
        | Command::Import(_)
        | Command::Unshare(_)
        | Command::Pull(_)
        | Command::Build(_)
        | Command::Builder(_)
        | Command::Run(_)
        | Command::Create(_)
        | Command::Start(_)
        | Command::Monitor(_) => true,
        // A check joins the container from outside, as exec does.
        Command::Healthcheck(_)
        | Command::Images(_)
        | Command::Save(_)
        | Command::Push(_)
        | Command::Login(_)
        | Command::Logout(_)
        | Command::History(_)
        | Command::Inspect(_)
        | Command::Info(_)
        | Command::Version(_)
        | Command::GenerateDocs(_)
        | Command::Generate(_)
        | Command::SystemdGenerator(_)
        | Command::Stop(_)
        | Command::Restart(_)
        | Command::Kill(_)
        | Command::Rm(_)
        | Command::Ps(_)
        | Command::Logs(_)
        | Command::Wait(_)
        | Command::Rename(_)
        | Command::Exec(_)
        | Command::Top(_)
        | Command::Port(_)
        | Command::Cp(_)
        | Command::Stats(_)
        | Command::Pause(_)
        | Command::Unpause(_) => false,
    }
}

/// A command's view of the world: the context and the namespace it runs in.
pub(crate) struct Session<'a> {
    cx: &'a Context,
    entered: Option<Entered>,
}

impl Session<'_> {
    /// The store, created on first use.
    fn store(&self) -> anyhow::Result<Store> {
        Store::open(&self.cx.root)
            .with_context(|| format!("cannot open the store at `{}`", self.cx.root.display()))
    }

    /// How layers may be unpacked here: device nodes only as real root.
    fn unpack_options(&self) -> UnpackOptions {
        UnpackOptions {
            allow_devices: matches!(self.entered, Some(Entered::Root)),
        }
    }
}

fn dispatch(command: Command, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Image(sub) => match sub {
            ImageCommand::Build(args) => image::build::run(*args, session),
            ImageCommand::Ls(args) => image::images::run(args, session),
            ImageCommand::Rm(args) => image::rmi::run(args, session),
            ImageCommand::Prune(args) => image::prune::run(args, session),
            ImageCommand::Tag(args) => image::tag::run(args, session),
            ImageCommand::Load(args) => image::load::run(args, session),
            ImageCommand::Save(args) => image::save::run(args, session),
            ImageCommand::Import(args) => image::import::run(args, session),
            ImageCommand::Inspect(args) => image::inspect::run(
                args.images,
                args.format,
                image::inspect::Kind::Image,
                session,
            ),
            ImageCommand::History(args) => image::history::run(args, session),
            ImageCommand::Pull(args) => image::pull::run(args, session),
            ImageCommand::Push(args) => image::push::run(args, session),
        },
        Command::Container(sub) => match sub {
            ContainerCommand::Run(args) => container::run::run(args, session),
            ContainerCommand::Create(args) => container::create::run(args, session),
            ContainerCommand::Start(args) => container::start::run(args, session),
            ContainerCommand::Stop(args) => container::stop::run(args, session),
            ContainerCommand::Restart(args) => container::stop::restart(args, session),
            ContainerCommand::Kill(args) => container::kill::run(args, session),
            ContainerCommand::Rm(args) => container::rm::run(args, session),
            ContainerCommand::Ls(args) => container::ps::run(args, session),
            ContainerCommand::Logs(args) => container::logs::run(args, session),
            ContainerCommand::Wait(args) => container::wait::run(args, session),
            ContainerCommand::Inspect(args) => image::inspect::run(
                args.containers,
                args.format,
                image::inspect::Kind::Container,
                session,
            ),
            ContainerCommand::Prune(args) => container::prune::run(args, session),
            ContainerCommand::Rename(args) => container::rename::run(args, session),
            ContainerCommand::Exec(args) => container::exec::run(args, session),
            ContainerCommand::Top(args) => container::top::run(args, session),
            ContainerCommand::Port(args) => container::port::run(args, session),
            ContainerCommand::Cp(args) => container::cp::run(args, session),
            ContainerCommand::Stats(args) => container::stats::run(args, session),
            ContainerCommand::Pause(args) => container::pause::run(args, session, "pause"),
            ContainerCommand::Unpause(args) => container::pause::run(args, session, "unpause"),
        },
        Command::Volume(sub) => match sub {
            VolumeCommand::Create(args) => volume::create(args, session),
            VolumeCommand::Ls(args) => volume::ls(args, session),
            VolumeCommand::Inspect(args) => volume::inspect(args, session),
            VolumeCommand::Rm(args) => volume::rm(args, session),
            VolumeCommand::Prune(args) => volume::prune(args, session),
        },
        Command::Healthcheck(HealthcheckCommand::Run(args)) => {
            container::healthcheck::run(args, session)
        }
        Command::Pod(sub) => match sub {
            PodCommand::Create(args) => pod::create(args, session),
            PodCommand::Ls(args) => pod::ls(args, session),
            PodCommand::Rm(args) => pod::rm(args, session),
            PodCommand::Start(args) => pod::start(args, session),
            PodCommand::Stop(args) => pod::stop(args, session),
            PodCommand::Inspect(args) => pod::inspect(args, session),
        },
        Command::System(sub) => match sub {
            SystemCommand::Info(args) => system::info::run(args, session),
            SystemCommand::Df(args) => system::df::run(args, session),
            SystemCommand::Check(args) => system::check::run(args, session),
            SystemCommand::Reset(args) => system::reset::run(args, session),
        },
        Command::Images(args) => image::images::run(args, session),
        Command::Rmi(args) => image::rmi::run(args, session),
        Command::Tag(args) => image::tag::run(args, session),
        Command::Load(args) => image::load::run(args, session),
        Command::Save(args) => image::save::run(args, session),
        Command::Import(args) => image::import::run(args, session),
        Command::History(args) => image::history::run(args, session),
        Command::Pull(args) => image::pull::run(args, session),
        Command::Push(args) => image::push::run(args, session),
        Command::Login(args) => login::login(args, session),
        Command::Logout(args) => login::logout(args, session),
        Command::Inspect(args) => {
            let kind = match args.kind.as_deref() {
                Some("image") => image::inspect::Kind::Image,
                Some("container") => image::inspect::Kind::Container,
                _ => image::inspect::Kind::Any,
            };
            image::inspect::run(args.names, args.format, kind, session)
        }
        Command::Run(args) => container::run::run(args, session),
        Command::Create(args) => container::create::run(args, session),
        Command::Start(args) => container::start::run(args, session),
        Command::Stop(args) => container::stop::run(args, session),
        Command::Restart(args) => container::stop::restart(args, session),
        Command::Kill(args) => container::kill::run(args, session),
        Command::Rm(args) => container::rm::run(args, session),
        Command::Ps(args) => container::ps::run(args, session),
        Command::Logs(args) => container::logs::run(args, session),
        Command::Wait(args) => container::wait::run(args, session),
        Command::Rename(args) => container::rename::run(args, session),
        Command::Exec(args) => container::exec::run(args, session),
        Command::Top(args) => container::top::run(args, session),
        Command::Port(args) => container::port::run(args, session),
        Command::Cp(args) => container::cp::run(args, session),
        Command::Stats(args) => container::stats::run(args, session),
        Command::Pause(args) => container::pause::run(args, session, "pause"),
        Command::Unpause(args) => container::pause::run(args, session, "unpause"),
        Command::Monitor(args) => internal::monitor::run(args, session),
        Command::Build(args) => image::build::run(args, session),
        Command::Builder(BuilderCommand::Build(args)) => image::build::run(*args, session),
        Command::Builder(BuilderCommand::Prune(args)) => image::build::prune(args, session),
        Command::PodInfra(args) => pod::infra(args, session),
        Command::SshProxy(args) => internal::ssh_proxy::run(&args),
        Command::Compose(args) => compose::run(args, session),
        Command::Kube(command) => kube::run(command, session),
        Command::Info(args) => system::info::run(args, session),
        Command::Version(args) => version::run(args, session),
        Command::Unshare(args) => system::unshare::run(args, session),
        Command::GenerateDocs(args) => internal::generate::run(args, session),
        Command::Generate(GenerateCommand::Systemd(args)) => generate::systemd(args, session),
        Command::SystemdGenerator(args) => generate::generator(args, session),
    }
}
