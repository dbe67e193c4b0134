//! Registration for the password methods: both the e-mail address and the
//! mobile number are verified with a code before the account can sign in.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Form,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    authz::{Access, RouteSpec},
    csrf::CsrfToken,
    login::auth_context,
    otp::{self, Channel, CodeMessage, Purpose},
    password,
    ratelimit::Action,
    session::{self, ClientInfo},
};
use crate::tenancy::Method;
use crate::users::{self, NewAccount};
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    input::{normalize_email, normalize_fiscal_code, normalize_mobile, FormErrors},
    state::AppState,
    web::render_page,
    web::CurrentTenant,
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/registrazione", &["GET", "POST"], Access::Public, get(form_page).post(register)),
        RouteSpec::new("/registrazione/verifica", &["GET", "POST"], Access::Public, get(verify_page).post(verify)),
    ]
}

#[derive(Deserialize, Serialize, Default)]
pub struct RegistrationForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    fiscal_code: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mobile: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default, skip_serializing)]
    password_confirm: String,
    #[serde(default)]
    privacy: Option<String>,
}

fn password_methods_enabled(tenant: &CurrentTenant) -> bool {
    tenant.0.auth.enabled(Method::Password) || tenant.0.auth.enabled(Method::PasswordOtp)
}

async fn form_page(State(state): State<AppState>, tenant: CurrentTenant, csrf: CsrfToken) -> AppResult<Response> {
    if !password_methods_enabled(&tenant) {
        return Err(AppError::NotFound);
    }
    let mut context = auth_context(&tenant, &csrf);
    context.insert("form", &RegistrationForm::default());
    context.insert("errors", &FormErrors::default());
    Ok(render_page(&state, &tenant.site(), "auth/register.html", &context)?.into_response())
}

async fn register(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    client: ClientInfo,
    headers: HeaderMap,
    Form(form): Form<RegistrationForm>,
) -> AppResult<Response> {
    if !password_methods_enabled(&tenant) {
        return Err(AppError::NotFound);
    }
    let mut errors = FormErrors::default();
    let name_ok = |s: &str| (1..=100).contains(&s.trim().chars().count());
    errors.check("given_name", name_ok(&form.given_name), "validation.required");
    errors.check("family_name", name_ok(&form.family_name), "validation.required");
    let fiscal_code = normalize_fiscal_code(&form.fiscal_code);
    errors.check("fiscal_code", fiscal_code.is_some(), "validation.fiscal_code");
    let email = normalize_email(&form.email);
    errors.check("email", email.is_some(), "validation.email");
    let mobile = normalize_mobile(&form.mobile);
    errors.check("mobile", mobile.is_some(), "validation.mobile");
    if let Some(weak) = password::weakness(&form.password, email.as_deref().unwrap_or_default()) {
        errors.add("password", weak);
    }
    errors.check("password_confirm", form.password == form.password_confirm, "validation.password_mismatch");
    errors.check("privacy", form.privacy.is_some(), "validation.privacy");
    state.limits.check(Action::Register, &tenant.0.slug, client.ip, email.as_deref())?;
    let (Some(fiscal_code), Some(email), Some(mobile), true) = (fiscal_code, email, mobile, errors.is_empty()) else {
        return invalid(&state, &tenant, &csrf, &form, errors);
    };
    let hash = password::hash(form.password.clone()).await?;
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    // An unfinished registration that can no longer complete (or this browser's
    // own, registering again) does not keep the e-mail from a new one.
    let own = session::find_flow(&mut tx, &headers, "register").await?.and_then(|f| f.user_id);
    users::release_stale_registration(&mut tx, &email, own).await?;
    let created = users::create_account(
        &mut tx,
        NewAccount {
            given_name: form.given_name.trim(),
            family_name: form.family_name.trim(),
            fiscal_code: &fiscal_code,
            email: &email,
            mobile: &mobile,
            password_hash: &hash,
        },
    )
    .await?;
    let Some(user_id) = created else {
        tx.commit().await?;
        errors.add("email", "validation.email_taken");
        return invalid(&state, &tenant, &csrf, &form, errors);
    };
    let messages = [
        CodeMessage { purpose: Purpose::VerifyEmail, channel: Channel::Email, to: &email, template: "mail.verify" },
        CodeMessage { purpose: Purpose::VerifyMobile, channel: Channel::Sms, to: &mobile, template: "sms.verify_code" },
    ];
    let ids = match otp::send_codes(&state, &mut tx, &tenant.0, client.ip, user_id, &messages).await? {
        Ok(ids) => ids,
        Err(refused) => {
            // Nothing stays: not the codes, not the account.
            tx.rollback().await?;
            errors.add(refused.field(), refused.refusal.message());
            let mut response = invalid(&state, &tenant, &csrf, &form, errors)?;
            *response.status_mut() = refused.refusal.status();
            return Ok(response);
        }
    };
    let flow_cookie = begin_verification(&mut tx, user_id, &email, &mobile, ids[0], ids[1]).await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, flow_cookie)], Redirect::to("/registrazione/verifica")).into_response())
}

