//! The person's own account: profile and contacts, password, active sessions,
//! a copy of their data, and deleting the account.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Json,
};
use chrono::Utc;
use serde::Deserialize;

use super::{
    authz::{Access, RouteSpec},
    otp::{self, Channel, CodeMessage, Purpose},
    page::Page,
    password,
    ratelimit::Action,
    session::{self, ClientInfo, CurrentSession},
};
use crate::users;
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    input::{normalize_email, normalize_mobile, FormErrors},
    procedure,
    state::AppState,
    web::CurrentTenant,
};

const READ: Access = Access::signed_in("account", "read");
const WRITE: Access = Access::signed_in("account", "write");

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/area-personale/profilo", &["GET"], READ, get(profile)),
        RouteSpec::new("/area-personale/password", &["POST"], WRITE, post(change_password)),
        RouteSpec::new("/area-personale/recapiti", &["POST"], WRITE, post(change_contacts)),
        RouteSpec::new(
            "/area-personale/recapiti/verifica",
            &["GET", "POST"],
            WRITE,
            get(contacts_verify_page).post(verify_contacts),
        ),
        RouteSpec::new("/area-personale/sessioni", &["GET"], READ, get(sessions_page)),
        RouteSpec::new("/area-personale/sessioni/{id}/revoca", &["POST"], WRITE, post(revoke_session)),
        RouteSpec::new("/area-personale/dati", &["GET"], READ, get(download_data)),
        RouteSpec::new("/area-personale/elimina", &["POST"], WRITE, post(delete_account)),
    ]
}

async fn profile(page: Page, session: CurrentSession) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    profile_page(&page, &session, &user, FormErrors::default(), None)
}

fn profile_page(
    page: &Page,
    session: &CurrentSession,
    user: &users::User,
    errors: FormErrors,
    notice: Option<&str>,
) -> AppResult<Response> {
    // A form with errors answers 422, whichever form of the page it was.
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut context = page.context();
    context.insert("session", session);
    context.insert("user", user);
    context.insert("has_password", &user.password_hash.is_some());
    context.insert("errors", &errors);
    context.insert("notice", &notice);
    page.render_with(status, "account/profile.html", &context)
}

#[derive(Deserialize)]
pub struct PasswordChange {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(page: Page, session: CurrentSession, Form(form): Form<PasswordChange>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::default();
    if user.password_hash.is_none() {
        errors.add("current", "account.no_password");
    } else if !password::verify(form.current.clone(), user.password_hash.clone()).await? {
        errors.add("current", "account.current_wrong");
    }
    if let Some(weak) = password::weakness(&form.new_password, user.email.as_deref().unwrap_or_default()) {
        errors.add("new_password", weak);
    }
    errors.check("confirm", form.new_password == form.confirm, "validation.password_mismatch");
    if !errors.is_empty() {
        tx.commit().await?;
        return profile_page(&page, &session, &user, errors, None);
    }
    let hash = password::hash(form.new_password).await?;
    users::set_password(&mut tx, user.id, &hash).await?;
    // Whoever knew the old password is signed out everywhere else.
    session::end_all_of_user(&mut tx, user.id, Some(&session.token_hash)).await?;
    tx.commit().await?;
    profile_page(&page, &session, &user, FormErrors::default(), Some("account.password_changed"))
}

#[derive(Deserialize)]
pub struct ContactsForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    mobile: String,
}

/// New contacts take effect only once each is proven with a code sent to it.
async fn change_contacts(
    page: Page,
    client: ClientInfo,
    session: CurrentSession,
    Form(form): Form<ContactsForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::default();
    let email = normalize_email(&form.email);
    let mobile = normalize_mobile(&form.mobile);
    errors.check("email", email.is_some(), "validation.email");
    errors.check("mobile", mobile.is_some(), "validation.mobile");
    let (Some(email), Some(mobile)) = (email, mobile) else {
        tx.commit().await?;
        return profile_page(&page, &session, &user, errors, None);
    };
    let email_changed = user.email.as_deref() != Some(email.as_str()) || user.email_verified_at.is_none();
    let mobile_changed = user.mobile.as_deref() != Some(mobile.as_str()) || user.mobile_verified_at.is_none();
    if email_changed && users::by_email(&mut tx, &email).await?.is_some_and(|other| other.id != user.id) {
        errors.add("email", "validation.email_taken");
        tx.commit().await?;
        return profile_page(&page, &session, &user, errors, None);
    }
    if !email_changed && !mobile_changed {
        tx.commit().await?;
        return profile_page(&page, &session, &user, errors, Some("account.contacts_unchanged"));
    }
    let mut data = serde_json::json!({ "email": email, "mobile": mobile });
    let mut messages = Vec::new();
    if email_changed {
        messages.push(CodeMessage {
            purpose: Purpose::VerifyEmail,
            channel: Channel::Email,
            to: &email,
            template: "mail.contact",
        });
    }
    if mobile_changed {
        messages.push(CodeMessage {
            purpose: Purpose::VerifyMobile,
            channel: Channel::Sms,
            to: &mobile,
            template: "sms.verify_code",
        });
    }
    let ids = match otp::send_codes(&page.state, &mut tx, &page.tenant.0, client.ip, user.id, &messages).await? {
        Ok(ids) => ids,
        Err(refused) => {
            tx.rollback().await?;
            errors.add(refused.field(), refused.refusal.message());
            let mut response = profile_page(&page, &session, &user, errors, None)?;
            *response.status_mut() = refused.refusal.status();
            return Ok(response);
        }
    };
    for (message, id) in messages.iter().zip(ids) {
        let field = if message.channel == Channel::Email { "email_code" } else { "sms_code" };
        data[field] = serde_json::json!(id);
    }
    let (_, cookie) =
        session::begin_flow(&mut tx, "contacts", Some(user.id), data, chrono::Duration::minutes(30)).await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/area-personale/recapiti/verifica")).into_response())
}

