//! Durable background work on PostgreSQL (see docs/JOBS.md).
//!
//! A job is enqueued in the same transaction as the change that causes it, so it
//! exists exactly when the change does. The queue is the `underway` crate's
//! (its own `underway` schema: platform-level, not per tenant); a job's input
//! carries its kind, its tenant and its payload, and its handler opens a
//! `TenantTx` for that tenant. Workers run inside `serve` (`jobs_in_process`) or
//! alone (`sportello worker`), on as many nodes as wanted.
//!
//! Guarantees: a failed job is retried with exponential backoff up to
//! `jobs_max_attempts`; a job whose worker died is picked up again once its
//! heartbeat is older than `jobs_lease_secs`; the same idempotency key (per
//! tenant and kind) is enqueued once. Delivery is at least once, so handlers are
//! idempotent themselves (a mail already marked sent is not sent again).

pub mod outbound;
pub mod webhook;

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use anyhow::Context;
use jiff::{Span, ToSpan};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;
use underway::{task::RetryPolicy, Queue, Task, Worker};
use uuid::Uuid;

use crate::{config::Settings, db::TenantTx, state::AppState};

/// The one queue every kind of job goes through.
pub const QUEUE: &str = "sportello";

/// A job to enqueue.
pub struct NewJob {
    /// Which handler runs it (see `registry`).
    pub kind: &'static str,
    /// Idempotency key, unique per tenant and kind: enqueued twice, it runs once.
    pub key: String,
    pub payload: serde_json::Value,
    /// Not before this time; `None`: as soon as possible.
    pub run_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
/// Runs one job of a kind: `(state, tenant, payload)`. An error means "retry
/// later" (the error text is recorded on the job's attempt, so it must hold no
/// secret), unless it is (or wraps) a `Permanent` error.
pub type Handler = fn(AppState, Uuid, serde_json::Value) -> HandlerFuture;

/// A handler's error that no retry can cure (a refused destination...): the
/// job is left `failed` at once, with this text on its attempt. No secret in it.
#[derive(Debug)]
pub struct Permanent(pub String);

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Permanent {}

/// Which handler runs which kind of job.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the kinds a feature contributes (see `startup::job_registry`).
    pub fn with(self, handlers: Vec<(&'static str, Handler)>) -> Self {
        handlers.into_iter().fold(self, |registry, (kind, handler)| registry.on(kind, handler))
    }

    pub fn on(mut self, kind: &'static str, handler: Handler) -> Self {
        let previous = self.handlers.insert(kind, handler);
        assert!(previous.is_none(), "two handlers for job kind {kind}");
        self
    }

    pub fn handler(&self, kind: &str) -> Option<Handler> {
        self.handlers.get(kind).copied()
    }
}

/// What a job row carries (the task's input in the queue).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobInput {
    pub kind: String,
    pub tenant: Uuid,
    pub key: String,
    pub payload: serde_json::Value,
}

/// Timing of jobs, from the settings. Written on every job row when it is
/// enqueued (that is how the queue works), so it is a process-wide setting.
#[derive(Clone, Debug)]
pub struct Policy {
    pub lease: Duration,
    pub max_attempts: u32,
    pub backoff: Duration,
    pub backoff_max: Duration,
    pub poll: Duration,
}

impl Policy {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            lease: Duration::from_secs(settings.jobs_lease_secs.max(1)),
            max_attempts: settings.jobs_max_attempts.max(1),
            backoff: Duration::from_secs(settings.jobs_backoff_secs),
            backoff_max: Duration::from_secs(settings.jobs_backoff_max_secs.max(settings.jobs_backoff_secs)),
            poll: Duration::from_secs(settings.jobs_poll_secs.max(1)),
        }
    }
}

