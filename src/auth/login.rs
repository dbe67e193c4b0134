//! The sign-in page of each ente and the password (+ SMS code) sign-in.

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form,
};
use serde::Deserialize;
use tera::Context;
use uuid::Uuid;

use super::{
    authz::{Access, RouteSpec},
    csrf::CsrfToken,
    otp::{self, Channel, CodeMessage, Outcome, Purpose},
    page::Page,
    password,
    ratelimit::Action,
    session::{self, ClientInfo, MaybeSession},
};
use crate::tenancy::{Level, Method};
use crate::users;
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    state::AppState,
    web::{base_context, CurrentTenant},
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/accesso", &["GET"], Access::Public, get(sign_in_page)),
        RouteSpec::new("/accesso/password", &["POST"], Access::Public, post(password_sign_in)),
        RouteSpec::new("/accesso/codice", &["GET", "POST"], Access::Public, get(code_page).post(code_submit)),
        RouteSpec::new("/accesso/esci", &["POST"], Access::Public, post(sign_out)),
    ]
}

/// Only paths of this site: `next` never sends a user elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control)
                && n.len() <= 2000 =>
        {
            n.to_string()
        }
        _ => "/area-personale".to_string(),
    }
}

/// Context of every sign-in page: the ente, the CSRF token, the methods enabled.
pub fn auth_context(tenant: &CurrentTenant, csrf: &CsrfToken) -> Context {
    let mut context = base_context(&tenant.site());
    context.insert("csrf_token", &csrf.value());
    let methods: Vec<&str> = tenant.0.auth.methods.iter().map(|m| m.as_str()).collect();
    context.insert("methods", &methods);
    // The link to the staff sign-in, when the ente lets staff in at all: named
    // like the ente's own provider when it has one.
    let auth = &tenant.0.auth;
    if auth.oidc.is_some() || !auth.staff.methods.is_empty() {
        context.insert("staff_sign_in", &auth.oidc.as_ref().map(|o| o.label.clone()).unwrap_or_default());
    }
    context
}

pub fn insert_next(context: &mut Context, next: &str) {
    context.insert("next", next);
    context.insert("next_encoded", &url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
    #[serde(default)]
    registered: Option<String>,
    #[serde(default)]
    reset: Option<String>,
}

async fn sign_in_page(
    page: Page,
    MaybeSession(session): MaybeSession,
    Query(query): Query<NextQuery>,
) -> AppResult<Response> {
    let mut context = page.context();
    insert_next(&mut context, &safe_next(query.next.as_deref()));
    context.insert("registered", &query.registered.is_some());
    context.insert("reset", &query.reset.is_some());
    context.insert("signed_in", &session.map(|s| s.display_name()));
    page.render("auth/access.html", &context)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// `otp` (password + SMS code) or `password` (weak).
    #[serde(default)]
    mode: String,
    next: Option<String>,
}

async fn password_sign_in(
    page: Page,
    client: ClientInfo,
    MaybeSession(previous): MaybeSession,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let Page { state, tenant, .. } = &page;
    let method = if form.mode == "password" { Method::Password } else { Method::PasswordOtp };
    if !tenant.0.auth.enabled(method) {
        return Err(AppError::NotFound);
    }
    let email = form.email.trim().to_lowercase();
    state.limits.check(Action::SignIn, &tenant.0.slug, client.ip, Some(&email))?;
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user = users::by_email(&mut tx, &email).await?;
    // Same argon2 work whether or not the account exists.
    let ok = password::verify(form.password.clone(), user.as_ref().and_then(|u| u.password_hash.clone())).await?;
    let next = safe_next(form.next.as_deref());
    let Some(user) = user.filter(|_| ok) else {
        tx.commit().await?;
        return refuse(&page, &next, &form.email, "auth.wrong_credentials");
    };
    if !user.can_sign_in_with_password() {
        tx.commit().await?;
        return refuse(&page, &next, &form.email, "auth.registration_incomplete");
    }
    if method == Method::Password {
        let cookie = session::start(
            &mut tx,
            session::Opening::citizen(user.id, Method::Password, Level::L1),
            previous.as_ref().map(|s| s.token_hash.as_slice()),
            &client,
        )
        .await?;
        tx.commit().await?;
        return Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response());
    }
    let mobile = user.mobile.clone().unwrap_or_default();
    let message =
        CodeMessage { purpose: Purpose::Login, channel: Channel::Sms, to: &mobile, template: "sms.login_code" };
    let code_id = match otp::send_codes(state, &mut tx, &tenant.0, client.ip, user.id, &[message]).await? {
        Ok(ids) => ids[0],
        Err(refused) => {
            // Nothing was written; the password was right, so say why.
            drop(tx);
            let mut response = refuse(&page, &next, &form.email, refused.refusal.message())?;
            *response.status_mut() = refused.refusal.status();
            return Ok(response);
        }
    };
    let (_, flow_cookie) = session::begin_flow(
        &mut tx,
        "otp",
        Some(user.id),
        serde_json::json!({ "code_id": code_id, "next": next }),
        otp::CODE_TTL,
    )
    .await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, flow_cookie)], Redirect::to("/accesso/codice")).into_response())
}

