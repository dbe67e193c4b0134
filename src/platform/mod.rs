//! The platform's own pages (127.0.0.1, localhost, admin.<base>): the list of enti.

use axum::{extract::State, http::HeaderMap, response::Html, routing::get, Router};

use crate::{
    error::AppResult,
    state::AppState,
    tenancy::Site,
    web::{base_context, language, render_page, Visit},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(platform_home)).route("/lingua/{lang}", get(language::switch))
}

async fn platform_home(State(state): State<AppState>, visit: Visit, headers: HeaderMap) -> AppResult<Html<String>> {
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
    render_page(&state, &Site::Platform, "platform/home.html", &context)
}
