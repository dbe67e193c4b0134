//! Messages between the citizen and the office, per case (and per assistance
//! request), with an e-mail to the other side and read status.

use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use serde_json::json;

use super::access::OwnCase;
use crate::{
    auth::{page::Page, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::{
        inbox,
        messages::{insert_at, notify_office, Thread, MAX_BODY_CHARS},
        store::{self, Actor, Case},
    },
    state::AppState,
    tenancy::Tenant,
    web::CurrentTenant,
};

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    pub body: String,
}

/// Checks a message body; the catalogue key of the message for the page when it is wrong.
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
    citizen_message(&state, &tenant.0, &mut tx, &case, &session.display_name(), body, None).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/pratiche/{case_id}#messaggi")).into_response())
}

/// The citizen writes to the office about a submitted case (a checked body):
/// the message, the timeline, an e-mail to the office. `as_of` is `None` but in
/// the demo seeding (`procedure::Env::as_of`).
pub async fn citizen_message(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    author_name: &str,
    body: &str,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> AppResult<uuid::Uuid> {
    let id = insert_at(tx, as_of, Thread::Case(case.id), "citizen", author_name, body).await?;
    let (words, lang) = (state.renderer.catalogues(), tenant.default_lang());
    let summary = words.text(lang, &Text::new("cases.record.message_sent"));
    store::add_event_at(tx, as_of, case.id, "message", Actor::Citizen, &summary, json!({ "message": id })).await?;
    let subject = words.text(lang, &Text::new("mail.office_message.subject").with("reference", &case.reference));
    notify_office(tx, &case.office_code, &subject, body).await?;
    Ok(id)
}

pub use crate::procedure::inbox::InboxLine;

/// Every message of the person, across cases and assistance requests.
pub async fn inbox(page: Page, session: CurrentSession) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let lines = inbox::of_user(&mut tx, session.user_id).await?;
    tx.commit().await?;
    let mut context = page.context();
    context.insert("lines", &lines);
    page.render("cases/messages.html", &context)
}
