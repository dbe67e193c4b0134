//! The orphan sweep: stored objects no document of the ente refers to — left by
//! a request whose transaction rolled back, a removed draft attachment, a crash
//! between storage and commit — are deleted once older than the grace period
//! (longer than any upload takes, so an object about to be committed is never
//! touched). Staging leftovers of interrupted uploads go too.

use std::time::Duration;

use uuid::Uuid;

use super::db;
use crate::{db::TenantTx, state::AppState};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub objects: usize,
    pub staging: usize,
}

pub async fn sweep(state: &AppState, grace: Duration) -> anyhow::Result<Swept> {
    let mut swept = Swept::default();
    let tenants: Vec<(Uuid,)> = sqlx::query_as("select id from tenants").fetch_all(&state.db).await?;
    let cutoff = std::time::SystemTime::now() - grace;
    for (tenant_id,) in tenants {
        let objects = state.store.list(tenant_id).await?;
        if objects.is_empty() {
            continue;
        }
        let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
        let referenced = db::referenced_hashes(&mut tx).await?;
        tx.commit().await?;
        for object in objects {
            if object.last_modified < cutoff && !referenced.contains(&object.sha256) {
                state.store.delete(tenant_id, &object.sha256).await?;
                swept.objects += 1;
            }
        }
    }
    swept.staging = state.store.sweep_staging(grace).await?;
    if swept != Swept::default() {
        tracing::info!(objects = swept.objects, staging = swept.staging, "orphaned storage swept");
    }
    Ok(swept)
}
