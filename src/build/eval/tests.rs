//! Tests of the evaluator with a recording executor (imagebuilder's `testExecutor` idea).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::build::plan::Platform;

/// One executor call.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    From(usize, Base),
    Run(usize, Box<RunStep>),
    Copy(usize, Box<CopyStep>),
    Workdir(usize, String, String),
    Metadata(usize, String),
}

/// Records calls; knows a few base images; `existing` directories need no WORKDIR layer.
#[derive(Default)]
struct Fake {
    calls: Vec<Call>,
    images: BTreeMap<String, ImageConfig>,
    existing: BTreeSet<String>,
    fail_runs: bool,
}

impl StepExecutor for Fake {
    fn from(&mut self, stage: usize, base: &Base) -> Result<Option<ImageConfig>> {
        self.calls.push(Call::From(stage, base.clone()));
        Ok(match base {
            Base::Image(name) => Some(self.images.get(name).cloned().unwrap_or_default()),
            _ => None,
        })
    }

    fn run(&mut self, stage: usize, step: &RunStep) -> Result<()> {
        self.calls.push(Call::Run(stage, Box::new(step.clone())));
        if self.fail_runs {
            return Err(BuildError::executor("process exited with status 1"));
        }
        Ok(())
    }

    fn copy(&mut self, stage: usize, step: &CopyStep) -> Result<()> {
        self.calls.push(Call::Copy(stage, Box::new(step.clone())));
        Ok(())
    }

    fn workdir(&mut self, stage: usize, path: &str, user: &str) -> Result<bool> {
        self.calls
            .push(Call::Workdir(stage, path.to_owned(), user.to_owned()));
        Ok(!self.existing.contains(path))
    }

    fn metadata(&mut self, stage: usize, created_by: &str) -> Result<()> {
        self.calls
            .push(Call::Metadata(stage, created_by.to_owned()));
        Ok(())
    }
}

impl Fake {
    fn runs(&self) -> Vec<&RunStep> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Run(_, step) => Some(step.as_ref()),
                _ => None,
            })
            .collect()
    }

    fn copies(&self) -> Vec<&CopyStep> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Copy(_, step) => Some(step.as_ref()),
                _ => None,
            })
            .collect()
    }
}

fn options() -> BuildOptions {
    BuildOptions {
        platform: Platform::parse("linux/amd64").unwrap(),
        ..BuildOptions::default()
    }
}

fn try_build(source: &str, options: &BuildOptions, fake: &mut Fake) -> Result<BuildOutcome> {
    let file = dockerfile::parse(source, "Dockerfile").unwrap();
    evaluate(&file, options, fake)
}

fn build(source: &str) -> (BuildOutcome, Fake) {
    let mut fake = Fake::default();
    let outcome = try_build(source, &options(), &mut fake).unwrap();
    (outcome, fake)
}

fn build_error(source: &str) -> String {
    let mut fake = Fake::default();
    try_build(source, &options(), &mut fake)
        .unwrap_err()
        .to_string()
}

fn history(outcome: &BuildOutcome) -> Vec<String> {
    outcome
        .config
        .history
        .iter()
        .map(|h| h.created_by.clone().unwrap_or_default())
        .collect()
}

