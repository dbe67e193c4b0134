//! Which case a citizen may touch, decided in one place: their own, by the
//! path's `{id}`. Anybody else's case, in this ente or another, is not found.

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, Method},
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use crate::{
    auth::session::CurrentSession,
    db::TenantTx,
    error::{AppError, AppResult},
    procedure::store::{self, Case},
    state::AppState,
    web::CurrentTenant,
};

/// The person's case of the path, in an open transaction of the ente; a
/// request that changes something has it locked until commit.
pub struct OwnCase {
    pub session: CurrentSession,
    pub tx: TenantTx,
    pub case: Case,
}

/// The person's draft of the path, locked, in an open transaction. A case
/// already submitted is not a draft any more: the request is sent to its page.
pub struct OwnDraft {
    pub session: CurrentSession,
    pub tx: TenantTx,
    pub case: Case,
}

impl FromRequestParts<AppState> for OwnCase {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (session, mut tx, id) = open(parts, state).await?;
        let changes = !matches!(parts.method, Method::GET | Method::HEAD);
        let case = store::case_of_user(&mut tx, id, session.user_id, changes).await?.ok_or(AppError::NotFound)?;
        Ok(Self { session, tx, case })
    }
}

impl FromRequestParts<AppState> for OwnDraft {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (session, mut tx, id) = open(parts, state).await.map_err(IntoResponse::into_response)?;
        match own_draft(&mut tx, id, &session).await.map_err(IntoResponse::into_response)? {
            Ok(case) => Ok(Self { session, tx, case }),
            Err(redirect) => Err(redirect),
        }
    }
}

/// The draft of this user, locked for the transaction; for a submitted case,
/// the redirect to its page. For the handlers that must check before they open
/// their transaction (submission waits for a slot, uploads hold none).
pub async fn own_draft(tx: &mut TenantTx, id: Uuid, session: &CurrentSession) -> AppResult<Result<Case, Response>> {
    let case = store::case_of_user(tx, id, session.user_id, true).await?.ok_or(AppError::NotFound)?;
    if !case.is_draft() {
        return Ok(Err(Redirect::to(&format!("/area-personale/pratiche/{id}")).into_response()));
    }
    Ok(Ok(case))
}

async fn open(parts: &mut Parts, state: &AppState) -> AppResult<(CurrentSession, TenantTx, Uuid)> {
    let tenant = CurrentTenant::from_request_parts(parts, state).await?;
    let session = CurrentSession::from_request_parts(parts, state).await?;
    let id = crate::web::path_id(parts, state).await?;
    let tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    Ok((session, tx, id))
}
