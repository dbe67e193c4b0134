//! The case file's document store: content-addressed, never-overwritten objects on S3
//! or on a local directory, one key prefix per tenant.
//!
//! Key layout (both backends): `<tenant_id>/<sha[0..2]>/<sha256>` for documents and
//! `staging/<uuid>` for uploads in progress. Uploads are checked while they stream (size
//! cap, format from the first bytes), hashed as they go, written to a staging key, and
//! only then given their content address: a document is either complete under its hash
//! or not there at all. See docs/DESIGN.md, "Case file storage".

pub mod formats;
mod local;
pub mod names;
mod s3;

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::i18n::{Arg, Text};
pub use formats::{Format, AGID_FORMATS};
pub use names::safe_file_name;

use crate::config::Settings;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a procedure accepts: a size cap and a list of formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPolicy {
    pub max_bytes: u64,
    pub accepted: Vec<Format>,
}

impl UploadPolicy {
    /// From a procedure's list of extensions (`["pdf", ".p7m", "JPG"]`), keeping only the
    /// formats of the AgID list; unknown or unlisted extensions are left out.
    pub fn from_extensions<I, T>(extensions: I, max_bytes: u64) -> UploadPolicy
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut accepted = Vec::new();
        for ext in extensions {
            if let Some(format) = Format::from_extension(ext.as_ref()) {
                if AGID_FORMATS.contains(&format) && !accepted.contains(&format) {
                    accepted.push(format);
                }
            }
        }
        UploadPolicy { max_bytes, accepted }
    }

    /// Every format of the AgID list.
    pub fn agid(max_bytes: u64) -> UploadPolicy {
        UploadPolicy { max_bytes, accepted: AGID_FORMATS.to_vec() }
    }

    /// The accepted format that content detected as `detected` is stored as.
    fn admit(&self, detected: Option<Format>) -> Option<Format> {
        let detected = detected?;
        if self.accepted.contains(&detected) {
            return Some(detected);
        }
        self.accepted.iter().copied().find(|wanted| detected.satisfies(*wanted))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub sha256: String,
    pub size: u64,
    pub format: Format,
}

/// One document of a tenant, as listed for the orphan sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub sha256: String,
    pub size: u64,
    pub last_modified: SystemTime,
}

/// A document being read: its size, and its bytes as a stream
/// (`axum::body::Body::from_stream(reader.stream)`).
pub struct ObjectReader {
    pub size: u64,
    pub stream: Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>,
}

impl ObjectReader {
    pub fn into_stream(self) -> Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>> {
        self.stream
    }

    /// The whole content in memory: for small documents and tests.
    pub async fn read_all(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0).min(64 << 20));
        while let Some(chunk) = self.stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").field("size", &self.size).finish_non_exhaustive()
    }
}

/// Errors of the storage itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("document not found")]
    NotFound,
    /// Keys are SHA-256 hex digests; anything else never reaches a path or a key.
    #[error("not a SHA-256 hex digest: {0:?}")]
    InvalidHash(String),
    #[error("storage {operation} failed")]
    Backend {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("storage misconfigured: {0}")]
    Config(String),
}

impl StoreError {
    fn backend(operation: &'static str, source: impl Into<BoxError>) -> StoreError {
        StoreError::Backend { operation, source: source.into() }
    }
}

/// Why an upload was refused or failed. `code()` is the stable API code, `message()`
/// the sentence for the page (`upload.*`).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("file larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("format {detected:?} not accepted")]
    FormatNotAccepted { detected: Option<Format>, accepted: Vec<Format> },
    #[error("empty file")]
    Empty,
    #[error("bad file name: {}", .0.key)]
    BadName(Text),
    #[error("storage unavailable")]
    Storage(#[source] StoreError),
    /// The body could not be read: the client went away or sent a broken request.
    #[error("upload interrupted")]
    Client(#[source] BoxError),
}

impl UploadError {
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::TooLarge { .. } => "file_too_large",
            UploadError::FormatNotAccepted { .. } => "format_not_accepted",
            UploadError::Empty => "file_empty",
            UploadError::BadName(_) => "bad_file_name",
            UploadError::Storage(_) => "storage_unavailable",
            UploadError::Client(_) => "upload_interrupted",
        }
    }

    /// What the citizen reads.
    pub fn message(&self) -> Text {
        match self {
            UploadError::TooLarge { limit } => Text::new("upload.too_large").with("size", human_size(*limit)),
            UploadError::FormatNotAccepted { detected, accepted } => {
                let allowed = if accepted.is_empty() {
                    Text::new("upload.no_attachments")
                } else {
                    let mut list = Text::new("upload.accepted");
                    list.args.push(("formats", Arg::Text(format_list(accepted))));
                    list
                };
                match detected {
                    Some(format) => Text::new("upload.format_refused")
                        .with_text("format", format.label())
                        .with_text("allowed", allowed),
                    None => Text::new("upload.format_unknown").with_text("allowed", allowed),
                }
            }
            UploadError::Empty => Text::new("upload.empty"),
            UploadError::BadName(message) => message.clone(),
            UploadError::Storage(_) => Text::new("upload.storage"),
            UploadError::Client(_) => Text::new("upload.interrupted"),
        }
    }
}