fn container(outcome: &BuildOutcome) -> &ContainerConfig {
    outcome.config.config.as_ref().unwrap()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn multi_stage_with_target_skips_unused_stages() {
    let source = "FROM alpine AS build\nRUN make\n\
                  FROM busybox AS unused\nRUN exit 1\n\
                  FROM scratch AS out\nCOPY --from=build /app /app\n\
                  FROM out AS final\nCMD [\"/app\"]\n";
    let (outcome, fake) = build(source);
    assert_eq!(outcome.stages_built, [0, 2, 3]);
    assert!(!fake.calls.iter().any(|c| matches!(c, Call::From(1, _))));
    assert_eq!(
        fake.calls[0],
        Call::From(0, Base::Image("alpine".to_owned()))
    );
    assert_eq!(fake.copies()[0].from, CopySource::Stage(0));
    assert!(fake.calls.contains(&Call::From(3, Base::Stage(2))));
    // The final stage continues from `out`'s config and history.
    assert_eq!(
        history(&outcome),
        ["COPY /app /app # buildkit", "CMD [\"/app\"]"]
    );
    assert_eq!(outcome.config.architecture, "amd64");
    assert_eq!(
        container(&outcome).env.as_deref(),
        Some(&strings(&[&format!("PATH={DEFAULT_PATH}")])[..])
    );

    let mut fake = Fake::default();
    let options = BuildOptions {
        target: Some("Unused".to_owned()),
        ..options()
    };
    let outcome = try_build(source, &options, &mut fake).unwrap();
    assert_eq!(outcome.stages_built, [1]);
    assert_eq!(history(&outcome), ["RUN /bin/sh -c exit 1 # buildkit"]);
}

#[test]
fn arg_scoping_global_stage_and_build_args() {
    let source = "ARG VERSION=1\nARG BASE=alpine\nFROM $BASE:$VERSION\n\
                  RUN echo $VERSION\nARG VERSION\nARG MODE=dev\nARG TARGETARCH\n\
                  ENV V=$VERSION-$MODE-$TARGETARCH\nRUN echo $V\n";
    let mut build_args = BTreeMap::new();
    build_args.insert("MODE".to_owned(), Some("prod".to_owned()));
    build_args.insert(
        "HTTP_PROXY".to_owned(),
        Some("http://proxy:3128".to_owned()),
    );
    build_args.insert("UNUSED".to_owned(), Some("x".to_owned()));
    build_args.insert("FROM_ENV".to_owned(), None);
    let options = BuildOptions {
        build_args,
        ..options()
    };
    let mut fake = Fake::default();
    let outcome = try_build(source, &options, &mut fake).unwrap();
    assert_eq!(
        fake.calls[0],
        Call::From(0, Base::Image("alpine:1".to_owned()))
    );
    let runs = fake.runs();
    // Before `ARG VERSION` the global value is not visible in the stage.
    assert!(!runs[0].env.iter().any(|e| e.starts_with("VERSION=")));
    assert_eq!(
        runs[0].created_by,
        "RUN /bin/sh -c echo $VERSION # buildkit"
    );
    assert!(
        runs[0]
            .env
            .contains(&"HTTP_PROXY=http://proxy:3128".to_owned())
    );
    assert!(runs[1].env.contains(&"VERSION=1".to_owned()));
    assert!(runs[1].env.contains(&"MODE=prod".to_owned()));
    assert_eq!(
        runs[1].created_by,
        "RUN |3 VERSION=1 MODE=prod TARGETARCH=amd64 /bin/sh -c echo $V # buildkit"
    );
    assert!(!runs[1].cache_text.contains("proxy:3128"));
    let env = container(&outcome).env.clone().unwrap();
    assert!(env.contains(&"V=1-prod-amd64".to_owned()));
    assert!(
        !env.iter()
            .any(|e| e.starts_with("MODE=") || e.starts_with("HTTP_PROXY"))
    );
    let texts = history(&outcome);
    assert!(texts.contains(&"ARG VERSION=1".to_owned()));
    assert!(texts.contains(&"ARG MODE=prod".to_owned()));
    assert!(!texts.iter().any(|t| t.contains("proxy:3128")));
    assert_eq!(
        outcome.warnings.last().unwrap(),
        "[Warning] One or more build-args [FROM_ENV UNUSED] were not consumed"
    );
}

#[test]
fn declared_proxy_arg_is_kept_out_of_history() {
    let mut build_args = BTreeMap::new();
    build_args.insert("https_proxy".to_owned(), Some("http://p".to_owned()));
    let options = BuildOptions {
        build_args,
        ..options()
    };
    let mut fake = Fake::default();
    let source = "FROM alpine\nARG https_proxy\nRUN wget x\n";
    let outcome = try_build(source, &options, &mut fake).unwrap();
    assert_eq!(
        history(&outcome),
        ["ARG https_proxy", "RUN /bin/sh -c wget x # buildkit"]
    );
    assert!(
        fake.runs()[0]
            .env
            .contains(&"https_proxy=http://p".to_owned())
    );
    assert!(outcome.warnings.is_empty());
}

#[test]
fn env_is_expanded_against_the_env_before_the_instruction() {
    let source = "FROM alpine\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n\
                  ENV legacy some value\nLABEL l=\"${def} ${nope}\"\nRUN echo $abc\n";
    let (outcome, fake) = build(source);
    let env = container(&outcome).env.clone().unwrap();
    assert_eq!(
        env,
        strings(&[
            &format!("PATH={DEFAULT_PATH}"),
            "abc=bye",
            "def=hello",
            "ghi=bye",
            "legacy=some value"
        ])
    );
    let labels = container(&outcome).labels.clone().unwrap();
    assert_eq!(labels["l"], "hello ");
    assert_eq!(
        outcome.warnings,
        ["Dockerfile:6: UndefinedVar: Usage of undefined variable '$nope'"]
    );
    // RUN is not expanded by the builder: the shell does it.
    assert_eq!(
        fake.runs()[0].argv,
        strings(&["/bin/sh", "-c", "echo $abc"])
    );
    assert!(fake.runs()[0].env.contains(&format!("PATH={DEFAULT_PATH}")));
    assert_eq!(
        &history(&outcome)[..3],
        ["ENV abc=hello", "ENV abc=bye def=hello", "ENV ghi=bye"]
    );
}

#[test]
fn entrypoint_resets_inherited_cmd_but_not_one_from_the_same_stage() {
    let mut fake = Fake::default();
    let base = ImageConfig {
        config: Some(ContainerConfig {
            cmd: Some(strings(&["sh"])),
            ..ContainerConfig::default()
        }),
        ..ImageConfig::default()
    };
    fake.images.insert("base".to_owned(), base);
    let source = "FROM base\nENTRYPOINT [\"/bin/app\"]\n";
    let outcome = try_build(source, &options(), &mut fake).unwrap();
    assert_eq!(container(&outcome).cmd, None);
    assert_eq!(history(&outcome), ["ENTRYPOINT [\"/bin/app\"]"]);

    let source = "FROM base\nCMD run --help\nENTRYPOINT app \"x\"\n";
    let outcome = try_build(source, &options(), &mut fake).unwrap();
    let config = container(&outcome);
    assert_eq!(
        config.cmd.clone().unwrap(),
        strings(&["/bin/sh", "-c", "run --help"])
    );
    assert_eq!(
        config.entrypoint.clone().unwrap(),
        strings(&["/bin/sh", "-c", "app \"x\""])
    );
    assert_eq!(
        history(&outcome),
        [
            "CMD [\"/bin/sh\" \"-c\" \"run --help\"]",
            "ENTRYPOINT [\"/bin/sh\" \"-c\" \"app \\\"x\\\"\"]"
        ]
    );
}

#[test]
fn shell_applies_to_later_shell_forms() {
    let source = "FROM alpine\nRUN echo a\nSHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\n\
                  RUN echo b | cat\nRUN [\"echo\", \"c\"]\nCMD echo d\n";
    let (outcome, fake) = build(source);
    let runs = fake.runs();
    assert_eq!(runs[0].argv, strings(&["/bin/sh", "-c", "echo a"]));
    assert_eq!(
        runs[1].argv,
        strings(&["/bin/bash", "-eo", "pipefail", "-c", "echo b | cat"])
    );
    assert_eq!(runs[2].argv, strings(&["echo", "c"]));
    let config = container(&outcome);
    assert_eq!(
        config.cmd.clone().unwrap(),
        strings(&["/bin/bash", "-eo", "pipefail", "-c", "echo d"])
    );
    assert_eq!(history(&outcome)[1], "SHELL [/bin/bash -eo pipefail -c]");
    assert_eq!(
        history(&outcome)[2],
        "RUN /bin/bash -eo pipefail -c echo b | cat # buildkit"
    );
    assert_eq!(
        build_error("FROM alpine\n\nSHELL /bin/bash -c\n"),
        "Dockerfile:3: SHELL requires the arguments to be in JSON form"
    );
}

#[test]
fn healthcheck_json_and_history() {
    let source = "FROM alpine\nHEALTHCHECK --interval=30s --start-period=1m30s --retries=3 \
                  CMD curl -f http://localhost/ || exit 1\n";
    let (outcome, _) = build(source);
    let value = container(&outcome).healthcheck.clone().unwrap();
    assert_eq!(
        serde_json::to_string(&value).unwrap(),
        r#"{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":30000000000,"StartPeriod":90000000000,"Retries":3}"#
    );
    assert_eq!(
        history(&outcome),
        [
            "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:30s \
          Timeout:0s StartPeriod:1m30s StartInterval:0s Retries:3}"
        ]
    );

    let (outcome, _) = build("FROM alpine\nHEALTHCHECK --timeout=500ms CMD [\"/check\", \"-q\"]\n");
    assert_eq!(
        container(&outcome).healthcheck.clone().unwrap(),
        json!({"Test": ["CMD", "/check", "-q"], "Timeout": 500_000_000})
    );
    let (outcome, _) = build("FROM alpine\nHEALTHCHECK NONE\n");
    assert_eq!(
        container(&outcome).healthcheck.clone().unwrap(),
        json!({"Test": ["NONE"]})
    );
    assert_eq!(
        build_error("FROM alpine\nHEALTHCHECK --interval=5x CMD true\n"),
        "Dockerfile:2: invalid duration \"5x\" for --interval"
    );
    assert_eq!(
        build_error("FROM alpine\nHEALTHCHECK --timeout=10us CMD true\n"),
        "Dockerfile:2: Interval \"timeout\" cannot be less than 1ms"
    );
}

#[test]
fn go_durations_round_trip() {
    use super::instructions::{go_duration, parse_go_duration};
    for (text, nanos, shown) in [
        ("1h", 3_600_000_000_000, "1h0m0s"),
        ("1.5s", 1_500_000_000, "1.5s"),
        ("2m3.25s", 123_250_000_000, "2m3.25s"),
        ("300ms", 300_000_000, "300ms"),
        ("1h30m", 5_400_000_000_000, "1h30m0s"),
        ("0", 0, "0s"),
    ] {
        assert_eq!(parse_go_duration(text), Some(nanos), "{text}");
        assert_eq!(go_duration(nanos), shown);
    }
    assert_eq!(parse_go_duration("10"), None);
    assert_eq!(parse_go_duration(".s"), None);
}

#[test]
fn expose_ranges_protocols_and_variables() {
    let source = "FROM alpine\nARG PORT=8080\nEXPOSE 80 53/UDP 8000-8002 $PORT/tcp\n";
    let (outcome, _) = build(source);
    let ports: Vec<String> = container(&outcome)
        .exposed_ports
        .clone()
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(
        ports,
        [
            "53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp", "8080/tcp"
        ]
    );
    assert_eq!(
        history(&outcome)[1],
        "EXPOSE [80/tcp 53/udp 8000/tcp 8001/tcp 8002/tcp 8080/tcp]"
    );
    assert_eq!(
        build_error("FROM alpine\nEXPOSE 80/xyz\n"),
        "Dockerfile:2: invalid port: \"80/xyz\": invalid proto: xyz"
    );
}

#[test]
fn onbuild_triggers_of_the_base_image_run_first() {
    let mut fake = Fake::default();
    let base = ImageConfig {
        config: Some(ContainerConfig {
            on_build: Some(strings(&[
                "RUN echo hi",
                "ENV FROM_TRIGGER=$HOME",
                "COPY . /src",
            ])),
            env: Some(strings(&["HOME=/root"])),
            ..ContainerConfig::default()
        }),
        ..ImageConfig::default()
    };
    fake.images.insert("onbuild-base".to_owned(), base);
    let source = "\nFROM onbuild-base\nRUN echo child\n";
    let outcome = try_build(source, &options(), &mut fake).unwrap();
    assert_eq!(
        history(&outcome),
        [
            "RUN /bin/sh -c echo hi # buildkit",
            "ENV FROM_TRIGGER=/root",
            "COPY . /src # buildkit",
            "RUN /bin/sh -c echo child # buildkit"
        ]
    );
    assert!(matches!(fake.calls[1], Call::Run(0, _)));
    assert_eq!(container(&outcome).on_build, None);

    // A trigger written in an earlier stage runs in the stage built FROM it.
    let source = "FROM alpine AS base\nONBUILD RUN echo t\nFROM base\nRUN echo after\n";
    let (outcome, fake) = build(source);
    assert_eq!(
        history(&outcome),
        [
            "ONBUILD RUN echo t",
            "RUN /bin/sh -c echo t # buildkit",
            "RUN /bin/sh -c echo after # buildkit"
        ]
    );
    assert_eq!(fake.runs().len(), 2);
    let (outcome, _) = build("FROM alpine\nONBUILD RUN echo hi\n");
    assert_eq!(
        container(&outcome).on_build.clone().unwrap(),
        strings(&["RUN echo hi"])
    );
}

#[test]
fn bad_onbuild_trigger_is_reported_at_from() {
    let mut fake = Fake::default();
    let base = ImageConfig {
        config: Some(ContainerConfig {
            on_build: Some(strings(&["FROM busybox"])),
            ..ContainerConfig::default()
        }),
        ..ImageConfig::default()
    };
    fake.images.insert("bad".to_owned(), base);
    let error = try_build("FROM bad\n", &options(), &mut fake).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Dockerfile:1: invalid ONBUILD trigger `FROM busybox`: FROM isn't allowed as an ONBUILD trigger"
    );
}

