//! The public catalogue of procedures: tree, procedure pages, search.

pub mod db;
pub mod revisions;

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::json;

use crate::web::CurrentTenant;
use crate::{
    auth::authz::{Access, RouteSpec},
    db::TenantTx,
    error::{AppError, AppResult},
    state::AppState,
    tenancy::Tenant,
    web::{base_context, render::json_for_script, render_page},
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/servizi", &["GET"], Access::Public, get(catalogue)).cacheable(),
        RouteSpec::new("/servizi/categoria/{slug}", &["GET"], Access::Public, get(category_page)).cacheable(),
        RouteSpec::new("/servizi/{slug}", &["GET"], Access::Public, get(procedure_page)).cacheable(),
        // Depends on the query string: not cached.
        RouteSpec::new("/cerca", &["GET"], Access::Public, get(search_page)),
    ]
}

async fn catalogue(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Html<String>> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let categories = db::categories(&mut tx).await?;
    let procedures = db::procedure_cards(&mut tx, None).await?;
    tx.commit().await?;
    let mut context = base_context(&tenant.site());
    context.insert("categories", &categories);
    context.insert("procedures", &procedures);
    render_page(&state, &tenant.site(), "portal/catalogue.html", &context)
}

async fn category_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Path(slug): Path<String>,
) -> AppResult<Html<String>> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let category = db::category(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    let procedures = db::procedure_cards(&mut tx, Some(&slug)).await?;
    tx.commit().await?;
    let mut context = base_context(&tenant.site());
    context.insert("category", &category);
    context.insert("procedures", &procedures);
    render_page(&state, &tenant.site(), "portal/category.html", &context)
}

async fn procedure_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let procedure = db::procedure(&mut tx, &slug).await?;
    let withdrawn = match procedure {
        Some(_) => None,
        None => db::withdrawn(&mut tx, &slug).await?,
    };
    tx.commit().await?;
    if let Some(withdrawn) = withdrawn {
        // Taken offline by the ente: say so, with whom to ask, rather than a bare 404.
        let mut context = base_context(&tenant.site());
        context.insert("procedure", &withdrawn);
        return Ok((
            StatusCode::GONE,
            render_page(&state, &tenant.site(), "portal/procedure_withdrawn.html", &context)?,
        )
            .into_response());
    }
    let procedure = procedure.ok_or(AppError::NotFound)?;
    let context = procedure_context(&state, &tenant, &headers, &procedure);
    Ok(render_page(&state, &tenant.site(), "portal/procedure.html", &context)?.into_response())
}

/// The context of a procedure's public page: what the citizen sees, and what
/// the console's preview shows of a draft.
pub fn procedure_context(
    state: &AppState,
    tenant: &CurrentTenant,
    headers: &HeaderMap,
    procedure: &db::ProcedureDetail,
) -> tera::Context {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(&tenant.0.primary_host);
    let url = format!("{}://{host}/servizi/{}", scheme(state), procedure.slug);
    let mut context = base_context(&tenant.site());
    context.insert("json_ld", &json_for_script(&government_service(&tenant.0, procedure, &url)));
    context.insert("updated_on", &procedure.updated_at.format("%d/%m/%Y").to_string());
    // "Accedi al servizio" names the sign-in methods strong enough for it.
    let level = crate::tenancy::Level::try_from(procedure.min_level).unwrap_or(crate::tenancy::Level::L1);
    let methods: Vec<&str> = tenant.0.auth.methods_reaching(level).into_iter().map(|m| m.as_str()).collect();
    context.insert("access_methods", &methods);
    context.insert("procedure", procedure);
    context
}

fn scheme(state: &AppState) -> &'static str {
    if state.settings.base_domain == "localhost" {
        "http"
    } else {
        "https"
    }
}

/// schema.org `GovernmentService` for search engines and the national catalogue.
fn government_service(tenant: &Tenant, p: &db::ProcedureDetail, url: &str) -> serde_json::Value {
    let contacts = &tenant.profile.contacts;
    json!({
        "@context": "https://schema.org",
        "@type": "GovernmentService",
        "name": p.title,
        "description": p.summary,
        "url": url,
        "serviceType": p.category_name,
        "audience": { "@type": "Audience", "audienceType": p.audience.split("\n\n").next().unwrap_or_default() },
        "areaServed": { "@type": "AdministrativeArea", "name": tenant.profile.short_name },
        "provider": {
            "@type": "GovernmentOrganization",
            "name": tenant.name,
            "identifier": tenant.profile.ipa_code,
            "address": contacts.address,
            "telephone": contacts.phone,
            "email": contacts.email,
            "url": contacts.website,
        },
        "serviceOperator": { "@type": "GovernmentOrganization", "name": p.office_name, "email": p.office_email, "telephone": p.office_phone },
        "availableChannel": {
            "@type": "ServiceChannel",
            "serviceUrl": url,
            "availableLanguage": { "@type": "Language", "name": "Italiano", "alternateName": "it" },
            "processingTime": format!("P{}D", p.time_limit_days),
            "servicePhone": { "@type": "ContactPoint", "telephone": p.office_phone, "email": p.office_email },
        },
        "termsOfService": p.legal_basis.join("; "),
        "dateModified": p.updated_at.to_rfc3339(),
    })
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Query(query): Query<SearchQuery>,
) -> AppResult<Html<String>> {
    let q: String = query.q.trim().chars().take(200).collect();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
        let results = db::search(&mut tx, &q).await?;
        tx.commit().await?;
        results
    };
    let mut context = base_context(&tenant.site());
    context.insert("q", &q);
    context.insert("results", &results);
    render_page(&state, &tenant.site(), "portal/search.html", &context)
}
