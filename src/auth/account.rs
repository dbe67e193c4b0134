//! The person's own account: profile and contacts, password, active sessions,
//! a copy of their data, and deleting the account.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
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
    password,
    session::{self, CurrentSession},
    users,
};
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    state::AppState,
    tenancy::CurrentTenant,
    web::{forms::FormErrors, render_page},
};

const READ: Access = Access::signed_in("account", "read");
const WRITE: Access = Access::signed_in("account", "write");

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/area-personale", &["GET"], Access::signed_in("personal_area", "read"), get(personal_home)),
        RouteSpec::new("/area-personale/profilo", &["GET"], READ, get(profile)),
        RouteSpec::new("/area-personale/password", &["POST"], WRITE, post(change_password)),
        RouteSpec::new("/area-personale/sessioni", &["GET"], READ, get(sessions_page)),
        RouteSpec::new("/area-personale/sessioni/{id}/revoca", &["POST"], WRITE, post(revoke_session)),
        RouteSpec::new("/area-personale/dati", &["GET"], READ, get(download_data)),
        RouteSpec::new("/area-personale/elimina", &["POST"], WRITE, post(delete_account)),
    ]
}

async fn personal_home(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
) -> AppResult<Html<String>> {
    let roles = state.authz.roles_of(&state, &tenant.0, &session).await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("session", &session);
    context.insert("display_name", &session.display_name());
    context.insert("roles", &roles);
    render_page(&state, &tenant.site(), "personal_home.html", &context)
}

async fn profile(State(state): State<AppState>, tenant: CurrentTenant, csrf: CsrfToken, session: CurrentSession) -> AppResult<Html<String>> {
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
) -> AppResult<Html<String>> {
    let mut context = auth_context(tenant, csrf);
    context.insert("session", session);
    context.insert("user", user);
    context.insert("has_password", &user.password_hash.is_some());
    context.insert("errors", &errors);
    context.insert("notice", &notice);
    render_page(state, &tenant.site(), "account_profile.html", &context)
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
        let page = profile_page(&state, &tenant, &csrf, &session, &user, errors, None)?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
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
    let page = profile_page(&state, &tenant, &csrf, &session, &user, FormErrors::default(), Some("account.password_changed"))?;
    Ok(page.into_response())
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

async fn sessions_page(State(state): State<AppState>, tenant: CurrentTenant, csrf: CsrfToken, session: CurrentSession) -> AppResult<Html<String>> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let sessions = list_sessions(&mut tx, &session).await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("sessions", &sessions);
    render_page(&state, &tenant.site(), "account_sessions.html", &context)
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
    let removed = sqlx::query("delete from sessions where user_id = $1 and encode(substring(token_hash from 1 for 12), 'hex') = $2")
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
async fn download_data(State(state): State<AppState>, tenant: CurrentTenant, session: CurrentSession) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    let sessions = list_sessions(&mut tx, &session).await?;
    tx.commit().await?;
    let body = serde_json::json!({
        "ente": tenant.0.name,
        "generated_at": Utc::now(),
        "account": user,
        "sessions": sessions,
    });
    Ok((
        [(header::CONTENT_DISPOSITION, "attachment; filename=\"i-miei-dati.json\""), (header::CACHE_CONTROL, "no-store")],
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
        let page = profile_page(&state, &tenant, &csrf, &session, &user, errors, None)?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    // Sessions, codes and flows go with the user (foreign keys cascade).
    sqlx::query("delete from users where id = $1").bind(user.id).execute(tx.conn()).await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("message_title", "account.deleted_title");
    context.insert("message_text", "account.deleted_text");
    let page = render_page(&state, &tenant.site(), "message.html", &context)?;
    Ok(([(header::SET_COOKIE, session::clear_cookie(session::SESSION_COOKIE))], page).into_response())
}