/// "PDF, P7M (firmato)": the labels of `formats`, one after the other.
fn format_list(formats: &[Format]) -> Text {
    let mut list = formats.iter().rev().map(|f| f.label());
    let last = list.next().unwrap_or_else(|| Text::new("upload.format.none"));
    list.fold(last, |rest, f| Text::new("upload.list").with_text("first", f).with_text("rest", rest))
}

/// "10 MB", "1,5 MB", "512 KB": binary units, as file managers show them.
fn human_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        let tenths = (bytes * 10 + MIB / 2) / MIB;
        if tenths.is_multiple_of(10) {
            format!("{} MB", tenths / 10)
        } else {
            format!("{},{} MB", tenths / 10, tenths % 10)
        }
    } else if bytes >= 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{bytes} byte")
    }
}

/// Counters since start, for telemetry (and tests that must see a multipart upload).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub uploads: u64,
    pub multipart_uploads: u64,
    pub deduplicated: u64,
}

#[derive(Default)]
struct Counters {
    uploads: AtomicU64,
    multipart_uploads: AtomicU64,
    deduplicated: AtomicU64,
}

#[derive(Clone)]
enum Backend {
    Local(Arc<local::LocalStore>),
    S3(Arc<s3::S3Store>),
}

/// The document store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// The platform's cap, over any procedure's.
    max_bytes: u64,
    counters: Arc<Counters>,
}

impl Store {
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<Store> {
        let backend = match settings.storage_backend.as_str() {
            "local" => Backend::Local(Arc::new(local::LocalStore::open(&settings.storage_dir()).await?)),
            "s3" => Backend::S3(Arc::new(s3::S3Store::new(settings)?)),
            other => anyhow::bail!("storage_backend: unknown backend {other:?} (local, s3)"),
        };
        Ok(Store { backend, max_bytes: settings.upload_max_bytes, counters: Default::default() })
    }

