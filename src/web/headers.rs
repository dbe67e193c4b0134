//! Security headers on every response. Only `/embed/banner` may be framed: its
//! handler sets its own `Content-Security-Policy` naming who may frame it.

use axum::{
    extract::Request,
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

pub const DEFAULT_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
script-src 'self'; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
form-action 'self'; frame-ancestors 'none'";

pub const FRAMEABLE_PATH: &str = "/embed/banner";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let frameable = request.uri().path() == FRAMEABLE_PATH;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A handler may set a stricter policy of its own; outside the embed route it
    // must still forbid framing, or the default replaces it.
    let own_policy_ok = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|csp| frameable || csp.contains("frame-ancestors 'none'"));
    if !own_policy_ok {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEFAULT_CSP));
    }
    if !frameable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}
