//! Sessions stored in PostgreSQL (only a hash of the cookie value), scoped to the
//! ente's host, rotated at every sign-in and level change.

use std::net::IpAddr;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::csrf::CsrfToken;
use crate::tenancy::{Level, Method};
use crate::web::{client::ClientAddr, SignedIn};
use crate::{
    db::TenantTx,
    error::{AppError, ErrorMarker},
    state::AppState,
    tenancy::Site,
};

pub use crate::web::SESSION_COOKIE;
/// Carries a sign-in in progress (OTP step, registration checks, OIDC round trip).
pub const FLOW_COOKIE: &str = "sportello_flow";
/// A session ends after this long, however active.
pub const ABSOLUTE_TTL: Duration = Duration::hours(8);
/// …or after this long without requests.
pub const IDLE_TTL: Duration = Duration::minutes(30);

/// A new random token (for a cookie) and the hash stored in its place.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// `Set-Cookie` for a cookie of this host only (no `Domain`): another ente's host
/// never receives it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, same_site: &str) -> HeaderValue {
    let age = match max_age {
        Some(d) => format!("; Max-Age={}", d.num_seconds().max(0)),
        None => String::new(),
    };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite={same_site}{age}"))
        .expect("cookie values are base64url")
}

pub fn clear_cookie(name: &str) -> HeaderValue {
    set_cookie(name, "", Some(Duration::zero()), "Lax")
}

pub use crate::web::client::cookie_value;

/// The signed-in user of this request.
#[derive(Clone, Debug, Serialize)]
pub struct CurrentSession {
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub method: Method,
    pub level: Level,
    pub given_name: String,
    pub family_name: String,
    pub is_staff: bool,
    #[serde(skip)]
    pub email: Option<String>,
    /// The authorization subject (`staff:<email>`) of a session opened at the
    /// staff sign-in; `None` for every citizen session, whoever the person is.
    #[serde(skip)]
    pub staff_subject: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl CurrentSession {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name).trim().to_string()
    }
}

/// Middleware on the tenant router: loads the session named by the cookie, if it
/// is this ente's and still alive.
pub async fn load_session(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let tenant = match request.extensions().get::<Site>() {
        Some(Site::Tenant(t)) => t.clone(),
        _ => return next.run(request).await,
    };
    let mut header_person = None;
    if let Some(token) = cookie_value(request.headers(), SESSION_COOKIE) {
        let hash = token_hash(token);
        match find_session(&state, tenant.id, &hash).await {
            Ok(Some(session)) => {
                // For the page header: the name, and the form token of its sign-out button.
                if let Some(form_token) = request.extensions().get::<CsrfToken>().cloned() {
                    let name = session.display_name();
                    header_person = Some((name.clone(), form_token.clone()));
                    let signed_in = SignedIn::new(name, move || form_token.value().to_string());
                    request.extensions_mut().insert(signed_in);
                }
                request.extensions_mut().insert(session);
            }
            Ok(None) => {}
            Err(e) => return axum::response::IntoResponse::into_response(e),
        }
    }
    let mut response = next.run(request).await;
    // An error page is drawn further out (`web::errors`), where the request
    // carried no session yet: the person goes with the response, their form
    // token taken now, so that the CSRF layer, on the way out, knows the page
    // is theirs alone (and gives them the cookie if they had none).
    if let Some((name, form_token)) = header_person {
        if response.extensions().get::<ErrorMarker>().is_some() {
            let token = form_token.value().to_string();
            response.extensions_mut().insert(SignedIn::new(name, move || token.clone()));
        }
    }
    response
}

