//! Anonymous public pages are the same for every visitor of an ente, so the
//! finished responses are kept in memory and served at the edge of the stack,
//! before host resolution and routing. Tenant changes (NOTIFY) drop the cache.
//!
//! Routes opt in with the `mark_cacheable` middleware; `EdgeCache`, the outermost
//! service, stores what they mark and answers later identical requests itself.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, Request},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use ipnet::IpNet;
use moka::sync::Cache;

use super::{request_id, REQUEST_ID_HEADER};
use crate::tenancy::host::requested_host;

/// A request carrying the session cookie is personal and never cached.
use super::SESSION_COOKIE;
const MAX_CACHED_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
struct CachedPage {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
pub struct PageCache {
    pages: Cache<String, CachedPage>,
}

impl PageCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            pages: Cache::builder()
                .max_capacity(64 * 1024 * 1024)
                .weigher(|key: &String, page: &CachedPage| (key.len() + page.body.len()).try_into().unwrap_or(u32::MAX))
                .time_to_live(ttl)
                .build(),
        }
    }

    pub fn invalidate_all(&self) {
        self.pages.invalidate_all();
    }
}

/// Set on a response that may be shared with every anonymous visitor.
#[derive(Clone, Copy)]
struct Cacheable;

/// Set on a response made for this visitor alone (it embeds their CSRF token,
/// say), whatever its route: such a response is never shared.
#[derive(Clone, Copy)]
pub struct Personal;

/// The cache key, or `None` when the request must reach the application. GET
/// and HEAD share an entry (a HEAD answer is the GET answer without its body),
/// but only a GET fills it: a HEAD's empty body must never become the page.
/// Nothing else of the request is part of the key, so nothing else may shape a
/// stored answer: handlers that read other request headers are not cacheable.
fn cache_key(request: &Request, trusted_proxies: &[IpNet]) -> Option<String> {
    if !(request.method() == Method::GET || request.method() == Method::HEAD) || is_personal(request) {
        return None;
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    // The host is part of the key: pages carry absolute links (JSON-LD) to it.
    let host = requested_host(request.headers(), peer, trusted_proxies)?;
    Some(format!("{host}{}", request.uri()))
}

fn is_private(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("private") || v.contains("no-store"))
}

fn is_personal(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|cookies| cookies.split(';').any(|c| c.trim_start().starts_with(SESSION_COOKIE)))
}

/// Middleware for routes whose anonymous answers are the same for everyone.
pub async fn mark_cacheable(request: Request, next: Next) -> Response {
    let anonymous_read =
        (request.method() == Method::GET || request.method() == Method::HEAD) && !is_personal(&request);
    let mut response = next.run(request).await;
    if anonymous_read && response.status() == StatusCode::OK {
        response.extensions_mut().insert(Cacheable);
    }
    response
}

/// The outermost service: answers from the cache, or asks `inner` and keeps
/// what it marked cacheable.
#[derive(Clone)]
pub struct EdgeCache<S> {
    inner: S,
    cache: PageCache,
    trusted_proxies: Arc<[IpNet]>,
}

impl<S> EdgeCache<S> {
    pub fn new(inner: S, cache: PageCache, trusted_proxies: &[IpNet]) -> Self {
        Self { inner, cache, trusted_proxies: trusted_proxies.into() }
    }
}

impl<S> tower::Service<Request> for EdgeCache<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let key = cache_key(&request, &self.trusted_proxies);
        let fills = request.method() == Method::GET;
        if let Some(page) = key.as_ref().and_then(|k| self.cache.pages.get(k)) {
            let response = page.into_response_with("hit", None);
            tracing::debug!(request_id = ?response.headers().get(REQUEST_ID_HEADER), "page cache hit");
            return Box::pin(std::future::ready(Ok(response)));
        }
        // The clone that was made ready is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cache = self.cache.clone();
        Box::pin(async move {
            let response = inner.call(request).await?;
            // Never share a response that sets a cookie or was made for this visitor.
            let shareable = fills
                && response.extensions().get::<Cacheable>().is_some()
                && response.extensions().get::<Personal>().is_none()
                && !response.headers().contains_key(header::SET_COOKIE)
                && !is_private(response.headers());
            let Some(key) = key.filter(|_| shareable) else {
                return Ok(response);
            };
            let (mut parts, body) = response.into_parts();
            let Ok(body) = axum::body::to_bytes(body, MAX_CACHED_BODY).await else {
                return Ok((StatusCode::INTERNAL_SERVER_ERROR, "response too large").into_response());
            };
            let request_id = parts.headers.remove(REQUEST_ID_HEADER);
            let page = CachedPage { status: parts.status, headers: parts.headers, body };
            cache.pages.insert(key, page.clone());
            Ok(page.into_response_with("miss", request_id))
        })
    }
}

impl CachedPage {
    fn into_response_with(self, outcome: &'static str, request_id: Option<HeaderValue>) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        let headers = response.headers_mut();
        headers.insert("x-page-cache", HeaderValue::from_static(outcome));
        headers.insert(REQUEST_ID_HEADER, request_id.unwrap_or_else(request_id::next));
        response
    }
}
