//! Local staff accounts (`[auth.staff] methods = ["local"]`), for enti with no
//! identity provider: e-mail, password and a code from an authenticator app
//! (RFC 6238, `auth::totp`), or one of ten single-use recovery codes.
//!
//! An account is made from a one-time enrolment link (7 days, `sportello tenant
//! staff enrol`): the staff member sets their name and password, scans the QR
//! code (shown until the enrolment is confirmed, never after) and confirms with
//! a first code; the recovery codes are shown once, then only their hashes stay.
//! Five wrong sign-ins in a row lock the account for 15 minutes on every node.

pub mod store;

use axum::{
    extract::Query,
    http::StatusCode,
    response::Response,
    routing::{get, post},
    Form,
};
use serde::Deserialize;

use super::{
    authz::{Access, RouteSpec},
    login::safe_next,
    page::Page,
    password,
    ratelimit::Action,
    session::{self, ClientInfo, MaybeSession, Opening},
    totp,
};
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    input::normalize_email,
    tenancy::{Level, Method},
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/backoffice/accesso/attiva", &["GET", "POST"], Access::Public, get(enrol_page).post(enrol)),
        RouteSpec::new("/backoffice/accesso/locale", &["POST"], Access::Public, post(sign_in)),
    ]
}

fn enabled(page: &Page) -> Result<(), AppError> {
    if page.tenant.0.auth.staff_may_use(Method::Local) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Ten codes like `k3m9-x2qa`: 40 random bits each, typed when the phone is lost.
fn recovery_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let raw = totp::base32(&rand::random::<[u8; 5]>()).to_lowercase();
            format!("{}-{}", &raw[..4], &raw[4..])
        })
        .collect()
}

#[derive(Deserialize)]
struct EnrolQuery {
    #[serde(default)]
    t: String,
}

async fn enrol_page(page: Page, Query(q): Query<EnrolQuery>) -> AppResult<Response> {
    enabled(&page)?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let enrolment = store::open_enrolment(&mut tx, &q.t, &totp::new_secret()).await?;
    tx.commit().await?;
    let Some(enrolment) = enrolment else { return expired(&page) };
    render_enrolment(&page, &q.t, &enrolment, &EnrolForm::default(), &[], StatusCode::OK)
}

/// The enrolment page's words and address for a staff account.
fn enrol_context(page: &Page) -> tera::Context {
    let mut context = page.context();
    context.insert("enrol_title", "auth.staff_local.enrol_title");
    context.insert("enrol_intro", "auth.staff_local.enrol_intro");
    context.insert("enrol_action", "/backoffice/accesso/attiva");
    context
}

fn expired(page: &Page) -> AppResult<Response> {
    let mut context = enrol_context(page);
    context.insert("expired", &true);
    page.render_with(StatusCode::NOT_FOUND, ENROL_TEMPLATE, &context)
}

/// Shared with the platform operators' enrolment (`platform::console`).
pub const ENROL_TEMPLATE: &str = "auth/totp_enrol.html";

fn render_enrolment(
    page: &Page,
    token: &str,
    enrolment: &store::Enrolment,
    form: &EnrolForm,
    errors: &[(&str, &str)],
    status: StatusCode,
) -> AppResult<Response> {
    let secret = enrolment.pending_secret.clone().unwrap_or_default();
    let mut context = enrol_context(page);
    let typed = (token, form.given_name.as_str(), form.family_name.as_str());
    fill_enrolment(&mut context, &page.tenant.0.name, &enrolment.email, &secret, typed, errors);
    page.render_with(status, ENROL_TEMPLATE, &context)
}

/// The enrolment page's context (`ENROL_TEMPLATE`): the QR code and key of
/// `secret` for `email` under `issuer`, what was typed (the link's token, the
/// names) and each problem as (input, message key).
pub fn fill_enrolment(
    context: &mut tera::Context,
    issuer: &str,
    email: &str,
    secret: &[u8],
    (token, given_name, family_name): (&str, &str, &str),
    errors: &[(&str, &str)],
) {
    let uri = totp::otpauth_uri(issuer, email, secret);
    context.insert("token", token);
    context.insert("email", email);
    context.insert("qr_svg", &totp::qr_svg(&uri));
    context.insert("secret", &totp::base32(secret));
    context.insert("given_name", given_name);
    context.insert("family_name", family_name);
    // The form macros take message keys (these messages have no arguments).
    let errors: std::collections::BTreeMap<&str, &str> = errors.iter().copied().collect();
    context.insert("errors", &errors);
}

/// What a person enrolling a local account typed (staff here, platform
/// operators in `platform::console`).
pub struct EnrolFields<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password: &'a str,
    pub password_confirm: &'a str,
    pub code: &'a str,
}