fn refuse(page: &Page, next: &str, email: &str, message: &str) -> AppResult<Response> {
    let mut context = page.context();
    insert_next(&mut context, next);
    context.insert("email", email);
    context.insert("error", message);
    page.render_with(StatusCode::UNPROCESSABLE_ENTITY, "auth/access.html", &context)
}

async fn code_page(page: Page, headers: HeaderMap) -> AppResult<Response> {
    let flow = session::load_flow(&page.state.db, page.tenant.0.id, &headers, "otp").await?;
    if flow.is_none() {
        return Ok(Redirect::to("/accesso").into_response());
    }
    page.render("auth/access_code.html", &page.context())
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn code_submit(
    page: Page,
    client: ClientInfo,
    headers: HeaderMap,
    MaybeSession(previous): MaybeSession,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let Some(flow) = session::find_flow(&mut tx, &headers, "otp").await? else {
        return Ok(Redirect::to("/accesso").into_response());
    };
    let user_id = flow.user_id.ok_or_else(|| anyhow::anyhow!("otp flow without user"))?;
    page.state.limits.check(Action::Otp, &page.tenant.0.slug, client.ip, Some(&user_id.to_string()))?;
    let code_id: Uuid = serde_json::from_value(flow.data["code_id"].clone()).map_err(anyhow::Error::from)?;
    let outcome = otp::verify(&mut tx, code_id, user_id, Purpose::Login, &form.code).await?;
    let mut context = page.context();
    match outcome {
        Outcome::Accepted => {
            session::end_flow(&mut tx, &headers).await?;
            let cookie = session::start(
                &mut tx,
                session::Opening::citizen(user_id, Method::PasswordOtp, Level::L2),
                previous.as_ref().map(|s| s.token_hash.as_slice()),
                &client,
            )
            .await?;
            tx.commit().await?;
            Ok(session::signed_in(cookie, &safe_next(flow.data["next"].as_str())))
        }
        Outcome::Wrong { attempts_left } => {
            tx.commit().await?;
            context.insert("error", "auth.code_wrong");
            context.insert("attempts_left", &attempts_left);
            page.render_with(StatusCode::UNPROCESSABLE_ENTITY, "auth/access_code.html", &context)
        }
        Outcome::Spent => {
            session::end_flow(&mut tx, &headers).await?;
            tx.commit().await?;
            context.insert("error", "auth.code_spent");
            context.insert("spent", &true);
            page.render_with(StatusCode::UNPROCESSABLE_ENTITY, "auth/access_code.html", &context)
        }
    }
}

async fn sign_out(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    MaybeSession(session): MaybeSession,
) -> AppResult<Response> {
    if let Some(session) = session {
        let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
        session::end(&mut tx, &session.token_hash).await?;
        tx.commit().await?;
    }
    Ok(([(header::SET_COOKIE, session::clear_cookie(session::SESSION_COOKIE))], Redirect::to("/")).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_this_site_and_in_a_header() {
        assert_eq!(super::safe_next(Some("/servizi/cila")), "/servizi/cila");
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "/a\u{0}b", "/a\rb", "x", ""] {
            assert_eq!(super::safe_next(Some(bad)), "/area-personale", "{bad:?}");
        }
        assert_eq!(super::safe_next(None), "/area-personale");
    }
}
