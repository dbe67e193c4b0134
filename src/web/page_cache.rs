//! Anonymous public pages are the same for every visitor of an ente, so they are
//! kept rendered in memory. Tenant changes (NOTIFY) drop the whole cache.

use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use moka::future::Cache;
use uuid::Uuid;

use crate::{state::AppState, tenancy::Site};

/// Name of the session cookie: a request carrying it is personal and never cached.
pub const SESSION_COOKIE: &str = "sportello_sid";
const MAX_CACHED_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct CachedPage {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
pub struct PageCache {
    pages: Cache<(Uuid, String), CachedPage>,
}

impl PageCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            pages: Cache::builder()
                .max_capacity(64 * 1024 * 1024)
                .weigher(|key: &(Uuid, String), page: &CachedPage| (key.1.len() + page.body.len()) as u32)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub fn invalidate_all(&self) {
        self.pages.invalidate_all();
    }
}

fn is_personal(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|cookies| cookies.split(';').any(|c| c.trim_start().starts_with(SESSION_COOKIE)))
}

/// Middleware for public tenant routes.
pub async fn cache_public_page(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let tenant_id = match request.extensions().get::<Site>() {
        Some(Site::Tenant(t)) => t.id,
        _ => return next.run(request).await,
    };
    if !(request.method() == Method::GET || request.method() == Method::HEAD) || is_personal(&request) {
        return next.run(request).await;
    }
    // The host is part of the key: pages carry absolute links (JSON-LD) to it.
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let key = (tenant_id, format!("{host}{}", request.uri()));
    if let Some(page) = state.pages.pages.get(&key).await {
        return page.into_response_with("hit");
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_CACHED_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "response too large").into_response();
    };
    let page = CachedPage { headers: parts.headers, body };
    state.pages.pages.insert(key, page.clone()).await;
    page.into_response_with("miss")
}

impl CachedPage {
    fn into_response_with(self, outcome: &'static str) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.headers_mut() = self.headers;
        response.headers_mut().insert("x-page-cache", HeaderValue::from_static(outcome));
        response
    }
}
