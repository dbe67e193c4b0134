//! The orphan sweep: stored objects no document of the ente refers to — left by
//! a request whose transaction rolled back, a removed draft attachment, a crash
//! between storage and commit — are deleted once older than the grace period
//! (longer than any upload takes, so an object about to be committed is never
//! touched). Staging leftovers of interrupted uploads go too.
//!
//! Two steps, so that tests can interleave a request between them: `candidates`
//! lists what looked orphaned, `remove` deletes those that still are.

use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::procedure::store;
use crate::{db::TenantTx, state::AppState};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub objects: usize,
    pub staging: usize,
}

/// An object that looked orphaned when the store was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub tenant_id: Uuid,
    pub sha256: String,
}

pub async fn sweep(state: &AppState, grace: Duration) -> anyhow::Result<Swept> {
    let candidates = candidates(state, grace).await?;
    let objects = remove(state, &candidates, grace).await?;
    let swept = Swept { objects, staging: state.store.sweep_staging(grace).await? };
    if swept != Swept::default() {
        tracing::info!(objects = swept.objects, staging = swept.staging, "orphaned storage swept");
    }
    Ok(swept)
}

/// Objects older than `grace` that no document referred to when listed.
pub async fn candidates(state: &AppState, grace: Duration) -> anyhow::Result<Vec<Candidate>> {
    let mut out = Vec::new();
    let tenants = store::tenant_ids(&state.db).await?;
    let cutoff = cutoff(grace);
    for tenant_id in tenants {
        let objects = state.store.list(tenant_id).await?;
        if objects.is_empty() {
            continue;
        }
        let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
        let referenced = store::referenced_hashes(&mut tx).await?;
        tx.commit().await?;
        for object in objects {
            if object.last_modified < cutoff && !referenced.contains(&object.sha256) {
                out.push(Candidate { tenant_id, sha256: object.sha256 });
            }
        }
    }
    Ok(out)
}

/// Deletes the candidates that are still orphans; returns how many went. Each
/// in its own short transaction holding the exclusive lock on the object (see
/// `store::add_document`, which takes the shared one): under it the references and
/// the object's age are checked again — a document recorded since the listing,
/// or an upload that re-used the object since (which refreshes it), keeps it.
pub async fn remove(state: &AppState, candidates: &[Candidate], grace: Duration) -> anyhow::Result<usize> {
    let mut removed = 0;
    for candidate in candidates {
        let mut tx = TenantTx::begin(&state.db, candidate.tenant_id).await?;
        store::lock_object(&mut tx, &candidate.sha256, true).await?;
        let orphan = !store::is_referenced(&mut tx, &candidate.sha256).await?;
        let old = match state.store.last_modified(candidate.tenant_id, &candidate.sha256).await? {
            Some(modified) => modified < cutoff(grace),
            None => false,
        };
        if orphan && old {
            state.store.delete(candidate.tenant_id, &candidate.sha256).await?;
            removed += 1;
        }
        tx.commit().await?;
    }
    Ok(removed)
}

fn cutoff(grace: Duration) -> SystemTime {
    SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH)
}
