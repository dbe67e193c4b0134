//! Error pages: every `AppError` response is turned here into a branded page that
//! shows the request id (or JSON under `/api`).

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use std::any::Any;

use tera::Context;
use tower_http::catch_panic::CatchPanicLayer;

use super::{base_context, language, language::RequestLanguage, page_cache, SignedIn, Visit, REQUEST_ID_HEADER};
use crate::{
    error::{AppError, ErrorMarker, InvalidFields},
    state::AppState,
    tenancy::{Site, Tenant},
};

pub fn request_id(request: &Request) -> String {
    request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string()
}

/// Middleware around every site router: renders responses that carry an error.
pub async fn render_error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let request_id = request_id(&request);
    let site = request.extensions().get::<Site>().cloned().unwrap_or(Site::Platform);
    // Taken before the router runs; the session layer is further in and hands
    // who is signed in back with the error (`auth::session::load_session`).
    let mut visit = Visit::from_request_parts(site, request.extensions(), request.uri());
    let wants_json = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let Some(marker) = response.extensions().get::<ErrorMarker>().copied() else { return response };
    visit.signed_in = response.extensions().get::<SignedIn>().cloned();
    let fields = response.extensions().get::<InvalidFields>().map(|f| {
        let catalogues = state.renderer.catalogues();
        f.0.iter().map(|(field, text)| (field.clone(), catalogues.text(&visit.language.lang, text))).collect()
    });
    let mut page = if wants_json {
        error_json(marker, &request_id, fields)
    } else {
        error_page(&state, &visit, marker, &request_id)
    };
    if visit.signed_in.is_some() {
        // The page is theirs alone: it carries their form token, and the
        // cookie with it when the CSRF layer had to make one.
        page.extensions_mut().insert(page_cache::Personal);
        for cookie in response.headers().get_all(header::SET_COOKIE) {
            page.headers_mut().append(header::SET_COOKIE, cookie.clone());
        }
    }
    if marker.status == axum::http::StatusCode::UNAUTHORIZED {
        page.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(retry_after) = response.headers().get(header::RETRY_AFTER) {
        page.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
    }
    page
}

/// The layer every site router has just inside `render_error_pages`: a panic
/// anywhere below it (handler, extractor, middleware) becomes an internal error,
/// logged with the request's span, and so the standard error page with its
/// request id — never a dropped connection or a bare 500.
pub fn catch_panics() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(panic_response as fn(Box<dyn Any + Send + 'static>) -> Response)
}

fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    AppError::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// Renders `err` for a request that never reached a site router.
pub fn render_error(state: &AppState, request: &Request, err: AppError) -> Response {
    let marker = ErrorMarker { status: err.status(), code: err.code() };
    drop(err.into_response()); // logs an internal cause
    error_page(state, &platform_visit(request), marker, &request_id(request))
}

/// A request answered by the platform before (or instead of) any site: in the
/// platform's languages.
fn platform_visit(request: &Request) -> Visit {
    let language = RequestLanguage::decide(language::offered_by(&Site::Platform), request.headers());
    let mut extensions = axum::http::Extensions::new();
    extensions.insert(language);
    Visit::from_request_parts(Site::Platform, &extensions, request.uri())
}

fn error_json(
    marker: ErrorMarker,
    request_id: &str,
    fields: Option<std::collections::BTreeMap<String, String>>,
) -> Response {
    let mut body = serde_json::json!({ "error": { "code": marker.code, "request_id": request_id } });
    if let Some(fields) = fields {
        body["error"]["fields"] = serde_json::json!(fields);
    }
    (marker.status, axum::Json(body)).into_response()
}

fn error_page(state: &AppState, visit: &Visit, marker: ErrorMarker, request_id: &str) -> Response {
    let mut context = base_context(visit);
    context.insert("status", &marker.status.as_u16());
    context.insert("code", marker.code);
    context.insert("request_id", request_id);
    page_with_status(state, &visit.site, "layout/error.html", &context, marker.status)
}

/// What a suspended ente's host shows: its name and nothing else.
pub fn suspended_page(state: &AppState, tenant: &Tenant, request: &Request) -> Response {
    let mut context = base_context(&platform_visit(request));
    context.insert("suspended_name", &tenant.name);
    context.insert("suspension_reason", &tenant.suspension_reason);
    context.insert("request_id", &request_id(request));
    let mut response =
        page_with_status(state, &Site::Platform, "layout/suspended.html", &context, StatusCode::SERVICE_UNAVAILABLE);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn page_with_status(state: &AppState, site: &Site, page: &str, context: &Context, status: StatusCode) -> Response {
    let theme = match site {
        Site::Tenant(t) => t.theme.as_str(),
        Site::Platform => "base",
    };
    match state.renderer.render(theme, page, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = ?e, page, "cannot render error page");
            let lang = context.get("lang").and_then(|v| v.as_str()).unwrap_or(super::render::DEFAULT_LANG);
            let text = state
                .renderer
                .translate_in(lang, "errors.page_failed")
                .replace("{status}", &status.as_u16().to_string())
                .replace("{request_id}", context.get("request_id").and_then(|v| v.as_str()).unwrap_or("-"));
            (status, text).into_response()
        }
    }
}
