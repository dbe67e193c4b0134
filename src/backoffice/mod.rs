//! The back office (`/backoffice` on the ente's host): the operators' inbox,
//! the case desk, workflow transitions, internal notes and opinions, the legal
//! clock; the REST API for the ente's own systems (`/api/v1`).

pub mod access;
pub mod api;
pub mod db;
pub mod desk;
pub mod inbox;
pub mod profile;
pub mod timers;

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    routing::{get, post},
};

use crate::procedure::engine::{Operator, OperatorKind};
use crate::{
    auth::{
        authz::{Access, Authz, RouteSpec},
        session::CurrentSession,
    },
    db::TenantTx,
    error::AppError,
    state::AppState,
    tenancy::Tenant,
    web::CurrentTenant,
};

const READ: Access = Access::staff("backoffice", "read");

pub fn routes() -> Vec<RouteSpec> {
    let p = "/backoffice/pratiche/{id}";
    vec![
        RouteSpec::new("/backoffice/pratiche", &["GET"], READ, get(inbox::page)),
        RouteSpec::new("/backoffice/profilo", &["GET"], READ, get(profile::page)),
        RouteSpec::new(crate::auth::store::WELCOME_PATH, &["GET"], READ, get(profile::welcome)),
        RouteSpec::new("/backoffice/pratiche/azioni", &["POST"], READ, post(inbox::bulk)),
        RouteSpec::new(p, &["GET"], READ, get(desk::page)),
        RouteSpec::new("/backoffice/pratiche/{id}/assegna", &["POST"], READ, post(desk::assign)),
        RouteSpec::new("/backoffice/pratiche/{id}/note", &["POST"], READ, post(desk::note)),
        RouteSpec::new("/backoffice/pratiche/{id}/messaggi", &["POST"], READ, post(desk::message)),
        RouteSpec::new("/backoffice/pratiche/{id}/transizioni/{key}", &["POST"], READ, post(desk::transition)),
        RouteSpec::new("/backoffice/pratiche/{id}/pareri", &["POST"], READ, post(desk::ask_opinion)),
        RouteSpec::new("/backoffice/pratiche/{id}/pareri/{task}", &["POST"], READ, post(desk::answer_task)),
        RouteSpec::new("/backoffice/pratiche/{id}/documenti/{document}", &["GET"], READ, get(desk::download)),
    ]
    .into_iter()
    .chain(api::routes())
    .collect()
}

/// The signed-in staff member as an operator: roles from the ente's policy,
/// offices from `office:<CODE>` permissions. Only sessions opened through the
/// ente's identity provider are staff.
pub struct Staff(pub Operator);

impl FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let tenant = CurrentTenant::from_request_parts(parts, state).await?;
        let session = CurrentSession::from_request_parts(parts, state).await?;
        if session.staff_subject.is_none() {
            return Err(AppError::Forbidden);
        }
        let roles = state.authz.roles_of(state, &tenant.0, &session).await?;
        let subjects = Authz::subjects(&session);
        let codes = office_codes(state, &tenant.0).await?;
        let rights = state.authz.office_rights(state, &tenant.0, &subjects, &codes).await?;
        Ok(Staff(Operator {
            kind: OperatorKind::Staff,
            user_id: Some(session.user_id),
            label: session.display_name(),
            roles,
            read_offices: rights.read,
            process_offices: rights.process,
            assign_offices: rights.assign,
        }))
    }
}

/// Of `colleagues`, those who may work the cases of `office`: whom an office
/// head may give its cases to.
pub async fn team_of(
    state: &AppState,
    tenant: &Tenant,
    colleagues: Vec<db::Colleague>,
    offices: &[String],
) -> Result<Vec<db::Colleague>, AppError> {
    let mut team = Vec::new();
    for colleague in colleagues {
        let subjects = [format!("staff:{}", colleague.email)];
        if !state.authz.office_rights(state, tenant, &subjects, offices).await?.process.is_empty() {
            team.push(colleague);
        }
    }
    Ok(team)
}

/// The ente's office codes (a handful; read per request, no cache to go stale).
pub async fn office_codes(state: &AppState, tenant: &Tenant) -> Result<Vec<String>, AppError> {
    let mut tx = TenantTx::begin(&state.db, tenant.id).await?;
    let codes = db::office_codes(&mut tx).await?;
    tx.commit().await?;
    Ok(codes)
}
