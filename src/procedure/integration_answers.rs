//! The citizen's answer to a request for integration, as the case records it:
//! the text, the registry number it was filed under, and how many requests of
//! the case still wait for one.

use uuid::Uuid;

use crate::{db::TenantTx, registry};

/// Records the answer to request `id`, registered as `entry` (and answered
/// when it was registered).
pub async fn record(tx: &mut TenantTx, id: Uuid, text: &str, entry: &registry::Entry) -> sqlx::Result<()> {
    sqlx::query(
        "update integration_requests set answered_at = $5, answer = $2, answer_registry_year = $3,
             answer_registry_number = $4 where id = $1",
    )
    .bind(id)
    .bind(text)
    .bind(entry.year)
    .bind(entry.number)
    .bind(entry.registered_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The requests of the case still waiting for an answer.
pub async fn pending(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from integration_requests where case_id = $1 and answered_at is null")
        .bind(case_id)
        .fetch_one(tx.conn())
        .await
}
