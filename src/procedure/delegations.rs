//! Acting for others: the delegations a person holds (a company they
//! represent, a person they assist), and how a case started under one reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::TenantTx;

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
pub async fn acting_for(tx: &mut TenantTx, delegation_id: Option<Uuid>) -> sqlx::Result<Option<String>> {
    match delegation_id {
        Some(id) => describe(tx, id).await,
        None => Ok(None),
    }
}

/// The description of a delegation a case refers to (revoked later or not).
pub async fn describe(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<String>> {
    let d: Option<Delegation> = sqlx::query_as(&format!("select {COLUMNS} from delegations where id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(d.map(|d| d.describe()))
}

impl Delegation {
    /// "per conto di Alfa S.r.l. (P. IVA 01234567897), in qualità di legale rappresentante"
    pub fn describe(&self) -> String {
        let code_label = if self.kind == "company" { "P. IVA" } else { "C.F." };
        format!(
            "per conto di {} ({code_label} {}), in qualità di {}",
            self.represented_name, self.represented_code, self.capacity
        )
    }
}
