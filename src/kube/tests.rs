use std::path::Path;

use super::*;

const FILE: &str = r"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {GREETING: hello, MODE: fast}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: busybox
        command: [busybox, httpd]
        args: [-f, -p, '8080']
        ports:
        - {containerPort: 8080, hostPort: 18080}
        - {containerPort: 9090, protocol: UDP}
        env:
        - {name: PLAIN, value: x}
        - name: FROM_MAP
          valueFrom: {configMapKeyRef: {name: settings, key: GREETING}}
        envFrom:
        - configMapRef: {name: settings}
          prefix: CFG_
        volumeMounts:
        - {name: www, mountPath: /www, readOnly: true}
        - {name: data, mountPath: /data}
        - {name: scratch, mountPath: /tmp}
        securityContext:
          runAsUser: 1000
          capabilities: {add: [NET_ADMIN], drop: [ALL]}
      volumes:
      - {name: www, hostPath: {path: /srv/www, type: Directory}}
      - {name: data, persistentVolumeClaim: {claimName: webdata}}
      - {name: scratch, emptyDir: {medium: Memory}}
";

#[test]
fn a_deployment_with_a_config_map_becomes_one_pod() {
    let documents = parse_documents(Path::new("k.yaml"), FILE).unwrap();
    let pods = plan(&documents).unwrap();
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(pod.name, "web-pod");
    assert_eq!(pod.restart, "no");
    assert_eq!(
        pod.ports,
        vec![PortPlan {
            host_ip: String::new(),
            host_port: 18080,
            container_port: 8080,
            protocol: "tcp".to_owned()
        }]
    );
    let app = &pod.containers[0];
    assert_eq!(app.name, "web-pod-app");
    assert_eq!(
        app.entrypoint.as_deref(),
        Some(&["busybox".to_owned(), "httpd".to_owned()][..])
    );
    assert_eq!(app.args, ["-f", "-p", "8080"]);
    let env: Vec<String> = app.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        env,
        [
            "CFG_GREETING=hello",
            "CFG_MODE=fast",
            "PLAIN=x",
            "FROM_MAP=hello"
        ]
    );
    let kinds: Vec<(MountKind, &str)> = app
        .mounts
        .iter()
        .map(|m| (m.kind, m.source.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (MountKind::Bind, "/srv/www"),
            (MountKind::Volume, "webdata"),
            (MountKind::Tmpfs, "")
        ]
    );
    assert!(app.mounts[0].read_only);
    assert_eq!(app.user.as_deref(), Some("1000"));
    assert_eq!(app.cap_drop, ["ALL"]);
}

#[test]
fn an_unsupported_kind_is_named_with_the_supported_ones() {
    let text = "kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: busybox}]}\n---\nkind: DaemonSet\nmetadata: {name: d}\n";
    let error = parse_documents(Path::new("k.yaml"), text)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "`k.yaml`: document 2: unsupported kind `DaemonSet`: berth kube play supports Pod, Deployment, ConfigMap (and Service, which is ignored)"
    );
}

#[test]
fn bad_requests_are_refused_before_anything_is_made() {
    let cases = [
        (
            "kind: Deployment\nmetadata: {name: d}\nspec: {replicas: 3, template: {spec: {containers: [{name: c, image: i}]}}}",
            "replicas: 3",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]}",
            "only configMapKeyRef",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, env: [{name: A, valueFrom: {configMapKeyRef: {name: nope, key: k}}}]}]}",
            "ConfigMap \"nope\" is not in the file",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, volumeMounts: [{name: v, mountPath: /v}]}], volumes: [{name: v, nfs: {server: s, path: /}}]}",
            "nfs: supported sources",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, volumeMounts: [{name: v, mountPath: /v}]}]}",
            "no such volume",
        ),
    ];
    for (text, needle) in cases {
        let error = parse_documents(Path::new("k.yaml"), text).and_then(|d| plan(&d));
        let message = error.unwrap_err().to_string();
        assert!(message.contains(needle), "{needle}: {message}");
    }
}

#[test]
fn object_names_are_dns_labels() {
    assert_eq!(object_name("My_App.1"), "my-app-1");
    assert_eq!(object_name("/srv/www"), "srv-www");
    assert_eq!(object_name("__"), "berth");
}

#[test]
fn written_yaml_reads_back() {
    let pod = model::Pod {
        api_version: "v1".to_owned(),
        kind: "Pod".to_owned(),
        metadata: model::ObjectMeta {
            name: "p".to_owned(),
            ..model::ObjectMeta::default()
        },
        spec: model::PodSpec {
            containers: vec![model::Container {
                name: "c".to_owned(),
                image: "docker.io/library/busybox:latest".to_owned(),
                ..model::Container::default()
            }],
            volumes: vec![model::Volume {
                name: "t".to_owned(),
                empty_dir: Some(model::EmptyDirSource::default()),
                ..model::Volume::default()
            }],
            ..model::PodSpec::default()
        },
    };
    let text = to_yaml(&[&pod, &pod]).unwrap();
    assert!(text.contains("emptyDir: {}"), "{text}");
    let documents = parse_documents(Path::new("k.yaml"), &text).unwrap();
    assert_eq!(
        documents,
        vec![Document::Pod(pod.clone()), Document::Pod(pod)]
    );
}
