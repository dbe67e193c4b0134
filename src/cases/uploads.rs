//! Reading a multipart form whose files go straight to the case file: each file
//! part is streamed into storage (never held whole in memory) and recorded as a
//! document of the case in the caller's transaction. Objects stored by a
//! request whose transaction then rolls back are unreferenced, and the orphan
//! sweep removes them.

use axum::extract::{multipart::MultipartError, Multipart};
use uuid::Uuid;

use super::db::{self, Document, NewDocument};
use crate::{
    db::TenantTx,
    error::AppError,
    fascicolo::{safe_file_name, UploadError, UploadPolicy},
    state::AppState,
};

/// What a multipart form held: its text fields, the documents it added, and
/// the files refused (field name -> Italian message).
#[derive(Default)]
pub struct Received {
    pub fields: Vec<(String, String)>,
    pub documents: Vec<Document>,
    pub refused: Vec<(String, UploadError)>,
}

impl Received {
    pub fn storage_failed(&self) -> bool {
        self.refused.iter().any(|(_, e)| matches!(e, UploadError::Storage(_)))
    }
}

/// Where the documents of this form belong.
pub struct Target<'a> {
    pub case_id: Uuid,
    pub origin: &'a str,
    pub integration_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
}

/// Reads the whole form. `policy_for(field)` names the rules of a file field
/// (`None`: the field takes no files, and a file sent there is refused).
pub async fn receive(
    state: &AppState,
    tx: &mut TenantTx,
    mut multipart: Multipart,
    target: Target<'_>,
    policy_for: impl Fn(&str) -> Option<UploadPolicy>,
) -> Result<Received, AppError> {
    let mut received = Received::default();
    while let Some(field) = multipart.next_field().await.map_err(bad_body)? {
        let name = field.name().unwrap_or_default().to_string();
        let Some(raw_file_name) = field.file_name().map(str::to_string) else {
            let value = read_text(field).await?;
            received.fields.push((name, value));
            continue;
        };
        // An empty file input is sent as a part without a name or content.
        if raw_file_name.is_empty() {
            continue;
        }
        // Once storage has failed, the rest of the form is not stored either.
        if received.storage_failed() {
            continue;
        }
        let file_name = match safe_file_name(&raw_file_name) {
            Ok(n) => n,
            Err(e) => {
                received.refused.push((name, e));
                continue;
            }
        };
        let Some(policy) = policy_for(&name) else {
            received.refused.push((name, UploadError::FormatNotAccepted { detected: None, accepted: Vec::new() }));
            continue;
        };
        match state.store.put_stream(tx.tenant_id, Box::pin(field), &policy).await {
            Ok(stored) => {
                let document = db::add_document(
                    tx,
                    NewDocument {
                        case_id: target.case_id,
                        field_key: Some(&name),
                        origin: target.origin,
                        name: &file_name,
                        format: stored.format.extension(),
                        mime: stored.format.mime(),
                        size: stored.size,
                        sha256: &stored.sha256,
                        integration_id: target.integration_id,
                        message_id: target.message_id,
                    },
                )
                .await?;
                received.documents.push(document);
            }
            Err(UploadError::Client(e)) => {
                return Err(AppError::Internal(anyhow::anyhow!(e).context("upload interrupted by the client")))
            }
            Err(e) => received.refused.push((name, e)),
        }
    }
    Ok(received)
}

/// No text field of our forms comes near this; a bigger one is not a person typing.
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;

/// A text field, read with a bound (the body limit is sized for files).
async fn read_text(mut field: axum::extract::multipart::Field<'_>) -> Result<String, AppError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_body)? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| AppError::BadRequest("text field is not UTF-8"))
}

/// The body broke off or was not multipart: nothing was kept.
fn bad_body(e: MultipartError) -> AppError {
    tracing::info!(error = %e, "unreadable multipart body");
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::BadRequest("multipart")
    }
}

/// Rules for a field accepting `extensions` up to `max_mb` (capped by the platform).
pub fn policy(state: &AppState, extensions: &[String], max_mb: Option<u64>) -> UploadPolicy {
    let cap = state.settings.upload_max_bytes;
    let max_bytes = max_mb.map(|mb| (mb * 1024 * 1024).min(cap)).unwrap_or(cap);
    UploadPolicy::from_extensions(extensions, max_bytes)
}
