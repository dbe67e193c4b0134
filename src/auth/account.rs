//! The person's own account: profile and contacts, password, active sessions,
//! a copy of their data, and deleting the account.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Json,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    authz::{Access, RouteSpec},
    csrf::CsrfToken,
    login::auth_context,
    otp::{self, Channel, CodeMessage, Purpose},
    password,
    ratelimit::Action,
    session::{self, ClientInfo, CurrentSession},
};
use crate::users;
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    input::{normalize_email, normalize_mobile, FormErrors},
    state::AppState,
    web::render_page,
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

async fn profile(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    profile_page(&state, &tenant, &csrf, &session, &user, FormErrors::default(), None)
}

fn profile_page(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    session: &CurrentSession,
    user: &users::User,
    errors: FormErrors,
    notice: Option<&str>,
) -> AppResult<Response> {
    // A form with errors answers 422, whichever form of the page it was.
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut context = auth_context(tenant, csrf);
    context.insert("session", session);
    context.insert("user", user);
    context.insert("has_password", &user.password_hash.is_some());
    context.insert("errors", &errors);
    context.insert("notice", &notice);
    Ok((status, render_page(state, &tenant.site(), "account/profile.html", &context)?).into_response())
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

async fn change_password(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Form(form): Form<PasswordChange>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
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
        return profile_page(&state, &tenant, &csrf, &session, &user, errors, None);
    }
    let hash = password::hash(form.new_password).await?;
    sqlx::query("update users set password_hash = $2, password_changed_at = now(), updated_at = now() where id = $1")
        .bind(user.id)
        .bind(&hash)
        .execute(tx.conn())
        .await?;
    // Whoever knew the old password is signed out everywhere else.
    sqlx::query("delete from sessions where user_id = $1 and token_hash <> $2")
        .bind(user.id)
        .bind(&session.token_hash)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    profile_page(&state, &tenant, &csrf, &session, &user, FormErrors::default(), Some("account.password_changed"))
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
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    client: ClientInfo,
    session: CurrentSession,
    Form(form): Form<ContactsForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::default();
    let email = normalize_email(&form.email);
    let mobile = normalize_mobile(&form.mobile);
    errors.check("email", email.is_some(), "validation.email");
    errors.check("mobile", mobile.is_some(), "validation.mobile");
    let (Some(email), Some(mobile)) = (email, mobile) else {
        tx.commit().await?;
        return profile_page(&state, &tenant, &csrf, &session, &user, errors, None);
    };
    let email_changed = user.email.as_deref() != Some(email.as_str()) || user.email_verified_at.is_none();
    let mobile_changed = user.mobile.as_deref() != Some(mobile.as_str()) || user.mobile_verified_at.is_none();
    if email_changed && users::by_email(&mut tx, &email).await?.is_some_and(|other| other.id != user.id) {
        errors.add("email", "validation.email_taken");
        tx.commit().await?;
        return profile_page(&state, &tenant, &csrf, &session, &user, errors, None);
    }
    if !email_changed && !mobile_changed {
        tx.commit().await?;
        return profile_page(&state, &tenant, &csrf, &session, &user, errors, Some("account.contacts_unchanged"));
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
    let ids = match otp::send_codes(&state, &mut tx, &tenant.0, client.ip, user.id, &messages).await? {
        Ok(ids) => ids,
        Err(refused) => {
            tx.rollback().await?;
            errors.add(refused.field(), refused.refusal.message());
            let mut response = profile_page(&state, &tenant, &csrf, &session, &user, errors, None)?;
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

async fn contacts_verify_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    headers: HeaderMap,
) -> AppResult<Response> {
    let flow = session::load_flow(&state.db, tenant.0.id, &headers, "contacts").await?;
    let Some(flow) = flow else { return Ok(Redirect::to("/area-personale/profilo").into_response()) };
    contacts_verify(&state, &tenant, &csrf, &flow.data, FormErrors::default(), StatusCode::OK)
}

fn contacts_verify(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    data: &serde_json::Value,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let mut context = auth_context(tenant, csrf);
    context.insert("pending", data);
    context.insert("errors", &errors);
    Ok((status, render_page(state, &tenant.site(), "account/contacts_verify.html", &context)?).into_response())
}

#[derive(Deserialize)]
pub struct ContactCodes {
    #[serde(default)]
    email_code: String,
    #[serde(default)]
    sms_code: String,
}

async fn verify_contacts(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    client: ClientInfo,
    headers: HeaderMap,
    session: CurrentSession,
    Form(form): Form<ContactCodes>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let flow = session::find_flow(&mut tx, &headers, "contacts").await?.filter(|f| f.user_id == Some(session.user_id));
    let Some(flow) = flow else { return Ok(Redirect::to("/area-personale/profilo").into_response()) };
    state.limits.check(Action::Otp, &tenant.0.slug, client.ip, Some(&session.user_id.to_string()))?;
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
        let page = profile_page(
            &state,
            &tenant,
            &csrf,
            &session,
            &user,
            FormErrors::default(),
            Some("account.contacts_changed"),
        )?;
        return Ok(([(header::SET_COOKIE, session::clear_cookie(session::FLOW_COOKIE))], page).into_response());
    }
    session::update_flow(&mut tx, &headers, &data).await?;
    tx.commit().await?;
    contacts_verify(&state, &tenant, &csrf, &data, errors, StatusCode::UNPROCESSABLE_ENTITY)
}

#[derive(Serialize, sqlx::FromRow)]
struct SessionRow {
    id: String,
    method: String,
    level: i16,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: String,
    current: bool,
}

async fn list_sessions(tx: &mut TenantTx, session: &CurrentSession) -> sqlx::Result<Vec<SessionRow>> {
    // Sessions are named by a prefix of their hash: the token itself is never shown.
    sqlx::query_as(
        "select encode(substring(token_hash from 1 for 12), 'hex') as id, method, level, created_at, last_seen_at,
                host(ip) as ip, user_agent, token_hash = $2 as current
         from sessions where user_id = $1 and expires_at > now() order by last_seen_at desc",
    )
    .bind(session.user_id)
    .bind(&session.token_hash)
    .fetch_all(tx.conn())
    .await
}

async fn sessions_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
) -> AppResult<Html<String>> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let sessions = list_sessions(&mut tx, &session).await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("sessions", &sessions);
    render_page(&state, &tenant.site(), "account/sessions.html", &context)
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
    let removed = sqlx::query(
        "delete from sessions where user_id = $1 and encode(substring(token_hash from 1 for 12), 'hex') = $2",
    )
    .bind(session.user_id)
    .bind(id.to_lowercase())
    .execute(tx.conn())
    .await?
    .rows_affected();
    tx.commit().await?;
    if removed == 0 {
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
    let sessions = list_sessions(&mut tx, &session).await?;
    let cases = crate::procedure::store::cases_of_user(&mut tx, session.user_id).await?;
    let delegations = crate::procedure::delegations::active(&mut tx, session.user_id).await?;
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

async fn delete_account(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Form(form): Form<DeleteForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    if form.confirm_delete.trim() != "ELIMINA" {
        tx.commit().await?;
        let mut errors = FormErrors::default();
        errors.add("confirm_delete", "account.delete_confirm");
        return profile_page(&state, &tenant, &csrf, &session, &user, errors, None);
    }
    // Submitted cases are public records the ente must keep: the account
    // that presented them stays.
    let (submitted,): (i64,) = sqlx::query_as("select count(*) from cases where user_id = $1 and status <> 'draft'")
        .bind(user.id)
        .fetch_one(tx.conn())
        .await?;
    if submitted > 0 {
        tx.commit().await?;
        let mut errors = FormErrors::default();
        errors.add("confirm_delete", "cases.delete_has_cases");
        return profile_page(&state, &tenant, &csrf, &session, &user, errors, None);
    }
    let drafts: Vec<(uuid::Uuid,)> =
        sqlx::query_as("select id from cases where user_id = $1").bind(user.id).fetch_all(tx.conn()).await?;
    for (draft,) in drafts {
        crate::procedure::store::delete_draft(&mut tx, draft).await?;
    }
    // Sessions, codes, flows and delegations go with the user (foreign keys cascade).
    sqlx::query("delete from users where id = $1").bind(user.id).execute(tx.conn()).await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("message_title", "account.deleted_title");
    context.insert("message_text", "account.deleted_text");
    let page = render_page(&state, &tenant.site(), "layout/message.html", &context)?;
    Ok(([(header::SET_COOKIE, session::clear_cookie(session::SESSION_COOKIE))], page).into_response())
}
