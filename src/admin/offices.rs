//! The ente's offices in the console (`/admin/uffici`): the tree, and a
//! synchronisation with IPA — the admin uploads IPA's "Unità Organizzative"
//! file, sees what it would change (new offices, changed fields, offices to
//! close) and applies it, all or nothing. What was read waits in the database
//! between the preview and the application, so what is applied is what was
//! seen, re-planned against the offices as they are then. See docs/ORGANISATION.md.

use axum::{
    extract::{DefaultBodyLimit, Multipart, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{catalogue::Outcome, context, Admin, Section, READ, WRITE};
use crate::{
    auth::{authz::RouteSpec, page::Page},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    organisation::{
        ipa::{self, IpaOffice},
        offices::{self, Source},
    },
};

/// The national file is some 60 MB; a little more is allowed.
const MAX_FILE_BYTES: usize = 96 * 1024 * 1024;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/admin/uffici", &["GET"], READ, get(tree)),
        RouteSpec::new(
            "/admin/uffici/ipa",
            &["POST"],
            WRITE,
            post(preview).layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)),
        ),
        RouteSpec::new("/admin/uffici/ipa/applica", &["POST"], WRITE, post(apply)),
    ]
}

async fn tree_page(
    page: &Page,
    admin: &Admin,
    outcome: Option<&'static str>,
    refusal: Option<String>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let offices = offices::tree(offices::all(&mut tx).await?);
    let last = offices::last_sync(&mut tx).await?;
    tx.commit().await?;
    let mut context = context(page, admin, Section::Offices);
    context.insert("offices", &offices);
    context.insert("ipa_code", &page.tenant.0.profile.ipa_code);
    context.insert("last_sync", &last);
    context.insert("outcome", &outcome);
    let status = if refusal.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    context.insert("refusal", &refusal);
    page.render_with(status, "admin/offices.html", &context)
}

pub async fn tree(page: Page, admin: Admin, Query(outcome): Query<Outcome>) -> AppResult<Response> {
    tree_page(&page, &admin, outcome.message(), None).await
}

/// The uploaded file, read whole (up to the limit).
async fn received_file(mut multipart: Multipart) -> AppResult<Option<Vec<u8>>> {
    let bad_body = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::BadRequest("the IPA form's body is not a readable multipart form")
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad_body)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut body = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad_body)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_FILE_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
        }
        return Ok(Some(body).filter(|b| !b.is_empty()));
    }
    Ok(None)
}

/// Reads the upload for this ente; a refusal is shown next to the file input.
pub async fn preview(page: Page, admin: Admin, multipart: Multipart) -> AppResult<Response> {
    let Some(body) = received_file(multipart).await? else {
        return tree_page(&page, &admin, None, Some(page.text(&Text::new("admin.offices.no_file")))).await;
    };
    let ipa_code = page.tenant.0.profile.ipa_code.clone();
    if ipa_code.trim().is_empty() {
        return tree_page(&page, &admin, None, Some(page.text(&Text::new("admin.offices.no_ipa_code")))).await;
    }
    let sha256 = hex::encode(openssl::sha::sha256(&body));
    // Parsing 130,000 rows takes a while: off the async threads.
    let read = tokio::task::spawn_blocking(move || ipa::read(&body, &ipa_code))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading the IPA file: {e}")))?;
    let read = match read {
        Ok(read) => read,
        Err(refusal) => {
            let reason = page.text(&refusal.message);
            let message = match refusal.line {
                Some(line) => {
                    page.text(&Text::new("admin.offices.refused_at").with("line", line).with("reason", reason))
                }
                None => page.text(&Text::new("admin.offices.refused").with("reason", reason)),
            };
            return tree_page(&page, &admin, None, Some(message)).await;
        }
    };
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let plan = ipa::plan(&read, &offices::current(&mut tx).await?);
    let kept = serde_json::to_vec(&read).map_err(|e| AppError::Internal(e.into()))?;
    let upload = offices::keep_upload(&mut tx, &kept, &sha256, &admin.actor.label).await?;
    tx.commit().await?;
    let mut context = context(&page, &admin, Section::Offices);
    context.insert("plan", &plan);
    context.insert("upload", &upload);
    page.render("admin/offices_sync.html", &context)
}

#[derive(Deserialize)]
pub struct ApplyForm {
    upload: Uuid,
}

pub async fn apply(page: Page, admin: Admin, Form(input): Form<ApplyForm>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let Some((kept, sha256)) = offices::take_upload(&mut tx, input.upload).await? else {
        // Applied already, or superseded by a newer upload.
        tx.rollback().await?;
        return Ok(Redirect::to("/admin/uffici?esito=ipa-scaduto").into_response());
    };
    let read: Vec<IpaOffice> = serde_json::from_slice(&kept).map_err(|e| AppError::Internal(e.into()))?;
    let plan = ipa::plan(&read, &offices::current(&mut tx).await?);
    let applied = offices::apply(&mut tx, &plan, &sha256, Source::Upload, &admin.actor).await?;
    super::catalogue::changed(&page.state, tx).await?;
    let outcome = if applied == offices::Applied::default() { "ipa-invariato" } else { "ipa-applicato" };
    Ok(Redirect::to(&format!("/admin/uffici?esito={outcome}")).into_response())
}
