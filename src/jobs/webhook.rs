//! The `webhook` job: POSTs a JSON body to a URL, with an `Idempotency-Key`
//! header that is the same on every attempt, so the receiver can drop repeats.
//! Anything but a 2xx answer (or no answer within the timeout) is retried.

use std::{sync::OnceLock, time::Duration};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::NewJob;
use crate::state::AppState;

pub const KIND: &str = "webhook";

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    url: String,
    body: serde_json::Value,
    idempotency_key: String,
}

/// A webhook job: `key` is both the job's idempotency key and the header sent.
pub fn job(url: &str, body: serde_json::Value, key: &str) -> NewJob {
    let payload = Payload { url: url.to_string(), body, idempotency_key: key.to_string() };
    NewJob {
        kind: KIND,
        key: key.to_string(),
        payload: serde_json::to_value(payload).expect("a webhook payload serializes"),
        run_at: None,
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            // A redirect could send the body somewhere the ente did not choose.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("building the webhook HTTP client")
    })
}

pub async fn deliver(_state: AppState, tenant: Uuid, payload: serde_json::Value) -> anyhow::Result<()> {
    let payload: Payload = serde_json::from_value(payload).context("webhook payload")?;
    let url = reqwest::Url::parse(&payload.url).context("webhook URL")?;
    // Errors name the host only: a URL may carry a token in its path or query.
    let host = url.host_str().unwrap_or("?").to_string();
    let response = client()
        .post(url)
        .header("Idempotency-Key", &payload.idempotency_key)
        .header("X-Sportello-Tenant", tenant.to_string())
        .json(&payload.body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("webhook to {host}: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        bail!("webhook to {host} answered HTTP {status}");
    }
    Ok(())
}