#[test]
fn workdir_chain_and_relative_copy_destinations() {
    let mut fake = Fake::default();
    fake.existing.insert("/app/src".to_owned());
    let source = "FROM alpine\nUSER app\nWORKDIR /app\nWORKDIR src\nENV D=lib\nWORKDIR ../$D\n\
                  COPY a.txt b.txt ./\nCOPY c.txt sub/c\nWORKDIR /\n";
    let outcome = try_build(source, &options(), &mut fake).unwrap();
    let workdirs: Vec<&Call> = fake
        .calls
        .iter()
        .filter(|c| matches!(c, Call::Workdir(..)))
        .collect();
    assert_eq!(
        workdirs,
        [
            &Call::Workdir(0, "/app".to_owned(), "app".to_owned()),
            &Call::Workdir(0, "/app/src".to_owned(), "app".to_owned()),
            &Call::Workdir(0, "/app/lib".to_owned(), "app".to_owned()),
        ]
    );
    let layers: Vec<(String, bool)> = outcome
        .config
        .history
        .iter()
        .map(|h| (h.created_by.clone().unwrap_or_default(), h.empty_layer))
        .collect();
    assert_eq!(layers[1], ("WORKDIR /app".to_owned(), false));
    assert_eq!(layers[2], ("WORKDIR /app/src".to_owned(), true));
    assert_eq!(layers[7], ("WORKDIR /".to_owned(), true));
    assert_eq!(fake.copies()[0].dest, "/app/lib/");
    assert_eq!(fake.copies()[1].dest, "/app/lib/sub/c");
    assert_eq!(
        fake.copies()[0].created_by,
        "COPY a.txt b.txt ./ # buildkit"
    );
    assert_eq!(container(&outcome).working_dir.as_deref(), Some("/"));
}

