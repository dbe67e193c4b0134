//! Asking for help: technical (the platform's support desk) or administrative
//! (the ente's office), about one of the person's cases or in general. Each
//! request has its own thread of messages.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::messages::check_body;
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    input::FormErrors,
    notify,
    procedure::{
        messages::{self, notify_office, Thread},
        status::CaseStatus,
        store,
    },
    state::AppState,
    web::{render_page, CurrentTenant},
};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Assistance {
    pub id: Uuid,
    pub kind: String,
    pub case_id: Option<Uuid>,
    pub case_reference: Option<String>,
    pub subject: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "select a.id, a.kind, a.case_id, c.reference as case_reference, a.subject, a.status, a.created_at
     from assistance_requests a left join cases c on c.id = a.case_id";

#[derive(Default, Deserialize, Serialize)]
pub struct AssistanceForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    case_id: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
}

pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
) -> AppResult<Response> {
    render_list(&state, &tenant, &csrf, &session, &AssistanceForm::default(), FormErrors::default()).await
}

async fn render_list(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    session: &CurrentSession,
    form: &AssistanceForm,
    errors: FormErrors,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let requests: Vec<Assistance> =
        sqlx::query_as(&format!("{SELECT} where a.user_id = $1 order by a.created_at desc"))
            .bind(session.user_id)
            .fetch_all(tx.conn())
            .await?;
    let cases = store::cases_of_user(&mut tx, session.user_id).await?;
    tx.commit().await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut context = auth_context(tenant, csrf);
    context.insert("requests", &requests);
    context.insert("cases", &cases.iter().filter(|c| c.status != CaseStatus::Draft).collect::<Vec<_>>());
    context.insert("form", form);
    context.insert("errors", &errors);
    Ok((status, render_page(state, &tenant.site(), "cases/assistance_list.html", &context)?).into_response())
}

pub async fn open(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Form(form): Form<AssistanceForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    errors.check("kind", matches!(form.kind.as_str(), "technical" | "administrative"), "assistance.kind_required");
    let subject = form.subject.trim();
    errors.check("subject", (1..=200).contains(&subject.chars().count()), "assistance.subject_required");
    let body = check_body(&form.body);
    if let Err(message) = body {
        errors.add("body", message);
    }
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    // Only one of the person's own cases can be named.
    let case = match Uuid::parse_str(form.case_id.trim()) {
        Ok(id) => Some(store::case_of_user(&mut tx, id, session.user_id, false).await?.ok_or(AppError::NotFound)?),
        Err(_) => None,
    };
    let (true, Ok(body)) = (errors.is_empty(), body) else {
        tx.commit().await?;
        return render_list(&state, &tenant, &csrf, &session, &form, errors).await;
    };
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into assistance_requests (tenant_id, id, user_id, kind, case_id, subject) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(session.user_id)
    .bind(&form.kind)
    .bind(case.as_ref().map(|c| c.id))
    .bind(subject)
    .execute(tx.conn())
    .await?;
    messages::insert(&mut tx, Thread::Assistance(id), "citizen", &session.display_name(), body).await?;
    let mail_subject = format!("Richiesta di assistenza — {subject}");
    let text = format!("{} scrive ({}):\n\n{body}", session.display_name(), tenant.0.name);
    if form.kind == "technical" {
        if !state.settings.support_email.is_empty() {
            notify::queue_mail(&mut tx, &state.settings.support_email, &mail_subject, &text).await?;
        }
    } else {
        let office = match &case {
            Some(c) => c.office_code.clone(),
            None => main_office(&mut tx).await?.unwrap_or_default(),
        };
        notify_office(&mut tx, &office, &mail_subject, &text).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/assistenza/{id}")).into_response())
}

/// The ente's office (`sender` = "office") or the platform's support desk
/// ("platform") answers a request; the citizen is e-mailed. The back office
/// and the platform console call it.
pub async fn staff_replies(
    state: &AppState,
    tenant: &crate::tenancy::Tenant,
    tx: &mut TenantTx,
    id: Uuid,
    sender: &str,
    author_name: &str,
    body: &str,
) -> AppResult<Uuid> {
    let owner: Option<(Uuid, String)> =
        sqlx::query_as("select user_id, subject from assistance_requests where id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    let (user_id, subject) = owner.ok_or(AppError::NotFound)?;
    let message = messages::insert(tx, Thread::Assistance(id), sender, author_name, body).await?;
    if let Some(email) = crate::users::by_id(tx, user_id).await?.and_then(|u| u.email) {
        let link =
            format!("{}://{}/area-personale/assistenza/{id}", state.settings.public_scheme(), tenant.primary_host);
        let text = format!(
            "hai ricevuto una risposta alla tua richiesta di assistenza \"{subject}\":\n{link}\n\n{}",
            tenant.name
        );
        notify::queue_mail(tx, &email, &format!("Risposta alla richiesta di assistenza — {subject}"), &text).await?;
    }
    Ok(message)
}

/// The office that answers general questions: the first one of the ente.
async fn main_office(tx: &mut TenantTx) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("select code from offices where email <> '' order by code limit 1")
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.map(|(c,)| c))
}

async fn own(tx: &mut TenantTx, id: Uuid, user_id: Uuid) -> AppResult<Assistance> {
    let found: Option<Assistance> = sqlx::query_as(&format!("{SELECT} where a.id = $1 and a.user_id = $2"))
        .bind(id)
        .bind(user_id)
        .fetch_optional(tx.conn())
        .await?;
    found.ok_or(AppError::NotFound)
}

pub async fn thread(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let request = own(&mut tx, id, session.user_id).await?;
    let thread = messages::of_assistance(&mut tx, id).await?;
    messages::mark_read_by_citizen(&mut tx, Thread::Assistance(id)).await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("request", &request);
    context.insert("messages", &thread);
    Ok(render_page(&state, &tenant.site(), "cases/assistance_thread.html", &context)?.into_response())
}

pub async fn reply(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: CurrentSession,
    Path(id): Path<Uuid>,
    Form(form): Form<super::messages::MessageForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let request = own(&mut tx, id, session.user_id).await?;
    let Ok(body) = check_body(&form.body) else {
        tx.commit().await?;
        return Ok(Redirect::to(&format!("/area-personale/assistenza/{id}?errore=1#risposta")).into_response());
    };
    messages::insert(&mut tx, Thread::Assistance(id), "citizen", &session.display_name(), body).await?;
    if request.status == "closed" {
        sqlx::query("update assistance_requests set status = 'open' where id = $1").bind(id).execute(tx.conn()).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/assistenza/{id}")).into_response())
}
