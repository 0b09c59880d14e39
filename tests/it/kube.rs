//! `berth kube generate` and `kube play`: manifests of containers and pods that validate
//! against the Kubernetes OpenAPI schema, pods played from them (a web container answering on
//! its hostPort, a ConfigMap value in the environment), `--down`, refused files that create
//! nothing, and the generate → play round trip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{TestContext, User, chown_tree, free_port, http_get};
use crate::{as_users, require_users};

/// The validator contrib/ci/install-test-deps.sh installs (PyPI's kubernetes-validate).
const VALIDATOR: &str = "/var/cache/berth-test/kube-venv/bin/kubernetes-validate";

/// Checks `yaml` against the Kubernetes OpenAPI schema (strict: no unknown fields); skips with
/// a printed reason when the validator is not installed (a failure under contrib/test.sh).
fn validate(cx: &TestContext, yaml: &str) {
    if !Path::new(VALIDATOR).is_file() {
        assert!(
            std::env::var_os("BERTH_TEST_REQUIRE_ROOTLESS").is_none(),
            "{VALIDATOR} is missing: run contrib/ci/install-test-deps.sh as root"
        );
        eprintln!(
            "skipped validation: {VALIDATOR} is missing (contrib/ci/install-test-deps.sh installs it)"
        );
        return;
    }
    let file = cx.write_file("validate.yaml", yaml.as_bytes());
    let out = std::process::Command::new(VALIDATOR)
        .args(["--strict", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}\n{yaml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes a file into the work dir, owned by the test's user.
fn write(cx: &TestContext, name: &str, text: &str) -> PathBuf {
    let path = cx.work().join(name);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, text).unwrap();
    chown_tree(&cx.work(), cx.user);
    path
}

/// A shell that ends on SIGTERM (pid 1 ignores it otherwise), so `--down` is quick.
const WEB: &str = "trap 'exit 0' TERM; busybox httpd -f -p 8080 -h /www & wait";

/// A pod with a published port, env, a bind mount and a named volume: its manifest validates
/// and says all of that; played back after removing the original, it gives the same pod (the
/// manifest of the new pod is identical) and its web container answers on the host port.
/// `--down` removes the pod and its containers; the named volume stays.
fn generate_then_play_round_trip(user: User) {
    let cx = TestContext::new(user);
    cx.import_busybox("busybox");
    let www = write(&cx, "www/index.html", "served by kube\n");
    let www = www.parent().unwrap().to_str().unwrap().to_owned();
    let port = free_port();
    // Without subordinate IDs only root exists in the containers.
    let uid = if user == User::NoSub { "0" } else { "1000" };
    cx.ok([
        "pod",
        "create",
        "--name",
        "shop",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
    ]);
    cx.ok(["volume", "create", "shopdata"]);
    cx.ok([
        "create",
        "--pod",
        "shop",
        "--name",
        "shop-web",
        "-e",
        "GREETING=hello",
        "-v",
        &format!("{www}:/www:ro"),
        "-v",
        "shopdata:/data",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        WEB,
    ]);
    cx.ok([
        "create",
        "--pod",
        "shop",
        "--name",
        "shop-side",
        "--cap-drop",
        "NET_RAW",
        "-u",
        uid,
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 1000 & wait",
    ]);
    let yaml = cx.ok(["kube", "generate", "-s", "shop"]);
    validate(&cx, &yaml);
    for needle in [
        "kind: Pod",
        "name: shop\n",
        "- name: web\n",
        "- name: side\n",
        "image: docker.io/library/busybox:latest",
        &format!("hostPort: {port}"),
        "containerPort: 8080",
        "protocol: TCP",
        "name: GREETING\n      value: hello",
        &format!("hostPath:\n      path: {www}"),
        "claimName: shopdata",
        "readOnly: true",
        "restartPolicy: Always",
        "drop:\n        - NET_RAW",
        &format!("runAsUser: {uid}"),
        "---\napiVersion: v1\nkind: Service",
        "type: NodePort",
    ] {
        assert!(yaml.contains(needle), "{needle:?} not in:\n{yaml}");
    }
    assert!(
        !yaml.contains("PATH="),
        "the image's env is not repeated:\n{yaml}"
    );
    let pod_only = cx.ok(["kube", "generate", "shop"]);
    let file = write(&cx, "shop.yaml", &yaml);
    cx.ok(["pod", "rm", "-f", "shop"]);

    let played = cx.run(["kube", "play", file.to_str().unwrap()]).success();
    let ids: Vec<String> = played.stdout().lines().map(str::to_owned).collect();
    assert_eq!(ids[0], "Pod:", "{}", played.describe());
    assert_eq!(ids[2], "Containers:", "{}", played.describe());
    let names = cx.ok(["ps", "--format", "{{.Names}}"]);
    assert!(
        names.contains("shop-web") && names.contains("shop-side"),
        "{names}"
    );
    assert!(http_get(port, "/index.html", Duration::from_secs(10)).ends_with("served by kube\n"));
    assert_eq!(
        cx.ok(["kube", "generate", "shop"]),
        pod_only,
        "the round trip changed the pod"
    );
    cx.run(["kube", "play", file.to_str().unwrap()])
        .failure_with("a pod named \"shop\" already exists");

    // `kube play --down`, and Podman's `kube down`, which is the same (after playing again).
    let file = file.to_str().unwrap();
    for down in [
        vec!["kube", "play", "--down", file],
        vec!["kube", "down", file],
    ] {
        if cx.ok(["pod", "ls", "-q"]).is_empty() {
            cx.run(["kube", "play", file]).success();
        }
        let down = cx.run(&down).success();
        assert!(
            down.stdout().starts_with("Pods stopped:\n"),
            "{}",
            down.describe()
        );
        assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
        assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
        assert!(cx.ok(["volume", "ls", "-q"]).contains("shopdata"));
    }
}

as_users!(generate_then_play_round_trip =>
    generate_then_play_round_trip_sub: Sub,
    generate_then_play_round_trip_nosub: NoSub,
    generate_then_play_round_trip_root: Root,
);

/// A loose container's manifest: a pod named `NAME-pod` holding it, with its own ports,
/// tmpfs as a Memory emptyDir, its entrypoint as `command`; it validates.
#[test]
fn generate_for_a_container() {
    let cx = TestContext::new(User::Root);
    cx.import_busybox("busybox");
    cx.ok([
        "create",
        "--name",
        "solo",
        "-p",
        "127.0.0.1:18080:80/udp",
        "--tmpfs",
        "/scratch",
        "--entrypoint",
        "busybox",
        "--read-only",
        "-w",
        "/tmp",
        "busybox",
        "sleep",
        "5",
    ]);
    let yaml = cx.ok(["kube", "generate", "--service", "solo"]);
    validate(&cx, &yaml);
    for needle in [
        "name: solo-pod\n",
        "- name: solo\n",
        "command:\n    - busybox\n    args:\n    - sleep\n    - '5'",
        "hostPort: 18080",
        "hostIP: 127.0.0.1",
        "protocol: UDP",
        "emptyDir:\n      medium: Memory",
        "workingDir: /tmp",
        "readOnlyRootFilesystem: true",
        "restartPolicy: Never",
        "kind: Service",
    ] {
        assert!(yaml.contains(needle), "{needle:?} not in:\n{yaml}");
    }
    cx.run(["kube", "generate", "nothing-here"])
        .failure_with("no such container or pod: nothing-here");
}

const DEPLOYMENT: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  GREETING: hello from a config map
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: site
spec:
  replicas: 1
  selector:
    matchLabels: {app: site}
  template:
    metadata:
      labels: {app: site}
    spec:
      containers:
      - name: web
        image: busybox
        command: [sh, -c]
        args: ["echo \"$GREETING $MODE\" > /www/index.html; trap 'exit 0' TERM; busybox httpd -f -p 8080 -h /www & wait"]
        env:
        - name: GREETING
          valueFrom:
            configMapKeyRef: {name: settings, key: GREETING}
        envFrom:
        - configMapRef: {name: modes}
        ports:
        - containerPort: 8080
          hostPort: PORT
        volumeMounts:
        - {name: www, mountPath: /www}
      volumes:
      - name: www
        emptyDir: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: modes
data:
  MODE: fast
"#;

/// A Deployment and ConfigMaps: the pod `site-pod` answers on its hostPort with values it read
/// from the maps; `--down` removes all of it.
fn play_deployment_with_config_map(user: User) {
    let cx = TestContext::new(user);
    cx.import_busybox("busybox");
    let port = free_port();
    let file = write(
        &cx,
        "site.yaml",
        &DEPLOYMENT.replace("PORT", &port.to_string()),
    );
    let file = file.to_str().unwrap();
    cx.run(["kube", "play", file]).success();
    let answer = http_get(port, "/index.html", Duration::from_secs(10));
    assert!(
        answer.ends_with("hello from a config map fast\n"),
        "{answer}"
    );
    assert!(
        cx.ok(["ps", "--format", "{{.Names}}"])
            .contains("site-pod-web")
    );
    cx.run(["kube", "play", "--down", file]).success();
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
    assert_eq!(
        cx.ok(["volume", "ls", "-q"]),
        "",
        "the emptyDir volume goes with its container"
    );
}

as_users!(play_deployment_with_config_map =>
    play_deployment_with_config_map_sub: Sub,
    play_deployment_with_config_map_root: Root,
);

/// Bad files create nothing: an unsupported kind (named, with the supported ones), more than
/// one replica, and a play that fails part-way (an image that cannot be pulled) removes the
/// pod, its first container and the volume it made.
#[test]
fn bad_files_create_nothing() {
    require_users!();
    let cx = TestContext::new(User::Sub);
    cx.import_busybox("busybox");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: busybox, command: [sleep, '100'], volumeMounts: [{name: d, mountPath: /d}]}\n  volumes: [{name: d, persistentVolumeClaim: {claimName: pdata}}]\n";
    let kinds = write(
        &cx,
        "kinds.yaml",
        &format!("{pod}---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: x}}\n"),
    );
    cx.run(["kube", "play", kinds.to_str().unwrap()]).failure_with(
        "document 2: unsupported kind `DaemonSet`: berth kube play supports Pod, Deployment, ConfigMap",
    );
    let replicas = write(
        &cx,
        "replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 2\n  template: {spec: {containers: [{name: c, image: busybox}]}}\n",
    );
    cx.run(["kube", "play", replicas.to_str().unwrap()])
        .failure_with("replicas: 2");
    let broken = write(
        &cx,
        "broken.yaml",
        &format!("{pod}  - {{name: b, image: 'localhost:1/missing:latest'}}\n"),
    );
    let run = cx.run(["kube", "play", broken.to_str().unwrap()]);
    assert_ne!(run.code(), 0, "{}", run.describe());
    assert_eq!(cx.ok(["ps", "-a", "-q"]), "");
    assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
    assert_eq!(cx.ok(["volume", "ls", "-q"]), "");
}
