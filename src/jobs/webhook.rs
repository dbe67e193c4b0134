//! The `webhook` job: POSTs a JSON body to a URL, with an `Idempotency-Key`
//! header that is the same on every attempt, so the receiver can drop repeats.
//! Anything but a 2xx answer (or no answer within the timeout) is retried; a
//! destination refused by `outbound` (not public, not https, and not in
//! `outbound_allowed_hosts`) is a permanent failure, never called.
//!
//! The URL (which may carry a token in its path or query) is only in the job's
//! payload: errors and logs name the host alone.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{outbound, NewJob, Permanent};
use crate::state::AppState;

pub const KIND: &str = "webhook";

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    url: String,
    body: serde_json::Value,
    idempotency_key: String,
}

/// A webhook job: `key` is both the job's idempotency key and the header sent
/// (it must hold no secret: derive it from a digest of the URL, see `url_digest`).
pub fn job(url: &str, body: serde_json::Value, key: &str) -> NewJob {
    let payload = Payload { url: url.to_string(), body, idempotency_key: key.to_string() };
    NewJob {
        kind: KIND,
        key: key.to_string(),
        payload: serde_json::to_value(payload).expect("a webhook payload serializes"),
        run_at: None,
    }
}

/// A short digest naming a URL in keys without revealing it (32 hex digits of
/// its SHA-256).
pub fn url_digest(url: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(url.as_bytes())[..16])
}

/// The job kinds this module runs (see `startup::job_registry`).
pub fn jobs() -> Vec<(&'static str, super::Handler)> {
    vec![(KIND, |state, tenant, payload| Box::pin(deliver(state, tenant, payload)))]
}

pub async fn deliver(state: AppState, tenant: Uuid, payload: serde_json::Value) -> anyhow::Result<()> {
    let payload: Payload = serde_json::from_value(payload).context("webhook payload")?;
    let Ok(url) = reqwest::Url::parse(&payload.url) else {
        return Err(Permanent("webhook refused: the URL is not valid".into()).into());
    };
    // Errors name the host only: a URL may carry a token in its path or query.
    let host = url.host_str().unwrap_or("?").to_string();
    let allowed = outbound::AllowList::new(&state.settings.outbound_allowed_hosts);
    if let Err(refused) = outbound::check_url(&url, &allowed) {
        return Err(Permanent(format!("webhook to {host} {refused}")).into());
    }
    let response = outbound::client(&allowed)
        .post(url)
        .header("Idempotency-Key", &payload.idempotency_key)
        .header("X-Sportello-Tenant", tenant.to_string())
        .json(&payload.body)
        .send()
        .await
        .map_err(|e| match outbound::refusal(&e) {
            Some(refused) => anyhow::Error::new(Permanent(format!("webhook to {host} {refused}"))),
            None => anyhow::anyhow!("webhook to {host}: {}", e.without_url()),
        })?;
    let status = response.status();
    if !status.is_success() {
        anyhow::bail!("webhook to {host} answered HTTP {status}");
    }
    Ok(())
}
