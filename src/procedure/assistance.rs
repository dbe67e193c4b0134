//! Requests for assistance: technical (the platform's support desk) or
//! administrative (the ente's office), about one of the person's cases or in
//! general. Their messages are in `messages` (`Thread::Assistance`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Assistance {
    pub id: Uuid,
    pub kind: String,
    pub case_id: Option<Uuid>,
    pub case_reference: Option<String>,
    pub subject: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "select a.id, a.kind, a.case_id, c.reference as case_reference, a.subject, a.status, a.created_at
     from assistance_requests a left join cases c on c.id = a.case_id";

/// The person's requests, newest first.
pub async fn of_user(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<Vec<Assistance>> {
    sqlx::query_as(&format!("{SELECT} where a.user_id = $1 order by a.created_at desc"))
        .bind(user_id)
        .fetch_all(tx.conn())
        .await
}

/// One of the person's own requests.
pub async fn own(tx: &mut TenantTx, id: Uuid, user_id: Uuid) -> sqlx::Result<Option<Assistance>> {
    sqlx::query_as(&format!("{SELECT} where a.id = $1 and a.user_id = $2"))
        .bind(id)
        .bind(user_id)
        .fetch_optional(tx.conn())
        .await
}

pub struct NewAssistance<'a> {
    pub user_id: Uuid,
    /// `technical` or `administrative`.
    pub kind: &'a str,
    pub case_id: Option<Uuid>,
    pub subject: &'a str,
}

/// Opens a request; returns its id.
pub async fn open(tx: &mut TenantTx, new: NewAssistance<'_>) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into assistance_requests (tenant_id, id, user_id, kind, case_id, subject) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(new.user_id)
    .bind(new.kind)
    .bind(new.case_id)
    .bind(new.subject)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// Who asked, and about what.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Owner {
    pub user_id: Uuid,
    pub subject: String,
}

pub async fn owner(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<Owner>> {
    sqlx::query_as("select user_id, subject from assistance_requests where id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// A closed request the citizen writes to again is open again.
pub async fn reopen(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update assistance_requests set status = 'open' where id = $1 and status = 'closed'")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The office that answers general questions: the first one of the ente with an
/// address.
pub async fn main_office(tx: &mut TenantTx) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select code from offices where email <> '' order by code limit 1")
        .fetch_optional(tx.conn())
        .await
}
