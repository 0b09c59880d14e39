//! A private `docker-registry` (Debian's build of distribution) on a free loopback port, its
//! storage in a temp dir; killed when the guard drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The registry program.
const PROGRAM: &str = "/usr/bin/docker-registry";

/// One running registry.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Config, storage and log.
    pub dir: tempfile::TempDir,
    child: Child,
}

/// Skips (printing why) or, under `BERTH_TEST_REQUIRE_ROOTLESS`, fails.
pub fn skip(reason: &str) {
    if std::env::var_os("BERTH_TEST_REQUIRE_ROOTLESS").is_some() {
        panic!("{reason}");
    }
    eprintln!("skipped: {reason}");
}

impl Registry {
    /// Starts an open registry; `None` (after printing why) when docker-registry is missing.
    pub fn start() -> Option<Self> {
        Self::start_with("")
    }

    /// Starts a registry that wants `user`/`password` (htpasswd Basic auth); `None` when the
    /// registry or a bcrypt tool is missing.
    pub fn start_with_basic_auth(user: &str, password: &str) -> Option<Self> {
        let line = htpasswd_line(user, password)?;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        fs_err::write(&path, format!("{line}\n")).unwrap();
        let extra = format!(
            "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
            path.display()
        );
        Self::start_in(dir, &extra)
    }

    /// Starts a registry serving HTTPS with a certificate for 127.0.0.1 signed by a fresh CA;
    /// returns it and the CA certificate (PEM). `None` when docker-registry or openssl is
    /// missing.
    pub fn start_tls() -> Option<(Self, Vec<u8>)> {
        if !crate::support::command_exists("openssl") {
            skip("openssl is needed for the TLS registry test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, ca) = make_certificates(dir.path());
        // Indented: these lines land under the config's `http:`.
        let extra = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        );
        let ca = fs_err::read(ca).unwrap();
        Self::start_in(dir, &extra).map(|registry| (registry, ca))
    }

    fn start_with(extra: &str) -> Option<Self> {
        Self::start_in(tempfile::tempdir().unwrap(), extra)
    }

    fn start_in(dir: tempfile::TempDir, extra: &str) -> Option<Self> {
        if !std::path::Path::new(PROGRAM).exists() {
            skip("docker-registry is not installed (apt-get install docker-registry)");
            return None;
        }
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        fs_err::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{extra}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = fs_err::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(PROGRAM)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.file().try_clone().unwrap())
            .stderr(log.into_file())
            .spawn()
            .unwrap();
        let registry = Self { host, dir, child };
        registry.wait_ready();
        Some(registry)
    }

    /// Polls `GET /v2/` until it answers (any status).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(&self.host) {
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not start on {}:\n{}",
            self.host,
            fs_err::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// A reference in this registry: `127.0.0.1:PORT/<path>`.
    pub fn image(&self, path: &str) -> String {
        format!("{}/{path}", self.host)
    }

    /// The file holding a blob in the registry's storage.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA, and a server certificate for IP 127.0.0.1 that it signed, with openssl; returns
/// the server's certificate and key and the CA's certificate.
fn make_certificates(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509", "-days", "2", "-subj", "/CN=berth test CA"][..],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ][..],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-subj", "/CN=127.0.0.1"][..],
            &ec[..],
            &["-keyout", "server.key", "-out", "server.csr"][..],
        ]
        .concat(),
    );
    fs_err::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    (
        dir.join("server.crt"),
        dir.join("server.key"),
        dir.join("ca.crt"),
    )
}

/// A bcrypt htpasswd line, by `htpasswd -Bbn` (apache2-utils) or Python's crypt module.
fn htpasswd_line(user: &str, password: &str) -> Option<String> {
    let from = |output: std::io::Result<std::process::Output>| {
        output
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|line| line.contains(":$2"))
    };
    from(
        Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output(),
    )
    .or_else(|| {
        from(
            Command::new("python3")
                .args([
                    "-W",
                    "ignore",
                    "-c",
                    "import crypt,sys; print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
                    user,
                    password,
                ])
                .output(),
        )
    })
    .or_else(|| {
        skip("neither htpasswd (apache2-utils) nor Python's crypt can make a bcrypt password");
        None
    })
}
