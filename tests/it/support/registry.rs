//! A private `docker-registry` (Debian's build of distribution) on a free loopback port, its
//! storage in a temp dir; killed when the guard drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

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

    /// Starts a registry with distribution's token auth, and the token server it sends
    /// clients to; `None` when docker-registry or openssl is missing.
    pub fn start_with_token_auth(user: &str, password: &str) -> Option<(Self, TokenServer)> {
        if !crate::support::command_exists("openssl") {
            skip("openssl is needed for the token auth registry test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let server = TokenServer::start(dir.path(), user, password);
        let extra = format!(
            "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
            server.realm,
            dir.path().join("token.crt").display()
        );
        Self::start_in(dir, &extra).map(|registry| (registry, server))
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

/// The `service` the token registry names, and the audience of its tokens.
const TOKEN_SERVICE: &str = "berth-registry";
/// The issuer the token registry trusts.
const TOKEN_ISSUER: &str = "berth-token-server";

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `scope` asked for (empty for a login's).
    pub scope: String,
    /// The user whose Basic credentials came (`None`: anonymous).
    pub user: Option<String>,
    /// The actions granted (`None`: refused with 401).
    pub granted: Option<Vec<String>>,
}

/// A token endpoint in the way of Docker Hub's: anonymous clients get pull access, `user`
/// with `password` gets what it asks; tokens are JWTs (RS256, the certificate in `x5c`)
/// signed with `openssl dgst`. Stops when dropped.
pub struct TokenServer {
    /// `http://127.0.0.1:PORT/token`.
    pub realm: String,
    /// Every request, in order.
    pub requests: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
    address: String,
}

impl TokenServer {
    fn start(dir: &std::path::Path, user: &str, password: &str) -> Self {
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(output.status.success(), "openssl {args:?}: {output:?}");
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=berth token server",
            "-keyout",
            "token.key",
            "-out",
            "token.crt",
        ]);
        openssl(&[
            "x509",
            "-in",
            "token.crt",
            "-outform",
            "DER",
            "-out",
            "token.der",
        ]);
        let signer = Signer {
            key: dir.join("token.key"),
            certificate: STANDARD.encode(fs_err::read(dir.join("token.der")).unwrap()),
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let credentials = format!("{user}:{password}");
        {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve_token(stream, &signer, &credentials, &requests);
                    }
                }
            });
        }
        Self {
            realm: format!("http://{address}/token"),
            requests,
            stop,
            address,
        }
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(&self.address);
    }
}

/// Signs JWTs with the token server's key.
struct Signer {
    key: PathBuf,
    /// The certificate, DER in base64, for the `x5c` header distribution verifies against
    /// its `rootcertbundle`.
    certificate: String,
}

impl Signer {
    fn token(&self, subject: &str, access: &serde_json::Value) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.certificate]});
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{now}-{}", unique_suffix()),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "openssl dgst -sign: {output:?}");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(output.stdout))
    }
}

/// A token ID unique enough for one test run.
fn unique_suffix() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// Answers one `GET /token?service=…&scope=repository:NAME:ACTIONS`.
fn serve_token(
    mut stream: TcpStream,
    signer: &Signer,
    credentials: &str,
    requests: &Mutex<Vec<TokenRequest>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let Some(target) = head.split_whitespace().nth(1) else {
        return;
    };
    let url = reqwest::Url::parse(&format!("http://token{target}")).unwrap();
    let scope = url
        .query_pairs()
        .find(|(key, _)| key == "scope")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let basic = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        (name.eq_ignore_ascii_case("authorization") && value.starts_with("Basic "))
            .then(|| STANDARD.decode(&value[6..]).ok())
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    });
    let user = basic.as_deref().map(|text| {
        text.split_once(':')
            .map_or(text, |(user, _)| user)
            .to_owned()
    });
    let refused = basic.as_deref().is_some_and(|text| text != credentials);
    let mut parts = scope.splitn(3, ':');
    let (kind, name, asked) = (parts.next(), parts.next(), parts.next());
    let granted: Vec<String> = asked
        .unwrap_or_default()
        .split(',')
        .filter(|action| !action.is_empty() && (user.is_some() || *action == "pull"))
        .map(str::to_owned)
        .collect();
    let answer = if refused {
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
    } else {
        let access = match (kind, name) {
            (Some(kind), Some(name)) => {
                serde_json::json!([{"type": kind, "name": name, "actions": granted}])
            }
            _ => serde_json::json!([]),
        };
        let token = signer.token(user.as_deref().unwrap_or_default(), &access);
        let body = serde_json::json!({"token": token, "access_token": token}).to_string();
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    requests.lock().unwrap().push(TokenRequest {
        scope,
        user,
        granted: (!refused).then_some(granted),
    });
    let _ = stream.write_all(answer.as_bytes());
}