#[test]
fn run_heredocs() {
    let source = "FROM alpine\nRUN <<EOF\necho hi\necho there\nEOF\n\
                  RUN python3 <<EOF\nprint(1)\nEOF\n\
                  RUN <<'SCRIPT'\n#!/usr/bin/env python3\nprint(2)\nSCRIPT\n";
    let (_, fake) = build(source);
    let runs = fake.runs();
    assert_eq!(
        runs[0].argv,
        strings(&["/bin/sh", "-c", "echo hi\necho there\n"])
    );
    assert_eq!(
        runs[1].argv,
        strings(&["/bin/sh", "-c", "python3 <<EOF\nprint(1)\nEOF"])
    );
    assert_eq!(
        runs[2].argv,
        strings(&["/bin/sh", "-c", "/dev/pipes/SCRIPT"])
    );
    assert_eq!(
        runs[2].files,
        [InlineFile {
            path: "/dev/pipes/SCRIPT".to_owned(),
            content: "#!/usr/bin/env python3\nprint(2)\n".to_owned(),
            mode: 0o755,
        }]
    );
    assert!(
        runs[0]
            .created_by
            .starts_with("RUN /bin/sh -c echo hi\necho there\n")
    );
}

#[test]
fn copy_and_add_flags() {
    let source = "FROM alpine AS build\nFROM alpine\nARG U=app\nWORKDIR /srv\n\
                  COPY --from=build --chown=$U:$U --chmod=0755 --link --exclude=*.md a b /dst/\n\
                  COPY --from=nginx:latest --parents /etc/nginx .\n\
                  ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false https://x/y.tgz /y\n\
                  COPY <<EOF <<'RAW' /etc/\nuser=$U \"q\"\nEOF\nkeep=$U\nRAW\n";
    let (outcome, fake) = build(source);
    let copies = fake.copies();
    let first = copies[0];
    assert_eq!(first.from, CopySource::Stage(0));
    assert_eq!(first.chown.as_deref(), Some("app:app"));
    assert_eq!(first.chmod, Some(0o755));
    assert!(first.link && !first.parents && !first.is_add);
    assert_eq!(first.excludes, strings(&["*.md"]));
    assert_eq!(first.sources, strings(&["a", "b"]));
    assert_eq!(first.dest, "/dst/");
    assert_eq!(
        first.created_by,
        "COPY --chown=app:app --chmod=0755 a b /dst/ # buildkit"
    );
    assert_eq!(copies[1].from, CopySource::Image("nginx:latest".to_owned()));
    assert_eq!(copies[1].dest, "/srv/");
    assert_eq!(
        copies[1].created_by,
        "COPY --parents /etc/nginx . # buildkit"
    );
    let add = copies[2];
    assert!(add.is_add && add.keep_git_dir);
    assert_eq!(add.unpack, Some(false));
    assert_eq!(add.checksum.as_deref(), Some("sha256:abc"));
    let heredocs = &copies[3].heredocs;
    assert_eq!(heredocs[0].content, "user=app \"q\"\n");
    assert_eq!(heredocs[1].content, "keep=$U\n");
    assert_eq!(copies[3].created_by, "COPY <<EOF <<RAW /etc/ # buildkit");
    assert_eq!(outcome.stages_built, [0, 1]);
}