fn span(d: Duration) -> Span {
    (d.as_secs() as i64).seconds()
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// The queue's task: dispatches by kind to the registry. The instance used to
/// enqueue has no `runner`; the workers' has one.
#[derive(Clone)]
struct JobTask {
    policy: Policy,
    runner: Option<(AppState, Arc<Registry>)>,
}

impl Task for JobTask {
    type Input = JobInput;
    type Output = ();

    async fn execute(&self, _tx: Transaction<'_, Postgres>, job: JobInput) -> underway::task::Result<()> {
        use underway::task::Error;
        let Some((state, registry)) = &self.runner else {
            return Err(Error::Retryable("this process does not run jobs".into()));
        };
        let Some(handler) = registry.handler(&job.kind) else {
            // Another node may know it (a newer version during a rolling update).
            return Err(Error::Retryable(format!("no handler for job kind {:?}", job.kind)));
        };
        tracing::debug!(kind = job.kind, tenant = %job.tenant, key = job.key, "job started");
        match handler(state.clone(), job.tenant, job.payload.clone()).await {
            Ok(()) => {
                tracing::info!(kind = job.kind, tenant = %job.tenant, key = job.key, "job done");
                Ok(())
            }
            Err(e) if e.chain().any(|cause| cause.is::<Permanent>()) => {
                let error = format!("{e:#}");
                tracing::error!(kind = job.kind, tenant = %job.tenant, key = job.key, error, "job failed permanently; not retried");
                // underway records no error for a fatal failure: we do.
                if let Err(e) = record_attempt_error(state, &job, &error).await {
                    tracing::warn!(kind = job.kind, tenant = %job.tenant, key = job.key, error = %e, "recording the job's error");
                }
                Err(Error::Fatal(error))
            }
            Err(e) => {
                tracing::warn!(kind = job.kind, tenant = %job.tenant, key = job.key, error = format!("{e:#}"), "job failed; retried later");
                Err(Error::Retryable(format!("{e:#}")))
            }
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::builder()
            .max_attempts(i32::try_from(self.policy.max_attempts).unwrap_or(i32::MAX))
            .initial_interval_ms(millis(self.policy.backoff))
            .max_interval_ms(millis(self.policy.backoff_max))
            .backoff_coefficient(2.0)
            .build()
    }

    fn heartbeat(&self) -> Span {
        span(self.policy.lease)
    }

    /// A handler that hangs is abandoned (and retried) after this.
    fn timeout(&self) -> Span {
        10.minutes()
    }
}

/// Writes `error` on the running attempt of `job` (found through its key), as
/// underway does for retryable errors. The attempt row was committed when the
/// worker claimed the task, and the worker's own transaction has not touched it yet.
async fn record_attempt_error(state: &AppState, job: &JobInput, error: &str) -> sqlx::Result<()> {
    let mut tx = TenantTx::begin(&state.db, job.tenant).await?;
    sqlx::query(
        "update underway.task_attempt set error_message = $3, updated_at = now()
         where task_id = (select task_id from job_keys where kind = $1 and key = $2) and state = 'in_progress'",
    )
    .bind(&job.kind)
    .bind(&job.key)
    .bind(error)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

/// What `enqueue` needs: the queue's name and the policy written on each row.
/// Set once per process by `configure` (the app and `sportello worker` do it).
static ENQUEUER: std::sync::RwLock<Option<(Queue<JobTask>, JobTask)>> = std::sync::RwLock::new(None);

/// Makes `enqueue` work in this process, with the settings' timings.
pub async fn configure(pool: &PgPool, settings: &Settings) -> anyhow::Result<()> {
    let queue = Queue::builder().name(QUEUE).pool(pool.clone()).build().await.context("opening the job queue")?;
    let task = JobTask { policy: Policy::from_settings(settings), runner: None };
    *ENQUEUER.write().expect("job enqueuer lock") = Some((queue, task));
    Ok(())
}

/// Enqueues `job` in `tx`: it runs only if `tx` commits. Returns `false` (and
/// enqueues nothing) when this tenant already enqueued this kind with this key.
pub async fn enqueue(tx: &mut TenantTx, job: NewJob) -> sqlx::Result<bool> {
    let (queue, task) = ENQUEUER
        .read()
        .expect("job enqueuer lock")
        .clone()
        .ok_or_else(|| sqlx::Error::Configuration("the job queue is not configured (jobs::configure)".into()))?;
    // The key first: if it is taken, nothing else happens.
    let fresh = sqlx::query(
        "insert into job_keys (tenant_id, kind, key) values ($1, $2, $3) on conflict (tenant_id, kind, key) do nothing",
    )
    .bind(tx.tenant_id)
    .bind(job.kind)
    .bind(&job.key)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    let input = JobInput { kind: job.kind.to_string(), tenant: tx.tenant_id, key: job.key, payload: job.payload };
    let delay = job
        .run_at
        .map(|at| (at - chrono::Utc::now()).num_milliseconds().max(0))
        .map(|ms| ms.milliseconds())
        .unwrap_or_default();
    let id = queue.enqueue_after(tx.conn(), &task, &input, delay).await.map_err(queue_error)?;
    sqlx::query("update job_keys set task_id = $4 where tenant_id = $1 and kind = $2 and key = $3")
        .bind(tx.tenant_id)
        .bind(job.kind)
        .bind(&input.key)
        .bind(*id)
        .execute(tx.conn())
        .await?;
    Ok(true)
}

fn queue_error(e: underway::queue::Error) -> sqlx::Error {
    match e {
        underway::queue::Error::Database(e) => e,
        other => sqlx::Error::Protocol(format!("job queue: {other}")),
    }
}

/// Runs the queue's migrations (their own `underway` schema and migration table)
/// and grants the runtime group what workers and `enqueue` need. Owner role.
pub async fn migrate(admin: &PgPool) -> anyhow::Result<()> {
    underway::run_migrations(admin).await?;
    // Installed once (with the grants below). Re-running the DDL at every start
    // would take an exclusive lock on `underway.task` and wait behind any open
    // transaction that enqueued a job — a node starting next to a busy one hung.
    let installed: bool =
        sqlx::query_scalar("select exists (select 1 from pg_trigger where tgname = 'sportello_backoff_from_failure')")
            .fetch_one(admin)
            .await?;
    if installed {
        return Ok(());
    }
    let mut tx = admin.begin().await?;
    // Nodes starting together must not race on `create or replace`.
    sqlx::query("select pg_advisory_xact_lock(hashtext('sportello.jobs.migrate'))").execute(&mut *tx).await?;
    for statement in [
        // underway 0.2 schedules a retry at `created_at + backoff`: a job that
        // failed long after it was enqueued would be retried at once, again and
        // again. This makes the backoff count from the failure, as documented.
        "create or replace function underway.sportello_backoff_from_failure() returns trigger
             language plpgsql as $$
         begin
             if old.state = 'in_progress' and new.state = 'pending' then
                 new.delay := (clock_timestamp() - new.created_at) + new.delay;
             end if;
             return new;
         end $$",
        "drop trigger if exists sportello_backoff_from_failure on underway.task",
        "create trigger sportello_backoff_from_failure before update of state on underway.task
             for each row execute function underway.sportello_backoff_from_failure()",
        "grant usage on schema underway to sportello_runtime",
        // Enqueue inserts tasks; workers claim, heartbeat, retry and finish them.
        "grant select, insert, update on underway.task, underway.task_attempt to sportello_runtime",
        // Queue::build registers the queue (insert … on conflict do nothing).
        "grant select, insert on underway.task_queue to sportello_runtime",
        "insert into underway.task_queue (name) values ('sportello') on conflict do nothing",
    ] {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Enqueues `job` for each ente of `tenants`, each in its own scope; returns
/// how many were new (0 when another node, or an earlier call, did it: the
/// job's key names the period).
pub async fn enqueue_for(db: &PgPool, tenants: &[Uuid], job: impl Fn() -> NewJob) -> sqlx::Result<usize> {
    let mut fresh = 0;
    for tenant in tenants {
        let mut tx = TenantTx::begin(db, *tenant).await?;
        if enqueue(&mut tx, job()).await? {
            fresh += 1;
        }
        tx.commit().await?;
    }
    Ok(fresh)
}

/// A periodic scheduler: runs `tick` `first` after the start and then every
/// `every`, until `stop`; a tick that fails is logged (`what`) and the next one
/// tries again. Run it with [`Workers::with_scheduler`].
pub async fn every<F, Fut>(
    stop: CancellationToken,
    (first, every): (Duration, Duration),
    what: &'static str,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    let mut wait = first;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match tick().await {
            Ok(fresh) => tracing::debug!(fresh, what, "jobs scheduled"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), what, "scheduling jobs failed; trying at the next tick"),
        }
        wait = every;
    }
}

/// The running workers of this process.
pub struct Workers {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// Periodic schedulers running beside the workers (the hourly prune).
    schedulers: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts the workers: they claim jobs as soon as they are committed (`NOTIFY`),
/// and look for due retries and abandoned jobs every `jobs_poll_secs`.
pub async fn start_workers(state: AppState, registry: Registry) -> anyhow::Result<Workers> {
    let policy = Policy::from_settings(&state.settings);
    let stop = CancellationToken::new();
    let queue = Queue::builder().name(QUEUE).pool(state.db.clone()).build().await.context("opening the job queue")?;
    let task = JobTask { policy: policy.clone(), runner: Some((state, Arc::new(registry))) };
    let mut worker = Worker::new(Arc::new(queue), task);
    worker.set_shutdown_token(stop.clone());
    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            tracing::info!(queue = QUEUE, "job workers started");
            // A lost listener connection ends `run_every`: start again, unless stopping.
            while !stop.is_cancelled() {
                if let Err(e) = worker.run_every(span(policy.poll)).await {
                    tracing::warn!(error = %e, "job worker stopped; restarting");
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
            tracing::info!("job workers stopped");
        }
    });
    Ok(Workers { stop, task, schedulers: Vec::new() })
}

impl Workers {
    /// Runs a scheduler beside the workers, until they stop.
    pub fn with_scheduler<F: Future<Output = ()> + Send + 'static>(
        mut self,
        scheduler: impl FnOnce(CancellationToken) -> F,
    ) -> Self {
        self.schedulers.push(tokio::spawn(scheduler(self.stop.clone())));
        self
    }

    /// Stops claiming jobs and waits for the running ones to finish.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for scheduler in self.schedulers {
            let _ = scheduler.await;
        }
        let _ = self.task.await;
    }
}
