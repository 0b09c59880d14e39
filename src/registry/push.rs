//! `push`: every blob the registry lacks (asked with HEAD) is mounted from another repository
//! of the registry that the image is also named in, else uploaded (`POST` an upload session,
//! then one `PUT …?digest=` streaming the store's file, or for a large blob `PATCH`es of
//! chunks before an empty `PUT`), the config too, then
//! the manifest with its bytes exactly as stored, so its digest is the same there.
//!
//! Layers go up as they are stored: berth keeps imported and built layers uncompressed
//! (`application/vnd.oci.image.layer.v1.tar`, digest = diff ID) and registries accept those,
//! so no recompression happens and the manifest needs no rewrite.

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};

use super::RegistryError;
use super::client::{Client, ClientOptions};
use super::endpoint;
use super::reporter::{PushEvent, PushReporter};
use crate::oci::image::{Descriptor, Manifest};
use crate::oci::{Digest, Reference, media_type};
use crate::storage::Store;

/// How many blobs upload at once (Docker's default `max-concurrent-uploads` is 5).
pub const DEFAULT_JOBS: usize = 5;

/// How often the bytes sent are reported while uploads run.
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// Where a blob's upload tells how far it got: the blob, bytes sent, bytes in all. A channel,
/// because the body streams that send must be `Send + 'static` and the reporter is neither.
type Sent = mpsc::Sender<(Digest, u64, u64)>;

/// Options of a push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Credentials.
    pub client: ClientOptions,
    /// Parallel uploads.
    pub jobs: usize,
    /// The image's other names: where one is a repository of the destination's registry, the
    /// registry has the image's blobs there (it was pulled from or pushed to it), and they are
    /// mounted rather than uploaded again.
    pub mount_from: Vec<Reference>,
}

/// What happened to one blob.
enum Uploaded {
    /// The registry had it.
    Exists,
    /// Linked from another repository of the registry.
    Mounted(String),
    /// Sent.
    Pushed,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The manifest digest, as the registry now serves it.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
    /// The tag (or digest) it was pushed under.
    pub tag: String,
}

/// Pushes the stored image `manifest` to `destination`.
pub fn push(
    store: &Store,
    manifest: &Descriptor,
    destination: &Reference,
    options: &PushOptions,
    reporter: &mut dyn PushReporter,
) -> Result<PushReport, RegistryError> {
    let shown = destination.to_string();
    let bytes = store.read_blob(&manifest.digest)?;
    let document: Manifest =
        serde_json::from_slice(&bytes).map_err(|error| RegistryError::BadManifest {
            reference: shown.clone(),
            reason: error.to_string(),
        })?;
    let content_type = document
        .media_type
        .clone()
        .filter(|m| media_type::is_manifest(m))
        .unwrap_or_else(|| manifest.media_type.clone());
    let tag = match (destination.tag(), destination.digest()) {
        (Some(tag), _) => tag.to_owned(),
        (None, Some(digest)) => digest.to_string(),
        (None, None) => "latest".to_owned(),
    };
    let endpoint = endpoint::push_endpoint(&options.client.registries, destination)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RegistryError::Runtime)?;
    runtime.block_on(async {
        let client = Client::connect_with(&endpoint, "pull,push", &options.client).await?;
        reporter.start(destination);
        let mut seen = HashSet::new();
        let layers: Vec<&Descriptor> = document
            .layers
            .iter()
            .filter(|layer| seen.insert(layer.digest.clone()))
            .collect();
        for layer in &layers {
            reporter.layer(&layer.digest, PushEvent::Preparing);
        }
        let client = &client;
        let mut sources: Vec<String> = options
            .mount_from
            .iter()
            .filter(|name| {
                name.registry() == destination.registry()
                    && name.repository() != destination.repository()
            })
            .map(|name| name.repository().to_owned())
            .collect();
        sources.dedup();
        let sources = &sources;
        let (sent, progress) = mpsc::channel();
        let mut uploads = futures_util::stream::iter(layers.iter().map(|layer| {
            let sent = sent.clone();
            async move {
                let result = upload_blob(client, store, &layer.digest, sources, Some(&sent)).await;
                (layer, result)
            }
        }))
        .buffer_unordered(options.jobs.max(1));
        loop {
            let tick = std::pin::pin!(tokio::time::sleep(PROGRESS_TICK));
            let next = futures_util::future::select(uploads.next(), tick).await;
            // Sent before any upload ends: its last bytes come before its `Pushed`.
            for (digest, current, total) in progress.try_iter() {
                reporter.layer(&digest, PushEvent::Pushing { current, total });
            }
            let (layer, result) = match next {
                futures_util::future::Either::Left((Some(next), _)) => next,
                futures_util::future::Either::Left((None, _)) => break,
                futures_util::future::Either::Right(_) => continue,
            };
            let event = match result? {
                Uploaded::Exists => PushEvent::AlreadyExists,
                Uploaded::Mounted(from) => PushEvent::Mounted { from },
                Uploaded::Pushed => PushEvent::Pushed,
            };
            reporter.layer(&layer.digest, event);
        }
        drop(uploads);
        upload_blob(client, store, &document.config.digest, sources, None).await?;

        let (request, url) = client.request(Method::PUT, &format!("manifests/{tag}"));
        let response = request
            .header(CONTENT_TYPE, &content_type)
            .body(bytes.clone())
            .send()
            .await
            .map_err(|source| RegistryError::Request {
                url: url.clone(),
                source,
            })?;
        if !response.status().is_success() {
            return Err(client.fail(response).await);
        }
        Ok(PushReport {
            digest: manifest.digest.clone(),
            size: bytes.len() as u64,
            tag,
        })
    })
}

