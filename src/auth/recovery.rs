//! Password recovery: a code by SMS to the verified mobile number, then a new
//! password. The answer never reveals whether an account exists.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{AppendHeaders, IntoResponse, Redirect, Response},
    routing::get,
    Form,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    authz::{Access, RouteSpec},
    otp::{self, Channel, CodeMessage, Outcome, Purpose},
    page::Page,
    password,
    ratelimit::Action,
    session::{self, ClientInfo},
};
use crate::users;
use crate::{db::TenantTx, error::AppResult, input::FormErrors, state::AppState, web::CurrentTenant};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/accesso/recupero", &["GET", "POST"], Access::Public, get(request_page).post(request_code)),
        RouteSpec::new("/accesso/recupero/codice", &["GET", "POST"], Access::Public, get(code_page).post(reset)),
    ]
}

async fn request_page(page: Page) -> AppResult<Response> {
    let mut context = page.context();
    context.insert("errors", &FormErrors::default());
    page.render("auth/recovery.html", &context)
}

#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    email: String,
}

async fn request_code(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client: ClientInfo,
    Form(form): Form<RequestForm>,
) -> AppResult<Response> {
    let email = form.email.trim().to_lowercase();
    state.limits.check(Action::PasswordReset, &tenant.0.slug, client.ip, Some(&email))?;
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user =
        users::by_email(&mut tx, &email).await?.filter(|u| u.password_hash.is_some() && u.mobile_verified_at.is_some());
    let mut data = serde_json::json!({ "code_id": null });
    if let Some(user) = &user {
        let mobile = user.mobile.clone().unwrap_or_default();
        let message = CodeMessage {
            purpose: Purpose::PasswordReset,
            channel: Channel::Sms,
            to: &mobile,
            template: "sms.reset_code",
        };
        let code_id = match otp::send_codes(&state, &mut tx, &tenant.0, client.ip, user.id, &[message]).await? {
            Ok(ids) => Some(ids[0]),
            // Refused (a limit): the answer must not tell whether the account
            // exists, so nothing is said; a code sent a moment ago still works.
            Err(_) => otp::live_code(&mut tx, user.id, Purpose::PasswordReset).await?,
        };
        data["code_id"] = serde_json::json!(code_id);
    }
    // Same next step whether or not the account exists.
    let (_, cookie) = session::begin_flow(&mut tx, "reset", user.map(|u| u.id), data, otp::CODE_TTL).await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/accesso/recupero/codice")).into_response())
}

async fn code_page(page: Page) -> AppResult<Response> {
    let mut context = page.context();
    context.insert("errors", &FormErrors::default());
    page.render("auth/recovery_code.html", &context)
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

async fn reset(page: Page, client: ClientInfo, headers: HeaderMap, Form(form): Form<ResetForm>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let Some(flow) = session::find_flow(&mut tx, &headers, "reset").await? else {
        return Ok(Redirect::to("/accesso/recupero").into_response());
    };
    page.state.limits.check(
        Action::Otp,
        &page.tenant.0.slug,
        client.ip,
        flow.user_id.map(|u| u.to_string()).as_deref(),
    )?;
    let mut errors = FormErrors::default();
    let user = match flow.user_id {
        Some(id) => users::by_id(&mut tx, id).await?,
        None => None,
    };
    if let Some(weak) =
        password::weakness(&form.new_password, user.as_ref().and_then(|u| u.email.as_deref()).unwrap_or_default())
    {
        errors.add("new_password", weak);
    }
    errors.check("confirm", form.new_password == form.confirm, "validation.password_mismatch");
    let code_id: Option<Uuid> = serde_json::from_value(flow.data["code_id"].clone()).ok().flatten();
    if errors.is_empty() {
        let outcome = match (user.as_ref(), code_id) {
            (Some(user), Some(code_id)) => {
                otp::verify(&mut tx, code_id, user.id, Purpose::PasswordReset, &form.code).await?
            }
            _ => Outcome::Wrong { attempts_left: 0 },
        };
        match (outcome, user) {
            (Outcome::Accepted, Some(user)) => {
                let hash = password::hash(form.new_password).await?;
                users::set_password(&mut tx, user.id, &hash).await?;
                // Whoever had the old password is out.
                session::end_all_of_user(&mut tx, user.id, None).await?;
                session::end_flow(&mut tx, &headers).await?;
                tx.commit().await?;
                return Ok((
                    AppendHeaders([(header::SET_COOKIE, session::clear_cookie(session::FLOW_COOKIE))]),
                    Redirect::to("/accesso?reset=1"),
                )
                    .into_response());
            }
            (Outcome::Spent, _) => errors.add("code", "auth.code_spent_reset"),
            _ => errors.add("code", "auth.code_wrong"),
        }
    }
    tx.commit().await?;
    let mut context = page.context();
    context.insert("errors", &errors);
    page.render_with(StatusCode::UNPROCESSABLE_ENTITY, "auth/recovery_code.html", &context)
}
