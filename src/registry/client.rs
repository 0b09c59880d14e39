//! A small client of the distribution API (OCI distribution spec v1.1), built on reqwest:
//! the `/v2/` ping and its auth handshake (anonymous or credentialed Bearer tokens, Basic),
//! manifests, blobs and uploads for one repository.
//!
//! We speak the protocol ourselves rather than through `oci-client`: reqwest and tokio were
//! already in the tree, what berth needs is a dozen requests, and owning them lets blobs stream
//! straight into `storage::BlobWriter` (verified while written) and lets uploads stream from
//! the store's files.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use super::RegistryError;
use super::auth::{AuthFiles, Challenge, Credentials, parse_challenge};
use super::endpoint::{Endpoint, registry_insecure};
use super::tls;
use crate::config::paths;
use crate::config::registries::Registries;
use crate::oci::media_type;

/// Longest wait for a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence while reading an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest manifest or error body read into memory.
pub(crate) const DOCUMENT_LIMIT: usize = 8 << 20;
/// schema1 media types: asked for, so that a schema1-only image gets a clear error.
pub(crate) const SCHEMA1_TYPES: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Where credentials are.
    pub auth: AuthFiles,
    /// registries.conf and berth.toml: locations, mirrors, insecure and blocked registries.
    pub registries: Registries,
    /// The certs.d directories, in the order searched.
    pub certs_dirs: Vec<PathBuf>,
    /// `--tls-verify`: `Some(true)` wants verified HTTPS even for an insecure registry,
    /// `Some(false)` allows plain HTTP and unverified TLS anywhere, `None` follows the config.
    pub tls_verify: Option<bool>,
}

impl ClientOptions {
    /// The user's credentials, registries configuration and certs.d directories.
    pub fn load() -> Result<Self, RegistryError> {
        let registries = Registries::load()?;
        super::short_name::check_aliases(&registries)?;
        Ok(Self {
            auth: AuthFiles::from_env(),
            registries,
            certs_dirs: paths::certs_dirs(),
            tls_verify: None,
        })
    }
}

/// How strictly a registry's transport is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// HTTPS, verified against the system's roots plus certs.d.
    Verified,
    /// Loopback without configuration: verified HTTPS when the registry speaks TLS, else plain
    /// HTTP (Docker lets 127.0.0.0/8 use HTTP; trying TLS first lets a TLS registry there work).
    Loopback,
    /// `insecure = true` or `--tls-verify=false`: unverified HTTPS, else plain HTTP, as
    /// podman does.
    Insecure,
}

fn security(endpoint: &Endpoint, tls_verify: Option<bool>) -> Security {
    match tls_verify {
        Some(true) => Security::Verified,
        Some(false) => Security::Insecure,
        None if endpoint.insecure => Security::Insecure,
        None if is_loopback(&endpoint.registry) => Security::Loopback,
        None => Security::Verified,
    }
}

/// The base URLs to try for `registry`: HTTPS, then maybe plain HTTP. Docker Hub's API lives
/// at `registry-1.docker.io`.
fn base_urls(registry: &str, security: Security) -> (String, Option<String>) {
    let host = if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    };
    let plain = match security {
        Security::Verified => None,
        Security::Loopback | Security::Insecure => Some(format!("http://{host}")),
    };
    (format!("https://{host}"), plain)
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.split(':').next().unwrap_or(host),
    };
    name == "localhost"
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A connection to one repository of one registry, authenticated for some actions.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    registry: String,
    repository: String,
    /// Where a CA for this registry would go, for the hint of a certificate error.
    certs_dir: PathBuf,
    actions: &'static str,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
}

/// The Accept header for manifests: every format we read, and schema1 to refuse it clearly.
fn manifest_accept() -> String {
    [
        media_type::OCI_INDEX,
        media_type::DOCKER_MANIFEST_LIST,
        media_type::OCI_MANIFEST,
        media_type::DOCKER_MANIFEST,
    ]
    .iter()
    .chain(SCHEMA1_TYPES.iter())
    .copied()
    .collect::<Vec<_>>()
    .join(", ")
}

