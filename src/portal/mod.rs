//! The ente's public portal around the catalogue: home, access guide, the banner
//! for the ente's own website, and branding assets.

pub mod dev_outbox;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{Html, IntoResponse, Response},
    routing::get,
};

use crate::{
    auth::authz::{Access, RouteSpec},
    catalog,
    db::TenantTx,
    error::{AppError, AppResult},
    state::AppState,
    web::CurrentTenant,
    web::{base_context, language, render_page},
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/", &["GET"], Access::Public, get(home)).cacheable(),
        RouteSpec::new("/banner-accesso", &["GET"], Access::Public, get(banner_instructions)).cacheable(),
        RouteSpec::new("/embed/banner", &["GET"], Access::Public, get(embedded_banner)).cacheable(),
        RouteSpec::new("/branding/tema.css", &["GET"], Access::Public, get(theme_css)).cacheable(),
        RouteSpec::new("/branding/{name}", &["GET"], Access::Public, get(branding_asset)).cacheable(),
        RouteSpec::new("/lingua/{lang}", &["GET"], Access::Public, get(language::switch)),
    ]
}

async fn home(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Html<String>> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let categories = catalog::db::categories(&mut tx).await?;
    tx.commit().await?;
    let mut context = base_context(&tenant.site());
    context.insert("categories", &categories);
    render_page(&state, &tenant.site(), "portal/home.html", &context)
}

async fn banner_instructions(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Html<String>> {
    let mut context = base_context(&tenant.site());
    let snippet = format!(
        "<iframe src=\"https://{host}/embed/banner\" title=\"{title}\" width=\"100%\" height=\"220\" style=\"border:0\" loading=\"lazy\"></iframe>",
        host = tenant.0.primary_host,
        title = tera::escape_html(&state.renderer.translate_in(tenant.lang(), "embed.iframe_title")),
    );
    context.insert("snippet", &snippet);
    render_page(&state, &tenant.site(), "portal/banner_instructions.html", &context)
}

/// The only frameable page: framed by the ente's own website (and the portal).
async fn embedded_banner(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Response> {
    let html = render_page(&state, &tenant.site(), "portal/embed_banner.html", &base_context(&tenant.site()))?;
    let mut ancestors = vec!["'self'".to_string()];
    if let Some(origin) = origin_of(&tenant.0.profile.contacts.website) {
        ancestors.push(origin);
    }
    let csp = format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; \
         base-uri 'none'; form-action 'none'; frame-ancestors {}",
        ancestors.join(" ")
    );
    let mut response = html.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp).map_err(anyhow::Error::from)?);
    Ok(response)
}

/// `https://www.comune.it/path` -> `https://www.comune.it`; anything odd -> None.
fn origin_of(website: &str) -> Option<String> {
    let url = url::Url::parse(website).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = crate::tenancy::host::normalize_host(url.host_str()?).ok()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// The ente's colours as CSS custom properties over Bootstrap Italia.
async fn theme_css(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Response> {
    let mut context = base_context(&tenant.site());
    context.insert("primary", &tenant.0.profile.branding.primary_color);
    let css = state.renderer.render(&tenant.0.theme, "layout/branding.css", &context)?;
    Ok(([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=86400")], css)
        .into_response())
}

async fn branding_asset(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Path(name): Path<String>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let asset = crate::tenancy::db::branding_asset(&mut tx, &name).await?;
    tx.commit().await?;
    let crate::tenancy::db::BrandingAsset { content_type, body } = asset.ok_or(AppError::NotFound)?;
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&content_type).map_err(anyhow::Error::from)?);
    // URLs carry the content hash (`?v=`), so the bytes behind one never change.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    // SVG may carry script: never let it run when opened directly.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn website_origin_is_scheme_host_and_port() {
        assert_eq!(super::origin_of("https://www.Comune.IT/home").as_deref(), Some("https://www.comune.it"));
        assert_eq!(super::origin_of("http://x.it:8080/").as_deref(), Some("http://x.it:8080"));
        assert_eq!(super::origin_of("javascript:alert(1)"), None);
        assert_eq!(super::origin_of(""), None);
    }
}
