//! Reading a multipart form whose files go straight to the case file, without
//! holding a database connection while the bytes arrive (a slow mobile link
//! must not starve the pool every ente shares). A handler:
//! 1. takes an upload slot ([`UploadSlots`]: a bound per citizen and per ente),
//! 2. checks in a short transaction, committed, that the target is the user's,
//! 3. [`receive`]s the form: text fields in memory (bounded), each file part
//!    streamed into storage (never held whole in memory),
//! 4. opens one short transaction that [`record`]s the documents with the answers.
//!
//! Objects stored by a request whose transaction then fails (or never comes)
//! are unreferenced, and the orphan sweep removes them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use axum::extract::{multipart::MultipartError, Multipart};
use uuid::Uuid;

use crate::procedure::store::{self, Document, DocumentError, NewDocument};
use crate::{
    db::TenantTx,
    error::AppError,
    fascicolo::{safe_file_name, StoredObject, UploadError, UploadPolicy},
    state::AppState,
    web::server::is_body_timeout,
};

/// What a multipart form held: its text fields, the files it stored, and the
/// files refused (field name -> reason).
#[derive(Default)]
pub struct Received {
    pub fields: Vec<(String, String)>,
    pub stored: Vec<StoredFile>,
    pub refused: Vec<(String, UploadError)>,
}

/// A file of the form, in storage but not yet a document of any case.
pub struct StoredFile {
    pub field: String,
    pub name: String,
    pub object: StoredObject,
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

/// No form of ours has this many parts (repeatable groups included).
pub const MAX_FORM_PARTS: usize = 1000;
/// No text field of our forms comes near this; a bigger one is not a person typing.
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;
/// All the text fields of one form together.
pub const MAX_FORM_TEXT_BYTES: usize = 1024 * 1024;

/// Reads the whole form, storing its files for `tenant_id`; no database work.
/// `policy_for(field)` names the rules of a file field (`None`: the field takes
/// no files, and a file sent there is refused).
pub async fn receive(
    state: &AppState,
    tenant_id: Uuid,
    mut multipart: Multipart,
    policy_for: impl Fn(&str) -> Option<UploadPolicy>,
) -> Result<Received, AppError> {
    let mut received = Received::default();
    let (mut parts, mut text_bytes) = (0usize, 0usize);
    while let Some(field) = multipart.next_field().await.map_err(bad_body)? {
        parts += 1;
        if parts > MAX_FORM_PARTS {
            tracing::info!(parts, "multipart form with too many parts");
            return Err(AppError::PayloadTooLarge);
        }
        let name = field.name().unwrap_or_default().to_string();
        let Some(raw_file_name) = field.file_name().map(str::to_string) else {
            let value = read_text(field, MAX_FORM_TEXT_BYTES - text_bytes).await?;
            text_bytes += value.len();
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
        match state.store.put_stream(tenant_id, Box::pin(field), &policy).await {
            Ok(object) => received.stored.push(StoredFile { field: name, name: file_name, object }),
            Err(UploadError::Client(e)) => return Err(interrupted(&*e)),
            Err(e) => received.refused.push((name, e)),
        }
    }
    Ok(received)
}

/// Records the stored files as documents of `target`, in the caller's (short)
/// transaction. A file whose object is no longer in storage (the sweep removed
/// it meanwhile) is refused as a storage failure — the citizen sends it again —
/// and nothing more is recorded: the caller rolls back.
pub async fn record(
    state: &AppState,
    tx: &mut TenantTx,
    target: &Target<'_>,
    received: &mut Received,
) -> Result<Vec<Document>, AppError> {
    let mut documents = Vec::new();
    for file in &received.stored {
        let new = NewDocument {
            case_id: target.case_id,
            field_key: Some(&file.field),
            origin: target.origin,
            name: &file.name,
            format: file.object.format.extension(),
            mime: file.object.format.mime(),
            size: file.object.size,
            sha256: &file.object.sha256,
            integration_id: target.integration_id,
            message_id: target.message_id,
        };
        match store::add_document(tx, &state.store, new).await {
            Ok(document) => documents.push(document),
            Err(DocumentError::Storage(e)) => {
                tracing::warn!(error = ?e, sha256 = %file.object.sha256, "stored file gone before it was recorded");
                received.refused.push((file.field.clone(), UploadError::Storage(e)));
                break;
            }
            Err(DocumentError::Db(e)) => return Err(e.into()),
        }
    }
    Ok(documents)
}

/// A text field, read with a bound (the body limit is sized for files): at most
/// [`MAX_TEXT_FIELD_BYTES`], and at most `room` left of the form's total.
async fn read_text(mut field: axum::extract::multipart::Field<'_>, room: usize) -> Result<String, AppError> {
    let limit = MAX_TEXT_FIELD_BYTES.min(room);
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_body)? {
        if bytes.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| AppError::BadRequest("text field is not UTF-8"))
}

/// The body broke off or was not multipart: nothing was kept.
fn bad_body(e: MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::PayloadTooLarge;
    }
    interrupted(&e)
}

