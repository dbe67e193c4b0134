//! Messages between the citizen and the office, per case (and per assistance
//! request), with an e-mail to the other side and read status.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{
    db::{self, Actor},
    integrations::notify_citizen,
};
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    notify,
    state::AppState,
    tenancy::{CurrentTenant, Tenant},
    web::render_page,
};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    pub case_id: Option<Uuid>,
    pub assistance_id: Option<Uuid>,
    pub sender: String,
    pub author_name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, case_id, assistance_id, sender, author_name, body, created_at, read_at";

pub const MAX_BODY_CHARS: usize = 10_000;

pub enum Thread {
    Case(Uuid),
    Assistance(Uuid),
}

pub async fn insert(
    tx: &mut TenantTx,
    thread: Thread,
    sender: &str,
    author_name: &str,
    body: &str,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    let (case_id, assistance_id) = match thread {
        Thread::Case(c) => (Some(c), None),
        Thread::Assistance(a) => (None, Some(a)),
    };
    sqlx::query(
        "insert into messages (tenant_id, id, case_id, assistance_id, sender, author_name, body)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(case_id)
    .bind(assistance_id)
    .bind(sender)
    .bind(author_name)
    .bind(body)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

pub async fn of_case(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(&format!("select {COLUMNS} from messages where case_id = $1 order by created_at"))
        .bind(case_id)
        .fetch_all(tx.conn())
        .await
}

pub async fn of_assistance(tx: &mut TenantTx, assistance_id: Uuid) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(&format!("select {COLUMNS} from messages where assistance_id = $1 order by created_at"))
        .bind(assistance_id)
        .fetch_all(tx.conn())
        .await
}

/// The citizen has seen the thread: what the other side wrote is read.
pub async fn mark_read_by_citizen(tx: &mut TenantTx, thread: Thread) -> sqlx::Result<()> {
    let (column, id) = match thread {
        Thread::Case(c) => ("case_id", c),
        Thread::Assistance(a) => ("assistance_id", a),
    };
    sqlx::query(&format!(
        "update messages set read_at = now() where {column} = $1 and sender <> 'citizen' and read_at is null"
    ))
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The office opened the case: the citizen's messages on it are read.
pub async fn mark_read_by_office(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update messages set read_at = now() where case_id = $1 and sender = 'citizen' and read_at is null")
        .bind(case_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The office writes to the citizen about a case (the back office calls it).
pub async fn office_writes(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case_id: Uuid,
    author_name: &str,
    body: &str,
) -> AppResult<Uuid> {
    let case = db::case_by_id(tx, case_id, false).await?.ok_or(AppError::NotFound)?;
    let id = insert(tx, Thread::Case(case_id), "office", author_name, body).await?;
    db::add_event(tx, case_id, "message", Actor::Office, "Nuovo messaggio dall'ufficio", json!({ "message": id }))
        .await?;
    notify_citizen(
        state,
        tenant,
        tx,
        &case,
        &format!("Nuovo messaggio — pratica {}", case.reference),
        &format!("hai ricevuto un messaggio dall'ufficio sulla pratica \"{}\".", case.procedure_title),
    )
    .await?;
    Ok(id)
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    pub body: String,
}

/// Checks a message body; the Italian message for the page when it is wrong.
pub fn check_body(body: &str) -> Result<&str, &'static str> {
    let body = body.trim();
    if body.is_empty() {
        Err("cases.message_empty")
    } else if body.chars().count() > MAX_BODY_CHARS {
        Err("cases.message_too_long")
    } else {
        Ok(body)
    }
}

pub async fn citizen_writes(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: CurrentSession,
    Path(case_id): Path<Uuid>,
    Form(form): Form<MessageForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = db::case_of_user(&mut tx, case_id, session.user_id, false).await?.ok_or(AppError::NotFound)?;
    let body = match check_body(&form.body) {
        Ok(body) => body,
        Err(message) => {
            tx.commit().await?;
            return Ok(
                Redirect::to(&format!("/area-personale/pratiche/{case_id}?errore={message}#messaggi")).into_response()
            );
        }
    };
    if case.is_draft() {
        return Err(AppError::NotFound);
    }
    let id = insert(&mut tx, Thread::Case(case_id), "citizen", &session.display_name(), body).await?;
    db::add_event(
        &mut tx,
        case_id,
        "message",
        Actor::Citizen,
        "Messaggio inviato all'ufficio",
        json!({ "message": id }),
    )
    .await?;
    notify_office(&mut tx, &case.office_code, &format!("Nuovo messaggio — pratica {}", case.reference), body).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/pratiche/{case_id}#messaggi")).into_response())
}

/// An e-mail to the office's address, when it has one.
pub async fn notify_office(tx: &mut TenantTx, office_code: &str, subject: &str, text: &str) -> AppResult<()> {
    let email: Option<(String,)> = sqlx::query_as("select email from offices where code = $1 and email <> ''")
        .bind(office_code)
        .fetch_optional(tx.conn())
        .await?;
    if let Some((email,)) = email {
        notify::queue_mail(tx, &email, subject, text).await?;
    }
    Ok(())
}

/// Every message of the person, across cases and assistance requests.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct InboxLine {
    pub created_at: DateTime<Utc>,
    pub sender: String,
    pub author_name: String,
    pub body: String,
    pub read_at: Option<DateTime<Utc>>,
    pub url: String,
    pub about: String,
}

pub async fn inbox(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let lines: Vec<InboxLine> = sqlx::query_as(
        "select m.created_at, m.sender, m.author_name, m.body, m.read_at,
                '/area-personale/pratiche/' || c.id || '#messaggi' as url,
                c.procedure_title || ' (' || c.reference || ')' as about
         from messages m join cases c on c.id = m.case_id
         where c.user_id = $1
         union all
         select m.created_at, m.sender, m.author_name, m.body, m.read_at,
                '/area-personale/assistenza/' || a.id as url, a.subject as about
         from messages m join assistance_requests a on a.id = m.assistance_id
         where a.user_id = $1
         order by created_at desc limit 200",
    )
    .bind(session.user_id)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("lines", &lines);
    Ok(render_page(&state, &tenant.site(), "cases/messages.html", &context)?.into_response())
}