/// Uploads one blob unless the registry has it, mounting it from one of `sources` (other
/// repositories of the registry) when the registry can; tells `sent` how the upload goes.
async fn upload_blob(
    client: &Client,
    store: &Store,
    digest: &Digest,
    sources: &[String],
    sent: Option<&Sent>,
) -> Result<Uploaded, RegistryError> {
    let response = client
        .send(Method::HEAD, &format!("blobs/{digest}"), |request| request)
        .await?;
    if response.status().is_success() {
        return Ok(Uploaded::Exists);
    }
    if response.status() != StatusCode::NOT_FOUND {
        return Err(client.fail(response).await);
    }
    let mut session = None;
    for source in sources {
        // Digests and repository names need no escaping in a query.
        let path = format!("blobs/uploads/?mount={digest}&from={source}");
        let response = client
            .send(Method::POST, &path, |request| {
                request.header(CONTENT_LENGTH, "0")
            })
            .await?;
        match response.status() {
            StatusCode::CREATED => {
                tracing::debug!(blob = %digest, from = %source, "blob mounted");
                return Ok(Uploaded::Mounted(source.clone()));
            }
            // Not there, or not ours to read: the answer opened an ordinary upload (OCI
            // distribution spec, "Mounting a blob from another repository").
            StatusCode::ACCEPTED => {
                tracing::debug!(blob = %digest, from = %source, "mount refused, uploading");
                session = Some(response);
                break;
            }
            // A registry (or token) that refuses the mount: upload as if we had not asked.
            status => tracing::debug!(blob = %digest, from = %source, %status, "mount failed"),
        }
    }
    let response = match session {
        Some(response) => response,
        None => {
            client
                .send(Method::POST, "blobs/uploads/", |request| {
                    request.header(CONTENT_LENGTH, "0")
                })
                .await?
        }
    };
    if response.status() != StatusCode::ACCEPTED {
        return Err(client.fail(response).await);
    }
    let mut url = upload_location(&response)?;
    let size = store.blob_size(digest)?;
    let file = std::sync::Arc::new(store.open_blob(digest)?.into_file());
    let progress = sent.map(|sent| Progress {
        sent: sent.clone(),
        digest: digest.clone(),
        total: size,
    });
    let (body, sent) = if size > CHUNK_SIZE {
        url = upload_chunks(client, file, size, url, progress.as_ref()).await?;
        (reqwest::Body::from(Vec::new()), 0)
    } else {
        (chunk_body(file, 0, size, progress), size)
    };
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    let (request, url) = client.request(Method::PUT, url.as_str());
    let response = request
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_LENGTH, sent)
        .body(body)
        .send()
        .await
        .map_err(|source| RegistryError::Request { url, source })?;
    if !response.status().is_success() {
        return Err(client.fail(response).await);
    }
    Ok(Uploaded::Pushed)
}

