//! `kube generate`, `kube play` and `kube down`: containers and pods to and from Kubernetes
//! YAML (as in Podman). `play` creates its pods and their members from the host's user
//! namespace, in namespace children, as `compose up` does (see `steps`).

mod generate;
mod play;

use super::{ExitStatus, Session};
use crate::cli::{KubeCommand, KubePlayArgs};

pub(super) fn run(command: KubeCommand, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    match command {
        KubeCommand::Generate(args) => generate::generate(&args, session),
        KubeCommand::Play(args) => play::play(&args, session),
        KubeCommand::Down(args) => play::play(
            &KubePlayArgs {
                down: true,
                replace: false,
                file: args.file,
            },
            session,
        ),
    }
}
