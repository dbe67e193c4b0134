//! Documents the platform writes itself into a case file — the application
//! (JSON), the receipt, the acts of the office: stored content-addressed, then
//! recorded in the case, in the caller's transaction.

use bytes::Bytes;
use uuid::Uuid;

use super::store::{self, Document, DocumentError, NewDocument};
use crate::{
    db::TenantTx,
    error::AppError,
    fascicolo::{Format, Store, UploadError, UploadPolicy},
};

/// What kind of file a generated document is.
#[derive(Clone, Copy)]
pub enum Generated {
    Pdf,
    /// Machine-readable data; stored under the storage's plain-text rules.
    Json,
}

impl Generated {
    fn storage_format(self) -> Format {
        match self {
            Self::Pdf => Format::Pdf,
            Self::Json => Format::Txt,
        }
    }

    fn extension_and_mime(self) -> (&'static str, &'static str) {
        match self {
            Self::Pdf => ("pdf", "application/pdf"),
            Self::Json => ("json", "application/json"),
        }
    }
}

/// Why a generated document could not be filed.
#[derive(Debug, thiserror::Error)]
pub enum FilingError {
    /// The storage is down: the caller tells the person to try again later.
    #[error("storage unavailable")]
    Storage(#[source] UploadError),
    #[error(transparent)]
    Other(#[from] AppError),
}

impl From<DocumentError> for FilingError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Storage(e) => Self::Storage(UploadError::Storage(e)),
            DocumentError::Db(e) => e.into(),
        }
    }
}

impl From<sqlx::Error> for FilingError {
    fn from(e: sqlx::Error) -> Self {
        Self::Other(e.into())
    }
}

impl From<FilingError> for AppError {
    fn from(e: FilingError) -> Self {
        match e {
            FilingError::Storage(_) => AppError::Unavailable,
            FilingError::Other(e) => e,
        }
    }
}

/// Stores `bytes` and records them in the case as `name`, from `origin`
/// (`submission`, `receipt`, `office`).
pub async fn file_generated(
    tx: &mut TenantTx,
    store: &Store,
    case_id: Uuid,
    origin: &str,
    name: &str,
    kind: Generated,
    bytes: Bytes,
) -> Result<Document, FilingError> {
    let policy = UploadPolicy { max_bytes: u64::MAX, accepted: vec![kind.storage_format()] };
    let stored = store.put_bytes(tx.tenant_id, bytes, &policy).await.map_err(|e| match e {
        UploadError::Storage(_) => FilingError::Storage(e),
        other => FilingError::Other(AppError::Internal(anyhow::anyhow!("generated document refused: {other}"))),
    })?;
    let (format, mime) = kind.extension_and_mime();
    let new = NewDocument {
        case_id,
        field_key: None,
        origin,
        name,
        format,
        mime,
        size: stored.size,
        sha256: &stored.sha256,
        integration_id: None,
        message_id: None,
    };
    Ok(store::add_document(tx, store, new).await?)
}
