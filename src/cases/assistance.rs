//! Asking for help: technical (the platform's support desk) or administrative
//! (the ente's office), about one of the person's cases or in general. Each
//! request has its own thread of messages.

use axum::{
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::messages::check_body;
use crate::{
    auth::{page::Page, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    input::FormErrors,
    notify,
    procedure::{
        assistance::{self, NewAssistance},
        messages::{self, notify_office, Thread},
        status::CaseStatus,
        store,
    },
    state::AppState,
};

pub use crate::procedure::assistance::Assistance;

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

pub async fn list(page: Page, session: CurrentSession) -> AppResult<Response> {
    render_list(&page, &session, &AssistanceForm::default(), FormErrors::default()).await
}

async fn render_list(
    page: &Page,
    session: &CurrentSession,
    form: &AssistanceForm,
    errors: FormErrors,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let requests = assistance::of_user(&mut tx, session.user_id).await?;
    let cases = store::cases_of_user(&mut tx, session.user_id).await?;
    tx.commit().await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut context = page.context();
    context.insert("requests", &requests);
    context.insert("cases", &cases.iter().filter(|c| c.status != CaseStatus::Draft).collect::<Vec<_>>());
    context.insert("form", form);
    context.insert("errors", &errors);
    page.render_with(status, "cases/assistance_list.html", &context)
}

pub async fn open(page: Page, session: CurrentSession, Form(form): Form<AssistanceForm>) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    errors.check("kind", matches!(form.kind.as_str(), "technical" | "administrative"), "assistance.kind_required");
    let subject = form.subject.trim();
    errors.check("subject", (1..=200).contains(&subject.chars().count()), "assistance.subject_required");
    let body = check_body(&form.body);
    if let Err(message) = body {
        errors.add("body", message);
    }
    let state = &page.state;
    let tenant = &page.tenant.0;
    let mut tx = TenantTx::begin(&state.db, tenant.id).await?;
    // Only one of the person's own cases can be named.
    let case = match Uuid::parse_str(form.case_id.trim()) {
        Ok(id) => Some(store::case_of_user(&mut tx, id, session.user_id, false).await?.ok_or(AppError::NotFound)?),
        Err(_) => None,
    };
    let (true, Ok(body)) = (errors.is_empty(), body) else {
        tx.commit().await?;
        return render_list(&page, &session, &form, errors).await;
    };
    let new =
        NewAssistance { user_id: session.user_id, kind: &form.kind, case_id: case.as_ref().map(|c| c.id), subject };
    let id = assistance::open(&mut tx, new).await?;
    messages::insert(&mut tx, Thread::Assistance(id), "citizen", &session.display_name(), body).await?;
    let (words, lang) = (state.renderer.catalogues(), tenant.default_lang());
    let mail_subject = words.text(lang, &Text::new("mail.assistance.subject").with("subject", subject));
    let text = words.text(
        lang,
        &Text::new("mail.assistance.body")
            .with("name", session.display_name())
            .with("ente", &tenant.name)
            .with("body", body),
    );
    if form.kind == "technical" {
        if !state.settings.support_email.is_empty() {
            notify::queue_mail(&mut tx, &state.settings.support_email, &mail_subject, &text).await?;
        }
    } else {
        let office = match &case {
            Some(c) => c.office_code.clone(),
            None => assistance::main_office(&mut tx).await?.unwrap_or_default(),
        };
        notify_office(&mut tx, &office, &mail_subject, &text).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/assistenza/{id}")).into_response())
}

/// The ente's office (`sender` = "office") or the platform's support desk
/// ("platform") answers a request; the citizen is e-mailed, in the ente's
/// language. The back office and the platform console call it.
pub async fn staff_replies(
    state: &AppState,
    tenant: &crate::tenancy::Tenant,
    tx: &mut TenantTx,
    id: Uuid,
    sender: &str,
    author_name: &str,
    body: &str,
) -> AppResult<Uuid> {
    let owner = assistance::owner(tx, id).await?.ok_or(AppError::NotFound)?;
    let message = messages::insert(tx, Thread::Assistance(id), sender, author_name, body).await?;
    if let Some(email) = crate::users::by_id(tx, owner.user_id).await?.and_then(|u| u.email) {
        let link =
            format!("{}://{}/area-personale/assistenza/{id}", state.settings.public_scheme(), tenant.primary_host);
        let mail = |key: &'static str| {
            Text::new(key).with("subject", &owner.subject).with("link", &link).with("ente", &tenant.name)
        };
        let (words, lang) = (state.renderer.catalogues(), tenant.default_lang());
        let (subject, text) = (
            words.text(lang, &mail("mail.assistance_reply.subject")),
            words.text(lang, &mail("mail.assistance_reply.body")),
        );
        notify::queue_mail(tx, &email, &subject, &text).await?;
    }
    Ok(message)
}

async fn own(tx: &mut TenantTx, id: Uuid, user_id: Uuid) -> AppResult<Assistance> {
    assistance::own(tx, id, user_id).await?.ok_or(AppError::NotFound)
}

pub async fn thread(page: Page, session: CurrentSession, Path(id): Path<Uuid>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let request = own(&mut tx, id, session.user_id).await?;
    let thread = messages::of_assistance(&mut tx, id).await?;
    messages::mark_read_by_citizen(&mut tx, Thread::Assistance(id)).await?;
    tx.commit().await?;
    let mut context = page.context();
    context.insert("request", &request);
    context.insert("messages", &thread);
    page.render("cases/assistance_thread.html", &context)
}

pub async fn reply(
    page: Page,
    session: CurrentSession,
    Path(id): Path<Uuid>,
    Form(form): Form<super::messages::MessageForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let request = own(&mut tx, id, session.user_id).await?;
    let Ok(body) = check_body(&form.body) else {
        tx.commit().await?;
        return Ok(Redirect::to(&format!("/area-personale/assistenza/{id}?errore=1#risposta")).into_response());
    };
    messages::insert(&mut tx, Thread::Assistance(id), "citizen", &session.display_name(), body).await?;
    if request.status == "closed" {
        assistance::reopen(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/area-personale/assistenza/{id}")).into_response())
}
