//! HTTP plumbing shared by every feature: site dispatch, the page renderer,
//! error pages, security headers, the public page cache.

pub mod assets;
pub mod client;
pub mod compression;
pub mod download;
pub mod errors;
pub mod headers;
pub mod language;
pub mod page_cache;
pub mod render;
pub mod request_id;
pub mod server;
pub mod tls;

use std::{borrow::Borrow, net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, Extensions, HeaderValue, Uri},
    response::{Html, Response},
    Router,
};
use serde::Serialize;
use tera::Context;
use tower::ServiceExt;

use self::{
    client::{client_address, ClientAddr, TrustedPeer},
    language::RequestLanguage,
};
use crate::{
    error::AppError,
    error::AppResult,
    state::AppState,
    tenancy::{host, host::is_trusted_peer, Site, TenantStatus},
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The session cookie's name: the page cache never shares an answer to a
/// request that carries it (sessions themselves are `auth::session`'s).
pub const SESSION_COOKIE: &str = "sportello_sid";

/// The signed-in person, as the page header shows them: put into the request
/// by the session layer (`auth::session::load_session`), which alone knows
/// sessions.
#[derive(Clone)]
pub struct SignedIn {
    name: String,
    /// The visitor's CSRF token for the header's sign-out form. Asking for it
    /// marks the page as theirs alone (`page_cache::Personal`).
    sign_out_token: Arc<dyn Fn() -> String + Send + Sync>,
}

impl SignedIn {
    pub fn new(name: String, sign_out_token: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self { name, sign_out_token: Arc::new(sign_out_token) }
    }
}

/// A site as one request sees it: the language decided for it, the page's own
/// address (the language links come back to it) and who is signed in.
#[derive(Clone)]
pub struct Visit {
    pub site: Site,
    pub language: RequestLanguage,
    path: String,
    signed_in: Option<SignedIn>,
}

impl Borrow<Site> for Visit {
    fn borrow(&self) -> &Site {
        &self.site
    }
}

impl Visit {
    /// What `dispatch`, the session layer and the URI say about this request.
    pub fn from_request_parts(site: Site, extensions: &Extensions, uri: &Uri) -> Self {
        let language = extensions.get::<RequestLanguage>().cloned().unwrap_or_else(|| RequestLanguage {
            lang: render::DEFAULT_LANG.into(),
            offered: language::offered_by(&site),
        });
        Self {
            site,
            language,
            path: uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into()),
            signed_in: extensions.get::<SignedIn>().cloned(),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let site = parts.extensions.get::<Site>().cloned().unwrap_or(Site::Platform);
        Ok(Self::from_request_parts(site, &parts.extensions, &parts.uri))
    }
}

#[derive(Serialize)]
struct LanguageLink<'a> {
    code: &'a str,
    url: String,
    current: bool,
}

#[derive(Serialize)]
struct Visitor {
    name: String,
    csrf_token: String,
}

/// Context every page starts from: its language, who the site is, the
/// language menu (when the site offers more than one) and who is signed in.
pub fn base_context(visit: &Visit) -> Context {
    let mut context = Context::new();
    context.insert("lang", &visit.language.lang);
    if let Site::Tenant(tenant) = &visit.site {
        context.insert("tenant", tenant.as_ref());
    }
    if visit.language.varies() {
        let links: Vec<LanguageLink> = visit
            .language
            .offered
            .iter()
            .map(|code| LanguageLink {
                code,
                url: language::switch_url(code, &visit.path),
                current: *code == visit.language.lang,
            })
            .collect();
        context.insert("languages", &links);
    }
    if let Some(person) = &visit.signed_in {
        context.insert("visitor", &Visitor { name: person.name.clone(), csrf_token: (person.sign_out_token)() });
    }
    context
}

/// Renders `page` in the site's theme.
pub fn render_page(
    state: &AppState,
    site: &impl Borrow<Site>,
    page: &str,
    context: &Context,
) -> AppResult<Html<String>> {
    let theme = match site.borrow() {
        Site::Tenant(t) => t.theme.as_str(),
        Site::Platform => "base",
    };
    Ok(Html(state.renderer.render(theme, page, context)?))
}

