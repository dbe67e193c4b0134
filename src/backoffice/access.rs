//! Who may touch a case, decided in one place, for the desk and the API alike:
//! an operator sees the cases of the offices it may read (or with an open
//! task for one of them) and works on those of the offices it may process.
//! Any other case, of this ente or another, is not found; a case it may see
//! but not work on is forbidden.

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, Method},
};
use uuid::Uuid;

use super::{api::ApiClient, db as bdb, Staff};
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    procedure::{
        engine::{Operator, OperatorKind},
        store::{self, Case},
    },
    state::AppState,
    web::CurrentTenant,
};

/// The case if the operator may see it; any other case of any ente is not found.
pub async fn load(tx: &mut TenantTx, id: Uuid, operator: &Operator, for_update: bool) -> AppResult<Case> {
    if operator.kind != OperatorKind::System && !bdb::visible(tx, id, &operator.read_offices).await? {
        return Err(AppError::NotFound);
    }
    store::case_by_id(tx, id, for_update).await?.ok_or(AppError::NotFound)
}

/// The case, locked, if the operator may also work on it (seeing is not enough).
pub async fn load_to_process(tx: &mut TenantTx, id: Uuid, operator: &Operator) -> AppResult<Case> {
    let case = load(tx, id, operator, true).await?;
    if !operator.may_process(&case.office_code) {
        return Err(AppError::Forbidden);
    }
    Ok(case)
}

/// Whoever acts on the back office: a signed-in staff member or an API token.
pub trait Acting {
    fn operator(&self) -> &Operator;
}

impl Acting for Staff {
    fn operator(&self) -> &Operator {
        &self.0
    }
}

impl Acting for ApiClient {
    fn operator(&self) -> &Operator {
        &self.operator
    }
}

/// The case of the path's `{id}` that `by` may see, in an open transaction of
/// the ente; a request that changes something has it locked until commit.
pub struct CaseToRead<A> {
    pub by: A,
    pub tx: TenantTx,
    pub case: Case,
}

/// The case of the path's `{id}` that `by` may work on, locked, in an open
/// transaction of the ente.
pub struct CaseToProcess<A> {
    pub by: A,
    pub tx: TenantTx,
    pub case: Case,
}

impl<A> FromRequestParts<AppState> for CaseToRead<A>
where
    A: FromRequestParts<AppState, Rejection = AppError> + Acting + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (by, mut tx, id) = open::<A>(parts, state).await?;
        let changes = !matches!(parts.method, Method::GET | Method::HEAD);
        let case = load(&mut tx, id, by.operator(), changes).await?;
        Ok(Self { by, tx, case })
    }
}

impl<A> FromRequestParts<AppState> for CaseToProcess<A>
where
    A: FromRequestParts<AppState, Rejection = AppError> + Acting + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (by, mut tx, id) = open::<A>(parts, state).await?;
        let case = load_to_process(&mut tx, id, by.operator()).await?;
        Ok(Self { by, tx, case })
    }
}

/// Who acts, a transaction of the ente, and the case id of the path (an id
/// that does not parse is a case that does not exist).
async fn open<A>(parts: &mut Parts, state: &AppState) -> AppResult<(A, TenantTx, Uuid)>
where
    A: FromRequestParts<AppState, Rejection = AppError> + Acting + Send,
{
    let by = A::from_request_parts(parts, state).await?;
    let tenant = CurrentTenant::from_request_parts(parts, state).await?;
    let id = crate::web::path_id(parts, state).await?;
    let tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    Ok((by, tx, id))
}
