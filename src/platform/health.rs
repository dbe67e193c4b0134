//! The console's health page: is the database reachable (and how fast), is
//! the file storage, how deep is the job queue in each state, which jobs
//! failed for good (kind, ente, error, when), and which version this node
//! runs. Read only: a failed job's error is the handler's own text, written to
//! hold no secret (docs/JOBS.md); no ente's data is shown.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::state::AppState;

/// Failed jobs the page lists, newest first.
const FAILED_SHOWN: i64 = 50;

#[derive(Debug, Serialize)]
pub struct Health {
    /// Round trip of `select 1`, or `None` when unreachable within 2 s.
    pub database_ms: Option<u128>,
    pub storage_ok: bool,
    pub storage_backend: &'static str,
    /// Jobs per queue and state.
    pub queue: Vec<QueueDepth>,
    pub failed: Vec<FailedJob>,
    pub version: &'static str,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct QueueDepth {
    pub queue: String,
    pub state: String,
    pub jobs: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct FailedJob {
    pub kind: String,
    /// The ente's slug (the job's input names its id).
    pub tenant: Option<String>,
    pub error: Option<String>,
    pub failed_at: Option<DateTime<Utc>>,
    pub attempts: i32,
}

/// Whether the database and the file storage answer within 2 s (both asked
/// at once): what `/readyz` reports and what the health page shows first.
pub struct Probe {
    /// Round trip of `select 1`, or `None` when unreachable.
    pub database_ms: Option<u128>,
    pub storage_ok: bool,
}

pub async fn probe(state: &AppState) -> Probe {
    let two_seconds = Duration::from_secs(2);
    let (database_ms, storage_ok) = tokio::join!(
        async {
            let started = Instant::now();
            let reached = tokio::time::timeout(two_seconds, sqlx::query("select 1").execute(&state.db)).await;
            reached.is_ok_and(|r| r.is_ok()).then(|| started.elapsed().as_millis())
        },
        async { tokio::time::timeout(two_seconds, state.store.check()).await.is_ok_and(|r| r.is_ok()) },
    );
    Probe { database_ms, storage_ok }
}

pub async fn check(state: &AppState) -> sqlx::Result<Health> {
    let Probe { database_ms, storage_ok } = probe(state).await;
    let queue = sqlx::query_as(
        "select task_queue_name as queue, state::text as state, count(*) as jobs
         from underway.task group by 1, 2 order by 1, 2",
    )
    .fetch_all(&state.db)
    .await?;
    let failed = sqlx::query_as(
        "select t.input->>'kind' as kind, tn.slug as tenant,
                (select a.error_message from underway.task_attempt a
                  where a.task_id = t.id and a.error_message is not null
                  order by a.attempt_number desc limit 1) as error,
                coalesce(t.last_attempt_at, t.updated_at) as failed_at,
                (select count(*)::int from underway.task_attempt a where a.task_id = t.id) as attempts
         from underway.task t
         left join tenants tn on tn.id::text = t.input->>'tenant'
         where t.state = 'failed'
         order by coalesce(t.last_attempt_at, t.updated_at) desc limit $1",
    )
    .bind(FAILED_SHOWN)
    .fetch_all(&state.db)
    .await?;
    Ok(Health {
        database_ms,
        storage_ok,
        storage_backend: state.store.backend_name(),
        queue,
        failed,
        version: env!("CARGO_PKG_VERSION"),
    })
}
