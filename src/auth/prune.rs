//! The `prune` job: deletes, for one ente and in its `TenantTx`, what has
//! expired — sign-in flows, sessions, OTP codes, SAML replay entries — and its
//! finished job records past their retention (the SQL function
//! `prune_finished_jobs`, migration `20261201000002_pruning.sql`).
//!
//! Every node running workers enqueues it hourly for every ente, under a key
//! naming the hour: however many nodes do it, each ente's prune runs once an
//! hour. See docs/JOBS.md for what is kept and for how long.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{db::TenantTx, jobs::NewJob, state::AppState};

pub const KIND: &str = "prune";

/// The job kinds this module runs (see `startup::job_registry`).
pub fn jobs() -> Vec<(&'static str, crate::jobs::Handler)> {
    vec![(KIND, |state, tenant, _payload| Box::pin(async move { prune(&state, tenant).await.map(drop) }))]
}

/// How often each ente is pruned.
pub const EVERY: Duration = Duration::from_secs(3600);
/// The first scheduling after a node starts (a node restarted in a rolling
/// update has nothing urgent to prune).
pub const FIRST_AFTER: Duration = Duration::from_secs(300);
/// OTP codes are kept this long after they expire: the per-destination limits
/// count the codes sent over the last day (a calendar day in Rome lasts up to
/// 25 hours).
pub const OTP_KEPT_AFTER_EXPIRY: &str = "48 hours";
/// SAML replay entries are kept this long past the assertion's `NotOnOrAfter`:
/// more than the clock skew responses are accepted with (90 s).
pub const SAML_REPLAY_KEPT_AFTER_EXPIRY: &str = "1 hour";

/// Rows deleted by one run.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub login_flows: u64,
    pub sessions: u64,
    pub otp_codes: u64,
    pub saml_replay: u64,
    /// Registrations never completed, more than a day old (their e-mail is free again).
    pub registrations: u64,
    /// Rows of the code-sending log (numbers, addresses) older than a day.
    pub code_sends: u64,
    pub jobs: u64,
}

/// The prune job of the hour containing `at`.
pub fn job(at: DateTime<Utc>) -> NewJob {
    NewJob { kind: KIND, key: hour_key(at), payload: serde_json::json!({}), run_at: None }
}

pub fn hour_key(at: DateTime<Utc>) -> String {
    format!("prune:{}", at.format("%Y-%m-%dT%H"))
}

/// Enqueues the prune job of the hour containing `at` for every ente; returns
/// how many were new (0 when another node, or an earlier call, did it).
pub async fn schedule(state: &AppState, at: DateTime<Utc>) -> anyhow::Result<usize> {
    let tenants: Vec<Uuid> = sqlx::query_scalar("select id from tenants order by id").fetch_all(&state.db).await?;
    Ok(crate::jobs::enqueue_for(&state.db, &tenants, || job(at)).await?)
}

/// Schedules the prune jobs every `EVERY` (the first time `FIRST_AFTER` the
/// start) until `stop`. Run next to the workers.
pub async fn schedule_until(state: AppState, stop: CancellationToken) {
    crate::jobs::every(stop, (FIRST_AFTER, EVERY), "prune", || schedule(&state, Utc::now())).await
}

/// Deletes what expired in `tenant`, in one transaction.
pub async fn prune(state: &AppState, tenant: Uuid) -> anyhow::Result<Pruned> {
    let mut tx = TenantTx::begin(&state.db, tenant).await?;
    let mut pruned = Pruned {
        login_flows: sqlx::query("delete from login_flows where expires_at < now()")
            .execute(tx.conn())
            .await?
            .rows_affected(),
        // Past their absolute lifetime, or idle for longer than a session may
        // be (`session::find_session` refuses both).
        sessions: sqlx::query("delete from sessions where expires_at < now() or last_seen_at < now() - $1::interval")
            .bind(format!("{} seconds", super::session::IDLE_TTL.num_seconds()))
            .execute(tx.conn())
            .await?
            .rows_affected(),
        otp_codes: sqlx::query("delete from otp_codes where expires_at < now() - $1::interval")
            .bind(OTP_KEPT_AFTER_EXPIRY)
            .execute(tx.conn())
            .await?
            .rows_affected(),
        saml_replay: sqlx::query("delete from saml_replay where expires_at < now() - $1::interval")
            .bind(SAML_REPLAY_KEPT_AFTER_EXPIRY)
            .execute(tx.conn())
            .await?
            .rows_affected(),
        registrations: 0,
        code_sends: 0,
        jobs: 0,
    };
    pruned.registrations = crate::users::expire_unfinished_registrations(&mut tx).await?;
    pruned.code_sends = super::otp::prune_send_log(&mut tx).await?;
    sqlx::query("delete from sms_daily_usage where day < (now() at time zone 'Europe/Rome')::date - 31")
        .execute(tx.conn())
        .await?;
    let jobs: i64 = sqlx::query_scalar("select prune_finished_jobs()").fetch_one(tx.conn()).await?;
    pruned.jobs = u64::try_from(jobs).unwrap_or_default();
    tx.commit().await?;
    if pruned != Pruned::default() {
        tracing::info!(
            %tenant,
            login_flows = pruned.login_flows,
            sessions = pruned.sessions,
            otp_codes = pruned.otp_codes,
            saml_replay = pruned.saml_replay,
            registrations = pruned.registrations,
            code_sends = pruned.code_sends,
            jobs = pruned.jobs,
            "expired rows pruned"
        );
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_names_the_hour() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T09:59:59Z").unwrap().with_timezone(&Utc);
        assert_eq!(hour_key(at), "prune:2026-12-01T09");
        assert_eq!(hour_key(at + chrono::Duration::seconds(1)), "prune:2026-12-01T10");
    }
}
