//! Staff sign-in through the ente's own identity provider (Microsoft Entra ID,
//! Google Workspace, Keycloak…) over OpenID Connect: authorization code with
//! PKCE, `state` and `nonce` checked, id_token verified against the provider's
//! keys (`openidconnect`, built on the `oauth2` crate). Only people the ente
//! lists as staff (`[[staff]]` in tenant.toml) get in.

use std::time::Duration;

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use moka::future::Cache;
use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata},
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{
    authz::{Access, RouteSpec},
    csrf::CsrfToken as FormToken,
    login::{auth_context, safe_next},
    ratelimit::Action,
    session::{self, ClientInfo, CurrentSession, MaybeSession},
    store,
};
use crate::tenancy::Method;
use crate::web::CurrentTenant;
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    state::AppState,
    tenancy::Tenant,
    web::render_page,
};

pub const CALLBACK_PATH: &str = "/backoffice/accesso/oidc/callback";

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/accesso/staff", &["GET"], Access::Public, get(start)),
        RouteSpec::new(CALLBACK_PATH, &["GET"], Access::Public, get(callback)),
        RouteSpec::new("/backoffice", &["GET"], Access::staff("backoffice", "read"), get(backoffice_home)),
    ]
}

/// Discovered provider metadata (with its signing keys), per issuer.
#[derive(Clone)]
pub struct Providers {
    metadata: Cache<String, CoreProviderMetadata>,
    http: reqwest::Client,
}

impl Default for Providers {
    fn default() -> Self {
        Self {
            metadata: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(3600)).build(),
            // Redirects are never followed: SSRF and token leaks stay out.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
        }
    }
}

impl Providers {
    async fn metadata(&self, issuer: &str) -> AppResult<CoreProviderMetadata> {
        let http = self.http.clone();
        let issuer_url = IssuerUrl::new(issuer.to_string()).map_err(|e| AppError::Internal(e.into()))?;
        self.metadata
            .try_get_with(
                issuer.to_string(),
                async move { CoreProviderMetadata::discover_async(issuer_url, &http).await },
            )
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("OIDC discovery of {issuer}: {e}")))
    }
}

fn redirect_url(state: &AppState, headers: &HeaderMap, tenant: &Tenant) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(&tenant.primary_host);
    format!("{}://{host}{CALLBACK_PATH}", state.settings.public_scheme())
}

async fn client_secret(state: &AppState, tenant: &Tenant) -> AppResult<ClientSecret> {
    let mut tx = TenantTx::begin(&state.db, tenant.id).await?;
    let secret = store::tenant_secret(&mut tx, "oidc_client_secret").await?;
    tx.commit().await?;
    secret.map(ClientSecret::new).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "{}: no OIDC client secret; apply the tenant with it in the environment",
            tenant.slug
        ))
    })
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

