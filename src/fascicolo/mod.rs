//! TEMPORARY STUB (uncommitted) — replaced by the fascicolo branch.
use crate::config::Settings;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    dir: std::path::PathBuf,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Txt,
    Png,
    Jpeg,
    P7m,
}
impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Txt => "txt",
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::P7m => "p7m",
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Txt => "text/plain",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::P7m => "application/pkcs7-mime",
        }
    }
    pub fn label(self) -> &'static str {
        self.extension()
    }
    pub fn from_extension(e: &str) -> Option<Self> {
        match e {
            "pdf" => Some(Self::Pdf),
            "txt" => Some(Self::Txt),
            "png" => Some(Self::Png),
            "jpg" | "jpeg" => Some(Self::Jpeg),
            "p7m" => Some(Self::P7m),
            _ => None,
        }
    }
}
pub struct UploadPolicy {
    pub max_bytes: u64,
    pub accepted: Vec<Format>,
}
pub struct StoredObject {
    pub sha256: String,
    pub size: u64,
    pub format: Format,
}
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("too large")]
    TooLarge { limit: u64 },
    #[error("format")]
    FormatNotAccepted { detected: Option<Format>, accepted: Vec<Format> },
    #[error("empty")]
    Empty,
    #[error("bad name")]
    BadName(String),
    #[error("storage")]
    Storage(#[source] anyhow::Error),
    #[error("client")]
    Client(#[source] anyhow::Error),
}
impl UploadError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "file_too_large",
            Self::FormatNotAccepted { .. } => "format_not_accepted",
            Self::Empty => "file_empty",
            Self::BadName(_) => "bad_file_name",
            Self::Storage(_) => "storage_unavailable",
            Self::Client(_) => "upload_interrupted",
        }
    }
    pub fn message_it(&self) -> String {
        format!("errore: {}", self.code())
    }
}
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}
pub struct ObjectInfo {
    pub sha256: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}
pub struct ObjectReader {
    pub size: u64,
    pub stream: futures::stream::BoxStream<'static, std::io::Result<Bytes>>,
}
pub fn safe_file_name(raw: &str) -> Result<String, UploadError> {
    let n = raw.trim();
    if n.is_empty() || n.contains('/') || n.contains("..") {
        Err(UploadError::BadName(n.into()))
    } else {
        Ok(n.into())
    }
}
impl Store {
    pub async fn from_settings(s: &Settings) -> anyhow::Result<Store> {
        let dir = s.data_dir.join("files");
        std::fs::create_dir_all(&dir)?;
        Ok(Store { dir })
    }
    pub async fn put_stream<S, E>(
        &self,
        tenant: Uuid,
        mut body: S,
        policy: &UploadPolicy,
    ) -> Result<StoredObject, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut buf = Vec::new();
        while let Some(c) = body.next().await {
            let c = c.map_err(|e| UploadError::Client(anyhow::anyhow!(e.to_string())))?;
            buf.extend_from_slice(&c);
            if buf.len() as u64 > policy.max_bytes {
                return Err(UploadError::TooLarge { limit: policy.max_bytes });
            }
        }
        self.put_bytes(tenant, buf.into(), policy).await
    }
    pub async fn put_bytes(
        &self,
        tenant: Uuid,
        bytes: Bytes,
        policy: &UploadPolicy,
    ) -> Result<StoredObject, UploadError> {
        use sha2::Digest;
        if bytes.is_empty() {
            return Err(UploadError::Empty);
        }
        let format = if bytes.starts_with(b"%PDF-") {
            Format::Pdf
        } else if bytes.starts_with(b"\x89PNG") {
            Format::Png
        } else if std::str::from_utf8(&bytes).is_ok() {
            Format::Txt
        } else {
            return Err(UploadError::FormatNotAccepted { detected: None, accepted: policy.accepted.clone() });
        };
        if !policy.accepted.contains(&format) {
            return Err(UploadError::FormatNotAccepted { detected: Some(format), accepted: policy.accepted.clone() });
        }
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let dir = self.dir.join(tenant.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| UploadError::Storage(e.into()))?;
        std::fs::write(dir.join(&sha), &bytes).map_err(|e| UploadError::Storage(e.into()))?;
        Ok(StoredObject { sha256: sha, size: bytes.len() as u64, format })
    }
    pub async fn get(&self, tenant: Uuid, sha256: &str) -> Result<ObjectReader, StoreError> {
        let b = std::fs::read(self.dir.join(tenant.to_string()).join(sha256)).map_err(|_| StoreError::NotFound)?;
        Ok(ObjectReader {
            size: b.len() as u64,
            stream: futures::stream::once(async move { Ok(Bytes::from(b)) }).boxed(),
        })
    }
    pub async fn list(&self, _tenant: Uuid) -> Result<Vec<ObjectInfo>, StoreError> {
        Ok(vec![])
    }
    pub async fn delete(&self, _tenant: Uuid, _sha256: &str) -> Result<(), StoreError> {
        Ok(())
    }
    pub async fn sweep_staging(&self, _older_than: std::time::Duration) -> Result<usize, StoreError> {
        Ok(0)
    }
}