/// The routers a resolved request is handed to.
#[derive(Clone)]
pub struct SiteRouters {
    pub state: AppState,
    pub platform: Router,
    pub tenant: Router,
}

/// Resolves the site from the host, then lets the platform's or the tenant's
/// router answer. Unknown hosts get the platform 404; suspended enti a clear page.
pub async fn dispatch(State(routers): State<SiteRouters>, mut request: Request) -> Response {
    let state = &routers.state;
    let site = match host_of(state, &request) {
        Ok(host) => site_for_host(state, &host).await,
        Err(e) => Err(e),
    };
    let site = match site {
        Ok(site) => site,
        Err(e) => return errors::render_error(state, &request, e),
    };
    let router = match &site {
        Site::Tenant(t) if t.status == TenantStatus::Suspended => {
            return errors::suspended_page(state, t, &request);
        }
        Site::Tenant(_) => routers.tenant.clone(),
        Site::Platform => routers.platform.clone(),
    };
    // The language, decided once here for every page of the request.
    let language = RequestLanguage::decide(language::offered_by(&site), request.headers());
    request.extensions_mut().insert(language.clone());
    request.extensions_mut().insert(site);
    // Decided once, here, like the host above: handlers that read forwarding
    // headers (client address, client certificate) look only for this marker.
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if is_trusted_peer(peer, &state.settings.trusted_proxies) {
        request.extensions_mut().insert(TrustedPeer);
    }
    let client = client_address(peer, request.headers(), &state.settings.trusted_proxies);
    request.extensions_mut().insert(ClientAddr(client));
    let mut response = router.oneshot(request).await.unwrap_or_else(|never| match never {});
    if language.varies() {
        // Caches on the way must keep one answer per language (see page_cache).
        response.headers_mut().append(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
    }
    // The page cache keeps this answer under the language it was made in.
    response.extensions_mut().insert(language);
    response
}

/// The normalised host a request asked for (see `host::requested_host`).
pub fn host_of(state: &AppState, request: &Request) -> Result<String, AppError> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let raw = host::requested_host(request.headers(), peer, &state.settings.trusted_proxies);
    host::normalize_host(raw.unwrap_or_default()).map_err(|_| AppError::BadHost)
}

/// The site for a normalised host; unknown hosts are an error. A suspended tenant
/// is returned as is, for the caller to refuse.
pub async fn site_for_host(state: &AppState, host: &str) -> Result<Site, AppError> {
    state.tenants.resolve(host).await?.ok_or(AppError::UnknownHost)
}

/// The `{id}` of the request's path as a uuid; one that does not parse names
/// nothing, so it is not found (the case extractors of `cases` and `backoffice`).
pub async fn path_id<S: Send + Sync>(parts: &mut axum::http::request::Parts, state: &S) -> AppResult<uuid::Uuid> {
    use axum::extract::{FromRequestParts, Path};
    let Path(params) = Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::NotFound)?;
    params.get("id").and_then(|id| uuid::Uuid::parse_str(id).ok()).ok_or(AppError::NotFound)
}

/// Extractor for handlers of the tenant router: the ente this request is for,
/// and the request's view of it (`Visit`).
pub struct CurrentTenant(pub Arc<crate::tenancy::Tenant>, Visit);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CurrentTenant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Site>() {
            Some(Site::Tenant(t)) => {
                let visit = Visit::from_request_parts(Site::Tenant(t.clone()), &parts.extensions, &parts.uri);
                Ok(Self(t.clone(), visit))
            }
            _ => Err(AppError::NotFound),
        }
    }
}

impl CurrentTenant {
    /// The ente's site as this request sees it: what `base_context` and
    /// `render_page` take.
    pub fn site(&self) -> Visit {
        self.1.clone()
    }

    pub fn lang(&self) -> &str {
        &self.1.language.lang
    }
}