/// Blobs larger than this go up in chunks of this size: a proxy in front of a registry may
/// cap a request's body (Cloudflare's is 100 MB), and the memory a chunk costs is bounded by
/// [`PIECE`], not by it.
const CHUNK_SIZE: u64 = 32 << 20;
/// How much of a chunk is read from the store at a time.
const PIECE: u64 = 256 << 10;

/// The upload session's URL, from the `Location` of an answer that opened or continued it.
fn upload_location(response: &reqwest::Response) -> Result<reqwest::Url, RegistryError> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| RegistryError::Api {
            url: response.url().to_string(),
            status: response.status().as_u16(),
            message: "the upload answer has no Location".to_owned(),
        })?;
    response
        .url()
        .join(location)
        .map_err(|error| RegistryError::Api {
            url: response.url().to_string(),
            status: response.status().as_u16(),
            message: format!("invalid upload Location `{location}`: {error}"),
        })
}

/// Sends `file` (`size` bytes) to the upload session at `url` as a series of `PATCH`es with
/// `Content-Range` (the distribution spec's chunked upload); returns the session's URL for
/// the closing `PUT`.
async fn upload_chunks(
    client: &Client,
    file: std::sync::Arc<std::fs::File>,
    size: u64,
    mut url: reqwest::Url,
    progress: Option<&Progress>,
) -> Result<reqwest::Url, RegistryError> {
    let mut offset = 0;
    while offset < size {
        let length = CHUNK_SIZE.min(size - offset);
        let (request, shown) = client.request(Method::PATCH, url.as_str());
        let response = request
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, length)
            .header(CONTENT_RANGE, format!("{offset}-{}", offset + length - 1))
            .body(chunk_body(
                std::sync::Arc::clone(&file),
                offset,
                length,
                progress.cloned(),
            ))
            .send()
            .await
            .map_err(|source| RegistryError::Request { url: shown, source })?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(client.fail(response).await);
        }
        tracing::debug!(offset, length, size, "chunk uploaded");
        url = upload_location(&response)?;
        offset += length;
    }
    Ok(url)
}

/// Where the body of a blob's upload reports the bytes it has read for sending.
#[derive(Clone)]
struct Progress {
    sent: Sent,
    digest: Digest,
    total: u64,
}

/// `length` bytes of `file` from `offset`, read [`PIECE`] at a time off the runtime's thread;
/// each piece is reported to `progress` as it goes out.
fn chunk_body(
    file: std::sync::Arc<std::fs::File>,
    offset: u64,
    length: u64,
    progress: Option<Progress>,
) -> reqwest::Body {
    let stream = futures_util::stream::try_unfold(
        (file, offset, length, progress),
        |(file, offset, left, progress)| async move {
            if left == 0 {
                return Ok(None);
            }
            let (file, piece) = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt as _;
                // PIECE fits in usize on every target.
                let mut piece = vec![0; usize::try_from(left.min(PIECE)).unwrap_or(1 << 18)];
                file.read_exact_at(&mut piece, offset)?;
                Ok::<_, std::io::Error>((file, piece))
            })
            .await
            .map_err(std::io::Error::other)??;
            let read = piece.len() as u64;
            if let Some(progress) = &progress {
                // The receiver is gone only when the push is over.
                let _ =
                    progress
                        .sent
                        .send((progress.digest.clone(), offset + read, progress.total));
            }
            Ok::<_, std::io::Error>(Some((piece, (file, offset + read, left - read, progress))))
        },
    );
    reqwest::Body::wrap_stream(stream)
}