    /// `"local"` or `"s3"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Local(_) => "local",
            Backend::S3(_) => "s3",
        }
    }

    /// Streams `body` into storage under the tenant, hashing (SHA-256) as it goes; memory
    /// stays bounded (S3: multipart upload in ~8 MiB parts for anything larger than one
    /// part). Checks, while streaming: size <= policy.max_bytes (and the platform cap),
    /// failing as soon as it is exceeded; format detected from the first bytes among
    /// `policy.accepted`. On any error nothing is left behind (staging object or multipart
    /// upload aborted, best effort; [`Store::sweep_staging`] catches the rest). The final key
    /// is `<tenant_id>/<sha[0..2]>/<sha256>`; an existing object is never overwritten, but
    /// its modification time is refreshed (deduplication is a re-use: the orphan sweep
    /// must see the object as young).
    pub async fn put_stream<S, E>(
        &self,
        tenant: Uuid,
        body: S,
        policy: &UploadPolicy,
    ) -> Result<StoredObject, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let limit = policy.max_bytes.min(self.max_bytes);
        let mut intake = Intake::new(body, limit);
        // Decide the format before anything reaches storage.
        let (prefix, complete) = intake.sniff().await?;
        if prefix.is_empty() {
            return Err(UploadError::Empty);
        }
        let detected = formats::detect(&prefix, complete);
        let format = policy
            .admit(detected)
            .ok_or_else(|| UploadError::FormatNotAccepted { detected, accepted: policy.accepted.clone() })?;
        intake.pending = Some(prefix);
        let outcome = match &self.backend {
            Backend::Local(store) => store.put(tenant, &mut intake).await?,
            Backend::S3(store) => store.put(tenant, &mut intake, format).await?,
        };
        self.counters.uploads.fetch_add(1, Ordering::Relaxed);
        if outcome.multipart {
            self.counters.multipart_uploads.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.deduplicated {
            self.counters.deduplicated.fetch_add(1, Ordering::Relaxed);
        }
        Ok(StoredObject { sha256: outcome.sha256, size: outcome.size, format })
    }

    /// A document made by the platform itself (a PDF receipt), with the same checks.
    pub async fn put_bytes(
        &self,
        tenant: Uuid,
        bytes: Bytes,
        policy: &UploadPolicy,
    ) -> Result<StoredObject, UploadError> {
        let body = futures::stream::iter([Ok::<_, io::Error>(bytes)]);
        self.put_stream(tenant, body, policy).await
    }

    /// Streaming read; `Err(StoreError::NotFound)` when the tenant has no such document.
    pub async fn get(&self, tenant: Uuid, sha256: &str) -> Result<ObjectReader, StoreError> {
        check_hash(sha256)?;
        match &self.backend {
            Backend::Local(store) => store.get(tenant, sha256).await,
            Backend::S3(store) => store.get(tenant, sha256).await,
        }
    }

    pub async fn exists(&self, tenant: Uuid, sha256: &str) -> Result<bool, StoreError> {
        check_hash(sha256)?;
        match &self.backend {
            Backend::Local(store) => store.exists(tenant, sha256).await,
            Backend::S3(store) => store.exists(&object_key(tenant, sha256)).await,
        }
    }

    /// When the document was stored or last re-used (`None`: not there): the orphan
    /// sweep checks it again before deleting.
    pub async fn last_modified(&self, tenant: Uuid, sha256: &str) -> Result<Option<SystemTime>, StoreError> {
        check_hash(sha256)?;
        match &self.backend {
            Backend::Local(store) => store.last_modified(tenant, sha256).await,
            Backend::S3(store) => store.last_modified(&object_key(tenant, sha256)).await,
        }
    }

    /// Every document of the tenant: for the orphan sweep.
    pub async fn list(&self, tenant: Uuid) -> Result<Vec<ObjectInfo>, StoreError> {
        match &self.backend {
            Backend::Local(store) => store.list(tenant).await,
            Backend::S3(store) => store.list(tenant).await,
        }
    }

    /// Removes a document; only the orphan sweep calls it (documents a case refers to are
    /// never deleted). Deleting what is not there is not an error.
    pub async fn delete(&self, tenant: Uuid, sha256: &str) -> Result<(), StoreError> {
        check_hash(sha256)?;
        match &self.backend {
            Backend::Local(store) => store.delete(tenant, sha256).await,
            Backend::S3(store) => store.delete(&object_key(tenant, sha256)).await,
        }
    }

    /// Removes what crashed or interrupted uploads left, if older than `older_than`:
    /// staging objects and incomplete multipart uploads. Returns how many it removed.
    pub async fn sweep_staging(&self, older_than: Duration) -> Result<usize, StoreError> {
        let cutoff = SystemTime::now().checked_sub(older_than).unwrap_or(SystemTime::UNIX_EPOCH);
        match &self.backend {
            Backend::Local(store) => store.sweep_staging(cutoff).await,
            Backend::S3(store) => store.sweep_staging(cutoff).await,
        }
    }

    /// How many staging leftovers there are now (uploads in progress included): for
    /// monitoring, and for tests that check nothing was left behind.
    pub async fn staging_count(&self) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Local(store) => store.staging_count().await,
            Backend::S3(store) => store.staging_count().await,
        }
    }

    /// Readiness: the directory or the bucket is reachable.
    pub async fn check(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Local(store) => store.check().await,
            Backend::S3(store) => store.check().await,
        }
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            uploads: self.counters.uploads.load(Ordering::Relaxed),
            multipart_uploads: self.counters.multipart_uploads.load(Ordering::Relaxed),
            deduplicated: self.counters.deduplicated.load(Ordering::Relaxed),
        }
    }
}

/// `<tenant_id>/<sha[0..2]>/<sha256>`: the two-character fan-out keeps directories (local
/// backend) and listings small.
fn object_key(tenant: Uuid, sha256: &str) -> String {
    format!("{tenant}/{}/{sha256}", &sha256[..2])
}

