//! The platform operator's console (`/console` on the platform's hosts; its
//! home on `admin.<base-domain>`): enrolment from the one-time link the CLI
//! prints (`sportello platform admin create`), sign-in with e-mail, password
//! and an authenticator code, and the table of tenants. Its session is its own
//! (`platform_sessions`, cookie `sportello_platform`): it opens no ente's page,
//! and no page here shows an ente's cases, messages or documents.

use axum::{
    extract::{FromRequestParts, Path, Query, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use tera::Context;

use super::{operators, tenants};
use crate::{
    auth::{
        csrf::CsrfToken,
        password,
        session::{clear_cookie, cookie_value, set_cookie, token_hash},
        staff_local::{check_enrolment, fill_enrolment, EnrolFields, ENROL_TEMPLATE},
        totp,
    },
    error::{AppError, AppResult},
    i18n::Text,
    input::normalize_email,
    state::AppState,
    tenancy::Site,
    web::{base_context, render_page, Visit},
};

pub const COOKIE: &str = "sportello_platform";

/// The signed-in platform operator; anyone else is sent to the console's sign-in.
pub struct Operator(pub operators::Operator);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let found = match cookie_value(&parts.headers, COOKIE) {
            Some(token) => operators::session(&state.db, &token_hash(token))
                .await
                .map_err(|e| AppError::from(e).into_response())?,
            None => None,
        };
        found.map(Operator).ok_or_else(|| Redirect::to("/console/accesso").into_response())
    }
}

fn page(visit: &Visit, csrf: &CsrfToken) -> Context {
    let mut context = base_context(visit);
    context.insert("csrf_token", &csrf.value());
    context
}

fn render(state: &AppState, status: StatusCode, template: &str, context: &Context) -> AppResult<Response> {
    let html = render_page(state, &Site::Platform, template, context)?;
    Ok((status, html).into_response())
}