impl Client {
    /// Connects to `endpoint` and authenticates for `actions` (`pull` or `pull,push`); an
    /// empty repository is a bare login check. Tries HTTPS, then plain HTTP where allowed.
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        actions: &'static str,
        credentials: Option<Credentials>,
        options: &ClientOptions,
    ) -> Result<Self, RegistryError> {
        let security = security(endpoint, options.tls_verify);
        let tls = tls::load(&options.certs_dirs, &endpoint.registry)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT);
        if !tls.roots.is_empty() {
            builder = builder.tls_certs_merge(tls.roots);
        }
        if let Some(identity) = tls.identity {
            builder = builder.identity(identity);
        }
        if security == Security::Insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if is_loopback(&endpoint.registry) {
            // A loopback registry is never behind the user's proxy.
            builder = builder.no_proxy();
        }
        let (https, http) = base_urls(&endpoint.registry, security);
        let client = builder.build().map_err(|source| RegistryError::Request {
            url: https.clone(),
            source,
        })?;
        let mut client = Self {
            http: client,
            base: String::new(),
            registry: endpoint.registry.clone(),
            repository: endpoint.repository.clone(),
            certs_dir: options
                .certs_dirs
                .first()
                .map_or_else(PathBuf::new, |dir| dir.join(&endpoint.registry)),
            actions,
            credentials,
            authorization: Mutex::new(None),
        };
        let response = match (client.ping(https).await, http) {
            (Err(error), Some(http)) if !matches!(error, RegistryError::Certificate { .. }) => {
                tracing::debug!(registry = %endpoint.registry, error = %error, "trying plain HTTP");
                client.ping(http).await?
            }
            (result, _) => result?,
        };
        client.authenticate_with(response).await?;
        Ok(client)
    }

    /// `GET BASE/v2/`; on an answer, `BASE` is this client's base URL.
    async fn ping(&mut self, base: String) -> Result<Response, RegistryError> {
        let url = format!("{base}/v2/");
        let response = self.execute(self.http.get(&url), &url).await?;
        self.base = base;
        Ok(response)
    }

    /// Builds a client from the credentials stored for the endpoint's registry.
    pub(crate) async fn connect_with(
        endpoint: &Endpoint,
        actions: &'static str,
        options: &ClientOptions,
    ) -> Result<Self, RegistryError> {
        let credentials = options.auth.lookup(&endpoint.registry)?;
        Self::connect(endpoint, actions, credentials, options).await
    }

    /// `GET /v2/`, then whatever its challenge asks for. Leaves the header to send (if any)
    /// in `self.authorization`.
    async fn authenticate(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let response = self.execute(self.http.get(&url), &url).await?;
        self.authenticate_with(response).await
    }

    /// [`Client::authenticate`], given the answer of `GET /v2/`.
    async fn authenticate_with(&self, response: Response) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        if response.status().is_success() {
            return Ok(());
        }
        if response.status() != StatusCode::UNAUTHORIZED {
            return Err(error_of(response, &url).await);
        }
        let challenge = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(parse_challenge)
            .next();
        let header = match challenge {
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let scope = if self.repository.is_empty() {
                    scope
                } else {
                    Some(format!("repository:{}:{}", self.repository, self.actions))
                };
                let token = self
                    .fetch_token(&realm, service.as_deref(), scope.as_deref())
                    .await?;
                format!("Bearer {token}")
            }
            Some(Challenge::Basic) => {
                let Some(credentials) = &self.credentials else {
                    return Err(self.unauthorized());
                };
                let header = format!("Basic {}", credentials.encode());
                // Check them now: a wrong password should fail here, not in the middle.
                let response = self
                    .execute(self.http.get(&url).header(AUTHORIZATION, &header), &url)
                    .await?;
                if response.status() == StatusCode::UNAUTHORIZED {
                    return Err(self.unauthorized());
                }
                if !response.status().is_success() {
                    return Err(error_of(response, &url).await);
                }
                header
            }
            None => return Err(self.unauthorized()),
        };
        *self
            .authorization
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(header);
        Ok(())
    }

    fn unauthorized(&self) -> RegistryError {
        if self.credentials.is_some() {
            RegistryError::BadCredentials {
                registry: self.registry.clone(),
            }
        } else {
            RegistryError::Unauthorized {
                registry: self.registry.clone(),
            }
        }
    }

    /// The token flow of the distribution spec: `GET realm?service=…&scope=…`, with Basic
    /// credentials when we have some (anonymous otherwise).
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<String, RegistryError> {
        let mut url = Url::parse(realm).map_err(|error| RegistryError::Api {
            url: realm.to_owned(),
            status: 401,
            message: format!("the registry named an invalid token endpoint: {error}"),
        })?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            if let Some(scope) = scope {
                query.append_pair("scope", scope);
            }
        }
        let text = url.to_string();
        let mut request = self.http.get(url);
        if let Some(credentials) = &self.credentials {
            request = request.basic_auth(&credentials.username, Some(&credentials.password));
        }
        let response = self.execute(request, &text).await?;
        if matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(self.unauthorized());
        }
        if !response.status().is_success() {
            return Err(error_of(response, &text).await);
        }
        let body = read_limited(response, &text).await?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|error| RegistryError::Api {
                url: text.clone(),
                status: 200,
                message: format!("the token answer is not JSON: {error}"),
            })?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| RegistryError::Api {
                url: text,
                status: 200,
                message: "the token answer has no token".to_owned(),
            })
    }

    /// Sends a request, mapping transport failures to [`RegistryError::Unreachable`].
    async fn execute(&self, request: RequestBuilder, url: &str) -> Result<Response, RegistryError> {
        request.send().await.map_err(|source| {
            if let Some(reason) = tls::certificate_error(&source) {
                RegistryError::Certificate {
                    registry: self.registry.clone(),
                    reason,
                    certs_dir: self.certs_dir.clone(),
                }
            } else if source.is_connect() || source.is_timeout() {
                RegistryError::Unreachable {
                    registry: self.registry.clone(),
                    source,
                }
            } else {
                RegistryError::Request {
                    url: url.to_owned(),
                    source,
                }
            }
        })
    }

    /// A request to `/v2/<repository>/<path>` (or an absolute URL) with our Authorization.
    pub(crate) fn request(&self, method: Method, path_or_url: &str) -> (RequestBuilder, String) {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}/v2/{}/{path_or_url}", self.base, self.repository)
        };
        let mut request = self.http.request(method, &url);
        if let Some(header) = self
            .authorization
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            request = request.header(AUTHORIZATION, header);
        }
        (request, url)
    }

    /// Sends a request built by [`Client::request`]; a 401 on a request without a body
    /// (an expired token) re-authenticates once and retries.
    pub(crate) async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        extra: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let (request, url) = self.request(method.clone(), path_or_url);
        let response = self.execute(extra(request), &url).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        self.authenticate().await?;
        let (request, url) = self.request(method, path_or_url);
        self.execute(extra(request), &url).await
    }

    /// `GET /v2/<repo>/manifests/<reference>`: the bytes, and the media type (the answer's
    /// Content-Type, else the document's own `mediaType`).
    pub(crate) async fn manifest(
        &self,
        tag_or_digest: &str,
        shown: &str,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let accept = manifest_accept();
        let response = self
            .send(
                Method::GET,
                &format!("manifests/{tag_or_digest}"),
                |request| request.header(ACCEPT, &accept),
            )
            .await?;
        let url = response.url().to_string();
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::ManifestUnknown {
                reference: shown.to_owned(),
            });
        }
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.unauthorized());
        }
        if !response.status().is_success() {
            return Err(error_of(response, &url).await);
        }
        let content_type = content_type(response.headers());
        let body = read_limited(response, &url).await?;
        Ok((body, content_type))
    }

    /// Maps a non-success answer to an error (401 to [`RegistryError::Unauthorized`]).
    pub(crate) async fn fail(&self, response: Response) -> RegistryError {
        if response.status() == StatusCode::UNAUTHORIZED {
            return self.unauthorized();
        }
        let url = response.url().to_string();
        error_of(response, &url).await
    }
}