#[test]
fn copy_errors_name_the_line() {
    assert_eq!(
        build_error("FROM alpine\nCOPY --chmod=9z a /b\n"),
        "Dockerfile:2: invalid chmod parameter: '9z'. it should be octal string and between 0 and 07777"
    );
    assert_eq!(
        build_error("FROM alpine AS one\nCOPY --from=one a /b\n"),
        "Dockerfile:2: circular dependency detected on stage: one"
    );
    assert_eq!(
        build_error(
            "FROM alpine AS one\nCOPY --from=two a /b\nFROM alpine AS two\nCOPY --from=one / /\n"
        ),
        "Dockerfile:2: cannot copy from stage \"two\", it needs to be defined before current stage \"one\""
    );
    assert_eq!(
        build_error("ARG S=one\nFROM alpine AS one\nFROM alpine\nCOPY --from=$S a /b\n"),
        "Dockerfile:4: variable expansion is not supported for --from, define a new stage with \
         FROM using ARG from global scope as a workaround"
    );
    assert_eq!(
        build_error("FROM alpine\nCOPY onlyone\n"),
        "Dockerfile:2: COPY requires at least two arguments, but only one was provided. \
         Destination could not be determined"
    );
    assert_eq!(
        build_error("FROM alpine\nADD --checksum=sha256:x local.tgz /\n"),
        "Dockerfile:2: checksum requires HTTP(S) or Git sources"
    );
}

