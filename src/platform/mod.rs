//! The platform's own pages (127.0.0.1, localhost, admin.<base>): the public
//! list of enti, and the platform operator's console (`console`; the home of
//! `admin.<base>`). See docs/PLATFORM.md.

pub mod console;
pub mod health;
pub mod operators;
pub mod tenants;

use axum::{
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};

use crate::{
    error::AppResult,
    state::AppState,
    tenancy::Site,
    web::{base_context, language, render_page, Visit},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(platform_home))
        .route("/lingua/{lang}", get(language::switch))
        .route("/console", get(console::tenants_page))
        .route("/console/accesso", get(console::sign_in_page).post(console::sign_in))
        .route("/console/attiva", get(console::enrol_page).post(console::enrol))
        .route("/console/esci", post(console::sign_out))
        .route("/console/salute", get(console::health_page))
        .route("/console/enti/{slug}", get(console::tenant_page))
        .route("/console/enti/{slug}/{action}", post(console::set_status))
}

async fn platform_home(State(state): State<AppState>, visit: Visit, headers: HeaderMap) -> AppResult<Response> {
    if console::is_console_host(&state, &headers) {
        return Ok(Redirect::to("/console").into_response());
    }
    let links = crate::tenancy::db::active_tenants(&state.db).await?;
    // Links keep the port the visitor used, so the embedded default's :8080 works.
    let port = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':').map(|(_, p)| p.to_string()))
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let mut context = base_context(&visit);
    context.insert("tenants", &links);
    context.insert("port", &port);
    Ok(render_page(&state, &Site::Platform, "platform/home.html", &context)?.into_response())
}
