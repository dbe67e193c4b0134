//! Requests for integration: the office asks for more (any number of times),
//! the citizen answers with a message and documents, and the answer is
//! registered like the submission. The office side is a domain function until
//! the back office lands.

use axum::{
    extract::{Multipart, Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde_json::json;
use uuid::Uuid;

use super::{
    access::OwnCase,
    uploads::{self, Target},
};
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::{
        engine,
        form::FieldErrors,
        integration_answers,
        integrations::{one, IntegrationRequest},
        store::{self, Actor, Case, Document},
    },
    registry::{self, Direction},
    state::AppState,
    tenancy::Tenant,
    users,
    web::{render_page, CurrentTenant},
};

/// The formats an answer may carry: the documents the AgID guidelines accept
/// and citizens actually have.
pub const ANSWER_FORMATS: &[&str] = &["pdf", "p7m", "jpg", "png", "odt", "docx", "txt", "xml"];

pub async fn answer_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    OwnCase { mut tx, case, .. }: OwnCase,
    Path((_, id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let request = one(&mut tx, case.id, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    render_answer(&state, &tenant, &csrf, &case, &request, "", &FieldErrors::default(), StatusCode::OK)
}

#[allow(clippy::too_many_arguments)]
fn render_answer(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    case: &Case,
    request: &IntegrationRequest,
    answer: &str,
    errors: &FieldErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let mut context = auth_context(tenant, csrf);
    context.insert("case", case);
    context.insert("request", request);
    context.insert("answer", answer);
    context.insert("errors", errors);
    context.insert("accept", &ANSWER_FORMATS.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(","));
    context.insert("storage_failed", &(status == StatusCode::SERVICE_UNAVAILABLE));
    Ok((status, render_page(state, &tenant.site(), "cases/integration.html", &context)?).into_response())
}

pub async fn answer(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Path((case_id, id)): Path<(Uuid, Uuid)>,
    multipart: Multipart,
) -> AppResult<Response> {
    let _slot = state.uploads.acquire(tenant.0.id, session.user_id)?;
    // Checked before the body is read, in a transaction of its own: no
    // connection is held while the files arrive.
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    store::case_of_user(&mut tx, case_id, session.user_id, false).await?.ok_or(AppError::NotFound)?;
    let request = one(&mut tx, case_id, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    if request.answered_at.is_some() {
        return Ok(Redirect::to(&format!("/area-personale/pratiche/{case_id}")).into_response());
    }
    let formats: Vec<String> = ANSWER_FORMATS.iter().map(|s| s.to_string()).collect();
    let mut received = uploads::receive(&state, tenant.0.id, multipart, |name| {
        (name == "documenti").then(|| uploads::policy(&state, &formats, None))
    })
    .await?;
    // One short transaction records and registers the answer; the case and the
    // request are locked again (answered meanwhile, from another tab?).
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = store::case_of_user(&mut tx, case_id, session.user_id, true).await?.ok_or(AppError::NotFound)?;
    let request = one(&mut tx, case_id, id).await?.ok_or(AppError::NotFound)?;
    if request.answered_at.is_some() {
        return Ok(Redirect::to(&format!("/area-personale/pratiche/{case_id}")).into_response());
    }
    let target = Target { case_id, origin: "integration", integration_id: Some(id), message_id: None };
    let documents = if received.storage_failed() {
        Vec::new()
    } else {
        uploads::record(&state, &mut tx, &target, &mut received).await?
    };
    let text =
        received.fields.iter().find(|(k, _)| k == "risposta").map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let mut errors = FieldErrors::default();
    for (field, refusal) in &received.refused {
        errors.0.entry(field.clone()).or_insert_with(|| refusal.message());
    }
    if text.is_empty() && documents.is_empty() && errors.is_empty() {
        errors.add("risposta", Text::new("cases.answer_check.empty"));
    }
    if text.chars().count() > 5000 {
        errors.add("risposta", Text::new("cases.answer_check.too_long").with("max", 5000));
    }
    if !errors.is_empty() {
        // Nothing is kept of a refused answer: the citizen sends it again whole.
        tx.rollback().await?;
        let status =
            if received.storage_failed() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::UNPROCESSABLE_ENTITY };
        return render_answer(&state, &tenant, &csrf, &case, &request, &text, &errors, status);
    }
    file_answer(&state, &tenant.0, &mut tx, &case, id, &text, &documents, None).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/pratiche/{case_id}?integrazione=1")).into_response())
}

/// Files the citizen's answer to request `id` of `case` (its documents already
/// recorded under the request): registered like the submission, its documents
/// marked with the number; the last pending answer brings the case back to
/// the office. `as_of` is `None` but in the demo seeding (`procedure::Env::as_of`).
#[allow(clippy::too_many_arguments)]
pub async fn file_answer(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    id: Uuid,
    text: &str,
    documents: &[Document],
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> AppResult<()> {
    let case_id = case.id;
    let user = users::by_id(tx, case.user_id).await?.ok_or(AppError::NotFound)?;
    let correspondent = user.name_and_fiscal_code();
    // The registered document is the first attachment or, with none, the
    // answer's text (its hash is what the register keeps).
    let document_sha256 = documents.first().map(|d| d.sha256.clone());
    let (words, lang) = (state.renderer.catalogues(), tenant.default_lang());
    let subject = words.text(
        lang,
        &Text::new("cases.record.integration").with("reference", &case.reference).with("title", &case.procedure_title),
    );
    let entry = registry::register_at(
        tx,
        registry::NewEntry {
            direction: Direction::Incoming,
            correspondent: &correspondent,
            subject: &subject,
            document_sha256: document_sha256.as_deref(),
            case_id: Some(case_id),
        },
        as_of,
    )
    .await?;
    store::register_documents(tx, case_id, Some(id), entry.year, entry.number).await?;
    integration_answers::record(tx, id, text, &entry).await?;
    let pending = integration_answers::pending(tx, case_id).await?;
    let mark = entry.mark(&tenant.profile.ipa_code);
    store::add_event_at(
        tx,
        as_of,
        case_id,
        "integration_answered",
        Actor::Citizen,
        &words.text(lang, &Text::new("cases.record.integration_answered").with("mark", &mark)),
        json!({ "request": id, "registry": mark, "documents": documents.len() }),
    )
    .await?;
    if pending == 0 {
        // The last pending answer: the case goes back to the office.
        let env = crate::procedure::Env { as_of, ..state.env() };
        engine::resume_after_integration(env, tenant, tx, case_id).await?;
    }
    Ok(())
}
