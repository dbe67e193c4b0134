//! The staff sign-in page (`/backoffice/accesso`): the ways this ente lets its
//! staff in — its OpenID Connect provider, SPID or CIE matched by fiscal code,
//! a local account with an authenticator app (`auth::staff_local`).
//! A session opened here carries the staff member's subject; one opened at the
//! citizen sign-in never does.

use axum::{extract::Query, response::Response, routing::get};
use serde::Deserialize;
use tera::Context;

use super::{
    authz::{Access, RouteSpec},
    login::{insert_next, safe_next},
    page::Page,
};
use crate::{error::AppResult, tenancy::Method};

pub fn routes() -> Vec<RouteSpec> {
    vec![RouteSpec::new("/backoffice/accesso", &["GET"], Access::Public, get(page))]
}

#[derive(Deserialize)]
struct StaffQuery {
    next: Option<String>,
}

async fn page(page: Page, Query(q): Query<StaffQuery>) -> AppResult<Response> {
    let context = context(&page, q.next.as_deref());
    page.render("auth/staff_access.html", &context)
}

/// The page's context: the methods this ente offers its staff, and where to go next.
pub fn context(page: &Page, next: Option<&str>) -> Context {
    let auth = &page.tenant.0.auth;
    let next = next.filter(|n| !n.is_empty()).map(|n| safe_next(Some(n))).unwrap_or_else(|| "/backoffice".into());
    let mut context = page.context();
    insert_next(&mut context, &next);
    context.insert("oidc_label", &auth.oidc.as_ref().map(|o| o.label.clone()));
    context.insert("staff_spid", &auth.staff_may_use(Method::Spid));
    context.insert("staff_cie", &auth.staff_may_use(Method::Cie));
    context.insert("staff_local", &auth.staff_may_use(Method::Local));
    context.insert("staff_level", &(auth.staff.min_level as u8));
    context
}