/// The step of the authenticator's first code when everything is right, else
/// each problem as (input, message key): a name, a strong password typed
/// twice, a current code of `secret`.
pub fn check_enrolment(
    fields: &EnrolFields,
    email: &str,
    secret: &[u8],
) -> Result<i64, Vec<(&'static str, &'static str)>> {
    let mut errors = Vec::new();
    if fields.given_name.trim().is_empty() {
        errors.push(("given_name", "auth.staff_local.name_required"));
    }
    if fields.family_name.trim().is_empty() {
        errors.push(("family_name", "auth.staff_local.name_required"));
    }
    if let Some(key) = password::weakness(fields.password, email) {
        errors.push(("password", key));
    } else if fields.password != fields.password_confirm {
        errors.push(("password_confirm", "auth.staff_local.passwords_differ"));
    }
    let step = totp::verify(secret, fields.code, chrono::Utc::now().timestamp(), 0);
    if step.is_none() {
        errors.push(("code", "auth.staff_local.code_wrong"));
    }
    match step {
        Some(step) if errors.is_empty() => Ok(step),
        _ => Err(errors),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnrolForm {
    t: String,
    given_name: String,
    family_name: String,
    password: String,
    password_confirm: String,
    code: String,
}

async fn enrol(page: Page, Form(form): Form<EnrolForm>) -> AppResult<Response> {
    enabled(&page)?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let Some(enrolment) = store::open_enrolment(&mut tx, &form.t, &totp::new_secret()).await? else {
        tx.commit().await?;
        return expired(&page);
    };
    let secret = enrolment.pending_secret.clone().unwrap_or_default();
    let fields = EnrolFields {
        given_name: &form.given_name,
        family_name: &form.family_name,
        password: &form.password,
        password_confirm: &form.password_confirm,
        code: &form.code,
    };
    let step = match check_enrolment(&fields, &enrolment.email, &secret) {
        Ok(step) => step,
        Err(errors) => {
            tx.commit().await?;
            return render_enrolment(&page, &form.t, &enrolment, &form, &errors, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let codes = recovery_codes();
    let account = store::NewAccount {
        email: &enrolment.email,
        given_name: form.given_name.trim(),
        family_name: form.family_name.trim(),
        password_hash: &password::hash(form.password.clone()).await?,
        totp_secret: &secret,
        confirmed_step: step,
        recovery_codes: &codes,
    };
    store::finish_enrolment(&mut tx, &form.t, &account).await?;
    tx.commit().await?;
    let mut context = page.context();
    context.insert("recovery_codes", &codes);
    context.insert("email", &enrolment.email);
    page.render("auth/staff_enrolled.html", &context)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignInForm {
    email: String,
    password: String,
    code: String,
    next: String,
}

async fn sign_in(
    page: Page,
    client: ClientInfo,
    MaybeSession(previous): MaybeSession,
    Form(form): Form<SignInForm>,
) -> AppResult<Response> {
    enabled(&page)?;
    let email = normalize_email(&form.email).unwrap_or_default();
    page.state.limits.check(Action::SignIn, &page.tenant.0.slug, client.ip, Some(&email))?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let account = store::account(&mut tx, &email).await?;
    // Unknown accounts cost the same work (the dummy hash).
    let password_ok =
        password::verify(form.password.clone(), account.as_ref().map(|a| a.password_hash.clone())).await?;
    let Some(account) = account else {
        tx.commit().await?;
        return refused(&page, &form, "auth.staff_local.refused");
    };
    if account.locked_until.is_some_and(|until| until > chrono::Utc::now()) {
        tx.commit().await?;
        return refused(&page, &form, "auth.staff_local.locked");
    }
    let code = form.code.trim();
    let step = totp::verify(&account.totp_secret, code, chrono::Utc::now().timestamp(), account.last_totp_step);
    let second_factor = step.is_some()
        || (password_ok && code.len() == 9 && store::use_recovery_code(&mut tx, &account.email, code).await?);
    if !(password_ok && second_factor) {
        store::failed(&mut tx, &account.email).await?;
        tx.commit().await?;
        return refused(&page, &form, "auth.staff_local.refused");
    }
    if let Some(refusal) = crate::auth::store::admit(&mut tx, &account.email, &form.next).await?.refusal() {
        tx.commit().await?;
        return refused(&page, &form, refusal);
    }
    store::signed_in(&mut tx, &account.email, step).await?;
    let subject = format!("staff:{}", account.email);
    let opening =
        Opening { user_id: account.user_id, method: Method::Local, level: Level::L2, staff_subject: Some(&subject) };
    let cookie = session::start(&mut tx, opening, previous.as_ref().map(|s| s.token_hash.as_slice()), &client).await?;
    tx.commit().await?;
    let next = if form.next.is_empty() { "/backoffice".to_string() } else { safe_next(Some(&form.next)) };
    Ok(session::signed_in(cookie, &next))
}

/// The staff sign-in page again, with the reason and the e-mail kept.
fn refused(page: &Page, form: &SignInForm, key: &'static str) -> AppResult<Response> {
    let mut context = super::staff_access::context(page, Some(&form.next));
    context.insert("local_email", &form.email);
    context.insert("local_error", &page.text(&Text::new(key)));
    page.render_with(StatusCode::UNAUTHORIZED, "auth/staff_access.html", &context)
}
