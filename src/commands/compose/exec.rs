//! `compose exec` (a command in a service's running container) and `compose run` (a one-off
//! container of a service, after its dependencies are up).

use std::io::IsTerminal as _;

use anyhow::bail;
use clap::Parser;

use super::super::ExitStatus;
use super::super::Session;
use super::{
    ContainerPlan, Steps, config_hash, create_args, image_name, project_containers, project_pod,
    service_container,
};
use crate::cli::{ComposeExecArgs, ComposeRunArgs, ComposeUpArgs, ContainerExecArgs};
use crate::commands::container;
use crate::compose::Project;
use crate::runtime::{self as rt, monitor, pod};

pub(super) fn exec(
    session: &Session<'_>,
    project: &Project,
    args: ComposeExecArgs,
) -> anyhow::Result<ExitStatus> {
    project.select(std::slice::from_ref(&args.service), false)?;
    let store = container::existing_store(session)
        .ok_or_else(|| anyhow::anyhow!("service \"{}\" is not running", args.service))?;
    let records = project_containers(&store, project)?;
    let Some(record) = service_container(&records, &args.service).filter(|r| rt::is_running(r))
    else {
        bail!("service \"{}\" is not running", args.service);
    };
    #[derive(Parser)]
    #[command(no_binary_name = true)]
    struct Flags {
        #[command(flatten)]
        args: ContainerExecArgs,
    }
    let mut argv: Vec<String> = vec!["--interactive".to_owned()];
    if !args.no_tty && std::io::stdin().is_terminal() && !args.detach {
        argv.push("--tty".to_owned());
    }
    if args.detach {
        argv.push("--detach".to_owned());
    }
    for env in &args.env {
        argv.extend(["--env".to_owned(), env.clone()]);
    }
    if let Some(user) = &args.user {
        argv.extend(["--user".to_owned(), user.clone()]);
    }
    if let Some(workdir) = &args.workdir {
        argv.extend(["--workdir".to_owned(), workdir.clone()]);
    }
    argv.push(record.id.clone());
    argv.extend(args.command.iter().cloned());
    let flags = Flags::try_parse_from(&argv).map_err(|e| anyhow::anyhow!("{}", e.render()))?;
    container::exec::run(flags.args, session)
}

/// `compose run SERVICE [CMD…]`: dependencies as `up -d` starts them, then a new container of
/// the service, attached (or detached with `-d`), named `PROJECT-SERVICE-run-ID`.
pub(super) fn run(
    steps: &Steps<'_>,
    project: &Project,
    args: ComposeRunArgs,
) -> anyhow::Result<ExitStatus> {
    let session = steps.session;
    let service = *project
        .select(std::slice::from_ref(&args.service), false)?
        .first()
        .ok_or_else(|| anyhow::anyhow!("no such service: {}", args.service))?;
    let dependencies: Vec<String> = if args.no_deps {
        Vec::new()
    } else {
        project
            .select(std::slice::from_ref(&args.service), true)?
            .into_iter()
            .filter(|s| s.name != service.name)
            .map(|s| s.name.clone())
            .collect()
    };
    // Dependencies (and the pod, the images) as a detached `up` makes them.
    let up = ComposeUpArgs {
        detach: true,
        build: false,
        no_build: false,
        force_recreate: false,
        no_recreate: true,
        no_deps: true,
        remove_orphans: false,
        abort_on_container_exit: false,
        timeout: None,
        services: dependencies.clone(),
    };
    if !dependencies.is_empty() {
        let status = super::up::up(steps, project, &up)?;
        if status != ExitStatus::SUCCESS {
            return Ok(status);
        }
    }
    let store = session.store()?;
    // The service's own image, and a pod if no dependency made one.
    let policy = super::build::Policy {
        always: false,
        never: false,
        no_cache: false,
    };
    let needs = super::build::missing_images(&store, project, &[service], &policy)?;
    let pod = project_pod(&store, project)?;
    if !needs.is_empty() || pod.as_ref().and_then(pod::infra_pid).is_none() {
        let ports = super::pod_ports(project)?;
        let code = steps.in_namespace(None, |child| {
            super::build::make_images(child, &store, &needs, &policy)?;
            super::up::ensure_pod(child, &store, project, pod.as_ref(), &ports)?;
            Ok(0)
        })?;
        if code != 0 {
            return Ok(ExitStatus(code));
        }
    }
    let Some(pod) = project_pod(&store, project)? else {
        bail!("the project's pod was not created");
    };
    let Some(infra) = pod::infra_pid(&pod) else {
        bail!("the network of pod {} is not running", pod.name);
    };
    let image_id = crate::image::resolve(&store, &image_name(project, service))
        .map(|r| r.image.id.to_string())
        .unwrap_or_default();
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}-run-{}",
            project.name,
            service.name,
            &crate::util::ids::random_hex(6)
        )
    });
    let plan = ContainerPlan {
        project,
        service,
        name,
        pod_id: &pod.id,
        hash: config_hash(service, &image_id),
        oneoff: true,
    };
    let mut create = create_args(&plan)?;
    create.rm = args.rm;
    create.env.extend(args.env.iter().cloned());
    if let Some(user) = &args.user {
        create.user = Some(user.clone());
    }
    if let Some(workdir) = &args.workdir {
        create.workdir = Some(workdir.clone());
    }
    if let Some(entrypoint) = &args.entrypoint {
        create.entrypoint_args = Some(if entrypoint.is_empty() {
            Vec::new()
        } else {
            vec![entrypoint.clone()]
        });
        create.command = Vec::new();
    }
    if !args.command.is_empty() {
        create.command = args.command.clone();
    }
    // Docker Compose's run: stdin open, a terminal when we have one.
    create.interactive = !args.detach;
    create.tty = !args.no_tty && !args.detach && std::io::stdin().is_terminal();
    let detach = args.detach;
    let code = steps.in_namespace(Some(infra), |child| {
        let record = container::create::create(&store, &create)?;
        let runtime = container::runtime(child, store.clone());
        if detach {
            monitor::spawn_monitor(&runtime, &record.id)?;
            child.cx.printer.line(&record.id);
            return Ok(0);
        }
        match monitor::supervise(
            &runtime,
            &record.id,
            monitor::Mode::Attached { stdin: true },
        ) {
            Ok(code) => Ok(u8::try_from(code & 0xff).unwrap_or(125)),
            Err(error) => {
                let code = error.exit_code();
                let _ =
                    container::rm::remove_records(&runtime, std::slice::from_ref(&record), true);
                child.cx.printer.error(&format!("{error:#}"));
                Ok(code)
            }
        }
    })?;
    Ok(ExitStatus(code))
}