async fn contacts_verify_page(page: Page, headers: HeaderMap) -> AppResult<Response> {
    let flow = session::load_flow(&page.state.db, page.tenant.0.id, &headers, "contacts").await?;
    let Some(flow) = flow else { return Ok(Redirect::to("/area-personale/profilo").into_response()) };
    contacts_verify(&page, &flow.data, FormErrors::default(), StatusCode::OK)
}

fn contacts_verify(
    page: &Page,
    data: &serde_json::Value,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let mut context = page.context();
    context.insert("pending", data);
    context.insert("errors", &errors);
    page.render_with(status, "account/contacts_verify.html", &context)
}

#[derive(Deserialize)]
pub struct ContactCodes {
    #[serde(default)]
    email_code: String,
    #[serde(default)]
    sms_code: String,
}

async fn verify_contacts(
    page: Page,
    client: ClientInfo,
    headers: HeaderMap,
    session: CurrentSession,
    Form(form): Form<ContactCodes>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let flow = session::find_flow(&mut tx, &headers, "contacts").await?.filter(|f| f.user_id == Some(session.user_id));
    let Some(flow) = flow else { return Ok(Redirect::to("/area-personale/profilo").into_response()) };
    page.state.limits.check(Action::Otp, &page.tenant.0.slug, client.ip, Some(&session.user_id.to_string()))?;
    let mut data = flow.data.clone();
    let errors = otp::confirm_contacts(
        &mut tx,
        session.user_id,
        &mut data,
        &form.email_code,
        &form.sms_code,
        "auth.code_spent_contacts",
    )
    .await?;
    if errors.is_empty() {
        session::end_flow(&mut tx, &headers).await?;
        let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        let profile = profile_page(&page, &session, &user, FormErrors::default(), Some("account.contacts_changed"))?;
        return Ok(([(header::SET_COOKIE, session::clear_cookie(session::FLOW_COOKIE))], profile).into_response());
    }
    session::update_flow(&mut tx, &headers, &data).await?;
    tx.commit().await?;
    contacts_verify(&page, &data, errors, StatusCode::UNPROCESSABLE_ENTITY)
}

async fn sessions_page(page: Page, session: CurrentSession) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let sessions = session::sessions_of_user(&mut tx, &session).await?;
    tx.commit().await?;
    let mut context = page.context();
    context.insert("sessions", &sessions);
    page.render("account/sessions.html", &context)
}

async fn revoke_session(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: CurrentSession,
    Path(id): Path<String>,
) -> AppResult<Response> {
    if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let removed = session::revoke(&mut tx, session.user_id, &id.to_lowercase()).await?;
    tx.commit().await?;
    if !removed {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/area-personale/sessioni").into_response())
}

/// Everything the ente holds about the person, as JSON (GDPR art. 15 and 20).
async fn download_data(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: CurrentSession,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    let sessions = session::sessions_of_user(&mut tx, &session).await?;
    let cases = procedure::store::cases_of_user(&mut tx, session.user_id).await?;
    let delegations = procedure::delegations::active(&mut tx, session.user_id).await?;
    tx.commit().await?;
    let body = serde_json::json!({
        "ente": tenant.0.name,
        "generated_at": Utc::now(),
        "account": user,
        "sessions": sessions,
        "cases": cases,
        "delegations": delegations,
    });
    Ok((
        [
            (header::CONTENT_DISPOSITION, "attachment; filename=\"i-miei-dati.json\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Json(body),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm_delete: String,
}

async fn delete_account(page: Page, session: CurrentSession, Form(form): Form<DeleteForm>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    if form.confirm_delete.trim() != "ELIMINA" {
        tx.commit().await?;
        let mut errors = FormErrors::default();
        errors.add("confirm_delete", "account.delete_confirm");
        return profile_page(&page, &session, &user, errors, None);
    }
    // Submitted cases are public records the ente must keep: the account
    // that presented them stays.
    if procedure::store::submitted_count_of_user(&mut tx, user.id).await? > 0 {
        tx.commit().await?;
        let mut errors = FormErrors::default();
        errors.add("confirm_delete", "cases.delete_has_cases");
        return profile_page(&page, &session, &user, errors, None);
    }
    for draft in procedure::store::case_ids_of_user(&mut tx, user.id).await? {
        procedure::store::delete_draft(&mut tx, draft).await?;
    }
    // Sessions, codes, flows and delegations go with the user (foreign keys cascade).
    users::delete(&mut tx, user.id).await?;
    tx.commit().await?;
    let mut context = page.context();
    context.insert("message_title", "account.deleted_title");
    context.insert("message_text", "account.deleted_text");
    let deleted = page.render("layout/message.html", &context)?;
    Ok(([(header::SET_COOKIE, session::clear_cookie(session::SESSION_COOKIE))], deleted).into_response())
}