async fn find_session(state: &AppState, tenant_id: Uuid, hash: &[u8]) -> Result<Option<CurrentSession>, AppError> {
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    type Row = (Uuid, String, i16, String, String, bool, Option<String>, Option<String>, DateTime<Utc>, DateTime<Utc>);
    let row: Option<Row> = sqlx::query_as(
        "select s.user_id, s.method, s.level, u.given_name, u.family_name, u.is_staff, u.email, s.staff_subject,
                s.created_at, s.last_seen_at
         from sessions s join users u on u.id = s.user_id
         where s.token_hash = $1 and s.expires_at > now() and s.last_seen_at > now() - $2::interval
           -- A deactivated staff member's sessions are deleted; this holds against a
           -- sign-in that was finishing at that moment.
           and not exists (select from staff_members m
                           where m.email = substr(s.staff_subject, 7) and m.status = 'deactivated')",
    )
    .bind(hash)
    .bind(format!("{} seconds", IDLE_TTL.num_seconds()))
    .fetch_optional(tx.conn())
    .await?;
    let Some((user_id, method, level, given_name, family_name, is_staff, email, staff_subject, created_at, last_seen)) =
        row
    else {
        return Ok(None);
    };
    // Touch at most once a minute: one write per active minute, not per request.
    if Utc::now() - last_seen > Duration::minutes(1) {
        sqlx::query("update sessions set last_seen_at = now() where token_hash = $1")
            .bind(hash)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok(Some(CurrentSession {
        token_hash: hash.to_vec(),
        user_id,
        method: Method::parse(&method).ok_or_else(|| anyhow::anyhow!("unknown method {method}"))?,
        level: Level::try_from(level).map_err(|e| anyhow::anyhow!(e))?,
        given_name,
        family_name,
        is_staff,
        email,
        staff_subject,
        created_at,
    }))
}

/// How a session is opened: who, with what, at which level, and — only at the
/// staff sign-in — the staff subject it acts as.
pub struct Opening<'a> {
    pub user_id: Uuid,
    pub method: Method,
    pub level: Level,
    pub staff_subject: Option<&'a str>,
}

impl Opening<'_> {
    pub fn citizen(user_id: Uuid, method: Method, level: Level) -> Self {
        Self { user_id, method, level, staff_subject: None }
    }
}

/// Opens a session, replacing the one the browser had (rotation). Returns the
/// `Set-Cookie` value.
pub async fn start(
    tx: &mut TenantTx,
    opening: Opening<'_>,
    previous: Option<&[u8]>,
    client: &ClientInfo,
) -> Result<HeaderValue, AppError> {
    let Opening { user_id, method, level, staff_subject } = opening;
    if let Some(previous) = previous {
        sqlx::query("delete from sessions where token_hash = $1").bind(previous).execute(tx.conn()).await?;
    }
    let (token, hash) = new_token();
    sqlx::query(
        "insert into sessions (tenant_id, token_hash, user_id, method, level, expires_at, ip, user_agent, staff_subject)
         values ($1, $2, $3, $4, $5, now() + $6::interval, $7::inet, $8, $9)",
    )
    .bind(tx.tenant_id)
    .bind(&hash)
    .bind(user_id)
    .bind(method.as_str())
    .bind(level as i16)
    .bind(format!("{} seconds", ABSOLUTE_TTL.num_seconds()))
    .bind(client.ip.map(|ip| ip.to_string()))
    .bind(&client.user_agent)
    .bind(staff_subject)
    .execute(tx.conn())
    .await?;
    Ok(set_cookie(SESSION_COOKIE, &token, Some(ABSOLUTE_TTL), "Lax"))
}

pub async fn end(tx: &mut TenantTx, hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query("delete from sessions where token_hash = $1").bind(hash).execute(tx.conn()).await?;
    Ok(())
}

/// Signs `user_id` out everywhere but in the session `keep` (the one asking), if any.
pub async fn end_all_of_user(tx: &mut TenantTx, user_id: Uuid, keep: Option<&[u8]>) -> sqlx::Result<()> {
    sqlx::query("delete from sessions where user_id = $1 and token_hash is distinct from $2")
        .bind(user_id)
        .bind(keep)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// One of a person's live sessions, as their account page lists it: named by
/// a prefix of its hash, the token itself is never shown.
#[derive(Serialize, sqlx::FromRow)]
pub struct SessionSummary {
    pub id: String,
    pub method: String,
    pub level: i16,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: String,
    /// The session asking.
    pub current: bool,
}

/// The live sessions of the person of `session`, most recently used first.
pub async fn sessions_of_user(tx: &mut TenantTx, session: &CurrentSession) -> sqlx::Result<Vec<SessionSummary>> {
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

/// Ends the session of `user_id` named `id` (a `SessionSummary::id`, lower-case
/// hex); `false` when they have none of that name.
pub async fn revoke(tx: &mut TenantTx, user_id: Uuid, id: &str) -> sqlx::Result<bool> {
    let removed = sqlx::query(
        "delete from sessions where user_id = $1 and encode(substring(token_hash from 1 for 12), 'hex') = $2",
    )
    .bind(user_id)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(removed > 0)
}

/// Who is on the other end: the client address `web::dispatch` decided
/// (`ClientAddr`) and the user agent.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<ClientAddr>() {
            Some(ClientAddr(ip)) => *ip,
            // Not through `web::dispatch`: the peer, never a forwarding header.
            None => parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_canonical()),
        };
        Ok(Self {
            ip,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
        })
    }
}

