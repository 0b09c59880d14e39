//! Per-registry TLS files, as Docker and podman lay them out: `certs.d/HOST[:PORT]/` holds
//! CA certificates (`*.crt`, added to the system's roots for that registry only) and client
//! certificate pairs (`NAME.cert` with `NAME.key`). The first of the certs.d directories that
//! has a folder for the host is used, as containers/image does.

use std::path::{Path, PathBuf};

use super::RegistryError;

/// What certs.d says about one registry.
#[derive(Default)]
pub(crate) struct TlsFiles {
    /// Extra trusted roots.
    pub(crate) roots: Vec<reqwest::Certificate>,
    /// A client certificate and its key.
    pub(crate) identity: Option<reqwest::Identity>,
}

/// Reads `DIR/<registry>/` from the first of `dirs` that has it.
pub(crate) fn load(dirs: &[PathBuf], registry: &str) -> Result<TlsFiles, RegistryError> {
    let Some(dir) = dirs
        .iter()
        .map(|dir| dir.join(registry))
        .find(|dir| dir.is_dir())
    else {
        return Ok(TlsFiles::default());
    };
    let io = RegistryError::Io;
    let mut files: Vec<PathBuf> = fs_err::read_dir(&dir)
        .map_err(io)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    files.sort();
    let mut tls = TlsFiles::default();
    for path in &files {
        match path.extension().and_then(|e| e.to_str()) {
            Some("crt") => {
                let pem = fs_err::read(path).map_err(io)?;
                let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|source| bad(path, source))?;
                tls.roots.extend(certificates);
            }
            Some("cert") if tls.identity.is_none() => {
                let key = path.with_extension("key");
                if !key.exists() {
                    tracing::warn!(cert = %path.display(), "client certificate without its .key: ignored");
                    continue;
                }
                let mut pem = fs_err::read(path).map_err(io)?;
                pem.push(b'\n');
                pem.extend(fs_err::read(&key).map_err(io)?);
                tls.identity =
                    Some(reqwest::Identity::from_pem(&pem).map_err(|source| bad(path, source))?);
            }
            _ => {}
        }
    }
    Ok(tls)
}

fn bad(path: &Path, source: reqwest::Error) -> RegistryError {
    RegistryError::TlsFile {
        path: path.to_owned(),
        source,
    }
}

/// rustls's reason when `error` is a certificate verification failure (as opposed to a peer
/// that does not speak TLS at all, or a refused connection).
pub(crate) fn certificate_error(error: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(
            tls @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented),
        ) = current.downcast_ref::<rustls::Error>()
        {
            return Some(tls.to_string());
        }
        // tokio-rustls wraps rustls's error in io::Errors (two deep), whose `source` skips
        // the wrapped error: step into it instead.
        cause = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}
