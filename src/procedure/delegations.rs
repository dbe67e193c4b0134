//! Acting for others: the delegations a person holds (a company they
//! represent, a person they assist), and how a case started under one reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{db::TenantTx, i18n::Text};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delegation {
    pub id: Uuid,
    pub kind: String,
    pub represented_name: String,
    pub represented_code: String,
    pub capacity: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, represented_name, represented_code, capacity, created_at";

pub async fn active(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<Vec<Delegation>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from delegations where user_id = $1 and revoked_at is null order by represented_name"
    ))
    .bind(user_id)
    .fetch_all(tx.conn())
    .await
}

pub async fn active_one(tx: &mut TenantTx, user_id: Uuid, id: Uuid) -> sqlx::Result<Option<Delegation>> {
    sqlx::query_as(&format!("select {COLUMNS} from delegations where user_id = $1 and id = $2 and revoked_at is null"))
        .bind(user_id)
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// "per conto di …" for a case's delegation, if it has one (revoked later or not).
pub async fn acting_for(tx: &mut TenantTx, delegation_id: Option<Uuid>) -> sqlx::Result<Option<Text>> {
    match delegation_id {
        Some(id) => describe(tx, id).await,
        None => Ok(None),
    }
}

/// The description of a delegation a case refers to (revoked later or not).
pub async fn describe(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<Text>> {
    let d: Option<Delegation> = sqlx::query_as(&format!("select {COLUMNS} from delegations where id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(d.map(|d| d.describe()))
}

/// Declares a delegation; declaring the same one twice keeps the first.
pub async fn add(tx: &mut TenantTx, user_id: Uuid, new: NewDelegation<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into delegations (tenant_id, id, user_id, kind, represented_name, represented_code, capacity)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing",
    )
    .bind(tx.tenant_id)
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(new.kind)
    .bind(new.represented_name)
    .bind(new.represented_code)
    .bind(new.capacity)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub struct NewDelegation<'a> {
    pub kind: &'a str,
    pub represented_name: &'a str,
    pub represented_code: &'a str,
    pub capacity: &'a str,
}

/// Revokes one of the person's active delegations; false when there is none such.
/// Cases started with it keep it: it is revoked, never deleted.
pub async fn revoke(tx: &mut TenantTx, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done =
        sqlx::query("update delegations set revoked_at = now() where id = $1 and user_id = $2 and revoked_at is null")
            .bind(id)
            .bind(user_id)
            .execute(tx.conn())
            .await?
            .rows_affected();
    Ok(done > 0)
}

impl Delegation {
    /// "per conto di Alfa S.r.l. (P. IVA 01234567897), in qualità di legale rappresentante"
    pub fn describe(&self) -> Text {
        let key = if self.kind == "company" { "cases.acting.company" } else { "cases.acting.person" };
        Text::new(key)
            .with("name", &self.represented_name)
            .with("code", &self.represented_code)
            .with("capacity", &self.capacity)
    }
}
