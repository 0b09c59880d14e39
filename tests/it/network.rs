//! Rootless networking as the tutorial uses it: pasta by default, published TCP and UDP ports
//! (`-p`, ranges, `-P`), `port` and the PORTS column, outbound traffic and DNS, the host's
//! loopback as `host.containers.internal`, `--dns`/`--add-host`, slirp4netns, sharing another
//! container's network, and the errors for bad input.
//!
//! Everything runs as `berth-sub` unless the test says otherwise; the main path also runs as
//! `berth-nosub` (single ID) and root.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{TestContext, User, free_port};
use crate::{as_users, require_users};

fn busybox(user: User) -> TestContext {
    let cx = TestContext::new(user);
    cx.import_busybox("busybox");
    cx
}

/// GET / from 127.0.0.1:`port`, retrying until the server answers (or 10 s pass).
fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = TcpStream::connect(("127.0.0.1", port))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            if answer.is_empty() {
                return Err(std::io::Error::other("empty answer"));
            }
            Ok(answer)
        })();
        match attempt {
            Ok(answer) => return answer,
            Err(error) if Instant::now() > deadline => panic!("no answer on port {port}: {error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A web root with an index page, readable by the container.
fn web_root(cx: &TestContext, text: &str) -> String {
    let dir = cx.work().join("www");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("index.html"), text).unwrap();
    crate::support::chown_tree(&dir, cx.user);
    dir.display().to_string()
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// The tutorial's `run -d -p HOST:CONTAINER`, then `port`, `ps`, `stop`: the page is served
/// through the published port, and the port is free again as soon as `stop` returns.
fn published_web_server(user: User) {
    let cx = busybox(user);
    let www = web_root(&cx, "hello from berth\n");
    let port = free_port();
    let publish = format!("{port}:80");
    cx.ok([
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &publish,
        "-v",
        &format!("{www}:/www:ro"),
        "busybox",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let answer = http_get(port);
    assert!(answer.contains("hello from berth"), "{answer}");
    assert_eq!(
        cx.ok(["port", "web"]),
        format!("80/tcp -> 0.0.0.0:{port}\n")
    );
    assert_eq!(cx.ok(["port", "web", "80"]), format!("0.0.0.0:{port}\n"));
    let ps = cx.ok(["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert_eq!(ps, format!("web 0.0.0.0:{port}->80/tcp\n"));
    let inspect = cx.ok(["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"]);
    assert!(
        inspect.contains(&format!("\"HostPort\":\"{port}\"")),
        "{inspect}"
    );
    cx.ok(["stop", "-t", "1", "web"]);
    assert!(port_is_free(port), "port {port} is still bound after stop");
    assert_eq!(cx.ok(["port", "web"]), "");
    // Started again, it publishes the same port.
    cx.ok(["start", "web"]);
    assert!(http_get(port).contains("hello from berth"));
    cx.ok(["rm", "-f", "web"]);
    assert!(port_is_free(port), "port {port} is still bound after rm -f");
    // A foreground run frees it before it returns (pasta's tap device is deleted first, so
    // that its exit does not wait for the kernel), and leaves no helper behind.
    for _ in 0..3 {
        cx.ok(["run", "--rm", "-p", &publish, "busybox", "true"]);
        assert!(
            port_is_free(port),
            "port {port} is still bound after run --rm"
        );
    }
    assert!(no_helpers_of(&cx), "pasta outlived run --rm");
    // A command that cannot start ends the helper that was starting beside it, in the
    // foreground and in a detached monitor (regression: pasta outlived both).
    let run = cx.run(["run", "--rm", "-p", &publish, "busybox", "nonexist"]);
    assert_eq!(run.code(), 127, "{}", run.describe());
    let run = cx.run([
        "run", "-d", "--name", "broken", "-p", &publish, "busybox", "nonexist",
    ]);
    assert_eq!(run.code(), 127, "{}", run.describe());
    assert!(
        port_is_free(port),
        "port {port} is still bound after a failed start"
    );
    assert!(no_helpers_of(&cx), "pasta outlived a failed start");
    assert_eq!(
        cx.ok(["ps", "-a", "-q"]),
        "",
        "a failed run left its container"
    );
}

as_users!(published_web_server =>
    web_server_answers_through_a_published_port_as_sub: Sub,
    web_server_answers_through_a_published_port_as_nosub: NoSub,
    web_server_answers_through_a_published_port_as_root: Root,
);

/// `-p CONTAINER` and `-P` choose random host ports; ranges publish one port each.
#[test]
fn random_ports_ranges_and_publish_all() {
    require_users!();
    let cx = busybox(User::Sub);
    let www = web_root(&cx, "random\n");
    let volume = format!("{www}:/www:ro");
    cx.ok([
        "import",
        "--change",
        "EXPOSE 80",
        "--change",
        "CMD [\"busybox\", \"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]",
        cx.work().join("busybox.tar").to_str().unwrap(),
        "web:exposed",
    ]);
    cx.ok([
        "run",
        "-d",
        "--name",
        "all",
        "-P",
        "-v",
        &volume,
        "web:exposed",
    ]);
    let host = cx.ok(["port", "all", "80/tcp"]);
    let port: u16 = host.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(http_get(port).contains("random"));
    let base = free_port();
    let range = format!("127.0.0.1:{base}-{}:7000-7001", base + 1);
    cx.ok([
        "run",
        "-d",
        "--name",
        "range",
        "-p",
        &range,
        "-p",
        "127.0.0.1::9000",
        "busybox",
        "sleep",
        "100",
    ]);
    let ports = cx.ok(["port", "range"]);
    assert!(
        ports.contains(&format!("7000/tcp -> 127.0.0.1:{base}")),
        "{ports}"
    );
    assert!(
        ports.contains(&format!("7001/tcp -> 127.0.0.1:{}", base + 1)),
        "{ports}"
    );
    assert!(ports.contains("9000/tcp -> 127.0.0.1:"), "{ports}");
    let column = cx.ok(["ps", "--filter", "name=range", "--format", "{{.Ports}}"]);
    assert!(
        column.starts_with(&format!("127.0.0.1:{base}-{}->7000-7001/tcp", base + 1)),
        "{column}"
    );
}

/// A UDP echo server in the python fixture answers through a published UDP port. (Sent to
/// the host's own external address: Debian's 2023 pasta does not return UDP replies to
/// datagrams that came from the host's loopback.)
#[test]
fn udp_echo_through_a_published_port() {
    require_users!();
    let Some(python) = crate::support::cached_fixture("python.tar") else {
        return;
    };
    let cx = TestContext::new(User::Sub);
    cx.ok(["import", python.to_str().unwrap(), "python:fixture"]);
    let port = free_port();
    cx.ok([
        "run", "-d", "--name", "echo", "-p", &format!("{port}:5000/udp"), "python:fixture",
        "python3", "-c",
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5000))\nwhile True:\n d,a=s.recvfrom(100)\n s.sendto(d.upper(),a)",
    ]);
    let address = host_address().expect("the host has an external IPv4 address");
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buffer = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(15);
    let answer = loop {
        socket.send_to(b"ping", (address.as_str(), port)).unwrap();
        if let Ok((n, _)) = socket.recv_from(&mut buffer) {
            break String::from_utf8_lossy(&buffer[..n]).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no UDP answer on {address}:{port}"
        );
    };
    assert_eq!(answer, "PING");
}

/// The host's IPv4 address on its default route (what pasta gives the container too).
fn host_address() -> Option<String> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.123:9").ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

/// A server on the host's loopback, reached from a container as `host.containers.internal`
/// and `host.docker.internal`, through pasta and through slirp4netns.
#[test]
fn host_loopback_is_reachable_by_name() {
    require_users!();
    let cx = busybox(User::Sub);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..3 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nfromhost");
            let _ = stream.shutdown(Shutdown::Both);
        }
    });
    for (network, name) in [
        ("pasta", "host.containers.internal"),
        ("pasta", "host.docker.internal"),
        ("slirp4netns", "host.containers.internal"),
    ] {
        let url = format!("http://{name}:{port}/");
        let out = cx.ok([
            "run",
            "--rm",
            "--network",
            network,
            "busybox",
            "busybox",
            "wget",
            "-qO-",
            &url,
        ]);
        assert_eq!(out, "fromhost", "{network} {name}");
    }
    server.join().unwrap();
}

/// slirp4netns publishes ports too.
#[test]
fn slirp4netns_publishes_ports() {
    require_users!();
    let cx = busybox(User::Sub);
    let www = web_root(&cx, "via slirp\n");
    let port = free_port();
    cx.ok([
        "run",
        "-d",
        "--name",
        "slirp",
        "--network",
        "slirp4netns",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "-v",
        &format!("{www}:/www:ro"),
        "busybox",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert!(http_get(port).contains("via slirp"));
    cx.ok(["rm", "-f", "slirp"]);
    assert!(port_is_free(port));
}

/// `--network container:NAME` shares the namespace: localhost is the other container.
#[test]
fn a_container_joins_another_containers_network() {
    require_users!();
    let cx = busybox(User::Sub);
    let www = web_root(&cx, "shared\n");
    cx.ok([
        "run",
        "-d",
        "--name",
        "server",
        "-v",
        &format!("{www}:/www:ro"),
        "busybox",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/www",
    ]);
    let out = retry_ok(
        &cx,
        &[
            "run",
            "--rm",
            "--network",
            "container:server",
            "busybox",
            "busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1:8080/",
        ],
    );
    assert_eq!(out, "shared\n");
    cx.ok(["stop", "-t", "0", "server"]);
    let run = cx.run([
        "run",
        "--rm",
        "--network",
        "container:server",
        "busybox",
        "true",
    ]);
    assert_eq!(run.code(), 125, "{}", run.describe());
    assert!(
        run.stderr()
            .contains("cannot join the network of container server: it is not running"),
        "{}",
        run.describe()
    );
}

/// Runs berth until it succeeds (a server in another container may still be starting).
fn retry_ok(cx: &TestContext, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = cx.run(args);
        if run.code() == 0 {
            return run.stdout();
        }
        assert!(Instant::now() < deadline, "{}", run.describe());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The generated /etc files: the container's own name, `--add-host`, `--dns`,
/// `--dns-search`, `--dns-option`, and `--hostname`.
#[test]
fn etc_files_name_the_container_and_obey_the_flags() {
    require_users!();
    let cx = busybox(User::Sub);
    let out = cx.ok([
        "run",
        "--rm",
        "--name",
        "named",
        "--hostname",
        "box",
        "--add-host",
        "db:10.1.2.3",
        "--add-host",
        "gw:host-gateway",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:2",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts /etc/resolv.conf; hostname",
    ]);
    assert!(out.contains("\tbox named\n"), "{out}");
    assert!(out.contains("10.1.2.3\tdb\n"), "{out}");
    assert!(
        out.contains("host.containers.internal host.docker.internal\n"),
        "{out}"
    );
    assert!(out.contains("\tgw\n"), "{out}");
    assert!(out.contains("nameserver 192.0.2.53\n"), "{out}");
    assert!(out.contains("search example.test\n"), "{out}");
    assert!(out.contains("options ndots:2\n"), "{out}");
    assert!(out.ends_with("box\n"), "{out}");
}

/// Outbound traffic and DNS through pasta: a package registry over HTTP from busybox, and
/// `pip download` over HTTPS from the python fixture (skipped with a reason when the host
/// itself cannot reach them).
#[test]
fn containers_reach_package_registries() {
    require_users!();
    if TcpStream::connect_timeout(
        &match std::net::ToSocketAddrs::to_socket_addrs(&("deb.debian.org", 80))
            .ok()
            .and_then(|mut a| a.next())
        {
            Some(address) => address,
            None => {
                eprintln!("skipped: this machine cannot resolve deb.debian.org");
                return;
            }
        },
        Duration::from_secs(5),
    )
    .is_err()
    {
        eprintln!("skipped: this machine cannot reach deb.debian.org");
        return;
    }
    let cx = busybox(User::Sub);
    let out = cx.ok([
        "run",
        "--rm",
        "busybox",
        "busybox",
        "wget",
        "-qO-",
        "http://deb.debian.org/debian/dists/bookworm/Release",
    ]);
    assert!(out.contains("Origin: Debian"), "{out}");
    let Some(python) = crate::support::cached_fixture("python.tar") else {
        return;
    };
    cx.ok(["import", python.to_str().unwrap(), "python:fixture"]);
    let out = cx.ok([
        "run", "--rm", "python:fixture", "sh", "-c",
        "python3 -m pip download --no-deps --disable-pip-version-check -q -d /tmp/dl six && ls /tmp/dl",
    ]);
    assert!(out.contains("six-") && out.contains(".whl"), "{out}");
}

/// Bad input gets a clear error, and nothing is left running after a failed start.
#[test]
fn bad_network_input_is_refused_clearly() {
    require_users!();
    let cx = busybox(User::Sub);
    for (args, needle) in [
        (
            vec!["-p", "80:"],
            "invalid publish `80:`: the container port is missing",
        ),
        (vec!["-p", "99999:80"], "port 99999 is out of range"),
        (vec!["-p", "a:b"], "`b` is not a port number"),
        (vec!["--network", "bogus"], "unknown network mode `bogus`"),
        (
            vec!["--network", "none", "-p", "8000:80"],
            "cannot publish ports with --network none",
        ),
        (
            vec!["--network", "container:nosuch"],
            "No such container: nosuch",
        ),
        (vec!["-p", "80:80"], "net.ipv4.ip_unprivileged_port_start"),
    ] {
        let mut full = vec!["run", "--rm"];
        full.extend(args);
        full.extend(["busybox", "true"]);
        let run = cx.run(&full);
        assert_eq!(run.code(), 125, "{}", run.describe());
        assert!(
            run.stderr().contains(needle),
            "{needle}: {}",
            run.describe()
        );
    }
    // A host port in use is refused before the container starts, naming the port.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let run = cx.run([
        "run",
        "-d",
        "--name",
        "busy",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(run.code(), 125, "{}", run.describe());
    assert!(
        run.stderr()
            .contains(&format!("127.0.0.1:{port} is already in use")),
        "{}",
        run.describe()
    );
    let status = cx.ok([
        "ps",
        "-a",
        "--filter",
        "name=busy",
        "--format",
        "{{.Status}}",
    ]);
    assert!(!status.starts_with("Up"), "{status}");
    assert!(
        no_helpers_of(&cx),
        "a network helper outlived the failed start"
    );
    // Without pasta the default network names the package.
    let bin = cx.work().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    for tool in ["newuidmap", "newgidmap"] {
        std::os::unix::fs::symlink(Path::new("/usr/bin").join(tool), bin.join(tool)).unwrap();
    }
    let run = cx.run_with_env(
        ["run", "--rm", "busybox", "true"],
        &[("PATH", bin.to_str().unwrap())],
    );
    assert_eq!(run.code(), 125, "{}", run.describe());
    assert!(
        run.stderr().contains("install the `passt` package"),
        "{}",
        run.describe()
    );
}

/// Whether no pasta or slirp4netns of this context's store is running.
fn no_helpers_of(cx: &TestContext) -> bool {
    let store = cx.root().display().to_string();
    fs_err::read_dir("/proc").unwrap().flatten().all(|entry| {
        let cmdline = fs_err::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline);
        !(text.contains("pasta") || text.contains("slirp4netns")) || !text.contains(&store)
    })
}

/// Two containers in a pod share its network: they reach each other on localhost and by
/// name, the pod's published port reaches them, `pod stop` frees it, and `pod rm -f` leaves
/// nothing behind (no infra, no pasta, no containers).
#[test]
fn two_containers_in_a_pod() {
    require_users!();
    let cx = busybox(User::Sub);
    let www = web_root(&cx, "in the pod\n");
    let port = free_port();
    let id = cx.ok([
        "pod",
        "create",
        "--name",
        "app",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    cx.ok([
        "run",
        "-d",
        "--pod",
        "app",
        "--name",
        "server",
        "-v",
        &format!("{www}:/www:ro"),
        "busybox",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/www",
    ]);
    assert!(http_get(port).contains("in the pod"));
    let out = retry_ok(
        &cx,
        &[
            "run",
            "--rm",
            "--pod",
            "app",
            "--name",
            "client",
            "busybox",
            "sh",
            "-c",
            "busybox wget -qO- http://server:8080/ && busybox wget -qO- http://127.0.0.1:8080/",
        ],
    );
    assert_eq!(out, "in the pod\nin the pod\n");
    let listed = cx.ok(["pod", "ls"]);
    assert!(
        listed.contains("app") && listed.contains("Running"),
        "{listed}"
    );
    let inspect = cx.ok(["pod", "inspect", "app"]);
    assert!(inspect.contains("\"server\""), "{inspect}");
    let run = cx.run([
        "run", "--rm", "--pod", "app", "-p", "9000:80", "busybox", "true",
    ]);
    assert!(
        run.stderr().contains("publish them on the pod"),
        "{}",
        run.describe()
    );
    cx.ok(["pod", "stop", "-t", "1", "app"]);
    assert!(
        port_is_free(port),
        "the pod's port is still bound after pod stop"
    );
    assert!(cx.ok(["pod", "ls"]).contains("Stopped"));
    cx.ok(["pod", "start", "app"]);
    assert!(http_get(port).contains("in the pod"));
    cx.ok(["pod", "rm", "-f", "app"]);
    assert!(port_is_free(port));
    assert_eq!(cx.ok(["pod", "ls", "-q"]), "");
    assert_eq!(cx.ok(["ps", "-aq"]), "");
    assert!(no_helpers_of(&cx), "pasta outlived pod rm");
    let store = cx.root().display().to_string();
    let infra_left = fs_err::read_dir("/proc").unwrap().flatten().any(|entry| {
        let text = String::from_utf8_lossy(
            &fs_err::read(entry.path().join("cmdline")).unwrap_or_default(),
        )
        .into_owned();
        text.contains("__pod-infra") && text.contains(&store)
    });
    assert!(!infra_left, "the pod's infra outlived pod rm");
}