#[test]
fn run_mounts_network_and_security() {
    let source = "FROM alpine AS deps\nFROM alpine\nWORKDIR /w\nARG CACHE=/root/.cache\n\
                  RUN --mount=type=cache,target=$CACHE,sharing=locked,mode=0700,uid=1000 \
                  --mount=type=secret,id=tok,required \
                  --mount=from=deps,source=/out,target=deps \
                  --mount=type=tmpfs,dst=/tmp,size=64m --network=none make\n";
    let (_, fake) = build(source);
    let run = fake.runs()[0];
    assert_eq!(run.network.as_deref(), Some("none"));
    let [cache, secret, bind, tmpfs] = run.mounts.as_slice() else {
        panic!("four mounts expected: {:?}", run.mounts);
    };
    assert_eq!(cache.kind, MountType::Cache);
    assert_eq!(cache.target.as_deref(), Some("/root/.cache"));
    assert_eq!(cache.id.as_deref(), Some("/root/.cache"));
    assert_eq!(
        (cache.sharing, cache.mode, cache.uid, cache.readonly),
        (Sharing::Locked, Some(0o700), Some(1000), false)
    );
    assert_eq!(secret.target.as_deref(), Some("/run/secrets/tok"));
    assert!(secret.required && secret.readonly);
    assert_eq!(bind.kind, MountType::Bind);
    assert_eq!(bind.from, CopySource::Stage(0));
    assert_eq!(bind.target.as_deref(), Some("/w/deps"));
    assert_eq!(tmpfs.size, Some(64 << 20));
    assert_eq!(run.workdir, "/w");
    assert_eq!(
        build_error("FROM alpine\nRUN --security=insecure true\n"),
        "Dockerfile:2: RUN --security=insecure needs the security.insecure entitlement, \
         which berth does not grant"
    );
    assert_eq!(
        build_error("FROM alpine\nRUN --mount=type=bind,target=/x,uid=1 true\n"),
        "Dockerfile:2: uid not allowed for \"bind\" type mounts"
    );
    assert_eq!(
        build_error("FROM alpine\nRUN --network=bridge true\n"),
        "Dockerfile:2: unsupported network mode \"bridge\""
    );
}

