//! The ente admin console (`/admin` on the ente's host): the catalogue tree,
//! procedures with their draft and published revisions. Only staff sessions
//! whose roles allow `admin_console` reach it (an operator without them gets
//! 403, anyone not signed in as staff is sent to the staff sign-in); another
//! ente's objects are not found, by row-level security. Every change goes to
//! the ente's audit trail. See docs/ADMIN.md.

pub mod branding;
pub mod catalogue;
pub mod db;
pub mod forms;
pub mod offices;
pub mod procedures;
pub mod staff;
pub mod workflows;

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    routing::{get, post},
};
use tera::Context;

use crate::{
    audit::Actor,
    auth::{
        authz::{Access, RouteSpec},
        page::Page,
    },
    backoffice::Staff,
    error::AppError,
    procedure::engine::Operator,
    state::AppState,
};

const READ: Access = Access::staff("admin_console", "read");
const WRITE: Access = Access::staff("admin_console", "write");

pub fn routes() -> Vec<RouteSpec> {
    let p = "/admin/procedure/{slug}";
    vec![
        RouteSpec::new("/admin", &["GET"], READ, get(catalogue::home)),
        RouteSpec::new("/admin/catalogo", &["GET"], READ, get(catalogue::tree)),
        RouteSpec::new("/admin/catalogo/categorie", &["POST"], WRITE, post(catalogue::create_category)),
        RouteSpec::new(
            "/admin/catalogo/categorie/{slug}",
            &["GET", "POST"],
            WRITE,
            get(catalogue::category_page).post(catalogue::save_category),
        ),
        RouteSpec::new("/admin/catalogo/categorie/{slug}/sposta", &["POST"], WRITE, post(catalogue::move_category)),
        RouteSpec::new("/admin/catalogo/categorie/{slug}/elimina", &["POST"], WRITE, post(catalogue::remove_category)),
        RouteSpec::new("/admin/procedure", &["POST"], WRITE, post(procedures::create)),
        RouteSpec::new(p, &["GET", "POST"], WRITE, get(procedures::editor).post(procedures::save)),
        RouteSpec::new("/admin/procedure/{slug}/anteprima", &["GET"], READ, get(procedures::preview)),
        RouteSpec::new(
            "/admin/procedure/{slug}/pubblica",
            &["GET", "POST"],
            WRITE,
            get(procedures::publish_page).post(procedures::publish),
        ),
        RouteSpec::new("/admin/procedure/{slug}/scarta", &["POST"], WRITE, post(procedures::discard)),
        RouteSpec::new("/admin/procedure/{slug}/revisioni", &["GET"], READ, get(procedures::history)),
        RouteSpec::new("/admin/procedure/{slug}/catalogo", &["POST"], WRITE, post(catalogue::place_procedure)),
        RouteSpec::new(
            "/admin/procedure/{slug}/modulo",
            &["GET", "POST"],
            WRITE,
            get(forms::builder).post(forms::edit_structure),
        ),
        RouteSpec::new(
            "/admin/procedure/{slug}/modulo/campo",
            &["GET", "POST"],
            WRITE,
            get(forms::field_editor).post(forms::save_field),
        ),
        RouteSpec::new("/admin/procedure/{slug}/modulo/anteprima", &["GET"], READ, get(forms::preview)),
        RouteSpec::new(
            "/admin/procedure/{slug}/flusso",
            &["GET", "POST"],
            WRITE,
            get(workflows::page).post(workflows::edit_structure),
        ),
        RouteSpec::new(
            "/admin/procedure/{slug}/flusso/{element}",
            &["GET", "POST"],
            WRITE,
            get(workflows::elements::editor).post(workflows::elements::save_element),
        ),
    ]
    .into_iter()
    .chain(branding::routes())
    .chain(offices::routes())
    .chain(staff::routes())
    .collect()
}

/// The signed-in ente admin: who the audit trail names, and the operator the
/// back-office shell shows. The route's `Access` has already checked the role.
pub struct Admin {
    pub actor: Actor,
    pub operator: Operator,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Staff(operator) = Staff::from_request_parts(parts, state).await?;
        let id = operator.user_id.ok_or(AppError::Forbidden)?;
        Ok(Self { actor: Actor::staff(id, &operator.label), operator })
    }
}

/// Which entry of the console's menu a page belongs to.
#[derive(Clone, Copy)]
pub enum Section {
    Home,
    Catalogue,
    Branding,
    Offices,
    Staff,
    Permissions,
}

impl Section {
    fn as_str(self) -> &'static str {
        match self {
            Section::Home => "home",
            Section::Catalogue => "catalogue",
            Section::Branding => "branding",
            Section::Offices => "offices",
            Section::Staff => "staff",
            Section::Permissions => "permissions",
        }
    }
}

/// The context of a console page: the page's own, the operator for the shell,
/// and the menu entry to mark as current.
pub fn context(page: &Page, admin: &Admin, section: Section) -> Context {
    let mut context = page.context();
    context.insert("operator", &admin.operator);
    context.insert("admin_section", section.as_str());
    context
}