/// Starts the flow in which the codes sent to each contact are entered.
async fn begin_verification(
    tx: &mut TenantTx,
    user_id: Uuid,
    email: &str,
    mobile: &str,
    email_code_id: Uuid,
    sms_code_id: Uuid,
) -> AppResult<axum::http::HeaderValue> {
    let (_, cookie) = session::begin_flow(
        tx,
        "register",
        Some(user_id),
        serde_json::json!({ "email": email, "mobile": mobile, "email_code": email_code_id, "sms_code": sms_code_id }),
        chrono::Duration::minutes(30),
    )
    .await?;
    Ok(cookie)
}

fn invalid(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    form: &RegistrationForm,
    errors: FormErrors,
) -> AppResult<Response> {
    let mut context = auth_context(tenant, csrf);
    context.insert("form", form);
    context.insert("errors", &errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render_page(state, &tenant.site(), "auth/register.html", &context)?)
        .into_response())
}

async fn verify_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    headers: HeaderMap,
) -> AppResult<Response> {
    let flow = session::load_flow(&state.db, tenant.0.id, &headers, "register").await?;
    let Some(flow) = flow else { return Ok(Redirect::to("/registrazione").into_response()) };
    let mut context = auth_context(&tenant, &csrf);
    context.insert("flow", &flow.data);
    context.insert("errors", &FormErrors::default());
    Ok(render_page(&state, &tenant.site(), "auth/register_verify.html", &context)?.into_response())
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    email_code: String,
    #[serde(default)]
    sms_code: String,
}

async fn verify(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    client: ClientInfo,
    headers: HeaderMap,
    Form(form): Form<VerifyForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let Some(flow) = session::find_flow(&mut tx, &headers, "register").await? else {
        return Ok(Redirect::to("/registrazione").into_response());
    };
    let user_id = flow.user_id.ok_or_else(|| anyhow::anyhow!("registration flow without user"))?;
    state.limits.check(Action::Otp, &tenant.0.slug, client.ip, Some(&user_id.to_string()))?;
    let mut data = flow.data.clone();
    let errors = otp::confirm_contacts(
        &mut tx,
        user_id,
        &mut data,
        &form.email_code,
        &form.sms_code,
        "auth.code_spent_register",
    )
    .await?;
    if errors.is_empty() {
        session::end_flow(&mut tx, &headers).await?;
        tx.commit().await?;
        return Ok((
            [(header::SET_COOKIE, session::clear_cookie(session::FLOW_COOKIE))],
            Redirect::to("/accesso?registered=1"),
        )
            .into_response());
    }
    session::update_flow(&mut tx, &headers, &data).await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("flow", &data);
    context.insert("errors", &errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render_page(&state, &tenant.site(), "auth/register_verify.html", &context)?)
        .into_response())
}