/// The console's home on `admin.<base>`; the other platform hosts keep the public list of enti.
pub fn is_console_host(state: &AppState, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host == format!("admin.{}", state.settings.base_domain)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EnrolQuery {
    t: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EnrolForm {
    t: String,
    given_name: String,
    family_name: String,
    password: String,
    password_confirm: String,
    code: String,
}

pub async fn enrol_page(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    Query(q): Query<EnrolQuery>,
) -> AppResult<Response> {
    let enrolment = operators::open_enrolment(&state.db, &q.t, &totp::new_secret()).await?;
    let form = EnrolForm { t: q.t.clone(), ..Default::default() };
    enrolment_form(&state, &visit, &csrf, enrolment, &form, &[], StatusCode::OK)
}

fn enrolment_form(
    state: &AppState,
    visit: &Visit,
    csrf: &CsrfToken,
    enrolment: Option<operators::Enrolment>,
    form: &EnrolForm,
    errors: &[(&str, &str)],
    status: StatusCode,
) -> AppResult<Response> {
    let mut context = page(visit, csrf);
    context.insert("enrol_title", "platform.console.enrol_title");
    context.insert("enrol_intro", "platform.console.enrol_intro");
    context.insert("enrol_action", "/console/attiva");
    let Some(enrolment) = enrolment else {
        context.insert("expired", &true);
        return render(state, StatusCode::NOT_FOUND, ENROL_TEMPLATE, &context);
    };
    let secret = enrolment.pending_secret.unwrap_or_default();
    let typed = (form.t.as_str(), form.given_name.as_str(), form.family_name.as_str());
    fill_enrolment(&mut context, "Sportello", &enrolment.email, &secret, typed, errors);
    render(state, status, ENROL_TEMPLATE, &context)
}

pub async fn enrol(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    Form(form): Form<EnrolForm>,
) -> AppResult<Response> {
    let enrolment = operators::open_enrolment(&state.db, &form.t, &totp::new_secret()).await?;
    let Some(found) = enrolment else {
        return enrolment_form(&state, &visit, &csrf, None, &form, &[], StatusCode::NOT_FOUND);
    };
    let secret = found.pending_secret.clone().unwrap_or_default();
    let fields = EnrolFields {
        given_name: &form.given_name,
        family_name: &form.family_name,
        password: &form.password,
        password_confirm: &form.password_confirm,
        code: &form.code,
    };
    let step = match check_enrolment(&fields, &found.email, &secret) {
        Ok(step) => step,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return enrolment_form(&state, &visit, &csrf, Some(found), &form, &errors, status);
        }
    };
    let account = operators::NewAccount {
        given_name: form.given_name.trim(),
        family_name: form.family_name.trim(),
        password_hash: &password::hash(form.password.clone()).await?,
        totp_secret: &secret,
        confirmed_step: step,
    };
    if !operators::finish_enrolment(&state.db, &form.t, &found.email, &account).await? {
        return enrolment_form(&state, &visit, &csrf, None, &form, &[], StatusCode::NOT_FOUND);
    }
    Ok(Redirect::to("/console/accesso?esito=attivato").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignInQuery {
    esito: String,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    Query(q): Query<SignInQuery>,
) -> AppResult<Response> {
    let mut context = page(&visit, &csrf);
    context.insert("enrolled", &(q.esito == "attivato"));
    context.insert("email", "");
    render(&state, StatusCode::OK, "platform/sign_in.html", &context)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignInForm {
    email: String,
    password: String,
    code: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> AppResult<Response> {
    let email = normalize_email(&form.email).unwrap_or_default();
    let refuse = |key: &'static str| -> AppResult<Response> {
        let mut context = page(&visit, &csrf);
        context.insert("email", &form.email);
        context.insert("error", &state.renderer.catalogues().text(&visit.language.lang, &Text::new(key)));
        render(&state, StatusCode::UNAUTHORIZED, "platform/sign_in.html", &context)
    };
    let account = operators::account(&state.db, &email).await?;
    // Unknown accounts cost the same work (the dummy hash).
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let password_ok = password::verify(form.password.clone(), stored).await?;
    let Some(account) = account.filter(|a| a.password_hash.is_some()) else {
        return refuse("auth.staff_local.refused");
    };
    if account.locked_until.is_some_and(|until| until > chrono::Utc::now()) {
        return refuse("auth.staff_local.locked");
    }
    let secret = account.totp_secret.clone().unwrap_or_default();
    let step = totp::verify(&secret, form.code.trim(), chrono::Utc::now().timestamp(), account.last_totp_step);
    let (true, Some(step)) = (password_ok, step) else {
        operators::failed(&state.db, &account.email).await?;
        return refuse("auth.staff_local.refused");
    };
    let previous = cookie_value(&headers, COOKIE).map(token_hash);
    let token = operators::start_session(&state.db, &account.email, step, previous.as_deref()).await?;
    let cookie = set_cookie(COOKIE, &token, Some(operators::SESSION_TTL), "Strict");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/console")).into_response())
}

pub async fn sign_out(State(state): State<AppState>, Operator(operator): Operator) -> AppResult<Response> {
    operators::end_session(&state.db, &operator.token_hash).await?;
    let cookie: HeaderValue = clear_cookie(COOKIE);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/console/accesso")).into_response())
}

/// The tenants at a glance: searchable, sortable, 50 a page.
pub async fn tenants_page(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    Operator(operator): Operator,
    Query(query): Query<tenants::TableQuery>,
) -> AppResult<Response> {
    let (lines, total) = tenants::table(&state.db, &query).await?;
    let pages = ((total + tenants::PAGE_SIZE - 1) / tenants::PAGE_SIZE).max(1);
    let mut context = page(&visit, &csrf);
    context.insert("operator", &operator);
    context.insert("tenants", &lines);
    context.insert("total", &total);
    context.insert("query", &query);
    context.insert("page", &query.page());
    context.insert("pages", &pages);
    let href = |page: i64| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &query.q)
            .append_pair("ordina", &query.ordina)
            .append_pair("pagina", &page.to_string())
            .finish();
        format!("/console?{query}")
    };
    context.insert("previous_href", &href(query.page() - 1));
    context.insert("next_href", &href(query.page() + 1));
    render(&state, StatusCode::OK, "platform/tenants.html", &context)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TenantQuery {
    esito: String,
}

/// One tenant: what the table shows, and (for a platform admin) suspend or resume.
pub async fn tenant_page(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    Operator(operator): Operator,
    Path(slug): Path<String>,
    Query(q): Query<TenantQuery>,
) -> AppResult<Response> {
    let outcome = match q.esito.as_str() {
        "sospeso" => Some("platform.console.outcome_suspended"),
        "riattivato" => Some("platform.console.outcome_resumed"),
        _ => None,
    };
    tenant_form(&state, &visit, &csrf, &operator, &slug, "", None, outcome, StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)]
async fn tenant_form(
    state: &AppState,
    visit: &Visit,
    csrf: &CsrfToken,
    operator: &operators::Operator,
    slug: &str,
    reason: &str,
    error: Option<&'static str>,
    outcome: Option<&'static str>,
    status: StatusCode,
) -> AppResult<Response> {
    let line = tenants::one(&state.db, slug).await?.ok_or(AppError::NotFound)?;
    let mut context = page(visit, csrf);
    context.insert("operator", operator);
    context.insert("may_change", &(operator.role == "platform-admin"));
    context.insert("tenant_line", &line);
    context.insert("reason", reason);
    context.insert("error", &error.map(|k| state.renderer.catalogues().text(&visit.language.lang, &Text::new(k))));
    context.insert("outcome", &outcome);
    render(state, status, "platform/tenant.html", &context)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SuspendForm {
    reason: String,
}

/// Suspends (`sospendi`, with a reason) or resumes (`riattiva`) a tenant:
/// platform admins only; recorded in the ente's own audit trail; every node
/// drops its caches (the ente's hosts show "Servizio sospeso" with the reason).
pub async fn set_status(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    Operator(operator): Operator,
    Path((slug, action)): Path<(String, String)>,
    Form(form): Form<SuspendForm>,
) -> AppResult<Response> {
    let suspend = match action.as_str() {
        "sospendi" => true,
        "riattiva" => false,
        _ => return Err(AppError::NotFound),
    };
    if operator.role != "platform-admin" {
        return Err(AppError::Forbidden);
    }
    let reason = form.reason.trim();
    if suspend && (reason.is_empty() || reason.chars().count() > 500) {
        let error = Some("platform.console.check_reason");
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return tenant_form(&state, &visit, &csrf, &operator, &slug, reason, error, None, status).await;
    }
    let id = tenants::set_status(&state.db, &slug, suspend, reason).await?.ok_or(AppError::NotFound)?;
    let mut tx = crate::db::TenantTx::begin(&state.db, id).await?;
    let actor = crate::audit::Actor::system(&format!("piattaforma: {}", operator.email));
    let change = crate::audit::Change {
        action: if suspend { "tenant.suspend" } else { "tenant.resume" },
        object_type: "tenant",
        object_id: slug.clone(),
        before: None,
        after: Some(serde_json::json!({ "reason": reason })),
    };
    crate::audit::append(&mut tx, &actor, change).await?;
    crate::tenancy::notify_changed(tx.conn(), id).await?;
    tx.commit().await?;
    state.invalidate_tenant_caches();
    let outcome = if suspend { "sospeso" } else { "riattivato" };
    Ok(Redirect::to(&format!("/console/enti/{slug}?esito={outcome}")).into_response())
}

/// The platform's health: database, storage, job queue, failed jobs, version.
pub async fn health_page(
    State(state): State<AppState>,
    visit: Visit,
    csrf: CsrfToken,
    Operator(operator): Operator,
) -> AppResult<Response> {
    let health = super::health::check(&state).await?;
    let mut context = page(&visit, &csrf);
    context.insert("operator", &operator);
    context.insert("health", &health);
    render(&state, StatusCode::OK, "platform/health.html", &context)
}
