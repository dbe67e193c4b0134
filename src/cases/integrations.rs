//! Requests for integration: the office asks for more (any number of times),
//! the citizen answers with a message and documents, and the answer is
//! registered like the submission. The office side is a domain function until
//! the back office lands.

use axum::{
    extract::{Multipart, Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    db::{self, Actor, Case},
    form::FieldErrors,
    submit::case_link,
    uploads::{self, Target},
};
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, session::CurrentSession, users},
    backoffice::{clock::ClockEffect, engine},
    db::TenantTx,
    error::{AppError, AppResult},
    notify,
    registry::{self, Direction},
    state::AppState,
    tenancy::{CurrentTenant, Tenant},
    web::render_page,
};

/// The formats an answer may carry: the documents the AgID guidelines accept
/// and citizens actually have.
pub const ANSWER_FORMATS: &[&str] = &["pdf", "p7m", "jpg", "png", "odt", "docx", "txt", "xml"];

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IntegrationRequest {
    pub id: Uuid,
    pub case_id: Uuid,
    pub reason: String,
    pub due_date: Option<NaiveDate>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answer: Option<String>,
    pub answer_registry_year: Option<i32>,
    pub answer_registry_number: Option<i64>,
}

const COLUMNS: &str = "id, case_id, reason, due_date, requested_by, requested_at, answered_at, answer, \
                       answer_registry_year, answer_registry_number";

pub async fn of_case(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<Vec<IntegrationRequest>> {
    sqlx::query_as(&format!("select {COLUMNS} from integration_requests where case_id = $1 order by requested_at"))
        .bind(case_id)
        .fetch_all(tx.conn())
        .await
}

async fn one(tx: &mut TenantTx, case_id: Uuid, id: Uuid) -> sqlx::Result<Option<IntegrationRequest>> {
    sqlx::query_as(&format!("select {COLUMNS} from integration_requests where case_id = $1 and id = $2 for update"))
        .bind(case_id)
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// Records a request of the office and tells the citizen (e-mail queued in
/// this transaction). The status change is the workflow engine's
/// (`backoffice::engine::run_transition`), which calls this.
#[allow(clippy::too_many_arguments)]
pub async fn request_integration(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case_id: Uuid,
    reason: &str,
    due_date: Option<NaiveDate>,
    requested_by: &str,
    clock: ClockEffect,
) -> AppResult<Uuid> {
    let case = db::case_by_id(tx, case_id, true).await?.ok_or(AppError::NotFound)?;
    if case.is_draft() {
        return Err(AppError::NotFound);
    }
    let id = Uuid::new_v4();
    let clock_effect = match clock {
        ClockEffect::Suspend => "suspend",
        ClockEffect::Interrupt => "interrupt",
    };
    sqlx::query(
        "insert into integration_requests (tenant_id, id, case_id, reason, due_date, requested_by, clock_effect)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(case_id)
    .bind(reason)
    .bind(due_date)
    .bind(requested_by)
    .bind(clock_effect)
    .execute(tx.conn())
    .await?;
    db::add_event(
        tx,
        case_id,
        "integration_requested",
        Actor::Office,
        "L'ufficio ha chiesto un'integrazione",
        json!({ "request": id, "clock": clock_effect }),
    )
    .await?;
    let mut text = format!("l'ufficio chiede di integrare la richiesta \"{}\":\n\n{reason}", case.procedure_title);
    if let Some(day) = due_date {
        text.push_str(&format!("\n\nRispondi entro il {}.", crate::web::time::format_date(day)));
    }
    let clock_text = match clock {
        ClockEffect::Suspend => "Il termine del procedimento è sospeso fino alla tua risposta.",
        ClockEffect::Interrupt => "Il termine del procedimento ricomincia da capo dalla tua risposta.",
    };
    text.push_str(&format!("\n{clock_text}"));
    notify_citizen(state, tenant, tx, &case, &format!("Integrazione richiesta — pratica {}", case.reference), &text)
        .await?;
    Ok(id)
}

/// An e-mail to the citizen about their case, queued in the transaction.
pub async fn notify_citizen(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    subject: &str,
    text: &str,
) -> AppResult<()> {
    let Some(user) = users::by_id(tx, case.user_id).await? else { return Ok(()) };
    if let Some(email) = &user.email {
        let body = format!(
            "Gentile {},\n\n{text}\n\nTrovi la pratica nella tua area personale:\n{}\n\n{}",
            user.given_name,
            case_link(state, tenant, case.id),
            tenant.name
        );
        notify::queue_mail(tx, email, subject, &body).await?;
    }
    Ok(())
}

pub async fn answer_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Path((case_id, id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = db::case_of_user(&mut tx, case_id, session.user_id, false).await?.ok_or(AppError::NotFound)?;
    let request = one(&mut tx, case_id, id).await?.ok_or(AppError::NotFound)?;
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
    db::case_of_user(&mut tx, case_id, session.user_id, false).await?.ok_or(AppError::NotFound)?;
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
    let case = db::case_of_user(&mut tx, case_id, session.user_id, true).await?.ok_or(AppError::NotFound)?;
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
        errors.0.entry(field.clone()).or_insert_with(|| refusal.message_it());
    }
    if text.is_empty() && documents.is_empty() && errors.is_empty() {
        errors.add("risposta", "Scrivi una risposta o allega almeno un documento.");
    }
    if text.chars().count() > 5000 {
        errors.add("risposta", "La risposta può contenere al massimo 5000 caratteri.");
    }
    if !errors.is_empty() {
        // Nothing is kept of a refused answer: the citizen sends it again whole.
        tx.rollback().await?;
        let status =
            if received.storage_failed() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::UNPROCESSABLE_ENTITY };
        return render_answer(&state, &tenant, &csrf, &case, &request, &text, &errors, status);
    }
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    let correspondent = user.name_and_fiscal_code();
    // The registered document is the first attachment or, with none, the
    // answer's text (its hash is what the register keeps).
    let document_sha256 = documents.first().map(|d| d.sha256.clone());
    let entry = registry::register(
        &mut tx,
        registry::NewEntry {
            direction: Direction::Incoming,
            correspondent: &correspondent,
            subject: &format!("Integrazione alla pratica {} — {}", case.reference, case.procedure_title),
            document_sha256: document_sha256.as_deref(),
            case_id: Some(case_id),
        },
    )
    .await?;
    db::register_documents(&mut tx, case_id, Some(id), entry.year, entry.number).await?;
    sqlx::query(
        "update integration_requests set answered_at = now(), answer = $2, answer_registry_year = $3,
             answer_registry_number = $4 where id = $1",
    )
    .bind(id)
    .bind(&text)
    .bind(entry.year)
    .bind(entry.number)
    .execute(tx.conn())
    .await?;
    let pending: (i64,) =
        sqlx::query_as("select count(*) from integration_requests where case_id = $1 and answered_at is null")
            .bind(case_id)
            .fetch_one(tx.conn())
            .await?;
    let mark = entry.mark(&tenant.0.profile.ipa_code);
    db::add_event(
        &mut tx,
        case_id,
        "integration_answered",
        Actor::Citizen,
        &format!("Integrazione inviata e protocollata con numero {mark}"),
        json!({ "request": id, "registry": mark, "documents": documents.len() }),
    )
    .await?;
    if pending.0 == 0 {
        // The last pending answer: the case goes back to the office.
        engine::resume_after_integration(&state, &tenant.0, &mut tx, case_id).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/pratiche/{case_id}?integrazione=1")).into_response())
}