/// Extractor: the session, or a redirect to sign in and come back.
impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CurrentSession>().cloned().ok_or_else(|| AppError::SignInRequired {
            next: parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into()),
        })
    }
}

/// Extractor: the session if there is one.
pub struct MaybeSession(pub Option<CurrentSession>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<CurrentSession>().cloned()))
    }
}

/// A sign-in step in progress, kept in `login_flows` and named by `FLOW_COOKIE`.
pub struct Flow {
    pub user_id: Option<Uuid>,
    pub data: serde_json::Value,
}

pub async fn begin_flow(
    tx: &mut TenantTx,
    kind: &str,
    user_id: Option<Uuid>,
    data: serde_json::Value,
    ttl: Duration,
) -> sqlx::Result<(String, HeaderValue)> {
    let (token, hash) = new_token();
    sqlx::query(
        "insert into login_flows (tenant_id, token_hash, kind, user_id, data, expires_at)
         values ($1, $2, $3, $4, $5, now() + $6::interval)",
    )
    .bind(tx.tenant_id)
    .bind(&hash)
    .bind(kind)
    .bind(user_id)
    .bind(&data)
    .bind(format!("{} seconds", ttl.num_seconds()))
    .execute(tx.conn())
    .await?;
    let cookie = set_cookie(FLOW_COOKIE, &token, Some(ttl), "Lax");
    Ok((token, cookie))
}

/// The flow of `kind` this browser is in, if still valid.
pub async fn find_flow(tx: &mut TenantTx, headers: &HeaderMap, kind: &str) -> sqlx::Result<Option<Flow>> {
    let Some(token) = cookie_value(headers, FLOW_COOKIE) else { return Ok(None) };
    let row: Option<(Option<Uuid>, serde_json::Value)> = sqlx::query_as(
        "select user_id, data from login_flows where token_hash = $1 and kind = $2 and expires_at > now()",
    )
    .bind(token_hash(token))
    .bind(kind)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(user_id, data)| Flow { user_id, data }))
}

/// The flow of `kind` this browser is in, read in a transaction of its own
/// (for the pages that only show a step).
pub async fn load_flow(
    db: &sqlx::PgPool,
    tenant_id: Uuid,
    headers: &HeaderMap,
    kind: &str,
) -> sqlx::Result<Option<Flow>> {
    let mut tx = TenantTx::begin(db, tenant_id).await?;
    let flow = find_flow(&mut tx, headers, kind).await?;
    tx.commit().await?;
    Ok(flow)
}

pub async fn update_flow(tx: &mut TenantTx, headers: &HeaderMap, data: &serde_json::Value) -> sqlx::Result<()> {
    if let Some(token) = cookie_value(headers, FLOW_COOKIE) {
        sqlx::query("update login_flows set data = $2 where token_hash = $1")
            .bind(token_hash(token))
            .bind(data)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

pub async fn end_flow(tx: &mut TenantTx, headers: &HeaderMap) -> sqlx::Result<()> {
    if let Some(token) = cookie_value(headers, FLOW_COOKIE) {
        sqlx::query("delete from login_flows where token_hash = $1").bind(token_hash(token)).execute(tx.conn()).await?;
    }
    Ok(())
}

/// The answer to a completed sign-in: the new session cookie, the sign-in flow
/// cookie cleared, and on to `next`.
pub fn signed_in(cookie: HeaderValue, next: &str) -> Response {
    use axum::response::IntoResponse;
    (
        axum::response::AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, clear_cookie(FLOW_COOKIE))]),
        axum::response::Redirect::to(next),
    )
        .into_response()
}