fn check_hash(sha256: &str) -> Result<(), StoreError> {
    if is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(StoreError::InvalidHash(sha256.chars().take(80).collect()))
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a backend reports once the document has its address.
struct PutOutcome {
    sha256: String,
    size: u64,
    multipart: bool,
    deduplicated: bool,
}

/// The upload body as the backends read it: every chunk counted against the limit and
/// hashed on the way, so the checks hold whichever backend writes it.
struct Intake<S> {
    body: S,
    hasher: Sha256,
    size: u64,
    limit: u64,
    /// Bytes already read (and hashed) that the backend has not taken yet.
    pending: Option<Bytes>,
}

impl<S, E> Intake<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    fn new(body: S, limit: u64) -> Self {
        Intake { body, hasher: Sha256::new(), size: 0, limit, pending: None }
    }

    /// The next chunk; stops at the first byte over the limit without reading further.
    async fn next(&mut self) -> Result<Option<Bytes>, UploadError> {
        if let Some(pending) = self.pending.take() {
            return Ok(Some(pending));
        }
        loop {
            match self.body.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(UploadError::Client(Box::new(e))),
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                Some(Ok(chunk)) => {
                    self.size += chunk.len() as u64;
                    if self.size > self.limit {
                        return Err(UploadError::TooLarge { limit: self.limit });
                    }
                    self.hasher.update(&chunk);
                    return Ok(Some(chunk));
                }
            }
        }
    }

    /// Up to [`formats::SNIFF_BYTES`] of the start; `true` when that is the whole body.
    async fn sniff(&mut self) -> Result<(Bytes, bool), UploadError> {
        let mut prefix = BytesMut::new();
        while prefix.len() < formats::SNIFF_BYTES {
            match self.next().await? {
                Some(chunk) if prefix.is_empty() => prefix = BytesMut::from(chunk),
                Some(chunk) => prefix.extend_from_slice(&chunk),
                None => return Ok((prefix.freeze(), true)),
            }
        }
        Ok((prefix.freeze(), false))
    }

    /// Reads up to `part_size` bytes (less only at the end), splitting chunks that
    /// straddle the boundary so that memory stays at one part.
    async fn read_part(&mut self, part_size: usize) -> Result<Bytes, UploadError> {
        let mut part = BytesMut::new();
        while part.len() < part_size {
            let Some(mut chunk) = self.next().await? else { break };
            let room = part_size - part.len();
            if chunk.len() > room {
                self.pending = Some(chunk.split_off(room));
            }
            if part.is_empty() && chunk.len() == part_size {
                return Ok(chunk);
            }
            if part.is_empty() {
                part.reserve(part_size);
            }
            part.extend_from_slice(&chunk);
        }
        Ok(part.freeze())
    }

    /// Hex SHA-256 and size of everything read; only meaningful once `next` gave `None`.
    fn finish(&mut self) -> (String, u64) {
        (hex::encode(std::mem::take(&mut self.hasher).finalize()), self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalogues;

    #[test]
    fn policy_from_extensions_keeps_the_agid_list_only() {
        let policy = UploadPolicy::from_extensions(["pdf", ".P7M", "jpeg", "exe", "zip", "pdf"], 1024);
        assert_eq!(policy.accepted, [Format::Pdf, Format::P7m, Format::Jpeg]);
        assert_eq!(policy.admit(Some(Format::Pdf)), Some(Format::Pdf));
        assert_eq!(policy.admit(Some(Format::Png)), None);
        assert_eq!(policy.admit(None), None);
        let csv = UploadPolicy::from_extensions(["csv"], 1024);
        assert_eq!(csv.admit(Some(Format::Txt)), Some(Format::Csv));
    }

    #[test]
    fn codes_and_messages() {
        let e = UploadError::TooLarge { limit: 10 * 1024 * 1024 };
        assert_eq!(e.code(), "file_too_large");
        assert_eq!(Catalogues::for_tests().text("it", &e.message()), "Il file supera la dimensione massima di 10 MB.");
        assert_eq!(human_size(1536 * 1024), "1,5 MB");
        assert_eq!(human_size(512 * 1024), "512 KB");
        let e = UploadError::FormatNotAccepted { detected: None, accepted: vec![Format::Pdf, Format::P7m] };
        assert_eq!(e.code(), "format_not_accepted");
        assert!(
            Catalogues::for_tests().text("it", &e.message()).ends_with("Formati accettati: PDF, P7M (firmato)."),
            "{}",
            Catalogues::for_tests().text("it", &e.message())
        );
        assert_eq!(UploadError::Empty.code(), "file_empty");
        assert_eq!(UploadError::Storage(StoreError::NotFound).code(), "storage_unavailable");
        assert_eq!(UploadError::Client("x".into()).code(), "upload_interrupted");
    }

    #[test]
    fn hashes_are_checked() {
        assert!(check_hash(&"a".repeat(64)).is_ok());
        assert!(check_hash(&"A".repeat(64)).is_err());
        assert!(check_hash("../../etc/passwd").is_err());
        assert!(check_hash(&"a".repeat(63)).is_err());
    }
}
