//! A stored document as a download, for the citizen and the office alike.

use axum::{
    body::Body,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    fascicolo::StoreError,
    procedure::store::Document,
    state::AppState,
};

/// Streams a document from storage as a download (citizen and office alike).
pub async fn stream_document(state: &AppState, tenant_id: Uuid, document: &Document) -> AppResult<Response> {
    let object = match state.store.get(tenant_id, &document.sha256).await {
        Ok(object) => object,
        Err(StoreError::NotFound) => {
            return Err(AppError::Internal(anyhow::anyhow!("document {} has no stored object", document.id)))
        }
        Err(e) => {
            tracing::warn!(error = ?e, "storage unavailable for a download");
            return Err(AppError::Unavailable);
        }
    };
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_fallback(&document.name),
        percent_encoding::utf8_percent_encode(&document.name, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut response = Body::from_stream(object.stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&document.mime).map_err(anyhow::Error::from)?);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(anyhow::Error::from)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers
        .insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", document.sha256)).map_err(anyhow::Error::from)?);
    Ok(response)
}

/// The file name for clients that ignore `filename*`: ASCII, no quotes.
fn ascii_fallback(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect()
}
