//! Plain HTTP(S) downloads (`image import URL`, later `ADD URL`), streamed to a writer.
//! TLS uses the system's certificate store, and the usual `HTTPS_PROXY`/`NO_PROXY` variables.

use std::io::Write;

use super::RegistryError;

/// Downloads `url` into `dest`; returns the number of bytes written. Non-2xx answers are errors.
pub fn download(url: &str, dest: &mut impl Write) -> Result<u64, RegistryError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RegistryError::Runtime)?;
    let request = |source| RegistryError::Request {
        url: url.to_owned(),
        source,
    };
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(request)?;
        let mut response = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(request)?;
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(request)? {
            dest.write_all(&chunk)
                .map_err(|source| RegistryError::Write {
                    url: url.to_owned(),
                    source,
                })?;
            written += chunk.len() as u64;
        }
        dest.flush().map_err(|source| RegistryError::Write {
            url: url.to_owned(),
            source,
        })?;
        Ok(written)
    })
}