async fn start(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client_info: ClientInfo,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> AppResult<Response> {
    let settings = tenant.0.auth.oidc.clone().ok_or(AppError::NotFound)?;
    // Each start stores a pending flow: bounded per address, like SPID's.
    state.limits.check(Action::SignInStart, &tenant.0.slug, client_info.ip, None)?;
    let metadata = state.oidc.metadata(&settings.issuer).await?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(client_secret(&state, &tenant.0).await?),
    )
    .set_redirect_uri(
        RedirectUrl::new(redirect_url(&state, &headers, &tenant.0)).map_err(|e| AppError::Internal(e.into()))?,
    );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let next = q.next.map(|n| safe_next(Some(&n))).unwrap_or_else(|| "/backoffice".into());
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let (_, cookie) = session::begin_flow(
        &mut tx,
        "oidc",
        None,
        serde_json::json!({
            "state": csrf_state.secret(),
            "nonce": nonce.secret(),
            "verifier": verifier.secret(),
            "next": next,
        }),
        chrono::Duration::minutes(10),
    )
    .await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client_info: ClientInfo,
    headers: HeaderMap,
    MaybeSession(previous): MaybeSession,
    form_token: FormToken,
    Query(q): Query<CallbackQuery>,
) -> AppResult<Response> {
    let settings = tenant.0.auth.oidc.clone().ok_or(AppError::NotFound)?;
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let flow = session::find_flow(&mut tx, &headers, "oidc").await?;
    // One answer per sign-in attempt, whatever it is.
    session::end_flow(&mut tx, &headers).await?;
    tx.commit().await?;
    let refuse = |message: &str| refused(&state, &tenant, &form_token, message);
    let Some(flow) = flow else { return refuse("auth.oidc_no_request") };
    if q.error.is_some() {
        return refuse("auth.oidc_denied");
    }
    let expected = flow.data["state"].as_str().unwrap_or_default();
    let given = q.state.unwrap_or_default();
    if expected.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        tracing::warn!("OIDC callback with a wrong state refused");
        return refuse("auth.oidc_no_request");
    }
    let code = q.code.unwrap_or_default();
    let metadata = state.oidc.metadata(&settings.issuer).await?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(client_secret(&state, &tenant.0).await?),
    )
    .set_redirect_uri(
        RedirectUrl::new(redirect_url(&state, &headers, &tenant.0)).map_err(|e| AppError::Internal(e.into()))?,
    );
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| AppError::Internal(e.into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.data["verifier"].as_str().unwrap_or_default().to_string()))
        .request_async(&state.oidc.http)
        .await;
    let tokens = match exchange {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::warn!(error = %e, "OIDC code exchange refused");
            return refuse("auth.oidc_failed");
        }
    };
    let Some(id_token) = tokens.id_token() else { return refuse("auth.oidc_failed") };
    let nonce = Nonce::new(flow.data["nonce"].as_str().unwrap_or_default().to_string());
    let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Ok(claims) => claims,
        Err(e) => {
            tracing::warn!(error = %e, "OIDC id_token refused");
            return refuse("auth.oidc_failed");
        }
    };
    let (Some(email), Some(true)) = (claims.email().map(|e| e.as_str().to_lowercase()), claims.email_verified()) else {
        return refuse("auth.oidc_no_email");
    };
    let localized = |c: Option<&openidconnect::LocalizedClaim<openidconnect::EndUserGivenName>>| {
        c.and_then(|c| c.get(None)).map(|n| n.as_str().to_string()).unwrap_or_default()
    };
    let given_name = localized(claims.given_name());
    let family_name =
        claims.family_name().and_then(|c| c.get(None)).map(|n| n.as_str().to_string()).unwrap_or_default();
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let next = safe_next(flow.data["next"].as_str());
    match store::admit(&mut tx, &email, &next).await? {
        store::Admission::Admitted => {}
        store::Admission::Unknown => {
            tx.commit().await?;
            tracing::warn!(%email, "OIDC sign-in of someone who is not staff of this ente");
            return refuse("auth.oidc_not_staff");
        }
        refused => {
            tx.commit().await?;
            return refuse(refused.refusal().unwrap_or("auth.oidc_not_staff"));
        }
    }
    let staff = store::AssertedStaff {
        issuer: claims.issuer().as_str(),
        subject: claims.subject().as_str(),
        email: &email,
        given_name: &given_name,
        family_name: &family_name,
    };
    let user_id = store::staff_user(&mut tx, &staff).await?;
    let subject = format!("staff:{email}");
    let opening =
        session::Opening { user_id, method: Method::Oidc, level: settings.level, staff_subject: Some(&subject) };
    let cookie =
        session::start(&mut tx, opening, previous.as_ref().map(|s| s.token_hash.as_slice()), &client_info).await?;
    tx.commit().await?;
    Ok(session::signed_in(cookie, &next))
}

fn refused(state: &AppState, tenant: &CurrentTenant, form_token: &FormToken, message: &str) -> AppResult<Response> {
    let mut context = auth_context(tenant, form_token);
    context.insert("message_title", "auth.oidc_refused_title");
    context.insert("message_text", message);
    let page = render_page(state, &tenant.site(), "layout/message.html", &context)?;
    Ok((axum::http::StatusCode::FORBIDDEN, page).into_response())
}

/// The staff landing page: who is signed in and with which roles.
async fn backoffice_home(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    form_token: FormToken,
    session: CurrentSession,
) -> AppResult<Html<String>> {
    let roles = state.authz.roles_of(&state, &tenant.0, &session).await?;
    let mut context = auth_context(&tenant, &form_token);
    context.insert("display_name", &session.display_name());
    context.insert("roles", &roles);
    context.insert("session", &session);
    render_page(&state, &tenant.site(), "backoffice/home.html", &context)
}
