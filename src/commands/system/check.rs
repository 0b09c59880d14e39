//! `system check [--repair]`.

use super::super::{ExitStatus, Session};
use crate::cli::SystemCheckArgs;

pub(crate) fn run(args: SystemCheckArgs, session: &Session<'_>) -> anyhow::Result<ExitStatus> {
    let store = session.store()?;
    let lock = store.lock()?;
    let report = store.check(&lock, args.repair)?;
    let mut out = String::new();
    for problem in &report.problems {
        out.push_str(&format!("problem: {problem}\n"));
    }
    for repaired in &report.repaired {
        out.push_str(&format!("repaired: {repaired}\n"));
    }
    let clean = report.problems.is_empty();
    out.push_str(&format!(
        "checked {} images, {} blobs, {} layers: {}\n",
        report.images,
        report.blobs,
        report.layers,
        if clean {
            "no problems"
        } else if args.repair {
            "repaired"
        } else {
            "problems found (run `berth system check --repair`)"
        }
    ));
    session.cx.printer.out(&out);
    Ok(if clean || args.repair {
        ExitStatus::SUCCESS
    } else {
        ExitStatus::FAILURE
    })
}
