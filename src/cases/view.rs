//! What the citizen reads: the personal area's home with their cases, a case's
//! page (status, deadline, requests, timeline, documents, messages) and the
//! download of a document of the case file.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{access::OwnCase, draft::step_url};
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, page::Page, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    procedure::{
        case_file::{CaseFile, Reader},
        messages::{self, Thread},
        status::CaseStatus,
        store,
    },
    state::AppState,
    web::{download, render_page, CurrentTenant},
};

pub async fn home(page: Page, session: CurrentSession) -> AppResult<Response> {
    let roles = page.state.authz.roles_of(&page.state, &page.tenant.0, &session).await?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let cases = store::cases_of_user(&mut tx, session.user_id).await?;
    let unread = messages::unread_by_citizen(&mut tx, session.user_id).await?;
    tx.commit().await?;
    let (drafts, rest): (Vec<_>, Vec<_>) = cases.into_iter().partition(|c| c.status == CaseStatus::Draft);
    let (closed, open): (Vec<_>, Vec<_>) = rest.into_iter().partition(|c| c.status.is_final());
    let mut context = page.context();
    context.insert("session", &session);
    context.insert("display_name", &session.display_name());
    context.insert("roles", &roles);
    context.insert("drafts", &drafts);
    context.insert("open_cases", &open);
    context.insert("closed_cases", &closed);
    context.insert("unread_messages", &unread);
    page.render("cases/personal_home.html", &context)
}

#[derive(Deserialize)]
pub struct CaseQuery {
    #[serde(default)]
    inviata: Option<String>,
    #[serde(default)]
    integrazione: Option<String>,
    #[serde(default)]
    errore: Option<String>,
}

pub async fn case_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    OwnCase { mut tx, case, .. }: OwnCase,
    Query(query): Query<CaseQuery>,
) -> AppResult<Response> {
    if case.is_draft() {
        tx.commit().await?;
        let step = (case.step as usize).min(case.form.0.steps.len().saturating_sub(1));
        return Ok(Redirect::to(&step_url(case.id, step)).into_response());
    }
    let file = CaseFile::load(&mut tx, &case, Reader::Citizen).await?;
    messages::mark_read_by_citizen(&mut tx, Thread::Case(case.id)).await?;
    tx.commit().await?;
    let workflow = case.workflow();
    let mut context = auth_context(&tenant, &csrf);
    context.insert("status_info", &case.state.as_deref().and_then(|s| workflow.status(s)));
    context.insert("registry_mark", &case.registry_mark(&tenant.0.profile.ipa_code));
    context.insert("case", &case);
    context.extend(tera::Context::from_serialize(&file).map_err(anyhow::Error::from)?);
    context.insert("just_submitted", &query.inviata.is_some());
    context.insert("just_answered", &query.integrazione.is_some());
    // Only our own message keys come back in the query.
    let error = query.errore.filter(|e| matches!(e.as_str(), "cases.message_empty" | "cases.message_too_long"));
    context.insert("message_error", &error);
    Ok(render_page(&state, &tenant.site(), "cases/page.html", &context)?.into_response())
}

/// Streams a document of the person's case; another ente's or another
/// person's case is simply not found.
pub async fn download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    OwnCase { mut tx, case, .. }: OwnCase,
    Path((_, document_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let document = store::document(&mut tx, case.id, document_id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    download::stream_document(&state, tenant.0.id, &document).await
}
