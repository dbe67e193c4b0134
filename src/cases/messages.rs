//! Messages between the citizen and the office, per case (and per assistance
//! request), with an e-mail to the other side and read status.

use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access::OwnCase;
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    procedure::{
        messages::{insert, notify_office, Thread, MAX_BODY_CHARS},
        store::{self, Actor},
    },
    state::AppState,
    web::{render_page, CurrentTenant},
};

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
    OwnCase { session, mut tx, case }: OwnCase,
    Form(form): Form<MessageForm>,
) -> AppResult<Response> {
    let case_id = case.id;
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
    store::add_event(
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
