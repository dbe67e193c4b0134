//! CSRF protection for every state-changing request: the Origin (when sent) must
//! be this host, and the form field or `X-CSRF-Token` header must match the
//! `SameSite=Strict` cookie (double submit, compared in constant time).
//!
//! Pages carry the token masked with a fresh one-time pad (`pad ‖ pad⊕token`,
//! base64url), so its bytes differ on every page: compressed pages that also
//! echo what a visitor typed cannot leak it byte by byte (BREACH). The check
//! unmasks; the bare cookie value is accepted too (scripts sending the header).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use axum::{
    body::Body,
    extract::{FromRequestParts, Request},
    http::{header, request::Parts, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore as _;
use subtle::ConstantTimeEq;

use super::session::{cookie_value, new_token, set_cookie};
use crate::error::AppError;

pub const CSRF_COOKIE: &str = "sportello_csrf";
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The token forms must carry. Using it (`value()`) makes the response set the
/// cookie when the browser has none yet; pages that never use it stay cacheable.
#[derive(Clone)]
pub struct CsrfToken {
    value: Arc<str>,
    used: Arc<AtomicBool>,
}

impl CsrfToken {
    /// The token as a page carries it: masked, different on every call.
    pub fn value(&self) -> String {
        self.used.store(true, Ordering::Relaxed);
        mask(&self.value)
    }
}

fn mask(token: &str) -> String {
    let token = token.as_bytes();
    let mut masked = vec![0u8; token.len() * 2];
    rand::rngs::OsRng.fill_bytes(&mut masked[..token.len()]);
    for i in 0..token.len() {
        masked[token.len() + i] = masked[i] ^ token[i];
    }
    URL_SAFE_NO_PAD.encode(masked)
}

/// The token a masked value carries, if it is one.
fn unmask(submitted: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(submitted).ok()?;
    let (pad, masked) = bytes.split_at(bytes.len() / 2);
    (bytes.len() % 2 == 0 && !pad.is_empty()).then(|| pad.iter().zip(masked).map(|(p, m)| p ^ m).collect())
}

/// Whether what the request carried is the cookie's token, masked or bare.
pub fn matches(submitted: &str, cookie: &str) -> bool {
    let bare = bool::from(submitted.as_bytes().ct_eq(cookie.as_bytes()));
    let masked = unmask(submitted).is_some_and(|t| bool::from(t.ct_eq(cookie.as_bytes())));
    bare | masked
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("csrf middleware missing")))
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn protect(request: Request, next: Next) -> Response {
    let existing = cookie_value(request.headers(), CSRF_COOKIE).map(str::to_string);
    let cross_site_post = crate::auth::spid::CROSS_SITE_POSTS.contains(&request.uri().path());
    // API calls authenticate with a bearer token only (never the session
    // cookie), which a browser never adds on its own: nothing to forge.
    let bearer_api = request.uri().path().starts_with("/api/") && request.headers().contains_key(header::AUTHORIZATION);
    let request = if is_safe(request.method()) || cross_site_post || bearer_api {
        request
    } else {
        match check(request, existing.as_deref()).await {
            Ok(request) => request,
            Err(e) => return e.into_response(),
        }
    };
    let token = CsrfToken {
        value: existing.clone().unwrap_or_else(|| new_token().0).into(),
        used: Arc::new(AtomicBool::new(false)),
    };
    let mut request = request;
    request.extensions_mut().insert(token.clone());
    let mut response = next.run(request).await;
    if token.used.load(Ordering::Relaxed) {
        // The page carries this visitor's token: it is theirs alone.
        response.extensions_mut().insert(crate::web::page_cache::Personal);
        if existing.is_none() {
            response.headers_mut().append(header::SET_COOKIE, set_cookie(CSRF_COOKIE, &token.value, None, "Strict"));
        }
    }
    response
}

async fn check(request: Request, cookie: Option<&str>) -> Result<Request, AppError> {
    if !same_origin(&request) {
        tracing::warn!("cross-origin state-changing request refused");
        return Err(AppError::Csrf);
    }
    let Some(cookie) = cookie else { return Err(AppError::Csrf) };
    let header_token = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let query_token = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned())
    });
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let (request, submitted) = match header_token.or(query_token) {
        Some(token) => (request, Some(token)),
        None if is_form => {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| AppError::PayloadTooLarge)?;
            let token = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
            (Request::from_parts(parts, Body::from(bytes)), token)
        }
        None => (request, None),
    };
    match submitted {
        Some(token) if matches(&token, cookie) => Ok(request),
        _ => Err(AppError::Csrf),
    }
}

/// `Origin` (or, without it, `Referer`) must name this very host when present.
fn same_origin(request: &Request) -> bool {
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .or_else(|| request.headers().get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match origin {
        None => true,
        Some("null") => false,
        Some(origin) => url::Url::parse(origin).ok().is_some_and(|u| {
            let authority = match u.port() {
                Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_string(),
            };
            authority.eq_ignore_ascii_case(host)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_the_token_masked_and_the_check_unmasks_it() {
        let token = new_token().0;
        let (a, b) = (mask(&token), mask(&token));
        assert_ne!(a, b, "a fresh pad on every page");
        assert!(!a.contains(&token));
        assert!(matches(&a, &token) && matches(&b, &token) && matches(&token, &token));
        let other = new_token().0;
        assert!(!matches(&mask(&other), &token) && !matches(&other, &token));
        assert!(!matches("", &token) && !matches("AA", &token) && !matches("not base64!", &token));
    }
}