/// Ssh mounts: id `default`, read-only, and default targets numbered within the RUN (as
/// BuildKit's `llb.AddSSHSocket`), not by stage.
#[test]
fn ssh_mounts_are_numbered_within_the_run() {
    let source = "FROM alpine\nFROM alpine\n\
                  RUN --mount=type=ssh --mount=type=ssh,id=git,target=/s,uid=1000,mode=0660 \
                  --mount=type=ssh,id=other,required true\n";
    let (_, fake) = build(source);
    let [first, second, third] = fake.runs()[0].mounts.as_slice() else {
        panic!("three mounts expected");
    };
    assert_eq!(first.id.as_deref(), Some("default"));
    assert_eq!(first.target.as_deref(), Some("/run/buildkit/ssh_agent.0"));
    assert!(first.readonly && !first.required);
    assert_eq!(second.target.as_deref(), Some("/s"));
    assert_eq!((second.uid, second.mode), (Some(1000), Some(0o660)));
    assert_eq!(third.target.as_deref(), Some("/run/buildkit/ssh_agent.2"));
    assert!(third.required);
    assert_eq!(
        build_error("FROM alpine\nRUN --mount=type=ssh,source=x true\n"),
        "Dockerfile:2: ssh does not support source"
    );
}

#[test]
fn metadata_instructions_and_created_by_strings() {
    let source = "FROM alpine\nMAINTAINER me@example.com\nLABEL a=b \"c d\"=e\nUSER app:app\n\
                  VOLUME [\"/data\", \"/logs\"]\nVOLUME /cache\nSTOPSIGNAL SIGQUIT\n\
                  COPY file /x\nRUN echo hi\nCMD [\"sh\"]\n";
    let mut fake = Fake::default();
    let mut options = options();
    options
        .labels
        .insert("built-by".to_owned(), "berth".to_owned());
    let outcome = try_build(source, &options, &mut fake).unwrap();
    assert_eq!(
        history(&outcome),
        [
            "MAINTAINER me@example.com",
            "LABEL a=b c d=e",
            "USER app:app",
            "VOLUME [/data /logs]",
            "VOLUME [/cache]",
            "STOPSIGNAL SIGQUIT",
            "COPY file /x # buildkit",
            "RUN /bin/sh -c echo hi # buildkit",
            "CMD [\"sh\"]",
        ]
    );
    let empty: Vec<bool> = outcome
        .config
        .history
        .iter()
        .map(|h| h.empty_layer)
        .collect();
    assert_eq!(
        empty,
        [true, true, true, true, true, true, false, false, true]
    );
    let config = container(&outcome);
    assert_eq!(outcome.config.author.as_deref(), Some("me@example.com"));
    assert_eq!(config.user.as_deref(), Some("app:app"));
    assert_eq!(config.stop_signal.as_deref(), Some("SIGQUIT"));
    let labels = config.labels.clone().unwrap();
    assert_eq!(labels["c d"], "e");
    assert_eq!(labels["built-by"], "berth");
    assert_eq!(config.volumes.clone().unwrap().len(), 3);
    assert_eq!(fake.runs()[0].user, "app:app");
    let metadata = fake
        .calls
        .iter()
        .filter(|c| matches!(c, Call::Metadata(..)))
        .count();
    assert_eq!(metadata, 7);
    assert_eq!(
        build_error("FROM alpine\nSTOPSIGNAL SIGNOPE\n"),
        "Dockerfile:2: invalid signal: SIGNOPE"
    );
}

