//! Anonymous public pages are the same for every visitor of an ente, so the
//! finished responses are kept in memory and served at the edge of the stack,
//! before host resolution and routing. Tenant changes (NOTIFY) drop the cache.
//!
//! Routes opt in with the `mark_cacheable` middleware; `EdgeCache`, the outermost
//! service, stores what they mark and answers later identical requests itself.
//!
//! Languages: an entry (host + URI) holds one answer per language it was made
//! in, with the languages the site offered. A visitor is served the answer in
//! the language `dispatch` would choose for them (`language::choose`: their
//! cookie, then `Accept-Language`, then the default) — the same rule on the
//! same inputs, so an Italian visitor never gets the English page. Keying by
//! the chosen language, not by the raw headers, keeps one entry per language
//! however browsers spell `Accept-Language`; the edge learns the offered
//! languages from the answers themselves (it runs before host resolution),
//! and a tenant change, which may change them, empties the cache anyway.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, OnceLock},
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

use super::{
    compression::{self, Effort, Encoding},
    language::{self, RequestLanguage},
    request_id, REQUEST_ID_HEADER,
};
use crate::tenancy::host::requested_host;

/// A request carrying the session cookie is personal and never cached.
use super::SESSION_COOKIE;
const MAX_CACHED_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
struct CachedPage {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// The body compressed with gzip and brotli, each made the first time a
    /// visitor asks for it and then kept with the page: one entry per encoding.
    encoded: Arc<[OnceLock<Bytes>; 2]>,
}

/// The answers for one host + URI, one per language.
#[derive(Clone)]
struct CachedVariants {
    /// What the site offered when they were made: with the visitor's cookie and
    /// `Accept-Language` it says which answer is theirs.
    offered: Arc<[String]>,
    by_lang: Vec<(String, CachedPage)>,
}

impl CachedVariants {
    fn for_visitor(&self, request: &Request) -> Option<CachedPage> {
        let lang = language::RequestLanguage::decide(self.offered.clone(), request.headers()).lang;
        self.by_lang.iter().find(|(l, _)| *l == lang).map(|(_, page)| page.clone())
    }

    fn weight(&self) -> usize {
        // The compressed variants, made later, are a fraction of the page: a
        // third more covers them.
        self.by_lang.iter().map(|(_, page)| page.body.len() * 4 / 3).sum()
    }
}

#[derive(Clone)]
pub struct PageCache {
    pages: Cache<String, CachedVariants>,
}

impl PageCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            pages: Cache::builder()
                .max_capacity(64 * 1024 * 1024)
                .weigher(|key: &String, pages: &CachedVariants| {
                    (key.len() + pages.weight()).try_into().unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Keeps `page`, made in `language`, next to the entry's other languages.
    fn keep(&self, key: String, language: RequestLanguage, page: CachedPage) {
        self.pages.entry(key).and_upsert_with(|existing| {
            let mut variants = match existing.map(|e| e.into_value()) {
                Some(v) if v.offered == language.offered => v,
                // The site's languages changed: the old answers are not comparable.
                _ => CachedVariants { offered: language.offered.clone(), by_lang: Vec::new() },
            };
            variants.by_lang.retain(|(l, _)| *l != language.lang);
            variants.by_lang.push((language.lang, page));
            variants
        });
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
/// Nothing else of the request is part of the key but the language (see the
/// module's comment), so nothing else may shape a stored answer: handlers that
/// read other request headers are not cacheable.
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
        let method = request.method().clone();
        let fills = method == Method::GET;
        let encoding = compression::negotiate(request.headers());
        if let Some(page) = key.as_ref().and_then(|k| self.cache.pages.get(k)).and_then(|v| v.for_visitor(&request)) {
            return Box::pin(async move {
                let response = page.into_response_with("hit", None, encoding).await;
                tracing::debug!(request_id = ?response.headers().get(REQUEST_ID_HEADER), "page cache hit");
                Ok(response)
            });
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
            // `dispatch` says which language the answer is in; without it the
            // answer cannot be told apart from the other languages'.
            let language = response.extensions().get::<RequestLanguage>().cloned();
            let (Some(key), Some(language)) = (key.filter(|_| shareable), language) else {
                return Ok(compression::compress_response(&method, response, encoding).await);
            };
            let (mut parts, body) = response.into_parts();
            let Ok(body) = axum::body::to_bytes(body, MAX_CACHED_BODY).await else {
                return Ok((StatusCode::INTERNAL_SERVER_ERROR, "response too large").into_response());
            };
            let request_id = parts.headers.remove(REQUEST_ID_HEADER);
            let page = CachedPage { status: parts.status, headers: parts.headers, body, encoded: Default::default() };
            cache.keep(key, language, page.clone());
            Ok(page.into_response_with("miss", request_id, encoding).await)
        })
    }
}

impl CachedPage {
    /// The kept page as the visitor's `encoding` asks for it (a HEAD answer
    /// says the same headers; axum drops the body). Each encoding is made once
    /// per page and kept; making it (the stored effort takes tens of
    /// milliseconds on a big page) runs off the async threads, and a visitor
    /// asking meanwhile for the same one waits there too, never on them.
    async fn into_response_with(
        self,
        outcome: &'static str,
        request_id: Option<HeaderValue>,
        encoding: Encoding,
    ) -> Response {
        let text = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(compression::is_compressible);
        let (mut headers, mut body) = (self.headers, self.body);
        if text {
            compression::vary_on_encoding(&mut headers);
            let slot = match encoding {
                Encoding::Gzip => Some(0),
                Encoding::Brotli => Some(1),
                Encoding::Identity => None,
            };
            if let (Some(slot), Some(token), true) = (slot, encoding.token(), body.len() >= 1024) {
                let encoded = match self.encoded[slot].get() {
                    Some(done) => Some(done.clone()),
                    None => {
                        let (kept, plain) = (self.encoded.clone(), body.clone());
                        let make = move || {
                            kept[slot].get_or_init(|| compression::compress(encoding, &plain, Effort::Stored)).clone()
                        };
                        tokio::task::spawn_blocking(make).await.ok()
                    }
                };
                // Should compressing ever fail, the page goes as it is.
                if let Some(encoded) = encoded {
                    body = encoded;
                    compression::set_encoded(&mut headers, token, body.len());
                }
            }
        }
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        let headers = response.headers_mut();
        headers.insert("x-page-cache", HeaderValue::from_static(outcome));
        headers.insert(REQUEST_ID_HEADER, request_id.unwrap_or_else(request_id::next));
        response
    }
}