/// `login`: checks `credentials` against `registry` (its `/v2/` with Basic, or its token
/// endpoint), in a runtime of its own.
pub fn login(
    registry: &str,
    credentials: Credentials,
    options: &ClientOptions,
) -> Result<(), RegistryError> {
    let endpoint = Endpoint {
        insecure: registry_insecure(&options.registries, registry),
        ..Endpoint::direct(registry, "")
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RegistryError::Runtime)?;
    runtime.block_on(async {
        Client::connect(&endpoint, "pull", Some(credentials), options)
            .await
            .map(drop)
    })
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or(value).trim().to_owned())
        .unwrap_or_default()
}

/// Reads a whole (small) body, refusing more than [`DOCUMENT_LIMIT`] bytes.
pub(crate) async fn read_limited(
    mut response: Response,
    url: &str,
) -> Result<Vec<u8>, RegistryError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| RegistryError::Request {
            url: url.to_owned(),
            source,
        })?
    {
        if body.len() + chunk.len() > DOCUMENT_LIMIT {
            return Err(RegistryError::Api {
                url: url.to_owned(),
                status: response.status().as_u16(),
                message: format!("the answer is larger than {DOCUMENT_LIMIT} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error answer, in the registry's words: `{"errors":[{"code","message"}]}` becomes
/// `code: message` (`manifest unknown: manifest unknown`), else the body's first line.
async fn error_of(response: Response, url: &str) -> RegistryError {
    let status = response.status().as_u16();
    let body = read_limited(response, url).await.unwrap_or_default();
    RegistryError::Api {
        url: url.to_owned(),
        status,
        message: error_message(&body),
    }
}

/// The message of an error body (see [`error_of`]).
pub(crate) fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let errors = parsed
        .as_ref()
        .and_then(|json| json.get("errors"))
        .and_then(serde_json::Value::as_array);
    if let Some(errors) = errors {
        let messages: Vec<String> = errors
            .iter()
            .map(|error| {
                let code = error
                    .get("code")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("error")
                    .to_ascii_lowercase()
                    .replace('_', " ");
                match error.get("message").and_then(serde_json::Value::as_str) {
                    Some(message) => format!("{code}: {message}"),
                    None => code,
                }
            })
            .collect();
        if !messages.is_empty() {
            return messages.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "no details".to_owned()
    } else {
        line.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(registry: &str, insecure: bool, tls_verify: Option<bool>) -> (String, Option<String>) {
        let endpoint = Endpoint {
            insecure,
            ..Endpoint::direct(registry, "x")
        };
        base_urls(registry, security(&endpoint, tls_verify))
    }

    fn both(host: &str) -> (String, Option<String>) {
        (format!("https://{host}"), Some(format!("http://{host}")))
    }

    fn tls_only(host: &str) -> (String, Option<String>) {
        (format!("https://{host}"), None)
    }

    #[test]
    fn loopback_registries_may_use_plain_http() {
        for host in [
            "localhost:5000",
            "localhost",
            "127.0.0.1:41234",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert_eq!(urls(host, false, None), both(host), "{host}");
            assert_eq!(urls(host, false, Some(true)), tls_only(host), "{host}");
        }
        assert_eq!(
            urls("docker.io", false, None),
            tls_only("registry-1.docker.io")
        );
        for host in [
            "quay.io",
            "ghcr.io:443",
            "localhost.example",
            "128.0.0.1:5000",
        ] {
            assert_eq!(urls(host, false, None), tls_only(host), "{host}");
        }
    }

    #[test]
    fn insecure_registries_and_tls_verify_false_allow_plain_http() {
        assert_eq!(urls("r.example:5000", true, None), both("r.example:5000"));
        assert_eq!(urls("r.example", false, Some(false)), both("r.example"));
        assert_eq!(urls("r.example", true, Some(true)), tls_only("r.example"));
        let insecure = Endpoint {
            insecure: true,
            ..Endpoint::direct("r.example", "x")
        };
        assert_eq!(security(&insecure, None), Security::Insecure);
        assert_eq!(
            security(&Endpoint::direct("127.0.0.1:1", "x"), None),
            Security::Loopback
        );
    }

    #[test]
    fn error_bodies_become_messages() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(error_message(body), "manifest unknown: manifest unknown");
        assert_eq!(error_message(b"<html>\nbad gateway"), "<html>");
        assert_eq!(error_message(b""), "no details");
    }
}