/// The body stopped: cut off by the read timeout (408), or broken by the client.
fn interrupted(e: &(dyn std::error::Error + 'static)) -> AppError {
    if is_body_timeout(e) {
        tracing::info!("upload cut off: the body stopped arriving");
        return AppError::RequestTimeout;
    }
    tracing::info!(error = %e, "unreadable multipart body");
    AppError::BadRequest("multipart")
}

/// Rules for a field accepting `extensions` up to `max_mb` (capped by the platform).
pub fn policy(state: &AppState, extensions: &[String], max_mb: Option<u64>) -> UploadPolicy {
    let cap = state.settings.upload_max_bytes;
    let max_bytes = max_mb.map(|mb| (mb * 1024 * 1024).min(cap)).unwrap_or(cap);
    UploadPolicy::from_extensions(extensions, max_bytes)
}

/// Uploads in progress on this node: at most `per_citizen` for one user and
/// `per_ente` for one ente, so that a few slow links (or one person's script)
/// cannot hold every upload the node can take.
#[derive(Clone)]
pub struct UploadSlots {
    per_citizen: usize,
    per_ente: usize,
    in_progress: Arc<Mutex<HashMap<Holder, usize>>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Holder {
    Ente(Uuid),
    User(Uuid),
}

impl UploadSlots {
    pub fn new(per_citizen: usize, per_ente: usize) -> Self {
        UploadSlots { per_citizen: per_citizen.max(1), per_ente: per_ente.max(1), in_progress: Default::default() }
    }

    /// A slot for one upload of `user_id` on `tenant_id`, held until the permit
    /// is dropped; `TooManyUploads` when either bound is reached.
    pub fn acquire(&self, tenant_id: Uuid, user_id: Uuid) -> Result<UploadPermit, AppError> {
        let (ente, user) = (Holder::Ente(tenant_id), Holder::User(user_id));
        let mut in_progress = self.in_progress.lock().unwrap_or_else(PoisonError::into_inner);
        let count = |holder: Holder| in_progress.get(&holder).copied().unwrap_or(0);
        if count(user) >= self.per_citizen || count(ente) >= self.per_ente {
            tracing::info!(tenant = %tenant_id, user = %user_id, "upload refused: too many in progress");
            return Err(AppError::TooManyUploads);
        }
        for holder in [ente, user] {
            *in_progress.entry(holder).or_default() += 1;
        }
        Ok(UploadPermit { slots: self.clone(), holders: [ente, user] })
    }

    /// Uploads in progress on this node for `tenant_id`.
    pub fn in_progress(&self, tenant_id: Uuid) -> usize {
        let in_progress = self.in_progress.lock().unwrap_or_else(PoisonError::into_inner);
        in_progress.get(&Holder::Ente(tenant_id)).copied().unwrap_or(0)
    }
}

/// One upload's slot; released on drop (the request ended, however).
pub struct UploadPermit {
    slots: UploadSlots,
    holders: [Holder; 2],
}

impl Drop for UploadPermit {
    fn drop(&mut self) {
        let mut in_progress = self.slots.in_progress.lock().unwrap_or_else(PoisonError::into_inner);
        for holder in self.holders {
            if let Some(count) = in_progress.get_mut(&holder) {
                *count -= 1;
                if *count == 0 {
                    in_progress.remove(&holder);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_per_ente_and_released_on_drop() {
        let slots = UploadSlots::new(2, 3);
        let (ente, other_ente) = (Uuid::new_v4(), Uuid::new_v4());
        let (maria, luca) = (Uuid::new_v4(), Uuid::new_v4());
        let a = slots.acquire(ente, maria).unwrap();
        let _b = slots.acquire(ente, maria).unwrap();
        assert!(matches!(slots.acquire(ente, maria), Err(AppError::TooManyUploads)));
        let _c = slots.acquire(ente, luca).unwrap();
        assert!(matches!(slots.acquire(ente, luca), Err(AppError::TooManyUploads)), "the ente is full");
        let _d = slots.acquire(other_ente, Uuid::new_v4()).unwrap();
        drop(a);
        let _e = slots.acquire(ente, luca).unwrap();
        assert_eq!(slots.in_progress(ente), 3);
        assert_eq!(slots.in_progress(other_ente), 1);
    }
}
