//! HTTP plumbing shared by every feature: site dispatch, the page renderer,
//! error pages, security headers, the public page cache.

pub mod client;
pub mod download;
pub mod errors;
pub mod headers;
pub mod page_cache;
pub mod render;
pub mod request_id;
pub mod server;
pub mod tls;

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    response::{Html, Response},
    Router,
};
use tera::Context;
use tower::ServiceExt;

use self::client::{client_address, ClientAddr, TrustedPeer};
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

/// Context every page starts from: the language and who the site is.
pub fn base_context(site: &Site) -> Context {
    let mut context = Context::new();
    context.insert("lang", render::DEFAULT_LANG);
    if let Site::Tenant(tenant) = site {
        context.insert("tenant", tenant.as_ref());
    }
    context
}

/// Renders `page` in the site's theme.
pub fn render_page(state: &AppState, site: &Site, page: &str, context: &Context) -> AppResult<Html<String>> {
    let theme = match site {
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
    request.extensions_mut().insert(site);
    // Decided once, here, like the host above: handlers that read forwarding
    // headers (client address, client certificate) look only for this marker.
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if is_trusted_peer(peer, &state.settings.trusted_proxies) {
        request.extensions_mut().insert(TrustedPeer);
    }
    let client = client_address(peer, request.headers(), &state.settings.trusted_proxies);
    request.extensions_mut().insert(ClientAddr(client));
    router.oneshot(request).await.unwrap_or_else(|never| match never {})
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

/// Extractor for handlers of the tenant router: the ente this request is for.
pub struct CurrentTenant(pub std::sync::Arc<crate::tenancy::Tenant>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CurrentTenant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Site>() {
            Some(Site::Tenant(t)) => Ok(Self(t.clone())),
            _ => Err(AppError::NotFound),
        }
    }
}

impl CurrentTenant {
    pub fn site(&self) -> Site {
        Site::Tenant(self.0.clone())
    }
}