#[test]
fn errors_carry_the_line() {
    let error = build_error("FROM alpine\n\nCOPY --nope a b\n");
    assert!(error.starts_with("Dockerfile:3\n"), "{error}");
    assert!(error.ends_with("error: unknown flag: nope"), "{error}");
    assert_eq!(
        build_error("FROM --platform=linux/s390x alpine\n"),
        "Dockerfile:1: berth builds only for the native platform (linux/amd64); \
         --platform linux/s390x is not supported"
    );
    let mut fake = Fake::default();
    let options = BuildOptions {
        target: Some("missing".to_owned()),
        ..options()
    };
    let error = try_build("FROM alpine\n", &options, &mut fake).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Dockerfile: target stage \"missing\" could not be found"
    );
    let error = build_error("FROM alpine\nENV A=\"unterminated\n");
    assert_eq!(error, "Dockerfile:2: failed to expand variables");
}

#[test]
fn executor_errors_are_located() {
    let mut fake = Fake {
        fail_runs: true,
        ..Fake::default()
    };
    let error = try_build("FROM alpine\nRUN false\n", &options(), &mut fake).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Dockerfile:2: `RUN /bin/sh -c false # buildkit` failed"
    );
    let source = std::error::Error::source(&error).unwrap();
    assert_eq!(source.to_string(), "process exited with status 1");
}

#[test]
fn cache_text_reflects_arg_values() {
    let source = "FROM alpine\nARG V=1\nRUN make\n";
    let (_, first) = build(source);
    let mut build_args = BTreeMap::new();
    build_args.insert("V".to_owned(), Some("2".to_owned()));
    let options = BuildOptions {
        build_args,
        ..options()
    };
    let mut second = Fake::default();
    try_build(source, &options, &mut second).unwrap();
    assert_ne!(first.runs()[0].cache_text, second.runs()[0].cache_text);
    assert!(second.runs()[0].cache_text.contains("V=2"));
}
